//! The in-memory backend, for unit tests of callers.
//!
//! It keeps the same semantics as the SQL backends (the conformance suite
//! runs against all three) with plain collections behind one mutex. Filters
//! are evaluated by scanning, which is fine at test sizes.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use crate::error::{ErrorKind, StoreError};
use crate::types::{
    Actor, AuditEvent, Claim, HistoryQuery, HistoryRecord, NewQuarantined, NewReport, Page,
    QuarantineEntry, QuarantineQuery, QuarantineRcpt, RcptState, ReleaseOutcome, ReportEntry,
    ReportQuery, ReportStatus, SenderFacts, StoredModel,
};
use crate::util::{
    address_key, clamp_limit, compress, decode_cursor, decompress_verified, domain_key, domain_of,
    encode_cursor, new_id, new_token, now_ms, sender_filter, sha256_hex, verify_sha256, words,
    SenderFilter,
};

const LABEL: &str = "in-memory store";

#[derive(Default)]
struct State {
    /// History keyed by (received_at, id): iteration order is page order.
    history: BTreeMap<(i64, String), HistoryRecord>,
    history_ids: HashMap<String, i64>,
    quarantine: BTreeMap<(i64, String), Quarantined>,
    quarantine_ids: HashMap<String, i64>,
    audit: Vec<AuditEvent>,
    senders: HashMap<(String, String), Seen>,
    domains: HashMap<(String, String), Seen>,
    models: HashMap<String, StoredModel>,
    /// Reports keyed by (received_ms, id), like the quarantine.
    reports: BTreeMap<(i64, String), StoredReport>,
    report_ids: HashMap<String, i64>,
    /// (sha256, reporter) to report id: the unique index of the SQL
    /// backends, and the reporter count by range.
    report_keys: BTreeMap<(String, String), String>,
}

struct StoredReport {
    /// `reporters` is not kept here: it is counted when read.
    entry: ReportEntry,
    raw: Vec<u8>,
}

struct Quarantined {
    entry: QuarantineEntry,
    blob: Option<Vec<u8>>,
    /// Per recipient: claim token and who claimed, while `releasing`.
    claims: Vec<Option<(String, Actor)>>,
}

#[derive(Default, Clone)]
struct Seen {
    first: Option<i64>,
    last: Option<i64>,
    count: u64,
    replied: bool,
}

/// The in-memory store.
#[derive(Default)]
pub(crate) struct MemoryStore {
    state: Mutex<State>,
}

