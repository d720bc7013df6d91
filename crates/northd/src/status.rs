//! The sequence numbers that let `ovn-nbctl --wait=sb` and `--wait=hv`
//! work, as ovn-northd 23.03.1 maintains them (observed with the real one):
//!
//! - `SB_Global.nb_cfg` is set to `NB_Global.nb_cfg` in the SB transaction
//!   of the cycle that translated it ([`sb_nb_cfg_op`]).
//! - `NB_Global.nb_cfg_timestamp` is stamped with the time once per new
//!   `nb_cfg`, when it is first seen ahead of `sb_cfg` (not on a restart
//!   where the SB already caught up).
//! - `NB_Global.sb_cfg` follows `SB_Global.nb_cfg` as the SB replica shows
//!   it (so only after that transaction committed), with
//!   `sb_cfg_timestamp` the time it was seen.
//! - `NB_Global.hv_cfg` is the smallest `nb_cfg` of the `Chassis_Private`
//!   rows, chassis marked `other_config:is-remote=true` left out, and never
//!   more than `NB_Global.nb_cfg` (so with no chassis it is `nb_cfg`).
//!   `hv_cfg_timestamp` is the largest `nb_cfg_timestamp` among the rows
//!   at that smallest value (0 if none); both are written only when
//!   `hv_cfg` changes.
//!
//! - Sharded (`--shards=K`), the holder of each shard records in
//!   `SB_Global external_ids` the `nb_cfg` of the NB its rows translate,
//!   in the transaction that writes them ([`shard_progress`]), and the
//!   global role copies `nb_cfg` only once every shard's record reached it
//!   ([`shards_reached`]): `sb_cfg` still means that the whole SB is
//!   written.
//! - An NB without `NB_Global` (never `ovn-nbctl init`ed) gets an empty
//!   one, as ovn-northd inserts it ([`nb_global_insert`]); the compiler
//!   fills its options on the next cycle.
//!
//! Pure: reads replicas, takes `now` in milliseconds, returns writes.

use std::collections::BTreeSet;
use std::time::Duration;

use lflow::output::NbWrite;
use ovsdb::replica::Row;
use ovsdb::{Atom, Condition, Datum, Mutation, Mutator, OpRow, Operation, Replica};

use crate::shards::shard_lock;

fn int(row: &Row, column: &str) -> i64 {
    row.get(column).as_atom().and_then(Atom::as_integer).unwrap_or(0)
}

/// The `NB_Global` row, if the NB has been initialized.
fn nb_global(nb: &Replica) -> Option<&Row> {
    nb.table("NB_Global")?.rows().min_by_key(|r| r.uuid())
}

fn sb_global(sb: &Replica) -> Option<&Row> {
    sb.table("SB_Global")?.rows().min_by_key(|r| r.uuid())
}

/// `NB_Global.nb_cfg`, the value the SB transaction must carry.
pub fn nb_cfg(nb: &Replica) -> Option<i64> {
    nb_global(nb).map(|r| int(r, "nb_cfg"))
}

/// `NB_Global.sb_cfg`: the `nb_cfg` whose translation is known committed.
pub fn sb_cfg(nb: &Replica) -> Option<i64> {
    nb_global(nb).map(|r| int(r, "sb_cfg"))
}

/// `NB_Global options:northd_probe_interval`, for
/// `Session::set_probe_interval`: `None` when unset or not a number of
/// milliseconds (the default), zero to turn probes off, otherwise at least
/// one second, as `ovn-nb(5)` says.
pub fn probe_interval(nb: &Replica) -> Option<Duration> {
    let options = nb_global(nb)?.get("options");
    let ms: i64 = options.get(&Atom::string("northd_probe_interval"))?.as_str()?.trim().parse().ok()?;
    match ms {
        0 => Some(Duration::ZERO),
        ms if ms > 0 => Some(Duration::from_millis(ms.max(1000) as u64)),
        _ => None,
    }
}

/// The insert of an empty `NB_Global` when the NB has none (the table
/// holds at most one row, so a concurrent `ovn-nbctl init` makes one of the
/// two inserts fail, and the next cycle sees the other's row).
pub fn nb_global_insert(nb: &Replica) -> Option<Operation> {
    nb_global(nb).is_none().then(|| Operation::Insert {
        table: "NB_Global".into(),
        row: OpRow::new(),
        uuid_name: None,
        uuid: None,
    })
}

