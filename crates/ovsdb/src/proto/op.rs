//! Operations (RFC 7047 section 5.2): insert, select, update, mutate,
//! delete, wait, commit, abort, comment and assert, plus ovsdb-server's
//! caller-chosen `"uuid"` on insert. Their JSON objects, exactly as the
//! server expects them; their parse from a user's JSON; their check against
//! a schema; and `<row>` objects.
//!
//! Never does I/O and knows nothing of how a transaction is sent.

use std::collections::HashSet;
use std::fmt;

use compact_str::CompactString;
use indexmap::IndexMap;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use uuid::Uuid;

use super::atom::{parse_uuid, Atom, AtomicType, TagStr};
use super::condition::Condition;
use super::datum::{Datum, TypedDatum};
use super::mutation::Mutation;
use super::schema::{ColumnType, DatabaseSchema, TableSchema};
use super::txn::{coerce, column_type, is_mutable, ErrorKind, Fault};

/// A `<row>`: column names to values, in the order given. Names are
/// `CompactString`s, kept inline: the rows of a first translation's
/// transaction (tens of thousands of inserts) allocate nothing for them.
pub type Row = IndexMap<CompactString, Datum>;

/// When a `wait` is satisfied: when the selected rows equal the given ones,
/// or when they differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WaitUntil {
    Eq,
    Ne,
}

impl WaitUntil {
    /// "==" or "!=".
    pub fn as_str(self) -> &'static str {
        match self {
            WaitUntil::Eq => "==",
            WaitUntil::Ne => "!=",
        }
    }
}

/// One operation of a transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum Operation {
    /// Inserts `row`; other values of the transaction may name the new row
    /// `["named-uuid", uuid_name]`; `uuid` asks for that UUID (an
    /// ovsdb-server extension).
    Insert { table: String, row: Row, uuid_name: Option<String>, uuid: Option<Uuid> },
    /// Returns the `columns` (all when `None`) of the matching rows.
    Select { table: String, where_: Vec<Condition>, columns: Option<Vec<String>> },
    /// Sets the columns of `row` in every matching row.
    Update { table: String, where_: Vec<Condition>, row: Row },
    /// Applies `mutations` to every matching row.
    Mutate { table: String, where_: Vec<Condition>, mutations: Vec<Mutation> },
    /// Deletes the matching rows.
    Delete { table: String, where_: Vec<Condition> },
    /// Waits until the `columns` of the matching rows equal (or differ
    /// from) `rows`, failing with "timed out" after `timeout_ms` (never
    /// when `None`).
    Wait {
        table: String,
        where_: Vec<Condition>,
        columns: Vec<String>,
        until: WaitUntil,
        rows: Vec<Row>,
        timeout_ms: Option<u64>,
    },
    /// Asks for the commit to reach disk (`durable`) before the reply.
    Commit { durable: bool },
    /// Fails the transaction with "aborted".
    Abort,
    /// A note the server logs with the commit.
    Comment(String),
    /// Fails the transaction with "not owner" unless this session holds
    /// `lock`.
    Assert { lock: String },
}

impl Operation {
    /// The `uuid-name` an insert gives its row, if any.
    pub fn uuid_name(&self) -> Option<&str> {
        match self {
            Operation::Insert { uuid_name: Some(n), .. } => Some(n),
            _ => None,
        }
    }