impl MemoryStore {
    fn lock(&self) -> Result<MutexGuard<'_, State>, StoreError> {
        // A panic while holding the lock is a bug in this file; report it
        // rather than propagate the poison as a panic.
        self.state
            .lock()
            .map_err(|_| StoreError::new(ErrorKind::Unavailable, format!("{LABEL}: lock poisoned")))
    }

    pub(crate) fn record_batch(&self, records: &[HistoryRecord]) -> Result<(), StoreError> {
        if let Some(r) = records.iter().find(|r| r.id.is_empty()) {
            return Err(StoreError::new(
                ErrorKind::Invalid,
                format!(
                    "{LABEL}: history record without an id (received_at {})",
                    r.received_at
                ),
            ));
        }
        let mut st = self.lock()?;
        for r in records {
            if st.history_ids.contains_key(&r.id) {
                continue;
            }
            st.history_ids.insert(r.id.clone(), r.received_at);
            st.history.insert((r.received_at, r.id.clone()), r.clone());
        }
        Ok(())
    }

    pub(crate) fn history(&self, q: &HistoryQuery) -> Result<Page<HistoryRecord>, StoreError> {
        let limit = clamp_limit(q.limit);
        let cursor = q.cursor.as_deref().map(decode_cursor).transpose()?;
        let filter = HistoryFilter::new(q);
        let st = self.lock()?;
        let items = st
            .history
            .iter()
            .rev()
            .filter(|((at, id), _)| before_cursor(&cursor, *at, id))
            .filter(|(_, r)| filter.matches(r))
            .map(|(_, r)| r.clone());
        Ok(paginate(items, limit, |r| (r.received_at, r.id.clone())))
    }

    pub(crate) fn history_get(&self, id: &str) -> Result<Option<HistoryRecord>, StoreError> {
        let st = self.lock()?;
        Ok(st
            .history_ids
            .get(id)
            .and_then(|at| st.history.get(&(*at, id.to_owned())))
            .cloned())
    }

    pub(crate) fn purge_history(&self, cutoff_ms: i64) -> Result<u64, StoreError> {
        let mut st = self.lock()?;
        let old: Vec<(i64, String)> = st
            .history
            .range(..(cutoff_ms, String::new()))
            .map(|(k, _)| k.clone())
            .collect();
        for key in &old {
            st.history.remove(key);
            st.history_ids.remove(&key.1);
        }
        Ok(u64::try_from(old.len()).unwrap_or(0))
    }

    pub(crate) fn quarantine_put(&self, n: &NewQuarantined) -> Result<(), StoreError> {
        crate::validate_new_quarantined(LABEL, n)?;
        let sha = sha256_hex(&n.raw);
        let blob = compress(&n.raw)?;
        let now = now_ms();
        let mut st = self.lock()?;
        if let Some(at) = st.quarantine_ids.get(&n.id) {
            let same = st
                .quarantine
                .get(&(*at, n.id.clone()))
                .is_some_and(|q| q.entry.sha256 == sha);
            return if same {
                Ok(())
            } else {
                Err(StoreError::new(
                    ErrorKind::Conflict,
                    format!(
                        "{LABEL}: quarantine id {} already holds a different message",
                        n.id
                    ),
                ))
            };
        }
        let entry = QuarantineEntry {
            id: n.id.clone(),
            received_at: n.received_at,
            history_id: n.history_id.clone(),
            mail_from: n.mail_from.clone(),
            mail_params: n.mail_params.clone(),
            reason: n.reason.clone(),
            score: n.score,
            action: n.action.clone(),
            subject: n.subject.clone(),
            from_header: n.from_header.clone(),
            size: u64::try_from(n.raw.len()).unwrap_or(u64::MAX),
            sha256: sha,
            raw_available: true,
            rcpts: n
                .rcpts
                .iter()
                .map(|(address, params)| QuarantineRcpt {
                    address: address.clone(),
                    params: params.clone(),
                    state: RcptState::Held,
                    changed_at: now,
                    changed_by: None,
                })
                .collect(),
        };
        st.quarantine_ids.insert(n.id.clone(), n.received_at);
        st.quarantine.insert(
            (n.received_at, n.id.clone()),
            Quarantined {
                entry,
                blob: Some(blob),
                claims: vec![None; n.rcpts.len()],
            },
        );
        let actor = Actor {
            who: "gateway".into(),
            from: String::new(),
        };
        audit(
            &mut st,
            now,
            &actor,
            "quarantine.hold",
            &n.id,
            format!("{} recipient(s); {}", n.rcpts.len(), n.reason),
        );
        Ok(())
    }

    pub(crate) fn quarantine_list(
        &self,
        q: &QuarantineQuery,
    ) -> Result<Page<QuarantineEntry>, StoreError> {
        let limit = clamp_limit(q.limit);
        let cursor = q.cursor.as_deref().map(decode_cursor).transpose()?;
        let rcpt = q
            .recipient
            .as_deref()
            .map(address_key)
            .filter(|s| !s.is_empty());
        let sender = q.sender.as_deref().map(sender_filter);
        let st = self.lock()?;
        let items = st
            .quarantine
            .iter()
            .rev()
            .filter(|((at, id), _)| before_cursor(&cursor, *at, id))
            .map(|(_, q)| &q.entry)
            .filter(|e| q.since.is_none_or(|s| e.received_at >= s))
            .filter(|e| q.until.is_none_or(|u| e.received_at < u))
            .filter(|e| q.state.is_none_or(|s| e.rcpts.iter().any(|r| r.state == s)))
            .filter(|e| {
                rcpt.as_ref()
                    .is_none_or(|a| e.rcpts.iter().any(|r| address_key(&r.address) == *a))
            })
            .filter(|e| match &sender {
                Some(SenderFilter::Address(a)) if !a.is_empty() => address_key(&e.mail_from) == *a,
                Some(SenderFilter::Domain(d)) if !d.is_empty() => domain_of(&e.mail_from) == *d,
                _ => true,
            })
            .cloned();
        Ok(paginate(items, limit, |e| (e.received_at, e.id.clone())))
    }

    pub(crate) fn quarantine_get(&self, id: &str) -> Result<Option<QuarantineEntry>, StoreError> {
        let st = self.lock()?;
        Ok(find(&st, id).map(|q| q.entry.clone()))
    }

    pub(crate) fn quarantine_raw(&self, id: &str) -> Result<Vec<u8>, StoreError> {
        let st = self.lock()?;
        let q = find(&st, id).ok_or_else(|| crate::not_found(LABEL, id))?;
        let blob = q
            .blob
            .as_ref()
            .ok_or_else(|| crate::raw_dropped(LABEL, id))?;
        decompress_verified(LABEL, id, blob, q.entry.size, &q.entry.sha256)
    }

    pub(crate) fn quarantine_claim(
        &self,
        id: &str,
        rcpts: Option<&[String]>,
        actor: &Actor,
        stale_after_ms: i64,
    ) -> Result<Claim, StoreError> {
        let token = new_token()?;
        let now = now_ms();
        let stale = now.saturating_sub(stale_after_ms.max(0));
        let selected = selection(rcpts);
        let mut st = self.lock()?;
        let q = find_mut(&mut st, id).ok_or_else(|| crate::not_found(LABEL, id))?;
        let mut claimed = Vec::new();
        for (r, claim) in q.entry.rcpts.iter_mut().zip(q.claims.iter_mut()) {
            let eligible = r.state == RcptState::Held
                || (r.state == RcptState::Releasing && r.changed_at <= stale);
            if eligible
                && selected
                    .as_ref()
                    .is_none_or(|s| s.contains(&address_key(&r.address)))
            {
                r.state = RcptState::Releasing;
                r.changed_at = now;
                r.changed_by = Some(actor.who.clone());
                *claim = Some((token.clone(), actor.clone()));
                claimed.push((r.address.clone(), r.params.clone()));
            }
        }
        if !claimed.is_empty() {
            let detail = join(claimed.iter().map(|c| c.0.as_str()));
            audit(&mut st, now, actor, "quarantine.release.claim", id, detail);
        }
        Ok(Claim {
            token,
            rcpts: claimed,
        })
    }

    pub(crate) fn quarantine_finish(
        &self,
        id: &str,
        token: &str,
        outcome: ReleaseOutcome,
    ) -> Result<u64, StoreError> {
        let now = now_ms();
        let (state, action) = match outcome {
            ReleaseOutcome::Released => (RcptState::Released, "quarantine.release"),
            ReleaseOutcome::Failed => (RcptState::Held, "quarantine.release.failed"),
        };
        let mut st = self.lock()?;
        let q = find_mut(&mut st, id).ok_or_else(|| crate::not_found(LABEL, id))?;
        let mut done = Vec::new();
        let mut who = None;
        for (r, claim) in q.entry.rcpts.iter_mut().zip(q.claims.iter_mut()) {
            let ours = matches!(claim, Some((t, _)) if t == token);
            if r.state == RcptState::Releasing && ours {
                r.state = state;
                r.changed_at = now;
                who = claim.take().map(|(_, a)| a);
                done.push(r.address.clone());
            }
        }
        if let Some(actor) = who {
            audit(
                &mut st,
                now,
                &actor,
                action,
                id,
                join(done.iter().map(String::as_str)),
            );
        }
        Ok(u64::try_from(done.len()).unwrap_or(0))
    }

    pub(crate) fn quarantine_delete(
        &self,
        id: &str,
        rcpts: Option<&[String]>,
        actor: &Actor,
    ) -> Result<u64, StoreError> {
        let now = now_ms();
        let mut st = self.lock()?;
        if find(&st, id).is_none() {
            return Err(crate::not_found(LABEL, id));
        }
        Ok(set_held_state(
            &mut st,
            id,
            rcpts,
            RcptState::Deleted,
            "quarantine.delete",
            now,
            actor,
        ))
    }

    pub(crate) fn quarantine_expire(
        &self,
        cutoff_ms: i64,
        actor: &Actor,
    ) -> Result<u64, StoreError> {
        let now = now_ms();
        let mut st = self.lock()?;
        let mut ids: Vec<String> = st
            .quarantine
            .range(..(cutoff_ms, String::new()))
            .filter(|(_, q)| q.entry.rcpts.iter().any(|r| r.state == RcptState::Held))
            .map(|((_, id), _)| id.clone())
            .collect();
        ids.sort();
        let mut total = 0;
        for id in &ids {
            total += set_held_state(
                &mut st,
                id,
                None,
                RcptState::Expired,
                "quarantine.expire",
                now,
                actor,
            );
        }
        for (_, q) in st.quarantine.range_mut(..(cutoff_ms, String::new())) {
            let live = q
                .entry
                .rcpts
                .iter()
                .any(|r| matches!(r.state, RcptState::Held | RcptState::Releasing));
            if !live {
                q.blob = None;
                q.entry.raw_available = false;
            }
        }
        Ok(total)
    }

    pub(crate) fn audit_list(
        &self,
        limit: u32,
        since: Option<i64>,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let limit = usize::try_from(clamp_limit(limit)).unwrap_or(usize::MAX);
        let st = self.lock()?;
        // Appended in time order; newest first, like the SQL backends.
        let mut out: Vec<AuditEvent> = st
            .audit
            .iter()
            .rev()
            .filter(|e| since.is_none_or(|s| e.at >= s))
            .cloned()
            .collect();
        out.sort_by_key(|e| std::cmp::Reverse(e.at));
        out.truncate(limit);
        Ok(out)
    }

    pub(crate) fn sender_inbound(
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
        let mut st = self.lock()?;
        let bump = |s: &mut Seen| {
            s.first = Some(s.first.map_or(at_ms, |f| f.min(at_ms)));
            s.last = Some(s.last.map_or(at_ms, |l| l.max(at_ms)));
            s.count += 1;
        };
        bump(st.senders.entry((org.to_owned(), key)).or_default());
        if !domain.is_empty() {
            bump(st.domains.entry((org.to_owned(), domain)).or_default());
        }
        Ok(())
    }

    pub(crate) fn sender_outbound(
        &self,
        org: &str,
        addresses: &[String],
        _at_ms: i64,
    ) -> Result<(), StoreError> {
        let mut st = self.lock()?;
        for a in addresses {
            let key = address_key(a);
            if !key.is_empty() {
                st.senders.entry((org.to_owned(), key)).or_default().replied = true;
            }
            let domain = domain_of(a);
            if !domain.is_empty() {
                st.domains
                    .entry((org.to_owned(), domain))
                    .or_default()
                    .replied = true;
            }
        }
        Ok(())
    }

    pub(crate) fn sender_facts(&self, org: &str, address: &str) -> Result<SenderFacts, StoreError> {
        let st = self.lock()?;
        let a = st
            .senders
            .get(&(org.to_owned(), address_key(address)))
            .cloned()
            .unwrap_or_default();
        let d = st
            .domains
            .get(&(org.to_owned(), domain_of(address)))
            .cloned()
            .unwrap_or_default();
        Ok(SenderFacts {
            address_first_seen: a.first,
            address_last_seen: a.last,
            address_count: a.count,
            domain_first_seen: d.first,
            domain_last_seen: d.last,
            domain_count: d.count,
            address_replied: a.replied,
            domain_replied: d.replied,
        })
    }
}

