//! Native DHCPv4, DHCPv6 and DNS (`ovn-northd(8)`, ingress tables 20-23:
//! "DHCP option processing", "DHCP responses", "DNS Lookup", "DNS
//! Responses"), and the priority-34000 flows of the egress ACL stage that
//! let the replies through whatever the ACLs say. A port's
//! `dhcpv4_options` / `dhcpv6_options` (`DHCP_Options` rows) give its
//! `put_dhcp_opts` / `put_dhcpv6_opts` flows; an external port's are
//! matched on the switch's localnet ports where the port is resident. A
//! switch's `dns_records` with at least one record give its `dns_lookup`
//! flows.
//!
//! Option values are written as the NB holds them, as ovn-northd 23.03
//! does: a value ovn-controller cannot parse (an unknown option, a value
//! of the wrong type, an unquoted string) is not corrected or dropped here,
//! since that would change the flow the reference writes; it gets a
//! diagnostic naming the `DHCP_Options` row instead. What the reference
//! leaves out (a port whose row lacks a mandatory option or has an
//! unparsable `cidr`, an address outside the `cidr`) is left out with a
//! diagnostic. DNS records ovn-controller cannot answer with are reported
//! too. This module never builds the other ACL flows, nor anything of a
//! router.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ovsdb::Uuid;

use super::{json_key, Switch};
use crate::global::{DHCPV6_OPTIONS, DHCP_OPTIONS};
use crate::input::nb;
use crate::model::addr::Mac;
use crate::model::{Model, Port};
use crate::output::{Diagnostic, Flows};
use crate::stage::Stage;

/// Adds the DHCP and DNS flows of one switch and the fallbacks of their
/// four stages.
pub(super) fn build(sw: &Switch<'_, '_>, flows: &mut Flows) {
    let dp = sw.dp.id;
    // Replies pass the egress ACLs; with stateful ACLs or load balancers
    // they are committed to conntrack so that the connection is known.
    let acl_action = if sw.has_stateful_acl || sw.has_lb_vip { "ct_commit; next;" } else { "next;" };
    for p in &sw.ports {
        let Some(lsp) = p.lsp() else { continue };
        let external = p.lsp_type() == "external";
        if let Some(row) = lsp.dhcpv4_options() {
            let o = row.options();
            let required = (o.get("server_id"), o.get("server_mac"), o.get("lease_time"));
            if let (Some(server_id), Some(server_mac), Some(_)) = required {
                if !external {
                    let m = format!(
                        "outport == {} && eth.src == {server_mac} && ip4.src == {server_id} && udp && udp.src == 67 && udp.dst == 68",
                        json_key(p.name())
                    );
                    flows.add(dp, Stage::LsOutAcl, 34000, m, acl_action).hint(row.uuid()).io_port(p.name());
                }
                if let Some(cidr) = parse_ipv4_masked(row.cidr()) {
                    let v4 = V4 { row, cidr, server_id, server_mac, hostname: lsp.options().get("hostname") };
                    for (inport, resident) in entry_points(sw, p) {
                        v4.add_flows(sw, p, inport, resident.as_deref(), flows);
                    }
                }
            }
        }
        if let Some(row) = lsp.dhcpv6_options() {
            let server_id = row.options().get("server_id");
            if let Some((server_id, mac)) = server_id.and_then(|s| Some((s, scan_mac(s)?))) {
                if !external {
                    let m = format!(
                        "outport == {} && eth.src == {server_id} && ip6.src == {} && udp && udp.src == 547 && udp.dst == 546",
                        json_key(p.name()),
                        mac.ipv6_lla()
                    );
                    flows.add(dp, Stage::LsOutAcl, 34000, m, acl_action).hint(row.uuid()).io_port(p.name());
                }
                if let Some(cidr) = parse_ipv6_masked(row.cidr()) {
                    let v6 = V6 { row, cidr, server_id, lla: mac.ipv6_lla() };
                    for (inport, resident) in entry_points(sw, p) {
                        v6.add_flows(sw, p, inport, resident.as_deref(), flows);
                    }
                }
            }
        }
    }

    let nb = sw.dp.switch();
    if nb.is_some_and(|s| s.dns_records().any(|d| !d.records().is_empty())) {
        flows.add(dp, Stage::LsInDnsLookup, 100, "udp.dst == 53", "reg0[4] = dns_lookup(); next;");
        for ip in ["ip4", "ip6"] {
            let a = format!(
                "eth.dst <-> eth.src; {ip}.src <-> {ip}.dst; udp.dst = udp.src; udp.src = 53; outport = inport; flags.loopback = 1; output;"
            );
            flows.add(dp, Stage::LsInDnsResponse, 100, "udp.dst == 53 && reg0[4]", a);
        }
        flows.add(dp, Stage::LsOutAcl, 34000, "udp.src == 53", acl_action);
    }

    for stage in [Stage::LsInDhcpOptions, Stage::LsInDhcpResponse, Stage::LsInDnsLookup, Stage::LsInDnsResponse] {
        flows.add(dp, stage, 0, "1", "next;");
    }
}

