//! History, quarantine, audit log, sender memory, the shared classifier
//! model and user reports of phishgate, behind one [`Store`] with three
//! backends:
//!
//! - **SQLite** (the default): one file, `phishgate.sqlite` in the data
//!   directory. Nothing to install; right for a single gateway.
//! - **PostgreSQL**: selected by a `postgres://` URL; several gateway nodes
//!   share one database.
//! - **In-memory** (`memory:`): for unit tests of callers. Same semantics.
//!
//! One conformance suite (`tests/conformance.rs`) runs against all three.
//!
//! # Model
//!
//! **History** (`history`) has one row per scanned message with its scalar
//! fields and lowercased filter keys (`sender`, `sender_domain`), the
//! diacritic-free subject words (`subject_words`), and the list-valued fields
//! as one JSON column. Every filter of [`HistoryQuery`] is served by an index,
//! never a scan of the table, which is what keeps search fast at a million
//! rows:
//!
//! | filter | index |
//! | --- | --- |
//! | recipient | side table `history_rcpt (address, received_at, id)` |
//! | domain (link or sender) | side table `history_domain (domain, received_at, id)` |
//! | symbol | side table `history_symbol (name, received_at, id)` |
//! | sender, `@domain` | `history (sender, received_at, id)`, `(sender_domain, ...)` |
//! | action | `history (action, received_at, id)` |
//! | subject words | SQLite FTS5 `history_fts` (external content); PostgreSQL GIN on `to_tsvector('simple', subject_words)` |
//! | time range only | `history (received_at, id)` |
//!
//! Side tables repeat `(received_at, id)` so the filter's own index yields
//! rows already in page order: the query stops after one page instead of
//! collecting and sorting every match. Subject words are folded (NFD,
//! combining marks dropped, `đ` to `d`, lowercase) so "xác minh" and
//! "Xac minh" are the same words.
//!
//! **Keyset pagination.** Pages are newest first, ordered by
//! `(received_at, id)`; the cursor is the key of the last row shown (hex
//! encoded, opaque) and the next page asks for rows strictly below it. Unlike
//! `OFFSET`, this costs the same on page 1 and page 1000, and rows inserted
//! or purged between two page requests cause neither gaps nor duplicates.
//!
//! **Quarantine** (`quarantine`, `quarantine_rcpt`) keeps the raw message
//! deflate-compressed with its size and SHA-256 (verified on every read:
//! a mismatch is [`ErrorKind::Corrupt`], the bytes are never handed out
//! altered), and one row per envelope recipient with its own state:
//!
//! ```text
//!   held --claim--> releasing --finish(Released)--> released
//!    ^  |               |
//!    |  |               +--finish(Failed)--> held
//!    |  +--delete--> deleted        (also: releasing older than
//!    |  +--expire--> expired         stale_after_ms can be claimed again)
//! ```
//!
//! **Durability.** [`Store::quarantine_put`] returns only after its
//! transaction is durably committed: SQLite runs in WAL mode with
//! `synchronous = FULL` (the WAL is fsynced at every commit), PostgreSQL
//! forces `synchronous_commit = on` for that transaction. Only then may the
//! gateway tell the MTA that the message was taken.
//!
//! **Release claim protocol.** Releasing must neither lose nor duplicate a
//! message when several nodes (or an operator at the CLI and one at the
//! console) act at once. [`Store::quarantine_claim`] moves the chosen
//! recipients from `held` to `releasing` with a random token in one
//! statement; a concurrent claim finds them no longer `held` and gets an
//! empty list ("already released"). The claimer re-injects the message and
//! calls [`Store::quarantine_finish`] with its token: `released`, or back to
//! `held` on failure. If the claimer dies in between, its recipients stay
//! `releasing`; a later claim with `stale_after_ms` shorter than their age
//! takes them over (the old token then no longer finishes anything). Choose
//! `stale_after_ms` well above the relay timeout: a node that is merely slow
//! past it could deliver a second copy. Delete never touches a `releasing`
//! recipient. Every change is written to the audit log in the same
//! transaction.
//!
//! **Sender memory** (`sender_address`, `sender_domain`, per organisation)
//! counts inbound messages per external address and domain with first and
//! last time, and flags those that someone in the organisation wrote to.
//! Updates are single `INSERT ... ON CONFLICT DO UPDATE` statements, safe
//! from several nodes at once.
//!
//! **Classifier models** (`classifier_models`) hold the organisation's
//! learned model, one row per name, so every node on one PostgreSQL
//! classifies alike. The bytes are opaque here; their SHA-256 is computed on
//! write and verified on every read (`Corrupt` on mismatch, never a damaged
//! model handed to every node). Nodes poll [`Store::model_version`] (no
//! blob) and fetch [`Store::model_get`] only when it moved. Writes are
//! compare-and-swap on `version`: [`Store::model_put`] names the version it
//! started from (`None`: "there is none yet") and is one
//! `UPDATE ... WHERE version = $expected` (or `INSERT ... ON CONFLICT DO
//! NOTHING`), so of two writers starting from the same version exactly one
//! wins; the other gets a `Conflict` ([`StoreError::is_conflict`]), re-reads
//! and retries. Every write is audited (`model.update`, with version and
//! SHA-256) in the same transaction.
//!
//! **User reports** (`reports`) are messages staff reported as phishing,
//! kept with their raw bytes (SHA-256 verified on read) for the IT centre:
//!
//! ```text
//!   new --decide(Confirmed)--> confirmed
//!    +--decide(Dismissed)--> dismissed      (final; purge_reports drops
//!                                            decided ones after retention)
//! ```
//!
//! A unique index on `(sha256, reporter)` makes reporting idempotent per
//! user (a second press of the button returns the first report, also when
//! both presses race) while another user reporting the same message adds a
//! row; [`ReportEntry::reporters`] counts them. A decision is one
//! `UPDATE ... WHERE status = 'new'`, so of two administrators deciding at
//! once exactly one wins and the other is told who decided first. The store
//! only records decisions: teaching the classifier from confirmed reports
//! is the caller's job. Receiving a report is not audited (the row itself
//! records who reported what and when); decisions are.
//!
//! **Backups.** SQLite: [`Store::backup`] runs `VACUUM INTO`, an online,
//! consistent copy. PostgreSQL: use `pg_dump` (see [`PG_DUMP_HINT`]).
//!
//! **Migrations** are embedded: `migrations/sqlite/` and
//! `migrations/postgres/`, run by sqlx at open (tracked in
//! `_sqlx_migrations`). A released migration file is never edited (sqlx
//! checks its checksum); changes go into the next numbered file.

