//! `Port_Binding` rows: one for every switch and router port, one for the
//! chassis-redirect port of every distributed gateway port, and the
//! `HA_Chassis_Group` / `HA_Chassis` rows their bindings refer to
//! (ovn-sb(5) "Port_Binding"; ovn-northd(8) "Logical Router Ports").
//! Pure: rows out; besides the model it reads only SB chassis and the
//! bindings SB holds (to keep the word order of equivalent
//! `nat_addresses`, and the QoS queue ids given out: `queues`), and never
//! writes.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use foldhash::{HashMap, HashMapExt};

use ovsdb::{Atom, Datum};

use super::{int, pb_id, string, DpDiagnostics};
use crate::input::{nb, sb};
use crate::model::addr::Ipv6Net;
use crate::model::lb::vip_ip;
use crate::model::nat::NatKind;
use crate::model::{Model, Port, PortNb};
use crate::output::{reference, sset_order, str_map, str_set, DesiredRow, Diagnostic, DpId, Output};

/// The desired row id of a chassis-redirect port's binding.
fn cr_id(index: usize) -> String {
    format!("cr{index}")
}

/// HA chassis groups, by SB name: (desired row id, members as (chassis
/// name, priority)).
#[derive(Default)]
struct HaGroups {
    groups: BTreeMap<String, (String, Vec<(String, i64)>)>,
}

impl HaGroups {
    /// The row id of the group `name`, registering it on first use.
    fn id(&mut self, name: &str, members: impl FnOnce() -> Vec<(String, i64)>) -> String {
        let next = self.groups.len();
        self.groups.entry(name.to_string()).or_insert_with(|| (format!("hag{next}"), members())).0.clone()
    }

    fn nb_group(&mut self, g: nb::HaChassisGroup<'_>) -> String {
        self.id(g.name(), || g.ha_chassis().map(|c| (c.chassis_name().to_string(), c.priority())).collect())
    }

    /// `HA_Chassis` rows (pointing at the SB chassis of that name when
    /// there is one) and the `HA_Chassis_Group` rows holding them.
    ///
    /// `sync` pairs rows with equal contents in the order they come: the
    /// same chassis at the same priority in two groups makes two equal
    /// `HA_Chassis` rows. They come in the UUID order of the rows SB's
    /// groups of the same name already hold, so that each group keeps its
    /// own and nothing is rewritten.
    fn write(self, m: &Model<'_>, out: &mut Output) {
        let chassis: BTreeMap<&str, ovsdb::Uuid> = sb::Chassis::all(m.sb).map(|c| (c.name(), c.uuid())).collect();
        let mut held: HashMap<(&str, &str, i64), ovsdb::Uuid> = HashMap::new();
        for g in sb::HaChassisGroup::all(m.sb) {
            for c in g.ha_chassis() {
                held.insert((g.name(), c.external_ids().get("chassis-name").unwrap_or(""), c.priority()), c.uuid());
            }
        }
        let mut ha_rows: Vec<(Option<ovsdb::Uuid>, DesiredRow)> = Vec::new();
        let mut group_rows = Vec::new();
        for (name, (id, mut members)) in self.groups {
            members.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            let mut refs = Vec::new();
            for (n, (ch, prio)) in members.iter().enumerate() {
                let hid = format!("{id}_{n}");
                let mut row = DesiredRow::new(Some(hid.clone()));
                row.set("priority", int(*prio)).set("external_ids", str_map([("chassis-name", ch.as_str())]));
                if let Some(u) = chassis.get(ch.as_str()) {
                    row.set("chassis", Datum::from(Atom::Uuid(*u)));
                }
                ha_rows.push((held.get(&(name.as_str(), ch.as_str(), *prio)).copied(), row));
                refs.push(Atom::named_uuid(hid));
            }
            let mut row = DesiredRow::new(Some(id));
            row.set("name", string(&name)).set("ha_chassis", Datum::set(refs));
            group_rows.push(row);
        }
        // Held rows first, by UUID; new ones after, in group order.
        ha_rows.sort_by_key(|(held, _)| (held.is_none(), *held));
        for (_, row) in ha_rows {
            out.push("HA_Chassis", row);
        }
        for row in group_rows {
            out.push("HA_Chassis_Group", row);
        }
    }
}

