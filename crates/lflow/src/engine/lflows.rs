//! The `lflow` node: the flows of every datapath folded into
//! `Logical_Flow` rows (one row per distinct flow, on its datapath or on a
//! `Logical_DP_Group` of its datapaths, as `flows::to_rows` folds them),
//! kept between cycles together with an index of the SB's `Logical_Flow`
//! rows by the same flow. A cycle hands it each datapath's flows; only the
//! datapaths whose flows differ from the last cycle's are diffed, and only
//! the flows they gained or lost, plus the SB rows that changed since, are
//! compared with the SB. So a port added to one switch costs the flows of
//! that switch, not a scan of every flow.
//!
//! The SB side is kept current by `observe`, which every SB replica change
//! must go through (rows of others included: a row someone else wrote,
//! changed or deleted is compared again at the next cycle). A datapath group
//! changed in place by someone else makes the next cycle compare every
//! flow, as does a `reset`. It never writes a row of another table than
//! `Logical_Flow` and `Logical_DP_Group`. A group whose flows mostly move
//! to the same new datapaths (a switch added where they apply) is changed
//! in place, the few that stay moving instead; other new sets of
//! datapaths get a group inserted (the server collects groups nothing
//! refers to).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use foldhash::fast::FixedState;
use ovsdb::replica::Row;
use ovsdb::replica::{Change, Changes};
use ovsdb::{Atom, Condition, Datum, OpRow, Operation, Replica, Uuid};

use crate::flows::flow_row;
use crate::output::{Built, Lflow};
use crate::stage::Stage;
use crate::sync::Deferred;

/// A flow apart from its datapath and the NB row it comes from: what makes
/// two datapaths' flows the same `Logical_Flow` row.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Body {
    stage: Stage,
    priority: u16,
    match_: Box<str>,
    actions: Box<str>,
    io_port: Option<Box<str>>,
    meter: Option<Box<str>>,
}

impl Body {
    fn of(f: &Lflow) -> Body {
        Body {
            stage: f.stage,
            priority: f.priority,
            match_: f.match_.as_str().into(),
            actions: f.actions.as_str().into(),
            io_port: f.io_port.as_deref().map(Into::into),
            meter: f.meter.as_deref().map(Into::into),
        }
    }

    fn is(&self, f: &Lflow) -> bool {
        self.stage == f.stage
            && self.priority == f.priority
            && *self.match_ == *f.match_
            && *self.actions == *f.actions
            && self.io_port.as_deref() == f.io_port.as_deref()
            && self.meter.as_deref() == f.meter.as_deref()
    }

    /// The body of an SB row, if it is one northd would write: a known
    /// stage, `external_ids` with only `stage-name` (matching the stage),
    /// `stage-hint` and `source`, `tags` with only `in_out_port`. Any other
    /// row is not one of ours and goes.
    fn from_sb(row: &Row) -> Option<Body> {
        Body::from_cells(|c| Some(row.get(c)))
    }

    /// The body of the row an insert writes.
    fn from_insert(row: &OpRow) -> Option<Body> {
        Body::from_cells(|c| row.get(c))
    }

    /// `from_sb` of a row's cells (`None`: the empty set).
    fn from_cells<'r>(cell: impl Fn(&str) -> Option<&'r Datum>) -> Option<Body> {
        let empty = Datum::default();
        let get = |c: &str| -> &Datum { cell(c).unwrap_or(&empty) };
        let int = |c: &str| get(c).as_atom().and_then(Atom::as_integer);
        let text = |c: &str| get(c).as_atom().and_then(Atom::as_str);
        let (pipeline, table) = (text("pipeline")?, int("table_id")?);
        let ids = get("external_ids");
        let name = ids.get(&Atom::string("stage-name")).and_then(Atom::as_str)?;
        let known = ["stage-name", "stage-hint", "source"];
        if ids.pairs().iter().any(|(k, _)| !k.as_str().is_some_and(|k| known.contains(&k))) {
            return None;
        }
        let stage = *Stage::ALL
            .iter()
            .find(|s| s.name() == name && s.pipeline().as_str() == pipeline && i64::from(s.table()) == table)?;
        let tags = get("tags");
        let io_port = match tags.pairs() {
            [] => None,
            [(k, v)] if k.as_str() == Some("in_out_port") => Some(v.as_str()?.into()),
            _ => return None,
        };
        Some(Body {
            stage,
            priority: u16::try_from(int("priority")?).ok()?,
            match_: text("match")?.into(),
            actions: text("actions")?.into(),
            io_port,
            meter: text("controller_meter").map(Into::into),
        })
    }
}

