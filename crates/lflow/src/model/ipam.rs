//! IPAM: the addresses northd gives switch ports that ask for `dynamic`
//! ones (ovn-nb(5), `Logical_Switch` "IP Address Assignment" and
//! `Logical_Switch_Port.addresses`). MACs come from `NB_Global
//! options:mac_prefix` and are unique across the whole NB; IPv4 addresses
//! come from the switch's `other_config:subnet` minus `exclude_ips`, the
//! first two addresses and the broadcast address, and every address a port
//! or a connected router port already uses; IPv6 addresses are the EUI-64
//! address of the MAC in `other_config:ipv6_prefix` (a /64).
//!
//! Assignments already in NB (`dynamic_addresses`) are kept while still
//! valid: a MAC with the current prefix, an IPv4 address in the subnet that
//! nobody else holds, an IPv6 address as long as the MAC stays. The rest is
//! allocated in model order (switches, then ports by name), lowest address
//! first, so the same NB always gives the same result. Pure: it reads the
//! model and returns strings; it never writes NB itself.
//!
//! As the reference does, a new MAC is derived from the port's IPv4 address
//! (its low 24 bits plus one, then the next free value): the requested
//! address of `dynamic IP` when given, else the assigned one, else zero.

use std::net::{Ipv4Addr, Ipv6Addr};

use foldhash::{HashSet, HashSetExt};

use super::addr::{Ipv4Net, Ipv6Net, LportAddresses, Mac};
use super::{Model, PortNb};
use crate::input::nb;
use crate::output::Diagnostic;

/// Suffixes of MACs under the prefix: 1 to 0xfffffe.
const MAC_SUFFIXES: u64 = 0xff_fffe;

/// What a port's `dynamic` entry asks for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Request {
    /// `MAC dynamic`.
    pub mac: Option<Mac>,
    /// `dynamic IP`.
    pub ipv4: Option<Ipv4Addr>,
    /// `dynamic IP6` (or `dynamic IP IP6`).
    pub ipv6: Option<Ipv6Addr>,
}

impl Request {
    /// Parses an `addresses` entry holding the word `dynamic`; `None` when
    /// the entry does not ask for dynamic addresses, `Some(Err(word))` when
    /// a word is not understood.
    pub fn parse(entry: &str) -> Option<Result<Request, String>> {
        let words: Vec<&str> = entry.split_whitespace().collect();
        match words.as_slice() {
            ["dynamic", rest @ ..] => {
                let mut r = Request::default();
                for w in rest {
                    if let Some(ip) = w.parse::<Ipv4Addr>().ok().filter(|_| r.ipv4.is_none()) {
                        r.ipv4 = Some(ip);
                    } else if let Some(ip) = w.parse::<Ipv6Addr>().ok().filter(|_| r.ipv6.is_none()) {
                        r.ipv6 = Some(ip);
                    } else {
                        return Some(Err(w.to_string()));
                    }
                }
                Some(Ok(r))
            }
            [mac, "dynamic"] => {
                Some(Mac::parse(mac).map(|m| Request { mac: Some(m), ..Default::default() }).ok_or(mac.to_string()))
            }
            _ => None,
        }
    }
}

/// A switch's IPAM settings and the IPv4 addresses in use on it.
#[derive(Debug)]
pub struct SwitchIpam {
    subnet: Option<Ipv4Net>,
    /// Excluded ranges (inclusive), sorted.
    excluded: Vec<(u32, u32)>,
    /// The IPv6 /64 prefix.
    ipv6_prefix: Option<Ipv6Addr>,
    mac_only: bool,
    used: HashSet<u32>,
    /// Every address below this one is excluded or used.
    cursor: u32,
}