/// Where a port's DHCP requests enter the switch: its own `inport`, or,
/// for an external port with an HA chassis group, each localnet port of
/// the switch, on the chassis where the external port is resident (the
/// condition to add). Disabled ports and router ports get none.
fn entry_points<'s>(sw: &'s Switch<'_, '_>, p: &'s Port<'_>) -> Vec<(&'s str, Option<String>)> {
    if !p.enabled() {
        return Vec::new();
    }
    match p.lsp_type() {
        "router" => Vec::new(),
        "external" => {
            if p.lsp().and_then(|l| l.ha_chassis_group()).is_none() {
                return Vec::new();
            }
            let resident = format!("is_chassis_resident({})", json_key(p.name()));
            sw.ports_of_type("localnet").map(|ln| (ln.name(), Some(resident.clone()))).collect()
        }
        _ => vec![(p.name(), None)],
    }
}

/// A port's usable DHCPv4 options.
struct V4<'a> {
    row: nb::DhcpOptions<'a>,
    /// `cidr` as (address, mask).
    cidr: (Ipv4Addr, Ipv4Addr),
    server_id: &'a str,
    server_mac: &'a str,
    /// The port's `options:hostname`, which replaces the row's.
    hostname: Option<&'a str>,
}

impl V4<'_> {
    /// `put_dhcp_opts`'s arguments after `offerip`: the row's options but
    /// `server_mac`, with the `cidr`'s netmask, sorted by name (the
    /// netmask first where the row has its own).
    fn options(&self) -> String {
        let mut opts: Vec<(&str, String)> = vec![("netmask", self.cidr.1.to_string())];
        for (k, v) in self.row.options().iter() {
            match k {
                "server_mac" => {}
                "hostname" if self.hostname.is_some() => {}
                _ => opts.push((k, v.to_string())),
            }
        }
        if let Some(h) = self.hostname {
            opts.push(("hostname", h.to_string()));
        }
        opts.sort_by(|a, b| a.0.cmp(b.0));
        opts.iter().map(|(k, v)| format!("{k} = {v}")).collect::<Vec<_>>().join(", ")
    }

    /// The request and reply flows of each address entry of `p` that has
    /// an IPv4 address in the `cidr` (its first such address is offered).
    fn add_flows(&self, sw: &Switch<'_, '_>, p: &Port<'_>, inport: &str, resident: Option<&str>, flows: &mut Flows) {
        let resident = resident.map(|r| format!(" && {r}")).unwrap_or_default();
        let uuid = self.row.uuid();
        for a in p.addrs().iter() {
            let Some(ip) = a.ipv4.iter().map(|n| n.addr).find(|ip| in_ipv4(self.cidr, *ip)) else {
                continue;
            };
            let from = format!("inport == {} && eth.src == {}", json_key(inport), a.mac);
            let action = format!("reg0[3] = put_dhcp_opts(offerip = {ip}, {}); next;", self.options());
            let requests = [
                format!("{from} && ip4.src == 0.0.0.0 && ip4.dst == 255.255.255.255 && udp.src == 68 && udp.dst == 67{resident}"),
                format!(
                    "{from} && ip4.src == {ip} && ip4.dst == {{{}, 255.255.255.255}} && udp.src == 68 && udp.dst == 67{resident}",
                    self.server_id
                ),
            ];
            for m in requests {
                add(flows, sw, Stage::LsInDhcpOptions, m, action.clone(), uuid, inport);
            }
            let m = format!("{from} && ip4 && udp.src == 68 && udp.dst == 67 && reg0[3]{resident}");
            let a = format!(
                "eth.dst = eth.src; eth.src = {}; ip4.src = {}; udp.src = 67; udp.dst = 68; outport = inport; flags.loopback = 1; output;",
                self.server_mac, self.server_id
            );
            add(flows, sw, Stage::LsInDhcpResponse, m, a, uuid, inport);
        }
    }
}

/// A port's usable DHCPv6 options.
struct V6<'a> {
    row: nb::DhcpOptions<'a>,
    /// `cidr` as (address, mask).
    cidr: (Ipv6Addr, Ipv6Addr),
    /// `options:server_id` as written (a MAC).
    server_id: &'a str,
    /// The link-local address derived from the server MAC.
    lla: Ipv6Addr,
}

impl V6<'_> {
    /// The request and reply flows of each address entry of `p` that has
    /// an IPv6 address in the `cidr`; in stateful mode its first such
    /// address is offered (`ia_addr`).
    fn add_flows(&self, sw: &Switch<'_, '_>, p: &Port<'_>, inport: &str, resident: Option<&str>, flows: &mut Flows) {
        let resident = resident.map(|r| format!(" && {r}")).unwrap_or_default();
        let stateless = self.row.options().get_bool("dhcpv6_stateless", false);
        let uuid = self.row.uuid();
        for a in p.addrs().iter() {
            let Some(ip) = a.ipv6.iter().map(|n| n.addr).find(|ip| in_ipv6(self.cidr, *ip)) else {
                continue;
            };
            let mut opts: Vec<String> = Vec::new();
            if !stateless {
                opts.push(format!("ia_addr = {ip}"));
            }
            let row_opts = self.row.options();
            opts.extend(row_opts.iter().filter(|(k, _)| *k != "dhcpv6_stateless").map(|(k, v)| format!("{k} = {v}")));
            let m = format!(
                "inport == {} && eth.src == {} && ip6.dst == ff02::1:2 && udp.src == 546 && udp.dst == 547{resident}",
                json_key(inport),
                a.mac
            );
            let action = format!("reg0[3] = put_dhcpv6_opts({}); next;", opts.join(", "));
            add(flows, sw, Stage::LsInDhcpOptions, m.clone(), action, uuid, inport);
            let reply = format!(
                "eth.dst = eth.src; eth.src = {}; ip6.dst = ip6.src; ip6.src = {}; udp.src = 547; udp.dst = 546; outport = inport; flags.loopback = 1; output;",
                self.server_id, self.lla
            );
            add(flows, sw, Stage::LsInDhcpResponse, format!("{m} && reg0[3]"), reply, uuid, inport);
        }
    }
}

