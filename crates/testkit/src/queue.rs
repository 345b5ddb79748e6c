//! The Postfix queue, as `postqueue -j` lists it.

use crate::error::{Error, Result};
use crate::json::{parse as parse_json, Value};

/// Which queue a message is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueName {
    /// Being delivered (or waiting for a delivery agent).
    Active,
    /// Delivery failed temporarily; will be retried.
    Deferred,
    /// On hold (`postsuper -h`, or a `HOLD` action).
    Hold,
    /// Received, not yet seen by the queue manager.
    Incoming,
    /// Posted by sendmail(1), not yet picked up.
    Maildrop,
    /// Anything else Postfix may report.
    Other(String),
}

impl QueueName {
    fn parse(s: &str) -> Self {
        match s {
            "active" => QueueName::Active,
            "deferred" => QueueName::Deferred,
            "hold" => QueueName::Hold,
            "incoming" => QueueName::Incoming,
            "maildrop" => QueueName::Maildrop,
            other => QueueName::Other(other.to_owned()),
        }
    }
}

/// One recipient of a queued message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueRecipient {
    /// The recipient address.
    pub address: String,
    /// Why delivery to it was deferred, if it was.
    pub delay_reason: Option<String>,
}

/// One queued message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueEntry {
    /// The queue id (as in the log and in `250 … queued as QID`).
    pub queue_id: String,
    /// The queue it is in.
    pub queue_name: QueueName,
    /// The envelope sender (`""` for the null sender).
    pub sender: String,
    /// Arrival time, seconds since the epoch.
    pub arrival_time: u64,
    /// Size in bytes.
    pub message_size: u64,
    /// Recipients still to be delivered.
    pub recipients: Vec<QueueRecipient>,
}

impl QueueEntry {
    /// The first recipient's delay reason.
    pub fn reason(&self) -> Option<&str> {
        self.recipients
            .iter()
            .find_map(|r| r.delay_reason.as_deref())
    }
}

/// Parse `postqueue -j` output: one JSON object per line.
pub fn parse_postqueue_json(output: &str) -> Result<Vec<QueueEntry>> {
    let mut entries = Vec::new();
    for line in output.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = parse_json(line)
            .map_err(|e| Error::Protocol(format!("postqueue -j printed {line:?}: {e}")))?;
        let s = |key: &str| v.get(key).and_then(Value::as_str).unwrap_or("").to_owned();
        let n = |key: &str| v.get(key).and_then(Value::as_u64).unwrap_or(0);
        let recipients = v
            .get("recipients")
            .and_then(Value::as_array)
            .map(|rs| {
                rs.iter()
                    .map(|r| QueueRecipient {
                        address: r
                            .get("address")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_owned(),
                        delay_reason: r
                            .get("delay_reason")
                            .and_then(Value::as_str)
                            .map(str::to_owned),
                    })
                    .collect()
            })
            .unwrap_or_default();
        entries.push(QueueEntry {
            queue_id: s("queue_id"),
            queue_name: QueueName::parse(&s("queue_name")),
            sender: s("sender"),
            arrival_time: n("arrival_time"),
            message_size: n("message_size"),
            recipients,
        });
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_postqueue_json() {
        let out = r#"{"queue_name": "deferred", "queue_id": "E598A98E77A", "arrival_time": 1795890919, "message_size": 361, "forced_expire": false, "sender": "a@sender.test", "recipients": [{"address": "alice@laocai.gov.vn", "delay_reason": "connect to 127.0.0.1[127.0.0.1]:42526: Connection refused"}]}
{"queue_name": "active", "queue_id": "X1", "arrival_time": 1, "message_size": 2, "sender": "", "recipients": [{"address": "b\u00e9@x"}]}
"#;
        let q = parse_postqueue_json(out).unwrap();
        assert_eq!(q.len(), 2);
        assert_eq!(q[0].queue_name, QueueName::Deferred);
        assert_eq!(
            q[0].reason(),
            Some("connect to 127.0.0.1[127.0.0.1]:42526: Connection refused")
        );
        assert_eq!(q[1].recipients[0].address, "bé@x");
        assert_eq!(q[1].reason(), None);
        assert!(parse_postqueue_json("not json").is_err());
        assert!(parse_postqueue_json("").unwrap().is_empty());
    }
}
