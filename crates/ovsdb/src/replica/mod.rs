//! An in-memory copy of monitored tables: it applies decoded monitor updates
//! (update, update2, update3) and full snapshots, reports what changed since
//! it was last asked, and serves optional column indexes.
//!
//! Sans-IO: it never does I/O or reads a clock, never panics on an update,
//! and never applies an update halfway: an update is validated whole before
//! any row changes, and a bad one is refused with the row named.
//!
//! Memory: a row stores only its non-default values ([`Cells`]); the
//! defaults live once per table.

mod changes;
mod index;
mod table;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use thiserror::Error;
use uuid::Uuid;

use crate::proto::atom::Atom;
use crate::proto::schema::DatabaseSchema;
use crate::proto::update::{Cells, RowUpdate, TableUpdate, TableUpdates};

pub use changes::{Change, Changes, TableChanges};
pub use table::{Column, Row, Table};

/// Why an update or a query was refused. An update refused leaves the
/// replica as it was.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReplicaError {
    /// A table the replica's schema does not have.
    #[error("unknown table \"{0}\"")]
    UnknownTable(String),
    /// An update decoded against a schema whose table differs from the
    /// replica's.
    #[error("table {0} was decoded with another schema than the replica's")]
    SchemaMismatch(String),
    /// One update holding the same table twice.
    #[error("table {0} appears twice in one update")]
    DuplicateTable(String),
    /// A column the table does not have.
    #[error("table {table} has no column \"{column}\"")]
    UnknownColumn { table: String, column: String },
    /// An insert of a row that exists.
    #[error("table {table}: insert of row {row}, which exists")]
    RowExists { table: String, row: Uuid },
    /// A modify or delete of a row that does not exist.
    #[error("table {table}: {op} of row {row}, which does not exist")]
    NoSuchRow { table: String, row: Uuid, op: &'static str },
    /// A row twice in one snapshot.
    #[error("table {table}: row {row} appears twice in a snapshot")]
    DuplicateRow { table: String, row: Uuid },
    /// A snapshot holding something other than whole rows.
    #[error("table {table}: row {row} is a {op} in a snapshot, which holds whole rows only")]
    NotASnapshot { table: String, row: Uuid, op: &'static str },
    /// A lookup on a column without an index.
    #[error("table {table} has no index on column \"{column}\"")]
    NoIndex { table: String, column: String },
    /// A deref of a column that holds no references.
    #[error("column {table}.{column} does not refer to a table")]
    NotAReference { table: String, column: String },
}

/// What an update does to a row, as far as validation cares.
#[derive(Clone, Copy)]
enum Op {
    Insert,
    Modify,
    Delete,
    Nothing,
}

impl Op {
    fn of(update: &RowUpdate) -> Op {
        match update {
            RowUpdate::Initial(_) | RowUpdate::Insert(_) | RowUpdate::Update1 { old: None, new: Some(_) } => Op::Insert,
            RowUpdate::Modify(_) | RowUpdate::Update1 { old: Some(_), new: Some(_) } => Op::Modify,
            RowUpdate::Delete | RowUpdate::Update1 { old: Some(_), new: None } => Op::Delete,
            RowUpdate::Update1 { old: None, new: None } => Op::Nothing,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Op::Insert => "insert",
            Op::Modify => "modify",
            Op::Delete => "delete",
            Op::Nothing => "empty update",
        }
    }
}

/// The replica: one [`Table`] per table of the schema, in schema order.
pub struct Replica {
    schema: Arc<DatabaseSchema>,
    tables: Vec<Table>,
}

impl Replica {
    /// An empty replica of every table of `schema`.
    pub fn new(schema: Arc<DatabaseSchema>) -> Replica {
        let tables = schema.tables.values().map(|t| Table::new(Arc::clone(t))).collect();
        Replica { schema, tables }
    }

    pub fn schema(&self) -> &Arc<DatabaseSchema> {
        &self.schema
    }

    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.get(self.schema.tables.get_index_of(name)?)
    }

    pub fn get(&self, table: &str, uuid: &Uuid) -> Option<&Row> {
        self.table(table)?.get(uuid)
    }

    /// Applies an incremental update: an update, update2 or update3
    /// notification, or a monitor_cond_since reply with `found` true.
    pub fn apply(&mut self, updates: TableUpdates) -> Result<(), ReplicaError> {
        let slots = self.check_tables(&updates)?;
        for (tu, &slot) in updates.tables.iter().zip(&slots) {
            check_incremental(tu, &self.tables[slot])?;
        }
        for (tu, slot) in updates.tables.into_iter().zip(slots) {
            let table = &mut self.tables[slot];
            for (uuid, update) in tu.rows {
                match update {
                    RowUpdate::Initial(c) | RowUpdate::Insert(c) | RowUpdate::Update1 { old: None, new: Some(c) } => {
                        table.insert(uuid, c)
                    }
                    RowUpdate::Modify(diffs) => table.modify(uuid, diffs),
                    RowUpdate::Update1 { old: Some(_), new: Some(c) } => table.update(uuid, c),
                    RowUpdate::Delete | RowUpdate::Update1 { old: Some(_), new: None } => table.remove(uuid),
                    RowUpdate::Update1 { old: None, new: None } => {}
                }
            }
        }
        Ok(())
    }

    /// Replaces the whole contents with a snapshot (an initial monitor
    /// reply, or a monitor_cond_since reply with `found` false): rows that
    /// did not change report no change, rows missing from the snapshot
    /// (tables missing from it too) are deleted, changed rows modified.
    pub fn replace(&mut self, updates: TableUpdates) -> Result<(), ReplicaError> {
        let slots = self.check_tables(&updates)?;
        for tu in &updates.tables {
            check_snapshot(tu)?;
        }
        let mut given = vec![false; self.tables.len()];
        for (tu, slot) in updates.tables.into_iter().zip(slots) {
            given[slot] = true;
            let rows = tu.rows.into_iter().map(|(uuid, update)| (uuid, snapshot_cells(update)));
            self.tables[slot].replace(rows);
        }
        for (table, given) in self.tables.iter_mut().zip(given) {
            if !given {
                table.replace(std::iter::empty());
            }
        }
        Ok(())
    }

    /// Forgets every row, reporting each as deleted.
    pub fn clear(&mut self) {
        self.tables.iter_mut().for_each(Table::clear);
    }

    /// What changed since the last call, coalesced per row (see
    /// [`TableChanges`]).
    pub fn take_changes(&mut self) -> Changes {
        let tables = self.tables.iter_mut().filter(|t| t.has_changes()).map(Table::take_changes).collect();
        Changes { tables }
    }

    pub fn has_changes(&self) -> bool {
        self.tables.iter().any(Table::has_changes)
    }

    /// Indexes a column: every atom of its value (keys, for a map) to the
    /// rows holding it, defaults included. Kept up to date from then on.
    pub fn create_index(&mut self, table: &str, column: &str) -> Result<(), ReplicaError> {
        let (slot, col) = self.column(table, column)?;
        self.tables[slot].create_index(col);
        Ok(())
    }

    /// The rows of `table` whose `column` holds `atom` (as a key, for a map),
    /// through the index [`Replica::create_index`] made.
    pub fn lookup<'a>(
        &'a self,
        table: &str,
        column: &str,
        atom: &Atom,
    ) -> Result<impl Iterator<Item = &'a Row> + 'a, ReplicaError> {
        let (slot, col) = self.column(table, column)?;
        let t = &self.tables[slot];
        let ix = t.index(col).ok_or_else(|| ReplicaError::NoIndex { table: table.into(), column: column.into() })?;
        Ok(ix.get(atom).filter_map(move |u| t.get(u)))
    }

    /// The rows that the reference column `column` of `row` points to and
    /// that exist (keys and values, for a map of references).
    pub fn deref<'a>(&'a self, row: &'a Row, column: &str) -> Result<impl Iterator<Item = &'a Row> + 'a, ReplicaError> {
        let schema = row.table_schema();
        let unknown = || ReplicaError::UnknownColumn { table: schema.name.clone(), column: column.into() };
        let ty = &schema.column(column).ok_or_else(unknown)?.ty;
        let key_table = ty.key.ref_table.as_deref().and_then(|t| self.table(t));
        let value_table = ty.value.as_ref().and_then(|v| v.ref_table.as_deref()).and_then(|t| self.table(t));
        if key_table.is_none() && value_table.is_none() {
            return Err(ReplicaError::NotAReference { table: schema.name.clone(), column: column.into() });
        }
        let datum = row.get(column);
        let target = |t: &'a Table, a: &Atom| a.as_uuid().and_then(|u| t.get(&u));
        let keys = key_table.into_iter().flat_map(move |t| datum.keys().filter_map(move |a| target(t, a)));
        let values =
            value_table.into_iter().flat_map(move |t| datum.pairs().iter().filter_map(move |(_, v)| target(t, v)));
        Ok(keys.chain(values))
    }

    /// The slot and column index of `table.column`.
    fn column(&self, table: &str, column: &str) -> Result<(usize, usize), ReplicaError> {
        let slot = self.schema.tables.get_index_of(table).ok_or_else(|| ReplicaError::UnknownTable(table.into()))?;
        let col = self.schema.tables[slot]
            .columns
            .get_index_of(column)
            .ok_or_else(|| ReplicaError::UnknownColumn { table: table.into(), column: column.into() })?;
        Ok((slot, col))
    }

    /// The slot of each updated table, checking that the update was decoded
    /// with this schema and names each table once.
    fn check_tables(&self, updates: &TableUpdates) -> Result<Vec<usize>, ReplicaError> {
        let mut slots = Vec::with_capacity(updates.tables.len());
        for tu in &updates.tables {
            let name = &tu.table.name;
            let slot = self.schema.tables.get_index_of(name).ok_or_else(|| ReplicaError::UnknownTable(name.clone()))?;
            let mine = &self.schema.tables[slot];
            if !Arc::ptr_eq(mine, &tu.table) && **mine != *tu.table {
                return Err(ReplicaError::SchemaMismatch(name.clone()));
            }
            if slots.contains(&slot) {
                return Err(ReplicaError::DuplicateTable(name.clone()));
            }
            slots.push(slot);
        }
        Ok(slots)
    }
}