/// `ip` is in the network (address, mask).
fn in_ipv4((net, mask): (Ipv4Addr, Ipv4Addr), ip: Ipv4Addr) -> bool {
    (u32::from(ip) ^ u32::from(net)) & u32::from(mask) == 0
}

/// `ip` is in the network (address, mask).
fn in_ipv6((net, mask): (Ipv6Addr, Ipv6Addr), ip: Ipv6Addr) -> bool {
    (u128::from(ip) ^ u128::from(net)) & u128::from(mask) == 0
}

/// Adds one flow of a port's DHCP options row.
fn add(flows: &mut Flows, sw: &Switch<'_, '_>, stage: Stage, m: String, a: String, row: Uuid, port: &str) {
    flows.add(sw.dp.id, stage, 100, m, a).hint(row).io_port(port);
}

/// Reports, once for each `DHCP_Options` row some switch port uses, what
/// keeps it from working: a `cidr` that does not parse (no replies), a
/// missing mandatory option (no replies, no ACL exception), and option
/// names or values that ovn-controller will refuse (the reference writes
/// them anyway, and so do we: the flows carrying them are rejected on the
/// chassis). A port `options:hostname` that is not a quoted string is
/// reported on the port.
pub(super) fn check_options(m: &Model<'_>, diags: &mut Vec<Diagnostic>) {
    let mut rows: BTreeMap<(Uuid, bool), (nb::DhcpOptions<'_>, Vec<&Port<'_>>)> = BTreeMap::new();
    for p in m.lists.dhcp.iter().map(|&i| &m.ports[i]) {
        let Some(lsp) = p.lsp() else { continue };
        for (v6, row) in [false, true].into_iter().zip(p.dhcp_options()) {
            if let Some(row) = row {
                rows.entry((row.uuid(), v6)).or_insert_with(|| (row, Vec::new())).1.push(p);
            }
            if let (false, Some(_), Some(h)) = (v6, row, lsp.options().get("hostname")) {
                if !is_str(h) {
                    diags.push(Diagnostic {
                        table: nb::LogicalSwitchPort::TABLE,
                        row: p.name().to_string(),
                        message: format!(
                            "options:hostname '{h}' is not a quoted string: ovn-controller rejects the port's DHCPv4 flows"
                        ),
                    });
                }
            }
        }
    }
    for ((uuid, v6), (row, users)) in rows {
        let ports = users.iter().map(|p| p.name()).collect::<Vec<_>>().join(", ");
        let mut problem = |message: String| {
            diags.push(Diagnostic {
                table: nb::DhcpOptions::TABLE,
                row: uuid.to_string(),
                message: format!("{message} (used by {ports})"),
            })
        };
        let o = row.options();
        let outside: Vec<&str> = users
            .iter()
            .filter(|p| p.lsp_type() != "router")
            .filter(|p| match (v6, parse_ipv4_masked(row.cidr()), parse_ipv6_masked(row.cidr())) {
                (false, Some(cidr), _) => !p.addrs().iter().flat_map(|a| &a.ipv4).any(|n| in_ipv4(cidr, n.addr)),
                (true, _, Some(cidr)) => !p.addrs().iter().flat_map(|a| &a.ipv6).any(|n| in_ipv6(cidr, n.addr)),
                _ => false,
            })
            .map(|p| p.name())
            .collect();
        if !outside.is_empty() {
            problem(format!("no address of {} is in cidr '{}': no replies to them", outside.join(", "), row.cidr()));
        }
        if !v6 {
            if parse_ipv4_masked(row.cidr()).is_none() {
                problem(format!("cidr '{}' is not an IPv4 network: no DHCPv4 replies", row.cidr()));
            }
            if ["server_id", "server_mac", "lease_time"].iter().any(|k| !o.contains(k)) {
                problem("server_id, server_mac and lease_time are all required: no DHCPv4 replies".into());
            } else if o.get("server_mac").and_then(Mac::parse).is_none() {
                problem("server_mac is not a MAC address: ovn-controller rejects the DHCPv4 replies".into());
            }
        } else {
            if parse_ipv6_masked(row.cidr()).is_none() {
                problem(format!("cidr '{}' is not an IPv6 network: no DHCPv6 replies", row.cidr()));
            }
            if o.get("server_id").and_then(scan_mac).is_none() {
                problem("server_id is missing or not a MAC address: no DHCPv6 replies".into());
            }
        }
        let table = if v6 { DHCPV6_OPTIONS } else { DHCP_OPTIONS };
        for (k, v) in o.iter() {
            if matches!((v6, k), (false, "server_mac") | (true, "dhcpv6_stateless") | (true, "server_id")) {
                continue;
            }
            match table.iter().find(|(name, _, _)| *name == k) {
                None => problem(format!("unknown option '{k}': ovn-controller rejects the flows that carry it")),
                Some(&(_, _, ty)) if !value_fits(ty, v) => problem(format!(
                    "option {k} = '{v}' is not a valid {ty}: ovn-controller rejects the flows or sends a wrong value"
                )),
                Some(_) => {}
            }
        }
    }
}

