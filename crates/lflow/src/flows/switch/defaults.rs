//! The flows every logical switch gets in its stateful stages (pre-ACL,
//! pre-stateful, ACL hints, ACLs, QoS, stateful: ingress tables 4-10 and
//! 17-18, egress tables 0-7) whatever its ACLs and QoS rules, plus the
//! fallbacks of the DHCP and DNS stages (ingress tables 20-23). The flows
//! that ACLs and QoS rules add are not built here; this module only decides
//! which fallback a switch with or without them gets. The load balancing
//! stages are `lb`'s.

use super::Switch;
use crate::output::Flows;
use crate::stage::Stage;

/// The same set as the ACL stages spell it.
const ND_MLD_ACL: &str = "nd || nd_ra || nd_rs || mldv1 || mldv2";

pub(super) fn build(sw: &Switch<'_, '_>, flows: &mut Flows) {
    let dp = sw.dp.id;
    let next = "next;";

    // Pre-ACL.
    flows.add(dp, Stage::LsInPreAcl, 0, "1", next);
    flows.add(dp, Stage::LsOutPreAcl, 0, "1", next);
    flows.add(dp, Stage::LsInPreAcl, 110, "eth.dst == $svc_monitor_mac", next);
    flows.add(dp, Stage::LsOutPreAcl, 110, "eth.src == $svc_monitor_mac", next);

    // Pre-stateful.
    for stage in [Stage::LsInPreStateful, Stage::LsOutPreStateful] {
        flows.add(dp, stage, 0, "1", next);
        flows.add(dp, stage, 100, "reg0[0] == 1", "ct_next;");
        flows.add(dp, stage, 110, "reg0[2] == 1", format!("{};", sw.ct.lb));
    }

    // ACL hints and ACLs: without ACLs or load balancers everything passes
    // at the top priority; otherwise at priority 0, where a switch with
    // ACLs drops when NB_Global options:default_acl_drop is true.
    let default_acl_drop = sw.has_acls && sw.m.option("default_acl_drop") == Some("true");
    let default_acl = if default_acl_drop { sw.drop } else { "next;" };
    if !sw.has_acls && !sw.has_lb_vip {
        for stage in [Stage::LsInAclHint, Stage::LsOutAclHint, Stage::LsInAcl, Stage::LsOutAcl] {
            flows.add(dp, stage, u16::MAX, "1", next);
        }
    } else {
        flows.add(dp, Stage::LsInAclHint, 0, "1", next);
        flows.add(dp, Stage::LsOutAclHint, 0, "1", next);
        flows.add(dp, Stage::LsInAcl, 0, "1", default_acl);
        flows.add(dp, Stage::LsOutAcl, 0, "1", default_acl);
    }
    flows.add(dp, Stage::LsInAclAfterLb, 0, "1", default_acl);
    for stage in [Stage::LsInAcl, Stage::LsOutAcl, Stage::LsInAclAfterLb] {
        flows.add(dp, stage, 65532, ND_MLD_ACL, next);
    }

    // QoS.
    for stage in [Stage::LsInQosMark, Stage::LsInQosMeter, Stage::LsOutQosMark, Stage::LsOutQosMeter] {
        flows.add(dp, stage, 0, "1", next);
    }

    // Stateful: commit what the ACLs asked to commit, with the ACL label
    // when one was set.
    for stage in [Stage::LsInStateful, Stage::LsOutStateful] {
        flows.add(dp, stage, 0, "1", next);
        let blocked = sw.ct.blocked;
        flows.add(dp, stage, 100, "reg0[1] == 1 && reg0[13] == 0", format!("ct_commit {{ {blocked} = 0; }}; next;"));
        let label = format!("ct_commit {{ {blocked} = 0; ct_label.label = reg3; }}; next;");
        flows.add(dp, stage, 100, "reg0[1] == 1 && reg0[13] == 1", label);
    }

    // DHCP and DNS fallbacks.
    for stage in [Stage::LsInDhcpOptions, Stage::LsInDhcpResponse, Stage::LsInDnsLookup, Stage::LsInDnsResponse] {
        flows.add(dp, stage, 0, "1", next);
    }
}
