//! The after-queue SMTP content filter: a thin tokio adapter over the
//! sans-I/O codecs of `phishgate-smtp`.
//!
//! Postfix's `smtp` client delivers each queued message here. The message is
//! scanned; then it is re-injected into Postfix's filter-free smtpd
//! (`[relay] address`) with its envelope (MAIL/RCPT parameters, XFORWARD
//! client facts) intact, or held in quarantine, and only **then** is
//! Postfix answered:
//!
//! - `250` after the relay accepted the message, or after the quarantine
//!   copy is on disk;
//! - `4xx` for every failure (relay down or refusing with 4xx, quarantine
//!   unwritable, scan failed with `smtp_on_error = "tempfail"`): Postfix
//!   keeps the message queued and retries, so nothing is lost;
//! - `5xx` only for a deliberate verdict (`content_filter_reject =
//!   "bounce"`) or when the relay itself refused with 5xx.

use std::sync::Arc;

use phishgate_core::{Action, Envelope, Facts};
use phishgate_smtp::{
    Client, ClientConfig, ClientEvent, Event, Extensions, Limits, Outcome, Reply, Server,
    ServerConfig, Shutdown as SmtpShutdown, Transaction,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::disposition::rewrite_message;
use crate::metrics::Interface;
use crate::scanner::Scanner;
use crate::serve::{Shutdown, Tracker};
use crate::settings::{FilterReject, OnError, Settings};

/// Accepts SMTP connections until shutdown; beyond `[gateway]
/// max_sessions` a connection gets `421` and is closed (Postfix retries).
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
        Interface::Smtp,
        Some(b"421 4.3.2 Too many connections, try again later\r\n"),
        |stream, peer, scanner, shutdown| async move {
            if let Err(e) = session(stream, &scanner, shutdown).await {
                tracing::info!(%peer, error = %e, "smtp connection ended");
            }
        },
    )
    .await;
}

async fn session(
    mut stream: TcpStream,
    scanner: &Scanner,
    mut shutdown: Shutdown,
) -> std::io::Result<()> {
    let settings = scanner.loaded().settings.clone();
    let _ = stream.set_nodelay(true);
    let cfg = ServerConfig {
        hostname: settings.hostname.clone(),
        limits: Limits {
            max_message_size: settings.max_message_bytes,
            max_recipients: settings.max_recipients,
            ..Limits::default()
        },
        extensions: Extensions::all(),
    };
    let mut server = Server::new(cfg);
    let mut buf = vec![0u8; 64 * 1024];
    // The client is sending a message (our last reply was `354`): on
    // shutdown it may finish it, and gets the `421` right after the reply
    // to its final dot.
    let mut in_data = false;
    loop {
        while let Some(ev) = server.next_event() {
            match ev {
                Event::Send(bytes) => {
                    in_data = last_reply_code(&bytes) == Some(354);
                    stream.write_all(&bytes).await?
                }
                Event::Message(tx) => {
                    in_data = false;
                    let reply = handle(scanner, *tx).await;
                    if let Err(e) = server.finish_data(reply) {
                        tracing::error!(error = %e, "cannot answer the end of data");
                        return Ok(());
                    }
                }
                Event::Close => {
                    let _ = stream.shutdown().await;
                    return Ok(());
                }
            }
        }
        if server.is_closed() {
            return Ok(());
        }
        // Checked on every turn, not only while waiting for input: a
        // shutdown that starts during a scan or a relay is seen here.
        if shutdown.is_set() && !in_data {
            server.shutdown(SmtpShutdown::Stopping);
            continue;
        }
        let read = tokio::select! {
            r = tokio::time::timeout(settings.idle_timeout, stream.read(&mut buf)) => r,
            _ = shutdown.wait(), if !shutdown.is_set() => continue,
        };
        match read {
            Err(_) => {
                server.shutdown(SmtpShutdown::Timeout);
                continue;
            }
            Ok(Ok(0)) => return Ok(()),
            Ok(Ok(n)) => server.feed(buf.get(..n).unwrap_or_default()),
            Ok(Err(e)) => return Err(e),
        }
    }
}

