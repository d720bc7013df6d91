//! The engine against full recomputes: sequences of NB databases (and of
//! the SB rows others write, chassis), each reached from the last through
//! the changes a monitor reports; after each, the flows the engine keeps
//! for every datapath (those it built again and those it kept from
//! before) must be a full compilation's, so must the port bindings as it
//! last built them, and the SB port groups and their address sets that
//! changed must be among those it built. A
//! datapath or port group the engine wrongly thought unreached fails it. Two sources of
//! sequences: random NBs (`nbgen`: rows modified in any column, inserted,
//! deleted), and small edits of one topology of switches and routers
//! linked every way the dependency rules know (`Topo`), where a rule
//! missing shows.

// Its property checks serve tests/fuzz_nb.rs.
#[allow(dead_code)]
mod nbgen;

use std::collections::BTreeSet;

use lflow::engine::Engine;
use lflow::shard::Ownership;
use nbgen::topology::Insert;
use ovsdb::proto::update::{decode_table_updates, UpdateFormat};
use ovsdb::Replica;
use proptest::prelude::*;
use serde_json::{json, Value};

/// Runs the engine through the NBs of `steps`; the first datapaths whose
/// flows it got wrong, if any.
fn check(steps: &[Vec<u8>]) -> Result<(), String> {
    check_nbs(steps.iter().map(|data| nbgen::generate(data)))
}

/// Runs the engine through `nbs` (the SB empty); the first datapaths whose
/// flows it got wrong, if any.
fn check_nbs(nbs: impl Iterator<Item = nbgen::Nb>) -> Result<(), String> {
    check_steps(nbs.map(|nb| (nb, nbgen::Nb { rows: Vec::new(), malformed: Vec::new() })))
}

/// The columns of a port binding compared between the engine's last build
/// and a full compilation's (not those naming other desired rows, whose
/// names a full compilation numbers anew).
const BINDING_COLUMNS: &[&str] =
    &["requested_chassis", "requested_additional_chassis", "options", "tunnel_key", "type", "mac", "nat_addresses"];

/// Runs the engine through the (NB, SB) pairs of `steps`, the SB holding
/// what others write there (chassis); the first datapaths whose flows it
/// got wrong, or ports whose bindings it built last differently from a
/// full compilation, if any.
fn check_steps(steps: impl Iterator<Item = (nbgen::Nb, nbgen::Nb)>) -> Result<(), String> {
    let mut nb = Replica::new(nbgen::schema(true));
    let mut sb = Replica::new(nbgen::schema(false));
    // As a daemon has them (the planner scans without).
    for (table, column) in lflow::sb_indexes() {
        sb.create_index(table, column).unwrap();
    }
    let mut engine = Engine::default();
    let mut before = BTreeSet::new();
    // The NB status columns as the engine last wrote them, and the port
    // bindings as it last built them.
    let mut written = std::collections::BTreeMap::new();
    let mut bindings = std::collections::BTreeMap::new();
    let binding = |r: &lflow::output::DesiredRow| -> (String, String) {
        let port = r.get("logical_port").and_then(|d| d.as_atom()).and_then(|a| a.as_str()).unwrap_or_default();
        let cells: Vec<String> = BINDING_COLUMNS.iter().map(|c| format!("{c}={:?}", r.get(c))).collect();
        (port.to_string(), cells.join(" "))
    };
    for (i, (next, next_sb)) in steps.enumerate() {
        nbgen::replace(&mut nb, &next);
        nbgen::replace(&mut sb, &next_sb);
        engine.observe_nb(&nb.take_changes());
        engine.observe_sb(&sb.take_changes(), &sb);
        engine.settle_sb(|_| false);
        let cycle = engine.run(&nb, &sb, |_, _| {});
        let full = lflow::compile_unfolded(&nb, &sb, &lflow::model::memo::PortMemo::of(&nb, &sb), |_| None, None);
        let stale = engine.stale_datapaths(&full);
        if !stale.is_empty() {
            return Err(format!("step {i}: stale flows on {stale:?} ({:?})", cycle.stats));
        }
        bindings.extend(cycle.output.rows("Port_Binding").iter().map(binding));
        if let Some((port, want)) =
            full.output.rows("Port_Binding").iter().map(binding).find(|(p, want)| bindings.get(p) != Some(want))
        {
            return Err(format!("step {i}: the binding of {port} is not built as {want}: {:?}", bindings.get(&port)));
        }
        // Every NB write of a full compilation is the one the engine
        // made last for that column (it writes only those that may have
        // changed).
        for w in &cycle.output.nb {
            written.insert((w.row, w.column), w.value.clone());
        }
        if let Some(w) = full.output.nb.iter().find(|w| written.get(&(w.row, w.column)) != Some(&w.value)) {
            return Err(format!("step {i}: NB {}.{} of {} is not written as {}", w.table, w.column, w.row, w.value));
        }
        let stale = engine.stale_ports(&nb, &sb);
        if !stale.is_empty() {
            return Err(format!("step {i}: the ports of datapaths {stale:?} differ from a fresh memo's"));
        }
        let stale = engine.stale_owners(&nb);
        if !stale.is_empty() {
            return Err(format!("step {i}: the owners of rows {stale:?} differ from a fresh walk's"));
        }
        // The SB port groups (per switch) and their address sets, and the
        // other address sets (the routers' load balancers', the NB's),
        // that changed since the last step: the engine built them, as a
        // full build does.
        let groups: BTreeSet<String> = nb
            .table("Port_Group")
            .into_iter()
            .flat_map(|t| t.rows())
            .filter_map(|r| r.get("name").as_atom().and_then(|a| a.as_str()).map(str::to_string))
            .collect();
        let now = port_group_rows(&full.output, &groups);
        for group in before.symmetric_difference(&now).map(|(group, _)| group) {
            let of = |rows: &BTreeSet<(String, String)>| -> Vec<String> {
                rows.iter().filter(|(g, _)| g == group).map(|(_, r)| r.clone()).collect()
            };
            if of(&port_group_rows(&cycle.output, &groups)) != of(&now) {
                return Err(format!("step {i}: the SB port groups or address sets of {group} are not built again"));
            }
        }
        before = now;
    }
    Ok(())
}