/// Reports, once for each `DNS` row some switch uses, the records
/// ovn-controller cannot answer with: an address record (a name not under
/// `.arpa`) whose value is not a list of IP addresses (the rest are still
/// answered), and a PTR record (`...in-addr.arpa`, `...ip6.arpa`) without
/// a name. The reference copies such records to the SB as they are, and
/// so do we.
pub(super) fn check_dns_records(m: &Model<'_>, diags: &mut Vec<Diagnostic>) {
    let rows: BTreeMap<Uuid, nb::Dns<'_>> =
        m.switches().filter_map(|dp| dp.switch()).flat_map(|s| s.dns_records()).map(|d| (d.uuid(), d)).collect();
    for (uuid, row) in rows {
        for (name, value) in row.records().iter() {
            let problem = if name.to_ascii_lowercase().ends_with(".arpa") {
                value.trim().is_empty().then(|| "has no name to answer with".to_string())
            } else {
                let tokens: Vec<&str> = value.split([' ', ',']).filter(|t| !t.is_empty()).collect();
                let bad: Vec<&str> = tokens.iter().copied().filter(|t| t.parse::<IpAddr>().is_err()).collect();
                match (tokens.is_empty(), bad.is_empty()) {
                    (true, _) => Some("has no address to answer with".to_string()),
                    (false, false) => Some(format!("'{}' is not an IP address: not answered", bad.join(" "))),
                    (false, true) => None,
                }
            };
            if let Some(problem) = problem {
                diags.push(Diagnostic {
                    table: nb::Dns::TABLE,
                    row: uuid.to_string(),
                    message: format!("record {name} {problem}"),
                });
            }
        }
    }
}

/// Whether `v` is a valid value of an option of type `ty`
/// (`DHCP_Options.type` / `DHCPv6_Options.type` in the SB). ovn-controller
/// rejects the flow of a value of the wrong kind (a bare word for a string,
/// `true` for a bool) and sends one out of range (an mtu of 70000, a bool
/// of 2) truncated.
fn value_fits(ty: &str, v: &str) -> bool {
    let v = v.trim();
    let int = |max: u64| {
        let n = match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
            Some(hex) => u64::from_str_radix(hex, 16).ok(),
            None => v.parse::<u64>().ok(),
        };
        n.is_some_and(|n| n <= max)
    };
    match ty {
        "ipv4" => set_members(v).is_some_and(|m| !m.is_empty() && m.iter().all(|x| x.parse::<Ipv4Addr>().is_ok())),
        "ipv6" => set_members(v).is_some_and(|m| !m.is_empty() && m.iter().all(|x| x.parse::<Ipv6Addr>().is_ok())),
        "static_routes" => {
            let ok = |x: &str| match x.split_once('/') {
                Some((ip, plen)) => ip.parse::<Ipv4Addr>().is_ok() && plen.parse::<u8>().is_ok_and(|p| p <= 32),
                None => x.parse::<Ipv4Addr>().is_ok(),
            };
            v.starts_with('{')
                && set_members(v).is_some_and(|m| !m.is_empty() && m.len() % 2 == 0 && m.iter().all(|x| ok(x)))
        }
        "str" | "domains" => is_str(v),
        "host_id" => is_str(v) || v.parse::<Ipv4Addr>().is_ok(),
        "bool" => v == "0" || v == "1",
        "uint8" => int(u8::MAX as u64),
        "uint16" => int(u16::MAX as u64),
        "uint32" => int(u32::MAX as u64),
        "mac" => Mac::parse(v).is_some(),
        _ => false,
    }
}

/// The members of a constant or `{a, b, ...}` set (commas or spaces
/// between members), or `None` for an unbalanced brace.
fn set_members(v: &str) -> Option<Vec<&str>> {
    let inner = match v.strip_prefix('{') {
        Some(rest) => rest.strip_suffix('}')?,
        None if v.contains('}') => return None,
        None => v,
    };
    Some(inner.split([',', ' ']).filter(|s| !s.is_empty()).collect())
}

/// A double-quoted string literal with nothing after it.
fn is_str(v: &str) -> bool {
    let Some(body) = v.trim().strip_prefix('"') else { return false };
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '"' => return chars.as_str().is_empty(),
            _ => {}
        }
    }
    false
}

/// An unsigned number as C's `strtoul` reads it for `scanf`: leading
/// whitespace, an optional sign, digits in `radix` (hexadecimal may start
/// with `0x`); the value wraps to its low bits. Returns it and the rest.
fn scan_num(s: &str, radix: u32) -> Option<(u64, &str)> {
    let s = s.trim_start();
    let (neg, s) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let s = match s.get(..2) {
        Some("0x" | "0X") if radix == 16 && s[2..].starts_with(|c: char| c.is_ascii_hexdigit()) => &s[2..],
        _ => s,
    };
    let end = s.find(|c: char| !c.is_digit(radix)).unwrap_or(s.len());
    if end == 0 {
        return None;
    }
    let v = s[..end]
        .chars()
        .fold(0u64, |a, c| a.wrapping_mul(radix as u64).wrapping_add(c.to_digit(radix).unwrap_or(0) as u64));
    Some((if neg { v.wrapping_neg() } else { v }, &s[end..]))
}

