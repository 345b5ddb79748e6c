//! DNS block lists: what the lists said about the client IP, the sender's
//! domain and the link domains.
//!
//! The lookups happen before analysis (phishgate-intel fills
//! `Facts.dnsbl`); here each listing becomes the symbol its return code is
//! mapped to under `[[dnsbl]] codes` (or the zone's `default_symbol`), with
//! `subject in zone (code)` as evidence. Codes nobody mapped are ignored:
//! lists answer with special codes for refused queries (Spamhaus'
//! `127.255.255.x` through public resolvers), which are not listings. A list
//! that could not be asked is `DNSBL_TEMPFAIL` and `DNS_TEMPFAIL`, visible
//! with zero weight, never "not listed".

use super::Context;
use crate::engine::DnsblOutcome;
use crate::symbols::Findings;

/// Emits the mapped listing symbols and the temporary failures.
pub fn check(ctx: &Context<'_>, f: &mut Findings) {
    for fact in &ctx.facts.dnsbl {
        match &fact.outcome {
            DnsblOutcome::TempFail(why) => {
                let e = format!("{} ({why})", fact.zone);
                f.hit("DNSBL_TEMPFAIL", e.clone());
                f.hit("DNS_TEMPFAIL", e);
            }
            DnsblOutcome::Listed(codes) => {
                let Some(zone) = ctx.config.dnsbl.iter().find(|z| z.zone == fact.zone) else {
                    continue; // a fact about a list no longer configured
                };
                for code in codes {
                    let sym = zone.codes.get(code).unwrap_or(&zone.default_symbol);
                    if sym.is_empty() {
                        continue;
                    }
                    f.hit(
                        sym.clone(),
                        format!("{} in {} ({code})", fact.subject, fact.zone),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::engine::{DnsblFact, DnsblOutcome};
    use crate::{Config, Engine, Envelope, Facts, ScanInput};

    #[test]
    fn codes_map_to_symbols_and_failures_are_visible() {
        let config = Config::from_toml_str(
            r#"
[symbols.RBL_TEST_SBL]
group = "dnsbl"
score = 4.0
[[dnsbl]]
zone = "zen.test"
codes = { "127.0.0.2" = "RBL_TEST_SBL" }
"#,
        )
        .unwrap();
        let engine = Engine::new(config).unwrap();
        let fact = |outcome| DnsblFact {
            zone: "zen.test".into(),
            subject: "192.0.2.1".into(),
            outcome,
        };
        let facts = Facts {
            dnsbl: vec![
                fact(DnsblOutcome::Listed(vec![
                    "127.0.0.2".into(),
                    "127.255.255.254".into(),
                ])),
                DnsblFact {
                    zone: "other.test".into(),
                    subject: "x".into(),
                    outcome: DnsblOutcome::TempFail("time-out".into()),
                },
            ],
            ..Facts::default()
        };
        let r = engine.scan(&ScanInput {
            raw: b"From: a@b.example\r\nSubject: x\r\n\r\nhi\r\n",
            envelope: &Envelope::default(),
            facts: &facts,
        });
        let s = r.symbols.iter().find(|s| s.name == "RBL_TEST_SBL").unwrap();
        assert_eq!(s.score, 4.0);
        assert_eq!(s.options, vec!["192.0.2.1 in zen.test (127.0.0.2)"]);
        assert!(r
            .symbols
            .iter()
            .any(|s| s.name == "DNSBL_TEMPFAIL" && s.score == 0.0));
        assert!(r.symbols.iter().any(|s| s.name == "DNS_TEMPFAIL"));
        assert_eq!(r.symbols.iter().filter(|s| s.group == "dnsbl").count(), 1);
    }
}