/// The desired SB `Port_Group` rows, and the address sets of the port
/// groups named `groups`: ("group NAME", the row); and the other address
/// sets (the routers' load balancers' `_rtr_lb_*`, those of the NB
/// address sets): ("set NAME", the row). (An NB address set named as a
/// group's, `<group>_ip4`, is left out of the translation.)
fn port_group_rows(out: &lflow::output::Output, groups: &BTreeSet<String>) -> BTreeSet<(String, String)> {
    let name = |r: &lflow::output::DesiredRow| -> String {
        r.get("name").and_then(|d| d.as_atom()).and_then(|a| a.as_str()).unwrap_or_default().to_string()
    };
    let per_switch = out.rows("Port_Group").iter().map(|r| {
        let n = name(r);
        (format!("group {}", n.split_once('_').map_or(n.as_str(), |(_, g)| g)), format!("{:?}", r.cells))
    });
    let address_sets = out.rows("Address_Set").iter().map(|r| {
        let n = name(r);
        let of_group = n.strip_suffix("_ip4").or_else(|| n.strip_suffix("_ip6")).filter(|g| groups.contains(*g));
        match of_group {
            Some(g) => (format!("group {g}"), format!("{:?}", r.cells)),
            None => (format!("set {n}"), format!("{:?}", r.cells)),
        }
    });
    per_switch.chain(address_sets).collect()
}

/// `base` with the byte flips of each edit applied in turn: a sequence of
/// NBs each close to the last.
fn edited(base: Vec<u8>, edits: Vec<Vec<(usize, u8)>>) -> Vec<Vec<u8>> {
    let mut steps = vec![base.clone()];
    let mut cur = base;
    for edit in edits {
        for (at, byte) in edit {
            if !cur.is_empty() {
                let n = cur.len();
                cur[at % n] = byte;
            }
        }
        steps.push(cur.clone());
    }
    steps
}

/// A topology whose every row is always there (a row's UUID is its
/// position), edited in place: three switches of VIFs, two routers on the
/// first two (the first also on the third), a gateway router peered
/// directly with the first router, a port group with ACLs, a load
/// balancer, NAT and routes; a fourth switch on the first router comes and
/// goes, that router's port on the third switch may be a distributed
/// gateway port (whose NAT the gateway router, when also on that switch,
/// may route to), and it may have the load balancer; the second switch
/// may ask for a tunnel key.
#[derive(Debug, Clone)]
struct Topo {
    /// Each VIF's `addresses` (empty: not on its switch).
    vifs: Vec<String>,
    /// Each router port's networks, on switches 0, 1, 2 (router 0 on 0 and
    /// 2, router 1 on 1 and 0).
    lrp_nets: [String; 4],
    /// Router 0's NAT external IP, and whether the rule exists.
    nat: Option<String>,
    /// Which VIFs are in the port group; the ACL's match.
    pg: Vec<bool>,
    acl: String,
    /// The load balancer's VIP, and which switch has it; router 0 has it
    /// too.
    lb: (String, usize),
    lb_router: bool,
    /// A static route's prefix on router 1.
    route: String,
    requested_key: Option<u32>,
    option: bool,
    /// A fourth switch on router 0 (its port and the switch exist).
    extra_switch: bool,
    /// Router 0's port on switch 2 is a distributed gateway port.
    gateway: bool,
    /// Router 0's port on switch 0 resides on the gateway's chassis.
    reside: bool,
    /// Switch 1's `other_config:mcast_snoop`; router 1's `mcast_relay`.
    snoop: bool,
    relay: bool,
    /// The NAT rule's `options:add_route` (routed to by the routers on
    /// the gateway port's switch).
    add_route: bool,
    /// The gateway router also has a port on switch 2.
    gr_on_sw2: bool,
    /// Switch 1's `other_config:requested-tnl-key` (its key changes).
    switch_key: Option<u32>,
    /// VIF 1 asks for chassis `ch9` by name, VIF 5 for it by its hostname
    /// `h9` (`options:requested-chassis`).
    requests: [bool; 2],
    /// What others wrote to the SB (`Topo::sb`): chassis `ch9` (bit 0),
    /// with hostname `h9` (bit 1, else `h10`), reporting every conntrack
    /// feature `ch1` does (bit 2); a chassis with a VXLAN encapsulation
    /// (bit 3).
    chassis: u8,
    /// Multicast groups ovn-controller learned on switch 1 (`IGMP_Group`):
    /// 239.0.0.1 with VIF 1 (bit 0), with VIF 4 as well (bit 1); 239.0.0.2
    /// with VIF 4 (bit 2).
    igmp: u8,
    /// The static route depends on a BFD session whose NB status is up
    /// (bit 0); ovn-controller reports it (an SB row, bit 1) up (bit 2) or
    /// down.
    bfd: u8,
    /// The load balancer checks its backend's health (bit 0);
    /// ovn-controller reports it (an SB row, bit 1) online (bit 2) or
    /// offline.
    health: u8,
    /// Peers named one way: the gateway router's port names no peer back
    /// (bit 0), its networks move (bit 1); a second switch port on switch
    /// 1 names router 0's port on switch 0 (bit 2).
    one_way: u8,
    /// Control plane protection: the load balancer has a VIP without
    /// backends and reports it (bit 0), switch 0 names the Copp metering
    /// that report (bit 1), which exists unless this is 0.
    copp: u8,
    /// A load balancer group switch 1 names (bit 0), holding the load
    /// balancer (bit 1).
    group: u8,
}

