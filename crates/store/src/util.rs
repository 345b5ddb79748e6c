//! Small pure helpers shared by every backend, so that they agree exactly on
//! folding, addresses, cursors and blobs.

use std::io::{Read, Write};

use crate::error::{ErrorKind, StoreError};
use crate::types::{DEFAULT_LIMIT, MAX_LIMIT};

/// Folds text for word search: NFD, combining marks dropped, `đ`/`Đ` to `d`
/// (it is a letter of its own, not a `d` with a mark), lowercased.
/// "Xác minh TÀI KHOẢN" becomes "xac minh tai khoan".
pub fn fold_text(text: &str) -> String {
    use unicode_normalization::char::is_combining_mark;
    use unicode_normalization::UnicodeNormalization;
    text.nfd()
        .filter(|c| !is_combining_mark(*c))
        .map(|c| match c {
            'đ' | 'Đ' => 'd',
            other => other,
        })
        .flat_map(char::to_lowercase)
        .collect()
}

/// The folded words of a text: maximal runs of alphanumeric characters.
///
/// The stored `subject_words` column is these words joined by single spaces,
/// so SQLite's FTS5 tokenizer and PostgreSQL's `simple` parser see the same
/// words the in-memory backend compares.
pub fn words(text: &str) -> Vec<String> {
    fold_text(text)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Lowercased, trimmed address (the filter key of senders and recipients).
pub fn address_key(address: &str) -> String {
    address
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_lowercase()
}

/// Lowercased domain of an address (after the last `@`), empty if none.
pub fn domain_of(address: &str) -> String {
    let key = address_key(address);
    match key.rsplit_once('@') {
        Some((_, d)) => d.trim_end_matches('.').to_owned(),
        None => String::new(),
    }
}

/// A sender filter: an address, or `@domain` for the whole domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SenderFilter {
    /// Exact address key.
    Address(String),
    /// Domain (without the `@`).
    Domain(String),
}

/// Parses a sender filter.
pub fn sender_filter(s: &str) -> SenderFilter {
    let key = address_key(s);
    match key.strip_prefix('@') {
        Some(d) => SenderFilter::Domain(d.trim_end_matches('.').to_owned()),
        None => SenderFilter::Address(key),
    }
}

/// Lowercased domain filter value.
pub fn domain_key(domain: &str) -> String {
    domain
        .trim()
        .trim_start_matches('@')
        .trim_end_matches('.')
        .to_lowercase()
}

/// The page size actually used.
pub fn clamp_limit(limit: u32) -> u32 {
    match limit {
        0 => DEFAULT_LIMIT,
        n => n.min(MAX_LIMIT),
    }
}

/// Encodes a keyset cursor: the (received_at, id) of the last item shown.
/// Hex keeps it opaque and safe in URLs and shells.
pub fn encode_cursor(received_at: i64, id: &str) -> String {
    hex(format!("{received_at}:{id}").as_bytes())
}

/// Decodes a cursor made by [`encode_cursor`].
pub fn decode_cursor(cursor: &str) -> Result<(i64, String), StoreError> {
    let bad = || StoreError::new(ErrorKind::Invalid, format!("invalid cursor {cursor:?}"));
    let bytes = unhex(cursor).ok_or_else(bad)?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (at, id) = text.split_once(':').ok_or_else(bad)?;
    let at = at.parse::<i64>().map_err(|_| bad())?;
    Ok((at, id.to_owned()))
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(out, "{b:02x}");
    }
    out
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    };
    s.as_bytes()
        .chunks(2)
        .map(|pair| match pair {
            [hi, lo] => Some(digit(*hi)? << 4 | digit(*lo)?),
            _ => None,
        })
        .collect()
}

/// Hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

/// Deflate-compresses a raw message.
pub fn compress(raw: &[u8]) -> Result<Vec<u8>, StoreError> {
    let mut enc = flate2::write::DeflateEncoder::new(
        Vec::with_capacity(raw.len() / 2 + 64),
        flate2::Compression::fast(),
    );
    enc.write_all(raw)
        .and_then(|()| enc.finish())
        .map_err(|e| StoreError::new(ErrorKind::Invalid, format!("compressing message: {e}")))
}

/// Decompresses a stored message and verifies size and SHA-256. Any
/// mismatch is `Corrupt`: the bytes must never be released altered.
pub fn decompress_verified(
    label: &str,
    id: &str,
    stored: &[u8],
    size: u64,
    sha256: &str,
) -> Result<Vec<u8>, StoreError> {
    let corrupt = |what: String| {
        StoreError::new(
            ErrorKind::Corrupt,
            format!("{label}: quarantined message {id}: {what}"),
        )
    };
    let mut out = Vec::with_capacity(usize::try_from(size).unwrap_or(0).min(64 << 20));
    // Read one byte more than expected so an overlong stream is detected
    // without inflating an arbitrarily large bomb.
    flate2::read::DeflateDecoder::new(stored)
        .take(size.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| corrupt(format!("stored bytes do not decompress: {e}")))?;
    if u64::try_from(out.len()).ok() != Some(size) {
        return Err(corrupt(format!(
            "size mismatch: stored {size} bytes, found {}",
            out.len()
        )));
    }
    let actual = sha256_hex(&out);
    if actual != sha256 {
        return Err(corrupt(format!(
            "checksum mismatch: stored sha256 {sha256}, computed {actual}"
        )));
    }
    Ok(out)
}