    /// The "op" name: "insert", "select", ...
    pub fn name(&self) -> &'static str {
        match self {
            Operation::Insert { .. } => "insert",
            Operation::Select { .. } => "select",
            Operation::Update { .. } => "update",
            Operation::Mutate { .. } => "mutate",
            Operation::Delete { .. } => "delete",
            Operation::Wait { .. } => "wait",
            Operation::Commit { .. } => "commit",
            Operation::Abort => "abort",
            Operation::Comment(_) => "comment",
            Operation::Assert { .. } => "assert",
        }
    }

    /// The table the operation works on, if any.
    pub fn table(&self) -> Option<&str> {
        match self {
            Operation::Insert { table, .. }
            | Operation::Select { table, .. }
            | Operation::Update { table, .. }
            | Operation::Mutate { table, .. }
            | Operation::Delete { table, .. }
            | Operation::Wait { table, .. } => Some(table),
            _ => None,
        }
    }

    /// Parses an operation object as a user wrote it. Values stay untyped.
    /// Members are required and allowed as ovsdb-server requires and allows
    /// them (RFC 7047 section 5.2).
    pub(crate) fn from_json(json: &Value) -> Result<Operation, String> {
        let obj = json.as_object().ok_or("an operation is a JSON object")?;
        let name = obj.get("op").and_then(Value::as_str).ok_or("an operation needs an \"op\" string")?;
        let allowed: &[&str] = match name {
            "insert" => &["op", "table", "row", "uuid-name", "uuid"],
            "select" => &["op", "table", "where", "columns"],
            "update" => &["op", "table", "where", "row"],
            "mutate" => &["op", "table", "where", "mutations"],
            "delete" => &["op", "table", "where"],
            "wait" => &["op", "table", "where", "columns", "until", "rows", "timeout"],
            "commit" => &["op", "durable"],
            "abort" => &["op"],
            "comment" => &["op", "comment"],
            "assert" => &["op", "lock"],
            other => return Err(format!("no operation \"{other}\"")),
        };
        if let Some(extra) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(format!("member \"{extra}\" is not allowed in {name}"));
        }
        let get = |member: &str| obj.get(member).filter(|v| !v.is_null());
        let required = |member: &str| get(member).ok_or_else(|| format!("{name} lacks \"{member}\""));
        let parse = |member: &str, v: &Value, what: &str| -> String { format!("\"{member}\" {v} is not {what}") };
        let string = |member: &str| -> Result<String, String> {
            let v = required(member)?;
            v.as_str().map(str::to_owned).ok_or_else(|| parse(member, v, "a string"))
        };
        let table = || string("table");
        let where_ = || -> Result<Vec<Condition>, String> {
            Vec::<Condition>::deserialize(required("where")?).map_err(|e| format!("\"where\": {e}"))
        };
        let row = |v: &Value| -> Result<Row, String> {
            RowSeed(None).deserialize(v).map_err(|e| format!("{v} is not a row: {e}"))
        };
        let columns = |v: &Value| -> Result<Vec<String>, String> {
            Vec::<String>::deserialize(v).map_err(|_| parse("columns", v, "an array of column names"))
        };
        Ok(match name {
            "insert" => Operation::Insert {
                table: table()?,
                row: row(required("row")?)?,
                uuid_name: get("uuid-name")
                    .map(|v| v.as_str().map(str::to_owned).ok_or_else(|| parse("uuid-name", v, "a string")))
                    .transpose()?,
                uuid: get("uuid")
                    .map(|v| v.as_str().ok_or_else(|| parse("uuid", v, "a UUID string")).and_then(parse_uuid))
                    .transpose()?,
            },
            "select" => Operation::Select {
                table: table()?,
                where_: where_()?,
                columns: get("columns").map(columns).transpose()?,
            },
            "update" => Operation::Update { table: table()?, where_: where_()?, row: row(required("row")?)? },
            "mutate" => Operation::Mutate {
                table: table()?,
                where_: where_()?,
                mutations: Vec::<Mutation>::deserialize(required("mutations")?)
                    .map_err(|e| format!("\"mutations\": {e}"))?,
            },
            "delete" => Operation::Delete { table: table()?, where_: where_()? },
            "wait" => Operation::Wait {
                table: table()?,
                where_: where_()?,
                columns: columns(required("columns")?)?,
                until: match required("until")?.as_str() {
                    Some("==") => WaitUntil::Eq,
                    Some("!=") => WaitUntil::Ne,
                    _ => return Err("\"until\" must be \"==\" or \"!=\"".into()),
                },
                rows: {
                    let v = required("rows")?;
                    v.as_array()
                        .ok_or_else(|| parse("rows", v, "an array"))?
                        .iter()
                        .map(row)
                        .collect::<Result<_, _>>()?
                },
                timeout_ms: get("timeout")
                    .map(|v| v.as_u64().ok_or_else(|| parse("timeout", v, "a number of milliseconds")))
                    .transpose()?,
            },
            "commit" => {
                let v = required("durable")?;
                Operation::Commit { durable: v.as_bool().ok_or_else(|| parse("durable", v, "a boolean"))? }
            }
            "abort" => Operation::Abort,
            "comment" => Operation::Comment(string("comment")?),
            _ => Operation::Assert { lock: string("lock")? },
        })
    }

    /// Checks the operation against `schema` as ovsdb-server parses it;
    /// `names` are the uuid-names of the transaction's inserts.
    pub(crate) fn check(&self, schema: &DatabaseSchema, names: &HashSet<&str>) -> Result<(), Fault> {
        let Some(table_name) = self.table() else { return Ok(()) };
        let table = schema.table(table_name).ok_or_else(|| Fault::syntax(format!("no table named {table_name}")))?;
        let conditions = |where_: &[Condition]| -> Result<(), Fault> {
            for c in where_ {
                c.clone().checked(table)?;
                named_uuids_defined(&c.value, names)?;
            }
            Ok(())
        };
        let known_columns = |columns: &[String]| -> Result<(), Fault> {
            match columns.iter().find(|c| table.column_type(c).is_none()) {
                Some(c) => Err(Fault::syntax(format!("{c} is not a valid column name"))),
                None => Ok(()),
            }
        };
        match self {
            Operation::Insert { row, uuid_name, .. } => {
                if let Some(n) = uuid_name {
                    if !is_id(n) {
                        return Err(Fault::syntax(format!("uuid-name \"{n}\" is not an <id>")));
                    }
                }
                if let Some(c) = row.keys().find(|c| *c == "_uuid" || *c == "_version") {
                    return Err(Fault::constraint(format!(
                        "an insert's row cannot set {c} (the server ignores it; use the insert's \"uuid\")"
                    )));
                }
                check_row(row, table, names)
            }
            Operation::Select { where_, columns, .. } => {
                conditions(where_)?;
                columns.as_deref().map_or(Ok(()), known_columns)
            }
            Operation::Update { where_, row, .. } => {
                conditions(where_)?;
                for c in row.keys() {
                    column_type(table, c)?;
                    if !is_mutable(table, c) {
                        return Err(Fault::constraint(format!(
                            "cannot update immutable column {c} in table {table_name}"
                        )));
                    }
                }
                check_row(row, table, names)
            }
            Operation::Mutate { where_, mutations, .. } => {
                conditions(where_)?;
                for m in mutations {
                    m.clone().checked(table)?;
                    named_uuids_defined(&m.value, names)?;
                }
                Ok(())
            }
            Operation::Delete { where_, .. } => conditions(where_),
            Operation::Wait { where_, columns, rows, .. } => {
                conditions(where_)?;
                known_columns(columns)?;
                rows.iter().try_for_each(|row| check_row(row, table, names))
            }
            _ => Ok(()),
        }
    }
}

