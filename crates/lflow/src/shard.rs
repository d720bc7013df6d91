//! Sharding: which of K shards, or the global role, each SB row northd
//! writes belongs to, and the split of a plan's operations into those an
//! instance may send and those it leaves to the others.
//!
//! A logical datapath belongs to shard `shard_of(its NB row's UUID, K)`:
//! a function of the NB alone, the same in every instance. A row of the
//! per-datapath tables (`bindings::PER_DATAPATH`) belongs to its
//! datapath's shard, as does a `Logical_Flow` row on one datapath. The
//! rest is global: `SB_Global`, `Datapath_Binding` (tunnel keys are
//! global), flows on a `Logical_DP_Group` and the groups themselves (the
//! reference folds a flow shared by datapaths of several shards into one
//! row: a C `ovn-northd` taking over finds the same rows), port groups,
//! address sets, load balancers, meters, DHCP options, RBAC, and every NB
//! write (MAC IPAM, status).
//!
//! An operation belongs to the owner of the row it leaves behind: an
//! insert or update by its new values (an update that does not set the
//! datapath, by the row's), a delete by the row's; but an update that
//! moves a row to another place (a flow from one datapath to another, to
//! a group or back, a binding to another switch) belongs to the global
//! role whatever the new place. An instance whose NB is behind would otherwise
//! move back, into its own shard, a flow the global role had just moved
//! onto a group, after the global role had copied `nb_cfg` (seen once in
//! the sharded live replay under load). The rows of a datapath
//! being bound (its binding inserted by the same plan) or gone from the NB
//! are the global role's: a switch added or deleted is written in one
//! transaction, with its binding. Every instance plans the whole SB from
//! the same databases, so the operations of all owners together are one
//! instance's plan, and no row has two writers.
//!
//! Pure: reads the SB replica, returns operations.

use std::collections::{BTreeSet, HashSet};

use ovsdb::{Atom, Datum, Operation, Replica, Uuid};

use crate::bindings::PER_DATAPATH;

/// Who writes a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Owner {
    /// The instance holding the global role.
    Global,
    /// The instance holding this shard.
    Shard(u32),
}

/// What one instance writes: the global role and some of K shards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ownership {
    /// K, at least 1.
    pub shards: u32,
    pub held: BTreeSet<u32>,
    pub global: bool,
}

impl Default for Ownership {
    /// Everything: an instance that is not sharded.
    fn default() -> Ownership {
        Ownership { shards: 1, held: BTreeSet::from([0]), global: true }
    }
}

impl Ownership {
    /// Whether this instance writes every row.
    pub fn is_all(&self) -> bool {
        self.global && (0..self.shards).all(|s| self.held.contains(&s))
    }

    pub fn owns(&self, owner: Owner) -> bool {
        match owner {
            Owner::Global => self.global,
            Owner::Shard(s) => self.held.contains(&s),
        }
    }
}

/// The shard of the datapath whose NB row is `datapath`, of `shards`.
/// NB UUIDs are random, so their low bits spread datapaths evenly.
pub fn shard_of(datapath: Uuid, shards: u32) -> u32 {
    (datapath.as_u128() % u128::from(shards.max(1))) as u32
}

/// What a sharded instance's plan left out of the shards' rows.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pending {
    /// Rows of shards it does not hold: another instance has yet to write
    /// them, the SB is not yet the whole translation.
    pub others: bool,
    /// The shards it holds with rows that wait for a row another owner
    /// inserts (a new datapath's binding): the plan does not write them
    /// whole.
    pub held: BTreeSet<u32>,
}

/// A plan's operations divided by `Split::of`.
#[derive(Debug, Default)]
pub struct Split {
    /// What this instance sends, in the plan's order.
    pub kept: Vec<Operation>,
    /// What it leaves: others' rows, and its own that refer to a row
    /// another owner inserts (a new datapath's binding): they wait for it.
    pub left: Vec<Left>,
}

/// An operation left to another instance, or to later.
#[derive(Debug)]
pub struct Left {
    pub owner: Owner,
    /// The NB row of the datapath whose row it writes, if known.
    pub datapath: Option<Uuid>,
    pub op: Operation,
}

