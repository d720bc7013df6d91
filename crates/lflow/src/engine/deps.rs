//! Which datapaths' flows a change can reach: the `northd` node builds the
//! flows of these datapaths again and keeps the others' from the last
//! cycle. Conservative by construction: a change it cannot place makes
//! every datapath's flows be built again.
//!
//! A switch's or router's flows read its own NB row and the rows it
//! reaches through references (ports, ACLs, load balancers and their
//! groups, QoS, DNS, NAT, routes, policies, gateway chassis, ...), the port
//! groups holding its ports, and the model's values of its ports (tunnel
//! keys, dynamic addresses, tags, `up`, peers: their `PortFacts`). Across
//! datapaths:
//! - a router reads the ports of the switches it is attached to (it
//!   resolves their addresses, routes to the NAT addresses of the routers
//!   behind their router ports), all in its flows about that switch
//!   (`Lflow::part`), and whether a switch has a `localnet` or `vtep`
//!   port;
//! - a switch reads its routers' NAT, load balancers, options and gateway
//!   ports, and the router port on it;
//! - a load balancer's health checks bring flows to the switches of its
//!   backends;
//! - the flows all switches with a load balancer VIP share name one of
//!   them (`lb_hint`): when that one changes, all of theirs do.
//!
//! So a change reaches as far as its `Scope`: a switch's ACL, QoS, load
//! balancer or row, or a router's routes and policies, only that datapath;
//! a switch port of a plain type (a VIF, a router port) its switch and the
//! flows of the switch's routers about the switch; another switch port its
//! switch and the switch's routers; a router port its router, its peer (and
//! the ports naming it as their peer when it does not name them back) and
//! the flows of the routers on the peer switch about that switch; a
//! router's load balancers the router and its switches; the rest of a
//! router (NAT, options, gateway ports) the router, its switches and the
//! flows of their routers about them. A load balancer's change, or its
//! joining or leaving a group, reaches its part of the flows of the
//! datapaths that have it, unless what the rest of a datapath's flows read
//! of its load balancers (`flows::lb_print`, kept from its last whole
//! build) changed: then that datapath whole; and a router's switches,
//! whole, when what they read of its VIPs (those their router ports
//! reach) changed. Of the rows, it reaches only those of a router's
//! switches (their router ports announce its VIPs). Conversely, a switch
//! that only changes of its ports' or port groups' rows (or its list of
//! ports, its ports' facts) reach is built but for its load balancers'
//! parts, kept when no load balancer of its reached a part of its flows
//! (`Reached::rest`). The tables whose rows any datapath
//! may read (meters, BFD, NB options, ...) reach every datapath; a chassis
//! (or its encapsulation) does only when it changes what every datapath
//! reads of the chassis (`chassis_print`: VXLAN, the conntrack flavour),
//! else the switches of the ports that name it in `requested-chassis`. A
//! port binding others changed (ovn-controller claiming a port) reaches
//! its switch and its routers' flows about it; a multicast group
//! ovn-controller learned (`IGMP_Group`), its switch and that switch's
//! routers (which may relay it), whole; a BFD session's status, the
//! routers whose static routes depend on a session; a service monitor's
//! status, the part of the flows of the load balancers with health checks
//! on the datapaths that have them. A change reaches the per-datapath SB
//! rows (port bindings, multicast groups) of the datapaths whose flows it
//! reaches whole, but for the
//! tables only flows read (`ROWS_UNREAD`: ACLs, port groups, routes, ...),
//! and the SB `Port_Group` rows and address sets of the port groups whose
//! members' names, addresses or switches it can change
//! (`Deps::port_groups`).

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hash, Hasher};

use foldhash::fast::FixedState;
use ovsdb::replica::{Change, Changes, Row};
use ovsdb::{Atom, Replica, Uuid};

use crate::model::Model;

/// NB tables any datapath's flows may read whole: a change reaches every
/// datapath.
const NB_GLOBAL: &[&str] =
    &["Meter", "Meter_Band", "BFD", "Static_MAC_Binding", "Chassis_Template_Var", "HA_Chassis_Group", "HA_Chassis"];

/// NB tables no flow reads (address sets are named in matches, their
/// contents go to SB `Address_Set` only).
const NB_UNREAD: &[&str] = &["Address_Set", "Connection", "SSL"];

/// `NB_Global` columns no flow reads: sequence numbers and their stamps,
/// connections.
const NB_GLOBAL_UNREAD: &[&str] = &[
    "nb_cfg",
    "nb_cfg_timestamp",
    "sb_cfg",
    "sb_cfg_timestamp",
    "hv_cfg",
    "hv_cfg_timestamp",
    "connections",
    "ssl",
    "external_ids",
];

/// SB tables no flow reads (they are written from the bindings), or read
/// only to keep what northd gave out before (ECMP ids in `Logical_Flow`,
/// which stay with the flows kept).
const SB_UNREAD: &[&str] = &[
    "SB_Global",
    "Logical_Flow",
    "Logical_DP_Group",
    "HA_Chassis",
    "HA_Chassis_Group",
    "Mirror",
    "Load_Balancer",
    "Address_Set",
    "Port_Group",
    "DHCP_Options",
    "DHCPv6_Options",
    "RBAC_Permission",
    "RBAC_Role",
    "IP_Multicast",
    "Static_MAC_Binding",
    "DNS",
    "Meter",
    "Meter_Band",
];

/// The most NB changes kept between two cycles.
const PENDING_MAX: usize = 100_000;

/// The changes since the last cycle, as `deps` needs them.
#[derive(Debug, Default)]
pub struct Pending {
    /// (table, row, its old version if it had one).
    nb: Vec<(String, Uuid, Option<Row>)>,
    /// NB changes until `settle_nb` says whether they were our own write's
    /// echo (what northd writes to NB never changes a flow: IPAM and
    /// generated options read back as decided, `up` is read from SB).
    nb_unsettled: Vec<(String, Uuid, Option<Row>)>,
    /// SB datapaths (by SB row) whose rows others changed, and how far
    /// that reaches.
    sb_datapaths: HashMap<Uuid, Scope, FixedState>,
    /// SB rows changed, with what they reach, until `settle` says whether
    /// the change was our own write's echo.
    unsettled: Vec<(Uuid, SbReach)>,
    /// The names and hostnames of chassis others changed (before and
    /// after).
    chassis: HashSet<String, FixedState>,
    /// Others changed a BFD session (ovn-controller reports its status).
    bfd: bool,
    /// Others changed a service monitor (ovn-controller reports whether
    /// a load balancer's backend is online).
    service_monitors: bool,
    /// A change reaching every datapath came.
    all: bool,
}