const VIFS: usize = 9;

impl Topo {
    fn new() -> Topo {
        Topo {
            vifs: (0..VIFS).map(|i| format!("0a:00:00:00:00:{i:02x} 10.0.{}.{}", i % 3, 10 + i)).collect(),
            lrp_nets: ["10.0.0.1/24", "10.0.2.1/24", "10.0.1.1/24", "10.0.0.2/24"].map(String::from),
            nat: Some("172.16.0.10".into()),
            pg: (0..VIFS).map(|i| i % 2 == 0).collect(),
            acl: "ip4".into(),
            lb: ("10.0.0.100:80".into(), 0),
            lb_router: false,
            route: "192.168.0.0/16".into(),
            requested_key: None,
            option: false,
            extra_switch: false,
            gateway: false,
            reside: false,
            snoop: false,
            relay: false,
            add_route: false,
            gr_on_sw2: false,
            switch_key: None,
            requests: [false; 2],
            chassis: 0,
            igmp: 0,
            bfd: 0,
            health: 0,
            one_way: 0,
            copp: 0,
            group: 0,
        }
    }

    /// Applies edit number `what` with the value `v` (those from 240 on
    /// came last: the recorded cases keep their meaning).
    fn edit(&mut self, what: u8, v: u8) {
        let i = v as usize % VIFS;
        match what {
            248.. => return self.copp = v,
            240.. => return self.one_way = v,
            _ => {}
        }
        match what % 24 {
            0 => self.vifs[i] = format!("0a:00:00:00:01:{v:02x} 10.0.{}.{}", i % 3, 100 + v % 100),
            1 => self.vifs[i] = if self.vifs[i].is_empty() { "dynamic".into() } else { String::new() },
            2 => self.lrp_nets[v as usize % 4] = format!("10.0.{}.{}/24", v % 3, 1 + v % 5),
            3 => self.nat = (v % 3 != 0).then(|| format!("172.16.0.{}", v % 50)),
            4 => self.pg[i] = !self.pg[i],
            5 => self.acl = ["ip4", "tcp", "udp.dst == 53"][v as usize % 3].into(),
            6 => self.lb = (format!("10.0.0.{}:80", 100 + v % 3), (v / 3) as usize % 3),
            7 => self.route = format!("192.168.{}.0/24", v % 4),
            8 => self.requested_key = (v % 2 == 0).then_some(u32::from(v % 4) + 1),
            9 => self.option = !self.option,
            10 => self.extra_switch = !self.extra_switch,
            11 => self.gateway = !self.gateway,
            12 => self.reside = !self.reside,
            13 => self.snoop = !self.snoop,
            14 => self.lb_router = !self.lb_router,
            15 => self.relay = !self.relay,
            16 => self.add_route = !self.add_route,
            17 => self.gr_on_sw2 = !self.gr_on_sw2,
            18 => self.switch_key = (v % 2 == 0).then_some(u32::from(v % 8) + 1),
            19 => self.requests[v as usize % 2] = !self.requests[v as usize % 2],
            20 => self.chassis = v,
            21 => self.igmp = v,
            22 => self.bfd = v,
            _ => self.health = v,
        }
    }

