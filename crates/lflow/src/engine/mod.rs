//! The incremental engine: what a daemon keeps between cycles so that a
//! change costs what it changes. Its nodes, in the order a cycle runs them:
//!
//! - `northd`: `compile_unfolded`, the whole translation but for the
//!   folding of flows into rows; it builds the flows, and the port
//!   bindings and multicast groups, of only the datapaths the changes
//!   since the last cycle reach (`deps`), of some datapaths only some
//!   parts of the flows (a router's about a switch behind it, a load
//!   balancer's: `output::Selection`), and the SB `Port_Group` rows and
//!   address sets of only the port groups they reach; it keeps the
//!   others' flows (and their diagnostics). Recomputed after a `reset`,
//!   or a change that reaches every datapath (counted as an `abort`, then
//!   a `recompute`).
//! - `lflow` (`lflows`): the flows folded into `Logical_Flow` rows and an
//!   index of the SB's. It takes each datapath's flows as `northd` builds
//!   them (a sink); computed from the datapaths (or their parts)
//!   whose flows changed and the SB rows that changed, recomputed after a
//!   `reset` (a reconnect, a failed commit, `inc-engine/recompute`). It
//!   runs once the datapaths' rows are planned (flows refer to them), and
//!   may change datapath groups in place.
//! - `sync_to_sb`: `sync::Planner` of every other owned table, against
//!   the SB replica, seeing the groups `lflow` changes as changed and
//!   free to change in place the groups no flow will be on. Recomputed
//!   every cycle.
//!
//! The output is the one of a full `compile` and `plan_sb`: after the
//! engine's operations commit, a full plan finds nothing to change (the
//! daemon's tests check it after every change). Pure: no I/O, no clock.

mod deps;
mod lflows;

use std::cell::OnceCell;
use std::collections::{BTreeMap, HashMap, HashSet};

use foldhash::fast::FixedState;
use ovsdb::replica::{Change, Changes};
use ovsdb::{Atom, Condition, Operation, Replica, Uuid};

use crate::output::{Built, Diagnostic, DpId, Output};
use crate::shard::{Ownership, Pending, Split};
use crate::sync::{Plan, PlanStats};

/// The names of the NB address sets a change of a row named `name` of
/// `table` (an address set or a port group) may make or unmake.
fn set_names(table: &str, name: &str) -> Vec<String> {
    match table {
        "Port_Group" => crate::bindings::port_group_sets(name).to_vec(),
        _ => vec![name.to_string()],
    }
}

/// How often a node ran, and how: in full (`recompute`), from changes
/// (`compute`), or given up for a recompute (`abort`), as
/// `inc-engine/show-stats` prints them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct NodeStats {
    pub recompute: u64,
    pub compute: u64,
    pub abort: u64,
}

/// How a node ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunKind {
    /// From scratch.
    Recompute,
    /// From its inputs' changes.
    Compute,
    /// An incremental run given up for a recompute.
    Abort,
}

impl RunKind {
    /// The counter's name in `inc-engine/show-stats`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Recompute => "recompute",
            RunKind::Compute => "compute",
            RunKind::Abort => "abort",
        }
    }
}

impl NodeStats {
    fn count(&mut self, kind: RunKind) {
        match kind {
            RunKind::Recompute => self.recompute += 1,
            RunKind::Compute => self.compute += 1,
            RunKind::Abort => self.abort += 1,
        }
    }
}

/// The most changes the engine notes for its `PortMemo`; past that, it
/// gathers every datapath's ports again.
const PORTS_CHANGED_MAX: usize = 100_000;

/// The engine's nodes, in the order a cycle runs them.
pub const NODES: &[&str] = &["northd", "lflow", "sync_to_sb"];

/// The operations a daemon adds to a cycle's plan, for which the plan has
/// room.
const DAEMON_OPS: usize = 8;

/// One cycle's result.
#[derive(Debug)]
pub struct Cycle {
    /// The desired rows, without `Logical_Flow` (planned into `plan`);
    /// of the per-datapath tables (`bindings::PER_DATAPATH`), and of the
    /// NB status writes, those of the datapaths built only.
    pub output: Output,
    /// The SB operations, flows included.
    pub plan: Plan,
    /// What the nodes did.
    pub stats: CycleStats,
    /// What was left out of the shards' rows (`set_ownership`).
    pub pending: Pending,
}