impl Pending {
    pub fn observe_nb(&mut self, changes: &Changes) {
        // A standby runs no cycle: past a bound, every datapath is
        // reached anyway.
        if self.all || self.nb.len() + self.nb_unsettled.len() > PENDING_MAX {
            self.all = true;
            self.nb = Vec::new();
            self.nb_unsettled = Vec::new();
            return;
        }
        for (table, uuid, change) in changes.iter() {
            if NB_UNREAD.contains(&table) {
                continue;
            }
            let old = match change {
                Change::Modified { old } | Change::Deleted { old } => Some(old.clone()),
                Change::Inserted => None,
            };
            self.nb_unsettled.push((table.to_string(), *uuid, old));
        }
    }

    /// Says which NB rows changed since the last call were changed by our
    /// own write, as written (`ours`); the others' changes count.
    pub fn settle_nb(&mut self, ours: impl Fn(Uuid) -> bool) {
        let others = std::mem::take(&mut self.nb_unsettled).into_iter().filter(|(_, uuid, _)| !ours(*uuid));
        self.nb.extend(others);
    }

    /// The NB changes are of switch ports, port groups and switches'
    /// lists of ports only (and of `NB_Global` columns no translation
    /// reads: `ovn-nbctl --wait` bumps `nb_cfg` with every change; `nb`
    /// holds the rows as they are now): none of what a datapath's binding
    /// or a load balancer's SB row is made of.
    pub fn ports_only(&self, nb: &Replica) -> bool {
        !self.all
            && self.nb.iter().all(|(table, uuid, old)| match table.as_str() {
                "Logical_Switch_Port" | "Port_Group" => true,
                "Logical_Switch" => changed_only(old.as_ref(), nb.get(table, uuid), &["ports"]),
                "NB_Global" => changed_only(old.as_ref(), nb.get(table, uuid), NB_GLOBAL_UNREAD),
                _ => false,
            })
    }

    pub fn observe_sb(&mut self, changes: &Changes, sb: &Replica) {
        for (table, uuid, change) in changes.iter() {
            if SB_UNREAD.contains(&table) {
                continue;
            }
            let rows = [
                match change {
                    Change::Modified { old } | Change::Deleted { old } => Some(old),
                    Change::Inserted => None,
                },
                sb.get(table, uuid),
            ];
            let rows = rows.into_iter().flatten();
            let reached = match table {
                "Datapath_Binding" => SbReach::Datapaths(vec![*uuid], Scope::Addresses),
                // (Routers read no binding of a switch port but a virtual
                // one's parent, among its addresses.)
                "Port_Binding" | "Multicast_Group" => SbReach::Datapaths(datapaths_of(rows), Scope::Addresses),
                // A group learned on a switch: the switch's group and
                // flows, and those of the routers that relay it.
                "IGMP_Group" => SbReach::Datapaths(datapaths_of(rows), Scope::Ports),
                "Chassis" => SbReach::Chassis(
                    rows.flat_map(|r| [r.get("name"), r.get("hostname")])
                        .filter_map(|d| Some(d.as_atom()?.as_str()?.to_string()))
                        .collect(),
                ),
                // (What flows read of an encapsulation is in the chassis
                // print: VXLAN narrows every key range.)
                "Encap" => SbReach::Chassis(Vec::new()),
                "BFD" => SbReach::Bfd,
                "Service_Monitor" => SbReach::ServiceMonitor,
                _ => SbReach::All,
            };
            self.unsettled.push((*uuid, reached));
        }
    }

    /// Says which SB rows changed since the last call were changed by our
    /// own write, as written (`ours`): the model reads what it wrote the
    /// same as before (and a value it decides differently shows in the
    /// ports' fingerprints); the others' changes reach their datapaths.
    pub fn settle(&mut self, ours: impl Fn(Uuid) -> bool) {
        for (uuid, reached) in std::mem::take(&mut self.unsettled) {
            match reached {
                _ if ours(uuid) => {}
                SbReach::Datapaths(dps, scope) => {
                    for dp in dps {
                        let s = self.sb_datapaths.entry(dp).or_insert(scope);
                        *s = (*s).max(scope);
                    }
                }
                SbReach::Chassis(names) => self.chassis.extend(names),
                SbReach::Bfd => self.bfd = true,
                SbReach::ServiceMonitor => self.service_monitors = true,
                SbReach::All => self.all = true,
            }
        }
    }

    pub fn clear(&mut self) {
        *self = Pending::default();
    }
}

/// The SB datapaths the rows name in `datapath`.
fn datapaths_of<'r>(rows: impl Iterator<Item = &'r Row>) -> Vec<Uuid> {
    rows.flat_map(|r| r.get("datapath").keys().filter_map(Atom::as_uuid)).collect()
}

/// What a change of an SB row reaches.
#[derive(Debug)]
enum SbReach {
    /// The NB datapaths of these SB datapaths, this far.
    Datapaths(Vec<Uuid>, Scope),
    /// A chassis (with these names and hostnames) or its encapsulation:
    /// every datapath when the chassis print changed
    /// (`Deps::chassis_print`), else the switches of the ports that name
    /// one in `options:requested-chassis`. (Ports bound to it whose `up`
    /// changed show in the ports' fingerprints.)
    Chassis(Vec<String>),
    /// A BFD session: the routers whose static routes depend on one
    /// (a route whose session is down is left out).
    Bfd,
    /// A service monitor: the part of the flows of every datapath with a
    /// load balancer with health checks (only its backends online take
    /// traffic).
    ServiceMonitor,
    All,
}

/// How far a change of a datapath's rows reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Scope {
    /// The datapath's own flows (a switch's ACLs, a router's routes).
    Own,
    /// A switch's plain ports (`PLAIN_TYPES`): the switch, and the flows of
    /// the routers attached to it about its ports (a part of theirs, `Lflow::part`: they
    /// resolve the ports' addresses, and the NAT addresses of the routers
    /// behind router ports, and read nothing else of them).
    Addresses,
    /// A switch's ports: the switch and the routers attached to it, which
    /// resolve the ports' addresses.
    Ports,
    /// A router's load balancers: the router and its switches, which
    /// answer ARP for its VIPs (the other routers there do not read them).
    Switches,
    /// A router's NAT, options, gateway ports: the router, its switches and
    /// their routers (which route to its NAT addresses).
    Router,
}

/// NB tables whose rows only flows read, not the per-datapath SB rows
/// (port bindings, multicast groups, IP multicast): a change reaches the
/// flows of its datapaths, not their rows.
const ROWS_UNREAD: &[&str] = &[
    "ACL",
    "Port_Group",
    "QoS",
    "DHCP_Options",
    "DNS",
    "Forwarding_Group",
    "Logical_Router_Static_Route",
    "Logical_Router_Policy",
];

