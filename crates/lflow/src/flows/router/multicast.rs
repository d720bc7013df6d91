//! IP multicast on routers: relay (`options:mcast_relay`) and static
//! flooding to ports with `options:mcast_flood` (IP input admission of
//! IGMP/MLD, the multicast part of IP routing, multicast delivery), and
//! routing to the groups learnt on the router's switches (priority 10500,
//! `model::igmp`). Never reads SB itself.

use super::Router;
use crate::bindings::MC_STATIC;
use crate::output::Flows;
use crate::stage::Stage;

/// The router relays IP multicast between its switches.
pub fn relay(r: &Router<'_, '_>) -> bool {
    r.nb.options().get_bool("mcast_relay", false)
}

/// Some router port floods multicast statically.
fn flood_static(r: &Router<'_, '_>) -> bool {
    r.ports.iter().any(|p| p.lrp.options().get_bool("mcast_flood", false))
}

pub fn build(r: &Router<'_, '_>, flows: &mut Flows) {
    let flood = flood_static(r);
    if flood {
        flows.add(r.dp, Stage::LrInIpInput, 120, "igmp && ip.ttl == 1", "next;");
        flows.add(r.dp, Stage::LrInIpInput, 120, "(mldv1 || mldv2) && ip.ttl == 1", "next;");
    }
    if !relay(r) {
        return;
    }
    let st = Stage::LrInIpRouting;
    let mc_static = super::json_key(MC_STATIC.0);
    // With ports that flood statically, IGMP and MLD reports go to them;
    // the router's own reports (TTL 1, never decremented) would loop back
    // and are dropped. Without such ports control packets get no flow here
    // and unregistered data is dropped.
    // Learned groups, also to the statically flooding ports (spacing and
    // the trailing space of the match are the reference's, scenario 59).
    for g in r.m.igmp_groups.iter().filter(|g| g.dp == r.dp) {
        let f = g.family();
        let mut actions = String::new();
        if flood {
            actions.push_str(&format!("clone {{ outport = {mc_static}; ip.ttl--; next; }};"));
        }
        actions.push_str(&format!("outport = {}; ip.ttl--; next;", super::json_key(&g.address)));
        flows.add(r.dp, st, 10500, format!("ip{f} && ip{f}.dst == {} ", g.address), actions);
    }
    if flood {
        for p in &r.ports {
            flows.add(r.dp, st, 10550, format!("eth.src == {} && igmp", p.mac), r.drop);
            flows.add(r.dp, st, 10550, format!("eth.src == {} && (mldv1 || mldv2)", p.mac), r.drop);
        }
        flows.add(r.dp, st, 10460, "igmp", format!("clone {{ outport = {mc_static}; next; }};"));
        flows.add(r.dp, st, 10460, "mldv1 || mldv2", format!("clone {{ outport = {mc_static}; next; }};"));
        flows.add(
            r.dp,
            st,
            10450,
            "ip4.mcast || ip6.mcast",
            format!("clone {{ outport = {mc_static}; ip.ttl--; next; }};"),
        );
    } else {
        flows.add(r.dp, st, 10450, "ip4.mcast || ip6.mcast", r.drop);
    }
    for p in r.ports.iter().filter(|p| p.port.enabled()) {
        flows.add(
            r.dp,
            Stage::LrOutDelivery,
            110,
            format!("(ip4.mcast || ip6.mcast) && outport == {}", p.key()),
            format!("eth.src = {}; output;", p.mac),
        );
    }
}
