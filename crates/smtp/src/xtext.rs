//! RFC 3461 §4 xtext, used by XFORWARD values, `ENVID` and `ORCPT`.
//!
//! Every byte outside `!`..=`~`, and `+` and `=` themselves, is written as
//! `+` followed by two upper-case hex digits.

use crate::Error;

/// Encodes `raw` as xtext.
pub fn encode(raw: &[u8]) -> String {
    let mut s = String::with_capacity(raw.len());
    for &b in raw {
        if (b'!'..=b'~').contains(&b) && b != b'+' && b != b'=' {
            s.push(char::from(b));
        } else {
            s.push('+');
            s.push(hex_digit(b >> 4));
            s.push(hex_digit(b & 0x0f));
        }
    }
    s
}

fn hex_digit(n: u8) -> char {
    char::from(if n < 10 { b'0' + n } else { b'A' + n - 10 })
}

/// Decodes xtext. Lower-case hex is accepted (being liberal costs nothing
/// here); a `+` without two hex digits after it, or a character outside
/// `!`..=`~` or `=`, is an error.
pub fn decode(xtext: &str) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(xtext.len());
    let mut bytes = xtext.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'+' => {
                let hi = bytes.next().and_then(hex_value).ok_or(Error::Xtext)?;
                let lo = bytes.next().and_then(hex_value).ok_or(Error::Xtext)?;
                out.push(hi << 4 | lo);
            }
            b'=' => return Err(Error::Xtext),
            b'!'..=b'~' => out.push(b),
            _ => return Err(Error::Xtext),
        }
    }
    Ok(out)
}

/// True if `s` is well-formed xtext.
pub fn is_valid(s: &str) -> bool {
    decode(s).is_ok()
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'F' => Some(b - b'A' + 10),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_all_bytes() {
        let all: Vec<u8> = (0..=255).collect();
        let enc = encode(&all);
        assert!(enc.bytes().all(|b| (b'!'..=b'~').contains(&b) && b != b'='));
        assert_eq!(decode(&enc).unwrap(), all);
    }

    #[test]
    fn known_values() {
        assert_eq!(encode(b"a+b=c d"), "a+2Bb+3Dc+20d");
        assert_eq!(decode("x+2bY").unwrap(), b"x+Y");
        assert_eq!(
            decode("rfc822;user+40example.com").unwrap(),
            b"rfc822;user@example.com"
        );
        assert!(decode("a+2").is_err());
        assert!(decode("a+zz").is_err());
        assert!(decode("a=b").is_err());
        assert!(decode("a b").is_err());
    }
}
