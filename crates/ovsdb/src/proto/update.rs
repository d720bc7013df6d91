//! Monitor updates, decoded from JSON text against the schema in one pass:
//! `<table-updates>` (RFC 7047 section 4.1.6: the `monitor` reply and the
//! `update` notification) and `<table-updates2>` (`man 7 ovsdb-server`
//! sections 4.1.12 to 4.1.16: the replies of `monitor_cond` and
//! `monitor_cond_since`, the `update2` and `update3` notifications).
//!
//! This is the hot path of an initial sync, so column names are borrowed from
//! the input and mapped to column indexes, datums are coerced to their column
//! type as they are read, and a row keeps only its non-default values
//! ([`Cells`]). It never builds a `serde_json::Value`, never panics on what a
//! server sent, and knows nothing of replicas or sessions.

use std::fmt;
use std::sync::Arc;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use thiserror::Error;
use uuid::Uuid;

use super::atom::{parse_uuid, TagStr};
use super::datum::Datum;
use super::schema::{ColumnType, DatabaseSchema, TableSchema};
use crate::error::DatumError;

/// Which payload a text holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateFormat {
    /// `<table-updates>`: rows as `{"old": <row>, "new": <row>}` (`monitor`,
    /// `update`).
    Update,
    /// `<table-updates2>`: rows as `{"initial" | "insert" | "modify" |
    /// "delete": ..}` (`monitor_cond`, `monitor_cond_since`, `update2`,
    /// `update3`).
    Update2,
}

/// A decoded payload: each table at most once, in the order the server sent.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TableUpdates {
    pub tables: Vec<TableUpdate>,
}

/// The row updates of one table, in the order the server sent.
#[derive(Debug, Clone, PartialEq)]
pub struct TableUpdate {
    pub table: Arc<TableSchema>,
    pub rows: Vec<(Uuid, RowUpdate)>,
}

/// Column values as (column index in `TableSchema::columns`, datum), sorted by
/// column index, each column at most once.
pub type ColumnValues = Vec<(usize, Datum)>;

/// What happened to one row.
#[derive(Debug, Clone, PartialEq)]
pub enum RowUpdate {
    /// update2 `initial`: the row as it was when the monitor started.
    Initial(Cells),
    /// update2 `insert`: a new row.
    Insert(Cells),
    /// update2 `modify`: for each changed column, its diff (applied by
    /// [`Cells::with_diffs`]). Diffs are typed like their column, except that
    /// a set or map column taking more than one value takes a diff of any size.
    Modify(ColumnValues),
    /// update2 `delete`.
    Delete,
    /// update: `new` is the whole row after an initial, insert or modify;
    /// `old` holds the prior values of the changed columns of a modify, or the
    /// whole row of a delete. The decoder never yields both absent.
    Update1 { old: Option<ColumnValues>, new: Option<Cells> },
}

/// Why a payload could not be decoded. Every variant past `Malformed` names
/// the place.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UpdateError {
    /// Not JSON, or JSON not shaped like table updates.
    #[error("malformed table updates: {0}")]
    Malformed(String),
    /// A table the schema does not have.
    #[error("unknown table \"{0}\"")]
    UnknownTable(String),
    /// A row key that is not a UUID.
    #[error("table {table}: row key \"{key}\" is not a UUID")]
    BadUuid { table: String, key: String },
    /// A row update without a member, with an unknown member, or with
    /// members that do not go together.
    #[error("table {table}, row {row}: {message}")]
    BadRowUpdate { table: String, row: Uuid, message: String },
    /// A column the table does not have.
    #[error("table {table}, row {row}: unknown column \"{column}\"")]
    UnknownColumn { table: String, row: Uuid, column: String },
    /// A column given twice in one row.
    #[error("table {table}, row {row}: column \"{column}\" given twice")]
    DuplicateColumn { table: String, row: Uuid, column: String },
    /// A value that is not a datum of its column's type.
    #[error("table {table}, row {row}, column {column}: {error}")]
    BadDatum { table: String, row: Uuid, column: String, error: DatumError },
}

