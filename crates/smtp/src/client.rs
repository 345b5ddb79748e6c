//! Client codec for re-injection into the downstream smtpd (Postfix's
//! `127.0.0.1:10026` in the content-filter setup).
//!
//! # Driving it
//!
//! ```text
//! let mut c = Client::new(config);      // expects the 220 greeting
//! c.send(tx)?;                          // may be called before the greeting
//! loop {
//!     while let Some(ev) = c.next_event() {
//!         match ev {
//!             ClientEvent::Send(bytes) => write_all(bytes),
//!             ClientEvent::Ready => c.quit(),           // or c.send(next_tx)
//!             ClientEvent::Done(outcome) => answer_upstream(outcome),
//!             ClientEvent::Closed(_) => return close(),
//!         }
//!     }
//!     match read() { Ok(0) | Err(_) => c.connection_closed(), Ok(n) => c.feed(&buf[..n]) }
//! }
//! ```
//!
//! The codec writes `EHLO` (falling back to `HELO` on a 5xx), then per
//! transaction `XFORWARD` (attributes the server announced, xtext, several
//! lines if needed), `MAIL FROM`, one `RCPT TO` per recipient and `DATA` —
//! all in one write when the server announced `PIPELINING` — then the
//! dot-stuffed message. After a failed transaction it sends `RSET` and is
//! [`ClientEvent::Ready`] again; after a delivered one it is ready at once.
//!
//! # Parameters replayed
//!
//! `MAIL`/`RCPT` parameters are written exactly as received, but only those
//! of extensions the downstream announced: `SIZE` (SIZE), `BODY` (8BITMIME),
//! `SMTPUTF8` (SMTPUTF8), `RET`/`ENVID`/`NOTIFY`/`ORCPT` (DSN). Others are
//! dropped: a server refuses parameters it did not announce, and losing a
//! DSN preference is better than losing the message. An envelope with a
//! non-ASCII address cannot be relayed without SMTPUTF8; that is reported as
//! [`Outcome::TempFailed`] without sending anything (a configuration
//! problem, which must defer rather than bounce).
//!
//! # Outcomes and the after-queue rules
//!
//! Only a refusal of the envelope or the message by the downstream becomes
//! [`Outcome::Rejected`] (5xx at `MAIL`, all `RCPT`, `DATA` or the dot).
//! Everything else that goes wrong — greeting, `EHLO`, `XFORWARD` refused,
//! garbage or overlong replies, a lost connection — is
//! [`Outcome::TempFailed`], so the adapter answers `4xx` upstream and
//! Postfix keeps the message.

use std::collections::VecDeque;

use crate::data::encode_data;
use crate::reply::ReplyParser;
use crate::transaction::{Param, Transaction};
use crate::xforward::XForwardAttr;
use crate::{xtext, Error, Extensions, Limits, Reply};

/// Client configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Our name in `EHLO`.
    pub ehlo_name: String,
    /// Bounds for reply parsing and XFORWARD lines.
    pub limits: Limits,
    /// Pipeline `XFORWARD`/`MAIL`/`RCPT`/`DATA` when the server announces
    /// `PIPELINING` (default true).
    pub pipelining: bool,
}

impl ClientConfig {
    /// Default limits, pipelining on.
    pub fn new(ehlo_name: impl Into<String>) -> Self {
        ClientConfig {
            ehlo_name: ehlo_name.into(),
            limits: Limits::default(),
            pipelining: true,
        }
    }
}

/// What the downstream server offered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// True if `EHLO` succeeded (false after the `HELO` fallback).
    pub esmtp: bool,
    /// Announced extensions.
    pub extensions: Extensions,
    /// `SIZE` limit, `Some(0)` for "no fixed limit", `None` if not announced.
    pub size_limit: Option<u64>,
}

/// Where in the dialogue a transaction failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Connection lost or unusable before a reply could be read.
    Connection,
    /// The `220` greeting.
    Greeting,
    /// `EHLO`/`HELO`.
    Ehlo,
    /// `XFORWARD`.
    Xforward,
    /// `MAIL FROM`.
    Mail,
    /// `RCPT TO` (all recipients refused).
    Rcpt,
    /// The `DATA` command.
    Data,
    /// The reply to the final dot.
    EndOfData,
}

