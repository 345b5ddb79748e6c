//! Everything the gateway remembers: history of every message, quarantine,
//! sender memory — through `phishgate-store` (SQLite by default, PostgreSQL
//! for several nodes).
//!
//! Two kinds of writes, with different promises:
//!
//! - **Quarantine** is awaited: the MTA is told the message was taken
//!   (milter DISCARD, content-filter `250`) only after the store committed
//!   it. If the store fails, the message follows the failure path (Postfix
//!   hold queue in milter mode, `451` in content-filter mode): never lost.
//! - **History and sender memory** go through a bounded queue to one writer
//!   task that batches them (hundreds of rows per transaction). Mail never
//!   waits for them; a store outage or a full queue costs history rows
//!   (counted in `/metrics` as `kind="store"` errors and logged), never a
//!   message.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use phishgate_core::{Envelope, ScanResult, SenderHistory};
use phishgate_store::{
    AttachmentRecord, Direction, ErrorKind, HistoryRecord, NewQuarantined, Store, StoreError,
    SymbolRecord,
};
use tokio::sync::mpsc;

use crate::disposition::Disposition;
use crate::metrics::{Interface, Metrics};
use crate::settings::Settings;

/// Rows the writer puts in one transaction.
const BATCH: usize = 500;
/// Jobs waiting for the writer before new ones are dropped.
const QUEUE: usize = 20_000;
/// Longest wait for a sender lookup before scanning without it.
const LOOKUP_TIMEOUT: Duration = Duration::from_millis(500);

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A fresh identifier for history rows and held messages: time, process
/// and a counter (unique per host; the node name tells hosts apart).
pub fn new_id() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format!(
        "{}{:06}-{}-{}",
        now.as_secs(),
        now.subsec_micros(),
        std::process::id(),
        COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

enum Job {
    History(Box<HistoryRecord>),
    Inbound { address: String, at: i64 },
    Outbound { addresses: Vec<String>, at: i64 },
}

/// The gateway's handle on the store.
pub struct Recorder {
    /// The store itself (quarantine, queries).
    pub store: Arc<Store>,
    tx: mpsc::Sender<Job>,
    org: String,
    node: String,
    own_domains: Vec<String>,
}

fn in_domains(address: &str, domains: &[String]) -> bool {
    let domain = address
        .rsplit_once('@')
        .map_or("", |(_, d)| d)
        .to_ascii_lowercase();
    domains.iter().any(|d| {
        let d = d.to_ascii_lowercase();
        domain == d || domain.ends_with(&format!(".{d}"))
    })
}

impl Recorder {
    /// Opens the store named by `[storage] url` (SQLite in the data
    /// directory by default) and starts the writer task.
    pub async fn open(
        settings: &Settings,
        org: &str,
        own_domains: &[String],
        metrics: Arc<Metrics>,
    ) -> Result<Recorder, StoreError> {
        let store = Arc::new(Store::open(&settings.storage_url, &settings.data_dir).await?);
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(writer(Arc::clone(&store), rx, org.to_string(), metrics));
        Ok(Recorder {
            store,
            tx,
            org: org.to_string(),
            node: settings.hostname.clone(),
            own_domains: own_domains.to_vec(),
        })
    }

    /// The organisation key of sender memory.
    pub fn org(&self) -> &str {
        &self.org
    }

    /// True for an address in the organisation's own domains.
    pub fn is_own(&self, address: &str) -> bool {
        in_domains(address, &self.own_domains)
    }

    /// Which way a message goes: out when an authenticated user or an own
    /// address writes to someone outside, internal between own addresses,
    /// in otherwise.
    pub fn direction(&self, from: Option<&str>, envelope: &Envelope) -> Direction {
        let from_own = from.is_some_and(|f| self.is_own(f))
            || envelope
                .mail_from
                .as_deref()
                .is_some_and(|f| self.is_own(f));
        let any_external = envelope.rcpt_to.iter().any(|r| !self.is_own(r));
        if envelope.authenticated_user.is_some() || from_own {
            if any_external {
                Direction::Outbound
            } else {
                Direction::Internal
            }
        } else {
            Direction::Inbound
        }
    }

    /// What the store remembers about an external From address, bounded in
    /// time; `None` for own addresses or when the store does not answer.
    pub async fn sender_history(
        &self,
        from: &str,
        metrics: &Metrics,
        iface: Interface,
    ) -> Option<SenderHistory> {
        if self.is_own(from) {
            return None;
        }
        match tokio::time::timeout(LOOKUP_TIMEOUT, self.store.sender_facts(&self.org, from)).await {
            Ok(Ok(f)) => Some(SenderHistory {
                address_count: f.address_count,
                domain_count: f.domain_count,
                address_replied: f.address_replied,
                domain_replied: f.domain_replied,
                address_age_days: f
                    .address_first_seen
                    .map(|t| (now_ms().saturating_sub(t)) as f64 / 86_400_000.0),
            }),
            Ok(Err(e)) => {
                metrics.error(iface, "store");
                tracing::warn!(error = %e, "sender lookup failed; scanning without sender memory");
                None
            }
            Err(_) => {
                metrics.error(iface, "store");
                tracing::warn!("sender lookup timed out; scanning without sender memory");
                None
            }
        }
    }

    fn enqueue(&self, job: Job, metrics: &Metrics, iface: Interface) {
        if self.tx.try_send(job).is_err() {
            metrics.error(iface, "store");
            tracing::warn!("history queue full: a history row was dropped (mail is not affected)");
        }
    }

    /// Records a decided message and what it teaches about its sender.
    #[allow(clippy::too_many_arguments)]
    pub fn record(
        &self,
        iface: Interface,
        metrics: &Metrics,
        envelope: &Envelope,
        queue_id: Option<&str>,
        result: Option<&ScanResult>,
        d: &Disposition,
        size: usize,
        quarantine_id: Option<&str>,
    ) {
        let at = now_ms();
        let from = result.and_then(|r| r.from.clone());
        let direction = self.direction(from.as_deref(), envelope);
        let rec = HistoryRecord {
            id: new_id(),
            received_at: at,
            node: self.node.clone(),
            direction,
            interface: iface.as_str().to_string(),
            queue_id: queue_id.map(str::to_string),
            mail_from: envelope.mail_from.clone().unwrap_or_default(),
            rcpts: envelope.rcpt_to.clone(),
            from_header: from.clone(),
            to_header: result.map(|r| r.to.clone()).unwrap_or_default(),
            subject: result.map(|r| r.subject.clone()).unwrap_or_default(),
            size: size as u64,
            score: d.score,
            action: match &d.failure {
                Some(f) => format!("error:{}", f.token()),
                None => d.action.as_str().to_string(),
            },
            symbols: result
                .map(|r| {
                    r.symbols
                        .iter()
                        .filter(|s| s.cancelled_by.is_none())
                        .map(|s| SymbolRecord {
                            name: s.name.clone(),
                            score: s.score,
                            options: s.options.clone(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            link_domains: result.map(|r| r.link_domains.clone()).unwrap_or_default(),
            attachments: result
                .map(|r| {
                    r.attachments
                        .iter()
                        .map(|a| AttachmentRecord {
                            name: a.name.clone(),
                            content_type: a.content_type.clone(),
                            size: a.size,
                            sha256: a.sha256.clone(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            fingerprint: result.map(|r| r.fingerprint.clone()).unwrap_or_default(),
            message_id: result.and_then(|r| r.message_id.clone()),
            quarantine_id: quarantine_id.map(str::to_string),
        };
        self.enqueue(Job::History(Box::new(rec)), metrics, iface);
        match direction {
            Direction::Inbound => {
                if let Some(f) = from {
                    self.enqueue(Job::Inbound { address: f, at }, metrics, iface);
                }
            }
            Direction::Outbound => {
                let addresses: Vec<String> = envelope
                    .rcpt_to
                    .iter()
                    .filter(|r| !self.is_own(r))
                    .map(|r| r.to_lowercase())
                    .collect();
                self.enqueue(Job::Outbound { addresses, at }, metrics, iface);
            }
            Direction::Internal => {}
        }
    }

    /// Stores a held message durably; returns when it is committed.
    pub async fn quarantine(&self, q: NewQuarantined) -> Result<(), StoreError> {
        self.store.quarantine_put(&q).await
    }
}

/// The writer: batches history rows, applies sender-memory updates.
async fn writer(
    store: Arc<Store>,
    mut rx: mpsc::Receiver<Job>,
    org: String,
    metrics: Arc<Metrics>,
) {
    let mut batch: Vec<HistoryRecord> = Vec::with_capacity(BATCH);
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < BATCH {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        for job in jobs {
            match job {
                Job::History(r) => batch.push(*r),
                Job::Inbound { address, at } => {
                    if let Err(e) = store.sender_inbound(&org, &address, at).await {
                        metrics.error(Interface::Smtp, "store");
                        tracing::warn!(error = %e, "sender memory update failed");
                    }
                }
                Job::Outbound { addresses, at } => {
                    if let Err(e) = store.sender_outbound(&org, &addresses, at).await {
                        metrics.error(Interface::Smtp, "store");
                        tracing::warn!(error = %e, "sender memory update failed");
                    }
                }
            }
        }
        if !batch.is_empty() {
            write_batch(&store, &batch, &metrics).await;
            batch.clear();
        }
    }
}

/// Writes one batch of history rows, retrying while the database is
/// unavailable or full (a restart, a failover, a disk being cleaned) for up
/// to [`RETRY_FOR`]. Rows are inserted by id with "do nothing" on conflict,
/// so a retry after a commit whose answer was lost writes nothing twice.
/// Meanwhile new jobs wait in the bounded queue (dropped, counted, once it
/// is full); mail never waits for history.
async fn write_batch(store: &Store, batch: &[HistoryRecord], metrics: &Metrics) {
    let started = tokio::time::Instant::now();
    let mut delay = Duration::from_millis(100);
    let mut warned = false;
    loop {
        let e = match store.record_batch(batch).await {
            Ok(()) => {
                if warned {
                    tracing::info!(rows = batch.len(), "history writes resumed");
                }
                return;
            }
            Err(e) => e,
        };
        metrics.error(Interface::Smtp, "store");
        let transient = matches!(e.kind(), ErrorKind::Unavailable | ErrorKind::Full);
        if !transient || started.elapsed() >= RETRY_FOR {
            tracing::error!(rows = batch.len(), error = %e, "history rows could not be written");
            return;
        }
        if !warned {
            tracing::warn!(rows = batch.len(), error = %e, "history store unavailable; retrying");
            warned = true;
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(2));
    }
}

/// How long a batch of history rows is retried before it is given up.
const RETRY_FOR: Duration = Duration::from_secs(120);

/// A held message as the store keeps it.
#[allow(clippy::too_many_arguments)]
pub fn held(
    id: &str,
    raw: &[u8],
    mail_from: &str,
    mail_params: Vec<String>,
    rcpts: Vec<(String, Vec<String>)>,
    d: &Disposition,
    result: Option<&ScanResult>,
    reason: &str,
) -> NewQuarantined {
    NewQuarantined {
        id: id.to_string(),
        received_at: now_ms(),
        history_id: None,
        mail_from: mail_from.to_string(),
        mail_params,
        rcpts,
        raw: raw.to_vec(),
        reason: reason.to_string(),
        score: d.score,
        action: d.action.as_str().to_string(),
        subject: result.map(|r| r.subject.clone()).unwrap_or_default(),
        from_header: result.and_then(|r| r.from.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_domains_include_subdomains() {
        let d = vec!["laocai.gov.vn".to_string()];
        assert!(in_domains("a@laocai.gov.vn", &d));
        assert!(in_domains("a@mail.laocai.gov.vn", &d));
        assert!(!in_domains("a@laocai.gov.vn.evil.top", &d));
        assert!(!in_domains("a@xlaocai.gov.vn", &d));
    }

    #[test]
    fn ids_are_unique() {
        assert_ne!(new_id(), new_id());
    }
}