mod error;
mod memory;
mod postgres;
mod sqlite;
mod types;
mod util;

use std::path::Path;
use std::sync::Arc;

pub use error::{ErrorKind, StoreError};
pub use types::{
    Actor, AttachmentRecord, AuditEvent, Claim, Direction, HistoryQuery, HistoryRecord,
    NewQuarantined, NewReport, Page, QuarantineEntry, QuarantineQuery, QuarantineRcpt, RcptState,
    ReleaseOutcome, ReportEntry, ReportQuery, ReportStatus, SenderFacts, StoredModel, SymbolRecord,
    DEFAULT_LIMIT, MAX_LIMIT,
};
pub use util::{fold_text, words};

/// File name of the SQLite database inside the data directory.
pub const SQLITE_FILE: &str = "phishgate.sqlite";

/// How to back up a PostgreSQL store (returned by [`Store::backup`]).
pub const PG_DUMP_HINT: &str = "PostgreSQL stores are backed up with pg_dump, e.g. \
     `pg_dump --format=custom --file=phishgate.dump 'postgres://USER@HOST:5432/DB'`; \
     restore with `pg_restore --dbname='postgres://USER@HOST:5432/DB' phishgate.dump`";

/// The store: cheap to clone (all clones share one pool or one memory).
#[derive(Clone)]
pub struct Store {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Memory(Arc<memory::MemoryStore>),
    Sqlite(sqlite::SqlStore),
    Postgres(postgres::SqlStore),
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend_name())
            .field("database", &self.label())
            .finish()
    }
}