impl MemoryStore {
    // ------------------------------------------------------ classifier models

    pub(crate) fn model_get(&self, name: &str) -> Result<Option<StoredModel>, StoreError> {
        let st = self.lock()?;
        let Some(m) = st.models.get(name) else {
            return Ok(None);
        };
        verify_sha256(
            LABEL,
            &format!("classifier model {name:?}"),
            &m.bytes,
            &m.sha256,
        )?;
        Ok(Some(m.clone()))
    }

    pub(crate) fn model_version(&self, name: &str) -> Result<Option<i64>, StoreError> {
        Ok(self.lock()?.models.get(name).map(|m| m.version))
    }

    pub(crate) fn model_put(
        &self,
        name: &str,
        bytes: &[u8],
        expected_version: Option<i64>,
        actor: &Actor,
    ) -> Result<i64, StoreError> {
        crate::validate_model(LABEL, name, bytes)?;
        let sha = sha256_hex(bytes);
        let now = now_ms();
        let mut st = self.lock()?;
        let found = st.models.get(name).map(|m| m.version);
        if found != expected_version {
            return Err(crate::model_conflict(LABEL, name, expected_version, found));
        }
        let version = found.map_or(1, |v| v.saturating_add(1));
        let detail = crate::model_audit_detail(version, &sha, bytes.len());
        st.models.insert(
            name.to_owned(),
            StoredModel {
                name: name.to_owned(),
                version,
                bytes: bytes.to_vec(),
                sha256: sha,
                updated_ms: now,
                updated_by: actor.who.clone(),
            },
        );
        audit(&mut st, now, actor, "model.update", name, detail);
        Ok(version)
    }

