//! Users' reports ("this looks like phishing"): staff forward a suspicious
//! message to the report address (or a report button posts it). The
//! message reported is the forwarded one when the report carries it as an
//! attachment (`message/rfc822`, how Zimbra, Outlook and Thunderbird
//! "forward as attachment"), otherwise the report itself (an inline
//! forward, or a button that posts the original). It is scanned once so the
//! IT centre sees what phishgate thought of it, and stored for an
//! administrator to confirm or dismiss. A report never teaches the
//! classifier by itself: only that decision does (see `crate::model`).

use mail_parser::{MessageParser, PartType};
use phishgate_core::{Engine, Envelope, Facts, ScanInput};
use phishgate_store::NewReport;

/// The message a report is about: the first attached message
/// (`message/rfc822`) when there is one, else the report as it is.
/// Returns the bytes and whether they came from an attachment.
pub fn reported_message(report: &[u8]) -> (Vec<u8>, bool) {
    let Some(parsed) = MessageParser::default().parse(report) else {
        return (report.to_vec(), false);
    };
    for part in parsed.parts.iter() {
        if let PartType::Message(inner) = &part.body {
            let raw = inner.raw_message();
            if !raw.is_empty() {
                return (raw.to_vec(), true);
            }
        }
    }
    (report.to_vec(), false)
}

/// A report ready for the store: the reported message, what phishgate
/// thinks of it now, who reported it and when.
pub fn new_report(
    engine: &Engine,
    reporter: &str,
    note: Option<String>,
    report: &[u8],
    received_ms: i64,
) -> NewReport {
    let (raw, _) = reported_message(report);
    let result = engine.scan(&ScanInput {
        raw: &raw,
        envelope: &Envelope::default(),
        facts: &Facts::default(),
    });
    NewReport {
        reporter: reporter.trim().to_ascii_lowercase(),
        note: note.filter(|n| !n.trim().is_empty()),
        subject: result.subject.clone(),
        sender: result.from.clone().unwrap_or_default(),
        message_id: result.message_id.clone(),
        verdict_action: Some(result.action.as_str().to_string()),
        score: Some(result.score),
        raw,
        received_ms,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn the_attached_message_is_the_one_reported() {
        let report = b"From: user@laocai.gov.vn\r\nTo: baocao@laocai.gov.vn\r\nSubject: Fw: nghi lua dao\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nNho kiem tra giup.\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nFrom: x@evil.example\r\nSubject: Xac minh tai khoan\r\n\r\nBam vao http://evil.example/login de xac minh tai khoan\r\n--b--\r\n";
        let (raw, forwarded) = reported_message(report);
        assert!(forwarded);
        let text = String::from_utf8_lossy(&raw);
        assert!(text.starts_with("From: x@evil.example"), "{text}");
        assert!(!text.contains("baocao@"));
        let engine = Engine::new(phishgate_core::Config::from_toml_str("").unwrap()).unwrap();
        let r = new_report(&engine, " User@LaoCai.gov.vn ", None, report, 7);
        assert_eq!(r.reporter, "user@laocai.gov.vn");
        assert_eq!(r.sender, "x@evil.example");
        assert_eq!(r.subject, "Xac minh tai khoan");
        assert!(r.score.is_some() && r.verdict_action.is_some());
    }

    #[test]
    fn an_inline_forward_or_garbage_is_reported_as_it_is() {
        let inline = b"From: user@laocai.gov.vn\r\nSubject: Fw: hoi\r\n\r\n---- Forwarded ----\r\nFrom: x@evil.example\r\n";
        assert_eq!(reported_message(inline), (inline.to_vec(), false));
        let garbage = [0u8, 159, 146, 150, b'\n'];
        assert_eq!(reported_message(&garbage).0, garbage.to_vec());
    }
}
