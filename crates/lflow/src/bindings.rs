//! The SB rows that describe the topology itself, and the NB status
//! columns that go with them: `Datapath_Binding` for every switch and
//! router, `Port_Binding` for every port (`ports`), the `Multicast_Group`s
//! of switches and routers, `IP_Multicast` for every switch, the
//! `Address_Set`s (NB ones, but those named as one northd makes, and the
//! per-port-group `_ip4`/`_ip6` ones),
//! the per-datapath `Port_Group`s, `Mirror`s, `Static_MAC_Binding`s and
//! `DNS` records, the `Meter`s (`meters`), load balancers with their
//! service monitors (`lb`), BFD sessions (`bfd`); `dynamic_addresses`,
//! `tag`, `up` and BFD `status` written back to NB.
//! Pure: it never writes a database itself.

mod bfd;
mod lb;
pub(crate) mod meters;
mod ports;
pub(crate) mod queues;

use std::cell::OnceCell;
use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;

use foldhash::fast::FixedState;
use ovsdb::{Atom, Datum};

use crate::input::nb;
use crate::model::{self, DpNb, Model};
use crate::output::{reference, str_map, str_set, DesiredRow, Diagnostic, DpId, NbWrite, Output};

/// Fixed multicast group keys (the range above port keys).
pub const MC_FLOOD: (&str, i64) = ("_MC_flood", 32768);
pub const MC_UNKNOWN: (&str, i64) = ("_MC_unknown", 32769);
pub const MC_MROUTER_FLOOD: (&str, i64) = ("_MC_mrouter_flood", 32770);
pub const MC_STATIC: (&str, i64) = ("_MC_static", 32771);
pub const MC_FLOOD_L2: (&str, i64) = ("_MC_flood_l2", 32772);

fn string(s: &str) -> Datum {
    Datum::from(Atom::string(s))
}

fn int(i: i64) -> Datum {
    Datum::from(Atom::Integer(i))
}

/// The desired row id of a port's binding.
pub fn pb_id(port_index: usize) -> String {
    format!("pb{port_index}")
}

/// Tables whose rows each belong to one datapath (their `datapath`
/// column): `build` may write those of some datapaths only.
pub const PER_DATAPATH: &[&str] = &["Port_Binding", "Multicast_Group", "IP_Multicast"];

/// Diagnostics by the datapath whose rows they are about (also in the
/// output's), for a caller that keeps those of the datapaths it did not
/// have built again.
pub type DpDiagnostics = BTreeMap<DpId, Vec<Diagnostic>>;

/// Adds diagnostics about a datapath's rows to the output and to `dp_diags`.
fn report(out: &mut Output, dp_diags: &mut DpDiagnostics, dp: DpId, diags: Vec<Diagnostic>) {
    if !diags.is_empty() {
        dp_diags.entry(dp).or_default().extend(diags.iter().cloned());
        out.diagnostics.extend(diags);
    }
}

/// Which of the rows `build` builds.
pub struct Only<'s> {
    /// The datapaths whose rows of the `PER_DATAPATH` tables, `_rtr_lb_`
    /// address sets and switch ports' NB status columns to build (all when
    /// `None`).
    pub rows: Option<&'s HashSet<DpId>>,
    /// The port groups whose `Port_Group` rows and `_ip4`/`_ip6` address
    /// sets to build (all when `None`).
    pub groups: Option<&'s HashSet<String>>,
    /// The NB address sets whose SB rows to build (all when `None`).
    pub address_sets: Option<&'s HashSet<String>>,
    /// The NB status columns of every switch port, whatever `rows` says.
    pub nb_status_all: bool,
    /// Tables of `MADE_OF_NO_PORT` whose rows not to build.
    pub unbuilt_tables: &'s [&'static str],
}

/// The tables whose rows no switch port, port group or switch's list of
/// ports is part of: a change of only those (`engine::deps::Pending::ports_only`)
/// leaves their rows as they were. Each with the tables its rows refer
/// to: a row of those changed or deleted that one of theirs names builds
/// them. (A load balancer's datapath group is built with or without its
/// row: flows may share the group.)
pub const MADE_OF_NO_PORT: &[(&str, &[&str])] = &[("Datapath_Binding", &[]), ("Load_Balancer", &["Logical_DP_Group"])];

