//! The DATA phase: receiving (end-marker detection, dot-unstuffing, line
//! ending normalisation, size bound) and sending (dot-stuffing).
//!
//! # Smuggling policy
//!
//! SMTP smuggling (2023) exploits receivers that disagree about where the
//! message ends: a sender hides `\n.\n` in a message, one hop sees content,
//! the next sees end-of-data followed by forged commands. This module uses
//! one rule on both sides so the filter can never be such a hop:
//!
//! * **The message ends only at the bytes `CR LF . CR LF`**, where the first
//!   CR LF may be the end of the `DATA` command line. A lone dot line ended
//!   or preceded by a bare CR or bare LF (`\n.\n`, `\r\n.\n`, `\n.\r\n`,
//!   `\r.\r\n`...) is content.
//! * **Every bare LF and every bare CR is normalised to CRLF** (a line
//!   break), like Postfix's `smtpd_forbid_bare_newline = normalize`. Stored
//!   data therefore has only CRLF line endings, so what phishgate scans is
//!   what the client re-injects (dot-stuffed, see [`encode_data`]) and what
//!   the downstream stores: no receiver can find a different end. Bare CR
//!   and LF are illegal in SMTP (RFC 5321 §2.3.8) so no conforming message
//!   changes.
//! * A lone-dot content line is kept as `.` (it is not unstuffed into an
//!   empty line, which could move the header/body boundary); every other
//!   line that starts with a dot loses that dot (dot-unstuffing).

