//! Responses (filter -> MTA): [`Response`], [`encode_response`], the
//! end-of-message [`finish`] gate, header-value hygiene, and the MTA-side
//! [`ResponseDecoder`].

use crate::consts::*;
use crate::error::DecodeError;
use crate::negotiate::Negotiated;
use crate::reply::ReplyText;
use crate::wire::{put_cstr, put_frame, text, Framer, Reader};

/// One response packet (or, for [`Response::ReplaceBody`], one run of `b`
/// packets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// `c`: go on (at end of message: accept).
    Continue,
    /// `a`: accept (at CONNECT/HELO Postfix stops filtering the session).
    Accept,
    /// `r`: reject.
    Reject,
    /// `t`: temporary failure.
    Tempfail,
    /// `d`: discard silently (ignored by Postfix at CONNECT/HELO).
    Discard,
    /// `y`: custom SMTP reply.
    ReplyCode(ReplyText),
    /// `q`: quarantine with a non-empty reason (not final).
    Quarantine(String),
    /// `p`: still working (not final; send only after `E`).
    Progress,
    /// `s`: skip the remaining body chunks (only if SMFIP_SKIP negotiated).
    Skip,
    /// `h`: append a header.
    AddHeader {
        /// Header name.
        name: String,
        /// Value, LF-folded, see [`normalize_header_value`].
        value: String,
    },
    /// `i`: insert a header at a 0-based position of the whole header list
    /// (Postfix counts its own hidden `Received:`; 0 lands above it).
    InsertHeader {
        /// Position.
        index: u32,
        /// Header name.
        name: String,
        /// Value.
        value: String,
    },
    /// `m`: change the `index`-th (1-based, per name) header; an empty
    /// value deletes it.
    ChangeHeader {
        /// 1-based occurrence among headers with this name.
        index: u32,
        /// Header name.
        name: String,
        /// New value; empty deletes.
        value: String,
    },
    /// `b`: replace the whole body. Encoded as contiguous packets of at
    /// most [`MAX_CHUNK`] bytes (one empty packet for an empty body). The
    /// [`ResponseDecoder`] yields one `ReplaceBody` per packet.
    ReplaceBody(Vec<u8>),
    /// `+`: add a recipient.
    AddRcpt(String),
    /// `2`: add a recipient with ESMTP arguments, all in one string.
    AddRcptPar {
        /// Recipient.
        rcpt: String,
        /// Space-separated ESMTP parameters (one `str` on the wire).
        args: Option<String>,
    },
    /// `-`: delete a recipient (as the filter saw it at RCPT).
    DelRcpt(String),
    /// `e`: change the envelope sender.
    ChangeFrom {
        /// New sender (`<>` for the null sender).
        sender: String,
        /// Space-separated ESMTP parameters (one `str` on the wire).
        args: Option<String>,
    },
    /// `O`: the negotiation answer, built by [`crate::negotiate`].
    OptNeg {
        /// Version answered.
        version: u32,
        /// `SMFIF_*` actions requested.
        actions: u32,
        /// `SMFIP_*` protocol bits requested.
        protocol: u32,
        /// `(SMFIM_* stage, "space separated names")` macro lists.
        macro_lists: Vec<(u32, String)>,
    },
}

