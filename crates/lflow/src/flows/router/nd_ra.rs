//! Ingress tables 10 and 11: IPv6 router advertisement options and
//! responder for router ports with `ipv6_ra_configs:address_mode`. Never
//! builds the periodic RA settings (those go to the port binding).

use super::Router;
use crate::output::Flows;
use crate::stage::Stage;

pub fn build(r: &Router<'_, '_>, flows: &mut Flows) {
    flows.add(r.dp, Stage::LrInNdRaOptions, 0, "1", "next;");
    flows.add(r.dp, Stage::LrInNdRaResponse, 0, "1", "next;");
    for p in &r.ports {
        // Only ports that face a switch, not router-to-router links.
        if p.lrp.peer().is_some() || r.peer(p.port).is_none() {
            continue;
        }
        let cfg = p.lrp.ipv6_ra_configs();
        let Some(mode) = cfg.get("address_mode") else { continue };
        if !matches!(mode, "slaac" | "dhcpv6_stateful" | "dhcpv6_stateless") {
            continue;
        }
        let Some(lla) = p.lla() else { continue };
        if p.ipv6_global().is_empty() {
            continue;
        }
        let mut opts = format!("addr_mode = \"{mode}\", slla = {}", p.mac);
        if let Some(mtu) = cfg.get_int("mtu").filter(|m| *m > 0) {
            opts.push_str(&format!(", mtu = {mtu}"));
        }
        // Written as given, whatever it says, unless it is the default
        // (ovn-controller treats what it does not know as MEDIUM).
        if let Some(prf) = cfg.get("router_preference").filter(|v| *v != "MEDIUM") {
            opts.push_str(&format!(", router_preference = \"{prf}\""));
        }
        if let Some(v) = cfg.get("rdnss") {
            opts.push_str(&format!(", rdnss = {v}"));
        }
        if let Some(v) = cfg.get("dnssl") {
            opts.push_str(&format!(", dnssl = \"{v}\""));
        }
        if let Some(v) = cfg.get("route_info") {
            opts.push_str(&format!(", route_info = \"{v}\""));
        }
        for n in p.ipv6_global() {
            opts.push_str(&format!(", prefix = {}", n.subnet()));
        }
        let key = p.key();
        flows
            .add(
                r.dp,
                Stage::LrInNdRaOptions,
                50,
                format!("inport == {key} && ip6.dst == ff02::2 && nd_rs"),
                format!("reg0[5] = put_nd_ra_opts({opts}); next;"),
            )
            .hint(p.port.uuid());
        flows
            .add(
                r.dp,
                Stage::LrInNdRaResponse,
                50,
                format!("inport == {key} && ip6.dst == ff02::2 && nd_ra && reg0[5]"),
                format!(
                    "eth.dst = eth.src; eth.src = {}; ip6.dst = ip6.src; ip6.src = {}; outport = inport; flags.loopback = 1; output;",
                    p.mac, lla.addr
                ),
            )
            .hint(p.port.uuid());
    }
}
