//! Every history filter and the report list (with or without its status
//! filter) are served by an index, on SQLite and PostgreSQL: the plan of
//! each query is checked for the expected index and for the absence of a
//! full scan of any table.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
#![allow(missing_docs)]

mod common;

use std::sync::Arc;

use common::{record, TestDb};
use phishgate_store::{HistoryQuery, HistoryRecord, ReportQuery, ReportStatus, Store};

const T0: i64 = 1_700_000_000_000;

/// (name, query, what the plan must mention on SQLite, on PostgreSQL)
fn cases() -> Vec<(&'static str, HistoryQuery, &'static str, &'static str)> {
    let base = HistoryQuery::default();
    vec![
        ("no filter", base.clone(), "history_time", "history_time"),
        (
            "sender",
            HistoryQuery {
                sender: Some("alice@partner.vn".into()),
                ..base.clone()
            },
            "history_by_sender ",
            "history_by_sender ",
        ),
        (
            "sender domain",
            HistoryQuery {
                sender: Some("@partner.vn".into()),
                ..base.clone()
            },
            "history_by_sender_domain",
            "history_by_sender_domain",
        ),
        (
            "recipient",
            HistoryQuery {
                recipient: Some("user3@laocai.gov.vn".into()),
                ..base.clone()
            },
            "history_rcpt_key",
            "history_rcpt_key",
        ),
        (
            "domain",
            HistoryQuery {
                domain: Some("link3.example".into()),
                ..base.clone()
            },
            "history_domain_key",
            "history_domain_key",
        ),
        (
            "symbol",
            HistoryQuery {
                symbol: Some("SYM_3".into()),
                ..base.clone()
            },
            "history_symbol_key",
            "history_symbol_key",
        ),
        (
            "action",
            HistoryQuery {
                action: Some("reject".into()),
                ..base.clone()
            },
            "history_by_action",
            "history_by_action",
        ),
        (
            "subject words",
            HistoryQuery {
                subject_words: Some("xác minh".into()),
                ..base.clone()
            },
            "history_fts VIRTUAL TABLE",
            "history_words",
        ),
        (
            "time range",
            HistoryQuery {
                since: Some(T0 + 100),
                until: Some(T0 + 200),
                ..base.clone()
            },
            "history_time",
            "history_time",
        ),
        (
            "recipient + symbol + words + time",
            HistoryQuery {
                recipient: Some("user3@laocai.gov.vn".into()),
                symbol: Some("SYM_3".into()),
                subject_words: Some("tai khoan".into()),
                since: Some(T0),
                ..base.clone()
            },
            "history_rcpt_key",
            "history_rcpt_key",
        ),
    ]
}

