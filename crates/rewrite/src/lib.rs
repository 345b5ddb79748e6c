//! Pure message rewriting for phishgate: the warning banner, the subject tag
//! and the result headers of the `warn` action. Bytes in, bytes out; no I/O.
//!
//! # The model
//!
//! A message phishgate finds doubtful is delivered with a visible warning at
//! the top of what the reader sees. Rewriting mail is where gateways do the
//! most damage (broken attachments, broken signatures, mojibake), so this
//! crate changes as little as it can and proves what it changed:
//!
//! - **Splice by offsets.** The message is parsed once with mail-parser, the
//!   text parts a reader sees are chosen (see [`insert_banner`]), and only
//!   their byte ranges (`offset_header..offset_end` of each chosen
//!   `MessagePart`) are replaced. Every other byte (boundaries, preamble,
//!   attachments, inline images, attached messages, header folding and order)
//!   is copied through unchanged, so nothing we did not mean to touch can be
//!   re-encoded by accident.
//! - **Re-encode only the changed text.** A chosen part is decoded to text
//!   (mail-parser handles the transfer encoding and the charset, including
//!   windows-1258), the banner is put in front, and the part is written again
//!   as `charset=utf-8`, quoted-printable (base64 when it was base64), with
//!   lines of at most 76 characters. Its other headers and Content-Type
//!   parameters stay. The encoders are exact: the new part decodes to the
//!   banner followed by the original decoded text, byte for byte.
//! - **Check before returning.** The rewritten message is parsed again and
//!   every changed part is compared with the text we meant to write. On a
//!   difference (an odd Content-Type the parser reads differently after the
//!   in-place charset edit, say) the rewrite is redone once with the
//!   Content-Types written afresh from the parsed values; if that fails too,
//!   [`NotRewritten::SelfCheckFailed`] and the caller delivers the original.
//! - **Never touch signed or encrypted mail.** S/MIME and PGP/MIME
//!   (`multipart/signed`, `multipart/encrypted`, `application/pkcs7-*`) and
//!   inline PGP blocks are refused with [`NotRewritten::Signed`]: a banner
//!   would break the signature, and a broken signature teaches users to
//!   ignore signature warnings. Such mail still gets the subject tag and the
//!   result headers, which are outside the signed content.
//! - **Idempotence.** A message that passes the gateway twice (a second MX,
//!   a re-scan, a forward back into the domain) must not pile up banners. A
//!   part already starts with the banner when its decoded text begins with
//!   exactly the plain banner block (the banner lines and
//!   [`PLAIN_SEPARATOR`]), or, for HTML, when [`HTML_MARKER`] followed by the
//!   exact fragment sits at the insertion point. Requiring the whole banner,
//!   not just a marker, means a sender who forges the marker to suppress the
//!   warning has to show the warning themselves. [`tag_subject`] is
//!   idempotent the same way.
//! - **Refusals are data.** [`NotRewritten`] says why nothing was changed;
//!   the caller then delivers the message unchanged (still with the subject
//!   tag and headers). Nothing here panics on hostile input: every index is
//!   checked, the part walk is iterative and bounded by [`Limits`], and the
//!   third-party parser runs under `catch_unwind`.
//!
//! # Two ways to deliver the result
//!
//! - **SMTP content filter** (after-queue, re-injection): call
//!   [`insert_banner`], then [`apply`] with a [`MessageEdits`] holding the
//!   [`BodyRewrite`], the forged `X-Phishgate-*` headers to remove, the
//!   result headers to add and the tagged subject; re-inject the returned
//!   bytes.
//! - **Milter** (before-queue): the milter can only replace the body and
//!   add, change or delete headers by name and index. [`BodyRewrite::body`]
//!   goes into `SMFIR_REPLBODY`; each [`HeaderEdit::Set`] in
//!   [`BodyRewrite::top_header_edits`] becomes `SMFIR_CHGHEADER` (index 1)
//!   when the header exists, else `SMFIR_ADDHEADER`. Header values come from
//!   [`encode_header_value`], folded with CRLF + space; the milter adapter
//!   converts the line ending if its MTA wants another.
//!
//! Output line endings follow the input's dominant line ending (CRLF for
//! SMTP, LF for a Maildir file), so a rewritten part never mixes the two.

mod apply;
mod encode;
mod headers;
mod html;
mod rewrite;
mod subject;

pub use apply::apply;
pub use headers::encode_header_value;
pub use rewrite::insert_banner;
pub use subject::tag_subject;

/// Marker comment written in front of the HTML banner fragment. A part whose
/// insertion point already holds this marker followed by the same fragment is
/// not bannered again.
pub const HTML_MARKER: &str = "<!-- phishgate-banner -->";

/// Line written after the plain-text banner lines (followed by an empty
/// line). Together with the banner lines it is the plain-text idempotence
/// marker.
pub const PLAIN_SEPARATOR: &str = "____________________ phishgate ____________________";

/// The warning shown to the reader.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Banner {
    /// Text block for `text/plain` parts: lines separated by `\n` (the line
    /// endings of the part are added here). UTF-8, usually Vietnamese.
    pub plain: String,
    /// HTML fragment for `text/html` parts, already escaped by the caller.
    pub html: String,
}

