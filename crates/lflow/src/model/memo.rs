//! What the rows of each switch's and router's ports say, kept between
//! compilations by whoever compiles again and again (the engine), so that
//! a cycle reads only the ports of the datapaths that changed. For each
//! datapath, a block: its ports sorted by name, each with its parsed
//! columns (a switch port's `addresses` and `port_security`, a router
//! port's `mac` and `networks`), the columns the passes over every port
//! read (type, requested tunnel key, QoS options, tag request), and what
//! the SB says of it (its binding, the binding's datapath and key, `up`).
//!
//! A block is gathered again when its datapath's row, one of its ports'
//! rows (or a row its datapath names that was not there), or the SB
//! binding of one of its ports' names changed; every block when a chassis
//! changed whether it reports port readiness, or went (`Changed`);
//! `refresh` gathers every block. At 30,000 pods, reading every port's
//! rows and binding each cycle was half of a port add's CPU: every port's
//! rows waited for memory. The memo also keeps the reference's walk of
//! the datapaths (`walk`) while the datapaths are the same, and what each
//! load balancer's row says (`Lb`), parsed again when the row changes.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use foldhash::fast::FixedState;
use ovsdb::replica::Change;
use ovsdb::{Replica, Uuid};

use super::addr::{LportAddresses, Mac};
use super::{ipam, lb};
use crate::input::{nb, sb};

type Map<K, V> = HashMap<K, V, FixedState>;

/// A port's parsed columns.
#[derive(Default, Debug, PartialEq)]
pub(crate) struct Parsed {
    /// The addresses that parse (a router port: its one entry, or none
    /// when its MAC does not parse), in NB order; the `dynamic` entry and
    /// `unknown` and `router` are not among them.
    pub addrs: Vec<LportAddresses>,
    /// The `port_security` entries that parse.
    pub ps_addrs: Vec<LportAddresses>,
    /// The entries asking for dynamic addresses (`ipam::Request`), parsed
    /// or not, in NB order.
    pub requests: Vec<Result<ipam::Request, String>>,
    /// `unknown` is among the addresses.
    pub has_unknown: bool,
    /// The entries that do not parse: (column, value, why).
    pub bad: Vec<(&'static str, String, &'static str)>,
}

/// What one port's rows say.
#[derive(Debug, PartialEq)]
pub(crate) struct Entry {
    pub uuid: Uuid,
    /// A router port (else a switch port).
    pub router: bool,
    pub name: String,
    /// The switch port's `type` ("" for a router port); the types
    /// ovn-nb(5) names are not copied (`port_type`).
    pub type_: Cow<'static, str>,
    /// `options:requested-tnl-key` as written.
    pub requested_key: Option<String>,
    /// A switch port (not of type `router`) with an option asking for a
    /// QoS queue (`super::QOS_OPTIONS`).
    pub asks_queue: bool,
    /// The switch port's `tag_request`.
    pub tag_request: Option<i64>,
    /// The switch port's `dhcpv4_options` and `dhcpv6_options` rows.
    pub dhcp_options: [Option<Uuid>; 2],
    pub parsed: Parsed,
    /// The SB binding of the port's name.
    pub binding: Option<Uuid>,
    /// The binding's SB datapath and tunnel key.
    pub sb_key: Option<(Uuid, i64)>,
    /// Whether northd reports the switch port up (`super::up`).
    pub up: bool,
    /// The port it names as its peer: a `router` switch port's
    /// `options:router-port`, a router port's `peer`.
    pub peer: Option<String>,
    /// A router port with gateway chassis or an HA chassis group.
    pub gateway: bool,
}

/// The ports of one datapath, sorted by name (those without a name left
/// out).
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Block {
    pub ports: Vec<Entry>,
    /// Every port the datapath's row names, whether its row is there or
    /// not (a row that comes later changes the block).
    refs: Vec<Uuid>,
}

/// What changed since the last `update`, as the replicas' changes say.
#[derive(Debug, Default)]
pub struct Changed {
    /// Switch, router, switch port and router port rows (NB), by UUID.
    pub nb_rows: Vec<Uuid>,
    /// SB `Port_Binding` rows, by UUID, with the `logical_port` they had
    /// before the change (the one they have now is read at `update`).
    pub bindings: Vec<(Uuid, Option<String>)>,
    /// NB `Load_Balancer` rows, by UUID.
    pub lbs: Vec<Uuid>,
    /// A chassis changed whether it reports port readiness (whether a
    /// port is up reads it), or went (the server clears the bindings'
    /// weak references to it, which brings their datapaths anyway; a
    /// replica that did not would keep it named). A chassis that comes is
    /// named by no binding yet.
    pub chassis: bool,
}

