//! Router flows on small NB snapshots built in memory: golden routing
//! tables and the diagnostics of NB rows that cannot be translated.

use std::collections::{BTreeMap, BTreeSet};

use expect_test::{expect, Expect};
use ovsdb::{Atom, Replica};

use crate::model::Model;
use crate::output::{Diagnostic, FlowSet};
use crate::tests::replica;

/// A router `lr0` with ports `a` (10.0.0.1/24, fd00::1/64) and `b`
/// (172.16.0.1/24), plus the given extra rows (JSON members of the
/// update) and extra `lr0` columns.
fn nb(lr0_extra: &str, rows: &str) -> Replica {
    replica(
        "ovn-nb.ovsschema",
        &format!(
            r#"{{
            "Logical_Router": {{"00000000-0000-0000-0000-0000000000a0": {{"initial": {{"name": "lr0",
                "ports": ["set", [["uuid", "00000000-0000-0000-0000-0000000000a1"], ["uuid", "00000000-0000-0000-0000-0000000000a2"]]]
                {lr0_extra}}}}}}},
            "Logical_Router_Port": {{
                "00000000-0000-0000-0000-0000000000a1": {{"initial": {{"name": "a", "mac": "00:00:00:00:ff:01",
                    "networks": ["set", ["10.0.0.1/24", "fd00::1/64"]]}}}},
                "00000000-0000-0000-0000-0000000000a2": {{"initial": {{"name": "b", "mac": "00:00:00:00:ff:02",
                    "networks": "172.16.0.1/24"}}}}
            }}
            {rows}
        }}"#
        ),
    )
}

/// The router flows of the given stages (by name prefix), one line each,
/// sorted, and the diagnostics.
fn flows(nb: &Replica, stages: &[&str]) -> (String, Vec<Diagnostic>) {
    flows_with_sb(nb, &replica("ovn-sb.ovsschema", "{}"), stages)
}

fn flows_with_sb(nb: &Replica, sb: &Replica, stages: &[&str]) -> (String, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let memo = crate::model::memo::PortMemo::of(nb, sb);
    let m = Model::build(nb, sb, &memo, BTreeMap::new(), &mut diags);
    let mut f = FlowSet::default();
    super::build(&m, &mut f, &mut diags);
    let mut lines: Vec<String> = f
        .iter()
        .filter(|l| stages.iter().any(|s| l.stage.name().starts_with(s)))
        .map(|l| format!("{} {} ({}) => ({})", l.stage.name(), l.priority, l.match_, l.actions))
        .collect();
    lines.sort();
    lines.dedup();
    (lines.join("\n") + "\n", diags)
}

fn check(nb: &Replica, stages: &[&str], expect: Expect) {
    expect.assert_eq(&flows(nb, stages).0);
}

const ROUTES: &str = r#",
    "Logical_Router_Static_Route": {
        "00000000-0000-0000-0000-0000000000b1": {"initial": {"ip_prefix": "0.0.0.0/0", "nexthop": "172.16.0.253"}},
        "00000000-0000-0000-0000-0000000000b2": {"initial": {"ip_prefix": "0.0.0.0/0", "nexthop": "172.16.0.254"}},
        "00000000-0000-0000-0000-0000000000b3": {"initial": {"ip_prefix": "10.1.0.0/16", "nexthop": "10.0.0.254", "policy": "src-ip"}},
        "00000000-0000-0000-0000-0000000000b4": {"initial": {"ip_prefix": "fd99::/48", "nexthop": "fd00::99"}},
        "00000000-0000-0000-0000-0000000000b5": {"initial": {"ip_prefix": "10.99.0.0/16", "nexthop": "discard"}}
    }"#;

const ROUTE_REFS: &str = r#", "static_routes": ["set", [
    ["uuid", "00000000-0000-0000-0000-0000000000b1"], ["uuid", "00000000-0000-0000-0000-0000000000b2"],
    ["uuid", "00000000-0000-0000-0000-0000000000b3"], ["uuid", "00000000-0000-0000-0000-0000000000b4"],
    ["uuid", "00000000-0000-0000-0000-0000000000b5"]]]"#;

