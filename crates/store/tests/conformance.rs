//! One conformance suite, run against every backend: in-memory, SQLite (a
//! temporary file) and PostgreSQL (a throw-away database on the real server;
//! these tests fail, never skip, when it is unreachable).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
#![allow(missing_docs)]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use common::{new_report, quarantined, record, TestDb};
use phishgate_store::{
    Actor, ErrorKind, HistoryQuery, HistoryRecord, QuarantineQuery, RcptState, ReleaseOutcome,
    ReportEntry, ReportQuery, ReportStatus, Store,
};

const T0: i64 = 1_700_000_000_000;

fn actor(who: &str) -> Actor {
    Actor {
        who: who.into(),
        from: format!("{who}@console-host"),
    }
}

fn ids(items: &[HistoryRecord]) -> Vec<String> {
    items.iter().map(|r| r.id.clone()).collect()
}

/// Ids of `records` matching `pred`, newest first (page order).
fn expected(records: &[HistoryRecord], pred: impl Fn(&HistoryRecord) -> bool) -> Vec<String> {
    let mut v: Vec<&HistoryRecord> = records.iter().filter(|r| pred(r)).collect();
    v.sort_by(|a, b| (b.received_at, &b.id).cmp(&(a.received_at, &a.id)));
    v.into_iter().map(|r| r.id.clone()).collect()
}

/// Every page of a query, following cursors.
async fn all_pages(store: &Store, mut q: HistoryQuery) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..1000 {
        let page = store.history(&q).await.unwrap();
        assert!(page.items.len() <= q.limit as usize);
        out.extend(ids(&page.items));
        match page.next_cursor {
            Some(c) => q.cursor = Some(c),
            None => return out,
        }
    }
    panic!("pagination did not end");
}

// ------------------------------------------------------------------ history

