//! NAT rules as the flow builders and the SB rows use them: each router's
//! NB `NAT` rows with their addresses parsed, checked the way ovn-northd
//! checks them, and resolved to the gateway they apply at (the gateway
//! router itself, or one distributed gateway port). Pure: never writes
//! either database. A rule that cannot be applied is reported, and never
//! half applied: one whose type, external IP or logical IP does not parse
//! is left out; one the reference warns about but still answers ARP for (a
//! DNAT rule to a network, addresses of two families, a port range that is
//! not `LO-HI` within 1 to 65535, both `allowed_ext_ips` and
//! `exempted_ext_ips`, no gateway port to apply it at, a bad
//! `external_mac` on what would be a distributed floating IP) is kept as
//! `rejected`, for those replies only.

use std::net::IpAddr;

use crate::input::nb;
use crate::model::addr::{Ipv4Net, Ipv6Net, LportAddresses, Mac};
use crate::output::Diagnostic;

/// `NAT.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum NatKind {
    Snat,
    Dnat,
    DnatAndSnat,
}

impl NatKind {
    fn parse(s: &str) -> Option<NatKind> {
        match s {
            "snat" => Some(NatKind::Snat),
            "dnat" => Some(NatKind::Dnat),
            "dnat_and_snat" => Some(NatKind::DnatAndSnat),
            _ => None,
        }
    }

    /// The rule translates destinations (dnat, dnat_and_snat).
    pub fn dnats(self) -> bool {
        self != NatKind::Snat
    }

    /// The rule translates sources (snat, dnat_and_snat).
    pub fn snats(self) -> bool {
        self != NatKind::Dnat
    }
}

/// `NAT.logical_ip` parsed: an address, or for SNAT a network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogicalIp {
    V4(Ipv4Net),
    V6(Ipv6Net),
}

impl LogicalIp {
    pub fn plen(&self) -> u8 {
        match self {
            LogicalIp::V4(n) => n.plen,
            LogicalIp::V6(n) => n.plen,
        }
    }

    pub fn is_ipv4(&self) -> bool {
        matches!(self, LogicalIp::V4(_))
    }

    /// The address part (the network's address as written, not masked).
    pub fn addr(&self) -> IpAddr {
        match self {
            LogicalIp::V4(n) => IpAddr::V4(n.addr),
            LogicalIp::V6(n) => IpAddr::V6(n.addr),
        }
    }
}

/// One NAT rule of a router that ovn-northd applies.
#[derive(Clone)]
pub struct Nat<'a> {
    pub nb: nb::Nat<'a>,
    pub kind: NatKind,
    pub external_ip: IpAddr,
    /// `logical_ip` as NB wrote it (ovn-northd prints it unchanged in
    /// matches, `10.0.0.5/24` included).
    pub logical_ip_text: &'a str,
    pub logical_ip: LogicalIp,
    /// A valid `external_mac` (an invalid one is reported and read as
    /// absent).
    pub external_mac: Option<Mac>,
    pub logical_port: Option<&'a str>,
    /// A valid `external_port_range`, as NB wrote it.
    pub port_range: Option<&'a str>,
    /// `options:stateless=true` on a dnat_and_snat rule.
    pub stateless: bool,
    /// The name of the `allowed_ext_ips` address set.
    pub allowed_ext_ips: Option<&'a str>,
    /// The name of the `exempted_ext_ips` address set.
    pub exempted_ext_ips: Option<&'a str>,
    /// The distributed gateway port the rule applies at (index into
    /// `Model::ports`); `None` on a gateway router.
    pub dgp: Option<usize>,
    /// The rule is not applied: the reference warns about it and leaves
    /// it out of every stage but the ARP and ND replies for its external
    /// IP and the destination lookups that lead there (a DNAT rule to a
    /// network, addresses of two families, a bad port range, both
    /// `allowed_ext_ips` and `exempted_ext_ips`, no gateway port to apply
    /// it at, a floating IP with an invalid MAC).
    pub rejected: bool,
}

impl Nat<'_> {
    /// A distributed floating IP: a dnat_and_snat rule with a logical port
    /// and an external MAC on a router with a distributed gateway port,
    /// processed on the chassis of the logical port instead of the gateway
    /// chassis.
    pub fn is_distributed(&self) -> bool {
        self.dgp.is_some()
            && self.kind == NatKind::DnatAndSnat
            && self.logical_port.is_some()
            && self.external_mac.is_some()
    }

    pub fn is_ipv4(&self) -> bool {
        self.external_ip.is_ipv4()
    }
}

/// The gateway a router applies NAT at.
pub enum Gateway<'a, 'm> {
    /// A gateway router (`options:chassis`).
    Router,
    /// Distributed gateway ports: (index into `Model::ports`, the port's
    /// NB row, its networks), in port order.
    Ports(Vec<(usize, nb::LogicalRouterPort<'a>, &'m LportAddresses)>),
    /// Neither: NAT rules are not applied.
    None,
}

/// One of the port's networks holds `ip`.
fn holds(addrs: &LportAddresses, ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => addrs.ipv4.iter().any(|n| n.contains(a)),
        IpAddr::V6(a) => addrs.ipv6.iter().any(|n| n.contains(a)),
    }
}