/// What the switch port bindings look up, gathered once.
struct Lookups<'m, 'a> {
    /// Mirror row ids by name.
    mirrors: BTreeMap<&'a str, String>,
    /// SB chassis by name, then by hostname (a name wins).
    chassis: HashMap<&'a str, ovsdb::Uuid>,
    /// The ports' QoS queue ids.
    queues: &'m super::queues::Queues<'a>,
}

impl<'m, 'a> Lookups<'m, 'a> {
    fn new(m: &'m Model<'a>) -> Lookups<'m, 'a> {
        let mut chassis = HashMap::new();
        let mut all: Vec<sb::Chassis<'a>> = sb::Chassis::all(m.sb).collect();
        all.sort_by_key(|c| c.uuid());
        for c in &all {
            chassis.entry(c.hostname()).or_insert(c.uuid());
        }
        for c in &all {
            chassis.insert(c.name(), c.uuid());
        }
        Lookups { mirrors: super::mirror_ids(m), chassis, queues: &m.queues }
    }
}

/// The bindings of the ports of the datapaths `wanted` picks, and the HA
/// chassis groups of every port.
pub(super) fn build(m: &Model<'_>, wanted: &dyn Fn(DpId) -> bool, out: &mut Output, dp_diags: &mut DpDiagnostics) {
    for t in ["HA_Chassis", "HA_Chassis_Group"] {
        out.sb.entry(t).or_default();
    }
    let look = Lookups::new(m);
    for name in &look.queues.exhausted {
        out.diagnostics.push(Diagnostic {
            table: nb::LogicalSwitchPort::TABLE,
            row: name.to_string(),
            message: "every QoS queue id of its chassis is taken, port has no queue".into(),
        });
    }
    let mut ha = HaGroups::default();
    // The ports of the datapaths wanted, and the external ports of the
    // others, in port order.
    let mut ports: Vec<usize> = m.lists.external.clone();
    ports.extend(m.datapaths.iter().filter(|d| wanted(d.id)).flat_map(|d| d.ports.iter().copied()));
    ports.sort_unstable();
    ports.dedup();
    for (i, p) in ports.into_iter().map(|i| (i, &m.ports[i])).filter(|(_, p)| super::live(m, p)) {
        if !wanted(p.dp) {
            // Its HA chassis group is still wanted.
            if let Some(g) = (p.lsp_type() == "external").then(|| p.lsp()).flatten().and_then(|l| l.ha_chassis_group())
            {
                ha.nb_group(g);
            }
            continue;
        }
        let mut diags = Vec::new();
        let row = match p.nb() {
            Some(PortNb::Switch(lsp)) => lsp_binding(m, i, lsp, &look, &mut ha, &mut diags),
            Some(PortNb::Router(lrp)) => lrp_binding(m, i, p, lrp, &mut diags),
            None => {
                // (A model built from a memo of another replica: a
                // caller's bug, never a port left out in silence.)
                diags.push(Diagnostic {
                    table: p.table(),
                    row: p.name().to_string(),
                    message: "row not in the NB the model was built from, port left out".into(),
                });
                super::report(out, dp_diags, p.dp, diags);
                continue;
            }
        };
        out.push("Port_Binding", row);
        super::report(out, dp_diags, p.dp, diags);
    }
    for (c, cr) in m.chassis_redirect.iter().enumerate() {
        let p = &m.ports[cr.port];
        let Some(lrp) = p.lrp().filter(|_| super::live(m, p)) else { continue };
        let mut options = vec![("distributed-port", p.name().to_string())];
        if let Some(t) = lrp.options().get("redirect-type") {
            options.push(("redirect-type", t.to_string()));
        }
        // Everything goes through the gateway chassis unless some traffic
        // is processed where it enters: a distributed NAT, a VTEP gateway
        // on the attached switch, or bridged redirection.
        let vtep_peer = m.peer(p).is_some_and(|sp| m.ports_of(sp.dp).any(|q| q.lsp_type() == "vtep"));
        let bridged = lrp.options().get("redirect-type") == Some("bridged");
        if !has_distributed_nat(m, p) && !vtep_peer && !bridged {
            options.push(("always-redirect", "true".into()));
        }
        let group = match lrp.ha_chassis_group() {
            Some(g) => ha.nb_group(g),
            None => ha
                .id(p.name(), || lrp.gateway_chassis().map(|g| (g.chassis_name().to_string(), g.priority())).collect()),
        };
        if !wanted(p.dp) {
            continue;
        }
        let mut row = DesiredRow::new(Some(cr_id(c)));
        row.set("logical_port", string(&cr.name))
            .set("datapath", reference(&m.dp(p.dp).id.row_id()))
            .set("tunnel_key", int(cr.tunnel_key))
            .set("type", string("chassisredirect"))
            .set("options", str_map(options))
            .set("mac", str_set([lrp_mac(lrp)]))
            .set("ha_chassis_group", reference(&group))
            .set_nonempty("external_ids", Datum::clone(lrp.external_ids().0));
        out.push("Port_Binding", row);
    }
    ha.write(m, out);
}