impl Left {
    /// Whether it writes a row of a per-datapath table
    /// (`bindings::PER_DATAPATH`).
    pub fn per_datapath(&self) -> bool {
        match &self.op {
            Operation::Insert { table, .. } | Operation::Update { table, .. } | Operation::Delete { table, .. } => {
                PER_DATAPATH.contains(&table.as_str())
            }
            _ => false,
        }
    }
}

impl Split {
    /// Divides `ops`; `datapaths` are the NB rows of the datapaths of the
    /// plan, `DpId`-indexed (a binding the plan inserts is `dp<i>`).
    pub fn of(ops: Vec<Operation>, own: &Ownership, sb: &Replica, datapaths: &[Uuid]) -> Split {
        let present: HashSet<Uuid> = datapaths.iter().copied().collect();
        let place = |op: &Operation| -> (Owner, Option<Uuid>) {
            let Placed::Datapath(dp) = placed_on(op, sb) else { return (Owner::Global, None) };
            let Some(atom) = dp.as_atom() else { return (Owner::Global, None) };
            match (atom, datapath_of(atom, sb, datapaths)) {
                // Bound by this plan: written with its binding.
                (Atom::NamedUuid(_), nb) => (Owner::Global, nb),
                (_, Some(nb)) if present.contains(&nb) => (Owner::Shard(shard_of(nb, own.shards)), Some(nb)),
                // Gone from the NB (or not one of ours): deleted with it.
                _ => (Owner::Global, None),
            }
        };
        let mut split = Split::default();
        for op in ops {
            let (owner, datapath) = place(&op);
            if own.owns(owner) {
                split.kept.push(op);
            } else {
                split.left.push(Left { owner, datapath, op });
            }
        }
        // What refers to a row left out waits with it; a row another
        // owner's rows refer to waits to be deleted until they let go of it
        // (a datapath's binding, until its shard's rows are gone): the
        // server refuses to delete a row others refer to.
        loop {
            let named: HashSet<&str> = split.kept.iter().filter_map(Operation::uuid_name).collect();
            let referred_by_left = referred(&split, sb);
            let deletes_referred = |op: &Operation| match op {
                Operation::Delete { where_, .. } => row_uuid(where_).is_some_and(|u| referred_by_left.contains(&u)),
                _ => false,
            };
            let dangling: Vec<usize> = split
                .kept
                .iter()
                .enumerate()
                .filter(|(_, op)| names_in(op).any(|n| !named.contains(n)) || deletes_referred(op))
                .map(|(i, _)| i)
                .collect();
            if dangling.is_empty() {
                break;
            }
            for i in dangling.into_iter().rev() {
                let op = split.kept.remove(i);
                let (owner, datapath) = place(&op);
                split.left.push(Left { owner, datapath, op });
            }
        }
        split
    }

    /// What was left of the shards' rows, as `own` sees it.
    pub fn pending(&self, own: &Ownership) -> Pending {
        let mut pending = Pending::default();
        for l in &self.left {
            match l.owner {
                Owner::Shard(s) if own.owns(l.owner) => {
                    pending.held.insert(s);
                }
                Owner::Shard(_) => pending.others = true,
                Owner::Global => {}
            }
        }
        pending
    }
}

/// The rows deleted by `split.kept` that rows `split.left` writes (as the
/// SB has them) refer to.
fn referred(split: &Split, sb: &Replica) -> HashSet<Uuid> {
    let deleting: HashSet<Uuid> = split
        .kept
        .iter()
        .filter_map(|op| match op {
            Operation::Delete { where_, .. } => row_uuid(where_),
            _ => None,
        })
        .collect();
    if deleting.is_empty() {
        return HashSet::new();
    }
    let mut out = HashSet::new();
    for l in &split.left {
        let (Operation::Update { table, where_, .. } | Operation::Delete { table, where_ }) = &l.op else { continue };
        let Some(row) = row_uuid(where_).and_then(|u| sb.get(table, &u)) else { continue };
        for (_, d) in row.iter() {
            for a in d.all_atoms() {
                if let Some(u) = a.as_uuid().filter(|u| deleting.contains(u)) {
                    out.insert(u);
                }
            }
        }
    }
    out
}