    // ----------------------------------------------------------- user reports

    pub(crate) fn report_put(&self, r: &NewReport) -> Result<ReportEntry, StoreError> {
        let reporter = crate::validate_new_report(LABEL, r)?;
        let sha = sha256_hex(&r.raw);
        let id = new_id()?;
        let mut st = self.lock()?;
        let key = (sha.clone(), reporter.clone());
        if let Some(existing) = st.report_keys.get(&key).cloned() {
            return report_entry(&st, &existing)
                .ok_or_else(|| crate::report_not_found(LABEL, &existing));
        }
        let entry = ReportEntry {
            id: id.clone(),
            received_ms: r.received_ms,
            reporter,
            note: r.note.clone(),
            sha256: sha,
            subject: r.subject.clone(),
            sender: r.sender.clone(),
            message_id: r.message_id.clone(),
            status: ReportStatus::New,
            decided_by: None,
            decided_ms: None,
            verdict_action: r.verdict_action.clone(),
            score: r.score,
            reporters: 0,
        };
        st.report_keys.insert(key, id.clone());
        st.report_ids.insert(id.clone(), r.received_ms);
        st.reports.insert(
            (r.received_ms, id.clone()),
            StoredReport {
                entry,
                raw: r.raw.clone(),
            },
        );
        report_entry(&st, &id).ok_or_else(|| crate::report_not_found(LABEL, &id))
    }