#[test]
fn routing_table_connected_static_ecmp_discard() {
    check(
        &nb(ROUTE_REFS, ROUTES),
        &["lr_in_ip_routing", "lr_in_arp_request"],
        expect![[r#"
            lr_in_arp_request 0 (1) => (output;)
            lr_in_arp_request 100 (eth.dst == 00:00:00:00:00:00 && ip4) => (arp { eth.dst = ff:ff:ff:ff:ff:ff; arp.spa = reg1; arp.tpa = reg0; arp.op = 1; output; };)
            lr_in_arp_request 100 (eth.dst == 00:00:00:00:00:00 && ip6) => (nd_ns { nd.target = xxreg0; output; };)
            lr_in_arp_request 200 (eth.dst == 00:00:00:00:00:00 && ip6 && xxreg0 == fd00::99) => (nd_ns { eth.dst = 33:33:ff:00:00:99; ip6.dst = ff02::1:ff00:99; nd.target = fd00::99; output; };)
            lr_in_ip_routing 0 (1) => (drop;)
            lr_in_ip_routing 1 (reg7 == 0 && ip4.dst == 0.0.0.0/0) => (ip.ttl--; flags.loopback = 1; reg8[0..15] = 1; reg8[16..31] = select(1, 2);)
            lr_in_ip_routing 10550 (nd_rs || nd_ra) => (drop;)
            lr_in_ip_routing 145 (reg7 == 0 && ip6.dst == fd99::/48) => (ip.ttl--; reg8[0..15] = 0; xxreg0 = fd00::99; xxreg1 = fd00::1; eth.src = 00:00:00:00:ff:01; outport = "a"; flags.loopback = 1; next;)
            lr_in_ip_routing 194 (inport == "a" && ip6.dst == fe80::/64) => (ip.ttl--; reg8[0..15] = 0; xxreg0 = ip6.dst; xxreg1 = fe80::200:ff:fe00:ff01; eth.src = 00:00:00:00:ff:01; outport = "a"; flags.loopback = 1; next;)
            lr_in_ip_routing 194 (inport == "b" && ip6.dst == fe80::/64) => (ip.ttl--; reg8[0..15] = 0; xxreg0 = ip6.dst; xxreg1 = fe80::200:ff:fe00:ff02; eth.src = 00:00:00:00:ff:02; outport = "b"; flags.loopback = 1; next;)
            lr_in_ip_routing 194 (ip6.dst == fd00::/64) => (ip.ttl--; reg8[0..15] = 0; xxreg0 = ip6.dst; xxreg1 = fd00::1; eth.src = 00:00:00:00:ff:01; outport = "a"; flags.loopback = 1; next;)
            lr_in_ip_routing 48 (ip4.src == 10.1.0.0/16) => (ip.ttl--; reg8[0..15] = 0; reg0 = 10.0.0.254; reg1 = 10.0.0.1; eth.src = 00:00:00:00:ff:01; outport = "a"; flags.loopback = 1; next;)
            lr_in_ip_routing 49 (reg7 == 0 && ip4.dst == 10.99.0.0/16) => (drop;)
            lr_in_ip_routing 74 (ip4.dst == 10.0.0.0/24) => (ip.ttl--; reg8[0..15] = 0; reg0 = ip4.dst; reg1 = 10.0.0.1; eth.src = 00:00:00:00:ff:01; outport = "a"; flags.loopback = 1; next;)
            lr_in_ip_routing 74 (ip4.dst == 172.16.0.0/24) => (ip.ttl--; reg8[0..15] = 0; reg0 = ip4.dst; reg1 = 172.16.0.1; eth.src = 00:00:00:00:ff:02; outport = "b"; flags.loopback = 1; next;)
            lr_in_ip_routing_ecmp 0 (1) => (drop;)
            lr_in_ip_routing_ecmp 100 (reg8[0..15] == 1 && reg8[16..31] == 1) => (reg0 = 172.16.0.253; reg1 = 172.16.0.1; eth.src = 00:00:00:00:ff:02; outport = "b"; next;)
            lr_in_ip_routing_ecmp 100 (reg8[0..15] == 1 && reg8[16..31] == 2) => (reg0 = 172.16.0.254; reg1 = 172.16.0.1; eth.src = 00:00:00:00:ff:02; outport = "b"; next;)
            lr_in_ip_routing_ecmp 150 (reg8[0..15] == 0) => (next;)
            lr_in_ip_routing_pre 0 (1) => (reg7 = 0; next;)
        "#]],
    );
}

#[test]
fn untranslatable_routes_and_policies_are_reported_and_left_out() {
    let rows = r#",
        "Logical_Router_Static_Route": {
            "00000000-0000-0000-0000-0000000000b1": {"initial": {"ip_prefix": "10.300.0.0/16", "nexthop": "10.0.0.254"}},
            "00000000-0000-0000-0000-0000000000b2": {"initial": {"ip_prefix": "fd99::/64", "nexthop": "10.0.0.254"}},
            "00000000-0000-0000-0000-0000000000b3": {"initial": {"ip_prefix": "10.2.0.0/16", "nexthop": "192.0.2.1"}},
            "00000000-0000-0000-0000-0000000000b4": {"initial": {"ip_prefix": "10.3.0.0/16", "nexthop": "10.0.0.9", "output_port": "nope"}},
            "00000000-0000-0000-0000-0000000000b5": {"initial": {"ip_prefix": "10.4.0.0/16", "nexthop": "10.0.0.9/32"}}
        },
        "Logical_Router_Policy": {
            "00000000-0000-0000-0000-0000000000c1": {"initial": {"priority": 10, "match": "ip4", "action": "reroute",
                "nexthops": ["set", ["172.16.0.7", "fd00::7"]]}},
            "00000000-0000-0000-0000-0000000000c2": {"initial": {"priority": 20, "match": "ip4", "action": "reroute", "nexthops": "192.0.2.7"}}
        }"#;
    let refs = r#", "static_routes": ["set", [
        ["uuid", "00000000-0000-0000-0000-0000000000b1"], ["uuid", "00000000-0000-0000-0000-0000000000b2"],
        ["uuid", "00000000-0000-0000-0000-0000000000b3"], ["uuid", "00000000-0000-0000-0000-0000000000b4"],
        ["uuid", "00000000-0000-0000-0000-0000000000b5"]]],
        "policies": ["set", [["uuid", "00000000-0000-0000-0000-0000000000c1"], ["uuid", "00000000-0000-0000-0000-0000000000c2"]]]"#;
    let (text, diags) = flows(&nb(refs, rows), &["lr_in_ip_routing", "lr_in_policy"]);
    assert!(!text.contains("reg7 == 0"), "no static route may be translated:\n{text}");
    assert!(!text.contains("lr_in_policy 10 ") && !text.contains("lr_in_policy 20 "), "{text}");
    let mut tables: Vec<(&str, String)> = diags.iter().map(|d| (d.table, d.message.clone())).collect();
    tables.sort();
    expect![[r#"
        [
            (
                "Logical_Router_Policy",
                "nexthops of both address families, policy left out",
            ),
            (
                "Logical_Router_Policy",
                "no router port reaches nexthop 192.0.2.7, policy left out",
            ),
            (
                "Logical_Router_Static_Route",
                "bad 'ip_prefix' 10.300.0.0/16, route left out",
            ),
            (
                "Logical_Router_Static_Route",
                "bad 'nexthop' 10.0.0.254 for prefix fd99::/64, route left out",
            ),
            (
                "Logical_Router_Static_Route",
                "bad 'nexthop' 10.0.0.9/32 for prefix 10.4.0.0/16, route left out",
            ),
            (
                "Logical_Router_Static_Route",
                "no router port reaches nexthop 10.0.0.9, route left out",
            ),
            (
                "Logical_Router_Static_Route",
                "no router port reaches nexthop 192.0.2.1, route left out",
            ),
        ]
    "#]]
    .assert_debug_eq(&tables);
}

#[test]
fn always_learn_false_adds_the_ip_lookups() {
    let (text, _) = flows(
        &nb(r#", "options": ["map", [["always_learn_from_arp_request", "false"]]]"#, ""),
        &["lr_in_lookup_neighbor", "lr_in_learn"],
    );
    assert!(text.contains("lr_in_lookup_neighbor 110 (inport == \"a\" && arp.spa == 10.0.0.0/24 && arp.tpa == 10.0.0.1 && arp.op == 1) => (reg9[2] = lookup_arp(inport, arp.spa, arp.sha); reg9[3] = 1; next;)"), "{text}");
    assert!(text.contains("lr_in_learn_neighbor 100 (reg9[2] == 1 || reg9[3] == 0) => (next;)"), "{text}");
    let (text, _) = flows(&nb("", ""), &["lr_in_lookup_neighbor", "lr_in_learn"]);
    assert!(!text.contains("reg9[3]"), "{text}");
}

#[test]
fn json_key_escapes() {
    assert_eq!(super::json_key("lr0-sw0"), "\"lr0-sw0\"");
    assert_eq!(super::json_key("a\"b\\c"), "\"a\\\"b\\\\c\"");
}

#[test]
fn addr_set_braces_only_for_several() {
    assert_eq!(super::addr_set(&["10.0.0.1"]), "10.0.0.1");
    assert_eq!(super::addr_set(&["10.0.0.1", "10.0.5.1"]), "{10.0.0.1, 10.0.5.1}");
}

/// A virtual port's IP resolves to the MAC of the parent that ovn-controller
/// recorded in the SB, and to zeros (keep asking) while there is none.
#[test]
fn virtual_ip_resolves_to_the_claiming_parent() {
    let rows = r#",
        "Logical_Switch": {"00000000-0000-0000-0000-0000000000d0": {"initial": {"name": "sw0", "ports": ["set", [
            ["uuid", "00000000-0000-0000-0000-0000000000d1"], ["uuid", "00000000-0000-0000-0000-0000000000d2"],
            ["uuid", "00000000-0000-0000-0000-0000000000d3"]]]}}},
        "Logical_Switch_Port": {
            "00000000-0000-0000-0000-0000000000d1": {"initial": {"name": "vm1", "addresses": "00:00:00:00:00:11 10.0.0.11"}},
            "00000000-0000-0000-0000-0000000000d2": {"initial": {"name": "vip", "type": "virtual",
                "options": ["map", [["virtual-ip", "10.0.0.100"], ["virtual-parents", "vm1"]]]}},
            "00000000-0000-0000-0000-0000000000d3": {"initial": {"name": "sw0-a", "type": "router", "addresses": "router",
                "options": ["map", [["router-port", "a"]]]}}
        }"#;
    let nb = nb("", rows);
    let (text, _) = flows(&nb, &["lr_in_arp_resolve"]);
    assert!(
        text.contains(r#"(outport == "a" && reg0 == 10.0.0.100) => (eth.dst = 00:00:00:00:00:00; next;)"#),
        "{text}"
    );
    let sb = replica(
        "ovn-sb.ovsschema",
        r#"{"Port_Binding": {"00000000-0000-0000-0000-0000000000e1": {"initial": {"logical_port": "vip", "type": "virtual",
            "virtual_parent": "vm1", "tunnel_key": 2, "datapath": ["uuid", "00000000-0000-0000-0000-0000000000e0"]}}}}"#,
    );
    let (text, _) = flows_with_sb(&nb, &sb, &["lr_in_arp_resolve"]);
    assert!(
        text.contains(r#"(outport == "a" && reg0 == 10.0.0.100) => (eth.dst = 00:00:00:00:00:11; next;)"#),
        "{text}"
    );
    assert!(
        text.contains(r#"(outport == "a" && reg0 == 10.0.0.11) => (eth.dst = 00:00:00:00:00:11; next;)"#),
        "{text}"
    );
}

/// A router with `enabled=false` is left out of SB with its ports and
/// everything naming them; the switch port to it stays a plain patch port
/// naming its peer, and the other router on the switch does not resolve
/// the disabled router's address.
#[test]
fn disabled_router_leaves_nothing_in_sb() {
    // lr0 (port a on sw0, port b linked to lroff's off-b) and the disabled
    // gateway router lroff (port off on sw0, with a static MAC binding).
    let nb = replica(
        "ovn-nb.ovsschema",
        r#"{
        "Logical_Router": {
            "00000000-0000-0000-0000-0000000000a0": {"initial": {"name": "lr0", "ports": ["set", [
                ["uuid", "00000000-0000-0000-0000-0000000000a1"], ["uuid", "00000000-0000-0000-0000-0000000000a2"]]]}},
            "00000000-0000-0000-0000-0000000000f0": {"initial": {"name": "lroff", "enabled": false,
                "options": ["map", [["chassis", "gw1"]]], "ports": ["set", [
                ["uuid", "00000000-0000-0000-0000-0000000000f1"], ["uuid", "00000000-0000-0000-0000-0000000000f2"]]]}}
        },
        "Logical_Router_Port": {
            "00000000-0000-0000-0000-0000000000a1": {"initial": {"name": "a", "mac": "00:00:00:00:ff:01",
                "networks": "10.0.0.1/24"}},
            "00000000-0000-0000-0000-0000000000a2": {"initial": {"name": "b", "mac": "00:00:00:00:ff:02",
                "networks": "172.16.0.1/24", "peer": "off-b"}},
            "00000000-0000-0000-0000-0000000000f1": {"initial": {"name": "off", "mac": "00:00:00:00:ff:0f",
                "networks": "10.0.0.254/24", "options": ["map", [["mcast_flood", "true"]]]}},
            "00000000-0000-0000-0000-0000000000f2": {"initial": {"name": "off-b", "mac": "00:00:00:00:ff:0e",
                "networks": "172.16.0.254/24", "peer": "b"}}
        },
        "Static_MAC_Binding": {"00000000-0000-0000-0000-0000000000f3": {"initial": {"logical_port": "off",
            "ip": "10.0.0.9", "mac": "00:00:00:00:00:09"}}},
        "Logical_Switch": {"00000000-0000-0000-0000-0000000000d0": {"initial": {"name": "sw0", "ports": ["set", [
            ["uuid", "00000000-0000-0000-0000-0000000000d1"], ["uuid", "00000000-0000-0000-0000-0000000000d2"]]]}}},
        "Logical_Switch_Port": {
            "00000000-0000-0000-0000-0000000000d1": {"initial": {"name": "sw0-a", "type": "router", "addresses": "router",
                "options": ["map", [["router-port", "a"]]]}},
            "00000000-0000-0000-0000-0000000000d2": {"initial": {"name": "sw0-off", "type": "router", "addresses": "router",
                "options": ["map", [["router-port", "off"]]]}}
        }}"#,
    );
    let (text, _) = flows(&nb, &["lr_in_arp_resolve"]);
    assert!(text.contains("lr_in_arp_resolve 0 (1)"), "lr0 has flows:\n{text}");
    assert!(!text.contains("10.0.0.254") && !text.contains("172.16.0.254"), "{text}");
    assert!(!text.contains("\"off"), "no flow of lroff:\n{text}");

    let out = crate::compile(&nb, &replica("ovn-sb.ovsschema", "{}"));
    let binding = |name: &str| {
        out.rows("Port_Binding").iter().find(|r| r.get("logical_port") == Some(&Atom::string(name).into()))
    };
    let names: BTreeSet<String> = out
        .rows("Port_Binding")
        .iter()
        .filter_map(|r| r.get("logical_port")?.as_atom()?.as_str().map(str::to_string))
        .collect();
    assert_eq!(names.into_iter().collect::<Vec<_>>(), ["a", "b", "sw0-a", "sw0-off"]);
    assert_eq!(out.rows("Datapath_Binding").len(), 2);
    assert!(out.rows("Static_MAC_Binding").is_empty());
    assert!(binding("b").unwrap().get("options").is_none(), "b's peer is on the disabled router");
    let sw0_off = binding("sw0-off").unwrap();
    assert_eq!(sw0_off.get("type"), Some(&Atom::string("patch").into()));
    assert_eq!(sw0_off.get("options").unwrap().pairs()[0].1, Atom::string("off"));
    // Every reference names a row that is written.
    let ids: BTreeSet<&str> = out.sb.values().flatten().filter_map(|r| r.id.as_deref()).collect();
    for (table, rows) in &out.sb {
        for row in rows {
            for (column, datum) in &row.cells {
                let atoms = datum.atoms().iter().chain(datum.pairs().iter().flat_map(|(k, v)| [k, v]));
                for a in atoms {
                    if let Atom::NamedUuid(id) = a {
                        assert!(ids.contains(&**id), "{table}.{column} names missing row {id}");
                    }
                }
            }
        }
    }
}

/// ECMP group ids are kept from the SB's routing flows (on the router's
/// datapath or in a datapath group holding it); new groups get the lowest
/// free ids; ids SB cannot have given (0, not a number) are ignored.
#[test]
fn ecmp_group_ids_are_kept_from_sb() {
    let rows = r#",
        "Logical_Router_Static_Route": {
            "00000000-0000-0000-0000-0000000000b1": {"initial": {"ip_prefix": "0.0.0.0/0", "nexthop": "172.16.0.253"}},
            "00000000-0000-0000-0000-0000000000b2": {"initial": {"ip_prefix": "0.0.0.0/0", "nexthop": "172.16.0.254"}},
            "00000000-0000-0000-0000-0000000000b3": {"initial": {"ip_prefix": "10.50.0.0/16", "nexthop": "10.0.0.50"}},
            "00000000-0000-0000-0000-0000000000b4": {"initial": {"ip_prefix": "10.50.0.0/16", "nexthop": "10.0.0.51"}},
            "00000000-0000-0000-0000-0000000000b5": {"initial": {"ip_prefix": "10.60.0.0/16", "nexthop": "10.0.0.60"}},
            "00000000-0000-0000-0000-0000000000b6": {"initial": {"ip_prefix": "10.60.0.0/16", "nexthop": "10.0.0.61"}}
        }"#;
    let refs = r#", "static_routes": ["set", [
        ["uuid", "00000000-0000-0000-0000-0000000000b1"], ["uuid", "00000000-0000-0000-0000-0000000000b2"],
        ["uuid", "00000000-0000-0000-0000-0000000000b3"], ["uuid", "00000000-0000-0000-0000-0000000000b4"],
        ["uuid", "00000000-0000-0000-0000-0000000000b5"], ["uuid", "00000000-0000-0000-0000-0000000000b6"]]]"#;
    let nb = nb(refs, rows);
    let groups = |sb: &Replica| {
        let (text, _) = flows_with_sb(&nb, sb, &["lr_in_ip_routing"]);
        let mut ids: Vec<String> = text
            .lines()
            .filter(|l| l.contains("select("))
            .filter_map(|l| {
                let prefix = l.split(".dst == ").nth(1)?.split(')').next()?;
                let gid = l.split("reg8[0..15] = ").nth(1)?.split(';').next()?;
                Some(format!("{prefix}={gid}"))
            })
            .collect();
        ids.sort();
        // The member flows name the same ids.
        for id in ids.iter().map(|g| g.split('=').nth(1).unwrap()) {
            assert!(text.contains(&format!("reg8[0..15] == {id} && reg8[16..31] == 2")), "{id}:\n{text}");
        }
        ids.join(" ")
    };
    assert_eq!(groups(&replica("ovn-sb.ovsschema", "{}")), "0.0.0.0/0=1 10.50.0.0/16=2 10.60.0.0/16=3");

    // SB: 10.60/16 has id 1 on lr0's datapath, 10.50/16 has id 5 in a
    // datapath group, 0.0.0.0/0 has the impossible id 0.
    let flow = |uuid: &str, m: &str, gid: &str, dp: &str| {
        let prio = if m.ends_with("/0") { 1 } else { 49 };
        format!(
            r#""{uuid}": {{"initial": {{"pipeline": "ingress", "table_id": 13, "priority": {prio}, "match": "{m}",
                "actions": "ip.ttl--; flags.loopback = 1; reg8[0..15] = {gid}; reg8[16..31] = select(1, 2);", {dp}}}}}"#
        )
    };
    let sb = replica(
        "ovn-sb.ovsschema",
        &format!(
            r#"{{
            "Datapath_Binding": {{"00000000-0000-0000-0000-0000000000e0": {{"initial": {{"tunnel_key": 1,
                "external_ids": ["map", [["logical-router", "00000000-0000-0000-0000-0000000000a0"], ["name", "lr0"]]]}}}}}},
            "Logical_DP_Group": {{"00000000-0000-0000-0000-0000000000e9": {{"initial": {{
                "datapaths": ["uuid", "00000000-0000-0000-0000-0000000000e0"]}}}}}},
            "Logical_Flow": {{{}, {}, {}}}
        }}"#,
            flow(
                "00000000-0000-0000-0000-0000000000e1",
                "reg7 == 0 && ip4.dst == 10.60.0.0/16",
                "1",
                r#""logical_datapath": ["uuid", "00000000-0000-0000-0000-0000000000e0"]"#
            ),
            flow(
                "00000000-0000-0000-0000-0000000000e2",
                "reg7 == 0 && ip4.dst == 10.50.0.0/16",
                "5",
                r#""logical_dp_group": ["uuid", "00000000-0000-0000-0000-0000000000e9"]"#
            ),
            flow(
                "00000000-0000-0000-0000-0000000000e3",
                "reg7 == 0 && ip4.dst == 0.0.0.0/0",
                "0",
                r#""logical_datapath": ["uuid", "00000000-0000-0000-0000-0000000000e0"]"#
            ),
        ),
    );
    assert_eq!(groups(&sb), "0.0.0.0/0=2 10.50.0.0/16=5 10.60.0.0/16=1");
}