impl Response {
    /// True for replies that end the MTA's wait for one command
    /// (`a c d r t y s`).
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            Response::Continue
                | Response::Accept
                | Response::Reject
                | Response::Tempfail
                | Response::Discard
                | Response::ReplyCode(_)
                | Response::Skip
        )
    }

    /// The response letter (`SMFIR_*`).
    pub fn code(&self) -> u8 {
        match self {
            Response::Continue => SMFIR_CONTINUE,
            Response::Accept => SMFIR_ACCEPT,
            Response::Reject => SMFIR_REJECT,
            Response::Tempfail => SMFIR_TEMPFAIL,
            Response::Discard => SMFIR_DISCARD,
            Response::ReplyCode(_) => SMFIR_REPLYCODE,
            Response::Quarantine(_) => SMFIR_QUARANTINE,
            Response::Progress => SMFIR_PROGRESS,
            Response::Skip => SMFIR_SKIP,
            Response::AddHeader { .. } => SMFIR_ADDHEADER,
            Response::InsertHeader { .. } => SMFIR_INSHEADER,
            Response::ChangeHeader { .. } => SMFIR_CHGHEADER,
            Response::ReplaceBody(_) => SMFIR_REPLBODY,
            Response::AddRcpt(_) => SMFIR_ADDRCPT,
            Response::AddRcptPar { .. } => SMFIR_ADDRCPT_PAR,
            Response::DelRcpt(_) => SMFIR_DELRCPT,
            Response::ChangeFrom { .. } => SMFIR_CHGFROM,
            Response::OptNeg { .. } => SMFIR_OPTNEG,
        }
    }

    /// The `SMFIF_*` action this end-of-message edit needs, if any.
    pub fn required_action(&self) -> Option<u32> {
        Some(match self {
            Response::AddHeader { .. } | Response::InsertHeader { .. } => SMFIF_ADDHDRS,
            Response::ChangeHeader { .. } => SMFIF_CHGHDRS,
            Response::ReplaceBody(_) => SMFIF_CHGBODY,
            Response::AddRcpt(_) => SMFIF_ADDRCPT,
            Response::AddRcptPar { .. } => SMFIF_ADDRCPT_PAR,
            Response::DelRcpt(_) => SMFIF_DELRCPT,
            Response::ChangeFrom { .. } => SMFIF_CHGFROM,
            Response::Quarantine(_) => SMFIF_QUARANTINE,
            _ => return None,
        })
    }
}

/// Append the wire form of `resp`.
///
/// This is the plain codec: fields go out as given, except that NUL bytes
/// are dropped from `str` fields (an inner NUL would split the field and
/// desynchronise the MTA) and `ReplaceBody` is split into `b` packets of at
/// most [`MAX_CHUNK`]. Header hygiene that depends on negotiation (leading
/// space, folding) and edit validation live in [`finish`], which end-of-
/// message answers should go through.
pub fn encode_response(resp: &Response, out: &mut Vec<u8>) {
    let code = resp.code();
    let mut p = Vec::new();
    match resp {
        Response::Continue
        | Response::Accept
        | Response::Reject
        | Response::Tempfail
        | Response::Discard
        | Response::Progress
        | Response::Skip => {}
        Response::ReplyCode(t) => put_cstr(&mut p, t.to_wire().as_bytes()),
        Response::Quarantine(s) | Response::AddRcpt(s) | Response::DelRcpt(s) => {
            put_cstr(&mut p, s.as_bytes())
        }
        Response::AddHeader { name, value } => {
            put_cstr(&mut p, name.as_bytes());
            put_cstr(&mut p, value.as_bytes());
        }
        Response::InsertHeader { index, name, value }
        | Response::ChangeHeader { index, name, value } => {
            p.extend_from_slice(&index.to_be_bytes());
            put_cstr(&mut p, name.as_bytes());
            put_cstr(&mut p, value.as_bytes());
        }
        Response::ReplaceBody(body) => {
            if body.is_empty() {
                put_frame(out, code, &[]);
            }
            for chunk in body.chunks(MAX_CHUNK) {
                put_frame(out, code, &[chunk]);
            }
            return;
        }
        Response::AddRcptPar { rcpt: a, args } | Response::ChangeFrom { sender: a, args } => {
            put_cstr(&mut p, a.as_bytes());
            if let Some(args) = args {
                put_cstr(&mut p, args.as_bytes());
            }
        }
        Response::OptNeg {
            version,
            actions,
            protocol,
            macro_lists,
        } => {
            p.extend_from_slice(&version.to_be_bytes());
            p.extend_from_slice(&actions.to_be_bytes());
            p.extend_from_slice(&protocol.to_be_bytes());
            for (stage, list) in macro_lists {
                p.extend_from_slice(&stage.to_be_bytes());
                put_cstr(&mut p, list.as_bytes());
            }
        }
    }
    put_frame(out, code, &[&p]);
}