/// How many more times a datapath has a flow than before, and the flow.
type Counted = (isize, Arc<Body>);

/// A flow to compare with the SB, and the datapaths it wants to be on
/// (their references, sorted).
type Want = (Arc<Body>, Vec<Atom>);

/// A datapath's flows as last built: each body with the NB row it came
/// from, in build order.
type DpFlows = Vec<(Arc<Body>, Option<Uuid>)>;

/// A datapath's flows by part (`Lflow::part`): `None` for the rest. No
/// part is empty.
type Parts = BTreeMap<Option<Uuid>, DpFlows>;

/// A datapath's flows as a cycle built them, by part, in build order.
type DpBuilt = BTreeMap<Option<Uuid>, Vec<Lflow>>;

/// One distinct flow: where the compiler wants it and where the SB has it.
#[derive(Debug, Default)]
struct Entry {
    /// (datapath's NB row, stage hint), one per flow built, sorted.
    occurrences: Vec<(Uuid, Option<Uuid>)>,
    /// The SB rows holding this flow (more than one are duplicates).
    rows: Vec<Uuid>,
}

/// The node's state. See the module documentation.
#[derive(Debug, Default)]
pub struct LflowTable {
    per_dp: HashMap<Uuid, Parts, FixedState>,
    entries: HashMap<Arc<Body>, Entry, FixedState>,
    /// SB rows that are no flow of ours.
    foreign: BTreeSet<Uuid>,
    /// Flows to compare with the SB at the next `plan`.
    dirty: BTreeSet<Arc<Body>>,
    /// The flows the last `plan` wrote (their echo settles them).
    planned: Vec<Arc<Body>>,
    /// Flows whose SB rows changed, until `settle` says whether the change
    /// was our own write's echo (nothing to compare) or another's.
    unsettled: Vec<(Uuid, Arc<Body>)>,
    /// The SB index is built (from the replica, then kept by `observe`).
    indexed: bool,
    /// Each datapath's reference in the last plan (an SB row, or the name
    /// of the row inserted with it).
    dp_refs: HashMap<Uuid, Atom, FixedState>,
    /// Our SB flow rows on each datapath group.
    group_rows: HashMap<Uuid, HashSet<Uuid, FixedState>, FixedState>,
    /// The groups the last plan changed in place (their echo is ours).
    regrouping: HashSet<Uuid, FixedState>,
    /// Groups changed in place by others are not news: this instance
    /// writes no flow on a group (a sharded instance without the global
    /// role, whose holder changes groups as this instance's own plan
    /// would; `set_others_groups`).
    others_groups_trusted: bool,
}

/// What a `plan` did besides its operations.
#[derive(Debug, Default)]
pub struct Planned {
    /// Flows compared with the SB.
    pub compared: usize,
    /// Datapath groups changed in place, with their new datapaths: the
    /// other tables' plan must see them so.
    pub regrouped: Vec<(Uuid, Datum)>,
    /// The SB's datapath groups no flow is on once the plan is applied:
    /// the other tables' plan may change them in place.
    pub flow_free: HashSet<Uuid, FixedState>,
}

impl LflowTable {
    /// Forgets everything: the next `plan` compares every flow with a
    /// fresh index of the SB.
    pub fn reset(&mut self) {
        let trusted = self.others_groups_trusted;
        *self = LflowTable { others_groups_trusted: trusted, ..LflowTable::default() };
    }

    /// Whether datapath groups changed in place by others make the next
    /// plan compare every flow (they do unless `trusted`: see the field).
    pub fn set_others_groups(&mut self, trusted: bool) {
        self.others_groups_trusted = trusted;
    }

    /// Whether the last `reset` (or the start) has been followed by a
    /// `plan`.
    pub fn is_warm(&self) -> bool {
        self.indexed
    }

