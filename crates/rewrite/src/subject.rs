//! The subject tag.

/// Reply and forward prefixes MUAs put in front of a subject (lower case,
/// without the colon): English, Vietnamese (with and without diacritics),
/// and the common European ones.
const REPLY_PREFIXES: &[&str] = &[
    "re",
    "fw",
    "fwd",
    "tl",
    "trả lời",
    "tra loi",
    "chuyển tiếp",
    "chuyen tiep",
    "ct",
    "aw",
    "wg",
    "sv",
    "vs",
    "rv",
    "tr",
    "enc",
    "antw",
];

/// How many leading prefixes or bracketed tags are looked through.
const MAX_PREFIXES: usize = 16;
/// Longest `[...]` group taken for a tag (a list name, `[EXTERNAL]`).
const MAX_BRACKET: usize = 64;

/// Puts `tag` in front of a decoded subject: `[CẢNH BÁO] Re: Xác minh tài
/// khoản`. Returns None when the subject is already tagged: when the tag
/// (ignoring case and whitespace) starts the subject or follows any run of
/// reply/forward prefixes (`Re:`, `Fwd:`, `TL:`, `Trả lời:`...) and other
/// bracketed tags (`[EXTERNAL]`, a list name). The tag always goes in front
/// of everything, prefixes included, so the reader sees it first. Also None
/// for an empty tag.
pub fn tag_subject(decoded_subject: &str, tag: &str) -> Option<String> {
    let tag = tag.trim();
    if tag.is_empty() {
        return None;
    }
    let tag_key = squash(tag);
    let lower = decoded_subject.to_lowercase();
    let mut rest = lower.trim_start();
    for _ in 0..=MAX_PREFIXES {
        if squash(rest).starts_with(&tag_key) {
            return None;
        }
        match strip_prefix(rest) {
            Some(r) => rest = r.trim_start(),
            None => break,
        }
    }
    let subject = decoded_subject.trim();
    if subject.is_empty() {
        Some(tag.to_string())
    } else {
        Some(format!("{tag} {subject}"))
    }
}

/// Lower case without whitespace, for comparing tags.
fn squash(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .take(256)
        .collect()
}

/// Removes one reply/forward prefix (with an optional counter like `[2]` or
/// `(2)` and a colon, ASCII or full-width) or one `[...]` group from the
/// start of a lower-case subject.
fn strip_prefix(s: &str) -> Option<&str> {
    if let Some(inner) = s.strip_prefix('[') {
        let close = inner.find(']')?;
        if close > MAX_BRACKET {
            return None;
        }
        return inner.get(close + 1..);
    }
    for p in REPLY_PREFIXES {
        let Some(after) = s.strip_prefix(p) else {
            continue;
        };
        let after = after.trim_start();
        let after = strip_counter(after).trim_start();
        if let Some(r) = after.strip_prefix(':').or_else(|| after.strip_prefix('：')) {
            return Some(r);
        }
    }
    None
}

/// `[2]` or `(2)` after a prefix (`Re[2]:`).
fn strip_counter(s: &str) -> &str {
    for (open, close) in [('[', ']'), ('(', ')')] {
        if let Some(inner) = s.strip_prefix(open) {
            let digits = inner.len() - inner.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            if digits > 0 {
                if let Some(r) = inner.get(digits..).and_then(|r| r.strip_prefix(close)) {
                    return r;
                }
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::tag_subject;

    const TAG: &str = "[CẢNH BÁO]";

    #[test]
    fn tags_in_front_of_everything() {
        assert_eq!(
            tag_subject("Xác minh tài khoản", TAG).as_deref(),
            Some("[CẢNH BÁO] Xác minh tài khoản")
        );
        assert_eq!(
            tag_subject("  Re: Fwd: Hộp thư đầy 99%", TAG).as_deref(),
            Some("[CẢNH BÁO] Re: Fwd: Hộp thư đầy 99%")
        );
        assert_eq!(tag_subject("", TAG).as_deref(), Some("[CẢNH BÁO]"));
        // A word that merely starts like a prefix is not one.
        assert_eq!(
            tag_subject("Report: [CẢNH BÁO] x", TAG).as_deref(),
            Some("[CẢNH BÁO] Report: [CẢNH BÁO] x")
        );
    }

    #[test]
    fn already_tagged_is_left_alone() {
        for s in [
            "[CẢNH BÁO] Xác minh tài khoản",
            "[cảnh báo] xác minh",
            "[CẢNH  BÁO]x",
            "Re: [CẢNH BÁO] Xác minh",
            "TL: Fwd: [CẢNH BÁO] Xác minh",
            "Trả lời: [CẢNH BÁO] Xác minh",
            "RE[2]: [EXTERNAL] [CẢNH BÁO] x",
            "Chuyển tiếp： [CẢNH BÁO] x",
        ] {
            assert_eq!(tag_subject(s, TAG), None, "{s}");
        }
        assert_eq!(tag_subject("x", "  "), None);
    }
}