/// Calls the same method on whichever backend; the memory backend is
/// synchronous.
macro_rules! dispatch {
    ($self:ident, $method:ident ( $($arg:expr),* )) => {
        match &$self.backend {
            Backend::Memory(m) => m.$method($($arg),*),
            Backend::Sqlite(s) => s.$method($($arg),*).await,
            Backend::Postgres(s) => s.$method($($arg),*).await,
        }
    };
}

impl Store {
    /// Opens a store.
    ///
    /// `spec` is one of:
    /// - `""` or `"sqlite"`: the file [`SQLITE_FILE`] in `data_dir`;
    /// - `"sqlite:/abs/path.db"`: that file;
    /// - `"postgres://user@host:port/db"` (or `postgresql://`);
    /// - `"memory:"`: a fresh in-memory store.
    ///
    /// SQLite files are created if missing (the directory must exist);
    /// schema migrations run before this returns. A corrupt file, an
    /// unwritable directory or an unreachable server is a clear error.
    pub async fn open(spec: &str, data_dir: &Path) -> Result<Store, StoreError> {
        let spec = spec.trim();
        let backend = if spec.is_empty() || spec == "sqlite" {
            Backend::Sqlite(sqlite::SqlStore::open_sqlite(&data_dir.join(SQLITE_FILE)).await?)
        } else if let Some(path) = spec.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err(StoreError::new(
                    ErrorKind::Invalid,
                    format!("store spec {spec:?}: no file path after sqlite:"),
                ));
            }
            Backend::Sqlite(sqlite::SqlStore::open_sqlite(Path::new(path)).await?)
        } else if spec.starts_with("postgres://") || spec.starts_with("postgresql://") {
            Backend::Postgres(postgres::SqlStore::open_postgres(spec).await?)
        } else if spec == "memory:" || spec == "memory" {
            Backend::Memory(Arc::default())
        } else {
            return Err(StoreError::new(
                ErrorKind::Invalid,
                format!(
                    "store spec {:?}: expected \"sqlite\", \"sqlite:/path\", \"postgres://...\" or \"memory:\"",
                    postgres::redact(spec)
                ),
            ));
        };
        Ok(Store { backend })
    }

    /// A fresh in-memory store.
    pub fn memory() -> Store {
        Store {
            backend: Backend::Memory(Arc::default()),
        }
    }

    /// `"sqlite"`, `"postgres"` or `"memory"`.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Memory(_) => "memory",
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// The database as named in messages (PostgreSQL passwords masked).
    pub fn label(&self) -> String {
        match &self.backend {
            Backend::Memory(_) => "in-memory store".to_owned(),
            Backend::Sqlite(s) => s.label.to_string(),
            Backend::Postgres(s) => s.label.to_string(),
        }
    }

    /// Checks that the database answers.
    pub async fn health(&self) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Memory(_) => Ok(()),
            Backend::Sqlite(s) => s.health().await,
            Backend::Postgres(s) => s.health().await,
        }
    }

    /// Closes the connections (other clones become unusable). Optional:
    /// dropping the last clone closes them too, only less promptly.
    pub async fn close(&self) {
        match &self.backend {
            Backend::Memory(_) => {}
            Backend::Sqlite(s) => s.close().await,
            Backend::Postgres(s) => s.close().await,
        }
    }

    /// Writes a consistent copy of the database to `dest` (which must not
    /// exist). SQLite: `VACUUM INTO`, online. PostgreSQL and memory: an
    /// `Invalid` error; for PostgreSQL its message gives the `pg_dump`
    /// command ([`PG_DUMP_HINT`]).
    pub async fn backup(&self, dest: &Path) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.backup(dest).await,
            Backend::Postgres(s) => Err(StoreError::new(
                ErrorKind::Invalid,
                format!("{}: {PG_DUMP_HINT}", s.label),
            )),
            Backend::Memory(_) => Err(StoreError::new(
                ErrorKind::Invalid,
                "in-memory store: nothing to back up",
            )),
        }
    }

    // ---------------------------------------------------------------- history

    /// Records one scanned message. Recording an id that exists is a no-op.
    pub async fn record(&self, record: &HistoryRecord) -> Result<(), StoreError> {
        self.record_batch(std::slice::from_ref(record)).await
    }

    /// Records many messages in one transaction (much faster than one by one).
    pub async fn record_batch(&self, records: &[HistoryRecord]) -> Result<(), StoreError> {
        dispatch!(self, record_batch(records))
    }

    /// Searches the history, newest first; see [`HistoryQuery`].
    pub async fn history(&self, query: &HistoryQuery) -> Result<Page<HistoryRecord>, StoreError> {
        dispatch!(self, history(query))
    }

    /// Sets how many of the newest rows a subject-word search walks before
    /// asking the full-text index (0: full-text only; `i64::MAX`: walk only),
    /// so tests can compare both plans. No effect on the in-memory store.
    #[doc(hidden)]
    pub fn set_words_walk_window(&self, rows: i64) {
        match &self.backend {
            Backend::Memory(_) => {}
            Backend::Sqlite(s) => s
                .walk_window
                .store(rows, std::sync::atomic::Ordering::Relaxed),
            Backend::Postgres(s) => s
                .walk_window
                .store(rows, std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// The database's query plan for a history query (`EXPLAIN QUERY PLAN`
    /// on SQLite, `EXPLAIN` on PostgreSQL), for diagnosing slow searches and
    /// for the test that every filter uses an index.
    pub async fn history_plan(&self, query: &HistoryQuery) -> Result<String, StoreError> {
        match &self.backend {
            Backend::Memory(_) => Ok("in-memory store: linear scan".to_owned()),
            Backend::Sqlite(s) => s.history_plan(query).await,
            Backend::Postgres(s) => s.history_plan(query).await,
        }
    }

    /// One history record by id.
    pub async fn history_get(&self, id: &str) -> Result<Option<HistoryRecord>, StoreError> {
        dispatch!(self, history_get(id))
    }

    /// Deletes history received before `cutoff_ms` (unix ms; exclusive), with
    /// its index rows, in batches of short transactions. Returns the number
    /// of records deleted.
    pub async fn purge_history(&self, cutoff_ms: i64) -> Result<u64, StoreError> {
        dispatch!(self, purge_history(cutoff_ms))
    }

    // ------------------------------------------------------------- quarantine

    /// Stores a message in quarantine, every recipient `held`. Returns only
    /// once durably committed. Putting the same id with the same bytes again
    /// is a no-op; with different bytes it is a `Conflict`.
    pub async fn quarantine_put(&self, message: &NewQuarantined) -> Result<(), StoreError> {
        dispatch!(self, quarantine_put(message))
    }

    /// Lists quarantined messages, newest first; see [`QuarantineQuery`].
    pub async fn quarantine_list(
        &self,
        query: &QuarantineQuery,
    ) -> Result<Page<QuarantineEntry>, StoreError> {
        dispatch!(self, quarantine_list(query))
    }

    /// One quarantined message with its recipients (without the raw bytes).
    pub async fn quarantine_get(&self, id: &str) -> Result<Option<QuarantineEntry>, StoreError> {
        dispatch!(self, quarantine_get(id))
    }

    /// The raw message, decompressed and verified against its size and
    /// SHA-256 (`Corrupt` on mismatch). `NotFound` if the id is unknown or
    /// the bytes were dropped after expiry.
    pub async fn quarantine_raw(&self, id: &str) -> Result<Vec<u8>, StoreError> {
        dispatch!(self, quarantine_raw(id))
    }

    /// Claims recipients for release: those named in `rcpts` (all when
    /// `None`) that are `held`, or `releasing` for at least `stale_after_ms`
    /// (their claimer died), become `releasing` under a new token. Only one
    /// of several concurrent claims gets each recipient; the others get an
    /// empty list. `NotFound` if the message does not exist.
    pub async fn quarantine_claim(
        &self,
        id: &str,
        rcpts: Option<&[String]>,
        actor: &Actor,
        stale_after_ms: i64,
    ) -> Result<Claim, StoreError> {
        dispatch!(self, quarantine_claim(id, rcpts, actor, stale_after_ms))
    }

    /// Ends a release: the recipients still `releasing` under `token` become
    /// `released`, or `held` again on [`ReleaseOutcome::Failed`]. Returns how
    /// many changed (0 if the claim was already finished or taken over).
    pub async fn quarantine_finish(
        &self,
        id: &str,
        token: &str,
        outcome: ReleaseOutcome,
    ) -> Result<u64, StoreError> {
        dispatch!(self, quarantine_finish(id, token, outcome))
    }

    /// Deletes `held` recipients (all when `rcpts` is `None`). Idempotent;
    /// never touches a recipient being released. Returns how many changed.
    pub async fn quarantine_delete(
        &self,
        id: &str,
        rcpts: Option<&[String]>,
        actor: &Actor,
    ) -> Result<u64, StoreError> {
        dispatch!(self, quarantine_delete(id, rcpts, actor))
    }

    /// Expires messages received before `cutoff_ms`: their `held`
    /// recipients become `expired`, and the raw bytes of every such message
    /// with no `held` or `releasing` recipient left are dropped. Returns the
    /// number of recipients expired.
    pub async fn quarantine_expire(
        &self,
        cutoff_ms: i64,
        actor: &Actor,
    ) -> Result<u64, StoreError> {
        dispatch!(self, quarantine_expire(cutoff_ms, actor))
    }

    // ------------------------------------------------------------------ audit

    /// Audit events at or after `since` (all when `None`), newest first, at
    /// most `limit` (0 means [`DEFAULT_LIMIT`], clamped to [`MAX_LIMIT`]).
    pub async fn audit_list(
        &self,
        limit: u32,
        since: Option<i64>,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        dispatch!(self, audit_list(limit, since))
    }

    // ---------------------------------------------------------- sender memory

    /// A message from the external `address` arrived at `at_ms` for `org`.
    pub async fn sender_inbound(
        &self,
        org: &str,
        address: &str,
        at_ms: i64,
    ) -> Result<(), StoreError> {
        dispatch!(self, sender_inbound(org, address, at_ms))
    }

    /// Someone in `org` wrote to these external addresses at `at_ms`.
    pub async fn sender_outbound(
        &self,
        org: &str,
        addresses: &[String],
        at_ms: i64,
    ) -> Result<(), StoreError> {
        dispatch!(self, sender_outbound(org, addresses, at_ms))
    }

    /// What `org` knows about `address` and its domain (zeros and `None`
    /// when never seen).
    pub async fn sender_facts(&self, org: &str, address: &str) -> Result<SenderFacts, StoreError> {
        dispatch!(self, sender_facts(org, address))
    }

    // ------------------------------------------------------ classifier models

    /// The current version of the model `name` with its bytes, verified
    /// against their SHA-256 (`Corrupt` on mismatch); `None` if there is no
    /// such model.
    pub async fn model_get(&self, name: &str) -> Result<Option<StoredModel>, StoreError> {
        dispatch!(self, model_get(name))
    }

    /// The current version number of the model `name`, without reading its
    /// bytes: cheap enough for every node to poll every few seconds.
    pub async fn model_version(&self, name: &str) -> Result<Option<i64>, StoreError> {
        dispatch!(self, model_version(name))
    }

    /// Replaces the model `name` if its current version is still
    /// `expected_version` (`None`: the model must not exist yet), and
    /// returns the new version: the previous one + 1, or 1 when created.
    /// Otherwise nothing changes and the error is a `Conflict`
    /// ([`StoreError::is_conflict`]) naming the version found: another
    /// writer got there first; read the model again before retrying. Of
    /// several concurrent writers with the same expected version exactly one
    /// succeeds. Each success is audited as `model.update` by `actor`, with
    /// the version and SHA-256 in the detail. An empty name or empty bytes
    /// are `Invalid`.
    pub async fn model_put(
        &self,
        name: &str,
        bytes: &[u8],
        expected_version: Option<i64>,
        actor: &Actor,
    ) -> Result<i64, StoreError> {
        dispatch!(self, model_put(name, bytes, expected_version, actor))
    }

    // ----------------------------------------------------------- user reports

    /// Stores a user report as `new`, with a fresh id and the SHA-256 of its
    /// raw bytes, and returns it. The same message (same SHA-256) reported
    /// again by the same reporter (compared lowercased) is not stored again:
    /// the existing report is returned as it stands. Reported by someone
    /// else it is a new report, and both count the other in
    /// [`ReportEntry::reporters`]. Returns only once durably committed. An
    /// empty reporter or empty message is `Invalid`.
    pub async fn report_put(&self, report: &NewReport) -> Result<ReportEntry, StoreError> {
        dispatch!(self, report_put(report))
    }

    /// Lists reports, newest first; see [`ReportQuery`].
    pub async fn report_list(&self, query: &ReportQuery) -> Result<Page<ReportEntry>, StoreError> {
        dispatch!(self, report_list(query))
    }

    /// The database's query plan for a report list (as [`Store::history_plan`]
    /// does for history), for the test that the status filter uses an index.
    pub async fn report_plan(&self, query: &ReportQuery) -> Result<String, StoreError> {
        match &self.backend {
            Backend::Memory(_) => Ok("in-memory store: linear scan".to_owned()),
            Backend::Sqlite(s) => s.report_plan(query).await,
            Backend::Postgres(s) => s.report_plan(query).await,
        }
    }

    /// One report (without the raw bytes).
    pub async fn report_get(&self, id: &str) -> Result<Option<ReportEntry>, StoreError> {
        dispatch!(self, report_get(id))
    }

    /// The reported message, verified against its SHA-256 (`Corrupt` on
    /// mismatch). `NotFound` if the id is unknown (or purged).
    pub async fn report_raw(&self, id: &str) -> Result<Vec<u8>, StoreError> {
        dispatch!(self, report_raw(id))
    }

    /// Records an administrator's decision on a `new` report:
    /// [`ReportStatus::Confirmed`] or [`ReportStatus::Dismissed`]
    /// ([`ReportStatus::New`] is `Invalid`). A report already decided is a
    /// `Conflict` ("report X was already confirmed by Y"); of several
    /// concurrent deciders exactly one succeeds. `NotFound` if the id is
    /// unknown. Audited as `report.confirm` or `report.dismiss`. Returns the
    /// report as decided.
    pub async fn report_decide(
        &self,
        id: &str,
        status: ReportStatus,
        actor: &Actor,
    ) -> Result<ReportEntry, StoreError> {
        dispatch!(self, report_decide(id, status, actor))
    }

    /// Deletes decided (confirmed or dismissed) reports that were both
    /// received and decided before `cutoff_ms` (unix ms; exclusive), in
    /// batches of short transactions; `new` reports are always kept, and a
    /// report decided recently stays for the retention time even if it was
    /// received long ago. Returns the number of reports deleted.
    pub async fn purge_reports(&self, cutoff_ms: i64) -> Result<u64, StoreError> {
        dispatch!(self, purge_reports(cutoff_ms))
    }
}

/// Checks a message before it is stored.
pub(crate) fn validate_new_quarantined(label: &str, n: &NewQuarantined) -> Result<(), StoreError> {
    let invalid = |what: &str| {
        StoreError::new(
            ErrorKind::Invalid,
            format!("{label}: quarantine {:?}: {what}", n.id),
        )
    };
    if n.id.is_empty() {
        return Err(invalid("empty id"));
    }
    if n.rcpts.is_empty() {
        return Err(invalid("no recipients"));
    }
    Ok(())
}

pub(crate) fn not_found(label: &str, id: &str) -> StoreError {
    StoreError::new(
        ErrorKind::NotFound,
        format!("{label}: no quarantined message {id:?}"),
    )
}

pub(crate) fn raw_dropped(label: &str, id: &str) -> StoreError {
    StoreError::new(
        ErrorKind::NotFound,
        format!("{label}: quarantined message {id:?} has expired and its bytes were dropped"),
    )
}

/// Checks a model before it is stored.
pub(crate) fn validate_model(label: &str, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
    if name.trim().is_empty() {
        return Err(StoreError::new(
            ErrorKind::Invalid,
            format!("{label}: classifier model without a name"),
        ));
    }
    if bytes.is_empty() {
        return Err(StoreError::new(
            ErrorKind::Invalid,
            format!("{label}: classifier model {name:?}: no bytes"),
        ));
    }
    Ok(())
}

/// The `Conflict` of a compare-and-swap that found another version.
pub(crate) fn model_conflict(
    label: &str,
    name: &str,
    expected: Option<i64>,
    found: Option<i64>,
) -> StoreError {
    let expected = match expected {
        Some(v) => format!("version {v}"),
        None => "no model yet".to_owned(),
    };
    let found = match found {
        Some(v) => format!("version {v}"),
        None => "no model".to_owned(),
    };
    StoreError::new(
        ErrorKind::Conflict,
        format!(
            "{label}: classifier model {name:?}: expected {expected}, found {found} \
             (changed by someone else; read it again before writing)"
        ),
    )
}

/// The audit detail of a model update.
pub(crate) fn model_audit_detail(version: i64, sha256: &str, len: usize) -> String {
    format!("version {version}; sha256 {sha256}; {len} bytes")
}

/// Checks a report before it is stored; returns the reporter's key.
pub(crate) fn validate_new_report(label: &str, r: &NewReport) -> Result<String, StoreError> {
    let reporter = util::address_key(&r.reporter);
    if reporter.is_empty() {
        return Err(StoreError::new(
            ErrorKind::Invalid,
            format!("{label}: report without a reporter"),
        ));
    }
    if r.raw.is_empty() {
        return Err(StoreError::new(
            ErrorKind::Invalid,
            format!("{label}: report by {reporter}: empty message"),
        ));
    }
    Ok(reporter)
}

/// The audit action of a decision, or `Invalid` for [`ReportStatus::New`].
pub(crate) fn decision_action(
    label: &str,
    id: &str,
    status: ReportStatus,
) -> Result<&'static str, StoreError> {
    match status {
        ReportStatus::Confirmed => Ok("report.confirm"),
        ReportStatus::Dismissed => Ok("report.dismiss"),
        ReportStatus::New => Err(StoreError::new(
            ErrorKind::Invalid,
            format!("{label}: report {id:?}: a decision is confirmed or dismissed, not new"),
        )),
    }
}

/// The audit detail of a decision.
pub(crate) fn decision_detail(reporter: &str, sha256: &str) -> String {
    format!("reported by {reporter}; sha256 {sha256}")
}

/// The `Conflict` of deciding a report someone already decided.
pub(crate) fn already_decided(
    label: &str,
    id: &str,
    status: ReportStatus,
    by: Option<&str>,
) -> StoreError {
    StoreError::new(
        ErrorKind::Conflict,
        format!(
            "{label}: report {id} was already {} by {}",
            status.as_str(),
            by.unwrap_or("someone")
        ),
    )
}

pub(crate) fn report_not_found(label: &str, id: &str) -> StoreError {
    StoreError::new(ErrorKind::NotFound, format!("{label}: no report {id:?}"))
}