impl Changed {
    /// Notes the changes of one replica update of NB (`sb` false) or SB.
    /// `sb_replica` is the SB replica once they are applied.
    pub fn observe(&mut self, changes: &ovsdb::replica::Changes, sb_replica: Option<&Replica>) {
        if let Some(sb_replica) = sb_replica {
            if let Some(rows) = changes.table(sb::PortBinding::TABLE) {
                for (uuid, change) in rows.iter() {
                    let old = match change {
                        Change::Modified { old } | Change::Deleted { old } => Some(old),
                        Change::Inserted => None,
                    };
                    let name = old.and_then(|r| r.get("logical_port").as_atom().and_then(|a| a.as_str()));
                    self.bindings.push((*uuid, name.map(str::to_string)));
                }
            }
            if let Some(rows) = changes.table(sb::Chassis::TABLE) {
                self.chassis |= rows.iter().any(|(uuid, change)| match change {
                    Change::Modified { old } => {
                        let now = sb_replica.get(sb::Chassis::TABLE, uuid);
                        now.is_some_and(|now| port_up_notif(old) != port_up_notif(now))
                    }
                    Change::Deleted { .. } => true,
                    Change::Inserted => false,
                });
            }
        } else {
            let rows = |table: &str| changes.table(table).into_iter().flat_map(|t| t.iter().map(|(u, _)| *u));
            for table in NB_TABLES {
                self.nb_rows.extend(rows(table));
            }
            self.lbs.extend(rows(nb::LoadBalancer::TABLE));
        }
    }

    /// How many changes are noted.
    pub fn len(&self) -> usize {
        self.nb_rows.len() + self.bindings.len() + self.lbs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0 && !self.chassis
    }
}

/// The NB tables whose rows a block reads.
const NB_TABLES: [&str; 4] =
    [nb::LogicalSwitch::TABLE, nb::LogicalRouter::TABLE, nb::LogicalSwitchPort::TABLE, nb::LogicalRouterPort::TABLE];

/// Every datapath's block. See the module documentation.
#[derive(Default)]
pub struct PortMemo {
    blocks: Map<Uuid, Block>,
    /// SB `Port_Binding` rows by `logical_port`.
    bindings: HashMap<String, Uuid>,
    /// A port (NB row) -> the datapaths whose blocks hold it (a port in
    /// two switches is reported, not gathered out).
    port_dps: Map<Uuid, Vec<Uuid>>,
    /// A port name -> the datapaths whose blocks hold a port of that name.
    name_dps: HashMap<String, Vec<Uuid>>,
    /// The reference's walk of the datapaths (`Model::find_lb_hint`) and
    /// the switches and routers it was made of (a cache: it formats and
    /// hashes every datapath's UUID; kept through a lock because the
    /// model only borrows the memo).
    walk: Mutex<Option<Walk>>,
    /// What each NB load balancer's row says, by UUID.
    lbs: Map<Uuid, Lb>,
}

/// What a load balancer's row says: its VIPs' addresses, and the parse of
/// a balancer without health checks (`lb::Parsed::of_row`).
#[derive(Debug, PartialEq)]
pub(crate) struct Lb {
    pub vip_ips: lb::VipIps,
    pub parsed: Option<Arc<lb::Parsed>>,
}

impl Lb {
    fn of(row: nb::LoadBalancer<'_>) -> Lb {
        Lb { vip_ips: lb::VipIps::of(row), parsed: lb::Parsed::of_row(row).map(Arc::new) }
    }
}

/// A walk of the datapaths, and the switches and routers it is of.
struct Walk {
    switches: Vec<Uuid>,
    routers: Vec<Uuid>,
    walk: Vec<Uuid>,
}

impl std::fmt::Debug for PortMemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortMemo").field("datapaths", &self.blocks.len()).field("ports", &self.port_dps.len()).finish()
    }
}

impl PortMemo {
    /// A memo of every datapath of `nb`.
    pub fn of(nb: &Replica, sb: &Replica) -> PortMemo {
        let mut memo = PortMemo::default();
        memo.refresh(nb, sb);
        memo
    }