    /// Takes the SB changes since the last call into the index. Every
    /// change of the SB replica must pass here once.
    pub fn observe(&mut self, changes: &Changes, sb: &Replica) {
        if !self.indexed {
            return;
        }
        if let Some(groups) = changes.table("Logical_DP_Group") {
            let modified: Vec<Uuid> =
                groups.iter().filter(|(_, c)| matches!(c, Change::Modified { .. })).map(|(u, _)| *u).collect();
            let foreign = modified.iter().filter(|u| !self.regrouping.remove(u)).count();
            if foreign > 0 && !self.others_groups_trusted {
                // Someone else changed a group under its flows.
                self.reset();
                return;
            }
        }
        let Some(flows) = changes.table("Logical_Flow") else { return };
        for (uuid, change) in flows.iter() {
            if let Change::Modified { old } | Change::Deleted { old } = change {
                self.unindex(*uuid, old);
            }
            if let (Change::Inserted | Change::Modified { .. }, Some(row)) = (change, sb.get("Logical_Flow", uuid)) {
                self.index(row);
            }
        }
    }

    fn index(&mut self, row: &Row) {
        let Some(body) = Body::from_sb(row) else {
            self.foreign.insert(row.uuid());
            return;
        };
        let key = match self.entries.get_key_value(&body) {
            Some((key, _)) => key.clone(),
            None => Arc::new(body),
        };
        self.entries.entry(key.clone()).or_default().rows.push(row.uuid());
        self.unsettled.push((row.uuid(), key));
        if let Some(g) = group_of(row) {
            self.group_rows.entry(g).or_default().insert(row.uuid());
        }
    }

    fn unindex(&mut self, uuid: Uuid, old: &Row) {
        if self.foreign.remove(&uuid) {
            return;
        }
        let Some(body) = Body::from_sb(old) else { return };
        if let Some(rows) = group_of(old).and_then(|g| self.group_rows.get_mut(&g)) {
            rows.remove(&uuid);
        }
        let Some((key, _)) = self.entries.get_key_value(&body) else { return };
        let key = key.clone();
        if let Some(entry) = self.entries.get_mut(&key) {
            entry.rows.retain(|u| *u != uuid);
        }
        self.unsettled.push((uuid, key));
    }

    /// The last plan's operations were not sent (a standby): its flows
    /// are still to compare.
    pub fn discard(&mut self) {
        self.dirty.extend(self.planned.drain(..));
        self.regrouping.clear();
    }