/// Where a plan's write to `SB_Global` goes.
enum GlobalRow<'o, 'r> {
    /// Into the plan's insert of it.
    Inserted(&'o mut OpRow),
    /// To the row the SB has.
    Existing(&'r Row),
    /// Nowhere: the SB has none, or the plan deletes it.
    None,
}

fn global_row<'o, 'r>(ops: &'o mut [Operation], sb: &'r Replica) -> GlobalRow<'o, 'r> {
    let existing = sb_global(sb).filter(|row| {
        !ops.iter().any(|op| {
            matches!(op, Operation::Delete { table, where_ } if table == "SB_Global" && *where_ == vec![Condition::row(row.uuid())])
        })
    });
    let insert = ops.iter_mut().find_map(|op| match op {
        Operation::Insert { table, row, .. } if table == "SB_Global" => Some(row),
        _ => None,
    });
    match (insert, existing) {
        (Some(row), _) => GlobalRow::Inserted(row),
        (None, Some(row)) => GlobalRow::Existing(row),
        (None, None) => GlobalRow::None,
    }
}

/// Makes `ops` (the SB plan) set `SB_Global.nb_cfg` to `nb_cfg`: in the
/// plan's insert of `SB_Global` if it makes one, else by an update of the
/// existing row when it differs. Nothing without an `SB_Global` either way.
pub fn sb_nb_cfg_op(ops: &mut Vec<Operation>, sb: &Replica, nb_cfg: i64) {
    let value = Datum::from(Atom::Integer(nb_cfg));
    let row = match global_row(ops, sb) {
        GlobalRow::Inserted(row) => {
            row.insert("nb_cfg".into(), value);
            return;
        }
        GlobalRow::Existing(row) if int(row, "nb_cfg") != nb_cfg => row,
        _ => return,
    };
    let mut update = OpRow::new();
    update.insert("nb_cfg".into(), value);
    ops.push(Operation::Update { table: "SB_Global".into(), where_: vec![Condition::row(row.uuid())], row: update });
}

/// The `nb_cfg` that the holder of shard `i` of `k` recorded, from
/// `SB_Global external_ids` (the key is the shard's lock name).
fn shard_record(global: &Row, i: u32, k: u32) -> Option<i64> {
    global.get("external_ids").get(&Atom::string(shard_lock(i, k)))?.as_str()?.parse().ok()
}

/// Makes `ops` (the SB plan of the holder of the shards `written`, of
/// `k`, each of which it writes whole) record that their rows translate
/// the NB whose `nb_cfg` is `nb_cfg`: each record that says otherwise is
/// set, by a mutation, which leaves the other shards' records to their
/// holders' transactions. Nothing once `SB_Global.nb_cfg` is `nb_cfg`
/// (copied already: an instance taking over from another writes
/// nothing), nor without an `SB_Global` or where the plan deletes it;
/// in the plan's insert of `SB_Global` if it makes one.
pub fn shard_progress(ops: &mut Vec<Operation>, sb: &Replica, written: &BTreeSet<u32>, k: u32, nb_cfg: i64) {
    let value = Atom::string(nb_cfg.to_string());
    let records = |shards: &mut dyn Iterator<Item = u32>| {
        Datum::map(shards.map(|i| (Atom::string(shard_lock(i, k)), value.clone())))
    };
    let row = match global_row(ops, sb) {
        GlobalRow::Inserted(row) => {
            row.insert("external_ids".into(), records(&mut written.iter().copied()));
            return;
        }
        GlobalRow::Existing(row) if int(row, "nb_cfg") != nb_cfg => row,
        _ => return,
    };
    let stale: Vec<u32> = written.iter().copied().filter(|&i| shard_record(row, i, k) != Some(nb_cfg)).collect();
    if stale.is_empty() {
        return;
    }
    let keys = Datum::set(stale.iter().map(|&i| Atom::string(shard_lock(i, k))));
    ops.push(Operation::Mutate {
        table: "SB_Global".into(),
        where_: vec![Condition::row(row.uuid())],
        mutations: vec![
            Mutation::new("external_ids", Mutator::Delete, keys),
            Mutation::new("external_ids", Mutator::Insert, records(&mut stale.into_iter())),
        ],
    });
}

/// Whether the rows of every shard of `k` translate an NB at `nb_cfg` or
/// later: recorded so in the SB, or `written` whole by this plan.
pub fn shards_reached(sb: &Replica, k: u32, nb_cfg: i64, written: &BTreeSet<u32>) -> bool {
    let global = sb_global(sb);
    (0..k).all(|i| written.contains(&i) || global.and_then(|g| shard_record(g, i, k)).is_some_and(|cfg| cfg >= nb_cfg))
}

/// What the status columns need to remember between cycles.
#[derive(Debug, Default)]
pub struct CfgTracker {
    /// The `nb_cfg` whose `nb_cfg_timestamp` we already wrote.
    stamped: Option<i64>,
}

impl CfgTracker {
    /// The `NB_Global` status writes of this cycle (only values that
    /// differ are sent: `plan_nb` drops the rest).
    pub fn nb_writes(&mut self, nb: &Replica, sb: &Replica, now_ms: i64) -> Vec<NbWrite> {
        let Some(g) = nb_global(nb) else { return Vec::new() };
        let uuid = g.uuid();
        let mut writes = Vec::new();
        let mut set = |column: &'static str, value: i64| {
            writes.push(NbWrite { table: "NB_Global", row: uuid, column, value: Datum::from(Atom::Integer(value)) })
        };
        let nb_cfg = int(g, "nb_cfg");
        if nb_cfg != int(g, "sb_cfg") && self.stamped != Some(nb_cfg) {
            self.stamped = Some(nb_cfg);
            set("nb_cfg_timestamp", now_ms);
        }
        if let Some(sb_nb_cfg) = sb_global(sb).map(|r| int(r, "nb_cfg")) {
            if sb_nb_cfg != int(g, "sb_cfg") {
                set("sb_cfg", sb_nb_cfg);
                set("sb_cfg_timestamp", now_ms);
            }
        }
        let (hv_cfg, hv_ts) = hv_cfg(sb, nb_cfg);
        if hv_cfg != int(g, "hv_cfg") {
            set("hv_cfg", hv_cfg);
            set("hv_cfg_timestamp", hv_ts);
        }
        writes
    }
}

/// The smallest `nb_cfg` of the local chassis (capped at `nb_cfg`) and the
/// largest timestamp at that value.
fn hv_cfg(sb: &Replica, nb_cfg: i64) -> (i64, i64) {
    let remote = |r: &Row| -> bool {
        let Some(chassis) = r.get("chassis").as_atom().and_then(Atom::as_uuid) else { return false };
        sb.get("Chassis", &chassis).is_some_and(|c| {
            c.get("other_config").get(&Atom::string("is-remote")).and_then(Atom::as_str) == Some("true")
        })
    };
    let mut hv = (nb_cfg, 0);
    for r in sb.table("Chassis_Private").into_iter().flat_map(|t| t.rows()).filter(|r| !remote(r)) {
        let (cfg, ts) = (int(r, "nb_cfg"), int(r, "nb_cfg_timestamp"));
        if cfg < hv.0 {
            hv = (cfg, ts);
        } else if cfg == hv.0 {
            hv.1 = hv.1.max(ts);
        }
    }
    hv
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use ovsdb::proto::update::{decode_table_updates, UpdateFormat};
    use ovsdb::DatabaseSchema;
    use serde_json::json;

    use super::*;

    fn replica(schema: &str, rows: serde_json::Value) -> Replica {
        let path = format!("{}/../../schemas/{schema}", env!("CARGO_MANIFEST_DIR"));
        let schema = Arc::new(DatabaseSchema::from_json_str(&std::fs::read_to_string(path).unwrap()).unwrap());
        let mut r = Replica::new(schema.clone());
        let updates = decode_table_updates(&rows.to_string(), UpdateFormat::Update2, &schema).unwrap();
        r.replace(updates).unwrap();
        r
    }

    const G: &str = "00000000-0000-0000-0000-00000000000a";

    fn nb(nb_cfg: i64, sb_cfg: i64, hv_cfg: i64) -> Replica {
        replica(
            "ovn-nb.ovsschema",
            json!({"NB_Global": {G: {"initial": {"nb_cfg": nb_cfg, "sb_cfg": sb_cfg, "hv_cfg": hv_cfg}}}}),
        )
    }

    /// `northd_probe_interval` as ovn-nb(5) says: zero disables, a
    /// positive value is at least 1,000 ms, anything else is the default.
    #[test]
    fn probe_interval_follows_the_nb_option() {
        let with = |v: &str| {
            let options = json!(["map", [["northd_probe_interval", v]]]);
            probe_interval(&replica("ovn-nb.ovsschema", json!({"NB_Global": {G: {"initial": {"options": options}}}})))
        };
        assert_eq!(probe_interval(&nb(0, 0, 0)), None);
        assert_eq!(with("0"), Some(Duration::ZERO));
        assert_eq!(with("250"), Some(Duration::from_millis(1000)));
        assert_eq!(with(" 16000 "), Some(Duration::from_millis(16000)));
        assert_eq!(with("-5"), None);
        assert_eq!(with("soon"), None);
    }

    fn sb(sb_nb_cfg: i64, chassis: &[(i64, i64, bool)]) -> Replica {
        let mut rows =
            json!({"SB_Global": {"00000000-0000-0000-0000-00000000000b": {"initial": {"nb_cfg": sb_nb_cfg}}}});
        for (i, (cfg, ts, is_remote)) in chassis.iter().enumerate() {
            let c = format!("00000000-0000-0000-0001-{i:012}");
            let p = format!("00000000-0000-0000-0002-{i:012}");
            let other = if *is_remote { json!(["map", [["is-remote", "true"]]]) } else { json!(["map", []]) };
            rows.as_object_mut().unwrap().entry("Chassis").or_insert(json!({})).as_object_mut().unwrap().insert(
                c.clone(),
                json!({"initial": {"name": format!("ch{i}"), "hostname": "h", "other_config": other}}),
            );
            rows.as_object_mut().unwrap().entry("Chassis_Private").or_insert(json!({})).as_object_mut().unwrap().insert(
                p,
                json!({"initial": {"name": format!("ch{i}"), "chassis": ["uuid", c], "nb_cfg": cfg, "nb_cfg_timestamp": ts}}),
            );
        }
        replica("ovn-sb.ovsschema", rows)
    }

    /// An SB at `sb_nb_cfg` whose shards of 3 recorded `records`.
    fn sharded(sb_nb_cfg: i64, records: &[(u32, &str)]) -> Replica {
        let ids: Vec<serde_json::Value> = records.iter().map(|(i, v)| json!([shard_lock(*i, 3), v])).collect();
        replica(
            "ovn-sb.ovsschema",
            json!({"SB_Global": {"00000000-0000-0000-0000-00000000000b": {"initial":
                {"nb_cfg": sb_nb_cfg, "external_ids": ["map", ids]}}}}),
        )
    }

    /// The holder of shards 0 and 2 at nb_cfg 7: each record that says
    /// otherwise is set by one mutation (not the column: other holders
    /// set theirs at the same time), none once the SB is at 7.
    #[test]
    fn a_holder_records_its_shards_and_the_global_role_waits_for_every_record() {
        let mine = BTreeSet::from([0, 2]);
        let mut ops = Vec::new();
        shard_progress(&mut ops, &sharded(6, &[(0, "7"), (1, "6"), (2, "6")]), &mine, 3, 7);
        let [Operation::Mutate { table, mutations, .. }] = ops.as_slice() else { panic!("{ops:?}") };
        assert_eq!(table, "SB_Global");
        let keys = Datum::set([Atom::string(shard_lock(2, 3))]);
        assert_eq!(mutations[0], Mutation::new("external_ids", Mutator::Delete, keys));
        let map = Datum::map([(Atom::string(shard_lock(2, 3)), Atom::string("7"))]);
        assert_eq!(mutations[1], Mutation::new("external_ids", Mutator::Insert, map));
        let mut ops = Vec::new();
        shard_progress(&mut ops, &sharded(6, &[(0, "7"), (2, "7")]), &mine, 3, 7);
        assert!(ops.is_empty(), "recorded already");
        shard_progress(&mut ops, &sharded(7, &[]), &mine, 3, 7);
        assert!(ops.is_empty(), "copied already (a takeover): nothing to write");
        // A holder behind records where it is, lower than its predecessor.
        shard_progress(&mut ops, &sharded(6, &[(0, "8"), (2, "8")]), &mine, 3, 7);
        assert_eq!(ops.len(), 1);
        // The global role copies 7 once every shard is at 7 or later,
        // counting those its own transaction records.
        assert!(!shards_reached(&sharded(6, &[(0, "7"), (1, "6"), (2, "7")]), 3, 7, &BTreeSet::new()));
        assert!(shards_reached(&sharded(6, &[(0, "7"), (1, "6"), (2, "8")]), 3, 7, &BTreeSet::from([1])));
        assert!(!shards_reached(&sharded(6, &[(0, "7"), (1, "x"), (2, "7")]), 3, 7, &BTreeSet::new()));
        assert!(!shards_reached(&sb(6, &[]), 3, 7, &BTreeSet::from([0, 1])));
    }

    fn writes(t: &mut CfgTracker, nb: &Replica, sb: &Replica) -> Vec<(&'static str, i64)> {
        t.nb_writes(nb, sb, 5000)
            .into_iter()
            .map(|w| (w.column, w.value.as_atom().unwrap().as_integer().unwrap()))
            .collect()
    }

    #[test]
    fn a_new_nb_cfg_is_stamped_once_then_sb_cfg_follows_the_sb() {
        let mut t = CfgTracker::default();
        // nbctl bumped nb_cfg to 3; the SB still says 2.
        assert_eq!(writes(&mut t, &nb(3, 2, 3), &sb(2, &[])), [("nb_cfg_timestamp", 5000)]);
        assert_eq!(writes(&mut t, &nb(3, 2, 3), &sb(2, &[])), [], "stamped once");
        // The SB transaction with nb_cfg 3 committed.
        assert_eq!(writes(&mut t, &nb(3, 2, 3), &sb(3, &[])), [("sb_cfg", 3), ("sb_cfg_timestamp", 5000)]);
        // A restart on caught-up databases writes nothing.
        assert_eq!(writes(&mut CfgTracker::default(), &nb(3, 3, 3), &sb(3, &[])), []);
        // A restart behind the NB stamps the timestamp again.
        assert_eq!(writes(&mut CfgTracker::default(), &nb(4, 3, 4), &sb(3, &[])), [("nb_cfg_timestamp", 5000)]);
    }

    #[test]
    fn hv_cfg_is_the_slowest_local_chassis_capped_at_nb_cfg() {
        let mut t = CfgTracker::default();
        // No chassis: hv_cfg follows nb_cfg, timestamp 0.
        assert_eq!(writes(&mut t, &nb(5, 5, 4), &sb(5, &[])), [("hv_cfg", 5), ("hv_cfg_timestamp", 0)]);
        // Slowest chassis at 2; the largest timestamp at that value.
        let chassis = [(2, 100, false), (2, 300, false), (5, 900, false), (0, 7, true)];
        assert_eq!(writes(&mut t, &nb(5, 5, 5), &sb(5, &chassis)), [("hv_cfg", 2), ("hv_cfg_timestamp", 300)]);
        // Unchanged hv_cfg: no write, even if a timestamp moved.
        assert_eq!(writes(&mut t, &nb(5, 5, 2), &sb(5, &[(2, 999, false)])), []);
        // Chassis ahead of NB: capped, no chassis at that value, timestamp 0.
        assert_eq!(writes(&mut t, &nb(4, 4, 2), &sb(4, &[(5, 9, false)])), [("hv_cfg", 4), ("hv_cfg_timestamp", 0)]);
    }

    #[test]
    fn a_missing_nb_global_is_inserted() {
        let empty_nb = replica("ovn-nb.ovsschema", json!({}));
        assert!(
            matches!(nb_global_insert(&empty_nb), Some(Operation::Insert { table, row, .. }) if table == "NB_Global" && row.is_empty())
        );
        assert!(nb_global_insert(&nb(1, 1, 1)).is_none());
    }

    #[test]
    fn sb_global_nb_cfg_goes_into_the_insert_or_an_update() {
        let empty_sb = replica("ovn-sb.ovsschema", json!({}));
        let mut ops =
            vec![Operation::Insert { table: "SB_Global".into(), row: OpRow::new(), uuid_name: None, uuid: None }];
        sb_nb_cfg_op(&mut ops, &empty_sb, 7);
        let Operation::Insert { row, .. } = &ops[0] else { panic!() };
        assert_eq!(row.get("nb_cfg"), Some(&Datum::from(Atom::Integer(7))));
        assert_eq!(ops.len(), 1);

        let mut ops = Vec::new();
        sb_nb_cfg_op(&mut ops, &sb(6, &[]), 7);
        assert!(matches!(&ops[..], [Operation::Update { table, row, .. }] if table == "SB_Global" && row.len() == 1));
        let mut ops = Vec::new();
        sb_nb_cfg_op(&mut ops, &sb(7, &[]), 7);
        assert!(ops.is_empty(), "already right");
        sb_nb_cfg_op(&mut ops, &empty_sb, 7);
        assert!(ops.is_empty(), "no SB_Global at all");
    }
}