/// The datapaths (NB rows) a change reaches: their flows, and their
/// per-datapath SB rows (`bindings::PER_DATAPATH`).
#[derive(Debug, Default)]
pub struct Reached {
    pub flows: HashSet<Uuid, FixedState>,
    /// Datapaths not in `flows` of which only these parts of the flows
    /// are reached (`Lflow::part`, by NB row: a switch behind a router, a
    /// load balancer).
    pub parts: HashMap<Uuid, HashSet<Uuid, FixedState>, FixedState>,
    pub rows: HashSet<Uuid, FixedState>,
    /// The names of the port groups whose per-switch SB `Port_Group` rows
    /// (`<switch key>_<name>`) the change reaches; all when `None`.
    pub port_groups: Option<HashSet<String>>,
    /// Switches of `flows` whose load balancers' parts of the flows
    /// (`Lflow::part`) the change does not reach: only their ports' and
    /// port groups' rows (and their lists of ports) changed, and none of
    /// their load balancers, nor which they are.
    pub rest: HashSet<Uuid, FixedState>,
}

/// Logical_Router columns only the router's own flows read: the rows they
/// name are placed by their own changes (a router port by `Deps::through`).
const ROUTER_OWN_COLUMNS: &[&str] = &["ports", "static_routes", "policies"];

/// NB tables whose rows only the flows of the routers holding them read.
const ROUTER_OWN_TABLES: &[&str] = &["Logical_Router_Static_Route", "Logical_Router_Policy"];

/// The types of the switch ports of which the routers on the switch read
/// only the addresses and peers (`Scope::Addresses`); they read whether
/// the switch has ports of others (`localnet`, `vtep`), and virtual ports'
/// parents.
const PLAIN_TYPES: &[&str] = &["", "router"];

/// The NB tables whose rows' changes leave the flows of the load
/// balancers of the switches they reach as they were.
const PORT_TABLES: &[&str] = &["Logical_Switch_Port", "Logical_Router_Port", "Port_Group"];

/// A switch port row of a plain type (or none: an insert or a delete).
fn plain(row: Option<&Row>) -> bool {
    row.map_or(true, |r| r.get("type").as_atom().and_then(Atom::as_str).map_or(true, |t| PLAIN_TYPES.contains(&t)))
}

/// What the model says of one port, as other datapaths read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PortFacts {
    /// Its datapath (NB row).
    dp: Uuid,
    /// The datapath of its peer, if it has one.
    peer_dp: Option<Uuid>,
    /// Its model values: tunnel key, dynamic addresses, tag, `up`, peer.
    print: u64,
    is_router_port: bool,
    /// A switch port of a plain type (`PLAIN_TYPES`).
    plain: bool,
}

/// The facts of a datapath's ports, in model order.
type PortList = Vec<(Uuid, PortFacts)>;

/// What the last cycle knew of the datapaths, to place this cycle's
/// changes (a deleted row is placed where it was).
#[derive(Debug, Default)]
pub struct Deps {
    /// Which datapaths reach each NB row.
    owners: Owners,
    /// Datapath -> the datapaths its ports are peers of, and those of the
    /// ports peering its ports one way.
    neighbors: HashMap<Uuid, Vec<Uuid>, FixedState>,
    /// Router port (NB row) -> the datapaths of the ports that name it as
    /// their peer without it naming them back (a router port peering one
    /// way, a second switch port on a router port): they read it, but
    /// its own peer link does not lead to them.
    peered_by: HashMap<Uuid, Vec<Uuid>, FixedState>,
    routers: HashSet<Uuid, FixedState>,
    /// Datapath -> its own model values (tunnel key, gateway ports').
    prints: HashMap<Uuid, u64, FixedState>,
    /// Port (NB row) -> what the model says of it.
    ports: HashMap<Uuid, PortFacts, FixedState>,
    /// Datapath -> the facts of its ports, in model order: a datapath
    /// whose list is as it was has no port whose facts changed (a
    /// sequential compare, where comparing the `ports` of two cycles
    /// waited for memory on every port).
    dp_ports: HashMap<Uuid, PortList, FixedState>,
    /// The ports whose facts differ from the last cycle's: (port, before,
    /// now), sorted by port.
    changed_ports: Vec<(Uuid, Option<PortFacts>, Option<PortFacts>)>,
    /// SB datapath row -> NB datapath row.
    sb_to_nb: HashMap<Uuid, Uuid, FixedState>,
    /// `Model::lb_hint`, the switch whose row the flows every
    /// load-balancing switch shares name: when it changes, every such switch's flows
    /// do (a switch that stopped balancing changed itself).
    lb_hint: Option<Uuid>,
    /// What every datapath's flows read of the chassis (`chassis_print`).
    chassis_print: u64,
    /// Load balancer with health checks -> which of the ports its monitors
    /// name are switch ports (a backend is checked only then), hashed.
    monitors: HashMap<Uuid, u64, FixedState>,
    /// Datapath -> `flows::lb_print` when its flows were last built whole
    /// or a load balancer's part of them: a load balancer change that
    /// leaves it the same reaches that balancer's part alone.
    lb_prints: HashMap<Uuid, u64, FixedState>,
}