/// Reroute policies with several next hops are numbered in NB (UUID)
/// order, whatever their priority, counting one that is left out.
#[test]
fn ecmp_policy_ids_follow_uuid_order() {
    let rows = r#",
        "Logical_Router_Policy": {
            "00000000-0000-0000-0000-0000000000c1": {"initial": {"priority": 10, "match": "ip4.src == 10.0.0.11",
                "action": "reroute", "nexthops": ["set", ["172.16.0.7", "172.16.0.8"]]}},
            "00000000-0000-0000-0000-0000000000c2": {"initial": {"priority": 20, "match": "ip4.src == 10.0.0.12",
                "action": "reroute", "nexthops": ["set", ["192.0.2.7", "192.0.2.8"]]}},
            "00000000-0000-0000-0000-0000000000c3": {"initial": {"priority": 30, "match": "ip4.src == 10.0.0.13",
                "action": "reroute", "nexthops": ["set", ["172.16.0.9", "172.16.0.10"]]}},
            "00000000-0000-0000-0000-0000000000c4": {"initial": {"priority": 40, "match": "ip4.src == 10.0.0.14",
                "action": "reroute", "nexthops": "172.16.0.11"}}
        }"#;
    let refs = r#", "policies": ["set", [["uuid", "00000000-0000-0000-0000-0000000000c1"],
        ["uuid", "00000000-0000-0000-0000-0000000000c2"], ["uuid", "00000000-0000-0000-0000-0000000000c3"],
        ["uuid", "00000000-0000-0000-0000-0000000000c4"]]]"#;
    let (text, _) = flows(&nb(refs, rows), &["lr_in_policy"]);
    let selects: Vec<&str> = text.lines().filter(|l| l.contains("select(")).collect();
    expect![[r#"
        [
            "lr_in_policy 10 (ip4.src == 10.0.0.11) => (reg8[0..15] = 1; reg8[16..31] = select(1, 2);)",
            "lr_in_policy 30 (ip4.src == 10.0.0.13) => (reg8[0..15] = 3; reg8[16..31] = select(1, 2);)",
        ]
    "#]]
    .assert_debug_eq(&selects);
}

/// Without SB facts, route groups get the reference's ids: numbered as
/// they form walking the routes in UUID order (at their second member),
/// whatever their prefixes.
#[test]
fn new_ecmp_groups_are_numbered_as_they_form() {
    let rows = r#",
        "Logical_Router_Static_Route": {
            "00000000-0000-0000-0000-0000000000b1": {"initial": {"ip_prefix": "0.0.0.0/0", "nexthop": "172.16.0.253"}},
            "00000000-0000-0000-0000-0000000000b2": {"initial": {"ip_prefix": "10.50.0.0/16", "nexthop": "10.0.0.50"}},
            "00000000-0000-0000-0000-0000000000b3": {"initial": {"ip_prefix": "10.50.0.0/16", "nexthop": "10.0.0.51"}},
            "00000000-0000-0000-0000-0000000000b4": {"initial": {"ip_prefix": "0.0.0.0/0", "nexthop": "172.16.0.254"}}
        }"#;
    let refs = r#", "static_routes": ["set", [
        ["uuid", "00000000-0000-0000-0000-0000000000b1"], ["uuid", "00000000-0000-0000-0000-0000000000b2"],
        ["uuid", "00000000-0000-0000-0000-0000000000b3"], ["uuid", "00000000-0000-0000-0000-0000000000b4"]]]"#;
    let (text, _) = flows(&nb(refs, rows), &["lr_in_ip_routing"]);
    let selects: Vec<&str> = text.lines().filter(|l| l.contains("select(")).collect();
    expect![[r#"
        [
            "lr_in_ip_routing 1 (reg7 == 0 && ip4.dst == 0.0.0.0/0) => (ip.ttl--; flags.loopback = 1; reg8[0..15] = 2; reg8[16..31] = select(1, 2);)",
            "lr_in_ip_routing 49 (reg7 == 0 && ip4.dst == 10.50.0.0/16) => (ip.ttl--; flags.loopback = 1; reg8[0..15] = 1; reg8[16..31] = select(1, 2);)",
        ]
    "#]]
    .assert_debug_eq(&selects);
}

/// `lb0` (10.0.0.100:80 to two backends, skip_snat when `skip`) on lr0.
fn lb_rows(skip: bool) -> String {
    let opts = if skip { r#", "options": ["map", [["skip_snat", "true"]]]"# } else { "" };
    format!(
        r#", "Load_Balancer": {{"00000000-0000-0000-0000-0000000000c1": {{"initial": {{"name": "lb0",
            "protocol": "tcp", "vips": ["map", [["10.0.0.100:80", "10.0.0.11:80,10.0.0.12:80"]]]{opts}}}}}}}"#
    )
}

