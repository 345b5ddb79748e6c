//! What the organisation remembers about the sender.
//!
//! Lures come from addresses nobody in the organisation has dealt with; a
//! partner's mail comes from an address that has written many times and
//! that staff have answered. The gateway looks the sender up in the store
//! before the scan and hands the counts over as [`crate::Facts::sender`];
//! without a store (a file scanned by the CLI) this check says nothing.
//! Senders in the organisation's own domains are not judged here: spoofing
//! of those is the own-domain check's business.

use super::Context;
use crate::symbols::Findings;

/// Messages from an address (with replies from the organisation) after
/// which it counts as a known correspondent.
const KNOWN_AFTER: u64 = 3;

/// Emits SENDER_FIRST_CONTACT, SENDER_NEW_ADDRESS, SENDER_NEVER_REPLIED and
/// SENDER_KNOWN_CORRESPONDENT.
pub fn check(ctx: &Context<'_>, f: &mut Findings) {
    let Some(h) = &ctx.facts.sender else { return };
    let Some(from) = &ctx.view.from else { return };
    if ctx.from_own || from.domain.is_empty() {
        return;
    }
    if h.domain_count == 0 {
        f.hit("SENDER_FIRST_CONTACT", from.address.clone());
        return;
    }
    if h.address_count == 0 {
        f.hit(
            "SENDER_NEW_ADDRESS",
            format!(
                "{} ({} earlier from {})",
                from.address, h.domain_count, from.domain
            ),
        );
    }
    if !h.address_replied && !h.domain_replied {
        f.hit(
            "SENDER_NEVER_REPLIED",
            format!("{} ({} earlier)", from.domain, h.domain_count),
        );
    } else if h.address_replied && h.address_count >= KNOWN_AFTER {
        f.hit(
            "SENDER_KNOWN_CORRESPONDENT",
            format!("{} ({} earlier, answered)", from.address, h.address_count),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::{Config, Engine, Envelope, Facts, ScanInput, SenderHistory};

    const MSG: &[u8] = b"From: Partner <ketoan@doitac.com.vn>\r\nTo: a@laocai.gov.vn\r\n\
Subject: Hoa don thang 10\r\n\r\nGui anh chi hoa don thang 10.\r\n";

    fn names(h: Option<SenderHistory>) -> Vec<String> {
        let config =
            Config::from_toml_str("[organization]\ndomains = [\"laocai.gov.vn\"]\n").unwrap();
        let engine = Engine::new(config).unwrap();
        let facts = Facts {
            sender: h,
            ..Facts::default()
        };
        let r = engine.scan(&ScanInput {
            raw: MSG,
            envelope: &Envelope::default(),
            facts: &facts,
        });
        let mut v: Vec<String> = r
            .symbols
            .into_iter()
            .map(|s| s.name)
            .filter(|n| n.starts_with("SENDER_"))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn first_contact_new_address_never_replied_known() {
        assert!(names(None).is_empty(), "no store, no opinion");
        assert_eq!(
            names(Some(SenderHistory::default())),
            ["SENDER_FIRST_CONTACT"]
        );
        let seen_domain = SenderHistory {
            domain_count: 4,
            ..SenderHistory::default()
        };
        assert_eq!(
            names(Some(seen_domain)),
            ["SENDER_NEVER_REPLIED", "SENDER_NEW_ADDRESS"]
        );
        let partner = SenderHistory {
            address_count: 12,
            domain_count: 30,
            address_replied: true,
            domain_replied: true,
            address_age_days: Some(400.0),
        };
        assert_eq!(names(Some(partner)), ["SENDER_KNOWN_CORRESPONDENT"]);
    }

    #[test]
    fn a_brand_new_sender_scores_higher_than_a_partner() {
        let config =
            Config::from_toml_str("[organization]\ndomains = [\"laocai.gov.vn\"]\n").unwrap();
        let engine = Engine::new(config).unwrap();
        let score = |h: SenderHistory| {
            let facts = Facts {
                sender: Some(h),
                ..Facts::default()
            };
            engine
                .scan(&ScanInput {
                    raw: MSG,
                    envelope: &Envelope::default(),
                    facts: &facts,
                })
                .score
        };
        let new = score(SenderHistory::default());
        let partner = score(SenderHistory {
            address_count: 12,
            domain_count: 30,
            address_replied: true,
            domain_replied: true,
            address_age_days: Some(400.0),
        });
        assert!(new > partner + 1.0, "{new} vs {partner}");
    }
}