/// Every column exists and its value fits its type and constraints.
fn check_row(row: &Row, table: &TableSchema, names: &HashSet<&str>) -> Result<(), Fault> {
    for (column, value) in row {
        let ty = column_type(table, column)?;
        let value = coerce(value.clone(), &ty)?;
        value.check_constraints(&ty)?;
        named_uuids_defined(&value, names)?;
    }
    Ok(())
}

/// ovsdb-server gives a named UUID that no insert defines a fresh UUID of
/// its own, so such a reference points nowhere: refuse it.
fn named_uuids_defined(value: &Datum, names: &HashSet<&str>) -> Result<(), Fault> {
    let atoms = value.all_atoms();
    for atom in atoms {
        if let Atom::NamedUuid(n) = atom {
            if !names.contains(&**n) {
                return Err(Fault {
                    kind: ErrorKind::ReferentialIntegrityViolation,
                    details: format!("named-uuid \"{n}\" is not the uuid-name of any insert of this transaction"),
                });
            }
        }
    }
    Ok(())
}

/// An `<id>` (RFC 7047 section 3.1): a letter or '_', then letters, digits
/// and '_'.
fn is_id(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Serializes a row as a JSON object.
struct RowJson<'a>(&'a Row);

impl Serialize for RowJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(name, value)| (name.as_str(), value)))
    }
}

