// The SQL backend, written once and compiled twice: `sqlite.rs` and
// `postgres.rs` each define `Db`, `PG`, `begin_write` and `words_condition`
// and then `include!` this file. The two dialects share almost every
// statement (both accept `$n` placeholders, `ON CONFLICT`, `RETURNING`), and
// sqlx's types are concrete per database, so textual inclusion keeps one copy
// of the logic without a wall of generic trait bounds. Where the dialects
// differ the code branches on the constant `PG`.

use std::collections::HashMap;
use std::sync::Arc;

use sqlx::{AssertSqlSafe, Database, Pool, Row};

use crate::error::{from_migrate, from_sqlx, ErrorKind, StoreError};
use crate::types::{
    Actor, AttachmentRecord, AuditEvent, Claim, Direction, HistoryQuery, HistoryRecord,
    NewQuarantined, NewReport, Page, QuarantineEntry, QuarantineQuery, QuarantineRcpt, RcptState,
    ReleaseOutcome, ReportEntry, ReportQuery, ReportStatus, SenderFacts, StoredModel,
    SymbolRecord,
};
use crate::util::{
    address_key, clamp_limit, compress, decode_cursor, decompress_verified, dedup, domain_key,
    domain_of, encode_cursor, new_id, new_token, now_ms, sender_filter, sha256_hex, to_i64,
    to_u64, verify_sha256, SenderFilter,
};

type DbRow = <Db as Database>::Row;
type DbQuery = sqlx::query::Query<'static, Db, <Db as Database>::Arguments>;

/// Rows deleted per transaction by `purge_history`, so a purge of months of
/// history never holds the write lock for long.
const PURGE_BATCH: i64 = 2000;

/// History rows per multi-row `INSERT` at most (19 parameters each, well
/// under SQLite's and PostgreSQL's parameter limits).
const HISTORY_INSERT_CHUNK: usize = 50;

/// Approximate bound values per multi-row `INSERT` on PostgreSQL. sqlx does
/// not set `TCP_NODELAY`, and a statement whose messages run past a few tens
/// of kilobytes stalls about 40 ms on Nagle's algorithm meeting delayed ACKs
/// (measured here: 50 rows of ~800 bytes took 44 ms a statement, 10 rows
/// 0.3 ms). Small statements avoid the stall; SQLite has no socket.
const MAX_STATEMENT_BYTES: usize = if PG { 12 * 1024 } else { 1 << 20 };

/// Index rows per multi-row `INSERT` (4 parameters each).
const SIDE_INSERT_CHUNK: usize = 250;

/// A pool on one database plus the label that names it in every error.
#[derive(Clone, Debug)]
pub(crate) struct SqlStore {
    pub(crate) pool: Pool<Db>,
    pub(crate) label: Arc<str>,
    /// How many of the newest rows a subject-word search walks before it
    /// falls back to the full-text index ([`WALK_WINDOW`]; tests set 0 for
    /// "full-text only" and `i64::MAX` for "walk only").
    pub(crate) walk_window: Arc<std::sync::atomic::AtomicI64>,
}

/// Subject-word searches first walk this many of the newest rows (in the
/// time index's order) testing each row's stored words: common words fill a
/// page within a few thousand rows. Only when that walk does not fill the
/// page (rarer words) does the full-text index answer, where the matches are
/// few enough to sort. benches/store_bench.rs measures both at a million
/// rows.
pub(crate) const WALK_WINDOW: i64 = 20_000;

/// Whether a connection coming back to the pool may be handed out again:
/// not when it is still inside a transaction. That happens when a `COMMIT`
/// itself failed (SQLite's "database or disk is full", a PostgreSQL server
/// going away mid-commit): the database already ended the transaction but
/// the driver still counts it open, and every later `BEGIN` on that
/// connection would fail. Closing it lets the pool open a fresh one, so the
/// store recovers by itself once space or the server is back.
fn reusable(conn: &mut <Db as Database>::Connection) -> bool {
    use sqlx::Connection as _;
    !conn.is_in_transaction()
}

/// The list-valued fields of a history record, stored as one JSON column.
#[derive(serde::Serialize, serde::Deserialize)]
struct Detail {
    rcpts: Vec<String>,
    to_header: Vec<String>,
    symbols: Vec<SymbolRecord>,
    link_domains: Vec<String>,
    attachments: Vec<AttachmentRecord>,
}

/// A bound value of a dynamically built statement.
enum Arg {
    Int(i64),
    Float(f64),
    Text(String),
    OptText(Option<String>),
}

impl Arg {
    /// Roughly how many bytes the value takes on the wire.
    fn approx_len(&self) -> usize {
        match self {
            Arg::Int(_) | Arg::Float(_) => 8,
            Arg::Text(t) => t.len() + 4,
            Arg::OptText(t) => t.as_ref().map_or(0, String::len) + 4,
        }
    }
}

/// A statement under construction with its arguments; `arg` returns the
/// `$n` placeholder, which both SQLite and PostgreSQL accept.
#[derive(Default)]
struct Sql {
    text: String,
    args: Vec<Arg>,
}

impl Sql {
    fn push(&mut self, s: &str) {
        self.text.push_str(s);
    }

    fn arg(&mut self, a: Arg) -> String {
        self.args.push(a);
        format!("${}", self.args.len())
    }

    /// `$a, $b, ...` for a list of texts.
    fn text_list(&mut self, items: &[String]) -> String {
        items
            .iter()
            .map(|s| self.arg(Arg::Text(s.clone())))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn query(self) -> DbQuery {
        let mut q = sqlx::query::<Db>(AssertSqlSafe(self.text));
        for a in self.args {
            q = match a {
                Arg::Int(v) => q.bind(v),
                Arg::Float(v) => q.bind(v),
                Arg::Text(v) => q.bind(v),
                Arg::OptText(v) => q.bind(v),
            };
        }
        q
    }
}

const HISTORY_COLS: &str = "h.id, h.received_at, h.node, h.direction, h.interface, h.queue_id, \
     h.mail_from, h.from_header, h.subject, h.size, h.score, h.action, h.fingerprint, \
     h.message_id, h.quarantine_id, h.detail";

/// A report's columns with its reporter count, counted on the
/// `reports_by_sha256` index (a handful of entries per message).
const REPORT_COLS: &str = "r.id, r.received_ms, r.reporter, r.note, r.sha256, r.subject, \
     r.sender, r.message_id, r.status, r.decided_by, r.decided_ms, r.verdict_action, r.score, \
     (SELECT count(*) FROM reports x WHERE x.sha256 = r.sha256) AS reporters";

const QUARANTINE_COLS: &str = "q.id, q.received_at, q.history_id, q.mail_from, q.mail_params, \
     q.reason, q.score, q.action, q.subject, q.from_header, q.size, q.sha256, \
     (q.raw IS NOT NULL) AS raw_available";

impl SqlStore {
    /// Maps a sqlx error, naming the database and the operation.
    fn err<'a>(&'a self, op: &'a str) -> impl Fn(sqlx::Error) -> StoreError + 'a {
        move |e| from_sqlx(&self.label, op, &e)
    }

    fn corrupt(&self, what: String) -> StoreError {
        StoreError::new(ErrorKind::Corrupt, format!("{}: {what}", self.label))
    }

    /// Runs the schema migrations of this dialect: (version, description,
    /// SQL), each in its own transaction, those already applied skipped.
    async fn migrate(
        &self,
        migrations: &[(i64, &'static str, &'static str)],
    ) -> Result<(), StoreError> {
        use sqlx::migrate::{Migration, MigrationType, Migrator};
        use sqlx::SqlSafeStr;
        let migrator = Migrator::with_migrations(
            migrations
                .iter()
                .map(|(version, description, sql)| {
                    Migration::new(
                        *version,
                        (*description).into(),
                        MigrationType::Simple,
                        sql.into_sql_str(),
                        false,
                    )
                })
                .collect(),
        );
        migrator
            .run(&self.pool)
            .await
            .map_err(|e| from_migrate(&self.label, &e))
    }

    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }

    pub(crate) async fn health(&self) -> Result<(), StoreError> {
        sqlx::query_scalar::<Db, i64>("SELECT CAST(1 AS BIGINT)")
            .fetch_one(&self.pool)
            .await
            .map(|_| ())
            .map_err(self.err("health check"))
    }

    // ---------------------------------------------------------------- history

    pub(crate) async fn record_batch(&self, records: &[HistoryRecord]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        if let Some(r) = records.iter().find(|r| r.id.is_empty()) {
            return Err(StoreError::new(
                ErrorKind::Invalid,
                format!(
                    "{}: history record without an id (received_at {})",
                    self.label, r.received_at
                ),
            ));
        }
        let mut tx = begin_write(&self.pool)
            .await
            .map_err(self.err("starting a history transaction"))?;
        self.insert_history(&mut tx, records).await?;
        tx.commit()
            .await
            .map_err(self.err("committing history records"))
    }