/// Tables of at most this many columns keep only their non-default values;
/// wider ones (none in OVN or OVS) keep every value.
const NARROW: usize = 64;

/// The values of one row, compactly: bit `i` of `present` says whether
/// column `i` has a stored value, and only those values are stored, in
/// column order; an absent column holds its default. The constructors leave
/// defaults out, so two `Cells` of one table are equal exactly when the rows
/// are. A table wider than 64 columns stores every value instead.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cells {
    present: u64,
    datums: Box<[Datum]>,
}

impl Cells {
    /// Cells from column values of `table`, in any order: defaults are left
    /// out, columns the table lacks are ignored, and of a column given twice
    /// the first value counts. Drains `values`.
    pub fn from_values(table: &TableSchema, values: &mut ColumnValues) -> Cells {
        values.sort_by_key(|(i, _)| *i);
        values.dedup_by_key(|(i, _)| *i);
        if table.columns.len() > NARROW {
            let mut given = values.drain(..).peekable();
            let datums = (table.columns.values().enumerate())
                .map(|(i, col)| match given.next_if(|(j, _)| *j == i) {
                    Some((_, d)) => d,
                    None => col.ty.default_datum(),
                })
                .collect();
            return Cells { present: u64::MAX, datums };
        }
        values.retain(|(i, d)| table.columns.get_index(*i).is_some_and(|(_, c)| !is_default(d, &c.ty)));
        let mut present = 0u64;
        let datums = values
            .drain(..)
            .map(|(i, d)| {
                present |= 1 << i;
                d
            })
            .collect();
        Cells { present, datums }
    }

    /// The stored value of column `column`; `None` means the column holds its
    /// default.
    pub fn get(&self, column: usize) -> Option<&Datum> {
        if self.is_dense() {
            return self.datums.get(column);
        }
        if column >= NARROW || self.present & (1 << column) == 0 {
            return None;
        }
        let below = self.present & ((1 << column) - 1);
        self.datums.get(below.count_ones() as usize)
    }

    /// The stored values with their column indexes, in column order.
    pub fn iter(&self) -> impl Iterator<Item = (usize, &Datum)> + '_ {
        let dense = self.is_dense();
        let mut bits = self.present;
        self.datums.iter().enumerate().map(move |(n, d)| {
            if dense {
                return (n, d);
            }
            let i = bits.trailing_zeros() as usize;
            bits &= bits.wrapping_sub(1);
            (i, d)
        })
    }

    /// How many values are stored.
    pub fn len(&self) -> usize {
        self.datums.len()
    }

    pub fn is_empty(&self) -> bool {
        self.datums.is_empty()
    }

    /// The row after an update2 `modify` (`man 7 ovsdb-server` 4.1.14, and
    /// what ovsdb-server sends): a column holding at most one value (scalar,
    /// optional, or a map of at most one pair) takes the diff as its new
    /// value; a set toggles each element of the diff; a map adds a missing
    /// key, removes a key given with its current value, and gives a key
    /// given with another value that value. Diffs for columns the table lacks
    /// are ignored.
    pub fn with_diffs(&self, table: &TableSchema, mut diffs: ColumnValues) -> Cells {
        diffs.sort_by_key(|(i, _)| *i);
        let mut out = Vec::with_capacity(self.len() + diffs.len());
        let mut cur = self.iter().peekable();
        for (i, diff) in diffs {
            let Some((_, col)) = table.columns.get_index(i) else { continue };
            while let Some((j, d)) = cur.next_if(|(j, _)| *j < i) {
                out.push((j, d.clone()));
            }
            let mut value = match cur.next_if(|(j, _)| *j == i) {
                Some((_, d)) => d.clone(),
                None => col.ty.default_datum(),
            };
            value.apply_diff(diff, &col.ty);
            out.push((i, value));
        }
        out.extend(cur.map(|(j, d)| (j, d.clone())));
        Cells::from_values(table, &mut out)
    }

    fn is_dense(&self) -> bool {
        self.datums.len() > NARROW
    }
}

fn is_default(d: &Datum, ty: &ColumnType) -> bool {
    if ty.min == 0 {
        d.is_empty()
    } else {
        *d == ty.default_datum()
    }
}

