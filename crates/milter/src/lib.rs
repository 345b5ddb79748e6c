//! # phishgate-milter
//!
//! A sans-I/O codec for the Sendmail/Postfix milter protocol, version 6
//! (versions 2-4 are answered too). Bytes in, commands out; responses in,
//! bytes out. No sockets, no tokio, no clock: every rule here is tested by
//! feeding byte strings, split at every byte boundary, and the same code
//! serves the gateway's tokio adapter, the fuzz target and the load
//! generator.
//!
//! ## The adapter loop
//!
//! ```
//! use phishgate_milter::{Decoder, Limits, Response, Session, Step, Wanted, encode_response};
//!
//! # fn analyse(_m: &phishgate_milter::Message) -> (Vec<Response>, Response) { (vec![], Response::Continue) }
//! # fn run(chunks: &[&[u8]]) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
//! let mut decoder = Decoder::new();
//! let mut session = Session::new(Wanted::default(), Limits::default());
//! let mut out = Vec::new(); // bytes to write to the socket
//! for bytes in chunks {            // each socket read
//!     decoder.feed(bytes);
//!     while let Some(cmd) = decoder.next_command()? {   // Err: close
//!         match session.handle(cmd)? {                  // Err: close
//!             Step::Reply(r) => encode_response(&r, &mut out),
//!             Step::NoReply => {}
//!             Step::EndOfMessage(msg) => {
//!                 let (edits, verdict) = analyse(&msg);
//!                 session.finish(&edits, &verdict, &mut out)?;
//!             }
//!             Step::Close => return Ok(out),
//!             Step::NewConnection => {}
//!         }
//!     }
//! }
//! decoder.finish()?; // EOF: Err(Truncated) if it cut a frame
//! # Ok(out) }
//! ```
//!
//! Draining `next_command` until `Ok(None)` before the next read keeps the
//! decoder's buffer to one frame plus one read. Any `Err` (decode or
//! session) means the stream is out of step: close the socket, and the MTA
//! applies its `milter_default_action`.
//!
//! ## Model
//!
//! - [`Decoder`] frames `len:u32be code payload`, refuses `len = 0`,
//!   refuses `len > max_frame` from the 4 length bytes alone (default
//!   [`consts::MAX_FRAME`] = 1 MiB, since Postfix sends headers up to
//!   100 KiB in one frame), refuses unknown letters and malformed payloads
//!   (missing NUL, short `O`, bad family, trailing bytes), and then stays
//!   poisoned. It never panics; the fuzz target and a PRNG test check that.
//! - [`Session`] answers `O` via [`negotiate`], files macros, connection
//!   facts, envelope, headers and body, and says per command whether to
//!   reply: `Continue` unless the command's NR_* bit was negotiated, never
//!   for `A D Q K`. At `E` it hands over a [`Message`]; the adapter answers
//!   through [`Session::finish`], which validates the edits and the single
//!   final reply. Storage is bounded by [`Limits`]: past a bound it counts
//!   and flags, it does not store.
//! - [`Response`] / [`encode_response`] is the plain wire codec;
//!   [`ReplyText`] validates `y` texts; [`finish`] is the policy gate for
//!   end-of-message answers (actions negotiated, `b` packets contiguous,
//!   header values LF-folded and leading-space-correct).
//! - [`encode_command`] and [`ResponseDecoder`] are the MTA side, public so
//!   a load generator can drive a filter.
//!
//! ## Postfix quirks handled
//!
//! - A `D` before every event, even empty (zero pairs) and even when the
//!   event itself is switched off; stage letters `L`, `B`, `U` are filed too
//!   (libmilter drops them), so `i` is found wherever it came.
//! - `i` is absent at MAIL and the first RCPT; [`Message::queue_id`] looks
//!   at the merged view at end of message.
//! - `A` after every message, on RSET, after a repeated HELO, and again
//!   before `Q`: abort is idempotent and keeps the connect/HELO macros.
//! - Null sender `<>` (smtpd) and `""` (non-SMTP); non-SMTP addresses come
//!   without brackets: [`Address`] keeps `raw` and a stripped `address`.
//! - `{client_addr}` carries `IPv6:` for IPv6 while `C` does not:
//!   [`Message::client_ip`] strips it.
//! - Folded header values arrive joined by bare LF; one space after the
//!   colon is removed unless HDR_LEADSPC. [`Message::raw_message`] undoes
//!   both; [`normalize_header_value`] does the reverse for edits.
//! - `E` may carry a last body chunk (libmilter allows it, PMilter-style
//!   MTAs send it); `K` (never sent by Postfix) is accepted.
//! - Macro lists go in the `O` reply only, never as a stand-alone `l`;
//!   empty lists are not sent (Postfix reads them as "use main.cf").
//! - `y` texts pass the strictest check (Postfix 3.12 snapshot: every
//!   line); CHGFROM/ADDRCPT_PAR args travel as one string; `4` and `f` are
//!   never produced.
//!
//! Wire facts come from the project's `milter-protocol.md`; no code was
//! taken from libmilter, Postfix or any milter library.

pub mod consts;

mod command;
mod error;
mod message;
mod negotiate;
mod reply;
mod response;
mod session;
mod wire;

pub use command::{encode_command, Command, Decoder, Family};
pub use error::DecodeError;
pub use message::{Address, Connection, Envelope, Header, Macros, Message};
pub use negotiate::{negotiate, NegotiateError, Negotiated, Wanted};
pub use reply::{ReplyError, ReplyText};
pub use response::{
    encode_response, finish, normalize_header_value, parse_response, valid_header_name,
    FinishError, Response, ResponseDecoder,
};
pub use session::{Limits, Session, SessionError, Step};