impl Deps {
    /// The datapaths (NB rows) whose flows `pending` may change, given
    /// the new `model`; `None` for all of them. Then takes the new model's
    /// facts for the next cycle.
    pub fn reached(&mut self, m: &Model<'_>, pending: &Pending, all: bool) -> Option<Reached> {
        let mut next = Deps::of(m, self);
        let mut owners = std::mem::take(&mut self.owners);
        // The owners the rows `reach` asks about had before the changes.
        let mut prior: HashMap<Uuid, Vec<Uuid>, FixedState> = HashMap::default();
        for (table, uuid, old) in &pending.nb {
            prior.insert(*uuid, owners.of(uuid).collect());
            if table == "Port_Group" {
                let rows = old.iter().chain(m.nb.get(table, uuid));
                for port in rows.flat_map(|r| r.get("ports").keys().filter_map(Atom::as_uuid)) {
                    prior.insert(port, owners.of(&port).collect());
                }
            }
        }
        if all || pending.all {
            owners = Owners::walk(m.nb);
        } else if !pending.nb.is_empty() {
            owners.update(m.nb, pending.nb.iter().map(|(t, u, _)| (t.as_str(), *u)));
        }
        next.owners = owners;
        let reached = (!all && !pending.all).then(|| self.reach(&next, m, pending, &prior)).flatten();
        let reached = reached.map(|(mut reached, lb_parts)| {
            reached.port_groups = Some(self.port_groups(&next, m, pending));
            (reached, lb_parts)
        });
        let ids: HashMap<Uuid, crate::output::DpId, FixedState> = m.datapaths.iter().map(|d| (d.uuid, d.id)).collect();
        // Each datapath's print, computed once this cycle.
        let mut prints: HashMap<Uuid, Option<u64>, FixedState> = HashMap::default();
        let mut print =
            |dp: Uuid| *prints.entry(dp).or_insert_with(|| ids.get(&dp).map(|id| crate::flows::lb_print(m, *id)));
        next.lb_prints = std::mem::take(&mut self.lb_prints);
        let reached = reached.map(|(mut reached, lb_parts)| {
            // A switch's load balancers' parts stay when none of them
            // changed (nor which they are: that is a change of the
            // switch's row, of a group, or a balancer's part).
            let touched: HashSet<Uuid, FixedState> = lb_parts.iter().map(|(dp, _)| *dp).collect();
            reached.rest.retain(|dp| !touched.contains(dp));
            // A load balancer's part alone, unless what the rest of the
            // datapath reads of its load balancers changed (or is not
            // known); a router's switches read its VIPs (they are built
            // whole when what they read of them changed).
            let mut same = |dp: Uuid| {
                let p = print(dp);
                p.is_some() && p == next.lb_prints.get(&dp).copied()
            };
            for (dp, lb) in lb_parts {
                let mut candidates = vec![(dp, Some(lb))];
                if next.routers.contains(&dp) {
                    let switches = next.neighbors.get(&dp).into_iter().chain(self.neighbors.get(&dp)).flatten();
                    candidates.extend(switches.map(|s| (*s, None)));
                }
                for (dp, lb) in candidates {
                    if reached.flows.contains(&dp) {
                        continue;
                    }
                    if !same(dp) {
                        reached.flows.insert(dp);
                    } else if let Some(lb) = lb {
                        reached.parts.entry(dp).or_default().insert(lb);
                    }
                }
            }
            reached.parts.retain(|dp, _| !reached.flows.contains(dp));
            reached
        });
        // (A datapath built in part keeps its print: a load balancer's
        // part is built only when the print stays.)
        let whole: Vec<Uuid> = match &reached {
            Some(r) => r.flows.iter().filter(|dp| !r.rest.contains(dp)).copied().collect(),
            None => {
                next.lb_prints.clear();
                ids.keys().copied().collect()
            }
        };
        next.lb_prints.retain(|dp, _| ids.contains_key(dp));
        for dp in whole {
            if let Some(p) = print(dp) {
                next.lb_prints.insert(dp, p);
            }
        }
        // (The rest of a switch is what reads its load balancers.)
        for dp in reached.iter().flat_map(|r| &r.rest) {
            if let Some(p) = print(*dp) {
                next.lb_prints.insert(*dp, p);
            }
        }
        *self = next;
        reached
    }

