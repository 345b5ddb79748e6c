//! Shared test helpers: temporary directories, throw-away PostgreSQL
//! databases, and sample records.

#![allow(dead_code, missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use phishgate_store::{
    AttachmentRecord, Direction, HistoryRecord, NewQuarantined, NewReport, Store, SymbolRecord,
};
use sqlx::Connection as _;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn unique() -> String {
    format!(
        "{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        let dir = std::env::temp_dir().join(format!("phishgate-store-test-{}", unique()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The PostgreSQL server the tests use: `PHISHGATE_TEST_PG_URL` or the
/// local one. Tests fail (never skip) when it is unreachable.
pub fn pg_base_url() -> String {
    std::env::var("PHISHGATE_TEST_PG_URL")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// `base` with its database name replaced.
pub fn pg_url_with_db(base: &str, db: &str) -> String {
    let (scheme, rest) = base.split_once("://").unwrap();
    let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(auth_end);
    let query = tail.find('?').map(|i| &tail[i..]).unwrap_or("");
    format!("{scheme}://{authority}/{db}{query}")
}

async fn pg_admin() -> sqlx::PgConnection {
    let url = pg_base_url();
    match tokio::time::timeout(Duration::from_secs(10), sqlx::PgConnection::connect(&url)).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => panic!(
            "PostgreSQL is required for these tests and is not reachable at {url}: {e}. \
             Start it (see .ci) or set PHISHGATE_TEST_PG_URL."
        ),
        Err(_) => panic!(
            "PostgreSQL is required for these tests and did not answer at {url} within 10 s. \
             Start it or set PHISHGATE_TEST_PG_URL."
        ),
    }
}

/// A throw-away database `phishgate_test_<pid>_<n>`; call [`PgDb::drop_db`]
/// at the end. Databases left by dead test processes are dropped on creation.
pub struct PgDb {
    pub name: String,
    pub url: String,
}

impl PgDb {
    pub async fn create() -> PgDb {
        let mut admin = pg_admin().await;
        let stale: Vec<String> = sqlx::query_scalar(
            "SELECT datname FROM pg_database WHERE datname LIKE 'phishgate\\_test\\_%'",
        )
        .fetch_all(&mut admin)
        .await
        .unwrap();
        for name in stale {
            let pid = name
                .trim_start_matches("phishgate_test_")
                .split('_')
                .next()
                .unwrap_or("");
            if !pid.is_empty() && !Path::new("/proc").join(pid).exists() {
                let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                )))
                .execute(&mut admin)
                .await;
            }
        }
        let name = format!("phishgate_test_{}", unique());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
        let url = pg_url_with_db(&pg_base_url(), &name);
        PgDb { name, url }
    }

    pub async fn drop_db(&self) {
        let mut admin = pg_admin().await;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            self.name
        )))
        .execute(&mut admin)
        .await
        .unwrap();
    }
}

/// One database of one backend, from which several `Store` handles can be
/// opened (for memory, clones of one store).
pub enum TestDb {
    Memory(Store),
    Sqlite(TempDir),
    Postgres(PgDb),
}

impl TestDb {
    pub async fn new(kind: &str) -> TestDb {
        match kind {
            "memory" => TestDb::Memory(Store::memory()),
            "sqlite" => TestDb::Sqlite(TempDir::new()),
            "postgres" => TestDb::Postgres(PgDb::create().await),
            other => panic!("unknown backend {other}"),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            TestDb::Memory(_) => "memory",
            TestDb::Sqlite(_) => "sqlite",
            TestDb::Postgres(_) => "postgres",
        }
    }

    pub fn sqlite_path(&self) -> Option<PathBuf> {
        match self {
            TestDb::Sqlite(d) => Some(d.path().join(phishgate_store::SQLITE_FILE)),
            _ => None,
        }
    }

    /// A new handle on the same database.
    pub async fn open(&self) -> Store {
        match self {
            TestDb::Memory(s) => s.clone(),
            TestDb::Sqlite(d) => Store::open("", d.path()).await.unwrap(),
            TestDb::Postgres(p) => Store::open(&p.url, Path::new("/nonexistent"))
                .await
                .unwrap(),
        }
    }

    /// Replaces the stored compressed bytes of a quarantined message behind
    /// the store's back (to test checksum verification).
    pub async fn overwrite_blob(&self, id: &str, blob: Vec<u8>) {
        self.overwrite_bytes("quarantine", "raw", "id", id, blob)
            .await;
    }

    /// Sets `table.column` of the row whose `key_column` is `key` behind
    /// the store's back (to test checksum verification).
    pub async fn overwrite_bytes(
        &self,
        table: &str,
        column: &str,
        key_column: &str,
        key: &str,
        bytes: Vec<u8>,
    ) {
        let sql = format!("UPDATE {table} SET {column} = $1 WHERE {key_column} = $2");
        match self {
            TestDb::Memory(_) => panic!("no SQL on the memory backend"),
            TestDb::Sqlite(_) => {
                let url = format!("sqlite://{}", self.sqlite_path().unwrap().display());
                let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
                let n = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(bytes)
                    .bind(key.to_owned())
                    .execute(&mut c)
                    .await
                    .unwrap()
                    .rows_affected();
                assert_eq!(n, 1);
                c.close().await.unwrap();
            }
            TestDb::Postgres(p) => {
                let mut c = sqlx::PgConnection::connect(&p.url).await.unwrap();
                let n = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(bytes)
                    .bind(key.to_owned())
                    .execute(&mut c)
                    .await
                    .unwrap()
                    .rows_affected();
                assert_eq!(n, 1);
                c.close().await.unwrap();
            }
        }
    }

