//! Server codec: one SMTP session facing Postfix's `smtp` client (or any
//! client; input is treated as hostile).
//!
//! # Driving it
//!
//! ```text
//! let mut s = Server::new(config);            // greeting is already queued
//! loop {
//!     while let Some(ev) = s.next_event() {
//!         match ev {
//!             Event::Send(bytes) => write_all(bytes),
//!             Event::Message(tx) => {           // input is now paused
//!                 let reply = scan_and_reinject(tx);   // 250 only after downstream 250
//!                 s.finish_data(reply)?;        // resumes; loop on next_event
//!             }
//!             Event::Close => return close(),   // after writing pending Sends
//!         }
//!     }
//!     if s.wants_input() { s.feed(read(64 KiB)) } // else wait for finish_data
//! }
//! ```
//!
//! `finish_data` may also be called later (the adapter can keep the socket
//! idle while the downstream works); until then [`Server::wants_input`] is
//! false and nothing buffered is processed, so pipelined commands after the
//! final dot are answered only after the message's reply, in order.
//! On a timeout or overload the adapter calls [`Server::shutdown`], writes
//! the `421` and closes.

use crate::address::parse_path;
use crate::data::{DataReceiver, DataStatus};
use crate::limits::OUTPUT_HIGH_WATER;
use crate::transaction::{EnvelopeAddress, Param, Transaction};
use crate::xforward::{XForward, XForwardAttr};
use crate::{xtext, Error, Extensions, Limits, Reply};

/// Server configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Our host name, used in the greeting, the EHLO reply and `421`/`221`.
    pub hostname: String,
    /// Bounds.
    pub limits: Limits,
    /// What EHLO announces (and hence which parameters `MAIL`/`RCPT`
    /// accept). Restrict it to what the re-injection server supports.
    pub extensions: Extensions,
}

impl ServerConfig {
    /// Default limits, every extension announced.
    pub fn new(hostname: impl Into<String>) -> Self {
        ServerConfig {
            hostname: hostname.into(),
            limits: Limits::default(),
            extensions: Extensions::all(),
        }
    }
}

/// What the adapter has to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Write these bytes to the client (one or more replies, in order).
    Send(Vec<u8>),
    /// The final dot of a transaction arrived. Input is paused until
    /// [`Server::finish_data`] gives the reply to the dot.
    Message(Box<Transaction>),
    /// The session is over (after `QUIT`, `421`, or too many errors):
    /// write any bytes already returned, then close the connection.
    Close,
}

/// Why the adapter ends a session with `421`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shutdown {
    /// The client was idle too long (`421 4.4.2`).
    Timeout,
    /// Too many sessions or scanner overloaded (`421 4.3.2`).
    Overloaded,
    /// The daemon is stopping (`421 4.3.2`).
    Stopping,
}

#[derive(Debug)]
enum State {
    Command,
    Data(DataReceiver),
    /// A [`Event::Message`] was handed out; waiting for `finish_data`.
    AwaitingResult,
    Closed,
}

/// Envelope of the transaction in progress.
#[derive(Debug)]
struct TxState {
    mail_from: EnvelopeAddress,
    rcpts: Vec<EnvelopeAddress>,
    rcpt_attempts: usize,
    smtputf8: bool,
}

/// The server session (see the module docs).
#[derive(Debug)]
pub struct Server {
    cfg: ServerConfig,
    state: State,
    inbuf: Vec<u8>,
    out: Vec<u8>,
    /// `Message` or `Close` waiting behind `out`.
    pending: Option<Event>,
    helo: Option<String>,
    esmtp: bool,
    xforward: Option<XForward>,
    tx: Option<TxState>,
    errors: usize,
    /// Discarding the rest of an overlong command line.
    discarding: bool,
    /// Input was dropped because `max_buffered_input` was reached.
    input_overflow: bool,
}

type Enh = Option<(u8, u16, u16)>;

const OK: Enh = Some((2, 0, 0));
const SYNTAX: Enh = Some((5, 5, 4));
const BAD_SEQUENCE: Enh = Some((5, 5, 1));

