//! IP networks (CIDR) for `[organization] own_networks`: where the
//! organisation's own mail comes from (its servers, its relays, loopback).
//!
//! Parsing is strict (`10.0.0.0/8`, `2001:db8::/32`, or a bare address for
//! a single host); host bits under the mask are ignored, as most tools do.

use std::net::IpAddr;

/// One network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `addr/prefix` or a bare address.
    pub fn parse(s: &str) -> Option<Cidr> {
        let s = s.trim();
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.trim_matches(['[', ']']).parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max)?,
            None => max,
        };
        Some(Cidr { addr, prefix })
    }

    /// Whether `ip` is inside. IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`,
    /// as some MTAs report clients) match IPv4 networks.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// Whether `ip` (text, brackets tolerated) is in any of `nets`.
pub fn in_networks(nets: &[Cidr], ip: &str) -> bool {
    let ip = ip.trim().trim_matches(['[', ']']);
    let ip = ip
        .strip_prefix("IPv6:")
        .or(ip.strip_prefix("ipv6:"))
        .unwrap_or(ip);
    ip.parse::<IpAddr>()
        .is_ok_and(|a| nets.iter().any(|n| n.contains(a)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_match() {
        let n = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(n.contains("10.200.1.1".parse().unwrap()));
        assert!(!n.contains("11.0.0.1".parse().unwrap()));
        assert!(n.contains("::ffff:10.1.2.3".parse().unwrap()));
        let h = Cidr::parse("203.0.113.5").unwrap();
        assert!(h.contains("203.0.113.5".parse().unwrap()));
        assert!(!h.contains("203.0.113.6".parse().unwrap()));
        let all = Cidr::parse("0.0.0.0/0").unwrap();
        assert!(all.contains("1.2.3.4".parse().unwrap()));
        let v6 = Cidr::parse("fc00::/7").unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        assert!(!v6.contains("2001:db8::1".parse().unwrap()));
        for bad in ["10.0.0.0/33", "x/8", "", "::/129", "10.0.0.0/-1"] {
            assert!(Cidr::parse(bad).is_none(), "{bad}");
        }
        assert!(in_networks(&[v6], "[IPv6:fd00::2]"));
    }
}
