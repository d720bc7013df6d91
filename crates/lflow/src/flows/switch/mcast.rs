//! IP multicast snooping in the destination lookup of a logical switch
//! (ingress table 25) when `other_config:mcast_snoop` is true: IGMP and
//! MLD go to ovn-controller, link-local groups are flooded, and
//! unregistered multicast goes to relaying routers and statically flooding
//! ports (or is dropped). Flows for groups learnt at run time (SB
//! `IGMP_Group`) are not built here.

use super::Switch;
use crate::bindings::{MC_FLOOD, MC_FLOOD_L2, MC_MROUTER_FLOOD, MC_STATIC};
use crate::output::Flows;
use crate::stage::Stage;

pub(super) fn build(sw: &Switch<'_, '_>, flows: &mut Flows) {
    let Some(ls) = sw.dp.switch() else { return };
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
    let relay = sw
        .router_ports()
        .any(|(_, rp)| sw.m.dp(rp.dp).router().is_some_and(|r| r.options().get_bool("mcast_relay", false)));
    let flood_static =
        sw.ports.iter().any(|p| p.enabled() && p.lsp().is_some_and(|l| l.options().get_bool("mcast_flood", false)));
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
