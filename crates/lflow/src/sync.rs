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
//!   deleted (stale rows, duplicates).
//! - References between desired rows (`Atom::NamedUuid`) resolve to the
//!   matched row's UUID, or to the `uuid-name` of the row inserted in the
//!   same transaction.
//!
//! Pure: reads replicas, returns operations.

use std::collections::{BTreeMap, HashMap};

use ovsdb::replica::Row;
use ovsdb::{Atom, Condition, Datum, Operation, OpRow, Replica, Uuid};

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

/// The SB tables northd writes, in an order where every table comes after
/// the tables its rows refer to.
const OWNED_TABLES: &[TableSpec] = &[
    TableSpec { name: "SB_Global", key: &[], foreign: &["nb_cfg", "connections", "ssl", "external_ids"], ignored_keys: &[] },
    TableSpec {
        name: "Datapath_Binding",
        key: &["external_ids:logical-switch", "external_ids:logical-router"], foreign: &["load_balancers"], ignored_keys: &[] },
    TableSpec {
        name: "Port_Binding",
        key: &["logical_port"],
        foreign: &["chassis", "encap", "up", "virtual_parent", "additional_chassis", "additional_encap"],
        ignored_keys: &[],
    },
    TableSpec { name: "Multicast_Group", key: &["datapath", "name"], foreign: &[], ignored_keys: &[] },
    TableSpec { name: "Logical_DP_Group", key: &["datapaths"], foreign: &[], ignored_keys: &[] },
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
        ignored_keys: &[("external_ids", "source")],
    },
    TableSpec { name: "Address_Set", key: &["name"], foreign: &[], ignored_keys: &[] },
    TableSpec { name: "Port_Group", key: &["name"], foreign: &[], ignored_keys: &[] },
    TableSpec { name: "DHCP_Options", key: &["name"], foreign: &[], ignored_keys: &[] },
    TableSpec { name: "DHCPv6_Options", key: &["name"], foreign: &[], ignored_keys: &[] },
    TableSpec { name: "RBAC_Permission", key: &["table"], foreign: &[], ignored_keys: &[] },
    TableSpec { name: "RBAC_Role", key: &["name"], foreign: &[], ignored_keys: &[] },
    TableSpec { name: "IP_Multicast", key: &["datapath"], foreign: &["seq_no"], ignored_keys: &[] },
];

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
    pub ops: Vec<Operation>,
    pub stats: PlanStats,
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

/// Named references resolved so far: desired row id -> existing UUID.
#[derive(Default)]
struct Resolver {
    ids: HashMap<String, Uuid>,
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

    fn datum(&self, d: &Datum) -> Datum {
        let has_named = d.keys().any(|a| matches!(a, Atom::NamedUuid(_)))
            || d.pairs().iter().any(|(_, v)| matches!(v, Atom::NamedUuid(_)));
        if !has_named {
            return d.clone();
        }
        if d.is_map() {
            Datum::map(d.pairs().iter().map(|(k, v)| (self.atom(k), self.atom(v))))
        } else {
            Datum::set(d.keys().map(|a| self.atom(a)))
        }
    }
}

/// A datum with the ignored map keys of `column` removed.
fn without_ignored(spec: &TableSpec, column: &str, d: &Datum) -> Datum {
    if !spec.ignored_keys.iter().any(|(c, _)| *c == column) || !d.is_map() {
        return d.clone();
    }
    Datum::map(
        d.pairs()
            .iter()
            .filter(|(k, _)| !spec.ignored_keys.iter().any(|(c, key)| *c == column && k.as_str() == Some(*key)))
            .cloned(),
    )
}

fn same(a: &Datum, b: &Datum) -> bool {
    (a.is_empty() && b.is_empty()) || a == b
}

/// The natural key of a row, as text (references resolved first).
fn key_of(spec: &TableSpec, row: &dyn Cells, resolver: &Resolver) -> String {
    let mut key = String::new();
    let empty = Datum::empty_set();
    for col in spec.key {
        if let Some((col, map_key)) = col.split_once(':') {
            let d = row.cell(col).unwrap_or(&empty);
            key.push_str(d.get(&Atom::string(map_key)).and_then(Atom::as_str).unwrap_or_default());
        } else {
            let d = row.cell(col).unwrap_or(&empty);
            let d = without_ignored(spec, col, &resolver.datum(d));
            // An absent desired column (an empty set) equals an existing
            // empty cell whatever its shape (an empty map for `tags`).
            if !d.is_empty() {
                key.push_str(&format!("{d:?}"));
            }
        }
        key.push('|');
    }
    key
}