    /// The SB rows others write: chassis `ch1` (the gateway chassis),
    /// reporting the conntrack features, and those `chassis` asks for.
    fn sb(&self) -> nbgen::Nb {
        let mut rows = Vec::new();
        let features = |all: bool| {
            let mut f = vec![json!(["ovn-ct-lb-related", "true"])];
            if all {
                f.push(json!(["ct-no-masked-label", "true"]));
            }
            json!(["map", f])
        };
        let mut chassis = |name: &str, hostname: &str, encap: &str, all: bool| {
            rows.push(Insert {
                table: "Encap".into(),
                name: format!("e-{name}"),
                row: json!({"type": encap, "ip": "192.0.2.1", "chassis_name": name}),
            });
            rows.push(Insert {
                table: "Chassis".into(),
                name: name.into(),
                row: json!({"name": name, "hostname": hostname, "encaps": ["named-uuid", format!("e-{name}")],
                           "other_config": features(all)}),
            });
        };
        chassis("ch1", "h1", "geneve", true);
        if self.chassis & 1 != 0 {
            chassis("ch9", if self.chassis & 2 != 0 { "h9" } else { "h10" }, "geneve", self.chassis & 4 != 0);
        }
        if self.chassis & 8 != 0 {
            chassis("chv", "hv", "vxlan", true);
        }
        if self.bfd & 2 != 0 {
            let status = if self.bfd & 4 != 0 { "up" } else { "down" };
            rows.push(Insert {
                table: "BFD".into(),
                name: "bfd".into(),
                row: json!({"logical_port": "lrp2", "dst_ip": "10.0.1.10", "src_port": 49152, "disc": 1,
                           "min_tx": 1000, "min_rx": 1000, "detect_mult": 5, "status": status}),
            });
        }
        if self.health & 2 != 0 {
            let status = if self.health & 4 != 0 { "online" } else { "offline" };
            rows.push(Insert {
                table: "Service_Monitor".into(),
                name: "monitor".into(),
                row: json!({"ip": "10.0.1.10", "port": 8080, "protocol": "tcp", "logical_port": "vif1",
                           "src_mac": "0a:00:00:00:ff:ee", "src_ip": "10.0.1.254", "status": status}),
            });
        }
        // Switch 1's SB datapath and the bindings of VIFs 1 and 4, which
        // ovn-controller reports in the groups it learned there.
        let sw1 = self.nb().rows.iter().position(|r| r.name == "sw1").expect("switch 1 is always there");
        let external_ids = json!(["map", [["logical-switch", format!("00000000-0000-4000-8000-{sw1:012x}")]]]);
        rows.push(Insert {
            table: "Datapath_Binding".into(),
            name: "dp1".into(),
            row: json!({"tunnel_key": 2, "external_ids": external_ids}),
        });
        for (key, vif) in [(1, "vif1"), (2, "vif4")] {
            let row = json!({"logical_port": vif, "tunnel_key": key, "datapath": ["named-uuid", "dp1"]});
            rows.push(Insert { table: "Port_Binding".into(), name: vif.into(), row });
        }
        let first = match self.igmp & 3 {
            0 => vec![],
            1 => vec!["vif1"],
            _ => vec!["vif1", "vif4"],
        };
        let second = if self.igmp & 4 != 0 { vec!["vif4"] } else { vec![] };
        for (address, ports) in [("239.0.0.1", first), ("239.0.0.2", second)] {
            if ports.is_empty() {
                continue;
            }
            let ports: Vec<Value> = ports.into_iter().map(|p| json!(["named-uuid", p])).collect();
            rows.push(Insert {
                table: "IGMP_Group".into(),
                name: format!("igmp-{address}"),
                row: json!({"address": address, "datapath": ["named-uuid", "dp1"], "chassis": ["named-uuid", "ch1"],
                           "ports": ["set", ports]}),
            });
        }
        nbgen::Nb { rows, malformed: Vec::new() }
    }

