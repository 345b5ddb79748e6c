//! The PostgreSQL backend, for several gateway nodes sharing state.
//!
//! Every write is one transaction; the quarantine transaction forces
//! `synchronous_commit = on`. Concurrency between nodes rests on single
//! statements: the release claim is one `UPDATE ... WHERE state = 'held'
//! RETURNING`, which under READ COMMITTED re-checks the row after waiting for a
//! concurrent claim, so exactly one node gets each recipient; sender memory is
//! `INSERT ... ON CONFLICT DO UPDATE`.

use std::str::FromStr as _;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::Transaction;

type Db = sqlx::Postgres;
const PG: bool = true;

/// How long to wait for the server before reporting it unavailable.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections per pool and node.
const MAX_CONNECTIONS: u32 = 8;

/// Schema migrations: (version, description, SQL). Released files are never
/// edited (sqlx refuses a changed checksum); changes go into a new file.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "models reports",
        include_str!("../migrations/postgres/0002_models_reports.sql"),
    ),
];

async fn begin_write(pool: &Pool<Db>) -> Result<Transaction<'static, Db>, sqlx::Error> {
    pool.begin().await
}

/// The full-text condition for subject words over the GIN expression index.
fn words_condition(param: &str) -> String {
    format!("to_tsvector('simple', h.subject_words) @@ plainto_tsquery('simple', {param})")
}

/// No match count before choosing a plan: the GIN index answers a count
/// only by visiting every matching row, so searches walk the newest rows
/// first instead.
const WORDS_PROBE: Option<&str> = None;

/// No hint needed: PostgreSQL reads only the matching heap rows' keys for
/// the inner sort.
const WORDS_DRIVEN_HINT: &str = "";

/// `plainto_tsquery` ANDs the words itself.
fn words_query(words: &[String]) -> String {
    words.join(" ")
}

include!("sql_common.rs");

impl SqlStore {
    /// Connects (within [`CONNECT_TIMEOUT`]) and runs migrations.
    pub(crate) async fn open_postgres(url: &str) -> Result<SqlStore, StoreError> {
        let label: Arc<str> = format!("PostgreSQL database {}", redact(url)).into();
        let opts = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::new(ErrorKind::Invalid, format!("{label}: bad URL: {e}")))?;
        let connect = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .after_release(|conn, _| Box::pin(async move { Ok(reusable(conn)) }))
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_with(opts);
        let pool = match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
            Ok(Ok(pool)) => pool,
            Ok(Err(e)) => return Err(from_sqlx(&label, "connecting", &e)),
            Err(_) => {
                return Err(StoreError::new(
                    ErrorKind::Unavailable,
                    format!(
                        "{label}: connecting: no answer within {} s",
                        CONNECT_TIMEOUT.as_secs()
                    ),
                ))
            }
        };
        let store = SqlStore {
            pool,
            label,
            walk_window: Arc::new(WALK_WINDOW.into()),
        };
        store.migrate(MIGRATIONS).await?;
        Ok(store)
    }
}

/// The URL without its password, for messages.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(auth_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            let masked = if userinfo.contains(':') { ":***" } else { "" };
            format!("{scheme}://{user}{masked}@{host}{tail}")
        }
        None => url.to_owned(),
    }
}
