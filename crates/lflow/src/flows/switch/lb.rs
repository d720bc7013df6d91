//! Load balancing on a logical switch (`ovn-northd(8)`, "Logical Switch
//! Datapaths"): pre-LB (ingress 5, egress 1), the per-VIP conntrack
//! flows of pre-stateful (ingress 6), LB affinity check (11), LB (12),
//! LB affinity learn (13), pre-hairpin (14), NAT hairpin (15) and
//! hairpin (16). Every switch gets these stages' fallbacks; a switch with
//! a load balancer VIP (its own or through a group) sends IP traffic to
//! conntrack and load balances new connections to each VIP's active
//! backends. It never builds ACL flows (the ACL stages react to load
//! balancers in their own module) nor a router's load balancing.

use super::{json_key, Switch};
use crate::model::lb::{Endpoint, LoadBalancer, Vip};
use crate::output::Flows;
use crate::stage::Stage;

/// Neighbour discovery and MLD, which never go through conntrack.
const ND_MLD: &str = "nd || nd_rs || nd_ra || mldv1 || mldv2";

pub(super) fn build(sw: &Switch<'_, '_>, flows: &mut Flows) {
    pre_lb_defaults(sw, flows);
    let dp = sw.dp.id;
    for stage in [
        Stage::LsInLbAffCheck,
        Stage::LsInLb,
        Stage::LsInLbAffLearn,
        Stage::LsInPreHairpin,
        Stage::LsInNatHairpin,
        Stage::LsInHairpin,
    ] {
        flows.add(dp, stage, 0, "1", "next;");
    }
    if !sw.has_lb_vip {
        return;
    }
    // Every IP packet goes to conntrack, so that replies from a backend
    // are unDNATed and invalid ones can be dropped.
    flows.add(dp, Stage::LsInPreLb, 100, "ip", "reg0[2] = 1; next;");
    flows.add(dp, Stage::LsOutPreLb, 100, "ip", "reg0[2] = 1; next;");
    hairpin(sw, flows);
    vips(sw, flows);
}

/// The flows of each load balancer's VIPs, each load balancer's a part of
/// the switch's flows (`Flows::part`): the other flows read only whether
/// the switch has a VIP (`Switch::has_lb_vip`).
pub(super) fn vips(sw: &Switch<'_, '_>, flows: &mut Flows) {
    let controller_event = sw.m.option("controller_event").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    for lb in sw.m.lbs_of(sw.dp.id) {
        flows.part(lb.uuid, |flows| {
            for vip in lb.vips.iter() {
                vip_flows(sw, lb, vip, controller_event, flows);
            }
        });
    }
}

/// Pre-LB flows every switch has: multicast, ND/MLD, stateless traffic,
/// service monitor packets, and traffic from routers and localnet ports
/// bypass conntrack; egress to them clears the conntrack state unless
/// stateful ACLs need it.
fn pre_lb_defaults(sw: &Switch<'_, '_>, flows: &mut Flows) {
    let dp = sw.dp.id;
    let next = "next;";
    flows.add(dp, Stage::LsInPreLb, 0, "1", next);
    flows.add(dp, Stage::LsOutPreLb, 0, "1", next);
    for stage in [Stage::LsInPreLb, Stage::LsOutPreLb] {
        flows.add(dp, stage, 110, "eth.mcast", next);
        flows.add(dp, stage, 110, ND_MLD, next);
        flows.add(dp, stage, 110, "reg0[16] == 1", next);
    }
    flows.add(dp, Stage::LsInPreLb, 110, "eth.dst == $svc_monitor_mac", next);
    flows.add(dp, Stage::LsOutPreLb, 110, "eth.src == $svc_monitor_mac", next);
    let egress = if sw.has_stateful_acl { "next;" } else { "ct_clear; next;" };
    let skipped = sw.router_ports().map(|(p, _)| p).chain(sw.ports_of_type("localnet"));
    for p in skipped {
        let key = json_key(p.name());
        flows.add(dp, Stage::LsInPreLb, 110, format!("ip && inport == {key}"), next).hint(p.uuid()).io_port(p.name());
        flows
            .add(dp, Stage::LsOutPreLb, 110, format!("ip && outport == {key}"), egress)
            .hint(p.uuid())
            .io_port(p.name());
    }
}