/// Bounds on what [`insert_banner`] is willing to rewrite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest message rewritten, in bytes.
    pub max_message_bytes: usize,
    /// Most MIME parts a rewritten message may have.
    pub max_parts: usize,
    /// Deepest multipart nesting walked when choosing the text parts.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 25 * 1024 * 1024,
            max_parts: 400,
            max_depth: 24,
        }
    }
}

/// A change to the top-level header block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderEdit {
    /// Replace the value of the first header called `name` (ASCII case
    /// insensitive), or add the header when there is none.
    Set {
        /// Header name, e.g. `Content-Type`.
        name: String,
        /// Value without the leading space, folded with CRLF + space when
        /// long.
        value: String,
    },
}

/// A message with the banner inserted, as a new body plus the top-level
/// header changes the new body needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BodyRewrite {
    /// Changes to the top-level header block: only `Content-Type`,
    /// `Content-Transfer-Encoding` and `MIME-Version`, and only when the
    /// message is a single text part that was re-encoded.
    pub top_header_edits: Vec<HeaderEdit>,
    /// The new body: everything after the empty line that ends the
    /// top-level header block.
    pub body: Vec<u8>,
    /// How many text parts received the banner (at least 1).
    pub parts_changed: usize,
}

/// Why [`insert_banner`] left the message as it was. Not a failure of the
/// gateway: the message is delivered unchanged (with subject tag and result
/// headers).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotRewritten {
    /// Signed or encrypted (S/MIME, PGP/MIME or inline PGP): never touched.
    #[error("signed or encrypted message")]
    Signed,
    /// No text part a reader would see (only attachments, say).
    #[error("no text body part")]
    NoTextPart,
    /// The parser could not read the message.
    #[error("message could not be parsed")]
    Unparseable,
    /// Larger than [`Limits::max_message_bytes`].
    #[error("message of {size} bytes is larger than {limit}")]
    TooLarge {
        /// Size of the message.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// More parts than [`Limits::max_parts`].
    #[error("message has {parts} MIME parts, more than {limit}")]
    TooManyParts {
        /// Parts in the message.
        parts: usize,
        /// The limit.
        limit: usize,
    },
    /// Every text part that would need the banner is in a charset the
    /// decoder does not know.
    #[error("unknown charset {0:?}")]
    UnknownCharset(String),
    /// Every text part that would need the banner is damaged (broken
    /// transfer encoding, missing boundary, duplicated or unknown
    /// Content-Type / Content-Transfer-Encoding): re-encoding it would change
    /// what the reader sees beyond the banner.
    #[error("text part cannot be decoded faithfully")]
    Undecodable,
    /// Every text part already starts with this banner.
    #[error("banner already present")]
    AlreadyBannered,
    /// The rewritten message did not read back as intended; the original
    /// should be delivered.
    #[error("rewritten message failed its self-check")]
    SelfCheckFailed,
}

/// Everything [`apply`] changes in a whole message (SMTP content-filter
/// path).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageEdits {
    /// Top-level headers removed by name, ASCII case insensitive, every
    /// occurrence.
    pub remove_headers: Vec<String>,
    /// Top-level headers removed when their name starts with one of these
    /// (ASCII case insensitive), e.g. `X-Phishgate-` to drop forged result
    /// headers.
    pub remove_prefixes: Vec<String>,
    /// `Authentication-Results` fields claiming one of these authserv-ids
    /// (ASCII case insensitive) are removed: written before the message
    /// reached the gateway that owns the id, so forged (RFC 8601 section 5).
    /// Matched by content, not by position, so a field the parser reads
    /// differently from another counter is never confused with its
    /// neighbour.
    pub remove_auth_results_of: Vec<String>,
    /// Headers added at the very top, in this order, as (name, decoded
    /// value); values are encoded with [`encode_header_value`].
    pub add_headers_top: Vec<(String, String)>,
    /// New decoded subject (see [`tag_subject`]); replaces the first
    /// `Subject` header (later duplicates are removed) or is added.
    pub set_subject: Option<String>,
    /// New body and its top-level header edits, from [`insert_banner`] on
    /// the same bytes.
    pub body: Option<BodyRewrite>,
}

/// The line ending used most in `raw`: `"\n"` when bare LF lines outnumber
/// CRLF lines, else `"\r\n"` (also for input without any line ending).
pub(crate) fn dominant_newline(raw: &[u8]) -> &'static str {
    let mut crlf = 0usize;
    let mut lf = 0usize;
    let mut prev = 0u8;
    for &b in raw {
        if b == b'\n' {
            if prev == b'\r' {
                crlf += 1;
            } else {
                lf += 1;
            }
        }
        prev = b;
    }
    if lf > crlf {
        "\n"
    } else {
        "\r\n"
    }
}

/// Parses with mail-parser under `catch_unwind`: the parser is third-party
/// code fed hostile bytes, and a panic there must become "unparseable", never
/// a crashed gateway (0.11.9 has a reachable `debug_assert!`).
pub(crate) fn parse(raw: &[u8]) -> Option<mail_parser::Message<'_>> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        mail_parser::MessageParser::new().parse(raw)
    }))
    .ok()
    .flatten()
}