/// Builds the desired rows, those of some datapaths and port groups only
/// (`Only`); the diagnostics about the per-datapath ones also in
/// `dp_diags`; the names of the address sets not built in `unbuilt_sets`.
pub fn build(
    m: &Model<'_>,
    only: Only<'_>,
    out: &mut Output,
    dp_diags: &mut DpDiagnostics,
    unbuilt_sets: &mut HashSet<String, FixedState>,
) {
    let wanted = |dp: DpId| only.rows.map_or(true, |o| o.contains(&dp));
    let built = |table: &str| !only.unbuilt_tables.contains(&table);
    for t in [
        "Datapath_Binding",
        "Port_Binding",
        "Multicast_Group",
        "IP_Multicast",
        "Address_Set",
        "Port_Group",
        "Mirror",
        "Static_MAC_Binding",
        "DNS",
    ] {
        out.sb.entry(t).or_default();
    }
    for dp in m.datapaths.iter().filter(|dp| dp.enabled()) {
        if built("Datapath_Binding") {
            let mut row = DesiredRow::new(Some(dp.id.row_id()));
            row.set("external_ids", str_map(datapath_ids(dp.nb, dp.uuid, dp.name)))
                .set("tunnel_key", int(dp.tunnel_key));
            out.push("Datapath_Binding", row);
        }
        if dp.is_switch() && wanted(dp.id) {
            let mut diags = Vec::new();
            ip_multicast(m, dp.id, out, &mut diags);
            report(out, dp_diags, dp.id, diags);
        }
    }
    mirrors(m, out);
    ports::build(m, &wanted, out, dp_diags);
    meters::build(m, out);
    lb::build(m, built("Load_Balancer"), out);
    multicast_groups(m, &wanted, out);
    address_sets(m, only.address_sets, out, unbuilt_sets);
    router_lb_address_sets(m, &wanted, out, unbuilt_sets);
    port_groups(m, only.groups, out, unbuilt_sets);
    static_mac_bindings(m, out);
    dns(m, out);
    bfd::build(m, out);
    nb_status(m, &|dp| only.nb_status_all || wanted(dp), out);
}

/// The port's datapath is written to SB: the reference leaves a disabled
/// router, its ports and everything that refers to them out, and treats a
/// port linked to such a port as having no peer.
pub(crate) fn live(m: &Model<'_>, p: &model::Port<'_>) -> bool {
    m.dp(p.dp).enabled()
}

/// The port `p` is linked to, unless that one is on a disabled router.
pub(crate) fn live_peer<'m, 'a>(m: &'m Model<'a>, p: &model::Port<'a>) -> Option<&'m model::Port<'a>> {
    m.peer(p).filter(|q| live(m, q))
}

/// A datapath's `external_ids`: its NB row and name, the neutron name as
/// `name2`, a switch's `interconn-ts`, a router's `snat-ct-zone`, and
/// `always_learn_from_arp_request` when a router turns it off.
fn datapath_ids(nb: DpNb<'_>, uuid: ovsdb::Uuid, name: &str) -> Vec<(String, String)> {
    let mut ids = Vec::new();
    match nb {
        DpNb::Switch(s) => {
            ids.push(("logical-switch".to_string(), uuid.to_string()));
            if let Some(n) = s.external_ids().get("neutron:network_name") {
                ids.push(("name2".into(), n.to_string()));
            }
            if let Some(v) = s.other_config().get("interconn-ts") {
                ids.push(("interconn-ts".into(), v.to_string()));
            }
        }
        DpNb::Router(r) => {
            ids.push(("logical-router".to_string(), uuid.to_string()));
            if let Some(n) = r.external_ids().get("neutron:router_name") {
                ids.push(("name2".into(), n.to_string()));
            }
            if let Some(z) = r.options().get("snat-ct-zone") {
                ids.push(("snat-ct-zone".into(), z.to_string()));
            }
            if !r.options().get_bool("always_learn_from_arp_request", true) {
                ids.push(("always_learn_from_arp_request".into(), "false".into()));
            }
        }
    }
    ids.push(("name".into(), name.to_string()));
    ids
}

