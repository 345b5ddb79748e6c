//! Framing shared by both directions, plus a bounds-checked payload reader.
//!
//! A frame is `len: u32 BE` + `code: u8` + `len - 1` payload bytes. The
//! buffer keeps the unparsed tail only; consumed bytes are dropped on the
//! next `feed`, so each byte is moved at most once (a byte stays in the tail
//! only while its own frame is incomplete).

use crate::error::DecodeError;

/// Byte buffer that yields whole frames and poisons itself on the first
/// framing error (the stream cannot be resynchronised after one).
#[derive(Debug, Clone)]
pub(crate) struct Framer {
    buf: Vec<u8>,
    start: usize,
    max_frame: usize,
    failed: Option<DecodeError>,
}

impl Framer {
    pub(crate) fn new(max_frame: usize) -> Self {
        Self {
            buf: Vec::new(),
            start: 0,
            max_frame,
            failed: None,
        }
    }

    pub(crate) fn max_frame(&self) -> usize {
        self.max_frame
    }

    pub(crate) fn feed(&mut self, bytes: &[u8]) {
        if self.failed.is_some() {
            // A poisoned stream is dead: do not let a peer grow our memory.
            return;
        }
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    pub(crate) fn buffered(&self) -> usize {
        self.buf.len().saturating_sub(self.start)
    }

    pub(crate) fn failed(&self) -> Option<&DecodeError> {
        self.failed.as_ref()
    }

    pub(crate) fn fail(&mut self, e: DecodeError) -> DecodeError {
        self.failed = Some(e.clone());
        self.buf = Vec::new();
        self.start = 0;
        e
    }

    /// The next complete frame as `(code, payload)`, `Ok(None)` when more
    /// bytes are needed. The length is checked as soon as its 4 bytes are
    /// here, before any payload is buffered.
    pub(crate) fn next_frame(&mut self) -> Result<Option<(u8, &[u8])>, DecodeError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let tail = self.buf.get(self.start..).unwrap_or_default();
        let Some(&[a, b, c, d]) = tail.get(..4) else {
            return Ok(None);
        };
        let len = u32::from_be_bytes([a, b, c, d]);
        if len == 0 {
            return Err(self.fail(DecodeError::ZeroLength));
        }
        // u32 -> usize is lossless on every platform this runs on (>= 32 bit).
        let len_usize = usize::try_from(len).unwrap_or(usize::MAX);
        if len_usize > self.max_frame {
            return Err(self.fail(DecodeError::TooLarge {
                len,
                max: self.max_frame,
            }));
        }
        let Some(frame) = tail.get(4..4 + len_usize) else {
            return Ok(None);
        };
        let Some((&code, _)) = frame.split_first() else {
            return Ok(None);
        };
        let from = self.start + 5;
        let to = self.start + 4 + len_usize;
        self.start = to;
        Ok(self.buf.get(from..to).map(|p| (code, p)))
    }
}

/// Write one frame: length, code, payload parts.
pub(crate) fn put_frame(out: &mut Vec<u8>, code: u8, parts: &[&[u8]]) {
    let len: usize = 1 + parts.iter().map(|p| p.len()).sum::<usize>();
    // Encoders only build frames far below 4 GiB; saturate rather than wrap.
    let len = u32::try_from(len).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.push(code);
    for p in parts {
        out.extend_from_slice(p);
    }
}

/// Cursor over a payload; every read is bounds-checked and returns `None`
/// past the end.
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(rest: &'a [u8]) -> Self {
        Self { rest }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    pub(crate) fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.rest.split_first()?;
        self.rest = rest;
        Some(b)
    }

    pub(crate) fn u16(&mut self) -> Option<u16> {
        let (&[a, b], rest) = self.rest.split_first_chunk::<2>()?;
        self.rest = rest;
        Some(u16::from_be_bytes([a, b]))
    }

    pub(crate) fn u32(&mut self) -> Option<u32> {
        let (bytes, rest) = self.rest.split_first_chunk::<4>()?;
        self.rest = rest;
        Some(u32::from_be_bytes(*bytes))
    }

    /// One NUL-terminated string, without its NUL.
    pub(crate) fn cstr(&mut self) -> Option<&'a [u8]> {
        let nul = self.rest.iter().position(|&b| b == 0)?;
        let s = self.rest.get(..nul)?;
        self.rest = self.rest.get(nul + 1..)?;
        Some(s)
    }

    /// Every remaining NUL-terminated string; `None` if the last one lacks
    /// its NUL.
    pub(crate) fn cstrs(&mut self) -> Option<Vec<&'a [u8]>> {
        let mut v = Vec::new();
        while !self.is_empty() {
            v.push(self.cstr()?);
        }
        Some(v)
    }
}

/// Lossy UTF-8: macro values, addresses and HELO names are text in practice,
/// and a replacement character is better than refusing a whole session.
pub(crate) fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Strip NUL bytes from a string that is about to travel as `str`: an inner
/// NUL would end the field early and shift every later field.
pub(crate) fn put_cstr(out: &mut Vec<u8>, s: &[u8]) {
    out.extend(s.iter().copied().filter(|&b| b != 0));
    out.push(0);
}