    fn nb(&self) -> nbgen::Nb {
        let named = |n: &str| json!(["named-uuid", n]);
        let set = |items: Vec<Value>| json!(["set", items]);
        let map = |pairs: Vec<(&str, String)>| {
            json!(["map", pairs.into_iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>()])
        };
        let mut rows = Vec::new();
        let mut add = |table: &str, name: String, row: Value| rows.push(Insert { table: table.into(), name, row });
        let options = if self.option { vec![("mcast_igmp_flood", "true".to_string())] } else { vec![] };
        add("NB_Global", "g".into(), json!({"options": map(options.iter().map(|(k, v)| (*k, v.clone())).collect())}));
        for (i, addr) in self.vifs.iter().enumerate() {
            let mut row = json!({"name": format!("vif{i}")});
            if !addr.is_empty() {
                row["addresses"] = json!(addr);
            }
            if i == 0 {
                if let Some(k) = self.requested_key {
                    row["options"] = map(vec![("requested-tnl-key", k.to_string())]);
                }
            }
            for (n, (vif, chassis)) in [(1, "ch9"), (5, "h9")].into_iter().enumerate() {
                if i == vif && self.requests[n] {
                    row["options"] = map(vec![("requested-chassis", chassis.to_string())]);
                }
            }
            add("Logical_Switch_Port", format!("vif{i}"), row);
        }
        // Router ports: lr0 on sw0 and sw2, lr1 on sw1 and sw0.
        let lrps = [("lr0", 0), ("lr0", 2), ("lr1", 1), ("lr1", 0)];
        for (n, (_, sw)) in lrps.iter().enumerate() {
            let mut lrp = json!({"name": format!("lrp{n}"), "mac": format!("0a:00:00:00:ff:{n:02x}"), "networks": self.lrp_nets[n]});
            if n == 1 && self.gateway {
                lrp["gateway_chassis"] = set(vec![named("gwc")]);
            }
            if n == 0 && self.reside {
                lrp["options"] = map(vec![("reside-on-redirect-chassis", "true".to_string())]);
            }
            add("Logical_Router_Port", format!("lrp{n}"), lrp);
            add(
                "Logical_Switch_Port",
                format!("rp{n}"),
                json!({"name": format!("rp{n}"), "type": "router", "addresses": "router",
                       "options": map(vec![("router-port", format!("lrp{n}"))])}),
            );
            let _ = sw;
        }
        // The gateway router, peered with lr0 directly.
        add(
            "Logical_Router_Port",
            "gw0".into(),
            json!({"name": "gw0", "mac": "0a:00:00:00:fe:00", "networks": "100.64.0.1/30", "peer": "gw1"}),
        );
        let mut gw1 = json!({"name": "gw1", "mac": "0a:00:00:00:fe:01", "networks": "100.64.0.2/30", "peer": "gw0"});
        if self.one_way & 1 != 0 {
            gw1.as_object_mut().expect("a row").remove("peer");
        }
        if self.one_way & 2 != 0 {
            gw1["networks"] = json!("100.64.0.6/30");
        }
        add("Logical_Router_Port", "gw1".into(), gw1);
        let mut gr_ports = vec![named("gw1")];
        if self.gr_on_sw2 {
            gr_ports.push(named("gw2"));
        }
        add(
            "Logical_Router",
            "gr".into(),
            json!({"name": "gr", "ports": set(gr_ports), "options": map(vec![("chassis", "ch1".into())])}),
        );
        add(
            "ACL",
            "acl".into(),
            json!({"direction": "to-lport", "priority": 1001, "match": self.acl, "action": "drop"}),
        );
        let members: Vec<Value> = (0..VIFS).filter(|i| self.pg[*i]).map(|i| named(&format!("vif{i}"))).collect();
        add("Port_Group", "pg".into(), json!({"name": "pg", "ports": set(members), "acls": set(vec![named("acl")])}));
        let mut vips = vec![(self.lb.0.as_str(), "10.0.1.10:8080".to_string())];
        if self.copp & 1 != 0 {
            vips.push(("10.0.0.99:80", String::new()));
        }
        let mut lb = json!({"name": "lb", "protocol": "tcp", "vips": map(vips)});
        if self.copp & 1 != 0 {
            lb["options"] = map(vec![("event", "true".to_string())]);
        }
        if self.health & 1 != 0 {
            lb["health_check"] = set(vec![named("hc")]);
            lb["ip_port_mappings"] = map(vec![("10.0.1.10", "vif1:10.0.1.254".to_string())]);
        }
        add("Load_Balancer", "lb".into(), lb);
        if let Some(ip) = &self.nat {
            let options = if self.add_route { vec![("add_route", "true".to_string())] } else { vec![] };
            add(
                "NAT",
                "nat".into(),
                json!({"type": "dnat_and_snat", "external_ip": ip, "logical_ip": "10.0.0.10", "options": map(options)}),
            );
        }
        let mut route = json!({"ip_prefix": self.route, "nexthop": "10.0.1.10"});
        if self.bfd & 1 != 0 {
            route["bfd"] = named("bfd");
        }
        add("Logical_Router_Static_Route", "route".into(), route);
        for s in 0..3 {
            let mut ports: Vec<Value> = (0..VIFS)
                .filter(|i| i % 3 == s && !self.vifs[*i].is_empty())
                .map(|i| named(&format!("vif{i}")))
                .collect();
            ports
                .extend(lrps.iter().enumerate().filter(|(_, (_, sw))| *sw == s).map(|(n, _)| named(&format!("rp{n}"))));
            if s == 0 {
                ports.push(named("ln"));
            }
            if s == 1 && self.one_way & 4 != 0 {
                ports.push(named("rp0b"));
            }
            if s == 2 && self.gr_on_sw2 {
                ports.push(named("gwp2"));
            }
            let mut other_config = vec![("subnet", format!("10.0.{s}.0/24"))];
            if s == 1 && self.snoop {
                other_config.push(("mcast_snoop", "true".to_string()));
            }
            if let Some(k) = self.switch_key.filter(|_| s == 1) {
                other_config.push(("requested-tnl-key", k.to_string()));
            }
            let mut row = json!({"name": format!("sw{s}"), "ports": set(ports), "other_config": map(other_config)});
            if self.lb.1 == s {
                row["load_balancer"] = set(vec![named("lb")]);
            }
            if s == 0 && self.copp & 2 != 0 {
                row["copp"] = named("copp");
            }
            if s == 1 && self.group & 1 != 0 {
                row["load_balancer_group"] = named("lbg");
            }
            add("Logical_Switch", format!("sw{s}"), row);
        }
        let mut lr0_ports = vec![named("lrp0"), named("lrp1"), named("gw0")];
        if self.extra_switch {
            lr0_ports.push(named("lrp4"));
        }
        lr0_ports.sort_by_key(|v| v.to_string());
        let nat = if self.nat.is_some() { vec![named("nat")] } else { vec![] };
        let lbs = if self.lb_router { vec![named("lb")] } else { vec![] };
        add(
            "Logical_Router",
            "lr0".into(),
            json!({"name": "lr0", "ports": set(lr0_ports), "nat": set(nat), "load_balancer": set(lbs)}),
        );
        add(
            "Logical_Router",
            "lr1".into(),
            json!({"name": "lr1", "ports": set(vec![named("lrp2"), named("lrp3")]), "static_routes": set(vec![named("route")]),
                   "options": map(if self.relay { vec![("mcast_relay", "true".to_string())] } else { vec![] })}),
        );
        // Rows from here on come and go; those above keep their UUIDs.
        add(
            "Logical_Switch_Port",
            "ln".into(),
            json!({"name": "ln", "type": "localnet", "addresses": "unknown",
                   "options": map(vec![("network_name", "phys".to_string())])}),
        );
        if self.one_way & 4 != 0 {
            add(
                "Logical_Switch_Port",
                "rp0b".into(),
                json!({"name": "rp0b", "type": "router", "addresses": "router",
                       "options": map(vec![("router-port", "lrp0".to_string())])}),
            );
        }
        if self.group & 1 != 0 {
            let lbs = if self.group & 2 != 0 { vec![named("lb")] } else { vec![] };
            add("Load_Balancer_Group", "lbg".into(), json!({"name": "lbg", "load_balancer": set(lbs)}));
        }
        if self.copp != 0 {
            add("Meter", "meter".into(), json!({"name": "m-elb", "unit": "pktps", "bands": named("band")}));
            add("Meter_Band", "band".into(), json!({"action": "drop", "rate": 10}));
            add(
                "Copp",
                "copp".into(),
                json!({"name": "copp", "meters": map(vec![("event-elb", "m-elb".to_string())])}),
            );
        }
        add("Gateway_Chassis", "gwc".into(), json!({"name": "lrp1-ch1", "chassis_name": "ch1", "priority": 1}));
        if self.gr_on_sw2 {
            add(
                "Logical_Router_Port",
                "gw2".into(),
                json!({"name": "gw2", "mac": "0a:00:00:00:fe:02", "networks": "10.0.1.200/24"}),
            );
            add(
                "Logical_Switch_Port",
                "gwp2".into(),
                json!({"name": "gwp2", "type": "router", "addresses": "router",
                       "options": map(vec![("router-port", "gw2".to_string())])}),
            );
        }
        if self.bfd & 1 != 0 {
            add("BFD", "bfd".into(), json!({"logical_port": "lrp2", "dst_ip": "10.0.1.10", "status": "up"}));
        }
        if self.health & 1 != 0 {
            add("Load_Balancer_Health_Check", "hc".into(), json!({"vip": self.lb.0}));
        }
        if self.extra_switch {
            add(
                "Logical_Router_Port",
                "lrp4".into(),
                json!({"name": "lrp4", "mac": "0a:00:00:00:ff:04", "networks": "10.0.3.1/24"}),
            );
            add(
                "Logical_Switch_Port",
                "rp4".into(),
                json!({"name": "rp4", "type": "router", "addresses": "router",
                       "options": map(vec![("router-port", "lrp4".to_string())])}),
            );
            add("Logical_Switch", "sw3".into(), json!({"name": "sw3", "ports": set(vec![named("rp4")])}));
        }
        nbgen::Nb { rows, malformed: Vec::new() }
    }
}

