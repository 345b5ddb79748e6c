//! One mail transaction as received: the envelope with its parameters kept
//! verbatim, the XFORWARD attributes, and the dot-unstuffed message.

use crate::xforward::XForward;
use crate::Address;

/// A `MAIL`/`RCPT` parameter (`KEYWORD` or `KEYWORD=value`), spelling kept
/// as received so it can be replayed exactly.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Param {
    /// Keyword as sent (compare with [`Param::is`]).
    pub keyword: String,
    /// Value as sent (still xtext-encoded for `ENVID`/`ORCPT`).
    pub value: Option<String>,
}

impl Param {
    /// Builds a parameter.
    pub fn new(keyword: impl Into<String>, value: Option<&str>) -> Self {
        Param {
            keyword: keyword.into(),
            value: value.map(str::to_owned),
        }
    }

    /// Case-insensitive keyword comparison.
    pub fn is(&self, keyword: &str) -> bool {
        self.keyword.eq_ignore_ascii_case(keyword)
    }

    /// Wire form.
    pub fn to_wire(&self) -> String {
        match &self.value {
            Some(v) => format!("{}={}", self.keyword, v),
            None => self.keyword.clone(),
        }
    }
}

/// An envelope address with its parameters: the sender of `MAIL FROM` or
/// one recipient of `RCPT TO`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EnvelopeAddress {
    /// The path.
    pub address: Address,
    /// Parameters in the order received.
    pub params: Vec<Param>,
}

impl EnvelopeAddress {
    /// Builds one.
    pub fn new(address: Address, params: Vec<Param>) -> Self {
        EnvelopeAddress { address, params }
    }

    /// The first parameter called `keyword`.
    pub fn param(&self, keyword: &str) -> Option<&Param> {
        self.params.iter().find(|p| p.is(keyword))
    }
}

/// A complete transaction, as [`crate::Event::Message`] delivers it and as
/// [`crate::Client::send`] replays it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Transaction {
    /// The HELO/EHLO argument of the session that carried the transaction.
    pub helo: Option<String>,
    /// XFORWARD attributes that applied to this transaction, `None` if the
    /// client sent no XFORWARD for it.
    pub xforward: Option<XForward>,
    /// `MAIL FROM` path and parameters.
    pub mail_from: EnvelopeAddress,
    /// Accepted recipients, in order.
    pub rcpts: Vec<EnvelopeAddress>,
    /// Message, dot-unstuffed, every line ending in CRLF (see the crate
    /// docs for how bare CR and LF were normalised).
    pub data: Vec<u8>,
}

impl Transaction {
    /// Size of [`Transaction::data`] in bytes.
    pub fn size(&self) -> usize {
        self.data.len()
    }

    /// The `SIZE=` the client declared, if any and numeric.
    pub fn declared_size(&self) -> Option<u64> {
        self.mail_from.param("SIZE")?.value.as_deref()?.parse().ok()
    }

    /// True if `MAIL` carried `SMTPUTF8`.
    pub fn smtputf8(&self) -> bool {
        self.mail_from.param("SMTPUTF8").is_some()
    }

    /// True if the envelope needs SMTPUTF8 (a non-ASCII address).
    pub fn needs_smtputf8(&self) -> bool {
        !self.mail_from.address.is_ascii() || self.rcpts.iter().any(|r| !r.address.is_ascii())
    }
}
