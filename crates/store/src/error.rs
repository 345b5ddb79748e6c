//! The one error type of the store.
//!
//! Callers (the gateway's failure mode, the CLI's exit codes) branch on the
//! [`ErrorKind`]; the message is for people and always names the database
//! ("SQLite database /var/lib/phishgate/phishgate.sqlite: ...").

use std::fmt;

/// What went wrong, coarsely: enough for a caller to choose between retrying,
/// alerting and reporting a bad request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// The database cannot be reached or used right now (connection refused,
    /// file cannot be opened, locked too long, I/O error). Retrying later may work.
    Unavailable,
    /// Stored data is damaged: not a database file, checksum mismatch, a value
    /// that does not decode. Retrying will not help.
    Corrupt,
    /// The disk or the database is full.
    Full,
    /// The thing asked for does not exist.
    NotFound,
    /// The request contradicts stored data: same id with different content,
    /// a compare-and-swap whose expected version is no longer current, a
    /// decision already taken by someone else. Re-read and decide again.
    Conflict,
    /// The request itself is invalid (bad cursor, empty recipient list, bad spec).
    Invalid,
}

impl ErrorKind {
    /// A stable lowercase name, for logs and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Corrupt => "corrupt",
            ErrorKind::Full => "full",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Invalid => "invalid",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error from the store: a [`ErrorKind`] and a message naming the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError {
    kind: ErrorKind,
    message: String,
}

impl StoreError {
    /// Builds an error. Backends prefix the message with the database's label.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        StoreError {
            kind,
            message: message.into(),
        }
    }

    /// The coarse kind, for callers that branch on it.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Whether this is a [`ErrorKind::Conflict`]: for example
    /// [`crate::Store::model_put`] lost a race to another writer, whose
    /// version the caller should read before trying again.
    pub fn is_conflict(&self) -> bool {
        self.kind == ErrorKind::Conflict
    }

    /// The human-readable message (names the database).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.kind)
    }
}

impl std::error::Error for StoreError {}

/// Classifies a sqlx error. `label` names the database, `op` what we were doing.
pub(crate) fn from_sqlx(label: &str, op: &str, err: &sqlx::Error) -> StoreError {
    use sqlx::Error as E;
    let kind = match err {
        E::Database(db) => classify_database(db.code().as_deref(), db.is_unique_violation()),
        E::RowNotFound => ErrorKind::NotFound,
        E::Configuration(_) | E::InvalidArgument(_) => ErrorKind::Invalid,
        E::ColumnDecode { .. } | E::Decode(_) | E::ColumnNotFound(_) | E::TypeNotFound { .. } => {
            ErrorKind::Corrupt
        }
        E::Migrate(m) => return from_migrate(label, m),
        _ => ErrorKind::Unavailable,
    };
    StoreError::new(kind, format!("{label}: {op}: {err}"))
}

/// Classifies a migration failure: a database changed behind our back or a
/// migration edited after release is `Corrupt`; anything else is the
/// underlying database error.
pub(crate) fn from_migrate(label: &str, err: &sqlx::migrate::MigrateError) -> StoreError {
    use sqlx::migrate::MigrateError as M;
    let kind = match err {
        M::Execute(e) | M::ExecuteMigration(e, _) => {
            return from_sqlx(label, "running schema migrations", e)
        }
        M::VersionMissing(_) | M::VersionMismatch(_) | M::Dirty(_) | M::VersionTooOld(..) => {
            ErrorKind::Corrupt
        }
        _ => ErrorKind::Unavailable,
    };
    StoreError::new(kind, format!("{label}: schema migrations: {err}"))
}

/// Maps a driver error code to a kind. SQLite codes are numeric (extended
/// codes; the primary code is the low byte), PostgreSQL codes are SQLSTATEs.
fn classify_database(code: Option<&str>, unique: bool) -> ErrorKind {
    if unique {
        return ErrorKind::Conflict;
    }
    let Some(code) = code else {
        return ErrorKind::Unavailable;
    };
    if let Ok(n) = code.parse::<i64>() {
        // SQLite.
        return match n & 0xff {
            11 | 26 => ErrorKind::Corrupt,      // SQLITE_CORRUPT, SQLITE_NOTADB
            13 => ErrorKind::Full,              // SQLITE_FULL
            19 | 20 | 25 => ErrorKind::Invalid, // CONSTRAINT, MISMATCH, RANGE
            _ => ErrorKind::Unavailable,        // BUSY, LOCKED, IOERR, CANTOPEN, READONLY...
        };
    }
    // PostgreSQL SQLSTATE.
    match code {
        "53100" => ErrorKind::Full,
        "XX001" | "XX002" => ErrorKind::Corrupt,
        "23505" => ErrorKind::Conflict,
        c if c.starts_with("22") || c.starts_with("23") || c.starts_with("42") => {
            ErrorKind::Invalid
        }
        _ => ErrorKind::Unavailable,
    }
}
