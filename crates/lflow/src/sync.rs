//! The one place where desired rows meet the database: compares the
//! compiler's `Output` with the SB (and NB) replicas and returns the
//! operations that make the databases equal to it, and nothing more.
//!
//! Rules:
//! - Only the tables in `OWNED_TABLES` are written; in each, only the
//!   columns northd owns (not the ones ovn-controller writes, such as
//!   `Port_Binding.chassis`). Rows of other tables are never touched.
//! - A desired row is matched to an existing row by the table's natural key
//!   (a datapath's NB row, a port's name, a flow's whole content, ...); a
//!   matched row is updated only in the columns that differ, so a database
//!   already right gets no operation at all.
//! - Existing rows of an owned table that no desired row matches are
//!   deleted (stale rows, duplicates), except in non-root tables, whose rows
//!   the server removes once nothing refers to them.
//! - References between desired rows (`Atom::NamedUuid`) resolve to the
//!   matched row's UUID, or to the `uuid-name` of the row inserted in the
//!   same transaction.
//! - `plan_sb` plans every table; the engine plans them one by one with a
//!   `Planner`, `Logical_Flow` itself. It tells the planner which datapath
//!   groups its flows change in place and which no flow will be on; such
//!   a group, unwanted as it is, takes the datapaths of the new group it
//!   shares most with, so the load balancers on it need not move.
//!
//! Pure: reads replicas, returns operations.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{BuildHasher, Hash, Hasher};

use foldhash::fast::{FixedState, FoldHasher};

use ovsdb::replica::Row;
use ovsdb::{Atom, Condition, Datum, OpRow, Operation, Replica, Uuid};

use crate::output::{DesiredRow, Output};

/// How a table's rows are matched and which of its columns northd owns.
struct TableSpec {
    name: &'static str,
    /// Columns whose values make the natural key; `column:key` takes one
    /// value of a map column.
    key: &'static [&'static str],
    /// Columns northd leaves alone (written by others).
    foreign: &'static [&'static str],
    /// Map keys left out of comparison and of the key: (column, key).
    ignored_keys: &'static [(&'static str, &'static str)],
}

/// Tables whose rows are values: two rows with the same key are
/// interchangeable, so a reference to one keys and compares as the
/// referenced row's key, not its UUID. The reference writes a load
/// balancer's datapath group and a flow's group over the same datapaths
/// as two rows, and either may end up matched to either.
const BY_CONTENT: &[&str] = &["Logical_DP_Group"];

/// The SB tables northd writes, in an order where every table comes after
/// the tables its rows refer to.
const OWNED_TABLES: &[TableSpec] = &[
    TableSpec {
        name: "SB_Global",
        key: &[],
        foreign: &["nb_cfg", "connections", "ssl", "external_ids"],
        ignored_keys: &[],
    },
    TableSpec {
        name: "Datapath_Binding",
        key: &["external_ids:logical-switch", "external_ids:logical-router"],
        foreign: &["load_balancers"],
        ignored_keys: &[],
    },
    TableSpec { name: "HA_Chassis", key: &["external_ids:chassis-name", "priority"], foreign: &[], ignored_keys: &[] },
    TableSpec { name: "HA_Chassis_Group", key: &["name"], foreign: &["ref_chassis"], ignored_keys: &[] },
    TableSpec { name: "Mirror", key: &["name"], foreign: &[], ignored_keys: &[] },
    TableSpec {
        name: "Port_Binding",
        key: &["logical_port"],
        foreign: &["chassis", "encap", "up", "virtual_parent", "additional_chassis", "additional_encap"],
        ignored_keys: &[],
    },
    TableSpec { name: "Multicast_Group", key: &["datapath", "name"], foreign: &[], ignored_keys: &[] },
    TableSpec { name: "Logical_DP_Group", key: &["datapaths"], foreign: &[], ignored_keys: &[] },
    TableSpec { name: "Load_Balancer", key: &["external_ids:lb_id"], foreign: &[], ignored_keys: &[] },
    TableSpec {
        name: "Service_Monitor",
        key: &["logical_port", "ip", "port", "protocol"],
        foreign: &["status"],
        ignored_keys: &[],
    },
    TableSpec {
        name: "Logical_Flow",
        key: &[
            "logical_datapath",
            "logical_dp_group",
            "pipeline",
            "table_id",
            "priority",
            "match",
            "actions",
            "controller_meter",
            "tags",
            "external_ids",
        ],
        foreign: &["hash"],
        // `stage-hint` only says which NB row a flow came from: where
        // several give the same flow, the reference keeps the hint of the
        // first it built, in an order of its own (flows::to_rows keeps
        // the lowest), so a flow is not rewritten for its hint alone.
        ignored_keys: &[("external_ids", "source"), ("external_ids", "stage-hint")],
    },
    TableSpec { name: "Address_Set", key: &["name"], foreign: &[], ignored_keys: &[] },
    TableSpec { name: "Port_Group", key: &["name"], foreign: &[], ignored_keys: &[] },
    TableSpec { name: "DHCP_Options", key: &["name"], foreign: &[], ignored_keys: &[] },
    TableSpec { name: "DHCPv6_Options", key: &["name"], foreign: &[], ignored_keys: &[] },
    TableSpec { name: "RBAC_Permission", key: &["table"], foreign: &[], ignored_keys: &[] },
    TableSpec { name: "RBAC_Role", key: &["name"], foreign: &[], ignored_keys: &[] },
    TableSpec { name: "IP_Multicast", key: &["datapath"], foreign: &["seq_no"], ignored_keys: &[] },
    TableSpec { name: "Static_MAC_Binding", key: &["logical_port", "ip"], foreign: &[], ignored_keys: &[] },
    TableSpec { name: "DNS", key: &["external_ids:dns_id"], foreign: &[], ignored_keys: &[] },
    TableSpec { name: "Meter_Band", key: &["action", "rate", "burst_size"], foreign: &[], ignored_keys: &[] },
    TableSpec { name: "Meter", key: &["name"], foreign: &[], ignored_keys: &[] },
    // `status` is ovn-controller's too: the compiler keeps what it reports
    // but where the reference overrides it (sessions no route uses).
    TableSpec { name: "BFD", key: &["logical_port", "dst_ip"], foreign: &[], ignored_keys: &[] },
];

/// The SB tables `plan_sb` writes.
pub fn owned_tables() -> impl Iterator<Item = &'static str> {
    OWNED_TABLES.iter().map(|t| t.name)
}

/// Foreign columns northd sets when they are unset (on insert, or on a row
/// that lacks them), as the reference does, and otherwise leaves to their
/// owner: ovn-controller 23.03 reports a port `up` only when the column is
/// already set, so a Port_Binding starts with `up=false`.
const FOREIGN_DEFAULTS: &[(&str, &str, bool)] = &[("Port_Binding", "up", false)];

/// What a plan does, for logs and for tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PlanStats {
    /// Per table: (inserted, updated, deleted).
    pub tables: BTreeMap<&'static str, (usize, usize, usize)>,
}

impl PlanStats {
    pub fn is_empty(&self) -> bool {
        self.tables.values().all(|&(i, u, d)| i + u + d == 0)
    }

