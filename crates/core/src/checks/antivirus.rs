//! Antivirus verdicts (ClamAV's clamd, scanned by the enrichment side, one
//! scan per attachment; clamd unpacks archives itself).
//!
//! A signature match is strong evidence on its own; clamd's encrypted-archive
//! alert (`Heuristics.Encrypted.*`, with `AlertEncrypted yes`) is a separate,
//! weaker symbol, since partners also send encrypted archives. An attachment
//! that could not be scanned (clamd down, slow, or answering nonsense) is
//! never taken as clean: it is CLAMAV_TEMPFAIL, zero weight and visible, and
//! policy decides whether that tempfails the message. Attachments over the
//! size limit are CLAMAV_TOO_LARGE, also zero weight.

use super::Context;
use crate::engine::AntivirusOutcome;
use crate::symbols::Findings;

/// Prefix of clamd's encrypted-archive heuristic names.
const ENCRYPTED_PREFIX: &str = "Heuristics.Encrypted.";

/// Emits CLAMAV_VIRUS, CLAMAV_ENCRYPTED, CLAMAV_TOO_LARGE and
/// CLAMAV_TEMPFAIL.
pub fn check(ctx: &Context<'_>, f: &mut Findings) {
    let Some(scans) = &ctx.facts.antivirus else {
        return;
    };
    for s in scans {
        let name = if s.attachment.is_empty() {
            "(unnamed)"
        } else {
            &s.attachment
        };
        // An attachment inside a message an internal user forwards (a
        // report to the IT centre) counts for less, like the other
        // attachment checks.
        let w = ctx
            .view
            .attachments
            .iter()
            .find(|a| a.sha256 == s.sha256)
            .map_or(1.0, |a| ctx.attachment_weight(a));
        match &s.outcome {
            AntivirusOutcome::Clean => {}
            AntivirusOutcome::Found(sig) if sig.starts_with(ENCRYPTED_PREFIX) => {
                f.add("CLAMAV_ENCRYPTED", w, vec![format!("{sig} ({name})")]);
            }
            AntivirusOutcome::Found(sig) => {
                f.add("CLAMAV_VIRUS", w, vec![format!("{sig} ({name})")]);
            }
            AntivirusOutcome::TooLarge(why) => {
                f.hit("CLAMAV_TOO_LARGE", format!("{name}: {why}"));
            }
            AntivirusOutcome::TempFail(why) => {
                f.hit("CLAMAV_TEMPFAIL", format!("{name}: {why}"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{
        Action, AntivirusOutcome, AntivirusScan, Config, Engine, Envelope, Facts, ScanInput,
        ScanResult,
    };

    const MSG: &[u8] =
        b"From: a@b.example\r\nTo: c@laocai.gov.vn\r\nSubject: tai lieu\r\n\r\nxem tep\r\n";

    fn scan(outcomes: Vec<AntivirusOutcome>) -> ScanResult {
        let config =
            Config::from_toml_str("[organization]\ndomains = [\"laocai.gov.vn\"]\n").unwrap();
        let engine = Engine::new(config).unwrap();
        let facts = Facts {
            antivirus: Some(
                outcomes
                    .into_iter()
                    .enumerate()
                    .map(|(i, outcome)| AntivirusScan {
                        attachment: format!("file{i}.bin"),
                        sha256: String::new(),
                        outcome,
                    })
                    .collect(),
            ),
            ..Facts::default()
        };
        engine.scan(&ScanInput {
            raw: MSG,
            envelope: &Envelope::default(),
            facts: &facts,
        })
    }

    fn opts(r: &ScanResult, name: &str) -> Option<(f64, Vec<String>)> {
        r.symbols
            .iter()
            .find(|s| s.name == name)
            .map(|s| (s.score, s.options.clone()))
    }

    #[test]
    fn virus_quarantines_and_names_the_attachment() {
        let r = scan(vec![
            AntivirusOutcome::Clean,
            AntivirusOutcome::Found("Phishgate.Test.EICAR".into()),
        ]);
        let (score, o) = opts(&r, "CLAMAV_VIRUS").expect("CLAMAV_VIRUS");
        assert_eq!(o, ["Phishgate.Test.EICAR (file1.bin)"]);
        assert!(score >= 9.0);
        assert!(matches!(r.action, Action::Quarantine | Action::Reject));
    }

    #[test]
    fn encrypted_tempfail_too_large_are_distinct() {
        let r = scan(vec![
            AntivirusOutcome::Found("Heuristics.Encrypted.Zip".into()),
            AntivirusOutcome::TempFail("connection refused".into()),
            AntivirusOutcome::TooLarge("30000000 bytes > 26214400".into()),
        ]);
        assert!(opts(&r, "CLAMAV_VIRUS").is_none());
        assert_eq!(
            opts(&r, "CLAMAV_ENCRYPTED").expect("enc").1,
            ["Heuristics.Encrypted.Zip (file0.bin)"]
        );
        let (score, o) = opts(&r, "CLAMAV_TEMPFAIL").expect("tempfail");
        assert_eq!(score, 0.0, "visible, zero weight");
        assert_eq!(o, ["file1.bin: connection refused"]);
        assert_eq!(opts(&r, "CLAMAV_TOO_LARGE").expect("large").0, 0.0);
        assert!(scan(vec![AntivirusOutcome::Clean])
            .symbols
            .iter()
            .all(|s| !s.name.starts_with("CLAMAV")));
    }
}