    fn reach(
        &self,
        next: &Deps,
        m: &Model<'_>,
        pending: &Pending,
        prior: &HashMap<Uuid, Vec<Uuid>, FixedState>,
    ) -> Option<(Reached, Vec<(Uuid, Uuid)>)> {
        if next.chassis_print != self.chassis_print {
            return None;
        }
        let is_router = |dp: &Uuid| next.routers.contains(dp) || self.routers.contains(dp);
        // For the flows, and for the per-datapath rows.
        let mut scopes: [HashMap<Uuid, Scope, FixedState>; 2] = Default::default();
        let mut add_to = |dp: Uuid, scope: Scope, flows: bool, rows: bool| {
            // A router's ports are what it is: its changes reach as far
            // as a router's.
            let ports = matches!(scope, Scope::Addresses | Scope::Ports);
            let scope = if ports && is_router(&dp) { Scope::Router } else { scope };
            let which = match (flows, rows) {
                (true, true) => &mut scopes[..],
                (true, false) => &mut scopes[..1],
                (false, _) => &mut scopes[1..],
            };
            for map in which {
                let s = map.entry(dp).or_insert(scope);
                *s = (*s).max(scope);
            }
        };
        // Router ports whose changes reach through them.
        let mut through: Vec<Uuid> = Vec::new();
        // (Datapath, load balancer) whose part of the flows a change
        // reaches (`Deps::reached` decides whether the whole).
        let mut lb_parts: Vec<(Uuid, Uuid)> = Vec::new();
        // Routers whose load balancers changed.
        let mut lb_routers: Vec<Uuid> = Vec::new();
        let owners = |uuid: &Uuid| -> Vec<Uuid> {
            prior.get(uuid).into_iter().flatten().copied().chain(next.owners.of(uuid)).collect()
        };
        // Datapaths a change of a row other than a port's or a port
        // group's (or of a switch's list of ports) reaches (a switch's
        // row, a Copp whose meters its load balancers' flows carry, ...):
        // built whole, load balancers too.
        let mut lbs_too: HashSet<Uuid, FixedState> = HashSet::default();
        for (table, uuid, old) in &pending.nb {
            let new = m.nb.get(table, uuid);
            let only_ports = table == "Logical_Switch" && changed_only(old.as_ref(), new, &["ports"]);
            if !PORT_TABLES.contains(&table.as_str()) && !only_ports {
                lbs_too.insert(*uuid);
                lbs_too.extend(owners(uuid));
            }
            match table.as_str() {
                t if NB_GLOBAL.contains(&t) => return None,
                "NB_Global" if changed_only(old.as_ref(), new, NB_GLOBAL_UNREAD) => {}
                "NB_Global" => return None,
                // Its ports are placed by their own changes and facts.
                "Logical_Switch" => {
                    add_to(*uuid, if old.is_some() && new.is_some() { Scope::Own } else { Scope::Ports }, true, true)
                }
                // Its routes and policies only its flows read; its ports
                // are placed by their own changes and facts.
                "Logical_Router" if changed_only(old.as_ref(), new, ROUTER_OWN_COLUMNS) => {
                    add_to(*uuid, Scope::Own, true, false)
                }
                "Logical_Router" => add_to(*uuid, Scope::Router, true, true),
                // A gateway port's changes move NAT and what the router's
                // switches send to its chassis.
                "Logical_Router_Port" if old.iter().chain(new).any(is_gateway_port) => {
                    for dp in owners(uuid) {
                        add_to(dp, Scope::Router, true, true);
                    }
                }
                "Logical_Router_Port" => through.push(*uuid),
                // Health checks also bring flows to the switches of the
                // backends' ports, named in `ip_port_mappings`.
                "Load_Balancer_Health_Check" => return None,
                "Load_Balancer" if old.iter().chain(new).any(|r| !r.get("ip_port_mappings").is_empty()) => return None,
                // Its part of the flows of the datapaths that have it; the
                // rows of a router's switches (its VIPs are among the NAT
                // addresses their router ports announce), no other row.
                "Load_Balancer" => {
                    for dp in owners(uuid) {
                        lb_parts.push((dp, *uuid));
                        lb_routers.extend(Some(dp).filter(|dp| is_router(dp)));
                    }
                }
                "Load_Balancer_Group" if changed_only(old.as_ref(), new, &["load_balancer"]) => {
                    let lbs = |r: Option<&Row>| -> HashSet<Uuid, FixedState> {
                        r.into_iter().flat_map(|r| r.get("load_balancer").keys().filter_map(Atom::as_uuid)).collect()
                    };
                    let (before, after) = (lbs(old.as_ref()), lbs(new));
                    for dp in owners(uuid) {
                        for lb in before.symmetric_difference(&after) {
                            lb_parts.push((dp, *lb));
                        }
                        lb_routers.extend(Some(dp).filter(|dp| is_router(dp)));
                    }
                }
                "Port_Group" => {
                    // Its ports' switches, before and after; when only its
                    // members changed, the switches of the ports that came or
                    // went (a switch reads which groups its ports are in, not
                    // the groups' other members).
                    let members = |r: Option<&Row>| -> HashSet<Uuid, FixedState> {
                        r.into_iter().flat_map(|r| r.get("ports").keys().filter_map(Atom::as_uuid)).collect()
                    };
                    let (before, after) = (members(old.as_ref()), members(new));
                    let only_members = changed_only(old.as_ref(), new, &["ports"]);
                    let ports: Vec<Uuid> = if only_members {
                        before.symmetric_difference(&after).copied().collect()
                    } else {
                        before.union(&after).copied().collect()
                    };
                    for port in ports {
                        for dp in owners(&port) {
                            add_to(dp, Scope::Own, true, false);
                        }
                    }
                }
                _ => {
                    for dp in owners(uuid) {
                        let scope = match (is_router(&dp), table.as_str()) {
                            (false, "Logical_Switch_Port") if plain(old.as_ref()) && plain(new) => Scope::Addresses,
                            (false, "Logical_Switch_Port") => Scope::Ports,
                            (false, _) => Scope::Own,
                            (true, t) if ROUTER_OWN_TABLES.contains(&t) => Scope::Own,
                            (true, "Load_Balancer" | "Load_Balancer_Group") => Scope::Switches,
                            (true, _) => Scope::Router,
                        };
                        add_to(dp, scope, true, !ROWS_UNREAD.contains(&table.as_str()));
                    }
                }
            }
        }
        // A port's binding names the chassis of its requested-chassis
        // option (by name, or by hostname).
        if !pending.chassis.is_empty() {
            for p in &m.ports {
                let Some(req) = p.lsp().and_then(|l| l.options().get("requested-chassis")) else { continue };
                if req.split(',').any(|n| pending.chassis.contains(n.trim())) {
                    add_to(m.dp(p.dp).uuid, Scope::Own, true, true);
                }
            }
        }
        if pending.bfd {
            for (uuid, nb) in m.routers().filter_map(|r| Some((r.uuid, r.router()?))) {
                if nb.static_routes().any(|route| route.bfd_uuids().next().is_some()) {
                    add_to(uuid, Scope::Own, true, false);
                }
            }
        }
        // A port its health checks name came or went: the load
        // balancer's part of the flows of the datapaths that have it.
        for lb in differing_keys(&self.monitors, &next.monitors) {
            for dp in owners(&lb) {
                lb_parts.push((dp, lb));
            }
        }
        if pending.service_monitors {
            // (The balancers with health checks, as `monitors` has them.)
            for lb in next.monitors.keys() {
                for dp in owners(lb) {
                    lb_parts.push((dp, *lb));
                }
            }
        }
        for (sb_dp, scope) in &pending.sb_datapaths {
            // A row of a datapath we do not know reaches nothing.
            if let Some(dp) = self.sb_to_nb.get(sb_dp).or(next.sb_to_nb.get(sb_dp)) {
                add_to(*dp, *scope, true, true);
            }
        }
        if self.lb_hint != next.lb_hint {
            for dp in m.lb_switches() {
                add_to(dp, Scope::Own, true, false);
            }
        }
        // The model's values of each datapath and port.
        for dp in differing_keys(&self.prints, &next.prints) {
            add_to(dp, Scope::Ports, true, true);
        }
        for (port, before, now) in &next.changed_ports {
            for f in before.iter().chain(now) {
                if f.is_router_port {
                    through.push(*port);
                } else {
                    add_to(f.dp, if f.plain { Scope::Addresses } else { Scope::Ports }, true, true);
                }
            }
        }
        let neighbors = |dp: &Uuid| -> Vec<Uuid> {
            let mut n: Vec<Uuid> =
                self.neighbors.get(dp).into_iter().chain(next.neighbors.get(dp)).flatten().copied().collect();
            n.sort();
            n.dedup();
            n
        };
        // A switch and the routers on it.
        // A switch and the routers on it, whole (`whole`) or only their
        // flows about the switch (a part of theirs: for the rows, none).
        let switch_and_routers =
            |dp: Uuid, whole: bool, reached: &mut HashSet<Uuid, FixedState>, behind: &mut Vec<(Uuid, Uuid)>| {
                reached.insert(dp);
                if !is_router(&dp) {
                    for router in neighbors(&dp).into_iter().filter(|n| is_router(n)) {
                        if whole {
                            reached.insert(router);
                        } else {
                            behind.push((router, dp));
                        }
                    }
                }
            };
        // A router's load balancers: its rows (its `_rtr_lb_` address
        // sets) and its switches' (their router ports announce its VIPs).
        for router in lb_routers {
            add_to(router, Scope::Own, false, true);
            for switch in neighbors(&router) {
                add_to(switch, Scope::Own, false, true);
            }
        }
        let [flow_scopes, row_scopes] = scopes;
        let expand = |scopes: HashMap<Uuid, Scope, FixedState>| {
            let (mut reached, mut behind) = (HashSet::default(), Vec::new());
            for (dp, scope) in scopes {
                match scope {
                    Scope::Own => {
                        reached.insert(dp);
                    }
                    Scope::Addresses => switch_and_routers(dp, false, &mut reached, &mut behind),
                    Scope::Ports => switch_and_routers(dp, true, &mut reached, &mut behind),
                    Scope::Switches => {
                        reached.insert(dp);
                        reached.extend(neighbors(&dp));
                    }
                    // The other routers on its switches read its router
                    // ports and their NAT addresses there, as those
                    // switches' ports.
                    Scope::Router => {
                        reached.insert(dp);
                        for n in neighbors(&dp) {
                            switch_and_routers(n, false, &mut reached, &mut behind);
                        }
                    }
                }
            }
            // A router port: its router, its peer (and the ports naming it
            // as theirs one way), and the flows of the routers on the peer
            // switch about that switch (they resolve its addresses).
            for port in &through {
                for f in next.facts(port) {
                    reached.insert(f.dp);
                    if let Some(peer) = f.peer_dp {
                        switch_and_routers(peer, false, &mut reached, &mut behind);
                    }
                }
                for &dp in next.peered_by.get(port).into_iter().flatten() {
                    switch_and_routers(dp, false, &mut reached, &mut behind);
                }
            }
            (reached, behind)
        };
        let ((flows, pairs), (rows, _)) = (expand(flow_scopes), expand(row_scopes));
        let mut parts: HashMap<Uuid, HashSet<Uuid, FixedState>, FixedState> = HashMap::default();
        for (router, switch) in pairs.into_iter().filter(|(router, _)| !flows.contains(router)) {
            parts.entry(router).or_default().insert(switch);
        }
        let rest = flows.iter().filter(|dp| !is_router(dp) && !lbs_too.contains(dp)).copied().collect();
        Some((Reached { flows, parts, rows, port_groups: None, rest }, lb_parts))
    }