/// What one cycle's nodes did, for logs and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CycleStats {
    /// Datapaths whose flows were all built (`northd`).
    pub datapaths_built: usize,
    /// Datapaths of which only some parts of the flows (a router's about
    /// a switch behind it, a load balancer's) were built (`northd`,
    /// `output::Selection::parts`).
    pub datapaths_in_part: usize,
    /// Of `datapaths_built`, switches whose load balancers' flows were
    /// kept, not built (`northd`, `output::Selection::rest`).
    pub datapaths_rest: usize,
    /// Datapaths whose flows differed from the last cycle's (`lflow`).
    pub datapaths_changed: usize,
    /// Distinct flows compared with the SB (`lflow`).
    pub flows_compared: usize,
    /// Port bindings built and compared with the SB (`northd`,
    /// `sync_to_sb`): those of the datapaths built.
    pub bindings_built: usize,
}

/// The engine's state. See the module documentation.
#[derive(Debug, Default)]
pub struct Engine {
    lflows: lflows::LflowTable,
    /// The changes since the last cycle, and what it knew to place them.
    pending: deps::Pending,
    deps: deps::Deps,
    /// The diagnostics of each datapath's flows, and of its per-datapath
    /// rows, by its NB row.
    dp_diagnostics: HashMap<Uuid, Vec<Diagnostic>, FixedState>,
    row_diagnostics: HashMap<Uuid, Vec<Diagnostic>, FixedState>,
    stats: [NodeStats; 3],
    /// The datapaths whose rows the last run planned to change, and
    /// those of runs whose operations were not sent (`discard`): built
    /// again at the next run.
    planned: HashSet<Uuid, FixedState>,
    unsent: HashSet<Uuid, FixedState>,
    /// SB `Port_Group` and `Address_Set` rows changed since the last
    /// `settle_sb`.
    port_groups_unsettled: Vec<Uuid>,
    /// The next run plans every port group's `Port_Group` rows and address
    /// sets: someone else changed one, or the last run's changes to them
    /// were not sent.
    all_port_groups: bool,
    /// The last run planned changes of `Port_Group` or `Address_Set` rows.
    port_groups_planned: bool,
    /// The next run writes the NB status columns of every switch port:
    /// the last run's writes were not sent (`discard`).
    nb_status_all: bool,
    /// What each datapath's ports' rows say, gathered again only when
    /// they change.
    ports: crate::model::memo::PortMemo,
    /// What changed since the last run of the rows the memo reads, or
    /// `None`: gather everything (the first run, or too many changed).
    ports_changed: Option<crate::model::memo::Changed>,
    /// The NB address sets and port groups changed since the last run (by
    /// UUID, and the names of the address sets they had: `set_names`), or
    /// `None`: build every NB address set (the first run).
    address_sets: Option<(HashSet<Uuid, FixedState>, HashSet<String>)>,
    /// What this instance writes (`crate::shard`): its runs plan every row
    /// and keep only the operations on its own.
    ownership: Ownership,
    /// The SB tables whose rows are what their last plan wanted, and the
    /// owned SB tables changed since the last run other than by our own
    /// writes: with the rows changed until `settle_sb` vouches for them,
    /// for the tables `settled` holds or awaits (`None` for the others,
    /// whose rows no run asks about: at a cold start the echo of every
    /// flow).
    settled: crate::sync::Settled,
    sb_changed: HashMap<&'static str, Option<HashSet<Uuid, FixedState>>>,
    /// The rows of the tables the rows of `bindings::MADE_OF_NO_PORT`
    /// refer to that were changed or deleted since the last run (by
    /// anyone), by table: a row inserted changes no row that was there.
    referred_changed: HashMap<&'static str, HashSet<Uuid, FixedState>>,
}

