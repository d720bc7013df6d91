//! Ingress tables 0 to 2: L2 admission control (per-port MAC checks, VLAN
//! and multicast-source drops), neighbour lookup and neighbour learning
//! (ARP and IPv6 ND, `options:always_learn_from_arp_request`). Never adds
//! NAT-specific admission flows (external MACs of NAT rules).

use super::{pkt_len, Router};
use crate::output::Flows;
use crate::stage::Stage;

pub fn build(r: &Router<'_, '_>, flows: &mut Flows) {
    admission(r, flows);
    lookup_neighbor(r, flows);
    learn_neighbor(r, flows);
}

/// `is_chassis_resident("cr-P")` appended to a distributed gateway port's
/// match, nothing for other ports.
pub fn resident_suffix(p: &super::RPort<'_, '_>) -> String {
    if p.is_dgp {
        format!(" && is_chassis_resident({})", super::json_key(&format!("cr-{}", p.name())))
    } else {
        String::new()
    }
}

fn admission(r: &Router<'_, '_>, flows: &mut Flows) {
    flows.add(r.dp, Stage::LrInAdmission, 100, "vlan.present || eth.src[40]", r.drop);
    flows.add(r.dp, Stage::LrInAdmission, 0, "1", r.drop);
    for p in r.ports.iter().filter(|p| p.port.enabled()) {
        let larger = pkt_len::check_action(r, p);
        // Behind a switch with VTEP ports the gateway port's MAC is
        // answered everywhere, so that VTEP traffic reaches the router.
        let res = if r.peer_has_lsp_type(p, "vtep") { String::new() } else { resident_suffix(p) };
        let actions = format!("{larger}xreg0[0..47] = {}; next;", p.mac);
        let key = p.key();
        flows
            .add(r.dp, Stage::LrInAdmission, 50, format!("eth.mcast && inport == {key}"), actions.clone())
            .hint(p.port.uuid());
        flows
            .add(r.dp, Stage::LrInAdmission, 50, format!("eth.dst == {} && inport == {key}{res}", p.mac), actions)
            .hint(p.port.uuid());
        if let Some(bypass) = pkt_len::bypass(r, p) {
            let actions = format!("xreg0[0..47] = {}; next;", p.mac);
            flows
                .add(
                    r.dp,
                    Stage::LrInAdmission,
                    55,
                    format!("eth.mcast && inport == {key} && ({bypass})"),
                    actions.clone(),
                )
                .hint(p.port.uuid());
            flows
                .add(
                    r.dp,
                    Stage::LrInAdmission,
                    55,
                    format!("eth.dst == {} && inport == {key}{res} && ({bypass})", p.mac),
                    actions,
                )
                .hint(p.port.uuid());
        }
    }
}

fn always_learn(r: &Router<'_, '_>) -> bool {
    r.nb.options().get_bool("always_learn_from_arp_request", true)
}

fn lookup_neighbor(r: &Router<'_, '_>, flows: &mut Flows) {
    let learn = always_learn(r);
    let st = Stage::LrInLookupNeighbor;
    let (reply_arp, reply_na, ns) = if learn {
        (
            "reg9[2] = lookup_arp(inport, arp.spa, arp.sha); next;",
            "reg9[2] = lookup_nd(inport, nd.target, nd.tll); next;",
            "reg9[2] = lookup_nd(inport, ip6.src, nd.sll); next;",
        )
    } else {
        (
            "reg9[2] = lookup_arp(inport, arp.spa, arp.sha); reg9[3] = 1; next;",
            "reg9[2] = lookup_nd(inport, nd.target, nd.tll); reg9[3] = 1; next;",
            "reg9[2] = lookup_nd(inport, ip6.src, nd.sll); reg9[3] = lookup_nd_ip(inport, ip6.src); next;",
        )
    };
    flows.add(r.dp, st, 100, "arp.op == 2", reply_arp);
    flows.add(r.dp, st, 100, "nd_na", reply_na);
    flows.add(r.dp, st, 100, "nd_ns", ns);
    if !learn {
        flows.add(
            r.dp,
            st,
            110,
            "nd_na && ip6.src == fe80::/10 && ip6.dst == ff00::/8",
            "reg9[2] = lookup_nd(inport, ip6.src, nd.tll); reg9[3] = lookup_nd_ip(inport, ip6.src); next;",
        );
    }
    flows.add(r.dp, st, 0, "1", "reg9[2] = 1; next;");
    for p in &r.ports {
        let key = p.key();
        let res = resident_suffix(p);
        for n in &p.ipv4 {
            let spa = format!("inport == {key} && arp.spa == {} && arp.op == 1{res}", n.subnet());
            let actions = if learn {
                "reg9[2] = lookup_arp(inport, arp.spa, arp.sha); next;"
            } else {
                flows
                    .add(
                        r.dp,
                        st,
                        110,
                        format!(
                            "inport == {key} && arp.spa == {} && arp.tpa == {} && arp.op == 1{res}",
                            n.subnet(),
                            n.addr
                        ),
                        "reg9[2] = lookup_arp(inport, arp.spa, arp.sha); reg9[3] = 1; next;",
                    )
                    .hint(p.port.uuid());
                "reg9[2] = lookup_arp(inport, arp.spa, arp.sha); reg9[3] = lookup_arp_ip(inport, arp.spa); next;"
            };
            flows.add(r.dp, st, 100, spa, actions).hint(p.port.uuid());
        }
    }
}

fn learn_neighbor(r: &Router<'_, '_>, flows: &mut Flows) {
    let st = Stage::LrInLearnNeighbor;
    let skip = if always_learn(r) { "reg9[2] == 1" } else { "reg9[2] == 1 || reg9[3] == 0" };
    flows.add(r.dp, st, 100, skip, "next;");
    flows.add(r.dp, st, 95, "nd_ns && (ip6.src == 0 || nd.sll == 0)", "next;");
    flows.add(r.dp, st, 95, "nd_na && nd.tll == 0", "put_nd(inport, nd.target, eth.src); next;");
    flows.add(r.dp, st, 90, "arp", "put_arp(inport, arp.spa, arp.sha); next;");
    flows.add(r.dp, st, 90, "nd_na", "put_nd(inport, nd.target, nd.tll); next;");
    flows.add(r.dp, st, 90, "nd_ns", "put_nd(inport, ip6.src, nd.sll); next;");
    flows.add(r.dp, st, 0, "1", r.drop);
}