    /// Operations of this plan another instance writes (`crate::shard`),
    /// or that wait for a row it writes: their flows are compared again
    /// at the next plan, until the SB shows them done.
    pub fn left<'o>(&mut self, sb: &Replica, ops: impl IntoIterator<Item = &'o Operation>) {
        for op in ops {
            let body = match op {
                Operation::Insert { table, row, .. } if table == "Logical_Flow" => Body::from_insert(row),
                Operation::Update { table, where_, .. } | Operation::Delete { table, where_ }
                    if table == "Logical_Flow" =>
                {
                    let uuid = where_.iter().find_map(Condition::as_row);
                    uuid.and_then(|u| sb.get("Logical_Flow", &u)).and_then(Body::from_sb)
                }
                _ => None,
            };
            if let Some((key, _)) = body.and_then(|b| self.entries.get_key_value(&b)) {
                self.dirty.insert(key.clone());
            }
        }
    }

    /// Says that the operations about to be sent change these datapath
    /// groups in place: their echo is not someone else's change.
    pub fn expect_group_changes(&mut self, groups: impl IntoIterator<Item = Uuid>) {
        self.regrouping.extend(groups);
    }

    /// Says which of the SB rows changed since the last `settle` changed
    /// by our own write, as written (`ours`): the flows of the others are
    /// compared again at the next `plan`.
    pub fn settle(&mut self, ours: impl Fn(Uuid) -> bool) {
        for (uuid, body) in std::mem::take(&mut self.unsettled) {
            if !ours(uuid) {
                self.dirty.insert(body);
            }
        }
    }

    /// Forgets the flows of the datapaths gone since the last cycle (the
    /// ones `datapaths`, the NB rows of this cycle's, lacks); how many.
    pub fn forget_gone(&mut self, datapaths: &[Uuid]) -> usize {
        let present: HashSet<Uuid, FixedState> = datapaths.iter().copied().collect();
        let gone: Vec<Uuid> = self.per_dp.keys().filter(|dp| !present.contains(dp)).copied().collect();
        for &dp in &gone {
            let old = self.per_dp.remove(&dp).unwrap_or_default();
            self.apply_diff(dp, old.into_values().flatten().collect(), Vec::new());
        }
        gone.len()
    }

    /// Takes this cycle's flows of the datapath whose NB row is `dp`, those
    /// `built` says were built (its other flows are kept). Whether its
    /// flows changed.
    pub fn update_dp(&mut self, dp: Uuid, built: Built<'_>, flows: Vec<Lflow>) -> bool {
        let mut new: DpBuilt = BTreeMap::new();
        for f in flows {
            new.entry(f.part).or_default().push(f);
        }
        let parts: Vec<Option<Uuid>> = match built {
            Built::Parts(some) => some.iter().copied().map(Some).collect(),
            Built::Rest => vec![None],
            Built::All => {
                // All of them: those kept, and those built.
                let kept = self.per_dp.get(&dp).into_iter().flat_map(|p| p.keys().copied());
                let mut all: Vec<Option<Uuid>> = kept.chain(new.keys().copied()).collect();
                all.sort();
                all.dedup();
                all
            }
        };
        let mut any = false;
        for part in parts {
            let fresh = new.get(&part).map(Vec::as_slice).unwrap_or_default();
            let kept = self.kept(&dp, part);
            // The flows before and after the ones that changed (a flow
            // added or gone is most of the time all there is).
            let head = kept.iter().zip(fresh).take_while(|(k, f)| is(k, f)).count();
            if head == kept.len() && head == fresh.len() {
                continue;
            }
            let room = kept.len().min(fresh.len()) - head;
            let tail = kept.iter().rev().zip(fresh.iter().rev()).take(room).take_while(|(k, f)| is(k, f)).count();
            any = true;
            let (gone, came) = (kept[head..kept.len() - tail].to_vec(), &fresh[head..fresh.len() - tail]);
            let came: DpFlows = came.iter().map(|f| (self.intern(f), f.hint)).collect();
            // (Every body is now an entry's key: `apply_diff` can tell
            // bodies apart by pointer.)
            let parts = self.per_dp.entry(dp).or_default();
            let list = parts.entry(part).or_default();
            list.splice(head..list.len() - tail, came.iter().cloned());
            if list.is_empty() {
                parts.remove(&part);
            }
            if parts.is_empty() {
                self.per_dp.remove(&dp);
            }
            self.apply_diff(dp, gone, came);
        }
        any
    }

    /// The datapaths whose kept flows differ from `flows` (every
    /// datapath's, `DpId`-indexed by `datapaths`) or that `datapaths` lacks.
    pub fn stale(&self, flows: &[Lflow], datapaths: &[Uuid]) -> Vec<Uuid> {
        let mut stale: Vec<Uuid> = self.per_dp.keys().filter(|dp| !datapaths.contains(dp)).copied().collect();
        for (dp, new) in datapaths.iter().zip(by_datapath(flows, datapaths)) {
            let kept = self.per_dp.get(dp).into_iter().flat_map(|p| p.keys());
            if kept
                .chain(new.keys())
                .any(|part| !same(self.kept(dp, *part), new.get(part).map(Vec::as_slice).unwrap_or_default()))
            {
                stale.push(*dp);
            }
        }
        stale.sort();
        stale
    }

    /// The flows kept for a part of a datapath (none for one never seen).
    fn kept(&self, dp: &Uuid, part: Option<Uuid>) -> &[(Arc<Body>, Option<Uuid>)] {
        self.per_dp.get(dp).and_then(|p| p.get(&part)).map(Vec::as_slice).unwrap_or_default()
    }

    /// The shared body of `f`: the key of its entry, made if there is
    /// none yet (so that one body is one pointer).
    fn intern(&mut self, f: &Lflow) -> Arc<Body> {
        let body = Body::of(f);
        match self.entries.get_key_value(&body) {
            Some((key, _)) => key.clone(),
            None => {
                let key = Arc::new(body);
                self.entries.insert(key.clone(), Entry::default());
                key
            }
        }
    }

    /// Moves the occurrences of `dp` from `old` to `new` (multisets of
    /// interned bodies, told apart by pointer: no string is compared).
    fn apply_diff(&mut self, dp: Uuid, old: DpFlows, new: DpFlows) {
        // (body's pointer, hint) -> (new count less old count, body).
        let mut counts: HashMap<(usize, Option<Uuid>), Counted, FixedState> = HashMap::default();
        for (sign, list) in [(-1, old), (1, new)] {
            for (body, hint) in list {
                counts.entry((Arc::as_ptr(&body) as usize, hint)).or_insert((0, body)).0 += sign;
            }
        }
        for ((_, hint), (n, body)) in counts {
            if n == 0 {
                continue;
            }
            if n < 0 {
                if let Some(entry) = self.entries.get_mut(&body) {
                    for _ in 0..n.unsigned_abs() {
                        if let Some(at) = entry.occurrences.iter().position(|o| *o == (dp, hint)) {
                            entry.occurrences.remove(at);
                        }
                    }
                }
            } else {
                let entry = self.entries.entry(body.clone()).or_default();
                for _ in 0..n {
                    let at = entry.occurrences.partition_point(|o| *o < (dp, hint));
                    entry.occurrences.insert(at, (dp, hint));
                }
            }
            self.dirty.insert(body);
        }
    }

    /// The operations that bring the SB's `Logical_Flow` rows to the flows
    /// taken so far: `dp_ref` gives each datapath's reference (an existing
    /// row, or the `uuid-name` of its insert in the same transaction).
    /// Group inserts and changes come first in `ops`' new part, then the
    /// flows' updates and deletes; their inserts go to `deferred`.
    ///
    /// A group all of whose flows move to the same new set of datapaths
    /// (a switch added where a group's flows apply, every flow of the
    /// group gaining it) is changed in place, one operation, rather than
    /// a new group inserted and every flow moved to it.
    pub fn plan(
        &mut self,
        sb: &Replica,
        dp_ref: &HashMap<Uuid, Atom, FixedState>,
        ops: &mut Vec<Operation>,
        deferred: &mut Vec<Deferred>,
        stats: &mut BTreeMap<&'static str, (usize, usize, usize)>,
    ) -> Planned {
        if !self.indexed {
            self.index_all(sb);
        }
        // Changes nobody vouched for are compared.
        self.settle(|_| false);
        // A datapath whose row changed: every flow on it is compared (not
        // one inserted by the last write, which now has its UUID).
        let moved: Vec<Uuid> = dp_ref
            .iter()
            .filter(|(dp, r)| self.dp_refs.get(*dp).is_some_and(|old| old != *r && !matches!(old, Atom::NamedUuid(_))))
            .map(|(d, _)| *d)
            .collect();
        for dp in moved {
            for (body, _) in self.per_dp.get(&dp).into_iter().flat_map(|p| p.values()).flatten() {
                self.dirty.insert(body.clone());
            }
        }
        self.dp_refs = dp_ref.clone();
        self.planned.clear();
        let dirty = std::mem::take(&mut self.dirty);
        let compared = dirty.len();
        let mut wants: Vec<Want> = dirty
            .into_iter()
            .map(|body| {
                let want = self.entries.get(&body).map(|e| self.want(e)).unwrap_or_default();
                (body, want)
            })
            .collect();
        let mut groups = Groups::of(sb);
        let (regrouped, stayers) = self.regroup(sb, &wants, &mut groups);
        wants.extend(stayers);
        let group_stats = stats.entry("Logical_DP_Group").or_default();
        for (group, datapaths) in &regrouped {
            group_stats.1 += 1;
            let mut row = OpRow::new();
            row.insert("datapaths".into(), datapaths.clone());
            ops.push(Operation::Update { table: "Logical_DP_Group".into(), where_: vec![Condition::row(*group)], row });
        }
        let mut new_groups: BTreeMap<Vec<Atom>, String> = BTreeMap::new();
        let mut flow_ops = Vec::new();
        let (mut ins, mut upd, mut del) = (0, 0, 0);
        for (body, want) in wants {
            let Some(entry) = self.entries.get(&body) else { continue };
            let (i, u, d) = reconcile(sb, &body, entry, &want, &mut groups, &mut new_groups, (&mut flow_ops, deferred));
            (ins, upd, del) = (ins + i, upd + u, del + d);
            if entry.occurrences.is_empty() && entry.rows.is_empty() {
                self.entries.remove(&body);
            } else if i + u + d > 0 {
                self.planned.push(body);
            }
        }
        // Deleted once the SB says so (`observe`).
        for &uuid in &self.foreign {
            del += 1;
            flow_ops.push(Operation::Delete { table: "Logical_Flow".into(), where_: vec![Condition::row(uuid)] });
        }
        let group_stats = stats.entry("Logical_DP_Group").or_default();
        let mut named: Vec<(String, Vec<Atom>)> = new_groups.into_iter().map(|(dps, id)| (id, dps)).collect();
        named.sort();
        for (id, dps) in named {
            group_stats.0 += 1;
            let mut row = OpRow::new();
            row.insert("datapaths".into(), Datum::set(dps));
            ops.push(Operation::Insert { table: "Logical_DP_Group".into(), row, uuid_name: Some(id), uuid: None });
        }
        ops.extend(flow_ops);
        let s = stats.entry("Logical_Flow").or_default();
        *s = (s.0 + ins, s.1 + upd, s.2 + del);
        let regrouped_set: HashSet<Uuid> = regrouped.iter().map(|(g, _)| *g).collect();
        let flow_free = groups
            .of_group
            .keys()
            .filter(|g| !groups.used.contains(*g) && !regrouped_set.contains(*g))
            .filter(|g| self.group_rows.get(*g).map_or(true, HashSet::is_empty))
            .copied()
            .collect();
        Planned { compared, regrouped, flow_free }
    }

    /// The groups to change in place: each one most of whose flow rows
    /// (ours) go to one set of datapaths no group has yet. The rows that
    /// stay (fewer than those that go) move to a group of the old
    /// datapaths: returned with where they want to be, for `reconcile`.
    /// `groups` is updated to hold the groups changed with their new
    /// datapaths; the flows moved are planned (a standby's discard
    /// compares them again).
    fn regroup(&mut self, sb: &Replica, wants: &[Want], groups: &mut Groups) -> (Vec<(Uuid, Datum)>, Vec<Want>) {
        // Per group: our rows that leave it, the new contents they go to
        // (with how many), the flows they hold.
        #[derive(Default)]
        struct Leaving<'w> {
            rows: HashSet<Uuid, FixedState>,
            to: BTreeMap<&'w [Atom], usize>,
            flows: Vec<&'w Arc<Body>>,
        }
        let mut leaving: BTreeMap<Uuid, Leaving<'_>> = BTreeMap::new();
        for (body, want) in wants {
            let Some(entry) = self.entries.get(body) else { continue };
            let new = want.len() > 1 && !groups.by_content.contains_key(want);
            for row in entry.rows.iter().filter_map(|u| sb.get("Logical_Flow", u)) {
                let Some(g) = group_of(row) else { continue };
                if groups.of_group.get(&g).is_some_and(|have| have == want) {
                    continue;
                }
                let l = leaving.entry(g).or_default();
                l.rows.insert(row.uuid());
                if new {
                    *l.to.entry(want).or_default() += 1;
                }
                l.flows.push(body);
            }
        }
        let dirty: HashSet<&Body> = wants.iter().map(|(b, _)| &**b).collect();
        let (mut regrouped, mut stayers) = (Vec::new(), Vec::new());
        for (g, l) in leaving {
            let (&[(want, going)], Some(all)) = (&l.to.into_iter().collect::<Vec<_>>()[..], self.group_rows.get(&g))
            else {
                continue;
            };
            let staying: Vec<Uuid> = all.iter().filter(|u| !l.rows.contains(u)).copied().collect();
            if staying.len() >= going || groups.by_content.contains_key(want) {
                continue;
            }
            for row in staying.iter().filter_map(|u| sb.get("Logical_Flow", u)) {
                let Some(body) = Body::from_sb(row) else { continue };
                let Some((body, entry)) = self.entries.get_key_value(&body) else { continue };
                if !dirty.contains(&**body) {
                    stayers.push((body.clone(), self.want(entry)));
                }
            }
            // The flows that stay get a new group: another of the old
            // datapaths may be one a load balancer's group can become.
            if let Some(old) = groups.of_group.insert(g, want.to_vec()) {
                groups.by_content.remove(&old);
            }
            groups.by_content.insert(want.to_vec(), g);
            self.planned.extend(l.flows.into_iter().cloned());
            regrouped.push((g, Datum::set(want.iter().cloned())));
        }
        (regrouped, stayers)
    }

    /// Where a flow wants to be: its datapaths' references, sorted.
    fn want(&self, entry: &Entry) -> Vec<Atom> {
        let mut want: Vec<Atom> =
            entry.occurrences.iter().filter_map(|(dp, _)| self.dp_refs.get(dp).cloned()).collect();
        want.sort();
        want.dedup();
        want
    }

    /// Indexes every SB `Logical_Flow` row and marks every flow for
    /// comparison.
    fn index_all(&mut self, sb: &Replica) {
        self.indexed = true;
        for entry in self.entries.values_mut() {
            entry.rows.clear();
        }
        self.foreign.clear();
        self.group_rows.clear();
        if let Some(table) = sb.table("Logical_Flow") {
            for row in table.rows() {
                self.index(row);
            }
        }
        self.unsettled.clear();
        self.dirty.extend(self.entries.keys().cloned());
    }
}