/// Runs the engine through `topo`, then through it as `set` makes it with
/// each of `values` in turn.
fn check_sequence(mut topo: Topo, values: &[u8], set: impl Fn(&mut Topo, u8)) {
    let mut steps = vec![(topo.nb(), topo.sb())];
    for &v in values {
        set(&mut topo, v);
        steps.push((topo.nb(), topo.sb()));
    }
    check_steps(steps.into_iter()).unwrap();
}

/// A BFD session a static route depends on goes down and up again as
/// ovn-controller reports it: the router's routes follow.
#[test]
fn a_bfd_session_reaches_the_routers_whose_routes_depend_on_one() {
    check_sequence(Topo { bfd: 1, ..Topo::new() }, &[0b111, 0b011, 0b111, 0b001, 0b011], |t, v| t.bfd = v);
}

/// A load balancer's backend ovn-controller monitors goes offline and
/// online again: the balancer's flows follow.
#[test]
fn a_service_monitor_reaches_the_flows_of_its_load_balancer() {
    let topo = Topo { health: 1, lb_router: true, ..Topo::new() };
    check_sequence(topo, &[0b111, 0b011, 0b111, 0b001, 0b011], |t, v| t.health = v);
}

/// A chassis two ports request (by name, by hostname) comes, is renamed,
/// loses a conntrack feature, gains a VXLAN neighbour and goes: the ports'
/// bindings follow, and the flows when what every switch reads changed.
#[test]
fn a_chassis_reaches_the_bindings_that_request_it() {
    let topo = Topo { requests: [true, true], ..Topo::new() };
    let chassis = [0b0111, 0b0101, 0b0111, 0b0011, 0b0111, 0b1111, 0b0111, 0];
    check_sequence(topo, &chassis, |t, v| t.chassis = v);
}

