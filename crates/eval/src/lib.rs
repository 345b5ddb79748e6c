//! # phishgate-eval
//!
//! How well does phishgate stop phishing and spam, and how much legitimate
//! mail does it hold? This crate answers with numbers anyone can reproduce
//! on labelled folders of messages. It is pure (no files, no clock, no
//! threads): the `phishgate eval` command reads the folders and scans in
//! parallel, and the future `phishgate train` reuses the same pieces so the
//! classifier is trained and measured on exactly the same split.
//!
//! The model, in the order data flows:
//!
//! ```text
//! raw bytes ──> normalize::normalize ──> normalised bytes (the only form anything looks at)
//!                                          │
//!                  MessageView::build ─────┤──> Engine::scan_view ──> score, action, symbols
//!                                          │
//!                  features::Features ─────┘──> split::assign_groups (campaigns, near-duplicates)
//!                                                  └──> split::part_of(group, seed): train | test
//!
//! metrics::Record per message ──> report::Report (stable JSON model)
//!                                   ├──> report::render_text
//!                                   └──> html::render_html (inline CSS + SVG, no network)
//! ```
//!
//! Why normalise first: the public corpus carries *collection marks* that
//! give the label away (CRLF only in one source, mbox `From ` lines in
//! another, mail-client status headers in a third, a recipient placeholder
//! per source, eras that do not overlap). A measurement or a model that
//! sees them measures the collector, not phishing. Why split by campaign:
//! a quarter to a half of the phishing files are near-copies of another
//! file; a file-level split puts copies on both sides and flatters every
//! figure.

pub mod features;
pub mod hash;
pub mod html;
pub mod metrics;
pub mod normalize;
pub mod report;
pub mod split;

pub use features::Features;
pub use metrics::{Class, Record};
pub use normalize::{normalize, Normalized};
pub use report::{Report, RunMeta};
pub use split::{assign_groups, part_of, Part, SplitSelect};

/// One message prepared for evaluation or training: normalised, viewed,
/// scanned, with the features that place it in a campaign.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The verdict on the normalised message.
    pub result: phishgate_core::ScanResult,
    /// Campaign features (for the split).
    pub features: Features,
    /// Stable identity of the normalised message (identical copies share it).
    pub id: u64,
}

/// Normalises `raw`, builds its view once, scans it and extracts its
/// campaign features. Pure; never panics on any input.
///
/// `Authentication-Results` stamped by the configured `authserv_id` are
/// kept (see [`normalize::normalize_keeping`]); the `Return-Path` address
/// becomes the envelope's `mail_from`, as the gateway would know it.
pub fn prepare(engine: &phishgate_core::Engine, raw: &[u8]) -> Prepared {
    prepare_with(engine, raw, None).0
}

/// [`prepare`], and with `learn_bits` the classifier's features of the same
/// normalised message (for `phishgate train`: the model learns from exactly
/// what evaluation and the gateway see).
pub fn prepare_with(
    engine: &phishgate_core::Engine,
    raw: &[u8],
    learn_bits: Option<u8>,
) -> (Prepared, Option<phishgate_core::learn::Features>) {
    let own = &engine.config().organization.authserv_id;
    let normalized = normalize::normalize_keeping(raw, Some(own.as_str()));
    let view = phishgate_core::view::MessageView::build(&normalized.bytes, &engine.config().limits);
    let envelope = phishgate_core::Envelope {
        mail_from: normalized.envelope_from.clone(),
        ..phishgate_core::Envelope::default()
    };
    let facts = phishgate_core::Facts::default();
    let result = engine.scan_view(
        &view,
        &phishgate_core::ScanInput {
            raw: &normalized.bytes,
            envelope: &envelope,
            facts: &facts,
        },
    );
    let learn = learn_bits.map(|bits| phishgate_core::learn::features_of_view(&view, bits));
    let prepared = Prepared {
        result,
        features: Features::from_view(&view),
        id: hash::h64(&[
            b"msg",
            &normalized.bytes,
            normalized.envelope_from.as_deref().unwrap_or("").as_bytes(),
        ]),
    };
    (prepared, learn)
}

/// A short, stable hash of the effective configuration (SHA-256 of its
/// TOML form, first 16 hex digits): two reports with the same value were
/// made with the same scores, thresholds and lists.
pub fn config_hash(config: &phishgate_core::Config) -> String {
    let text = toml::to_string(config).unwrap_or_default();
    let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    digest
        .as_ref()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `YYYY-MM-DD HH:MM:SS UTC` for a Unix time (the caller reads the clock;
/// this crate does not).
pub fn utc_timestamp(unix_secs: u64) -> String {
    let days = (unix_secs / 86_400) as i64;
    let rem = unix_secs % 86_400;
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps() {
        assert_eq!(super::utc_timestamp(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(
            super::utc_timestamp(1_709_251_199),
            "2024-02-29 23:59:59 UTC"
        );
    }
}