/// The current time in unix milliseconds (0 if the clock is before 1970).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A random claim token (128 bits, hex).
pub fn new_token() -> Result<String, StoreError> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| {
            StoreError::new(
                ErrorKind::Unavailable,
                "no system randomness for a claim token",
            )
        })?;
    Ok(hex(&bytes))
}

/// A fresh id for a row the store creates itself (user reports): the time
/// to the microsecond, as the gateway's ids of history rows and held
/// messages begin (so ids sort roughly by creation), then 64 random bits
/// where the gateway puts its process id and a counter, because here
/// several nodes create rows in one database and must never collide.
pub fn new_id() -> Result<String, StoreError> {
    use ring::rand::SecureRandom;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let mut bytes = [0u8; 8];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| StoreError::new(ErrorKind::Unavailable, "no system randomness for an id"))?;
    Ok(format!(
        "{}{:06}-{}",
        now.as_secs(),
        now.subsec_micros(),
        hex(&bytes)
    ))
}

/// Checks stored bytes against their stored hex SHA-256: a mismatch is
/// `Corrupt`, so damaged bytes are never handed out. `what` names them
/// ("classifier model \"main\"").
pub fn verify_sha256(
    label: &str,
    what: &str,
    bytes: &[u8],
    sha256: &str,
) -> Result<(), StoreError> {
    let actual = sha256_hex(bytes);
    if actual == sha256 {
        Ok(())
    } else {
        Err(StoreError::new(
            ErrorKind::Corrupt,
            format!(
                "{label}: {what}: checksum mismatch: stored sha256 {sha256}, computed {actual}"
            ),
        ))
    }
}

/// `u64` to a database integer (saturating).
pub fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A database integer to `u64` (negative becomes 0).
pub fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// Removes duplicates, keeping the first occurrence's order.
pub fn dedup<I: IntoIterator<Item = String>>(items: I) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    items
        .into_iter()
        .filter(|s| !s.is_empty() && seen.insert(s.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_vietnamese() {
        assert_eq!(
            fold_text("Xác minh TÀI KHOẢN Đăng nhập"),
            "xac minh tai khoan dang nhap"
        );
        assert_eq!(
            words("Xác-minh: tài khoản!!"),
            vec!["xac", "minh", "tai", "khoan"]
        );
    }

    #[test]
    fn cursor_round_trip() {
        let c = encode_cursor(-5, "a:b");
        assert_eq!(decode_cursor(&c).unwrap(), (-5, "a:b".to_owned()));
        assert!(decode_cursor("zz").is_err());
        assert!(decode_cursor("abc").is_err());
    }

    #[test]
    fn blob_round_trip_and_mismatch() {
        let raw = b"Subject: hi\r\n\r\nbody".to_vec();
        let z = compress(&raw).unwrap();
        let sha = sha256_hex(&raw);
        assert_eq!(
            decompress_verified("t", "q", &z, raw.len() as u64, &sha).unwrap(),
            raw
        );
        let err =
            decompress_verified("t", "q", &z, raw.len() as u64, &sha256_hex(b"x")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Corrupt);
        let err = decompress_verified("t", "q", b"garbage", 3, &sha).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Corrupt);
    }

    #[test]
    fn ids_are_unique_and_time_ordered() {
        let a = new_id().unwrap();
        let b = new_id().unwrap();
        assert_ne!(a, b);
        let (time, random) = a.split_once('-').unwrap();
        assert!(
            time.len() >= 16 && time.bytes().all(|c| c.is_ascii_digit()),
            "{a}"
        );
        assert_eq!(random.len(), 16, "{a}");
        assert!(verify_sha256("t", "x", b"abc", &sha256_hex(b"abc")).is_ok());
        assert_eq!(
            verify_sha256("t", "x", b"abd", &sha256_hex(b"abc"))
                .unwrap_err()
                .kind(),
            ErrorKind::Corrupt
        );
    }

    #[test]
    fn addresses() {
        assert_eq!(address_key(" <Bob@Example.COM> "), "bob@example.com");
        assert_eq!(domain_of("Bob@Example.COM"), "example.com");
        assert_eq!(domain_of(""), "");
        assert_eq!(
            sender_filter("@Example.com"),
            SenderFilter::Domain("example.com".into())
        );
    }
}