    /// The names of the port groups whose SB `Port_Group` rows (their
    /// ports' names on each switch's key) `pending` may change: those of
    /// the groups that changed, of the groups of the ports that changed or
    /// came onto or left a switch, and of the groups of every port of a
    /// switch that came, went or changed its key (a router's coming or
    /// going changes no group).
    fn port_groups(&self, next: &Deps, m: &Model<'_>, pending: &Pending) -> HashSet<String> {
        let name = |r: &Row| r.get("name").as_atom().and_then(Atom::as_str).map(str::to_string);
        let mut names = HashSet::new();
        let mut ports: HashSet<Uuid, FixedState> = next.changed_ports.iter().map(|(port, ..)| *port).collect();
        let switches: HashSet<Uuid, FixedState> = differing_keys(&self.prints, &next.prints)
            .into_iter()
            .filter(|dp| !self.routers.contains(dp) && !next.routers.contains(dp))
            .collect();
        if !switches.is_empty() {
            let before = next.changed_ports.iter().filter_map(|(port, before, _)| Some((port, (*before)?)));
            let on_them = next.ports.iter().map(|(port, f)| (port, *f)).chain(before);
            ports.extend(on_them.filter(|(_, f)| switches.contains(&f.dp)).map(|(port, _)| *port));
        }
        for (table, uuid, old) in &pending.nb {
            let new = m.nb.get(table, uuid);
            match table.as_str() {
                "Port_Group" => names.extend(old.iter().chain(new).filter_map(name)),
                "Logical_Switch_Port" => {
                    ports.insert(*uuid);
                }
                "Logical_Switch" => {
                    let of = |r: Option<&Row>| -> HashSet<Uuid, FixedState> {
                        r.into_iter().flat_map(|r| r.get("ports").keys().filter_map(Atom::as_uuid)).collect()
                    };
                    ports.extend(of(old.as_ref()).symmetric_difference(&of(new)));
                }
                _ => {}
            }
        }
        if !ports.is_empty() {
            for g in m.nb.table("Port_Group").into_iter().flat_map(|t| t.rows()) {
                if g.get("ports").keys().filter_map(Atom::as_uuid).any(|p| ports.contains(&p)) {
                    names.extend(name(g));
                }
            }
        }
        names
    }

    /// The NB rows whose owners, as kept, differ from a fresh walk's of
    /// `nb`. For tests.
    pub fn stale_owners(&self, nb: &Replica) -> Vec<Uuid> {
        self.owners.differing(nb)
    }

    /// A port's facts before this cycle's changes and now (the same
    /// twice for a port whose facts did not change).
    fn facts(&self, port: &Uuid) -> impl Iterator<Item = PortFacts> + '_ {
        let now = self.ports.get(port).copied();
        // (`changed_ports` is sorted by port.)
        let before = match self.changed_ports.binary_search_by_key(port, |(p, ..)| *p) {
            Ok(i) => self.changed_ports[i].1,
            Err(_) => now,
        };
        before.into_iter().chain(now)
    }

    /// The facts of `m`, but for the owners of NB rows; takes the ports'
    /// facts of `last` (the last cycle's), and notes which changed.
    fn of(m: &Model<'_>, last: &mut Deps) -> Deps {
        let n_dps = m.datapaths.len();
        let mut last_dp_ports = std::mem::take(&mut last.dp_ports);
        let mut d = Deps {
            lb_hint: m.lb_hint,
            ports: std::mem::take(&mut last.ports),
            dp_ports: HashMap::with_capacity_and_hasher(n_dps, FixedState::default()),
            prints: HashMap::with_capacity_and_hasher(n_dps, FixedState::default()),
            neighbors: HashMap::with_capacity_and_hasher(n_dps, FixedState::default()),
            ..Deps::default()
        };
        // The lists of the datapaths whose ports' facts changed: (before,
        // now).
        let mut changed: Vec<(PortList, PortList)> = Vec::new();
        // (The datapath of a port peered one way, the datapath of a port
        // naming it.)
        let mut one_way = Vec::new();
        for dp in &m.datapaths {
            if !dp.is_switch() {
                d.routers.insert(dp.uuid);
            }
            let mut h = FixedState::default().build_hasher();
            dp.tunnel_key.hash(&mut h);
            // The groups learned on a switch are those of their ports that
            // are still on it: a port leaving changes what its routers
            // relay.
            let first = m.igmp_groups.partition_point(|g| g.dp < dp.id);
            for g in m.igmp_groups[first..].iter().take_while(|g| g.dp == dp.id) {
                (&g.address, g.tunnel_key, g.ports.iter().map(|&p| m.ports[p].name()).collect::<Vec<_>>()).hash(&mut h);
            }
            let mut neighbors = Vec::new();
            let mut facts_of = Vec::with_capacity(dp.ports.len());
            for &p in &dp.ports {
                let port = &m.ports[p];
                if let Some(cr) = m.cr_port(p) {
                    (port.uuid(), cr.tunnel_key).hash(&mut h);
                }
                let peer = port.peer.map(|q| &m.ports[q]);
                let mut ph = FixedState::default().build_hasher();
                (port.name(), port.tunnel_key, port.tag(), port.up(), port.has_unknown()).hash(&mut ph);
                port.dynamic_addresses().hash(&mut ph);
                peer.map(|q| q.name()).hash(&mut ph);
                let peer_dp = peer.map(|q| m.dp(q.dp).uuid);
                neighbors.extend(peer_dp);
                if let Some(q) = peer.filter(|q| q.peer != Some(p)) {
                    d.peered_by.entry(q.uuid()).or_default().push(dp.uuid);
                    one_way.push((m.dp(q.dp).uuid, dp.uuid));
                }
                let facts = PortFacts {
                    dp: dp.uuid,
                    peer_dp,
                    print: ph.finish(),
                    is_router_port: port.is_lrp(),
                    plain: port.is_lsp() && PLAIN_TYPES.contains(&port.lsp_type()),
                };
                facts_of.push((port.uuid(), facts));
            }
            d.prints.insert(dp.uuid, h.finish());
            d.neighbors.insert(dp.uuid, neighbors);
            let before = last_dp_ports.remove(&dp.uuid).unwrap_or_default();
            if before != facts_of {
                changed.push((before, facts_of.clone()));
            }
            d.dp_ports.insert(dp.uuid, facts_of);
        }
        // A datapath is the neighbour of those whose ports it peers one
        // way too: they read it as theirs.
        for (of, dp) in one_way {
            d.neighbors.entry(of).or_default().push(dp);
        }
        changed.extend(last_dp_ports.into_values().map(|before| (before, Vec::new())));
        d.take_port_changes(changed);
        d.sb_to_nb.extend(m.nb_of_sb.iter().map(|(sb, nb)| (*sb, *nb)));
        d.chassis_print = chassis_print(m.sb);
        for lb in crate::input::nb::LoadBalancer::all(m.nb).filter(|lb| lb.health_check_uuids().next().is_some()) {
            let mut h = FixedState::default().build_hasher();
            for (_, port) in lb.ip_port_mappings().iter() {
                let port = port.split_once(':').map_or(port, |(p, _)| p);
                m.port(port).is_some_and(crate::model::Port::is_lsp).hash(&mut h);
            }
            d.monitors.insert(lb.uuid(), h.finish());
        }
        d
    }
}

