//! The stateful stages' defaults, for a router without NAT or load
//! balancers: ingress UNSNAT, DEFRAG, LB affinity check, DNAT, LB affinity
//! learn and ECMP symmetric reply (tables 4 to 9), egress check DNAT
//! local, UNDNAT, post UNDNAT, SNAT, post SNAT and egress loopback (tables
//! 0 to 5). Never adds a NAT or load balancer rule's flows; ECMP symmetric
//! reply flows come from `routing`.

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