/// The `uuid-name`s an operation's values refer to.
fn names_in(op: &Operation) -> impl Iterator<Item = &str> {
    let row = match op {
        Operation::Insert { row, .. } | Operation::Update { row, .. } => Some(row),
        _ => None,
    };
    row.into_iter().flat_map(|r| r.values()).flat_map(Datum::all_atoms).filter_map(|a| match a {
        Atom::NamedUuid(n) => Some(&**n),
        _ => None,
    })
}

/// Where the row an operation leaves behind is.
enum Placed {
    Global,
    /// On the datapath of this reference.
    Datapath(Datum),
}

fn placed_on(op: &Operation, sb: &Replica) -> Placed {
    let (table, new, uuid) = match op {
        Operation::Insert { table, row, .. } => (table, Some(row), None),
        Operation::Update { table, row, where_ } => (table, Some(row), row_uuid(where_)),
        Operation::Delete { table, where_ } => (table, None, row_uuid(where_)),
        _ => return Placed::Global,
    };
    let flow = table == "Logical_Flow";
    if !flow && !PER_DATAPATH.contains(&table.as_str()) {
        return Placed::Global;
    }
    let by = |get: &dyn Fn(&str) -> Option<Datum>| -> Option<Placed> {
        if !flow {
            return get("datapath").map(Placed::Datapath);
        }
        if get("logical_dp_group").is_some_and(|g| !g.is_empty()) {
            return Some(Placed::Global);
        }
        get("logical_datapath").filter(|d| !d.is_empty()).map(Placed::Datapath)
    };
    let old = uuid.and_then(|u| sb.get(table, &u)).and_then(|row| by(&|c| Some(row.get(c).clone())));
    match (new.and_then(|row| by(&|c| row.get(c).cloned())), old) {
        // Moved: the global role's, whichever place an instance's NB wants.
        (Some(new), Some(old)) if !same_place(&new, &old) => Placed::Global,
        (Some(placed), _) | (None, Some(placed)) => placed,
        (None, None) => Placed::Global,
    }
}

/// Whether two places are the same datapath (the same reference).
fn same_place(a: &Placed, b: &Placed) -> bool {
    match (a, b) {
        (Placed::Datapath(a), Placed::Datapath(b)) => a == b,
        _ => false,
    }
}

fn row_uuid(where_: &[ovsdb::Condition]) -> Option<Uuid> {
    where_.iter().find_map(ovsdb::Condition::as_row)
}

