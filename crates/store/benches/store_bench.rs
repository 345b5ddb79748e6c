//! Store benchmark (not a test: no timed assertions). Run with
//! `cargo bench -p phishgate-store`. Reports:
//!
//! - history inserts per second in batches of 500, SQLite and PostgreSQL;
//! - quarantine write latency p50/p99 (each put durably committed: WAL fsync
//!   on SQLite, synchronous commit on PostgreSQL);
//! - history search latency per filter at `PHISHGATE_BENCH_ROWS` rows
//!   (default 1,000,000) on SQLite and PostgreSQL (`PHISHGATE_BENCH_SKIP_PG`
//!   skips the PostgreSQL half).
//!
//! PostgreSQL is the test server (`PHISHGATE_TEST_PG_URL` or the local one);
//! a throw-away database is created and dropped.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
#![allow(missing_docs)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use phishgate_store::{Direction, HistoryQuery, HistoryRecord, Store, SymbolRecord};

const T0: i64 = 1_700_000_000_000;

/// A varied record: 20,000 senders over 2,000 domains, 5,000 recipients,
/// 200 symbols, 3,000 link domains, subjects from a few templates.
fn bench_record(i: usize) -> HistoryRecord {
    let subjects = [
        "Xác minh tài khoản của bạn",
        "Hợp đồng số",
        "Your mailbox is 99% full",
        "Thông báo lịch họp tuần",
        "Báo cáo tháng",
        "Invoice",
        "Giấy mời hội nghị",
        "Cập nhật phần mềm",
    ];
    let mut r = common::record(i, T0 + i as i64 * 100);
    r.id = format!("b{i:08}");
    r.direction = Direction::Inbound;
    r.mail_from = format!("sender{}@domain{}.vn", i % 20_000, i % 2_000);
    r.rcpts = vec![format!("user{}@laocai.gov.vn", (i * 7) % 5_000)];
    r.subject = format!("{} {}", subjects[(i / 3) % subjects.len()], i % 10_000);
    // Words of graded density around the common-words crossover (2%, 0.5%).
    if i.is_multiple_of(50) {
        r.subject.push_str(" khẩn");
    }
    if i % 200 == 7 {
        r.subject.push_str(" gấp");
    }
    r.action = if i.is_multiple_of(50) {
        "quarantine"
    } else if i.is_multiple_of(10) {
        "warn"
    } else {
        "accept"
    }
    .into();
    r.symbols = vec![
        SymbolRecord {
            name: format!("SYM_{}", i % 200),
            score: 1.0,
            options: vec!["x".into()],
        },
        SymbolRecord {
            name: format!("SYM_{}", (i / 7) % 200),
            score: 0.5,
            options: vec![],
        },
    ];
    r.link_domains = vec![format!("link{}.example", i % 3_000)];
    r
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

async fn inserts(store: &Store, n: usize) -> f64 {
    let records: Vec<HistoryRecord> = (0..n).map(bench_record).collect();
    let start = Instant::now();
    for chunk in records.chunks(500) {
        store.record_batch(chunk).await.unwrap();
    }
    n as f64 / start.elapsed().as_secs_f64()
}

async fn quarantine_writes(store: &Store, n: usize) -> (Duration, Duration, Duration) {
    let mut times = Vec::with_capacity(n);
    for i in 0..n {
        let mut msg = common::quarantined(&format!("bq{i}"), T0 + i as i64, 3);
        msg.raw.extend(std::iter::repeat_n(b'A', 16 * 1024));
        let start = Instant::now();
        store.quarantine_put(&msg).await.unwrap();
        times.push(start.elapsed());
    }
    times.sort();
    (
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        *times.last().unwrap(),
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let only_search = std::env::var("PHISHGATE_BENCH_ONLY_SEARCH").is_ok();
    // `cargo bench` passes `--bench`; nothing else is accepted.
    let rows: usize = std::env::var("PHISHGATE_BENCH_ROWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);

    if !only_search {
        writes().await;
    }
    let dir = common::TempDir::new();
    // PHISHGATE_BENCH_DIR keeps the big SQLite database between runs.
    let keep = std::env::var("PHISHGATE_BENCH_DIR")
        .ok()
        .map(std::path::PathBuf::from);
    let data_dir = keep.clone().unwrap_or_else(|| dir.path().to_path_buf());
    let store = Store::open("", &data_dir).await.unwrap();
    search("SQLite", &store, rows, keep.is_some()).await;
    let size = std::fs::metadata(data_dir.join(phishgate_store::SQLITE_FILE))
        .map(|m| m.len())
        .unwrap_or(0);
    println!("  database file: {} MB", size / (1024 * 1024));
    store.close().await;

    if std::env::var("PHISHGATE_BENCH_SKIP_PG").is_err() {
        let pg = common::PgDb::create().await;
        let store = Store::open(&pg.url, dir.path()).await.unwrap();
        search("PostgreSQL", &store, rows, false).await;
        store.close().await;
        pg.drop_db().await;
    }
}

async fn writes() {
    println!("== history inserts (batches of 500, 20,000 rows)");
    let dir = common::TempDir::new();
    let sqlite = Store::open("", dir.path()).await.unwrap();
    println!("sqlite:   {:>8.0} rows/s", inserts(&sqlite, 20_000).await);
    let pg = common::PgDb::create().await;
    let pg_store = Store::open(&pg.url, dir.path()).await.unwrap();
    println!("postgres: {:>8.0} rows/s", inserts(&pg_store, 20_000).await);

    println!("== quarantine write latency (300 puts of ~19 KB, 3 recipients, durable commit)");
    let (p50, p99, max) = quarantine_writes(&sqlite, 300).await;
    println!(
        "sqlite:   p50 {}  p99 {}  max {}",
        ms(p50),
        ms(p99),
        ms(max)
    );
    let (p50, p99, max) = quarantine_writes(&pg_store, 300).await;
    println!(
        "postgres: p50 {}  p99 {}  max {}",
        ms(p50),
        ms(p99),
        ms(max)
    );
    pg_store.close().await;
    pg.drop_db().await;
    sqlite.close().await;
}

async fn search(label: &str, store: &Store, rows: usize, keep: bool) {
    println!("== history search at {rows} rows ({label})");
    let start = Instant::now();
    let batch = 5_000;
    let have = store
        .history(&HistoryQuery {
            limit: 1,
            ..HistoryQuery::default()
        })
        .await
        .unwrap();
    let mut done = if keep && !have.items.is_empty() {
        rows
    } else {
        0
    };
    while done < rows {
        let n = batch.min(rows - done);
        let records: Vec<HistoryRecord> = (done..done + n).map(bench_record).collect();
        store.record_batch(&records).await.unwrap();
        done += n;
        if done % 100_000 == 0 || done == rows {
            println!(
                "  built {done} rows in {:.1} s ({:.0} rows/s)",
                start.elapsed().as_secs_f64(),
                done as f64 / start.elapsed().as_secs_f64()
            );
        }
    }
    let base = HistoryQuery::default();
    let queries: Vec<(&str, HistoryQuery)> = vec![
        ("newest page, no filter", base.clone()),
        (
            "sender address (~50 rows)",
            HistoryQuery {
                sender: Some("sender123@domain123.vn".into()),
                ..base.clone()
            },
        ),
        (
            "sender @domain (~500 rows)",
            HistoryQuery {
                sender: Some("@domain77.vn".into()),
                ..base.clone()
            },
        ),
        (
            "recipient (~200 rows)",
            HistoryQuery {
                recipient: Some("user4321@laocai.gov.vn".into()),
                ..base.clone()
            },
        ),
        (
            "link domain (~330 rows)",
            HistoryQuery {
                domain: Some("link1234.example".into()),
                ..base.clone()
            },
        ),
        (
            "symbol (~10,000 rows)",
            HistoryQuery {
                symbol: Some("SYM_42".into()),
                ..base.clone()
            },
        ),
        (
            "action quarantine (2%)",
            HistoryQuery {
                action: Some("quarantine".into()),
                ..base.clone()
            },
        ),
        (
            "subject words, rare (~12 rows)",
            HistoryQuery {
                subject_words: Some("xac minh 1234".into()),
                ..base.clone()
            },
        ),
        (
            "subject words, 1/8 of rows",
            HistoryQuery {
                subject_words: Some("xác minh tài khoản".into()),
                ..base.clone()
            },
        ),
        (
            "subject words, 2% of rows",
            HistoryQuery {
                subject_words: Some("khan".into()),
                ..base.clone()
            },
        ),
        (
            "subject words, 0.5% of rows",
            HistoryQuery {
                subject_words: Some("gap".into()),
                ..base.clone()
            },
        ),
        (
            "subject words, none has all",
            HistoryQuery {
                subject_words: Some("gap hop dong".into()),
                ..base.clone()
            },
        ),
        (
            "time range (1 hour)",
            HistoryQuery {
                since: Some(T0 + 50_000_000),
                until: Some(T0 + 53_600_000),
                ..base.clone()
            },
        ),
        (
            "recipient + action + since",
            HistoryQuery {
                recipient: Some("user4321@laocai.gov.vn".into()),
                action: Some("accept".into()),
                since: Some(T0),
                ..base.clone()
            },
        ),
    ];
    for (name, q) in &queries {
        let mut times = Vec::new();
        let mut count = 0;
        for _ in 0..20 {
            let start = Instant::now();
            let page = store.history(q).await.unwrap();
            times.push(start.elapsed());
            count = page.items.len();
        }
        times.sort();
        println!(
            "  {name:<34} page of {count:>2}: p50 {}  p99 {}",
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.99))
        );
    }
    // A deep page: the cost of keyset pagination does not grow with depth.
    let mut q = HistoryQuery {
        limit: 100,
        ..base.clone()
    };
    for _ in 0..100 {
        q.cursor = store.history(&q).await.unwrap().next_cursor;
    }
    let start = Instant::now();
    let page = store.history(&q).await.unwrap();
    println!(
        "  page 101 of the unfiltered list ({} rows): {}",
        page.items.len(),
        ms(start.elapsed())
    );
    let start = Instant::now();
    let purged = if keep {
        0
    } else {
        store.purge_history(T0 + 10_000 * 100).await.unwrap()
    };
    println!(
        "  purge of the oldest {purged} rows: {}",
        ms(start.elapsed())
    );
}