/// NB mirrors, copied; their desired row ids by name.
fn mirror_ids<'a>(m: &Model<'a>) -> BTreeMap<&'a str, String> {
    let mut names: Vec<&str> = nb::Mirror::all(m.nb).map(|r| r.name()).collect();
    names.sort();
    names.dedup();
    names.into_iter().enumerate().map(|(i, n)| (n, format!("mirror{i}"))).collect()
}

fn mirrors(m: &Model<'_>, out: &mut Output) {
    let ids = mirror_ids(m);
    let mut rows: Vec<nb::Mirror<'_>> = nb::Mirror::all(m.nb).collect();
    rows.sort_by_key(|r| (r.name(), r.uuid()));
    rows.dedup_by_key(|r| r.name());
    for r in rows {
        let mut row = DesiredRow::new(ids.get(r.name()).cloned());
        row.set("name", string(r.name()))
            .set("filter", string(r.filter()))
            .set("sink", string(r.sink()))
            .set("type", string(r.type_()))
            .set("index", int(r.index()))
            .set_nonempty("external_ids", Datum::clone(r.external_ids().0));
        out.push("Mirror", row);
    }
}

/// NB DNS records used by some switch: the records, the switches'
/// datapaths, and the NB row as `external_ids:dns_id`.
fn dns(m: &Model<'_>, out: &mut Output) {
    let mut users: BTreeMap<ovsdb::Uuid, (nb::Dns<'_>, Vec<crate::output::DpId>)> = BTreeMap::new();
    for dp in m.switches() {
        for d in dp.switch().into_iter().flat_map(|s| s.dns_records()) {
            users.entry(d.uuid()).or_insert_with(|| (d, Vec::new())).1.push(dp.id);
        }
    }
    for (uuid, (d, dps)) in users {
        let mut row = DesiredRow::new(None);
        row.set("records", Datum::clone(d.records().0))
            .set("datapaths", Datum::set(dps.iter().map(|dp| Atom::named_uuid(dp.row_id()))))
            .set("external_ids", str_map([("dns_id", uuid.to_string())]));
        out.push("DNS", row);
    }
}

/// NB static MAC bindings of router ports, with the router's datapath.
fn static_mac_bindings(m: &Model<'_>, out: &mut Output) {
    let mut rows: Vec<nb::StaticMacBinding<'_>> = nb::StaticMacBinding::all(m.nb).collect();
    rows.sort_by_key(|r| (r.logical_port(), r.ip(), r.uuid()));
    rows.dedup_by_key(|r| (r.logical_port(), r.ip()));
    for r in rows {
        let Some(p) = m.port(r.logical_port()).filter(|p| p.is_lrp()) else {
            out.diagnostics.push(crate::output::Diagnostic {
                table: nb::StaticMacBinding::TABLE,
                row: format!("{} {}", r.logical_port(), r.ip()),
                message: "logical_port is not a logical router port, binding ignored".into(),
            });
            continue;
        };
        if !live(m, p) {
            continue;
        }
        let mut row = DesiredRow::new(None);
        row.set("logical_port", string(r.logical_port()))
            .set("ip", string(r.ip()))
            .set("mac", string(r.mac()))
            .set("override_dynamic_mac", Datum::from(Atom::Boolean(r.override_dynamic_mac())))
            .set("datapath", reference(&p.dp.row_id()));
        out.push("Static_MAC_Binding", row);
    }
}

/// The switch port columns northd maintains in NB: `dynamic_addresses`
/// (what IPAM assigned), `tag` (for ports with `tag_request`) and `up`
/// (`Port::up`, from the SB binding); of the ports of the datapaths
/// `wanted` picks.
fn nb_status(m: &Model<'_>, wanted: &dyn Fn(DpId) -> bool, out: &mut Output) {
    let ports = m.datapaths.iter().filter(|d| wanted(d.id)).flat_map(|d| d.ports.iter().map(|&i| &m.ports[i]));
    for p in ports {
        let Some(lsp) = p.lsp() else { continue };
        if p.dynamic_addresses().is_some() || lsp.dynamic_addresses().is_some() {
            out.nb.push(NbWrite {
                table: nb::LogicalSwitchPort::TABLE,
                row: p.uuid(),
                column: "dynamic_addresses",
                value: str_set(p.dynamic_addresses().iter()),
            });
        }
        if lsp.tag_request().is_some() || lsp.tag().is_some() {
            out.nb.push(NbWrite {
                table: nb::LogicalSwitchPort::TABLE,
                row: p.uuid(),
                column: "tag",
                value: Datum::set(p.tag().map(Atom::Integer)),
            });
        }
        out.nb.push(NbWrite {
            table: nb::LogicalSwitchPort::TABLE,
            row: p.uuid(),
            column: "up",
            value: Datum::from(Atom::Boolean(p.up())),
        });
    }
}

/// The fixed multicast groups. On a switch: `_MC_flood` (every enabled
/// port), `_MC_flood_l2` (the same but router ports), `_MC_unknown` (ports
/// with `unknown`), `_MC_mrouter_flood` (router ports whose router relays
/// multicast, and ports with `options:mcast_flood_reports`), `_MC_static`
/// (ports with `options:mcast_flood`). On a router: `_MC_static` (router
/// ports with `options:mcast_flood`). A group with no member is not
/// written. Then the learned groups (`model::igmp`).
fn multicast_groups(m: &Model<'_>, wanted: &dyn Fn(DpId) -> bool, out: &mut Output) {
    for dp in m.datapaths.iter().filter(|dp| dp.enabled() && wanted(dp.id)) {
        let mut groups: [(&str, i64, Vec<usize>); 5] = [
            (MC_FLOOD.0, MC_FLOOD.1, Vec::new()),
            (MC_FLOOD_L2.0, MC_FLOOD_L2.1, Vec::new()),
            (MC_UNKNOWN.0, MC_UNKNOWN.1, Vec::new()),
            (MC_MROUTER_FLOOD.0, MC_MROUTER_FLOOD.1, Vec::new()),
            (MC_STATIC.0, MC_STATIC.1, Vec::new()),
        ];
        for &i in &dp.ports {
            let p = &m.ports[i];
            if !p.enabled() {
                continue;
            }
            let options = match p.nb() {
                // (Reported by the port bindings' builder.)
                None => continue,
                Some(crate::model::PortNb::Switch(lsp)) => lsp.options(),
                Some(crate::model::PortNb::Router(lrp)) => {
                    if lrp.options().get_bool("mcast_flood", false) {
                        groups[4].2.push(i);
                    }
                    continue;
                }
            };
            groups[0].2.push(i);
            let relay = live_peer(m, p)
                .and_then(|rp| m.dp(rp.dp).router())
                .is_some_and(|r| r.options().get_bool("mcast_relay", false));
            if p.lsp_type() != "router" {
                groups[1].2.push(i);
            }
            if p.has_unknown() {
                groups[2].2.push(i);
            }
            if relay || options.get_bool("mcast_flood_reports", false) {
                groups[3].2.push(i);
            }
            if options.get_bool("mcast_flood", false) {
                groups[4].2.push(i);
            }
        }
        for (name, key, members) in groups {
            if !members.is_empty() {
                out.push("Multicast_Group", multicast_group(dp.id, name, key, &members));
            }
        }
    }
    for g in m.igmp_groups.iter().filter(|g| wanted(g.dp)) {
        out.push("Multicast_Group", multicast_group(g.dp, &g.address, g.tunnel_key, &g.ports));
    }
}

fn multicast_group(dp: crate::output::DpId, name: &str, key: i64, members: &[usize]) -> DesiredRow {
    let mut row = DesiredRow::new(None);
    row.set("datapath", reference(&dp.row_id()))
        .set("name", string(name))
        .set("tunnel_key", int(key))
        .set("ports", Datum::set(members.iter().map(|&i| Atom::named_uuid(pb_id(i)))));
    row
}

/// The IP multicast (IGMP/MLD snooping) settings of a switch.
fn ip_multicast(m: &Model<'_>, dp: crate::output::DpId, out: &mut Output, diags: &mut Vec<Diagnostic>) {
    let Some(s) = m.dp(dp).switch() else { return };
    let oc = s.other_config();
    let mut num = |key: &str| oc.get_int_reported(key, "other_config", (nb::LogicalSwitch::TABLE, s.name()), diags);
    let (table_size, idle, query, max_resp) = (
        num("mcast_table_size"),
        num("mcast_idle_timeout"),
        num("mcast_query_interval"),
        num("mcast_query_max_response"),
    );
    let enabled = oc.get_bool("mcast_snoop", false);
    let mut row = DesiredRow::new(None);
    row.set("datapath", reference(&dp.row_id()))
        .set("enabled", Datum::from(Atom::Boolean(enabled)))
        .set("querier", Datum::from(Atom::Boolean(oc.get_bool("mcast_querier", true))))
        .set("eth_src", string(oc.get("mcast_eth_src").unwrap_or("")))
        .set("ip4_src", string(oc.get("mcast_ip4_src").unwrap_or("")))
        .set("ip6_src", string(oc.get("mcast_ip6_src").unwrap_or("")))
        .set("table_size", int(table_size.unwrap_or(2048)))
        .set("idle_timeout", int(idle.unwrap_or(300)))
        // The query interval defaults to half the idle timeout.
        .set("query_interval", int(query.unwrap_or(idle.unwrap_or(300) / 2)))
        .set("query_max_resp", int(max_resp.unwrap_or(1)))
        .set("seq_no", int(0));
    out.push("IP_Multicast", row);
}

/// The `svc_monitor_mac` address set, and one per NB address set: those
/// `only` names (all when `None`); the names of the others in `unbuilt`.
fn address_sets(
    m: &Model<'_>,
    only: Option<&HashSet<String>>,
    out: &mut Output,
    unbuilt: &mut HashSet<String, FixedState>,
) {
    let mut row = DesiredRow::new(None);
    row.set("name", string(SVC_MONITOR_MAC)).set("addresses", str_set(m.option("svc_monitor_mac")));
    out.push("Address_Set", row);
    let mut sets: Vec<nb::AddressSet<'_>> = nb::AddressSet::all(m.nb).collect();
    sets.sort_by_key(|s| (s.name(), s.uuid()));
    let groups = OnceCell::new();
    for s in sets {
        // (Checked for those not built too: the diagnostic stays while the
        // name is taken.)
        if let Some(maker) = set_name_maker(m, s.name(), &groups) {
            out.diagnostics.push(Diagnostic {
                table: nb::AddressSet::TABLE,
                row: s.name().to_string(),
                message: format!("name taken by the address set of {maker}, left out"),
            });
            continue;
        }
        if only.is_some_and(|only| !only.contains(s.name())) {
            unbuilt.insert(s.name().to_string());
            continue;
        }
        let mut row = DesiredRow::new(None);
        row.set("name", string(s.name())).set_nonempty("addresses", str_set(s.addresses()));
        out.push("Address_Set", row);
    }
}

/// The name of the address set of the service monitors' MAC.
const SVC_MONITOR_MAC: &str = "svc_monitor_mac";

/// What makes an SB address set of the name `name` itself, if anything:
/// northd (`svc_monitor_mac`), a port group (`<group>_ip4` and `_ip6`), a
/// router's load balancers (`_rtr_lb_<key>_ip4` and `_ip6`, by the form of
/// the name, whether or not that router has one now). An NB address set
/// of such a name would be a second row of that name, which the SB
/// refuses, failing the whole transaction (as every commit of the
/// reference then fails). `groups`: the NB port groups' names, read once.
fn set_name_maker<'n>(m: &Model<'n>, name: &str, groups: &OnceCell<HashSet<&'n str>>) -> Option<String> {
    if name == SVC_MONITOR_MAC {
        return Some("the service monitors' MAC".into());
    }
    let stem = name.strip_suffix("_ip4").or_else(|| name.strip_suffix("_ip6"))?;
    if stem.strip_prefix("_rtr_lb_").is_some_and(|key| !key.is_empty() && key.bytes().all(|b| b.is_ascii_digit())) {
        return Some("a router's load balancer VIPs".into());
    }
    let groups = groups.get_or_init(|| nb::PortGroup::all(m.nb).map(|g| g.name()).collect());
    groups.contains(stem).then(|| format!("port group {stem}"))
}

