//! The SQLite backend: one file in the data directory.
//!
//! Connections run in WAL mode with `synchronous = FULL`, so a commit returns
//! only after the write-ahead log is fsynced: that is the durability the
//! quarantine needs before the MTA is told the message was taken. Writers take
//! the write lock up front (`BEGIN IMMEDIATE`) so two writers never deadlock on
//! a lock upgrade, and wait up to [`BUSY_TIMEOUT`] for each other, which also
//! serialises several `Store` handles (or processes) on one file.

use std::path::Path;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::Transaction;

type Db = sqlx::Sqlite;
const PG: bool = false;

/// How long a writer waits for another writer before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections per pool: SQLite has one writer at a time; a few readers help.
const MAX_CONNECTIONS: u32 = 4;

/// Schema migrations: (version, description, SQL). Released files are never
/// edited (sqlx refuses a changed checksum); changes go into a new file.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../migrations/sqlite/0001_init.sql"),
    ),
    (
        2,
        "models reports",
        include_str!("../migrations/sqlite/0002_models_reports.sql"),
    ),
];

async fn begin_write(pool: &Pool<Db>) -> Result<Transaction<'static, Db>, sqlx::Error> {
    pool.begin_with("BEGIN IMMEDIATE").await
}

/// The FTS5 condition for subject words (all must match).
fn words_condition(param: &str) -> String {
    format!("h.seq IN (SELECT rowid FROM history_fts WHERE history_fts MATCH {param})")
}

/// Counts full-text matches up to a bound: cheap in FTS5 (a walk of one
/// doclist), so a search asks it before choosing its plan.
const WORDS_PROBE: Option<&str> = Some(
    "SELECT count(*) FROM (SELECT rowid FROM history_fts WHERE history_fts MATCH $1 LIMIT $2)",
);

/// Forces the narrow `history_seq_order` index when subject words drive a
/// search (SQLite's planner would otherwise read every matching full row).
const WORDS_DRIVEN_HINT: &str = " INDEXED BY history_seq_order";

/// An FTS5 query: each word quoted (they are alphanumeric, so quoting is
/// safe), juxtaposed, which FTS5 reads as AND.
fn words_query(words: &[String]) -> String {
    words
        .iter()
        .map(|w| format!("\"{w}\""))
        .collect::<Vec<_>>()
        .join(" ")
}

include!("sql_common.rs");

impl SqlStore {
    /// Opens (creating if missing) the database file and runs migrations.
    pub(crate) async fn open_sqlite(path: &Path) -> Result<SqlStore, StoreError> {
        let label: Arc<str> = format!("SQLite database {}", path.display()).into();
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true)
            // 32 MiB of page cache per connection (the default is 2 MiB):
            // searches at a million rows touch many index pages.
            .pragma("cache_size", "-32768");
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .after_release(|conn, _| Box::pin(async move { Ok(reusable(conn)) }))
            .acquire_timeout(BUSY_TIMEOUT + Duration::from_secs(5))
            .connect_with(opts)
            .await
            .map_err(|e| open_error(&label, &e))?;
        let store = SqlStore {
            pool,
            label,
            walk_window: Arc::new(WALK_WINDOW.into()),
        };
        // Read the schema once: a file of garbage can get this far.
        sqlx::query_scalar::<Db, i64>("SELECT count(*) FROM sqlite_master")
            .fetch_one(&store.pool)
            .await
            .map_err(|e| open_error(&store.label, &e))?;
        store.migrate(MIGRATIONS).await?;
        Ok(store)
    }

    /// `VACUUM INTO`: an online, consistent copy that readers and writers
    /// can keep using the database during.
    pub(crate) async fn backup(&self, dest: &Path) -> Result<(), StoreError> {
        if dest.exists() {
            return Err(StoreError::new(
                ErrorKind::Conflict,
                format!(
                    "{}: backup target {} already exists",
                    self.label,
                    dest.display()
                ),
            ));
        }
        let dest_text = dest.to_str().ok_or_else(|| {
            StoreError::new(
                ErrorKind::Invalid,
                format!(
                    "{}: backup path {} is not UTF-8",
                    self.label,
                    dest.display()
                ),
            )
        })?;
        sqlx::query::<Db>("VACUUM INTO $1")
            .bind(dest_text.to_owned())
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(self.err("backing up"))
    }
}

/// Errors at open get a hint, since they are what an operator sees first.
fn open_error(label: &str, e: &sqlx::Error) -> StoreError {
    let err = from_sqlx(label, "opening", e);
    let hint = match err.kind() {
        ErrorKind::Corrupt => {
            " (the file is not a usable SQLite database: restore it from a backup or move it away)"
        }
        ErrorKind::Unavailable => " (does the directory exist, and may this user write to it?)",
        _ => "",
    };
    StoreError::new(err.kind(), format!("{}{hint}", err.message()))
}
