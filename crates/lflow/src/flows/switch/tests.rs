//! Golden tests of the switch pipeline on small NB databases; the
//! conformance scenarios compare whole topologies with the reference.

use std::collections::BTreeMap;

use expect_test::{expect, Expect};

use crate::model::Model;
use crate::output::{Diagnostic, FlowSet};
use crate::stage::{Pipeline, Stage};
use crate::tests::replica;

/// Compiles the switch flows of `nb` (with the SB facts `sb_json`) and
/// returns those of the given stages, one per line as `TABLE PRIORITY
/// (MATCH) => (ACTIONS)`, sorted, and the diagnostics.
pub(super) fn switch_flows_with_sb(nb_json: &str, sb_json: &str, stages: &[Stage]) -> (String, Vec<Diagnostic>) {
    let nb = replica("ovn-nb.ovsschema", nb_json);
    let sb = replica("ovn-sb.ovsschema", sb_json);
    let mut diags = Vec::new();
    let memo = crate::model::memo::PortMemo::of(&nb, &sb);
    let model = Model::build(&nb, &sb, &memo, BTreeMap::new(), &mut diags);
    let mut flows = FlowSet::default();
    super::build(&model, &mut flows, &mut diags);
    let mut lines: Vec<String> = flows
        .iter()
        .filter(|f| stages.contains(&f.stage))
        .map(|f| {
            let dir = if f.stage.pipeline() == Pipeline::Ingress { "in" } else { "out" };
            format!("{dir} {:02} {} ({}) => ({})", f.stage.table(), f.priority, f.match_, f.actions)
        })
        .collect();
    lines.sort();
    lines.dedup();
    (lines.join("\n") + "\n", diags)
}

pub(super) fn switch_flows(nb_json: &str, stages: &[Stage]) -> (String, Vec<Diagnostic>) {
    switch_flows_with_sb(nb_json, "{}", stages)
}

fn check(nb_json: &str, stages: &[Stage], want: Expect) {
    want.assert_eq(&switch_flows(nb_json, stages).0);
}

/// One switch: a VIF, a disabled VIF, a VIF accepting unknown MACs, a
/// learning localnet port and a port to a router with a DNAT rule that
/// has an external MAC.
const ONE_SWITCH: &str = r#"{
    "Logical_Switch": {"00000000-0000-0000-0000-000000000001": {"initial": {"name": "sw0",
        "ports": ["set", [["uuid", "00000000-0000-0000-0000-000000000011"],
                          ["uuid", "00000000-0000-0000-0000-000000000012"],
                          ["uuid", "00000000-0000-0000-0000-000000000013"],
                          ["uuid", "00000000-0000-0000-0000-000000000014"],
                          ["uuid", "00000000-0000-0000-0000-000000000015"]]]}}},
    "Logical_Switch_Port": {
        "00000000-0000-0000-0000-000000000011": {"initial": {"name": "vm1",
            "addresses": "00:00:00:00:00:01 10.0.0.11 fd00::11"}},
        "00000000-0000-0000-0000-000000000012": {"initial": {"name": "off",
            "addresses": "00:00:00:00:00:02 10.0.0.12", "enabled": false}},
        "00000000-0000-0000-0000-000000000013": {"initial": {"name": "unk",
            "addresses": ["set", ["00:00:00:00:00:03 10.0.0.13", "unknown"]]}},
        "00000000-0000-0000-0000-000000000014": {"initial": {"name": "ln", "type": "localnet",
            "addresses": "unknown",
            "options": ["map", [["network_name", "phys"], ["localnet_learn_fdb", "true"]]]}},
        "00000000-0000-0000-0000-000000000015": {"initial": {"name": "sw0-lr0", "type": "router",
            "addresses": "router", "options": ["map", [["router-port", "lr0-sw0"]]]}}
    },
    "Logical_Router": {"00000000-0000-0000-0000-000000000002": {"initial": {"name": "lr0",
        "ports": ["uuid", "00000000-0000-0000-0000-000000000021"],
        "nat": ["uuid", "00000000-0000-0000-0000-000000000031"]}}},
    "Logical_Router_Port": {"00000000-0000-0000-0000-000000000021": {"initial": {"name": "lr0-sw0",
        "mac": "00:00:00:00:ff:01", "networks": "10.0.0.1/24"}}},
    "NAT": {"00000000-0000-0000-0000-000000000031": {"initial": {"type": "dnat_and_snat",
        "external_ip": "172.16.0.10", "logical_ip": "10.0.0.11", "logical_port": "vm1",
        "external_mac": "30:54:00:00:00:11"}}}
}"#;