impl Server {
    /// A new session; the `220` greeting is the first [`Event::Send`].
    pub fn new(cfg: ServerConfig) -> Self {
        let mut s = Server {
            cfg,
            state: State::Command,
            inbuf: Vec::new(),
            out: Vec::new(),
            pending: None,
            helo: None,
            esmtp: false,
            xforward: None,
            tx: None,
            errors: 0,
            discarding: false,
            input_overflow: false,
        };
        let greeting = format!("{} ESMTP phishgate", s.cfg.hostname);
        Reply::new(220, None, greeting).encode_into(false, &mut s.out);
        s
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.cfg
    }

    /// Buffers bytes read from the client. Call [`Server::next_event`]
    /// until it returns `None` after every feed. Bytes fed after the
    /// session closed are ignored; bytes beyond
    /// [`Limits::max_buffered_input`] are dropped and end the session with
    /// `421` (only an adapter ignoring [`Server::wants_input`] gets there).
    pub fn feed(&mut self, bytes: &[u8]) {
        if matches!(self.state, State::Closed) || self.input_overflow {
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

    /// False while a message awaits [`Server::finish_data`] and after the
    /// session closed: the adapter should stop reading (TCP back-pressure).
    pub fn wants_input(&self) -> bool {
        matches!(self.state, State::Command | State::Data(_)) && self.pending.is_none()
    }

    /// True once the session is over.
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed) && self.pending.is_none() && self.out.is_empty()
    }

    /// Bytes held by the codec (input, output, message so far), for
    /// metrics and for tests of the memory bounds.
    pub fn buffered_bytes(&self) -> usize {
        let data = match &self.state {
            State::Data(r) => r.stored(),
            _ => 0,
        };
        self.inbuf.len() + self.out.len() + data
    }

    /// Processes buffered input and returns the next thing to do, `None`
    /// when more input (or `finish_data`) is needed.
    pub fn next_event(&mut self) -> Option<Event> {
        if self.pending.is_none() {
            self.process();
        }
        if !self.out.is_empty() {
            return Some(Event::Send(std::mem::take(&mut self.out)));
        }
        self.pending.take()
    }

    /// Answers the final dot of the message handed out by
    /// [`Event::Message`]: `250` once the downstream accepted it (or it was
    /// deliberately discarded/quarantined), `4xx` on any failure, `5xx` only
    /// for a deliberate content verdict. Ends the transaction (XFORWARD
    /// attributes reset) and resumes input processing. A `421` also closes
    /// the session.
    pub fn finish_data(&mut self, reply: Reply) -> Result<(), Error> {
        if !matches!(self.state, State::AwaitingResult) {
            return Err(Error::NoPendingMessage);
        }
        reply.validate_final()?;
        self.write_reply(&reply);
        self.state = State::Command;
        self.reset_transaction();
        if reply.code == 421 {
            self.close();
        }
        Ok(())
    }

    /// Queues a `421` for `reason` and closes the session: any message
    /// awaiting its result is dropped (the `421` answers its dot, so the
    /// upstream keeps it queued) and buffered input is discarded.
    pub fn shutdown(&mut self, reason: Shutdown) {
        if matches!(self.state, State::Closed) {
            return;
        }
        let (enh, text) = match reason {
            Shutdown::Timeout => ((4, 4, 2), "Error: timeout exceeded"),
            Shutdown::Overloaded => ((4, 3, 2), "Error: too many connections, try again later"),
            Shutdown::Stopping => ((4, 3, 2), "Service shutting down"),
        };
        let text = format!("{} {}", self.cfg.hostname, text);
        self.write(421, Some(enh), &text);
        self.close();
    }

    fn close(&mut self) {
        self.state = State::Closed;
        self.inbuf = Vec::new();
        self.tx = None;
        self.pending = Some(Event::Close);
    }

    fn process(&mut self) {
        while self.pending.is_none() && self.out.len() < OUTPUT_HIGH_WATER {
            let progressed = match self.state {
                State::Command => self.step_command(),
                State::Data(_) => self.step_data(),
                State::AwaitingResult | State::Closed => false,
            };
            if !progressed {
                break;
            }
        }
        if self.input_overflow
            && self.inbuf.is_empty()
            && matches!(self.state, State::Command | State::Data(_))
        {
            let text = format!("{} Error: too much pipelined input", self.cfg.hostname);
            self.write(421, Some((4, 7, 0)), &text);
            self.close();
        }
    }