/// Compares `output` with the SB replica and returns the operations that
/// bring the SB to it. Tables northd owns that `sb` does not hold (not
/// monitored) are skipped.
pub fn plan_sb(output: &Output, sb: &Replica) -> Plan {
    let mut plan = Plan::default();
    let mut resolver = Resolver::default();
    let empty: Vec<DesiredRow> = Vec::new();
    for spec in OWNED_TABLES {
        let Some(table) = sb.table(spec.name) else { continue };
        let schema = table.schema().clone();
        let desired = output.sb.get(spec.name).unwrap_or(&empty);
        // Existing rows by key; sorted by UUID so that which duplicate is
        // kept does not depend on hash order.
        let mut existing: HashMap<String, Vec<&Row>> = HashMap::new();
        let mut rows: Vec<&Row> = table.rows().collect();
        rows.sort_by_key(|r| r.uuid());
        for r in rows {
            existing.entry(key_of(spec, r, &resolver)).or_default().push(r);
        }
        for list in existing.values_mut() {
            list.reverse(); // pop() takes the lowest UUID first
        }
        let mut stats = (0, 0, 0);
        let mut matched: Vec<(&DesiredRow, Option<&Row>)> = Vec::with_capacity(desired.len());
        for d in desired {
            let row = existing.get_mut(&key_of(spec, d, &resolver)).and_then(Vec::pop);
            if let (Some(id), Some(row)) = (&d.id, row) {
                resolver.ids.insert(id.clone(), row.uuid());
            }
            matched.push((d, row));
        }
        // Second pass, now that every id of this table is known.
        for (d, row) in matched {
            let mut changed = OpRow::new();
            if let Some(row) = row {
                let uuid = row.uuid();
                for (col, _) in schema.columns.iter() {
                    if spec.foreign.contains(&col.as_str()) || col.starts_with('_') {
                        continue;
                    }
                    let want = d.get(col).map(|v| resolver.datum(v)).unwrap_or_else(Datum::empty_set);
                    let want = if spec.ignored_keys.iter().any(|(c, _)| c == col) {
                        // Keep the existing values of ignored keys.
                        let kept = row.get(col).pairs().iter().filter(|(k, _)| {
                            spec.ignored_keys.iter().any(|(c, key)| c == col && k.as_str() == Some(*key))
                        });
                        Datum::map(want.pairs().iter().cloned().chain(kept.cloned()))
                    } else {
                        want
                    };
                    if !same(&want, row.get(col)) {
                        changed.insert(col.clone(), empty_as_typed(want, row.get(col)));
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
            } else {
                for (col, v) in &d.cells {
                    if !v.is_empty() {
                        changed.insert(col.to_string(), resolver.datum(v));
                    }
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
        let mut stale: Vec<Uuid> = existing.values().flatten().map(|r| r.uuid()).collect();
        stale.sort();
        for uuid in stale {
            stats.2 += 1;
            plan.ops.push(Operation::Delete { table: spec.name.to_string(), where_: vec![Condition::row(uuid)] });
        }
        plan.stats.tables.insert(spec.name, stats);
    }
    plan
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
/// desired values: one update per row, only where a value differs.
pub fn plan_nb(output: &Output, nb: &Replica) -> Vec<Operation> {
    let mut per_row: BTreeMap<(&'static str, Uuid), OpRow> = BTreeMap::new();
    for w in &output.nb {
        let Some(row) = nb.get(w.table, &w.row) else { continue };
        if !same(&w.value, row.get(w.column)) {
            per_row.entry((w.table, w.row)).or_default().insert(w.column.to_string(), w.value.clone());
        }
    }
    per_row
        .into_iter()
        .map(|((table, uuid), row)| Operation::Update { table: table.to_string(), where_: vec![Condition::row(uuid)], row })
        .collect()
}