impl Deps {
    /// Notes the ports whose facts differ in the datapaths' lists
    /// `changed` (before, now), and brings `ports` up to date.
    fn take_port_changes(&mut self, changed: Vec<(PortList, PortList)>) {
        let mut before: HashMap<Uuid, PortFacts, FixedState> = HashMap::default();
        let mut now: HashMap<Uuid, PortFacts, FixedState> = HashMap::default();
        for (b, n) in changed {
            before.extend(b);
            now.extend(n);
        }
        for port in before.keys() {
            self.ports.remove(port);
        }
        self.ports.extend(now.iter().map(|(p, f)| (*p, *f)));
        let mut ports: Vec<Uuid> = before.keys().chain(now.keys()).copied().collect();
        ports.sort_unstable();
        ports.dedup();
        self.changed_ports = ports
            .into_iter()
            .map(|p| (p, before.get(&p).copied(), now.get(&p).copied()))
            .filter(|(_, b, n)| b != n)
            .collect();
    }
}

/// What any datapath's flows (and the global rows) read of the chassis
/// as a whole: the key ranges (a chassis with VXLAN narrows them), the
/// conntrack flavour every chassis supports, whether one needs the masked
/// ct label. A change of a chassis that leaves them as they were reaches
/// only the ports that name it (`SbReach::Chassis`).
fn chassis_print(sb: &Replica) -> u64 {
    let ct = crate::flows::switch::CtFlavour::of(sb);
    let facts = (crate::model::keys::vxlan_mode(sb), ct.blocked, ct.lb, ct.nat_related);
    FixedState::default().hash_one((facts, crate::global::needs_masked_label(sb)))
}

/// Which datapaths reach each NB row: kept between cycles, and updated
/// from the rows that changed (walking again only the datapaths that
/// reached them, or are them, and the port groups whose ports moved or
/// whose rows changed).
#[derive(Debug, Default)]
struct Owners {
    /// Row -> the switches and routers whose references reach it.
    by_row: HashMap<Uuid, Vec<Uuid>, FixedState>,
    /// Switch or router -> the rows it reaches.
    by_dp: HashMap<Uuid, Vec<Uuid>, FixedState>,
    /// A port group and the rows its ACLs reach -> the switches of the
    /// group's ports (not its ports: a port belongs to its own switch, not
    /// to every switch of its groups); one entry a group, so a switch may
    /// be there more than once.
    by_group: HashMap<Uuid, Vec<Uuid>, FixedState>,
    /// Port group -> what it put in `by_group`.
    groups: HashMap<Uuid, GroupReach, FixedState>,
    /// A port, or a row a port group reaches -> the groups that hold or
    /// reach it.
    group_of: HashMap<Uuid, Vec<Uuid>, FixedState>,
}

/// What one port group reaches, and through which ports.
#[derive(Debug, Default)]
struct GroupReach {
    /// The group and the rows its ACLs reach.
    rows: Vec<Uuid>,
    /// Its ports.
    ports: Vec<Uuid>,
    /// The switches of its ports, sorted.
    dps: Vec<Uuid>,
}