/// `MAC NETWORK...` of a router port, as its binding's `mac`.
fn lrp_mac(lrp: nb::LogicalRouterPort<'_>) -> String {
    std::iter::once(lrp.mac()).chain(lrp.networks()).collect::<Vec<_>>().join(" ")
}

/// The router of a router port has `options:chassis` (a gateway router).
fn gateway_chassis_of<'a>(m: &Model<'a>, p: &Port<'a>) -> Option<&'a str> {
    m.dp(p.dp).router().and_then(|r| r.options().get("chassis"))
}

/// The router of `p` has a NAT rule processed on the chassis of its
/// logical port (`dnat_and_snat` with `logical_port` and `external_mac`).
fn has_distributed_nat(m: &Model<'_>, p: &Port<'_>) -> bool {
    m.nats_of(p.dp).iter().any(|n| n.is_distributed())
}

fn lsp_binding<'a>(
    m: &Model<'a>,
    i: usize,
    lsp: nb::LogicalSwitchPort<'a>,
    look: &Lookups<'_, '_>,
    ha: &mut HaGroups,
    diags: &mut Vec<Diagnostic>,
) -> DesiredRow {
    let p = &m.ports[i];
    let mut row = DesiredRow::new(Some(pb_id(i)));
    row.set("logical_port", string(p.name()))
        .set("datapath", reference(&m.dp(p.dp).id.row_id()))
        .set("tunnel_key", int(p.tunnel_key))
        .set_nonempty("mac", str_set(lsp.addresses()))
        .set_nonempty("port_security", str_set(lsp.port_security()));
    let mut ids: Vec<(&str, &str)> = lsp.external_ids().iter().collect();
    if let Some(n) = lsp.external_ids().get("neutron:port_name") {
        ids.push(("name", n));
    }
    row.set_nonempty("external_ids", str_map(ids));
    if lsp.type_() == "router" {
        // The peer is named as NB names it, even on a disabled router or
        // when no router port of that name could be used (the port is
        // then a plain patch port with no NAT addresses).
        let live = super::live_peer(m, p);
        let gw = live.and_then(|rp| gateway_chassis_of(m, rp));
        let mut options = Vec::new();
        if let Some(rp) = lsp.options().get("router-port").filter(|rp| !rp.is_empty()) {
            options.push(("peer", rp.to_string()));
        }
        if let Some(ch) = gw {
            options.push(("l3gateway-chassis", ch.to_string()));
        }
        row.set("type", string(if gw.is_some() { "l3gateway" } else { "patch" }))
            .set_nonempty("options", str_map(options));
        if let Some(rp) = live {
            let mut nats = nat_addresses(m, p, lsp, rp, gw, diags);
            if let Some(pb) = m.binding(p) {
                keep_word_order(&mut nats, pb.nat_addresses());
            }
            row.set_nonempty("nat_addresses", str_set(nats));
        }
    } else {
        let mut extra = Vec::new();
        if m.dp(p.dp).switch().is_some_and(|s| s.other_config().get_bool("vlan-passthru", false)) {
            extra.push((Atom::string("vlan-passthru"), Atom::string("true")));
        }
        if let Some(q) = look.queues.ids.get(p.name()) {
            extra.push((Atom::string("qdisc_queue_id"), Atom::string(q.to_string())));
        }
        let mut options = Datum::clone(lsp.options().0);
        if !extra.is_empty() {
            let nb: Vec<(Atom, Atom)> =
                options.pairs().iter().filter(|(k, _)| !extra.iter().any(|(e, _)| e == k)).cloned().collect();
            options = Datum::map(nb.into_iter().chain(extra));
        }
        row.set("type", string(lsp.type_())).set_nonempty("options", options);
        if let Some(req) = lsp.options().get("requested-chassis").filter(|r| !r.is_empty()) {
            let mut names = req.split(',').map(str::trim).filter(|n| !n.is_empty());
            let find = |n: &str| look.chassis.get(n).map(|u| Atom::Uuid(*u));
            if let Some(first) = names.next().and_then(find) {
                row.set("requested_chassis", Datum::from(first));
            }
            row.set_nonempty("requested_additional_chassis", Datum::set(names.filter_map(find)));
        }
    }
    if let Some(parent) = lsp.parent_name() {
        row.set("parent_port", string(parent));
    }
    if let Some(tag) = p.tag() {
        row.set("tag", int(tag));
    }
    if lsp.type_() == "external" {
        if let Some(g) = lsp.ha_chassis_group() {
            row.set("ha_chassis_group", reference(&ha.nb_group(g)));
        }
    }
    row.set_nonempty(
        "mirror_rules",
        Datum::set(
            lsp.mirror_rules().filter_map(|r| look.mirrors.get(r.name())).map(|id| Atom::named_uuid(id.as_str())),
        ),
    );
    row
}

