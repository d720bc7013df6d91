//! A generator of hostile OVN Northbound databases, shared by the property
//! test `tests/fuzz_nb.rs` and the cargo-fuzz target `fuzz/fuzz_targets/
//! nb_compile.rs`: it reads a byte string as a sequence of choices (a
//! byte past the end reads as 0) and builds the NB rows of every table the
//! compiler reads, with values drawn from valid ones, near-valid ones
//! (`10.0.0.300`, `/33`, `00:00:00:00:00:zz`, empty, whitespace, huge and
//! negative numbers, 10 kB strings, unicode) and references to rows that
//! exist or not. It records the values it made malformed on purpose in a
//! column whose malformed values the compiler reports, so that a test can
//! check a diagnostic names their row. It also holds the property checks
//! both run (`check`). It never produces a value of the wrong OVSDB type
//! (the replica would refuse it, not the compiler).

// The benchmarks' topology module: its `Insert` rows, `update2` and
// `planned_inserts`, not its `generate`.
#[allow(dead_code)]
#[path = "../../examples/gen_topology/topology.rs"]
pub(crate) mod topology;

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use ovsdb::proto::update::{decode_table_updates, UpdateFormat};
use ovsdb::{DatabaseSchema, Replica};
use serde_json::{json, Map, Value};
use topology::Insert;

/// The fuzzer's bytes read as choices.
pub struct Choices<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Choices<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Choices { data, pos: 0 }
    }

    fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    /// A number in `0..n` (`n` at most 256).
    fn below(&mut self, n: usize) -> usize {
        if n <= 1 {
            return 0;
        }
        self.byte() as usize % n
    }

    /// True about once in `n`.
    fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())].clone()
    }
}

/// One 10 kB string, shared.
fn huge() -> String {
    "x".repeat(10 * 1024)
}

/// Strings of no particular kind: empty, whitespace, numbers of every
/// size and sign, unicode, a 10 kB string, and names of generated rows.
fn junk(c: &mut Choices) -> String {
    match c.below(16) {
        0 => String::new(),
        1 => " ".into(),
        2 => "\t\n".into(),
        3 => "-1".into(),
        4 => "0".into(),
        5 => "4294967296".into(),
        6 => "99999999999999999999999".into(),
        7 => "true".into(),
        8 => "é✓🙂\u{0}".into(),
        9 => huge(),
        10 => ipv4(c),
        11 => mac(c),
        12 => network(c),
        13 => format!("{}", c.byte()),
        14 => format!("lsp{}", c.below(12)),
        _ => format!("lrp{}", c.below(6)),
    }
}

/// A requested tunnel key: small ones that collide, the bounds, or past
/// `max`.
fn key(c: &mut Choices, max: i64) -> String {
    if c.one_in(2) {
        return format!("{}", 1 + c.below(3));
    }
    format!("{}", int_in(c, -1, max))
}

/// IPAM's excluded addresses: lists and ranges, reversed and hostile ones.
fn exclude(c: &mut Choices) -> String {
    match c.below(5) {
        0 => "10.0.0.1..10.0.0.254".into(),
        1 => "10.0.0.9..10.0.0.2".into(),
        2 => format!("{} {}..{}", ipv4(c), ipv4(c), ipv4(c)),
        3 => format!("{}..", ipv4(c)),
        _ => junk(c),
    }
}

fn ipv4(c: &mut Choices) -> String {
    match c.below(8) {
        0 => "10.0.0.300".into(),
        1 => "10.0.0".into(),
        2 => "fd00::1".into(),
        3 => "fd00::zz".into(),
        _ => format!("10.0.{}.{}", c.below(3), c.byte()),
    }
}

fn mac(c: &mut Choices) -> String {
    match c.below(8) {
        0 => "00:00:00:00:00:zz".into(),
        1 => "ff:ff:ff:ff:ff:ff".into(),
        2 => "00:00:00:00:00".into(),
        _ => format!("00:00:00:00:{:02x}:{:02x}", c.below(3), c.byte()),
    }
}

fn network(c: &mut Choices) -> String {
    match c.below(8) {
        0 => "10.0.0.1/33".into(),
        1 => "10.0.0.300/24".into(),
        2 => format!("fd00:{}::1/64", c.below(3)),
        3 => "fd00::1/129".into(),
        4 => format!("10.0.{}.0/{}", c.below(3), c.below(34)),
        _ => format!("10.0.{}.1/24", c.below(3)),
    }
}

