//! XFORWARD attributes (Postfix `XFORWARD_README`): the original client's
//! identity, carried through the filter so the re-injection smtpd logs the
//! real client instead of `localhost[127.0.0.1]`.
//!
//! Values are stored decoded; `None` means `[UNAVAILABLE]`. The server
//! validates them as the README asks (at most 255 characters, printable
//! ASCII without spaces; `ADDR` an IPv4 address or `IPV6:` + IPv6, `PORT` a
//! number, `SOURCE` `LOCAL` or `REMOTE`).

use std::net::{Ipv4Addr, Ipv6Addr};

/// One XFORWARD attribute name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum XForwardAttr {
    /// Client host name (or `[UNAVAILABLE]`).
    Name,
    /// Client address.
    Addr,
    /// Client TCP port.
    Port,
    /// `SMTP` or `ESMTP`.
    Proto,
    /// Client HELO/EHLO argument.
    Helo,
    /// Upstream queue ID.
    Ident,
    /// `LOCAL` or `REMOTE`.
    Source,
}

impl XForwardAttr {
    /// All attributes, in the order this crate writes them.
    pub const ALL: [XForwardAttr; 7] = [
        XForwardAttr::Name,
        XForwardAttr::Addr,
        XForwardAttr::Port,
        XForwardAttr::Proto,
        XForwardAttr::Helo,
        XForwardAttr::Ident,
        XForwardAttr::Source,
    ];

    /// Wire name (`NAME`, `ADDR`...).
    pub fn as_str(self) -> &'static str {
        match self {
            XForwardAttr::Name => "NAME",
            XForwardAttr::Addr => "ADDR",
            XForwardAttr::Port => "PORT",
            XForwardAttr::Proto => "PROTO",
            XForwardAttr::Helo => "HELO",
            XForwardAttr::Ident => "IDENT",
            XForwardAttr::Source => "SOURCE",
        }
    }

    /// Case-insensitive lookup of a wire name.
    pub fn parse(name: &str) -> Option<Self> {
        XForwardAttr::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(name))
    }

    /// Checks a decoded value of this attribute (see the module docs).
    pub fn value_is_valid(self, value: &str, max_len: usize) -> bool {
        if value.is_empty()
            || value.len() > max_len
            || !value.bytes().all(|b| (b'!'..=b'~').contains(&b))
        {
            return false;
        }
        match self {
            XForwardAttr::Addr => match value.get(..5) {
                Some(p) if p.eq_ignore_ascii_case("IPV6:") => value
                    .get(5..)
                    .is_some_and(|v| v.parse::<Ipv6Addr>().is_ok()),
                _ => value.parse::<Ipv4Addr>().is_ok(),
            },
            XForwardAttr::Port => value.len() <= 5 && value.parse::<u16>().is_ok(),
            XForwardAttr::Source => {
                value.eq_ignore_ascii_case("LOCAL") || value.eq_ignore_ascii_case("REMOTE")
            }
            _ => true,
        }
    }
}

/// The XFORWARD attributes of one transaction. A value of `None` is
/// `[UNAVAILABLE]`; a fresh `XForward` (all `None`) is the state after the
/// first XFORWARD command of a transaction, before its attributes apply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct XForward {
    /// `NAME`.
    pub name: Option<String>,
    /// `ADDR`.
    pub addr: Option<String>,
    /// `PORT`.
    pub port: Option<String>,
    /// `PROTO`.
    pub proto: Option<String>,
    /// `HELO`.
    pub helo: Option<String>,
    /// `IDENT`.
    pub ident: Option<String>,
    /// `SOURCE`.
    pub source: Option<String>,
}

impl XForward {
    /// The value of `attr`.
    pub fn get(&self, attr: XForwardAttr) -> Option<&str> {
        self.slot(attr).as_deref()
    }

    /// Sets `attr` (`None` = `[UNAVAILABLE]`).
    pub fn set(&mut self, attr: XForwardAttr, value: Option<String>) {
        *self.slot_mut(attr) = value;
    }

    fn slot(&self, attr: XForwardAttr) -> &Option<String> {
        match attr {
            XForwardAttr::Name => &self.name,
            XForwardAttr::Addr => &self.addr,
            XForwardAttr::Port => &self.port,
            XForwardAttr::Proto => &self.proto,
            XForwardAttr::Helo => &self.helo,
            XForwardAttr::Ident => &self.ident,
            XForwardAttr::Source => &self.source,
        }
    }

    fn slot_mut(&mut self, attr: XForwardAttr) -> &mut Option<String> {
        match attr {
            XForwardAttr::Name => &mut self.name,
            XForwardAttr::Addr => &mut self.addr,
            XForwardAttr::Port => &mut self.port,
            XForwardAttr::Proto => &mut self.proto,
            XForwardAttr::Helo => &mut self.helo,
            XForwardAttr::Ident => &mut self.ident,
            XForwardAttr::Source => &mut self.source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        let ok = |a: XForwardAttr, v: &str| a.value_is_valid(v, 255);
        assert!(ok(XForwardAttr::Addr, "192.0.2.1"));
        assert!(ok(XForwardAttr::Addr, "IPv6:2001:db8::1"));
        assert!(!ok(XForwardAttr::Addr, "2001:db8::1"));
        assert!(!ok(XForwardAttr::Addr, "[192.0.2.1]"));
        assert!(ok(XForwardAttr::Port, "25"));
        assert!(!ok(XForwardAttr::Port, "65536"));
        assert!(ok(XForwardAttr::Source, "remote"));
        assert!(!ok(XForwardAttr::Source, "elsewhere"));
        assert!(ok(XForwardAttr::Name, "mail.example.org"));
        assert!(!ok(XForwardAttr::Helo, "a b"));
        assert!(!ok(XForwardAttr::Helo, "h\u{e9}"));
        assert!(!ok(XForwardAttr::Ident, ""));
        assert!(!XForwardAttr::Ident.value_is_valid("abcdef", 5));
        assert_eq!(XForwardAttr::parse("proto"), Some(XForwardAttr::Proto));
        assert_eq!(XForwardAttr::parse("PROTOX"), None);
    }
}