/// An IPv4 address as OVS scans it (`%hhu.%hhu.%hhu.%hhu`: each part
/// decimal, wrapped to a byte), and the rest of the string.
fn scan_ipv4(s: &str) -> Option<(Ipv4Addr, &str)> {
    let mut b = [0u8; 4];
    let mut rest = s;
    for (i, x) in b.iter_mut().enumerate() {
        if i > 0 {
            rest = rest.strip_prefix('.')?;
        }
        let (v, r) = scan_num(rest, 10)?;
        *x = v as u8;
        rest = r;
    }
    Some((Ipv4Addr::from(b), rest))
}

/// An IPv4 network as ovn-northd reads `DHCP_Options.cidr`: `IP`,
/// `IP/MASK` (any mask) or `IP/PLEN`, with nothing after it. Returns
/// (address, mask).
fn parse_ipv4_masked(s: &str) -> Option<(Ipv4Addr, Ipv4Addr)> {
    let (ip, rest) = scan_ipv4(s)?;
    let Some(rest) = rest.strip_prefix('/') else {
        return rest.is_empty().then_some((ip, Ipv4Addr::BROADCAST));
    };
    if let Some((mask, "")) = scan_ipv4(rest) {
        return Some((ip, mask));
    }
    let plen = scan_plen(rest).filter(|p| *p <= 32)?;
    Some((ip, Ipv4Addr::from(if plen == 0 { 0 } else { u32::MAX << (32 - plen) })))
}

/// A prefix length as `%d` reads it, with nothing after it.
fn scan_plen(s: &str) -> Option<u32> {
    let neg = s.trim_start().starts_with('-');
    match scan_num(s, 10)? {
        (v, "") if !neg => u32::try_from(v).ok(),
        _ => None,
    }
}

/// An IPv6 network as ovn-northd reads `DHCP_Options.cidr`: leading
/// blanks, then `IP`, `IP/PLEN` or `IP/MASK`, with nothing after it.
/// Returns (address, mask).
fn parse_ipv6_masked(s: &str) -> Option<(Ipv6Addr, Ipv6Addr)> {
    let s = s.trim_start();
    let (ip, rest) = match s.split_once('/') {
        Some((ip, rest)) => (ip, Some(rest)),
        None => (s, None),
    };
    let ip: Ipv6Addr = ip.parse().ok()?;
    let Some(rest) = rest else { return Some((ip, Ipv6Addr::from(u128::MAX))) };
    if let Some(plen) = scan_plen(rest) {
        return (plen <= 128).then(|| (ip, Ipv6Addr::from(if plen == 0 { 0 } else { u128::MAX << (128 - plen) })));
    }
    Some((ip, rest.parse().ok()?))
}