    pub fn totals(&self) -> (usize, usize, usize) {
        self.tables.values().fold((0, 0, 0), |a, &(i, u, d)| (a.0 + i, a.1 + u, a.2 + d))
    }
}

/// The operations that bring the SB to the desired state.
#[derive(Debug, Default)]
pub struct Plan {
    /// The operations built (`ops`), and those built only as the plan is
    /// sent (`into_operations`), which go after them.
    pub(crate) ops: Vec<Operation>,
    pub(crate) deferred: Vec<Deferred>,
    pub stats: PlanStats,
    /// The existing row each desired row id was matched to (rows without
    /// one are inserted under their id as `uuid-name`).
    pub ids: HashMap<String, Uuid>,
}

impl Plan {
    /// No operation at all.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty() && self.deferred.is_empty()
    }

    /// How many operations, built or deferred.
    pub fn len(&self) -> usize {
        self.ops.len() + self.deferred.len()
    }

    /// The operations built so far (not the deferred inserts, which come
    /// after them).
    pub fn ops(&self) -> &[Operation] {
        &self.ops
    }

    /// The operations built so far, to add to or change; the deferred
    /// inserts still come after them.
    pub fn ops_mut(&mut self) -> &mut Vec<Operation> {
        &mut self.ops
    }

    /// The table of each deferred insert, in order.
    pub fn deferred_tables(&self) -> impl Iterator<Item = &str> + '_ {
        self.deferred.iter().map(|d| d.table)
    }

    /// Every operation in order: the built ones, then the deferred, each
    /// built as the iterator reaches it (and freed once the caller has
    /// encoded it, if it does so as it goes).
    pub fn into_operations(self) -> impl Iterator<Item = Operation> + Send {
        self.ops.into_iter().chain(self.deferred.into_iter().map(|d| (d.build)()))
    }

    /// Builds the deferred operations now, after the others.
    pub(crate) fn build_deferred(&mut self) {
        self.ops.reserve_exact(self.deferred.len());
        self.ops.extend(self.deferred.drain(..).map(|d| (d.build)()));
    }
}

/// An insert planned and built only when the plan is sent: the engine's
/// `Logical_Flow` rows, which it keeps as its own flows until then. At a
/// first translation of 1,500 pods the flows' inserts built as operations
/// were 11.8 MB of the daemon's 28 MB peak (about 1 KB a flow), deferred
/// they are about 80 bytes a flow.
pub struct Deferred {
    /// The table the insert is into.
    table: &'static str,
    build: Box<dyn FnOnce() -> Operation + Send>,
}

impl Deferred {
    pub(crate) fn new(table: &'static str, build: impl FnOnce() -> Operation + Send + 'static) -> Deferred {
        Deferred { table, build: Box::new(build) }
    }
}

impl std::fmt::Debug for Deferred {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Deferred({})", self.table)
    }
}

/// A row seen through a uniform lens: an existing SB row or a desired one.
trait Cells {
    fn cell(&self, column: &str) -> Option<&Datum>;
}

impl Cells for Row {
    fn cell(&self, column: &str) -> Option<&Datum> {
        Some(self.get(column))
    }
}

impl Cells for DesiredRow {
    fn cell(&self, column: &str) -> Option<&Datum> {
        self.get(column)
    }
}

/// Named references resolved so far: desired row id -> existing UUID; and
/// the keys of the rows of `BY_CONTENT` tables, existing and desired.
#[derive(Default)]
struct Resolver {
    ids: HashMap<String, Uuid>,
    content: HashMap<Uuid, u64>,
    named_content: HashMap<String, u64>,
}

/// An atom as references compare: a row of a `BY_CONTENT` table by its
/// key, anything else as itself.
#[derive(PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Canon {
    Content(u64),
    Atom(Atom),
}

impl Resolver {
    fn atom(&self, a: &Atom) -> Atom {
        match a {
            Atom::NamedUuid(n) => match self.ids.get(&**n) {
                Some(u) => Atom::Uuid(*u),
                None => a.clone(),
            },
            a => a.clone(),
        }
    }

    /// The key of the `BY_CONTENT` row `a` refers to, if it does.
    fn content_of(&self, a: &Atom) -> Option<u64> {
        match a {
            Atom::NamedUuid(n) => self.named_content.get(&**n).copied(),
            Atom::Uuid(u) => self.content.get(u).copied(),
            _ => None,
        }
    }

    fn canon(&self, a: &Atom) -> Canon {
        match self.content_of(a) {
            Some(c) => Canon::Content(c),
            None => Canon::Atom(self.atom(a)),
        }
    }

    /// Hashes `a` as `canon(a)` would read, without copying it.
    fn hash_atom(&self, a: &Atom, h: &mut FoldHasher<'static>) {
        if let Some(c) = self.content_of(a) {
            return Canon::Content(c).hash(h);
        }
        match a {
            Atom::NamedUuid(n) => match self.ids.get(&**n) {
                Some(u) => Atom::Uuid(*u).hash(h),
                None => a.hash(h),
            },
            a => a.hash(h),
        }
    }

    /// `d` with its references resolved; borrowed when it has none.
    fn datum<'d>(&self, d: &'d Datum) -> Cow<'d, Datum> {
        let has_named = d.keys().any(|a| matches!(a, Atom::NamedUuid(_)))
            || d.pairs().iter().any(|(_, v)| matches!(v, Atom::NamedUuid(_)));
        if !has_named {
            Cow::Borrowed(d)
        } else if d.is_map() {
            Cow::Owned(Datum::map(d.pairs().iter().map(|(k, v)| (self.atom(k), self.atom(v)))))
        } else {
            Cow::Owned(Datum::set(d.keys().map(|a| self.atom(a))))
        }
    }

    /// A set's atoms as they compare, sorted.
    fn canon_set(&self, d: &Datum) -> Vec<Canon> {
        let mut atoms: Vec<Canon> = d.keys().map(|a| self.canon(a)).collect();
        atoms.sort();
        atoms
    }

    /// `want` (resolved) and `have` are equal, or sets that refer to
    /// interchangeable rows.
    fn same(&self, want: &Datum, have: &Datum) -> bool {
        same(want, have)
            || (!want.is_map()
                && want.keys().chain(have.keys()).any(|a| self.content_of(a).is_some())
                && self.canon_set(want) == self.canon_set(have))
    }
}

fn same(a: &Datum, b: &Datum) -> bool {
    (a.is_empty() && b.is_empty()) || a == b
}

