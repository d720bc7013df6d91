//! Ingress tables 20 (gateway redirect) and 21 (ARP request) and egress
//! table 6 (delivery). Never adds the NAT-specific redirect flows.

use std::net::Ipv6Addr;

use super::{json_key, Router};
use crate::model::addr::{ipv6_multicast_mac, solicited_node};
use crate::output::Flows;
use crate::stage::Stage;

/// `v6_nexthops`: the IPv6 next hops of the router's static routes, which
/// get neighbour solicitations sent to their solicited-node address.
pub fn build(r: &Router<'_, '_>, v6_nexthops: &[(Ipv6Addr, ovsdb::Uuid)], flows: &mut Flows) {
    flows.add(r.dp, Stage::LrInGwRedirect, 0, "1", "next;");
    // Behind a switch with VTEP ports, traffic leaves through the port on
    // any chassis: no redirect.
    for p in r.ports.iter().filter(|p| p.is_dgp && !r.peer_has_lsp_type(p, "vtep")) {
        flows
            .add(
                r.dp,
                Stage::LrInGwRedirect,
                50,
                format!("outport == {}", p.key()),
                format!("outport = {}; next;", json_key(&format!("cr-{}", p.name()))),
            )
            .hint(p.port.uuid());
    }

    let st = Stage::LrInArpRequest;
    flows.add(r.dp, st, 0, "1", "output;");
    flows.add(
        r.dp,
        st,
        100,
        "eth.dst == 00:00:00:00:00:00 && ip4",
        "arp { eth.dst = ff:ff:ff:ff:ff:ff; arp.spa = reg1; arp.tpa = reg0; arp.op = 1; output; };",
    );
    flows.add(r.dp, st, 100, "eth.dst == 00:00:00:00:00:00 && ip6", "nd_ns { nd.target = xxreg0; output; };");
    for (nh, route) in v6_nexthops {
        let sn = solicited_node(*nh);
        flows
            .add(
                r.dp,
                st,
                200,
                format!("eth.dst == 00:00:00:00:00:00 && ip6 && xxreg0 == {nh}"),
                format!("nd_ns {{ eth.dst = {}; ip6.dst = {sn}; nd.target = {nh}; output; }};", ipv6_multicast_mac(sn)),
            )
            .hint(*route);
    }

    flows.add(r.dp, Stage::LrOutDelivery, 0, "1", r.drop);
    for p in r.ports.iter().filter(|p| p.port.enabled()) {
        flows.add(r.dp, Stage::LrOutDelivery, 100, format!("outport == {}", p.key()), "output;");
    }
}
