//! # phishgate-core
//!
//! The pure analysis core of phishgate: bytes and facts in, an explained
//! verdict out. No tokio, no sockets, no database, no DNS and no clock reads
//! (CI checks the dependency tree), so every check can be tested with plain
//! data and the same code serves the CLI, the milter, the SMTP filter and the
//! HTTP API.
//!
//! Data flows one way:
//!
//! ```text
//! raw bytes ──> view::MessageView ──> checks (one file each, one ordered
//!   + Envelope                          pipeline in `pipeline.rs`)
//!   + Facts                               │ symbols::Finding (name, weight, evidence)
//!                                         v
//!                                 scoring (config: scores, groups, composites,
//!                                          thresholds) ──> ScanResult
//! ```
//!
//! Build an [`Engine`] once from a [`config::Config`] and call
//! [`Engine::scan`] for every message; the engine is immutable and can be
//! shared between threads.

pub mod checks;
pub mod config;
pub mod domains;
mod engine;
pub mod feeds;
pub mod learn;
pub mod net;
mod pipeline;
pub mod scoring;
pub mod symbols;
pub mod text;
pub mod view;

pub use config::{Config, ConfigError};
pub use engine::{
    AntivirusOutcome, AntivirusScan, AttachmentSummary, DnsblFact, DnsblOutcome, Engine,
    EngineError, Envelope, Facts, Lang, ScanInput, ScanResult, SenderHistory, ThresholdsOut,
};
pub use feeds::{Feed, FeedIndex, FeedMatch};
pub use scoring::{Action, ScoredSymbol};
pub use view::peek_from;