/// Why an end-of-message answer was refused by [`finish`]. Nothing was
/// written when this is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FinishError {
    /// The final reply is not one of `c a r t d y`.
    #[error("end-of-message answer must end with continue/accept/reject/tempfail/discard/replycode, not {0:?}")]
    NotFinal(char),
    /// An entry of `edits` is not a modification, quarantine or progress.
    #[error("{0:?} is not allowed among end-of-message edits")]
    NotAnEdit(char),
    /// An edit whose `SMFIF_*` action was not negotiated.
    #[error("edit {code:?} needs action {action:#x}, which was not negotiated")]
    ActionNotNegotiated {
        /// Edit letter.
        code: char,
        /// Missing action bit.
        action: u32,
    },
    /// `ReplaceBody` edits separated by other packets (Postfix refuses a
    /// second run).
    #[error("body replacement must be one contiguous run of ReplaceBody edits")]
    BodyNotContiguous,
    /// Empty header name, or one with a byte outside printable ASCII or a
    /// colon.
    #[error("invalid header name {0:?}")]
    BadHeaderName(String),
    /// A header line still longer than 2047 bytes after folding.
    #[error("header {0:?} has a line longer than 2047 bytes that cannot be folded")]
    HeaderLineTooLong(String),
    /// Empty quarantine reason.
    #[error("quarantine reason must not be empty")]
    EmptyQuarantine,
    /// Empty address in an envelope edit.
    #[error("envelope edit with an empty address")]
    EmptyAddress,
}

/// Validate and write a complete end-of-message answer: `edits` (any of
/// the modification responses, [`Response::Quarantine`] and
/// [`Response::Progress`]) in order, then `final_reply`.
///
/// Checks: the final reply is final and not `Skip`; every edit is an edit
/// whose action was negotiated; all `ReplaceBody` edits are adjacent;
/// header names are valid; quarantine reasons and addresses non-empty.
/// Header values are passed through [`normalize_header_value`] with the
/// negotiated `HDR_LEADSPC`, except a `ChangeHeader` deletion (empty value),
/// which stays empty. `Some("")` args are sent as absent. On error nothing
/// is written to `out`.
pub fn finish(
    negotiated: &Negotiated,
    edits: &[Response],
    final_reply: &Response,
    out: &mut Vec<u8>,
) -> Result<(), FinishError> {
    if !final_reply.is_final() || matches!(final_reply, Response::Skip) {
        return Err(FinishError::NotFinal(char::from(final_reply.code())));
    }
    let leadspc = negotiated.leading_space();
    let mut fixed = Vec::with_capacity(edits.len() + 1);
    let mut body_run = BodyRun::NotSeen;
    for e in edits {
        let code = char::from(e.code());
        if e.is_final() || matches!(e, Response::OptNeg { .. }) {
            return Err(FinishError::NotAnEdit(code));
        }
        if let Some(action) = e.required_action() {
            if negotiated.actions & action == 0 {
                return Err(FinishError::ActionNotNegotiated { code, action });
            }
        }
        body_run = match (body_run, matches!(e, Response::ReplaceBody(_))) {
            (BodyRun::Ended, true) => return Err(FinishError::BodyNotContiguous),
            (_, true) => BodyRun::InRun,
            (BodyRun::InRun, false) => BodyRun::Ended,
            (s, false) => s,
        };
        fixed.push(fix_edit(e, leadspc)?);
    }
    let start = out.len();
    for e in &fixed {
        encode_response(e, out);
    }
    encode_response(final_reply, out);
    debug_assert!(out.len() > start);
    Ok(())
}

#[derive(Clone, Copy)]
enum BodyRun {
    NotSeen,
    InRun,
    Ended,
}

fn fix_edit(e: &Response, leadspc: bool) -> Result<Response, FinishError> {
    let header = |name: &str, value: &str, delete_ok: bool| {
        if !valid_header_name(name) {
            return Err(FinishError::BadHeaderName(name.to_owned()));
        }
        if delete_ok && value.is_empty() {
            return Ok(String::new());
        }
        let v = normalize_header_value(name, value, leadspc);
        let first_extra = name.len() + 2;
        let too_long = v
            .split('\n')
            .enumerate()
            .any(|(i, l)| l.len() + if i == 0 { first_extra } else { 0 } > MAX_HEADER_LINE);
        if too_long {
            return Err(FinishError::HeaderLineTooLong(name.to_owned()));
        }
        Ok(v)
    };
    let addr = |a: &str| {
        let a: String = a.chars().filter(|&c| c != '\0').collect();
        if a.trim().is_empty() {
            Err(FinishError::EmptyAddress)
        } else {
            Ok(a)
        }
    };
    let args = |a: &Option<String>| a.as_ref().filter(|s| !s.trim().is_empty()).cloned();
    Ok(match e {
        Response::AddHeader { name, value } => Response::AddHeader {
            name: name.clone(),
            value: header(name, value, false)?,
        },
        Response::InsertHeader { index, name, value } => Response::InsertHeader {
            index: *index,
            name: name.clone(),
            value: header(name, value, false)?,
        },
        Response::ChangeHeader { index, name, value } => Response::ChangeHeader {
            index: *index,
            name: name.clone(),
            value: header(name, value, true)?,
        },
        Response::Quarantine(r) => {
            let r: String = r.chars().filter(|&c| c != '\0').collect();
            if r.trim().is_empty() {
                return Err(FinishError::EmptyQuarantine);
            }
            Response::Quarantine(r)
        }
        Response::AddRcpt(a) => Response::AddRcpt(addr(a)?),
        Response::DelRcpt(a) => Response::DelRcpt(addr(a)?),
        Response::AddRcptPar { rcpt, args: a } => Response::AddRcptPar {
            rcpt: addr(rcpt)?,
            args: args(a),
        },
        Response::ChangeFrom { sender, args: a } => Response::ChangeFrom {
            sender: addr(sender)?,
            args: args(a),
        },
        other => other.clone(),
    })
}

