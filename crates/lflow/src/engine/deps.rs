//! Which datapaths' flows a change can reach: the `northd` node builds the
//! flows of these datapaths again and keeps the others' from the last
//! cycle. Conservative by construction: a change it cannot place makes
//! every datapath's flows be built again.
//!
//! A switch's or router's flows read its own NB row and the rows it
//! reaches through references (ports, ACLs, load balancers and their
//! groups, QoS, DNS, NAT, routes, policies, gateway chassis, ...), the port
//! groups holding its ports, and the model's values of its ports (tunnel
//! keys, dynamic addresses, tags, `up`, peers: their `fingerprint`). Across
//! datapaths, a router reads the ports of the switches it is attached to,
//! a load balancer's health checks bring flows to the switches of its
//! backends,
//! and a switch the router ports attached to it; a router also reads the
//! other routers on those switches (their addresses and NAT). So a change
//! of a switch reaches the switch and its routers; a change of a router
//! reaches the router, its switches and their routers. The tables whose
//! rows any datapath may read (meters, BFD, chassis, NB options, ...) reach
//! every datapath.

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
    /// SB datapaths (by SB row) whose rows changed.
    sb_datapaths: HashSet<Uuid, FixedState>,
    /// SB rows changed, with the SB datapaths they reach (`None`: all),
    /// until `settle` says whether the change was our own write's echo.
    unsettled: Vec<(Uuid, Option<Vec<Uuid>>)>,
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
            let reached = match table {
                "Datapath_Binding" => Some(vec![*uuid]),
                "Port_Binding" | "Multicast_Group" => Some(
                    rows.into_iter()
                        .flatten()
                        .flat_map(|r| r.get("datapath").keys().filter_map(Atom::as_uuid))
                        .collect(),
                ),
                _ => None,
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
                Some(dps) => self.sb_datapaths.extend(dps),
                None => self.all = true,
            }
        }
    }

    pub fn clear(&mut self) {
        *self = Pending::default();
    }
}

/// What the last cycle knew of the datapaths, to place this cycle's
/// changes (a deleted row is placed where it was).
#[derive(Debug, Default)]
pub struct Deps {
    /// NB row -> the datapaths (their NB rows) that reach it.
    owners: HashMap<Uuid, Vec<Uuid>, FixedState>,
    /// Datapath -> the datapaths its ports are peers of.
    neighbors: HashMap<Uuid, Vec<Uuid>, FixedState>,
    routers: HashSet<Uuid, FixedState>,
    fingerprints: HashMap<Uuid, u64, FixedState>,
    /// SB datapath row -> NB datapath row.
    sb_to_nb: HashMap<Uuid, Uuid, FixedState>,
}

impl Deps {
    /// The datapaths (NB rows) whose flows `pending` may change, given
    /// the new `model`; `None` for all of them. Then takes the new model's
    /// facts for the next cycle.
    pub fn reached(&mut self, m: &Model<'_>, pending: &Pending, all: bool) -> Option<HashSet<Uuid, FixedState>> {
        let mut next = Deps::of(m, !pending.nb.is_empty() || all);
        if next.owners.is_empty() {
            // Not walked this cycle: nothing in NB changed; keep the last.
            next.owners = std::mem::take(&mut self.owners);
        }
        let reached = (!all && !pending.all).then(|| self.reach(&next, m, pending)).flatten();
        *self = next;
        reached
    }

    fn reach(&self, next: &Deps, m: &Model<'_>, pending: &Pending) -> Option<HashSet<Uuid, FixedState>> {
        let mut switch_level: HashSet<Uuid, FixedState> = HashSet::default();
        let mut router_level: HashSet<Uuid, FixedState> = HashSet::default();
        let mut add = |dp: Uuid, is_router: bool| {
            if is_router {
                router_level.insert(dp);
            } else {
                switch_level.insert(dp);
            }
        };
        let is_router = |dp: &Uuid| next.routers.contains(dp) || self.routers.contains(dp);
        for (table, uuid, old) in &pending.nb {
            match table.as_str() {
                t if NB_GLOBAL.contains(&t) => return None,
                "NB_Global" => match (old, m.nb.get(table, uuid)) {
                    (Some(o), Some(n)) if differing(o, n).all(|c| NB_GLOBAL_UNREAD.contains(&c)) => {}
                    _ => return None,
                },
                "Logical_Switch" | "Logical_Router" => add(*uuid, table == "Logical_Router"),
                // Health checks also bring flows to the switches of the
                // backends' ports, named in `ip_port_mappings`.
                "Load_Balancer_Health_Check" => return None,
                "Load_Balancer"
                    if old.iter().chain(m.nb.get(table, uuid)).any(|r| !r.get("ip_port_mappings").is_empty()) =>
                {
                    return None
                }
                "Port_Group" => {
                    // Its ports' switches, before and after; when only its
                    // members changed, the switches of the ports that came or
                    // went (a switch reads which groups its ports are in, not
                    // the groups' other members).
                    let new = m.nb.get(table, uuid);
                    let members = |r: Option<&Row>| -> HashSet<Uuid, FixedState> {
                        r.into_iter().flat_map(|r| r.get("ports").keys().filter_map(Atom::as_uuid)).collect()
                    };
                    let (before, after) = (members(old.as_ref()), members(new));
                    let only_members =
                        matches!((old, new), (Some(o), Some(n)) if differing(o, n).all(|c| c == "ports"));
                    let ports: Vec<Uuid> = if only_members {
                        before.symmetric_difference(&after).copied().collect()
                    } else {
                        before.union(&after).copied().collect()
                    };
                    for port in ports {
                        for dp in self.owners.get(&port).into_iter().chain(next.owners.get(&port)).flatten() {
                            add(*dp, false);
                        }
                    }
                }
                _ => {
                    for dp in self.owners.get(uuid).into_iter().chain(next.owners.get(uuid)).flatten() {
                        add(*dp, is_router(dp));
                    }
                }
            }
        }
        for sb_dp in &pending.sb_datapaths {
            // A binding of a datapath we do not know reaches nothing.
            if let Some(dp) = self.sb_to_nb.get(sb_dp).or(next.sb_to_nb.get(sb_dp)) {
                add(*dp, is_router(dp));
            }
        }
        // The model's values of each datapath's ports.
        for (dp, print) in &next.fingerprints {
            if self.fingerprints.get(dp) != Some(print) {
                add(*dp, is_router(dp));
            }
        }
        for dp in self.fingerprints.keys().filter(|dp| !next.fingerprints.contains_key(dp)) {
            add(*dp, is_router(dp));
        }
        let neighbors = |dp: &Uuid| -> Vec<Uuid> {
            let mut n: Vec<Uuid> =
                self.neighbors.get(dp).into_iter().chain(next.neighbors.get(dp)).flatten().copied().collect();
            n.sort();
            n.dedup();
            n
        };
        let mut reached: HashSet<Uuid, FixedState> = HashSet::default();
        for dp in &switch_level {
            reached.insert(*dp);
            reached.extend(neighbors(dp).into_iter().filter(|n| is_router(n)));
        }
        for dp in &router_level {
            reached.insert(*dp);
            for n in neighbors(dp) {
                reached.insert(n);
                if !is_router(&n) {
                    reached.extend(neighbors(&n).into_iter().filter(|r| is_router(r)));
                }
            }
        }
        Some(reached)
    }