/// The name of the address set of a router's load balancer VIPs of one
/// family (`ip4` or `ip6`): `_rtr_lb_<router tunnel key>_<family>`.
pub(crate) fn router_lb_set(key: i64, family: &str) -> String {
    format!("_rtr_lb_{key}_{family}")
}

/// Per router with load balancers (its own and its groups'): the VIPs its
/// ports answer ARP and neighbor solicitations for (`model::lb::Responder`),
/// as `_rtr_lb_<router tunnel key>_ip4` and `_ip6` address sets, each only
/// when not empty. Those of the routers `wanted` picks (rows of the router,
/// like its port bindings); the names of the others' in `unbuilt`.
fn router_lb_address_sets(
    m: &Model<'_>,
    wanted: &dyn Fn(DpId) -> bool,
    out: &mut Output,
    unbuilt: &mut HashSet<String, FixedState>,
) {
    for dp in m.routers().filter(|dp| dp.enabled()) {
        let Some(r) = dp.router() else { continue };
        if !wanted(dp.id) {
            unbuilt.extend(["ip4", "ip6"].map(|family| router_lb_set(dp.tunnel_key, family)));
            continue;
        }
        let (v4, v6) = router_lb_vips(m, dp.id, r);
        for (family, ips) in [("ip4", v4), ("ip6", v6)] {
            if !ips.is_empty() {
                let mut row = DesiredRow::new(None);
                row.set("name", string(&router_lb_set(dp.tunnel_key, family))).set("addresses", str_set(ips));
                out.push("Address_Set", row);
            }
        }
    }
}