/// Checks that every row an update inserts is absent and every row it
/// modifies or deletes is present, following the update's own earlier
/// rows.
fn check_incremental(tu: &TableUpdate, table: &Table) -> Result<(), ReplicaError> {
    let mut exists: HashMap<Uuid, bool> = HashMap::new();
    for (uuid, update) in &tu.rows {
        let was = exists.get(uuid).copied().unwrap_or_else(|| table.contains(uuid));
        let op = Op::of(update);
        let now = match (op, was) {
            (Op::Insert, true) => return Err(ReplicaError::RowExists { table: tu.table.name.clone(), row: *uuid }),
            (Op::Modify | Op::Delete, false) => {
                return Err(ReplicaError::NoSuchRow { table: tu.table.name.clone(), row: *uuid, op: op.name() })
            }
            (Op::Insert | Op::Modify, _) => true,
            (Op::Delete, _) => false,
            (Op::Nothing, was) => was,
        };
        exists.insert(*uuid, now);
    }
    Ok(())
}

/// Checks that a snapshot table holds whole rows, each once.
fn check_snapshot(tu: &TableUpdate) -> Result<(), ReplicaError> {
    let mut seen = HashSet::with_capacity(tu.rows.len());
    for (uuid, update) in &tu.rows {
        let op = Op::of(update);
        if !matches!(op, Op::Insert) {
            return Err(ReplicaError::NotASnapshot { table: tu.table.name.clone(), row: *uuid, op: op.name() });
        }
        if !seen.insert(*uuid) {
            return Err(ReplicaError::DuplicateRow { table: tu.table.name.clone(), row: *uuid });
        }
    }
    Ok(())
}