impl Engine {
    /// Takes the SB changes since the last call (every change of the SB
    /// replica must pass here once, on a standby too).
    pub fn observe_sb(&mut self, changes: &Changes, sb: &Replica) {
        self.lflows.observe(changes, sb);
        for table in crate::sync::owned_tables() {
            let Some(rows) = changes.table(table) else { continue };
            let kept = self.settled.holds(table) || self.settled.awaits(table);
            match self.sb_changed.entry(table).or_insert_with(|| kept.then(HashSet::default)) {
                Some(changed) if kept => changed.extend(rows.iter().map(|(u, _)| *u)),
                entry => *entry = None,
            }
        }
        for table in crate::bindings::MADE_OF_NO_PORT.iter().flat_map(|(_, refers)| refers.iter()) {
            if let Some(rows) = changes.table(table) {
                let changed = rows.iter().filter(|(_, c)| !matches!(c, Change::Inserted)).map(|(u, _)| *u);
                self.referred_changed.entry(table).or_default().extend(changed);
            }
        }
        self.pending.observe_sb(changes, sb);
        self.note_port_changes(changes, Some(sb));
        for table in ["Port_Group", "Address_Set"] {
            if let Some(rows) = changes.table(table) {
                self.port_groups_unsettled.extend(rows.iter().map(|(u, _)| *u));
            }
        }
    }

    /// Takes the NB changes since the last call (every change of the NB
    /// replica must pass here once).
    pub fn observe_nb(&mut self, changes: &Changes) {
        self.pending.observe_nb(changes);
        self.note_port_changes(changes, None);
        if let Some((rows, names)) = &mut self.address_sets {
            // A port group's name takes the names of two address sets
            // (`bindings::set_name_maker`): an NB set of one of those
            // names is built again when a group of that name comes or goes.
            for table in ["Address_Set", "Port_Group"] {
                for (uuid, change) in changes.table(table).into_iter().flat_map(|rows| rows.iter()) {
                    rows.insert(*uuid);
                    if let Change::Modified { old } | Change::Deleted { old } = change {
                        let name = old.get("name").as_atom().and_then(Atom::as_str);
                        names.extend(name.into_iter().flat_map(|n| set_names(table, n)));
                    }
                }
            }
        }
    }

    /// Notes for the memo the changes of the NB, or of the SB (`sb`, the
    /// replica).
    fn note_port_changes(&mut self, changes: &Changes, sb: Option<&Replica>) {
        if let Some(changed) = &mut self.ports_changed {
            changed.observe(changes, sb);
            if changed.len() > PORTS_CHANGED_MAX {
                self.ports_changed = None;
            }
        }
    }

    /// Says which SB rows changed since the last call were changed by our
    /// own last write, with the values it wrote (`ours`); the others are
    /// news to the nodes that keep SB rows.
    pub fn settle_sb(&mut self, ours: impl Fn(Uuid) -> bool) {
        self.sb_changed.retain(|_, rows| {
            rows.as_mut().map_or(true, |rows| {
                rows.retain(|u| !ours(*u));
                !rows.is_empty()
            })
        });
        self.lflows.settle(&ours);
        self.all_port_groups |= self.port_groups_unsettled.drain(..).any(|u| !ours(u));
        self.pending.settle(ours);
    }

    /// The last run's operations were not sent (a standby keeping the
    /// engine warm): what they would have written is still to do.
    pub fn discard(&mut self) {
        self.settled.not_committed();
        // The NB writes of the run were not sent either (the engine does
        // not see which there were).
        self.nb_status_all = true;
        self.lflows.discard();
        self.unsent.extend(self.planned.drain());
        self.all_port_groups |= std::mem::take(&mut self.port_groups_planned);
    }

    /// The last run's operations on `table` settle it once they commit:
    /// a daemon notes the rows their inserts create (`committed`).
    pub fn awaits(&self, table: &str) -> bool {
        self.settled.awaits(table)
    }

    /// The last run's transaction committed; `inserted` gives the row each
    /// of its inserts (of a table it `awaits`) created, by `uuid-name`.
    pub fn committed(&mut self, inserted: impl Fn(&str) -> Option<Uuid>) {
        self.settled.committed(inserted);
    }

    /// Says which NB rows changed since the last call were changed by our
    /// own last write, with the values it wrote (`ours`): no flow reads
    /// them back differently.
    pub fn settle_nb(&mut self, ours: impl Fn(Uuid) -> bool) {
        self.pending.settle_nb(ours);
    }

