//! A generated OVN Northbound topology for benchmarks, and its two JSON
//! forms: the rows of one `transact` (references as `named-uuid`) and an
//! update2 `<table-updates2>` object (references as fixed `uuid`s) that a
//! replica applies directly. Shared by `examples/gen_topology` (which feeds
//! `scripts/bench-northd`) and `benches/compile.rs`, so both measure the
//! same network.
//!
//! The topology is switching, routing, ACLs on port groups (the shape of
//! OpenStack security groups) and one load balancer group on every switch
//! and router (the shape of Kubernetes services); no NAT. It must never
//! depend on anything but its size argument (no randomness, no clock).

use std::collections::HashMap;

use ovsdb::Operation;
use serde_json::{json, Value};

/// VIF ports on each logical switch.
pub const PORTS_PER_SWITCH: usize = 50;
/// Logical switches each logical router joins.
pub const SWITCHES_PER_ROUTER: usize = 10;
/// Load balancers in the group every switch and router uses.
pub const SERVICES: usize = 20;
/// Backends of each load balancer.
pub const BACKENDS: usize = 3;

/// One row to insert: its table, the name other rows refer to it by
/// (`["named-uuid", name]`), and its columns in OVSDB JSON.
pub struct Insert {
    pub table: String,
    pub name: String,
    pub row: Value,
}

impl Insert {
    /// A row of `table` named `name` (made an `<id>`: dashes become underscores).
    pub fn new(table: &str, name: String, row: Value) -> Insert {
        Insert { table: table.to_string(), name: ident(&name), row }
    }
}

/// `name` as an OVSDB `<id>` (letters, digits, underscores).
fn ident(name: &str) -> String {
    name.replace('-', "_")
}

/// A reference to the row inserted under `name`.
pub fn named(name: &str) -> Value {
    json!(["named-uuid", ident(name)])
}

/// An OVSDB set of `items`.
pub fn set(items: Vec<Value>) -> Value {
    json!(["set", items])
}

/// `10.A.B` for switch `s`: its /24.
fn subnet(s: usize) -> String {
    format!("10.{}.{}", (s >> 8) & 255, s & 255)
}

/// The NB of `switches` logical switches with `PORTS_PER_SWITCH` VIF ports
/// each (MAC+IP addresses and port security), one logical router per
/// `SWITCHES_PER_ROUTER` switches joining them through router ports, with a
/// static route per switch plus a default route; one port group per router
/// (the first five VIFs of each of its switches) and one address set per
/// switch (its VIFs' IPs). Each port group has ACLs like a security
/// group's: allow-related SSH from each of its router's switches' address
/// sets, ICMP and everything outgoing, and a drop of the rest in both
/// directions (14 ACLs for a router of 10 switches). One load balancer
/// group of `SERVICES` TCP load balancers (VIP `172.30.0.N:80`, `BACKENDS`
/// VIFs of different switches on port 8080) is applied to every switch and
/// router. `NB_Global.nb_cfg` is 1, so a northd that finished its first
/// pass writes `sb_cfg` 1. Switch numbers go up to 65,535.
pub fn generate(switches: usize) -> Vec<Insert> {
    let mut rows = vec![Insert::new("NB_Global", "nb_global".into(), json!({"nb_cfg": 1}))];
    let mut lbs = Vec::new();
    for n in 0..SERVICES {
        let backends: Vec<String> = (0..BACKENDS)
            .map(|b| {
                let s = (n * BACKENDS + b) % switches.max(1);
                format!("{}.{}:8080", subnet(s), 10 + n % PORTS_PER_SWITCH)
            })
            .collect();
        let name = format!("svc{n:02}");
        lbs.push(named(&name));
        let vips = json!(["map", [[format!("172.30.0.{}:80", n + 1), backends.join(",")]]]);
        rows.push(Insert::new("Load_Balancer", name.clone(), json!({"name": name, "protocol": "tcp", "vips": vips})));
    }
    rows.push(Insert::new(
        "Load_Balancer_Group",
        "services".into(),
        json!({"name": "services", "load_balancer": set(lbs)}),
    ));
    let routers = switches.div_ceil(SWITCHES_PER_ROUTER);
    for r in 0..routers {
        let first = r * SWITCHES_PER_ROUTER;
        let last = (first + SWITCHES_PER_ROUTER).min(switches);
        let (mut lrps, mut routes, mut pg_ports) = (Vec::new(), Vec::new(), Vec::new());
        for s in first..last {
            let net = subnet(s);
            let mut ports = Vec::new();
            let mut ips = Vec::new();
            for p in 0..PORTS_PER_SWITCH {
                let name = format!("ls{s:04}-vm{p:02}");
                let addr = format!("0a:00:{:02x}:{:02x}:00:{p:02x} {net}.{}", s >> 8 & 255, s & 255, 10 + p);
                ips.push(json!(format!("{net}.{}", 10 + p)));
                ports.push(named(&name));
                if p < 5 {
                    pg_ports.push(named(&name));
                }
                let row = json!({"name": name, "addresses": addr, "port_security": addr});
                rows.push(Insert::new("Logical_Switch_Port", name, row));
            }
            let lrp = format!("lr{r:03}-ls{s:04}");
            let to_router = format!("ls{s:04}-lr{r:03}");
            let row = json!({"name": to_router, "type": "router", "addresses": "router",
                             "options": ["map", [["router-port", lrp]]]});
            ports.push(named(&to_router));
            rows.push(Insert::new("Logical_Switch_Port", to_router, row));
            let ls = format!("ls{s:04}");
            let row = json!({"name": ls, "ports": set(ports), "load_balancer_group": named("services")});
            rows.push(Insert::new("Logical_Switch", ls.clone(), row));
            rows.push(Insert::new(
                "Address_Set",
                format!("as{s:04}"),
                json!({"name": format!("as_ls{s:04}"), "addresses": set(ips)}),
            ));
            let mac = format!("02:00:00:{:02x}:{:02x}:01", s >> 8 & 255, s & 255);
            let row = json!({"name": lrp, "mac": mac, "networks": format!("{net}.1/24")});
            lrps.push(named(&lrp));
            rows.push(Insert::new("Logical_Router_Port", lrp, row));
            let route = format!("route{s:04}");
            let prefix = format!("172.{}.{}.0/24", 16 + (s >> 8 & 15), s & 255);
            routes.push(named(&route));
            rows.push(Insert::new(
                "Logical_Router_Static_Route",
                route,
                json!({"ip_prefix": prefix, "nexthop": format!("{net}.254")}),
            ));
        }
        let default = format!("default{r:03}");
        routes.push(named(&default));
        let nexthop = format!("{}.254", subnet(first));
        rows.push(Insert::new(
            "Logical_Router_Static_Route",
            default,
            json!({"ip_prefix": "0.0.0.0/0", "nexthop": nexthop}),
        ));
        let lr = format!("lr{r:03}");
        rows.push(Insert::new(
            "Logical_Router",
            lr.clone(),
            json!({"name": lr, "ports": set(lrps), "static_routes": set(routes),
                   "load_balancer_group": named("services")}),
        ));
        let pg = format!("pg_lr{r:03}");
        let mut acls = Vec::new();
        let mut acl = |name: String, direction: &str, priority: u16, match_: String, action: &str| {
            acls.push(named(&name));
            let row = json!({"direction": direction, "priority": priority, "match": match_, "action": action});
            rows.push(Insert::new("ACL", name, row));
        };
        for s in first..last {
            let m = format!("outport == @{pg} && ip4 && ip4.src == $as_ls{s:04} && tcp.dst == 22");
            acl(format!("acl{r:03}_ssh{s:04}"), "to-lport", 1002, m, "allow-related");
        }
        acl(format!("acl{r:03}_icmp"), "to-lport", 1001, format!("outport == @{pg} && icmp4"), "allow-related");
        acl(format!("acl{r:03}_out"), "from-lport", 1001, format!("inport == @{pg} && ip4"), "allow-related");
        acl(format!("acl{r:03}_to_drop"), "to-lport", 1000, format!("outport == @{pg} && ip"), "drop");
        acl(format!("acl{r:03}_from_drop"), "from-lport", 1000, format!("inport == @{pg} && ip"), "drop");
        rows.push(Insert::new(
            "Port_Group",
            format!("pg{r:03}"),
            json!({"name": pg, "ports": set(pg_ports), "acls": set(acls)}),
        ));
    }
    rows
}