/// The code of the last reply in `bytes` (output of the codec: whole
/// CRLF-terminated reply lines).
fn last_reply_code(bytes: &[u8]) -> Option<u16> {
    let body = bytes.strip_suffix(b"\r\n").unwrap_or(bytes);
    let start = body
        .windows(2)
        .rposition(|w| w == b"\r\n")
        .map_or(0, |i| i + 2);
    std::str::from_utf8(body.get(start..start + 3)?)
        .ok()?
        .parse()
        .ok()
}

fn envelope_of(tx: &Transaction) -> Envelope {
    let xf = tx.xforward.as_ref();
    Envelope {
        mail_from: Some(tx.mail_from.address.as_str().to_string()),
        rcpt_to: tx
            .rcpts
            .iter()
            .map(|r| r.address.as_str().to_string())
            .collect(),
        client_ip: xf.and_then(|x| x.addr.clone()).map(|a| {
            a.trim_start_matches("IPV6:")
                .trim_start_matches("IPv6:")
                .to_string()
        }),
        helo: xf.and_then(|x| x.helo.clone()).or_else(|| tx.helo.clone()),
        authenticated_user: None,
    }
}

fn r(code: u16, enhanced: (u8, u16, u16), text: impl Into<String>) -> Reply {
    Reply::new(code, Some(enhanced), text)
}

/// Scans one transaction and decides the reply to Postfix's final dot.
async fn handle(scanner: &Scanner, mut tx: Transaction) -> Reply {
    // The message moves out of the transaction once (no copies); `tx` keeps
    // the envelope.
    let raw = Arc::new(std::mem::take(&mut tx.data));
    let outcome = scanner
        .scan(
            Interface::Smtp,
            Arc::clone(&raw),
            envelope_of(&tx),
            Facts::default(),
        )
        .await;
    let settings = &outcome.loaded.settings;
    let d = &outcome.disposition;
    scanner.metrics.message(Interface::Smtp, d.action);
    let rcpts: Vec<&str> = tx.rcpts.iter().map(|r| r.address.as_str()).collect();
    let ident = tx
        .xforward
        .as_ref()
        .and_then(|x| x.ident.clone())
        .unwrap_or_else(|| "-".into());
    let reply = if let Some(sym) = &d.defer {
        r(
            451,
            (4, 7, 1),
            format!("Message could not be fully checked ({sym}), try again later (phishgate)"),
        )
    } else if d.failure.is_some() && settings.smtp_on_error == OnError::Tempfail {
        r(
            451,
            (4, 7, 1),
            "Message not scanned, try again later (phishgate)",
        )
    } else {
        match d.action {
            Action::Reject if settings.content_filter_reject == FilterReject::Bounce => r(
                550,
                (5, 7, 1),
                "Message rejected as phishing / Thu bi tu choi vi co dau hieu lua dao (phishgate)",
            ),
            Action::Reject | Action::Quarantine => {
                hold(scanner, &tx, &raw, &outcome, d.action.as_str()).await
            }
            Action::Accept | Action::Warn => {
                let message = rewrite_message(&raw, d, settings);
                let (reply, refused) = relay(scanner, settings, tx.clone(), message).await;
                if refused.is_empty() {
                    reply
                } else {
                    // The relay refused some recipients for good after the
                    // others were delivered. One SMTP reply cannot say both;
                    // keep a copy for the refused ones so nobody loses mail
                    // silently (the IT centre sees it in quarantine).
                    let mut kept = tx.clone();
                    kept.rcpts = refused
                        .iter()
                        .filter_map(|&i| tx.rcpts.get(i).cloned())
                        .collect();
                    let held = hold(scanner, &kept, &raw, &outcome, "relay-refused").await;
                    if held.is_positive() {
                        reply
                    } else {
                        held
                    }
                }
            }
        }
    };
    // History for everything not recorded with its quarantine copy.
    if !reply.lines.iter().any(|l| l.contains("held in quarantine")) {
        if let Some(rec) = scanner.recorder.get() {
            rec.record(
                Interface::Smtp,
                &scanner.metrics,
                &envelope_of(&tx),
                Some(ident.as_str()).filter(|s| *s != "-"),
                outcome.result.as_ref(),
                d,
                raw.len(),
                None,
            );
        }
    }
    tracing::info!(
        interface = "smtp",
        queue_id = %ident,
        from = tx.mail_from.address.as_str(),
        rcpt = %rcpts.join(","),
        action = d.action.as_str(),
        score = d.score,
        reasons = %d.reasons.iter().map(|r| r.0.as_str()).collect::<Vec<_>>().join(","),
        failure = d.failure.as_ref().map_or("", |f| f.token()),
        reply = %reply,
        elapsed_ms = outcome.elapsed.as_millis() as u64,
        "message decided"
    );
    reply
}