/// The natural key of a row, as a hash of its key columns (references
/// resolved first). Cheap: no formatting, no copies. Two different keys
/// that collide only make a desired row meet the wrong existing row, whose
/// differing columns then get updated: still correct.
fn key_of(spec: &TableSpec, row: &dyn Cells, resolver: &Resolver) -> u64 {
    // A fixed, fast hash rather than SipHash: keys are compared within one
    // plan only, and where two rows' keys collide the second pass of
    // `plan_sb` compares every column and updates the row it matched.
    let mut h = FixedState::default().build_hasher();
    for col in spec.key {
        if let Some((col, map_key)) = col.split_once(':') {
            row.cell(col).and_then(|d| d.get(&Atom::string(map_key))).and_then(Atom::as_str).hash(&mut h);
        } else {
            match row.cell(col) {
                // A column the compiler leaves out keys like an existing
                // empty cell of any shape (`tags` is an empty map).
                None => 0u8.hash(&mut h),
                Some(d) if d.is_empty() => 0u8.hash(&mut h),
                Some(d) if d.is_map() => {
                    1u8.hash(&mut h);
                    for (k, v) in d.pairs() {
                        let ignored = spec.ignored_keys.iter().any(|(c, key)| c == col && k.as_str() == Some(*key));
                        if !ignored {
                            resolver.hash_atom(k, &mut h);
                            resolver.hash_atom(v, &mut h);
                        }
                    }
                }
                Some(d) if d.keys().any(|a| matches!(a, Atom::NamedUuid(_)) || resolver.content_of(a).is_some()) => {
                    // Resolved references sort differently from names, and
                    // rows compared by content by their keys.
                    2u8.hash(&mut h);
                    // Atom by atom, as the branch below (no length prefix).
                    for a in resolver.canon_set(d) {
                        match a {
                            Canon::Atom(a) => a.hash(&mut h),
                            c => c.hash(&mut h),
                        }
                    }
                }
                Some(d) => {
                    2u8.hash(&mut h);
                    for a in d.keys() {
                        a.hash(&mut h);
                    }
                }
            }
        }
        0xffu8.hash(&mut h);
    }
    h.finish()
}

/// Compares `output` with the SB replica and returns the operations that
/// bring the SB to it. Tables northd owns that `sb` does not hold (not
/// monitored) are skipped.
pub fn plan_sb(output: &Output, sb: &Replica) -> Plan {
    let mut planner = Planner::new(output, sb);
    for table in owned_tables() {
        planner.table(table);
    }
    planner.finish()
}

/// A plan made table by table, in `owned_tables` order, so that another
/// planner can take over some: the engine plans `Logical_Flow` itself,
/// once the datapaths' rows are known, and may change datapath groups in
/// place (`regroup`) before the tables that refer to them are planned.
pub struct Planner<'o> {
    output: &'o Output,
    sb: &'o Replica,
    plan: Plan,
    resolver: Resolver,
    /// `Logical_DP_Group` rows the other planner changes in place in the
    /// same transaction: their new datapaths.
    regrouped: HashMap<Uuid, Datum, FixedState>,
    /// `Logical_DP_Group` rows no row of the other planner's refers to:
    /// one no desired row matches may be changed in place to another's
    /// datapaths rather than a new one inserted.
    reusable: HashSet<Uuid, FixedState>,
    /// The desired `Datapath_Binding` ids whose rows of the
    /// `bindings::PER_DATAPATH` tables the output holds; all when `None`.
    only: Option<HashSet<String>>,
    /// The `Datapath_Binding` rows this plan deletes.
    stale_datapaths: HashSet<Uuid, FixedState>,
    /// The port groups whose `Port_Group` rows the output holds; all when
    /// `None`; and the names of `Address_Set` rows it does not.
    port_groups: Option<HashSet<String>>,
    unbuilt_sets: Option<&'o HashSet<String, FixedState>>,
}

/// The tables whose SB rows are what their last plan wanted, with what it
/// was planned from: the desired rows as they compare (references
/// resolved, `Resolver::hash_atom`), hashed, and the existing rows their
/// ids matched. Planned again from the same desired rows while its SB rows
/// stay as they were, such a table would change nothing:
/// `Planner::table_unless_settled` skips it (at 30,000 pods a port add
/// compared every datapath binding and load balancer for nothing).
///
/// A plan that changed nothing settles its table at once; one that
/// changed it (a load balancer added), once its transaction commits
/// (`committed`), with the rows its inserts created: else the change
/// after it, a port add at 30,000 pods, built and compared every load
/// balancer again.
#[derive(Debug, Default)]
pub struct Settled {
    tables: HashMap<&'static str, SettledTable>,
    awaiting: HashMap<&'static str, Awaiting>,
}

/// The print of a table's desired rows, and the rows their ids matched.
type SettledTable = (u64, Vec<(String, Uuid)>);

/// A table whose plan changed it, settled once the plan commits: its
/// print, the rows its ids matched, the ids of the rows it inserts (each
/// its insert's `uuid-name`), and how many operations it planned.
#[derive(Debug)]
struct Awaiting {
    print: u64,
    ids: Vec<(String, Uuid)>,
    inserted: Vec<String>,
    ops: usize,
}

impl Settled {
    /// The SB rows of `table` are what its last plan wanted.
    pub fn holds(&self, table: &str) -> bool {
        self.tables.contains_key(table)
    }

    /// `table`'s last plan changed it, and is settled once it commits.
    pub fn awaits(&self, table: &str) -> bool {
        self.awaiting.contains_key(table)
    }

    /// Checks the plan about to be sent against what its tables' plans
    /// said (`ops_on`: the operations it holds on a table): a table with
    /// operations others than its own plan's (sharded, some were left
    /// out; or another planner's) is not settled by its commit, nor held.
    pub fn sent(&mut self, ops_on: impl Fn(&str) -> usize) {
        self.awaiting.retain(|table, a| ops_on(table) == a.ops);
        self.tables.retain(|table, _| ops_on(table) == 0);
    }

    /// The plan last `sent` committed; `inserted` gives the row each of
    /// its inserts created, by `uuid-name`. A table one of whose inserts
    /// it does not know stays unsettled.
    pub fn committed(&mut self, inserted: impl Fn(&str) -> Option<Uuid>) {
        for (table, a) in self.awaiting.drain() {
            let mut ids = a.ids;
            let Some(new) = a.inserted.into_iter().map(|id| Some((inserted(&id)?, id))).collect::<Option<Vec<_>>>()
            else {
                continue;
            };
            ids.extend(new.into_iter().map(|(uuid, id)| (id, uuid)));
            self.tables.insert(table, (a.print, ids));
        }
    }

    /// The plan last `sent` did not commit (or was not sent).
    pub fn not_committed(&mut self) {
        self.awaiting.clear();
    }
}

/// A `Logical_DP_Group` row as it will be once changed in place.
struct Regrouped<'r> {
    row: &'r Row,
    datapaths: &'r Datum,
}

impl Cells for Regrouped<'_> {
    fn cell(&self, column: &str) -> Option<&Datum> {
        if column == "datapaths" {
            Some(self.datapaths)
        } else {
            Some(self.row.get(column))
        }
    }
}

