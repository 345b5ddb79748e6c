//! The filter-side state machine: [`Session`] turns decoded [`Command`]s
//! into [`Step`]s and assembles the [`Message`].

use crate::command::Command;
use crate::consts::*;
use crate::message::{Address, Connection, Envelope, Header, Macros, Message};
use crate::negotiate::{negotiate, NegotiateError, Negotiated, Wanted};
use crate::response::{finish, FinishError, Response};

/// Memory bounds of one session. Past a bound the session keeps counting
/// but stops storing, and sets the matching `*_truncated` flag on the
/// [`Message`]; it never refuses mail because of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Body bytes stored per message (default 16 MiB).
    pub max_body_bytes: usize,
    /// Headers stored per message (default 1000).
    pub max_headers: usize,
    /// Header name + value bytes stored per message (default 1 MiB).
    pub max_header_bytes: usize,
    /// Recipients stored per message (default 1000, Postfix's
    /// `smtpd_recipient_limit`).
    pub max_recipients: usize,
    /// Bytes of stored recipient addresses and arguments (default 1 MiB).
    pub max_envelope_bytes: usize,
    /// Macro name + value bytes stored per stage (default 64 KiB).
    pub max_macro_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 16 * 1024 * 1024,
            max_headers: 1000,
            max_header_bytes: 1024 * 1024,
            max_recipients: 1000,
            max_envelope_bytes: 1024 * 1024,
            max_macro_bytes: 64 * 1024,
        }
    }
}

/// What the adapter does after [`Session::handle`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Write this response. For the `O` command it is the negotiation
    /// answer; for `C H M R T L N B U` it is [`Response::Continue`], which
    /// the adapter may replace by another *final* reply (for example a
    /// reject at RCPT).
    Reply(Response),
    /// Write nothing: `D`, `A`, or a command covered by a negotiated NR_*
    /// bit. Any reply here would desynchronise the MTA.
    NoReply,
    /// `E`: analyse the message, then answer with edits and exactly one
    /// final reply through [`Session::finish`]. Progress (`p`) may be sent
    /// meanwhile with `encode_response(&Response::Progress, ..)`.
    EndOfMessage(Box<Message>),
    /// `Q`: close the socket. (EOF means the same; see [`Session`].)
    Close,
    /// `K`: the MTA keeps the socket and starts a new connection with `C`;
    /// connection state has been reset, the negotiation kept.
    NewConnection,
}

/// A protocol violation at the session level. The adapter should close
/// the connection (the MTA applies `milter_default_action`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// A command other than `O` before negotiation.
    #[error("command {0:?} before option negotiation")]
    NotNegotiated(char),
    /// A second `O` on one connection.
    #[error("second option negotiation on one connection")]
    AlreadyNegotiated,
    /// A command after `Q`.
    #[error("command {0:?} after quit")]
    Closed(char),
    /// The offer was refused.
    #[error(transparent)]
    Negotiate(#[from] NegotiateError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for `O`.
    Start,
    /// Negotiated; commands flow.
    Open,
    /// After `K`: a new `C` (or, leniently, a new `O`) follows.
    Reconnected,
    /// After `Q`.
    Closed,
}

/// Per-message state, reset by `A`, `M`, `C`, `K` and handed over at `E`.
#[derive(Debug, Default)]
struct MessageState {
    sender: Option<Address>,
    recipients: Vec<Address>,
    recipient_count: usize,
    envelope_bytes: usize,
    recipients_truncated: bool,
    headers: Vec<Header>,
    header_bytes: usize,
    header_size: u64,
    headers_truncated: bool,
    body: Vec<u8>,
    body_size: u64,
    truncated: bool,
}

/// Filter side of one milter connection.
///
/// Feed it every command the [`Decoder`](crate::Decoder) yields, in order;
/// do what each [`Step`] says. The session owns the negotiation result,
/// the per-stage macros (libmilter's scope rule: a command at stage k
/// clears the later stages; `A` clears from MAIL on, so connect and HELO
/// macros survive), the connection facts, and the current message,
/// bounded by [`Limits`]. Ordering is lenient (MTAs skip events the filter
/// switched off, Postfix sends `D` for events it then does not send), with
/// three hard rules: `O` first, `O` once, nothing after `Q`.
///
/// EOF from the socket ends the session like `Q`; call
/// [`Decoder::finish`](crate::Decoder::finish) to learn whether it cut a
/// frame.
#[derive(Debug)]
pub struct Session {
    wanted: Wanted,
    limits: Limits,
    negotiated: Option<Negotiated>,
    state: State,
    connection: Connection,
    macros: Macros,
    macros_truncated: bool,
    msg: MessageState,
}

impl Session {
    /// A session that will answer `O` from `wanted`, bounded by `limits`.
    pub fn new(wanted: Wanted, limits: Limits) -> Self {
        Self {
            wanted,
            limits,
            negotiated: None,
            state: State::Start,
            connection: Connection::default(),
            macros: Macros::default(),
            macros_truncated: false,
            msg: MessageState::default(),
        }
    }

