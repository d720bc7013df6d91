//! The flows every logical switch gets in its pre-stateful stages (ingress
//! table 6, egress table 2), whatever its ACLs and load balancers: send to
//! conntrack what pre-ACL or pre-LB asked for. The flows that ACLs, QoS
//! rules, load balancers, DHCP and DNS add live in `acl`, `qos`, `lb` and
//! `dhcp_dns`; this module builds nothing else.

use super::Switch;
use crate::output::Flows;
use crate::stage::Stage;

pub(super) fn build(sw: &Switch<'_, '_>, flows: &mut Flows) {
    let dp = sw.dp.id;
    for stage in [Stage::LsInPreStateful, Stage::LsOutPreStateful] {
        flows.add(dp, stage, 0, "1", "next;");
        flows.add(dp, stage, 100, "reg0[0] == 1", "ct_next;");
        flows.add(dp, stage, 110, "reg0[2] == 1", format!("{};", sw.ct.lb));
    }
}