/// The type a `modify` diff of a column has: the column's own when it holds
/// at most one value (the diff is the new value), else any number of elements.
fn diff_type(ty: &ColumnType) -> Option<ColumnType> {
    (ty.max != Some(1)).then(|| ColumnType { min: 0, max: None, ..ty.clone() })
}

/// Decodes a `<table-updates>` ([`UpdateFormat::Update`]) or
/// `<table-updates2>` ([`UpdateFormat::Update2`]) JSON object against
/// `schema`. `_uuid` and `_version` members of rows are skipped.
pub fn decode_table_updates(
    json: &str,
    format: UpdateFormat,
    schema: &DatabaseSchema,
) -> Result<TableUpdates, UpdateError> {
    let mut dec = Decoder { schema, format, error: None, scratch: Vec::new() };
    let mut de = serde_json::Deserializer::from_str(json);
    let result = TopSeed(&mut dec).deserialize(&mut de).and_then(|t| de.end().map(|()| t));
    result.map_err(|e| dec.error.take().unwrap_or_else(|| UpdateError::Malformed(e.to_string())))
}

/// State shared by the visitors of one decode. A visitor that finds a
/// semantic error stores it here and returns a serde error to unwind.
struct Decoder<'s> {
    schema: &'s DatabaseSchema,
    format: UpdateFormat,
    error: Option<UpdateError>,
    /// The values of the row being read, reused from row to row.
    scratch: ColumnValues,
}

impl Decoder<'_> {
    fn fail<E: de::Error>(&mut self, error: UpdateError) -> E {
        let e = E::custom(&error);
        self.error.get_or_insert(error);
        e
    }
}

/// The per-table state of a decode: the diff types of `modify`, made when
/// first needed.
struct TableState<'t> {
    table: &'t TableSchema,
    diff_types: Vec<Option<Option<ColumnType>>>,
}

impl TableState<'_> {
    fn diff_type(&mut self, column: usize, ty: &ColumnType) -> Option<&ColumnType> {
        if self.diff_types.is_empty() {
            self.diff_types = vec![None; self.table.columns.len()];
        }
        self.diff_types.get_mut(column)?.get_or_insert_with(|| diff_type(ty)).as_ref()
    }
}

struct TopSeed<'d, 's>(&'d mut Decoder<'s>);

impl<'de> DeserializeSeed<'de> for TopSeed<'_, '_> {
    type Value = TableUpdates;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<TableUpdates, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TopSeed<'_, '_> {
    type Value = TableUpdates;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of table updates")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TableUpdates, A::Error> {
        let dec = self.0;
        let mut tables: Vec<TableUpdate> = Vec::new();
        while let Some(name) = map.next_key::<TagStr<'de>>()? {
            let Some(table) = dec.schema.tables.get(&*name.0) else {
                return Err(dec.fail(UpdateError::UnknownTable(name.0.into_owned())));
            };
            if tables.iter().any(|t| Arc::ptr_eq(&t.table, table)) {
                return Err(dec.fail(UpdateError::Malformed(format!("table {} given twice", name.0))));
            }
            let table = Arc::clone(table);
            let mut state = TableState { table: &table, diff_types: Vec::new() };
            let rows = map.next_value_seed(TableSeed { dec: &mut *dec, state: &mut state })?;
            tables.push(TableUpdate { table, rows });
        }
        Ok(TableUpdates { tables })
    }
}

struct TableSeed<'d, 's, 't> {
    dec: &'d mut Decoder<'s>,
    state: &'d mut TableState<'t>,
}

impl<'de> DeserializeSeed<'de> for TableSeed<'_, '_, '_> {
    type Value = Vec<(Uuid, RowUpdate)>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TableSeed<'_, '_, '_> {
    type Value = Vec<(Uuid, RowUpdate)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of row updates")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (dec, state) = (self.dec, self.state);
        let mut rows = Vec::new();
        while let Some(key) = map.next_key::<TagStr<'de>>()? {
            let Ok(row) = parse_uuid(&key.0) else {
                let table = state.table.name.clone();
                return Err(dec.fail(UpdateError::BadUuid { table, key: key.0.into_owned() }));
            };
            let update = map.next_value_seed(RowUpdateSeed { dec: &mut *dec, state: &mut *state, row })?;
            rows.push((row, update));
        }
        rows.shrink_to_fit();
        Ok(rows)
    }
}

