//! Mutations (RFC 7047 section 5.1, `<mutation>`): the changes a `mutate`
//! operation applies in place, `[<column>, <mutator>, <value>]`. Their JSON
//! form and their check against a table schema (what ovsdb-server 3.1
//! accepts). The server applies them; this crate never does.
//!
//! Never does I/O and knows nothing of how a transaction is sent.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::atom::AtomicType;
use super::clause;
use super::datum::Datum;
use super::schema::{ColumnType, TableSchema};
use super::txn::{coerce, column_type, is_mutable, type_text, Fault, TxnError};

/// The mutators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mutator {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Insert,
    Delete,
}

impl Mutator {
    /// The name used on the wire: "+=", "-=", "*=", "/=", "%=", "insert",
    /// "delete".
    pub fn as_str(self) -> &'static str {
        match self {
            Mutator::Add => "+=",
            Mutator::Sub => "-=",
            Mutator::Mul => "*=",
            Mutator::Div => "/=",
            Mutator::Mod => "%=",
            Mutator::Insert => "insert",
            Mutator::Delete => "delete",
        }
    }

    /// Parses a wire name.
    pub fn from_name(name: &str) -> Option<Mutator> {
        Some(match name {
            "+=" => Mutator::Add,
            "-=" => Mutator::Sub,
            "*=" => Mutator::Mul,
            "/=" => Mutator::Div,
            "%=" => Mutator::Mod,
            "insert" => Mutator::Insert,
            "delete" => Mutator::Delete,
            _ => return None,
        })
    }

    /// True for the five arithmetic mutators.
    pub fn is_arithmetic(self) -> bool {
        !matches!(self, Mutator::Insert | Mutator::Delete)
    }
}