/// A recipient the downstream refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedRcpt {
    /// Index into [`Transaction::rcpts`].
    pub index: usize,
    /// The refusal.
    pub reply: Reply,
}

/// Result of one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx after the dot for every recipient.
    Delivered {
        /// The reply to the dot.
        reply: Reply,
    },
    /// 2xx after the dot, but some recipients were refused at `RCPT`. Over
    /// SMTP the upstream gets one reply for all recipients, so the adapter
    /// must choose (or avoid the case with
    /// `scan_destination_recipient_limit = 1`).
    PartiallyAccepted {
        /// The reply to the dot.
        reply: Reply,
        /// The refused recipients.
        refused: Vec<RefusedRcpt>,
    },
    /// 4xx, or any protocol problem (synthesised `451 4.5.0`/`421 4.4.2`
    /// reply): the upstream must be answered with 4xx.
    TempFailed {
        /// Where it failed.
        stage: Stage,
        /// The downstream's reply or a synthesised one.
        reply: Reply,
    },
    /// 5xx from the downstream for the envelope or the message.
    Rejected {
        /// Where it failed.
        stage: Stage,
        /// The downstream's reply.
        reply: Reply,
    },
}

impl Outcome {
    /// True for `Delivered` and `PartiallyAccepted`.
    pub fn is_delivered(&self) -> bool {
        matches!(
            self,
            Outcome::Delivered { .. } | Outcome::PartiallyAccepted { .. }
        )
    }
}

/// What the adapter has to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// Write these bytes to the server.
    Send(Vec<u8>),
    /// Idle: call [`Client::send`] or [`Client::quit`].
    Ready,
    /// The transaction given to [`Client::send`] is finished.
    Done(Outcome),
    /// Close the connection. `None` after a normal `QUIT`, else the reply
    /// (received or synthesised) that ended the session.
    Closed(Option<Reply>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Greeting,
    Ehlo,
    Helo,
    Xforward,
    Mail,
    Rcpt(usize),
    Data,
    Dot,
    Rset,
    Quit,
}

impl Expect {
    fn stage(self) -> Stage {
        match self {
            Expect::Greeting => Stage::Greeting,
            Expect::Ehlo | Expect::Helo => Stage::Ehlo,
            Expect::Xforward => Stage::Xforward,
            Expect::Mail => Stage::Mail,
            Expect::Rcpt(_) => Stage::Rcpt,
            Expect::Data => Stage::Data,
            Expect::Dot => Stage::EndOfData,
            Expect::Rset | Expect::Quit => Stage::Connection,
        }
    }
}

#[derive(Debug)]
struct Active {
    tx: Transaction,
    /// Commands not yet written (without pipelining).
    plan: VecDeque<(Expect, Vec<u8>)>,
    accepted: usize,
    refused: Vec<RefusedRcpt>,
    failure: Option<Outcome>,
}

/// The client session (see the module docs).
#[derive(Debug)]
pub struct Client {
    cfg: ClientConfig,
    inbuf: Vec<u8>,
    out: Vec<u8>,
    parser: ReplyParser,
    events: VecDeque<ClientEvent>,
    expect: VecDeque<Expect>,
    caps: Option<Capabilities>,
    active: Option<Active>,
    queued: Option<Transaction>,
    quitting: bool,
    closed: bool,
    input_overflow: bool,
}

impl Client {
    /// A new session, waiting for the server's greeting.
    pub fn new(cfg: ClientConfig) -> Self {
        let parser = ReplyParser::new(cfg.limits.max_reply_lines);
        Client {
            cfg,
            inbuf: Vec::new(),
            out: Vec::new(),
            parser,
            events: VecDeque::new(),
            expect: VecDeque::from([Expect::Greeting]),
            caps: None,
            active: None,
            queued: None,
            quitting: false,
            closed: false,
            input_overflow: false,
        }
    }

