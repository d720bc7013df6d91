//! Destination lookup of a logical switch (ingress tables 25-26): unicast
//! MACs of its ports (VIFs and the router ports it connects to, gateway
//! ports only on their chassis), flooding of broadcast and multicast, the
//! ARP/ND requests for a router's addresses sent only to that router (and
//! the non-router ports), the MAC learning fallback and what happens to
//! unknown destinations. It reads the connected routers' ports, NAT rules
//! and load balancers, never their flows.

use std::collections::BTreeSet;
use std::net::IpAddr;

use super::{is_gateway_router, is_l3dgw, json_key, Switch};
use crate::bindings::{MC_FLOOD, MC_FLOOD_L2, MC_UNKNOWN};
use crate::input::nb;
use crate::model::addr::Mac;
use crate::model::nat::{Nat, NatKind};
use crate::model::{Model, Port};
use crate::output::{sset_order, DpId, Flows};
use crate::stage::Stage;

pub(super) fn build(sw: &Switch<'_, '_>, flows: &mut Flows) {
    let dp = sw.dp.id;
    flows.add(
        dp,
        Stage::LsInL2Lkup,
        110,
        "eth.dst == $svc_monitor_mac && (tcp || icmp || icmp6)",
        "handle_svc_check(inport);",
    );

    let n_router_ports = sw.router_ports().count();
    for (p, rp) in sw.router_ports() {
        router_port_requests(sw, p, rp, n_router_ports != sw.ports.len(), flows);
    }

    flows.add(dp, Stage::LsInL2Lkup, 70, "eth.mcast", format!("outport = \"{}\"; output;", MC_FLOOD.0));
    for p in &sw.ports {
        unicast(sw, p, flows);
    }
    flows.add(dp, Stage::LsInL2Lkup, 0, "1", "outport = get_fdb(eth.dst); next;");

    // Ingress table 26.
    for p in sw.ports.iter().filter(|p| !p.enabled() && p.lsp_type() != "external") {
        flows
            .add(dp, Stage::LsInL2Unknown, 50, format!("outport == {}", json_key(p.name())), sw.drop)
            .hint(p.uuid())
            .io_port(p.name());
    }
    let unknown = if sw.ports.iter().any(|p| p.enabled() && p.has_unknown()) {
        format!("outport = \"{}\"; output;", MC_UNKNOWN.0)
    } else {
        sw.drop.to_string()
    };
    flows.add(dp, Stage::LsInL2Unknown, 50, "outport == \"none\"", unknown);
    flows.add(dp, Stage::LsInL2Unknown, 0, "1", "output;");
}

/// The NAT rules of a router whose external IPs its ports answer for
/// (everything but SNAT), in NB UUID order.
fn dnat_rules<'m, 'a>(m: &'m Model<'a>, router: DpId) -> impl Iterator<Item = &'m Nat<'a>> {
    m.all_nats_of(router).filter(|n| n.kind.dnats())
}

/// The VIP addresses of a router's load balancers (direct and through
/// groups).
fn router_lb_ips(m: &Model<'_>, router: nb::LogicalRouter<'_>) -> BTreeSet<IpAddr> {
    let lbs = crate::model::lb::of_router(router);
    lbs.filter_map(|lb| m.vip_ips(&lb)).flat_map(|v| v.endpoints.iter().copied()).collect()
}

/// ARP requests and neighbour solicitations for the addresses a router
/// port owns (its networks, its router's reachable load balancer VIPs and
/// NAT external IPs) go only to that port, plus the non-router ports when
/// there are any; requests the router itself sends are flooded to the
/// non-router ports.
fn router_port_requests(sw: &Switch<'_, '_>, p: &Port<'_>, rp: &Port<'_>, has_others: bool, flows: &mut Flows) {
    let Some(ips) = router_port_ips(sw.m, rp) else { return };
    let key = json_key(p.name());
    let actions = if has_others {
        format!("clone {{outport = {key}; output; }}; outport = \"{}\"; output;", MC_FLOOD_L2.0)
    } else {
        format!("outport = {key}; output;")
    };
    for ip in ips {
        let m = match ip {
            IpAddr::V4(v4) => format!("flags[1] == 0 && arp.op == 1 && arp.tpa == {v4}"),
            IpAddr::V6(v6) => format!("flags[1] == 0 && nd_ns && nd.target == {v6}"),
        };
        flows.add(sw.dp.id, Stage::LsInL2Lkup, 80, m, actions.clone()).hint(p.uuid());
    }

    if has_others {
        // The router port's MAC and its router's NAT external MACs, in the
        // reference's (hash) order.
        let macs = rp
            .addrs()
            .iter()
            .map(|a| a.mac.to_string())
            .chain(dnat_rules(sw.m, rp.dp).filter_map(|n| n.external_mac.map(|m| m.to_string())));
        let m = format!("eth.src == {{{}}} && (arp.op == 1 || rarp.op == 3 || nd_ns)", sset_order(macs).join(", "));
        flows.add(sw.dp.id, Stage::LsInL2Lkup, 75, m, format!("outport = \"{}\"; output;", MC_FLOOD_L2.0));
    }
}

