//! The ARP/ND responder of a logical switch (ingress table 19): proxy
//! replies for the known IPv4 and IPv6 addresses of its ports (VIFs and the
//! router ports it connects to, and a router port's `arp_proxy` addresses),
//! the flows that let a port's own requests for its addresses through, the
//! skip flow of localnet ports, the flows that bind a virtual port to the
//! parent that claims its IP, and the replies for load balancer health
//! checks' source IPs. It never replies for ports with `unknown` addresses,
//! virtual or external ports, or (when `ignore_lsp_down` is false) VIFs
//! that are down: `Port::up`, from the SB binding, never the NB `up`
//! column northd writes.

use std::net::IpAddr;

use super::{json_key, Switch};
use crate::input::nb;
use crate::model::addr::{solicited_node, Ipv4Net, Ipv6Net, LportAddresses, Mac};
use crate::model::{Model, Port};
use crate::output::{Diagnostic, DpId, Flows};
use crate::stage::Stage;

pub(super) fn build(sw: &Switch<'_, '_>, flows: &mut Flows, diags: &mut Vec<Diagnostic>) {
    let dp = sw.dp.id;

    // ARP requests that come in from a localnet port are answered by
    // their targets, not by every chassis on the physical network.
    for p in sw.ports_of_type("localnet") {
        flows
            .add(dp, Stage::LsInArpRsp, 100, format!("inport == {}", json_key(p.name())), "next;")
            .hint(p.uuid())
            .io_port(p.name());
    }

    let check_up = sw.m.option("ignore_lsp_down").is_some_and(|v| !v.eq_ignore_ascii_case("true"));
    for p in &sw.ports {
        let ty = p.lsp_type();
        if ty == "virtual" {
            virtual_port(sw, p, flows, diags);
            continue;
        }
        if check_up && !p.up() && ty != "router" && ty != "localport" {
            continue;
        }
        if ty == "external" || p.has_unknown() || sw.vlan_passthru {
            continue;
        }
        let addrs = sw.lsp_addrs(p);
        for a in &addrs {
            for ip in &a.ipv4 {
                arp_reply(dp, p, a, ip, flows);
            }
            for ip in &a.ipv6 {
                na_reply(dp, p, a, ip, ty == "router", flows);
            }
        }
        if ty == "router" {
            arp_proxy(dp, p, &addrs, flows, diags);
        }
    }

    flows.add(dp, Stage::LsInArpRsp, 0, "1", "next;");
}

/// `arp.tpa == A && arp.op == 1`: the reply from `a`'s MAC, and the skip
/// flow for the owner's own requests.
fn arp_reply(dp: DpId, p: &Port<'_>, a: &LportAddresses, ip: &Ipv4Net, flows: &mut Flows) {
    let m = format!("arp.tpa == {} && arp.op == 1", ip.addr);
    let actions = format!(
        "eth.dst = eth.src; eth.src = {mac}; arp.op = 2; /* ARP reply */ arp.tha = arp.sha; arp.sha = {mac}; \
         arp.tpa = arp.spa; arp.spa = {ip}; outport = inport; flags.loopback = 1; output;",
        mac = a.mac,
        ip = ip.addr
    );
    reply_unless_own(dp, p, m, actions, flows);
}

/// Neighbour solicitations for `ip`: the advertisement from `a`'s MAC
/// (`nd_na_router` for router ports), and the skip flow for the owner.
fn na_reply(dp: DpId, p: &Port<'_>, a: &LportAddresses, ip: &Ipv6Net, router: bool, flows: &mut Flows) {
    let m =
        format!("nd_ns && ip6.dst == {{{ip}, {sn}}} && nd.target == {ip}", ip = ip.addr, sn = solicited_node(ip.addr));
    let actions = format!(
        "{na} {{ eth.src = {mac}; ip6.src = {ip}; nd.target = {ip}; nd.tll = {mac}; outport = inport; \
         flags.loopback = 1; output; }};",
        na = if router { "nd_na_router" } else { "nd_na" },
        mac = a.mac,
        ip = ip.addr
    );
    reply_unless_own(dp, p, m, actions, flows);
}

/// The reply `actions` to requests matching `m`, and the flow that lets
/// the port `p` owning the address send its own such requests on.
fn reply_unless_own(dp: DpId, p: &Port<'_>, m: String, actions: String, flows: &mut Flows) {
    let own = format!("{m} && inport == {}", json_key(p.name()));
    flows.add(dp, Stage::LsInArpRsp, 50, m, actions).hint(p.uuid());
    flows.add(dp, Stage::LsInArpRsp, 100, own, "next;").hint(p.uuid()).io_port(p.name());
}