async fn history_filters(db: Arc<TestDb>) {
    let store = db.open().await;
    let records: Vec<HistoryRecord> = (0..120)
        .map(|i| record(i, T0 + (i as i64) * 1000))
        .collect();
    store.record_batch(&records[..60]).await.unwrap();
    for r in &records[60..] {
        store.record(r).await.unwrap();
    }
    // Recording again is a no-op, not a duplicate.
    store.record_batch(&records[..10]).await.unwrap();

    let q = |f: fn(&mut HistoryQuery)| {
        let mut q = HistoryQuery {
            limit: 1000,
            ..HistoryQuery::default()
        };
        f(&mut q);
        q
    };
    let cases: Vec<(&str, HistoryQuery, Vec<String>)> = vec![
        ("all", q(|_| {}), expected(&records, |_| true)),
        (
            "sender address, case-insensitive",
            q(|q| q.sender = Some("BOB@phish.top".into())),
            expected(&records, |r| r.mail_from == "Bob@Phish.TOP"),
        ),
        (
            "sender domain",
            q(|q| q.sender = Some("@partner.vn".into())),
            expected(&records, |r| r.mail_from.ends_with("@partner.vn")),
        ),
        (
            "recipient",
            q(|q| q.recipient = Some("User3@laocai.gov.vn".into())),
            expected(&records, |r| {
                r.rcpts.contains(&"user3@laocai.gov.vn".to_string())
            }),
        ),
        (
            "link domain",
            q(|q| q.domain = Some("link5.example".into())),
            expected(&records, |r| {
                r.link_domains.contains(&"link5.example".to_string())
            }),
        ),
        (
            "sender's domain via the domain filter",
            q(|q| q.domain = Some("gmail.com".into())),
            expected(&records, |r| r.mail_from == "carol@gmail.com"),
        ),
        (
            "action",
            q(|q| q.action = Some("quarantine".into())),
            expected(&records, |r| r.action == "quarantine"),
        ),
        (
            "symbol",
            q(|q| q.symbol = Some("SYM_4".into())),
            expected(&records, |r| r.symbols.iter().any(|s| s.name == "SYM_4")),
        ),
        (
            "subject words",
            q(|q| q.subject_words = Some("mailbox FULL".into())),
            expected(&records, |r| r.subject.starts_with("Your mailbox")),
        ),
        (
            "time range",
            q(|q| {
                q.since = Some(T0 + 10_000);
                q.until = Some(T0 + 20_000);
            }),
            expected(&records, |r| {
                r.received_at >= T0 + 10_000 && r.received_at < T0 + 20_000
            }),
        ),
        (
            "combined: recipient + action + since",
            q(|q| {
                q.recipient = Some("user2@laocai.gov.vn".into());
                q.action = Some("quarantine".into());
                q.since = Some(T0 + 30_000);
            }),
            expected(&records, |r| {
                r.rcpts[0] == "user2@laocai.gov.vn"
                    && r.action == "quarantine"
                    && r.received_at >= T0 + 30_000
            }),
        ),
        (
            "combined: domain + symbol + words",
            q(|q| {
                q.domain = Some("partner.vn".into());
                q.symbol = Some("COMMON".into());
                q.subject_words = Some("xac minh".into());
            }),
            expected(&records, |r| {
                r.mail_from.ends_with("@partner.vn") && r.subject.starts_with("Xác minh")
            }),
        ),
        (
            "combined: sender + symbol",
            q(|q| {
                q.sender = Some("alice@partner.vn".into());
                q.symbol = Some("SYM_0".into());
            }),
            expected(&records, |r| {
                r.mail_from == "alice@partner.vn" && r.symbols[0].name == "SYM_0"
            }),
        ),
        (
            "nothing matches",
            q(|q| q.recipient = Some("nobody@x".into())),
            vec![],
        ),
    ];
    for (name, query, want) in cases {
        assert!(
            name == "nothing matches" || !want.is_empty(),
            "{name}: test data selects nothing"
        );
        let page = store.history(&query).await.unwrap();
        assert_eq!(
            ids(&page.items),
            want,
            "{} backend, filter {name}",
            db.kind()
        );
        assert_eq!(page.next_cursor, None);
    }

    // Round trip of every field.
    let got = store.history_get("h000042").await.unwrap().unwrap();
    assert_eq!(got, records[42]);
    assert_eq!(store.history_get("nope").await.unwrap(), None);

    // A bad cursor is Invalid, not a panic.
    let err = store
        .history(&HistoryQuery {
            cursor: Some("zz-not-hex".into()),
            ..HistoryQuery::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
}

async fn history_pagination(db: Arc<TestDb>) {
    let store = db.open().await;
    // 250 rows, several sharing a timestamp so the id breaks ties.
    let records: Vec<HistoryRecord> = (0..250)
        .map(|i| record(i, T0 + (i as i64 / 3) * 10))
        .collect();
    store.record_batch(&records).await.unwrap();
    let want = expected(&records, |_| true);
    for limit in [1, 7, 50, 249, 250, 1000] {
        let got = all_pages(
            &store,
            HistoryQuery {
                limit,
                ..HistoryQuery::default()
            },
        )
        .await;
        assert_eq!(got, want, "{} limit {limit}", db.kind());
    }
    // Default limit is 50.
    let page = store.history(&HistoryQuery::default()).await.unwrap();
    assert_eq!(page.items.len(), 50);
    // Filtered pagination, through each driving index.
    for q in [
        HistoryQuery {
            recipient: Some("all@laocai.gov.vn".into()),
            limit: 9,
            ..HistoryQuery::default()
        },
        HistoryQuery {
            symbol: Some("COMMON".into()),
            limit: 11,
            ..HistoryQuery::default()
        },
        HistoryQuery {
            domain: Some("partner.vn".into()),
            limit: 4,
            ..HistoryQuery::default()
        },
        HistoryQuery {
            sender: Some("@partner.vn".into()),
            limit: 6,
            ..HistoryQuery::default()
        },
        HistoryQuery {
            subject_words: Some("tai khoan".into()),
            limit: 5,
            ..HistoryQuery::default()
        },
    ] {
        let got = all_pages(&store, q.clone()).await;
        let mut all = q.clone();
        all.limit = 1000;
        let once = ids(&store.history(&all).await.unwrap().items);
        assert!(!once.is_empty());
        assert_eq!(got, once, "{} {q:?}", db.kind());
        let unique: BTreeSet<&String> = got.iter().collect();
        assert_eq!(unique.len(), got.len(), "duplicates in {q:?}");
    }
    // Rows inserted between page requests cause no gap and no duplicate.
    let mut q = HistoryQuery {
        limit: 20,
        ..HistoryQuery::default()
    };
    let first = store.history(&q).await.unwrap();
    store.record(&record(9999, T0 + 1_000_000)).await.unwrap();
    q.cursor = first.next_cursor.clone();
    let rest = all_pages(&store, q).await;
    let mut seen = ids(&first.items);
    seen.extend(rest);
    assert_eq!(seen, want);
}

async fn subject_words(db: Arc<TestDb>) {
    let store = db.open().await;
    let subjects = [
        ("s1", "Xac minh tai khoan"),
        ("s2", "XÁC MINH tài khoản ngay"),
        ("s3", "Đăng nhập hệ thống"),
        ("s4", "dang nhap he thong"),
        ("s5", "Xác nhận lịch họp"),
        ("s6", "Tài khoản của bạn sẽ bị tạm ngưng"),
    ];
    for (i, (id, subject)) in subjects.iter().enumerate() {
        let mut r = record(i, T0 + i as i64);
        r.id = (*id).into();
        r.subject = (*subject).into();
        store.record(&r).await.unwrap();
    }
    let find = |words: &'static str| {
        let store = store.clone();
        async move {
            let page = store
                .history(&HistoryQuery {
                    subject_words: Some(words.into()),
                    ..HistoryQuery::default()
                })
                .await
                .unwrap();
            let mut v = ids(&page.items);
            v.sort();
            v
        }
    };
    // Every plan gives the same answers: full-text index then sort, a walk
    // of the newest rows testing each row's words, and the default (a short
    // walk, then the full-text index).
    for window in [0, i64::MAX, 3, 20_000] {
        store.set_words_walk_window(window);
        assert_eq!(find("xác minh").await, ["s1", "s2"]);
        assert_eq!(find("Xac Minh").await, ["s1", "s2"]);
        assert_eq!(find("xac minh ngay").await, ["s2"]);
        assert_eq!(find("đăng nhập").await, ["s3", "s4"]);
        assert_eq!(find("DANG NHAP").await, ["s3", "s4"]);
        assert_eq!(find("tài khoản").await, ["s1", "s2", "s6"]);
        assert_eq!(find("tam ngung").await, ["s6"]);
        assert_eq!(find("xac").await, ["s1", "s2", "s5"]);
        // Whole words: a prefix is not a word.
        assert!(find("xa").await.is_empty());
        assert!(find("minh nhap").await.is_empty());
        // Punctuation-only input is no filter at all.
        assert_eq!(find("!!").await.len(), 6);
    }
    // Pages of common words: every row once, in order.
    for i in 0..30 {
        let mut r = record(100 + i, T0 + 1000 + (i as i64 % 7));
        r.id = format!("c{i:02}");
        r.subject = format!("Báo cáo tài khoản {i}");
        store.record(&r).await.unwrap();
    }
    let q = HistoryQuery {
        subject_words: Some("tai khoan".into()),
        limit: 4,
        ..HistoryQuery::default()
    };
    store.set_words_walk_window(0);
    let full_text = all_pages(&store, q.clone()).await;
    assert_eq!(full_text.len(), 33);
    for window in [i64::MAX, 5, 20_000] {
        store.set_words_walk_window(window);
        let walked = all_pages(&store, q.clone()).await;
        assert_eq!(full_text, walked, "{} backend, window {window}", db.kind());
    }
}

async fn purge(db: Arc<TestDb>) {
    let store = db.open().await;
    let records: Vec<HistoryRecord> = (0..300).map(|i| record(i, T0 + i as i64)).collect();
    store.record_batch(&records).await.unwrap();
    assert_eq!(store.purge_history(T0 + 250).await.unwrap(), 250);
    assert_eq!(store.purge_history(T0 + 250).await.unwrap(), 0);
    let left = all_pages(
        &store,
        HistoryQuery {
            limit: 1000,
            ..HistoryQuery::default()
        },
    )
    .await;
    assert_eq!(left, expected(&records, |r| r.received_at >= T0 + 250));
    // Side rows went too: every filter agrees with the remaining rows.
    for q in [
        HistoryQuery {
            recipient: Some("all@laocai.gov.vn".into()),
            ..HistoryQuery::default()
        },
        HistoryQuery {
            symbol: Some("COMMON".into()),
            ..HistoryQuery::default()
        },
        HistoryQuery {
            domain: Some("link1.example".into()),
            ..HistoryQuery::default()
        },
        HistoryQuery {
            subject_words: Some("mailbox".into()),
            ..HistoryQuery::default()
        },
    ] {
        for r in store.history(&q).await.unwrap().items {
            assert!(r.received_at >= T0 + 250, "{q:?} returned purged {}", r.id);
        }
    }
    assert_eq!(store.history_get("h000001").await.unwrap(), None);
    // Purged ids can be recorded again.
    store.record(&records[1]).await.unwrap();
    assert!(store.history_get("h000001").await.unwrap().is_some());
}

// --------------------------------------------------------------- quarantine

async fn quarantine_round_trip(db: Arc<TestDb>) {
    let store = db.open().await;
    let msg = quarantined("q1", T0, 3);
    store.quarantine_put(&msg).await.unwrap();
    // Idempotent put; a different message under the same id conflicts.
    store.quarantine_put(&msg).await.unwrap();
    let mut other = msg.clone();
    other.raw.push(b'x');
    assert_eq!(
        store.quarantine_put(&other).await.unwrap_err().kind(),
        ErrorKind::Conflict
    );

    assert_eq!(store.quarantine_raw("q1").await.unwrap(), msg.raw);
    let e = store.quarantine_get("q1").await.unwrap().unwrap();
    assert_eq!(e.id, "q1");
    assert_eq!(e.received_at, T0);
    assert_eq!(e.history_id.as_deref(), Some("hist-q1"));
    assert_eq!(e.mail_from, msg.mail_from);
    assert_eq!(e.mail_params, msg.mail_params);
    assert_eq!(e.subject, msg.subject);
    assert_eq!(e.from_header, msg.from_header);
    assert_eq!(e.reason, msg.reason);
    assert_eq!(e.score, msg.score);
    assert_eq!(e.size, msg.raw.len() as u64);
    assert_eq!(e.sha256.len(), 64);
    assert!(e.raw_available);
    let rcpts: Vec<(String, Vec<String>)> = e
        .rcpts
        .iter()
        .map(|r| (r.address.clone(), r.params.clone()))
        .collect();
    assert_eq!(rcpts, msg.rcpts);
    assert!(e
        .rcpts
        .iter()
        .all(|r| r.state == RcptState::Held && r.changed_by.is_none()));

    assert_eq!(store.quarantine_get("nope").await.unwrap(), None);
    assert_eq!(
        store.quarantine_raw("nope").await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    let mut empty = quarantined("q-empty", T0, 0);
    empty.rcpts.clear();
    assert_eq!(
        store.quarantine_put(&empty).await.unwrap_err().kind(),
        ErrorKind::Invalid
    );
    let a = actor("op");
    for err in [
        store
            .quarantine_claim("nope", None, &a, 60_000)
            .await
            .unwrap_err(),
        store.quarantine_delete("nope", None, &a).await.unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::NotFound);
    }

    // Listing with filters and pagination.
    for i in 0..30 {
        let mut m = quarantined(&format!("l{i:02}"), T0 + 100 + i, 2);
        if i % 3 == 0 {
            m.mail_from = "boss@ceo-fake.com".into();
        }
        store.quarantine_put(&m).await.unwrap();
    }
    store.quarantine_delete("l05", None, &a).await.unwrap();
    let mut q = QuarantineQuery {
        limit: 7,
        ..QuarantineQuery::default()
    };
    let mut listed = Vec::new();
    loop {
        let page = store.quarantine_list(&q).await.unwrap();
        listed.extend(page.items.iter().map(|e| e.id.clone()));
        assert!(page
            .items
            .iter()
            .all(|e| e.rcpts.len() == 2 || e.id == "q1"));
        match page.next_cursor {
            Some(c) => q.cursor = Some(c),
            None => break,
        }
    }
    let mut want: Vec<String> = (0..30).rev().map(|i| format!("l{i:02}")).collect();
    want.push("q1".into());
    assert_eq!(listed, want);
    let by = |q: QuarantineQuery| {
        let store = store.clone();
        async move {
            store
                .quarantine_list(&q)
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|e| e.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        by(QuarantineQuery {
            state: Some(RcptState::Deleted),
            ..Default::default()
        })
        .await,
        ["l05"]
    );
    assert_eq!(
        by(QuarantineQuery {
            state: Some(RcptState::Held),
            ..Default::default()
        })
        .await
        .len(),
        30
    );
    assert_eq!(
        by(QuarantineQuery {
            sender: Some("BOSS@ceo-fake.com".into()),
            ..Default::default()
        })
        .await
        .len(),
        10
    );
    assert_eq!(
        by(QuarantineQuery {
            sender: Some("@ceo-fake.com".into()),
            ..Default::default()
        })
        .await
        .len(),
        10
    );
    assert_eq!(
        by(QuarantineQuery {
            recipient: Some("user2@laocai.gov.vn".into()),
            ..Default::default()
        })
        .await,
        ["q1"]
    );
    assert_eq!(
        by(QuarantineQuery {
            since: Some(T0 + 110),
            until: Some(T0 + 113),
            ..Default::default()
        })
        .await,
        ["l12", "l11", "l10"]
    );
}

async fn per_recipient_release(db: Arc<TestDb>) {
    let store = db.open().await;
    let msg = quarantined("big", T0, 50);
    store.quarantine_put(&msg).await.unwrap();
    let alice = actor("alice");
    let target = vec!["USER17@laocai.gov.vn".to_string()];

    let claim = store
        .quarantine_claim("big", Some(&target), &alice, 600_000)
        .await
        .unwrap();
    assert_eq!(claim.rcpts, vec![msg.rcpts[17].clone()]);
    // While it is releasing, a second claim and a delete leave it alone.
    let again = store
        .quarantine_claim("big", Some(&target), &alice, 600_000)
        .await
        .unwrap();
    assert!(again.rcpts.is_empty());
    assert_eq!(
        store
            .quarantine_delete("big", Some(&target), &alice)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .quarantine_finish("big", &claim.token, ReleaseOutcome::Released)
            .await
            .unwrap(),
        1
    );
    // Finishing twice is a no-op.
    assert_eq!(
        store
            .quarantine_finish("big", &claim.token, ReleaseOutcome::Released)
            .await
            .unwrap(),
        0
    );

    let e = store.quarantine_get("big").await.unwrap().unwrap();
    for (i, r) in e.rcpts.iter().enumerate() {
        let want = if i == 17 {
            RcptState::Released
        } else {
            RcptState::Held
        };
        assert_eq!(r.state, want, "recipient {i}");
    }
    assert_eq!(e.rcpts[17].changed_by.as_deref(), Some("alice"));

    // Idempotent release: the released recipient cannot be claimed again.
    assert!(store
        .quarantine_claim("big", Some(&target), &alice, 0)
        .await
        .unwrap()
        .rcpts
        .is_empty());
    // Delete the rest, twice.
    assert_eq!(
        store.quarantine_delete("big", None, &alice).await.unwrap(),
        49
    );
    assert_eq!(
        store.quarantine_delete("big", None, &alice).await.unwrap(),
        0
    );
    assert!(store
        .quarantine_claim("big", None, &alice, 0)
        .await
        .unwrap()
        .rcpts
        .is_empty());
    let e = store.quarantine_get("big").await.unwrap().unwrap();
    assert_eq!(
        e.rcpts
            .iter()
            .filter(|r| r.state == RcptState::Deleted)
            .count(),
        49
    );
    assert_eq!(e.rcpts[17].state, RcptState::Released);
    // The bytes are still there for review until expiry.
    assert_eq!(store.quarantine_raw("big").await.unwrap(), msg.raw);

    // A failed release puts recipients back to held, and they can be claimed again.
    store
        .quarantine_put(&quarantined("retry", T0, 2))
        .await
        .unwrap();
    let c = store
        .quarantine_claim("retry", None, &alice, 600_000)
        .await
        .unwrap();
    assert_eq!(c.rcpts.len(), 2);
    assert_eq!(
        store
            .quarantine_finish("retry", &c.token, ReleaseOutcome::Failed)
            .await
            .unwrap(),
        2
    );
    let e = store.quarantine_get("retry").await.unwrap().unwrap();
    assert!(e.rcpts.iter().all(|r| r.state == RcptState::Held));
    let c2 = store
        .quarantine_claim("retry", None, &alice, 600_000)
        .await
        .unwrap();
    assert_eq!(c2.rcpts.len(), 2);
    assert_ne!(c2.token, c.token);
    // A wrong token finishes nothing.
    assert_eq!(
        store
            .quarantine_finish("retry", "not-the-token", ReleaseOutcome::Released)
            .await
            .unwrap(),
        0
    );
}

async fn concurrent_claims(db: Arc<TestDb>) {
    let a = db.open().await;
    let b = db.open().await;
    for i in 0..15 {
        let id = format!("race{i}");
        a.quarantine_put(&quarantined(&id, T0 + i, 5))
            .await
            .unwrap();
        let (ra, rb) = tokio::join!(
            {
                let (a, id) = (a.clone(), id.clone());
                tokio::spawn(async move {
                    a.quarantine_claim(&id, None, &actor("node-a"), 600_000)
                        .await
                        .unwrap()
                })
            },
            {
                let (b, id) = (b.clone(), id.clone());
                tokio::spawn(async move {
                    b.quarantine_claim(&id, None, &actor("node-b"), 600_000)
                        .await
                        .unwrap()
                })
            }
        );
        let (ca, cb) = (ra.unwrap(), rb.unwrap());
        // Exactly one claim gets all five recipients.
        let mut got = [ca.rcpts.len(), cb.rcpts.len()];
        got.sort();
        assert_eq!(got, [0, 5], "{} race {i}", db.kind());
        let winner = if ca.rcpts.is_empty() {
            (&b, cb)
        } else {
            (&a, ca)
        };
        assert_eq!(
            winner
                .0
                .quarantine_finish(&id, &winner.1.token, ReleaseOutcome::Released)
                .await
                .unwrap(),
            5
        );
        let e = b.quarantine_get(&id).await.unwrap().unwrap();
        assert!(e.rcpts.iter().all(|r| r.state == RcptState::Released));
    }
}

async fn stale_reclaim(db: Arc<TestDb>) {
    let store = db.open().await;
    store
        .quarantine_put(&quarantined("stale", T0, 3))
        .await
        .unwrap();
    let crashed = store
        .quarantine_claim("stale", None, &actor("node-a"), 600_000)
        .await
        .unwrap();
    assert_eq!(crashed.rcpts.len(), 3);
    // Not stale yet for a 10-minute threshold.
    assert!(store
        .quarantine_claim("stale", None, &actor("node-b"), 600_000)
        .await
        .unwrap()
        .rcpts
        .is_empty());
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    // Stale after 10 ms: node B takes over.
    let rescue = store
        .quarantine_claim("stale", None, &actor("node-b"), 10)
        .await
        .unwrap();
    assert_eq!(rescue.rcpts.len(), 3);
    // The crashed claim's late finish changes nothing.
    assert_eq!(
        store
            .quarantine_finish("stale", &crashed.token, ReleaseOutcome::Released)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .quarantine_finish("stale", &rescue.token, ReleaseOutcome::Released)
            .await
            .unwrap(),
        3
    );
    let e = store.quarantine_get("stale").await.unwrap().unwrap();
    assert!(e
        .rcpts
        .iter()
        .all(|r| r.state == RcptState::Released && r.changed_by.as_deref() == Some("node-b")));
}

async fn expire(db: Arc<TestDb>) {
    let store = db.open().await;
    let a = actor("expiry");
    store
        .quarantine_put(&quarantined("old", T0, 2))
        .await
        .unwrap();
    store
        .quarantine_put(&quarantined("old-releasing", T0 + 1, 2))
        .await
        .unwrap();
    store
        .quarantine_put(&quarantined("old-deleted", T0 + 2, 1))
        .await
        .unwrap();
    store
        .quarantine_put(&quarantined("new", T0 + 100_000, 2))
        .await
        .unwrap();
    let claim = store
        .quarantine_claim(
            "old-releasing",
            Some(&["user0@laocai.gov.vn".to_string()]),
            &actor("op"),
            600_000,
        )
        .await
        .unwrap();
    assert_eq!(claim.rcpts.len(), 1);
    store
        .quarantine_delete("old-deleted", None, &actor("op"))
        .await
        .unwrap();

    // old: 2, old-releasing: 1 (the other is releasing).
    assert_eq!(store.quarantine_expire(T0 + 50_000, &a).await.unwrap(), 3);
    assert_eq!(store.quarantine_expire(T0 + 50_000, &a).await.unwrap(), 0);

    let old = store.quarantine_get("old").await.unwrap().unwrap();
    assert!(old.rcpts.iter().all(|r| r.state == RcptState::Expired));
    assert!(!old.raw_available);
    assert_eq!(
        store.quarantine_raw("old").await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    // Deleted and old: bytes dropped too.
    assert!(
        !store
            .quarantine_get("old-deleted")
            .await
            .unwrap()
            .unwrap()
            .raw_available
    );
    // A recipient still releasing keeps the bytes.
    let rel = store
        .quarantine_get("old-releasing")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rel.rcpts[0].state, RcptState::Releasing);
    assert_eq!(rel.rcpts[1].state, RcptState::Expired);
    assert!(rel.raw_available);
    assert!(store.quarantine_raw("old-releasing").await.is_ok());
    // Newer messages are untouched.
    let new = store.quarantine_get("new").await.unwrap().unwrap();
    assert!(new.raw_available && new.rcpts.iter().all(|r| r.state == RcptState::Held));
    // Once the release finishes, the next expiry drops the bytes.
    store
        .quarantine_finish("old-releasing", &claim.token, ReleaseOutcome::Released)
        .await
        .unwrap();
    assert_eq!(store.quarantine_expire(T0 + 50_000, &a).await.unwrap(), 0);
    assert!(
        !store
            .quarantine_get("old-releasing")
            .await
            .unwrap()
            .unwrap()
            .raw_available
    );
    // Expired recipients cannot be released or deleted.
    assert!(store
        .quarantine_claim("old", None, &a, 0)
        .await
        .unwrap()
        .rcpts
        .is_empty());
    assert_eq!(store.quarantine_delete("old", None, &a).await.unwrap(), 0);
}

async fn audit(db: Arc<TestDb>) {
    let store = db.open().await;
    let before = store.audit_list(1000, None).await.unwrap().len();
    assert_eq!(before, 0);
    store
        .quarantine_put(&quarantined("aud", T0, 3))
        .await
        .unwrap();
    let alice = Actor {
        who: "alice".into(),
        from: "alice@it-pc".into(),
    };
    let bob = Actor {
        who: "bob".into(),
        from: "10.0.0.7".into(),
    };
    let c = store
        .quarantine_claim(
            "aud",
            Some(&["user0@laocai.gov.vn".to_string()]),
            &alice,
            60_000,
        )
        .await
        .unwrap();
    store
        .quarantine_finish("aud", &c.token, ReleaseOutcome::Released)
        .await
        .unwrap();
    store
        .quarantine_delete("aud", Some(&["user1@laocai.gov.vn".to_string()]), &bob)
        .await
        .unwrap();
    // No-ops are not audited.
    store
        .quarantine_delete("aud", Some(&["user1@laocai.gov.vn".to_string()]), &bob)
        .await
        .unwrap();
    store
        .quarantine_expire(
            T0 + 1,
            &Actor {
                who: "expiry".into(),
                from: "node-a".into(),
            },
        )
        .await
        .unwrap();

    let events = store.audit_list(1000, None).await.unwrap();
    let summary: Vec<(String, String, String, String)> = events
        .iter()
        .map(|e| {
            (
                e.action.clone(),
                e.who.clone(),
                e.from.clone(),
                e.detail.clone(),
            )
        })
        .collect();
    let want = [
        (
            "quarantine.expire",
            "expiry",
            "node-a",
            "user2@laocai.gov.vn",
        ),
        (
            "quarantine.delete",
            "bob",
            "10.0.0.7",
            "user1@laocai.gov.vn",
        ),
        (
            "quarantine.release",
            "alice",
            "alice@it-pc",
            "user0@laocai.gov.vn",
        ),
        (
            "quarantine.release.claim",
            "alice",
            "alice@it-pc",
            "user0@laocai.gov.vn",
        ),
    ];
    assert_eq!(events.len(), 5, "{summary:?}");
    for (got, want) in summary.iter().zip(want.iter()) {
        assert_eq!(
            (
                got.0.as_str(),
                got.1.as_str(),
                got.2.as_str(),
                got.3.as_str()
            ),
            *want
        );
    }
    assert_eq!(events[4].action, "quarantine.hold");
    assert!(events.iter().all(|e| e.target == "aud"));
    // Newest first, and since/limit work.
    assert!(events.windows(2).all(|w| w[0].at >= w[1].at));
    assert_eq!(store.audit_list(2, None).await.unwrap().len(), 2);
    assert!(store
        .audit_list(10, Some(i64::MAX))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store
            .audit_list(10, Some(events[4].at))
            .await
            .unwrap()
            .len(),
        5
    );
}

async fn sender_memory(db: Arc<TestDb>) {
    let store = db.open().await;
    let org = "laocai.gov.vn";
    // Never seen: zeros.
    let f = store.sender_facts(org, "stranger@new.top").await.unwrap();
    assert_eq!(f, phishgate_store::SenderFacts::default());

    store
        .sender_inbound(org, "Partner@Company.VN", T0 + 500)
        .await
        .unwrap();
    store
        .sender_inbound(org, "partner@company.vn", T0 + 100)
        .await
        .unwrap();
    store
        .sender_inbound(org, "partner@company.vn", T0 + 900)
        .await
        .unwrap();
    store
        .sender_inbound(org, "other@company.vn", T0 + 50)
        .await
        .unwrap();
    let f = store.sender_facts(org, "partner@company.vn").await.unwrap();
    assert_eq!(f.address_count, 3);
    assert_eq!(f.address_first_seen, Some(T0 + 100));
    assert_eq!(f.address_last_seen, Some(T0 + 900));
    assert_eq!(f.domain_count, 4);
    assert_eq!(f.domain_first_seen, Some(T0 + 50));
    assert_eq!(f.domain_last_seen, Some(T0 + 900));
    assert!(!f.address_replied && !f.domain_replied);

    // First contact from a new address of a known domain.
    let f = store.sender_facts(org, "newguy@company.vn").await.unwrap();
    assert_eq!((f.address_count, f.address_first_seen), (0, None));
    assert_eq!(f.domain_count, 4);

    // Someone in the organisation writes to the partner: replied.
    store
        .sender_outbound(org, &["PARTNER@company.vn".into()], T0 + 1000)
        .await
        .unwrap();
    let f = store.sender_facts(org, "partner@company.vn").await.unwrap();
    assert!(f.address_replied && f.domain_replied);
    assert_eq!(f.address_count, 3, "outbound does not count as inbound");
    let f = store.sender_facts(org, "other@company.vn").await.unwrap();
    assert!(!f.address_replied && f.domain_replied);

    // Written to before they ever wrote: replied, but still count 0.
    store
        .sender_outbound(org, &["friend@elsewhere.org".into(), "".into()], T0)
        .await
        .unwrap();
    let f = store
        .sender_facts(org, "friend@elsewhere.org")
        .await
        .unwrap();
    assert!(f.address_replied && f.domain_replied);
    assert_eq!(
        (f.address_count, f.address_first_seen, f.domain_count),
        (0, None, 0)
    );
    store
        .sender_inbound(org, "friend@elsewhere.org", T0 + 7)
        .await
        .unwrap();
    let f = store
        .sender_facts(org, "friend@elsewhere.org")
        .await
        .unwrap();
    assert_eq!(
        (f.address_count, f.address_first_seen, f.address_replied),
        (1, Some(T0 + 7), true)
    );

    // Organisations are separate.
    let f = store
        .sender_facts("other-org", "partner@company.vn")
        .await
        .unwrap();
    assert_eq!(f, phishgate_store::SenderFacts::default());
    // Bounces (empty sender) are ignored.
    store.sender_inbound(org, "", T0).await.unwrap();

    // Concurrent upserts from two handles (two nodes) lose no count.
    let other = db.open().await;
    let mut tasks = Vec::new();
    for i in 0..40 {
        let s = if i % 2 == 0 {
            store.clone()
        } else {
            other.clone()
        };
        tasks.push(tokio::spawn(async move {
            s.sender_inbound("race-org", "busy@sender.vn", T0 + i)
                .await
                .unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let f = store
        .sender_facts("race-org", "busy@sender.vn")
        .await
        .unwrap();
    assert_eq!(
        (f.address_count, f.address_first_seen, f.address_last_seen),
        (40, Some(T0), Some(T0 + 39))
    );
}

async fn backup(db: Arc<TestDb>) {
    let store = db.open().await;
    store
        .record_batch(
            &(0..20)
                .map(|i| record(i, T0 + i as i64))
                .collect::<Vec<_>>(),
        )
        .await
        .unwrap();
    store
        .quarantine_put(&quarantined("bk", T0, 2))
        .await
        .unwrap();
    let dir = common::TempDir::new();
    let dest = dir.path().join("copy.sqlite");
    match db.kind() {
        "sqlite" => {
            store.backup(&dest).await.unwrap();
            // A second backup onto the same file is refused, not overwritten.
            assert_eq!(
                store.backup(&dest).await.unwrap_err().kind(),
                ErrorKind::Conflict
            );
            let copy = Store::open(&format!("sqlite:{}", dest.display()), dir.path())
                .await
                .unwrap();
            assert_eq!(
                copy.history(&HistoryQuery {
                    limit: 100,
                    ..Default::default()
                })
                .await
                .unwrap()
                .items
                .len(),
                20
            );
            assert_eq!(
                copy.quarantine_raw("bk").await.unwrap(),
                store.quarantine_raw("bk").await.unwrap()
            );
            let words = copy
                .history(&HistoryQuery {
                    subject_words: Some("mailbox".into()),
                    ..Default::default()
                })
                .await
                .unwrap();
            assert_eq!(words.items.len(), 4);
        }
        "postgres" => {
            let err = store.backup(&dest).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Invalid);
            assert!(err.message().contains("pg_dump"), "{err}");
        }
        _ => assert_eq!(
            store.backup(&dest).await.unwrap_err().kind(),
            ErrorKind::Invalid
        ),
    }
    assert!(store.health().await.is_ok());
    assert_eq!(store.backend_name(), db.kind());
}

async fn checksum_mismatch(db: Arc<TestDb>) {
    if db.kind() == "memory" {
        return; // no way to reach behind the memory backend
    }
    let store = db.open().await;
    let msg = quarantined("cs", T0, 1);
    store.quarantine_put(&msg).await.unwrap();
    // Valid deflate of different bytes of the same length: decompresses, fails the checksum.
    let mut altered = msg.raw.clone();
    altered[10] ^= 1;
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut enc, &altered).unwrap();
    db.overwrite_blob("cs", enc.finish().unwrap()).await;
    let err = store.quarantine_raw("cs").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Corrupt, "{err}");
    assert!(err.message().contains("checksum"), "{err}");
    // Garbage that is not deflate at all.
    db.overwrite_blob("cs", b"\xff\xfe garbage".to_vec()).await;
    assert_eq!(
        store.quarantine_raw("cs").await.unwrap_err().kind(),
        ErrorKind::Corrupt
    );
    // Releasing it must not be possible silently: the claim works (state),
    // but the bytes are refused, so the caller fails the release.
    let c = store
        .quarantine_claim("cs", None, &actor("op"), 60_000)
        .await
        .unwrap();
    assert_eq!(c.rcpts.len(), 1);
    assert!(store.quarantine_raw("cs").await.is_err());
    store
        .quarantine_finish("cs", &c.token, ReleaseOutcome::Failed)
        .await
        .unwrap();
}

// -------------------------------------------------------- classifier models

fn sha256_hex(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `len` deterministic pseudo-random bytes, different for each `seed`.
fn model_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// The size of a real model.
const MODEL_LEN: usize = 1_500_000;

async fn model_round_trip(db: Arc<TestDb>) {
    let store = db.open().await;
    let alice = actor("alice");
    assert_eq!(store.model_version("main").await.unwrap(), None);
    assert_eq!(store.model_get("main").await.unwrap(), None);

    let v1 = model_bytes(1, MODEL_LEN);
    let before = phishgate_now();
    assert_eq!(store.model_put("main", &v1, None, &alice).await.unwrap(), 1);
    assert_eq!(store.model_version("main").await.unwrap(), Some(1));
    let got = store.model_get("main").await.unwrap().unwrap();
    assert_eq!(
        (got.name.as_str(), got.version, got.updated_by.as_str()),
        ("main", 1, "alice")
    );
    assert!(got.bytes == v1, "bytes round-trip");
    assert_eq!(got.sha256, sha256_hex(&v1));
    assert!(got.updated_ms >= before && got.updated_ms <= phishgate_now());
    // Debug shows the size, not 1.5 MB of numbers.
    assert!(format!("{got:?}").len() < 300);

    // Another node (another handle) sees the same model.
    let other = db.open().await;
    assert_eq!(other.model_version("main").await.unwrap(), Some(1));

    // Replacing from the current version: +1 each time.
    let v2 = model_bytes(2, MODEL_LEN - 7);
    assert_eq!(
        other
            .model_put("main", &v2, Some(1), &actor("bob"))
            .await
            .unwrap(),
        2
    );
    let v3 = model_bytes(3, 1000);
    assert_eq!(
        store.model_put("main", &v3, Some(2), &alice).await.unwrap(),
        3
    );
    assert_eq!(store.model_version("main").await.unwrap(), Some(3));

    // Stale expectations are conflicts and change nothing.
    let err = store
        .model_put("main", &v1, Some(2), &alice)
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "{err}");
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert!(
        err.message()
            .contains("expected version 2, found version 3"),
        "{err}"
    );
    let err = store
        .model_put("main", &v1, None, &alice)
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "{err}");
    assert!(err.message().contains("found version 3"), "{err}");
    // Expecting a version of a model that does not exist.
    let err = store
        .model_put("other", &v1, Some(1), &alice)
        .await
        .unwrap_err();
    assert!(
        err.is_conflict() && err.message().contains("no model"),
        "{err}"
    );
    assert_eq!(store.model_version("other").await.unwrap(), None);
    let got = store.model_get("main").await.unwrap().unwrap();
    assert_eq!((got.version, got.updated_by.as_str()), (3, "alice"));
    assert!(got.bytes == v3);

    // Names are separate models.
    assert_eq!(
        store.model_put("other", &v2, None, &alice).await.unwrap(),
        1
    );
    assert_eq!(store.model_version("main").await.unwrap(), Some(3));
    assert!(store.model_get("other").await.unwrap().unwrap().bytes == v2);

    // Nonsense is refused, not stored.
    for (name, bytes) in [("", &v1[..]), ("  ", &v1[..]), ("empty", &[][..])] {
        let err = store
            .model_put(name, bytes, None, &alice)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid, "{name:?}: {err}");
        assert!(!err.is_conflict());
    }
    assert_eq!(store.model_version("empty").await.unwrap(), None);

    // Every successful put is audited with who, version and checksum;
    // refused ones are not.
    let events: Vec<_> = store
        .audit_list(100, None)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "model.update")
        .collect();
    let summary: Vec<(&str, &str, &str)> = events
        .iter()
        .map(|e| (e.target.as_str(), e.who.as_str(), e.from.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            ("other", "alice", "alice@console-host"),
            ("main", "alice", "alice@console-host"),
            ("main", "bob", "bob@console-host"),
            ("main", "alice", "alice@console-host"),
        ]
    );
    assert!(events[1].detail.contains("version 3"), "{:?}", events[1]);
    assert!(
        events[1].detail.contains(&sha256_hex(&v3)),
        "{:?}",
        events[1]
    );
    assert!(events[2].detail.contains("version 2"), "{:?}", events[2]);
    assert!(
        events[3].detail.contains(&sha256_hex(&v1)),
        "{:?}",
        events[3]
    );
}

