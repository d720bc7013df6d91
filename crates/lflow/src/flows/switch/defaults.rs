//! The flows every logical switch gets in its pre-LB, pre-stateful, LB
//! and hairpin stages (ingress tables 5-6 and 11-16, egress tables 1-2)
//! whatever its load balancers. The flows that load balancers add are not
//! built here; this module only decides which fallback a switch with or
//! without them gets. The ACL stages are `acl`'s, the QoS stages `qos`'s.

use super::{json_key, Switch};
use crate::output::Flows;
use crate::stage::Stage;

/// Neighbour discovery and MLD, which never go through conntrack.
const ND_MLD: &str = "nd || nd_rs || nd_ra || mldv1 || mldv2";

pub(super) fn build(sw: &Switch<'_, '_>, flows: &mut Flows) {
    let dp = sw.dp.id;
    let next = "next;";

    // Pre-LB.
    flows.add(dp, Stage::LsInPreLb, 0, "1", next);
    flows.add(dp, Stage::LsOutPreLb, 0, "1", next);
    for stage in [Stage::LsInPreLb, Stage::LsOutPreLb] {
        flows.add(dp, stage, 110, "eth.mcast", next);
        flows.add(dp, stage, 110, ND_MLD, next);
        flows.add(dp, stage, 110, "reg0[16] == 1", next);
    }
    flows.add(dp, Stage::LsInPreLb, 110, "eth.dst == $svc_monitor_mac", next);
    flows.add(dp, Stage::LsOutPreLb, 110, "eth.src == $svc_monitor_mac", next);
    // Traffic between the switch and a router, or to and from a localnet
    // port, bypasses conntrack here; egress clears the conntrack state
    // unless stateful ACLs need it.
    let egress = if sw.has_stateful_acl { "next;" } else { "ct_clear; next;" };
    let skipped = sw.router_ports().map(|(p, _)| p).chain(sw.ports_of_type("localnet"));
    for p in skipped {
        let key = json_key(p.name);
        flows.add(dp, Stage::LsInPreLb, 110, format!("ip && inport == {key}"), next).hint(p.uuid).io_port(p.name);
        flows.add(dp, Stage::LsOutPreLb, 110, format!("ip && outport == {key}"), egress).hint(p.uuid).io_port(p.name);
    }

    // Pre-stateful.
    for stage in [Stage::LsInPreStateful, Stage::LsOutPreStateful] {
        flows.add(dp, stage, 0, "1", next);
        flows.add(dp, stage, 100, "reg0[0] == 1", "ct_next;");
        flows.add(dp, stage, 110, "reg0[2] == 1", format!("{};", sw.ct.lb));
    }

    // LB affinity, LB, hairpin.
    for stage in [
        Stage::LsInLbAffCheck,
        Stage::LsInLb,
        Stage::LsInLbAffLearn,
        Stage::LsInPreHairpin,
        Stage::LsInNatHairpin,
        Stage::LsInHairpin,
    ] {
        flows.add(dp, stage, 0, "1", next);
    }
}
