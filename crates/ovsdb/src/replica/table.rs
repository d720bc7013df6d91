//! The tables and rows of a replica, and the row-level edits that keep a
//! table's indexes and change tracking in step with its rows.
//!
//! Edits here assume their update was validated (`replica/mod.rs` does it);
//! an edit of a row that is not there is a no-op, never a panic.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use foldhash::fast::FixedState;
use indexmap::IndexMap;
use uuid::Uuid;

use super::changes::TableChanges;
use super::index::Index;
use crate::proto::datum::Datum;
use crate::proto::schema::TableSchema;
use crate::proto::update::{Cells, ColumnValues};

/// What every row of a table shares: the schema and the column defaults that
/// absent values read as.
pub(super) struct TableMeta {
    schema: Arc<TableSchema>,
    defaults: Box<[Datum]>,
    /// What an unknown column name reads as.
    empty: Datum,
    /// Column name -> index in `schema.columns`: every `Row::get` looks a
    /// name up, with a faster hash than the schema map's SipHash.
    by_name: HashMap<String, usize, FixedState>,
    /// Unique among the tables of the process, never 0: what a `Column`
    /// remembers its index in.
    id: u64,
}

/// A column named in code, read with `Row::column`: it remembers its index
/// in the last table it was read from, so that reading it from that
/// table's rows again costs no name lookup. Meant to be a `static`, one per
/// place in code that reads a column (generated accessors).
pub struct Column {
    name: &'static str,
    /// `TableMeta::id << 16 | index + 1` (0 for a column the table lacks)
    /// of the last table read; 0 before the first read.
    cached: AtomicU64,
}

impl Column {
    pub const fn new(name: &'static str) -> Column {
        Column { name, cached: AtomicU64::new(0) }
    }
}

/// Gives each table's `TableMeta` its `id`. 48 bits (the rest of a cached
/// `Column` word holds the index): never wraps in a process's life.
static NEXT_TABLE_ID: AtomicU64 = AtomicU64::new(1);

/// One row: its UUID and its values, of which only the non-default ones are
/// stored.
#[derive(Clone)]
pub struct Row {
    uuid: Uuid,
    meta: Arc<TableMeta>,
    cells: Cells,
}

impl Row {
    pub fn uuid(&self) -> Uuid {
        self.uuid
    }

    /// The schema of the row's table.
    pub fn table_schema(&self) -> &Arc<TableSchema> {
        &self.meta.schema
    }

    /// The value of a column by name; a column the table lacks reads as the
    /// empty set.
    pub fn get(&self, column: &str) -> &Datum {
        match self.meta.by_name.get(column) {
            Some(&i) => self.get_idx(i),
            None => &self.meta.empty,
        }
    }

    /// The value of a column named in code (see `Column`): the same as
    /// `get(column.name)`, without the name lookup after the first read
    /// from this table. A column the table lacks reads as the empty set.
    pub fn column(&self, column: &Column) -> &Datum {
        let cached = column.cached.load(Ordering::Relaxed);
        let slot = if cached >> 16 == self.meta.id {
            cached & 0xffff
        } else {
            // Tables of more than 65,534 columns are read by name each time.
            let slot = match self.meta.by_name.get(column.name) {
                Some(&i) if i < 0xffff => i as u64 + 1,
                Some(_) => return self.get(column.name),
                None => 0,
            };
            column.cached.store(self.meta.id << 16 | slot, Ordering::Relaxed);
            slot
        };
        match slot {
            0 => &self.meta.empty,
            i => self.get_idx(i as usize - 1),
        }
    }

    /// The value of a column by its index in `TableSchema::columns`; an index
    /// past the last column reads as the empty set.
    pub fn get_idx(&self, column: usize) -> &Datum {
        self.cells.get(column).or_else(|| self.meta.defaults.get(column)).unwrap_or(&self.meta.empty)
    }

    /// Every column with its value, in schema order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Datum)> + '_ {
        self.meta.schema.columns.keys().enumerate().map(|(i, name)| (name.as_str(), self.get_idx(i)))
    }

    /// The stored (non-default) values.
    pub fn cells(&self) -> &Cells {
        &self.cells
    }
}

/// Rows are equal when they have the same UUID, table, and values.
impl PartialEq for Row {
    fn eq(&self, other: &Row) -> bool {
        self.uuid == other.uuid
            && self.cells == other.cells
            && (Arc::ptr_eq(&self.meta, &other.meta) || self.meta.schema == other.meta.schema)
    }
}

impl Eq for Row {}

/// Shows the table, the UUID and the non-default values.
impl fmt::Debug for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Row")
            .field("table", &self.meta.schema.name)
            .field("uuid", &self.uuid)
            .field("cells", &StoredValues(self))
            .finish()
    }
}

/// A row's stored values as a map from column name to the datum's JSON.
struct StoredValues<'a>(&'a Row);

impl fmt::Debug for StoredValues<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = &self.0.meta.schema.columns;
        let mut map = f.debug_map();
        for (i, datum) in self.0.cells.iter() {
            map.key(&names.get_index(i).map_or("?", |(n, _)| n.as_str()));
            map.value(&format_args!("{datum}"));
        }
        map.finish()
    }
}

