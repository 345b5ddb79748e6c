//! Counters and a latency histogram, rendered in the Prometheus text format
//! at `GET /metrics`. Plain atomics: no registry crate needed for a dozen
//! series, and nothing here can fail or block.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use phishgate_core::Action;

/// Interfaces a message can arrive through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interface {
    /// Milter.
    Milter,
    /// SMTP content filter.
    Smtp,
    /// HTTP API.
    Http,
}

impl Interface {
    const ALL: [Interface; 3] = [Interface::Milter, Interface::Smtp, Interface::Http];
    fn idx(self) -> usize {
        self as usize
    }
    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Interface::Milter => "milter",
            Interface::Smtp => "smtp",
            Interface::Http => "http",
        }
    }
}

const ACTIONS: [Action; 4] = [
    Action::Accept,
    Action::Warn,
    Action::Quarantine,
    Action::Reject,
];
fn action_idx(a: Action) -> usize {
    match a {
        Action::Accept => 0,
        Action::Warn => 1,
        Action::Quarantine => 2,
        Action::Reject => 3,
    }
}

/// Upper bounds of the scan latency buckets, in seconds.
pub const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// Error kinds counted.
pub const ERROR_KINDS: [&str; 8] = [
    "timeout",
    "internal",
    "too-large",
    "protocol",
    "relay",
    "quarantine",
    "overload",
    "store",
];

/// All metrics of one process.
#[derive(Default)]
pub struct Metrics {
    messages: [[AtomicU64; 4]; 3],
    errors: [[AtomicU64; ERROR_KINDS.len()]; 3],
    buckets: [AtomicU64; BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_us: AtomicU64,
    sessions: [AtomicU64; 3],
    sessions_total: [AtomicU64; 3],
}

impl Metrics {
    /// One message decided.
    pub fn message(&self, iface: Interface, action: Action) {
        if let Some(row) = self.messages.get(iface.idx()) {
            if let Some(c) = row.get(action_idx(action)) {
                c.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// One error of a kind (one of [`ERROR_KINDS`]).
    pub fn error(&self, iface: Interface, kind: &str) {
        let k = ERROR_KINDS.iter().position(|x| *x == kind).unwrap_or(1);
        if let Some(row) = self.errors.get(iface.idx()) {
            if let Some(c) = row.get(k) {
                c.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// One scan's duration.
    pub fn scan_latency(&self, d: Duration) {
        let s = d.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if s <= *b {
                if let Some(c) = self.buckets.get(i) {
                    c.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_sum_us.fetch_add(
            d.as_micros().min(u64::MAX as u128) as u64,
            Ordering::Relaxed,
        );
    }

    /// A session opened; the guard closes it.
    pub fn session(&self, iface: Interface) -> SessionGuard<'_> {
        if let Some(c) = self.sessions.get(iface.idx()) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(c) = self.sessions_total.get(iface.idx()) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        SessionGuard { m: self, iface }
    }

    /// Sessions open now on an interface.
    pub fn open_sessions(&self, iface: Interface) -> u64 {
        self.sessions
            .get(iface.idx())
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// Messages counted for an interface and action.
    pub fn count(&self, iface: Interface, action: Action) -> u64 {
        self.messages
            .get(iface.idx())
            .and_then(|r| r.get(action_idx(action)))
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP phishgate_messages_total Messages decided, by interface and action."
        );
        let _ = writeln!(out, "# TYPE phishgate_messages_total counter");
        for iface in Interface::ALL {
            for a in ACTIONS {
                let _ = writeln!(
                    out,
                    "phishgate_messages_total{{interface=\"{}\",action=\"{}\"}} {}",
                    iface.as_str(),
                    a.as_str(),
                    self.count(iface, a)
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP phishgate_errors_total Errors, by interface and kind."
        );
        let _ = writeln!(out, "# TYPE phishgate_errors_total counter");
        for iface in Interface::ALL {
            for (k, kind) in ERROR_KINDS.iter().enumerate() {
                let v = self
                    .errors
                    .get(iface.idx())
                    .and_then(|r| r.get(k))
                    .map_or(0, |c| c.load(Ordering::Relaxed));
                let _ = writeln!(
                    out,
                    "phishgate_errors_total{{interface=\"{}\",kind=\"{kind}\"}} {v}",
                    iface.as_str()
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP phishgate_scan_duration_seconds Time spent analysing one message."
        );
        let _ = writeln!(out, "# TYPE phishgate_scan_duration_seconds histogram");
        for (i, b) in BUCKETS.iter().enumerate() {
            let v = self.buckets.get(i).map_or(0, |c| c.load(Ordering::Relaxed));
            let _ = writeln!(
                out,
                "phishgate_scan_duration_seconds_bucket{{le=\"{b}\"}} {v}"
            );
        }
        let count = self.latency_count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "phishgate_scan_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let sum = self.latency_sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "phishgate_scan_duration_seconds_sum {sum}");
        let _ = writeln!(out, "phishgate_scan_duration_seconds_count {count}");
        let _ = writeln!(
            out,
            "# HELP phishgate_sessions Sessions open now, by interface."
        );
        let _ = writeln!(out, "# TYPE phishgate_sessions gauge");
        for iface in Interface::ALL {
            let _ = writeln!(
                out,
                "phishgate_sessions{{interface=\"{}\"}} {}",
                iface.as_str(),
                self.open_sessions(iface)
            );
        }
        let _ = writeln!(
            out,
            "# HELP phishgate_sessions_total Sessions opened, by interface."
        );
        let _ = writeln!(out, "# TYPE phishgate_sessions_total counter");
        for iface in Interface::ALL {
            let v = self
                .sessions_total
                .get(iface.idx())
                .map_or(0, |c| c.load(Ordering::Relaxed));
            let _ = writeln!(
                out,
                "phishgate_sessions_total{{interface=\"{}\"}} {v}",
                iface.as_str()
            );
        }
        out
    }
}

/// Decrements the open-session gauge when dropped.
pub struct SessionGuard<'a> {
    m: &'a Metrics,
    iface: Interface,
}

impl Drop for SessionGuard<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.m.sessions.get(self.iface.idx()) {
            c.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_histogram() {
        let m = Metrics::default();
        m.message(Interface::Http, Action::Warn);
        m.message(Interface::Http, Action::Warn);
        m.error(Interface::Smtp, "relay");
        m.scan_latency(Duration::from_millis(3));
        m.scan_latency(Duration::from_millis(30));
        {
            let _g = m.session(Interface::Milter);
            assert_eq!(m.open_sessions(Interface::Milter), 1);
        }
        assert_eq!(m.open_sessions(Interface::Milter), 0);
        let t = m.render();
        assert!(t.contains("phishgate_messages_total{interface=\"http\",action=\"warn\"} 2"));
        assert!(t.contains("phishgate_errors_total{interface=\"smtp\",kind=\"relay\"} 1"));
        assert!(t.contains("phishgate_scan_duration_seconds_bucket{le=\"0.005\"} 1"));
        assert!(t.contains("phishgate_scan_duration_seconds_bucket{le=\"0.05\"} 2"));
        assert!(t.contains("phishgate_scan_duration_seconds_count 2"));
        assert!(t.contains("phishgate_sessions_total{interface=\"milter\"} 1"));
    }
}