/// A backend reaching its own VIP is sent back out its port with the
/// source NATed to the VIP (and its replies un-NATed).
fn hairpin(sw: &Switch<'_, '_>, flows: &mut Flows) {
    let dp = sw.dp.id;
    let hint = sw.lb_hint.unwrap_or(sw.dp.uuid);
    flows
        .add(
            dp,
            Stage::LsInPreHairpin,
            100,
            "ip && ct.trk",
            "reg0[6] = chk_lb_hairpin(); reg0[12] = chk_lb_hairpin_reply(); next;",
        )
        .hint(hint);
    flows
        .add(dp, Stage::LsInNatHairpin, 100, "ip && ct.new && ct.trk && reg0[6] == 1", "ct_snat_to_vip; next;")
        .hint(hint);
    flows.add(dp, Stage::LsInNatHairpin, 100, "ip && ct.est && ct.trk && reg0[6] == 1", "ct_snat;").hint(hint);
    flows.add(dp, Stage::LsInNatHairpin, 90, "ip && reg0[12] == 1", "ct_snat;").hint(hint);
    flows.add(
        dp,
        Stage::LsInHairpin,
        1,
        "(reg0[6] == 1 || reg0[12] == 1)",
        "eth.dst <-> eth.src; outport = inport; flags.loopback = 1; output;",
    );
}

/// Where a VIP's original destination is kept for later stages: `reg1`
/// (IPv4) or `xxreg1` (IPv6), the port in `reg2[0..15]`.
fn vip_regs(addr: &Endpoint) -> &'static str {
    if addr.ip.is_ipv4() {
        "reg1"
    } else {
        "xxreg1"
    }
}

/// The flows of one VIP: the empty-backends event (pre-LB), conntrack
/// with the original destination saved (pre-stateful), affinity, and the
/// load balancing of new connections (LB).
fn vip_flows(sw: &Switch<'_, '_>, lb: &LoadBalancer<'_>, vip: &Vip, controller_event: bool, flows: &mut Flows) {
    let dp = sw.dp.id;
    let (addr, proto) = (vip.addr, lb.proto);
    let (family, reg) = (addr.family(), vip_regs(&addr));
    let l4 = |sep: &str| addr.port.map(|p| format!("{sep}{proto}.dst == {p}")).unwrap_or_default();

    if (lb.event || controller_event) && vip.backends.is_empty() && !lb.reject {
        let m = format!("{family}.dst == {} && {proto}{}", addr.ip, l4(" && "));
        let a = format!(
            "trigger_event(event = \"empty_lb_backends\", vip = \"{addr}\", protocol = \"{proto}\", load_balancer = \"{}\");",
            lb.uuid
        );
        flows.add(dp, Stage::LsInPreLb, 130, m, a).hint(lb.uuid);
    }

    let save_port = addr.port.map(|p| format!(" reg2[0..15] = {p};")).unwrap_or_default();
    let m = format!("reg0[2] == 1 && {family}.dst == {}{}", addr.ip, l4(" && "));
    let a = format!("{reg} = {};{save_port} {};", addr.ip, sw.ct.lb);
    flows.add(dp, Stage::LsInPreStateful, 120, m, a).hint(lb.uuid);

    if let Some(timeout) = lb.affinity_timeout {
        affinity(sw, lb, vip, timeout, flows);
    }

    let active: Vec<String> = vip.active_backends().map(|b| b.addr.to_string()).collect();
    let rejects = active.is_empty() && lb.reject;
    let action = if rejects {
        format!(
            "reg0 = 0; reject {{ outport <-> inport; next(pipeline=egress,table={});}};",
            Stage::LsOutQosMark.table()
        )
    } else if active.is_empty() {
        sw.drop.to_string()
    } else if lb.hash_fields.is_empty() {
        format!("reg0[1] = 0; {}(backends={});", sw.ct.lb, active.join(","))
    } else {
        format!("reg0[1] = 0; {}(backends={}; hash_fields=\"{}\");", sw.ct.lb, active.join(","), lb.hash_fields)
    };
    let priority = if addr.port.is_some() { 120 } else { 110 };
    let m = format!("ct.new && {family}.dst == {}{}", addr.ip, l4(" && "));
    flows.add(dp, Stage::LsInLb, priority, m, action).hint(lb.uuid);
}