fn lrp_binding<'a>(
    m: &Model<'a>,
    i: usize,
    p: &Port<'a>,
    lrp: nb::LogicalRouterPort<'a>,
    diags: &mut Vec<Diagnostic>,
) -> DesiredRow {
    let mut row = DesiredRow::new(Some(pb_id(i)));
    let gw = gateway_chassis_of(m, p);
    let mut options: Vec<(&str, String)> = Vec::new();
    // A gateway router's port names its chassis even without a peer.
    if let Some(ch) = gw {
        options.push(("l3gateway-chassis", ch.to_string()));
    }
    if let Some(peer) = super::live_peer(m, p) {
        options.push(("peer", peer.name().to_string()));
        // Named even on a gateway router, where the port gets no
        // chassis-redirect port (the reference does the same).
        if lrp.gateway_chassis().next().is_some() || lrp.ha_chassis_group().is_some() {
            options.push(("chassis-redirect-port", format!("cr-{}", p.name())));
        }
        options.extend(ra_options(p, lrp, diags));
    }
    row.set("logical_port", string(p.name()))
        .set("datapath", reference(&m.dp(p.dp).id.row_id()))
        .set("tunnel_key", int(p.tunnel_key))
        .set("type", string(if gw.is_some() { "l3gateway" } else { "patch" }))
        .set_nonempty("options", str_map(options))
        .set("mac", str_set([lrp_mac(lrp)]))
        .set_nonempty("external_ids", Datum::clone(lrp.external_ids().0));
    row
}