    /// What the server announced, once `EHLO`/`HELO` succeeded.
    pub fn capabilities(&self) -> Option<&Capabilities> {
        self.caps.as_ref()
    }

    /// True once the session is over.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Buffers bytes read from the server; call [`Client::next_event`]
    /// until `None` afterwards.
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.closed || self.input_overflow {
            return;
        }
        let room = self
            .cfg
            .limits
            .max_buffered_input
            .saturating_sub(self.inbuf.len());
        if bytes.len() > room {
            self.input_overflow = true;
        }
        self.inbuf
            .extend_from_slice(bytes.get(..room.min(bytes.len())).unwrap_or(&[]));
    }

    /// Starts (or queues until the session is ready) one transaction. Its
    /// result arrives as [`ClientEvent::Done`].
    pub fn send(&mut self, tx: Transaction) -> Result<(), Error> {
        if self.closed || self.quitting {
            return Err(Error::Closed);
        }
        if self.active.is_some() || self.queued.is_some() {
            return Err(Error::Busy);
        }
        if tx.rcpts.is_empty() {
            return Err(Error::NoRecipients);
        }
        self.queued = Some(tx);
        self.try_start();
        Ok(())
    }

    /// Ends the session with `QUIT` once the current transaction (if any)
    /// is finished.
    pub fn quit(&mut self) {
        if self.closed || self.quitting {
            return;
        }
        self.quitting = true;
        if self.is_idle() && self.queued.is_none() {
            self.write_command(Expect::Quit, b"QUIT\r\n".to_vec());
        }
    }

    /// The connection was lost (EOF, I/O error or timeout): reports the
    /// transaction in progress as [`Outcome::TempFailed`] and closes.
    pub fn connection_closed(&mut self) {
        if self.closed {
            return;
        }
        if self.expect.front() == Some(&Expect::Quit) {
            self.closed = true;
            self.emit(ClientEvent::Closed(None));
            return;
        }
        let stage = self.expect.front().map_or(Stage::Connection, |e| e.stage());
        self.fatal(
            stage,
            Reply::new(
                421,
                Some((4, 4, 2)),
                "Lost connection with the re-injection server",
            ),
        );
    }

    /// Processes buffered replies and returns the next thing to do, `None`
    /// when more input is needed.
    pub fn next_event(&mut self) -> Option<ClientEvent> {
        loop {
            if let Some(ev) = self.events.pop_front() {
                return Some(ev);
            }
            if self.closed {
                break;
            }
            match self.next_line() {
                Ok(None) => {
                    if self.input_overflow {
                        self.protocol_error("too much input from the server");
                        continue;
                    }
                    break;
                }
                Ok(Some(line)) => match self.parser.push_line(&line) {
                    Ok(Some(reply)) => self.handle_reply(reply),
                    Ok(None) => {}
                    Err(e) => self.protocol_error(&e.to_string()),
                },
                Err(()) => self.protocol_error("reply line too long"),
            }
        }
        if !self.out.is_empty() {
            return Some(ClientEvent::Send(std::mem::take(&mut self.out)));
        }
        None
    }

    fn next_line(&mut self) -> Result<Option<Vec<u8>>, ()> {
        let max = self.cfg.limits.max_reply_line;
        match self.inbuf.iter().position(|&b| b == b'\n') {
            Some(i) if i < max => Ok(Some(self.inbuf.drain(..=i).collect())),
            Some(_) => Err(()),
            None if self.inbuf.len() >= max => Err(()),
            None => Ok(None),
        }
    }

    fn emit(&mut self, ev: ClientEvent) {
        if !self.out.is_empty() {
            self.events
                .push_back(ClientEvent::Send(std::mem::take(&mut self.out)));
        }
        self.events.push_back(ev);
    }

    fn write_command(&mut self, expect: Expect, bytes: Vec<u8>) {
        self.out.extend_from_slice(&bytes);
        self.expect.push_back(expect);
    }

    fn is_idle(&self) -> bool {
        !self.closed && self.caps.is_some() && self.expect.is_empty() && self.active.is_none()
    }

    fn protocol_error(&mut self, what: &str) {
        let stage = self.expect.front().map_or(Stage::Connection, |e| e.stage());
        let reply = Reply::new(
            451,
            Some((4, 5, 0)),
            format!("Re-injection protocol error: {what}"),
        );
        self.fatal(stage, reply);
    }

    /// Ends the session: the transaction in progress (or queued) fails
    /// temporarily with `reply`, then `Closed`.
    fn fatal(&mut self, stage: Stage, reply: Reply) {
        if self.active.take().is_some() || self.queued.take().is_some() {
            self.emit(ClientEvent::Done(Outcome::TempFailed {
                stage,
                reply: reply.clone(),
            }));
        }
        self.closed = true;
        self.expect.clear();
        self.inbuf = Vec::new();
        self.emit(ClientEvent::Closed(Some(reply)));
    }

    /// The session is usable again after `EHLO`, a delivery or `RSET`.
    fn became_idle(&mut self) {
        if self.queued.is_some() {
            // A transaction submitted before `quit` still runs first.
            self.try_start();
        } else if self.quitting {
            self.write_command(Expect::Quit, b"QUIT\r\n".to_vec());
        } else {
            self.emit(ClientEvent::Ready);
        }
    }

    fn try_start(&mut self) {
        if !self.is_idle() {
            return;
        }
        let (Some(tx), Some(caps)) = (self.queued.take(), self.caps.clone()) else {
            return;
        };
        if tx.needs_smtputf8() && !caps.extensions.smtputf8 {
            let reply = Reply::new(
                451,
                Some((4, 6, 7)),
                "Re-injection server does not support SMTPUTF8",
            );
            self.emit(ClientEvent::Done(Outcome::TempFailed {
                stage: Stage::Mail,
                reply,
            }));
            self.became_idle();
            return;
        }
        let mut cmds: VecDeque<(Expect, Vec<u8>)> = VecDeque::new();
        for line in xforward_lines(
            &tx,
            &caps.extensions.xforward,
            self.cfg.limits.max_xforward_line,
        ) {
            cmds.push_back((Expect::Xforward, line.into_bytes()));
        }
        let ext = &caps.extensions;
        let mail_params = tx
            .mail_from
            .params
            .iter()
            .filter(|p| mail_param_allowed(p, ext));
        cmds.push_back((
            Expect::Mail,
            command_with_params("MAIL FROM:", &tx.mail_from.address.to_path(), mail_params),
        ));
        for (i, r) in tx.rcpts.iter().enumerate() {
            let params = r.params.iter().filter(|p| rcpt_param_allowed(p, ext));
            cmds.push_back((
                Expect::Rcpt(i),
                command_with_params("RCPT TO:", &r.address.to_path(), params),
            ));
        }
        cmds.push_back((Expect::Data, b"DATA\r\n".to_vec()));
        let pipelining = self.cfg.pipelining && caps.extensions.pipelining;
        if pipelining {
            for (e, bytes) in cmds.drain(..) {
                self.write_command(e, bytes);
            }
        } else if let Some((e, bytes)) = cmds.pop_front() {
            self.write_command(e, bytes);
        }
        self.active = Some(Active {
            tx,
            plan: cmds,
            accepted: 0,
            refused: Vec::new(),
            failure: None,
        });
    }

    fn handle_reply(&mut self, reply: Reply) {
        let Some(expect) = self.expect.pop_front() else {
            // Unsolicited: typically a 421 on an idle connection.
            let stage = Stage::Connection;
            if reply.code == 421 {
                return self.fatal(stage, reply);
            }
            return self.protocol_error("unexpected reply");
        };
        if reply.code == 421 && expect != Expect::Quit {
            return self.fatal(expect.stage(), reply);
        }
        match expect {
            Expect::Greeting => {
                if reply.code == 220 {
                    let cmd = format!("EHLO {}\r\n", self.cfg.ehlo_name);
                    self.write_command(Expect::Ehlo, cmd.into_bytes());
                } else {
                    self.fatal(Stage::Greeting, reply);
                }
            }
            Expect::Ehlo => {
                if reply.is_positive() {
                    let (extensions, size_limit) = Extensions::from_ehlo(&reply);
                    self.caps = Some(Capabilities {
                        esmtp: true,
                        extensions,
                        size_limit,
                    });
                    self.became_idle();
                } else if reply.is_permanent() {
                    let cmd = format!("HELO {}\r\n", self.cfg.ehlo_name);
                    self.write_command(Expect::Helo, cmd.into_bytes());
                } else {
                    self.fatal(Stage::Ehlo, reply);
                }
            }
            Expect::Helo => {
                if reply.is_positive() {
                    self.caps = Some(Capabilities {
                        esmtp: false,
                        extensions: Extensions::none(),
                        size_limit: None,
                    });
                    self.became_idle();
                } else {
                    self.fatal(Stage::Ehlo, reply);
                }
            }
            Expect::Xforward | Expect::Mail | Expect::Rcpt(_) => {
                let Some(active) = self.active.as_mut() else {
                    return self.protocol_error("reply without a transaction");
                };
                match expect {
                    Expect::Rcpt(_) if reply.is_positive() => active.accepted += 1,
                    Expect::Rcpt(index) => active.refused.push(RefusedRcpt { index, reply }),
                    _ if reply.is_positive() => {}
                    // XFORWARD refused is our configuration problem, never
                    // a verdict on the mail: always temporary.
                    Expect::Xforward => set_failure(
                        active,
                        Outcome::TempFailed {
                            stage: Stage::Xforward,
                            reply,
                        },
                    ),
                    _ => set_failure(active, classify(Stage::Mail, reply)),
                }
                self.advance();
            }
            Expect::Data => self.data_reply(reply),
            Expect::Dot => {
                let Some(active) = self.active.take() else {
                    return self.protocol_error("reply without a transaction");
                };
                let outcome = if reply.is_positive() {
                    if active.refused.is_empty() {
                        Outcome::Delivered { reply }
                    } else {
                        Outcome::PartiallyAccepted {
                            reply,
                            refused: active.refused,
                        }
                    }
                } else {
                    classify(Stage::EndOfData, reply)
                };
                self.emit(ClientEvent::Done(outcome));
                self.became_idle();
            }
            Expect::Rset => {
                if reply.is_positive() {
                    self.became_idle();
                } else {
                    self.fatal(Stage::Connection, reply);
                }
            }
            Expect::Quit => {
                self.closed = true;
                self.emit(ClientEvent::Closed(None));
            }
        }
    }

    /// Without pipelining, writes the next planned command (or gives up).
    fn advance(&mut self) {
        let Some(active) = self.active.as_mut() else {
            return;
        };
        if !self.expect.is_empty() {
            return; // pipelined: more replies are on their way
        }
        let next = if active.failure.is_some() {
            None
        } else {
            match active.plan.pop_front() {
                Some((Expect::Data, _)) if active.accepted == 0 => None,
                other => other,
            }
        };
        match next {
            Some((e, bytes)) => self.write_command(e, bytes),
            None => self.finish_failed(),
        }
    }

    fn data_reply(&mut self, reply: Reply) {
        let Some(mut active) = self.active.take() else {
            return self.protocol_error("reply without a transaction");
        };
        if reply.code == 354 {
            if active.failure.is_none() && active.accepted > 0 {
                encode_data(&active.tx.data, &mut self.out);
                self.expect.push_back(Expect::Dot);
                self.active = Some(active);
                return;
            }
            // DATA accepted although the envelope failed (a pipelining
            // server bug): abort by closing without the dot, so nothing
            // can be delivered.
            let outcome = active
                .failure
                .take()
                .unwrap_or_else(|| all_refused(&active.refused));
            self.emit(ClientEvent::Done(outcome));
            let abort = Reply::new(
                421,
                Some((4, 5, 0)),
                "Aborted: DATA accepted without valid envelope",
            );
            return self.fatal(Stage::Data, abort);
        }
        if active.failure.is_none() {
            let outcome = if active.accepted == 0 {
                all_refused(&active.refused)
            } else {
                classify(Stage::Data, reply)
            };
            active.failure = Some(outcome);
        }
        self.active = Some(active);
        self.finish_failed();
    }

    /// Reports the failed transaction and resets the session with `RSET`.
    fn finish_failed(&mut self) {
        let Some(mut active) = self.active.take() else {
            return;
        };
        let outcome = active
            .failure
            .take()
            .unwrap_or_else(|| all_refused(&active.refused));
        self.emit(ClientEvent::Done(outcome));
        self.write_command(Expect::Rset, b"RSET\r\n".to_vec());
    }
}