/// A malformed value of the given kind, one the compiler reports.
fn bad(c: &mut Choices, kind: &str) -> String {
    match (kind, c.below(4)) {
        ("mac", 0) => "00:00:00:00:00:zz".into(),
        ("mac", 1) => String::new(),
        ("mac", 2) => "é✓🙂".into(),
        ("mac", _) => huge(),
        ("networks", 0) => "10.0.0.300/24".into(),
        ("networks", 1) => "10.0.0.1/33".into(),
        ("networks", 2) => "fd00::1/129".into(),
        ("networks", _) => " ".into(),
        ("addresses", 0) => "00:00:00:00:00:zz 10.0.0.2".into(),
        ("addresses", 1) => "00:00:00:00:00:01 10.0.0.300".into(),
        ("addresses", 2) => "00:00:00:00:00:01 fd00::zz".into(),
        ("addresses", _) => huge(),
        ("number", 0) => "abc".into(),
        ("number", 1) => String::new(),
        ("number", 2) => "99999999999999999999999".into(),
        ("number", _) => "1.5".into(),
        ("subnet", 0) => "10.0.0.300/24".into(),
        ("subnet", 1) => "10.0.0.0/33".into(),
        ("subnet", 2) => "é✓🙂".into(),
        (_, _) => "10.0.0.0".into(),
    }
}

/// A match expression: valid ones, references to sets and groups that
/// exist or not, and garbage.
fn match_expr(c: &mut Choices) -> String {
    match c.below(14) {
        0 => "ip4".into(),
        1 => format!("inport == \"lsp{}\"", c.below(12)),
        2 => format!("outport == @pg{}", c.below(3)),
        3 => format!("ip4.src == $as{}", c.below(3)),
        4 => format!("ip4.src == $as{}_ip4 && tcp.dst == {}", c.below(3), c.byte()),
        5 => "tcp.dst == 99999".into(),
        6 => "((((".into(),
        7 => "ip4.src == {".into(),
        8 => "1".into(),
        9 => "ip6 && icmp6".into(),
        10 => format!("ip4.dst == {}", network(c)),
        _ => junk(c),
    }
}

/// An OVSDB string map of keys drawn from `keys`, values from `value`.
fn map(c: &mut Choices, keys: &[&str], value: impl Fn(&mut Choices) -> String) -> Value {
    let mut m = BTreeMap::new();
    for _ in 0..c.below(4) {
        let k = c.pick(keys).to_string();
        m.insert(k, value(c));
    }
    json!(["map", m.into_iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>()])
}

fn str_set(mut items: Vec<String>) -> Value {
    items.sort();
    items.dedup();
    json!(["set", items])
}

fn int_in(c: &mut Choices, lo: i64, hi: i64) -> i64 {
    match c.below(4) {
        0 => lo,
        1 => hi,
        _ => lo + (c.byte() as i64 * 131) % (hi - lo + 1),
    }
}

/// A generated NB: its rows, and the rows with a value made malformed on
/// purpose in a column the compiler reports: (table, row name, column).
pub struct Nb {
    pub rows: Vec<Insert>,
    pub malformed: Vec<(&'static str, String, &'static str)>,
}

impl Nb {
    fn add(&mut self, table: &str, name: String, row: Value) {
        self.rows.push(Insert { table: table.to_string(), name, row });
    }
}

/// A reference to the `i`th row named `prefix{i}`, sometimes to a row
/// that does not exist.
fn reference(c: &mut Choices, prefix: &str, n: usize) -> Value {
    if n == 0 || c.one_in(12) {
        return json!(["uuid", "0badc0de-0000-4000-8000-000000000000"]);
    }
    json!(["named-uuid", format!("{prefix}{}", c.below(n))])
}

fn refs(c: &mut Choices, prefix: &str, n: usize, max: usize) -> Value {
    let mut items: Vec<Value> = (0..c.below(max + 1)).map(|_| reference(c, prefix, n)).collect();
    items.sort_by_key(|v| v.to_string());
    items.dedup();
    json!(["set", items])
}

