//! Database schemas (`man 5 ovsdb`, RFC 7047 section 3.2): parsed from any
//! `.ovsschema` or `get_schema` reply into plain Rust types that the rest of
//! the crate uses to check and decode values.

use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::{Map, Value};

use super::atom::{Atom, AtomicType};
use super::datum::Datum;
use crate::error::SchemaError;

/// A whole database schema.
#[derive(Debug, Clone, PartialEq)]
pub struct DatabaseSchema {
    pub name: String,
    pub version: String,
    pub cksum: Option<String>,
    pub tables: IndexMap<String, Arc<TableSchema>>,
}

/// One table.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSchema {
    pub name: String,
    /// Declared columns, in schema order. `_uuid` and `_version` are implicit
    /// and not listed here.
    pub columns: IndexMap<String, ColumnSchema>,
    pub max_rows: Option<u64>,
    pub is_root: bool,
    /// Each index is a set of column names whose values are unique together.
    pub indexes: Vec<Vec<String>>,
}

/// One column.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnSchema {
    pub name: String,
    pub ty: ColumnType,
    pub ephemeral: bool,
    pub mutable: bool,
}

/// A column's type: a key type, an optional value type (then the column is a
/// map), and how many elements it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnType {
    pub key: BaseType,
    pub value: Option<BaseType>,
    /// 0 or 1.
    pub min: usize,
    /// `None` means "unlimited".
    pub max: Option<usize>,
}

/// Whether a reference keeps its target alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefType {
    Strong,
    Weak,
}

/// An atomic type with its constraints.
#[derive(Debug, Clone, PartialEq)]
pub struct BaseType {
    pub atomic: AtomicType,
    /// Allowed values, sorted.
    pub enumeration: Option<Vec<Atom>>,
    pub min_integer: Option<i64>,
    pub max_integer: Option<i64>,
    pub min_real: Option<f64>,
    pub max_real: Option<f64>,
    pub min_length: Option<usize>,
    pub max_length: Option<usize>,
    pub ref_table: Option<String>,
    pub ref_type: RefType,
}

impl BaseType {
    /// An unconstrained base type.
    pub fn new(atomic: AtomicType) -> BaseType {
        BaseType {
            atomic,
            enumeration: None,
            min_integer: None,
            max_integer: None,
            min_real: None,
            max_real: None,
            min_length: None,
            max_length: None,
            ref_table: None,
            ref_type: RefType::Strong,
        }
    }
}

impl ColumnType {
    /// A column holding exactly one atom of `atomic` type.
    pub fn scalar(atomic: AtomicType) -> ColumnType {
        ColumnType { key: BaseType::new(atomic), value: None, min: 1, max: Some(1) }
    }

    /// True for a map column.
    pub fn is_map(&self) -> bool {
        self.value.is_some()
    }

    /// True when the column holds exactly one atom.
    pub fn is_scalar(&self) -> bool {
        self.min == 1 && self.max == Some(1) && self.value.is_none()
    }

    /// True when the column holds zero or one atom.
    pub fn is_optional(&self) -> bool {
        self.min == 0 && self.max == Some(1)
    }

    /// The value a column has when none was given (RFC 7047 section 5.2).
    pub fn default_datum(&self) -> Datum {
        if self.min == 0 {
            if self.is_map() {
                Datum::empty_map()
            } else {
                Datum::empty_set()
            }
        } else if let Some(v) = &self.value {
            Datum::map([(self.key.atomic.default_atom(), v.atomic.default_atom())])
        } else {
            Datum::from(self.key.atomic.default_atom())
        }
    }
}

impl TableSchema {
    /// A declared column, or `None` (also for `_uuid` and `_version`).
    pub fn column(&self, name: &str) -> Option<&ColumnSchema> {
        self.columns.get(name)
    }

    /// The type of a column, including the implicit `_uuid` and `_version`.
    pub fn column_type(&self, name: &str) -> Option<ColumnType> {
        match name {
            "_uuid" | "_version" => Some(ColumnType::scalar(AtomicType::Uuid)),
            _ => self.columns.get(name).map(|c| c.ty.clone()),
        }
    }
}