    /// Gathers every block again.
    pub fn refresh(&mut self, nb: &Replica, sb: &Replica) {
        *self = PortMemo {
            bindings: sb::PortBinding::all(sb).map(|pb| (pb.logical_port().to_string(), pb.uuid())).collect(),
            ..PortMemo::default()
        };
        let dps = nb::LogicalSwitch::all(nb).map(|s| s.uuid()).chain(nb::LogicalRouter::all(nb).map(|r| r.uuid()));
        for dp in dps.collect::<Vec<_>>() {
            self.gather(nb, sb, dp);
        }
        self.lbs = nb::LoadBalancer::all(nb).map(|lb| (lb.uuid(), Lb::of(lb))).collect();
    }

    /// Makes the memo what `refresh` would make it, when only what
    /// `changed` says changed since the last `refresh` or `update`.
    pub fn update(&mut self, nb: &Replica, sb: &Replica, changed: &Changed) {
        if changed.chassis {
            return self.refresh(nb, sb);
        }
        let mut dirty: Vec<Uuid> = Vec::new();
        for (uuid, old) in &changed.bindings {
            let now = sb::PortBinding::get(sb, uuid).map(|pb| pb.logical_port());
            for name in old.as_deref().into_iter().chain(now) {
                dirty.extend(self.name_dps.get(name).into_iter().flatten());
            }
            if let Some(old) = old {
                if self.bindings.get(old) == Some(uuid) {
                    self.bindings.remove(old);
                }
            }
            if let Some(now) = now {
                self.bindings.insert(now.to_string(), *uuid);
            }
        }
        for uuid in &changed.nb_rows {
            // A datapath's row (its block goes with it when deleted).
            let datapath =
                [nb::LogicalSwitch::TABLE, nb::LogicalRouter::TABLE].iter().any(|t| nb.get(t, uuid).is_some());
            if datapath || self.blocks.contains_key(uuid) {
                dirty.push(*uuid);
            }
            dirty.extend(self.port_dps.get(uuid).into_iter().flatten());
        }
        dirty.sort_unstable();
        dirty.dedup();
        for dp in dirty {
            self.gather(nb, sb, dp);
        }
        for uuid in &changed.lbs {
            match nb::LoadBalancer::get(nb, uuid) {
                Some(row) => self.lbs.insert(*uuid, Lb::of(row)),
                None => self.lbs.remove(uuid),
            };
        }
    }

    /// What a load balancer's row says (NB row); `None` for a row
    /// `refresh` or `update` did not see.
    pub(crate) fn lb(&self, uuid: &Uuid) -> Option<&Lb> {
        self.lbs.get(uuid)
    }

    /// The block of a datapath (NB row); `None` for a row `refresh` or
    /// `update` did not see.
    pub(crate) fn block(&self, dp: &Uuid) -> Option<&Block> {
        self.blocks.get(dp)
    }

    /// The walk `make` makes of the switches and routers given, made
    /// again only when they are not the last call's.
    pub(crate) fn walk(&self, switches: &[Uuid], routers: &[Uuid], make: impl FnOnce() -> Vec<Uuid>) -> Vec<Uuid> {
        let mut cache = self.walk.lock().unwrap_or_else(|e| e.into_inner());
        match &*cache {
            Some(w) if w.switches == switches && w.routers == routers => w.walk.clone(),
            _ => {
                let walk = make();
                *cache = Some(Walk { switches: switches.to_vec(), routers: routers.to_vec(), walk: walk.clone() });
                walk
            }
        }
    }