/// The router advertisement settings ovn-controller needs to send
/// periodic RAs (ovn-nb(5) `ipv6_ra_configs`): only with `send_periodic`
/// and a known `address_mode`. Intervals are clamped as RFC 4861 asks
/// (max 4 to 1800 s, min 3 s to three quarters of max, one third of max
/// by default).
fn ra_options(
    p: &Port<'_>,
    lrp: nb::LogicalRouterPort<'_>,
    diags: &mut Vec<Diagnostic>,
) -> Vec<(&'static str, String)> {
    let ra = lrp.ipv6_ra_configs();
    if !ra.get_bool("send_periodic", false) {
        return Vec::new();
    }
    let Some(mode) = ra.get("address_mode") else { return Vec::new() };
    if !["slaac", "dhcpv6_stateful", "dhcpv6_stateless"].contains(&mode) {
        diags.push(Diagnostic::new(
            nb::LogicalRouterPort::TABLE,
            p.name(),
            "ipv6_ra_configs:address_mode",
            mode,
            "invalid mode, no periodic router advertisements",
        ));
        return Vec::new();
    }
    let Some(addrs) = p.addrs().first() else { return Vec::new() };
    let at = (nb::LogicalRouterPort::TABLE, p.name());
    let max = ra.get_int_reported("max_interval", "ipv6_ra_configs", at, diags).unwrap_or(600).clamp(4, 1800);
    let min =
        ra.get_int_reported("min_interval", "ipv6_ra_configs", at, diags).unwrap_or(max / 3).clamp(3, max * 3 / 4);
    let prefixes: Vec<String> = addrs.ipv6.iter().filter(|n| !n.is_lla()).map(Ipv6Net::subnet).collect();
    let prf = match ra.get("router_preference") {
        Some(p @ ("HIGH" | "LOW")) => p,
        None | Some("MEDIUM") => "MEDIUM",
        Some(other) => {
            let what = "not HIGH, MEDIUM or LOW, MEDIUM is used";
            diags.push(Diagnostic::new(at.0, at.1, "ipv6_ra_configs:router_preference", other, what));
            "MEDIUM"
        }
    };
    let mut o = vec![
        ("ipv6_ra_send_periodic", "true".to_string()),
        ("ipv6_ra_address_mode", mode.to_string()),
        ("ipv6_ra_max_interval", max.to_string()),
        ("ipv6_ra_min_interval", min.to_string()),
        ("ipv6_ra_prefixes", prefixes.join(" ")),
        ("ipv6_ra_prf", prf.to_string()),
        ("ipv6_ra_src_eth", addrs.mac.to_string()),
        ("ipv6_ra_src_addr", addrs.mac.ipv6_lla().to_string()),
    ];
    for (key, opt) in [
        ("mtu", "ipv6_ra_mtu"),
        ("rdnss", "ipv6_ra_rdnss"),
        ("dnssl", "ipv6_ra_dnssl"),
        ("route_info", "ipv6_ra_route_info"),
    ] {
        if let Some(v) = ra.get(key) {
            o.push((opt, v.to_string()));
        }
    }
    o
}

/// Replaces each entry that SB already holds with its words in another
/// order (the reference writes the IPs of an entry in hash order) by SB's
/// text, so that an equivalent value is not rewritten.
fn keep_word_order<'a>(entries: &mut [String], current: impl Iterator<Item = &'a str>) {
    let sorted = |s: &str| {
        let mut w: Vec<&str> = s.split_whitespace().collect();
        w.sort_unstable();
        w.join(" ")
    };
    let current: HashMap<String, &str> = current.map(|c| (sorted(c), c)).collect();
    for e in entries {
        if let Some(c) = current.get(&sorted(e)) {
            *e = c.to_string();
        }
    }
}