/// What a data-receiving step produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DataStatus {
    /// All input consumed, end marker not seen yet.
    NeedMore,
    /// End marker found after `consumed` bytes of the input.
    Ended {
        /// Bytes of the input that belonged to the message (marker included).
        consumed: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineState {
    /// At the start of a line.
    Start,
    /// Inside a line.
    Mid,
    /// A CR was seen; the next byte decides between CRLF and bare CR.
    Cr,
    /// A dot at the start of a line.
    Dot,
    /// `.` then CR at the start of a line.
    DotCr,
}

/// Incremental receiver for the DATA phase (after `354`).
#[derive(Debug)]
pub(crate) struct DataReceiver {
    state: LineState,
    /// The previous line break was a genuine CRLF (or the DATA command line).
    prev_crlf: bool,
    data: Vec<u8>,
    max: usize,
    overflow: bool,
}

impl DataReceiver {
    pub(crate) fn new(max: usize) -> Self {
        DataReceiver {
            state: LineState::Start,
            prev_crlf: true,
            data: Vec::new(),
            max,
            overflow: false,
        }
    }

    /// True if the message went past the size limit (nothing more stored).
    pub(crate) fn overflowed(&self) -> bool {
        self.overflow
    }

    pub(crate) fn stored(&self) -> usize {
        self.data.len()
    }

    pub(crate) fn into_data(self) -> Vec<u8> {
        self.data
    }

    fn store(&mut self, bytes: &[u8]) {
        if self.overflow {
            return;
        }
        if self.data.len().saturating_add(bytes.len()) > self.max {
            self.overflow = true;
            // Free what we had: the message will be refused anyway.
            self.data = Vec::new();
        } else {
            self.data.extend_from_slice(bytes);
        }
    }

    fn line_break(&mut self, genuine_crlf: bool) {
        self.store(b"\r\n");
        self.prev_crlf = genuine_crlf;
        self.state = LineState::Start;
    }

    /// Consumes `input` until the end marker or the end of input.
    pub(crate) fn feed(&mut self, input: &[u8]) -> DataStatus {
        let mut i = 0;
        while let Some(&b) = input.get(i) {
            i += 1;
            match self.state {
                LineState::Mid => {
                    // Fast path: copy up to the next CR or LF in one go.
                    let run_start = i - 1;
                    let run_len = input
                        .get(run_start..)
                        .and_then(|rest| rest.iter().position(|&c| c == b'\r' || c == b'\n'))
                        .unwrap_or(input.len() - run_start);
                    if run_len > 0 {
                        if let Some(run) = input.get(run_start..run_start + run_len) {
                            self.store(run);
                        }
                        i = run_start + run_len;
                        continue;
                    }
                    self.byte_mid(b);
                }
                LineState::Start => self.byte_start(b),
                LineState::Cr => {
                    if b == b'\n' {
                        self.line_break(true);
                    } else {
                        self.line_break(false);
                        self.byte_start(b);
                    }
                }
                LineState::Dot => match b {
                    b'\r' => self.state = LineState::DotCr,
                    b'\n' => {
                        self.store(b".");
                        self.line_break(false);
                    }
                    _ => {
                        // Dot-unstuffing: drop the leading dot.
                        self.state = LineState::Mid;
                        self.byte_mid(b);
                    }
                },
                LineState::DotCr => {
                    if b == b'\n' {
                        if self.prev_crlf {
                            self.state = LineState::Start;
                            return DataStatus::Ended { consumed: i };
                        }
                        self.store(b".");
                        self.line_break(true);
                    } else {
                        self.store(b".");
                        self.line_break(false);
                        self.byte_start(b);
                    }
                }
            }
        }
        DataStatus::NeedMore
    }

    fn byte_start(&mut self, b: u8) {
        match b {
            b'.' => self.state = LineState::Dot,
            _ => {
                self.state = LineState::Mid;
                self.byte_mid(b);
            }
        }
    }

    fn byte_mid(&mut self, b: u8) {
        match b {
            b'\r' => self.state = LineState::Cr,
            b'\n' => self.line_break(false),
            _ => self.store(&[b]),
        }
    }
}

/// Appends `data` to `out` in DATA-phase wire form: every bare CR or LF
/// becomes CRLF (the receiving rule above), lines starting with `.` get
/// another `.`, a final line without line break gets CRLF, and the
/// `.` CRLF end marker follows. For data with only CRLF line endings that
/// ends in CRLF (all data [`crate::Server`] produces), a receiver
/// following this module's rules gets back exactly `data`.
pub fn encode_data(data: &[u8], out: &mut Vec<u8>) {
    out.reserve(data.len() + data.len() / 64 + 8);
    let mut at_start = true;
    let mut cr = false;
    let mut rest = data;
    while let Some((&b, tail)) = rest.split_first() {
        if cr {
            cr = false;
            out.extend_from_slice(b"\r\n");
            at_start = true;
            if b == b'\n' {
                rest = tail;
                continue;
            }
        }
        match b {
            b'\r' => cr = true,
            b'\n' => {
                out.extend_from_slice(b"\r\n");
                at_start = true;
            }
            _ => {
                if at_start && b == b'.' {
                    out.push(b'.');
                }
                at_start = false;
                // Copy the rest of the line in one go.
                let run = tail
                    .iter()
                    .position(|&c| c == b'\r' || c == b'\n')
                    .unwrap_or(tail.len());
                out.push(b);
                let (line, after) = tail.split_at(run);
                out.extend_from_slice(line);
                rest = after;
                continue;
            }
        }
        rest = tail;
    }
    if cr {
        out.extend_from_slice(b"\r\n");
        at_start = true;
    }
    if !at_start {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receive(input: &[u8]) -> (Vec<u8>, Option<usize>) {
        let mut r = DataReceiver::new(1 << 20);
        match r.feed(input) {
            DataStatus::Ended { consumed } => (r.into_data(), Some(consumed)),
            DataStatus::NeedMore => (r.into_data(), None),
        }
    }

    #[test]
    fn unstuffs_and_ends() {
        assert_eq!(
            receive(b"a\r\n..b\r\n.\r\nMAIL"),
            (b"a\r\n.b\r\n".to_vec(), Some(11))
        );
        assert_eq!(receive(b".\r\n"), (Vec::new(), Some(3)));
        assert_eq!(receive(b"...\r\n.\r\n"), (b"..\r\n".to_vec(), Some(8)));
    }

    #[test]
    fn smuggling_sequences_are_content() {
        for (input, stored) in [
            (&b"a\n.\nb\r\n"[..], &b"a\r\n.\r\nb\r\n"[..]),
            (b"a\r\n.\nb\r\n", b"a\r\n.\r\nb\r\n"),
            (b"a\n.\r\nb\r\n", b"a\r\n.\r\nb\r\n"),
            (b"a\r.\r\nb\r\n", b"a\r\n.\r\nb\r\n"),
            (b"a\r.\rb\r\n", b"a\r\n.\r\nb\r\n"),
            (b"a\r\n.\rb\r\n", b"a\r\n.\r\nb\r\n"),
        ] {
            let (data, end) = receive(input);
            assert_eq!(end, None, "{input:?} ended the message");
            assert_eq!(data, stored, "{input:?}");
        }
    }

    #[test]
    fn encode_roundtrip() {
        let data = b"From: a\r\n\r\n.\r\n..x\r\n.y\r\nz\r\n";
        let mut wire = Vec::new();
        encode_data(data, &mut wire);
        assert_eq!(wire, b"From: a\r\n\r\n..\r\n...x\r\n..y\r\nz\r\n.\r\n");
        assert_eq!(receive(&wire), (data.to_vec(), Some(wire.len())));
    }

    #[test]
    fn encode_normalises() {
        let mut wire = Vec::new();
        encode_data(b"a\n.\rb\r\r\nc", &mut wire);
        assert_eq!(wire, b"a\r\n..\r\nb\r\n\r\nc\r\n.\r\n");
        wire.clear();
        encode_data(b"", &mut wire);
        assert_eq!(wire, b".\r\n");
        wire.clear();
        encode_data(b"x\r", &mut wire);
        assert_eq!(wire, b"x\r\n.\r\n");
    }

    #[test]
    fn size_bound() {
        let mut r = DataReceiver::new(10);
        assert_eq!(r.feed(b"0123456789\r\n"), DataStatus::NeedMore);
        assert!(r.overflowed());
        assert_eq!(r.stored(), 0);
        assert_eq!(r.feed(b".\r\n"), DataStatus::Ended { consumed: 3 });
    }
}