/// RFC 5322 field name: one or more printable ASCII bytes except `:`.
pub fn valid_header_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| (33..=126).contains(&b) && b != b':')
}

/// Make a header value safe to send in `h`/`i`/`m`.
///
/// - NUL bytes are dropped.
/// - Every line break (CRLF, CR or LF) becomes a bare LF: the MTA adds the
///   CR itself, and a CR we sent would end up doubled.
/// - Every continuation line starts with whitespace (a space is added if
///   needed), so a value can never start a new header line: no header
///   injection from text that came out of a message. Whitespace-only lines
///   are dropped (they would read as the end of the header block) and
///   trailing whitespace is trimmed.
/// - Leading whitespace: removed unless `leadspc` (SMFIP_HDR_LEADSPC was
///   negotiated), because the MTA adds one space after the colon; with
///   `leadspc` the MTA adds nothing, so one space is put in front.
/// - Lines longer than 998 bytes (the first line counts `name: `) are
///   folded before the last space or tab that fits, when there is one.
pub fn normalize_header_value(name: &str, value: &str, leadspc: bool) -> String {
    let value: String = value.chars().filter(|&c| c != '\0').collect();
    let value = value.replace("\r\n", "\n").replace('\r', "\n");
    let mut lines: Vec<&str> = value
        .split('\n')
        .map(|l| l.trim_end_matches([' ', '\t']))
        .collect();
    // Keep the first line even when empty only if nothing follows.
    lines.retain(|l| !l.trim_start_matches([' ', '\t']).is_empty());
    let mut out = String::with_capacity(value.len() + 8);
    for (i, l) in lines.iter().enumerate() {
        if i == 0 {
            out.push_str(l.trim_start_matches([' ', '\t']));
        } else {
            out.push('\n');
            if !l.starts_with([' ', '\t']) {
                out.push(' ');
            }
            out.push_str(l);
        }
    }
    if leadspc {
        out.insert(0, ' ');
    }
    fold_long_lines(&out, name.len() + 2 - usize::from(leadspc))
}

/// Fold lines over [`FOLD_HEADER_LINE`] at the last whitespace that fits.
fn fold_long_lines(v: &str, first_extra: usize) -> String {
    let mut out = String::with_capacity(v.len() + 16);
    for (i, line) in v.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let mut extra = if i == 0 { first_extra } else { 0 };
        let mut rest = line;
        while rest.len() + extra > FOLD_HEADER_LINE {
            let limit = FOLD_HEADER_LINE.saturating_sub(extra);
            // Break before a whitespace byte at position >= 1 (a break at 0
            // would leave an empty line) that keeps this line within bounds.
            let cut = rest
                .char_indices()
                .take_while(|&(p, _)| p <= limit)
                .filter(|&(p, c)| p > 0 && (c == ' ' || c == '\t'))
                .map(|(p, _)| p)
                .last();
            let Some(cut) = cut else { break };
            let (head, tail) = rest.split_at(cut);
            if head.trim().is_empty() {
                break;
            }
            out.push_str(head);
            out.push('\n');
            rest = tail;
            extra = 0;
        }
        out.push_str(rest);
    }
    out
}

/// Incremental decoder of filter responses (MTA side: tests and the load
/// generator). Packet-level: a body replacement arrives as one
/// [`Response::ReplaceBody`] per `b` packet. Same bounds and poisoning as
/// [`crate::Decoder`].
#[derive(Debug, Clone)]
pub struct ResponseDecoder {
    framer: Framer,
}