    /// Handles at most one command line; false if a full line is missing.
    fn step_command(&mut self) -> bool {
        let max = self.cfg.limits.max_command_line;
        let newline = self.inbuf.iter().position(|&b| b == b'\n');
        if self.discarding {
            match newline {
                Some(i) => {
                    self.inbuf.drain(..=i);
                    self.discarding = false;
                    return true;
                }
                None => {
                    self.inbuf.clear();
                    return false;
                }
            }
        }
        let Some(i) = newline else {
            if self.inbuf.len() >= max {
                // Answer now and drop the partial line: memory stays bounded
                // however long the line turns out to be.
                self.inbuf.clear();
                self.discarding = true;
                self.error(500, Some((5, 5, 2)), "Error: line too long");
                return true;
            }
            return false;
        };
        let line: Vec<u8> = self.inbuf.drain(..=i).collect();
        if line.len() > max {
            self.error(500, Some((5, 5, 2)), "Error: line too long");
            return true;
        }
        let line = line.strip_suffix(b"\n").unwrap_or(&line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        self.command(line);
        true
    }

    fn step_data(&mut self) -> bool {
        let State::Data(receiver) = &mut self.state else {
            return false;
        };
        if self.inbuf.is_empty() {
            return false;
        }
        match receiver.feed(&self.inbuf) {
            DataStatus::NeedMore => {
                self.inbuf.clear();
                false
            }
            DataStatus::Ended { consumed } => {
                self.inbuf.drain(..consumed.min(self.inbuf.len()));
                let State::Data(receiver) = std::mem::replace(&mut self.state, State::Command)
                else {
                    return false;
                };
                if receiver.overflowed() {
                    self.write(552, Some((5, 3, 4)), "Error: message file too big");
                    self.reset_transaction();
                    return true;
                }
                match self.tx.take() {
                    Some(tx) => {
                        let t = Transaction {
                            helo: self.helo.clone(),
                            xforward: self.xforward.take(),
                            mail_from: tx.mail_from,
                            rcpts: tx.rcpts,
                            data: receiver.into_data(),
                        };
                        self.state = State::AwaitingResult;
                        self.pending = Some(Event::Message(Box::new(t)));
                    }
                    None => {
                        // Unreachable by construction (DATA needs a
                        // transaction); answer rather than panic.
                        self.write(451, Some((4, 3, 0)), "Error: internal state");
                    }
                }
                true
            }
        }
    }

    fn write(&mut self, code: u16, enhanced: Enh, text: &str) {
        let reply = Reply::new(code, enhanced, text);
        self.write_reply(&reply);
    }

    fn write_reply(&mut self, reply: &Reply) {
        reply.encode_into(self.cfg.extensions.enhanced_status_codes, &mut self.out);
    }

    /// A protocol-error reply, counted towards `max_errors`.
    fn error(&mut self, code: u16, enhanced: Enh, text: &str) {
        self.write(code, enhanced, text);
        self.errors += 1;
        if self.errors >= self.cfg.limits.max_errors {
            let text = format!("{} Error: too many errors", self.cfg.hostname);
            self.write(421, Some((4, 7, 0)), &text);
            self.close();
        }
    }

    fn reset_transaction(&mut self) {
        self.tx = None;
        self.xforward = None;
    }

    fn command(&mut self, line: &[u8]) {
        let Ok(line) = std::str::from_utf8(line) else {
            return self.error(500, Some((5, 5, 2)), "Error: bad UTF-8 syntax");
        };
        if line.chars().any(|c| c.is_control() && c != '\t') {
            return self.error(500, Some((5, 5, 2)), "Error: bad character in command");
        }
        let (verb, arg) = match line.split_once(' ') {
            Some((v, a)) => (v, a.trim_matches(|c| c == ' ' || c == '\t')),
            None => (line, ""),
        };
        match verb.to_ascii_uppercase().as_str() {
            "EHLO" => self.helo_cmd(arg, true),
            "HELO" => self.helo_cmd(arg, false),
            "XFORWARD" => self.xforward_cmd(arg),
            "MAIL" => self.mail_cmd(arg),
            "RCPT" => self.rcpt_cmd(arg),
            "DATA" => self.data_cmd(arg),
            "RSET" => {
                if arg.is_empty() {
                    self.reset_transaction();
                    self.write(250, OK, "Ok");
                } else {
                    self.error(501, SYNTAX, "Syntax: RSET");
                }
            }
            "NOOP" => self.write(250, OK, "Ok"),
            "QUIT" => {
                let text = format!("{} closing connection", self.cfg.hostname);
                self.write(221, OK, &text);
                self.close();
            }
            "HELP" => self.write(214, OK, "See RFC 5321"),
            "VRFY" => {
                if arg.is_empty() {
                    self.error(501, SYNTAX, "Syntax: VRFY address");
                } else {
                    self.write(
                        252,
                        Some((2, 0, 0)),
                        "Cannot VRFY user; try RCPT to attempt delivery",
                    );
                }
            }
            "EXPN" | "TURN" | "ETRN" | "AUTH" | "STARTTLS" | "BDAT" | "XCLIENT" | "ATRN"
            | "SEND" | "SOML" | "SAML" => {
                self.error(502, Some((5, 5, 1)), "Error: command not implemented")
            }
            _ => self.error(500, Some((5, 5, 2)), "Error: command not recognized"),
        }
    }

    fn helo_cmd(&mut self, arg: &str, esmtp: bool) {
        let verb = if esmtp { "EHLO" } else { "HELO" };
        if arg.is_empty()
            || arg.len() > self.cfg.limits.max_helo_name
            || arg.contains(char::is_whitespace)
        {
            return self.error(501, SYNTAX, &format!("Syntax: {verb} hostname"));
        }
        // RFC 5321 §4.1.4: HELO/EHLO also resets the transaction.
        self.reset_transaction();
        self.helo = Some(arg.to_owned());
        self.esmtp = esmtp;
        if !esmtp {
            let text = self.cfg.hostname.clone();
            return self.write(250, None, &text);
        }
        let ext = &self.cfg.extensions;
        let mut lines = vec![self.cfg.hostname.clone()];
        if ext.pipelining {
            lines.push("PIPELINING".into());
        }
        if ext.size {
            lines.push(format!("SIZE {}", self.cfg.limits.max_message_size));
        }
        if ext.eight_bit_mime {
            lines.push("8BITMIME".into());
        }
        if ext.smtputf8 {
            lines.push("SMTPUTF8".into());
        }
        if ext.dsn {
            lines.push("DSN".into());
        }
        if ext.enhanced_status_codes {
            lines.push("ENHANCEDSTATUSCODES".into());
        }
        if !ext.xforward.is_empty() {
            let names: Vec<&str> = ext.xforward.iter().map(|a| a.as_str()).collect();
            lines.push(format!("XFORWARD {}", names.join(" ")));
        }
        // EHLO keyword lines never carry enhanced codes.
        Reply::with_lines(250, None, lines).encode_into(false, &mut self.out);
    }

    fn xforward_cmd(&mut self, arg: &str) {
        if self.cfg.extensions.xforward.is_empty() {
            return self.error(502, Some((5, 5, 1)), "Error: command not implemented");
        }
        if !self.esmtp {
            return self.error(503, BAD_SEQUENCE, "Error: send EHLO first");
        }
        if self.tx.is_some() {
            return self.error(
                503,
                BAD_SEQUENCE,
                "Error: XFORWARD not allowed in a mail transaction",
            );
        }
        let mut updates = Vec::new();
        for item in arg.split([' ', '\t']).filter(|s| !s.is_empty()) {
            let Some((name, raw)) = item.split_once('=') else {
                return self.error(501, SYNTAX, "Syntax: XFORWARD attribute=value...");
            };
            let Some(attr) =
                XForwardAttr::parse(name).filter(|a| self.cfg.extensions.xforward.contains(a))
            else {
                return self.error(
                    501,
                    SYNTAX,
                    &format!("Error: unsupported XFORWARD attribute {name}"),
                );
            };
            if raw.eq_ignore_ascii_case("[UNAVAILABLE]") {
                updates.push((attr, None));
                continue;
            }
            // Postfix before 2.3 sent raw values: fall back to the text as-is.
            let value = xtext::decode(raw)
                .ok()
                .and_then(|v| String::from_utf8(v).ok())
                .unwrap_or_else(|| raw.to_owned());
            if !attr.value_is_valid(&value, self.cfg.limits.max_xforward_value) {
                return self.error(
                    501,
                    SYNTAX,
                    &format!("Error: bad XFORWARD {} syntax", attr.as_str()),
                );
            }
            updates.push((attr, Some(value)));
        }
        if updates.is_empty() {
            return self.error(501, SYNTAX, "Syntax: XFORWARD attribute=value...");
        }
        let xf = self.xforward.get_or_insert_with(XForward::default);
        for (attr, value) in updates {
            xf.set(attr, value);
        }
        self.write(250, OK, "Ok");
    }

    fn mail_cmd(&mut self, arg: &str) {
        if self.helo.is_none() {
            return self.error(503, BAD_SEQUENCE, "Error: send HELO/EHLO first");
        }
        if self.tx.is_some() {
            return self.error(503, BAD_SEQUENCE, "Error: nested MAIL command");
        }
        let Some(rest) = strip_prefix_ci(arg, "FROM:") else {
            return self.error(501, SYNTAX, "Syntax: MAIL FROM:<address>");
        };
        let (address, params) = match parse_path(rest.trim_start_matches(' ')) {
            Ok(v) => v,
            Err(_) => return self.error(501, Some((5, 1, 7)), "Error: bad sender address syntax"),
        };
        let params = match self.parse_params(params) {
            Ok(p) => p,
            Err((code, enh, text)) => return self.error(code, enh, text),
        };
        let mut smtputf8 = false;
        for p in &params {
            let v = p.value.as_deref();
            let ok = match p.keyword.to_ascii_uppercase().as_str() {
                "SIZE" if self.cfg.extensions.size => {
                    let Some(n) = v.filter(|v| {
                        !v.is_empty() && v.len() <= 20 && v.bytes().all(|b| b.is_ascii_digit())
                    }) else {
                        return self.error(501, SYNTAX, "Error: bad SIZE parameter");
                    };
                    if n.parse::<u64>()
                        .map_or(true, |n| n > self.cfg.limits.max_message_size as u64)
                    {
                        // Not counted as a protocol error: the client did nothing wrong.
                        return self.write(
                            552,
                            Some((5, 3, 4)),
                            "Error: message size exceeds fixed limit",
                        );
                    }
                    true
                }
                "BODY" if self.cfg.extensions.eight_bit_mime => v.is_some_and(|v| {
                    v.eq_ignore_ascii_case("7BIT") || v.eq_ignore_ascii_case("8BITMIME")
                }),
                "SMTPUTF8" if self.cfg.extensions.smtputf8 => {
                    smtputf8 = true;
                    v.is_none()
                }
                "RET" if self.cfg.extensions.dsn => v.is_some_and(|v| {
                    v.eq_ignore_ascii_case("FULL") || v.eq_ignore_ascii_case("HDRS")
                }),
                "ENVID" if self.cfg.extensions.dsn => {
                    v.is_some_and(|v| v.len() <= 100 && xtext::is_valid(v))
                }
                _ => {
                    return self.error(
                        555,
                        SYNTAX,
                        &format!("Error: unsupported parameter {}", p.keyword),
                    )
                }
            };
            if !ok {
                return self.error(501, SYNTAX, &format!("Error: bad {} parameter", p.keyword));
            }
        }
        if !address.is_ascii() && !smtputf8 {
            return self.write(
                553,
                Some((5, 6, 7)),
                "Error: non-ASCII address requires SMTPUTF8",
            );
        }
        self.tx = Some(TxState {
            mail_from: EnvelopeAddress::new(address, params),
            rcpts: Vec::new(),
            rcpt_attempts: 0,
            smtputf8,
        });
        self.write(250, Some((2, 1, 0)), "Ok");
    }

    fn rcpt_cmd(&mut self, arg: &str) {
        let dsn = self.cfg.extensions.dsn;
        let Some(smtputf8) = self.tx.as_mut().map(|tx| {
            tx.rcpt_attempts += 1;
            tx.smtputf8
        }) else {
            return self.error(503, BAD_SEQUENCE, "Error: need MAIL command");
        };
        let Some(rest) = strip_prefix_ci(arg, "TO:") else {
            return self.error(501, SYNTAX, "Syntax: RCPT TO:<address>");
        };
        let (address, params) = match parse_path(rest.trim_start_matches(' ')) {
            Ok((a, _)) if a.is_null() => {
                return self.error(501, Some((5, 1, 3)), "Error: bad recipient address syntax")
            }
            Ok(v) => v,
            Err(_) => {
                return self.error(501, Some((5, 1, 3)), "Error: bad recipient address syntax")
            }
        };
        let params = match self.parse_params(params) {
            Ok(p) => p,
            Err((code, enh, text)) => return self.error(code, enh, text),
        };
        for p in &params {
            let v = p.value.as_deref();
            let ok = match p.keyword.to_ascii_uppercase().as_str() {
                "NOTIFY" if dsn => v.is_some_and(valid_notify),
                "ORCPT" if dsn => v.is_some_and(|v| {
                    v.len() <= 500
                        && v.split_once(';')
                            .is_some_and(|(t, a)| !t.is_empty() && !a.is_empty())
                }),
                _ => {
                    return self.error(
                        555,
                        SYNTAX,
                        &format!("Error: unsupported parameter {}", p.keyword),
                    )
                }
            };
            if !ok {
                return self.error(501, SYNTAX, &format!("Error: bad {} parameter", p.keyword));
            }
        }
        if !address.is_ascii() && !smtputf8 {
            return self.write(
                553,
                Some((5, 6, 7)),
                "Error: non-ASCII address requires SMTPUTF8",
            );
        }
        let max_rcpts = self.cfg.limits.max_recipients;
        let Some(tx) = self.tx.as_mut() else { return };
        if tx.rcpts.len() >= max_rcpts {
            return self.write(452, Some((4, 5, 3)), "Error: too many recipients");
        }
        tx.rcpts.push(EnvelopeAddress::new(address, params));
        self.write(250, Some((2, 1, 5)), "Ok");
    }

    fn data_cmd(&mut self, arg: &str) {
        if !arg.is_empty() {
            return self.error(501, SYNTAX, "Syntax: DATA");
        }
        match &self.tx {
            None => self.error(503, BAD_SEQUENCE, "Error: need MAIL command"),
            Some(tx) if tx.rcpts.is_empty() && tx.rcpt_attempts > 0 => {
                // RFC 2920: a pipelined DATA after only refused RCPTs.
                self.write(554, Some((5, 5, 1)), "Error: no valid recipients")
            }
            Some(tx) if tx.rcpts.is_empty() => {
                self.error(503, BAD_SEQUENCE, "Error: need RCPT command")
            }
            Some(_) => {
                self.write(354, None, "End data with <CR><LF>.<CR><LF>");
                self.state = State::Data(DataReceiver::new(self.cfg.limits.max_message_size));
            }
        }
    }

    /// Splits `SP keyword[=value]...` after a path. Only ESMTP sessions may
    /// use parameters. UTF-8 values are left to the per-keyword checks.
    fn parse_params(&self, s: &str) -> Result<Vec<Param>, (u16, Enh, &'static str)> {
        if s.is_empty() {
            return Ok(Vec::new());
        }
        if !s.starts_with(' ') {
            return Err((501, SYNTAX, "Error: bad address syntax"));
        }
        let mut params: Vec<Param> = Vec::new();
        for item in s.split(' ').filter(|i| !i.is_empty()) {
            if !self.esmtp {
                return Err((555, SYNTAX, "Error: parameters need EHLO"));
            }
            let (k, v) = match item.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (item, None),
            };
            let key_ok = k.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
                && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
            let value_ok = v.is_none_or(|v| {
                !v.is_empty() && v.chars().all(|c| c > ' ' && c != '=' && c != '\u{7f}')
            });
            if !key_ok || !value_ok {
                return Err((501, SYNTAX, "Error: bad parameter syntax"));
            }
            if params.iter().any(|p| p.is(k)) {
                return Err((501, SYNTAX, "Error: duplicate parameter"));
            }
            params.push(Param::new(k, v));
        }
        Ok(params)
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        s.get(prefix.len()..)
    } else {
        None
    }
}

fn valid_notify(v: &str) -> bool {
    if v.eq_ignore_ascii_case("NEVER") {
        return true;
    }
    let mut seen = Vec::new();
    for item in v.split(',') {
        let item = item.to_ascii_uppercase();
        if !matches!(item.as_str(), "SUCCESS" | "FAILURE" | "DELAY") || seen.contains(&item) {
            return false;
        }
        seen.push(item);
    }
    true
}