    pub async fn cleanup(&self) {
        if let TestDb::Postgres(p) = self {
            p.drop_db().await;
        }
    }
}

/// Runs `body` against a fresh database of `kind`, always cleaning up (a
/// PostgreSQL database is dropped even when the body panics).
pub async fn with_db<F, Fut>(kind: &str, body: F)
where
    F: FnOnce(std::sync::Arc<TestDb>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let db = std::sync::Arc::new(TestDb::new(kind).await);
    let result = tokio::spawn(body(db.clone())).await;
    db.cleanup().await;
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// A sample history record; `i` varies every field deterministically.
pub fn record(i: usize, received_at: i64) -> HistoryRecord {
    let senders = [
        "alice@partner.vn",
        "Bob@Phish.TOP",
        "carol@gmail.com",
        "",
        "dave@partner.vn",
    ];
    let subjects = [
        "Xác minh tài khoản của bạn",
        "Hop dong thang 5",
        "Your mailbox is 99% full",
        "Đăng nhập để xem tài liệu",
        "Lịch họp tuần sau",
    ];
    let actions = ["accept", "warn", "quarantine", "reject"];
    HistoryRecord {
        id: format!("h{i:06}"),
        received_at,
        node: "node-a".into(),
        direction: if i.is_multiple_of(7) {
            Direction::Outbound
        } else {
            Direction::Inbound
        },
        interface: "milter".into(),
        queue_id: Some(format!("Q{i}")),
        mail_from: senders[i % senders.len()].into(),
        rcpts: vec![
            format!("user{}@laocai.gov.vn", i % 10),
            "all@laocai.gov.vn".into(),
        ],
        from_header: Some(format!("\"Sender {i}\" <{}>", senders[i % senders.len()])),
        to_header: vec![format!("user{}@laocai.gov.vn", i % 10)],
        subject: subjects[i % subjects.len()].into(),
        size: 1000 + i as u64,
        score: (i % 13) as f64 * 1.5,
        action: actions[i % actions.len()].into(),
        symbols: vec![
            SymbolRecord {
                name: format!("SYM_{}", i % 6),
                score: 1.0,
                options: vec![format!("opt{i}")],
            },
            SymbolRecord {
                name: "COMMON".into(),
                score: 0.0,
                options: vec![],
            },
        ],
        link_domains: vec![format!("link{}.example", i % 8)],
        attachments: vec![AttachmentRecord {
            name: format!("file{i}.pdf"),
            content_type: "application/pdf".into(),
            size: 10 * i as u64,
            sha256: "00".repeat(32),
        }],
        fingerprint: format!("fp{}", i % 9),
        message_id: Some(format!("<m{i}@example>")),
        quarantine_id: None,
    }
}

/// A sample quarantined message with `n` recipients and binary-ish bytes.
pub fn quarantined(id: &str, received_at: i64, n: usize) -> NewQuarantined {
    let mut raw = format!(
        "From: \"IT Support\" <it@laocai-gov.vn.secure.top>\r\nTo: many\r\nSubject: Xác minh tài khoản {id}\r\n\r\n"
    )
    .into_bytes();
    raw.extend((0..3000u32).map(|i| (i * 7 % 256) as u8));
    raw.extend_from_slice(b"\r\n.\r\n");
    NewQuarantined {
        id: id.into(),
        received_at,
        history_id: Some(format!("hist-{id}")),
        mail_from: "it@laocai-gov.vn.secure.top".into(),
        mail_params: vec!["BODY=8BITMIME".into(), "SIZE=4000".into()],
        rcpts: (0..n)
            .map(|i| {
                (
                    format!("user{i}@laocai.gov.vn"),
                    vec![format!("ORCPT=rfc822;user{i}@laocai.gov.vn")],
                )
            })
            .collect(),
        raw,
        reason: "CRED_LURE_VI, LOOKALIKE_DOMAIN".into(),
        score: 14.5,
        action: "quarantine".into(),
        subject: format!("Xác minh tài khoản {id}"),
        from_header: Some("\"IT Support\" <it@laocai-gov.vn.secure.top>".into()),
    }
}

/// A sample user report of message number `n` (the same `n` is the same
/// message, byte for byte) by `reporter`.
pub fn new_report(reporter: &str, n: usize, received_ms: i64) -> NewReport {
    let mut raw = format!(
        "From: \"Ngân hàng\" <canh-bao@vietcombank-xacminh.top>\r\nTo: staff@laocai.gov.vn\r\n\
         Subject: Tài khoản của bạn bị khóa {n}\r\nMessage-ID: <r{n}@phish.top>\r\n\r\n"
    )
    .into_bytes();
    raw.extend((0..2000u32).map(|i| (i * 13 % 256) as u8));
    NewReport {
        reporter: reporter.into(),
        note: n
            .is_multiple_of(2)
            .then(|| format!("link asks for my password ({n})")),
        raw,
        subject: format!("Tài khoản của bạn bị khóa {n}"),
        sender: "canh-bao@vietcombank-xacminh.top".into(),
        message_id: Some(format!("<r{n}@phish.top>")),
        verdict_action: n.is_multiple_of(3).then(|| "warn".to_owned()),
        score: n.is_multiple_of(3).then_some(6.5),
        received_ms,
    }
}