/// Session affinity: a new connection to the VIP from a client seen within
/// `timeout` seconds goes to the backend it went to then (`chk_lb_aff`);
/// otherwise the chosen backend is learned (`commit_lb_aff`).
fn affinity(sw: &Switch<'_, '_>, lb: &LoadBalancer<'_>, vip: &Vip, timeout: u32, flows: &mut Flows) {
    let dp = sw.dp.id;
    let (addr, proto) = (vip.addr, lb.proto);
    let (family, reg) = (addr.family(), vip_regs(&addr));
    let vip_port_match = addr.port.map(|p| format!(" && reg2[0..15] == {p}")).unwrap_or_default();
    let vip_match = format!("ct.new && {family} && {reg} == {}{vip_port_match}", addr.ip);
    flows.add(dp, Stage::LsInLbAffCheck, 100, vip_match.clone(), "reg9[6] = chk_lb_aff(); next;").hint(lb.uuid);
    let (backend_reg, save_port) = match addr.port {
        Some(p) => (" && reg8[0..15] == ", format!(" reg2[0..15] = {p};")),
        None => ("", String::new()),
    };
    let proto_arg = if addr.port.is_some() { format!(" proto = {proto},") } else { String::new() };
    for b in &vip.backends {
        let ip_reg = if b.addr.ip.is_ipv4() { "reg4" } else { "xxreg0" };
        let port = b.addr.port.map(|p| format!("{backend_reg}{p}")).unwrap_or_default();
        let m = format!("reg9[6] == 1 && ct.new && {family} && {ip_reg} == {}{port}", b.addr.ip);
        let a = format!("reg0[1] = 0; {reg} = {};{save_port} {}(backends={});", addr.ip, sw.ct.lb, b.addr);
        flows.add(dp, Stage::LsInLb, 150, m, a).hint(lb.uuid);

        let l4 = b.addr.port.map(|p| format!(" && {proto}.dst == {p}")).unwrap_or_default();
        let m = format!("reg9[6] == 0 && {vip_match} && {family}.dst == {}{l4}", b.addr.ip);
        let a = format!(
            "commit_lb_aff(vip = \"{addr}\", backend = \"{}\",{proto_arg} timeout = {timeout}); /* drop */",
            b.addr
        );
        flows.add(dp, Stage::LsInLbAffLearn, 100, m, a).hint(lb.uuid);
    }
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::super::tests::switch_flows_with_sb;
    use crate::model::testutil::{named_row, u};
    use crate::stage::Stage;

    /// sw0 with three VIFs behind the backends of `lb0`'s health-checked
    /// VIP 10.0.0.100:80, plus a malformed VIP; `options` are the load
    /// balancer's.
    fn nb(options: &str) -> String {
        let port = |n: u32, name: &str, ip: &str| {
            named_row(n, name, &format!(r#", "addresses": "00:00:00:00:00:{n:02} {ip}""#))
        };
        format!(
            r#"{{"Logical_Switch": {{"{sw}": {{"initial": {{"name": "sw0",
                    "ports": ["set", [["uuid", "{p1}"], ["uuid", "{p2}"], ["uuid", "{p3}"]]],
                    "load_balancer": ["uuid", "{lb}"]}}}}}},
                "Logical_Switch_Port": {{{}, {}, {}}},
                "Load_Balancer": {{"{lb}": {{"initial": {{"name": "lb0", "protocol": "tcp",
                    "vips": ["map", [["10.0.0.100:80", "10.0.0.11:80,10.0.0.12:80,10.0.0.13:80"],
                                     ["10.0.0.101:99999", "10.0.0.11:80"]]],
                    "ip_port_mappings": ["map", [["10.0.0.11", "p1:10.0.0.254"], ["10.0.0.12", "p2:10.0.0.254"],
                                                 ["10.0.0.13", "p3:10.0.0.254"]]],
                    "health_check": ["uuid", "{hc}"], "options": ["map", [{options}]]}}}}}},
                "Load_Balancer_Health_Check": {{"{hc}": {{"initial": {{"vip": "10.0.0.100:80"}}}}}}}}"#,
            port(11, "p1", "10.0.0.11"),
            port(12, "p2", "10.0.0.12"),
            port(13, "p3", "10.0.0.13"),
            sw = u(1),
            p1 = u(11),
            p2 = u(12),
            p3 = u(13),
            lb = u(2),
            hc = u(3),
        )
    }

    /// The hairpin flows all switches with a load balancer share carry the
    /// hint of the first of them in the reference's walk of its datapaths,
    /// as ovn-northd 23.03.1 wrote them for these UUIDs (scenario 16: two
    /// switches with load balancers and a router).
    #[test]
    fn shared_hairpin_flows_have_the_hint_the_reference_gives_them() {
        for (sw0, sw1, lr0, first) in [
            (
                "148c4444-47df-4161-b7e1-624e5fd9a338",
                "4562e4b9-8314-47be-98f6-79b2756475bf",
                "48d6f2e3-3707-4195-9ee8-f9e78105ab7a",
                "148c4444",
            ),
            (
                "0fabb76b-e09e-44ec-b179-905a51656a21",
                "558420d8-3ecb-4807-98ca-9ab5f43d082e",
                "670a3cb4-8f72-4369-8f56-eb9351bd07e5",
                "558420d8",
            ),
            (
                "43aeae82-70d2-4e8c-9a6e-65afc80551bf",
                "233865cd-8c63-4619-9ef2-7ef74239b5e2",
                "d6a2a7b9-75a8-4ff1-b9b5-ea6e320639dc",
                "233865cd",
            ),
        ] {
            let nb = format!(
                r#"{{"Logical_Switch": {{
                        "{sw0}": {{"initial": {{"name": "sw0", "load_balancer": ["uuid", "{lb}"]}}}},
                        "{sw1}": {{"initial": {{"name": "sw1", "load_balancer": ["uuid", "{lb}"]}}}}}},
                    "Logical_Router": {{"{lr0}": {{"initial": {{"name": "lr0"}}}}}},
                    "Load_Balancer": {{"{lb}": {{"initial": {{"name": "lb",
                        "vips": ["map", [["10.0.0.1", "10.0.0.2"]]]}}}}}}}}"#,
                lb = u(9)
            );
            let nb = crate::tests::replica("ovn-nb.ovsschema", &nb);
            let sb = crate::tests::replica("ovn-sb.ovsschema", "{}");
            let mut diags = Vec::new();
            let memo = crate::model::memo::PortMemo::of(&nb, &sb);
            let model = crate::model::Model::build(&nb, &sb, &memo, Default::default(), &mut diags);
            let mut flows = crate::output::FlowSet::default();
            super::super::build(&model, &mut flows, &mut diags);
            let hints: Vec<String> = flows
                .iter()
                .filter(|f| f.stage == Stage::LsInPreHairpin && f.priority == 100)
                .map(|f| f.hint.expect("hinted").simple().to_string()[..8].to_string())
                .collect();
            assert_eq!(hints, [first, first], "{sw0} {sw1}");
        }
    }

    /// The switch's copp meters the empty-backends event and the reject
    /// of a VIP without backends (set by the CoPP pass over the built
    /// flows), when the NB meter exists.
    #[test]
    fn copp_meters_the_event_and_the_reject() {
        let nb = format!(
            r#"{{"NB_Global": {{"{g}": {{"initial": {{"options": ["map", [["controller_event", "true"]]]}}}}}},
                "Logical_Switch": {{"{sw}": {{"initial": {{"name": "sw0", "copp": ["uuid", "{copp}"],
                    "load_balancer": ["set", [["uuid", "{ev}"], ["uuid", "{rej}"]]]}}}}}},
                "Copp": {{"{copp}": {{"initial": {{"name": "c1",
                    "meters": ["map", [["event-elb", "m-elb"], ["reject", "m-gone"]]]}}}}}},
                "Meter": {{"{meter}": {{"initial": {{"name": "m-elb", "unit": "pktps"}}}}}},
                "Load_Balancer": {{
                    "{ev}": {{"initial": {{"name": "ev", "vips": ["map", [["10.0.0.1:80", ""]]]}}}},
                    "{rej}": {{"initial": {{"name": "rej", "vips": ["map", [["10.0.0.2:80", ""]]],
                        "options": ["map", [["reject", "true"]]]}}}}}}}}"#,
            g = u(1),
            sw = u(2),
            copp = u(3),
            meter = u(4),
            ev = u(5),
            rej = u(6),
        );
        let nb = crate::tests::replica("ovn-nb.ovsschema", &nb);
        let sb = crate::tests::replica("ovn-sb.ovsschema", "{}");
        let mut diags = Vec::new();
        let memo = crate::model::memo::PortMemo::of(&nb, &sb);
        let model =
            crate::model::Model::build(&nb, &sb, &memo, crate::global::global_options(&nb, &mut diags).1, &mut diags);
        let mut flows = crate::output::FlowSet::default();
        super::super::build(&model, &mut flows, &mut diags);
        crate::flows::copp::Meters::new(&model, &mut diags).apply(flows.iter_mut());
        let meter_of = |stage: Stage, needle: &str| {
            flows.iter().find(|f| f.stage == stage && f.actions.contains(needle)).map(|f| f.meter.clone())
        };
        assert_eq!(meter_of(Stage::LsInPreLb, "trigger_event"), Some(Some("m-elb".to_string())));
        // The reject's meter names no NB meter: none.
        assert_eq!(meter_of(Stage::LsInLb, "reject"), Some(None));
    }

    /// SB `Service_Monitor` rows of p1, p2 and p3's backends with these
    /// statuses (`None`: no status yet).
    fn sb(status: [Option<&str>; 3]) -> String {
        let rows: Vec<String> = status
            .iter()
            .enumerate()
            .map(|(i, st)| {
                let st = st.map(|s| format!(r#", "status": "{s}""#)).unwrap_or_default();
                format!(
                    r#""{}": {{"initial": {{"ip": "10.0.0.1{n}", "port": 80, "protocol": "tcp",
                        "logical_port": "p{n}", "src_ip": "10.0.0.254"{st}}}}}"#,
                    u(40 + i as u32),
                    n = i + 1
                )
            })
            .collect();
        format!(r#"{{"Service_Monitor": {{{}}}}}"#, rows.join(", "))
    }

    /// A backend whose monitor ovn-controller reports offline (or in
    /// error) leaves the VIP's backends; one not reported yet stays.
    #[test]
    fn offline_backends_leave_the_vip() {
        let (flows, diags) =
            switch_flows_with_sb(&nb(""), &sb([Some("offline"), Some("online"), None]), &[Stage::LsInLb]);
        expect![[r#"
            in 12 0 (1) => (next;)
            in 12 120 (ct.new && ip4.dst == 10.0.0.100 && tcp.dst == 80) => (reg0[1] = 0; ct_lb_mark(backends=10.0.0.12:80,10.0.0.13:80);)
        "#]]
        .assert_eq(&flows);
        let diags: Vec<String> = diags.iter().map(ToString::to_string).collect();
        assert_eq!(diags, ["Load_Balancer lb0: invalid VIP '10.0.0.101:99999', VIP left out"]);
    }

    /// With every backend down the VIP drops new connections, or rejects
    /// them with `options:reject`.
    #[test]
    fn a_vip_with_every_backend_down_drops_or_rejects() {
        let down = sb([Some("offline"), Some("error"), Some("offline")]);
        let (flows, _) = switch_flows_with_sb(&nb(""), &down, &[Stage::LsInLb]);
        assert!(flows.contains("(ct.new && ip4.dst == 10.0.0.100 && tcp.dst == 80) => (drop;)"), "{flows}");
        let (flows, _) = switch_flows_with_sb(&nb(r#"["reject", "true"]"#), &down, &[Stage::LsInLb]);
        assert!(
            flows.contains("=> (reg0 = 0; reject { outport <-> inport; next(pipeline=egress,table=5);};)"),
            "{flows}"
        );
    }
}