/// The whole row of a snapshot row update (checked by `check_snapshot`).
fn snapshot_cells(update: RowUpdate) -> Cells {
    match update {
        RowUpdate::Initial(c) | RowUpdate::Insert(c) | RowUpdate::Update1 { new: Some(c), .. } => c,
        RowUpdate::Modify(_) | RowUpdate::Delete | RowUpdate::Update1 { new: None, .. } => Cells::default(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::proto::datum::Datum;
    use crate::proto::update::tests::{nb_schema, U1, U2};
    use crate::proto::update::{decode_table_updates, UpdateFormat};

    const U3: &str = "00000000-0000-0000-0000-000000000003";
    const LSP: &str = "Logical_Switch_Port";

    fn uuid(s: &str) -> Uuid {
        Uuid::parse_str(s).unwrap()
    }

    fn s(x: &str) -> Atom {
        Atom::string(x)
    }

    /// `{table: {uuid: {op: row}}}` for each (table, uuid, op, row).
    fn updates(rows: &[(&str, &str, &str, Value)]) -> String {
        let mut top = json!({});
        for (table, uuid, op, row) in rows {
            top.as_object_mut().unwrap().entry(*table).or_insert(json!({}))[*uuid] = json!({ *op: row });
        }
        top.to_string()
    }

    fn decoded(r: &Replica, rows: &[(&str, &str, &str, Value)]) -> TableUpdates {
        decode_table_updates(&updates(rows), UpdateFormat::Update2, r.schema()).unwrap()
    }

    fn apply(r: &mut Replica, rows: &[(&str, &str, &str, Value)]) -> Result<(), ReplicaError> {
        let u = decoded(r, rows);
        r.apply(u)
    }

    fn replace(r: &mut Replica, rows: &[(&str, &str, &str, Value)]) -> Result<(), ReplicaError> {
        let u = decoded(r, rows);
        r.replace(u)
    }

    fn name(r: &Replica, table: &str, u: &str) -> String {
        r.get(table, &uuid(u)).unwrap().get("name").to_string()
    }

    /// (uuid, change kind, old row's name) of every change, sorted.
    fn summary(c: &Changes) -> Vec<(String, &'static str, String)> {
        let mut v: Vec<_> = c
            .iter()
            .map(|(_, u, ch)| match ch {
                Change::Inserted => (u.to_string(), "inserted", String::new()),
                Change::Modified { old } => (u.to_string(), "modified", old.get("name").to_string()),
                Change::Deleted { old } => (u.to_string(), "deleted", old.get("name").to_string()),
            })
            .collect();
        v.sort();
        v
    }

    #[test]
    fn rows_read_defaults_for_absent_columns() {
        let mut r = Replica::new(nb_schema());
        apply(&mut r, &[(LSP, U1, "insert", json!({"name": "p1", "addresses": ["set", ["a", "b"]], "tag": 5}))])
            .unwrap();
        let row = r.get(LSP, &uuid(U1)).unwrap();
        assert_eq!(row.uuid(), uuid(U1));
        assert_eq!(row.cells().len(), 3);
        assert_eq!(row.get("name"), &Datum::from(s("p1")));
        assert_eq!(row.get("type"), &Datum::from(s("")));
        assert_eq!(row.get("up"), &Datum::empty_set());
        assert_eq!(row.get("options"), &Datum::empty_map());
        assert_eq!(row.get("no_such_column"), &Datum::empty_set());
        let tag = r.schema().tables[LSP].columns.get_index_of("tag").unwrap();
        assert_eq!(row.get_idx(tag), &Datum::from(Atom::Integer(5)));
        let all: Vec<&str> = row.iter().map(|(n, _)| n).collect();
        assert_eq!(all.len(), 16);
        assert_eq!(all[0], "name");
        assert_eq!(r.table(LSP).unwrap().len(), 1);
        assert!(r.table("Nope").is_none());
    }

    #[test]
    fn a_column_named_in_code_reads_the_right_index_of_each_table() {
        static IDS: Column = Column::new("external_ids");
        static TAG: Column = Column::new("tag");
        static NONE: Column = Column::new("no_such_column");
        let mut lsp = Replica::new(nb_schema());
        apply(&mut lsp, &[(LSP, U1, "insert", json!({"external_ids": ["map", [["k", "p1"]]], "tag": 5}))]).unwrap();
        // Another table where "external_ids" sits at another index, and which lacks "tag".
        let mut ls = Replica::new(nb_schema());
        apply(&mut ls, &[("Logical_Switch", U2, "insert", json!({"external_ids": ["map", [["k", "sw"]]]}))]).unwrap();
        let schema = nb_schema();
        let idx = |t: &str| schema.tables[t].columns.get_index_of("external_ids");
        assert_ne!(idx(LSP), idx("Logical_Switch"));
        let (p, sw) = (lsp.get(LSP, &uuid(U1)).unwrap(), ls.get("Logical_Switch", &uuid(U2)).unwrap());
        // Alternate, so that each read finds the other table's index cached.
        for _ in 0..2 {
            assert_eq!(p.column(&IDS), &Datum::map([(s("k"), s("p1"))]));
            assert_eq!(sw.column(&IDS), &Datum::map([(s("k"), s("sw"))]));
            assert_eq!(p.column(&TAG), &Datum::from(Atom::Integer(5)));
            assert_eq!(sw.column(&TAG), &Datum::empty_set());
            assert_eq!(p.column(&NONE), &Datum::empty_set());
        }
    }

    #[test]
    fn applies_update2_modify_and_delete() {
        let mut r = Replica::new(nb_schema());
        let row = json!({"name": "p1", "addresses": "a", "external_ids": ["map", [["k", "1"], ["j", "2"]]], "tag": 5});
        apply(&mut r, &[(LSP, U1, "insert", row), (LSP, U2, "insert", json!({"name": "p2"}))]).unwrap();
        let diff = json!({"addresses": ["set", ["a", "b"]], "external_ids": ["map", [["k", "1"], ["j", "3"]]],
                          "tag": ["set", []], "up": true});
        apply(&mut r, &[(LSP, U1, "modify", diff), (LSP, U2, "delete", Value::Null)]).unwrap();
        let row = r.get(LSP, &uuid(U1)).unwrap();
        assert_eq!(row.get("addresses"), &Datum::from(s("b")));
        assert_eq!(row.get("external_ids"), &Datum::map([(s("j"), s("3"))]));
        assert_eq!(row.get("tag"), &Datum::empty_set());
        assert_eq!(row.get("up"), &Datum::from(Atom::Boolean(true)));
        assert!(r.get(LSP, &uuid(U2)).is_none());
    }

    #[test]
    fn applies_update1() {
        let mut r = Replica::new(nb_schema());
        let apply1 = |r: &mut Replica, json: Value| {
            let u = decode_table_updates(&json.to_string(), UpdateFormat::Update, r.schema()).unwrap();
            r.apply(u)
        };
        apply1(&mut r, json!({LSP: {U1: {"new": {"name": "p1", "tag": 5, "type": ""}}}})).unwrap();
        apply1(&mut r, json!({LSP: {U1: {"new": {"name": "p1", "type": "router"}, "old": {"tag": 5, "type": ""}}}}))
            .unwrap();
        let row = r.get(LSP, &uuid(U1)).unwrap();
        assert_eq!((row.get("type"), row.get("tag")), (&Datum::from(s("router")), &Datum::empty_set()));
        apply1(&mut r, json!({LSP: {U1: {"old": {"name": "p1", "type": "router"}}}})).unwrap();
        assert!(r.table(LSP).unwrap().is_empty());
    }

    /// Every pair of the coalescing table, as two separate updates.
    #[test]
    fn take_changes_coalesces_each_pair() {
        let ins = |n: &str| ("insert", json!({"name": n}));
        let modi = |n: &str| ("modify", json!({"name": n}));
        let del = ("delete", Value::Null);
        // (row exists first, the updates, the change expected: kind and old name)
        type Case<'a> = (bool, Vec<(&'a str, Value)>, Option<(&'a str, &'a str)>);
        let cases: Vec<Case> = vec![
            (false, vec![ins("a")], Some(("inserted", ""))),
            (true, vec![modi("b")], Some(("modified", "\"orig\""))),
            (true, vec![del.clone()], Some(("deleted", "\"orig\""))),
            (false, vec![ins("a"), modi("b")], Some(("inserted", ""))),
            (false, vec![ins("a"), del.clone()], None),
            (true, vec![modi("b"), modi("c")], Some(("modified", "\"orig\""))),
            (true, vec![modi("b"), del.clone()], Some(("deleted", "\"orig\""))),
            (true, vec![del.clone(), ins("d")], Some(("modified", "\"orig\""))),
            (true, vec![modi("b"), del.clone(), ins("e"), modi("f")], Some(("modified", "\"orig\""))),
        ];
        for (exists, ops, want) in cases {
            let mut r = Replica::new(nb_schema());
            if exists {
                apply(&mut r, &[(LSP, U1, "insert", json!({"name": "orig"}))]).unwrap();
                r.take_changes();
            }
            for (op, row) in &ops {
                apply(&mut r, &[(LSP, U1, op, row.clone())]).unwrap();
            }
            assert_eq!(r.has_changes(), want.is_some(), "{ops:?}");
            let got = summary(&r.take_changes());
            let want: Vec<_> = want.into_iter().map(|(k, n)| (U1.to_string(), k, n.to_string())).collect();
            assert_eq!(got, want, "{ops:?}");
            assert!(!r.has_changes() && r.take_changes().is_empty());
        }
    }

    #[test]
    fn changes_name_the_table_and_give_the_old_row() {
        let mut r = Replica::new(nb_schema());
        apply(
            &mut r,
            &[
                (LSP, U1, "insert", json!({"name": "p1", "tag": 5})),
                ("Logical_Switch", U2, "insert", json!({"name": "sw"})),
            ],
        )
        .unwrap();
        r.take_changes();
        apply(&mut r, &[(LSP, U1, "modify", json!({"tag": 6}))]).unwrap();
        let c = r.take_changes();
        assert_eq!((c.len(), c.tables().len()), (1, 1));
        let t = c.table(LSP).unwrap();
        assert_eq!(t.table().name, LSP);
        let Some(Change::Modified { old }) = t.get(&uuid(U1)) else { panic!("{c:?}") };
        assert_eq!(old.get("tag"), &Datum::from(Atom::Integer(5)));
        assert_eq!(r.get(LSP, &uuid(U1)).unwrap().get("tag"), &Datum::from(Atom::Integer(6)));
        let (table, u, _) = c.iter().next().unwrap();
        assert_eq!((table, *u), (LSP, uuid(U1)));
    }

    #[test]
    fn a_bad_update_changes_nothing() {
        let mut r = Replica::new(nb_schema());
        apply(&mut r, &[(LSP, U1, "insert", json!({"name": "p1"}))]).unwrap();
        r.take_changes();
        let e = apply(&mut r, &[(LSP, U3, "insert", json!({"name": "p3"})), (LSP, U2, "modify", json!({"name": "x"}))]);
        assert_eq!(e, Err(ReplicaError::NoSuchRow { table: LSP.into(), row: uuid(U2), op: "modify" }));
        let e = apply(&mut r, &[(LSP, U3, "insert", json!({"name": "p3"})), (LSP, U1, "insert", json!({"name": "x"}))]);
        assert_eq!(e, Err(ReplicaError::RowExists { table: LSP.into(), row: uuid(U1) }));
        let e = apply(&mut r, &[(LSP, U1, "delete", Value::Null), ("Logical_Switch", U2, "delete", Value::Null)]);
        assert!(matches!(e, Err(ReplicaError::NoSuchRow { op: "delete", .. })), "{e:?}");
        assert_eq!(r.table(LSP).unwrap().len(), 1);
        assert_eq!(name(&r, LSP, U1), "\"p1\"");
        assert!(!r.has_changes());
        // One update may delete and re-insert a row: validation follows it.
        let mut u = decoded(&r, &[(LSP, U1, "delete", Value::Null)]);
        let insert = decoded(&r, &[(LSP, U1, "insert", json!({"name": "again"}))]);
        u.tables[0].rows.extend(insert.tables.into_iter().flat_map(|t| t.rows));
        r.apply(u).unwrap();
        assert_eq!(name(&r, LSP, U1), "\"again\"");
    }

    #[test]
    fn refuses_updates_of_another_schema() {
        let mut r = Replica::new(nb_schema());
        let mut other = (*nb_schema()).clone();
        let mut lsp = (*other.tables[LSP]).clone();
        lsp.columns.shift_remove("tag");
        other.tables.insert(LSP.into(), Arc::new(lsp));
        let u =
            decode_table_updates(&updates(&[(LSP, U1, "insert", json!({"name": "p"}))]), UpdateFormat::Update2, &other)
                .unwrap();
        assert_eq!(r.apply(u), Err(ReplicaError::SchemaMismatch(LSP.into())));
        // An equal schema that is another allocation is fine.
        let same = Arc::new((*nb_schema()).clone());
        let u =
            decode_table_updates(&updates(&[(LSP, U1, "insert", json!({"name": "p"}))]), UpdateFormat::Update2, &same)
                .unwrap();
        assert_eq!(r.apply(u), Ok(()));
    }

    #[test]
    fn replace_reports_only_differences() {
        let mut r = Replica::new(nb_schema());
        let a = json!({"name": "a", "external_ids": ["map", [["k", "v"]]]});
        apply(
            &mut r,
            &[
                (LSP, U1, "insert", a.clone()),
                (LSP, U2, "insert", json!({"name": "b"})),
                (LSP, U3, "insert", json!({"name": "c"})),
                ("Logical_Switch", U1, "insert", json!({"name": "sw"})),
            ],
        )
        .unwrap();
        r.take_changes();
        let d = "00000000-0000-0000-0000-00000000000d";
        replace(
            &mut r,
            &[
                (LSP, U1, "initial", a),
                (LSP, U2, "initial", json!({"name": "b2"})),
                (LSP, d, "initial", json!({"name": "d"})),
            ],
        )
        .unwrap();
        let want = vec![
            (U2.to_string(), "modified", "\"b\"".to_string()),
            (U3.to_string(), "deleted", "\"c\"".to_string()),
            (U1.to_string(), "deleted", "\"sw\"".to_string()),
            (d.to_string(), "inserted", String::new()),
        ];
        let mut want = want;
        want.sort();
        assert_eq!(summary(&r.take_changes()), want);
        assert_eq!(r.table(LSP).unwrap().len(), 3);
        assert!(r.table("Logical_Switch").unwrap().is_empty());
        assert_eq!(name(&r, LSP, U2), "\"b2\"");
        // The same snapshot again: nothing changed.
        replace(
            &mut r,
            &[
                (LSP, d, "initial", json!({"name": "d"})),
                (LSP, U1, "initial", json!({"name": "a", "external_ids": ["map", [["k", "v"]]]})),
                (LSP, U2, "initial", json!({"name": "b2", "type": ""})),
            ],
        )
        .unwrap();
        assert!(!r.has_changes());
    }

    #[test]
    fn replace_refuses_what_is_not_a_snapshot() {
        let mut r = Replica::new(nb_schema());
        apply(&mut r, &[(LSP, U1, "insert", json!({"name": "a"}))]).unwrap();
        r.take_changes();
        let e =
            replace(&mut r, &[(LSP, U2, "initial", json!({"name": "b"})), (LSP, U1, "modify", json!({"name": "x"}))]);
        assert_eq!(e, Err(ReplicaError::NotASnapshot { table: LSP.into(), row: uuid(U1), op: "modify" }));
        let mut u = decoded(&r, &[(LSP, U2, "initial", json!({"name": "b"}))]);
        let again = u.tables[0].rows[0].clone();
        u.tables[0].rows.push(again);
        assert_eq!(r.replace(u), Err(ReplicaError::DuplicateRow { table: LSP.into(), row: uuid(U2) }));
        assert_eq!(r.table(LSP).unwrap().len(), 1);
        assert!(!r.has_changes());
    }

    #[test]
    fn clear_reports_every_row_deleted() {
        let mut r = Replica::new(nb_schema());
        apply(&mut r, &[(LSP, U1, "insert", json!({"name": "a"})), (LSP, U2, "insert", json!({"name": "b"}))]).unwrap();
        r.take_changes();
        r.create_index(LSP, "name").unwrap();
        r.clear();
        let mut got: Vec<_> = summary(&r.take_changes()).into_iter().map(|(_, k, n)| (k, n)).collect();
        got.sort();
        assert_eq!(got, [("deleted", "\"a\"".to_string()), ("deleted", "\"b\"".to_string())]);
        assert_eq!(r.lookup(LSP, "name", &s("a")).unwrap().count(), 0);
    }

    #[test]
    fn indexes_follow_inserts_modifies_and_deletes() {
        let mut r = Replica::new(nb_schema());
        apply(&mut r, &[(LSP, U1, "insert", json!({"name": "a", "external_ids": ["map", [["k", "1"]]]}))]).unwrap();
        r.create_index(LSP, "name").unwrap();
        r.create_index(LSP, "external_ids").unwrap();
        r.create_index(LSP, "type").unwrap();
        r.create_index(LSP, "name").unwrap();
        let uuids = |r: &Replica, col: &str, a: Atom| -> Vec<Uuid> {
            let mut v: Vec<Uuid> = r.lookup(LSP, col, &a).unwrap().map(Row::uuid).collect();
            v.sort();
            v
        };
        assert_eq!(uuids(&r, "name", s("a")), [uuid(U1)]);
        apply(
            &mut r,
            &[(LSP, U2, "insert", json!({"name": "b", "external_ids": ["map", [["k", "2"]]], "type": "router"}))],
        )
        .unwrap();
        assert_eq!(uuids(&r, "external_ids", s("k")), [uuid(U2), uuid(U1)]);
        // The default value of `type` is indexed too.
        assert_eq!(uuids(&r, "type", s("")), [uuid(U1)]);
        apply(&mut r, &[(LSP, U1, "modify", json!({"name": "a2", "type": "router"}))]).unwrap();
        assert_eq!(uuids(&r, "name", s("a")), [] as [Uuid; 0]);
        assert_eq!(uuids(&r, "name", s("a2")), [uuid(U1)]);
        assert_eq!(uuids(&r, "type", s("router")), [uuid(U2), uuid(U1)]);
        assert_eq!(uuids(&r, "type", s("")), [] as [Uuid; 0]);
        apply(&mut r, &[(LSP, U2, "delete", Value::Null)]).unwrap();
        assert_eq!(uuids(&r, "external_ids", s("k")), [uuid(U1)]);
        assert_eq!(uuids(&r, "type", s("router")), [uuid(U1)]);
        replace(&mut r, &[(LSP, U3, "initial", json!({"name": "a2"}))]).unwrap();
        assert_eq!(uuids(&r, "name", s("a2")), [uuid(U3)]);
        assert_eq!(uuids(&r, "external_ids", s("k")), [] as [Uuid; 0]);

        assert_eq!(
            r.lookup(LSP, "tag", &Atom::Integer(1)).err(),
            Some(ReplicaError::NoIndex { table: LSP.into(), column: "tag".into() })
        );
        assert!(matches!(r.create_index(LSP, "nope"), Err(ReplicaError::UnknownColumn { .. })));
        assert!(matches!(r.create_index("Nope", "name"), Err(ReplicaError::UnknownTable(_))));
    }

    #[test]
    fn reverse_references_and_deref() {
        let mut r = Replica::new(nb_schema());
        r.create_index("Logical_Switch", "ports").unwrap();
        let missing = "00000000-0000-0000-0000-0000000000ff";
        let ports = json!(["set", [["uuid", U1], ["uuid", U2], ["uuid", missing]]]);
        apply(
            &mut r,
            &[
                (LSP, U1, "insert", json!({"name": "p1"})),
                (LSP, U2, "insert", json!({"name": "p2"})),
                ("Logical_Switch", U3, "insert", json!({"name": "sw", "ports": ports})),
            ],
        )
        .unwrap();
        let sw: Vec<Uuid> =
            r.lookup("Logical_Switch", "ports", &Atom::Uuid(uuid(U2))).unwrap().map(Row::uuid).collect();
        assert_eq!(sw, [uuid(U3)]);
        let switch = r.get("Logical_Switch", &uuid(U3)).unwrap();
        let mut names: Vec<String> = r.deref(switch, "ports").unwrap().map(|p| p.get("name").to_string()).collect();
        names.sort();
        assert_eq!(names, ["\"p1\"", "\"p2\""]);
        assert!(matches!(r.deref(switch, "name"), Err(ReplicaError::NotAReference { .. })));
        assert!(matches!(r.deref(switch, "nope"), Err(ReplicaError::UnknownColumn { .. })));
    }
}