impl Owners {
    /// The datapaths that reach `row`.
    fn of<'o>(&'o self, row: &Uuid) -> impl Iterator<Item = Uuid> + 'o {
        self.by_row.get(row).into_iter().chain(self.by_group.get(row)).flatten().copied()
    }

    /// Every row each switch and router reaches through references, and
    /// the port groups of their ports.
    fn walk(nb: &Replica) -> Owners {
        let mut owners = Owners::default();
        let refs = RefColumns::of(nb);
        for table in ["Logical_Switch", "Logical_Router"] {
            for row in nb.table(table).into_iter().flat_map(|t| t.rows()) {
                owners.add(nb, &refs, row);
            }
        }
        for pg in nb.table("Port_Group").into_iter().flat_map(|t| t.rows()) {
            owners.add_group(nb, &refs, pg);
        }
        owners
    }

    /// Walks again the datapaths that reached the `changed` rows (table,
    /// row) before, or are such rows, and the port groups that are such
    /// rows, reach them, or hold ports whose datapaths changed. A row only
    /// comes within reach through a reference in a row that changed.
    fn update<'c>(&mut self, nb: &Replica, changed: impl Iterator<Item = (&'c str, Uuid)>) {
        let mut touched: HashSet<Uuid, FixedState> = HashSet::default();
        let mut groups: HashSet<Uuid, FixedState> = HashSet::default();
        for (table, row) in changed {
            touched.extend(self.by_row.get(&row).into_iter().flatten());
            groups.extend(self.group_of.get(&row).into_iter().flatten());
            match table {
                "Logical_Switch" | "Logical_Router" => {
                    touched.insert(row);
                }
                "Port_Group" => {
                    groups.insert(row);
                }
                _ => {}
            }
        }
        let refs = RefColumns::of(nb);
        // Only the rows that came into or left a datapath's reach change
        // their owners: a port added to a switch that reaches every load
        // balancer through a group is one row more, not one pass over the
        // owners of every balancer.
        for dp in &touched {
            let before: HashSet<Uuid, FixedState> = self.by_dp.remove(dp).unwrap_or_default().into_iter().collect();
            let mut after: HashSet<Uuid, FixedState> = HashSet::default();
            let row = nb.get("Logical_Switch", dp).or_else(|| nb.get("Logical_Router", dp));
            if let Some(row) = row {
                refs.walk(nb, row, &mut after);
            }
            for gone in before.difference(&after) {
                if let Some(dps) = self.by_row.get_mut(gone) {
                    if let Some(i) = dps.iter().position(|d| d == dp) {
                        dps.swap_remove(i);
                    }
                    if dps.is_empty() {
                        self.by_row.remove(gone);
                    }
                }
            }
            for came in after.difference(&before) {
                self.by_row.entry(*came).or_default().push(*dp);
            }
            // The groups holding the ports that came or went have other
            // switches now.
            for moved in before.symmetric_difference(&after) {
                groups.extend(self.group_of.get(moved).into_iter().flatten());
            }
            if row.is_some() {
                self.by_dp.insert(*dp, after.into_iter().collect());
            }
        }
        for g in groups {
            self.remove_group(&g);
            if let Some(pg) = nb.get("Port_Group", &g) {
                self.add_group(nb, &refs, pg);
            }
        }
    }

    /// The rows whose owners differ from those a fresh walk of `nb`
    /// finds (as sets). For tests.
    fn differing(&self, nb: &Replica) -> Vec<Uuid> {
        use std::collections::BTreeSet;
        let fresh = Owners::walk(nb);
        let set = |v: Option<&Vec<Uuid>>| -> BTreeSet<Uuid> { v.into_iter().flatten().copied().collect() };
        let rows: BTreeSet<Uuid> = [&self.by_row, &self.by_group, &fresh.by_row, &fresh.by_group]
            .iter()
            .flat_map(|m| m.keys().copied())
            .collect();
        rows.into_iter()
            .filter(|u| {
                set(self.by_row.get(u)) != set(fresh.by_row.get(u))
                    || set(self.by_group.get(u)) != set(fresh.by_group.get(u))
            })
            .collect()
    }

    /// The rows the switch or router `row` reaches.
    fn add(&mut self, nb: &Replica, refs: &RefColumns, row: &Row) {
        let dp = row.uuid();
        let mut seen: HashSet<Uuid, FixedState> = HashSet::default();
        refs.walk(nb, row, &mut seen);
        for u in &seen {
            self.by_row.entry(*u).or_default().push(dp);
        }
        self.by_dp.insert(dp, seen.into_iter().collect());
    }

    /// What the port group `pg` reaches: itself and its ACLs' rows, owned
    /// by the switches of its ports.
    fn add_group(&mut self, nb: &Replica, refs: &RefColumns, pg: &Row) {
        let ports: Vec<Uuid> = pg.get("ports").keys().filter_map(Atom::as_uuid).collect();
        let mut dps: Vec<Uuid> = ports.iter().flat_map(|p| self.by_row.get(p).into_iter().flatten().copied()).collect();
        dps.sort();
        dps.dedup();
        let mut seen: HashSet<Uuid, FixedState> = HashSet::default();
        seen.insert(pg.uuid());
        for acl in pg.get("acls").keys().filter_map(Atom::as_uuid).filter_map(|u| nb.get("ACL", &u)) {
            refs.walk(nb, acl, &mut seen);
        }
        let rows: Vec<Uuid> = seen.into_iter().collect();
        for u in &rows {
            self.by_group.entry(*u).or_default().extend(dps.iter().copied());
        }
        for u in rows.iter().chain(&ports) {
            self.group_of.entry(*u).or_default().push(pg.uuid());
        }
        self.groups.insert(pg.uuid(), GroupReach { rows, ports, dps });
    }

    /// Takes back what `add_group` put in for the group `g`.
    fn remove_group(&mut self, g: &Uuid) {
        let Some(reach) = self.groups.remove(g) else { return };
        for u in &reach.rows {
            if let Some(dps) = self.by_group.get_mut(u) {
                for d in &reach.dps {
                    if let Some(i) = dps.iter().position(|x| x == d) {
                        dps.swap_remove(i);
                    }
                }
                if dps.is_empty() {
                    self.by_group.remove(u);
                }
            }
        }
        for u in reach.rows.iter().chain(&reach.ports) {
            if let Some(gs) = self.group_of.get_mut(u) {
                if let Some(i) = gs.iter().position(|x| x == g) {
                    gs.swap_remove(i);
                }
                if gs.is_empty() {
                    self.group_of.remove(u);
                }
            }
        }
    }
}

/// The keys whose values differ between two maps, or that one lacks.
fn differing_keys<V: PartialEq>(old: &HashMap<Uuid, V, FixedState>, new: &HashMap<Uuid, V, FixedState>) -> Vec<Uuid> {
    let changed = new.iter().filter(|(k, v)| old.get(*k) != Some(*v)).map(|(k, _)| *k);
    changed.chain(old.keys().filter(|k| !new.contains_key(*k)).copied()).collect()
}

/// A router port that is, or asks to be, a distributed gateway port.
fn is_gateway_port(lrp: &Row) -> bool {
    !lrp.get("gateway_chassis").is_empty() || !lrp.get("ha_chassis_group").is_empty()
}

/// The columns whose values differ between two versions of a row.
fn differing<'r>(old: &'r Row, new: &'r Row) -> impl Iterator<Item = &'r str> {
    old.iter().zip(new.iter()).filter(|((_, a), (_, b))| a != b).map(|((c, _), _)| c)
}

/// A modification of a row (from `old` to `new`) that changed nothing but
/// `columns` (an insert or a delete is not).
fn changed_only(old: Option<&Row>, new: Option<&Row>, columns: &[&str]) -> bool {
    match (old, new) {
        (Some(o), Some(n)) => differing(o, n).all(|c| columns.contains(&c)),
        _ => false,
    }
}

/// The reference columns of each NB table: (column, table referred to).
struct RefColumns {
    by_table: HashMap<String, Vec<(String, String)>>,
}

impl RefColumns {
    fn of(nb: &Replica) -> RefColumns {
        let mut by_table = HashMap::new();
        for (name, table) in &nb.schema().tables {
            let cols: Vec<(String, String)> = table
                .columns
                .iter()
                .filter_map(|(c, s)| {
                    let target = s.ty.key.ref_table.clone().or_else(|| s.ty.value.as_ref()?.ref_table.clone())?;
                    Some((c.clone(), target))
                })
                .collect();
            by_table.insert(name.clone(), cols);
        }
        RefColumns { by_table }
    }

    /// Adds `row` and every row it reaches to `seen`.
    fn walk(&self, nb: &Replica, row: &Row, seen: &mut HashSet<Uuid, FixedState>) {
        if !seen.insert(row.uuid()) {
            return;
        }
        let Some(cols) = self.by_table.get(&row.table_schema().name) else { return };
        for (col, target) in cols {
            let datum = row.get(col);
            let atoms = datum.all_atoms();
            for u in atoms.filter_map(Atom::as_uuid) {
                if let Some(child) = nb.get(target, &u) {
                    self.walk(nb, child, seen);
                }
            }
        }
    }
}
