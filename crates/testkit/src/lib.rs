//! # phishgate-testkit
//!
//! Test support for phishgate's end-to-end tests: a real, throw-away Postfix
//! on loopback (one per test, fully independent, safe to run in parallel),
//! swaks and an in-process SMTP client to send through it, Maildir and queue
//! readers to assert on, a recording SMTP sink, an authoritative DNS server
//! on loopback ([`DnsServer`]) for SPF/DKIM/DMARC and block-list tests, a
//! throw-away clamd with a locally written signature database ([`Clamd`]),
//! and a private PostgreSQL server to stop and restart ([`PgServer`]).
//!
//! Each [`Postfix`] has its own directory under [`std::env::temp_dir`]
//! (`phishgate-postfix-<pid>-<n>`), its own loopback ports and its own
//! `myhostname`, and is driven with `postfix -c DIR/etc`: the system instance
//! and `/etc/postfix` are never touched. The tests need root, Postfix and
//! swaks; without them [`PostfixBuilder::start`] returns
//! [`Error::Prerequisite`], so the tests fail with that message instead of
//! being skipped.
//!
//! ```no_run
//! use std::time::Duration;
//! use phishgate_testkit::{PostfixBuilder, SendSpec};
//! # fn main() -> Result<(), phishgate_testkit::Error> {
//! let pf = PostfixBuilder::new().domain("laocai.gov.vn").catch_all(true).start()?;
//! let sent = pf.send_swaks(&SendSpec::new(
//!     "someone@sender.test",
//!     &["anyone@laocai.gov.vn"],
//!     "Subject: test\r\n\r\nbody\r\n",
//! ))?;
//! assert_eq!(sent.final_code, Some(250), "{}", sent.transcript);
//! let got = pf.wait_for_maildir("catchall", 1, Duration::from_secs(10))?;
//! assert_eq!(got[0].body(), b"body\n");
//! pf.wait_until_queue_empty(Duration::from_secs(10))?;
//! # Ok(()) }
//! ```
//!
//! Mailboxes: `.mailbox("alice")` delivers `alice@<each domain>` to
//! `vmail/alice/`; the catch-all goes to `vmail/catchall/`; everything
//! for [`SENDER_DOMAIN`] (bounces to test senders) goes to `vmail/bounces/`.
//! Recipients in any other domain are refused at `RCPT` with `550 5.3.0`
//! (`default_transport = error:…`), so nothing ever waits on DNS.
//!
//! Set `PHISHGATE_KEEP_POSTFIX=1` to keep the instance directories. An
//! instance whose test process died without dropping it (killed by a
//! timeout) is stopped and removed by the next `start` in any process.

mod b64;
mod clamd;
mod dns;
mod error;
mod json;
mod maildir;
mod pg;
mod postfix;
mod queue;
mod sink;
mod smtp;
mod swaks;

pub use b64::{base64, base64_mime};
pub use clamd::{
    eicar, ping as clamd_ping, Clamd, ClamdBuilder, CLAMD, CLAMD_START_TIMEOUT, CONG_VAN_FIXTURE,
    CONG_VAN_FOUND, CONG_VAN_SIGNATURE, EICAR_FOUND, EICAR_SIGNATURE, KEEP_CLAMD_ENV, SIGNATURES,
};
pub use dns::{reverse_name, DnsServer, Fault, Zone, DEFAULT_TTL};
pub use error::{Error, Result};
pub use maildir::{read_maildir, Delivered};
pub use pg::{PgServer, PG_START_TIMEOUT};
pub use postfix::{
    alloc_port, unused_port, Postfix, PostfixBuilder, DEFAULT_DOMAIN, KEEP_ENV, POSTCONF, POSTFIX,
    POSTQUEUE, POSTSUPER, SMTP_PORT, START_TIMEOUT, VMAIL_ID,
};
pub use queue::{parse_postqueue_json, QueueEntry, QueueName, QueueRecipient};
pub use sink::{SinkMessage, SmtpSink};
pub use smtp::{dot_stuff, send_raw_smtp, Message, Reply, ReplyOutcome, SmtpClient, IO_TIMEOUT};
pub use swaks::{SendSpec, SwaksReply, SwaksResult, SENDER_DOMAIN};