fn phishgate_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn model_concurrent_cas(db: Arc<TestDb>) {
    // Two nodes, each with two writers, start from the same version: one
    // write wins per round, the others are told to re-read.
    let nodes = [db.open().await, db.open().await];
    let rounds = 8;
    for round in 0..rounds {
        let expected = if round == 0 { None } else { Some(round) };
        let mut tasks = Vec::new();
        for w in 0..4u64 {
            let store = nodes[(w % 2) as usize].clone();
            // One round with a real model's size, the others small.
            let len = if round == 1 { MODEL_LEN } else { 50_000 };
            let bytes = model_bytes(round as u64 * 10 + w, len);
            tasks.push(tokio::spawn(async move {
                let r = store
                    .model_put("shared", &bytes, expected, &actor(&format!("node{w}")))
                    .await;
                (r, bytes)
            }));
        }
        let mut winners = Vec::new();
        for t in tasks {
            let (r, bytes) = t.await.unwrap();
            match r {
                Ok(v) => winners.push((v, bytes)),
                Err(e) => assert!(e.is_conflict(), "{} round {round}: {e}", db.kind()),
            }
        }
        assert_eq!(winners.len(), 1, "{} round {round}", db.kind());
        let (version, bytes) = winners.pop().unwrap();
        assert_eq!(version, round + 1);
        let got = nodes[1].model_get("shared").await.unwrap().unwrap();
        assert_eq!(got.version, round + 1);
        assert!(got.bytes == bytes, "the winner's bytes are stored");
    }
    let updates = nodes[0]
        .audit_list(1000, None)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "model.update")
        .count();
    assert_eq!(updates, rounds as usize);
}