#[test]
fn admission_and_learning() {
    check(
        ONE_SWITCH,
        &[Stage::LsInCheckPortSec, Stage::LsInLookupFdb, Stage::LsInPutFdb],
        expect![[r#"
            in 00 100 (eth.src[40]) => (drop;)
            in 00 100 (inport == "off") => (reg0[15] = 1; next;)
            in 00 100 (vlan.present) => (drop;)
            in 00 50 (1) => (reg0[15] = check_in_port_sec(); next;)
            in 02 0 (1) => (next;)
            in 02 100 (inport == "ln") => (reg0[11] = lookup_fdb(inport, eth.src); next;)
            in 02 100 (inport == "unk") => (reg0[11] = lookup_fdb(inport, eth.src); next;)
            in 03 0 (1) => (next;)
            in 03 100 (inport == "ln" && reg0[11] == 0) => (put_fdb(inport, eth.src); next;)
            in 03 100 (inport == "unk" && reg0[11] == 0) => (put_fdb(inport, eth.src); next;)
        "#]],
    );
}

#[test]
fn arp_nd_responder() {
    check(
        ONE_SWITCH,
        &[Stage::LsInArpRsp],
        expect![[r#"
        in 19 0 (1) => (next;)
        in 19 100 (arp.tpa == 10.0.0.1 && arp.op == 1 && inport == "sw0-lr0") => (next;)
        in 19 100 (arp.tpa == 10.0.0.11 && arp.op == 1 && inport == "vm1") => (next;)
        in 19 100 (arp.tpa == 10.0.0.12 && arp.op == 1 && inport == "off") => (next;)
        in 19 100 (inport == "ln") => (next;)
        in 19 100 (nd_ns && ip6.dst == {fd00::11, ff02::1:ff00:11} && nd.target == fd00::11 && inport == "vm1") => (next;)
        in 19 100 (nd_ns && ip6.dst == {fe80::200:ff:fe00:ff01, ff02::1:ff00:ff01} && nd.target == fe80::200:ff:fe00:ff01 && inport == "sw0-lr0") => (next;)
        in 19 50 (arp.tpa == 10.0.0.1 && arp.op == 1) => (eth.dst = eth.src; eth.src = 00:00:00:00:ff:01; arp.op = 2; /* ARP reply */ arp.tha = arp.sha; arp.sha = 00:00:00:00:ff:01; arp.tpa = arp.spa; arp.spa = 10.0.0.1; outport = inport; flags.loopback = 1; output;)
        in 19 50 (arp.tpa == 10.0.0.11 && arp.op == 1) => (eth.dst = eth.src; eth.src = 00:00:00:00:00:01; arp.op = 2; /* ARP reply */ arp.tha = arp.sha; arp.sha = 00:00:00:00:00:01; arp.tpa = arp.spa; arp.spa = 10.0.0.11; outport = inport; flags.loopback = 1; output;)
        in 19 50 (arp.tpa == 10.0.0.12 && arp.op == 1) => (eth.dst = eth.src; eth.src = 00:00:00:00:00:02; arp.op = 2; /* ARP reply */ arp.tha = arp.sha; arp.sha = 00:00:00:00:00:02; arp.tpa = arp.spa; arp.spa = 10.0.0.12; outport = inport; flags.loopback = 1; output;)
        in 19 50 (nd_ns && ip6.dst == {fd00::11, ff02::1:ff00:11} && nd.target == fd00::11) => (nd_na { eth.src = 00:00:00:00:00:01; ip6.src = fd00::11; nd.target = fd00::11; nd.tll = 00:00:00:00:00:01; outport = inport; flags.loopback = 1; output; };)
        in 19 50 (nd_ns && ip6.dst == {fe80::200:ff:fe00:ff01, ff02::1:ff00:ff01} && nd.target == fe80::200:ff:fe00:ff01) => (nd_na_router { eth.src = 00:00:00:00:ff:01; ip6.src = fe80::200:ff:fe00:ff01; nd.target = fe80::200:ff:fe00:ff01; nd.tll = 00:00:00:00:ff:01; outport = inport; flags.loopback = 1; output; };)
    "#]],
    );
}

#[test]
fn destination_lookup() {
    check(
        ONE_SWITCH,
        &[Stage::LsInL2Lkup, Stage::LsInL2Unknown, Stage::LsInPreLb, Stage::LsOutPreLb],
        expect![[r#"
        in 05 0 (1) => (next;)
        in 05 110 (eth.dst == $svc_monitor_mac) => (next;)
        in 05 110 (eth.mcast) => (next;)
        in 05 110 (ip && inport == "ln") => (next;)
        in 05 110 (ip && inport == "sw0-lr0") => (next;)
        in 05 110 (nd || nd_rs || nd_ra || mldv1 || mldv2) => (next;)
        in 05 110 (reg0[16] == 1) => (next;)
        in 25 0 (1) => (outport = get_fdb(eth.dst); next;)
        in 25 110 (eth.dst == $svc_monitor_mac && (tcp || icmp || icmp6)) => (handle_svc_check(inport);)
        in 25 50 (eth.dst == 00:00:00:00:00:01) => (outport = "vm1"; output;)
        in 25 50 (eth.dst == 00:00:00:00:00:02) => (drop;)
        in 25 50 (eth.dst == 00:00:00:00:00:03) => (outport = "unk"; output;)
        in 25 50 (eth.dst == 00:00:00:00:ff:01) => (outport = "sw0-lr0"; output;)
        in 25 70 (eth.mcast) => (outport = "_MC_flood"; output;)
        in 25 75 (eth.src == {00:00:00:00:ff:01, 30:54:00:00:00:11} && (arp.op == 1 || rarp.op == 3 || nd_ns)) => (outport = "_MC_flood_l2"; output;)
        in 25 80 (flags[1] == 0 && arp.op == 1 && arp.tpa == 10.0.0.1) => (clone {outport = "sw0-lr0"; output; }; outport = "_MC_flood_l2"; output;)
        in 25 80 (flags[1] == 0 && arp.op == 1 && arp.tpa == 172.16.0.10) => (clone {outport = "sw0-lr0"; output; }; outport = "_MC_flood_l2"; output;)
        in 25 80 (flags[1] == 0 && nd_ns && nd.target == fe80::200:ff:fe00:ff01) => (clone {outport = "sw0-lr0"; output; }; outport = "_MC_flood_l2"; output;)
        in 26 0 (1) => (output;)
        in 26 50 (outport == "none") => (outport = "_MC_unknown"; output;)
        in 26 50 (outport == "off") => (drop;)
        out 01 0 (1) => (next;)
        out 01 110 (eth.mcast) => (next;)
        out 01 110 (eth.src == $svc_monitor_mac) => (next;)
        out 01 110 (ip && outport == "ln") => (ct_clear; next;)
        out 01 110 (ip && outport == "sw0-lr0") => (ct_clear; next;)
        out 01 110 (nd || nd_rs || nd_ra || mldv1 || mldv2) => (next;)
        out 01 110 (reg0[16] == 1) => (next;)
    "#]],
    );
}

/// A virtual port with an unusable virtual-ip, and one with a parent on
/// another switch, are reported and get no binding flow; the rest of the
/// switch is translated.
#[test]
fn bad_virtual_port_options_give_diagnostics() {
    let nb = r#"{
        "Logical_Switch": {
            "00000000-0000-0000-0000-000000000001": {"initial": {"name": "sw0",
                "ports": ["set", [["uuid", "00000000-0000-0000-0000-000000000011"],
                                  ["uuid", "00000000-0000-0000-0000-000000000012"],
                                  ["uuid", "00000000-0000-0000-0000-000000000013"]]]}},
            "00000000-0000-0000-0000-000000000002": {"initial": {"name": "sw1",
                "ports": ["uuid", "00000000-0000-0000-0000-000000000014"]}}},
        "Logical_Switch_Port": {
            "00000000-0000-0000-0000-000000000011": {"initial": {"name": "vm1",
                "addresses": "00:00:00:00:00:01 10.0.0.11"}},
            "00000000-0000-0000-0000-000000000012": {"initial": {"name": "bad-ip", "type": "virtual",
                "options": ["map", [["virtual-ip", "10.0.0.300"], ["virtual-parents", "vm1"]]]}},
            "00000000-0000-0000-0000-000000000013": {"initial": {"name": "far-parent", "type": "virtual",
                "options": ["map", [["virtual-ip", "10.0.0.100"], ["virtual-parents", "vm1,other"]]]}},
            "00000000-0000-0000-0000-000000000014": {"initial": {"name": "other",
                "addresses": "00:00:00:00:01:01 10.1.0.11"}}
        }
    }"#;
    let (flows, diags) = switch_flows(nb, &[Stage::LsInArpRsp]);
    let diags: Vec<String> = diags.iter().map(ToString::to_string).collect();
    assert!(diags.iter().any(|d| d.contains("bad-ip") && d.contains("10.0.0.300")), "{diags:?}");
    assert!(diags.iter().any(|d| d.contains("far-parent") && d.contains("'other'")), "{diags:?}");
    assert!(!flows.contains("bad-ip"), "{flows}");
    assert!(flows.contains(r#"inport == "vm1" && ((arp.op == 1 && arp.spa == 10.0.0.100"#), "{flows}");
    assert!(!flows.contains(r#"inport == "other" && (("#), "{flows}");
    assert!(flows.contains("arp.tpa == 10.0.0.11 && arp.op == 1"), "{flows}");
}

/// QoS queues: a port's ingress is queued before port security, and a
/// localnet port's egress is queued; the ids are those `bindings::queues`
/// gives (kept from SB for `vm1`, 1 for the localnet port, none for a
/// port without QoS options whatever SB says).
#[test]
fn qos_queues_in_port_security() {
    let nb = r#"{
        "Logical_Switch": {"00000000-0000-0000-0000-000000000001": {"initial": {"name": "sw0",
            "ports": ["set", [["uuid", "00000000-0000-0000-0000-000000000011"],
                              ["uuid", "00000000-0000-0000-0000-000000000012"],
                              ["uuid", "00000000-0000-0000-0000-000000000013"]]]}}},
        "Logical_Switch_Port": {
            "00000000-0000-0000-0000-000000000011": {"initial": {"name": "vm1",
                "options": ["map", [["qos_max_rate", "1000"]]]}},
            "00000000-0000-0000-0000-000000000012": {"initial": {"name": "vm2"}},
            "00000000-0000-0000-0000-000000000013": {"initial": {"name": "ln", "type": "localnet",
                "options": ["map", [["network_name", "phys"], ["qos_burst", "10"]]]}}
        }
    }"#;
    let sb = r#"{"Port_Binding": {
        "00000000-0000-0000-0000-0000000000b1": {"initial": {"logical_port": "vm1", "tunnel_key": 1,
            "options": ["map", [["qdisc_queue_id", "7"]]]}},
        "00000000-0000-0000-0000-0000000000b2": {"initial": {"logical_port": "vm2", "tunnel_key": 2,
            "options": ["map", [["qdisc_queue_id", "3"]]]}}}}"#;
    let (flows, _) = switch_flows_with_sb(nb, sb, &[Stage::LsInCheckPortSec, Stage::LsOutApplyPortSec]);
    expect![[r#"
        in 00 100 (eth.src[40]) => (drop;)
        in 00 100 (vlan.present) => (drop;)
        in 00 50 (1) => (reg0[15] = check_in_port_sec(); next;)
        in 00 70 (inport == "ln") => (set_queue(1); reg0[15] = check_in_port_sec(); next;)
        in 00 70 (inport == "vm1") => (set_queue(7); reg0[15] = check_in_port_sec(); next;)
        out 09 0 (1) => (output;)
        out 09 100 (outport == "ln") => (set_queue(1); output;)
        out 09 50 (reg0[15] == 1) => (drop;)
    "#]]
    .assert_eq(&flows);
}

/// QoS rules: marking and metering at the rule's priority in the stages
/// of its direction; burst without rate meters nothing and is reported.
#[test]
fn qos_marking_and_metering() {
    let nb = r#"{
        "Logical_Switch": {"00000000-0000-0000-0000-000000000001": {"initial": {"name": "sw0",
            "qos_rules": ["set", [["uuid", "00000000-0000-0000-0000-000000000041"],
                                  ["uuid", "00000000-0000-0000-0000-000000000042"],
                                  ["uuid", "00000000-0000-0000-0000-000000000043"]]]}}},
        "QoS": {
            "00000000-0000-0000-0000-000000000041": {"initial": {"priority": 100, "direction": "from-lport",
                "match": "ip4", "action": ["map", [["dscp", 10]]],
                "bandwidth": ["map", [["rate", 1000], ["burst", 200]]]}},
            "00000000-0000-0000-0000-000000000042": {"initial": {"priority": 5, "direction": "to-lport",
                "match": "udp", "bandwidth": ["map", [["rate", 7]]]}},
            "00000000-0000-0000-0000-000000000043": {"initial": {"priority": 6, "direction": "to-lport",
                "match": "tcp", "action": ["map", [["dscp", 0]]], "bandwidth": ["map", [["burst", 9]]]}}
        }
    }"#;
    let stages = [Stage::LsInQosMark, Stage::LsInQosMeter, Stage::LsOutQosMark, Stage::LsOutQosMeter];
    let (flows, diags) = switch_flows(nb, &stages);
    expect![[r#"
        in 09 0 (1) => (next;)
        in 09 100 (ip4) => (ip.dscp = 10; next;)
        in 10 0 (1) => (next;)
        in 10 100 (ip4) => (set_meter(1000, 200); next;)
        out 05 0 (1) => (next;)
        out 05 6 (tcp) => (ip.dscp = 0; next;)
        out 06 0 (1) => (next;)
        out 06 5 (udp) => (set_meter(7); next;)
    "#]]
    .assert_eq(&flows);
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert!(diags[0].row.ends_with("43") && diags[0].message.contains("burst"), "{diags:?}");
}