impl<'o> Planner<'o> {
    pub fn new(output: &'o Output, sb: &'o Replica) -> Planner<'o> {
        Planner {
            output,
            sb,
            plan: Plan::default(),
            resolver: Resolver::default(),
            regrouped: HashMap::default(),
            reusable: HashSet::default(),
            only: None,
            stale_datapaths: HashSet::default(),
            port_groups: None,
            unbuilt_sets: None,
        }
    }

    /// The existing row each desired row id planned so far was matched to.
    pub fn ids(&self) -> &HashMap<String, Uuid> {
        &self.resolver.ids
    }

    /// Says that the SB `Logical_DP_Group` row `group` will hold
    /// `datapaths` (references as desired rows give them) once the caller's
    /// own operations, in the same transaction, change it: the tables
    /// planned after this match and compare it as such, and leave it
    /// alone.
    pub fn regroup(&mut self, group: Uuid, datapaths: Datum) {
        self.regrouped.insert(group, datapaths);
    }

    /// Says which SB `Logical_DP_Group` rows the other planner's rows
    /// will not refer to (`Logical_Flow`'s, when the engine plans them): a
    /// group of datapaths no desired row wants any more may become one of
    /// the new groups in place, so that the load balancers on it, which
    /// gained or lost the same datapaths, need not move.
    pub fn reuse_groups(&mut self, groups: HashSet<Uuid, FixedState>) {
        self.reusable = groups;
    }

    /// Says that the output holds the rows of the per-datapath tables
    /// (`bindings::PER_DATAPATH`) of only the datapaths whose desired
    /// `Datapath_Binding` ids are `datapaths`: those tables are planned
    /// against the existing rows of these datapaths (and of the ones this
    /// plan deletes), the others' are left as they are.
    pub fn only_datapaths(&mut self, datapaths: HashSet<String>) {
        self.only = Some(datapaths);
    }

    /// Says that the output holds the `Port_Group` rows of only the NB
    /// port groups named in `names`: that table is planned against the
    /// existing rows of these groups (`<switch key>_<name>`), the others'
    /// are left as they are.
    pub fn only_port_groups(&mut self, names: HashSet<String>) {
        self.port_groups = Some(names);
    }

    /// Says that the output does not hold the `Address_Set` rows named in
    /// `names` (those of the port groups and NB address sets it was not
    /// built for): existing
    /// rows so named are left as they are, desired ones ignored.
    pub fn unbuilt_address_sets(&mut self, names: &'o HashSet<String, FixedState>) {
        self.unbuilt_sets = Some(names).filter(|n| !n.is_empty());
    }

    /// `table`, unless `settled` says the table's last plan changed
    /// nothing and its desired rows are the same now, and its SB rows did
    /// not change since (`sb_unchanged`): then its ids are the ones that
    /// plan matched. Notes in `settled` that the table is settled, or that
    /// it will be once this plan commits. Tables planned in part (per
    /// datapath, per port group, without some address sets), or by
    /// content, are always planned.
    pub fn table_unless_settled(&mut self, name: &str, settled: &mut Settled, sb_unchanged: bool) {
        let Some(spec) = OWNED_TABLES.iter().find(|t| t.name == name) else { return };
        let in_part = (self.only.is_some() && crate::bindings::PER_DATAPATH.contains(&spec.name))
            || (self.port_groups.is_some() && spec.name == "Port_Group")
            || (self.unbuilt_sets.is_some() && spec.name == "Address_Set");
        if in_part || BY_CONTENT.contains(&spec.name) || self.sb.table(spec.name).is_none() {
            settled.tables.remove(spec.name);
            return self.table(name);
        }
        let desired = self.output.sb.get(spec.name).map(Vec::as_slice).unwrap_or_default();
        let mut h = FixedState::default().build_hasher();
        for d in desired {
            d.id.hash(&mut h);
            for (column, datum) in &d.cells {
                (column, datum.atoms().len(), datum.pairs().len()).hash(&mut h);
                for a in datum.all_atoms() {
                    self.resolver.hash_atom(a, &mut h);
                }
            }
        }
        let print = h.finish();
        if let Some((_, ids)) = settled.tables.get(spec.name).filter(|(p, _)| sb_unchanged && *p == print) {
            self.resolver.ids.extend(ids.iter().cloned());
            self.plan.stats.tables.insert(spec.name, (0, 0, 0));
            return;
        }
        let before = self.plan.ops.len();
        self.table(name);
        let ids = desired.iter().filter_map(|d| d.id.as_ref());
        let ids = ids.filter_map(|id| Some((id.clone(), *self.resolver.ids.get(id)?))).collect();
        if self.plan.ops.len() == before {
            settled.tables.insert(spec.name, (print, ids));
        } else {
            settled.tables.remove(spec.name);
            let inserted = self.plan.ops[before..].iter().filter_map(|op| match op {
                Operation::Insert { uuid_name, .. } => uuid_name.clone(),
                _ => None,
            });
            let ops = self.plan.ops.len() - before;
            settled.awaiting.insert(spec.name, Awaiting { print, ids, inserted: inserted.collect(), ops });
        }
    }

    /// `name`, whose desired rows the output leaves out: the caller knows
    /// they are those of its last plan, which changed nothing (`settled`
    /// holds it), and that its SB rows did not change since. Its ids are
    /// the ones that plan matched. False, planning nothing, if `settled`
    /// does not hold it.
    pub fn table_as_settled(&mut self, name: &str, settled: &Settled) -> bool {
        let Some(spec) = OWNED_TABLES.iter().find(|t| t.name == name) else { return false };
        let Some((_, ids)) = settled.tables.get(spec.name) else { return false };
        self.resolver.ids.extend(ids.iter().cloned());
        self.plan.stats.tables.insert(spec.name, (0, 0, 0));
        true
    }

    /// Plans one owned table (each at most once, in `owned_tables` order;
    /// a table `sb` does not hold is skipped).
    pub fn table(&mut self, name: &str) {
        let Some(spec) = OWNED_TABLES.iter().find(|t| t.name == name) else { return };
        let (sb, resolver, plan) = (self.sb, &mut self.resolver, &mut self.plan);
        let Some(table) = sb.table(spec.name) else { return };
        let schema = table.schema().clone();
        let empty: Vec<DesiredRow> = Vec::new();
        let desired = self.output.sb.get(spec.name).unwrap_or(&empty);
        // Existing rows by key; sorted by UUID so that which duplicate is
        // kept does not depend on hash order.
        let mut existing: HashMap<u64, Vec<&Row>, FixedState> = HashMap::default();
        let scope: Option<HashSet<Uuid, FixedState>> =
            self.only.as_ref().filter(|_| crate::bindings::PER_DATAPATH.contains(&spec.name)).map(|only| {
                let ids = only.iter().filter_map(|id| resolver.ids.get(id).copied());
                ids.chain(self.stale_datapaths.iter().copied()).collect()
            });
        let groups = self.port_groups.as_ref().filter(|_| spec.name == "Port_Group");
        let unbuilt = self.unbuilt_sets.filter(|_| spec.name == "Address_Set");
        let built = |name: Option<&str>| unbuilt.map_or(true, |u| !name.is_some_and(|n| u.contains(n)));
        let in_scope = |r: &Row| {
            let of_group = |names: &HashSet<String>| {
                let name = r.get("name").as_atom().and_then(Atom::as_str).unwrap_or_default();
                let group = name.split_once('_').filter(|(key, _)| key.bytes().all(|b| b.is_ascii_digit()));
                group.is_some_and(|(_, group)| names.contains(group))
            };
            scope
                .as_ref()
                .map_or(true, |s| r.get("datapath").as_atom().and_then(Atom::as_uuid).is_some_and(|u| s.contains(&u)))
                && groups.map_or(true, of_group)
                && built(r.get("name").as_atom().and_then(Atom::as_str))
        };
        let desired: Vec<&DesiredRow> =
            desired.iter().filter(|d| built(d.get("name").and_then(|v| v.as_atom()).and_then(Atom::as_str))).collect();
        // The rows of the datapaths in scope through the replica's index
        // of their `datapath` column (`sb_indexes`), if it has one: at
        // 30,000 pods a port add's scan of every binding read 34,000 rows.
        let indexed = scope.as_ref().and_then(|s| {
            let mut rows = Vec::new();
            for dp in s {
                rows.extend(sb.lookup(spec.name, "datapath", &Atom::Uuid(*dp)).ok()?);
            }
            Some(rows)
        });
        // The rows of the port groups in scope by the index of their names
        // (`sb_indexes`), one lookup per group and SB datapath's key, if
        // that is fewer than the rows: at 30,000 pods a port add's scan of
        // every port group's rows read 30,000 names. (A row named after a
        // key no SB datapath has is found by the scan of a plan of every
        // port group: the first, or one after others wrote the table.)
        let named = groups.and_then(|names| {
            let mut keys: Vec<i64> = sb
                .table("Datapath_Binding")?
                .rows()
                .filter_map(|b| b.get("tunnel_key").as_atom()?.as_integer())
                .collect();
            // (Two bindings with one key would find its rows twice.)
            keys.sort_unstable();
            keys.dedup();
            if names.len().saturating_mul(keys.len()) >= table.len() {
                return None;
            }
            let mut rows = Vec::new();
            for name in names {
                for key in &keys {
                    rows.extend(sb.lookup(spec.name, "name", &Atom::string(format!("{key}_{name}"))).ok()?);
                }
            }
            Some(rows)
        });
        let mut rows: Vec<&Row> = match indexed.or(named) {
            Some(rows) => rows.into_iter().filter(|r| in_scope(r)).collect(),
            None => table.rows().filter(|r| in_scope(r)).collect(),
        };
        rows.sort_by_key(|r| r.uuid());
        for r in rows {
            let key = match self.regrouped.get(&r.uuid()) {
                Some(datapaths) => key_of(spec, &Regrouped { row: r, datapaths }, resolver),
                None => key_of(spec, r, resolver),
            };
            existing.entry(key).or_default().push(r);
        }
        for list in existing.values_mut() {
            list.reverse(); // pop() takes the lowest UUID first
        }
        let mut stats = (0, 0, 0);
        let mut matched: Vec<(&DesiredRow, Option<&Row>)> = Vec::with_capacity(desired.len());
        let by_content = BY_CONTENT.contains(&spec.name);
        if by_content {
            for (key, rows) in &existing {
                resolver.content.extend(rows.iter().map(|r| (r.uuid(), *key)));
            }
            for &d in &desired {
                if let Some(id) = &d.id {
                    resolver.named_content.insert(id.clone(), key_of(spec, d, resolver));
                }
            }
        }
        // Rows of a `BY_CONTENT` table are values: desired rows with equal
        // contents may share one existing row (the engine's flows use the
        // group a load balancer has) rather than want one each.
        let mut shared: HashMap<u64, &Row, FixedState> = HashMap::default();
        // Each desired row's key, by its place in `matched`.
        let mut keys: Vec<u64> = Vec::with_capacity(desired.len());
        for &d in &desired {
            let key = key_of(spec, d, resolver);
            keys.push(key);
            let row = match existing.get_mut(&key).and_then(Vec::pop) {
                Some(row) => {
                    if by_content {
                        shared.entry(key).or_insert(row);
                    }
                    Some(row)
                }
                None => shared.get(&key).copied(),
            };
            if let (Some(id), Some(row)) = (&d.id, row) {
                resolver.ids.insert(id.clone(), row.uuid());
            }
            matched.push((d, row));
        }
        if by_content && !self.reusable.is_empty() {
            // A reusable group whose datapaths no desired row has takes
            // those of the desired one closest to it: the rows on it (load
            // balancers) that gained or lost the same datapaths stay.
            let wanted: HashSet<u64> = keys.iter().copied().collect();
            let mut free: Vec<&Row> = existing
                .values()
                .flatten()
                .copied()
                .filter(|r| self.reusable.contains(&r.uuid()))
                .filter(|r| resolver.content.get(&r.uuid()).is_some_and(|k| !wanted.contains(k)))
                .collect();
            free.sort_by_key(|r| r.uuid());
            let wants: Vec<Datum> = matched
                .iter()
                .map(|(d, _)| d.get("datapaths").map(|v| resolver.datum(v).into_owned()).unwrap_or_default())
                .collect();
            for r in free {
                let have = r.get("datapaths");
                let shared = |want: &Datum| have.keys().filter(|a| want.contains(a)).count();
                // The most shared, then the fewest apart, then one no row
                // matched, then the first.
                let best = wants.iter().enumerate().filter(|(_, w)| shared(w) > 0).max_by_key(|(i, w)| {
                    let n = shared(w);
                    (n, std::cmp::Reverse(have.len() + w.len() - 2 * n), matched[*i].1.is_none(), std::cmp::Reverse(*i))
                });
                let Some((i, _)) = best else { continue };
                let d = matched[i].0;
                resolver.content.insert(r.uuid(), keys[i]);
                if matched[i].1.is_none() {
                    if let Some(id) = &d.id {
                        resolver.ids.insert(id.clone(), r.uuid());
                    }
                    matched[i].1 = Some(r);
                } else {
                    matched.push((d, Some(r)));
                }
            }
        }
        // Second pass, now that every id of this table is known.
        for (d, row) in matched {
            let mut changed = OpRow::new();
            if let Some(row) = row.filter(|r| !self.regrouped.contains_key(&r.uuid())) {
                let uuid = row.uuid();
                for (col, cs) in schema.columns.iter() {
                    if spec.foreign.contains(&col.as_str()) || col.starts_with('_') {
                        continue;
                    }
                    let want = match d.get(col) {
                        Some(v) => resolver.datum(v),
                        None => Cow::Owned(cs.ty.default_datum()),
                    };
                    let ignored =
                        |k: &Atom| spec.ignored_keys.iter().any(|(c, key)| c == col && k.as_str() == Some(*key));
                    let want = if spec.ignored_keys.iter().any(|(c, _)| c == col) {
                        let have = row.get(col).pairs().iter().filter(|(k, _)| !ignored(k));
                        if want.pairs().iter().filter(|(k, _)| !ignored(k)).eq(have) {
                            continue;
                        }
                        // Keep the existing values of ignored keys.
                        let kept = row.get(col).pairs().iter().filter(|(k, _)| ignored(k));
                        Cow::Owned(Datum::map(want.pairs().iter().cloned().chain(kept.cloned())))
                    } else {
                        want
                    };
                    if !resolver.same(&want, row.get(col)) {
                        changed.insert(col.as_str().into(), empty_as_typed(want.into_owned(), row.get(col)));
                    }
                }
                for &(_, col, value) in FOREIGN_DEFAULTS.iter().filter(|(t, _, _)| *t == spec.name) {
                    if row.get(col).is_empty() {
                        changed.insert((*col).into(), Datum::from(Atom::Boolean(value)));
                    }
                }
                if !changed.is_empty() {
                    stats.1 += 1;
                    plan.ops.push(Operation::Update {
                        table: spec.name.to_string(),
                        where_: vec![Condition::row(uuid)],
                        row: changed,
                    });
                }
            } else if row.is_none() {
                for (col, v) in &d.cells {
                    if !v.is_empty() {
                        changed.insert((*col).into(), resolver.datum(v).into_owned());
                    }
                }
                for &(_, col, value) in FOREIGN_DEFAULTS.iter().filter(|(t, _, _)| *t == spec.name) {
                    changed.entry((*col).into()).or_insert_with(|| Datum::from(Atom::Boolean(value)));
                }
                stats.0 += 1;
                plan.ops.push(Operation::Insert {
                    table: spec.name.to_string(),
                    row: changed,
                    uuid_name: d.id.clone(),
                    uuid: None,
                });
            }
        }
        // Rows of a non-root table (datapath groups, HA chassis) are never
        // deleted: the server collects them once nothing refers to them, and
        // rows of other tables (a load balancer's datapath group) may still.
        let mut stale: Vec<Uuid> =
            if schema.is_root { existing.values().flatten().map(|r| r.uuid()).collect() } else { Vec::new() };
        stale.sort();
        if spec.name == "Datapath_Binding" {
            self.stale_datapaths = stale.iter().copied().collect();
        }
        for uuid in stale {
            stats.2 += 1;
            plan.ops.push(Operation::Delete { table: spec.name.to_string(), where_: vec![Condition::row(uuid)] });
        }
        self.plan.stats.tables.insert(spec.name, stats);
    }

    /// The operations planned, and the rows each desired row id matched.
    pub fn finish(mut self) -> Plan {
        self.plan.ids = self.resolver.ids;
        self.plan
    }
}