async fn model_checksum_mismatch(db: Arc<TestDb>) {
    if db.kind() == "memory" {
        return; // no way to reach behind the memory backend
    }
    let store = db.open().await;
    let bytes = model_bytes(9, 10_000);
    store
        .model_put("main", &bytes, None, &actor("alice"))
        .await
        .unwrap();
    let mut altered = bytes.clone();
    altered[5000] ^= 1;
    db.overwrite_bytes("classifier_models", "bytes", "name", "main", altered)
        .await;
    let err = store.model_get("main").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Corrupt, "{err}");
    assert!(err.message().contains("checksum"), "{err}");
    // The cheap poll still answers; a good model replaces the damaged one.
    assert_eq!(store.model_version("main").await.unwrap(), Some(1));
    store
        .model_put("main", &bytes, Some(1), &actor("alice"))
        .await
        .unwrap();
    assert!(store.model_get("main").await.unwrap().unwrap().bytes == bytes);
}

// ------------------------------------------------------------- user reports

/// Every page of a report query, following cursors.
async fn all_report_pages(store: &Store, mut q: ReportQuery) -> Vec<ReportEntry> {
    let mut out = Vec::new();
    for _ in 0..1000 {
        let page = store.report_list(&q).await.unwrap();
        assert!(page.items.len() <= q.limit as usize);
        out.extend(page.items);
        match page.next_cursor {
            Some(c) => q.cursor = Some(c),
            None => return out,
        }
    }
    panic!("pagination did not end");
}

