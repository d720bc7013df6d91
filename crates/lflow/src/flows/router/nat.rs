//! NAT rules in the router's stateful stages (`ovn-northd(8)`, "Logical
//! Router Datapaths"): ingress UNSNAT, DNAT, gateway redirect (distributed
//! floating IPs, stateless rules with allowed or exempted external IPs)
//! and admission (the external MAC of a distributed floating IP); egress
//! check DNAT local, UNDNAT, SNAT and egress loopback; and a gateway
//! router's `dnat_force_snat_ip`.
//!
//! A gateway router NATs in its own conntrack zones (`ct_snat`,
//! `ct_dnat`); a router with distributed gateway ports NATs each rule at
//! its port (`model::nat` resolves which), in the common zone
//! (`ct_*_in_czone`), on the port's gateway chassis, or for a distributed
//! floating IP on the chassis of its logical port.
//!
//! Rules come parsed and checked from `Model::nats_of` (bad ones were
//! reported there). Never adds the NAT addresses' ARP and neighbor replies
//! or IP input drops (`ip_input`), ARP resolve or switch flows, the load
//! balancer flows of the same stages (`lb`) or a stage default
//! (`stateful`).

use std::net::IpAddr;

use super::admission::resident_suffix;
use super::{json_key, nh_regs, pkt_len, RPort, Router};
use crate::flows::switch::CtFlavour;
use crate::input::nb;
use crate::model::nat::Nat;
use crate::output::{Diagnostic, Flows};
use crate::stage::Stage;

/// Adds the NAT flows of router `r`; a malformed `dnat_force_snat_ip` is
/// reported in `diags`.
pub fn build(r: &Router<'_, '_>, flows: &mut Flows, diags: &mut Vec<Diagnostic>) {
    if !r.is_gateway && !r.has_dgp() {
        return;
    }
    let force_snat = if r.is_gateway { dnat_force_snat(r, diags) } else { Vec::new() };
    for ip in &force_snat {
        force_snat_flows(r, *ip, flows);
    }
    // Rules the reference rejects still count here: the router "has NAT".
    if r.nb.nat().next().is_some() {
        let natted = CtFlavour::of(r.m.sb).natted();
        flows.add(r.dp, Stage::LrOutChkDnatLocal, 50, format!("ip && {natted} == 1"), "reg9[4] = 1; next;");
        if r.is_gateway {
            super::stateful::gateway_undnat(r, flows);
        }
    }
    let nats = r.m.nats_of(r.dp);
    lb_vips_on_nat_ips(r, nats, flows);
    let force_dnat = !force_snat.is_empty();
    for nat in nats {
        match nat.dgp.and_then(|i| r.ports.iter().find(|p| std::ptr::eq(p.port, &r.m.ports[i]))) {
            Some(g) => distributed(r, nat, g, flows),
            None if r.is_gateway => gateway(r, nat, force_dnat, flows),
            None => {}
        }
    }
}