/// The rows of one table by UUID, with the table's indexes and the changes
/// not yet taken. Row order is deterministic but unspecified.
pub struct Table {
    meta: Arc<TableMeta>,
    /// Rows by UUID (hashed with a fixed foldhash: UUIDs are random already).
    rows: IndexMap<Uuid, Row, FixedState>,
    indexes: Vec<Index>,
    changes: TableChanges,
}

impl Table {
    pub(super) fn new(schema: Arc<TableSchema>) -> Table {
        let defaults = schema.columns.values().map(|c| c.ty.default_datum()).collect();
        let changes = TableChanges::new(Arc::clone(&schema));
        let by_name = schema.columns.keys().enumerate().map(|(i, c)| (c.clone(), i)).collect();
        let id = NEXT_TABLE_ID.fetch_add(1, Ordering::Relaxed);
        let meta = Arc::new(TableMeta { schema, defaults, empty: Datum::empty_set(), by_name, id });
        Table { meta, rows: IndexMap::default(), indexes: Vec::new(), changes }
    }

    pub fn name(&self) -> &str {
        &self.meta.schema.name
    }

    pub fn schema(&self) -> &Arc<TableSchema> {
        &self.meta.schema
    }

    pub fn rows(&self) -> impl Iterator<Item = &Row> + '_ {
        self.rows.values()
    }

    pub fn get(&self, uuid: &Uuid) -> Option<&Row> {
        self.rows.get(uuid)
    }

    pub fn contains(&self, uuid: &Uuid) -> bool {
        self.rows.contains_key(uuid)
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    fn row(&self, uuid: Uuid, cells: Cells) -> Row {
        Row { uuid, meta: Arc::clone(&self.meta), cells }
    }

    /// Adds a row that is not there.
    pub(super) fn insert(&mut self, uuid: Uuid, cells: Cells) {
        let row = self.row(uuid, cells);
        let indexmap::map::Entry::Vacant(slot) = self.rows.entry(uuid) else { return };
        self.indexes.iter_mut().for_each(|ix| ix.add(&row));
        slot.insert(row);
        self.changes.inserted(uuid);
    }

    /// Gives a row new values; equal values are no change.
    pub(super) fn update(&mut self, uuid: Uuid, cells: Cells) {
        let Some(row) = self.rows.get_mut(&uuid) else { return };
        if row.cells == cells {
            return;
        }
        let old = Row { uuid, meta: Arc::clone(&row.meta), cells: std::mem::replace(&mut row.cells, cells) };
        self.indexes.iter_mut().for_each(|ix| ix.change(&old, row));
        self.changes.modified(old);
    }

    /// Applies update2 `modify` diffs to a row.
    pub(super) fn modify(&mut self, uuid: Uuid, diffs: ColumnValues) {
        let Some(row) = self.rows.get(&uuid) else { return };
        let cells = row.cells.with_diffs(&self.meta.schema, diffs);
        self.update(uuid, cells);
    }

    pub(super) fn remove(&mut self, uuid: Uuid) {
        let Some(old) = self.rows.swap_remove(&uuid) else { return };
        self.indexes.iter_mut().for_each(|ix| ix.remove(&old));
        self.changes.deleted(old);
    }

    /// Makes the table hold exactly `snapshot`'s rows (UUIDs unique), keeping
    /// the rows that did not change as they are.
    pub(super) fn replace(&mut self, snapshot: impl ExactSizeIterator<Item = (Uuid, Cells)>) {
        let mut old = std::mem::take(&mut self.rows);
        self.rows.reserve_exact(snapshot.len());
        for (uuid, cells) in snapshot {
            match old.swap_remove(&uuid) {
                Some(prev) => {
                    self.rows.insert(uuid, prev);
                    self.update(uuid, cells);
                }
                None => self.insert(uuid, cells),
            }
        }
        for (_, prev) in old {
            self.indexes.iter_mut().for_each(|ix| ix.remove(&prev));
            self.changes.deleted(prev);
        }
    }

    /// Removes every row.
    pub(super) fn clear(&mut self) {
        self.indexes.iter_mut().for_each(Index::clear);
        for (_, old) in std::mem::take(&mut self.rows) {
            self.changes.deleted(old);
        }
    }

    /// Indexes `column` (an index in `TableSchema::columns`) if it is not yet.
    pub(super) fn create_index(&mut self, column: usize) {
        if self.index(column).is_some() {
            return;
        }
        let mut ix = Index::new(column);
        self.rows.values().for_each(|row| ix.add(row));
        self.indexes.push(ix);
    }

    pub(super) fn index(&self, column: usize) -> Option<&Index> {
        self.indexes.iter().find(|ix| ix.column() == column)
    }

    pub(super) fn has_changes(&self) -> bool {
        !self.changes.is_empty()
    }

    /// The changes since the last call, leaving none.
    pub(super) fn take_changes(&mut self) -> TableChanges {
        let fresh = TableChanges::new(Arc::clone(&self.meta.schema));
        std::mem::replace(&mut self.changes, fresh)
    }
}