/// The IPv4 and IPv6 VIPs router `r` (datapath `dp`)'s ports answer ARP and neighbor
/// solicitations for (see `router_lb_address_sets`), in NB order.
pub(crate) fn router_lb_vips(
    m: &Model<'_>,
    dp: crate::output::DpId,
    r: nb::LogicalRouter<'_>,
) -> (Vec<String>, Vec<String>) {
    let nets: Vec<&model::addr::LportAddresses> = m.ports_of(dp).flat_map(|p| p.addrs().first()).collect();
    let reachable = |ip: IpAddr| match ip {
        IpAddr::V4(a) => nets.iter().any(|n| n.ipv4.iter().any(|net| net.contains(a))),
        IpAddr::V6(a) => nets.iter().any(|n| n.ipv6.iter().any(|net| !net.is_lla() && net.contains(a))),
    };
    let lbs = model::lb::of_router(r);
    let (mut v4, mut v6) = (Vec::new(), Vec::new());
    for vips in lbs.filter_map(|lb| m.vip_ips(&lb)) {
        let mode = vips.responder;
        for &ip in &vips.ips {
            if mode == model::lb::Responder::All || (mode == model::lb::Responder::Reachable && reachable(ip)) {
                match ip {
                    IpAddr::V4(_) => v4.push(ip.to_string()),
                    IpAddr::V6(_) => v6.push(ip.to_string()),
                }
            }
        }
    }
    (v4, v6)
}

