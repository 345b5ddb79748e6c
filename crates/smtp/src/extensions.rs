//! The ESMTP extensions this crate speaks, as announced by our server or
//! by the downstream server (parsed from its EHLO reply).

use crate::xforward::XForwardAttr;
use crate::Reply;

/// A set of ESMTP extensions. On the server it is what `EHLO` announces;
/// on the client it is what the downstream announced. Announce only what
/// the downstream supports ([`Extensions::intersect`]), as the content-filter
/// guide asks: an extension we accept but cannot replay would be lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extensions {
    /// `PIPELINING` (RFC 2920).
    pub pipelining: bool,
    /// `SIZE` (RFC 1870). The server announces
    /// [`crate::Limits::max_message_size`] as the number.
    pub size: bool,
    /// `8BITMIME` (RFC 6152): the `BODY=` parameter.
    pub eight_bit_mime: bool,
    /// `SMTPUTF8` (RFC 6531).
    pub smtputf8: bool,
    /// `DSN` (RFC 3461): `RET`, `ENVID`, `NOTIFY`, `ORCPT`.
    pub dsn: bool,
    /// `ENHANCEDSTATUSCODES` (RFC 2034).
    pub enhanced_status_codes: bool,
    /// `XFORWARD` with these attributes; empty = not announced.
    pub xforward: Vec<XForwardAttr>,
}

impl Extensions {
    /// Everything this crate implements (phishgate's default announcement).
    pub fn all() -> Self {
        Extensions {
            pipelining: true,
            size: true,
            eight_bit_mime: true,
            smtputf8: true,
            dsn: true,
            enhanced_status_codes: true,
            xforward: XForwardAttr::ALL.to_vec(),
        }
    }

    /// Nothing (what a `HELO`-only server offers).
    pub fn none() -> Self {
        Extensions {
            pipelining: false,
            size: false,
            eight_bit_mime: false,
            smtputf8: false,
            dsn: false,
            enhanced_status_codes: false,
            xforward: Vec::new(),
        }
    }

    /// What both sets contain. `PIPELINING` and `ENHANCEDSTATUSCODES` are
    /// properties of one hop, not of the envelope, so they are kept from
    /// `self` unchanged.
    pub fn intersect(&self, downstream: &Extensions) -> Extensions {
        Extensions {
            pipelining: self.pipelining,
            size: self.size && downstream.size,
            eight_bit_mime: self.eight_bit_mime && downstream.eight_bit_mime,
            smtputf8: self.smtputf8 && downstream.smtputf8,
            dsn: self.dsn && downstream.dsn,
            enhanced_status_codes: self.enhanced_status_codes,
            xforward: self
                .xforward
                .iter()
                .copied()
                .filter(|a| downstream.xforward.contains(a))
                .collect(),
        }
    }

    /// Parses the keyword lines of an EHLO reply (the first line is the
    /// server's greeting and is skipped). Also returns the `SIZE` limit,
    /// `Some(0)` meaning "no fixed limit". Unknown keywords are ignored.
    pub fn from_ehlo(reply: &Reply) -> (Extensions, Option<u64>) {
        let mut ext = Extensions::none();
        let mut size_limit = None;
        for line in reply.lines.iter().skip(1) {
            let mut words = line.split_ascii_whitespace();
            let Some(keyword) = words.next() else {
                continue;
            };
            match keyword.to_ascii_uppercase().as_str() {
                "PIPELINING" => ext.pipelining = true,
                "SIZE" => {
                    ext.size = true;
                    size_limit = Some(words.next().and_then(|n| n.parse().ok()).unwrap_or(0));
                }
                "8BITMIME" => ext.eight_bit_mime = true,
                "SMTPUTF8" => ext.smtputf8 = true,
                "DSN" => ext.dsn = true,
                "ENHANCEDSTATUSCODES" => ext.enhanced_status_codes = true,
                "XFORWARD" => {
                    for w in words {
                        if let Some(a) = XForwardAttr::parse(w) {
                            if !ext.xforward.contains(&a) {
                                ext.xforward.push(a);
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        (ext, size_limit)
    }
}

impl Default for Extensions {
    fn default() -> Self {
        Extensions::all()
    }
}