/// `flows` by datapath (`DpId`-indexed by `datapaths`) and part (`Parts`),
/// each part in build order.
fn by_datapath<'f>(flows: &'f [Lflow], datapaths: &[Uuid]) -> Vec<BTreeMap<Option<Uuid>, Vec<&'f Lflow>>> {
    let mut by_dp: Vec<BTreeMap<Option<Uuid>, Vec<&Lflow>>> = vec![BTreeMap::new(); datapaths.len()];
    for f in flows {
        if let Some(parts) = by_dp.get_mut(f.dp.0 as usize) {
            parts.entry(f.part).or_default().push(f);
        }
    }
    by_dp
}

/// Whether a datapath's kept flows are `new`, flow for flow in order.
fn same(kept: &[(Arc<Body>, Option<Uuid>)], new: &[&Lflow]) -> bool {
    kept.len() == new.len() && kept.iter().zip(new).all(|(k, f)| is(k, f))
}

/// Whether a kept flow is `f`, hint included.
fn is(kept: &(Arc<Body>, Option<Uuid>), f: &Lflow) -> bool {
    kept.1 == f.hint && kept.0.is(f)
}

/// The operations that bring the SB rows of one flow to where the
/// compiler wants it: keeps one row already in place (or moves one), deletes
/// the others, inserts one if none (deferred); (inserted, updated, deleted).
fn reconcile(
    sb: &Replica,
    body: &Arc<Body>,
    entry: &Entry,
    want: &[Atom],
    groups: &mut Groups,
    new_groups: &mut BTreeMap<Vec<Atom>, String>,
    (ops, deferred): (&mut Vec<Operation>, &mut Vec<Deferred>),
) -> (usize, usize, usize) {
    let mut rows = entry.rows.clone();
    rows.sort();
    // A row already on the datapaths wanted stays; else one moves there.
    let placed = rows.iter().position(|u| !want.is_empty() && is_placed(sb, *u, want, groups));
    if let Some(g) = placed.and_then(|k| sb.get("Logical_Flow", &rows[k])).and_then(group_of) {
        groups.used.insert(g);
    }
    let on = (!want.is_empty() && placed.is_none()).then(|| place(want, groups, new_groups));
    let keep = match (placed, &on) {
        (Some(k), _) => Some(k),
        (None, Some(_)) if !rows.is_empty() => Some(0),
        _ => None,
    };
    let mut counts = (0, 0, 0);
    for (k, uuid) in rows.iter().enumerate() {
        if Some(k) != keep {
            counts.2 += 1;
            ops.push(Operation::Delete { table: "Logical_Flow".into(), where_: vec![Condition::row(*uuid)] });
        }
    }
    let Some(on) = on else { return counts };
    match keep {
        Some(k) => {
            counts.1 += 1;
            let clear = if on.0 == "logical_datapath" { "logical_dp_group" } else { "logical_datapath" };
            let mut row = OpRow::new();
            row.insert(on.0.into(), on.1);
            row.insert(clear.into(), Datum::set([]));
            ops.push(Operation::Update { table: "Logical_Flow".into(), where_: vec![Condition::row(rows[k])], row });
        }
        None => {
            counts.0 += 1;
            let hint = entry.occurrences.iter().filter_map(|(_, h)| *h).min();
            let body = Arc::clone(body);
            deferred.push(Deferred::new("Logical_Flow", move || insert(&body, hint, on)));
        }
    }
    counts
}