struct RowUpdateSeed<'d, 's, 't> {
    dec: &'d mut Decoder<'s>,
    state: &'d mut TableState<'t>,
    row: Uuid,
}

impl RowUpdateSeed<'_, '_, '_> {
    fn bad<E: de::Error>(&mut self, message: impl Into<String>) -> E {
        let (table, row) = (self.state.table.name.clone(), self.row);
        self.dec.fail(UpdateError::BadRowUpdate { table, row, message: message.into() })
    }

    /// Reads a `<row>` into `dec.scratch`, as diffs when `diff`.
    fn row<'de, A: MapAccess<'de>>(&mut self, map: &mut A, diff: bool) -> Result<(), A::Error> {
        let seed = RowSeed { dec: &mut *self.dec, state: &mut *self.state, row: self.row, diff };
        map.next_value_seed(seed)
    }

    fn cells<'de, A: MapAccess<'de>>(&mut self, map: &mut A) -> Result<Cells, A::Error> {
        self.row(map, false)?;
        Ok(Cells::from_values(self.state.table, &mut self.dec.scratch))
    }

    fn values<'de, A: MapAccess<'de>>(&mut self, map: &mut A, diff: bool) -> Result<ColumnValues, A::Error> {
        self.row(map, diff)?;
        Ok(self.dec.scratch.drain(..).collect())
    }

    fn update2<'de, A: MapAccess<'de>>(mut self, mut map: A) -> Result<RowUpdate, A::Error> {
        let Some(op) = map.next_key::<TagStr<'de>>()? else {
            return Err(self.bad("empty row update"));
        };
        let update = match &*op.0 {
            "initial" => RowUpdate::Initial(self.cells(&mut map)?),
            "insert" => RowUpdate::Insert(self.cells(&mut map)?),
            "modify" => RowUpdate::Modify(self.values(&mut map, true)?),
            "delete" => {
                map.next_value::<IgnoredAny>()?;
                RowUpdate::Delete
            }
            other => return Err(self.bad(format!("unknown row update \"{other}\""))),
        };
        if map.next_key::<IgnoredAny>()?.is_some() {
            return Err(self.bad(format!("\"{}\" is not alone in its row update", op.0)));
        }
        Ok(update)
    }

    fn update1<'de, A: MapAccess<'de>>(mut self, mut map: A) -> Result<RowUpdate, A::Error> {
        let (mut old, mut new) = (None, None);
        while let Some(member) = map.next_key::<TagStr<'de>>()? {
            match &*member.0 {
                "old" if old.is_none() => old = Some(self.values(&mut map, false)?),
                "new" if new.is_none() => new = Some(self.cells(&mut map)?),
                "old" | "new" => return Err(self.bad(format!("\"{}\" given twice", member.0))),
                other => return Err(self.bad(format!("unknown row update member \"{other}\""))),
            }
        }
        if old.is_none() && new.is_none() {
            return Err(self.bad("row update has neither \"old\" nor \"new\""));
        }
        Ok(RowUpdate::Update1 { old, new })
    }
}

impl<'de> DeserializeSeed<'de> for RowUpdateSeed<'_, '_, '_> {
    type Value = RowUpdate;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<RowUpdate, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RowUpdateSeed<'_, '_, '_> {
    type Value = RowUpdate;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a row update object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RowUpdate, A::Error> {
        match self.dec.format {
            UpdateFormat::Update => self.update1(map),
            UpdateFormat::Update2 => self.update2(map),
        }
    }
}

/// Reads a `<row>` object into the decoder's scratch, sorted by column.
struct RowSeed<'d, 's, 't> {
    dec: &'d mut Decoder<'s>,
    state: &'d mut TableState<'t>,
    row: Uuid,
    diff: bool,
}

