//! Error types. Every error is data: the decoder never panics, and a
//! framing error leaves the decoder poisoned so the adapter closes the
//! socket, as libmilter does on a protocol error.

/// A byte stream that is not valid milter protocol. After any of these the
/// stream is out of step and the connection must be closed; the decoder
/// keeps returning the same error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// A frame header with `len = 0` (there must be at least a code byte).
    #[error("milter frame with length 0")]
    ZeroLength,
    /// A frame longer than the decoder's bound.
    #[error("milter frame of {len} bytes exceeds the bound of {max}")]
    TooLarge {
        /// The declared length.
        len: u32,
        /// The decoder's bound.
        max: usize,
    },
    /// A code byte that is not a known command (or response) letter.
    #[error("unknown milter code {0:#04x}")]
    UnknownCode(u8),
    /// A known code whose payload does not have the required layout.
    #[error("malformed milter packet {code:?}: {what}")]
    Malformed {
        /// The code byte, as a character.
        code: char,
        /// What was wrong.
        what: &'static str,
    },
    /// The stream ended inside a frame (reported by `finish`).
    #[error("milter stream ended inside a frame ({buffered} bytes pending)")]
    Truncated {
        /// Bytes of the incomplete frame.
        buffered: usize,
    },
}

impl DecodeError {
    pub(crate) fn malformed(code: u8, what: &'static str) -> Self {
        Self::Malformed {
            code: char::from(code),
            what,
        }
    }
}