/// Serializes rows as a JSON array of objects.
struct RowsJson<'a>(&'a [Row]);

impl Serialize for RowsJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(RowJson))
    }
}

impl Serialize for Operation {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("op", self.name())?;
        if let Some(table) = self.table() {
            m.serialize_entry("table", table)?;
        }
        match self {
            Operation::Insert { row, uuid_name, uuid, .. } => {
                m.serialize_entry("row", &RowJson(row))?;
                if let Some(n) = uuid_name {
                    m.serialize_entry("uuid-name", n)?;
                }
                if let Some(u) = uuid {
                    m.serialize_entry("uuid", u.hyphenated().encode_lower(&mut Uuid::encode_buffer()))?;
                }
            }
            Operation::Select { where_, columns, .. } => {
                m.serialize_entry("where", where_)?;
                if let Some(c) = columns {
                    m.serialize_entry("columns", c)?;
                }
            }
            Operation::Update { where_, row, .. } => {
                m.serialize_entry("where", where_)?;
                m.serialize_entry("row", &RowJson(row))?;
            }
            Operation::Mutate { where_, mutations, .. } => {
                m.serialize_entry("where", where_)?;
                m.serialize_entry("mutations", mutations)?;
            }
            Operation::Delete { where_, .. } => m.serialize_entry("where", where_)?,
            Operation::Wait { where_, columns, until, rows, timeout_ms, .. } => {
                m.serialize_entry("where", where_)?;
                m.serialize_entry("columns", columns)?;
                m.serialize_entry("until", until.as_str())?;
                m.serialize_entry("rows", &RowsJson(rows))?;
                if let Some(t) = timeout_ms {
                    m.serialize_entry("timeout", t)?;
                }
            }
            Operation::Commit { durable } => m.serialize_entry("durable", durable)?,
            Operation::Abort => {}
            Operation::Comment(text) => m.serialize_entry("comment", text)?,
            Operation::Assert { lock } => m.serialize_entry("lock", lock)?,
        }
        m.end()
    }
}

/// Deserializes a `<row>` object. With a table schema, the values of the
/// columns it declares (and `_uuid`, `_version`) are coerced to their types;
/// columns it does not know are kept untyped, so that a server with a newer
/// schema can still be read.
#[derive(Clone, Copy)]
pub struct RowSeed<'a>(pub Option<&'a TableSchema>);

impl<'de> DeserializeSeed<'de> for RowSeed<'_> {
    type Value = Row;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Row, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RowSeed<'_> {
    type Value = Row;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a row object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Row, A::Error> {
        let uuid_ty = ColumnType::scalar(AtomicType::Uuid);
        let mut row = Row::with_capacity(map.size_hint().unwrap_or(0));
        while let Some(column) = map.next_key::<TagStr<'de>>()? {
            let ty = match (self.0, &*column.0) {
                (Some(_), "_uuid" | "_version") => Some(&uuid_ty),
                (Some(t), c) => t.column(c).map(|c| &c.ty),
                (None, _) => None,
            };
            let value = match ty {
                Some(ty) => map
                    .next_value_seed(TypedDatum(ty))
                    .map_err(|e| de::Error::custom(format_args!("column {}: {e}", column.0)))?,
                None => map.next_value::<Datum>()?,
            };
            row.insert(CompactString::from(&*column.0), value);
        }
        Ok(row)
    }
}

/// Deserializes an array of `<row>` objects, as `RowSeed` does each.
#[derive(Clone, Copy)]
pub struct RowsSeed<'a>(pub Option<&'a TableSchema>);