impl SwitchIpam {
    /// Reads `other_config`; bad values are reported in `diags` (against
    /// `switch`) and disable the part they configure.
    pub fn new(
        subnet: Option<&str>,
        exclude_ips: Option<&str>,
        ipv6_prefix: Option<&str>,
        mac_only: bool,
        switch: &str,
        diags: &mut Vec<Diagnostic>,
    ) -> SwitchIpam {
        let mut diag = |column: &str, value: &str, what: &str| {
            diags.push(Diagnostic::new(nb::LogicalSwitch::TABLE, switch, column, value, what))
        };
        let subnet = subnet.and_then(|s| match Ipv4Net::parse(s).filter(|n| s.contains('/') && n.plen < 32) {
            Some(n) => Some(Ipv4Net { addr: n.network(), plen: n.plen }),
            None => {
                diag("other_config:subnet", s, "invalid subnet, no IPv4 addresses assigned");
                None
            }
        });
        let mut excluded = Vec::new();
        if let (Some(net), Some(ex)) = (subnet, exclude_ips) {
            for w in ex.split_whitespace() {
                let (a, b) = w.split_once("..").unwrap_or((w, w));
                let (Ok(a), Ok(b)) = (a.parse::<Ipv4Addr>(), b.parse::<Ipv4Addr>()) else {
                    diag("other_config:exclude_ips", w, "invalid entry, the rest is ignored");
                    break;
                };
                if !net.contains(a) || !net.contains(b) || u32::from(a) > u32::from(b) {
                    diag("other_config:exclude_ips", w, "not a range in the subnet, ignored");
                    continue;
                }
                excluded.push((u32::from(a), u32::from(b)));
            }
        }
        excluded.sort();
        let ipv6_prefix = ipv6_prefix.and_then(|p| {
            match Ipv6Net::parse(p) {
                // The prefix is always a /64: the host part is ignored.
                Some(n) => Some(Ipv6Net { addr: n.addr, plen: 64 }.network()),
                None => {
                    diag("other_config:ipv6_prefix", p, "invalid prefix, no IPv6 addresses assigned");
                    None
                }
            }
        });
        // At the top of the address space (255.255.255.254/31) the first
        // assignable address would lie past the end: there is none.
        let cursor = subnet.map_or(0, |n| u32::from(n.network()).saturating_add(2));
        SwitchIpam { subnet, excluded, ipv6_prefix, mac_only, used: HashSet::new(), cursor }
    }

    /// The switch assigns addresses at all.
    pub fn enabled(&self) -> bool {
        self.subnet.is_some() || self.ipv6_prefix.is_some() || self.mac_only
    }

    /// The first and last address that may be given out.
    fn range(&self) -> Option<(u32, u32)> {
        let n = self.subnet?;
        let (first, last) = (u32::from(n.network()).checked_add(2)?, u32::from(n.broadcast()).checked_sub(1)?);
        (first <= last).then_some((first, last))
    }

    fn excluded(&self, ip: u32) -> Option<u32> {
        let i = self.excluded.partition_point(|&(a, _)| a <= ip);
        self.excluded[..i].iter().filter(|&&(_, b)| b >= ip).map(|&(_, b)| b).max()
    }

    /// Marks an address as used (by a static address, a router port, ...).
    pub fn reserve(&mut self, ip: Ipv4Addr) {
        self.used.insert(u32::from(ip));
    }

    /// `ip` may be kept by a port: in the range, not excluded, not used.
    pub fn available(&self, ip: Ipv4Addr) -> bool {
        let ip = u32::from(ip);
        self.range().is_some_and(|(a, b)| (a..=b).contains(&ip))
            && self.excluded(ip).is_none()
            && !self.used.contains(&ip)
    }

    /// The lowest free address, now marked used; `None` when the subnet is
    /// exhausted.
    pub fn allocate(&mut self) -> Option<Ipv4Addr> {
        let (first, last) = self.range()?;
        let mut ip = self.cursor.max(first);
        while ip <= last {
            if let Some(end) = self.excluded(ip) {
                ip = end.checked_add(1)?;
            } else if self.used.contains(&ip) {
                ip += 1;
            } else {
                self.used.insert(ip);
                self.cursor = ip + 1;
                return Some(Ipv4Addr::from(ip));
            }
        }
        self.cursor = ip;
        None
    }
}