impl<'de> DeserializeSeed<'de> for RowSeed<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RowSeed<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a row object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let RowSeed { dec, state, row, diff } = self;
        let table = state.table;
        dec.scratch.clear();
        while let Some(name) = map.next_key::<TagStr<'de>>()? {
            let Some((idx, _, col)) = table.columns.get_full(&*name.0) else {
                if matches!(&*name.0, "_uuid" | "_version") {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
                let (table, column) = (table.name.clone(), name.0.into_owned());
                return Err(dec.fail(UpdateError::UnknownColumn { table, row, column }));
            };
            let ty = if diff { state.diff_type(idx, &col.ty).unwrap_or(&col.ty) } else { &col.ty };
            let error = match map.next_value_seed(CellSeed(ty)) {
                Ok(Ok(datum)) => {
                    dec.scratch.push((idx, datum));
                    continue;
                }
                Ok(Err(e)) => e,
                Err(e) if dec.error.is_none() => DatumError::Json(e.to_string()),
                Err(e) => return Err(e),
            };
            let (table, column) = (table.name.clone(), col.name.clone());
            return Err(dec.fail(UpdateError::BadDatum { table, row, column, error }));
        }
        dec.scratch.sort_unstable_by_key(|(i, _)| *i);
        if let Some(w) = dec.scratch.windows(2).find(|w| w[0].0 == w[1].0) {
            let column = table.columns.get_index(w[0].0).map_or_else(String::new, |(n, _)| n.clone());
            let table = table.name.clone();
            return Err(dec.fail(UpdateError::DuplicateColumn { table, row, column }));
        }
        Ok(())
    }
}

/// One value: a datum coerced to `ty` and shrunk to its size, or why it does
/// not fit.
struct CellSeed<'a>(&'a ColumnType);