    /// The SB binding of a port name.
    pub(crate) fn binding<'a>(&self, sb: &'a Replica, name: &str) -> Option<sb::PortBinding<'a>> {
        self.bindings.get(name).and_then(|u| sb::PortBinding::get(sb, u))
    }

    /// The blocks (and their SB bindings), and the load balancers, that
    /// differ from a fresh memo's of the same databases: empty when the
    /// memo is right. For tests.
    pub fn stale(&self, nb: &Replica, sb: &Replica) -> Vec<Uuid> {
        let fresh = PortMemo::of(nb, sb);
        let blocks =
            self.blocks.keys().chain(fresh.blocks.keys()).filter(|u| self.blocks.get(u) != fresh.blocks.get(u));
        let lbs = self.lbs.keys().chain(fresh.lbs.keys()).filter(|u| self.lbs.get(u) != fresh.lbs.get(u));
        let mut stale: Vec<Uuid> = blocks.chain(lbs).copied().collect();
        stale.sort_unstable();
        stale.dedup();
        stale
    }

    /// Gathers the block of the datapath `dp` again (or forgets it when
    /// its row is gone).
    fn gather(&mut self, nb: &Replica, sb: &Replica, dp: Uuid) {
        if let Some(old) = self.blocks.remove(&dp) {
            for port in &old.refs {
                forget(&mut self.port_dps, port, dp);
            }
            for e in old.ports {
                forget(&mut self.name_dps, &e.name, dp);
            }
        }
        let (refs, mut ports): (Vec<Uuid>, Vec<Entry>) = if let Some(s) = nb::LogicalSwitch::get(nb, &dp) {
            let refs: Vec<Uuid> = s.ports_uuids().collect();
            let ports = refs
                .iter()
                .filter_map(|u| nb::LogicalSwitchPort::get(nb, u))
                .map(|p| self.switch_port(sb, p))
                .collect();
            (refs, ports)
        } else if let Some(r) = nb::LogicalRouter::get(nb, &dp) {
            let refs: Vec<Uuid> = r.ports_uuids().collect();
            let ports = refs
                .iter()
                .filter_map(|u| nb::LogicalRouterPort::get(nb, u))
                .map(|p| self.router_port(sb, p))
                .collect();
            (refs, ports)
        } else {
            return;
        };
        ports.retain(|e| !e.name.is_empty());
        // Stable: ports of the same name keep the column's order.
        ports.sort_by(|a, b| a.name.cmp(&b.name));
        for port in &refs {
            note(self.port_dps.entry(*port).or_default(), dp);
        }
        for e in &ports {
            note(self.name_dps.entry(e.name.clone()).or_default(), dp);
        }
        self.blocks.insert(dp, Block { ports, refs });
    }

    fn switch_port(&self, sb: &Replica, lsp: nb::LogicalSwitchPort<'_>) -> Entry {
        let type_ = lsp.type_();
        let (mut requested_key, mut asks_queue) = (None, false);
        for (key, value) in lsp.options().iter() {
            if key == super::keys::REQUESTED {
                requested_key = Some(value.to_string());
            } else if super::QOS_OPTIONS.contains(&key) {
                asks_queue = type_ != "router";
            }
        }
        let binding = self.binding(sb, lsp.name());
        Entry {
            uuid: lsp.uuid(),
            router: false,
            name: lsp.name().to_string(),
            type_: port_type(type_),
            requested_key,
            asks_queue,
            tag_request: lsp.tag_request(),
            dhcp_options: [lsp.dhcpv4_options_uuids().next(), lsp.dhcpv6_options_uuids().next()],
            parsed: parse_lsp(lsp),
            binding: binding.map(|pb| pb.uuid()),
            sb_key: binding.and_then(super::sb_key),
            up: super::up(type_, binding),
            peer: (type_ == "router").then(|| lsp.options().get("router-port").map(str::to_string)).flatten(),
            gateway: false,
        }
    }

    fn router_port(&self, sb: &Replica, lrp: nb::LogicalRouterPort<'_>) -> Entry {
        let requested_key = lrp.options().get(super::keys::REQUESTED).map(str::to_string);
        let binding = self.binding(sb, lrp.name());
        Entry {
            uuid: lrp.uuid(),
            router: true,
            name: lrp.name().to_string(),
            type_: Cow::Borrowed(""),
            requested_key,
            asks_queue: false,
            tag_request: None,
            dhcp_options: [None, None],
            parsed: parse_lrp(lrp),
            binding: binding.map(|pb| pb.uuid()),
            sb_key: binding.and_then(super::sb_key),
            up: false,
            peer: lrp.peer().map(str::to_string),
            gateway: lrp.gateway_chassis().next().is_some() || lrp.ha_chassis_group().is_some(),
        }
    }
}

/// The switch port types ovn-nb(5) names.
const PORT_TYPES: [&str; 11] = [
    "",
    "router",
    "localnet",
    "localport",
    "l2gateway",
    "vtep",
    "external",
    "virtual",
    "remote",
    "patch",
    "chassisredirect",
];

/// A port's type: one of `PORT_TYPES` without a copy, so that the passes
/// over every port that compare types (`link_peers`) read no memory of
/// their own per port.
fn port_type(t: &str) -> Cow<'static, str> {
    match PORT_TYPES.iter().find(|k| **k == t) {
        Some(k) => Cow::Borrowed(k),
        None => Cow::Owned(t.to_string()),
    }
}

