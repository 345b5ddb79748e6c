//! A database created by an earlier release is upgraded at open: the new
//! migrations run, the old data stays, and the new features work on it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
#![allow(missing_docs)]

mod common;

use std::sync::Arc;

use common::{new_report, TestDb};
use phishgate_store::Actor;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::SqlSafeStr as _;

/// Schema v1 exactly as the first release shipped it (the file must never
/// change: sqlx checks its checksum).
fn v1(sql: &'static str) -> Migrator {
    Migrator::with_migrations(vec![Migration::new(
        1,
        "init".into(),
        MigrationType::Simple,
        sql.into_sql_str(),
        false,
    )])
}

const AUDIT_ROW: &str = "INSERT INTO audit (at, who, origin, action, target, detail) \
     VALUES (1, 'old', 'cli', 'quarantine.delete', 'q1', 'kept across the upgrade')";

async fn upgrade(db: Arc<TestDb>) {
    // A database as the previous release left it: schema v1 and some data.
    // (Through a pool, as the store migrates: `Migrator::run` on a bare
    // connection is not `Send` inside a spawned task.)
    match &*db {
        TestDb::Sqlite(_) => {
            let url = format!("sqlite://{}?mode=rwc", db.sqlite_path().unwrap().display());
            let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
            v1(include_str!("../migrations/sqlite/0001_init.sql"))
                .run(&pool)
                .await
                .unwrap();
            sqlx::query(AUDIT_ROW).execute(&pool).await.unwrap();
            pool.close().await;
        }
        TestDb::Postgres(p) => {
            let pool = sqlx::PgPool::connect(&p.url).await.unwrap();
            v1(include_str!("../migrations/postgres/0001_init.sql"))
                .run(&pool)
                .await
                .unwrap();
            sqlx::query(AUDIT_ROW).execute(&pool).await.unwrap();
            pool.close().await;
        }
        TestDb::Memory(_) => unreachable!(),
    }

    let store = db.open().await;
    let events = store.audit_list(10, None).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].detail, "kept across the upgrade");
    let admin = Actor {
        who: "admin".into(),
        from: "cli".into(),
    };
    assert_eq!(
        store
            .model_put("main", b"model", None, &admin)
            .await
            .unwrap(),
        1
    );
    let r = store
        .report_put(&new_report("staff@laocai.gov.vn", 1, 5))
        .await
        .unwrap();
    assert_eq!(store.report_get(&r.id).await.unwrap(), Some(r));
    store.close().await;
    // Opening again runs nothing twice.
    let again = db.open().await;
    assert_eq!(again.model_version("main").await.unwrap(), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_v1_database_is_upgraded() {
    common::with_db("sqlite", upgrade).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_v1_database_is_upgraded() {
    common::with_db("postgres", upgrade).await;
}