impl fmt::Display for Mutator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `[column, mutator, value]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Mutation {
    pub column: String,
    pub mutator: Mutator,
    pub value: Datum,
}

impl Mutation {
    pub fn new(column: impl Into<String>, mutator: Mutator, value: impl Into<Datum>) -> Mutation {
        Mutation { column: column.into(), mutator, value: value.into() }
    }

    /// Adds the elements of a set, or the pairs of a map whose keys the
    /// column lacks.
    pub fn insert(column: impl Into<String>, value: impl Into<Datum>) -> Mutation {
        Mutation::new(column, Mutator::Insert, value)
    }

    /// Removes the elements of a set; from a map, the pairs of a map given
    /// (key and value must match) or the keys of a set given.
    pub fn delete(column: impl Into<String>, value: impl Into<Datum>) -> Mutation {
        Mutation::new(column, Mutator::Delete, value)
    }

    /// Parses a mutation a user wrote, and checks and types it against
    /// `table` (see `checked`).
    pub fn parse(json: &serde_json::Value, table: &TableSchema) -> Result<Mutation, TxnError> {
        let m = Mutation::deserialize(json).map_err(|e| TxnError::Malformed(format!("mutation {json}: {e}")))?;
        m.checked(table).map_err(|f| TxnError::Malformed(format!("mutation {json}: {f}")))
    }

    /// Checks the mutation against `table` as ovsdb-server does, and returns
    /// it with its value coerced. The column must exist and be mutable
    /// (`_uuid` and `_version` are not). Arithmetic applies to integer
    /// columns and, except "%=", real ones, scalar or set but not map, and
    /// takes one atom whose constraints are not checked (only the result's
    /// are, by the server). "insert" and "delete" apply to sets and maps and
    /// take a value of the column's type of any size up to its maximum;
    /// "delete" on a map also takes a set of keys. Their values must meet
    /// the column's constraints.
    pub(crate) fn checked(self, table: &TableSchema) -> Result<Mutation, Fault> {
        let ty = column_type(table, &self.column)?;
        if !is_mutable(table, &self.column) {
            return Err(Fault::constraint(format!(
                "cannot mutate immutable column {} in table {}",
                self.column, table.name
            )));
        }
        let applies = match self.mutator {
            Mutator::Mod => !ty.is_map() && ty.key.atomic == AtomicType::Integer,
            m if m.is_arithmetic() => !ty.is_map() && matches!(ty.key.atomic, AtomicType::Integer | AtomicType::Real),
            _ => !ty.is_scalar(),
        };
        if !applies {
            return Err(Fault::syntax(format!(
                "type mismatch: \"{}\" may not be applied to column {} of type {}",
                self.mutator,
                self.column,
                type_text(&ty)
            )));
        }
        let value = if self.mutator.is_arithmetic() {
            coerce(self.value, &ColumnType::scalar(ty.key.atomic))?
        } else {
            let arg_ty = match (&self.value, self.mutator) {
                (value, Mutator::Delete) if ty.is_map() && !value.is_map() => ColumnType { value: None, min: 0, ..ty },
                _ => ColumnType { min: 0, ..ty },
            };
            let value = coerce(self.value, &arg_ty)?;
            value.check_constraints(&arg_ty)?;
            value
        };
        Ok(Mutation { value, ..self })
    }
}

impl clause::Operator for Mutator {
    const KIND: &'static str = "mutator";
    const CLAUSE: &'static str = "mutation";
    fn as_str(self) -> &'static str {
        Mutator::as_str(self)
    }
    fn from_name(name: &str) -> Option<Mutator> {
        Mutator::from_name(name)
    }
}

impl Serialize for Mutator {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Mutator {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Mutator, D::Error> {
        clause::deserialize_operator(d)
    }
}

impl Serialize for Mutation {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        clause::serialize(s, &self.column, self.mutator, &self.value)
    }
}

impl<'de> Deserialize<'de> for Mutation {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Mutation, D::Error> {
        let (column, mutator, value) = clause::deserialize(d)?;
        Ok(Mutation { column, mutator, value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::atom::Atom;
    use crate::proto::schema::DatabaseSchema;
    use crate::proto::txn::ErrorKind;
    use serde_json::json;

    fn schema(file: &str) -> DatabaseSchema {
        let path = format!("{}/../../schemas/{file}", env!("CARGO_MANIFEST_DIR"));
        DatabaseSchema::from_json_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn serializes_as_a_three_element_array() {
        let m = Mutation::new("nb_cfg", Mutator::Add, Atom::Integer(1));
        assert_eq!(serde_json::to_string(&m).unwrap(), r#"["nb_cfg","+=",1]"#);
        let m = Mutation::delete("external_ids", Datum::set([Atom::string("a")]));
        assert_eq!(serde_json::to_string(&m).unwrap(), r#"["external_ids","delete","a"]"#);
        let m = Mutation::insert("ports", Datum::set([Atom::named_uuid("p"), Atom::named_uuid("q")]));
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"["ports","insert",["set",[["named-uuid","p"],["named-uuid","q"]]]]"#
        );
        for name in ["+=", "-=", "*=", "/=", "%=", "insert", "delete"] {
            let m: Mutation = serde_json::from_value(json!(["c", name, 1])).unwrap();
            assert_eq!(m.mutator.as_str(), name);
            assert_eq!(m.mutator.is_arithmetic(), name.ends_with('='));
        }
        assert!(serde_json::from_value::<Mutation>(json!(["c", "frob", 1])).is_err());
        assert!(serde_json::from_value::<Mutation>(json!(["c", "+="])).is_err());
    }

    #[test]
    fn parse_types_values_against_the_schema() {
        let vs = schema("vswitch.ovsschema");
        let bridge = vs.table("Bridge").unwrap();
        let m = Mutation::parse(&json!(["flood_vlans", "insert", ["set", [5, 1]]]), bridge).unwrap();
        assert_eq!(m.value, Datum::set([Atom::Integer(1), Atom::Integer(5)]));
        assert!(Mutation::parse(&json!(["flood_vlans", "+=", 1]), bridge).is_ok());
        assert!(Mutation::parse(&json!(["flood_vlans", "insert", ["set", []]]), bridge).is_ok());
        let m = Mutation::parse(&json!(["external_ids", "delete", ["set", ["k"]]]), bridge).unwrap();
        assert_eq!(m.value, Datum::set([Atom::string("k")]));
        assert!(Mutation::parse(&json!(["external_ids", "delete", ["set", []]]), bridge).is_ok());
        assert!(Mutation::parse(&json!(["external_ids", "insert", ["map", [["k", "v"]]]]), bridge).is_ok());
        let iface = vs.table("Interface").unwrap();
        assert!(Mutation::parse(&json!(["link_speed", "%=", 3]), iface).is_ok());
        let nb = schema("ovn-nb.ovsschema");
        let acl = nb.table("ACL").unwrap();
        assert!(
            Mutation::parse(&json!(["priority", "-=", 40000]), acl).is_ok(),
            "arithmetic values are not range-checked"
        );
        let m = Mutation::parse(&json!(["priority", "/=", 2]), acl).unwrap();
        assert_eq!(m.value, Datum::from(Atom::Integer(2)));
    }

    /// Each case is one ovsdb-server 3.1 refuses, with the error it sends.
    #[test]
    fn check_refuses_what_the_server_refuses() {
        let vs = schema("vswitch.ovsschema");
        let nb = schema("ovn-nb.ovsschema");
        let syntax = ErrorKind::syntax();
        let cases = [
            (&vs, "Bridge", json!(["flood_vlans", "+=", ["set", [1, 2]]]), syntax.clone()),
            (&vs, "Bridge", json!(["flood_vlans", "insert", 5000]), ErrorKind::ConstraintViolation),
            (&vs, "Bridge", json!(["datapath_type", "+=", "x"]), syntax.clone()),
            (&vs, "Bridge", json!(["external_ids", "insert", ["set", ["a"]]]), syntax.clone()),
            (&vs, "Bridge", json!(["external_ids", "insert", ["set", []]]), syntax.clone()),
            (&vs, "Bridge", json!(["external_ids", "delete", ["set", [1]]]), syntax.clone()),
            (&vs, "Bridge", json!(["name", "insert", "x"]), ErrorKind::ConstraintViolation),
            (&vs, "Open_vSwitch", json!(["next_cfg", "insert", 3]), syntax.clone()),
            (&nb, "NB_Global", json!(["nb_cfg", "*=", 1.5]), syntax.clone()),
            (&nb, "NB_Global", json!(["nb_cfg", "insert", 1]), syntax.clone()),
            (&nb, "NB_Global", json!(["external_ids", "+=", 1]), syntax.clone()),
            (
                &nb,
                "Logical_Switch",
                json!(["_uuid", "insert", ["uuid", "aaaaaaaa-0000-0000-0000-000000000009"]]),
                ErrorKind::ConstraintViolation,
            ),
            (&nb, "Logical_Switch", json!(["_version", "+=", 1]), ErrorKind::ConstraintViolation),
            (&nb, "Logical_Switch", json!(["nope", "+=", 1]), ErrorKind::Other("unknown column".into())),
            (&nb, "Logical_Switch_Port", json!(["tag_request", "insert", ["set", [1, 2]]]), syntax.clone()),
            (&nb, "ACL", json!(["action", "insert", "bogus"]), syntax.clone()),
        ];
        for (schema, table, json, kind) in cases {
            let m: Mutation = serde_json::from_value(json.clone()).unwrap();
            let fault = m.checked(schema.table(table).unwrap()).unwrap_err();
            assert_eq!(fault.kind, kind, "{json}: {}", fault.details);
        }
        let err = Mutation::parse(&json!(["name", "insert", "x"]), vs.table("Bridge").unwrap()).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"malformed: mutation ["name","insert","x"]: constraint violation: cannot mutate immutable column name in table Bridge"#
        );
    }
}