/// A fixed UUID for the `n`th row.
fn uuid(n: usize) -> String {
    format!("00000000-0000-4000-8000-{n:012x}")
}

/// Replaces every `["named-uuid", name]` in `value` with `["uuid", ids[name]]`;
/// names not in `ids` stay as they are.
fn resolve(value: &mut Value, ids: &HashMap<&str, String>) {
    match value {
        Value::Array(items) => {
            if let [Value::String(tag), Value::String(name)] = items.as_slice() {
                if tag == "named-uuid" {
                    if let Some(id) = ids.get(name.as_str()) {
                        *value = json!(["uuid", id]);
                    }
                    return;
                }
            }
            items.iter_mut().for_each(|v| resolve(v, ids));
        }
        Value::Object(map) => map.values_mut().for_each(|v| resolve(v, ids)),
        _ => {}
    }
}

/// The rows as an update2 `<table-updates2>` object of `initial` rows, each
/// given a fixed UUID and its references resolved to them.
pub fn update2(rows: &[Insert]) -> Value {
    let ids: HashMap<&str, String> = rows.iter().enumerate().map(|(i, r)| (r.name.as_str(), uuid(i))).collect();
    let mut tables = serde_json::Map::new();
    for row in rows {
        let mut cells = row.row.clone();
        resolve(&mut cells, &ids);
        let table = tables.entry(row.table.clone()).or_insert_with(|| json!({}));
        table[ids[row.name.as_str()].as_str()] = json!({ "initial": cells });
    }
    Value::Object(tables)
}

/// The rows a plan against an empty SB inserts (it only inserts), as
/// `Insert`s under their `uuid-name`s: with `update2`, the SB a northd
/// leaves behind. Used by the compile benchmark and the NB fuzz tests.
pub fn planned_inserts(plan: &[Operation]) -> Vec<Insert> {
    plan.iter()
        .enumerate()
        .map(|(i, op)| {
            assert!(matches!(op, Operation::Insert { .. }), "a plan against an empty SB only inserts: {op:?}");
            let mut v = serde_json::to_value(op).unwrap();
            let name = v["uuid-name"].as_str().map_or_else(|| format!("row{i}"), str::to_string);
            Insert { table: v["table"].as_str().unwrap().to_string(), name, row: v["row"].take() }
        })
        .collect()
}
