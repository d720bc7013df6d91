//! Ingress table 3, IP input: L3 admission drops, DHCPv6 prefix-delegation
//! replies, ICMP/ICMPv6 echo replies, ARP and ND responders for the
//! router's own addresses, port unreachable / TCP reset / protocol
//! unreachable for traffic to the router, drops of what is left for the
//! router (but for addresses load balancing or SNAT uses), TTL exceeded;
//! for NAT rules, the ARP and ND responders of their external IPs, SNAT
//! return traffic on a distributed gateway port, and the "too big" replies
//! of distributed floating IPs; BFD control packets of ports with a BFD
//! session. Never adds the responders for load balancer addresses (`lb`).

use std::net::IpAddr;

use super::admission::resident_suffix;
use super::{addr_set, join, json_key, Router};
use crate::model::addr::solicited_node;
use crate::model::nat::{Nat, NatKind};
use crate::output::Flows;
use crate::stage::Stage;

const ST: Stage = Stage::LrInIpInput;

pub fn build(r: &Router<'_, '_>, flows: &mut Flows) {
    fixed(r, flows);
    for n in &r.nats {
        nat(r, n, flows);
    }
    for p in &r.ports {
        let key = p.key();
        let hint = p.port.uuid();
        let v4: Vec<_> = p.ipv4.iter().map(|n| n.addr).collect();
        let v6: Vec<_> = p.ipv6.iter().map(|n| n.addr).collect();

        if !p.ipv4.is_empty() {
            let mut src: Vec<String> = Vec::new();
            // A /32 network's broadcast address is itself: the reference
            // lists it twice (scenario 98).
            for n in &p.ipv4 {
                src.push(n.addr.to_string());
                src.push(n.broadcast().to_string());
            }
            flows.add(r.dp, ST, 100, format!("ip4.src == {{{}}} && reg9[0] == 0", join(&src)), r.drop).hint(hint);
            flows
                .add(r.dp, ST, 90, format!("ip4.dst == {} && icmp4.type == 8 && icmp4.code == 0", addr_set(&v4)), ECHO4)
                .hint(hint);
            // Addresses that load balancing or SNAT uses are dropped
            // later, in ARP resolve, when nothing claimed them.
            let own: Vec<_> = v4.iter().filter(|a| !r.shared_ip(IpAddr::V4(**a))).collect();
            if !own.is_empty() && !r.snat_router_ip {
                flows.add(r.dp, ST, 60, format!("ip4.dst == {{{}}}", join(&own)), r.drop).hint(hint);
            }
        }
        for a in &v6 {
            flows.add(
                r.dp,
                ST,
                100,
                format!("ip6.dst == {a} && udp.src == 547 && udp.dst == 546"),
                "reg0 = 0; handle_dhcpv6_reply;",
            );
        }
        flows
            .add(r.dp, ST, 90, format!("ip6.dst == {} && icmp6.type == 128 && icmp6.code == 0", addr_set(&v6)), ECHO6)
            .hint(hint);
        let own: Vec<_> = v6.iter().filter(|a| !r.shared_ip(IpAddr::V6(**a))).collect();
        if !r.snat_router_ip {
            flows.add(r.dp, ST, 60, format!("ip6.dst == {{{}}}", join(&own)), r.drop).hint(hint);
        }

        if r.m.bfd.on_port(p.name()) {
            bfd(r, hint, "4", &v4, flows);
            bfd(r, hint, "6", &v6, flows);
        }

        let res = resident_suffix(p);
        // When the switch reaches a physical network (localnet), ARP for a
        // distributed gateway port is answered only on its gateway chassis;
        // so is ARP for a port with `reside-on-redirect-chassis` when the
        // router has exactly one distributed gateway port (on that port's
        // chassis).
        let arp_res = match (r.peer_has_lsp_type(p, "localnet"), p.is_dgp) {
            (false, _) => String::new(),
            (true, true) => res.clone(),
            (true, false) => r.redirect_chassis_of(p).map(resident_suffix).unwrap_or_default(),
        };
        for n in &p.ipv4 {
            flows
                .add(
                    r.dp,
                    ST,
                    90,
                    format!(
                        "inport == {key} && arp.op == 1 && arp.tpa == {} && arp.spa == {}{arp_res}",
                        n.addr,
                        n.subnet()
                    ),
                    arp_reply(PORT_MAC),
                )
                .hint(hint);
        }
        for n in &p.ipv6 {
            flows
                .add(
                    r.dp,
                    ST,
                    90,
                    format!(
                        "inport == {key} && ip6.dst == {{{}, {}}} && nd_ns && nd.target == {}{res}",
                        n.addr,
                        solicited_node(n.addr),
                        n.addr
                    ),
                    NA_REPLY,
                )
                .hint(hint);
        }

        // Gateways accept traffic to the router's addresses for NAT and
        // load balancing: no unreachable replies there.
        if !r.is_gateway && !r.has_dgp() {
            // TCP reset, SCTP abort, ICMP port unreachable for UDP and
            // protocol unreachable for the rest, per family: (family,
            // address, ICMP type, port code, protocol code).
            let v4 = v4.iter().map(|a| ("4", a.to_string(), 3, 3, 2));
            let v6 = v6.iter().map(|a| ("6", a.to_string(), 1, 4, 3));
            for (f, a, ty, port, proto) in v4.chain(v6) {
                let m = format!("ip{f} && ip{f}.dst == {a} && !ip.later_frag");
                let swap = format!("eth.dst <-> eth.src; ip{f}.dst <-> ip{f}.src;");
                let icmp = |code| {
                    format!("icmp{f} {{{swap} ip.ttl = 255; icmp{f}.type = {ty}; icmp{f}.code = {code}; next; }};")
                };
                flows.add(r.dp, ST, 80, format!("{m} && tcp"), format!("tcp_reset {{{swap} next; }};")).hint(hint);
                flows.add(r.dp, ST, 80, format!("{m} && sctp"), format!("sctp_abort {{{swap} next; }};")).hint(hint);
                flows.add(r.dp, ST, 80, format!("{m} && udp"), icmp(port)).hint(hint);
                flows.add(r.dp, ST, 70, m, icmp(proto)).hint(hint);
            }
        }

        for n in &p.ipv4 {
            flows
                .add(
                    r.dp,
                    ST,
                    31,
                    format!("inport == {key} && ip4 && ip.ttl == {{0, 1}} && !ip.later_frag"),
                    format!(
                        "icmp4 {{eth.dst <-> eth.src; icmp4.type = 11; /* Time exceeded */ icmp4.code = 0; /* TTL exceeded in transit */ {} ; ip.ttl = 254; outport = {key}; flags.loopback = 1; output; }};",
                        reply_addr("4", &n.addr.to_string(), p.is_dgp)
                    ),
                )
                .hint(hint);
        }
        // Not from a link-local network, even one `networks` names.
        for n in p.ipv6_global().iter().filter(|n| !n.is_lla()) {
            flows
                .add(
                    r.dp,
                    ST,
                    31,
                    format!("inport == {key} && ip6 && ip6.src == {} && ip.ttl == {{0, 1}} && !ip.later_frag", n.subnet()),
                    format!(
                        "icmp6 {{eth.dst <-> eth.src; {} ; ip.ttl = 254; icmp6.type = 3; /* Time exceeded */ icmp6.code = 0; /* TTL exceeded in transit */ outport = {key}; flags.loopback = 1; output; }};",
                        reply_addr("6", &n.addr.to_string(), p.is_dgp)
                    ),
                )
                .hint(hint);
        }
    }
}