/// `nat_addresses` of a router-type switch port: the addresses for which
/// ovn-controller sends gratuitous ARPs on the attached network
/// (ovn-sb(5)). With `options:nat-addresses=router`, the router's NAT and
/// load balancer addresses (a distributed NAT on its own line, resident
/// with its logical port); with an explicit `MAC IP...`, that. Only for a
/// gateway router or a router with a distributed gateway port. Also the
/// router port's own IPv4 addresses when the peer is a distributed gateway
/// port (or `reside-on-redirect-chassis` with one such port), or the
/// router is a gateway router and the switch has a localnet port.
fn nat_addresses<'a>(
    m: &Model<'a>,
    op: &Port<'a>,
    lsp: nb::LogicalSwitchPort<'a>,
    rp: &Port<'a>,
    gw: Option<&str>,
    diags: &mut Vec<Diagnostic>,
) -> Vec<String> {
    let Some(router) = m.dp(rp.dp).router() else { return Vec::new() };
    let Some(rp_addrs) = rp.addrs().first() else { return Vec::new() };
    let rp_index = m.port_by_name.get(rp.name()).copied();
    let dgps: Vec<&crate::model::ChassisRedirect> =
        m.chassis_redirect.iter().filter(|c| m.ports[c.port].dp == rp.dp).collect();
    // The chassis-redirect port residence is tied to: the peer's own, else
    // the router's only one.
    let cr = rp_index.and_then(|i| m.cr_port(i)).or(if dgps.len() == 1 { dgps.first().copied() } else { None });
    let resident = |s: String| match cr {
        Some(cr) => format!("{s} is_chassis_resident(\"{}\")", cr.name),
        None => s,
    };
    let mut out = Vec::new();
    match lsp.options().get("nat-addresses") {
        Some("router") if gw.is_some() || cr.is_some() => {
            let own: BTreeSet<String> = rp_addrs
                .ipv4
                .iter()
                .map(|n| n.addr.to_string())
                .chain(rp_addrs.ipv6.iter().map(|n| n.addr.to_string()))
                .collect();
            // The words come in the reference's order: the NAT IPs in NB
            // (UUID) order, then the VIPs as its walks of its IPv4 and IPv6
            // VIP sets (OVS string sets). An IP two rules use, or a rule
            // and a VIP, is listed twice, as the reference lists it.
            // Gratuitous ARPs are IPv4: IPv6 NAT addresses are left out
            // (not IPv6 VIPs).
            let mut central: Vec<String> = Vec::new();
            // A router with distributed gateway ports: only the rules
            // applied at the one residence is tied to.
            let at_cr = |n: &&crate::model::nat::Nat<'_>| n.dgp.is_none() || n.dgp == cr.map(|c| c.port);
            for n in m.nats_of(rp.dp).iter().filter(at_cr) {
                let IpAddr::V4(ip) = n.external_ip else { continue };
                let ip = ip.to_string();
                match (n.kind, n.logical_port, n.external_mac) {
                    (NatKind::DnatAndSnat, Some(lport), Some(mac)) if cr.is_some() => {
                        out.push(format!("{mac} {ip} is_chassis_resident(\"{lport}\")"));
                    }
                    _ if own.contains(&ip) => {}
                    _ => central.push(ip),
                }
            }
            if !lsp.options().get_bool("exclude-lb-vips-from-garp", false) {
                let mut lbs: Vec<nb::LoadBalancer<'_>> = router.load_balancer().collect();
                lbs.sort_by_key(|lb| lb.uuid());
                let mut groups: Vec<nb::LoadBalancerGroup<'_>> = router.load_balancer_group().collect();
                groups.sort_by_key(|g| g.uuid());
                for g in groups {
                    let mut in_group: Vec<nb::LoadBalancer<'_>> = g.load_balancer().collect();
                    in_group.sort_by_key(|lb| lb.uuid());
                    lbs.extend(in_group);
                }
                let vips: Vec<String> = lbs
                    .iter()
                    .flat_map(|lb| lb.vips().iter().filter_map(|(vip, _)| vip_ip(vip)))
                    .map(|ip| ip.to_string())
                    .collect();
                let (v6, v4): (Vec<String>, Vec<String>) = vips.into_iter().partition(|ip| ip.contains(':'));
                central.extend(sset_order(v4).into_iter().chain(sset_order(v6)));
            }
            if !central.is_empty() {
                out.push(resident(format!("{} {}", rp_addrs.mac, central.join(" "))));
            }
        }
        Some("router") | None => {}
        Some(explicit) => {
            if gw.is_some() || cr.is_some() {
                let mut words = explicit.split_whitespace();
                let ok = words.next().and_then(crate::model::addr::Mac::parse).is_some()
                    && words.clone().next().is_some()
                    && words.all(|w| vip_ip(w).is_some());
                if ok {
                    out.push(resident(explicit.to_string()));
                } else {
                    diags.push(Diagnostic::new(
                        nb::LogicalSwitchPort::TABLE,
                        op.name(),
                        "options:nat-addresses",
                        explicit,
                        "invalid addresses, ignored",
                    ));
                }
            }
        }
    }
    let on_dgp = rp_index.and_then(|i| m.cr_port(i)).is_some();
    let resides =
        rp.lrp().is_some_and(|l| l.options().get_bool("reside-on-redirect-chassis", false)) && dgps.len() == 1;
    let has_localnet = m.ports_of(op.dp).any(|p| p.lsp_type() == "localnet");
    if on_dgp || resides || (dgps.is_empty() && gw.is_some() && has_localnet) {
        let mut garp = rp_addrs.mac.to_string();
        for n in &rp_addrs.ipv4 {
            garp.push(' ');
            garp.push_str(&n.addr.to_string());
        }
        out.push(if on_dgp || resides { resident(garp) } else { garp });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equivalent_nat_addresses_keep_sb_word_order() {
        let mut ours = vec!["m 1.1.1.2 1.1.1.50".to_string(), "m 1.1.1.9".to_string()];
        keep_word_order(&mut ours, ["m 1.1.1.50 1.1.1.2", "m 1.1.1.8"].into_iter());
        assert_eq!(ours, ["m 1.1.1.50 1.1.1.2", "m 1.1.1.9"]);
    }
}
