//! An index on one column of a replica table: every atom of the column's
//! value (the keys, for a map) to the rows holding it. It serves lookups by
//! value and reverse references ("which switch has this port in `ports`").
//!
//! It only mirrors rows it is told about; it never reads the table itself.

use std::collections::HashMap;

use indexmap::IndexSet;
use uuid::Uuid;

use super::table::Row;
use crate::proto::atom::Atom;

/// The rows holding one atom. Most atoms of an indexed column (names, port
/// UUIDs) are held by one row, which needs no set.
enum Holders {
    One(Uuid),
    Many(Box<IndexSet<Uuid>>),
}

pub(super) struct Index {
    column: usize,
    map: HashMap<Atom, Holders>,
}

impl Index {
    pub(super) fn new(column: usize) -> Index {
        Index { column, map: HashMap::new() }
    }

    /// The indexed column's index in `TableSchema::columns`.
    pub(super) fn column(&self) -> usize {
        self.column
    }

    /// The rows holding `atom`, in a deterministic order.
    pub(super) fn get(&self, atom: &Atom) -> impl Iterator<Item = &Uuid> + '_ {
        let (one, many) = match self.map.get(atom) {
            Some(Holders::One(u)) => (Some(u), None),
            Some(Holders::Many(set)) => (None, Some(set.iter())),
            None => (None, None),
        };
        one.into_iter().chain(many.into_iter().flatten())
    }

    pub(super) fn add(&mut self, row: &Row) {
        let uuid = row.uuid();
        for atom in row.get_idx(self.column).keys() {
            let Some(holders) = self.map.get_mut(atom) else {
                self.map.insert(atom.clone(), Holders::One(uuid));
                continue;
            };
            match holders {
                Holders::One(u) if *u == uuid => {}
                Holders::One(u) => {
                    let first = *u;
                    *holders = Holders::Many(Box::new(IndexSet::from([first, uuid])));
                }
                Holders::Many(set) => {
                    set.insert(uuid);
                }
            }
        }
    }

    pub(super) fn remove(&mut self, row: &Row) {
        let uuid = row.uuid();
        for atom in row.get_idx(self.column).keys() {
            let gone = match self.map.get_mut(atom) {
                Some(Holders::One(u)) => *u == uuid,
                Some(Holders::Many(set)) => {
                    set.swap_remove(&uuid);
                    set.is_empty()
                }
                None => false,
            };
            if gone {
                self.map.remove(atom);
            }
        }
    }

    /// Moves a row from its old to its new value, if the column changed.
    pub(super) fn change(&mut self, old: &Row, new: &Row) {
        if old.get_idx(self.column) != new.get_idx(self.column) {
            self.remove(old);
            self.add(new);
        }
    }

    pub(super) fn clear(&mut self) {
        self.map.clear();
    }
}