/// The flows of one NAT rule: ARP or ND replies for its external IP from
/// any port (with the router port's MAC); on a distributed gateway port,
/// replies there only on its gateway chassis, or for a distributed
/// floating IP only where its logical port resides and with its external
/// MAC, and drops elsewhere; SNAT traffic coming back in on that port
/// goes on to routing; and a distributed floating IP answers packets too
/// big for the port's `gateway_mtu` itself.
fn nat(r: &Router<'_, '_>, n: &Nat<'_>, flows: &mut Flows) {
    let hint = n.nb.uuid();
    let (m, reply): (String, fn(&str) -> String) = match n.external_ip {
        IpAddr::V4(a) => (format!("arp.op == 1 && arp.tpa == {a}"), arp_reply),
        IpAddr::V6(a) => (format!("ip6.dst == {{{a}, {}}} && nd_ns && nd.target == {a}", solicited_node(a)), na_reply),
    };
    flows.add(r.dp, ST, 90, &m, reply(PORT_MAC)).hint(hint);
    let Some(g) = r.dgp_of(n) else { return };
    let key = g.key();
    flows.add(r.dp, ST, 91, format!("inport == {key} && {m}"), r.drop).hint(hint);
    let (resident, mac) = match (n.is_distributed(), n.logical_port, n.external_mac) {
        (true, Some(lport), Some(mac)) => (format!(" && is_chassis_resident({})", json_key(lport)), mac.to_string()),
        _ => (resident_suffix(g), PORT_MAC.to_string()),
    };
    flows.add(r.dp, ST, 92, format!("inport == {key} && {m}{resident}"), reply(&mac)).hint(hint);
    let (fam, icmp) = if n.is_ipv4() { ("4", ICMP4_TOO_BIG) } else { ("6", ICMP6_TOO_BIG) };
    let ip = n.external_ip;
    if n.kind == NatKind::Snat {
        flows.add(r.dp, ST, 120, format!("inport == {key} && ip{fam}.src == {ip}"), "next;").hint(hint);
    }
    if let (Some(mtu), true) = (g.gateway_mtu(r), n.is_distributed()) {
        flows
            .add(
                r.dp,
                ST,
                160,
                format!("inport == {key} && reg9[1] && reg9[0] == 0 && ip{fam} && ip{fam}.dst == {ip}"),
                format!(
                    "icmp{fam}_error {{reg9[0] = 1; reg9[1] = 0; eth.dst = eth.src; eth.src = {mac}; ip{fam}.dst = ip{fam}.src; ip{fam}.src = {ip}; ip.ttl = 254; {icmp} = {mtu}; outport = {key}; flags.loopback = 1; output; }};"
                ),
            )
            .hint(hint);
    }
}

