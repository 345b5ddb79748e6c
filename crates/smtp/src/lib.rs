//! Sans-I/O SMTP codecs for phishgate's after-queue content filter.
//!
//! Postfix hands each queued message to phishgate over SMTP (`content_filter
//! = scan:[127.0.0.1]:10025`); phishgate scans it and re-injects it over SMTP
//! into a second smtpd (`127.0.0.1:10026`) that does no filtering. This crate
//! is both ends of that hop, without sockets, threads or async:
//!
//! * [`Server`] faces Postfix's `smtp` client (or anyone: input is hostile).
//!   It answers what it can answer alone (EHLO, MAIL, RCPT, RSET, NOOP...)
//!   and hands complete transactions to the adapter as
//!   [`Event::Message`]; the reply to the final dot comes from the adapter
//!   through [`Server::finish_data`].
//! * [`Client`] replays a [`Transaction`] to the downstream smtpd and reports
//!   an [`Outcome`].
//!
//! # Why sans-I/O
//!
//! Both codecs are plain state machines: bytes in with `feed`, actions out
//! with `next_event` (bytes to write, a message, a result, close). That makes
//! every protocol decision testable without a network: the tests feed whole
//! sessions split at every byte boundary and check that the replies and
//! transactions are identical, fuzz the codecs, and run client and server
//! against each other in memory. The tokio adapter only moves bytes, runs
//! timers and calls the scanner.
//!
//! # What the adapter must do
//!
//! 1. Write every [`Event::Send`]/[`ClientEvent::Send`] in order; close on
//!    [`Event::Close`]/[`ClientEvent::Closed`].
//! 2. After each `feed`, call `next_event` until it returns `None`, and read
//!    again only while [`Server::wants_input`] holds (it is false while a
//!    message awaits its result: TCP back-pressure, not buffering).
//! 3. Answer each [`Event::Message`] with [`Server::finish_data`] following
//!    the after-queue rules: `250` only after the downstream accepted the
//!    message (or after a recorded discard/quarantine decision), `4xx` for any
//!    failure ([`Outcome::TempFailed`], timeouts, scanner errors), `5xx` only
//!    for a deliberate verdict or a downstream [`Outcome::Rejected`]. Answer
//!    before Postfix's `smtp_data_done_timeout`.
//! 4. Announce only what the downstream supports: build
//!    [`ServerConfig::extensions`] with [`Extensions::intersect`] from the
//!    [`Capabilities`] of a client session, and lower
//!    [`Limits::max_message_size`] to the downstream's `SIZE`.
//! 5. Run timers: on idle timeout or overload call [`Server::shutdown`]; on
//!    a downstream timeout or EOF call [`Client::connection_closed`].
//! 6. Authorise XFORWARD at the network level: the codec accepts it from
//!    anyone it is announced to, so listen on loopback only (as Postfix's
//!    `smtpd_authorized_xforward_hosts = 127.0.0.0/8` does).
//!
//! # Policies
//!
//! * **DATA end and smuggling**: the message ends only at `CR LF . CR LF`;
//!   bare CR and bare LF are normalised to CRLF inside the data, so `\n.\n`,
//!   `\r\n.\n`, `\n.\r\n`, `\r.\r\n` are content. See the [`data`] module.
//! * **Bounds**: every buffer has a bound from [`Limits`]: an endless command
//!   line costs [`Limits::max_command_line`] bytes and gets `500 5.5.2`; an
//!   oversized message is read to its end without being stored and gets
//!   `552 5.3.4`; `SIZE=` over the limit gets `552 5.3.4` at `MAIL`; recipient
//!   overflow gets `452 4.5.3`; [`Limits::max_errors`] protocol errors end the
//!   session with `421`.
//! * **Parameters** are accepted only for announced extensions (`555 5.5.4`
//!   otherwise), checked, and kept verbatim for replay; the client drops those
//!   the downstream did not announce (see [`client`]).
//! * **UTF-8 addresses** need `SMTPUTF8` on `MAIL` (`553 5.6.7` otherwise).
//! * **XFORWARD**: only after EHLO and outside a transaction; values are
//!   xtext-decoded (raw values accepted, as the Postfix README asks) and
//!   validated; the attributes reset at the end of every transaction (final
//!   dot, RSET, HELO/EHLO).

pub mod address;
pub mod client;
pub mod data;
mod error;
pub mod extensions;
pub mod limits;
pub mod reply;
pub mod server;
pub mod transaction;
pub mod xforward;
pub mod xtext;

pub use address::Address;
pub use client::{Capabilities, Client, ClientConfig, ClientEvent, Outcome, RefusedRcpt, Stage};
pub use data::encode_data;
pub use error::Error;
pub use extensions::Extensions;
pub use limits::Limits;
pub use reply::{EnhancedCode, Reply, ReplyError, ReplyParser};
pub use server::{Event, Server, ServerConfig, Shutdown};
pub use transaction::{EnvelopeAddress, Param, Transaction};
pub use xforward::{XForward, XForwardAttr};