/// The NB row of the datapath a reference names: an SB
/// `Datapath_Binding` (by its `external_ids`), or `dp<i>`, the binding a
/// plan inserts for `datapaths[i]` (`output::DpId::row_id`).
fn datapath_of(a: &Atom, sb: &Replica, datapaths: &[Uuid]) -> Option<Uuid> {
    match a {
        Atom::Uuid(u) => crate::input::sb::DatapathBinding::get(sb, u)?.nb_uuid(),
        Atom::NamedUuid(n) => datapaths.get(n.strip_prefix("dp")?.parse::<usize>().ok()?).copied(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ovsdb::{Condition, OpRow};

    fn insert(table: &str, name: Option<&str>, cells: &[(&str, Atom)]) -> Operation {
        let mut row = OpRow::new();
        for (c, a) in cells {
            row.insert((*c).into(), Datum::from(a.clone()));
        }
        Operation::Insert { table: table.into(), row, uuid_name: name.map(Into::into), uuid: None }
    }

    #[test]
    fn shards_spread_datapaths_and_agree() {
        let mut counts = [0usize; 4];
        for i in 0..4000u128 {
            let u = Uuid::from_u128(i.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835));
            counts[shard_of(u, 4) as usize] += 1;
            assert_eq!(shard_of(u, 4), shard_of(u, 4));
            assert_eq!(shard_of(u, 1), 0);
        }
        assert!(counts.iter().all(|&c| c > 800), "{counts:?}");
    }

    #[test]
    fn rows_go_to_their_datapaths_shard_and_new_or_gone_datapaths_to_the_global_role() {
        let dps = [Uuid::from_u128(4), Uuid::from_u128(5)];
        // dp1 is bound already (a port on it uses a chassis group), dp0 is
        // bound in the plan.
        let (binding, port, group) = (Uuid::from_u128(50), Uuid::from_u128(60), Uuid::from_u128(70));
        let json = format!(
            r#"{{"Datapath_Binding": {{"{binding}": {{"insert": {{"tunnel_key": 2,
                "external_ids": ["map", [["logical-switch", "{}"]]]}}}}}},
               "HA_Chassis_Group": {{"{group}": {{"insert": {{"name": "g"}}}}}},
               "Port_Binding": {{"{port}": {{"insert": {{"logical_port": "p1", "tunnel_key": 1,
                "datapath": ["uuid", "{binding}"], "ha_chassis_group": ["uuid", "{group}"]}}}}}}}}"#,
            dps[1]
        );
        let sb = crate::tests::replica("ovn-sb.ovsschema", &json);
        let ops = vec![
            insert("Datapath_Binding", Some("dp0"), &[("tunnel_key", Atom::Integer(1))]),
            insert("Port_Binding", None, &[("datapath", Atom::named_uuid("dp0"))]),
            insert("Port_Binding", None, &[("datapath", Atom::Uuid(Uuid::from_u128(77)))]),
            insert("Logical_Flow", None, &[("logical_datapath", Atom::Uuid(binding))]),
            insert("Logical_DP_Group", Some("lfg0"), &[("datapaths", Atom::Uuid(binding))]),
            insert("Logical_Flow", None, &[("logical_dp_group", Atom::named_uuid("lfg0"))]),
            Operation::Delete { table: "Logical_Flow".into(), where_: vec![Condition::row(Uuid::from_u128(9))] },
        ];
        // Shard 1 of 2 holds dp1 (5 % 2): its flow; the new dp0's port
        // goes with its binding, to the global role.
        let own = Ownership { shards: 2, held: BTreeSet::from([1]), global: false };
        let split = Split::of(ops.clone(), &own, &sb, &dps);
        assert_eq!(split.kept.len(), 1, "{:?}", split.kept);
        assert!(matches!(&split.kept[0], Operation::Insert { table, .. } if table == "Logical_Flow"));
        assert!(split.left.iter().all(|l| l.owner == Owner::Global));
        assert_eq!(split.pending(&own), Pending::default());
        let own = Ownership { shards: 2, held: BTreeSet::from([0]), global: false };
        assert!(Split::of(ops.clone(), &own, &sb, &dps).kept.is_empty());
        // The global role and shard 0: all but dp1's flow, left to shard 1.
        let own = Ownership { shards: 2, held: BTreeSet::from([0]), global: true };
        let split = Split::of(ops.clone(), &own, &sb, &dps);
        assert_eq!((split.kept.len(), split.left.len()), (6, 1));
        assert_eq!(split.left[0].owner, Owner::Shard(1));
        assert_eq!(split.pending(&own), Pending { others: true, held: BTreeSet::new() });
        // A port of dp1 in a chassis group the global role inserts: shard
        // 1's, waiting for it, so shard 1 is not written whole.
        let waits = vec![
            insert("HA_Chassis_Group", Some("g1"), &[("name", Atom::string("g1"))]),
            insert(
                "Port_Binding",
                None,
                &[("datapath", Atom::Uuid(binding)), ("ha_chassis_group", Atom::named_uuid("g1"))],
            ),
        ];
        let own1 = Ownership { shards: 2, held: BTreeSet::from([1]), global: false };
        let split = Split::of(waits, &own1, &sb, &dps);
        assert!(split.kept.is_empty(), "{:?}", split.kept);
        assert_eq!(split.pending(&own1), Pending { others: false, held: BTreeSet::from([1]) });
        let all = Split::of(ops, &Ownership::default(), &sb, &dps);
        assert_eq!((all.kept.len(), all.left.len()), (7, 0));
        // dp1 gone from the NB: its rows and binding are deleted together,
        // by the global role.
        let gone = vec![
            Operation::Delete { table: "Datapath_Binding".into(), where_: vec![Condition::row(binding)] },
            Operation::Delete { table: "Port_Binding".into(), where_: vec![Condition::row(port)] },
        ];
        let split = Split::of(gone.clone(), &own, &sb, &dps[..1]);
        assert_eq!((split.kept.len(), split.left.len()), (2, 0));
        // dp1 still there, its port letting go of a chassis group the
        // global role deletes: the group waits for the port's update.
        let mut row = ovsdb::OpRow::new();
        row.insert("ha_chassis_group".into(), Datum::set([]));
        let regroup = vec![
            Operation::Delete { table: "HA_Chassis_Group".into(), where_: vec![Condition::row(group)] },
            Operation::Update { table: "Port_Binding".into(), where_: vec![Condition::row(port)], row },
        ];
        let split = Split::of(regroup.clone(), &own, &sb, &dps);
        assert!(split.kept.is_empty(), "{:?}", split.kept);
        let own = Ownership { shards: 2, held: BTreeSet::from([0, 1]), global: true };
        assert_eq!(Split::of(regroup, &own, &sb, &dps).kept.len(), 2);
    }

    /// A flow moved between a group and a datapath, either way, is the
    /// global role's even where the datapath's shard would own the row
    /// after: an instance whose NB is behind must not move back what the
    /// global role moved. An update that leaves a row in place is its
    /// place's owner's.
    #[test]
    fn moving_a_row_is_the_global_roles() {
        let dp = Uuid::from_u128(5);
        let (binding, group, on_group, on_dp, port) =
            (Uuid::from_u128(50), Uuid::from_u128(70), Uuid::from_u128(80), Uuid::from_u128(81), Uuid::from_u128(60));
        let json = format!(
            r#"{{"Datapath_Binding": {{"{binding}": {{"insert": {{"tunnel_key": 2,
                "external_ids": ["map", [["logical-switch", "{dp}"]]]}}}}}},
               "Logical_DP_Group": {{"{group}": {{"insert": {{"datapaths": ["uuid", "{binding}"]}}}}}},
               "Logical_Flow": {{"{on_group}": {{"insert": {{"logical_dp_group": ["uuid", "{group}"],
                    "pipeline": "ingress", "table_id": 1, "priority": 1, "match": "1", "actions": "next;"}}}},
                "{on_dp}": {{"insert": {{"logical_datapath": ["uuid", "{binding}"],
                    "pipeline": "ingress", "table_id": 1, "priority": 2, "match": "1", "actions": "next;"}}}}}},
               "Port_Binding": {{"{port}": {{"insert": {{"logical_port": "p1", "tunnel_key": 1,
                "datapath": ["uuid", "{binding}"]}}}}}}}}"#
        );
        let sb = crate::tests::replica("ovn-sb.ovsschema", &json);
        let update = |table: &str, uuid: Uuid, cells: Vec<(&str, Datum)>| {
            let row = cells.into_iter().map(|(c, d)| (c.into(), d)).collect();
            Operation::Update { table: table.into(), where_: vec![Condition::row(uuid)], row }
        };
        let on = |a: Atom| Datum::from(a);
        let ops = vec![
            // Off the group, onto the datapath (shard 1's).
            update(
                "Logical_Flow",
                on_group,
                vec![("logical_datapath", on(Atom::Uuid(binding))), ("logical_dp_group", Datum::set([]))],
            ),
            // Off the datapath, onto the group.
            update(
                "Logical_Flow",
                on_dp,
                vec![("logical_dp_group", on(Atom::Uuid(group))), ("logical_datapath", Datum::set([]))],
            ),
            // In place: the port's binding gets a tag.
            update("Port_Binding", port, vec![("tag", on(Atom::Integer(7)))]),
        ];
        let own = Ownership { shards: 2, held: BTreeSet::from([1]), global: false };
        let split = Split::of(ops.clone(), &own, &sb, &[dp]);
        assert_eq!(split.kept.len(), 1, "{:?}", split.kept);
        assert!(matches!(&split.kept[0], Operation::Update { table, .. } if table == "Port_Binding"));
        assert!(split.left.iter().all(|l| l.owner == Owner::Global));
        let own = Ownership { shards: 2, held: BTreeSet::new(), global: true };
        assert_eq!(Split::of(ops, &own, &sb, &[dp]).kept.len(), 2);
    }
}