/// Groups ovn-controller learns on a snooping switch that a router relays
/// come, gain a port and go: the switch's and the router's groups and
/// flows follow.
#[test]
fn a_learned_multicast_group_reaches_its_switch_and_the_routers_relaying_it() {
    let topo = Topo { snoop: true, relay: true, ..Topo::new() };
    check_sequence(topo, &[0b001, 0b011, 0b111, 0b100, 0b101, 0], |t, v| t.igmp = v);
}

/// A router port named as a peer by a port it does not name back (a
/// router port one way, a second switch port on a router port) moves its
/// networks, or its router gets a load balancer: the datapaths of those
/// naming it follow.
#[test]
fn a_router_port_reaches_the_ports_peering_it_one_way() {
    check_sequence(Topo::new(), &[0b001, 0b011, 0b001, 0b000, 0b010, 0b111], |t, v| t.one_way = v);
    let topo = Topo { one_way: 0b100, ..Topo::new() };
    check_sequence(topo.clone(), &[1, 3, 5 * 24 + 1], |t, v| t.lrp_nets[0] = format!("10.0.{}.{}/24", v / 24, v % 24));
    check_sequence(topo, &[1, 0, 1], |t, v| t.lb_router = v == 1);
}

/// A load balancer joins and leaves a group a switch has, each followed
/// by a port of that switch changing: the switch's flows but for its
/// balancers' are built then, and its balancers' parts, kept, are the
/// ones the group gave it.
#[test]
fn a_port_change_after_a_group_change_keeps_the_right_balancer_flows() {
    let mut topo = Topo { group: 1, ..Topo::new() };
    let mut steps = vec![(topo.nb(), topo.sb())];
    for (group, vif) in
        [(3, "0a:00:00:00:01:01 10.0.1.101"), (3, "0a:00:00:00:01:01 10.0.1.102"), (1, ""), (1, "dynamic")]
    {
        topo.group = group;
        steps.push((topo.nb(), topo.sb()));
        topo.vifs[1] = vif.into();
        steps.push((topo.nb(), topo.sb()));
    }
    check_steps(steps.into_iter()).unwrap();
}

/// Switch 0 comes to meter its load balancer's reports of a VIP without
/// backends, and stops (the Copp and its meter there all along): those
/// flows (a part of the switch's) follow.
#[test]
fn a_copp_reaches_the_flows_of_the_load_balancers() {
    let (nb, _) = nbgen::replicas(&Topo { copp: 3, ..Topo::new() }.nb());
    let sb = Replica::new(nbgen::schema(false));
    let metered = lflow::compile(&nb, &sb).rows("Logical_Flow").iter().any(|f| {
        let meter = f.get("controller_meter").and_then(|d| d.as_atom()).and_then(|a| a.as_str());
        meter == Some("m-elb")
    });
    assert!(metered, "no flow carries the Copp's meter");
    check_sequence(Topo { copp: 1, ..Topo::new() }, &[3, 1, 3, 2, 3], |t, v| t.copp = v);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, max_shrink_iters: 1000, ..ProptestConfig::default() })]

    /// Small edits of one NB.
    #[test]
    fn kept_flows_equal_a_full_compile_after_small_edits(
        base in proptest::collection::vec(any::<u8>(), 0..768),
        edits in proptest::collection::vec(proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4), 1..6),
    ) {
        if let Err(e) = check(&edited(base, edits)) {
            prop_assert!(false, "{e}");
        }
    }

    /// Small edits of a topology linked every way.
    #[test]
    fn kept_flows_equal_a_full_compile_after_each_edit(
        edits in proptest::collection::vec((any::<u8>(), any::<u8>()), 1..12),
    ) {
        let mut topo = Topo::new();
        let mut steps = vec![(topo.nb(), topo.sb())];
        for (what, v) in edits {
            topo.edit(what, v);
            steps.push((topo.nb(), topo.sb()));
        }
        if let Err(e) = check_steps(steps.into_iter()) {
            prop_assert!(false, "{e}");
        }
    }

    /// Unrelated NBs one after the other.
    #[test]
    fn kept_flows_equal_a_full_compile_after_any_change(
        steps in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..768), 2..5),
    ) {
        if let Err(e) = check(&steps) {
            prop_assert!(false, "{e}");
        }
    }
}