    pub(crate) fn report_list(&self, q: &ReportQuery) -> Result<Page<ReportEntry>, StoreError> {
        let limit = clamp_limit(q.limit);
        let cursor = q.cursor.as_deref().map(decode_cursor).transpose()?;
        let st = self.lock()?;
        let items = st
            .reports
            .iter()
            .rev()
            .filter(|((at, id), _)| before_cursor(&cursor, *at, id))
            .filter(|(_, r)| q.status.is_none_or(|s| r.entry.status == s))
            .map(|(_, r)| with_reporters(&st, &r.entry));
        Ok(paginate(items, limit, |e| (e.received_ms, e.id.clone())))
    }

    pub(crate) fn report_get(&self, id: &str) -> Result<Option<ReportEntry>, StoreError> {
        let st = self.lock()?;
        Ok(report_entry(&st, id))
    }

    pub(crate) fn report_raw(&self, id: &str) -> Result<Vec<u8>, StoreError> {
        let st = self.lock()?;
        let r = find_report(&st, id).ok_or_else(|| crate::report_not_found(LABEL, id))?;
        verify_sha256(LABEL, &format!("report {id}"), &r.raw, &r.entry.sha256)?;
        Ok(r.raw.clone())
    }

    pub(crate) fn report_decide(
        &self,
        id: &str,
        status: ReportStatus,
        actor: &Actor,
    ) -> Result<ReportEntry, StoreError> {
        let action = crate::decision_action(LABEL, id, status)?;
        let now = now_ms();
        let mut st = self.lock()?;
        let at = *st
            .report_ids
            .get(id)
            .ok_or_else(|| crate::report_not_found(LABEL, id))?;
        let r = st
            .reports
            .get_mut(&(at, id.to_owned()))
            .ok_or_else(|| crate::report_not_found(LABEL, id))?;
        if r.entry.status != ReportStatus::New {
            return Err(crate::already_decided(
                LABEL,
                id,
                r.entry.status,
                r.entry.decided_by.as_deref(),
            ));
        }
        r.entry.status = status;
        r.entry.decided_by = Some(actor.who.clone());
        r.entry.decided_ms = Some(now);
        let detail = crate::decision_detail(&r.entry.reporter, &r.entry.sha256);
        audit(&mut st, now, actor, action, id, detail);
        report_entry(&st, id).ok_or_else(|| crate::report_not_found(LABEL, id))
    }

