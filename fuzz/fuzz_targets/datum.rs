//! Arbitrary bytes as JSON, read as a datum of a few column types of the OVN
//! Northbound schema (sets, maps, references, ranges, enums); whatever is
//! accepted must print and read back as itself. Nothing may panic.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use ovsdb::{ColumnType, Datum};

mod nb_schema;

const COLUMNS: [(&str, &str); 8] = [
    ("Logical_Switch_Port", "addresses"),
    ("Logical_Switch_Port", "options"),
    ("Logical_Switch_Port", "tag_request"),
    ("Logical_Switch", "ports"),
    ("ACL", "priority"),
    ("ACL", "action"),
    ("Load_Balancer", "vips"),
    ("NB_Global", "nb_cfg"),
];

fn column_types() -> &'static [ColumnType] {
    static TYPES: OnceLock<Vec<ColumnType>> = OnceLock::new();
    TYPES.get_or_init(|| {
        let schema = nb_schema::nb_schema();
        COLUMNS.iter().map(|(t, c)| schema.table(t).and_then(|t| t.column_type(c)).expect("column exists")).collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    for ty in column_types() {
        let Ok(datum) = Datum::from_json(&value, ty) else {
            continue;
        };
        let _ = datum.check_constraints(ty);
        let again = Datum::from_json(&datum.to_json(), ty).expect("a printed datum reads back");
        assert_eq!(again, datum);
    }
});