/// A row's `name`: its own unique one (returned as tracked), or a hostile
/// one (empty, a duplicate, unicode, 10 kB).
fn name(c: &mut Choices, own: &str, prefix: &str) -> (String, bool) {
    match c.below(16) {
        0 => (String::new(), false),
        1 => (format!("{prefix}0"), own == format!("{prefix}0")),
        2 => (c.pick(&["é✓🙂", "q\"uote", "back\\", "new\nline"]).to_string(), false),
        3 => (huge(), false),
        _ => (own.to_string(), true),
    }
}

/// The NB the choices describe: up to 3 switches, 2 routers, 12 switch
/// ports, 6 router ports, and a few rows of every other table.
pub fn generate(data: &[u8]) -> Nb {
    let c = &mut Choices::new(data);
    let mut nb = Nb { rows: Vec::new(), malformed: Vec::new() };
    let (n_ls, n_lr, n_lsp, n_lrp) = (1 + c.below(3), c.below(3), c.below(13), c.below(7));
    let (n_acl, n_qos, n_lb, n_nat, n_meter) = (c.below(5), c.below(3), c.below(3), c.below(4), c.below(3));
    let (n_pg, n_as, n_dhcp, n_dns, n_copp) = (c.below(3), c.below(3), c.below(3), c.below(2), c.below(2));
    let (n_route, n_policy, n_hc, n_lbg, n_gw) = (c.below(4), c.below(3), c.below(2), c.below(2), c.below(3));
    let (n_hacg, n_bfd) = (c.below(3), c.below(3));

    if !c.one_in(8) {
        let options = map(
            c,
            &[
                "mac_prefix",
                "svc_monitor_mac",
                "use_ct_inv_match",
                "ignore_lsp_down",
                "max_tunid",
                "northd_probe_interval",
                "use_logical_dp_groups",
                "controller_event",
                "install_ls_lb_from_router",
                "vxlan_mode",
                "bogus",
            ],
            junk,
        );
        nb.add("NB_Global", "nb_global".into(), json!({"nb_cfg": int_in(c, -1, 1 << 40), "options": options}));
    }
    for i in 0..n_lsp {
        let own = format!("lsp{i}");
        let (name, tracked) = name(c, &own, "lsp");
        let mut addresses = Vec::new();
        let entries = if c.one_in(16) { 100 } else { c.below(3) };
        for _ in 0..entries {
            addresses.push(match c.below(8) {
                0 => "unknown".into(),
                1 => "router".into(),
                2 => "dynamic".into(),
                3 => format!("{} dynamic", mac(c)),
                4 => junk(c),
                _ => format!("{} {} {}", mac(c), ipv4(c), ipv4(c)),
            });
        }
        if tracked && c.one_in(4) {
            addresses.push(bad(c, "addresses"));
            nb.malformed.push(("Logical_Switch_Port", name.clone(), "addresses"));
        }
        let mut options = map(
            c,
            &[
                "router-port",
                "nat-addresses",
                "requested-chassis",
                "qos_max_rate",
                "qos_burst",
                "arp_proxy",
                "peer",
                "vlan-passthru",
                "network_name",
                "virtual-ip",
                "virtual-parents",
            ],
            |c| if c.one_in(2) { format!("lrp{}", c.below(7)) } else { junk(c) },
        );
        if tracked && c.one_in(6) {
            options[1].as_array_mut().unwrap().push(json!(["requested-tnl-key", bad(c, "number")]));
            nb.malformed.push(("Logical_Switch_Port", name.clone(), "requested-tnl-key"));
        } else if c.one_in(6) {
            options[1].as_array_mut().unwrap().push(json!(["requested-tnl-key", key(c, 70000)]));
        }
        let mut port_security: Vec<String> = (0..c.below(2)).map(|_| junk(c)).collect();
        if tracked && c.one_in(6) {
            port_security.push(bad(c, "addresses"));
            nb.malformed.push(("Logical_Switch_Port", name.clone(), "port_security"));
        }
        let mut row = json!({
            "name": name,
            "type": c.pick(&["", "", "", "router", "localnet", "localport", "external", "virtual", "vtep", "l2gateway", "bogus"]),
            "addresses": str_set(addresses),
            "port_security": str_set(port_security),
            "options": options,
            "dhcpv4_options": refs(c, "dhcp", n_dhcp, 1),
            "dhcpv6_options": refs(c, "dhcp", n_dhcp, 1),
            "ha_chassis_group": refs(c, "hacg", n_hacg, 1),
        });
        if c.one_in(4) {
            row["parent_name"] = json!(if c.one_in(3) { junk(c) } else { format!("lsp{}", c.below(13)) });
            row["tag_request"] = json!(if c.one_in(2) { c.below(3) as i64 } else { int_in(c, 0, 4095) });
        }
        if c.one_in(4) {
            row["enabled"] = json!(c.one_in(2));
        }
        nb.add("Logical_Switch_Port", own, row);
    }
    for i in 0..n_ls {
        let own = format!("ls{i}");
        let (name, tracked) = name(c, &own, "ls");
        let mut other = map(
            c,
            &[
                "exclude_ips",
                "mac_only",
                "mcast_snoop",
                "mcast_querier",
                "mcast_ip4_src",
                "interconn-ts",
                "dynamic_neigh_routers",
            ],
            |c| match c.below(4) {
                0 => ipv4(c),
                1 => network(c),
                2 => exclude(c),
                _ => junk(c),
            },
        );
        let cells = other[1].as_array_mut().unwrap();
        if tracked && c.one_in(4) {
            cells.push(json!(["subnet", bad(c, "subnet")]));
            nb.malformed.push(("Logical_Switch", name.clone(), "subnet"));
        } else if c.one_in(3) {
            cells.push(json!(["subnet", network(c)]));
        }
        if tracked && c.one_in(6) {
            cells.push(json!(["requested-tnl-key", bad(c, "number")]));
            nb.malformed.push(("Logical_Switch", name.clone(), "requested-tnl-key"));
        } else if c.one_in(6) {
            cells.push(json!(["requested-tnl-key", key(c, 16_777_216)]));
        }
        if tracked && c.one_in(6) {
            cells.push(json!(["ipv6_prefix", bad(c, "networks")]));
            nb.malformed.push(("Logical_Switch", name.clone(), "ipv6_prefix"));
        } else if c.one_in(3) {
            cells.push(json!(["ipv6_prefix", network(c)]));
        }
        cells.sort_by_key(|v| v[0].to_string());
        cells.dedup_by_key(|v| v[0].to_string());
        let row = json!({
            "name": name,
            "ports": refs(c, "lsp", n_lsp, 6),
            "acls": refs(c, "acl", n_acl, 3),
            "qos_rules": refs(c, "qos", n_qos, 2),
            "load_balancer": refs(c, "lb", n_lb, 2),
            "load_balancer_group": refs(c, "lbg", n_lbg, 1),
            "dns_records": refs(c, "dns", n_dns, 1),
            "copp": refs(c, "copp", n_copp, 1),
            "other_config": other,
        });
        nb.add("Logical_Switch", own, row);
    }
    for i in 0..n_lrp {
        let own = format!("lrp{i}");
        let (name, tracked) = name(c, &own, "lrp");
        let mac = if tracked && c.one_in(5) {
            nb.malformed.push(("Logical_Router_Port", name.clone(), "mac"));
            bad(c, "mac")
        } else {
            format!("00:00:00:00:ff:{i:02x}")
        };
        let mut networks: Vec<String> = (0..1 + c.below(2)).map(|_| network(c)).collect();
        if tracked && c.one_in(5) {
            networks.push(bad(c, "networks"));
            nb.malformed.push(("Logical_Router_Port", name.clone(), "networks"));
        }
        networks.sort();
        networks.dedup();
        let mut row = json!({
            "name": name,
            "mac": mac,
            "networks": str_set(networks),
            "gateway_chassis": refs(c, "gw", n_gw, 2),
            "ha_chassis_group": refs(c, "hacg", n_hacg, 1),
            "options": map(c, &["redirect-chassis", "gateway_mtu", "dynamic-routing", "requested-tnl-key", "reside-on-redirect-chassis", "prefix"], junk),
            "ipv6_ra_configs": map(c, &["address_mode", "router_preference", "mtu", "send_periodic", "max_interval", "min_interval", "prefix"], junk),
            "ipv6_prefix": str_set((0..c.below(2)).map(|_| network(c)).collect()),
        });
        if c.one_in(3) {
            row["peer"] = json!(format!("lrp{}", c.below(8)));
        }
        nb.add("Logical_Router_Port", own, row);
    }
    for i in 0..n_lr {
        let own = format!("lr{i}");
        let (name, tracked) = name(c, &own, "lr");
        let mut options = map(
            c,
            &[
                "chassis",
                "always_learn_from_arp_request",
                "dynamic_neigh_routers",
                "lb_force_snat_ip",
                "mcast_relay",
                "snat-ct-zone",
            ],
            junk,
        );
        if tracked && c.one_in(6) {
            options[1].as_array_mut().unwrap().push(json!(["requested-tnl-key", bad(c, "number")]));
            nb.malformed.push(("Logical_Router", name.clone(), "requested-tnl-key"));
        }
        let row = json!({
            "name": name,
            "ports": refs(c, "lrp", n_lrp, 4),
            "static_routes": refs(c, "route", n_route, 3),
            "policies": refs(c, "policy", n_policy, 2),
            "nat": refs(c, "nat", n_nat, 3),
            "load_balancer": refs(c, "lb", n_lb, 2),
            "load_balancer_group": refs(c, "lbg", n_lbg, 1),
            "copp": refs(c, "copp", n_copp, 1),
            "enabled": c.below(3) != 0,
            "options": options,
        });
        nb.add("Logical_Router", own, row);
    }
    for i in 0..n_route {
        let mut row = json!({
            "ip_prefix": if c.one_in(2) { network(c) } else { ipv4(c) },
            "nexthop": if c.one_in(4) { junk(c) } else { ipv4(c) },
            "route_table": if c.one_in(3) { junk(c) } else { String::new() },
            "options": map(c, &["ecmp_symmetric_reply", "origin"], junk),
        });
        if c.one_in(2) {
            row["output_port"] = json!(format!("lrp{}", c.below(8)));
        }
        if c.one_in(3) {
            row["policy"] = json!(c.pick(&["src-ip", "dst-ip"]));
        }
        if c.one_in(2) {
            row["bfd"] = json!(["set", [reference(c, "bfd", n_bfd)]]);
        }
        nb.add("Logical_Router_Static_Route", format!("route{i}"), row);
    }
    // BFD sessions: on router ports or not, to addresses or junk, with
    // the NB status northd may have written (pairs may repeat, which the
    // NB index forbids but a replica holds).
    for i in 0..n_bfd {
        let mut row = json!({
            "logical_port": if c.one_in(4) { junk(c) } else { format!("lrp{}", c.below(8)) },
            "dst_ip": if c.one_in(4) { junk(c) } else { ipv4(c) },
            "options": map(c, &["foo"], junk),
        });
        for (column, lo) in [("min_tx", 1), ("min_rx", 0), ("detect_mult", 1)] {
            if c.one_in(2) {
                row[column] = json!(int_in(c, lo, 100_000));
            }
        }
        if c.one_in(2) {
            row["status"] = json!(c.pick(&["admin_down", "down", "init", "up"]));
        }
        nb.add("BFD", format!("bfd{i}"), row);
    }
    for i in 0..n_policy {
        let row = json!({
            "priority": int_in(c, 0, 32767),
            "match": match_expr(c),
            "action": c.pick(&["allow", "drop", "reroute"]),
            "nexthops": str_set((0..c.below(3)).map(|_| ipv4(c)).collect()),
            "options": map(c, &["pkt_mark"], junk),
        });
        nb.add("Logical_Router_Policy", format!("policy{i}"), row);
    }
    for i in 0..n_acl {
        let mut row = json!({
            "priority": int_in(c, 0, 32767),
            "direction": c.pick(&["from-lport", "to-lport"]),
            "match": match_expr(c),
            "action": c.pick(&["allow", "allow-related", "allow-stateless", "drop", "reject", "pass"]),
            "log": c.one_in(3),
            "label": int_in(c, 0, 4294967295),
            "options": map(c, &["apply-after-lb", "log-related"], junk),
        });
        if c.one_in(3) {
            row["name"] = json!(c.pick(&["acl", "", "é✓🙂"]));
        }
        if c.one_in(3) {
            row["meter"] = json!(format!("meter{}", c.below(4)));
        }
        if c.one_in(3) {
            row["severity"] = json!(c.pick(&["alert", "warning", "notice", "info", "debug"]));
        }
        nb.add("ACL", format!("acl{i}"), row);
    }
    for i in 0..n_qos {
        let mut row = json!({
            "priority": int_in(c, 0, 32767),
            "direction": c.pick(&["from-lport", "to-lport"]),
            "match": match_expr(c),
        });
        if c.one_in(2) {
            row["action"] = json!(["map", [["dscp", int_in(c, 0, 63)]]]);
        }
        if c.one_in(2) {
            row["bandwidth"] =
                json!(["map", [["burst", int_in(c, 1, 4294967295)], ["rate", int_in(c, 1, 4294967295)]]]);
        }
        nb.add("QoS", format!("qos{i}"), row);
    }
    for i in 0..n_pg {
        let row = json!({
            "name": if c.one_in(6) { junk(c) } else { format!("pg{i}") },
            "ports": refs(c, "lsp", n_lsp, 4),
            "acls": refs(c, "acl", n_acl, 2),
        });
        nb.add("Port_Group", format!("pg{i}"), row);
    }
    for i in 0..n_as {
        let row = json!({
            "name": if c.one_in(6) { junk(c) } else { format!("as{i}") },
            "addresses": if c.one_in(8) {
                // A huge set.
                str_set((0..1000).map(|n| format!("10.{}.{}.{}", n >> 16 & 255, n >> 8 & 255, n & 255)).collect())
            } else {
                str_set((0..c.below(4)).map(|_| if c.one_in(2) { ipv4(c) } else { network(c) }).collect())
            },
        });
        nb.add("Address_Set", format!("as{i}"), row);
    }
    for i in 0..n_hc {
        let row = json!({
            "vip": format!("{}:{}", ipv4(c), c.byte()),
            "options": map(c, &["interval", "timeout", "success_count", "failure_count"], junk),
        });
        nb.add("Load_Balancer_Health_Check", format!("hc{i}"), row);
    }
    for i in 0..n_lb {
        let vip = |c: &mut Choices| match c.below(5) {
            0 => ipv4(c),
            1 => format!("[fd00::1]:{}", c.byte()),
            2 => junk(c),
            _ => format!("{}:{}", ipv4(c), int_in(c, -1, 70000)),
        };
        let mut vips = BTreeMap::new();
        for _ in 0..c.below(3) {
            let k = vip(c);
            let v = (0..c.below(3)).map(|_| vip(c)).collect::<Vec<_>>().join(",");
            vips.insert(k, v);
        }
        let mut row = json!({
            "name": junk(c),
            "vips": ["map", vips.into_iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>()],
            "health_check": refs(c, "hc", n_hc, 1),
            "ip_port_mappings": map(c, &["10.0.0.1", "10.0.0.2", "fd00::1"], junk),
            "options": map(c, &["reject", "hairpin_snat_ip", "skip_snat", "affinity_timeout", "neighbor_responder"], junk),
        });
        if c.one_in(2) {
            row["protocol"] = json!(c.pick(&["tcp", "udp", "sctp"]));
        }
        nb.add("Load_Balancer", format!("lb{i}"), row);
    }
    for i in 0..n_lbg {
        nb.add(
            "Load_Balancer_Group",
            format!("lbg{i}"),
            json!({"name": junk(c), "load_balancer": refs(c, "lb", n_lb, 2)}),
        );
    }
    for i in 0..n_nat {
        let mut row = json!({
            "type": c.pick(&["dnat", "snat", "dnat_and_snat"]),
            "external_ip": ipv4(c),
            "logical_ip": if c.one_in(2) { network(c) } else { ipv4(c) },
            "external_port_range": if c.one_in(3) { junk(c) } else { String::new() },
            "options": map(c, &["stateless", "add_route"], junk),
        });
        if c.one_in(2) {
            row["logical_port"] = json!(format!("lsp{}", c.below(13)));
            row["external_mac"] = json!(mac(c));
        }
        nb.add("NAT", format!("nat{i}"), row);
    }
    for i in 0..n_dhcp {
        let row = json!({
            "cidr": if c.one_in(4) { junk(c) } else { network(c) },
            "options": map(c, &["server_id", "server_mac", "lease_time", "router", "dns_server", "mtu", "classless_static_route", "domain_name", "bogus"], junk),
        });
        nb.add("DHCP_Options", format!("dhcp{i}"), row);
    }
    for i in 0..n_dns {
        nb.add("DNS", format!("dns{i}"), json!({"records": map(c, &["vm1", "vm1.ovn.org", "", "é✓🙂"], ipv4)}));
    }
    for i in 0..n_meter {
        let bands: Vec<Value> = (0..1 + c.below(2))
            .map(|b| {
                let name = format!("band{i}_{b}");
                let row =
                    json!({"action": "drop", "rate": int_in(c, 1, 4294967295), "burst_size": int_in(c, 0, 4294967295)});
                nb.add("Meter_Band", name.clone(), row);
                json!(["named-uuid", name])
            })
            .collect();
        let row = json!({
            "name": if c.one_in(6) { junk(c) } else { format!("meter{i}") },
            "unit": c.pick(&["kbps", "pktps"]),
            "bands": ["set", bands],
            "fair": c.one_in(2),
        });
        nb.add("Meter", format!("meter{i}"), row);
    }
    for i in 0..n_copp {
        let meters = map(
            c,
            &["arp", "arp-resolve", "dhcpv4-opts", "icmp4-error", "reject", "svc-monitor", "bfd", "bogus"],
            |c| format!("meter{}", c.below(4)),
        );
        nb.add("Copp", format!("copp{i}"), json!({"name": junk(c), "meters": meters}));
    }
    for i in 0..n_hacg {
        let members: Vec<Value> = (0..c.below(3))
            .map(|m| {
                let name = format!("hac{i}_{m}");
                let row = json!({"chassis_name": junk(c), "priority": int_in(c, 0, 32767)});
                nb.add("HA_Chassis", name.clone(), row);
                json!(["named-uuid", name])
            })
            .collect();
        nb.add(
            "HA_Chassis_Group",
            format!("hacg{i}"),
            json!({"name": format!("hacg{i}"), "ha_chassis": ["set", members]}),
        );
    }
    for i in 0..n_gw {
        let row = json!({"name": format!("gw{i}"), "chassis_name": junk(c), "priority": int_in(c, 0, 32767)});
        nb.add("Gateway_Chassis", format!("gw{i}"), row);
    }
    // The schema's indexes: ovsdb-server refuses two rows of these tables
    // with the same name.
    let mut seen = std::collections::BTreeSet::new();
    for r in &mut nb.rows {
        let indexed = [
            "Copp",
            "Logical_Switch_Port",
            "Address_Set",
            "Port_Group",
            "Load_Balancer_Group",
            "Meter",
            "Logical_Router_Port",
            "Gateway_Chassis",
        ];
        if indexed.contains(&r.table.as_str()) && !seen.insert((r.table.clone(), r.row["name"].to_string())) {
            r.row["name"] = json!(format!("{}-dup", r.name));
        }
    }
    nb.malformed.retain(|(table, row, _)| match *table {
        "Logical_Switch_Port" => in_one(&nb.rows, table, "Logical_Switch", row),
        "Logical_Router_Port" => in_one(&nb.rows, table, "Logical_Router", row),
        _ => true,
    });
    nb
}