/// MACs in use anywhere in the NB, and the allocation of new ones.
#[derive(Debug, Default)]
pub struct Macam {
    used: HashSet<u64>,
}

impl Macam {
    pub fn reserve(&mut self, mac: Mac) {
        self.used.insert(mac.to_u64());
    }

    /// A free MAC under `prefix`, probing from the suffix `ip`'s low 24 bits
    /// plus one.
    pub fn allocate(&mut self, prefix: [u8; 3], ip: Option<Ipv4Addr>) -> Option<Mac> {
        let base = ip.map_or(0, |ip| u32::from(ip) as u64 & 0xff_ffff);
        let prefix = Mac([prefix[0], prefix[1], prefix[2], 0, 0, 0]).to_u64();
        for i in 0..MAC_SUFFIXES {
            let mac = prefix | ((base + i) % MAC_SUFFIXES + 1);
            if self.used.insert(mac) {
                return Some(Mac::from_u64(mac));
            }
        }
        None
    }
}

/// A port's assignment as it is being worked out.
struct Pending {
    port: usize,
    req: Request,
    mac: Option<Mac>,
    /// The MAC is the one NB already holds.
    mac_kept: bool,
    ipv4: Option<Ipv4Addr>,
    ipv6: Option<Ipv6Addr>,
    current: Option<LportAddresses>,
}

