//! Messages delivered to a Maildir, and header access for assertions.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

/// One delivered message file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// The file under `new/` or `cur/`.
    pub path: PathBuf,
    /// Its exact bytes (virtual(8) stores `\n` line endings and prepends
    /// `Return-Path`, `X-Original-To` and `Delivered-To`).
    pub bytes: Vec<u8>,
}

impl Delivered {
    /// The message as text (lossy UTF-8).
    pub fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.bytes)
    }

    /// The header section: everything before the first empty line.
    pub fn header_bytes(&self) -> &[u8] {
        self.bytes.get(..self.split_at().0).unwrap_or_default()
    }

    /// The body: everything after the first empty line (empty if there is
    /// none).
    pub fn body(&self) -> &[u8] {
        self.bytes.get(self.split_at().1..).unwrap_or_default()
    }

    /// The body as text (lossy UTF-8).
    pub fn body_text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(self.body())
    }

    /// All header fields in order as `(name, unfolded value)`. The value
    /// has its line breaks removed (RFC 5322 unfolding: the folding
    /// whitespace stays) and leading and trailing whitespace trimmed.
    pub fn header_fields(&self) -> Vec<(String, String)> {
        let text = String::from_utf8_lossy(self.header_bytes());
        let mut fields: Vec<(String, String)> = Vec::new();
        for line in text.split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.starts_with([' ', '\t']) {
                if let Some((_, value)) = fields.last_mut() {
                    value.push_str(line);
                }
                continue;
            }
            if let Some((name, value)) = line.split_once(':') {
                fields.push((name.trim_end().to_owned(), value.to_owned()));
            }
        }
        for (_, v) in &mut fields {
            *v = v.trim().to_owned();
        }
        fields
    }

    /// The first header field called `name` (case-insensitive), unfolded.
    pub fn header(&self, name: &str) -> Option<String> {
        self.header_fields()
            .into_iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Every header field called `name` (case-insensitive), in order.
    pub fn headers(&self, name: &str) -> Vec<String> {
        self.header_fields()
            .into_iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
            .collect()
    }

    /// (end of header section, start of body)
    fn split_at(&self) -> (usize, usize) {
        let b = &self.bytes;
        let mut i = 0;
        // A message that starts with an empty line has no header.
        if b.starts_with(b"\r\n") {
            return (0, 2);
        }
        if b.starts_with(b"\n") {
            return (0, 1);
        }
        while let Some(pos) = b.get(i..).and_then(|s| s.iter().position(|&c| c == b'\n')) {
            let nl = i + pos;
            let rest = b.get(nl + 1..).unwrap_or_default();
            if rest.starts_with(b"\r\n") {
                return (nl + 1, nl + 3);
            }
            if rest.starts_with(b"\n") {
                return (nl + 1, nl + 2);
            }
            i = nl + 1;
        }
        (b.len(), b.len())
    }
}

/// Read every message in `maildir/new` and `maildir/cur`, oldest first
/// (by modification time, then name). A missing Maildir reads as empty.
pub fn read_maildir(maildir: &Path) -> Vec<Delivered> {
    let mut found = Vec::new();
    for sub in ["new", "cur"] {
        let Ok(entries) = std::fs::read_dir(maildir.join(sub)) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let mtime = entry
                .metadata()
                .and_then(|m| m.modified())
                .unwrap_or(std::time::SystemTime::UNIX_EPOCH);
            if let Ok(bytes) = std::fs::read(&path) {
                found.push((mtime, Delivered { path, bytes }));
            }
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.path.cmp(&b.1.path)));
    found.into_iter().map(|(_, d)| d).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Delivered {
        Delivered {
            path: PathBuf::new(),
            bytes: s.as_bytes().to_vec(),
        }
    }

    #[test]
    fn headers_and_body() {
        let m = d("Return-Path: <a@b>\nReceived: from x\n\tby y;\n  date\nSubject:  hi \nreceived: two\nX-Empty:\n\nbody\n\nmore\n");
        assert_eq!(m.header("subject").as_deref(), Some("hi"));
        assert_eq!(m.header("Received").as_deref(), Some("from x\tby y;  date"));
        assert_eq!(m.headers("RECEIVED").len(), 2);
        assert_eq!(m.header("X-Empty").as_deref(), Some(""));
        assert_eq!(m.header("Nope"), None);
        assert_eq!(m.body(), b"body\n\nmore\n");
        assert_eq!(m.header_fields().len(), 5);
    }

    #[test]
    fn crlf_and_edge_cases() {
        let m = d("A: 1\r\n folded\r\n\r\nbody\r\n");
        assert_eq!(m.header("a").as_deref(), Some("1 folded"));
        assert_eq!(m.body_text(), "body\r\n");
        assert_eq!(d("A: 1\n").body(), b"");
        assert_eq!(d("\nbody").body(), b"body");
        assert!(d("\nbody").header_fields().is_empty());
    }
}