/// A MAC as OVS scans `options:server_id` of DHCPv6 (`%hhx:` six times,
/// each part hexadecimal and wrapped to a byte), with nothing after it.
fn scan_mac(s: &str) -> Option<Mac> {
    let mut m = [0u8; 6];
    let mut rest = s;
    for (i, x) in m.iter_mut().enumerate() {
        if i > 0 {
            rest = rest.strip_prefix(':')?;
        }
        let (v, r) = scan_num(rest, 16)?;
        *x = v as u8;
        rest = r;
    }
    rest.is_empty().then_some(Mac(m))
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::super::tests::switch_flows;
    use super::*;

    /// A switch with a stateful ACL (replies are committed), a VIF with
    /// both DHCP families (the row's hostname replaced by the port's), an
    /// external port answered on the localnet port, a router port (reply
    /// exception only) and DNS records; the second switch's only DNS row
    /// is empty (fallbacks only).
    const SERVICES: &str = r#"{
        "Logical_Switch": {
            "00000000-0000-0000-0000-000000000001": {"initial": {"name": "sw0",
                "ports": ["set", [["uuid", "00000000-0000-0000-0000-000000000011"],
                                  ["uuid", "00000000-0000-0000-0000-000000000012"],
                                  ["uuid", "00000000-0000-0000-0000-000000000013"],
                                  ["uuid", "00000000-0000-0000-0000-000000000014"]]],
                "acls": ["uuid", "00000000-0000-0000-0000-000000000041"],
                "dns_records": ["uuid", "00000000-0000-0000-0000-000000000051"]}},
            "00000000-0000-0000-0000-000000000002": {"initial": {"name": "sw1",
                "dns_records": ["uuid", "00000000-0000-0000-0000-000000000052"]}}},
        "Logical_Switch_Port": {
            "00000000-0000-0000-0000-000000000011": {"initial": {"name": "vm1",
                "addresses": "00:00:00:00:00:01 10.0.0.11 fd00::11",
                "options": ["map", [["hostname", "\"vm1\""]]],
                "dhcpv4_options": ["uuid", "00000000-0000-0000-0000-000000000031"],
                "dhcpv6_options": ["uuid", "00000000-0000-0000-0000-000000000032"]}},
            "00000000-0000-0000-0000-000000000012": {"initial": {"name": "ext", "type": "external",
                "addresses": "00:00:00:00:00:02 10.0.0.12",
                "ha_chassis_group": ["uuid", "00000000-0000-0000-0000-000000000061"],
                "dhcpv4_options": ["uuid", "00000000-0000-0000-0000-000000000031"]}},
            "00000000-0000-0000-0000-000000000013": {"initial": {"name": "ln", "type": "localnet",
                "addresses": "unknown", "options": ["map", [["network_name", "phys"]]]}},
            "00000000-0000-0000-0000-000000000014": {"initial": {"name": "rp", "type": "router",
                "dhcpv4_options": ["uuid", "00000000-0000-0000-0000-000000000031"]}}
        },
        "DHCP_Options": {
            "00000000-0000-0000-0000-000000000031": {"initial": {"cidr": "10.0.0.0/24",
                "options": ["map", [["server_id", "10.0.0.1"], ["server_mac", "c0:ff:ee:00:00:01"],
                                    ["lease_time", "3600"], ["hostname", "\"row\""], ["mtu", "1442"]]]}},
            "00000000-0000-0000-0000-000000000032": {"initial": {"cidr": "fd00::/64",
                "options": ["map", [["server_id", "00:00:00:10:00:01"], ["dns_server", "{fd00::53, fd00::54}"]]]}}
        },
        "HA_Chassis_Group": {"00000000-0000-0000-0000-000000000061": {"initial": {"name": "g"}}},
        "ACL": {"00000000-0000-0000-0000-000000000041": {"initial": {"action": "allow-related",
            "direction": "to-lport", "match": "ip4", "priority": 1000}}},
        "DNS": {
            "00000000-0000-0000-0000-000000000051": {"initial": {"records": ["map", [["vm1.ovn.example", "10.0.0.11"]]]}},
            "00000000-0000-0000-0000-000000000052": {"initial": {}}
        }
    }"#;

    #[test]
    fn dhcp_and_dns_flows() {
        let stages = [Stage::LsInDhcpOptions, Stage::LsInDhcpResponse, Stage::LsInDnsLookup, Stage::LsInDnsResponse];
        let (flows, diags) = switch_flows(SERVICES, &stages);
        expect![[r#"
            in 20 0 (1) => (next;)
            in 20 100 (inport == "ln" && eth.src == 00:00:00:00:00:02 && ip4.src == 0.0.0.0 && ip4.dst == 255.255.255.255 && udp.src == 68 && udp.dst == 67 && is_chassis_resident("ext")) => (reg0[3] = put_dhcp_opts(offerip = 10.0.0.12, hostname = "row", lease_time = 3600, mtu = 1442, netmask = 255.255.255.0, server_id = 10.0.0.1); next;)
            in 20 100 (inport == "ln" && eth.src == 00:00:00:00:00:02 && ip4.src == 10.0.0.12 && ip4.dst == {10.0.0.1, 255.255.255.255} && udp.src == 68 && udp.dst == 67 && is_chassis_resident("ext")) => (reg0[3] = put_dhcp_opts(offerip = 10.0.0.12, hostname = "row", lease_time = 3600, mtu = 1442, netmask = 255.255.255.0, server_id = 10.0.0.1); next;)
            in 20 100 (inport == "vm1" && eth.src == 00:00:00:00:00:01 && ip4.src == 0.0.0.0 && ip4.dst == 255.255.255.255 && udp.src == 68 && udp.dst == 67) => (reg0[3] = put_dhcp_opts(offerip = 10.0.0.11, hostname = "vm1", lease_time = 3600, mtu = 1442, netmask = 255.255.255.0, server_id = 10.0.0.1); next;)
            in 20 100 (inport == "vm1" && eth.src == 00:00:00:00:00:01 && ip4.src == 10.0.0.11 && ip4.dst == {10.0.0.1, 255.255.255.255} && udp.src == 68 && udp.dst == 67) => (reg0[3] = put_dhcp_opts(offerip = 10.0.0.11, hostname = "vm1", lease_time = 3600, mtu = 1442, netmask = 255.255.255.0, server_id = 10.0.0.1); next;)
            in 20 100 (inport == "vm1" && eth.src == 00:00:00:00:00:01 && ip6.dst == ff02::1:2 && udp.src == 546 && udp.dst == 547) => (reg0[3] = put_dhcpv6_opts(ia_addr = fd00::11, dns_server = {fd00::53, fd00::54}, server_id = 00:00:00:10:00:01); next;)
            in 21 0 (1) => (next;)
            in 21 100 (inport == "ln" && eth.src == 00:00:00:00:00:02 && ip4 && udp.src == 68 && udp.dst == 67 && reg0[3] && is_chassis_resident("ext")) => (eth.dst = eth.src; eth.src = c0:ff:ee:00:00:01; ip4.src = 10.0.0.1; udp.src = 67; udp.dst = 68; outport = inport; flags.loopback = 1; output;)
            in 21 100 (inport == "vm1" && eth.src == 00:00:00:00:00:01 && ip4 && udp.src == 68 && udp.dst == 67 && reg0[3]) => (eth.dst = eth.src; eth.src = c0:ff:ee:00:00:01; ip4.src = 10.0.0.1; udp.src = 67; udp.dst = 68; outport = inport; flags.loopback = 1; output;)
            in 21 100 (inport == "vm1" && eth.src == 00:00:00:00:00:01 && ip6.dst == ff02::1:2 && udp.src == 546 && udp.dst == 547 && reg0[3]) => (eth.dst = eth.src; eth.src = 00:00:00:10:00:01; ip6.dst = ip6.src; ip6.src = fe80::200:ff:fe10:1; udp.src = 547; udp.dst = 546; outport = inport; flags.loopback = 1; output;)
            in 22 0 (1) => (next;)
            in 22 100 (udp.dst == 53) => (reg0[4] = dns_lookup(); next;)
            in 23 0 (1) => (next;)
            in 23 100 (udp.dst == 53 && reg0[4]) => (eth.dst <-> eth.src; ip4.src <-> ip4.dst; udp.dst = udp.src; udp.src = 53; outport = inport; flags.loopback = 1; output;)
            in 23 100 (udp.dst == 53 && reg0[4]) => (eth.dst <-> eth.src; ip6.src <-> ip6.dst; udp.dst = udp.src; udp.src = 53; outport = inport; flags.loopback = 1; output;)
        "#]]
        .assert_eq(&flows);
        assert!(diags.is_empty(), "{diags:?}");
        let (acl, _) = switch_flows(SERVICES, &[Stage::LsOutAcl]);
        let replies: Vec<&str> = acl.lines().filter(|l| l.starts_with("out 04 34000")).collect();
        expect![[r#"
            [
                "out 04 34000 (eth.src == $svc_monitor_mac) => (next;)",
                "out 04 34000 (outport == \"rp\" && eth.src == c0:ff:ee:00:00:01 && ip4.src == 10.0.0.1 && udp && udp.src == 67 && udp.dst == 68) => (ct_commit; next;)",
                "out 04 34000 (outport == \"vm1\" && eth.src == 00:00:00:10:00:01 && ip6.src == fe80::200:ff:fe10:1 && udp && udp.src == 547 && udp.dst == 546) => (ct_commit; next;)",
                "out 04 34000 (outport == \"vm1\" && eth.src == c0:ff:ee:00:00:01 && ip4.src == 10.0.0.1 && udp && udp.src == 67 && udp.dst == 68) => (ct_commit; next;)",
                "out 04 34000 (udp.src == 53) => (ct_commit; next;)",
            ]
        "#]]
        .assert_debug_eq(&replies);
    }

    /// Rows the reference leaves out or writes as they are: each problem
    /// is reported once per row, naming it and the ports that use it,
    /// and the flows stay as the reference writes them.
    #[test]
    fn bad_dhcp_rows_are_reported_and_written_as_the_reference_does() {
        let nb = r#"{
            "Logical_Switch": {"00000000-0000-0000-0000-000000000001": {"initial": {"name": "sw0",
                "ports": ["set", [["uuid", "00000000-0000-0000-0000-000000000011"],
                                  ["uuid", "00000000-0000-0000-0000-000000000012"],
                                  ["uuid", "00000000-0000-0000-0000-000000000013"]]],
                "dns_records": ["uuid", "00000000-0000-0000-0000-000000000051"]}}},
            "DNS": {"00000000-0000-0000-0000-000000000051": {"initial": {"records": ["map", [
                ["vm.ovn.example", "10.0.0.8 garbage"], ["e.ovn.example", ""],
                ["8.0.0.10.in-addr.arpa", "vm.ovn.example"], ["9.0.0.10.in-addr.arpa", " "]]]}}},
            "Logical_Switch_Port": {
                "00000000-0000-0000-0000-000000000011": {"initial": {"name": "p1",
                    "addresses": "00:00:00:00:00:01 10.0.0.11 fd00::11",
                    "options": ["map", [["hostname", "bare"]]],
                    "dhcpv4_options": ["uuid", "00000000-0000-0000-0000-000000000031"],
                    "dhcpv6_options": ["uuid", "00000000-0000-0000-0000-000000000033"]}},
                "00000000-0000-0000-0000-000000000012": {"initial": {"name": "p2",
                    "addresses": "00:00:00:00:00:02 10.0.0.12",
                    "dhcpv4_options": ["uuid", "00000000-0000-0000-0000-000000000032"]}},
                "00000000-0000-0000-0000-000000000013": {"initial": {"name": "p3",
                    "addresses": "00:00:00:00:00:03 20.0.0.13",
                    "dhcpv4_options": ["uuid", "00000000-0000-0000-0000-000000000031"]}}
            },
            "DHCP_Options": {
                "00000000-0000-0000-0000-000000000031": {"initial": {"cidr": "10.0.0.0/24",
                    "options": ["map", [["server_id", "10.0.0.1"], ["server_mac", "zz:ff:ee:00:00:01"],
                                        ["lease_time", "soon"], ["colour", "blue"]]]}},
                "00000000-0000-0000-0000-000000000032": {"initial": {"cidr": "10.0.0.0/24",
                    "options": ["map", [["server_id", "10.0.0.1"], ["lease_time", "60"]]]}},
                "00000000-0000-0000-0000-000000000033": {"initial": {"cidr": "fd00::/129",
                    "options": ["map", [["server_id", "00:00:00:10:00:01"]]]}}
            }
        }"#;
        let (flows, diags) = switch_flows(nb, &[Stage::LsInDhcpOptions, Stage::LsInDhcpResponse, Stage::LsOutAcl]);
        // The bad values are written as they are; p2's row lacks server_mac
        // (no flows); p1's DHCPv6 cidr does not parse (only the exception);
        // p3 is outside the cidr (only the exception).
        assert!(flows.contains("put_dhcp_opts(offerip = 10.0.0.11, colour = blue, hostname = bare, lease_time = soon, netmask = 255.255.255.0, server_id = 10.0.0.1)"), "{flows}");
        assert!(flows.contains("eth.src = zz:ff:ee:00:00:01;"), "{flows}");
        assert!(!flows.contains("p2") && !flows.contains("put_dhcpv6_opts"), "{flows}");
        assert!(flows.contains(r#"outport == "p1" && eth.src == 00:00:00:10:00:01"#), "{flows}");
        assert!(flows.contains(r#"outport == "p3""#) && !flows.contains(r#"inport == "p3""#), "{flows}");
        let diags: Vec<String> = diags.iter().map(ToString::to_string).collect();
        let row = |n: u32| format!("DHCP_Options 00000000-0000-0000-0000-{n:012}: ");
        let dns = "DNS 00000000-0000-0000-0000-000000000051: ".to_string();
        for (prefix, what) in [
            (row(31), "server_mac is not a MAC address"),
            (row(31), "option lease_time = 'soon' is not a valid uint32"),
            (row(31), "unknown option 'colour'"),
            (row(31), "no address of p3 is in cidr"),
            (row(32), "server_id, server_mac and lease_time are all required"),
            (row(33), "cidr 'fd00::/129' is not an IPv6 network"),
            ("Logical_Switch_Port p1: ".to_string(), "options:hostname 'bare' is not a quoted string"),
            (dns.clone(), "record vm.ovn.example 'garbage' is not an IP address"),
            (dns.clone(), "record e.ovn.example has no address"),
            (dns.clone(), "record 9.0.0.10.in-addr.arpa has no name"),
        ] {
            assert!(diags.iter().any(|d| d.starts_with(&prefix) && d.contains(what)), "{prefix}{what}: {diags:#?}");
        }
        assert_eq!(diags.iter().filter(|d| d.contains("(used by p1, p3)")).count(), 4, "{diags:#?}");
        assert_eq!(diags.iter().filter(|d| d.starts_with(&dns)).count(), 3, "{diags:#?}");
    }

    /// The forms the reference accepts and refuses in `cidr` and DHCPv6
    /// `server_id` (observed with ovn-northd 23.03.1).
    #[test]
    fn cidr_and_server_id_parse_as_the_reference_does() {
        let v4 = |s: &str| parse_ipv4_masked(s).map(|(a, m)| format!("{a}/{m}"));
        assert_eq!(v4("10.0.0.0/24").as_deref(), Some("10.0.0.0/255.255.255.0"));
        assert_eq!(v4(" 10.0.0.0/24").as_deref(), Some("10.0.0.0/255.255.255.0"));
        assert_eq!(v4("10.0.0.0/255.0.255.0").as_deref(), Some("10.0.0.0/255.0.255.0"));
        assert_eq!(v4("10.0.0.3").as_deref(), Some("10.0.0.3/255.255.255.255"));
        assert_eq!(v4("0.0.0.0/0").as_deref(), Some("0.0.0.0/0.0.0.0"));
        assert_eq!(v4("010.0.0.256/+24").as_deref(), Some("10.0.0.0/255.255.255.0"));
        for bad in ["10.0.0.0/33", "10.0.0.0/24 ", "fd00::/64", "10.0.0/24", ""] {
            assert_eq!(v4(bad), None, "{bad}");
        }
        let v6 = |s: &str| parse_ipv6_masked(s).map(|(a, m)| format!("{a}/{m}"));
        assert_eq!(v6("fd00::/64").as_deref(), Some("fd00::/ffff:ffff:ffff:ffff::"));
        assert_eq!(v6(" FD00::1/064").as_deref(), Some("fd00::1/ffff:ffff:ffff:ffff::"));
        assert_eq!(v6("fd00::/ffff::").as_deref(), Some("fd00::/ffff::"));
        assert_eq!(v6("fd00::7").as_deref(), Some("fd00::7/ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
        for bad in ["fd00::/129", "fd00::/64 ", "10.0.0.0/24"] {
            assert_eq!(v6(bad), None, "{bad}");
        }
        let mac = |s: &str| scan_mac(s).map(|m| m.to_string());
        assert_eq!(mac("00:00:00:10:00:AB").as_deref(), Some("00:00:00:10:00:ab"));
        assert_eq!(mac("0:0:0:10:0:100").as_deref(), Some("00:00:00:10:00:00"));
        assert_eq!(mac(" 0x00:00:00:10:00:01").as_deref(), Some("00:00:00:10:00:01"));
        for bad in ["00:00:00:10:00:01xyz", "00:00:00:10:00:01:", "zz", ""] {
            assert_eq!(mac(bad), None, "{bad}");
        }
    }

    #[test]
    fn option_values_are_checked_by_type() {
        assert!(value_fits("ipv4", "10.0.0.1"));
        assert!(value_fits("ipv4", "{8.8.8.8, 8.8.4.4}"));
        assert!(!value_fits("ipv4", "bogus"));
        assert!(value_fits("static_routes", "{30.0.0.0/24,10.0.0.10, 0.0.0.0/0,10.0.0.1}"));
        assert!(!value_fits("static_routes", "{30.0.0.0/24}"));
        assert!(value_fits("str", r#""ovn.example""#));
        assert!(!value_fits("str", "ovn.example"));
        assert!(value_fits("host_id", "10.0.0.5") && value_fits("host_id", r#""tftp""#));
        assert!(value_fits("bool", "1") && !value_fits("bool", "true") && !value_fits("bool", "2"));
        assert!(value_fits("uint16", "1442") && !value_fits("uint16", "70000") && !value_fits("uint32", "abc"));
        assert!(value_fits("ipv6", "{fd00::53, fd00::54}"));
    }
}
