//! The stateful stages' defaults, for a router without NAT or load
//! balancers: ingress UNSNAT, DEFRAG, LB affinity check, DNAT, LB affinity
//! learn and ECMP symmetric reply (tables 4 to 9), egress check DNAT
//! local, UNDNAT, post UNDNAT, SNAT, post SNAT and egress loopback (tables
//! 0 to 5), and the un-DNAT of every reply that a gateway router with NAT
//! rules or load balancers does in egress. Never adds a NAT or load
//! balancer rule's flows; ECMP symmetric reply flows come from `routing`.

use super::Router;
use crate::output::Flows;
use crate::stage::Stage;

pub fn build(r: &Router<'_, '_>, flows: &mut Flows) {
    for st in [
        Stage::LrInUnsnat,
        Stage::LrInDefrag,
        Stage::LrInLbAffCheck,
        Stage::LrInDnat,
        Stage::LrInLbAffLearn,
        Stage::LrInEcmpStateful,
        Stage::LrOutUndnat,
        Stage::LrOutPostUndnat,
        Stage::LrOutSnat,
        Stage::LrOutPostSnat,
        Stage::LrOutEgrLoop,
    ] {
        flows.add(r.dp, st, 0, "1", "next;");
    }
    flows.add(r.dp, Stage::LrOutChkDnatLocal, 0, "1", "reg9[4] = 0; next;");
    // Neighbour solicitations that ovn-controller injects (nd_ns action)
    // must not go through conntrack.
    flows.add(r.dp, Stage::LrOutSnat, 120, "nd_ns", "next;");
}

/// A gateway router's un-DNAT of every reply in egress and commit of new
/// connections after it, for its NAT rules and its load balancers alike
/// (`lb` and `nat` both call it; the flows are the same rows).
pub fn gateway_undnat(r: &Router<'_, '_>, flows: &mut Flows) {
    flows.add(r.dp, Stage::LrOutUndnat, 100, "nd || nd_rs || nd_ra", "next;");
    flows.add(r.dp, Stage::LrOutUndnat, 50, "ip", "flags.loopback = 1; ct_dnat;");
    flows.add(r.dp, Stage::LrOutPostUndnat, 50, "ip && ct.new", "ct_commit { } ; next; ");
}
