//! Where messages come from: files, folders (recursively), mbox files,
//! Maildirs and standard input. Each message becomes a [`Item`] with a
//! `source` label that says where it was found (`box.mbox#3` for the third
//! message of an mbox).

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest file read as one message or mbox (bigger files are refused with a
/// clear error; the analysis itself bounds what it looks at).
pub const MAX_FILE_BYTES: u64 = 512 * 1024 * 1024;

/// Extensions skipped silently while walking a folder: the golden corpus keeps
/// expected results and notes beside its messages.
const SKIP_EXTENSIONS: &[&str] = &[
    "json", "toml", "md", "failed", "py", "sh", "rs", "orig", "rej",
];

/// Something to scan.
#[derive(Debug, Clone)]
pub enum Item {
    /// A file holding one message; `true` when named on the command line
    /// (a file found while walking a folder that turns out not to be mail is
    /// skipped with a note instead of being an error).
    File(PathBuf, bool),
    /// A message already read (stdin, mbox member).
    Bytes {
        /// Label for output.
        source: String,
        /// The message.
        data: Vec<u8>,
    },
    /// A path that could not be used.
    Error {
        /// Label for output.
        source: String,
        /// What went wrong.
        message: String,
    },
}

impl Item {
    /// Label for output.
    pub fn source(&self) -> String {
        match self {
            Item::File(p, _) => p.display().to_string(),
            Item::Bytes { source, .. } | Item::Error { source, .. } => source.clone(),
        }
    }
}

/// Expands command-line paths into items, in a stable order.
pub fn expand(paths: &[String]) -> Vec<Item> {
    let mut out = Vec::new();
    for p in paths {
        if p == "-" {
            let mut data = Vec::new();
            match std::io::stdin().take(MAX_FILE_BYTES).read_to_end(&mut data) {
                Ok(_) => out.push(Item::Bytes {
                    source: "-".into(),
                    data,
                }),
                Err(e) => out.push(Item::Error {
                    source: "-".into(),
                    message: format!("cannot read standard input: {e}"),
                }),
            }
            continue;
        }
        let path = Path::new(p);
        match fs::metadata(path) {
            Err(e) => out.push(Item::Error {
                source: p.clone(),
                message: format!("cannot read {p}: {e}"),
            }),
            Ok(m) if m.is_dir() => walk_dir(path, &mut out, 0),
            Ok(_) => file_items(path, &mut out, true),
        }
    }
    out
}

fn is_maildir(dir: &Path) -> bool {
    dir.join("cur").is_dir() && dir.join("new").is_dir()
}

fn walk_dir(dir: &Path, out: &mut Vec<Item>, depth: usize) {
    if depth > 64 {
        out.push(Item::Error {
            source: dir.display().to_string(),
            message: "folders nested too deep".into(),
        });
        return;
    }
    if is_maildir(dir) {
        for sub in ["new", "cur"] {
            list_sorted(&dir.join(sub), out, |p, out| file_items(p, out, false));
        }
        // Maildir++ sub-folders (.Sent, .Junk) live beside cur/new/tmp.
        list_sorted(dir, out, |p, out| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if p.is_dir() && name.starts_with('.') && is_maildir(p) {
                walk_dir(p, out, depth + 1);
            }
        });
        return;
    }
    list_sorted(dir, out, |p, out| {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') {
            return;
        }
        if p.is_dir() {
            walk_dir(p, out, depth + 1);
        } else {
            let ext = p
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or("")
                .to_ascii_lowercase();
            if !SKIP_EXTENSIONS.contains(&ext.as_str()) {
                file_items(p, out, false);
            }
        }
    });
}

fn list_sorted(dir: &Path, out: &mut Vec<Item>, mut f: impl FnMut(&Path, &mut Vec<Item>)) {
    match fs::read_dir(dir) {
        Ok(rd) => {
            let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
            entries.sort();
            for e in entries {
                f(&e, out);
            }
        }
        Err(e) => out.push(Item::Error {
            source: dir.display().to_string(),
            message: format!("cannot list {}: {e}", dir.display()),
        }),
    }
}

/// A file: one message, or an mbox holding several.
fn file_items(path: &Path, out: &mut Vec<Item>, named: bool) {
    let source = path.display().to_string();
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            out.push(Item::Error {
                source: source.clone(),
                message: format!("cannot read {source}: {e}"),
            });
            return;
        }
    };
    if meta.len() > MAX_FILE_BYTES {
        out.push(Item::Error {
            source: source.clone(),
            message: format!(
                "{source}: {} bytes is larger than {MAX_FILE_BYTES}",
                meta.len()
            ),
        });
        return;
    }
    // Peek: an mbox starts with "From " and has more than one message.
    let mut head = [0u8; 5];
    let is_from_line = fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .map(|_| &head == b"From ")
        .unwrap_or(false);
    if !is_from_line {
        out.push(Item::File(path.to_path_buf(), named));
        return;
    }
    match fs::read(path) {
        Ok(data) => {
            let msgs = split_mbox(&data);
            if msgs.len() <= 1 && !named {
                out.push(Item::File(path.to_path_buf(), named));
            } else {
                for (i, m) in msgs.into_iter().enumerate() {
                    out.push(Item::Bytes {
                        source: format!("{source}#{}", i + 1),
                        data: m,
                    });
                }
            }
        }
        Err(e) => out.push(Item::Error {
            source: source.clone(),
            message: format!("cannot read {source}: {e}"),
        }),
    }
}

/// Splits an mbox (mboxrd or mboxo) into messages, dropping the `From `
/// separator lines and un-escaping `>From ` lines.
pub fn split_mbox(data: &[u8]) -> Vec<Vec<u8>> {
    let mut msgs = Vec::new();
    let mut current: Option<Vec<u8>> = None;
    let mut at_line_start = true;
    let mut i = 0;
    while i < data.len() {
        let end = data
            .get(i..)
            .and_then(|r| r.iter().position(|&b| b == b'\n'))
            .map(|p| i + p + 1)
            .unwrap_or(data.len());
        let line = data.get(i..end).unwrap_or(&[]);
        if at_line_start && line.starts_with(b"From ") {
            if let Some(m) = current.take() {
                msgs.push(m);
            }
            current = Some(Vec::new());
        } else if let Some(m) = current.as_mut() {
            // mboxrd: ">From " -> "From ", ">>From " -> ">From ".
            let unescaped = line
                .iter()
                .position(|&b| b != b'>')
                .filter(|&n| n > 0 && line.get(n..).is_some_and(|r| r.starts_with(b"From ")))
                .map(|_| line.get(1..).unwrap_or(&[]))
                .unwrap_or(line);
            m.extend_from_slice(unescaped);
        }
        at_line_start = line.ends_with(b"\n");
        i = end;
    }
    if let Some(m) = current {
        msgs.push(m);
    }
    msgs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mbox_split_and_unescape() {
        let m = b"From a@b Mon Jan 1 00:00:00 2026\nSubject: one\n\n>From here\nbody\nFrom c@d Tue Jan 2 00:00:00 2026\nSubject: two\n\nx\n";
        let v = split_mbox(m);
        assert_eq!(v.len(), 2);
        assert_eq!(v[0], b"Subject: one\n\nFrom here\nbody\n".to_vec());
        assert_eq!(v[1], b"Subject: two\n\nx\n".to_vec());
        assert!(split_mbox(b"").is_empty());
    }
}