/// A router-type port answers ARP requests for the IPv4 addresses of its
/// `options:arp_proxy` with its MAC; an unparsable entry is reported.
fn arp_proxy(dp: DpId, p: &Port<'_>, addrs: &[LportAddresses], flows: &mut Flows, diags: &mut Vec<Diagnostic>) {
    let Some(list) = p.lsp().and_then(|l| l.options().get("arp_proxy")) else { return };
    let mut ips = Vec::new();
    for word in list.split_whitespace() {
        match Ipv4Net::parse(word).filter(|_| word.contains('.')) {
            Some(n) if n.plen == 32 => ips.push(n.addr.to_string()),
            Some(n) => ips.push(n.subnet()),
            None => diags.push(Diagnostic {
                table: nb::LogicalSwitchPort::TABLE,
                row: p.name().to_string(),
                message: format!("invalid address '{word}' in options:arp_proxy, entry ignored"),
            }),
        }
    }
    if ips.is_empty() {
        return;
    }
    let m = format!("arp.op == 1 && arp.tpa == {{{}}}", ips.join(","));
    for a in addrs {
        let actions = format!(
            "eth.dst = eth.src; eth.src = {mac}; arp.op = 2; /* ARP reply */ arp.tha = arp.sha; arp.sha = {mac}; \
             arp.tpa <-> arp.spa; outport = inport; flags.loopback = 1; output;",
            mac = a.mac
        );
        flows.add(dp, Stage::LsInArpRsp, 50, m.clone(), actions).hint(p.uuid());
    }
}

/// A virtual port is bound to whichever of its `virtual-parents` (on the
/// same switch) announces or claims its `virtual-ip`. A missing or bad
/// option, or a parent that is not a port of the switch, is reported.
fn virtual_port(sw: &Switch<'_, '_>, p: &Port<'_>, flows: &mut Flows, diags: &mut Vec<Diagnostic>) {
    let Some(lsp) = p.lsp() else { return };
    let mut report = |message: String| {
        diags.push(Diagnostic { table: nb::LogicalSwitchPort::TABLE, row: p.name().to_string(), message })
    };
    let opts = lsp.options();
    let (Some(vip), Some(parents)) = (opts.get("virtual-ip"), opts.get("virtual-parents")) else {
        report("virtual port without options:virtual-ip or options:virtual-parents, not bound".into());
        return;
    };
    let Ok(ip) = vip.parse::<IpAddr>() else {
        report(format!("invalid virtual-ip '{vip}', port not bound"));
        return;
    };
    for parent in parents.split(',').filter(|s| !s.is_empty()) {
        let Some(vp) = sw.m.port(parent).filter(|vp| vp.dp == sw.dp.id && vp.is_lsp()) else {
            report(format!("virtual parent '{parent}' is not a port of the same switch, ignored"));
            continue;
        };
        let m = match ip {
            IpAddr::V4(_) => format!(
                "inport == {} && ((arp.op == 1 && arp.spa == {vip} && arp.tpa == {vip}) || (arp.op == 2 && arp.spa == {vip}))",
                json_key(parent)
            ),
            // The missing space after `||` is the reference's.
            IpAddr::V6(v6) => format!(
                "inport == {} && ((nd_ns && ip6.dst == {{{vip}, {sn}}} && nd.target == {vip}) ||(nd_na && nd.target == {vip}))",
                json_key(parent),
                sn = solicited_node(v6)
            ),
        };
        let actions = format!("bind_vport({}, inport); next;", json_key(p.name()));
        flows.add(sw.dp.id, Stage::LsInArpRsp, 100, m, actions).hint(vp.uuid()).io_port(parent);
    }
}

/// The source IPs of load balancer health checks (`ip_port_mappings`
/// values `PORT:SRC_IP`) are answered with the service monitor MAC on the
/// switch of the backend's port (`dp`, here), for every VIP with a health
/// check.
pub(super) fn service_monitor_replies(m: &Model<'_>, dp: DpId, flows: &mut Flows) {
    let Some(svc_mac) = m.option("svc_monitor_mac").and_then(Mac::parse) else { return };
    for lb in &m.lbs {
        let monitors = lb.vips.iter().flat_map(|v| &v.backends).filter_map(|b| b.monitor.as_ref());
        for mon in monitors {
            let Some(p) = m.port(&mon.port).filter(|p| p.dp == dp) else { continue };
            let (m_, actions) = match mon.src_ip.parse::<IpAddr>() {
                Ok(IpAddr::V4(a)) => (
                    format!("arp.tpa == {a} && arp.op == 1"),
                    format!(
                        "eth.dst = eth.src; eth.src = {svc_mac}; arp.op = 2; /* ARP reply */ arp.tha = arp.sha; \
                         arp.sha = {svc_mac}; arp.tpa = arp.spa; arp.spa = {a}; outport = inport; flags.loopback = 1; \
                         output;"
                    ),
                ),
                Ok(IpAddr::V6(a)) => (
                    format!("nd_ns && nd.target == {a}"),
                    format!(
                        "nd_na {{ eth.dst = eth.src; eth.src = {svc_mac}; ip6.src = {a}; nd.target = {a}; \
                         nd.tll = {svc_mac}; outport = inport; flags.loopback = 1; output; }};"
                    ),
                ),
                Err(_) => continue,
            };
            flows.add(p.dp, Stage::LsInArpRsp, 110, m_, actions).hint(lb.uuid);
        }
    }
}