async fn report_round_trip(db: Arc<TestDb>) {
    let store = db.open().await;
    let n = new_report("Staff1@LaoCai.gov.vn", 0, T0);
    let e = store.report_put(&n).await.unwrap();
    assert!(!e.id.is_empty());
    assert_eq!(e.reporter, "staff1@laocai.gov.vn");
    assert_eq!(e.sha256, sha256_hex(&n.raw));
    assert_eq!(e.status, ReportStatus::New);
    assert_eq!((e.decided_by.clone(), e.decided_ms), (None, None));
    assert_eq!(e.reporters, 1);
    assert_eq!(
        (
            e.received_ms,
            e.note.as_deref(),
            e.subject.as_str(),
            e.sender.as_str(),
            e.message_id.as_deref()
        ),
        (
            T0,
            n.note.as_deref(),
            n.subject.as_str(),
            n.sender.as_str(),
            n.message_id.as_deref()
        )
    );
    assert_eq!(
        (e.verdict_action.as_deref(), e.score),
        (Some("warn"), Some(6.5))
    );
    assert_eq!(store.report_get(&e.id).await.unwrap(), Some(e.clone()));
    assert_eq!(store.report_raw(&e.id).await.unwrap(), n.raw);

    // Optional fields absent.
    let mut bare = new_report("staff2@laocai.gov.vn", 1, T0 + 1);
    bare.message_id = None;
    let b = store.report_put(&bare).await.unwrap();
    assert_eq!(
        (b.note, b.message_id, b.verdict_action, b.score),
        (None, None, None, None)
    );
    assert_ne!(b.id, e.id);

    // Unknown ids.
    assert_eq!(store.report_get("nope").await.unwrap(), None);
    assert_eq!(
        store.report_raw("nope").await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    // No reporter or no message: refused.
    let mut bad = new_report("  ", 2, T0);
    assert_eq!(
        store.report_put(&bad).await.unwrap_err().kind(),
        ErrorKind::Invalid
    );
    bad.reporter = "x@laocai.gov.vn".into();
    bad.raw.clear();
    assert_eq!(
        store.report_put(&bad).await.unwrap_err().kind(),
        ErrorKind::Invalid
    );
    // Receiving a report is not an audited change.
    assert!(store.audit_list(100, None).await.unwrap().is_empty());

    if db.kind() != "memory" {
        // Damaged bytes are refused, never handed out altered.
        let mut altered = n.raw.clone();
        altered[100] ^= 1;
        db.overwrite_bytes("reports", "raw", "id", &e.id, altered)
            .await;
        let err = store.report_raw(&e.id).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Corrupt, "{err}");
        assert!(err.message().contains("checksum"), "{err}");
    }
}