const LB_REF: &str = r#", "load_balancer": ["uuid", "00000000-0000-0000-0000-0000000000c1"]"#;

/// A gateway router with load balancers un-DNATs replies and commits new
/// connections; with `lb_force_snat_ip=router_ip` it marks them for SNAT
/// (none here: its ports have no peer to SNAT towards) and no longer drops
/// traffic to its own addresses in IP input; a skip_snat load balancer is
/// exempt.
#[test]
fn gateway_router_lb_force_snat_router_ip() {
    let lr0 = format!(r#"{LB_REF}, "options": ["map", [["chassis", "hv1"], ["lb_force_snat_ip", "router_ip"]]]"#);
    let (text, diags) = flows(&nb(&lr0, &lb_rows(false)), &["lr_in_unsnat", "lr_in_dnat", "lr_out"]);
    assert_eq!(diags, []);
    expect![[r#"
        lr_in_dnat 0 (1) => (next;)
        lr_in_dnat 120 (ct.new && !ct.rel && ip4 && ip4.dst == 10.0.0.100 && tcp && tcp.dst == 80) => (flags.force_snat_for_lb = 1; ct_lb_mark(backends=10.0.0.11:80,10.0.0.12:80; force_snat);)
        lr_in_dnat 50 (ct.est && !ct.rel && !ct.new && ct_mark.natted) => (next;)
        lr_in_dnat 50 (ct.rel && !ct.est && !ct.new) => (ct_commit_nat;)
        lr_in_dnat 70 (ct.est && !ct.rel && !ct.new && ct_mark.natted && ct_mark.force_snat == 1) => (flags.force_snat_for_lb = 1; next;)
        lr_in_dnat 70 (ct.est && !ct.rel && !ct.new && ct_mark.natted && ct_mark.skip_snat == 1) => (flags.skip_snat_for_lb = 1; next;)
        lr_in_dnat 70 (ct.rel && !ct.est && !ct.new && ct_mark.force_snat == 1) => (flags.force_snat_for_lb = 1; ct_commit_nat;)
        lr_in_dnat 70 (ct.rel && !ct.est && !ct.new && ct_mark.skip_snat == 1) => (flags.skip_snat_for_lb = 1; ct_commit_nat;)
        lr_in_unsnat 0 (1) => (next;)
        lr_out_chk_dnat_local 0 (1) => (reg9[4] = 0; next;)
        lr_out_delivery 0 (1) => (drop;)
        lr_out_delivery 100 (outport == "a") => (output;)
        lr_out_delivery 100 (outport == "b") => (output;)
        lr_out_egr_loop 0 (1) => (next;)
        lr_out_post_snat 0 (1) => (next;)
        lr_out_post_undnat 0 (1) => (next;)
        lr_out_post_undnat 50 (ip && ct.new) => (ct_commit { } ; next; )
        lr_out_snat 0 (1) => (next;)
        lr_out_snat 120 (nd_ns) => (next;)
        lr_out_undnat 0 (1) => (next;)
        lr_out_undnat 100 (nd || nd_rs || nd_ra) => (next;)
        lr_out_undnat 50 (ip) => (flags.loopback = 1; ct_dnat;)
    "#]].assert_eq(&text);
    let (text, _) = flows(&nb(&lr0, &lb_rows(true)), &["lr_in_ip_input", "lr_in_dnat", "lr_out_snat"]);
    let some: Vec<&str> = text
        .lines()
        .filter(|l| ["lr_in_ip_input 60 ", "lr_in_dnat 120 ", "lr_out_snat 120 "].iter().any(|p| l.starts_with(p)))
        .collect();
    expect![[r#"
        [
            "lr_in_dnat 120 (ct.new && !ct.rel && ip4 && ip4.dst == 10.0.0.100 && tcp && tcp.dst == 80) => (flags.skip_snat_for_lb = 1; ct_lb_mark(backends=10.0.0.11:80,10.0.0.12:80; skip_snat);)",
            "lr_out_snat 120 (flags.skip_snat_for_lb == 1 && ip) => (next;)",
            "lr_out_snat 120 (nd_ns) => (next;)",
        ]
    "#]].assert_debug_eq(&some);
}

/// What cannot be translated is named: an `lb_force_snat_ip` that is not
/// addresses (`router_ip` only means something on a gateway router), and
/// chassis whose conntrack lacks `ct_lb_mark` (no load balancer flows
/// then).
#[test]
fn router_lb_diagnostics() {
    let lr0 = format!(r#"{LB_REF}, "options": ["map", [["lb_force_snat_ip", "router_ip"]]]"#);
    let (text, diags) = flows(&nb(&lr0, &lb_rows(false)), &["lr_in_dnat"]);
    let dnat: Vec<&str> = text.lines().filter(|l| l.starts_with("lr_in_dnat 120 ")).collect();
    expect![[r#"
        [
            "lr_in_dnat 120 (ct.new && !ct.rel && ip4 && ip4.dst == 10.0.0.100 && tcp && tcp.dst == 80) => (ct_lb_mark(backends=10.0.0.11:80,10.0.0.12:80);)",
        ]
    "#]].assert_debug_eq(&dnat);
    expect![[r#"
        [
            Diagnostic {
                table: "Logical_Router",
                row: "lr0",
                message: "options:lb_force_snat_ip 'router_ip' is not a list of IP addresses, ignored",
            },
        ]
    "#]]
    .assert_debug_eq(&diags);
    let sb = replica(
        "ovn-sb.ovsschema",
        r#"{"Chassis": {"00000000-0000-0000-0000-0000000000d1": {"initial": {"name": "hv1", "hostname": "hv1"}}}}"#,
    );
    let (text, diags) = flows_with_sb(&nb(LB_REF, &lb_rows(false)), &sb, &["lr_in_defrag", "lr_in_dnat"]);
    expect![[r#"
        lr_in_defrag 0 (1) => (next;)
        lr_in_dnat 0 (1) => (next;)
    "#]]
    .assert_eq(&text);
    expect![[r#"
        [
            Diagnostic {
                table: "Logical_Router",
                row: "lr0",
                message: "not translated yet: load balancers on routers (chassis without ct-no-masked-label or ovn-ct-lb-related)",
            },
        ]
    "#]].assert_debug_eq(&diags);
}

/// A gateway router forces SNAT to `lb_force_snat_ip` with no load
/// balancer too (as the reference does); with `router_ip`, only ports
/// linked to a peer get it (`a` and `b` have none here), and no router
/// address drops traffic in IP input.
#[test]
fn gateway_router_force_snat_without_lbs() {
    let lr0 = r#", "options": ["map", [["chassis", "hv1"], ["lb_force_snat_ip", "10.0.9.9 fd00::99"]]]"#;
    let (text, diags) = flows(&nb(lr0, ""), &["lr_in_unsnat", "lr_out_snat", "lr_out_undnat"]);
    assert_eq!(diags, []);
    expect![[r#"
        lr_in_unsnat 0 (1) => (next;)
        lr_in_unsnat 110 (ip4 && ip4.dst == 10.0.9.9) => (ct_snat;)
        lr_in_unsnat 110 (ip6 && ip6.dst == fd00::99) => (ct_snat;)
        lr_out_snat 0 (1) => (next;)
        lr_out_snat 100 (flags.force_snat_for_lb == 1 && ip4) => (ct_snat(10.0.9.9);)
        lr_out_snat 100 (flags.force_snat_for_lb == 1 && ip6) => (ct_snat(fd00::99);)
        lr_out_snat 120 (nd_ns) => (next;)
        lr_out_undnat 0 (1) => (next;)
    "#]]
    .assert_eq(&text);
    let lr0 = r#", "options": ["map", [["chassis", "hv1"], ["lb_force_snat_ip", "router_ip"]]]"#;
    let (text, _) = flows(&nb(lr0, ""), &["lr_in_unsnat", "lr_out_snat", "lr_in_ip_input"]);
    let some: Vec<&str> = text.lines().filter(|l| l.contains(" 110 ") || l.starts_with("lr_in_ip_input 60 ")).collect();
    assert_eq!(some, Vec::<&str>::new());
}

/// NAT rules on a router without a gateway apply nowhere, but the router
/// still answers ARP and ND for their external IPs, and its address that
/// an SNAT rule uses is dropped in ARP resolve instead of IP input (as
/// router `lr2` of scenario 38).
#[test]
fn nat_addresses_of_a_router_without_gateway() {
    let nats = r#", "nat": ["set", [["uuid", "00000000-0000-0000-0000-0000000000c1"],
        ["uuid", "00000000-0000-0000-0000-0000000000c2"], ["uuid", "00000000-0000-0000-0000-0000000000c3"]]]"#;
    let rows = r#",
    "NAT": {
        "00000000-0000-0000-0000-0000000000c1": {"initial": {"type": "snat", "external_ip": "172.16.0.1", "logical_ip": "10.0.0.0/24"}},
        "00000000-0000-0000-0000-0000000000c2": {"initial": {"type": "dnat_and_snat", "external_ip": "172.16.0.100", "logical_ip": "10.0.0.5"}},
        "00000000-0000-0000-0000-0000000000c3": {"initial": {"type": "dnat", "external_ip": "fd99::10", "logical_ip": "fd00::10"}}
    }"#;
    let nb = nb(nats, rows);
    let (out, diags) = flows(&nb, &["lr_in_ip_input", "lr_in_arp_resolve"]);
    let out: String = out
        .lines()
        .filter(|l| l.contains(" 2 (") || l.contains(" 60 (") || l.contains(" 90 (arp") || l.contains("nd_na {"))
        .map(|l| format!("{l}\n"))
        .collect();
    expect![[r#"
        lr_in_arp_resolve 2 (ip4.dst == {172.16.0.1}) => (drop;)
        lr_in_ip_input 60 (ip4.dst == {10.0.0.1}) => (drop;)
        lr_in_ip_input 60 (ip6.dst == {fd00::1, fe80::200:ff:fe00:ff01}) => (drop;)
        lr_in_ip_input 60 (ip6.dst == {fe80::200:ff:fe00:ff02}) => (drop;)
        lr_in_ip_input 90 (arp.op == 1 && arp.tpa == 172.16.0.1) => (eth.dst = eth.src; eth.src = xreg0[0..47]; arp.op = 2; /* ARP reply */ arp.tha = arp.sha; arp.sha = xreg0[0..47]; arp.tpa <-> arp.spa; outport = inport; flags.loopback = 1; output;)
        lr_in_ip_input 90 (arp.op == 1 && arp.tpa == 172.16.0.100) => (eth.dst = eth.src; eth.src = xreg0[0..47]; arp.op = 2; /* ARP reply */ arp.tha = arp.sha; arp.sha = xreg0[0..47]; arp.tpa <-> arp.spa; outport = inport; flags.loopback = 1; output;)
        lr_in_ip_input 90 (ip6.dst == {fd99::10, ff02::1:ff00:10} && nd_ns && nd.target == fd99::10) => (nd_na { eth.src = xreg0[0..47]; ip6.src = nd.target; nd.tll = xreg0[0..47]; outport = inport; flags.loopback = 1; output; };)
    "#]].assert_eq(&out);
    let diags: Vec<String> = diags.iter().map(ToString::to_string).collect();
    assert!(diags.iter().any(|d| d.contains("neither options:chassis nor a distributed gateway port")), "{diags:?}");
}

/// On a router whose port `b` is a distributed gateway port (with
/// `gateway_mtu`): each NAT address is answered there only on the gateway
/// chassis (a distributed floating IP only where its logical port resides,
/// with its external MAC) and dropped on other chassis, SNAT return
/// traffic goes on, a floating IP answers packets too big itself, and its
/// address resolves to its external MAC (as lr0 of scenario 19).
#[test]
fn nat_addresses_on_a_distributed_gateway_port() {
    let u = |n: u32| format!("00000000-0000-0000-0000-{n:012x}");
    let nb = replica(
        "ovn-nb.ovsschema",
        &format!(
            r#"{{
            "Logical_Router": {{"{lr}": {{"initial": {{"name": "lr0",
                "ports": ["set", [["uuid", "{a}"], ["uuid", "{b}"]]],
                "nat": ["set", [["uuid", "{n1}"], ["uuid", "{n2}"]]]}}}}}},
            "Logical_Router_Port": {{
                "{a}": {{"initial": {{"name": "a", "mac": "00:00:00:00:ff:01", "networks": "10.0.0.1/24"}}}},
                "{b}": {{"initial": {{"name": "b", "mac": "00:00:00:00:ff:02", "networks": "172.16.0.1/24",
                    "gateway_chassis": ["uuid", "{gc}"], "options": ["map", [["gateway_mtu", "1400"]]]}}}}}},
            "Gateway_Chassis": {{"{gc}": {{"initial": {{"name": "b-gw1", "chassis_name": "gw1", "priority": 1}}}}}},
            "NAT": {{
                "{n1}": {{"initial": {{"type": "snat", "external_ip": "172.16.0.1", "logical_ip": "10.0.0.0/24"}}}},
                "{n2}": {{"initial": {{"type": "dnat_and_snat", "external_ip": "172.16.0.110", "logical_ip": "10.0.0.11",
                    "logical_port": "vm1", "external_mac": "30:54:00:00:00:11"}}}}}}
        }}"#,
            lr = u(0xa0),
            a = u(0xa1),
            b = u(0xa2),
            gc = u(0xa3),
            n1 = u(0xc1),
            n2 = u(0xc2),
        ),
    );
    let (out, _) = flows(&nb, &["lr_in_ip_input", "lr_in_arp_resolve"]);
    // The NAT flows: those naming a NAT address, but the router port's own
    // ARP responder for 172.16.0.1 (which checks arp.spa).
    let nat: String = out
        .lines()
        .filter(|l| l.contains("172.16.0.110") || l.contains("172.16.0.1 ") || l.contains("172.16.0.1)"))
        .filter(|l| !l.contains("arp.spa ==") && !l.contains("icmp4.type == 8"))
        .map(|l| format!("{l}\n"))
        .collect();
    expect![[r#"
        lr_in_arp_resolve 100 (outport == "b" && reg0 == 172.16.0.1) => (eth.dst = 00:00:00:00:ff:02; next;)
        lr_in_arp_resolve 100 (outport == "b" && reg0 == 172.16.0.110) => (eth.dst = 30:54:00:00:00:11; next;)
        lr_in_arp_resolve 150 (inport == "b" && outport == "b" && ip4.dst == 172.16.0.1) => (drop;)
        lr_in_arp_resolve 150 (inport == "b" && outport == "b" && ip4.dst == 172.16.0.110) => (drop;)
        lr_in_ip_input 120 (inport == "b" && ip4.src == 172.16.0.1) => (next;)
        lr_in_ip_input 160 (inport == "b" && reg9[1] && reg9[0] == 0 && ip4 && ip4.dst == 172.16.0.110) => (icmp4_error {reg9[0] = 1; reg9[1] = 0; eth.dst = eth.src; eth.src = 30:54:00:00:00:11; ip4.dst = ip4.src; ip4.src = 172.16.0.110; ip.ttl = 254; icmp4.type = 3; /* Destination Unreachable. */ icmp4.code = 4; /* Frag Needed and DF was Set. */ icmp4.frag_mtu = 1400; outport = "b"; flags.loopback = 1; output; };)
        lr_in_ip_input 90 (arp.op == 1 && arp.tpa == 172.16.0.1) => (eth.dst = eth.src; eth.src = xreg0[0..47]; arp.op = 2; /* ARP reply */ arp.tha = arp.sha; arp.sha = xreg0[0..47]; arp.tpa <-> arp.spa; outport = inport; flags.loopback = 1; output;)
        lr_in_ip_input 90 (arp.op == 1 && arp.tpa == 172.16.0.110) => (eth.dst = eth.src; eth.src = xreg0[0..47]; arp.op = 2; /* ARP reply */ arp.tha = arp.sha; arp.sha = xreg0[0..47]; arp.tpa <-> arp.spa; outport = inport; flags.loopback = 1; output;)
        lr_in_ip_input 91 (inport == "b" && arp.op == 1 && arp.tpa == 172.16.0.1) => (drop;)
        lr_in_ip_input 91 (inport == "b" && arp.op == 1 && arp.tpa == 172.16.0.110) => (drop;)
        lr_in_ip_input 92 (inport == "b" && arp.op == 1 && arp.tpa == 172.16.0.1 && is_chassis_resident("cr-b")) => (eth.dst = eth.src; eth.src = xreg0[0..47]; arp.op = 2; /* ARP reply */ arp.tha = arp.sha; arp.sha = xreg0[0..47]; arp.tpa <-> arp.spa; outport = inport; flags.loopback = 1; output;)
        lr_in_ip_input 92 (inport == "b" && arp.op == 1 && arp.tpa == 172.16.0.110 && is_chassis_resident("vm1")) => (eth.dst = eth.src; eth.src = 30:54:00:00:00:11; arp.op = 2; /* ARP reply */ arp.tha = arp.sha; arp.sha = 30:54:00:00:00:11; arp.tpa <-> arp.spa; outport = inport; flags.loopback = 1; output;)
    "#]].assert_eq(&nat);
}

/// A floating IP with an invalid `external_mac` on a distributed gateway
/// port (scenario 37 had one): the reference rejects the rule, answers ARP
/// for its address on the gateway chassis, and copies the MAC string into
/// the attached switch's ARP flooding flow, which ovn-controller then
/// rejects whole. We reject and report the rule, answer ARP alike, and
/// write the MAC nowhere.
#[test]
fn a_floating_ip_with_an_invalid_mac_is_reported_and_its_mac_written_nowhere() {
    let u = |n: u32| format!("00000000-0000-0000-0000-{n:012x}");
    let nb = replica(
        "ovn-nb.ovsschema",
        &format!(
            r#"{{
            "Logical_Switch": {{"{sw}": {{"initial": {{"name": "pub", "ports": ["set", [["uuid", "{sp}"]]]}}}}}},
            "Logical_Switch_Port": {{"{sp}": {{"initial": {{"name": "pub-lr0", "type": "router", "addresses": "router",
                "options": ["map", [["router-port", "b"]]]}}}}}},
            "Logical_Router": {{"{lr}": {{"initial": {{"name": "lr0", "ports": ["set", [["uuid", "{b}"]]],
                "nat": ["uuid", "{n1}"]}}}}}},
            "Logical_Router_Port": {{"{b}": {{"initial": {{"name": "b", "mac": "00:00:00:00:ff:02",
                "networks": "172.16.0.1/24", "gateway_chassis": ["uuid", "{gc}"]}}}}}},
            "Gateway_Chassis": {{"{gc}": {{"initial": {{"name": "b-gw1", "chassis_name": "gw1", "priority": 1}}}}}},
            "NAT": {{"{n1}": {{"initial": {{"type": "dnat_and_snat", "external_ip": "172.16.0.52",
                "logical_ip": "10.0.0.17", "logical_port": "vm5", "external_mac": "zz"}}}}}}
        }}"#,
            sw = u(0xb0),
            sp = u(0xb1),
            lr = u(0xa0),
            b = u(0xa2),
            gc = u(0xa3),
            n1 = u(0xc1),
        ),
    );
    let out = crate::compile(&nb, &replica("ovn-sb.ovsschema", "{}"));
    let text = |r: &crate::output::DesiredRow, c: &str| {
        r.get(c).and_then(|d| d.as_atom()?.as_str().map(str::to_string)).unwrap_or_default()
    };
    let rows = out.rows("Logical_Flow");
    assert!(rows.iter().all(|r| !text(r, "match").contains("zz") && !text(r, "actions").contains("zz")));
    let arp = |prio: i64, m: &str| {
        rows.iter()
            .any(|r| r.get("priority").and_then(|d| d.as_atom()?.as_integer()) == Some(prio) && text(r, "match") == m)
    };
    assert!(arp(90, "arp.op == 1 && arp.tpa == 172.16.0.52"));
    assert!(arp(92, r#"inport == "b" && arp.op == 1 && arp.tpa == 172.16.0.52 && is_chassis_resident("cr-b")"#));
    assert!(!rows.iter().any(|r| text(r, "actions").contains("172.16.0.52") && text(r, "actions").contains("ct_")));
    let diags: Vec<String> = out.diagnostics.iter().map(ToString::to_string).collect();
    assert!(
        diags.iter().any(|d| d.contains("external_mac 'zz': invalid MAC for a distributed floating IP")),
        "{diags:?}"
    );
}

/// A policy whose match no parser can read is written as the reference
/// writes it (ovn-controller rejects the flow) and named in a diagnostic.
#[test]
fn a_policy_with_an_unreadable_match_is_named() {
    let rows = r#",
        "Logical_Router_Policy": {
            "00000000-0000-0000-0000-0000000000c1": {"initial": {"priority": 10, "match": "ip4.src == 10.0.0.1 &&",
                "action": "drop"}},
            "00000000-0000-0000-0000-0000000000c2": {"initial": {"priority": 20, "match": "ip4", "action": "allow"}}
        }"#;
    let refs = r#", "policies": ["set", [["uuid", "00000000-0000-0000-0000-0000000000c1"],
        ["uuid", "00000000-0000-0000-0000-0000000000c2"]]]"#;
    let (text, diags) = flows(&nb(refs, rows), &["lr_in_policy"]);
    assert!(text.contains("lr_in_policy 10 (ip4.src == 10.0.0.1 &&) => (drop;)"), "{text}");
    let diags: Vec<String> = diags.iter().map(ToString::to_string).collect();
    assert_eq!(
        diags,
        ["Logical_Router_Policy 00000000-0000-0000-0000-0000000000c1: match 'ip4.src == 10.0.0.1 &&': ends with an \
          operator: ovn-controller rejects its flow, the policy has no effect"]
    );
}