    /// The facts of `m`; the NB walk only when `walk` (it costs a visit of
    /// every row a datapath reaches).
    fn of(m: &Model<'_>, walk: bool) -> Deps {
        let mut d = Deps::default();
        for dp in &m.datapaths {
            if !dp.is_switch() {
                d.routers.insert(dp.uuid);
            }
            let mut h = FixedState::default().build_hasher();
            dp.tunnel_key.hash(&mut h);
            let mut neighbors = Vec::new();
            for &p in &dp.ports {
                let port = &m.ports[p];
                (port.name, port.tunnel_key, port.tag, port.up, port.has_unknown).hash(&mut h);
                port.dynamic_addresses.hash(&mut h);
                let peer = port.peer.map(|q| &m.ports[q]);
                peer.map(|q| q.name).hash(&mut h);
                if let Some(q) = peer {
                    neighbors.push(m.dp(q.dp).uuid);
                }
            }
            d.fingerprints.insert(dp.uuid, h.finish());
            d.neighbors.insert(dp.uuid, neighbors);
        }
        for b in crate::input::sb::DatapathBinding::all(m.sb) {
            let ids = b.external_ids();
            if let Some(nb) = ids.get("logical-switch").or(ids.get("logical-router")).and_then(|u| u.parse().ok()) {
                d.sb_to_nb.insert(b.uuid(), nb);
            }
        }
        if walk {
            d.walk(m.nb);
        }
        d
    }

    /// `owners`: every row each switch and router reaches through
    /// references, and the port groups of their ports.
    fn walk(&mut self, nb: &Replica) {
        let refs = RefColumns::of(nb);
        for table in ["Logical_Switch", "Logical_Router"] {
            for row in nb.table(table).into_iter().flat_map(|t| t.rows()) {
                let dp = row.uuid();
                let mut seen: HashSet<Uuid, FixedState> = HashSet::default();
                refs.walk(nb, row, &mut seen);
                for u in seen {
                    self.owners.entry(u).or_default().push(dp);
                }
            }
        }
        for pg in nb.table("Port_Group").into_iter().flat_map(|t| t.rows()) {
            let mut dps: Vec<Uuid> = pg
                .get("ports")
                .keys()
                .filter_map(Atom::as_uuid)
                .flat_map(|p| self.owners.get(&p).cloned().unwrap_or_default())
                .collect();
            dps.sort();
            dps.dedup();
            // The group and its ACLs, not its ports: a port belongs to its
            // own switch, not to every switch of its groups.
            let mut seen: HashSet<Uuid, FixedState> = HashSet::default();
            seen.insert(pg.uuid());
            for acl in pg.get("acls").keys().filter_map(Atom::as_uuid).filter_map(|u| nb.get("ACL", &u)) {
                refs.walk(nb, acl, &mut seen);
            }
            for u in seen {
                self.owners.entry(u).or_default().extend(dps.iter().copied());
            }
        }
    }
}

/// The columns whose values differ between two versions of a row.
fn differing<'r>(old: &'r Row, new: &'r Row) -> impl Iterator<Item = &'r str> {
    old.iter().zip(new.iter()).filter(|((_, a), (_, b))| a != b).map(|((c, _), _)| c)
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
            let atoms = datum.keys().chain(datum.pairs().iter().map(|(_, v)| v));
            for u in atoms.filter_map(Atom::as_uuid) {
                if let Some(child) = nb.get(target, &u) {
                    self.walk(nb, child, seen);
                }
            }
        }
    }
}