/// An empty desired value takes the shape (set or map) of the column.
fn empty_as_typed(want: Datum, have: &Datum) -> Datum {
    if want.is_empty() && have.is_map() {
        Datum::empty_map()
    } else {
        want
    }
}

/// The NB updates that bring the status columns northd maintains to their
/// desired values: one update per row, only where a value differs. A map
/// (`NB_Global.options`) is what northd read plus its own keys: its update
/// applies only while the column still holds what northd read, so that a
/// key another client set meanwhile is never lost (that client's change
/// brings a new cycle, which writes the merge again).
pub fn plan_nb(output: &Output, nb: &Replica) -> Vec<Operation> {
    let mut per_row: BTreeMap<(&'static str, Uuid), OpRow> = BTreeMap::new();
    let mut merged = Vec::new();
    for w in &output.nb {
        let Some(row) = nb.get(w.table, &w.row) else { continue };
        let have = row.get(w.column);
        if same(&w.value, have) {
            continue;
        }
        if have.is_map() {
            let mut update = OpRow::new();
            update.insert(w.column.into(), w.value.clone());
            let where_ = vec![Condition::row(w.row), Condition::eq(w.column, have.clone())];
            merged.push(Operation::Update { table: w.table.to_string(), where_, row: update });
        } else {
            per_row.entry((w.table, w.row)).or_default().insert(w.column.into(), w.value.clone());
        }
    }
    let updates = per_row.into_iter().map(|((table, uuid), row)| Operation::Update {
        table: table.to_string(),
        where_: vec![Condition::row(uuid)],
        row,
    });
    updates.chain(merged).collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use ovsdb::proto::update::{decode_table_updates, UpdateFormat};
    use ovsdb::DatabaseSchema;

    use super::*;
    use crate::output::{reference, str_map, str_set};

    const DP: &str = "00000000-0000-0000-0000-0000000000d1";
    const PB1: &str = "00000000-0000-0000-0000-0000000000b1";
    const PB2: &str = "00000000-0000-0000-0000-0000000000b2";
    const CH: &str = "00000000-0000-0000-0000-0000000000c1";
    const LS: &str = "00000000-0000-0000-0000-00000000005a";
    const GRP: &str = "00000000-0000-0000-0000-0000000000a1";

    fn sb_replica() -> Replica {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../schemas/ovn-sb.ovsschema");
        let schema = DatabaseSchema::from_json_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let mut r = Replica::new(Arc::new(schema));
        let json = format!(
            r#"{{
            "Datapath_Binding": {{"{DP}": {{"initial": {{"tunnel_key": 1,
                "external_ids": ["map", [["logical-switch", "{LS}"], ["name", "sw0"]]]}}}}}},
            "Logical_DP_Group": {{"{GRP}": {{"initial": {{"datapaths": ["uuid", "{DP}"]}}}}}},
            "Port_Binding": {{
                "{PB1}": {{"initial": {{"logical_port": "p1", "tunnel_key": 1, "datapath": ["uuid", "{DP}"],
                    "chassis": ["uuid", "{CH}"], "up": true}}}},
                "{PB2}": {{"initial": {{"logical_port": "stale", "tunnel_key": 2, "datapath": ["uuid", "{DP}"]}}}}
            }}
        }}"#
        );
        r.apply(decode_table_updates(&json, UpdateFormat::Update2, r.schema()).unwrap()).unwrap();
        r
    }

    fn desired(p1_key: i64, extra_port: bool) -> Output {
        let mut out = Output::default();
        let mut dp = DesiredRow::new(Some("dp0".into()));
        dp.set("tunnel_key", Datum::from(Atom::Integer(1)))
            .set("external_ids", str_map([("logical-switch", LS), ("name", "sw0")]));
        out.push("Datapath_Binding", dp);
        let mut p1 = DesiredRow::new(Some("pb0".into()));
        p1.set("logical_port", Datum::from(Atom::string("p1")))
            .set("datapath", reference("dp0"))
            .set("tunnel_key", Datum::from(Atom::Integer(p1_key)));
        out.push("Port_Binding", p1);
        if extra_port {
            let mut p3 = DesiredRow::new(Some("pb1".into()));
            p3.set("logical_port", Datum::from(Atom::string("p3")))
                .set("datapath", reference("dp0"))
                .set("tunnel_key", Datum::from(Atom::Integer(3)));
            out.push("Port_Binding", p3);
        }
        out
    }

    fn ops_on(plan: &Plan, table: &str) -> Vec<String> {
        plan.ops.iter().filter(|o| o.table() == Some(table)).map(|o| format!("{o:?}")).collect()
    }

    /// A row that is already right gets no operation, and the columns
    /// ovn-controller owns (chassis, up) are never part of an update.
    #[test]
    fn right_rows_get_no_operation_and_foreign_columns_stay() {
        let sb = sb_replica();
        let plan = plan_sb(&desired(1, false), &sb);
        assert!(ops_on(&plan, "Datapath_Binding").is_empty(), "{:?}", plan.ops);
        // Only the stale port goes.
        let pb = ops_on(&plan, "Port_Binding");
        assert_eq!(pb.len(), 1, "{pb:?}");
        assert!(pb[0].starts_with("Delete") && pb[0].contains(PB2), "{pb:?}");
        assert_eq!(plan.stats.tables["Port_Binding"], (0, 0, 1));
    }

    /// A table whose plan changed nothing is not compared again while its
    /// desired rows and SB rows stay (its ids are the ones matched then);
    /// a desired row that differs, or SB rows that changed, plan it again.
    #[test]
    fn a_settled_table_is_planned_again_only_when_something_changed() {
        let sb = sb_replica();
        let mut settled = Settled::default();
        let plan_with = |out: &Output, sb: &Replica, settled: &mut Settled, sb_unchanged: bool| {
            let mut planner = Planner::new(out, sb);
            for table in ["Datapath_Binding", "Port_Binding"] {
                planner.table_unless_settled(table, settled, sb_unchanged);
            }
            planner.finish()
        };
        let out = desired(1, false);
        let first = plan_with(&out, &sb, &mut settled, true);
        assert!(settled.tables.contains_key("Datapath_Binding"), "a plan that changed nothing");
        assert!(!settled.tables.contains_key("Port_Binding"), "the stale port's delete");
        let again = plan_with(&out, &sb, &mut settled, true);
        assert_eq!(again.ids.get("dp0"), Some(&DP.parse().unwrap()), "the ids of the settled plan");
        assert_eq!(again.ids, first.ids);
        assert_eq!(ops_on(&again, "Port_Binding").len(), 1, "the table not settled is planned");
        // A desired row that differs: planned.
        let mut other = Output::default();
        let mut dp = DesiredRow::new(Some("dp0".into()));
        dp.set("tunnel_key", Datum::from(Atom::Integer(7)))
            .set("external_ids", str_map([("logical-switch", LS), ("name", "sw0")]));
        other.push("Datapath_Binding", dp);
        let changed = plan_with(&other, &sb, &mut settled, true);
        assert_eq!(ops_on(&changed, "Datapath_Binding").len(), 1, "a desired row that differs");
        assert!(!settled.tables.contains_key("Datapath_Binding"));
        // SB rows that changed: planned when said so (and only then: the
        // caller tells, the planner does not look).
        plan_with(&out, &sb, &mut settled, true);
        let mut moved = sb_replica();
        let json = format!(r#"{{"Datapath_Binding": {{"{DP}": {{"modify": {{"tunnel_key": 9}}}}}}}}"#);
        moved.apply(decode_table_updates(&json, UpdateFormat::Update2, moved.schema()).unwrap()).unwrap();
        assert!(ops_on(&plan_with(&out, &moved, &mut settled, true), "Datapath_Binding").is_empty());
        assert_eq!(ops_on(&plan_with(&out, &moved, &mut settled, false), "Datapath_Binding").len(), 1);
    }

    /// A plan of some port groups finds their rows by the name index
    /// (`<switch key>_<group>`) as it would by a scan: it changes and
    /// deletes the rows of those groups only, whichever of the datapaths
    /// they are on, and leaves the other groups' rows alone.
    #[test]
    fn a_plan_of_some_port_groups_finds_their_rows_by_name() {
        let mut sb = sb_replica();
        let dp2 = "00000000-0000-0000-0000-0000000000d2";
        let rows = [("1_pg_a", "p1"), ("2_pg_a", "p2"), ("1_pg_b", "p1"), ("1_pg_ab", "p1")];
        let pgs: Vec<String> = rows
            .iter()
            .enumerate()
            .map(|(i, (name, port))| {
                format!(r#""00000000-0000-0000-0000-0000000000f{i}": {{"initial": {{"name": "{name}", "ports": "{port}"}}}}"#)
            })
            .collect();
        let json = format!(
            r#"{{"Datapath_Binding": {{"{dp2}": {{"initial": {{"tunnel_key": 2}}}}}},
                "Port_Group": {{{}}}}}"#,
            pgs.join(",")
        );
        sb.apply(decode_table_updates(&json, UpdateFormat::Update2, sb.schema()).unwrap()).unwrap();
        // Group pg_a now: p1 and p3 on datapath 1, nothing on datapath 2.
        let mut out = Output::default();
        let mut row = DesiredRow::new(None);
        row.set("name", Datum::from(Atom::string("1_pg_a"))).set("ports", str_set(["p1", "p3"]));
        out.push("Port_Group", row);
        let plan = |sb: &Replica| {
            let mut planner = Planner::new(&out, sb);
            planner.only_port_groups(HashSet::from(["pg_a".to_string()]));
            planner.table("Port_Group");
            ops_on(&planner.finish(), "Port_Group")
        };
        let scanned = plan(&sb);
        sb.create_index("Port_Group", "name").unwrap();
        let found = plan(&sb);
        assert_eq!(found, scanned);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found.iter().any(|o| o.starts_with("Update") && o.contains("f0")), "{found:?}");
        assert!(found.iter().any(|o| o.starts_with("Delete") && o.contains("f1")), "{found:?}");
    }

    /// A row keyed by references (a datapath group by its datapaths) meets
    /// the existing row once the references resolve: no operation.
    #[test]
    fn rows_keyed_by_references_match() {
        let sb = sb_replica();
        let mut out = desired(1, false);
        let mut group = DesiredRow::new(Some("g0".into()));
        group.set("datapaths", reference("dp0"));
        out.push("Logical_DP_Group", group);
        let plan = plan_sb(&out, &sb);
        assert!(ops_on(&plan, "Logical_DP_Group").is_empty(), "{:?}", plan.ops);
        assert_eq!(plan.stats.tables["Logical_DP_Group"], (0, 0, 0));
    }

    /// The reference writes a load balancer's datapath group and a flow's
    /// group over the same datapaths as two rows; whichever of them our
    /// groups are matched to, the load balancer and the flow that refer to
    /// the other one are already right.
    #[test]
    fn references_to_interchangeable_groups_are_right_either_way() {
        let mut sb = sb_replica();
        let (grp2, lb, flow) = (
            "00000000-0000-0000-0000-0000000000a2",
            "00000000-0000-0000-0000-0000000000e1",
            "00000000-0000-0000-0000-0000000000f1",
        );
        let json = format!(
            r#"{{"Logical_DP_Group": {{"{grp2}": {{"initial": {{"datapaths": ["uuid", "{DP}"]}}}}}},
                "Load_Balancer": {{"{lb}": {{"initial": {{"name": "lb0", "datapath_group": ["uuid", "{GRP}"],
                    "external_ids": ["map", [["lb_id", "x"]]]}}}}}},
                "Logical_Flow": {{"{flow}": {{"initial": {{"logical_dp_group": ["uuid", "{grp2}"], "pipeline": "ingress",
                    "table_id": 0, "priority": 0, "match": "1", "actions": "next;"}}}}}}}}"#
        );
        sb.apply(decode_table_updates(&json, UpdateFormat::Update2, sb.schema()).unwrap()).unwrap();
        let mut out = desired(1, false);
        for id in ["g0", "lbg0"] {
            let mut group = DesiredRow::new(Some(id.into()));
            group.set("datapaths", reference("dp0"));
            out.push("Logical_DP_Group", group);
        }
        let mut lb_row = DesiredRow::new(None);
        lb_row
            .set("name", Datum::from(Atom::string("lb0")))
            .set("datapath_group", reference("lbg0"))
            .set("external_ids", str_map([("lb_id", "x")]));
        out.push("Load_Balancer", lb_row);
        let mut flow_row = DesiredRow::new(None);
        flow_row
            .set("logical_dp_group", reference("g0"))
            .set("pipeline", Datum::from(Atom::string("ingress")))
            .set("table_id", Datum::from(Atom::Integer(0)))
            .set("priority", Datum::from(Atom::Integer(0)))
            .set("match", Datum::from(Atom::string("1")))
            .set("actions", Datum::from(Atom::string("next;")));
        out.push("Logical_Flow", flow_row);
        let plan = plan_sb(&out, &sb);
        for t in ["Logical_DP_Group", "Load_Balancer", "Logical_Flow"] {
            assert!(ops_on(&plan, t).is_empty(), "{t}: {:?}", plan.ops);
        }
    }

    /// A changed column is updated alone; a new row is inserted with its
    /// reference resolved to the existing datapath's UUID.
    #[test]
    fn updates_only_what_differs_and_resolves_references() {
        let sb = sb_replica();
        let plan = plan_sb(&desired(7, true), &sb);
        let pb = ops_on(&plan, "Port_Binding");
        let update = pb.iter().find(|o| o.starts_with("Update")).expect("an update");
        assert!(update.contains(PB1) && update.contains("tunnel_key"), "{update}");
        assert_eq!(pb.iter().filter(|o| o.starts_with("Update")).count(), 1, "{pb:?}");
        assert!(
            !update.contains("chassis") && !update.contains("\"up\"") && !update.contains("logical_port"),
            "{update}"
        );
        let insert = pb.iter().find(|o| o.starts_with("Insert")).expect("an insert");
        assert!(insert.contains(DP) && !insert.contains("NamedUuid(\"dp0\")"), "{insert}");
        assert!(insert.contains("\"up\": Set([Boolean(false)])"), "a new binding starts down: {insert}");
        assert_eq!(plan.stats.tables["Port_Binding"], (1, 1, 1));
    }

    /// A binding that lacks `up` (written by an older northd) gets
    /// `up=false` and nothing else; one that has it keeps its value.
    #[test]
    fn unset_up_becomes_false() {
        let sb = sb_replica();
        let mut out = desired(1, false);
        let mut stale = DesiredRow::new(None);
        stale
            .set("logical_port", Datum::from(Atom::string("stale")))
            .set("datapath", reference("dp0"))
            .set("tunnel_key", Datum::from(Atom::Integer(2)));
        out.push("Port_Binding", stale);
        let plan = plan_sb(&out, &sb);
        let pb = ops_on(&plan, "Port_Binding");
        assert_eq!(pb.len(), 1, "{pb:?}");
        assert!(pb[0].contains(PB2) && pb[0].contains("row: {\"up\": Set([Boolean(false)])}"), "{pb:?}");
    }

    /// Tables the replica does not hold are left alone; NB writes happen
    /// only where the value differs.
    #[test]
    fn nb_writes_only_differences() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../schemas/ovn-nb.ovsschema");
        let schema = DatabaseSchema::from_json_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let mut nb = Replica::new(Arc::new(schema));
        let json = format!(
            r#"{{"Logical_Switch_Port": {{"{PB1}": {{"initial": {{"name": "p1", "up": true}}}},
                                          "{PB2}": {{"initial": {{"name": "p2"}}}}}}}}"#
        );
        nb.apply(decode_table_updates(&json, UpdateFormat::Update2, nb.schema()).unwrap()).unwrap();
        let mut out = Output::default();
        for (uuid, up) in [(PB1, true), (PB2, true)] {
            out.nb.push(crate::output::NbWrite {
                table: "Logical_Switch_Port",
                row: uuid.parse().unwrap(),
                column: "up",
                value: Datum::from(Atom::Boolean(up)),
            });
        }
        let ops = plan_nb(&out, &nb);
        assert_eq!(ops.len(), 1);
        assert!(format!("{:?}", ops[0]).contains(PB2));
    }

    /// NB_Global.options is what northd read plus its own keys: its update
    /// applies only while the column still holds what northd read, so a
    /// key another client set meanwhile is not overwritten (scenario 15
    /// lost `default_acl_drop` that way when it was set as northd started).
    #[test]
    fn a_merged_map_is_written_only_over_what_was_read() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../schemas/ovn-nb.ovsschema");
        let schema = DatabaseSchema::from_json_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let mut nb = Replica::new(Arc::new(schema));
        let json = format!(
            r#"{{"NB_Global": {{"{GRP}": {{"initial": {{"options": ["map", [["a", "1"]]], "nb_cfg": 2}}}}}}}}"#
        );
        nb.apply(decode_table_updates(&json, UpdateFormat::Update2, nb.schema()).unwrap()).unwrap();
        let mut out = Output::default();
        let row: Uuid = GRP.parse().unwrap();
        out.nb.push(crate::output::NbWrite {
            table: "NB_Global",
            row,
            column: "options",
            value: str_map([("a", "1"), ("mac_prefix", "0a:00:00")]),
        });
        out.nb.push(crate::output::NbWrite {
            table: "NB_Global",
            row,
            column: "sb_cfg",
            value: Datum::from(Atom::Integer(2)),
        });
        let ops = plan_nb(&out, &nb);
        let options = ops.iter().find_map(|op| match op {
            Operation::Update { where_, row, .. } if row.contains_key("options") => Some((where_, row)),
            _ => None,
        });
        let (where_, written) = options.expect("an update of options");
        assert_eq!(written.len(), 1, "options apart from the other columns: {ops:?}");
        let read = str_map([("a", "1")]);
        let meanwhile = str_map([("a", "1"), ("default_acl_drop", "true")]);
        let applies = |now: &Datum| where_.iter().filter(|c| c.column == "options").all(|c| c.matches(now));
        assert!(applies(&read));
        assert!(!applies(&meanwhile), "{where_:?}");
        // The other columns of the row are written unconditionally.
        assert!(
            ops.iter().any(|op| matches!(op, Operation::Update { row, where_, .. }
            if row.contains_key("sb_cfg") && where_.len() == 1)),
            "{ops:?}"
        );
    }

    /// Regression: a desired flow without `tags` never matched the SB row
    /// it had inserted (an empty map there), so no translation settled.
    #[test]
    fn flow_without_tags_matches_its_row() {
        let spec = OWNED_TABLES.iter().find(|t| t.name == "Logical_Flow").unwrap();
        let mut desired = DesiredRow::new(None);
        desired.set("match", Datum::from(Atom::string("1")));
        let mut existing = desired.clone();
        existing.set("tags", Datum::empty_map());
        assert_eq!(key_of(spec, &desired, &Resolver::default()), key_of(spec, &existing, &Resolver::default()));
    }
}