async fn check(db: Arc<TestDb>) {
    let store: Store = db.open().await;
    // Enough rows with varied keys that PostgreSQL's cost model prefers
    // indexes, as it does at production sizes.
    let records: Vec<HistoryRecord> = (0..20_000)
        .map(|i| {
            let mut r = record(i, T0 + i as i64);
            r.mail_from = format!("sender{}@domain{}.vn", i % 500, i % 97);
            r.rcpts = vec![format!("user{}@laocai.gov.vn", i % 400)];
            r.symbols[0].name = format!("SYM_{}", i % 150);
            r.symbols.truncate(1);
            r.link_domains = vec![format!("link{}.example", i % 300)];
            // The values searched for are selective, as a search usually is;
            // a filter matching a large share of rows may legitimately walk
            // the time index and stop after one page instead.
            r.action = if i.is_multiple_of(500) {
                "reject"
            } else {
                ["accept", "warn"][i % 2]
            }
            .into();
            r.subject = if i.is_multiple_of(500) {
                format!("Xác minh tài khoản {i}")
            } else {
                format!("Hop dong so {} thang {}", i % 1000, i % 12)
            };
            r
        })
        .collect();
    for chunk in records.chunks(2000) {
        store.record_batch(chunk).await.unwrap();
    }
    if db.kind() == "postgres" {
        // What autovacuum would have done by the time there are many rows.
        let mut c = <sqlx::PgConnection as sqlx::Connection>::connect(match &*db {
            TestDb::Postgres(p) => &p.url,
            _ => unreachable!(),
        })
        .await
        .unwrap();
        sqlx::query("ANALYZE").execute(&mut c).await.unwrap();
    }
    let mut failures = Vec::new();
    for (name, q, sqlite_index, pg_index) in cases() {
        let plan = store.history_plan(&q).await.unwrap();
        let (index, full_scan) = if db.kind() == "sqlite" {
            let full = plan.lines().any(|l| {
                let l = l.trim();
                (l.starts_with("SCAN ") && !l.contains(" USING ") && !l.contains("VIRTUAL TABLE"))
                    || (name != "no filter" && l.starts_with("SCAN h USING INDEX history_time"))
            });
            (sqlite_index, full)
        } else {
            (pg_index, plan.contains("Seq Scan"))
        };
        println!("--- {} {name}:\n{plan}", db.kind());
        if !plan.contains(index) || full_scan {
            failures.push(format!(
                "{name}: expected index {index:?}, no full scan; plan:\n{plan}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} plans:\n{}",
        db.kind(),
        failures.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_history_filters_use_indexes() {
    common::with_db("sqlite", check).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_history_filters_use_indexes() {
    common::with_db("postgres", check).await;
}

/// Runs one statement on the test database behind the store's back.
async fn execute(db: &TestDb, sql: &str) {
    use sqlx::Connection as _;
    match db {
        TestDb::Sqlite(_) => {
            let url = format!("sqlite://{}", db.sqlite_path().unwrap().display());
            let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
                .execute(&mut c)
                .await
                .unwrap();
            c.close().await.unwrap();
        }
        TestDb::Postgres(p) => {
            let mut c = sqlx::PgConnection::connect(&p.url).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
                .execute(&mut c)
                .await
                .unwrap();
            c.close().await.unwrap();
        }
        TestDb::Memory(_) => unreachable!(),
    }
}

/// (name, query, index the plan must mention, both dialects)
fn report_cases() -> Vec<(&'static str, ReportQuery, &'static str)> {
    let base = ReportQuery::default();
    let status = |s| ReportQuery {
        status: Some(s),
        ..base.clone()
    };
    vec![
        ("no filter", base.clone(), "reports_time"),
        // `new` is what the IT centre's queue asks for, and selective (1 in
        // 100 here). A status held by a large share of rows (`dismissed`)
        // may legitimately walk the time index and stop after one page, as
        // PostgreSQL chooses; that is not checked.
        ("status new", status(ReportStatus::New), "reports_by_status"),
        (
            "status new, second page",
            ReportQuery {
                cursor: Some(
                    // Hex of "1700000010000:r110000", as the store encodes it.
                    "1700000010000:r110000"
                        .bytes()
                        .map(|b| format!("{b:02x}"))
                        .collect(),
                ),
                ..status(ReportStatus::New)
            },
            "reports_by_status",
        ),
        // Every row's reporter count comes from the (sha256, reporter) index.
        ("reporter count", base.clone(), "reports_by_sha256"),
    ]
}

async fn check_reports(db: Arc<TestDb>) {
    let store: Store = db.open().await;
    // 20,000 reports, 1 in 100 still new, as after months of use. Inserted
    // in one statement: report_put's durable commit per row is not what
    // this test is about.
    let rows = "SELECT 'r' || (100000 + i), 1700000000000 + i, \
         'user' || (i % 300) || '@laocai.gov.vn', NULL, 'sha' || i, RAW, 'subject ' || i, \
         'x@phish.top', NULL, \
         CASE WHEN i % 100 = 0 THEN 'new' WHEN i % 3 = 0 THEN 'confirmed' ELSE 'dismissed' END, \
         CASE WHEN i % 100 = 0 THEN NULL ELSE 'admin' END, \
         CASE WHEN i % 100 = 0 THEN NULL ELSE 1700000000000 + i + 1000 END, NULL, NULL";
    let insert = "INSERT INTO reports (id, received_ms, reporter, note, sha256, raw, subject, \
         sender, message_id, status, decided_by, decided_ms, verdict_action, score) ";
    let sql = if db.kind() == "sqlite" {
        format!(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 19999) \
             {insert}{} FROM n",
            rows.replace("RAW", "CAST('raw' AS BLOB)")
        )
    } else {
        format!(
            "{insert}{} FROM generate_series(0, 19999) AS i",
            rows.replace("RAW", "CAST('raw' AS BYTEA)")
        )
    };
    execute(&db, &sql).await;
    // The rows are visible to the store.
    assert_eq!(
        store
            .report_list(&ReportQuery {
                status: Some(ReportStatus::New),
                limit: 1000,
                cursor: None,
            })
            .await
            .unwrap()
            .items
            .len(),
        200
    );
    if db.kind() == "postgres" {
        execute(&db, "ANALYZE").await;
    }
    let mut failures = Vec::new();
    for (name, q, index) in report_cases() {
        let plan = store.report_plan(&q).await.unwrap();
        let full_scan = if db.kind() == "sqlite" {
            plan.lines().any(|l| {
                let l = l.trim();
                l.starts_with("SCAN ") && !l.contains(" USING ")
            }) || plan.contains("USE TEMP B-TREE FOR ORDER BY")
        } else {
            plan.contains("Seq Scan") || plan.contains("Sort")
        };
        println!("--- {} reports {name}:\n{plan}", db.kind());
        if !plan.contains(index) || full_scan {
            failures.push(format!(
                "{name}: expected index {index:?}, no full scan or sort; plan:\n{plan}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} plans:\n{}",
        db.kind(),
        failures.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_report_list_uses_indexes() {
    common::with_db("sqlite", check_reports).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_report_list_uses_indexes() {
    common::with_db("postgres", check_reports).await;
}