    pub(crate) fn purge_reports(&self, cutoff_ms: i64) -> Result<u64, StoreError> {
        let mut st = self.lock()?;
        let old: Vec<(i64, String)> = st
            .reports
            .range(..(cutoff_ms, String::new()))
            .filter(|(_, r)| {
                r.entry.status != ReportStatus::New
                    && r.entry.decided_ms.is_some_and(|d| d < cutoff_ms)
            })
            .map(|(k, _)| k.clone())
            .collect();
        for key in &old {
            if let Some(r) = st.reports.remove(key) {
                st.report_keys
                    .remove(&(r.entry.sha256.clone(), r.entry.reporter.clone()));
            }
            st.report_ids.remove(&key.1);
        }
        Ok(u64::try_from(old.len()).unwrap_or(0))
    }
}

fn find_report<'a>(st: &'a State, id: &str) -> Option<&'a StoredReport> {
    let at = st.report_ids.get(id)?;
    st.reports.get(&(*at, id.to_owned()))
}

/// The report with its reporter count.
fn report_entry(st: &State, id: &str) -> Option<ReportEntry> {
    find_report(st, id).map(|r| with_reporters(st, &r.entry))
}

fn with_reporters(st: &State, entry: &ReportEntry) -> ReportEntry {
    let sha = &entry.sha256;
    let reporters = st
        .report_keys
        .range((sha.clone(), String::new())..)
        .take_while(|((s, _), _)| s == sha)
        .count();
    ReportEntry {
        reporters: i64::try_from(reporters).unwrap_or(i64::MAX),
        ..entry.clone()
    }
}

/// The history filters, normalised once.
struct HistoryFilter {
    sender: Option<SenderFilter>,
    recipient: Option<String>,
    words: Option<Vec<String>>,
    domain: Option<String>,
    action: Option<String>,
    symbol: Option<String>,
    since: Option<i64>,
    until: Option<i64>,
}

impl HistoryFilter {
    fn new(q: &HistoryQuery) -> Self {
        let nonempty = |s: &String| !s.is_empty();
        HistoryFilter {
            sender: q.sender.as_deref().map(sender_filter).filter(|f| match f {
                SenderFilter::Address(a) => !a.is_empty(),
                SenderFilter::Domain(d) => !d.is_empty(),
            }),
            recipient: q.recipient.as_deref().map(address_key).filter(nonempty),
            words: q
                .subject_words
                .as_deref()
                .map(words)
                .filter(|w| !w.is_empty()),
            domain: q.domain.as_deref().map(domain_key).filter(nonempty),
            action: q
                .action
                .as_deref()
                .map(|s| s.trim().to_owned())
                .filter(nonempty),
            symbol: q
                .symbol
                .as_deref()
                .map(|s| s.trim().to_owned())
                .filter(nonempty),
            since: q.since,
            until: q.until,
        }
    }