/// The insert of a flow's row, on `on` (a datapath or group).
fn insert(body: &Body, hint: Option<Uuid>, on: (&'static str, Datum)) -> Operation {
    let parts =
        (&body.stage, body.priority, &*body.match_, &*body.actions, body.io_port.as_deref(), body.meter.as_deref());
    let row = flow_row(parts, hint, on);
    let cells = row.cells.into_iter().filter(|(_, v)| !v.is_empty()).map(|(c, v)| (c.into(), v)).collect();
    Operation::Insert { table: "Logical_Flow".into(), row: cells, uuid_name: None, uuid: None }
}

/// The SB's datapath groups by their datapaths, and the other way.
struct Groups {
    /// The lowest group of each set of datapaths.
    by_content: HashMap<Vec<Atom>, Uuid, FixedState>,
    of_group: HashMap<Uuid, Vec<Atom>, FixedState>,
    /// The groups `place` put a flow on.
    used: HashSet<Uuid, FixedState>,
}

impl Groups {
    fn of(sb: &Replica) -> Groups {
        let mut groups =
            Groups { by_content: HashMap::default(), of_group: HashMap::default(), used: HashSet::default() };
        for row in sb.table("Logical_DP_Group").into_iter().flat_map(|t| t.rows()) {
            let mut dps: Vec<Atom> = row.get("datapaths").keys().cloned().collect();
            dps.sort();
            let lowest = groups.by_content.entry(dps.clone()).or_insert(row.uuid());
            *lowest = (*lowest).min(row.uuid());
            groups.of_group.insert(row.uuid(), dps);
        }
        groups
    }
}

/// The datapath group an SB flow row is on, if any.
fn group_of(row: &Row) -> Option<Uuid> {
    row.get("logical_dp_group").as_atom().and_then(Atom::as_uuid)
}

/// Where a flow on the datapaths `want` (sorted, at least one) goes: the
/// datapath itself, an existing group of exactly those datapaths, or a
/// group inserted in this transaction.
fn place(want: &[Atom], groups: &mut Groups, new_groups: &mut BTreeMap<Vec<Atom>, String>) -> (&'static str, Datum) {
    if let [one] = want {
        return ("logical_datapath", Datum::from(one.clone()));
    }
    if let Some(&g) = groups.by_content.get(want) {
        groups.used.insert(g);
        return ("logical_dp_group", Datum::from(Atom::Uuid(g)));
    }
    let next = new_groups.len();
    let id = new_groups.entry(want.to_vec()).or_insert_with(|| format!("lfg{next}")).clone();
    ("logical_dp_group", Datum::from(Atom::named_uuid(id)))
}

/// Whether the SB row `uuid` already is on the datapaths `want` (sorted,
/// at least one): on the one datapath, or on a group of exactly those.
fn is_placed(sb: &Replica, uuid: Uuid, want: &[Atom], groups: &Groups) -> bool {
    let Some(row) = sb.get("Logical_Flow", &uuid) else { return false };
    let dp = row.get("logical_datapath");
    match (want, group_of(row)) {
        ([one], None) => dp.as_atom() == Some(one),
        ([_, _, ..], Some(g)) => dp.is_empty() && groups.of_group.get(&g).is_some_and(|c| c.as_slice() == want),
        _ => false,
    }
}