/// Whether exactly one row of `parent` lists the row of `table` named
/// `name` (its `name` column) among its `ports`: a port the compiler sees once.
fn in_one(rows: &[Insert], table: &str, parent: &str, name: &str) -> bool {
    let Some(own) = rows.iter().find(|r| r.table == table && r.row["name"] == name) else {
        return false;
    };
    let id = json!(["named-uuid", own.name]);
    let parents =
        rows.iter().filter(|r| r.table == parent && r.row["ports"][1].as_array().is_some_and(|p| p.contains(&id)));
    parents.count() == 1
}

/// The NB (`nb`) or SB schema of `schemas/`, parsed once.
pub fn schema(nb: bool) -> Arc<DatabaseSchema> {
    static SCHEMAS: OnceLock<(Arc<DatabaseSchema>, Arc<DatabaseSchema>)> = OnceLock::new();
    let (n, s) = SCHEMAS.get_or_init(|| {
        let parse = |text: &str| Arc::new(DatabaseSchema::from_json_str(text).unwrap());
        (
            parse(include_str!("../../../../schemas/ovn-nb.ovsschema")),
            parse(include_str!("../../../../schemas/ovn-sb.ovsschema")),
        )
    });
    if nb {
        n.clone()
    } else {
        s.clone()
    }
}