    /// Says what this instance writes from the next run on. The rows it
    /// leaves to others are planned again at every run until the SB shows
    /// them right, so a shard taken over needs nothing more; the global
    /// role taken brings the port groups and the NB status columns, which
    /// a run plans only where they changed, to be planned whole.
    ///
    /// Without the global role it writes no flow on a datapath group, and
    /// the holder changes groups in place as its own plan would (it computes
    /// the same translation): such a change is not someone else's then, and
    /// does not make the next run build and compare everything again.
    pub fn set_ownership(&mut self, own: Ownership) {
        if own.global && !self.ownership.global {
            self.all_port_groups = true;
            self.nb_status_all = true;
        }
        self.lflows.set_others_groups(!own.global);
        self.ownership = own;
    }

    /// Makes the next cycle recompute every node.
    pub fn reset(&mut self) {
        let (stats, ownership) = (self.stats, self.ownership.clone());
        *self = Engine { stats, ownership, ..Engine::default() };
    }

    /// Each node's counters, in `NODES` order.
    pub fn stats(&self) -> impl Iterator<Item = (&'static str, NodeStats)> + '_ {
        NODES.iter().copied().zip(self.stats.iter().copied())
    }

    /// Counts a node's run and tells `done`.
    fn ran(&mut self, node: usize, kind: RunKind, done: &mut impl FnMut(&'static str, RunKind)) {
        self.stats[node].count(kind);
        done(NODES[node], kind);
    }

    /// One cycle: the desired SB and the operations that make the SB
    /// equal to it. `done` hears of each node as it finishes (a daemon
    /// times them: the engine reads no clock).
    pub fn run(&mut self, nb: &Replica, sb: &Replica, mut done: impl FnMut(&'static str, RunKind)) -> Cycle {
        let warm = self.lflows.is_warm();
        // A transaction of the last run that did not commit settles nothing.
        self.settled.not_committed();
        // Changes nobody vouched for are others'.
        self.pending.settle(|_| false);
        self.pending.settle_nb(|_| false);
        self.all_port_groups |= !std::mem::take(&mut self.port_groups_unsettled).is_empty();
        let all_port_groups = std::mem::take(&mut self.all_port_groups);
        let nb_status_all = std::mem::take(&mut self.nb_status_all);
        let unsent = std::mem::take(&mut self.unsent);
        // After changes of ports only, the tables no port is part of are
        // planned as the last plan found them, if that plan changed nothing
        // and the SB did not change them (nor what they refer to) since:
        // at 30,000 pods a port add built and hashed 1,500 datapath
        // bindings and 1,500 load balancers for that. (What else of the SB
        // they read, the key ranges VXLAN narrows, is part of the chassis'
        // print: a change of it builds everything.) A row they refer to
        // changed counts only if one of theirs refers to it: a port add
        // that brings an ACL's flows to one more switch inserts a
        // datapath group, which no load balancer's row names.
        let referred_changed = std::mem::take(&mut self.referred_changed);
        let unbuilt_tables: Vec<&'static str> = if warm && self.pending.ports_only(nb) {
            let unchanged = |t: &str| self.settled.holds(t) && !self.sb_changed.contains_key(t);
            let refers_to_changed = |t: &str, referred: &str| {
                let Some(changed) = referred_changed.get(referred).filter(|c| !c.is_empty()) else { return false };
                sb.table(t).into_iter().flat_map(|rows| rows.rows()).any(|row| {
                    let mut atoms = row.iter().flat_map(|(_, datum)| datum.all_atoms());
                    atoms.any(|a| a.as_uuid().is_some_and(|u| changed.contains(&u)))
                })
            };
            let tables = crate::bindings::MADE_OF_NO_PORT.iter();
            tables
                .filter(|(t, refers)| unchanged(t) && !refers.iter().any(|r| refers_to_changed(t, r)))
                .map(|(t, _)| *t)
                .collect()
        } else {
            Vec::new()
        };
        // The NB address sets to build: those that changed, under their
        // names before and after; all at the first run, or when others
        // changed an SB address set or port group.
        let address_sets = match self.address_sets.replace(Default::default()) {
            Some((rows, mut names)) if !all_port_groups => {
                for table in ["Address_Set", "Port_Group"] {
                    let now = rows.iter().filter_map(|u| nb.get(table, u));
                    let now = now.filter_map(|r| r.get("name").as_atom()?.as_str());
                    names.extend(now.flat_map(|n| set_names(table, n)));
                }
                Some(names)
            }
            _ => None,
        };
        let (deps, pending, lflows) = (&mut self.deps, &self.pending, &mut self.lflows);
        // Each datapath's flows go into the table as soon as they are
        // built (by NB row: `select` notes which row each `DpId` is).
        let rows: OnceCell<Vec<Uuid>> = OnceCell::new();
        let (mut datapaths_changed, mut datapaths_rest) = (0, 0);
        let mut seen = HashSet::new();
        let mut keep = |dp: DpId, which: Built<'_>, flows: Vec<crate::output::Lflow>| {
            let Some(&row) = rows.get().and_then(|rows| rows.get(dp.0 as usize)) else { return };
            seen.insert(dp);
            datapaths_rest += usize::from(which == Built::Rest);
            datapaths_changed += usize::from(lflows.update_dp(row, which, flows));
        };
        let select = |m: &crate::model::Model<'_>| {
            let _ = rows.set(m.datapaths.iter().map(|dp| dp.uuid).collect());
            let reached = deps.reached(m, pending, !warm)?;
            let pick = |set: &HashSet<Uuid, FixedState>| -> HashSet<DpId> {
                m.datapaths
                    .iter()
                    .filter(|dp| set.contains(&dp.uuid) || unsent.contains(&dp.uuid))
                    .map(|dp| dp.id)
                    .collect()
            };
            let whole = pick(&reached.flows);
            let parts = m
                .datapaths
                .iter()
                .filter(|dp| !whole.contains(&dp.id))
                .filter_map(|dp| Some((dp.id, reached.parts.get(&dp.uuid)?.iter().copied().collect())))
                .collect();
            // (A datapath whose rows were left to others is built whole.)
            let rest = m
                .datapaths
                .iter()
                .filter(|dp| reached.rest.contains(&dp.uuid) && !unsent.contains(&dp.uuid))
                .map(|dp| dp.id)
                .collect();
            let flows = crate::output::Selection { whole, parts, rest };
            let port_groups = reached.port_groups.filter(|_| !all_port_groups);
            Some(crate::Selected {
                flows,
                rows: pick(&reached.rows),
                port_groups,
                address_sets,
                nb_status_all,
                unbuilt_tables,
            })
        };
        match self.ports_changed.replace(Default::default()) {
            Some(changed) => self.ports.update(nb, sb, &changed),
            None => self.ports.refresh(nb, sb),
        }
        let mut unfolded = crate::compile_unfolded(nb, sb, &self.ports, select, Some(&mut keep));
        // Datapaths selected that no builder visited (a disabled router)
        // have no flows now.
        for (i, &row) in unfolded.datapaths.iter().enumerate() {
            let dp = DpId(i as u32);
            if seen.contains(&dp) {
                continue;
            }
            let which = match (&unfolded.built, unfolded.parts.get(&dp)) {
                (None, _) => Built::All,
                (Some(whole), _) if whole.contains(&dp) => Built::All,
                (Some(_), Some(parts)) => Built::Parts(parts),
                (Some(_), None) => continue,
            };
            datapaths_changed += usize::from(self.lflows.update_dp(row, which, Vec::new()));
        }
        datapaths_changed += self.lflows.forget_gone(&unfolded.datapaths);
        self.pending.clear();
        let built = unfolded.built.as_ref().map_or(unfolded.datapaths.len(), HashSet::len);
        let datapaths_in_part = unfolded.parts.len();
        self.keep_diagnostics(&mut unfolded);
        if warm && unfolded.built.is_none() {
            // A change reached every datapath: the incremental run gave up.
            self.ran(0, RunKind::Abort, &mut done);
        }
        self.ran(0, if unfolded.built.is_some() { RunKind::Compute } else { RunKind::Recompute }, &mut done);
        // The datapaths' rows first: the flows refer to them; then the
        // flows, whose groups changed in place the rest must see.
        let mut planner = crate::sync::Planner::new(&unfolded.output, sb);
        if let Some(built) = &unfolded.rows_built {
            planner.only_datapaths(built.iter().map(|dp| dp.row_id()).collect());
        }
        if let Some(names) = &unfolded.port_groups {
            planner.only_port_groups(names.clone());
        }
        planner.unbuilt_address_sets(&unfolded.unbuilt_sets);
        let tables: Vec<&str> = crate::sync::owned_tables().filter(|t| *t != "Logical_Flow").collect();
        let first = tables.iter().position(|t| *t == "Datapath_Binding").map_or(0, |i| i + 1);
        let sb_changed = std::mem::take(&mut self.sb_changed);
        let mut settled = std::mem::take(&mut self.settled);
        let plan_table = |planner: &mut crate::sync::Planner<'_>, settled: &mut crate::sync::Settled, table: &str| {
            if unfolded.unbuilt_tables.contains(&table) {
                // (The selection checked that `settled` holds it.)
                let held = planner.table_as_settled(table, settled);
                debug_assert!(held, "{table} left unbuilt without a settled plan");
            } else {
                planner.table_unless_settled(table, settled, !sb_changed.contains_key(table));
            }
        };
        for table in &tables[..first] {
            plan_table(&mut planner, &mut settled, table);
        }
        let dp_ref = self.datapath_refs(&unfolded, planner.ids());
        let (mut flow_ops, mut deferred, mut flow_stats) = (Vec::new(), Vec::new(), BTreeMap::new());
        let planned = self.lflows.plan(sb, &dp_ref, &mut flow_ops, &mut deferred, &mut flow_stats);
        self.ran(1, if warm { RunKind::Compute } else { RunKind::Recompute }, &mut done);
        for (group, datapaths) in planned.regrouped {
            planner.regroup(group, datapaths);
        }
        planner.reuse_groups(planned.flow_free);
        for table in &tables[first..] {
            plan_table(&mut planner, &mut settled, table);
        }
        self.settled = settled;
        let mut plan = planner.finish();
        // The other tables' operations, then the flows' updates and
        // deletes (their inserts are deferred, after all), with room for
        // what a daemon adds (the nb_cfg copy).
        plan.ops.reserve_exact(DAEMON_OPS + flow_ops.len());
        plan.ops.extend(flow_ops);
        plan.deferred = deferred;
        for (table, (i, u, d)) in flow_stats {
            let s = plan.stats.tables.entry(table).or_default();
            *s = (s.0 + i, s.1 + u, s.2 + d);
        }
        let pending = self.keep_owned(&mut plan, &unfolded, sb);
        self.settled.sent(|t| plan.stats.tables.get(t).map_or(0, |&(i, u, d)| i + u + d));
        // A standby's run whose operations are not sent builds these
        // datapaths again at the next (`discard`), until a run finds
        // their rows right (the active instance wrote them).
        let ops_on = |t: &str| plan.stats.tables.get(t).is_some_and(|&(i, u, d)| i + u + d > 0);
        let per_dp_ops = crate::bindings::PER_DATAPATH.iter().any(|t| ops_on(t));
        self.port_groups_planned = ops_on("Port_Group") || ops_on("Address_Set");
        self.planned = match (&unfolded.rows_built, per_dp_ops) {
            (_, false) => HashSet::default(),
            (Some(built), true) => built.iter().map(|dp| unfolded.datapaths[dp.0 as usize]).collect(),
            (None, true) => unfolded.datapaths.iter().copied().collect(),
        };
        self.ran(2, RunKind::Recompute, &mut done);
        // Groups changed in place, by either planner: their echo is ours.
        self.lflows.expect_group_changes(plan.ops.iter().filter_map(|op| match op {
            Operation::Update { table, where_, .. } if table == "Logical_DP_Group" => {
                where_.iter().find_map(Condition::as_row)
            }
            _ => None,
        }));
        let flows_compared = planned.compared;
        let bindings_built = unfolded.output.rows("Port_Binding").len();
        let stats = CycleStats {
            datapaths_built: built,
            datapaths_in_part,
            datapaths_rest,
            datapaths_changed,
            flows_compared,
            bindings_built,
        };
        Cycle { output: unfolded.output, plan, stats, pending }
    }

    /// Keeps in `plan` the operations on the rows this instance writes
    /// (all of them unless sharded); the datapaths and flows of the others
    /// are planned again at the next run. What was left of the shards'
    /// rows.
    fn keep_owned(&mut self, plan: &mut Plan, unfolded: &crate::Unfolded, sb: &Replica) -> Pending {
        if self.ownership.is_all() {
            return Pending::default();
        }
        // (Each operation's owner is read from its row.)
        plan.build_deferred();
        let split = Split::of(std::mem::take(&mut plan.ops), &self.ownership, sb, &unfolded.datapaths);
        let pending = split.pending(&self.ownership);
        // A datapath whose rows were left is built again next time.
        self.unsent.extend(split.left.iter().filter(|l| l.per_datapath()).filter_map(|l| l.datapath));
        self.lflows.left(sb, split.left.iter().map(|l| &l.op));
        plan.stats = PlanStats::default();
        for op in &split.kept {
            let (Operation::Insert { table, .. } | Operation::Update { table, .. } | Operation::Delete { table, .. }) =
                op
            else {
                continue;
            };
            let Some(name) = crate::sync::owned_tables().find(|t| t == table) else { continue };
            let s = plan.stats.tables.entry(name).or_default();
            match op {
                Operation::Insert { .. } => s.0 += 1,
                Operation::Update { .. } => s.1 += 1,
                _ => s.2 += 1,
            }
        }
        plan.ops = split.kept;
        pending
    }

    /// Each datapath's reference, for its flows: the SB row its binding was
    /// matched to, or the name of the one inserted for it.
    fn datapath_refs(
        &self,
        unfolded: &crate::Unfolded,
        ids: &HashMap<String, Uuid>,
    ) -> HashMap<Uuid, Atom, FixedState> {
        let bound: HashSet<&str> =
            unfolded.output.rows("Datapath_Binding").iter().filter_map(|r| r.id.as_deref()).collect();
        unfolded
            .datapaths
            .iter()
            .enumerate()
            .filter_map(|(i, nb_row)| {
                let id = DpId(i as u32).row_id();
                let r = match ids.get(&id) {
                    Some(uuid) => Atom::Uuid(*uuid),
                    None if bound.contains(id.as_str()) => Atom::named_uuid(id),
                    None => return None,
                };
                Some((*nb_row, r))
            })
            .collect()
    }

    /// The datapaths whose flows the engine keeps differ from a full
    /// compilation's of the same databases (`crate::compile_unfolded` of
    /// every datapath): empty when the engine is right. For tests.
    pub fn stale_datapaths(&self, full: &crate::Unfolded) -> Vec<Uuid> {
        self.lflows.stale(&full.flows, &full.datapaths)
    }

    /// The NB rows whose owning datapaths, as the engine keeps them to
    /// place changes, differ from those a fresh engine would find in `nb`:
    /// empty when the engine is right. For tests.
    pub fn stale_owners(&self, nb: &Replica) -> Vec<Uuid> {
        self.deps.stale_owners(nb)
    }

    /// The datapaths whose ports, as the engine's memo keeps them,
    /// differ from what a fresh memo gathers from the same databases:
    /// empty when the memo is right. For tests.
    pub fn stale_ports(&self, nb: &Replica, sb: &Replica) -> Vec<Uuid> {
        self.ports.stale(nb, sb)
    }

    /// Keeps the diagnostics of the datapaths whose flows (and rows) were
    /// built, and adds the kept ones of the others to the output.
    fn keep_diagnostics(&mut self, unfolded: &mut crate::Unfolded) {
        let present: HashSet<Uuid, FixedState> = unfolded.datapaths.iter().copied().collect();
        let out = &mut unfolded.output.diagnostics;
        let parts = [
            (&mut self.dp_diagnostics, &mut unfolded.dp_diagnostics, unfolded.built.as_ref()),
            (&mut self.row_diagnostics, &mut unfolded.row_diagnostics, unfolded.rows_built.as_ref()),
        ];
        for (kept, new, built) in parts {
            kept.retain(|dp, _| present.contains(dp));
            for (i, dp) in unfolded.datapaths.iter().enumerate() {
                let id = DpId(i as u32);
                if built.map_or(true, |b| b.contains(&id)) {
                    kept.insert(*dp, new.remove(&id).unwrap_or_default());
                } else if let Some(diags) = kept.get(dp) {
                    out.extend(diags.iter().cloned());
                }
            }
        }
        if unfolded.built.is_some() {
            out.sort();
        }
    }
}
