//! Every bound the codecs enforce, in one place.
//!
//! The defaults follow Postfix where Postfix has an equivalent setting, so a
//! filter placed between two Postfix processes never refuses what its
//! neighbours accept: `line_length_limit` (2048), `smtpd_recipient_limit`
//! (1000), `smtpd_hard_error_limit` (20), and the XFORWARD limits of
//! `XFORWARD_README` (255-character values, 512-character command lines).

/// Default [`Limits::max_command_line`]: Postfix's `line_length_limit`.
pub const DEFAULT_MAX_COMMAND_LINE: usize = 2048;
/// Default [`Limits::max_message_size`]: 50 MiB of stored (unstuffed) data.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 50 * 1024 * 1024;
/// Default [`Limits::max_recipients`]: Postfix's `smtpd_recipient_limit`.
pub const DEFAULT_MAX_RECIPIENTS: usize = 1000;
/// Default [`Limits::max_errors`]: Postfix's `smtpd_hard_error_limit`.
pub const DEFAULT_MAX_ERRORS: usize = 20;
/// Default [`Limits::max_buffered_input`]: far above one socket read (64 KiB).
pub const DEFAULT_MAX_BUFFERED_INPUT: usize = 1024 * 1024;
/// Default [`Limits::max_reply_line`].
pub const DEFAULT_MAX_REPLY_LINE: usize = 2048;
/// Default [`Limits::max_reply_lines`].
pub const DEFAULT_MAX_REPLY_LINES: usize = 128;
/// Default [`Limits::max_xforward_value`] (XFORWARD_README).
pub const DEFAULT_MAX_XFORWARD_VALUE: usize = 255;
/// Default [`Limits::max_xforward_line`] (XFORWARD_README), CRLF included.
pub const DEFAULT_MAX_XFORWARD_LINE: usize = 512;
/// Default [`Limits::max_helo_name`].
pub const DEFAULT_MAX_HELO_NAME: usize = 255;

/// Server output is handed out once this many bytes are pending, even if
/// more pipelined commands are buffered: a client pipelining thousands of
/// `EHLO` cannot make one event arbitrarily large.
pub const OUTPUT_HIGH_WATER: usize = 16 * 1024;

/// Bounds for both codecs. Construct with [`Limits::default`] and override
/// fields; every field is a hard bound, never a hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Longest command line the server accepts, CRLF included. Longer lines
    /// get `500 5.5.2` and are discarded up to the next LF without being
    /// stored, so an endless line costs at most this much memory.
    pub max_command_line: usize,
    /// Largest message (after dot-unstuffing) the server stores; also the
    /// number announced in `SIZE`. Past it the server keeps reading to the
    /// end marker, stores nothing more and answers `552 5.3.4`.
    pub max_message_size: usize,
    /// Recipients per transaction; further `RCPT` get `452 4.5.3`.
    pub max_recipients: usize,
    /// Protocol errors (500/501/502/503/555, overlong lines) per session
    /// before the server answers `421` and closes.
    pub max_errors: usize,
    /// Unprocessed input the server or client buffers. Only reachable when
    /// the adapter keeps feeding while [`crate::Server::wants_input`] is
    /// false; bytes past it are dropped and the session ends with `421`.
    pub max_buffered_input: usize,
    /// Longest reply line the client accepts, CRLF included.
    pub max_reply_line: usize,
    /// Most lines in one (multi-line) reply the client accepts.
    pub max_reply_lines: usize,
    /// Longest decoded XFORWARD attribute value.
    pub max_xforward_value: usize,
    /// Longest XFORWARD command line the client writes, CRLF included.
    pub max_xforward_line: usize,
    /// Longest HELO/EHLO argument the server accepts.
    pub max_helo_name: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_command_line: DEFAULT_MAX_COMMAND_LINE,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            max_recipients: DEFAULT_MAX_RECIPIENTS,
            max_errors: DEFAULT_MAX_ERRORS,
            max_buffered_input: DEFAULT_MAX_BUFFERED_INPUT,
            max_reply_line: DEFAULT_MAX_REPLY_LINE,
            max_reply_lines: DEFAULT_MAX_REPLY_LINES,
            max_xforward_value: DEFAULT_MAX_XFORWARD_VALUE,
            max_xforward_line: DEFAULT_MAX_XFORWARD_LINE,
            max_helo_name: DEFAULT_MAX_HELO_NAME,
        }
    }
}