async fn report_idempotent(db: Arc<TestDb>) {
    let store = db.open().await;
    let first = store
        .report_put(&new_report("anh@laocai.gov.vn", 7, T0))
        .await
        .unwrap();
    // The same user presses the button again (later, other case, other note).
    let mut again = new_report("ANH@laocai.gov.vn", 7, T0 + 5000);
    again.note = Some("did you get my report?".into());
    let second = store.report_put(&again).await.unwrap();
    assert_eq!(second, first, "the existing report, unchanged");
    // Someone else reports the same message: a new report, both count two.
    let other = store
        .report_put(&new_report("binh@laocai.gov.vn", 7, T0 + 10))
        .await
        .unwrap();
    assert_ne!(other.id, first.id);
    assert_eq!(other.reporters, 2);
    assert_eq!(
        store
            .report_get(&first.id)
            .await
            .unwrap()
            .unwrap()
            .reporters,
        2
    );
    // A different message by the first user: its own count.
    let different = store
        .report_put(&new_report("anh@laocai.gov.vn", 8, T0 + 20))
        .await
        .unwrap();
    assert_eq!(different.reporters, 1);
    let listed = all_report_pages(
        &store,
        ReportQuery {
            limit: 100,
            ..ReportQuery::default()
        },
    )
    .await;
    let counts: Vec<(String, i64)> = listed.iter().map(|e| (e.id.clone(), e.reporters)).collect();
    assert_eq!(
        counts,
        [
            (different.id.clone(), 1),
            (other.id.clone(), 2),
            (first.id.clone(), 2)
        ]
    );

    // Presses racing on two nodes store one report.
    let nodes = [db.open().await, db.open().await];
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = nodes[i % 2].clone();
        tasks.push(tokio::spawn(async move {
            store
                .report_put(&new_report("chi@laocai.gov.vn", 9, T0 + 100 + i as i64))
                .await
                .unwrap()
        }));
    }
    let mut got = BTreeSet::new();
    for t in tasks {
        let e = t.await.unwrap();
        assert_eq!(e.reporters, 1);
        got.insert(e.id);
    }
    assert_eq!(got.len(), 1, "{} one report for racing presses", db.kind());
    assert_eq!(
        all_report_pages(&store, ReportQuery::default()).await.len(),
        4
    );
}

