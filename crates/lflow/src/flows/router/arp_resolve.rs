//! Ingress table 17, ARP/ND resolution: the static MAC bindings the NB
//! already knows (addresses of switch ports behind a router port, peer
//! router ports, virtual ports, NAT external IPs on distributed gateway
//! ports), the drops of router addresses IP input leaves to this stage,
//! then the dynamic lookups.

use std::net::IpAddr;

use foldhash::HashMap;

use ovsdb::Uuid;

use super::{addr_set, json_key, RPort, Router};
use crate::input::sb;
use crate::model::addr::Mac;
use crate::model::nat::Nat;
use crate::model::Port;
use crate::output::Flows;
use crate::stage::Stage;

const ST: Stage = Stage::LrInArpResolve;

/// The SB `virtual_parent` of every virtual port that has one, by port
/// name (read once per compilation).
pub fn virtual_parents<'a>(m: &crate::model::Model<'a>) -> HashMap<&'a str, &'a str> {
    sb::PortBinding::all(m.sb)
        .filter(|pb| pb.type_() == "virtual")
        .filter_map(|pb| pb.virtual_parent().filter(|v| !v.is_empty()).map(|v| (pb.logical_port(), v)))
        .collect()
}

pub fn build(r: &Router<'_, '_>, parents: &HashMap<&str, &str>, flows: &mut Flows) {
    flows.add(r.dp, ST, 500, "ip4.mcast || ip6.mcast", "next;");
    flows.add(r.dp, ST, 1, "ip4", "get_arp(outport, reg0); next;");
    flows.add(r.dp, ST, 1, "ip6", "get_nd(outport, xxreg0); next;");
    flows.add(r.dp, ST, 0, "1", r.drop);
    // A bridged distributed gateway port sends traffic out through the
    // localnet port on every chassis but its gateway one, with its own MAC
    // as destination.
    for p in r.ports.iter().filter(|p| p.is_dgp && p.lrp.options().get("redirect-type") == Some("bridged")) {
        let cr = super::json_key(&format!("cr-{}", p.name()));
        flows
            .add(
                r.dp,
                ST,
                50,
                format!("outport == {} && !is_chassis_resident({cr})", p.key()),
                format!("eth.dst = {}; next;", p.mac),
            )
            .hint(p.port.uuid());
    }
    // Router addresses that load balancing or SNAT uses, not dropped in
    // IP input: dropped here when no stage took the packet.
    for p in &r.ports {
        let v4: Vec<_> = p.ipv4.iter().map(|n| IpAddr::V4(n.addr)).filter(|a| r.shared_ip(*a)).collect();
        let v6: Vec<_> = p.ipv6.iter().map(|n| IpAddr::V6(n.addr)).filter(|a| r.shared_ip(*a)).collect();
        for (fam, ips) in [("ip4", v4), ("ip6", v6)] {
            if !ips.is_empty() {
                flows.add(r.dp, ST, 2, format!("{fam}.dst == {{{}}}", super::join(&ips)), r.drop).hint(p.port.uuid());
            }
        }
    }
    let bridged = r.ports.iter().any(|p| p.is_dgp && p.lrp.options().get("redirect-type") == Some("bridged"));
    // Rejected rules get no binding: the reference only answers ARP for
    // them.
    for n in r.nats.iter().filter(|n| !n.rejected) {
        nat(r, n, bridged, flows);
    }
    for p in &r.ports {
        // `dynamic_neigh_routers` is about routers behind a switch: a
        // directly linked peer is bound anyway (scenario 58).
        if let Some(peer) = r.peer(p.port).filter(|peer| peer.is_lrp()) {
            router_peer(r, p, peer, flows);
        }
    }
    behind_switches(r, parents, flows);
}

/// The bindings of every enabled port with known addresses on the
/// switches behind the router's ports, each switch's as its `behind`
/// flows, a part of the router's (`Flows::part`).
pub fn behind_switches(r: &Router<'_, '_>, parents: &HashMap<&str, &str>, flows: &mut Flows) {
    let learn_routers = r.nb.options().get_bool("dynamic_neigh_routers", false);
    for p in &r.ports {
        let Some(peer) = r.peer(p.port).filter(|peer| peer.is_lsp()) else { continue };
        flows.part(r.m.dp(peer.dp).uuid, |flows| {
            for lsp in r.m.ports_of(peer.dp) {
                if std::ptr::eq(lsp, peer) || !lsp.enabled() {
                    continue;
                }
                match lsp.lsp_type() {
                    "router" => {
                        if let (Some(q), false) = (r.peer(lsp), learn_routers) {
                            if !std::ptr::eq(q, p.port) {
                                router_behind_switch(r, p, peer, q, flows);
                                if r.is_gateway {
                                    nat_routes_behind_switch(r, p, peer, q, flows);
                                }
                            }
                        }
                    }
                    "virtual" => virtual_port(r, p, lsp, parents, flows),
                    _ => {
                        for a in lsp.addrs().iter() {
                            for ip in &a.ipv4 {
                                if p.network_of(IpAddr::V4(ip.addr)).is_some() {
                                    bind(r, p, format!("reg0 == {}", ip.addr), a.mac, lsp.uuid(), flows);
                                }
                            }
                            for ip in &a.ipv6 {
                                if p.network_of(IpAddr::V6(ip.addr)).is_some() {
                                    bind(r, p, format!("xxreg0 == {}", ip.addr), a.mac, lsp.uuid(), flows);
                                }
                            }
                        }
                    }
                }
            }
        });
    }
}

