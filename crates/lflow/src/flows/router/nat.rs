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
use crate::model::addr::Mac;
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
fn floating_ip(r: &Router<'_, '_>, nat: &Nat<'_>, g: &RPort<'_, '_>, lport: &str, mac: Mac, flows: &mut Flows) {
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
    if r.m.port(lport).is_some_and(|p| p.is_lsp() && p.lsp_type() == "virtual") {
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
    use std::collections::BTreeMap;

    use expect_test::expect;

    use crate::model::Model;
    use crate::tests::replica;

    /// Router `lr0` with `in` (10.0.0.1/24) and `out` (172.16.0.1/24,
    /// fd72::1/64; a distributed gateway port on `gw1` when `dgp`), `lr0`
    /// columns `lr0_extra`, NAT rows `nats` (`"uuid": {columns}`, the
    /// UUIDs ending in 61 to 69), and switch `sw0` with port `vm1`.
    fn nb(dgp: bool, lr0_extra: &str, nats: &str) -> ovsdb::Replica {
        let gw = if dgp { r#", "gateway_chassis": ["uuid", "00000000-0000-0000-0000-0000000000c1"]"# } else { "" };
        let refs: Vec<String> = (1..=9)
            .map(|i| format!("00000000-0000-0000-0000-00000000006{i}"))
            .filter(|u| nats.contains(u.as_str()))
            .map(|u| format!(r#"["uuid", "{u}"]"#))
            .collect();
        replica(
            "ovn-nb.ovsschema",
            &format!(
                r#"{{
                "Logical_Router": {{"00000000-0000-0000-0000-0000000000a0": {{"initial": {{"name": "lr0",
                    "ports": ["set", [["uuid", "00000000-0000-0000-0000-0000000000a1"],
                                      ["uuid", "00000000-0000-0000-0000-0000000000a2"]]],
                    "nat": ["set", [{}]] {lr0_extra}}}}}}},
                "Logical_Router_Port": {{
                    "00000000-0000-0000-0000-0000000000a1": {{"initial": {{"name": "in", "mac": "00:00:00:00:ff:01",
                        "networks": "10.0.0.1/24"}}}},
                    "00000000-0000-0000-0000-0000000000a2": {{"initial": {{"name": "out", "mac": "00:00:00:00:ff:02",
                        "networks": ["set", ["172.16.0.1/24", "fd72::1/64"]] {gw}}}}}
                }},
                "Gateway_Chassis": {{"00000000-0000-0000-0000-0000000000c1": {{"initial": {{"name": "out-gw1",
                    "chassis_name": "gw1", "priority": 10}}}}}},
                "Logical_Switch": {{"00000000-0000-0000-0000-0000000000b0": {{"initial": {{"name": "sw0",
                    "ports": ["uuid", "00000000-0000-0000-0000-0000000000b1"]}}}}}},
                "Logical_Switch_Port": {{"00000000-0000-0000-0000-0000000000b1": {{"initial": {{"name": "vm1",
                    "addresses": "00:00:00:00:00:11 10.0.0.11"}}}}}},
                "NAT": {{{nats}}}
            }}"#,
                refs.join(", ")
            ),
        )
    }

    /// The NAT flows (no stage default) of the given stages, sorted, and
    /// the diagnostics.
    fn nat_flows(nb: &ovsdb::Replica, stages: &[&str]) -> (String, Vec<String>) {
        let mut diags = Vec::new();
        let sb = replica("ovn-sb.ovsschema", "{}");
        let memo = crate::model::memo::PortMemo::of(nb, &sb);
        let m = Model::build(nb, &sb, &memo, BTreeMap::new(), &mut diags);
        let mut f = crate::output::FlowSet::default();
        super::super::build(&m, &mut f, &mut diags);
        let mut lines: Vec<String> = f
            .iter()
            .filter(|l| l.priority > 0 && stages.iter().any(|s| l.stage.name() == *s))
            .map(|l| format!("{} {} ({}) => ({})", l.stage.name(), l.priority, l.match_, l.actions))
            .collect();
        lines.sort();
        lines.dedup();
        (lines.join("\n") + "\n", diags.iter().map(ToString::to_string).collect())
    }

    const STAGES: &[&str] = &[
        "lr_in_unsnat",
        "lr_in_dnat",
        "lr_in_gw_redirect",
        "lr_out_chk_dnat_local",
        "lr_out_undnat",
        "lr_out_snat",
        "lr_out_egr_loop",
    ];

    /// On a gateway router, SNAT priorities follow the prefix length, a
    /// stateless rule rewrites addresses without conntrack, a port range
    /// goes with the address, exempted external IPs get a flow 2 above the
    /// rule's, and `dnat_force_snat_ip` marks DNATed connections.
    #[test]
    fn gateway_router_rules() {
        let nats = r#"
            "00000000-0000-0000-0000-000000000061": {"initial": {"type": "snat", "external_ip": "172.16.0.1",
                "logical_ip": "10.0.0.0/24", "external_port_range": "1024-2048"}},
            "00000000-0000-0000-0000-000000000062": {"initial": {"type": "dnat_and_snat",
                "external_ip": "172.16.0.50", "logical_ip": "10.0.0.11", "options": ["map", [["stateless", "true"]]]}}"#;
        let lr0 = r#", "options": ["map", [["chassis", "hv1"], ["dnat_force_snat_ip", "172.16.0.99"]]]"#;
        let (text, diags) = nat_flows(&nb(false, lr0, nats), STAGES);
        assert_eq!(diags, Vec::<String>::new());
        expect![[r#"
            lr_in_dnat 100 (ip && ip4.dst == 172.16.0.50) => (flags.force_snat_for_dnat = 1; flags.loopback = 1; ip4.dst=10.0.0.11; next;)
            lr_in_unsnat 110 (ip4 && ip4.dst == 172.16.0.99) => (ct_snat;)
            lr_in_unsnat 90 (ip && ip4.dst == 172.16.0.1) => (ct_snat;)
            lr_in_unsnat 90 (ip && ip4.dst == 172.16.0.50) => (next;)
            lr_out_chk_dnat_local 50 (ip && ct_mark.natted == 1) => (reg9[4] = 1; next;)
            lr_out_snat 100 (flags.force_snat_for_dnat == 1 && ip4) => (ct_snat(172.16.0.99);)
            lr_out_snat 120 (nd_ns) => (next;)
            lr_out_snat 25 (ip && ip4.src == 10.0.0.0/24 && (!ct.trk || !ct.rpl)) => (ct_snat(172.16.0.1,1024-2048);)
            lr_out_snat 33 (ip && ip4.src == 10.0.0.11) => (ip4.src=172.16.0.50; next;)
            lr_out_undnat 100 (nd || nd_rs || nd_ra) => (next;)
            lr_out_undnat 50 (ip) => (flags.loopback = 1; ct_dnat;)
        "#]].assert_eq(&text);
    }

    /// On a distributed gateway port, a centralized rule applies on the
    /// port's gateway chassis and a floating IP on its logical port's
    /// chassis, with its external MAC; SNAT priorities are 128 higher.
    #[test]
    fn distributed_gateway_port_rules() {
        let nats = r#"
            "00000000-0000-0000-0000-000000000061": {"initial": {"type": "snat", "external_ip": "172.16.0.1",
                "logical_ip": "10.0.0.0/24"}},
            "00000000-0000-0000-0000-000000000062": {"initial": {"type": "dnat_and_snat",
                "external_ip": "172.16.0.50", "logical_ip": "10.0.0.11", "logical_port": "vm1",
                "external_mac": "30:54:00:00:00:11"}}"#;
        let (text, diags) = nat_flows(&nb(true, "", nats), STAGES);
        assert_eq!(diags, Vec::<String>::new());
        expect![[r#"
            lr_in_dnat 100 (ip && ip4.dst == 172.16.0.50 && inport == "out") => (ct_dnat_in_czone(10.0.0.11);)
            lr_in_gw_redirect 100 (ip4.src == 10.0.0.11 && outport == "out" && is_chassis_resident("vm1")) => (eth.src = 30:54:00:00:00:11; reg1 = 172.16.0.50; next;)
            lr_in_gw_redirect 50 (outport == "out") => (outport = "cr-out"; next;)
            lr_in_unsnat 100 (ip && ip4.dst == 172.16.0.1 && inport == "out" && flags.loopback == 0 && is_chassis_resident("cr-out")) => (ct_snat_in_czone;)
            lr_in_unsnat 100 (ip && ip4.dst == 172.16.0.1 && inport == "out" && flags.loopback == 1 && flags.use_snat_zone == 1 && is_chassis_resident("cr-out")) => (ct_snat;)
            lr_in_unsnat 100 (ip && ip4.dst == 172.16.0.50 && inport == "out" && flags.loopback == 0) => (ct_snat_in_czone;)
            lr_in_unsnat 100 (ip && ip4.dst == 172.16.0.50 && inport == "out" && flags.loopback == 1 && flags.use_snat_zone == 1) => (ct_snat;)
            lr_out_chk_dnat_local 50 (ip && ct_mark.natted == 1) => (reg9[4] = 1; next;)
            lr_out_chk_dnat_local 50 (ip && ip4.dst == 172.16.0.1 && is_chassis_resident("cr-out")) => (reg9[4] = 1; next;)
            lr_out_chk_dnat_local 50 (ip && ip4.dst == 172.16.0.50 && is_chassis_resident("vm1")) => (reg9[4] = 1; next;)
            lr_out_egr_loop 100 (ip4.dst == 172.16.0.1 && outport == "out" && is_chassis_resident("cr-out")) => (clone { ct_clear; inport = outport; outport = ""; eth.dst <-> eth.src; flags = 0; flags.loopback = 1; flags.use_snat_zone = reg9[4]; reg0 = 0; reg1 = 0; reg2 = 0; reg3 = 0; reg4 = 0; reg5 = 0; reg6 = 0; reg7 = 0; reg8 = 0; reg9 = 0; reg9[0] = 1; next(pipeline=ingress, table=0); };)
            lr_out_egr_loop 100 (ip4.dst == 172.16.0.50 && outport == "out" && is_chassis_resident("vm1")) => (clone { ct_clear; inport = outport; outport = ""; eth.dst <-> eth.src; flags = 0; flags.loopback = 1; flags.use_snat_zone = reg9[4]; reg0 = 0; reg1 = 0; reg2 = 0; reg3 = 0; reg4 = 0; reg5 = 0; reg6 = 0; reg7 = 0; reg8 = 0; reg9 = 0; reg9[0] = 1; next(pipeline=ingress, table=0); };)
            lr_out_snat 120 (nd_ns) => (next;)
            lr_out_snat 153 (ip && ip4.src == 10.0.0.0/24 && outport == "out" && is_chassis_resident("cr-out")) => (ct_snat_in_czone(172.16.0.1);)
            lr_out_snat 154 (ip && ip4.src == 10.0.0.0/24 && outport == "out" && is_chassis_resident("cr-out") && reg9[4] == 1) => (reg9[4] = 0; ct_snat(172.16.0.1);)
            lr_out_snat 161 (ip && ip4.src == 10.0.0.11 && outport == "out" && is_chassis_resident("vm1")) => (eth.src = 30:54:00:00:00:11; ct_snat_in_czone(172.16.0.50);)
            lr_out_snat 162 (ip && ip4.src == 10.0.0.11 && outport == "out" && is_chassis_resident("vm1") && reg9[4] == 1) => (eth.src = 30:54:00:00:00:11; reg9[4] = 0; ct_snat(172.16.0.50);)
            lr_out_undnat 100 (ip && ip4.src == 10.0.0.11 && outport == "out") => (eth.src = 30:54:00:00:00:11; ct_dnat_in_czone;)
        "#]].assert_eq(&text);
    }

    /// A `dnat_force_snat_ip` that is not addresses is named and ignored;
    /// a floating IP with a bad external MAC is left out whole.
    #[test]
    fn bad_values_are_reported_and_left_out() {
        let nats = r#"
            "00000000-0000-0000-0000-000000000061": {"initial": {"type": "dnat_and_snat",
                "external_ip": "172.16.0.50", "logical_ip": "10.0.0.11", "logical_port": "vm1",
                "external_mac": "zz"}}"#;
        let lr0 = r#", "options": ["map", [["dnat_force_snat_ip", "junk"]]]"#;
        let (text, diags) = nat_flows(&nb(true, lr0, nats), STAGES);
        expect![[r#"
            lr_in_gw_redirect 50 (outport == "out") => (outport = "cr-out"; next;)
            lr_out_chk_dnat_local 50 (ip && ct_mark.natted == 1) => (reg9[4] = 1; next;)
            lr_out_snat 120 (nd_ns) => (next;)
        "#]]
        .assert_eq(&text);
        expect![[r#"
            [
                "NAT 00000000-0000-0000-0000-000000000061: external_mac 'zz': invalid MAC for a distributed floating IP, rule ignored",
            ]
        "#]].assert_debug_eq(&diags);
        let lr0 = r#", "options": ["map", [["chassis", "hv1"], ["dnat_force_snat_ip", "junk"]]]"#;
        let (_, diags) = nat_flows(&nb(false, lr0, ""), STAGES);
        expect![[r#"
            [
                "Logical_Router lr0: options:dnat_force_snat_ip 'junk' is not a list of IP addresses, ignored",
            ]
        "#]]
        .assert_debug_eq(&diags);
    }
}