/// `ip4` or `ip6`, the family of the rule's addresses.
fn fam(nat: &Nat<'_>) -> &'static str {
    if nat.is_ipv4() {
        "ip4"
    } else {
        "ip6"
    }
}

/// `,LO-HI` after the address of a `ct_snat`/`ct_dnat` when the rule has
/// an external port range.
fn range(nat: &Nat<'_>) -> String {
    nat.port_range.map(|r| format!(",{r}")).unwrap_or_default()
}

/// ` && ip4.src == $allowed` (`dir` "src" on the way in, "dst" on the way
/// out) when the rule has `allowed_ext_ips`.
fn allowed(nat: &Nat<'_>, dir: &str) -> String {
    nat.allowed_ext_ips.map(|s| format!(" && {}.{dir} == ${s}", fam(nat))).unwrap_or_default()
}

/// The flow at `priority` letting packets from (`dir` "src") or to ("dst")
/// the rule's `exempted_ext_ips` through untranslated.
fn exempt(r: &Router<'_, '_>, nat: &Nat<'_>, st: Stage, priority: u16, m: &str, dir: &str, flows: &mut Flows) {
    if let Some(s) = nat.exempted_ext_ips {
        flows.add(r.dp, st, priority, format!("{m} && {}.{dir} == ${s}", fam(nat)), "next;").hint(nat.nb.uuid());
    }
}

/// The rules of a gateway router: in its own zones, for every port.
fn gateway(r: &Router<'_, '_>, nat: &Nat<'_>, force_dnat: bool, flows: &mut Flows) {
    let (dp, f, hint) = (r.dp, fam(nat), nat.nb.uuid());
    let (ext, logical) = (nat.external_ip, nat.logical_ip_text);
    if nat.kind.snats() {
        let a = if nat.stateless { "next;" } else { "ct_snat;" };
        flows.add(dp, Stage::LrInUnsnat, 90, format!("ip && {f}.dst == {ext}"), a).hint(hint);
    }
    if nat.kind.dnats() {
        let m = format!("ip && {f}.dst == {ext}");
        let force = if force_dnat { "flags.force_snat_for_dnat = 1; " } else { "" };
        let a = if nat.stateless {
            format!("{force}flags.loopback = 1; {f}.dst={logical}; next;")
        } else {
            format!("{force}flags.loopback = 1; ct_dnat({logical}{});", range(nat))
        };
        flows.add(dp, Stage::LrInDnat, 100, format!("{m}{}", allowed(nat, "src")), a).hint(hint);
        exempt(r, nat, Stage::LrInDnat, 102, &m, "src", flows);
    }
    if nat.kind.snats() {
        // Longer prefixes first.
        let priority = nat.logical_ip.plen() as u16 + 1;
        let m = format!("ip && {f}.src == {logical}");
        let (tracked, a) = if nat.stateless {
            (String::new(), format!("{f}.src={ext}; next;"))
        } else {
            (" && (!ct.trk || !ct.rpl)".to_string(), format!("ct_snat({ext}{});", range(nat)))
        };
        flows.add(dp, Stage::LrOutSnat, priority, format!("{m}{}{tracked}", allowed(nat, "dst")), a).hint(hint);
        exempt(r, nat, Stage::LrOutSnat, priority + 2, &m, "dst", flows);
    }
}

/// ` && is_chassis_resident(...)` where a rule of a distributed router
/// applies: its logical port's chassis for a distributed floating IP, its
/// gateway port's chassis otherwise.
fn resident(nat: &Nat<'_>, g: &RPort<'_, '_>) -> String {
    match nat.logical_port.filter(|_| nat.is_distributed()) {
        Some(lport) => format!(" && is_chassis_resident({})", json_key(lport)),
        None => resident_suffix(g),
    }
}

/// The rules of a router with distributed gateway ports, at port `g`.
fn distributed(r: &Router<'_, '_>, nat: &Nat<'_>, g: &RPort<'_, '_>, flows: &mut Flows) {
    let (dp, f, hint) = (r.dp, fam(nat), nat.nb.uuid());
    let (ext, logical, gkey) = (nat.external_ip, nat.logical_ip_text, g.key());
    let dist = nat.is_distributed();
    // Centralized rules apply on the gateway chassis only.
    let central = if dist { String::new() } else { resident_suffix(g) };
    let res = resident(nat, g);
    let eth_src = match nat.external_mac.filter(|_| dist) {
        Some(mac) => format!("eth.src = {mac}; "),
        None => String::new(),
    };
    if nat.kind.snats() {
        let m = format!("ip && {f}.dst == {ext} && inport == {gkey} && flags.loopback == 0{central}");
        let a = if nat.stateless { "next;" } else { "ct_snat_in_czone;" };
        flows.add(dp, Stage::LrInUnsnat, 100, m, a).hint(hint);
        if !nat.stateless {
            let m = format!(
                "ip && {f}.dst == {ext} && inport == {gkey} && flags.loopback == 1 && flags.use_snat_zone == 1{central}"
            );
            flows.add(dp, Stage::LrInUnsnat, 100, m, "ct_snat;").hint(hint);
        }
    }
    if nat.kind.dnats() {
        let m = format!("ip && {f}.dst == {ext} && inport == {gkey}{central}");
        let a = if nat.stateless {
            format!("{f}.dst={logical}; next;")
        } else {
            format!("ct_dnat_in_czone({logical}{});", range(nat))
        };
        flows.add(dp, Stage::LrInDnat, 100, format!("{m}{}", allowed(nat, "src")), a).hint(hint);
        exempt(r, nat, Stage::LrInDnat, 102, &m, "src", flows);

        let m = format!("ip && {f}.src == {logical} && outport == {gkey}{central}");
        let a = if nat.stateless { "next;" } else { "ct_dnat_in_czone;" };
        flows.add(dp, Stage::LrOutUndnat, 100, m, format!("{eth_src}{a}")).hint(hint);
    }
    if nat.kind.snats() {
        // Longer prefixes first, and before anything else in the stage.
        let priority = nat.logical_ip.plen() as u16 + 1 + 128;
        let m = format!("ip && {f}.src == {logical} && outport == {gkey}{res}");
        let m_allowed = format!("{m}{}", allowed(nat, "dst"));
        let a = if nat.stateless {
            format!("{f}.src={ext}; next;")
        } else {
            format!("ct_snat_in_czone({ext}{});", range(nat))
        };
        flows.add(dp, Stage::LrOutSnat, priority, m_allowed.clone(), format!("{eth_src}{a}")).hint(hint);
        if !nat.stateless {
            // Connections DNATed here are SNATed in the SNAT zone.
            let a = format!("{eth_src}reg9[4] = 0; ct_snat({ext}{});", range(nat));
            flows.add(dp, Stage::LrOutSnat, priority + 1, format!("{m_allowed} && reg9[4] == 1"), a).hint(hint);
        }
        exempt(r, nat, Stage::LrOutSnat, priority + 2, &m, "dst", flows);
    }
    let m = format!("ip && {f}.dst == {ext}{res}");
    flows.add(dp, Stage::LrOutChkDnatLocal, 50, m, "reg9[4] = 1; next;").hint(hint);
    let m = format!("{f}.dst == {ext} && outport == {gkey}{res}");
    flows.add(dp, Stage::LrOutEgrLoop, 100, m, egress_loopback()).hint(hint);
    if let (Some(lport), Some(mac), true) = (nat.logical_port, nat.external_mac, dist) {
        floating_ip(r, nat, g, lport, mac, flows);
    }
    if nat.stateless {
        stateless_redirect(r, nat, flows);
    }
}

/// A distributed floating IP: its external MAC is admitted on the chassis
/// of its logical port, and traffic from its logical IP leaves from there
/// with the external MAC and IP (unless the port is a virtual port, whose
/// traffic is dropped until a chassis claims it; the priority-80 flow
/// stays under the priority-100 one of the claiming chassis).
fn floating_ip(
    r: &Router<'_, '_>,
    nat: &Nat<'_>,
    g: &RPort<'_, '_>,
    lport: &str,
    mac: crate::model::addr::Mac,
    flows: &mut Flows,
) {
    let (dp, f, hint) = (r.dp, fam(nat), nat.nb.uuid());
    let (gkey, lkey) = (g.key(), json_key(lport));
    let m = format!("eth.dst == {mac} && inport == {gkey} && is_chassis_resident({lkey})");
    let a = format!("{}xreg0[0..47] = {}; next;", pkt_len::check_action(r, g), g.mac);
    flows.add(dp, Stage::LrInAdmission, 50, m.clone(), a).hint(hint);
    if let Some(bypass) = pkt_len::bypass(r, g) {
        let a = format!("xreg0[0..47] = {}; next;", g.mac);
        flows.add(dp, Stage::LrInAdmission, 55, format!("{m} && ({bypass})"), a).hint(hint);
    }
    let m = format!("{f}.src == {} && outport == {gkey}", nat.logical_ip_text);
    if r.m.port(lport).is_some_and(|p| p.lsp().is_some() && p.lsp_type() == "virtual") {
        flows.add(dp, Stage::LrInGwRedirect, 80, m.clone(), r.drop).hint(hint);
    }
    let reg = nh_regs(nat.external_ip).1;
    let a = format!("eth.src = {mac}; {reg} = {}; next;", nat.external_ip);
    flows.add(dp, Stage::LrInGwRedirect, 100, format!("{m} && is_chassis_resident({lkey})"), a).hint(hint);
}

/// A stateless rule with allowed external IPs sends traffic from them out
/// of every gateway port on its gateway chassis and drops what else goes
/// to its external IP; one with exempted external IPs drops traffic from
/// them at every gateway port.
fn stateless_redirect(r: &Router<'_, '_>, nat: &Nat<'_>, flows: &mut Flows) {
    let (dp, f, hint) = (r.dp, fam(nat), nat.nb.uuid());
    for p in r.ports.iter().filter(|p| p.is_dgp) {
        let key = p.key();
        if let Some(s) = nat.allowed_ext_ips {
            let a = format!("outport = {}; next;", json_key(&format!("cr-{}", p.name())));
            flows.add(dp, Stage::LrInGwRedirect, 75, format!("outport == {key} && {f}.src == ${s}"), a).hint(hint);
        }
        if let Some(s) = nat.exempted_ext_ips {
            flows.add(dp, Stage::LrInGwRedirect, 75, format!("outport == {key} && {f}.src == ${s}"), r.drop).hint(hint);
        }
    }
    if nat.allowed_ext_ips.is_some() {
        let m = format!("ip && {f}.dst == {}", nat.external_ip);
        flows.add(dp, Stage::LrInGwRedirect, 70, m, r.drop).hint(hint);
    }
}

/// The egress loopback of a packet to a NAT external IP: a clone goes back
/// to ingress admission on the same port, its registers cleared, so that
/// UNSNAT and DNAT apply to it.
fn egress_loopback() -> String {
    let regs: String = (0..10).map(|i| format!("reg{i} = 0; ")).collect();
    format!(
        "clone {{ ct_clear; inport = outport; outport = \"\"; eth.dst <-> eth.src; flags = 0; flags.loopback = 1; \
         flags.use_snat_zone = reg9[4]; {regs}reg9[0] = 1; next(pipeline=ingress, table={}); }};",
        Stage::LrInAdmission.table()
    )
}

/// The load balancer VIPs that are also NAT external IPs skip UNSNAT, so
/// that their connections are load balanced rather than unSNATed.
fn lb_vips_on_nat_ips(r: &Router<'_, '_>, nats: &[Nat<'_>], flows: &mut Flows) {
    if nats.is_empty() {
        return;
    }
    for lb in super::lb::router_lbs(r.m, r.nb) {
        for vip in lb.vips.iter().filter(|v| nats.iter().any(|n| n.external_ip == v.addr.ip)) {
            let (f, proto) = (vip.addr.family(), lb.proto);
            let port = vip.addr.port.map(|p| format!(" && {proto}.dst == {p}")).unwrap_or_default();
            let m = format!("{f} && {f}.dst == {} && {proto}{port}", vip.addr.ip);
            flows.add(r.dp, Stage::LrInUnsnat, 120, m, "next;").hint(lb.uuid);
        }
    }
}

/// `options:dnat_force_snat_ip` of a gateway router: the first IPv4 and
/// the first IPv6 address it lists, which DNATed connections are SNATed
/// to. A value that is not a list of addresses is reported and ignored.
fn dnat_force_snat(r: &Router<'_, '_>, diags: &mut Vec<Diagnostic>) -> Vec<IpAddr> {
    let Some(v) = r.nb.options().get("dnat_force_snat_ip").filter(|v| !v.trim().is_empty()) else {
        return Vec::new();
    };
    let Some(ips) = v.split_whitespace().map(super::parse_ip).collect::<Option<Vec<IpAddr>>>() else {
        diags.push(Diagnostic {
            table: nb::LogicalRouter::TABLE,
            row: r.nb.name().to_string(),
            message: format!("options:dnat_force_snat_ip '{v}' is not a list of IP addresses, ignored"),
        });
        return Vec::new();
    };
    let v4 = ips.iter().find(|ip| ip.is_ipv4());
    let v6 = ips.iter().find(|ip| ip.is_ipv6());
    v4.into_iter().chain(v6).copied().collect()
}

/// The UNSNAT and SNAT of the connections `dnat_force_snat_ip` forces to
/// `ip`.
fn force_snat_flows(r: &Router<'_, '_>, ip: IpAddr, flows: &mut Flows) {
    let f = if ip.is_ipv4() { "ip4" } else { "ip6" };
    flows.add(r.dp, Stage::LrInUnsnat, 110, format!("{f} && {f}.dst == {ip}"), "ct_snat;");
    flows.add(r.dp, Stage::LrOutSnat, 100, format!("flags.force_snat_for_dnat == 1 && {f}"), format!("ct_snat({ip});"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn egress_loopback_clears_every_register_and_restarts_at_admission() {
        let a = egress_loopback();
        assert!(a.contains("reg0 = 0; reg1 = 0;"), "{a}");
        assert!(a.contains("reg9 = 0; reg9[0] = 1; next(pipeline=ingress, table=0); };"), "{a}");
    }
}
