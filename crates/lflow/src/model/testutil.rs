//! Test helpers: replicas built from `update2` JSON against the project's
//! schemas, so that model tests read like the databases they stand for.

use std::sync::Arc;

use ovsdb::proto::update::{decode_table_updates, UpdateFormat};
use ovsdb::{DatabaseSchema, Replica};

/// A replica of `schema` (a file in `schemas/`) holding `json`, an
/// `update2` table-updates object.
pub fn replica(schema: &str, json: &str) -> Replica {
    let path = format!("{}/../../schemas/{schema}", env!("CARGO_MANIFEST_DIR"));
    let schema = DatabaseSchema::from_json_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut r = Replica::new(Arc::new(schema));
    r.apply(decode_table_updates(json, UpdateFormat::Update2, r.schema()).unwrap()).unwrap();
    r
}

/// The UUID `00000000-0000-0000-0000-<n>`, as text.
pub fn u(n: u32) -> String {
    format!("00000000-0000-0000-0000-{n:012}")
}
