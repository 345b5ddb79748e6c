//! The milter server: a thin tokio adapter over the sans-I/O codec of
//! `phishgate-milter`.
//!
//! One task per MTA connection (Postfix opens one per SMTP session). Bytes
//! read go to the decoder, commands to the session; the session answers
//! everything itself except the end of message, where the message is scanned
//! and the verdict is turned into milter edits (`edits_for`) and one final
//! reply. Any protocol error closes that connection only; Postfix then
//! applies its `milter_default_action` to that SMTP session.

use std::sync::Arc;

use phishgate_core::{Action, Envelope, Facts};
use phishgate_milter::{
    encode_response, Decoder, Limits, Message, ReplyText, Response, Session, Step, Wanted,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::disposition::{Disposition, HEADER_PREFIX};
use crate::metrics::Interface;
use crate::scanner::Scanner;
use crate::serve::{Shutdown, Tracker};
use crate::settings::{OnError, Settings};

/// Accepts milter connections until shutdown; at most `[gateway]
/// max_sessions` at once (more are closed at once, and Postfix applies its
/// default action to those SMTP sessions).
pub async fn accept_loop(
    listener: TcpListener,
    scanner: Arc<Scanner>,
    tracker: Tracker,
    shutdown: Shutdown,
) {
    crate::serve::capped_accept_loop(
        listener,
        scanner,
        tracker,
        shutdown,
        Interface::Milter,
        None,
        |stream, peer, scanner, _| async move {
            if let Err(e) = session(stream, &scanner).await {
                scanner.metrics.error(Interface::Milter, "protocol");
                tracing::warn!(%peer, error = %e, "milter connection closed on error");
            }
        },
    )
    .await;
}

/// Why a milter connection ended early.
#[derive(Debug, thiserror::Error)]
enum ConnError {
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("protocol: {0}")]
    Decode(#[from] phishgate_milter::DecodeError),
    #[error("protocol: {0}")]
    Session(#[from] phishgate_milter::SessionError),
    #[error("idle for {0} s")]
    Idle(u64),
}

async fn session(mut stream: TcpStream, scanner: &Scanner) -> Result<(), ConnError> {
    let settings = scanner.loaded().settings.clone();
    let _ = stream.set_nodelay(true);
    let mut decoder = Decoder::new();
    // Headers are bounded by the message size, not by a smaller count: a
    // message whose headers are not all seen cannot be judged or cleaned
    // of forged result headers (it then follows the failure mode).
    let limits = Limits {
        max_body_bytes: settings.max_message_bytes,
        max_recipients: settings.max_recipients,
        max_headers: 100_000,
        max_header_bytes: settings.max_message_bytes,
        ..Limits::default()
    };
    let mut session = Session::new(Wanted::default(), limits);
    let mut buf = vec![0u8; 64 * 1024];
    let mut out = Vec::with_capacity(256);
    loop {
        let n =
            match tokio::time::timeout(settings.milter_idle_timeout, stream.read(&mut buf)).await {
                Err(_) => return Err(ConnError::Idle(settings.milter_idle_timeout.as_secs())),
                Ok(r) => r?,
            };
        if n == 0 {
            // EOF: Postfix closes after accept/reject at CONNECT or HELO.
            decoder.finish()?;
            return Ok(());
        }
        decoder.feed(buf.get(..n).unwrap_or_default());
        while let Some(cmd) = decoder.next_command()? {
            match session.handle(cmd)? {
                Step::Reply(r) => encode_response(&r, &mut out),
                Step::NoReply | Step::NewConnection => {}
                Step::EndOfMessage(msg) => {
                    if !out.is_empty() {
                        stream.write_all(&out).await?;
                        out.clear();
                    }
                    let plan = decide(scanner, &msg).await;
                    answer(&session, &plan, &mut out)?;
                }
                Step::Close => {
                    if !out.is_empty() {
                        stream.write_all(&out).await?;
                    }
                    return Ok(());
                }
            }
        }
        if !out.is_empty() {
            stream.write_all(&out).await?;
            out.clear();
        }
    }
}

/// The end-of-message answer, in layers: if the codec refuses an edit
/// (a header line that cannot be folded, say), the banner is dropped first,
/// then everything but the deletions of forged headers and the quarantine;
/// the final reply is never changed, so a held or rejected message is never
/// delivered because of an edit.
fn answer(session: &Session, plan: &Plan, out: &mut Vec<u8>) -> std::io::Result<()> {
    let mut tries: Vec<Vec<Response>> = Vec::new();
    let mut all = plan.essential.clone();
    all.extend(plan.headers.iter().cloned());
    all.extend(plan.banner.iter().cloned());
    tries.push(all);
    if !plan.banner.is_empty() {
        let mut no_banner = plan.essential.clone();
        no_banner.extend(plan.headers.iter().cloned());
        tries.push(no_banner);
    }
    tries.push(plan.essential.clone());
    for (i, edits) in tries.iter().enumerate() {
        out.clear();
        match session.finish(edits, &plan.final_reply, out) {
            Ok(()) => return Ok(()),
            Err(e) => {
                tracing::error!(error = %e, attempt = i, "milter edits refused; trying fewer")
            }
        }
    }
    // Not even the essentials: never deliver what should be held.
    out.clear();
    let holding = plan
        .essential
        .iter()
        .any(|r| matches!(r, Response::Quarantine(_)));
    let last = if holding {
        Response::Tempfail
    } else {
        plan.final_reply.clone()
    };
    session
        .finish(&[], &last, out)
        .or_else(|_| {
            out.clear();
            session.finish(&[], &Response::Tempfail, out)
        })
        .map_err(|e| std::io::Error::other(format!("cannot answer end of message: {e}")))
}

/// What to answer at end of message, in layers (see [`answer`]).
struct Plan {
    /// Deletions of forged headers and the quarantine request.
    essential: Vec<Response>,
    /// Our result headers and the subject tag.
    headers: Vec<Response>,
    /// The banner: top-level content header changes and the new body.
    banner: Vec<Response>,
    final_reply: Response,
}

/// History and sender memory for one decided message (no-op without a store).
fn record(
    scanner: &Scanner,
    msg: &Message,
    raw: &[u8],
    outcome: &crate::scanner::Outcome,
    d: &Disposition,
    quarantine_id: Option<&str>,
) {
    if let Some(rec) = scanner.recorder.get() {
        rec.record(
            Interface::Milter,
            &scanner.metrics,
            &envelope_of(msg),
            msg.queue_id(),
            outcome.result.as_ref(),
            d,
            raw.len(),
            quarantine_id,
        );
    }
}

fn envelope_of(msg: &Message) -> Envelope {
    Envelope {
        mail_from: msg.envelope.sender.as_ref().map(|a| a.address.clone()),
        rcpt_to: msg
            .envelope
            .recipients
            .iter()
            .map(|a| a.address.clone())
            .collect(),
        client_ip: msg.client_ip().map(str::to_string),
        helo: msg.connection.helo.clone(),
        authenticated_user: msg.auth_user().map(str::to_string),
    }
}

fn reply(code: u16, enhanced: &str, text: &str) -> Response {
    match ReplyText::new(code, Some(enhanced), &[text]) {
        Ok(t) => Response::ReplyCode(t),
        Err(_) if code >= 500 => Response::Reject,
        Err(_) => Response::Tempfail,
    }
}

async fn decide(scanner: &Scanner, msg: &Message) -> Plan {
    let raw = Arc::new(msg.raw_message());
    let envelope = envelope_of(msg);
    let outcome = scanner
        .scan(
            Interface::Milter,
            Arc::clone(&raw),
            envelope,
            Facts::default(),
        )
        .await;
    let settings = &outcome.loaded.settings;
    let mut d = outcome.disposition.clone();
    if msg.headers_truncated && d.failure.is_none() {
        // Not every header was seen: the verdict and the clean-up of forged
        // headers cannot be trusted. Follow the failure mode.
        scanner.metrics.error(Interface::Milter, "too-large");
        d = Disposition::failed(crate::disposition::Failure::TooLarge, settings);
    }
    scanner.metrics.message(Interface::Milter, d.action);
    let rcpts: Vec<&str> = msg
        .envelope
        .recipients
        .iter()
        .map(|a| a.address.as_str())
        .collect();
    tracing::info!(
        interface = "milter",
        queue_id = msg.queue_id().unwrap_or("-"),
        from = msg.envelope.sender.as_ref().map_or("-", |a| a.address.as_str()),
        rcpt = %rcpts.join(","),
        action = d.action.as_str(),
        score = d.score,
        reasons = %d.reasons.iter().map(|r| r.0.as_str()).collect::<Vec<_>>().join(","),
        failure = d.failure.as_ref().map_or("", |f| f.token()),
        elapsed_ms = outcome.elapsed.as_millis() as u64,
        "message decided"
    );
    let empty = |final_reply| Plan {
        essential: Vec::new(),
        headers: Vec::new(),
        banner: Vec::new(),
        final_reply,
    };
    if d.action != Action::Quarantine {
        record(scanner, msg, &raw, &outcome, &d, None);
    }
    if let Some(sym) = &d.defer {
        return empty(reply(
            451,
            "4.7.1",
            &format!("Message could not be fully checked ({sym}), try again later (phishgate)"),
        ));
    }
    if d.failure.is_some() && settings.milter_on_error == OnError::Tempfail {
        return empty(reply(
            451,
            "4.7.1",
            "Message not scanned, try again later (phishgate)",
        ));
    }
    match d.action {
        Action::Reject => empty(reply(
            550,
            "5.7.1",
            "Message rejected as phishing / Thu bi tu choi vi co dau hieu lua dao (phishgate)",
        )),
        Action::Quarantine if scanner.recorder.get().is_some() => {
            // Into the store, durably, then DISCARD: Postfix drops its copy
            // only after ours is committed. If the store fails, Postfix's
            // hold queue keeps the message instead.
            let rec = scanner.recorder.get().map(Arc::clone);
            let id = crate::record::new_id();
            let held = crate::record::held(
                &id,
                &raw,
                msg.envelope
                    .sender
                    .as_ref()
                    .map_or("", |a| a.address.as_str()),
                msg.envelope
                    .sender
                    .as_ref()
                    .map(|a| a.args.clone())
                    .unwrap_or_default(),
                msg.envelope
                    .recipients
                    .iter()
                    .map(|a| (a.address.clone(), a.args.clone()))
                    .collect(),
                &d,
                outcome.result.as_ref(),
                &d.reasons
                    .iter()
                    .map(|r| r.0.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
            );
            if let Some(rec) = rec {
                match rec.quarantine(held).await {
                    Ok(()) => {
                        record(scanner, msg, &raw, &outcome, &d, Some(&id));
                        tracing::info!(id = %id, "message held in quarantine");
                        return empty(Response::Discard);
                    }
                    Err(e) => {
                        scanner.metrics.error(Interface::Milter, "store");
                        tracing::error!(error = %e, "quarantine store failed; using Postfix's hold queue");
                    }
                }
            }
            record(scanner, msg, &raw, &outcome, &d, None);
            postfix_hold(msg, &raw, &d, settings)
        }
        Action::Quarantine => {
            record(scanner, msg, &raw, &outcome, &d, None);
            postfix_hold(msg, &raw, &d, settings)
        }
        Action::Accept | Action::Warn => edits_for(msg, &raw, &d, settings),
    }
}

/// Fallback quarantine: Postfix's hold queue (`q`), with our headers.
fn postfix_hold(msg: &Message, raw: &[u8], d: &Disposition, settings: &Settings) -> Plan {
    let mut plan = edits_for(msg, raw, d, settings);
    let reasons: Vec<&str> = d.reasons.iter().map(|r| r.0.as_str()).collect();
    plan.essential.push(Response::Quarantine(format!(
        "phishgate score {:.2}: {}",
        d.score,
        reasons.join(" ")
    )));
    plan
}

/// The milter edits that carry a disposition out: forged `X-Phishgate-*`
/// headers deleted, ours inserted at the top, the subject tagged and the
/// banner put into the body (`warn`). The final reply is `Continue`.
fn edits_for(msg: &Message, raw: &[u8], d: &Disposition, settings: &Settings) -> Plan {
    let mut plan = Plan {
        essential: Vec::new(),
        headers: Vec::new(),
        banner: Vec::new(),
        final_reply: Response::Continue,
    };
    // Delete forged result headers, last occurrence first so the indexes
    // (1-based per name) stay valid.
    let mut names: Vec<String> = Vec::new();
    for h in &msg.headers {
        let n = h.name.to_ascii_lowercase();
        if n.starts_with(&HEADER_PREFIX.to_ascii_lowercase()) && !names.contains(&n) {
            names.push(n);
        }
    }
    for n in names {
        let count = msg
            .headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(&n))
            .count();
        let display = msg
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(&n))
            .map_or(n.clone(), |h| h.name.clone());
        for index in (1..=count).rev() {
            plan.essential.push(Response::ChangeHeader {
                index: index as u32,
                name: display.clone(),
                value: String::new(),
            });
        }
    }
    // Forged Authentication-Results (claiming our authserv-id), last first.
    let mut forged = d.forged_auth_results.clone();
    forged.sort_unstable();
    for index in forged.into_iter().rev() {
        plan.essential.push(Response::ChangeHeader {
            index: u32::try_from(index).unwrap_or(u32::MAX),
            name: "Authentication-Results".into(),
            value: String::new(),
        });
    }
    for (i, (name, value)) in d.headers.iter().enumerate() {
        plan.headers.push(Response::InsertHeader {
            index: i as u32,
            name: name.clone(),
            value: phishgate_rewrite::encode_header_value(name, value),
        });
    }
    if let Some(subject) = &d.subject {
        plan.headers.push(Response::ChangeHeader {
            index: 1,
            name: "Subject".into(),
            value: phishgate_rewrite::encode_header_value("Subject", subject),
        });
    }
    if d.banner.is_some() {
        if msg.truncated {
            tracing::info!("message larger than the milter body bound: no banner");
        } else if let Some(rw) = crate::disposition::banner_body(raw, d, settings) {
            for e in rw.top_header_edits {
                let phishgate_rewrite::HeaderEdit::Set { name, value } = e;
                plan.banner.push(Response::ChangeHeader {
                    index: 1,
                    name,
                    value,
                });
            }
            plan.banner.push(Response::ReplaceBody(rw.body));
        }
    }
    plan
}