async fn hold(
    scanner: &Scanner,
    tx: &Transaction,
    raw: &Arc<Vec<u8>>,
    outcome: &crate::scanner::Outcome,
    action: &'static str,
) -> Reply {
    let d = &outcome.disposition;
    let id = crate::record::new_id();
    let rcpts: Vec<(String, Vec<String>)> = tx
        .rcpts
        .iter()
        .map(|r| {
            (
                r.address.as_str().to_string(),
                r.params.iter().map(|p| p.to_wire()).collect(),
            )
        })
        .collect();
    let mail_params: Vec<String> = tx.mail_from.params.iter().map(|p| p.to_wire()).collect();
    let Some(rec) = scanner.recorder.get() else {
        scanner.metrics.error(Interface::Smtp, "quarantine");
        tracing::error!("no store open; Postfix keeps the message");
        return r(
            451,
            (4, 3, 0),
            "Quarantine unavailable, try again later (phishgate)",
        );
    };
    // The store commits before Postfix hears 250; a failure is a 451 and
    // Postfix keeps its copy.
    let reason = if action == "relay-refused" {
        "refused by the relay after the other recipients were delivered".to_string()
    } else {
        d.reasons
            .iter()
            .map(|r| r.0.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let q = crate::record::held(
        &id,
        raw,
        tx.mail_from.address.as_str(),
        mail_params,
        rcpts,
        d,
        outcome.result.as_ref(),
        &reason,
    );
    match rec.quarantine(q).await {
        Ok(()) => {
            tracing::info!(id = %id, "message held in quarantine");
            rec.record(
                Interface::Smtp,
                &scanner.metrics,
                &envelope_of(tx),
                tx.xforward.as_ref().and_then(|x| x.ident.as_deref()),
                outcome.result.as_ref(),
                d,
                raw.len(),
                Some(&id),
            );
            r(
                250,
                (2, 7, 0),
                format!("Ok: held in quarantine as {id} (phishgate)"),
            )
        }
        Err(e) => {
            scanner.metrics.error(Interface::Smtp, "quarantine");
            tracing::error!(error = %e, "cannot store the quarantine copy; Postfix keeps the message");
            r(
                451,
                (4, 3, 0),
                "Quarantine unavailable, try again later (phishgate)",
            )
        }
    }
}

/// Re-injects `message` with the envelope of `tx` and turns the relay's
/// outcome into the reply for Postfix, plus the indexes of recipients the
/// relay refused for good while accepting the others.
async fn relay(
    scanner: &Scanner,
    settings: &Settings,
    mut tx: Transaction,
    message: Vec<u8>,
) -> (Reply, Vec<usize>) {
    tx.data = message;
    // The banner and headers change the size: the original SIZE= would be
    // wrong (and could trip the relay's limit). It is advisory; drop it.
    tx.mail_from.params.retain(|p| !p.is("SIZE"));
    let outcome = match deliver(settings, tx).await {
        Ok(o) => o,
        Err(e) => {
            scanner.metrics.error(Interface::Smtp, "relay");
            tracing::error!(relay = %settings.relay, error = %e, "relay unreachable; Postfix keeps the message");
            return (
                r(
                    451,
                    (4, 4, 1),
                    format!(
                        "Relay {} unreachable, try again later (phishgate)",
                        settings.relay
                    ),
                ),
                Vec::new(),
            );
        }
    };
    let reply = match outcome {
        Outcome::Delivered { reply } => r(
            250,
            (2, 0, 0),
            format!(
                "Ok: relayed ({})",
                reply.lines.first().map_or("", |s| s.as_str())
            ),
        ),
        Outcome::PartiallyAccepted { reply, refused } => {
            let transient = refused.iter().any(|x| x.reply.is_transient());
            scanner.metrics.error(Interface::Smtp, "relay");
            tracing::error!(refused = refused.len(), first = %refused.first().map(|x| x.reply.to_string()).unwrap_or_default(), "relay refused some recipients");
            if transient {
                // Retrying duplicates the copies already delivered, but loses nothing.
                r(
                    451,
                    (4, 4, 0),
                    "Relay refused some recipients for now, try again later (phishgate)",
                )
            } else {
                let refused: Vec<usize> = refused.iter().map(|x| x.index).collect();
                return (
                    r(
                        250,
                        (2, 0, 0),
                        format!(
                            "Ok: relayed, some recipients refused permanently ({})",
                            reply.lines.first().map_or("", |s| s.as_str())
                        ),
                    ),
                    refused,
                );
            }
        }
        Outcome::TempFailed { stage, reply } => {
            scanner.metrics.error(Interface::Smtp, "relay");
            tracing::warn!(?stage, reply = %reply, "relay deferred the message");
            r(
                451,
                (4, 4, 0),
                format!(
                    "Relay deferred: {} (phishgate)",
                    reply.lines.first().map_or("", |s| s.as_str())
                ),
            )
        }
        Outcome::Rejected { stage, reply } => {
            tracing::warn!(?stage, reply = %reply, "relay rejected the message");
            let code = if (500..600).contains(&reply.code) {
                reply.code
            } else {
                554
            };
            r(
                code,
                (5, 0, 0),
                format!(
                    "Relay rejected: {}",
                    reply.lines.first().map_or("", |s| s.as_str())
                ),
            )
        }
    };
    (reply, Vec::new())
}

/// One SMTP client session to the relay for one transaction.
pub(crate) async fn deliver(settings: &Settings, tx: Transaction) -> std::io::Result<Outcome> {
    let mut stream = tokio::time::timeout(
        settings.relay_connect_timeout,
        TcpStream::connect(settings.relay),
    )
    .await
    .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))??;
    let _ = stream.set_nodelay(true);
    let mut client = Client::new(ClientConfig::new(settings.relay_helo.clone()));
    client
        .send(tx)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let mut outcome = None;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        while let Some(ev) = client.next_event() {
            match ev {
                ClientEvent::Send(bytes) => {
                    if let Err(e) = stream.write_all(&bytes).await {
                        tracing::debug!(error = %e, "relay write failed");
                        client.connection_closed();
                    }
                }
                ClientEvent::Ready => {}
                ClientEvent::Done(o) => {
                    outcome = Some(o);
                    client.quit();
                }
                ClientEvent::Closed(_) => {
                    return outcome
                        .ok_or_else(|| std::io::Error::other("relay closed the connection"));
                }
            }
        }
        if client.is_closed() {
            return outcome.ok_or_else(|| std::io::Error::other("relay closed the connection"));
        }
        match tokio::time::timeout(settings.relay_timeout, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => client.connection_closed(),
            Ok(Ok(n)) => client.feed(buf.get(..n).unwrap_or_default()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::last_reply_code;

    #[test]
    fn last_reply_code_reads_the_last_line() {
        assert_eq!(
            last_reply_code(b"354 End data with <CR><LF>.<CR><LF>\r\n"),
            Some(354)
        );
        assert_eq!(
            last_reply_code(b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data\r\n"),
            Some(354)
        );
        assert_eq!(
            last_reply_code(b"250-host\r\n250-SIZE 10\r\n250 DSN\r\n"),
            Some(250)
        );
        assert_eq!(last_reply_code(b"354 go\r\n250 2.0.0 Ok\r\n"), Some(250));
        assert_eq!(last_reply_code(b""), None);
    }
}