impl DatabaseSchema {
    /// Parses a schema from its JSON text.
    pub fn from_json_str(text: &str) -> Result<DatabaseSchema, SchemaError> {
        let value: Value = serde_json::from_str(text).map_err(|e| SchemaError::new("", e.to_string()))?;
        DatabaseSchema::from_json(&value)
    }

    /// Parses a schema from its JSON value.
    pub fn from_json(value: &Value) -> Result<DatabaseSchema, SchemaError> {
        let obj = object(value, "")?;
        let name = required_str(obj, "name", "")?.to_owned();
        let version = optional_str(obj, "version", "")?.unwrap_or_default().to_owned();
        let cksum = optional_str(obj, "cksum", "")?.map(str::to_owned);
        let tables_json =
            object(obj.get("tables").ok_or_else(|| SchemaError::new("", "missing \"tables\""))?, "tables")?;
        let mut tables = IndexMap::with_capacity(tables_json.len());
        for (tname, tjson) in tables_json {
            let table = parse_table(tname, tjson)?;
            tables.insert(tname.clone(), Arc::new(table));
        }
        let schema = DatabaseSchema { name, version, cksum, tables };
        schema.check_references()?;
        Ok(schema)
    }

    /// A table by name.
    pub fn table(&self, name: &str) -> Option<&Arc<TableSchema>> {
        self.tables.get(name)
    }