impl<'de> DeserializeSeed<'de> for RowsSeed<'_> {
    type Value = Vec<Row>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<Row>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RowsSeed<'_> {
    type Value = Vec<Row>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of rows")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Row>, A::Error> {
        let mut rows = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(row) = seq.next_element_seed(RowSeed(self.0))? {
            rows.push(row);
        }
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn nb() -> DatabaseSchema {
        let path = format!("{}/../../schemas/ovn-nb.ovsschema", env!("CARGO_MANIFEST_DIR"));
        DatabaseSchema::from_json_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn row(pairs: &[(&str, Datum)]) -> Row {
        pairs.iter().map(|(k, v)| (CompactString::from(*k), v.clone())).collect()
    }

    fn s(x: &str) -> Datum {
        Datum::from(Atom::string(x))
    }

    #[test]
    fn serializes_the_rfc_objects_byte_exact() {
        let u = Uuid::parse_str("aaaaaaaa-0000-0000-0000-000000000001").unwrap();
        let w = || vec![Condition::eq("name", Atom::string("sw0"))];
        let cases = [
            (
                Operation::Insert {
                    table: "Logical_Switch".into(),
                    row: row(&[("name", s("sw0")), ("ports", Datum::set([Atom::named_uuid("p")]))]),
                    uuid_name: Some("sw".into()),
                    uuid: Some(u),
                },
                r#"{"op":"insert","table":"Logical_Switch","row":{"name":"sw0","ports":["named-uuid","p"]},"uuid-name":"sw","uuid":"aaaaaaaa-0000-0000-0000-000000000001"}"#,
            ),
            (
                Operation::Insert { table: "T".into(), row: Row::new(), uuid_name: None, uuid: None },
                r#"{"op":"insert","table":"T","row":{}}"#,
            ),
            (
                Operation::Select { table: "T".into(), where_: vec![], columns: None },
                r#"{"op":"select","table":"T","where":[]}"#,
            ),
            (
                Operation::Select {
                    table: "T".into(),
                    where_: w(),
                    columns: Some(vec!["name".into(), "_uuid".into()]),
                },
                r#"{"op":"select","table":"T","where":[["name","==","sw0"]],"columns":["name","_uuid"]}"#,
            ),
            (
                Operation::Update { table: "T".into(), where_: w(), row: row(&[("external_ids", Datum::empty_map())]) },
                r#"{"op":"update","table":"T","where":[["name","==","sw0"]],"row":{"external_ids":["map",[]]}}"#,
            ),
            (
                Operation::Mutate {
                    table: "T".into(),
                    where_: w(),
                    mutations: vec![Mutation::new("n", super::super::mutation::Mutator::Add, Atom::Integer(1))],
                },
                r#"{"op":"mutate","table":"T","where":[["name","==","sw0"]],"mutations":[["n","+=",1]]}"#,
            ),
            (
                Operation::Delete { table: "T".into(), where_: w() },
                r#"{"op":"delete","table":"T","where":[["name","==","sw0"]]}"#,
            ),
            (
                Operation::Wait {
                    table: "T".into(),
                    where_: w(),
                    columns: vec!["name".into()],
                    until: WaitUntil::Ne,
                    rows: vec![row(&[("name", s("sw0"))])],
                    timeout_ms: Some(0),
                },
                r#"{"op":"wait","table":"T","where":[["name","==","sw0"]],"columns":["name"],"until":"!=","rows":[{"name":"sw0"}],"timeout":0}"#,
            ),
            (
                Operation::Wait {
                    table: "T".into(),
                    where_: vec![],
                    columns: vec![],
                    until: WaitUntil::Eq,
                    rows: vec![],
                    timeout_ms: None,
                },
                r#"{"op":"wait","table":"T","where":[],"columns":[],"until":"==","rows":[]}"#,
            ),
            (Operation::Commit { durable: true }, r#"{"op":"commit","durable":true}"#),
            (Operation::Abort, r#"{"op":"abort"}"#),
            (Operation::Comment("hi \"you\"".into()), r#"{"op":"comment","comment":"hi \"you\""}"#),
            (Operation::Assert { lock: "ovn_northd".into() }, r#"{"op":"assert","lock":"ovn_northd"}"#),
        ];
        for (op, text) in cases {
            assert_eq!(serde_json::to_string(&op).unwrap(), text);
            let back = Operation::from_json(&serde_json::from_str(text).unwrap()).unwrap();
            assert_eq!(back, op, "{text} does not parse back");
        }
    }

    #[test]
    fn from_json_refuses_what_the_server_refuses() {
        for (bad, needle) in [
            (json!({"op": "frob"}), "no operation \"frob\""),
            (json!({"op": "abort", "x": 1}), "member \"x\" is not allowed in abort"),
            (json!({"op": "commit"}), "commit lacks \"durable\""),
            (json!({"op": "select", "table": "T"}), "select lacks \"where\""),
            (json!({"op": "insert", "table": "T"}), "insert lacks \"row\""),
            (
                json!({"op": "insert", "table": "T", "row": {}, "uuid": ["uuid", "aaaaaaaa-0000-0000-0000-000000000002"]}),
                "\"uuid\"",
            ),
            (json!({"op": "wait", "table": "T", "where": [], "columns": [], "until": "=", "rows": []}), "\"until\""),
            (json!({"op": "select", "table": "T", "where": [["c", "~=", 1]]}), "unknown function"),
            (json!({"op": "mutate", "table": "T", "where": [], "mutations": [["c", "frob", 1]]}), "unknown mutator"),
            (json!({"op": "update", "table": "T", "where": [], "row": [1]}), "is not a row"),
            (json!({"op": "delete", "table": 5, "where": []}), "\"table\" 5 is not a string"),
            (json!(5), "JSON object"),
        ] {
            let err = Operation::from_json(&bad).unwrap_err();
            assert!(err.contains(needle), "{bad}: {err} lacks {needle}");
        }
    }

    #[test]
    fn row_seed_types_known_columns_and_keeps_the_others() {
        let nb = nb();
        let ls = nb.table("Logical_Switch").unwrap();
        let text = r#"{"name":"sw0","ports":["uuid","aaaaaaaa-0000-0000-0000-000000000001"],"other_config":["set",[]],"future":["set",[2,1]],"_uuid":["uuid","aaaaaaaa-0000-0000-0000-000000000002"]}"#;
        let mut de = serde_json::Deserializer::from_str(text);
        let row = RowSeed(Some(ls)).deserialize(&mut de).unwrap();
        assert_eq!(row["other_config"], Datum::empty_map(), "typed: an empty set becomes a map");
        assert_eq!(row["future"].to_json(), json!(["set", [2, 1]]), "untyped, as sent");
        assert_eq!(row.keys().collect::<Vec<_>>(), ["name", "ports", "other_config", "future", "_uuid"]);
        let bad = r#"{"name":5}"#;
        let err = RowSeed(Some(ls)).deserialize(&mut serde_json::Deserializer::from_str(bad)).unwrap_err();
        assert!(err.to_string().contains("column name"), "{err}");
        assert!(RowSeed(None).deserialize(&mut serde_json::Deserializer::from_str(bad)).is_ok());
    }

    /// Each case is one ovsdb-server 3.1 refuses, with the error it sends
    /// (except the `_uuid` in an insert row, which it silently ignores).
    #[test]
    fn check_refuses_what_the_server_refuses() {
        let nb = nb();
        let names: HashSet<&str> = ["p"].into_iter().collect();
        let syntax = ErrorKind::syntax();
        let unknown = ErrorKind::Other("unknown column".into());
        let cases = [
            (json!({"op": "select", "table": "Nope", "where": []}), syntax.clone()),
            (json!({"op": "select", "table": "Logical_Switch", "where": [], "columns": ["nope"]}), syntax.clone()),
            (json!({"op": "select", "table": "Logical_Switch", "where": [["nosuch", "==", 1]]}), unknown.clone()),
            (json!({"op": "insert", "table": "Logical_Switch", "row": {"nope": 1}}), unknown.clone()),
            (json!({"op": "insert", "table": "Logical_Switch", "row": {"name": 1}}), syntax.clone()),
            (json!({"op": "insert", "table": "Logical_Switch", "row": {"other_config": ["set", []]}}), syntax.clone()),
            (json!({"op": "insert", "table": "Logical_Switch", "row": {}, "uuid-name": "bad name"}), syntax.clone()),
            (
                json!({"op": "insert", "table": "Logical_Switch", "row": {"_uuid": ["uuid", "aaaaaaaa-0000-0000-0000-000000000009"]}}),
                ErrorKind::ConstraintViolation,
            ),
            (
                json!({"op": "insert", "table": "Logical_Switch", "row": {"copp": ["set", [["uuid", "aaaaaaaa-0000-0000-0000-000000000009"], ["uuid", "aaaaaaaa-0000-0000-0000-000000000008"]]]}}),
                syntax.clone(),
            ),
            (json!({"op": "insert", "table": "ACL", "row": {"action": "bogus"}}), ErrorKind::ConstraintViolation),
            (
                json!({"op": "insert", "table": "Logical_Switch", "row": {"ports": ["named-uuid", "nope"]}}),
                ErrorKind::ReferentialIntegrityViolation,
            ),
            (
                json!({"op": "update", "table": "Logical_Switch", "where": [], "row": {"_uuid": ["uuid", "aaaaaaaa-0000-0000-0000-000000000009"]}}),
                ErrorKind::ConstraintViolation,
            ),
            (
                json!({"op": "update", "table": "Logical_Switch", "where": [], "row": {"_version": ["uuid", "aaaaaaaa-0000-0000-0000-000000000009"]}}),
                ErrorKind::ConstraintViolation,
            ),
            (json!({"op": "update", "table": "Logical_Switch", "where": [], "row": {"nope": 1}}), unknown.clone()),
            (
                json!({"op": "mutate", "table": "NB_Global", "where": [], "mutations": [["nb_cfg", "insert", 1]]}),
                syntax.clone(),
            ),
            (
                json!({"op": "mutate", "table": "NB_Global", "where": [], "mutations": [["nb_cfg", "+=", ["named-uuid", "x"]]]}),
                syntax.clone(),
            ),
            (
                json!({"op": "delete", "table": "Logical_Switch", "where": [["_uuid", "==", ["named-uuid", "q"]]]}),
                ErrorKind::ReferentialIntegrityViolation,
            ),
            (
                json!({"op": "wait", "table": "NB_Global", "where": [], "columns": ["nope"], "until": "==", "rows": []}),
                syntax.clone(),
            ),
            (
                json!({"op": "wait", "table": "NB_Global", "where": [], "columns": ["nb_cfg"], "until": "==", "rows": [{"nb_cfg": "x"}]}),
                syntax.clone(),
            ),
        ];
        for (json, kind) in cases {
            let op = Operation::from_json(&json).unwrap();
            let fault = op.check(&nb, &names).unwrap_err();
            assert_eq!(fault.kind, kind, "{json}: {}", fault.details);
        }
        for good in [
            json!({"op": "insert", "table": "Logical_Switch", "row": {"name": "sw", "ports": ["named-uuid", "p"], "other_config": ["map", []]}, "uuid-name": "_s1"}),
            json!({"op": "update", "table": "Logical_Switch", "where": [["_uuid", "==", ["named-uuid", "p"]]], "row": {"name": "x"}}),
            json!({"op": "select", "table": "Logical_Switch", "where": [], "columns": ["_uuid", "_version", "name"]}),
            json!({"op": "wait", "table": "NB_Global", "where": [], "columns": ["nb_cfg"], "until": "!=", "rows": [{"nb_cfg": 1}], "timeout": 0}),
            json!({"op": "assert", "lock": "l"}),
        ] {
            let op = Operation::from_json(&good).unwrap();
            assert_eq!(op.check(&nb, &names), Ok(()), "{good}");
        }
    }

    #[test]
    fn ids() {
        assert!(is_id("a") && is_id("_x9") && is_id("row_1"));
        assert!(!is_id("") && !is_id("9a") && !is_id("a-b") && !is_id("a b"));
    }
}