/// `dynamic_addresses` for every port (index into `Model::ports`) that
/// asks for dynamic addresses on a switch that assigns them; other ports
/// get none. Ports whose `dynamic` entry is malformed are reported and get
/// none.
pub(super) fn assign(m: &Model<'_>, diags: &mut Vec<Diagnostic>) -> Vec<(usize, String)> {
    let prefix = m
        .option("mac_prefix")
        .and_then(|p| Mac::parse(&format!("{p}:00:00:00")))
        .map(|m| [m.0[0], m.0[1], m.0[2]])
        .unwrap_or_default();
    let mut switches: Vec<(SwitchIpam, Vec<Pending>)> = Vec::new();
    for dp in m.switches() {
        let Some(s) = dp.switch() else { continue };
        let oc = s.other_config();
        let mut ipam = SwitchIpam::new(
            oc.get("subnet"),
            oc.get("exclude_ips"),
            oc.get("ipv6_prefix"),
            oc.get_bool("mac_only", false),
            dp.name,
            diags,
        );
        let mut pending: Vec<Pending> = Vec::new();
        for &i in &dp.ports {
            let port = &m.ports[i];
            if !port.is_lsp() {
                continue;
            }
            for request in port.requests() {
                match request {
                    Ok(req) => {
                        if let Some(ip) = req.ipv4.filter(|_| ipam.subnet.is_some()) {
                            ipam.reserve(ip);
                        }
                        if ipam.enabled() && !matches!(pending.last(), Some(p) if p.port == i) {
                            let current =
                                port.lsp().and_then(|l| l.dynamic_addresses()).and_then(LportAddresses::parse);
                            pending.push(Pending {
                                port: i,
                                req: req.clone(),
                                mac: None,
                                mac_kept: false,
                                ipv4: None,
                                ipv6: None,
                                current,
                            });
                        }
                    }
                    Err(word) => diags.push(Diagnostic::new(
                        nb::LogicalSwitchPort::TABLE,
                        port.name(),
                        "addresses",
                        word,
                        "invalid syntax in a dynamic entry, no dynamic address assigned",
                    )),
                }
            }
            // The static addresses (the model's addresses are the ones that
            // parse, IPAM's not among them yet).
            if ipam.subnet.is_some() {
                for ip in port.addrs().iter().flat_map(|l| &l.ipv4) {
                    ipam.reserve(ip.addr);
                }
            }
            // A connected router port's addresses.
            if let Some(peer) = m.peer(port).filter(|_| ipam.subnet.is_some()) {
                for ip in peer.addrs().iter().flat_map(|l| &l.ipv4) {
                    ipam.reserve(ip.addr);
                }
            }
        }
        switches.push((ipam, pending));
    }
    if switches.iter().all(|(_, pending)| pending.is_empty()) {
        return Vec::new();
    }
    let mut macam = Macam::default();
    // Every static MAC in the NB is taken.
    for p in &m.ports {
        match p.nb() {
            None => {}
            Some(PortNb::Switch(lsp)) => {
                for a in lsp.addresses() {
                    match Request::parse(a) {
                        Some(Ok(Request { mac: Some(mac), .. })) => macam.reserve(mac),
                        Some(_) => {}
                        None => {
                            if let Some(mac) = a.split_whitespace().next().and_then(Mac::parse) {
                                macam.reserve(mac);
                            }
                        }
                    }
                }
            }
            Some(PortNb::Router(lrp)) => {
                if let Some(mac) = Mac::parse(lrp.mac()) {
                    macam.reserve(mac);
                }
            }
        }
    }

    // Keep what NB already holds, where still valid.
    for (ipam, pending) in &mut switches {
        for p in pending.iter_mut() {
            let cur_mac = p.current.as_ref().map(|c| c.mac);
            p.mac = p.req.mac.or(cur_mac.filter(|mac| mac.0[..3] == prefix));
            if p.req.mac.is_none() {
                if let Some(mac) = p.mac {
                    macam.reserve(mac);
                }
            }
            p.mac_kept = p.mac.is_some() && p.mac == cur_mac;
            if ipam.subnet.is_some() {
                if let Some(ip) = p.req.ipv4.filter(|ip| ipam.subnet.is_some_and(|n| n.contains(*ip))) {
                    p.ipv4 = Some(ip);
                } else if let Some(ip) = p.current.as_ref().and_then(|c| c.ipv4.first()).map(|n| n.addr) {
                    if ipam.available(ip) {
                        ipam.reserve(ip);
                        p.ipv4 = Some(ip);
                    }
                }
            }
        }
    }

    // Allocate the rest.
    let mut out = Vec::new();
    for (dp, (ipam, pending)) in m.switches().zip(&mut switches) {
        for p in pending.iter_mut() {
            if ipam.subnet.is_some() && p.ipv4.is_none() {
                p.ipv4 = ipam.allocate();
                if p.ipv4.is_none() {
                    let subnet = ipam.subnet.map(|n| n.subnet()).unwrap_or_default();
                    let what = format!("address space exhausted, port {} gets no IPv4 address", m.ports[p.port].name());
                    diags.push(Diagnostic::new(
                        nb::LogicalSwitch::TABLE,
                        dp.name,
                        "other_config:subnet",
                        &subnet,
                        &what,
                    ));
                }
            }
            if p.mac.is_none() {
                p.mac = macam.allocate(prefix, p.req.ipv4.or(p.ipv4));
            }
            let Some(mac) = p.mac else {
                diags.push(Diagnostic {
                    table: nb::LogicalSwitchPort::TABLE,
                    row: m.ports[p.port].name().to_string(),
                    message: "no dynamic MAC address is free, no dynamic address assigned".into(),
                });
                continue;
            };
            if let Some(prefix) = ipam.ipv6_prefix {
                let kept = p.current.as_ref().and_then(|c| c.ipv6.first()).map(|n| n.addr).filter(|_| p.mac_kept);
                p.ipv6 = p.req.ipv6.or(kept).or(Some(mac.eui64(prefix)));
            }
            let mut s = mac.to_string();
            for ip in p.ipv4.iter().map(ToString::to_string).chain(p.ipv6.iter().map(ToString::to_string)) {
                s.push(' ');
                s.push_str(&ip);
            }
            out.push((p.port, s));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::model::testutil::u;
    use crate::tests::replica;

    fn ipam(subnet: &str, exclude: Option<&str>) -> (SwitchIpam, Vec<Diagnostic>) {
        let mut diags = Vec::new();
        let i = SwitchIpam::new(Some(subnet), exclude, None, false, "sw0", &mut diags);
        (i, diags)
    }

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn requests_parse() {
        assert_eq!(Request::parse("dynamic"), Some(Ok(Request::default())));
        assert_eq!(
            Request::parse("dynamic 10.0.0.5 fd00::5"),
            Some(Ok(Request { mac: None, ipv4: Some(ip("10.0.0.5")), ipv6: Some("fd00::5".parse().unwrap()) }))
        );
        assert_eq!(
            Request::parse("00:00:00:00:00:01 dynamic"),
            Some(Ok(Request { mac: Mac::parse("00:00:00:00:00:01"), ..Default::default() }))
        );
        assert_eq!(Request::parse("dynamic bogus"), Some(Err("bogus".into())));
        assert_eq!(Request::parse("zz dynamic"), Some(Err("zz".into())));
        assert_eq!(Request::parse("00:00:00:00:00:01 10.0.0.1"), None);
        assert_eq!(Request::parse("unknown"), None);
    }

    #[test]
    fn allocation_skips_first_two_excluded_used_and_broadcast() {
        let (mut i, diags) = ipam("10.0.0.0/29", Some("10.0.0.3 10.0.0.5..10.0.0.5"));
        assert!(diags.is_empty());
        i.reserve(ip("10.0.0.4"));
        assert_eq!(i.allocate(), Some(ip("10.0.0.2")));
        assert_eq!(i.allocate(), Some(ip("10.0.0.6")));
        assert_eq!(i.allocate(), None, "10.0.0.7 is the broadcast address");
        assert!(!i.available(ip("10.0.0.1")));
        assert!(!i.available(ip("10.0.0.3")));
    }

    #[test]
    fn tiny_and_bad_subnets_give_nothing() {
        assert_eq!(ipam("10.0.0.0/31", None).0.allocate(), None);
        assert_eq!(ipam("10.0.0.0/30", None).0.allocate(), Some(ip("10.0.0.2")));
        let (i, diags) = ipam("10.0.0.0", None);
        assert!(i.subnet.is_none() && diags.len() == 1);
        let (i, diags) = ipam("bad", None);
        assert!(
            !i.enabled()
                && diags[0].message.starts_with("other_config:subnet ")
                && diags[0].message.contains("invalid subnet")
        );
    }

    #[test]
    fn a_subnet_at_the_top_of_the_address_space_does_not_overflow() {
        assert_eq!(ipam("255.255.255.254/31", None).0.allocate(), None);
        let (mut i, _) = ipam("255.255.255.252/30", None);
        assert_eq!(i.allocate(), Some(ip("255.255.255.254")));
        assert_eq!(i.allocate(), None);
        assert!(!i.available(ip("255.255.255.255")));
    }

    proptest::proptest! {
        /// Whatever the subnet, every address handed out lies in it, is
        /// neither of its first two nor its broadcast address, and is never
        /// handed out twice; a subnet with room for n hosts gives exactly n.
        #[test]
        fn allocation_stays_in_the_subnet(addr: u32, plen in 0u8..32, exclude: Option<(u32, u32)>) {
            let net = Ipv4Net { addr: Ipv4Addr::from(addr), plen };
            let exclude = exclude.map(|(a, b)| {
                let (lo, hi) = (u64::from(u32::from(net.network())), u64::from(u32::from(net.broadcast())));
                let clamp = |x: u32| Ipv4Addr::from((lo + u64::from(x) % (hi - lo + 1)) as u32);
                let (a, b) = (clamp(a), clamp(b));
                format!("{}..{}", a.min(b), a.max(b))
            });
            let (mut i, _) = ipam(&net.subnet(), exclude.as_deref());
            let (lo, hi) = (u64::from(u32::from(net.network())), u64::from(u32::from(net.broadcast())));
            let mut seen = HashSet::new();
            while let Some(a) = i.allocate() {
                let a = u64::from(u32::from(a));
                proptest::prop_assert!(a >= lo + 2 && a < hi, "{a} outside {lo}..{hi}");
                proptest::prop_assert!(seen.insert(a), "{a} handed out twice");
                if seen.len() > 8 {
                    break;
                }
            }
            if exclude.is_none() && seen.len() <= 8 {
                proptest::prop_assert_eq!(seen.len() as u64, (hi - lo + 1).saturating_sub(3));
            }
        }
    }

    #[test]
    fn subnet_host_bits_are_ignored() {
        let (mut i, _) = ipam("10.3.0.5/24", None);
        assert_eq!(i.allocate(), Some(ip("10.3.0.2")));
    }

    #[test]
    fn bad_exclude_entries_are_reported() {
        let (mut i, diags) = ipam("10.0.0.0/24", Some("10.0.0.9..10.0.0.3 10.0.0.2 10.1.0.1 bogus 10.0.0.3"));
        assert_eq!(diags.len(), 3, "{diags:?}");
        // 10.0.0.2 is excluded; 10.0.0.3 comes after the syntax error.
        assert_eq!(i.allocate(), Some(ip("10.0.0.3")));
    }

    #[test]
    fn large_exclusions_are_skipped_in_one_step() {
        let (mut i, _) = ipam("10.0.0.0/8", Some("10.0.0.0..10.255.255.253"));
        assert_eq!(i.allocate(), Some(ip("10.255.255.254")));
        assert_eq!(i.allocate(), None);
    }

    #[test]
    fn macs_derive_from_the_ip_and_probe_past_used_ones() {
        let mut m = Macam::default();
        let prefix = [0x0a, 0, 0];
        assert_eq!(m.allocate(prefix, Some(ip("10.0.0.11"))).unwrap().to_string(), "0a:00:00:00:00:0c");
        m.reserve(Mac::parse("0a:00:00:01:00:03").unwrap());
        assert_eq!(m.allocate(prefix, Some(ip("10.1.0.2"))).unwrap().to_string(), "0a:00:00:01:00:04");
        assert_eq!(m.allocate(prefix, None).unwrap().to_string(), "0a:00:00:00:00:01");
        assert_eq!(m.allocate(prefix, None).unwrap().to_string(), "0a:00:00:00:00:02");
        // The suffix wraps below 0xffffff.
        assert_eq!(m.allocate(prefix, Some(ip("10.255.255.254"))).unwrap().to_string(), "0a:00:00:00:00:03");
    }

    #[test]
    fn ipv6_prefix_is_a_64() {
        let mut diags = Vec::new();
        let i = SwitchIpam::new(None, None, Some("fd04:1:2:3:4::"), false, "sw", &mut diags);
        assert_eq!(i.ipv6_prefix, Some("fd04:1:2:3::".parse().unwrap()));
        let mac = Mac::parse("0a:00:00:00:00:02").unwrap();
        assert_eq!(mac.eui64(i.ipv6_prefix.unwrap()).to_string(), "fd04:1:2:3:800:ff:fe00:2");
    }

    /// A port's name, assigned `dynamic_addresses`, and parsed addresses.
    type PortView = (String, Option<String>, Vec<String>);

    /// Builds the model of one switch `sw` with `other_config` and ports
    /// given as (name, addresses JSON, extra columns JSON), mac_prefix
    /// 0a:00:00.
    fn model_ports(other_config: &str, ports: &[(&str, &str, &str)]) -> (Vec<PortView>, Vec<Diagnostic>) {
        let refs: Vec<String> = (0..ports.len()).map(|i| format!(r#"["uuid", "{}"]"#, u(10 + i as u32))).collect();
        let rows: Vec<String> = ports
            .iter()
            .enumerate()
            .map(|(i, (name, addrs, extra))| {
                format!(r#""{}": {{"initial": {{"name": "{name}", "addresses": {addrs}{extra}}}}}"#, u(10 + i as u32))
            })
            .collect();
        let nb = format!(
            r#"{{"Logical_Switch": {{"{sw}": {{"initial": {{"name": "sw", "other_config": {other_config},
                "ports": ["set", [{refs}]]}}}}}}, "Logical_Switch_Port": {{{rows}}}}}"#,
            sw = u(1),
            refs = refs.join(", "),
            rows = rows.join(", ")
        );
        let nb = replica("ovn-nb.ovsschema", &nb);
        let sb = replica("ovn-sb.ovsschema", "{}");
        let mut diags = Vec::new();
        let options = BTreeMap::from([("mac_prefix".to_string(), "0a:00:00".to_string())]);
        let memo = crate::model::memo::PortMemo::of(&nb, &sb);
        let m = Model::build(&nb, &sb, &memo, options, &mut diags);
        let out = m
            .ports
            .iter()
            .map(|p| {
                let addrs = p
                    .addrs()
                    .iter()
                    .map(|a| format!("{} {:?}", a.mac, a.ipv4.iter().map(|n| n.addr.to_string()).collect::<Vec<_>>()))
                    .collect();
                (p.name().to_string(), p.dynamic_addresses().map(str::to_string), addrs)
            })
            .collect();
        (out, diags)
    }

    #[test]
    fn assignments_reach_the_model_and_nb_values_are_kept() {
        let (ports, diags) = model_ports(
            r#"["map", [["subnet", "10.0.0.0/24"], ["exclude_ips", "10.0.0.2"]]]"#,
            &[
                ("a", r#"["set", ["00:00:00:00:00:10 10.0.0.3", "dynamic"]]"#, ""),
                ("b", r#""dynamic""#, r#", "dynamic_addresses": "0a:00:00:00:00:99 10.0.0.99""#),
                ("c", r#""dynamic""#, r#", "dynamic_addresses": "0b:00:00:00:00:98 10.0.0.4""#),
                ("d", r#""00:00:00:00:00:11 10.0.0.11""#, r#", "dynamic_addresses": "0a:00:00:00:00:97 10.0.0.5""#),
            ],
        );
        assert!(diags.is_empty(), "{diags:?}");
        let want = [
            // .1 is never given out, .2 is excluded, .3 is a's static
            // address and .4 stays c's; c's MAC lacks the prefix, so it gets
            // a new one derived from .4. d is not dynamic: its stale .5 is
            // free again.
            (
                "a",
                Some("0a:00:00:00:00:06 10.0.0.5"),
                vec!["00:00:00:00:00:10 [\"10.0.0.3\"]", "0a:00:00:00:00:06 [\"10.0.0.5\"]"],
            ),
            ("b", Some("0a:00:00:00:00:99 10.0.0.99"), vec!["0a:00:00:00:00:99 [\"10.0.0.99\"]"]),
            ("c", Some("0a:00:00:00:00:05 10.0.0.4"), vec!["0a:00:00:00:00:05 [\"10.0.0.4\"]"]),
            ("d", None, vec!["00:00:00:00:00:11 [\"10.0.0.11\"]"]),
        ];
        for ((name, dynamic, addrs), (wn, wd, wa)) in ports.iter().zip(want) {
            assert_eq!(
                (name.as_str(), dynamic.as_deref(), addrs.iter().map(String::as_str).collect::<Vec<_>>()),
                (wn, wd, wa)
            );
        }
    }

    #[test]
    fn no_ipam_config_gives_no_dynamic_addresses() {
        let (ports, diags) =
            model_ports(r#"["map", []]"#, &[("a", r#""dynamic""#, r#", "dynamic_addresses": "0a:00:00:00:00:01""#)]);
        assert!(diags.is_empty());
        assert_eq!(ports[0].1, None);
        assert!(ports[0].2.is_empty());
    }

    #[test]
    fn malformed_dynamic_entry_is_reported() {
        let (ports, diags) =
            model_ports(r#"["map", [["subnet", "10.0.0.0/24"]]]"#, &[("a", r#""dynamic 10.0.0.300""#, "")]);
        assert_eq!(ports[0].1, None);
        assert!(diags.iter().any(|d| d.row == "a" && d.message.contains("10.0.0.300")), "{diags:?}");
    }
}
