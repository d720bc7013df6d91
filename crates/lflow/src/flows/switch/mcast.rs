//! IP multicast snooping in the destination lookup of a logical switch
//! (ingress table 25) when `other_config:mcast_snoop` is true: IGMP and
//! MLD go to ovn-controller, link-local groups are flooded, and
//! unregistered multicast goes to relaying routers and statically flooding
//! ports (or is dropped). Groups learnt at run time (SB `IGMP_Group`,
//! folded in `model::igmp`) go to their multicast group, and to relaying
//! routers and statically flooding ports too. Never reads SB itself.

use super::{json_key, Switch};
use crate::bindings::{MC_FLOOD, MC_FLOOD_L2, MC_MROUTER_FLOOD, MC_STATIC};
use crate::output::Flows;
use crate::stage::Stage;

pub(super) fn build(sw: &Switch<'_, '_>, flows: &mut Flows) {
    let Some(ls) = sw.dp.switch() else { return };
    learned(sw, flows);
    let oc = ls.other_config();
    if !oc.get_bool("mcast_snoop", false) {
        return;
    }
    let dp = sw.dp.id;
    flows.add(dp, Stage::LsInL2Lkup, 100, "igmp", "igmp;");
    flows.add(dp, Stage::LsInL2Lkup, 100, "mldv1 || mldv2", "igmp;");
    // Link-local IPv4 groups (RFC 4541 2.1.2) and reserved IPv6 groups
    // (RFC 4291 2.7.1) are always flooded.
    flows.add(
        dp,
        Stage::LsInL2Lkup,
        85,
        "ip4.mcast && ip4.dst == 224.0.0.0/24",
        format!("outport = \"{}\"; output;", MC_FLOOD_L2.0),
    );
    flows.add(dp, Stage::LsInL2Lkup, 85, "ip6.mcast_flood", format!("outport = \"{}\"; output;", MC_FLOOD.0));

    // Unregistered multicast: flooded by the eth.mcast flow when the
    // switch is configured so, otherwise relayed and statically flooded.
    if oc.get_bool("mcast_flood_unregistered", false) {
        return;
    }
    let (relay, flood_static) = (relay(sw), flood_static(sw));
    // The spacing is the reference's, byte for byte.
    let mut actions = String::new();
    if relay {
        actions.push_str(&format!("clone {{ outport = \"{}\"; output; }}; ", MC_MROUTER_FLOOD.0));
    }
    if flood_static {
        actions.push_str(&format!("outport =\"{}\"; output;", MC_STATIC.0));
    }
    if !relay && !flood_static {
        actions.push_str(sw.drop);
    }
    flows.add(dp, Stage::LsInL2Lkup, 80, "ip4.mcast || ip6.mcast", actions);
}

/// A router attached to the switch relays multicast (`mcast_relay`).
fn relay(sw: &Switch<'_, '_>) -> bool {
    sw.router_ports().any(|(_, rp)| sw.m.dp(rp.dp).router().is_some_and(|r| r.options().get_bool("mcast_relay", false)))
}

/// An enabled port of the switch floods multicast statically.
fn flood_static(sw: &Switch<'_, '_>) -> bool {
    sw.ports.iter().any(|p| p.enabled() && p.lsp().is_some_and(|l| l.options().get_bool("mcast_flood", false)))
}

/// Priority 90: traffic to a learned group goes to its members, and to
/// relaying routers and statically flooding ports (spacing and the trailing
/// space of the match are the reference's, scenario 59).
fn learned(sw: &Switch<'_, '_>, flows: &mut Flows) {
    let mut groups = sw.m.igmp_groups.iter().filter(|g| g.dp == sw.dp.id).peekable();
    if groups.peek().is_none() {
        return;
    }
    let mut prefix = String::new();
    if relay(sw) {
        prefix.push_str(&format!("clone {{ outport = \"{}\"; output; }};", MC_MROUTER_FLOOD.0));
    }
    if flood_static(sw) {
        prefix.push_str(&format!("clone {{ outport =\"{}\"; output; }};", MC_STATIC.0));
    }
    for g in groups {
        let f = g.family();
        flows.add(
            sw.dp.id,
            Stage::LsInL2Lkup,
            90,
            format!("eth.mcast && ip{f} && ip{f}.dst == {} ", g.address),
            format!("{prefix}outport = {}; output; ", json_key(&g.address)),
        );
    }
}