/// A replica of `schema` holding the update2 object `json`.
fn replica_of(schema: &Arc<DatabaseSchema>, json: &Value) -> Replica {
    let mut r = Replica::new(schema.clone());
    let updates =
        decode_table_updates(&json.to_string(), UpdateFormat::Update2, schema).expect("the generated rows decode");
    r.apply(updates).expect("the generated rows apply");
    r
}

/// The NB replica of `nb`, its rows in the order generated, and one with
/// every table's rows in the reverse order.
pub fn replicas(nb: &Nb) -> (Replica, Replica) {
    let schema = schema(true);
    let forward = topology::update2(&nb.rows);
    let mut reverse = Map::new();
    for (table, rows) in forward.as_object().unwrap() {
        let rows: Map<String, Value> =
            rows.as_object().unwrap().iter().rev().map(|(k, v)| (k.clone(), v.clone())).collect();
        reverse.insert(table.clone(), Value::Object(rows));
    }
    (replica_of(&schema, &forward), replica_of(&schema, &Value::Object(reverse)))
}

/// Makes `replica` hold `nb`'s rows, as a monitor's snapshot after a
/// reconnect would (rows with the UUID of a row of `nb` are modified,
/// others inserted or deleted: arbitrary changes).
#[allow(dead_code)] // used by tests/engine.rs, not by the fuzz targets
pub fn replace(replica: &mut Replica, nb: &Nb) {
    let json = topology::update2(&nb.rows).to_string();
    let updates = decode_table_updates(&json, UpdateFormat::Update2, replica.schema()).expect("the rows decode");
    replica.replace(updates).expect("the rows apply");
}