impl<'de> DeserializeSeed<'de> for CellSeed<'_> {
    type Value = Result<Datum, DatumError>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        Ok(Datum::deserialize(d)?.coerce(self.0))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::proto::atom::Atom;

    /// The real OVN Northbound schema.
    pub(crate) fn nb_schema() -> Arc<DatabaseSchema> {
        let path = format!("{}/../../schemas/ovn-nb.ovsschema", env!("CARGO_MANIFEST_DIR"));
        Arc::new(DatabaseSchema::from_json_str(&std::fs::read_to_string(path).unwrap()).unwrap())
    }

    pub(crate) const U1: &str = "571dcc1a-5329-4389-accc-438693b3ca2f";
    pub(crate) const U2: &str = "548a65ac-cf12-476c-9593-8ae4e3c37d68";

    fn uuid(s: &str) -> Uuid {
        Uuid::parse_str(s).unwrap()
    }

    fn col(table: &TableSchema, name: &str) -> usize {
        table.columns.get_index_of(name).unwrap()
    }

    fn s(x: &str) -> Atom {
        Atom::string(x)
    }

    fn decode2(json: &str) -> Result<TableUpdates, UpdateError> {
        decode_table_updates(json, UpdateFormat::Update2, &nb_schema())
    }

    /// The monitor_cond reply ovsdb-server 3.1 sent for one switch and port.
    #[test]
    fn decodes_update2_initial_as_ovsdb_server_sends_it() {
        let json = format!(
            r#"{{"Logical_Switch": {{"{U2}": {{"initial": {{"_version": ["uuid", "a3c0a2a5-5673-42f8-9810-104a8d1e270c"],
                 "name": "sw", "ports": ["uuid", "{U1}"]}}}}}},
               "Logical_Switch_Port": {{"{U1}": {{"initial": {{"addresses": "00:00:00:00:00:01 10.0.0.1",
                 "external_ids": ["map", [["b", "2"], ["a", "1"]]], "name": "p1", "tag": 5, "type": ""}}}}}}}}"#
        );
        let u = decode2(&json).unwrap();
        assert_eq!(u.tables.len(), 2);
        let (ls, lsp) = (&u.tables[0], &u.tables[1]);
        assert_eq!(ls.table.name, "Logical_Switch");
        assert_eq!(ls.rows[0].0, uuid(U2));
        let RowUpdate::Initial(cells) = &ls.rows[0].1 else { panic!("{:?}", ls.rows[0].1) };
        assert_eq!(cells.get(col(&ls.table, "ports")), Some(&Datum::from(Atom::Uuid(uuid(U1)))));
        let RowUpdate::Initial(cells) = &lsp.rows[0].1 else { panic!() };
        let t = &lsp.table;
        // `type` is "" (its default): not stored; the map is sorted.
        assert_eq!(cells.len(), 4);
        assert_eq!(cells.get(col(t, "type")), None);
        assert_eq!(cells.get(col(t, "tag")), Some(&Datum::from(Atom::Integer(5))));
        assert_eq!(cells.get(col(t, "external_ids")), Some(&Datum::map([(s("a"), s("1")), (s("b"), s("2"))])));
        let order: Vec<usize> = cells.iter().map(|(i, _)| i).collect();
        assert_eq!(order, ["name", "tag", "addresses", "external_ids"].map(|c| col(t, c)));
    }

    #[test]
    fn decodes_update2_insert_modify_delete() {
        let json = format!(
            r#"{{"Logical_Switch_Port": {{
                "{U1}": {{"modify": {{"_version": ["uuid", "ef61c9b2-eb59-4dc0-b9a3-0ad807f12576"], "addresses": "x",
                    "enabled": false, "external_ids": ["map", [["a", "9"], ["b", "2"], ["c", "3"]]],
                    "tag": ["set", []], "type": "router", "port_security": ["set", ["p", "q"]]}}}},
                "{U2}": {{"delete": null}},
                "00000000-0000-0000-0000-000000000001": {{"insert": {{"name": "p2", "up": true}}}}}}}}"#
        );
        let u = decode2(&json).unwrap();
        let t = &u.tables[0].table;
        let rows = &u.tables[0].rows;
        let RowUpdate::Modify(diffs) = &rows[0].1 else { panic!() };
        let want: ColumnValues = vec![
            (col(t, "type"), Datum::from(s("router"))),
            (col(t, "tag"), Datum::empty_set()),
            (col(t, "addresses"), Datum::from(s("x"))),
            (col(t, "port_security"), Datum::set([s("p"), s("q")])),
            (col(t, "enabled"), Datum::from(Atom::Boolean(false))),
            (col(t, "external_ids"), Datum::map([(s("a"), s("9")), (s("b"), s("2")), (s("c"), s("3"))])),
        ];
        assert_eq!(diffs, &want);
        assert_eq!(rows[1], (uuid(U2), RowUpdate::Delete));
        let RowUpdate::Insert(cells) = &rows[2].1 else { panic!() };
        assert_eq!(cells.get(col(t, "up")), Some(&Datum::from(Atom::Boolean(true))));
    }

    /// A diff of an optional column with two elements would not fit the
    /// column; a diff is typed loosely except for single-valued columns.
    #[test]
    fn modify_diffs_of_sets_may_exceed_the_column_size_but_scalars_may_not() {
        let json = format!(r#"{{"Logical_Switch_Port": {{"{U1}": {{"modify": {{"mirror_rules": ["set", []]}}}}}}}}"#);
        assert!(decode2(&json).is_ok());
        let json = format!(r#"{{"Logical_Switch_Port": {{"{U1}": {{"modify": {{"up": ["set", [true, false]]}}}}}}}}"#);
        let e = decode2(&json).unwrap_err();
        assert!(matches!(&e, UpdateError::BadDatum { column, error: DatumError::Count { .. }, .. } if column == "up"));
        let json = format!(r#"{{"Logical_Switch_Port": {{"{U1}": {{"modify": {{"name": ["set", []]}}}}}}}}"#);
        assert!(matches!(decode2(&json).unwrap_err(), UpdateError::BadDatum { .. }));
    }

    /// The monitor reply and update notification ovsdb-server 3.1 sent.
    #[test]
    fn decodes_update1_old_and_new() {
        let json = format!(
            r#"{{"Logical_Switch_Port": {{
                "{U1}": {{"new": {{"name": "p1", "parent_name": ["set", []], "options": ["map", []], "type": "router",
                    "enabled": false, "tag": 7, "_version": ["uuid", "ef61c9b2-eb59-4dc0-b9a3-0ad807f12576"]}},
                    "old": {{"_version": ["uuid", "4c8dde49-a66e-4c4c-be5c-e1b466ac4afc"], "tag": 5, "type": "",
                    "enabled": ["set", []]}}}},
                "{U2}": {{"old": {{"name": "p2", "tag": ["set", []]}}}},
                "00000000-0000-0000-0000-000000000001": {{"new": {{"name": "p3"}}}}}}}}"#
        );
        let u = decode_table_updates(&json, UpdateFormat::Update, &nb_schema()).unwrap();
        let t = &u.tables[0].table;
        let rows = &u.tables[0].rows;
        let RowUpdate::Update1 { old: Some(old), new: Some(new) } = &rows[0].1 else { panic!() };
        // `old` keeps what was sent, defaults included; `new` drops defaults.
        assert_eq!(
            old,
            &vec![
                (col(t, "type"), Datum::from(s(""))),
                (col(t, "tag"), Datum::from(Atom::Integer(5))),
                (col(t, "enabled"), Datum::empty_set()),
            ]
        );
        let stored: Vec<usize> = new.iter().map(|(i, _)| i).collect();
        assert_eq!(stored, ["name", "type", "tag", "enabled"].map(|c| col(t, c)));
        assert!(matches!(&rows[1].1, RowUpdate::Update1 { old: Some(_), new: None }));
        assert!(matches!(&rows[2].1, RowUpdate::Update1 { old: None, new: Some(_) }));
    }

    #[test]
    fn errors_name_the_place() {
        let cases = [
            (r#"{"Nope": {}}"#.to_string(), UpdateError::UnknownTable("Nope".into())),
            (
                r#"{"Logical_Switch": {"xyz": {"delete": null}}}"#.to_string(),
                UpdateError::BadUuid { table: "Logical_Switch".into(), key: "xyz".into() },
            ),
            (
                format!(r#"{{"Logical_Switch": {{"{U1}": {{"insert": {{"name": "a", "bogus": 1}}}}}}}}"#),
                UpdateError::UnknownColumn { table: "Logical_Switch".into(), row: uuid(U1), column: "bogus".into() },
            ),
            (
                format!(r#"{{"Logical_Switch": {{"{U1}": {{"insert": {{"name": "a", "name": "b"}}}}}}}}"#),
                UpdateError::DuplicateColumn { table: "Logical_Switch".into(), row: uuid(U1), column: "name".into() },
            ),
        ];
        for (json, want) in cases {
            assert_eq!(decode2(&json).unwrap_err(), want, "{json}");
        }
        let json = format!(r#"{{"Logical_Switch": {{"{U1}": {{"insert": {{"name": 5}}}}}}}}"#);
        let e = decode2(&json).unwrap_err();
        assert!(matches!(&e, UpdateError::BadDatum { table, row, column, error: DatumError::Type { .. } }
            if table == "Logical_Switch" && *row == uuid(U1) && column == "name"));
        assert_eq!(
            e.to_string(),
            format!("table Logical_Switch, row {U1}, column name: type mismatch: expected string, found integer")
        );
        let json = format!(r#"{{"Logical_Switch": {{"{U1}": {{"insert": {{"ports": ["uuid", "zz"]}}}}}}}}"#);
        assert!(matches!(decode2(&json).unwrap_err(), UpdateError::BadDatum { error: DatumError::Json(_), .. }));
    }

    #[test]
    fn rejects_malformed_row_updates() {
        for (body, needle) in [
            ("{}", "empty row update"),
            (r#"{"insert": {}, "delete": null}"#, "not alone"),
            (r#"{"upsert": {}}"#, "unknown row update"),
        ] {
            let json = format!(r#"{{"Logical_Switch": {{"{U1}": {body}}}}}"#);
            let e = decode2(&json).unwrap_err();
            assert!(matches!(&e, UpdateError::BadRowUpdate { message, .. } if message.contains(needle)), "{e}");
        }
        for (body, needle) in [("{}", "neither"), (r#"{"new": {}, "new": {}}"#, "twice"), (r#"{"mid": {}}"#, "unknown")]
        {
            let json = format!(r#"{{"Logical_Switch": {{"{U1}": {body}}}}}"#);
            let e = decode_table_updates(&json, UpdateFormat::Update, &nb_schema()).unwrap_err();
            assert!(matches!(&e, UpdateError::BadRowUpdate { message, .. } if message.contains(needle)), "{e}");
        }
        for json in ["[]", "{", r#"{"Logical_Switch": []}"#, r#"{"Logical_Switch": {}, "Logical_Switch": {}}"#, "{} {}"]
        {
            assert!(matches!(decode2(json).unwrap_err(), UpdateError::Malformed(_)), "{json}");
        }
    }

    #[test]
    fn with_diffs_follows_ovsdb_server() {
        let schema = nb_schema();
        let t = schema.table("Logical_Switch_Port").unwrap();
        let mut values = vec![
            (col(t, "name"), Datum::from(s("p1"))),
            (col(t, "tag"), Datum::from(Atom::Integer(5))),
            (col(t, "addresses"), Datum::set([s("a"), s("b")])),
            (col(t, "external_ids"), Datum::map([(s("a"), s("1")), (s("b"), s("2"))])),
        ];
        let cells = Cells::from_values(t, &mut values);
        let diffs = vec![
            (col(t, "tag"), Datum::from(Atom::Integer(7))),
            (col(t, "addresses"), Datum::set([s("b"), s("c")])),
            (col(t, "external_ids"), Datum::map([(s("a"), s("9")), (s("b"), s("2")), (s("c"), s("3"))])),
            (col(t, "type"), Datum::from(s("router"))),
            (99, Datum::from(s("ignored"))),
        ];
        let after = cells.with_diffs(t, diffs);
        assert_eq!(after.get(col(t, "name")), Some(&Datum::from(s("p1"))));
        assert_eq!(after.get(col(t, "tag")), Some(&Datum::from(Atom::Integer(7))));
        assert_eq!(after.get(col(t, "addresses")), Some(&Datum::set([s("a"), s("c")])));
        assert_eq!(after.get(col(t, "external_ids")), Some(&Datum::map([(s("a"), s("9")), (s("c"), s("3"))])));
        assert_eq!(after.get(col(t, "type")), Some(&Datum::from(s("router"))));
        // Back to defaults: the values are no longer stored.
        let back = after.with_diffs(t, vec![(col(t, "type"), Datum::from(s(""))), (col(t, "tag"), Datum::empty_set())]);
        assert_eq!((back.get(col(t, "type")), back.get(col(t, "tag")), back.len()), (None, None, 3));
    }

    #[test]
    fn wide_tables_store_every_column() {
        let cols: Vec<String> = (0..70).map(|i| format!(r#""c{i}": {{"type": "integer"}}"#)).collect();
        let text = format!(r#"{{"name": "W", "tables": {{"T": {{"columns": {{{}}}}}}}}}"#, cols.join(","));
        let schema = DatabaseSchema::from_json_str(&text).unwrap();
        let json = format!(r#"{{"T": {{"{U1}": {{"insert": {{"c69": 3, "c1": 0}}}}}}}}"#);
        let u = decode_table_updates(&json, UpdateFormat::Update2, &schema).unwrap();
        let RowUpdate::Insert(cells) = &u.tables[0].rows[0].1 else { panic!() };
        assert_eq!(cells.len(), 70);
        assert_eq!(cells.get(69), Some(&Datum::from(Atom::Integer(3))));
        assert_eq!(cells.get(5), Some(&Datum::from(Atom::Integer(0))));
        let t = schema.table("T").unwrap();
        let after = cells.with_diffs(t, vec![(68, Datum::from(Atom::Integer(4)))]);
        assert_eq!(
            (after.get(68), after.get(69)),
            (Some(&Datum::from(Atom::Integer(4))), Some(&Datum::from(Atom::Integer(3))))
        );
    }
}