async fn report_paging(db: Arc<TestDb>) {
    let store = db.open().await;
    let admin = actor("admin");
    let mut all = Vec::new();
    for i in 0..40usize {
        // Pairs share a timestamp so the id breaks ties across pages.
        let e = store
            .report_put(&new_report(
                &format!("user{}@laocai.gov.vn", i % 5),
                i,
                T0 + (i / 2) as i64,
            ))
            .await
            .unwrap();
        let e = match i % 4 {
            1 => store
                .report_decide(&e.id, ReportStatus::Confirmed, &admin)
                .await
                .unwrap(),
            2 => store
                .report_decide(&e.id, ReportStatus::Dismissed, &admin)
                .await
                .unwrap(),
            _ => e,
        };
        all.push(e);
    }
    all.sort_by(|a, b| (b.received_ms, &b.id).cmp(&(a.received_ms, &a.id)));
    let ids = |v: &[ReportEntry]| v.iter().map(|e| e.id.clone()).collect::<Vec<_>>();
    for status in [
        None,
        Some(ReportStatus::New),
        Some(ReportStatus::Confirmed),
        Some(ReportStatus::Dismissed),
    ] {
        let want: Vec<ReportEntry> = all
            .iter()
            .filter(|e| status.is_none_or(|s| e.status == s))
            .cloned()
            .collect();
        let got = all_report_pages(
            &store,
            ReportQuery {
                status,
                limit: 7,
                cursor: None,
            },
        )
        .await;
        assert_eq!(ids(&got), ids(&want), "{} status {status:?}", db.kind());
        assert_eq!(got, want, "{} status {status:?}: full entries", db.kind());
    }
    // One page exactly: no cursor.
    let page = store
        .report_list(&ReportQuery {
            status: Some(ReportStatus::Confirmed),
            limit: 10,
            cursor: None,
        })
        .await
        .unwrap();
    assert_eq!((page.items.len(), page.next_cursor), (10, None));
    // Limit 0 is the default page size.
    assert_eq!(
        store
            .report_list(&ReportQuery {
                limit: 0,
                ..ReportQuery::default()
            })
            .await
            .unwrap()
            .items
            .len(),
        40
    );
    assert_eq!(
        store
            .report_list(&ReportQuery {
                cursor: Some("zz".into()),
                ..ReportQuery::default()
            })
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Invalid
    );
    assert_eq!(
        ReportStatus::parse("confirmed"),
        Some(ReportStatus::Confirmed)
    );
    assert_eq!(
        ReportStatus::parse(ReportStatus::New.as_str()),
        Some(ReportStatus::New)
    );
    assert_eq!(ReportStatus::parse("Confirmed"), None);
}