fn set_failure(active: &mut Active, outcome: Outcome) {
    if active.failure.is_none() {
        active.failure = Some(outcome);
    }
}

fn classify(stage: Stage, reply: Reply) -> Outcome {
    if reply.is_permanent() {
        Outcome::Rejected { stage, reply }
    } else {
        // 4xx, and also any unexpected code (e.g. 3xx to MAIL): temporary.
        Outcome::TempFailed { stage, reply }
    }
}

/// All recipients refused: temporary if any refusal was.
fn all_refused(refused: &[RefusedRcpt]) -> Outcome {
    let pick = refused
        .iter()
        .find(|r| !r.reply.is_permanent())
        .or_else(|| refused.first());
    match pick {
        Some(r) => classify(Stage::Rcpt, r.reply.clone()),
        None => Outcome::TempFailed {
            stage: Stage::Rcpt,
            reply: Reply::new(451, Some((4, 5, 0)), "No recipient accepted"),
        },
    }
}

fn mail_param_allowed(p: &Param, ext: &Extensions) -> bool {
    match p.keyword.to_ascii_uppercase().as_str() {
        "SIZE" => ext.size,
        "BODY" => ext.eight_bit_mime,
        "SMTPUTF8" => ext.smtputf8,
        "RET" | "ENVID" => ext.dsn,
        _ => false,
    }
}