/// A chassis row's `other_config:port-up-notif`.
fn port_up_notif(chassis: &ovsdb::replica::Row) -> bool {
    crate::input::StrMap(chassis.get("other_config")).get_bool("port-up-notif", false)
}

/// Adds `dp` to the datapaths of a port or name.
fn note(dps: &mut Vec<Uuid>, dp: Uuid) {
    if !dps.contains(&dp) {
        dps.push(dp);
    }
}

/// Takes `dp` out of the datapaths of `key`, and the key out when none
/// are left.
fn forget<K: std::hash::Hash + Eq, S: std::hash::BuildHasher>(map: &mut HashMap<K, Vec<Uuid>, S>, key: &K, dp: Uuid) {
    if let Some(dps) = map.get_mut(key) {
        dps.retain(|d| *d != dp);
        if dps.is_empty() {
            map.remove(key);
        }
    }
}

/// The memo of one switch port.
fn parse_lsp(lsp: nb::LogicalSwitchPort<'_>) -> Parsed {
    let mut p = Parsed::default();
    for a in lsp.addresses() {
        match a {
            "unknown" => p.has_unknown = true,
            "router" => {}
            a => match ipam::Request::parse(a) {
                Some(request) => p.requests.push(request),
                None => match LportAddresses::parse(a) {
                    Some(parsed) => p.addrs.push(parsed),
                    None => p.bad.push(("addresses", a.to_string(), "invalid syntax, entry ignored")),
                },
            },
        }
    }
    for a in lsp.port_security() {
        match LportAddresses::parse(a) {
            Some(parsed) => p.ps_addrs.push(parsed),
            None => p.bad.push(("port_security", a.to_string(), "invalid syntax, entry ignored")),
        }
    }
    p
}

