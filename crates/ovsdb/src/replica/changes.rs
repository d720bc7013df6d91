//! What changed in a replica since it was last asked, coalesced per row, so
//! that a consumer sees one change per row however many updates touched it.
//!
//! Coalescing: insert+modify = insert, insert+delete = nothing,
//! modify+modify = modify (first old row), modify+delete = delete (first old
//! row), delete+insert = modify (the deleted row as old).

use std::sync::Arc;

use indexmap::{IndexMap, IndexSet};
use uuid::Uuid;

use super::table::Row;
use crate::proto::schema::TableSchema;

/// The change of one row. An inserted row is read from the replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Inserted,
    Modified { old: Row },
    Deleted { old: Row },
}

static INSERTED: Change = Change::Inserted;

/// The changes of one table. Inserted rows are kept apart from the others, as
/// a bare set of UUIDs: an initial sync inserts every row.
#[derive(Debug, Clone, PartialEq)]
pub struct TableChanges {
    table: Arc<TableSchema>,
    /// Only `Modified` and `Deleted`.
    changed: IndexMap<Uuid, Change>,
    inserted: IndexSet<Uuid>,
}

impl TableChanges {
    pub(super) fn new(table: Arc<TableSchema>) -> TableChanges {
        TableChanges { table, changed: IndexMap::new(), inserted: IndexSet::new() }
    }

    pub fn table(&self) -> &Arc<TableSchema> {
        &self.table
    }

    /// The change of one row, if it changed.
    pub fn get(&self, uuid: &Uuid) -> Option<&Change> {
        self.changed.get(uuid).or_else(|| self.inserted.contains(uuid).then_some(&INSERTED))
    }

    /// Every changed row: modifications and deletions first, then insertions,
    /// each in a deterministic order.
    pub fn iter(&self) -> impl Iterator<Item = (&Uuid, &Change)> + '_ {
        self.changed.iter().chain(self.inserted.iter().map(|u| (u, &INSERTED)))
    }

    /// How many rows changed.
    pub fn len(&self) -> usize {
        self.changed.len() + self.inserted.len()
    }

    pub fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.inserted.is_empty()
    }

    pub(super) fn inserted(&mut self, uuid: Uuid) {
        match self.changed.get_mut(&uuid) {
            Some(c @ Change::Deleted { .. }) => {
                let Change::Deleted { old } = std::mem::replace(c, Change::Inserted) else { return };
                *c = Change::Modified { old };
            }
            Some(_) => {}
            None => {
                self.inserted.insert(uuid);
            }
        }
    }

    /// `old` is the row before the modification.
    pub(super) fn modified(&mut self, old: Row) {
        let uuid = old.uuid();
        if !self.inserted.contains(&uuid) {
            self.changed.entry(uuid).or_insert(Change::Modified { old });
        }
    }

    /// `old` is the row that was deleted.
    pub(super) fn deleted(&mut self, old: Row) {
        let uuid = old.uuid();
        if self.inserted.swap_remove(&uuid) {
            return;
        }
        match self.changed.get_mut(&uuid) {
            Some(c @ Change::Modified { .. }) => {
                let Change::Modified { old: first } = std::mem::replace(c, Change::Inserted) else { return };
                *c = Change::Deleted { old: first };
            }
            Some(_) => {}
            None => {
                self.changed.insert(uuid, Change::Deleted { old });
            }
        }
    }
}

/// The changes of a replica since it was last asked, per table in schema
/// order; tables without changes are left out.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Changes {
    pub(super) tables: Vec<TableChanges>,
}

impl Changes {
    /// Every changed row as (table name, UUID, change).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Uuid, &Change)> + '_ {
        self.tables.iter().flat_map(|t| t.iter().map(move |(u, c)| (t.table.name.as_str(), u, c)))
    }

    /// The changes of one table, if it has any.
    pub fn table(&self, name: &str) -> Option<&TableChanges> {
        self.tables.iter().find(|t| t.table.name == name)
    }

    /// The tables with changes.
    pub fn tables(&self) -> &[TableChanges] {
        &self.tables
    }

    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    /// How many rows changed, in all tables.
    pub fn len(&self) -> usize {
        self.tables.iter().map(TableChanges::len).sum()
    }
}