/// The addresses router port `rp` owns, which its switch sends ARP
/// requests and neighbour solicitations for to it alone: its router's
/// load balancer VIPs reachable through it, its router's NAT external IPs,
/// its networks; `None` when its router or it is disabled.
pub(super) fn router_port_ips(m: &Model<'_>, rp: &Port<'_>) -> Option<Vec<IpAddr>> {
    let router = m.dp(rp.dp).router()?;
    if !rp.enabled() {
        return None;
    }
    let mut ips: Vec<IpAddr> = Vec::new();
    let vips = router_lb_ips(m, router);
    for &ip in &vips {
        let reachable = match ip {
            IpAddr::V4(v4) => rp.addrs().iter().flat_map(|a| &a.ipv4).any(|n| n.contains(v4)),
            IpAddr::V6(v6) => rp.addrs().iter().flat_map(|a| &a.ipv6).any(|n| n.contains(v6)),
        };
        if reachable {
            ips.push(ip);
        }
    }
    // A NAT IP that is also a VIP goes only where the VIP is reachable.
    ips.extend(dnat_rules(m, rp.dp).map(|n| n.external_ip).filter(|ip| !vips.contains(ip)));
    for a in rp.addrs().iter() {
        ips.extend(a.ipv4.iter().map(|n| IpAddr::V4(n.addr)));
        ips.extend(a.ipv6.iter().map(|n| IpAddr::V6(n.addr)));
    }
    Some(ips)
}

/// The priority-50 flows that send a port's own MACs to it (or drop them
/// when the port is disabled).
fn unicast(sw: &Switch<'_, '_>, p: &Port<'_>, flows: &mut Flows) {
    let Some(lsp) = p.lsp() else { return };
    if lsp.type_() == "external" {
        return;
    }
    let key = json_key(p.name());
    let action = if p.enabled() { format!("outport = {key}; output;") } else { sw.drop.to_string() };
    let dp = sw.dp.id;
    let first_mac = |s: &str| s.split_whitespace().next().and_then(Mac::parse);
    for entry in lsp.addresses() {
        if let Some(mac) = first_mac(entry) {
            flows.add(dp, Stage::LsInL2Lkup, 50, format!("eth.dst == {mac}"), action.clone()).hint(p.uuid());
        } else if entry == "router" {
            router_unicast(sw, p, &action, flows);
        } else if entry.starts_with("dynamic") || entry.split_whitespace().nth(1) == Some("dynamic") {
            // What IPAM assigns in this compilation, not the NB column
            // northd writes it to (which lags one cycle behind).
            if let Some(mac) = p.dynamic_addresses().and_then(first_mac) {
                flows.add(dp, Stage::LsInL2Lkup, 50, format!("eth.dst == {mac}"), action.clone()).hint(p.uuid());
            }
        }
    }
}

/// The MAC of the router port behind `router` addresses (on a switch with
/// a localnet port, a distributed gateway port's MAC only where the
/// gateway port resides) and, behind a distributed gateway port, the
/// external MACs of its router's NAT rules where their logical ports
/// reside.
fn router_unicast(sw: &Switch<'_, '_>, p: &Port<'_>, action: &str, flows: &mut Flows) {
    let Some(rp) = sw.router_peer(p) else { return };
    let (Some(lrp), Some(router)) = (rp.lrp(), sw.m.dp(rp.dp).router()) else { return };
    let Some(mac) = Mac::parse(lrp.mac()) else { return };
    let dp = sw.dp.id;
    // Restricting a MAC to its gateway chassis matters only where the
    // switch reaches a physical network through a localnet port.
    let has_localnet = sw.ports_of_type("localnet").next().is_some();
    let l3dgw = is_l3dgw(rp, router);
    let m = if has_localnet && l3dgw {
        format!("eth.dst == {mac} && is_chassis_resident({})", json_key(&format!("cr-{}", rp.name())))
    } else if has_localnet && lrp.options().get_bool("reside-on-redirect-chassis", false) && !is_gateway_router(router)
    {
        let gw: Vec<&Port<'_>> = sw.m.ports_of(rp.dp).filter(|q| is_l3dgw(q, router)).collect();
        match gw.as_slice() {
            [one] => format!("eth.dst == {mac} && is_chassis_resident({})", json_key(&format!("cr-{}", one.name()))),
            _ => format!("eth.dst == {mac}"),
        }
    } else {
        format!("eth.dst == {mac}")
    };
    flows.add(dp, Stage::LsInL2Lkup, 50, m, action.to_string()).hint(p.uuid());

    if l3dgw {
        for n in dnat_rules(sw.m, rp.dp).filter(|n| n.kind == NatKind::DnatAndSnat) {
            let (Some(ext_mac), Some(lport)) = (n.external_mac, n.logical_port) else { continue };
            let m = format!("eth.dst == {ext_mac} && is_chassis_resident({})", json_key(lport));
            flows.add(dp, Stage::LsInL2Lkup, 50, m, action.to_string()).hint(p.uuid());
        }
    }
}