    /// The negotiation result, once `O` was answered.
    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.negotiated.as_ref()
    }

    /// Connection facts so far.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// Macro maps so far.
    pub fn macros(&self) -> &Macros {
        &self.macros
    }

    /// The bounds.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// True after `Q`.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Advance by one command.
    pub fn handle(&mut self, cmd: Command) -> Result<Step, SessionError> {
        let code = cmd.code();
        match self.state {
            State::Closed => return Err(SessionError::Closed(char::from(code))),
            State::Start if code != SMFIC_OPTNEG => {
                return Err(SessionError::NotNegotiated(char::from(code)))
            }
            State::Open if code == SMFIC_OPTNEG => return Err(SessionError::AlreadyNegotiated),
            _ => {}
        }
        // The scope rule: a command at stage k clears the macros of later
        // stages (D and the non-stage commands leave them alone).
        if !matches!(
            cmd,
            Command::Macro { .. }
                | Command::OptNeg { .. }
                | Command::Abort
                | Command::Quit
                | Command::QuitNewConnection
        ) {
            self.macros.clear_after(code);
        }
        let step = match cmd {
            Command::OptNeg {
                version,
                actions,
                protocol,
            } => {
                let (resp, n) = negotiate(version, actions, protocol, &self.wanted)?;
                self.negotiated = Some(n);
                self.state = State::Open;
                return Ok(Step::Reply(resp));
            }
            Command::Macro { stage, pairs } => {
                if self.macros.set(stage, pairs, self.limits.max_macro_bytes) {
                    self.macros_truncated = true;
                }
                Step::NoReply
            }
            Command::Connect {
                hostname,
                family,
                port,
                address,
            } => {
                self.msg = MessageState::default();
                self.connection = Connection {
                    hostname,
                    family,
                    port,
                    address,
                    helo: None,
                };
                self.ack(code)
            }
            Command::Helo(h) => {
                self.connection.helo = Some(h);
                self.ack(code)
            }
            Command::Mail { sender, args } => {
                self.msg = MessageState::default();
                self.msg.sender = Some(Address::new(sender, args));
                self.ack(code)
            }
            Command::Rcpt { recipient, args } => {
                self.add_rcpt(Address::new(recipient, args));
                self.ack(code)
            }
            Command::Header { name, value } => {
                self.add_header(Header { name, value });
                self.ack(code)
            }
            Command::Body(chunk) => {
                self.add_body(&chunk);
                self.ack(code)
            }
            Command::EndOfMessage(chunk) => {
                self.add_body(&chunk);
                Step::EndOfMessage(Box::new(self.take_message()))
            }
            Command::Data | Command::EndOfHeaders | Command::Unknown(_) => self.ack(code),
            Command::Abort => {
                // Idempotent: Postfix sends A after every message and again
                // before Q, also when nothing is in progress.
                self.msg = MessageState::default();
                self.macros.clear_from(SMFIC_MAIL);
                Step::NoReply
            }
            Command::Quit => {
                self.state = State::Closed;
                self.msg = MessageState::default();
                Step::Close
            }
            Command::QuitNewConnection => {
                self.state = State::Reconnected;
                self.msg = MessageState::default();
                self.connection = Connection::default();
                self.macros = Macros::default();
                self.macros_truncated = false;
                Step::NewConnection
            }
        };
        if self.state == State::Reconnected {
            self.state = State::Open;
        }
        Ok(step)
    }

    /// Write the end-of-message answer; see [`crate::finish`]. Uses the
    /// negotiated actions and HDR_LEADSPC.
    pub fn finish(
        &self,
        edits: &[Response],
        final_reply: &Response,
        out: &mut Vec<u8>,
    ) -> Result<(), FinishError> {
        finish(
            &self.negotiated.unwrap_or_default(),
            edits,
            final_reply,
            out,
        )
    }

    fn ack(&self, code: u8) -> Step {
        if self.negotiated.is_some_and(|n| n.no_reply(code)) {
            Step::NoReply
        } else {
            Step::Reply(Response::Continue)
        }
    }

    fn add_rcpt(&mut self, a: Address) {
        let m = &mut self.msg;
        m.recipient_count += 1;
        let bytes = a.raw.len() + a.args.iter().map(String::len).sum::<usize>();
        let fits = m.recipients.len() < self.limits.max_recipients
            && m.envelope_bytes.saturating_add(bytes) <= self.limits.max_envelope_bytes;
        if fits {
            m.envelope_bytes += bytes;
            m.recipients.push(a);
        } else {
            m.recipients_truncated = true;
        }
    }

    fn add_header(&mut self, h: Header) {
        let leadspc = self.negotiated.is_some_and(|n| n.leading_space());
        let m = &mut self.msg;
        m.header_size = m.header_size.saturating_add(h.line_len(leadspc));
        let bytes = h.name.len() + h.value.len();
        let fits = m.headers.len() < self.limits.max_headers
            && m.header_bytes.saturating_add(bytes) <= self.limits.max_header_bytes;
        if fits {
            m.header_bytes += bytes;
            m.headers.push(h);
        } else {
            m.headers_truncated = true;
        }
    }

    fn add_body(&mut self, chunk: &[u8]) {
        let m = &mut self.msg;
        m.body_size = m
            .body_size
            .saturating_add(u64::try_from(chunk.len()).unwrap_or(u64::MAX));
        let room = self.limits.max_body_bytes.saturating_sub(m.body.len());
        if chunk.len() > room {
            m.truncated = true;
        }
        m.body
            .extend_from_slice(chunk.get(..room.min(chunk.len())).unwrap_or_default());
    }

    /// Hand the message over (moving the body, not copying it). The
    /// per-message state is empty afterwards; Postfix sends `A` next anyway.
    fn take_message(&mut self) -> Message {
        let m = std::mem::take(&mut self.msg);
        Message {
            connection: self.connection.clone(),
            envelope: Envelope {
                sender: m.sender,
                recipients: m.recipients,
                recipient_count: m.recipient_count,
            },
            macros: self.macros.clone(),
            headers: m.headers,
            body: m.body,
            truncated: m.truncated,
            headers_truncated: m.headers_truncated,
            recipients_truncated: m.recipients_truncated,
            macros_truncated: self.macros_truncated,
            body_size: m.body_size,
            header_size: m.header_size,
            leading_space: self.negotiated.is_some_and(|n| n.leading_space()),
        }
    }
}