async fn report_decide_once(db: Arc<TestDb>) {
    let store = db.open().await;
    let alice = actor("alice");
    let e = store
        .report_put(&new_report("staff@laocai.gov.vn", 3, T0))
        .await
        .unwrap();
    // `New` is not a decision.
    let err = store
        .report_decide(&e.id, ReportStatus::New, &alice)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    let before = phishgate_now();
    let d = store
        .report_decide(&e.id, ReportStatus::Confirmed, &alice)
        .await
        .unwrap();
    assert_eq!(d.status, ReportStatus::Confirmed);
    assert_eq!(d.decided_by.as_deref(), Some("alice"));
    assert!(d
        .decided_ms
        .is_some_and(|t| t >= before && t <= phishgate_now()));
    assert_eq!(
        ReportEntry {
            status: ReportStatus::New,
            decided_by: None,
            decided_ms: None,
            ..d.clone()
        },
        e,
        "nothing else changes"
    );
    assert_eq!(store.report_get(&e.id).await.unwrap(), Some(d.clone()));
    // Deciding again, either way, is refused with who decided first.
    for status in [ReportStatus::Dismissed, ReportStatus::Confirmed] {
        let err = store
            .report_decide(&e.id, status, &actor("bob"))
            .await
            .unwrap_err();
        assert!(err.is_conflict(), "{err}");
        assert!(
            err.message()
                .contains(&format!("report {} was already confirmed by alice", e.id)),
            "{err}"
        );
    }
    assert_eq!(store.report_get(&e.id).await.unwrap(), Some(d.clone()));
    // Dismissing another.
    let other = store
        .report_put(&new_report("staff@laocai.gov.vn", 4, T0 + 1))
        .await
        .unwrap();
    let o = store
        .report_decide(&other.id, ReportStatus::Dismissed, &actor("bob"))
        .await
        .unwrap();
    assert_eq!(
        (o.status, o.decided_by.as_deref()),
        (ReportStatus::Dismissed, Some("bob"))
    );
    let err = store
        .report_decide(&other.id, ReportStatus::Dismissed, &alice)
        .await
        .unwrap_err();
    assert!(err.message().contains("already dismissed by bob"), "{err}");
    // Unknown id.
    assert_eq!(
        store
            .report_decide("nope", ReportStatus::Confirmed, &alice)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
    // The two decisions are audited; refusals are not.
    let events = store.audit_list(100, None).await.unwrap();
    let summary: Vec<(&str, &str, &str, &str)> = events
        .iter()
        .map(|e| {
            (
                e.action.as_str(),
                e.target.as_str(),
                e.who.as_str(),
                e.from.as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "report.dismiss",
                other.id.as_str(),
                "bob",
                "bob@console-host"
            ),
            (
                "report.confirm",
                e.id.as_str(),
                "alice",
                "alice@console-host"
            ),
        ]
    );
    assert!(events[1].detail.contains("staff@laocai.gov.vn"));
    assert!(events[1].detail.contains(&e.sha256));
}

async fn report_concurrent_decide(db: Arc<TestDb>) {
    let a = db.open().await;
    let b = db.open().await;
    for i in 0..12usize {
        let id = a
            .report_put(&new_report("staff@laocai.gov.vn", 100 + i, T0 + i as i64))
            .await
            .unwrap()
            .id;
        let (ra, rb) = tokio::join!(
            {
                let (a, id) = (a.clone(), id.clone());
                tokio::spawn(async move {
                    a.report_decide(&id, ReportStatus::Confirmed, &actor("alice"))
                        .await
                })
            },
            {
                let (b, id) = (b.clone(), id.clone());
                tokio::spawn(async move {
                    b.report_decide(&id, ReportStatus::Dismissed, &actor("bob"))
                        .await
                })
            }
        );
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        let (winner, loser) = match (ra, rb) {
            (Ok(w), Err(l)) | (Err(l), Ok(w)) => (w, l),
            other => panic!(
                "{} race {i}: exactly one decision must win: {other:?}",
                db.kind()
            ),
        };
        assert!(loser.is_conflict(), "{loser}");
        let who = winner.decided_by.clone().unwrap();
        assert!(
            loser
                .message()
                .contains(&format!("already {} by {who}", winner.status.as_str())),
            "{loser}"
        );
        assert_eq!(b.report_get(&id).await.unwrap(), Some(winner));
    }
    let decisions = a
        .audit_list(1000, None)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action.starts_with("report."))
        .count();
    assert_eq!(decisions, 12);
}

async fn report_purge(db: Arc<TestDb>) {
    let store = db.open().await;
    let admin = actor("admin");
    let put = |reporter: &'static str, n: usize, at: i64| {
        let store = store.clone();
        async move {
            store
                .report_put(&new_report(reporter, n, at))
                .await
                .unwrap()
        }
    };
    let old_new = put("a@laocai.gov.vn", 1, T0).await;
    let old_confirmed = put("a@laocai.gov.vn", 2, T0 + 1).await;
    let old_dismissed = put("b@laocai.gov.vn", 2, T0 + 2).await;
    let recent_dismissed = put("a@laocai.gov.vn", 3, phishgate_now() + 60_000).await;
    for id in [&old_confirmed.id, &recent_dismissed.id] {
        store
            .report_decide(id, ReportStatus::Confirmed, &admin)
            .await
            .unwrap();
    }
    store
        .report_decide(&old_dismissed.id, ReportStatus::Dismissed, &admin)
        .await
        .unwrap();

    // A cutoff before the decisions were taken purges nothing: a report
    // decided today stays for the retention time even if received long ago.
    assert_eq!(store.purge_reports(T0 + 1_000_000).await.unwrap(), 0);
    // A cutoff after the decisions: decided reports received before it go,
    // `new` ones stay whatever their age, later ones stay.
    let cutoff = phishgate_now() + 1000;
    assert_eq!(store.purge_reports(cutoff).await.unwrap(), 2);
    assert_eq!(store.purge_reports(cutoff).await.unwrap(), 0);
    for gone in [&old_confirmed.id, &old_dismissed.id] {
        assert_eq!(store.report_get(gone).await.unwrap(), None);
        assert_eq!(
            store.report_raw(gone).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
    }
    assert_eq!(
        store.report_get(&old_new.id).await.unwrap().unwrap().status,
        ReportStatus::New
    );
    assert!(store.report_raw(&old_new.id).await.is_ok());
    assert!(store
        .report_get(&recent_dismissed.id)
        .await
        .unwrap()
        .is_some());
    let left: Vec<String> = all_report_pages(&store, ReportQuery::default())
        .await
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(left, [recent_dismissed.id.clone(), old_new.id.clone()]);
    // Once purged, the same message reported again is a new report.
    let again = put("a@laocai.gov.vn", 2, T0 + 5).await;
    assert_ne!(again.id, old_confirmed.id);
    assert_eq!((again.status, again.reporters), (ReportStatus::New, 1));
}

macro_rules! conformance {
    ($($suite:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $suite() {
                    crate::common::with_db("memory", super::$suite).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $suite() {
                    crate::common::with_db("sqlite", super::$suite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $suite() {
                    crate::common::with_db("postgres", super::$suite).await;
                }
            )*
        }
    };
}

conformance!(
    history_filters,
    history_pagination,
    subject_words,
    purge,
    quarantine_round_trip,
    per_recipient_release,
    concurrent_claims,
    stale_reclaim,
    expire,
    audit,
    sender_memory,
    backup,
    checksum_mismatch,
    model_round_trip,
    model_concurrent_cas,
    model_checksum_mismatch,
    report_round_trip,
    report_idempotent,
    report_paging,
    report_decide_once,
    report_concurrent_decide,
    report_purge,
);
