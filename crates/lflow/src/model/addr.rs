//! Ethernet and IP addresses as OVN writes them in NB columns: parsing of
//! `addresses` entries (`"MAC IP..."`), router port `networks`
//! (`"10.0.0.1/24"`), and the derived addresses flows need (network,
//! broadcast, solicited-node multicast, EUI-64 link-local). Pure.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// An Ethernet address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    /// Parses `xx:xx:xx:xx:xx:xx` (hex digits of either case).
    pub fn parse(s: &str) -> Option<Mac> {
        let mut out = [0u8; 6];
        let mut parts = s.split(':');
        for b in &mut out {
            let p = parts.next()?;
            if p.is_empty() || p.len() > 2 {
                return None;
            }
            *b = u8::from_str_radix(p, 16).ok()?;
        }
        parts.next().is_none().then_some(Mac(out))
    }

    pub fn is_multicast(&self) -> bool {
        self.0[0] & 1 != 0
    }

    pub fn is_zero(&self) -> bool {
        self.0 == [0; 6]
    }

    /// The EUI-64 based IPv6 link-local address (fe80::/64).
    pub fn ipv6_lla(&self) -> Ipv6Addr {
        let m = self.0;
        Ipv6Addr::from([0xfe, 0x80, 0, 0, 0, 0, 0, 0, m[0] ^ 2, m[1], m[2], 0xff, 0xfe, m[3], m[4], m[5]])
    }

    /// The EUI-64 address of this MAC in a /64 prefix.
    pub fn eui64(&self, prefix: Ipv6Addr) -> Ipv6Addr {
        let p = prefix.octets();
        let m = self.0;
        Ipv6Addr::from([
            p[0],
            p[1],
            p[2],
            p[3],
            p[4],
            p[5],
            p[6],
            p[7],
            m[0] ^ 2,
            m[1],
            m[2],
            0xff,
            0xfe,
            m[3],
            m[4],
            m[5],
        ])
    }

    pub fn to_u64(self) -> u64 {
        self.0.iter().fold(0, |a, &b| (a << 8) | b as u64)
    }

    pub fn from_u64(v: u64) -> Mac {
        let b = v.to_be_bytes();
        Mac([b[2], b[3], b[4], b[5], b[6], b[7]])
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(f, "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5])
    }
}

/// An IPv4 address with a prefix length (32 for a plain address).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ipv4Net {
    pub addr: Ipv4Addr,
    pub plen: u8,
}

impl Ipv4Net {
    /// Parses `a.b.c.d` or `a.b.c.d/len`.
    pub fn parse(s: &str) -> Option<Ipv4Net> {
        let (a, plen) = match s.split_once('/') {
            Some((a, p)) => (a, p.parse::<u8>().ok().filter(|p| *p <= 32)?),
            None => (s, 32),
        };
        Some(Ipv4Net { addr: a.parse().ok()?, plen })
    }

    pub fn mask(&self) -> Ipv4Addr {
        Ipv4Addr::from(if self.plen == 0 { 0 } else { u32::MAX << (32 - self.plen as u32) })
    }

    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & u32::from(self.mask()))
    }

    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) | !u32::from(self.mask()))
    }

    /// `network/plen` as OVN prints a subnet in matches.
    pub fn subnet(&self) -> String {
        format!("{}/{}", self.network(), self.plen)
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & u32::from(self.mask()) == u32::from(self.network())
    }
}

/// An IPv6 address with a prefix length (128 for a plain address).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ipv6Net {
    pub addr: Ipv6Addr,
    pub plen: u8,
}

impl Ipv6Net {
    /// Parses `addr` or `addr/len`.
    pub fn parse(s: &str) -> Option<Ipv6Net> {
        let (a, plen) = match s.split_once('/') {
            Some((a, p)) => (a, p.parse::<u8>().ok().filter(|p| *p <= 128)?),
            None => (s, 128),
        };
        Some(Ipv6Net { addr: a.parse().ok()?, plen })
    }

    pub fn mask(&self) -> Ipv6Addr {
        Ipv6Addr::from(if self.plen == 0 { 0 } else { u128::MAX << (128 - self.plen as u32) })
    }

    pub fn network(&self) -> Ipv6Addr {
        Ipv6Addr::from(u128::from(self.addr) & u128::from(self.mask()))
    }

    pub fn subnet(&self) -> String {
        format!("{}/{}", self.network(), self.plen)
    }