    fn matches(&self, r: &HistoryRecord) -> bool {
        let sender_domain = domain_of(&r.mail_from);
        self.since.is_none_or(|s| r.received_at >= s)
            && self.until.is_none_or(|u| r.received_at < u)
            && match &self.sender {
                Some(SenderFilter::Address(a)) => address_key(&r.mail_from) == *a,
                Some(SenderFilter::Domain(d)) => sender_domain == *d,
                None => true,
            }
            && self
                .recipient
                .as_ref()
                .is_none_or(|a| r.rcpts.iter().any(|x| address_key(x) == *a))
            && self.words.as_ref().is_none_or(|ws| {
                let have = words(&r.subject);
                ws.iter().all(|w| have.contains(w))
            })
            && self.domain.as_ref().is_none_or(|d| {
                sender_domain == *d || r.link_domains.iter().any(|l| domain_key(l) == *d)
            })
            && self.action.as_ref().is_none_or(|a| r.action == *a)
            && self
                .symbol
                .as_ref()
                .is_none_or(|s| r.symbols.iter().any(|x| x.name.trim() == s))
    }
}

fn before_cursor(cursor: &Option<(i64, String)>, at: i64, id: &str) -> bool {
    match cursor {
        Some((cat, cid)) => at < *cat || (at == *cat && id < cid.as_str()),
        None => true,
    }
}

fn paginate<T>(
    mut items: impl Iterator<Item = T>,
    limit: u32,
    key: impl Fn(&T) -> (i64, String),
) -> Page<T> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let page: Vec<T> = items.by_ref().take(limit).collect();
    let next_cursor = match items.next() {
        Some(_) => page.last().map(|last| {
            let (at, id) = key(last);
            encode_cursor(at, &id)
        }),
        None => None,
    };
    Page {
        items: page,
        next_cursor,
    }
}

fn find<'a>(st: &'a State, id: &str) -> Option<&'a Quarantined> {
    let at = st.quarantine_ids.get(id)?;
    st.quarantine.get(&(*at, id.to_owned()))
}

fn find_mut<'a>(st: &'a mut State, id: &str) -> Option<&'a mut Quarantined> {
    let at = *st.quarantine_ids.get(id)?;
    st.quarantine.get_mut(&(at, id.to_owned()))
}

fn selection(rcpts: Option<&[String]>) -> Option<Vec<String>> {
    rcpts.map(|list| list.iter().map(|a| address_key(a)).collect())
}

fn join<'a>(items: impl Iterator<Item = &'a str>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

fn audit(st: &mut State, at: i64, actor: &Actor, action: &str, target: &str, detail: String) {
    st.audit.push(AuditEvent {
        at,
        who: actor.who.clone(),
        from: actor.from.clone(),
        action: action.to_owned(),
        target: target.to_owned(),
        detail,
    });
}

fn set_held_state(
    st: &mut State,
    id: &str,
    rcpts: Option<&[String]>,
    state: RcptState,
    action: &str,
    now: i64,
    actor: &Actor,
) -> u64 {
    let selected = selection(rcpts);
    let mut done = Vec::new();
    if let Some(q) = find_mut(st, id) {
        for (r, claim) in q.entry.rcpts.iter_mut().zip(q.claims.iter_mut()) {
            if r.state == RcptState::Held
                && selected
                    .as_ref()
                    .is_none_or(|s| s.contains(&address_key(&r.address)))
            {
                r.state = state;
                r.changed_at = now;
                r.changed_by = Some(actor.who.clone());
                *claim = None;
                done.push(r.address.clone());
            }
        }
    }
    if !done.is_empty() {
        audit(
            st,
            now,
            actor,
            action,
            id,
            join(done.iter().map(String::as_str)),
        );
    }
    u64::try_from(done.len()).unwrap_or(0)
}