impl Default for ResponseDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ResponseDecoder {
    /// A decoder bounded by [`MAX_FRAME`].
    pub fn new() -> Self {
        Self::with_max_frame(MAX_FRAME)
    }

    /// A decoder bounded by `max_frame` bytes per frame.
    pub fn with_max_frame(max_frame: usize) -> Self {
        Self {
            framer: Framer::new(max_frame),
        }
    }

    /// Append bytes read from the filter.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.framer.feed(bytes);
    }

    /// The next complete response; `Ok(None)` when more bytes are needed.
    pub fn next_response(&mut self) -> Result<Option<Response>, DecodeError> {
        let parsed = match self.framer.next_frame()? {
            None => return Ok(None),
            Some((code, payload)) => parse_response(code, payload),
        };
        match parsed {
            Ok(r) => Ok(Some(r)),
            Err(e) => Err(self.framer.fail(e)),
        }
    }

    /// Bytes buffered but not yet returned.
    pub fn buffered(&self) -> usize {
        self.framer.buffered()
    }
}

/// Parse one response frame. `4`, `f` and `l` are refused as
/// [`DecodeError::UnknownCode`]: this crate never sends them and Postfix
/// treats `f` and a stand-alone `l` as protocol errors.
pub fn parse_response(code: u8, payload: &[u8]) -> Result<Response, DecodeError> {
    let bad = |what| DecodeError::malformed(code, what);
    let mut r = Reader::new(payload);
    let s = |r: &mut Reader<'_>| r.cstr().map(text).ok_or_else(|| bad("string without NUL"));
    let resp = match code {
        SMFIR_CONTINUE => Response::Continue,
        SMFIR_ACCEPT => Response::Accept,
        SMFIR_REJECT => Response::Reject,
        SMFIR_TEMPFAIL => Response::Tempfail,
        SMFIR_DISCARD => Response::Discard,
        SMFIR_PROGRESS => Response::Progress,
        SMFIR_SKIP => Response::Skip,
        SMFIR_REPLYCODE => {
            let t = r.cstr().ok_or_else(|| bad("reply without NUL"))?;
            let t = std::str::from_utf8(t).map_err(|_| bad("reply is not UTF-8"))?;
            Response::ReplyCode(ReplyText::parse(t).map_err(|_| bad("invalid reply text"))?)
        }
        SMFIR_QUARANTINE => Response::Quarantine(s(&mut r)?),
        SMFIR_ADDRCPT => Response::AddRcpt(s(&mut r)?),
        SMFIR_DELRCPT => Response::DelRcpt(s(&mut r)?),
        SMFIR_ADDHEADER => Response::AddHeader {
            name: s(&mut r)?,
            value: s(&mut r)?,
        },
        SMFIR_INSHEADER | SMFIR_CHGHEADER => {
            let index = r.u32().ok_or_else(|| bad("missing index"))?;
            let (name, value) = (s(&mut r)?, s(&mut r)?);
            if code == SMFIR_INSHEADER {
                Response::InsertHeader { index, name, value }
            } else {
                Response::ChangeHeader { index, name, value }
            }
        }
        SMFIR_REPLBODY => return Ok(Response::ReplaceBody(payload.to_vec())),
        SMFIR_ADDRCPT_PAR | SMFIR_CHGFROM => {
            let a = s(&mut r)?;
            let args = if r.is_empty() { None } else { Some(s(&mut r)?) };
            if code == SMFIR_CHGFROM {
                Response::ChangeFrom { sender: a, args }
            } else {
                Response::AddRcptPar { rcpt: a, args }
            }
        }
        SMFIR_OPTNEG => {
            let (Some(version), Some(actions), Some(protocol)) = (r.u32(), r.u32(), r.u32()) else {
                return Err(bad("OPTNEG shorter than 12 bytes"));
            };
            let mut macro_lists = Vec::new();
            while !r.is_empty() {
                let stage = r.u32().ok_or_else(|| bad("truncated macro list stage"))?;
                macro_lists.push((stage, s(&mut r)?));
            }
            Response::OptNeg {
                version,
                actions,
                protocol,
                macro_lists,
            }
        }
        other => return Err(DecodeError::UnknownCode(other)),
    };
    if r.is_empty() {
        Ok(resp)
    } else {
        Err(bad("unexpected trailing bytes"))
    }
}