    pub fn contains(&self, ip: Ipv6Addr) -> bool {
        u128::from(ip) & u128::from(self.mask()) == u128::from(self.network())
    }

    pub fn is_lla(&self) -> bool {
        self.addr.segments()[0] & 0xffc0 == 0xfe80
    }
}

/// The solicited-node multicast address of `ip` (ff02::1:ffXX:XXXX).
pub fn solicited_node(ip: Ipv6Addr) -> Ipv6Addr {
    let o = ip.octets();
    Ipv6Addr::from([0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, o[13], o[14], o[15]])
}

/// The Ethernet multicast address of an IPv6 multicast address (33:33:..).
pub fn ipv6_multicast_mac(ip: Ipv6Addr) -> Mac {
    let o = ip.octets();
    Mac([0x33, 0x33, o[12], o[13], o[14], o[15]])
}

/// One entry of a port's `addresses` (or a router port's MAC and networks):
/// an Ethernet address and the IPs that go with it, in the order given.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LportAddresses {
    pub mac: Mac,
    pub ipv4: Vec<Ipv4Net>,
    pub ipv6: Vec<Ipv6Net>,
}

impl LportAddresses {
    /// Parses `"MAC [IP...]"` where IPs may carry a prefix length. Returns
    /// `None` for anything malformed (the caller reports it).
    pub fn parse(s: &str) -> Option<LportAddresses> {
        let mut words = s.split_whitespace();
        let mac = Mac::parse(words.next()?)?;
        let mut out = LportAddresses { mac, ..Default::default() };
        for w in words {
            if let Some(n) = Ipv4Net::parse(w) {
                out.ipv4.push(n);
            } else if let Some(n) = Ipv6Net::parse(w) {
                out.ipv6.push(n);
            } else {
                return None;
            }
        }
        Some(out)
    }

    /// A router port's addresses: its MAC and the `networks` entries that
    /// parse (each with its prefix length; an address without one is a
    /// host route), then the IPv6 link-local address derived from the MAC,
    /// as OVN does. The entries that do not parse are returned beside, to
    /// be reported: the reference leaves them out and keeps the rest.
    pub fn router_port<'n>(mac: Mac, networks: impl IntoIterator<Item = &'n str>) -> (LportAddresses, Vec<&'n str>) {
        let mut out = LportAddresses { mac, ..Default::default() };
        let mut bad = Vec::new();
        for n in networks {
            if let Some(v4) = Ipv4Net::parse(n).filter(|_| n.contains('.')) {
                out.ipv4.push(v4);
            } else if let Some(v6) = Ipv6Net::parse(n) {
                out.ipv6.push(v6);
            } else {
                bad.push(n);
            }
        }
        out.ipv6.push(Ipv6Net { addr: out.mac.ipv6_lla(), plen: 64 });
        (out, bad)
    }

    pub fn is_empty_ip(&self) -> bool {
        self.ipv4.is_empty() && self.ipv6.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lsp_addresses() {
        let a = LportAddresses::parse("00:00:00:00:00:02 10.0.0.12 fd00::12").unwrap();
        assert_eq!(a.mac.to_string(), "00:00:00:00:00:02");
        assert_eq!(a.ipv4[0].addr.to_string(), "10.0.0.12");
        assert_eq!(a.ipv6[0].plen, 128);
        assert!(LportAddresses::parse("00:00:00:00:00:0g").is_none());
        assert!(LportAddresses::parse("00:00:00:00:00:01 10.0.0.300").is_none());
        assert!(LportAddresses::parse("").is_none());
    }

    #[test]
    fn router_port_gets_lla() {
        let mac = Mac::parse("00:00:00:00:ff:01").unwrap();
        let (a, bad) = LportAddresses::router_port(mac, ["10.0.0.1/24", "bogus", "10.0.1.1/33", "fd00::1/129"]);
        assert_eq!(bad, ["bogus", "10.0.1.1/33", "fd00::1/129"]);
        assert_eq!(a.ipv4[0].subnet(), "10.0.0.0/24");
        assert_eq!(a.ipv4[0].broadcast().to_string(), "10.0.0.255");
        assert_eq!(a.ipv6[0].addr.to_string(), "fe80::200:ff:fe00:ff01");
        assert_eq!(solicited_node("fd00::12".parse().unwrap()).to_string(), "ff02::1:ff00:12");
    }
}