/// BFD on a port with a session (`BFD.logical_port`): control packets
/// from the port's own addresses go on (to be routed out), those to them
/// go to ovn-controller.
fn bfd<T: ToString>(r: &Router<'_, '_>, hint: ovsdb::Uuid, family: &str, addrs: &[T], flows: &mut Flows) {
    if addrs.is_empty() {
        return;
    }
    let set = addr_set(addrs);
    flows.add(r.dp, ST, 110, format!("ip{family}.src == {set} && udp.dst == 3784"), "next; ").hint(hint);
    flows.add(r.dp, ST, 110, format!("ip{family}.dst == {set} && udp.dst == 3784"), "handle_bfd_msg(); ").hint(hint);
}

/// The source of a TTL-exceeded reply: the port's address, except on a
/// distributed gateway port, where the reply swaps source and destination.
fn reply_addr(family: &str, addr: &str, dgp: bool) -> String {
    if dgp {
        format!("ip{family}.dst <-> ip{family}.src")
    } else {
        format!("ip{family}.dst = ip{family}.src; ip{family}.src = {addr}")
    }
}

const ECHO4: &str = "ip4.dst <-> ip4.src; ip.ttl = 255; icmp4.type = 0; flags.loopback = 1; next; ";
const ECHO6: &str = "ip6.dst <-> ip6.src; ip.ttl = 255; icmp6.type = 129; flags.loopback = 1; next; ";
/// The MAC of the port a request came in on, as replies write it.
const PORT_MAC: &str = "xreg0[0..47]";
const ICMP4_TOO_BIG: &str =
    "icmp4.type = 3; /* Destination Unreachable. */ icmp4.code = 4; /* Frag Needed and DF was Set. */ icmp4.frag_mtu";
const ICMP6_TOO_BIG: &str = "icmp6.type = 2; /* Packet Too Big. */ icmp6.code = 0; icmp6.frag_mtu";

/// An ARP reply from `mac`.
fn arp_reply(mac: &str) -> String {
    format!("eth.dst = eth.src; eth.src = {mac}; arp.op = 2; /* ARP reply */ arp.tha = arp.sha; arp.sha = {mac}; arp.tpa <-> arp.spa; outport = inport; flags.loopback = 1; output;")
}

/// A neighbour advertisement from `mac` (not flagged as a router's, as
/// for addresses the router only translates).
fn na_reply(mac: &str) -> String {
    format!("nd_na {{ eth.src = {mac}; ip6.src = nd.target; nd.tll = {mac}; outport = inport; flags.loopback = 1; output; }};")
}

const NA_REPLY: &str = "nd_na_router { eth.src = xreg0[0..47]; ip6.src = nd.target; nd.tll = xreg0[0..47]; outport = inport; flags.loopback = 1; output; };";

/// The flows every router has, whatever its ports.
fn fixed(r: &Router<'_, '_>, flows: &mut Flows) {
    flows.add(
        r.dp,
        ST,
        100,
        "ip4.src_mcast ||ip4.src == 255.255.255.255 || ip4.src == 127.0.0.0/8 || ip4.dst == 127.0.0.0/8 || ip4.src == 0.0.0.0/8 || ip4.dst == 0.0.0.0/8",
        r.drop,
    );
    flows.add(r.dp, ST, 85, "arp || nd", r.drop);
    flows.add(r.dp, ST, 84, "nd_rs || nd_ra", "next;");
    flows.add(r.dp, ST, 83, "ip6.mcast_rsvd", r.drop);
    let mcast = if super::multicast::relay(r) { "next;" } else { r.drop };
    flows.add(r.dp, ST, 82, "ip4.mcast || ip6.mcast", mcast);
    flows.add(r.dp, ST, 50, "eth.bcast", r.drop);
    flows.add(r.dp, ST, 32, "ip.ttl == {0, 1} && !ip.later_frag && (ip4.mcast || ip6.mcast)", r.drop);
    flows.add(r.dp, ST, 30, "ip.ttl == {0, 1}", r.drop);
    flows.add(r.dp, ST, 0, "1", "next;");
}
