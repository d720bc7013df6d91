//! The OVN Northbound schema, parsed once, shared by the fuzz targets.

use std::sync::OnceLock;

use ovsdb::DatabaseSchema;

pub fn nb_schema() -> &'static DatabaseSchema {
    static SCHEMA: OnceLock<DatabaseSchema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        DatabaseSchema::from_json_str(include_str!("../../schemas/ovn-nb.ovsschema")).expect("the NB schema parses")
    })
}