    fn check_references(&self) -> Result<(), SchemaError> {
        for table in self.tables.values() {
            for col in table.columns.values() {
                for base in std::iter::once(&col.ty.key).chain(col.ty.value.as_ref()) {
                    if let Some(rt) = &base.ref_table {
                        if !self.tables.contains_key(rt) {
                            return Err(SchemaError::new(
                                format!("{}.{}", table.name, col.name),
                                format!("refTable \"{rt}\" is not a table of this schema"),
                            ));
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

fn parse_table(name: &str, json: &Value) -> Result<TableSchema, SchemaError> {
    let obj = object(json, name)?;
    let cols_json = object(obj.get("columns").ok_or_else(|| SchemaError::new(name, "missing \"columns\""))?, name)?;
    let mut columns = IndexMap::with_capacity(cols_json.len());
    for (cname, cjson) in cols_json {
        let at = format!("{name}.{cname}");
        if cname.starts_with('_') {
            return Err(SchemaError::new(at, "column names starting with '_' are reserved"));
        }
        let cobj = object(cjson, &at)?;
        let ty = parse_column_type(cobj.get("type").ok_or_else(|| SchemaError::new(&at, "missing \"type\""))?, &at)?;
        let ephemeral = optional_bool(cobj, "ephemeral", &at)?.unwrap_or(false);
        let mutable = optional_bool(cobj, "mutable", &at)?.unwrap_or(true);
        columns.insert(cname.clone(), ColumnSchema { name: cname.clone(), ty, ephemeral, mutable });
    }
    let max_rows = match obj.get("maxRows") {
        None => None,
        Some(v) => Some(
            v.as_u64()
                .filter(|&n| n > 0)
                .ok_or_else(|| SchemaError::new(name, "\"maxRows\" must be a positive integer"))?,
        ),
    };
    let is_root = optional_bool(obj, "isRoot", name)?.unwrap_or(false);
    let mut indexes = Vec::new();
    if let Some(ix) = obj.get("indexes") {
        let arr = ix.as_array().ok_or_else(|| SchemaError::new(name, "\"indexes\" must be an array"))?;
        for one in arr {
            let cols =
                one.as_array().ok_or_else(|| SchemaError::new(name, "each index must be an array of columns"))?;
            let mut names = Vec::with_capacity(cols.len());
            for c in cols {
                let c = c.as_str().ok_or_else(|| SchemaError::new(name, "index column names must be strings"))?;
                if !columns.contains_key(c) && c != "_uuid" {
                    return Err(SchemaError::new(name, format!("index names unknown column \"{c}\"")));
                }
                names.push(c.to_owned());
            }
            indexes.push(names);
        }
    }
    Ok(TableSchema { name: name.to_owned(), columns, max_rows, is_root, indexes })
}

/// Parses a `<type>` (RFC 7047 section 3.2): an atomic type name or an object
/// with `key`, optional `value`, `min`, `max`.
pub fn parse_column_type(json: &Value, at: &str) -> Result<ColumnType, SchemaError> {
    match json {
        Value::String(_) => Ok(ColumnType { key: parse_base_type(json, at)?, value: None, min: 1, max: Some(1) }),
        Value::Object(obj) => {
            let key = parse_base_type(obj.get("key").ok_or_else(|| SchemaError::new(at, "type lacks \"key\""))?, at)?;
            let value = obj.get("value").map(|v| parse_base_type(v, at)).transpose()?;
            let min = match obj.get("min") {
                None => 1,
                Some(v) => match v.as_u64() {
                    Some(n @ 0..=1) => n as usize,
                    _ => return Err(SchemaError::new(at, "\"min\" must be 0 or 1")),
                },
            };
            let max = match obj.get("max") {
                None => Some(1),
                Some(Value::String(s)) if s == "unlimited" => None,
                Some(v) => match v.as_u64() {
                    Some(n) if n >= 1 => Some(n as usize),
                    _ => return Err(SchemaError::new(at, "\"max\" must be a positive integer or \"unlimited\"")),
                },
            };
            if let Some(m) = max {
                if min > m {
                    return Err(SchemaError::new(at, "\"min\" exceeds \"max\""));
                }
            }
            Ok(ColumnType { key, value, min, max })
        }
        _ => Err(SchemaError::new(at, "a type is a string or an object")),
    }
}

fn parse_base_type(json: &Value, at: &str) -> Result<BaseType, SchemaError> {
    let obj = match json {
        Value::String(s) => {
            let atomic =
                AtomicType::from_name(s).ok_or_else(|| SchemaError::new(at, format!("unknown atomic type \"{s}\"")))?;
            return Ok(BaseType::new(atomic));
        }
        Value::Object(obj) => obj,
        _ => return Err(SchemaError::new(at, "a base type is a string or an object")),
    };
    let tname = required_str(obj, "type", at)?;
    let atomic =
        AtomicType::from_name(tname).ok_or_else(|| SchemaError::new(at, format!("unknown atomic type \"{tname}\"")))?;
    let mut base = BaseType::new(atomic);
    if let Some(e) = obj.get("enum") {
        let set_type = ColumnType { key: BaseType::new(atomic), value: None, min: 0, max: None };
        let datum =
            Datum::from_json(e, &set_type).map_err(|err| SchemaError::new(at, format!("bad \"enum\": {err}")))?;
        base.enumeration = Some(datum.into_keys());
    }
    let int = |k: &str| -> Result<Option<i64>, SchemaError> {
        obj.get(k)
            .map(|v| v.as_i64().ok_or_else(|| SchemaError::new(at, format!("\"{k}\" must be an integer"))))
            .transpose()
    };
    let real = |k: &str| -> Result<Option<f64>, SchemaError> {
        obj.get(k)
            .map(|v| v.as_f64().ok_or_else(|| SchemaError::new(at, format!("\"{k}\" must be a number"))))
            .transpose()
    };
    let len = |k: &str| -> Result<Option<usize>, SchemaError> {
        obj.get(k)
            .map(|v| {
                v.as_u64()
                    .map(|n| n as usize)
                    .ok_or_else(|| SchemaError::new(at, format!("\"{k}\" must be a non-negative integer")))
            })
            .transpose()
    };
    base.min_integer = int("minInteger")?;
    base.max_integer = int("maxInteger")?;
    base.min_real = real("minReal")?;
    base.max_real = real("maxReal")?;
    base.min_length = len("minLength")?;
    base.max_length = len("maxLength")?;
    base.ref_table = optional_str(obj, "refTable", at)?.map(str::to_owned);
    base.ref_type = match optional_str(obj, "refType", at)? {
        None | Some("strong") => RefType::Strong,
        Some("weak") => RefType::Weak,
        Some(other) => return Err(SchemaError::new(at, format!("unknown refType \"{other}\""))),
    };
    if base.ref_table.is_some() && atomic != AtomicType::Uuid {
        return Err(SchemaError::new(at, "refTable is only valid for uuid"));
    }
    Ok(base)
}

fn object<'a>(v: &'a Value, at: &str) -> Result<&'a Map<String, Value>, SchemaError> {
    v.as_object().ok_or_else(|| SchemaError::new(at, "expected a JSON object"))
}

fn required_str<'a>(obj: &'a Map<String, Value>, key: &str, at: &str) -> Result<&'a str, SchemaError> {
    optional_str(obj, key, at)?.ok_or_else(|| SchemaError::new(at, format!("missing \"{key}\"")))
}

fn optional_str<'a>(obj: &'a Map<String, Value>, key: &str, at: &str) -> Result<Option<&'a str>, SchemaError> {
    match obj.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(SchemaError::new(at, format!("\"{key}\" must be a string"))),
    }
}