/// The memo of one router port. Without a MAC the reference writes
/// neither the port's binding nor a flow of it: no addresses, and the MAC
/// among the bad entries.
fn parse_lrp(lrp: nb::LogicalRouterPort<'_>) -> Parsed {
    let mut p = Parsed::default();
    match Mac::parse(lrp.mac()) {
        None => p.bad.push(("mac", lrp.mac().to_string(), "invalid MAC, port left out")),
        Some(mac) => {
            let (parsed, bad) = LportAddresses::router_port(mac, lrp.networks());
            p.bad.extend(bad.into_iter().map(|n| ("networks", n.to_string(), "invalid network, entry ignored")));
            p.addrs.push(parsed);
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use ovsdb::proto::update::{decode_table_updates, UpdateFormat};

    use super::super::testutil::{named_row, u};
    use super::*;
    use crate::tests::replica;

    fn apply(r: &mut Replica, json: &str) {
        r.apply(decode_table_updates(json, UpdateFormat::Update2, r.schema()).unwrap()).unwrap();
    }

    fn uuid(n: u32) -> Uuid {
        u(n).parse().unwrap()
    }

    /// Notes the changes of both replicas and updates the memo.
    fn update(memo: &mut PortMemo, nb: &mut Replica, sb: &mut Replica) {
        let mut changed = Changed::default();
        changed.observe(&nb.take_changes(), None);
        let changes = sb.take_changes();
        changed.observe(&changes, Some(&*sb));
        memo.update(nb, sb, &changed);
    }

    fn ports(memo: &PortMemo, dp: u32) -> Vec<(&str, bool, Vec<String>)> {
        let block = memo.block(&uuid(dp)).map_or(&[][..], |b| &b.ports[..]);
        block
            .iter()
            .map(|e| (e.name.as_str(), e.up, e.parsed.addrs.iter().map(|a| a.mac.to_string()).collect()))
            .collect()
    }

    /// A kept memo gathers again the switch whose port's addresses
    /// changed, the switch a port left and the one it joined, the switch
    /// of a port whose SB binding a chassis claimed or that went, and
    /// every switch when a chassis starts reporting port readiness; and
    /// then holds what a new memo would.
    #[test]
    fn a_kept_memo_follows_changes_of_the_rows() {
        let switch = |n: u32, name: &str, ports: &[u32]| {
            let ports: Vec<String> = ports.iter().map(|p| format!(r#"["uuid", "{}"]"#, u(*p))).collect();
            format!(r#""{}": {{"initial": {{"name": "{name}", "ports": ["set", [{}]]}}}}"#, u(n), ports.join(", "))
        };
        let mut nb = replica(
            "ovn-nb.ovsschema",
            &format!(
                r#"{{"Logical_Switch": {{{}, {}}}, "Logical_Switch_Port": {{{}, {}, {}}}}}"#,
                switch(1, "sw1", &[11, 12]),
                switch(2, "sw2", &[13]),
                named_row(11, "p2", r#", "addresses": "00:00:00:00:00:01 10.0.0.1""#),
                named_row(12, "p1", r#", "addresses": ["set", ["unknown", "zz"]]"#),
                named_row(13, "p3", r#", "addresses": "00:00:00:00:00:03""#),
            ),
        );
        let mut sb = replica("ovn-sb.ovsschema", "{}");
        let mut memo = PortMemo::of(&nb, &sb);
        nb.take_changes();
        sb.take_changes();
        // Sorted by name; the bad entry reported.
        assert_eq!(ports(&memo, 1), [("p1", false, vec![]), ("p2", false, vec!["00:00:00:00:00:01".to_string()])]);
        let p1 = &memo.block(&uuid(1)).unwrap().ports[0];
        assert!(p1.parsed.has_unknown);
        assert_eq!(p1.parsed.bad, [("addresses", "zz".to_string(), "invalid syntax, entry ignored")]);
        // p2's addresses change (update2 diffs), p1 is deleted, p3 moves
        // to sw1.
        apply(
            &mut nb,
            &format!(
                r#"{{"Logical_Switch_Port": {{"{}": {{"modify": {{"addresses":
                    ["set", ["00:00:00:00:00:01 10.0.0.1", "00:00:00:00:00:09 10.0.0.9"]]}}}},
                    "{}": {{"delete": null}}}},
                    "Logical_Switch": {{"{}": {{"modify": {{"ports": ["set", [["uuid", "{}"], ["uuid", "{}"]]]}}}},
                    "{}": {{"modify": {{"ports": ["uuid", "{}"]}}}}}}}}"#,
                u(11),
                u(12),
                u(1),
                u(12),
                u(13),
                u(2),
                u(13)
            ),
        );
        update(&mut memo, &mut nb, &mut sb);
        assert_eq!(
            ports(&memo, 1),
            [
                ("p2", false, vec!["00:00:00:00:00:09".to_string()]),
                ("p3", false, vec!["00:00:00:00:00:03".to_string()])
            ]
        );
        assert!(ports(&memo, 2).is_empty());
        assert_eq!(memo.stale(&nb, &sb), Vec::<Uuid>::new());
        // A chassis claims p3's binding: p3 is up.
        apply(
            &mut sb,
            &format!(
                r#"{{"Chassis": {{"{}": {{"initial": {{"name": "ch", "hostname": "h"}}}}}},
                    "Port_Binding": {{"{}": {{"initial": {{"logical_port": "p3", "tunnel_key": 5,
                        "chassis": ["uuid", "{}"]}}}}}}}}"#,
                u(50),
                u(51),
                u(50)
            ),
        );
        update(&mut memo, &mut nb, &mut sb);
        let p3 = &memo.block(&uuid(1)).unwrap().ports[1];
        assert!(p3.up && p3.binding == Some(uuid(51)));
        assert_eq!(memo.stale(&nb, &sb), Vec::<Uuid>::new());
        // The chassis starts reporting port readiness, which the binding
        // has not: p3 is down, though no binding changed.
        apply(
            &mut sb,
            &format!(
                r#"{{"Chassis": {{"{}": {{"modify": {{"other_config": ["map", [["port-up-notif", "true"]]]}}}}}}}}"#,
                u(50)
            ),
        );
        update(&mut memo, &mut nb, &mut sb);
        assert!(!memo.block(&uuid(1)).unwrap().ports[1].up);
        assert_eq!(memo.stale(&nb, &sb), Vec::<Uuid>::new());
        // The binding goes: p3 is down still, and unbound, through its
        // name alone.
        apply(&mut sb, &format!(r#"{{"Port_Binding": {{"{}": {{"delete": null}}}}}}"#, u(51)));
        update(&mut memo, &mut nb, &mut sb);
        assert_eq!(memo.block(&uuid(1)).unwrap().ports[1].binding, None);
        assert_eq!(memo.stale(&nb, &sb), Vec::<Uuid>::new());
    }
}
