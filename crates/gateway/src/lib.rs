//! # phishgate-gateway
//!
//! phishgate in the mail path. One process ([`fn@serve`]) runs:
//!
//! - a **milter** (Postfix `smtpd_milters`), over the sans-I/O codec of
//!   `phishgate-milter`;
//! - an **SMTP content filter** (Postfix `content_filter`, after-queue), over
//!   the sans-I/O codec of `phishgate-smtp`, re-injecting to Postfix's
//!   filter-free smtpd and acknowledging only after it accepted;
//! - an **HTTP API**: Rspamd-compatible `/checkv2`, `/api/v1/scan`, `/ping`,
//!   `/metrics`.
//!
//! All three share one [`scanner::Scanner`] (the pure analysis on tokio's
//! blocking pool under a time budget, configuration reloaded on SIGHUP) and
//! one [`disposition::Disposition`] (what a verdict does to a message:
//! result headers, subject tag, banner). Each interface only differs in how
//! it carries the disposition out and in its failure mode.

pub mod disposition;
pub mod enrich;
pub mod guarded;
pub mod http;
pub mod metrics;
pub mod milter;
pub mod model;
pub mod record;
pub mod release;
pub mod report;
pub mod scanner;
pub mod serve;
pub mod settings;
pub mod smtp;

pub use serve::{serve, ServeOptions};