/// The static binding of a NAT rule's external IP on its distributed
/// gateway port (to the external MAC of a distributed floating IP, else
/// to the port's), the drop of what would go back out where it came in,
/// and on a router with a bridged gateway port, the ARP/ND lookup of a
/// distributed floating IP's traffic where its logical port resides.
fn nat(r: &Router<'_, '_>, n: &Nat<'_>, bridged: bool, flows: &mut Flows) {
    let Some(g) = r.dgp_of(n) else { return };
    let (key, ip, hint) = (g.key(), n.external_ip, n.nb.uuid());
    let (reg, fam, lookup) = if n.is_ipv4() {
        ("reg0", "ip4", "get_arp(outport, reg0)")
    } else {
        ("xxreg0", "ip6", "get_nd(outport, xxreg0)")
    };
    let distributed = n.is_distributed().then_some(n.external_mac).flatten();
    let mac = distributed.unwrap_or(g.mac);
    flows
        .add(r.dp, ST, 100, format!("outport == {key} && {reg} == {ip}"), format!("eth.dst = {mac}; next;"))
        .hint(hint);
    flows.add(r.dp, ST, 150, format!("inport == {key} && outport == {key} && {fam}.dst == {ip}"), r.drop).hint(hint);
    if let (true, Some(lport), Some(_)) = (bridged, n.logical_port, distributed) {
        flows
            .add(
                r.dp,
                ST,
                90,
                format!(
                    "outport == {key} && {fam}.src == {} && is_chassis_resident({})",
                    n.logical_ip_text,
                    json_key(lport)
                ),
                format!("{lookup}; next;"),
            )
            .hint(hint);
    }
}

/// A router port linked directly to another router's port: all of the
/// peer's addresses resolve to its MAC.
fn router_peer(r: &Router<'_, '_>, p: &RPort<'_, '_>, peer: &Port<'_>, flows: &mut Flows) {
    let Some(a) = peer.addrs().first() else { return };
    let v4: Vec<_> = a.ipv4.iter().map(|n| n.addr).collect();
    let v6: Vec<_> = a.ipv6.iter().map(|n| n.addr).collect();
    if !v4.is_empty() {
        // Sic: the reference writes no space before this `==`.
        bind(r, p, format!("reg0== {}", addr_set(&v4)), a.mac, peer.uuid(), flows);
    }
    if !v6.is_empty() {
        bind(r, p, format!("xxreg0 == {}", addr_set(&v6)), a.mac, peer.uuid(), flows);
    }
}

/// Another router's port `q` on the switch behind `p` (through the switch
/// port `peer`, which the flows name as hint): its IPv4 addresses
/// together, and its IPv6 addresses together, resolve to its MAC (no
/// subnet check: the other router may be reached through a route).
fn router_behind_switch(r: &Router<'_, '_>, p: &RPort<'_, '_>, peer: &Port<'_>, q: &Port<'_>, flows: &mut Flows) {
    let Some(a) = q.addrs().first() else { return };
    let v4: Vec<_> = a.ipv4.iter().map(|n| n.addr).collect();
    if !v4.is_empty() {
        bind(r, p, format!("reg0 == {}", addr_set(&v4)), a.mac, peer.uuid(), flows);
    }
    let v6: Vec<_> = a.ipv6.iter().map(|n| n.addr).collect();
    if !v6.is_empty() {
        bind(r, p, format!("xxreg0 == {}", addr_set(&v6)), a.mac, peer.uuid(), flows);
    }
}

/// On a gateway router, the external IPv4 addresses of the NAT rules with
/// `options:add_route=true` that another router applies at its gateway
/// port `q` on the switch behind `p` resolve, as a set, to `q`'s MAC
/// (`routing` routes them to `q`; other routers still resolve them with
/// ARP).
fn nat_routes_behind_switch(r: &Router<'_, '_>, p: &RPort<'_, '_>, peer: &Port<'_>, q: &Port<'_>, flows: &mut Flows) {
    let Some(a) = q.addrs().first() else { return };
    let ips: Vec<_> = super::routing::add_route_ips(r.m, q).collect();
    if !ips.is_empty() {
        bind(r, p, format!("reg0 == {{{}}}", super::join(&ips)), a.mac, peer.uuid(), flows);
    }
}

/// A virtual port's `virtual-ip` behind `p` resolves to the MAC of the
/// virtual parent that claimed it (SB `virtual_parent`), or to zeros while
/// none has, so that the router keeps asking with ARP.
fn virtual_port(
    r: &Router<'_, '_>,
    p: &RPort<'_, '_>,
    lsp: &Port<'_>,
    parents: &HashMap<&str, &str>,
    flows: &mut Flows,
) {
    let Some(lsp_nb) = lsp.lsp() else { return };
    let Some(vip) = lsp_nb.options().get("virtual-ip").and_then(super::parse_ip) else { return };
    if p.network_of(vip).is_none() {
        return;
    }
    let parent = parents
        .get(lsp.name())
        .and_then(|name| r.m.port(name))
        .and_then(|parent| parent.addrs().first())
        .map(|a| a.mac)
        .unwrap_or_default();
    let reg = if vip.is_ipv4() { "reg0" } else { "xxreg0" };
    bind(r, p, format!("{reg} == {vip}"), parent, lsp.uuid(), flows);
}

/// The static binding of the next hop `dst` (a register compared with an
/// address or a set) out of `p` to `mac`, named after the row `hint`.
fn bind(r: &Router<'_, '_>, p: &RPort<'_, '_>, dst: String, mac: Mac, hint: Uuid, flows: &mut Flows) {
    flows.add(r.dp, ST, 100, format!("outport == {} && {dst}", p.key()), format!("eth.dst = {mac}; next;")).hint(hint);
}