    /// Inserts records with multi-row statements: a few dozen statements
    /// per batch of 500 instead of one per row and side row, which is what
    /// makes batching worth it (each statement is a round trip to SQLite's
    /// worker thread or to the PostgreSQL server).
    async fn insert_history(
        &self,
        conn: &mut <Db as Database>::Connection,
        records: &[HistoryRecord],
    ) -> Result<(), StoreError> {
        // Each record's bound values, with their approximate size.
        let mut rows: Vec<(Vec<Arg>, usize)> = Vec::with_capacity(records.len());
        for r in records {
            let detail = serde_json::to_string(&Detail {
                rcpts: r.rcpts.clone(),
                to_header: r.to_header.clone(),
                symbols: r.symbols.clone(),
                link_domains: r.link_domains.clone(),
                attachments: r.attachments.clone(),
            })
            .map_err(|e| {
                StoreError::new(
                    ErrorKind::Invalid,
                    format!("{}: encoding history record {}: {e}", self.label, r.id),
                )
            })?;
            let values = vec![
                Arg::Text(r.id.clone()),
                Arg::Int(r.received_at),
                Arg::Text(r.node.clone()),
                Arg::Text(r.direction.as_str().to_owned()),
                Arg::Text(r.interface.clone()),
                Arg::OptText(r.queue_id.clone()),
                Arg::Text(r.mail_from.clone()),
                Arg::Text(address_key(&r.mail_from)),
                Arg::Text(domain_of(&r.mail_from)),
                Arg::OptText(r.from_header.clone()),
                Arg::Text(r.subject.clone()),
                Arg::Text(crate::util::words(&r.subject).join(" ")),
                Arg::Int(to_i64(r.size)),
                Arg::Float(r.score),
                Arg::Text(r.action.clone()),
                Arg::Text(r.fingerprint.clone()),
                Arg::OptText(r.message_id.clone()),
                Arg::OptText(r.quarantine_id.clone()),
                Arg::Text(detail),
            ];
            let bytes = values.iter().map(Arg::approx_len).sum();
            rows.push((values, bytes));
        }

        let mut seqs: HashMap<String, i64> = HashMap::new();
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let mut s = Sql::default();
            s.push(
                "INSERT INTO history (id, received_at, node, direction, interface, queue_id, \
                 mail_from, sender, sender_domain, from_header, subject, subject_words, size, \
                 score, action, fingerprint, message_id, quarantine_id, detail) VALUES ",
            );
            let (mut n, mut bytes) = (0usize, 0usize);
            while let Some((values, size)) = rows.next_if(|(_, size)| {
                n == 0 || (n < HISTORY_INSERT_CHUNK && bytes.saturating_add(*size) <= MAX_STATEMENT_BYTES)
            }) {
                let placeholders: Vec<String> = values.into_iter().map(|a| s.arg(a)).collect();
                s.push(if n == 0 { "(" } else { ", (" });
                s.push(&placeholders.join(", "));
                s.push(")");
                n += 1;
                bytes = bytes.saturating_add(size);
            }
            // Ids already recorded (a retry) are skipped and return no row.
            s.push(" ON CONFLICT (id) DO NOTHING RETURNING seq, id");
            let rows = s
                .query()
                .fetch_all(&mut *conn)
                .await
                .map_err(self.err("inserting history records"))?;
            let e = self.err("reading inserted history rows");
            for row in &rows {
                seqs.insert(row.try_get("id").map_err(&e)?, row.try_get("seq").map_err(&e)?);
            }
        }