fn rcpt_param_allowed(p: &Param, ext: &Extensions) -> bool {
    match p.keyword.to_ascii_uppercase().as_str() {
        "NOTIFY" | "ORCPT" => ext.dsn,
        _ => false,
    }
}

fn command_with_params<'a>(
    verb: &str,
    path: &str,
    params: impl Iterator<Item = &'a Param>,
) -> Vec<u8> {
    let mut s = format!("{verb}{path}");
    for p in params {
        s.push(' ');
        s.push_str(&p.to_wire());
    }
    s.push_str("\r\n");
    s.into_bytes()
}

/// XFORWARD command lines for `tx`: only attributes the server announced,
/// xtext-encoded, packed into lines of at most `max_line` bytes (CRLF
/// included). An attribute too long for a line of its own is left out
/// (the downstream then sees it as unavailable). If the transaction has
/// XFORWARD state but no usable value, one `[UNAVAILABLE]` attribute is
/// sent so the downstream still switches to forwarded (not local) identity.
pub fn xforward_lines(
    tx: &Transaction,
    announced: &[XForwardAttr],
    max_line: usize,
) -> Vec<String> {
    let Some(xf) = &tx.xforward else {
        return Vec::new();
    };
    let mut items: Vec<String> = Vec::new();
    for attr in XForwardAttr::ALL {
        if !announced.contains(&attr) {
            continue;
        }
        if let Some(v) = xf.get(attr) {
            let item = format!("{}={}", attr.as_str(), xtext::encode(v.as_bytes()));
            if "XFORWARD ".len() + item.len() + 2 <= max_line {
                items.push(item);
            }
        }
    }
    if items.is_empty() {
        match XForwardAttr::ALL
            .into_iter()
            .find(|a| announced.contains(a))
        {
            Some(a) => items.push(format!("{}=[UNAVAILABLE]", a.as_str())),
            None => return Vec::new(),
        }
    }
    let mut lines = Vec::new();
    let mut line = String::from("XFORWARD");
    for item in items {
        if line.len() > "XFORWARD".len() && line.len() + 1 + item.len() + 2 > max_line {
            line.push_str("\r\n");
            lines.push(std::mem::replace(&mut line, String::from("XFORWARD")));
        }
        line.push(' ');
        line.push_str(&item);
    }
    line.push_str("\r\n");
    lines.push(line);
    lines
}
