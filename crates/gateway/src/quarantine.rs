//! Interim quarantine of the SMTP content filter: held messages are written
//! durably under `<data_dir>/quarantine/` before Postfix is told `250`.
//!
//! In milter mode Postfix itself holds the message (its hold queue, `q`
//! reply). The after-queue filter has no such reply, so it keeps the message
//! here: the raw bytes and a JSON sidecar (envelope, verdict, time), each
//! written to a temporary name, flushed with `fsync`, renamed, and the
//! directory flushed too, so a crash right after the `250` loses nothing.
//! The store of issue #4 replaces this with its durable, per-recipient
//! quarantine; the file layout is simple enough to import.

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// The sidecar saved beside a held message.
#[derive(Debug, Serialize)]
pub struct HeldMeta<'a> {
    /// Identifier (also the file stem).
    pub id: &'a str,
    /// Seconds since the Unix epoch.
    pub received_at: u64,
    /// Envelope sender (`""` for the null sender).
    pub mail_from: &'a str,
    /// MAIL FROM parameters as received.
    pub mail_params: &'a [String],
    /// Envelope recipients with their parameters.
    pub rcpt_to: &'a [(String, Vec<String>)],
    /// Client facts from XFORWARD, if any.
    pub client_ip: Option<&'a str>,
    /// Client HELO from XFORWARD, if any.
    pub helo: Option<&'a str>,
    /// Verdict.
    pub action: &'a str,
    /// Score.
    pub score: f64,
    /// Symbols that scored, strongest first.
    pub symbols: Vec<String>,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh identifier: time, process and a counter (unique per host).
pub fn new_id() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format!(
        "{}{:06}-{}-{}",
        now.as_secs(),
        now.subsec_micros(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

fn write_durable(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, dir.join(name))
}

/// Stores a held message and its sidecar; returns the message's path once
/// both are on disk.
pub fn hold(data_dir: &Path, raw: &[u8], meta: &HeldMeta<'_>) -> std::io::Result<PathBuf> {
    let dir = data_dir.join("quarantine");
    // Held government mail is readable by phishgate's user only.
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)?;
    let json = serde_json::to_vec_pretty(meta).map_err(std::io::Error::other)?;
    // The message first, the sidecar last: a sidecar is the commit marker.
    write_durable(&dir, &format!("{}.eml", meta.id), raw)?;
    write_durable(&dir, &format!("{}.json", meta.id), &json)?;
    // Flush the directory entries too (the renames).
    File::open(&dir)?.sync_all()?;
    Ok(dir.join(format!("{}.eml", meta.id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_message_and_sidecar() {
        let dir = std::env::temp_dir().join(format!("pg-q-{}", new_id()));
        let id = new_id();
        let rcpts = vec![(
            "a@laocai.gov.vn".to_string(),
            vec!["NOTIFY=NEVER".to_string()],
        )];
        let meta = HeldMeta {
            id: &id,
            received_at: 1,
            mail_from: "x@example.net",
            mail_params: &[],
            rcpt_to: &rcpts,
            client_ip: Some("203.0.113.1"),
            helo: None,
            action: "quarantine",
            score: 10.0,
            symbols: vec!["LURE_VERIFY_ACCOUNT".into()],
        };
        let p = hold(&dir, b"Subject: x\r\n\r\nbody\r\n", &meta).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"Subject: x\r\n\r\nbody\r\n");
        let side: serde_json::Value =
            serde_json::from_slice(&fs::read(p.with_extension("json")).unwrap()).unwrap();
        assert_eq!(side["rcpt_to"][0][1][0], "NOTIFY=NEVER");
        assert!(fs::read_dir(dir.join("quarantine")).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".tmp")));
        assert_ne!(new_id(), new_id());
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            fs::metadata(dir.join("quarantine"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o700
        );
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn unwritable_directory_is_an_error_not_a_panic() {
        let meta = HeldMeta {
            id: "x",
            received_at: 0,
            mail_from: "",
            mail_params: &[],
            rcpt_to: &[],
            client_ip: None,
            helo: None,
            action: "quarantine",
            score: 0.0,
            symbols: vec![],
        };
        assert!(hold(Path::new("/proc/phishgate-no-such-dir"), b"x", &meta).is_err());
    }
}
