//! Standard base64 (RFC 4648, with padding) for building test messages
//! and DNS records; std only, like the rest of the crate.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// `data` in base64 on one line (DKIM `p=`, DNS TXT).
pub fn base64(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let byte = |i: usize| u32::from(c.get(i).copied().unwrap_or(0));
        let n = (byte(0) << 16) | (byte(1) << 8) | byte(2);
        for k in 0..4 {
            if k <= c.len() {
                let idx = ((n >> (18 - 6 * k)) & 63) as usize;
                out.push(char::from(ALPHABET.get(idx).copied().unwrap_or(b'A')));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `data` in base64 as a MIME body: lines of 76 characters, CRLF.
pub fn base64_mime(data: &[u8]) -> String {
    let one = base64(data);
    let lines: Vec<&str> = one
        .as_bytes()
        .chunks(76)
        .map(|l| std::str::from_utf8(l).unwrap_or_default())
        .collect();
    lines.join("\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4648_vectors() {
        for (input, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), want);
        }
        let long = base64_mime(&[0u8; 100]);
        assert!(long.lines().all(|l| l.trim_end().len() <= 76));
    }
}