/// After changes of ports only (a port's addresses, a port leaving its
/// switch, coming back) the datapath bindings and the load balancers,
/// which no port is part of, are not built again: planned as their last
/// plan found them, right, they get no operation. A change of a switch's
/// own column (the tunnel key it asks for) is not of ports only: its
/// binding is built and updated.
#[test]
fn port_changes_leave_the_bindings_and_load_balancers_as_they_were() {
    let mut topo = Topo::new();
    let mut nb = Replica::new(nbgen::schema(true));
    nbgen::replace(&mut nb, &topo.nb());
    nb.take_changes();
    let mut sb = nbgen::settled_sb(&lflow::compile(&nb, &Replica::new(nbgen::schema(false))));
    for (table, column) in lflow::sb_indexes() {
        sb.create_index(table, column).unwrap();
    }
    sb.take_changes();
    let ops_on = |plan: &lflow::sync::Plan, table: &str| plan.ops().iter().filter(|o| o.table() == Some(table)).count();
    let mut engine = Engine::default();
    let first = engine.run(&nb, &sb, |_, _| {});
    assert!(first.plan.is_empty(), "the SB holds the translation: {:?}", first.plan.stats);
    assert!(!first.output.rows("Load_Balancer").is_empty(), "the topology has a load balancer");
    let lb = sb.table("Load_Balancer").unwrap().rows().next().unwrap();
    let group = lb.get("datapath_group").as_atom().and_then(|a| a.as_uuid()).expect("the balancer has a group");
    let some_datapath = sb.table("Datapath_Binding").unwrap().rows().next().unwrap().uuid();
    let member = sb.get("Logical_DP_Group", &group).unwrap().get("datapaths").keys().next().unwrap().clone();
    // Each change with an `nb_cfg` bump, as `ovn-nbctl --wait` makes it,
    // after the SB changes given.
    let global = nb.table("NB_Global").unwrap().rows().next().unwrap().uuid();
    let mut cfg = 0;
    let mut run = |topo: &Topo, sb_update: Option<String>| {
        if let Some(update) = sb_update {
            // Seen by a member of a sharded group without the global role:
            // it takes the holder's changes of groups as its own plan's,
            // keeping its flows (another's change would bring a recompute).
            engine.set_ownership(Ownership { shards: 2, held: [0, 1].into(), global: false });
            sb.apply(decode_table_updates(&update, UpdateFormat::Update2, sb.schema()).unwrap()).unwrap();
            engine.observe_sb(&sb.take_changes(), &sb);
            engine.settle_sb(|_| false);
        }
        nbgen::replace(&mut nb, &topo.nb());
        cfg += 1;
        let bump = format!(r#"{{"NB_Global": {{"{global}": {{"modify": {{"nb_cfg": {cfg}}}}}}}}}"#);
        nb.apply(decode_table_updates(&bump, UpdateFormat::Update2, nb.schema()).unwrap()).unwrap();
        engine.observe_nb(&nb.take_changes());
        engine.run(&nb, &sb, |_, _| {})
    };
    // (The SB stays as it was: each step differs from it.)
    for vif in ["0a:00:00:00:01:01 10.0.1.101", "", "0a:00:00:00:01:02 10.0.1.102"] {
        topo.vifs[1] = vif.into();
        let cycle = run(&topo, None);
        assert!(ops_on(&cycle.plan, "Port_Binding") > 0, "the port's binding changes: {:?}", cycle.plan.stats);
        for table in ["Datapath_Binding", "Load_Balancer"] {
            assert!(cycle.output.rows(table).is_empty(), "{table} built again for {vif:?}");
            assert_eq!(ops_on(&cycle.plan, table), 0, "{table} planned for {vif:?}: {:?}", cycle.plan.stats);
        }
    }
    topo.switch_key = Some(77);
    let cycle = run(&topo, None);
    assert!(!cycle.output.rows("Datapath_Binding").is_empty(), "a switch's own column is not a port's");
    assert_eq!(ops_on(&cycle.plan, "Datapath_Binding"), 1, "{:?}", cycle.plan.stats);
    // Datapath groups changed in the SB: one no load balancer names
    // inserted (as a port add bringing an ACL's flows to one more switch
    // does), then the one a load balancer names changed in place.
    const NEW_GROUP: &str = "0b0e8a53-5c7d-4a55-9e2f-1d6a5b7c0de1";
    let updates = [
        format!(
            r#"{{"Logical_DP_Group": {{"{NEW_GROUP}": {{"insert": {{"datapaths": ["uuid", "{some_datapath}"]}}}}}}}}"#
        ),
        // (An update2 modification of a set names what it adds or removes.)
        format!(r#"{{"Logical_DP_Group": {{"{group}": {{"modify": {{"datapaths": ["uuid", "{member}"]}}}}}}}}"#),
    ];
    for (i, update) in updates.into_iter().enumerate() {
        topo.vifs[1] = format!("0a:00:00:00:01:0{} 10.0.1.10{}", 3 + i, 3 + i);
        let cycle = run(&topo, Some(update));
        let built = !cycle.output.rows("Load_Balancer").is_empty();
        assert_eq!(built, i == 1, "load balancers built after a group {}", ["inserted", "changed"][i]);
    }
}