/// The SB replica a northd leaves behind: the rows `plan_sb` inserts into
/// an empty SB for `out`.
pub fn settled_sb(out: &lflow::output::Output) -> Replica {
    let schema = schema(false);
    let plan = lflow::sync::plan_sb(out, &Replica::new(schema.clone()));
    let rows = topology::planned_inserts(plan.ops());
    replica_of(&schema, &topology::update2(&rows))
}

/// Whether every string literal of a match or actions text is closed, as
/// OVN's lexer reads them (a backslash escapes the next character): a name
/// with a quote or a backslash written unescaped leaves one open.
fn strings_closed(text: &str) -> bool {
    let (mut open, mut escaped) = (false, false);
    for ch in text.chars() {
        match (open, escaped, ch) {
            (true, true, _) => escaped = false,
            (true, false, '\\') => escaped = true,
            (_, false, '"') => open = !open,
            _ => {}
        }
    }
    !open
}

fn fingerprint(out: &lflow::output::Output) -> String {
    format!("{:?}\n{:?}\n{:?}", out.sb, out.nb, out.diagnostics)
}

/// Every property of the compiler on the NB the bytes describe: compiling
/// never panics and gives the same output twice and with the rows in
/// reverse order; no SB table holds identical rows; each value made
/// malformed on purpose has a diagnostic naming its row; no logical flow
/// leaves a string literal open (hostile names quoted); planning the
/// output into an empty SB works, and compiling again over the SB that
/// plan makes plans nothing (the translation settles).
pub fn check(data: &[u8]) -> Result<(), String> {
    let nb = generate(data);
    let (forward, reverse) = replicas(&nb);
    let empty = Replica::new(schema(false));
    let out = lflow::compile(&forward, &empty);
    let print = fingerprint(&out);
    if fingerprint(&lflow::compile(&forward, &empty)) != print {
        return Err("two compilations of the same NB differ".into());
    }
    if fingerprint(&lflow::compile(&reverse, &empty)) != print {
        return Err("the NB with its rows in reverse order compiles differently".into());
    }
    let identical = lflow::invariants::identical_rows(&out);
    if let Some(first) = identical.first() {
        return Err(format!("{} identical SB rows, e.g. {first}", identical.len()));
    }
    for (table, row, column) in &nb.malformed {
        if !out.diagnostics.iter().any(|d| d.table == *table && d.row == *row) {
            let diags: Vec<String> = out.diagnostics.iter().map(ToString::to_string).collect();
            return Err(format!("no diagnostic names {table} {row}, malformed in {column}: {diags:?}"));
        }
    }
    for flow in out.rows("Logical_Flow") {
        for column in ["match", "actions"] {
            let text = flow.get(column).and_then(|d| d.as_atom()?.as_str().map(str::to_string)).unwrap_or_default();
            if !strings_closed(&text) {
                return Err(format!("a logical flow's {column} leaves a string open: {text}"));
            }
        }
    }
    let sb = settled_sb(&out);
    let again = lflow::compile(&forward, &sb);
    let plan = lflow::sync::plan_sb(&again, &sb);
    if !plan.is_empty() {
        return Err(format!("the SB holding the output still needs {:?}: {:?}", plan.stats, plan.ops().first()));
    }
    Ok(())
}