        // (seq, key, received_at, id) per side table.
        type SideRow = (i64, String, i64, String);
        let (mut rcpts, mut symbols, mut domains) =
            (Vec::<SideRow>::new(), Vec::<SideRow>::new(), Vec::<SideRow>::new());
        for r in records {
            // `remove`: a duplicate id later in the batch was not inserted.
            let Some(seq) = seqs.remove(&r.id) else { continue };
            let row = |key: String| (seq, key, r.received_at, r.id.clone());
            rcpts.extend(dedup(r.rcpts.iter().map(|a| address_key(a))).into_iter().map(row));
            symbols.extend(
                dedup(r.symbols.iter().map(|s| s.name.trim().to_owned()))
                    .into_iter()
                    .map(row),
            );
            domains.extend(
                dedup(
                    r.link_domains
                        .iter()
                        .map(|d| domain_key(d))
                        .chain(std::iter::once(domain_of(&r.mail_from))),
                )
                .into_iter()
                .map(row),
            );
        }
        for (table, column, rows) in [
            ("history_rcpt", "address", rcpts),
            ("history_symbol", "name", symbols),
            ("history_domain", "domain", domains),
        ] {
            for chunk in rows.chunks(SIDE_INSERT_CHUNK) {
                let mut s = Sql::default();
                s.push(&format!(
                    "INSERT INTO {table} (seq, {column}, received_at, id) VALUES "
                ));
                for (n, (seq, key, at, id)) in chunk.iter().enumerate() {
                    let p = [
                        s.arg(Arg::Int(*seq)),
                        s.arg(Arg::Text(key.clone())),
                        s.arg(Arg::Int(*at)),
                        s.arg(Arg::Text(id.clone())),
                    ];
                    s.push(if n == 0 { "(" } else { ", (" });
                    s.push(&p.join(", "));
                    s.push(")");
                }
                s.query()
                    .execute(&mut *conn)
                    .await
                    .map_err(self.err("inserting history index rows"))?;
            }
        }
        Ok(())
    }

    /// Builds the history query. One "driving" index is chosen so rows come
    /// out already in page order: a side table for a recipient, domain or
    /// symbol filter, else the main table (whose sender/action/time indexes
    /// the planner picks from). Other filters become conditions.
    ///
    /// `walk`: subject words drive the query and are tested row by row on
    /// at most that many of the newest rows that pass the other filters
    /// (see [`WALK_WINDOW`]); `None` uses the full-text index.
    fn history_sql(
        &self,
        q: &HistoryQuery,
        limit: u32,
        walk: Option<i64>,
    ) -> Result<Sql, StoreError> {
        let nonempty = |s: &String| !s.is_empty();
        let recipient = q.recipient.as_deref().map(address_key).filter(nonempty);
        let mut domain = q.domain.as_deref().map(domain_key).filter(nonempty);
        let mut symbol = q
            .symbol
            .as_deref()
            .map(|s| s.trim().to_owned())
            .filter(nonempty);
        let sender = q.sender.as_deref().map(sender_filter).filter(|f| match f {
            SenderFilter::Address(a) => !a.is_empty(),
            SenderFilter::Domain(d) => !d.is_empty(),
        });
        let words = q
            .subject_words
            .as_deref()
            .map(crate::util::words)
            .filter(|w| !w.is_empty());
        let action = q
            .action
            .as_deref()
            .map(|s| s.trim().to_owned())
            .filter(nonempty);
        let cursor = q.cursor.as_deref().map(decode_cursor).transpose()?;

        let mut s = Sql::default();
        let driver: Option<(&str, &str, String)> = if let Some(r) = recipient.clone() {
            Some(("history_rcpt", "address", r))
        } else if matches!(sender, Some(SenderFilter::Address(_))) {
            None
        } else if let Some(d) = domain.take() {
            Some(("history_domain", "domain", d))
        } else {
            symbol.take().map(|sym| ("history_symbol", "name", sym))
        };
        let k = match &driver {
            Some((table, column, value)) => {
                s.push(&format!(
                    "SELECT h.seq FROM {table} k JOIN history h ON h.seq = k.seq WHERE k.{column} = "
                ));
                let p = s.arg(Arg::Text(value.clone()));
                s.push(&p);
                "k"
            }
            None => {
                let hint = if words.is_some()
                    && walk.is_none()
                    && !matches!(sender, Some(SenderFilter::Address(_)))
                {
                    WORDS_DRIVEN_HINT
                } else {
                    ""
                };
                if walk.is_some() {
                    s.push("SELECT h.seq FROM (SELECT h.seq, h.received_at, h.id, h.subject_words");
                    s.push(" FROM history h WHERE 1 = 1");
                } else {
                    s.push(&format!("SELECT h.seq FROM history h{hint} WHERE 1 = 1"));
                }
                "h"
            }
        };
        if driver.as_ref().map(|d| d.0) != Some("history_rcpt") {
            if let Some(r) = recipient {
                let p = s.arg(Arg::Text(r));
                s.push(&format!(
                    " AND EXISTS (SELECT 1 FROM history_rcpt x WHERE x.seq = h.seq AND x.address = {p})"
                ));
            }
        }
        if let Some(d) = domain {
            let p = s.arg(Arg::Text(d));
            s.push(&format!(
                " AND EXISTS (SELECT 1 FROM history_domain x WHERE x.seq = h.seq AND x.domain = {p})"
            ));
        }
        if let Some(sym) = symbol {
            let p = s.arg(Arg::Text(sym));
            s.push(&format!(
                " AND EXISTS (SELECT 1 FROM history_symbol x WHERE x.seq = h.seq AND x.name = {p})"
            ));
        }
        match sender {
            Some(SenderFilter::Address(a)) => {
                let p = s.arg(Arg::Text(a));
                s.push(&format!(" AND h.sender = {p}"));
            }
            Some(SenderFilter::Domain(d)) => {
                let p = s.arg(Arg::Text(d));
                s.push(&format!(" AND h.sender_domain = {p}"));
            }
            None => {}
        }
        if let Some(a) = action {
            let p = s.arg(Arg::Text(a));
            s.push(&format!(" AND h.action = {p}"));
        }
        if let Some(since) = q.since {
            let p = s.arg(Arg::Int(since));
            s.push(&format!(" AND {k}.received_at >= {p}"));
        }
        if let Some(until) = q.until {
            let p = s.arg(Arg::Int(until));
            s.push(&format!(" AND {k}.received_at < {p}"));
        }
        if let Some((at, id)) = cursor {
            // Written so the first term bounds the index range in both dialects.
            let pa = s.arg(Arg::Int(at));
            let pi = s.arg(Arg::Text(id));
            s.push(&format!(
                " AND {k}.received_at <= {pa} AND ({k}.received_at < {pa} OR {k}.id < {pi})"
            ));
        }
        if let Some(w) = words {
            if let Some(window) = walk {
                if window < i64::MAX {
                    let pw = s.arg(Arg::Int(window));
                    s.push(&format!(
                        " ORDER BY h.received_at DESC, h.id DESC LIMIT {pw}"
                    ));
                }
                s.push(") h WHERE 1 = 1");
                // The stored column is the folded words joined by single
                // spaces; words are alphanumeric, so no LIKE wildcard can
                // appear in the pattern.
                for word in w {
                    let p = s.arg(Arg::Text(format!("% {word} %")));
                    s.push(&format!(" AND (' ' || h.subject_words || ' ') LIKE {p}"));
                }
            } else {
                let p = s.arg(Arg::Text(words_query(&w)));
                s.push(&format!(" AND {}", words_condition(&p)));
            }
        }
        let pl = s.arg(Arg::Int(i64::from(limit) + 1));
        s.push(&format!(
            " ORDER BY {k}.received_at DESC, {k}.id DESC LIMIT {pl}"
        ));
        // Two levels: the inner query picks one page of row numbers, sorting
        // only narrow rows when it must sort (many subject-word matches); the
        // outer one fetches just those rows in full.
        s.text = format!(
            "SELECT {HISTORY_COLS} FROM history h WHERE h.seq IN ({}) \
             ORDER BY h.received_at DESC, h.id DESC",
            s.text
        );
        Ok(s)
    }

    /// The walk window for this query: `Some` when subject words drive it
    /// (no recipient, domain, symbol or sender-address filter) and walking
    /// is not disabled.
    fn words_walk(&self, q: &HistoryQuery) -> Option<i64> {
        let words = q
            .subject_words
            .as_deref()
            .map(crate::util::words)
            .is_some_and(|w| !w.is_empty());
        let set = |v: &Option<String>| v.as_deref().is_some_and(|x| !x.trim().is_empty());
        let sender_address = q
            .sender
            .as_deref()
            .is_some_and(|x| !x.trim().is_empty() && !x.trim().starts_with('@'));
        if !words || set(&q.recipient) || set(&q.domain) || set(&q.symbol) || sender_address {
            return None;
        }
        let window = self
            .walk_window
            .load(std::sync::atomic::Ordering::Relaxed);
        (window > 0).then_some(window)
    }

    /// Full-text matches of the query's subject words, counted up to
    /// `bound` (only where [`WORDS_PROBE`] is cheap).
    async fn words_matches(&self, q: &HistoryQuery, bound: i64) -> Result<i64, StoreError> {
        let (Some(sql), Some(words)) = (
            WORDS_PROBE,
            q.subject_words.as_deref().map(crate::util::words),
        ) else {
            return Ok(bound);
        };
        sqlx::query_scalar::<Db, i64>(sql)
            .bind(words_query(&words))
            .bind(bound)
            .fetch_one(&self.pool)
            .await
            .map_err(self.err("counting subject-word matches"))
    }

    pub(crate) async fn history(
        &self,
        q: &HistoryQuery,
    ) -> Result<Page<HistoryRecord>, StoreError> {
        let limit = clamp_limit(q.limit);
        let mut walk = self.words_walk(q);
        if let Some(window) = walk.filter(|w| WORDS_PROBE.is_some() && *w < i64::MAX) {
            // SQLite: counting full-text matches (up to the window) costs
            // little, and when they are fewer the full-text plan is best.
            if self.words_matches(q, window).await? < window {
                walk = None;
            }
        }
        let mut rows = self
            .history_sql(q, limit, walk)?
            .query()
            .fetch_all(&self.pool)
            .await
            .map_err(self.err("querying history"))?;
        if walk.is_some_and(|w| w < i64::MAX) && rows.len() <= limit as usize {
            // The walk did not fill a page: rarer words, ask the full-text index.
            rows = self
                .history_sql(q, limit, None)?
                .query()
                .fetch_all(&self.pool)
                .await
                .map_err(self.err("querying history"))?;
        }
        let mut items = rows
            .iter()
            .map(|r| self.history_from_row(r))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(page(&mut items, limit, |r| (r.received_at, r.id.as_str())))
    }

    /// The query plan of a history query, one line per plan node.
    pub(crate) async fn history_plan(&self, q: &HistoryQuery) -> Result<String, StoreError> {
        // The plan of the full-text form; the walk form uses the time index.
        let mut s = self.history_sql(q, clamp_limit(q.limit), None)?;
        s.text = format!(
            "{}{}",
            if PG { "EXPLAIN " } else { "EXPLAIN QUERY PLAN " },
            s.text
        );
        let rows = s
            .query()
            .fetch_all(&self.pool)
            .await
            .map_err(self.err("explaining a history query"))?;
        let col = if PG { 0 } else { 3 };
        let lines = rows
            .iter()
            .map(|r| r.try_get::<String, _>(col))
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.err("reading a query plan"))?;
        Ok(lines.join("\n"))
    }

    pub(crate) async fn history_get(&self, id: &str) -> Result<Option<HistoryRecord>, StoreError> {
        let row = sqlx::query::<Db>(AssertSqlSafe(format!(
            "SELECT {HISTORY_COLS} FROM history h WHERE h.id = $1"
        )))
        .bind(id.to_owned())
        .fetch_optional(&self.pool)
        .await
        .map_err(self.err("reading a history record"))?;
        row.as_ref().map(|r| self.history_from_row(r)).transpose()
    }

    pub(crate) async fn purge_history(&self, cutoff_ms: i64) -> Result<u64, StoreError> {
        let mut total = 0u64;
        loop {
            let mut tx = begin_write(&self.pool)
                .await
                .map_err(self.err("starting a purge transaction"))?;
            let seqs: Vec<i64> = sqlx::query_scalar::<Db, i64>(
                "SELECT seq FROM history WHERE received_at < $1 ORDER BY received_at LIMIT $2",
            )
            .bind(cutoff_ms)
            .bind(PURGE_BATCH)
            .fetch_all(&mut *tx)
            .await
            .map_err(self.err("selecting history to purge"))?;
            if seqs.is_empty() {
                break;
            }
            let list = (1..=seqs.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", ");
            for table in ["history_rcpt", "history_symbol", "history_domain", "history"] {
                let mut q = sqlx::query::<Db>(AssertSqlSafe(format!(
                    "DELETE FROM {table} WHERE seq IN ({list})"
                )));
                for seq in &seqs {
                    q = q.bind(*seq);
                }
                q.execute(&mut *tx)
                    .await
                    .map_err(self.err("purging history"))?;
            }
            tx.commit().await.map_err(self.err("committing a purge"))?;
            total += u64::try_from(seqs.len()).unwrap_or(0);
            if i64::try_from(seqs.len()).unwrap_or(0) < PURGE_BATCH {
                break;
            }
        }
        Ok(total)
    }

    fn history_from_row(&self, r: &DbRow) -> Result<HistoryRecord, StoreError> {
        let e = self.err("decoding a history record");
        let direction: String = r.try_get("direction").map_err(&e)?;
        let detail: String = r.try_get("detail").map_err(&e)?;
        let id: String = r.try_get("id").map_err(&e)?;
        let detail: Detail = serde_json::from_str(&detail)
            .map_err(|err| self.corrupt(format!("history record {id}: bad detail JSON: {err}")))?;
        Ok(HistoryRecord {
            direction: Direction::parse(&direction).ok_or_else(|| {
                self.corrupt(format!("history record {id}: bad direction {direction:?}"))
            })?,
            received_at: r.try_get("received_at").map_err(&e)?,
            node: r.try_get("node").map_err(&e)?,
            interface: r.try_get("interface").map_err(&e)?,
            queue_id: r.try_get("queue_id").map_err(&e)?,
            mail_from: r.try_get("mail_from").map_err(&e)?,
            rcpts: detail.rcpts,
            from_header: r.try_get("from_header").map_err(&e)?,
            to_header: detail.to_header,
            subject: r.try_get("subject").map_err(&e)?,
            size: to_u64(r.try_get("size").map_err(&e)?),
            score: r.try_get("score").map_err(&e)?,
            action: r.try_get("action").map_err(&e)?,
            symbols: detail.symbols,
            link_domains: detail.link_domains,
            attachments: detail.attachments,
            fingerprint: r.try_get("fingerprint").map_err(&e)?,
            message_id: r.try_get("message_id").map_err(&e)?,
            quarantine_id: r.try_get("quarantine_id").map_err(&e)?,
            id,
        })
    }

    // ------------------------------------------------------------- quarantine

    pub(crate) async fn quarantine_put(&self, n: &NewQuarantined) -> Result<(), StoreError> {
        crate::validate_new_quarantined(&self.label, n)?;
        let blob = compress(&n.raw)?;
        let sha = sha256_hex(&n.raw);
        let json = |v: &Vec<String>| serde_json::to_string(v).unwrap_or_else(|_| "[]".into());
        let now = now_ms();
        let mut tx = begin_write(&self.pool)
            .await
            .map_err(self.err("starting a quarantine transaction"))?;
        // The MTA is told "taken" once this commits.
        self.durable_commit(&mut tx).await?;
        let inserted = sqlx::query::<Db>(
            "INSERT INTO quarantine (id, received_at, history_id, mail_from, sender, sender_domain, \
             mail_params, reason, score, action, subject, from_header, size, sha256, raw) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(n.id.clone())
        .bind(n.received_at)
        .bind(n.history_id.clone())
        .bind(n.mail_from.clone())
        .bind(address_key(&n.mail_from))
        .bind(domain_of(&n.mail_from))
        .bind(json(&n.mail_params))
        .bind(n.reason.clone())
        .bind(n.score)
        .bind(n.action.clone())
        .bind(n.subject.clone())
        .bind(n.from_header.clone())
        .bind(to_i64(u64::try_from(n.raw.len()).unwrap_or(u64::MAX)))
        .bind(sha.clone())
        .bind(blob)
        .execute(&mut *tx)
        .await
        .map_err(self.err("storing a quarantined message"))?
        .rows_affected();
        if inserted == 0 {
            // A retry of the same put is fine; another message under the same id is not.
            let existing: String = sqlx::query_scalar::<Db, String>(
                "SELECT sha256 FROM quarantine WHERE id = $1",
            )
            .bind(n.id.clone())
            .fetch_one(&mut *tx)
            .await
            .map_err(self.err("reading a quarantined message"))?;
            return if existing == sha {
                Ok(())
            } else {
                Err(StoreError::new(
                    ErrorKind::Conflict,
                    format!(
                        "{}: quarantine id {} already holds a different message",
                        self.label, n.id
                    ),
                ))
            };
        }
        for (idx, (address, params)) in n.rcpts.iter().enumerate() {
            sqlx::query::<Db>(
                "INSERT INTO quarantine_rcpt (qid, idx, address, address_key, params, state, \
                 changed_at) VALUES ($1, $2, $3, $4, $5, 'held', $6)",
            )
            .bind(n.id.clone())
            .bind(i64::try_from(idx).unwrap_or(i64::MAX))
            .bind(address.clone())
            .bind(address_key(address))
            .bind(json(params))
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(self.err("storing quarantine recipients"))?;
        }
        let actor = Actor {
            who: "gateway".into(),
            from: String::new(),
        };
        let detail = format!("{} recipient(s); {}", n.rcpts.len(), n.reason);
        self.audit(&mut tx, now, &actor, "quarantine.hold", &n.id, &detail)
            .await?;
        tx.commit()
            .await
            .map_err(self.err("committing a quarantined message"))
    }

    /// Makes the current transaction's commit durable before it returns:
    /// on PostgreSQL, never let a server configured with
    /// `synchronous_commit = off` acknowledge early (SQLite's commits are
    /// always fsynced, see `sqlite.rs`).
    async fn durable_commit(
        &self,
        conn: &mut <Db as Database>::Connection,
    ) -> Result<(), StoreError> {
        if PG {
            sqlx::query::<Db>("SET LOCAL synchronous_commit TO on")
                .execute(&mut *conn)
                .await
                .map_err(self.err("setting synchronous commit"))?;
        }
        Ok(())
    }

    async fn audit(
        &self,
        conn: &mut <Db as Database>::Connection,
        at: i64,
        actor: &Actor,
        action: &str,
        target: &str,
        detail: &str,
    ) -> Result<(), StoreError> {
        sqlx::query::<Db>(
            "INSERT INTO audit (at, who, origin, action, target, detail) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(at)
        .bind(actor.who.clone())
        .bind(actor.from.clone())
        .bind(action.to_owned())
        .bind(target.to_owned())
        .bind(detail.to_owned())
        .execute(&mut *conn)
        .await
        .map(|_| ())
        .map_err(self.err("writing the audit log"))
    }

    pub(crate) async fn quarantine_list(
        &self,
        q: &QuarantineQuery,
    ) -> Result<Page<QuarantineEntry>, StoreError> {
        let limit = clamp_limit(q.limit);
        let mut s = Sql::default();
        s.push(&format!("SELECT {QUARANTINE_COLS} FROM quarantine q WHERE 1 = 1"));
        if let Some(state) = q.state {
            let p = s.arg(Arg::Text(state.as_str().into()));
            s.push(&format!(
                " AND EXISTS (SELECT 1 FROM quarantine_rcpt r WHERE r.qid = q.id AND r.state = {p})"
            ));
        }
        if let Some(rcpt) = q.recipient.as_deref().map(address_key).filter(|s| !s.is_empty()) {
            let p = s.arg(Arg::Text(rcpt));
            s.push(&format!(
                " AND EXISTS (SELECT 1 FROM quarantine_rcpt r WHERE r.qid = q.id AND r.address_key = {p})"
            ));
        }
        match q.sender.as_deref().map(sender_filter) {
            Some(SenderFilter::Address(a)) if !a.is_empty() => {
                let p = s.arg(Arg::Text(a));
                s.push(&format!(" AND q.sender = {p}"));
            }
            Some(SenderFilter::Domain(d)) if !d.is_empty() => {
                let p = s.arg(Arg::Text(d));
                s.push(&format!(" AND q.sender_domain = {p}"));
            }
            _ => {}
        }
        if let Some(since) = q.since {
            let p = s.arg(Arg::Int(since));
            s.push(&format!(" AND q.received_at >= {p}"));
        }
        if let Some(until) = q.until {
            let p = s.arg(Arg::Int(until));
            s.push(&format!(" AND q.received_at < {p}"));
        }
        if let Some((at, id)) = q.cursor.as_deref().map(decode_cursor).transpose()? {
            let pa = s.arg(Arg::Int(at));
            let pi = s.arg(Arg::Text(id));
            s.push(&format!(
                " AND q.received_at <= {pa} AND (q.received_at < {pa} OR q.id < {pi})"
            ));
        }
        let pl = s.arg(Arg::Int(i64::from(limit) + 1));
        s.push(&format!(" ORDER BY q.received_at DESC, q.id DESC LIMIT {pl}"));
        let rows = s
            .query()
            .fetch_all(&self.pool)
            .await
            .map_err(self.err("listing the quarantine"))?;
        let mut items = rows
            .iter()
            .map(|r| self.quarantine_from_row(r))
            .collect::<Result<Vec<_>, _>>()?;
        let mut page = page(&mut items, limit, |e| (e.received_at, e.id.as_str()));
        let ids: Vec<String> = page.items.iter().map(|e| e.id.clone()).collect();
        let mut rcpts = self.load_rcpts(&ids).await?;
        for e in &mut page.items {
            e.rcpts = rcpts.remove(&e.id).unwrap_or_default();
        }
        Ok(page)
    }

    pub(crate) async fn quarantine_get(
        &self,
        id: &str,
    ) -> Result<Option<QuarantineEntry>, StoreError> {
        let row = sqlx::query::<Db>(AssertSqlSafe(format!(
            "SELECT {QUARANTINE_COLS} FROM quarantine q WHERE q.id = $1"
        )))
        .bind(id.to_owned())
        .fetch_optional(&self.pool)
        .await
        .map_err(self.err("reading a quarantined message"))?;
        let Some(row) = row else { return Ok(None) };
        let mut entry = self.quarantine_from_row(&row)?;
        entry.rcpts = self
            .load_rcpts(&[id.to_owned()])
            .await?
            .remove(id)
            .unwrap_or_default();
        Ok(Some(entry))
    }

    async fn load_rcpts(
        &self,
        ids: &[String],
    ) -> Result<HashMap<String, Vec<QuarantineRcpt>>, StoreError> {
        let mut out: HashMap<String, Vec<QuarantineRcpt>> = HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        let mut s = Sql::default();
        let list = s.text_list(ids);
        s.push(&format!(
            "SELECT qid, address, params, state, changed_at, changed_by FROM quarantine_rcpt \
             WHERE qid IN ({list}) ORDER BY qid, idx"
        ));
        let rows = s
            .query()
            .fetch_all(&self.pool)
            .await
            .map_err(self.err("reading quarantine recipients"))?;
        let e = self.err("decoding quarantine recipients");
        for r in &rows {
            let qid: String = r.try_get("qid").map_err(&e)?;
            let params: String = r.try_get("params").map_err(&e)?;
            let state: String = r.try_get("state").map_err(&e)?;
            let rcpt = QuarantineRcpt {
                address: r.try_get("address").map_err(&e)?,
                params: serde_json::from_str(&params).map_err(|err| {
                    self.corrupt(format!("quarantine {qid}: bad recipient parameters: {err}"))
                })?,
                state: RcptState::parse(&state).ok_or_else(|| {
                    self.corrupt(format!("quarantine {qid}: bad recipient state {state:?}"))
                })?,
                changed_at: r.try_get("changed_at").map_err(&e)?,
                changed_by: r.try_get("changed_by").map_err(&e)?,
            };
            out.entry(qid).or_default().push(rcpt);
        }
        Ok(out)
    }

    fn quarantine_from_row(&self, r: &DbRow) -> Result<QuarantineEntry, StoreError> {
        let e = self.err("decoding a quarantined message");
        let id: String = r.try_get("id").map_err(&e)?;
        let params: String = r.try_get("mail_params").map_err(&e)?;
        Ok(QuarantineEntry {
            mail_params: serde_json::from_str(&params)
                .map_err(|err| self.corrupt(format!("quarantine {id}: bad MAIL parameters: {err}")))?,
            received_at: r.try_get("received_at").map_err(&e)?,
            history_id: r.try_get("history_id").map_err(&e)?,
            mail_from: r.try_get("mail_from").map_err(&e)?,
            reason: r.try_get("reason").map_err(&e)?,
            score: r.try_get("score").map_err(&e)?,
            action: r.try_get("action").map_err(&e)?,
            subject: r.try_get("subject").map_err(&e)?,
            from_header: r.try_get("from_header").map_err(&e)?,
            size: to_u64(r.try_get("size").map_err(&e)?),
            sha256: r.try_get("sha256").map_err(&e)?,
            raw_available: r.try_get("raw_available").map_err(&e)?,
            rcpts: Vec::new(),
            id,
        })
    }

    pub(crate) async fn quarantine_raw(&self, id: &str) -> Result<Vec<u8>, StoreError> {
        let row = sqlx::query::<Db>("SELECT raw, size, sha256 FROM quarantine WHERE id = $1")
            .bind(id.to_owned())
            .fetch_optional(&self.pool)
            .await
            .map_err(self.err("reading a quarantined message"))?;
        let Some(row) = row else {
            return Err(crate::not_found(&self.label, id));
        };
        let e = self.err("decoding a quarantined message");
        let raw: Option<Vec<u8>> = row.try_get("raw").map_err(&e)?;
        let size: i64 = row.try_get("size").map_err(&e)?;
        let sha: String = row.try_get("sha256").map_err(&e)?;
        let Some(raw) = raw else {
            return Err(crate::raw_dropped(&self.label, id));
        };
        decompress_verified(&self.label, id, &raw, to_u64(size), &sha)
    }

    async fn require_quarantined(
        &self,
        conn: &mut <Db as Database>::Connection,
        id: &str,
    ) -> Result<(), StoreError> {
        let found = sqlx::query_scalar::<Db, i64>("SELECT CAST(1 AS BIGINT) FROM quarantine WHERE id = $1")
            .bind(id.to_owned())
            .fetch_optional(&mut *conn)
            .await
            .map_err(self.err("reading a quarantined message"))?;
        match found {
            Some(_) => Ok(()),
            None => Err(crate::not_found(&self.label, id)),
        }
    }

    /// `AND address_key IN (...)` for an optional recipient selection.
    fn push_rcpt_selection(s: &mut Sql, rcpts: Option<&[String]>) {
        if let Some(list) = rcpts {
            let keys: Vec<String> = list.iter().map(|a| address_key(a)).collect();
            if keys.is_empty() {
                // An explicit empty selection selects nothing.
                s.push(" AND 1 = 0");
            } else {
                let l = s.text_list(&keys);
                s.push(&format!(" AND address_key IN ({l})"));
            }
        }
    }

    pub(crate) async fn quarantine_claim(
        &self,
        id: &str,
        rcpts: Option<&[String]>,
        actor: &Actor,
        stale_after_ms: i64,
    ) -> Result<Claim, StoreError> {
        let token = new_token()?;
        let now = now_ms();
        let mut tx = begin_write(&self.pool)
            .await
            .map_err(self.err("starting a release claim"))?;
        self.require_quarantined(&mut tx, id).await?;
        let mut s = Sql::default();
        let p_token = s.arg(Arg::Text(token.clone()));
        let p_now = s.arg(Arg::Int(now));
        let p_who = s.arg(Arg::Text(actor.who.clone()));
        let p_from = s.arg(Arg::Text(actor.from.clone()));
        let p_id = s.arg(Arg::Text(id.to_owned()));
        let p_stale = s.arg(Arg::Int(now.saturating_sub(stale_after_ms.max(0))));
        s.push(&format!(
            "UPDATE quarantine_rcpt SET state = 'releasing', claim_token = {p_token}, \
             changed_at = {p_now}, changed_by = {p_who}, changed_from = {p_from} \
             WHERE qid = {p_id} AND (state = 'held' OR (state = 'releasing' AND changed_at <= {p_stale}))"
        ));
        Self::push_rcpt_selection(&mut s, rcpts);
        s.push(" RETURNING idx, address, params");
        let rows = s
            .query()
            .fetch_all(&mut *tx)
            .await
            .map_err(self.err("claiming recipients for release"))?;
        let e = self.err("decoding claimed recipients");
        let mut claimed = Vec::with_capacity(rows.len());
        for r in &rows {
            let idx: i64 = r.try_get("idx").map_err(&e)?;
            let address: String = r.try_get("address").map_err(&e)?;
            let params: String = r.try_get("params").map_err(&e)?;
            let params: Vec<String> = serde_json::from_str(&params).map_err(|err| {
                self.corrupt(format!("quarantine {id}: bad recipient parameters: {err}"))
            })?;
            claimed.push((idx, address, params));
        }
        claimed.sort_by_key(|c| c.0);
        let rcpts: Vec<(String, Vec<String>)> =
            claimed.into_iter().map(|(_, a, p)| (a, p)).collect();
        if !rcpts.is_empty() {
            let detail = rcpts.iter().map(|r| r.0.as_str()).collect::<Vec<_>>().join(", ");
            self.audit(&mut tx, now, actor, "quarantine.release.claim", id, &detail)
                .await?;
        }
        tx.commit().await.map_err(self.err("committing a release claim"))?;
        Ok(Claim { token, rcpts })
    }

    pub(crate) async fn quarantine_finish(
        &self,
        id: &str,
        token: &str,
        outcome: ReleaseOutcome,
    ) -> Result<u64, StoreError> {
        let now = now_ms();
        let (state, action) = match outcome {
            ReleaseOutcome::Released => ("released", "quarantine.release"),
            ReleaseOutcome::Failed => ("held", "quarantine.release.failed"),
        };
        let mut tx = begin_write(&self.pool)
            .await
            .map_err(self.err("starting a release finish"))?;
        self.require_quarantined(&mut tx, id).await?;
        let rows = sqlx::query::<Db>(
            "UPDATE quarantine_rcpt SET state = $1, claim_token = NULL, changed_at = $2 \
             WHERE qid = $3 AND claim_token = $4 AND state = 'releasing' \
             RETURNING idx, address, changed_by, changed_from",
        )
        .bind(state)
        .bind(now)
        .bind(id.to_owned())
        .bind(token.to_owned())
        .fetch_all(&mut *tx)
        .await
        .map_err(self.err("finishing a release"))?;
        let e = self.err("decoding released recipients");
        let mut done = Vec::new();
        let mut actor = Actor {
            who: String::new(),
            from: String::new(),
        };
        for r in &rows {
            let idx: i64 = r.try_get("idx").map_err(&e)?;
            let address: String = r.try_get("address").map_err(&e)?;
            actor.who = r.try_get::<Option<String>, _>("changed_by").map_err(&e)?.unwrap_or_default();
            actor.from = r.try_get::<Option<String>, _>("changed_from").map_err(&e)?.unwrap_or_default();
            done.push((idx, address));
        }
        done.sort();
        if !done.is_empty() {
            let detail = done.iter().map(|d| d.1.as_str()).collect::<Vec<_>>().join(", ");
            self.audit(&mut tx, now, &actor, action, id, &detail).await?;
        }
        tx.commit().await.map_err(self.err("committing a release finish"))?;
        Ok(u64::try_from(done.len()).unwrap_or(0))
    }

    pub(crate) async fn quarantine_delete(
        &self,
        id: &str,
        rcpts: Option<&[String]>,
        actor: &Actor,
    ) -> Result<u64, StoreError> {
        let now = now_ms();
        let mut tx = begin_write(&self.pool)
            .await
            .map_err(self.err("starting a delete"))?;
        self.require_quarantined(&mut tx, id).await?;
        let n = self
            .set_held_state(&mut tx, id, rcpts, "deleted", "quarantine.delete", now, actor)
            .await?;
        tx.commit().await.map_err(self.err("committing a delete"))?;
        Ok(n)
    }

    /// Moves `held` recipients of one message to `state`, with an audit entry.
    #[allow(clippy::too_many_arguments)]
    async fn set_held_state(
        &self,
        conn: &mut <Db as Database>::Connection,
        id: &str,
        rcpts: Option<&[String]>,
        state: &str,
        action: &str,
        now: i64,
        actor: &Actor,
    ) -> Result<u64, StoreError> {
        let mut s = Sql::default();
        let p_state = s.arg(Arg::Text(state.to_owned()));
        let p_now = s.arg(Arg::Int(now));
        let p_who = s.arg(Arg::Text(actor.who.clone()));
        let p_from = s.arg(Arg::Text(actor.from.clone()));
        let p_id = s.arg(Arg::Text(id.to_owned()));
        s.push(&format!(
            "UPDATE quarantine_rcpt SET state = {p_state}, changed_at = {p_now}, changed_by = {p_who}, \
             changed_from = {p_from}, claim_token = NULL WHERE qid = {p_id} AND state = 'held'"
        ));
        Self::push_rcpt_selection(&mut s, rcpts);
        s.push(" RETURNING idx, address");
        let rows = s
            .query()
            .fetch_all(&mut *conn)
            .await
            .map_err(self.err("changing recipient state"))?;
        let e = self.err("decoding recipients");
        let mut done = Vec::new();
        for r in &rows {
            let idx: i64 = r.try_get("idx").map_err(&e)?;
            let address: String = r.try_get("address").map_err(&e)?;
            done.push((idx, address));
        }
        done.sort();
        if !done.is_empty() {
            let detail = done.iter().map(|d| d.1.as_str()).collect::<Vec<_>>().join(", ");
            self.audit(conn, now, actor, action, id, &detail).await?;
        }
        Ok(u64::try_from(done.len()).unwrap_or(0))
    }

    pub(crate) async fn quarantine_expire(
        &self,
        cutoff_ms: i64,
        actor: &Actor,
    ) -> Result<u64, StoreError> {
        let now = now_ms();
        let mut tx = begin_write(&self.pool)
            .await
            .map_err(self.err("starting quarantine expiry"))?;
        let ids: Vec<String> = sqlx::query_scalar::<Db, String>(
            "SELECT DISTINCT r.qid FROM quarantine_rcpt r JOIN quarantine q ON q.id = r.qid \
             WHERE r.state = 'held' AND q.received_at < $1 ORDER BY r.qid",
        )
        .bind(cutoff_ms)
        .fetch_all(&mut *tx)
        .await
        .map_err(self.err("selecting quarantine to expire"))?;
        let mut total = 0;
        for id in &ids {
            total += self
                .set_held_state(&mut tx, id, None, "expired", "quarantine.expire", now, actor)
                .await?;
        }
        // Raw bytes go once nobody can still receive them.
        sqlx::query::<Db>(
            "UPDATE quarantine SET raw = NULL WHERE received_at < $1 AND raw IS NOT NULL \
             AND NOT EXISTS (SELECT 1 FROM quarantine_rcpt r WHERE r.qid = quarantine.id \
             AND r.state IN ('held', 'releasing'))",
        )
        .bind(cutoff_ms)
        .execute(&mut *tx)
        .await
        .map_err(self.err("dropping expired message bytes"))?;
        tx.commit().await.map_err(self.err("committing quarantine expiry"))?;
        Ok(total)
    }

    // ------------------------------------------------------------------ audit

    pub(crate) async fn audit_list(
        &self,
        limit: u32,
        since: Option<i64>,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let rows = sqlx::query::<Db>(
            "SELECT at, who, origin, action, target, detail FROM audit WHERE at >= $1 \
             ORDER BY at DESC, seq DESC LIMIT $2",
        )
        .bind(since.unwrap_or(i64::MIN))
        .bind(i64::from(clamp_limit(limit)))
        .fetch_all(&self.pool)
        .await
        .map_err(self.err("reading the audit log"))?;
        let e = self.err("decoding the audit log");
        rows.iter()
            .map(|r| {
                Ok(AuditEvent {
                    at: r.try_get("at").map_err(&e)?,
                    who: r.try_get("who").map_err(&e)?,
                    from: r.try_get("origin").map_err(&e)?,
                    action: r.try_get("action").map_err(&e)?,
                    target: r.try_get("target").map_err(&e)?,
                    detail: r.try_get("detail").map_err(&e)?,
                })
            })
            .collect()
    }

    // ---------------------------------------------------------- sender memory

    pub(crate) async fn sender_inbound(
        &self,
        org: &str,
        address: &str,
        at_ms: i64,
    ) -> Result<(), StoreError> {
        let key = address_key(address);
        if key.is_empty() {
            return Ok(());
        }
        let domain = domain_of(address);
        let mut tx = begin_write(&self.pool)
            .await
            .map_err(self.err("starting a sender update"))?;
        for (table, column, value) in [("sender_address", "address", key), ("sender_domain", "domain", domain)] {
            if value.is_empty() {
                continue;
            }
            sqlx::query::<Db>(AssertSqlSafe(format!(
                "INSERT INTO {table} (org, {column}, first_seen, last_seen, count, replied) \
                 VALUES ($1, $2, $3, $3, 1, FALSE) ON CONFLICT (org, {column}) DO UPDATE SET \
                 first_seen = CASE WHEN {table}.first_seen IS NULL OR {table}.first_seen > excluded.first_seen \
                 THEN excluded.first_seen ELSE {table}.first_seen END, \
                 last_seen = CASE WHEN {table}.last_seen IS NULL OR {table}.last_seen < excluded.last_seen \
                 THEN excluded.last_seen ELSE {table}.last_seen END, \
                 count = {table}.count + 1"
            )))
            .bind(org.to_owned())
            .bind(value)
            .bind(at_ms)
            .execute(&mut *tx)
            .await
            .map_err(self.err("recording an inbound sender"))?;
        }
        tx.commit().await.map_err(self.err("committing a sender update"))
    }

    pub(crate) async fn sender_outbound(
        &self,
        org: &str,
        addresses: &[String],
        _at_ms: i64,
    ) -> Result<(), StoreError> {
        let mut tx = begin_write(&self.pool)
            .await
            .map_err(self.err("starting a sender update"))?;
        for address in addresses {
            let key = address_key(address);
            let domain = domain_of(address);
            for (table, column, value) in [("sender_address", "address", key), ("sender_domain", "domain", domain)] {
                if value.is_empty() {
                    continue;
                }
                sqlx::query::<Db>(AssertSqlSafe(format!(
                    "INSERT INTO {table} (org, {column}, first_seen, last_seen, count, replied) \
                     VALUES ($1, $2, NULL, NULL, 0, TRUE) \
                     ON CONFLICT (org, {column}) DO UPDATE SET replied = TRUE"
                )))
                .bind(org.to_owned())
                .bind(value)
                .execute(&mut *tx)
                .await
                .map_err(self.err("recording an outbound recipient"))?;
            }
        }
        tx.commit().await.map_err(self.err("committing a sender update"))
    }

    pub(crate) async fn sender_facts(
        &self,
        org: &str,
        address: &str,
    ) -> Result<SenderFacts, StoreError> {
        let mut facts = SenderFacts::default();
        let e = self.err("reading sender memory");
        let row = sqlx::query::<Db>(
            "SELECT first_seen, last_seen, count, replied FROM sender_address \
             WHERE org = $1 AND address = $2",
        )
        .bind(org.to_owned())
        .bind(address_key(address))
        .fetch_optional(&self.pool)
        .await
        .map_err(&e)?;
        if let Some(r) = row {
            facts.address_first_seen = r.try_get("first_seen").map_err(&e)?;
            facts.address_last_seen = r.try_get("last_seen").map_err(&e)?;
            facts.address_count = to_u64(r.try_get("count").map_err(&e)?);
            facts.address_replied = r.try_get("replied").map_err(&e)?;
        }
        let domain = domain_of(address);
        if !domain.is_empty() {
            let row = sqlx::query::<Db>(
                "SELECT first_seen, last_seen, count, replied FROM sender_domain \
                 WHERE org = $1 AND domain = $2",
            )
            .bind(org.to_owned())
            .bind(domain)
            .fetch_optional(&self.pool)
            .await
            .map_err(&e)?;
            if let Some(r) = row {
                facts.domain_first_seen = r.try_get("first_seen").map_err(&e)?;
                facts.domain_last_seen = r.try_get("last_seen").map_err(&e)?;
                facts.domain_count = to_u64(r.try_get("count").map_err(&e)?);
                facts.domain_replied = r.try_get("replied").map_err(&e)?;
            }
        }
        Ok(facts)
    }
}

impl SqlStore {
    // ------------------------------------------------------ classifier models

    pub(crate) async fn model_get(&self, name: &str) -> Result<Option<StoredModel>, StoreError> {
        let row = sqlx::query::<Db>(
            "SELECT name, version, bytes, sha256, updated_ms, updated_by \
             FROM classifier_models WHERE name = $1",
        )
        .bind(name.to_owned())
        .fetch_optional(&self.pool)
        .await
        .map_err(self.err("reading a classifier model"))?;
        let Some(r) = row else { return Ok(None) };
        let e = self.err("decoding a classifier model");
        let model = StoredModel {
            name: r.try_get("name").map_err(&e)?,
            version: r.try_get("version").map_err(&e)?,
            bytes: r.try_get("bytes").map_err(&e)?,
            sha256: r.try_get("sha256").map_err(&e)?,
            updated_ms: r.try_get("updated_ms").map_err(&e)?,
            updated_by: r.try_get("updated_by").map_err(&e)?,
        };
        verify_sha256(
            &self.label,
            &format!("classifier model {name:?} version {}", model.version),
            &model.bytes,
            &model.sha256,
        )?;
        Ok(Some(model))
    }

    pub(crate) async fn model_version(&self, name: &str) -> Result<Option<i64>, StoreError> {
        sqlx::query_scalar::<Db, i64>("SELECT version FROM classifier_models WHERE name = $1")
            .bind(name.to_owned())
            .fetch_optional(&self.pool)
            .await
            .map_err(self.err("reading a classifier model version"))
    }

    /// Compare-and-swap in one statement: an `INSERT ... ON CONFLICT DO
    /// NOTHING` when the model must not exist, else an `UPDATE ... WHERE
    /// version = $expected`. On PostgreSQL a concurrent writer's statement
    /// waits for the first to commit and then finds the row changed (READ
    /// COMMITTED re-checks the `WHERE`), on SQLite `BEGIN IMMEDIATE`
    /// serialises them: either way exactly one writer matches.
    pub(crate) async fn model_put(
        &self,
        name: &str,
        bytes: &[u8],
        expected_version: Option<i64>,
        actor: &Actor,
    ) -> Result<i64, StoreError> {
        crate::validate_model(&self.label, name, bytes)?;
        let sha = sha256_hex(bytes);
        let now = now_ms();
        let mut tx = begin_write(&self.pool)
            .await
            .map_err(self.err("starting a classifier model update"))?;
        let version = match expected_version {
            None => sqlx::query_scalar::<Db, i64>(
                "INSERT INTO classifier_models (name, version, bytes, sha256, updated_ms, \
                 updated_by) VALUES ($1, 1, $2, $3, $4, $5) \
                 ON CONFLICT (name) DO NOTHING RETURNING version",
            )
            .bind(name.to_owned())
            .bind(bytes.to_vec())
            .bind(sha.clone())
            .bind(now)
            .bind(actor.who.clone())
            .fetch_optional(&mut *tx)
            .await
            .map_err(self.err("storing a classifier model"))?,
            Some(expected) => sqlx::query_scalar::<Db, i64>(
                "UPDATE classifier_models SET version = version + 1, bytes = $1, sha256 = $2, \
                 updated_ms = $3, updated_by = $4 WHERE name = $5 AND version = $6 \
                 RETURNING version",
            )
            .bind(bytes.to_vec())
            .bind(sha.clone())
            .bind(now)
            .bind(actor.who.clone())
            .bind(name.to_owned())
            .bind(expected)
            .fetch_optional(&mut *tx)
            .await
            .map_err(self.err("replacing a classifier model"))?,
        };
        let Some(version) = version else {
            let found = sqlx::query_scalar::<Db, i64>(
                "SELECT version FROM classifier_models WHERE name = $1",
            )
            .bind(name.to_owned())
            .fetch_optional(&mut *tx)
            .await
            .map_err(self.err("reading a classifier model version"))?;
            return Err(crate::model_conflict(&self.label, name, expected_version, found));
        };
        let detail = crate::model_audit_detail(version, &sha, bytes.len());
        self.audit(&mut tx, now, actor, "model.update", name, &detail)
            .await?;
        tx.commit()
            .await
            .map_err(self.err("committing a classifier model"))?;
        Ok(version)
    }

    // ----------------------------------------------------------- user reports

    /// Inserts unless this reporter already reported this message (the
    /// unique `(sha256, reporter)` index; a concurrent duplicate waits for
    /// the first and then inserts nothing), then reads the row either way.
    pub(crate) async fn report_put(&self, n: &NewReport) -> Result<ReportEntry, StoreError> {
        let reporter = crate::validate_new_report(&self.label, n)?;
        let sha = sha256_hex(&n.raw);
        let id = new_id()?;
        let mut tx = begin_write(&self.pool)
            .await
            .map_err(self.err("starting a report transaction"))?;
        // A report that came in by mail is acknowledged to the MTA once stored.
        self.durable_commit(&mut tx).await?;
        sqlx::query::<Db>(
            "INSERT INTO reports (id, received_ms, reporter, note, sha256, raw, subject, sender, \
             message_id, status, verdict_action, score) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'new', $10, $11) \
             ON CONFLICT (sha256, reporter) DO NOTHING",
        )
        .bind(id)
        .bind(n.received_ms)
        .bind(reporter.clone())
        .bind(n.note.clone())
        .bind(sha.clone())
        .bind(n.raw.clone())
        .bind(n.subject.clone())
        .bind(n.sender.clone())
        .bind(n.message_id.clone())
        .bind(n.verdict_action.clone())
        .bind(n.score)
        .execute(&mut *tx)
        .await
        .map_err(self.err("storing a report"))?;
        let row = sqlx::query::<Db>(AssertSqlSafe(format!(
            "SELECT {REPORT_COLS} FROM reports r WHERE r.sha256 = $1 AND r.reporter = $2"
        )))
        .bind(sha)
        .bind(reporter.clone())
        .fetch_one(&mut *tx)
        .await
        .map_err(self.err("reading a stored report"))?;
        let entry = self.report_from_row(&row)?;
        tx.commit().await.map_err(self.err("committing a report"))?;
        Ok(entry)
    }

    /// The report list query. The status index (or the time index when
    /// no status is asked) yields rows in page order, so it stops after one
    /// page; for a status most rows have, PostgreSQL may walk the time
    /// index instead, which also stops after one page.
    fn report_list_sql(q: &ReportQuery, limit: u32) -> Result<Sql, StoreError> {
        let mut s = Sql::default();
        s.push(&format!("SELECT {REPORT_COLS} FROM reports r WHERE 1 = 1"));
        if let Some(status) = q.status {
            let p = s.arg(Arg::Text(status.as_str().into()));
            s.push(&format!(" AND r.status = {p}"));
        }
        if let Some((at, id)) = q.cursor.as_deref().map(decode_cursor).transpose()? {
            let pa = s.arg(Arg::Int(at));
            let pi = s.arg(Arg::Text(id));
            s.push(&format!(
                " AND r.received_ms <= {pa} AND (r.received_ms < {pa} OR r.id < {pi})"
            ));
        }
        let pl = s.arg(Arg::Int(i64::from(limit) + 1));
        s.push(&format!(" ORDER BY r.received_ms DESC, r.id DESC LIMIT {pl}"));
        Ok(s)
    }

    pub(crate) async fn report_list(
        &self,
        q: &ReportQuery,
    ) -> Result<Page<ReportEntry>, StoreError> {
        let limit = clamp_limit(q.limit);
        let rows = Self::report_list_sql(q, limit)?
            .query()
            .fetch_all(&self.pool)
            .await
            .map_err(self.err("listing reports"))?;
        let mut items = rows
            .iter()
            .map(|r| self.report_from_row(r))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(page(&mut items, limit, |e| (e.received_ms, e.id.as_str())))
    }

    /// The query plan of a report list, one line per plan node.
    pub(crate) async fn report_plan(&self, q: &ReportQuery) -> Result<String, StoreError> {
        let mut s = Self::report_list_sql(q, clamp_limit(q.limit))?;
        s.text = format!(
            "{}{}",
            if PG { "EXPLAIN " } else { "EXPLAIN QUERY PLAN " },
            s.text
        );
        let rows = s
            .query()
            .fetch_all(&self.pool)
            .await
            .map_err(self.err("explaining a report query"))?;
        let col = if PG { 0 } else { 3 };
        let lines = rows
            .iter()
            .map(|r| r.try_get::<String, _>(col))
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.err("reading a query plan"))?;
        Ok(lines.join("\n"))
    }

    pub(crate) async fn report_get(&self, id: &str) -> Result<Option<ReportEntry>, StoreError> {
        let row = sqlx::query::<Db>(AssertSqlSafe(format!(
            "SELECT {REPORT_COLS} FROM reports r WHERE r.id = $1"
        )))
        .bind(id.to_owned())
        .fetch_optional(&self.pool)
        .await
        .map_err(self.err("reading a report"))?;
        row.as_ref().map(|r| self.report_from_row(r)).transpose()
    }

    pub(crate) async fn report_raw(&self, id: &str) -> Result<Vec<u8>, StoreError> {
        let row = sqlx::query::<Db>("SELECT raw, sha256 FROM reports WHERE id = $1")
            .bind(id.to_owned())
            .fetch_optional(&self.pool)
            .await
            .map_err(self.err("reading a reported message"))?;
        let Some(row) = row else {
            return Err(crate::report_not_found(&self.label, id));
        };
        let e = self.err("decoding a reported message");
        let raw: Vec<u8> = row.try_get("raw").map_err(&e)?;
        let sha: String = row.try_get("sha256").map_err(&e)?;
        verify_sha256(&self.label, &format!("report {id}"), &raw, &sha)?;
        Ok(raw)
    }

    /// One `UPDATE ... WHERE status = 'new'`: a concurrent decider's
    /// statement waits for the first (PostgreSQL row lock; SQLite's write
    /// lock) and then matches nothing, and is told who decided.
    pub(crate) async fn report_decide(
        &self,
        id: &str,
        status: ReportStatus,
        actor: &Actor,
    ) -> Result<ReportEntry, StoreError> {
        let action = crate::decision_action(&self.label, id, status)?;
        let now = now_ms();
        let mut tx = begin_write(&self.pool)
            .await
            .map_err(self.err("starting a report decision"))?;
        let decided = sqlx::query::<Db>(
            "UPDATE reports SET status = $1, decided_by = $2, decided_ms = $3 \
             WHERE id = $4 AND status = 'new' RETURNING reporter, sha256",
        )
        .bind(status.as_str())
        .bind(actor.who.clone())
        .bind(now)
        .bind(id.to_owned())
        .fetch_optional(&mut *tx)
        .await
        .map_err(self.err("deciding a report"))?;
        let e = self.err("decoding a report");
        let Some(decided) = decided else {
            let row = sqlx::query::<Db>("SELECT status, decided_by FROM reports WHERE id = $1")
                .bind(id.to_owned())
                .fetch_optional(&mut *tx)
                .await
                .map_err(self.err("reading a report"))?;
            let Some(row) = row else {
                return Err(crate::report_not_found(&self.label, id));
            };
            let current: String = row.try_get("status").map_err(&e)?;
            let by: Option<String> = row.try_get("decided_by").map_err(&e)?;
            let current = ReportStatus::parse(&current).ok_or_else(|| {
                self.corrupt(format!("report {id}: bad status {current:?}"))
            })?;
            return Err(crate::already_decided(&self.label, id, current, by.as_deref()));
        };
        let reporter: String = decided.try_get("reporter").map_err(&e)?;
        let sha: String = decided.try_get("sha256").map_err(&e)?;
        let detail = crate::decision_detail(&reporter, &sha);
        self.audit(&mut tx, now, actor, action, id, &detail).await?;
        let row = sqlx::query::<Db>(AssertSqlSafe(format!(
            "SELECT {REPORT_COLS} FROM reports r WHERE r.id = $1"
        )))
        .bind(id.to_owned())
        .fetch_one(&mut *tx)
        .await
        .map_err(self.err("reading a decided report"))?;
        let entry = self.report_from_row(&row)?;
        tx.commit()
            .await
            .map_err(self.err("committing a report decision"))?;
        Ok(entry)
    }

    /// Deletes in batches of [`PURGE_BATCH`], each found on the status
    /// index (`status IN (...) AND received_ms < cutoff`).
    pub(crate) async fn purge_reports(&self, cutoff_ms: i64) -> Result<u64, StoreError> {
        let mut total = 0u64;
        loop {
            let mut tx = begin_write(&self.pool)
                .await
                .map_err(self.err("starting a report purge"))?;
            let n = sqlx::query::<Db>(
                "DELETE FROM reports WHERE id IN (SELECT id FROM reports \
                 WHERE status IN ('confirmed', 'dismissed') AND received_ms < $1 \
                 AND decided_ms < $1 LIMIT $2)",
            )
            .bind(cutoff_ms)
            .bind(PURGE_BATCH)
            .execute(&mut *tx)
            .await
            .map_err(self.err("purging reports"))?
            .rows_affected();
            tx.commit()
                .await
                .map_err(self.err("committing a report purge"))?;
            total += n;
            if i64::try_from(n).unwrap_or(i64::MAX) < PURGE_BATCH {
                break;
            }
        }
        Ok(total)
    }

    fn report_from_row(&self, r: &DbRow) -> Result<ReportEntry, StoreError> {
        let e = self.err("decoding a report");
        let id: String = r.try_get("id").map_err(&e)?;
        let status: String = r.try_get("status").map_err(&e)?;
        Ok(ReportEntry {
            status: ReportStatus::parse(&status)
                .ok_or_else(|| self.corrupt(format!("report {id}: bad status {status:?}")))?,
            received_ms: r.try_get("received_ms").map_err(&e)?,
            reporter: r.try_get("reporter").map_err(&e)?,
            note: r.try_get("note").map_err(&e)?,
            sha256: r.try_get("sha256").map_err(&e)?,
            subject: r.try_get("subject").map_err(&e)?,
            sender: r.try_get("sender").map_err(&e)?,
            message_id: r.try_get("message_id").map_err(&e)?,
            decided_by: r.try_get("decided_by").map_err(&e)?,
            decided_ms: r.try_get("decided_ms").map_err(&e)?,
            verdict_action: r.try_get("verdict_action").map_err(&e)?,
            score: r.try_get("score").map_err(&e)?,
            reporters: r.try_get("reporters").map_err(&e)?,
            id,
        })
    }
}

/// Cuts a fetched `limit + 1` rows down to a page and makes the cursor.
fn page<T>(items: &mut Vec<T>, limit: u32, key: impl Fn(&T) -> (i64, &str)) -> Page<T> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let more = items.len() > limit;
    items.truncate(limit);
    let next_cursor = if more {
        items.last().map(|last| {
            let (at, id) = key(last);
            encode_cursor(at, id)
        })
    } else {
        None
    };
    Page {
        items: std::mem::take(items),
        next_cursor,
    }
}