/// The names of a port group's address sets: its IPv4 addresses', then
/// its IPv6 addresses'.
pub(crate) fn port_group_sets(group: &str) -> [String; 2] {
    [format!("{group}_ip4"), format!("{group}_ip6")]
}

/// Per NB port group: `<name>_ip4` and `<name>_ip6` address sets with its
/// ports' addresses, and one `Port_Group` per switch holding some of its
/// ports, named `<switch tunnel key>_<name>`, with those ports' names
/// (only for the groups named in `only`, when given; the names of the
/// address sets of the others go to `unbuilt`).
fn port_groups(
    m: &Model<'_>,
    only: Option<&HashSet<String>>,
    out: &mut Output,
    unbuilt: &mut HashSet<String, FixedState>,
) {
    let mut pgs: Vec<nb::PortGroup<'_>> = nb::PortGroup::all(m.nb).collect();
    pgs.sort_by_key(|g| (g.name(), g.uuid()));
    pgs.dedup_by_key(|g| g.name());
    for g in pgs {
        if only.is_some_and(|only| !only.contains(g.name())) {
            unbuilt.extend(port_group_sets(g.name()));
            continue;
        }
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        let mut per_dp: BTreeMap<crate::output::DpId, Vec<&str>> = BTreeMap::new();
        for lsp in g.ports() {
            let Some(p) = m.port(lsp.name()).filter(|p| p.uuid() == lsp.uuid()) else { continue };
            per_dp.entry(p.dp).or_default().push(p.name());
            for a in p.addrs().iter() {
                v4.extend(a.ipv4.iter().map(|n| n.addr.to_string()));
                v6.extend(a.ipv6.iter().map(|n| n.addr.to_string()));
            }
        }
        for (name, ips) in port_group_sets(g.name()).into_iter().zip([v4, v6]) {
            let mut row = DesiredRow::new(None);
            row.set("name", string(&name)).set_nonempty("addresses", str_set(ips));
            out.push("Address_Set", row);
        }
        for (dp, names) in per_dp {
            let mut row = DesiredRow::new(None);
            row.set("name", string(&format!("{}_{}", m.dp(dp).tunnel_key, g.name()))).set("ports", str_set(names));
            out.push("Port_Group", row);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::tests::replica;

    /// NB address sets named as the sets northd makes (a port group's,
    /// `svc_monitor_mac`, a router's load balancers') are left out and
    /// reported; the others are translated; every SB name is one row's.
    #[test]
    fn address_sets_named_as_northd_makes_are_left_out() {
        let nb = replica(
            "ovn-nb.ovsschema",
            r#"{"Logical_Switch": {"00000000-0000-0000-0000-000000000001": {"initial": {"name": "sw",
                    "ports": ["uuid", "00000000-0000-0000-0000-000000000002"]}}},
                "Logical_Switch_Port": {"00000000-0000-0000-0000-000000000002": {"initial": {"name": "p",
                    "addresses": "0a:00:00:00:00:01 10.0.0.1"}}},
                "Port_Group": {"00000000-0000-0000-0000-000000000003": {"initial": {"name": "pg",
                    "ports": ["uuid", "00000000-0000-0000-0000-000000000002"]}}},
                "Address_Set": {
                    "00000000-0000-0000-0000-000000000011": {"initial": {"name": "pg_ip4", "addresses": "1.1.1.1"}},
                    "00000000-0000-0000-0000-000000000012": {"initial": {"name": "pg_ip6", "addresses": "::1"}},
                    "00000000-0000-0000-0000-000000000013": {"initial": {"name": "svc_monitor_mac", "addresses": "x"}},
                    "00000000-0000-0000-0000-000000000014": {"initial": {"name": "_rtr_lb_7_ip4", "addresses": "2.2.2.2"}},
                    "00000000-0000-0000-0000-000000000015": {"initial": {"name": "_rtr_lb_x_ip4", "addresses": "3.3.3.3"}},
                    "00000000-0000-0000-0000-000000000016": {"initial": {"name": "pgx_ip4", "addresses": "4.4.4.4"}}}}"#,
        );
        let out = crate::compile(&nb, &replica("ovn-sb.ovsschema", "{}"));
        let mut sets: Vec<(String, String)> = out
            .rows("Address_Set")
            .iter()
            .map(|r| {
                let cell = |c: &str| r.get(c).map(|d| d.to_string()).unwrap_or_default();
                (cell("name"), cell("addresses"))
            })
            .collect();
        sets.sort();
        let names: Vec<&str> = sets.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["\"_rtr_lb_x_ip4\"", "\"pg_ip4\"", "\"pg_ip6\"", "\"pgx_ip4\"", "\"svc_monitor_mac\""]);
        assert_eq!(sets[1].1, "\"10.0.0.1\"", "the group's own set");
        let mut diags: Vec<String> = out.diagnostics.iter().map(ToString::to_string).collect();
        diags.sort();
        assert_eq!(
            diags,
            [
                "Address_Set _rtr_lb_7_ip4: name taken by the address set of a router's load balancer VIPs, left out",
                "Address_Set pg_ip4: name taken by the address set of port group pg, left out",
                "Address_Set pg_ip6: name taken by the address set of port group pg, left out",
                "Address_Set svc_monitor_mac: name taken by the address set of the service monitors' MAC, left out",
            ]
        );
    }

    /// A memo gathered from another NB than the model's (a caller's bug):
    /// a port whose row is not in the model's NB, and a switch the memo
    /// does not hold, are reported, not left out in silence.
    #[test]
    fn ports_the_memo_has_from_another_nb_are_reported() {
        let nb = |ports: &str, rows: &str| {
            replica(
                "ovn-nb.ovsschema",
                &format!(
                    r#"{{"Logical_Switch": {{
                        "00000000-0000-0000-0000-000000000001": {{"initial": {{"name": "sw", "ports": {ports}}}}}{rows}}}}}"#
                ),
            )
        };
        let p1 = r#""00000000-0000-0000-0000-000000000002": {"initial": {"name": "p1"}}"#;
        let p2 = r#""00000000-0000-0000-0000-000000000003": {"initial": {"name": "p2"}}"#;
        let sw2 = r#", "00000000-0000-0000-0000-000000000004": {"initial": {"name": "sw2"}}"#;
        let model_nb = nb(
            r#"["uuid", "00000000-0000-0000-0000-000000000002"]"#,
            &format!(r#"{sw2}}}, "Logical_Switch_Port": {{{p1}"#),
        );
        let memo_nb = nb(
            r#"["set", [["uuid", "00000000-0000-0000-0000-000000000002"], ["uuid", "00000000-0000-0000-0000-000000000003"]]]"#,
            &format!(r#"}}, "Logical_Switch_Port": {{{p1}, {p2}"#),
        );
        let sb = replica("ovn-sb.ovsschema", "{}");
        let memo = crate::model::memo::PortMemo::of(&memo_nb, &sb);
        let out = crate::compile_unfolded(&model_nb, &sb, &memo, |_| None, None).output;
        let bound: Vec<String> =
            out.rows("Port_Binding").iter().filter_map(|r| Some(r.get("logical_port")?.to_string())).collect();
        assert_eq!(bound, ["\"p1\""]);
        let diags: Vec<String> = out.diagnostics.iter().map(ToString::to_string).collect();
        assert!(
            diags.contains(&"Logical_Switch_Port p2: row not in the NB the model was built from, port left out".into()),
            "{diags:?}"
        );
        assert!(diags.contains(&"Logical_Switch sw2: ports not gathered, left out".into()), "{diags:?}");
    }

    /// A number option that is not a number reads as unset (the default
    /// is written, as the reference writes it) and is reported.
    #[test]
    fn non_numeric_options_are_reported_and_read_as_unset() {
        let nb = replica(
            "ovn-nb.ovsschema",
            r#"{"Logical_Switch": {"00000000-0000-0000-0000-000000000001": {"initial": {"name": "sw",
                "other_config": ["map", [["mcast_snoop", "true"], ["mcast_table_size", "big"],
                                         ["mcast_idle_timeout", "100"]]]}}}}"#,
        );
        let out = crate::compile(&nb, &replica("ovn-sb.ovsschema", "{}"));
        let diags: Vec<String> = out.diagnostics.iter().map(ToString::to_string).collect();
        assert_eq!(diags, ["Logical_Switch sw: other_config:mcast_table_size 'big': not a number, ignored"]);
        let row = &out.rows("IP_Multicast")[0];
        let int = |c: &str| row.get(c).and_then(|d| d.as_atom()?.as_integer());
        assert_eq!((int("table_size"), int("idle_timeout"), int("query_interval")), (Some(2048), Some(100), Some(50)));
    }
}
