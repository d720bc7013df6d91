//! Forwarding groups of a logical switch: the group's VIP is answered
//! with its virtual MAC in the ARP responder (ingress table 19) and frames
//! to that MAC are spread over the child ports (ingress table 25). Like the
//! reference, only the switch's first group (lowest UUID) is built; the
//! others are reported.

use std::net::Ipv4Addr;

use super::{json_key, Switch};
use crate::input::nb;
use crate::model::addr::Mac;
use crate::output::{Diagnostic, Flows};
use crate::stage::Stage;

pub(super) fn build(sw: &Switch<'_, '_>, flows: &mut Flows, diags: &mut Vec<Diagnostic>) {
    let Some(ls) = sw.dp.switch() else { return };
    let mut groups: Vec<nb::ForwardingGroup<'_>> = ls.forwarding_groups().collect();
    groups.sort_by_key(|g| g.uuid());
    let mut report = |g: &nb::ForwardingGroup<'_>, message: String| {
        diags.push(Diagnostic { table: nb::ForwardingGroup::TABLE, row: g.name().to_string(), message })
    };
    for g in groups.iter().skip(1) {
        report(g, format!("only the first forwarding group of switch {} is used, group ignored", sw.dp.name));
    }
    let Some(g) = groups.first() else { return };
    let Some(vmac) = Mac::parse(g.vmac()) else {
        report(g, format!("invalid vmac '{}', group ignored", g.vmac()));
        return;
    };
    let children: Vec<String> = g.child_port().map(json_key).collect();
    if children.is_empty() {
        report(g, "no child ports, group ignored".into());
        return;
    }
    let dp = sw.dp.id;
    match g.vip().parse::<Ipv4Addr>() {
        Ok(vip) => {
            let actions = format!(
                "eth.dst = eth.src; eth.src = {vmac}; arp.op = 2; /* ARP reply */ arp.tha = arp.sha; \
                 arp.sha = {vmac}; arp.tpa = arp.spa; arp.spa = {vip}; outport = inport; flags.loopback = 1; output;"
            );
            flows.add(dp, Stage::LsInArpRsp, 50, format!("arp.tpa == {vip} && arp.op == 1"), actions).hint(g.uuid());
        }
        Err(_) => report(g, format!("invalid vip '{}', no ARP reply", g.vip())),
    }
    let liveness = if g.liveness() { "liveness=\"true\"," } else { "" };
    let actions = format!("fwd_group({liveness}childports={});", children.join(","));
    flows.add(dp, Stage::LsInL2Lkup, 50, format!("eth.dst == {vmac}"), actions).hint(g.uuid());
}