fn optional_bool(obj: &Map<String, Value>, key: &str, at: &str) -> Result<Option<bool>, SchemaError> {
    match obj.get(key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(SchemaError::new(at, format!("\"{key}\" must be a boolean"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(file: &str) -> DatabaseSchema {
        let path = format!("{}/../../schemas/{file}", env!("CARGO_MANIFEST_DIR"));
        DatabaseSchema::from_json_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn parses_ovn_and_vswitch_schemas() {
        let nb = load("ovn-nb.ovsschema");
        assert_eq!((nb.name.as_str(), nb.version.as_str()), ("OVN_Northbound", "7.0.0"));
        assert_eq!(nb.tables.len(), 30);
        let lsp = nb.table("Logical_Switch_Port").unwrap();
        assert!(!lsp.is_root);
        assert_eq!(lsp.indexes, vec![vec!["name".to_string()]]);
        let addrs = &lsp.column("addresses").unwrap().ty;
        assert_eq!((addrs.min, addrs.max, addrs.is_map()), (0, None, false));
        let tag = &lsp.column("tag").unwrap().ty;
        assert_eq!((tag.key.min_integer, tag.key.max_integer), (Some(1), Some(4095)));
        let sw = nb.table("Logical_Switch").unwrap();
        assert!(sw.is_root);
        assert_eq!(sw.column("ports").unwrap().ty.key.ref_table.as_deref(), Some("Logical_Switch_Port"));

        let sb = load("ovn-sb.ovsschema");
        assert_eq!((sb.name.as_str(), sb.version.as_str()), ("OVN_Southbound", "20.27.0"));
        let pb = sb.table("Port_Binding").unwrap();
        let chassis = &pb.column("chassis").unwrap().ty.key;
        assert_eq!(chassis.ref_type, RefType::Weak);
        assert_eq!(sb.table("SB_Global").unwrap().max_rows, Some(1));

        let vs = load("vswitch.ovsschema");
        assert_eq!(vs.name, "Open_vSwitch");
        let iface = vs.table("Interface").unwrap();
        assert!(iface.column("statistics").unwrap().ephemeral);
        assert!(!iface.column("options").unwrap().ephemeral);
        assert!(!iface.column("name").unwrap().mutable);
        let bfd = &vs.table("Bridge").unwrap().column("fail_mode").unwrap().ty.key;
        assert_eq!(bfd.enumeration.as_ref().unwrap().len(), 2);
    }

    #[test]
    fn rejects_bad_schemas_with_the_place() {
        for (text, needle) in [
            (r#"{"tables":{}}"#, "missing \"name\""),
            (r#"{"name":"x","tables":{"T":{"columns":{"c":{"type":"float"}}}}}"#, "T.c"),
            (
                r#"{"name":"x","tables":{"T":{"columns":{"c":{"type":{"key":{"type":"uuid","refTable":"U"}}}}}}}"#,
                "refTable \"U\"",
            ),
            (r#"{"name":"x","tables":{"T":{"columns":{"c":{"type":{"key":"string","min":2}}}}}}"#, "\"min\""),
            (r#"{"name":"x","tables":{"T":{"columns":{"_c":{"type":"string"}}}}}"#, "reserved"),
        ] {
            let err = DatabaseSchema::from_json_str(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{err} lacks {needle}");
        }
    }
}