/// The rules of `router` that parse, in NB UUID order (the order in which
/// ovn-northd lists them where order shows, e.g. `nat_addresses`). Bad
/// rules are reported in `diags` and left out. On a router with no
/// gateway (`Gateway::None`) the rules are reported as not applied and
/// still returned, with no `dgp`: the reference translates no packet with
/// them but still answers ARP and ND for their external IPs.
pub fn build<'a>(router: nb::LogicalRouter<'a>, gw: &Gateway<'a, '_>, diags: &mut Vec<Diagnostic>) -> Vec<Nat<'a>> {
    let mut rows: Vec<nb::Nat<'a>> = router.nat().collect();
    rows.sort_by_key(|n| n.uuid());
    rows.dedup_by_key(|n| n.uuid());
    if matches!(gw, Gateway::None) && !rows.is_empty() {
        diags.push(Diagnostic {
            table: nb::LogicalRouter::TABLE,
            row: router.name().to_string(),
            message: "NAT rules on a router with neither options:chassis nor a distributed gateway port are not \
                      applied"
                .into(),
        });
    }
    rows.into_iter().filter_map(|n| parse(n, gw, diags)).collect()
}

fn parse<'a>(n: nb::Nat<'a>, gw: &Gateway<'a, '_>, diags: &mut Vec<Diagnostic>) -> Option<Nat<'a>> {
    let row = n.uuid().to_string();
    let report = |diags: &mut Vec<Diagnostic>, column: &str, value: &str, what: &str| {
        diags.push(Diagnostic::new(nb::Nat::TABLE, &row, column, value, what));
    };
    let Some(kind) = NatKind::parse(n.type_()) else {
        report(diags, "type", n.type_(), "unknown NAT type, rule ignored");
        return None;
    };
    let Ok(external_ip) = n.external_ip().parse::<IpAddr>() else {
        report(diags, "external_ip", n.external_ip(), "not an IP address, rule ignored");
        return None;
    };
    let text = n.logical_ip();
    let parsed = if text.contains(':') {
        Ipv6Net::parse(text).map(LogicalIp::V6)
    } else {
        Ipv4Net::parse(text).map(LogicalIp::V4)
    };
    let Some(logical_ip) = parsed else {
        report(diags, "logical_ip", text, "not an address or network, rule ignored");
        return None;
    };
    // From here on a rule the reference does not apply still has its
    // external IP answered for in ARP and ND: it is kept, `rejected`.
    let mut rejected = false;
    let mut reject = |diags: &mut Vec<Diagnostic>, column: &str, value: &str, what: &str| {
        report(diags, column, value, what);
        rejected = true;
    };
    let host = if external_ip.is_ipv4() { 32 } else { 128 };
    if logical_ip.is_ipv4() != external_ip.is_ipv4() {
        reject(diags, "logical_ip", text, "not an address of the external IP's family, rule ignored");
    } else if kind.dnats() && logical_ip.plen() != host {
        reject(diags, "logical_ip", text, "a network where a DNAT rule needs an address, rule ignored");
    }
    let port_range = match n.external_port_range() {
        "" => None,
        r if valid_port_range(r) => Some(r),
        r => {
            reject(diags, "external_port_range", r, "not PORT or LO-HI within 1-65535, rule ignored");
            None
        }
    };
    let allowed_ext_ips = n.allowed_ext_ips().map(|s| s.name());
    let exempted_ext_ips = n.exempted_ext_ips().map(|s| s.name());
    if allowed_ext_ips.is_some() && exempted_ext_ips.is_some() {
        reject(
            diags,
            "allowed_ext_ips",
            allowed_ext_ips.unwrap_or_default(),
            "both allowed_ext_ips and exempted_ext_ips are set, rule ignored",
        );
    }
    let dgp = match gw {
        Gateway::Router | Gateway::None => None,
        Gateway::Ports(ports) => {
            let chosen = match n.gateway_port() {
                Some(gp) => ports.iter().find(|(_, lrp, _)| lrp.uuid() == gp.uuid()),
                None if ports.len() == 1 => ports.first(),
                None => ports.iter().find(|(_, _, addrs)| holds(addrs, external_ip)),
            };
            if chosen.is_none() {
                let what = "no distributed gateway port of the router for this rule (gateway_port, or one whose \
                            networks hold external_ip), rule ignored";
                reject(diags, "external_ip", n.external_ip(), what);
            }
            chosen.map(|(i, _, _)| *i)
        }
    };
    let logical_port = n.logical_port().filter(|p| !p.is_empty());
    let external_mac = match n.external_mac() {
        Some(m) => match Mac::parse(m) {
            Some(mac) => Some(mac),
            // What would be a distributed floating IP is not applied at all.
            None if dgp.is_some() && kind == NatKind::DnatAndSnat && logical_port.is_some() => {
                reject(diags, "external_mac", m, "invalid MAC for a distributed floating IP, rule ignored");
                None
            }
            None => {
                report(diags, "external_mac", m, "invalid MAC, ignored");
                None
            }
        },
        None => None,
    };
    Some(Nat {
        nb: n,
        kind,
        external_ip,
        logical_ip_text: text,
        logical_ip,
        external_mac,
        logical_port,
        port_range,
        stateless: kind == NatKind::DnatAndSnat && n.options().get_bool("stateless", false),
        allowed_ext_ips,
        exempted_ext_ips,
        dgp,
        rejected,
    })
}

/// `PORT` or `LO-HI` with 1 <= LO <= HI <= 65535.
fn valid_port_range(r: &str) -> bool {
    let port = |s: &str| s.parse::<u16>().ok().filter(|p| *p != 0);
    match r.split_once('-') {
        Some((lo, hi)) => matches!((port(lo), port(hi)), (Some(lo), Some(hi)) if lo <= hi),
        None => port(r).is_some(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_ranges_are_a_port_or_an_ordered_range_within_1_to_65535() {
        for ok in ["1-65535", "1024-2048", "5", "80-80"] {
            assert!(valid_port_range(ok), "{ok}");
        }
        for bad in ["", "0-10", "70000-80000", "20-10", "junk", "1-", "-5", "1-2-3", " 5"] {
            assert!(!valid_port_range(bad), "{bad}");
        }
    }
}
