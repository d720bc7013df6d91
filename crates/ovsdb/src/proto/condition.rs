//! Conditions (RFC 7047 section 5.1, `<condition>`): the `where` clauses of
//! select, update, mutate, delete and wait. Their JSON form
//! `[<column>, <function>, <value>]`, their check against a table schema
//! (what ovsdb-server 3.1 accepts), and their evaluation on a column's value
//! so that a replica can filter rows the way the server does.
//!
//! Never does I/O and knows nothing of how a transaction is sent.

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

use super::atom::{Atom, AtomicType};
use super::clause;
use super::datum::Datum;
use super::schema::{ColumnType, TableSchema};
use super::txn::{coerce, column_type, type_text, Fault, TxnError};

/// The functions a condition may apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    Lt,
    Le,
    Eq,
    Ne,
    Ge,
    Gt,
    Includes,
    Excludes,
}

impl Function {
    /// The name used on the wire: "<", "<=", "==", "!=", ">=", ">",
    /// "includes", "excludes".
    pub fn as_str(self) -> &'static str {
        match self {
            Function::Lt => "<",
            Function::Le => "<=",
            Function::Eq => "==",
            Function::Ne => "!=",
            Function::Ge => ">=",
            Function::Gt => ">",
            Function::Includes => "includes",
            Function::Excludes => "excludes",
        }
    }

    /// Parses a wire name.
    pub fn from_name(name: &str) -> Option<Function> {
        Some(match name {
            "<" => Function::Lt,
            "<=" => Function::Le,
            "==" => Function::Eq,
            "!=" => Function::Ne,
            ">=" => Function::Ge,
            ">" => Function::Gt,
            "includes" => Function::Includes,
            "excludes" => Function::Excludes,
            _ => return None,
        })
    }

    /// True for the four ordering functions, which apply only to integer and
    /// real columns holding at most one value.
    pub fn is_ordering(self) -> bool {
        matches!(self, Function::Lt | Function::Le | Function::Ge | Function::Gt)
    }
}

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `[column, function, value]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub column: String,
    pub function: Function,
    pub value: Datum,
}

impl Condition {
    pub fn new(column: impl Into<String>, function: Function, value: impl Into<Datum>) -> Condition {
        Condition { column: column.into(), function, value: value.into() }
    }

    /// `column == value`.
    pub fn eq(column: impl Into<String>, value: impl Into<Datum>) -> Condition {
        Condition::new(column, Function::Eq, value)
    }

    /// `column != value`.
    pub fn ne(column: impl Into<String>, value: impl Into<Datum>) -> Condition {
        Condition::new(column, Function::Ne, value)
    }

    /// `column < value`.
    pub fn lt(column: impl Into<String>, value: impl Into<Datum>) -> Condition {
        Condition::new(column, Function::Lt, value)
    }

    /// `column <= value`.
    pub fn le(column: impl Into<String>, value: impl Into<Datum>) -> Condition {
        Condition::new(column, Function::Le, value)
    }

    /// `column >= value`.
    pub fn ge(column: impl Into<String>, value: impl Into<Datum>) -> Condition {
        Condition::new(column, Function::Ge, value)
    }

    /// `column > value`.
    pub fn gt(column: impl Into<String>, value: impl Into<Datum>) -> Condition {
        Condition::new(column, Function::Gt, value)
    }

    /// The column holds every element (or key-value pair) of `value`.
    pub fn includes(column: impl Into<String>, value: impl Into<Datum>) -> Condition {
        Condition::new(column, Function::Includes, value)
    }

    /// The column holds no element (or key-value pair) of `value`.
    pub fn excludes(column: impl Into<String>, value: impl Into<Datum>) -> Condition {
        Condition::new(column, Function::Excludes, value)
    }

    /// `_uuid == uuid`: the one row with this UUID.
    pub fn row(uuid: Uuid) -> Condition {
        Condition::eq("_uuid", Atom::Uuid(uuid))
    }

    /// The UUID of a condition `row` makes (`_uuid == uuid`), else None.
    pub fn as_row(&self) -> Option<Uuid> {
        (self.column == "_uuid" && self.function == Function::Eq).then_some(())?;
        self.value.as_atom()?.as_uuid()
    }

    /// Parses a condition a user wrote, and checks and types it against
    /// `table` (see `checked`).
    pub fn parse(json: &serde_json::Value, table: &TableSchema) -> Result<Condition, TxnError> {
        let cond = Condition::deserialize(json).map_err(|e| TxnError::Malformed(format!("condition {json}: {e}")))?;
        cond.checked(table).map_err(|f| TxnError::Malformed(format!("condition {json}: {f}")))
    }

    /// Checks the condition against `table` as ovsdb-server does, and
    /// returns it with its value coerced. The column must exist (`_uuid`
    /// and `_version` do). An ordering function needs an integer or real
    /// column of at most one element and exactly one atom. "==", "!=" and
    /// "includes" take a value of the column's type; "excludes" too, with no
    /// upper bound on its size unless the column is a scalar. The value must
    /// meet the column's constraints.
    pub(crate) fn checked(self, table: &TableSchema) -> Result<Condition, Fault> {
        let ty = column_type(table, &self.column)?;
        let arg_ty = if self.function.is_ordering() {
            let numeric = matches!(ty.key.atomic, AtomicType::Integer | AtomicType::Real);
            if ty.is_map() || ty.max != Some(1) || !numeric {
                return Err(Fault::syntax(format!(
                    "type mismatch: \"{}\" may not be applied to column {} of type {}",
                    self.function,
                    self.column,
                    type_text(&ty)
                )));
            }
            ColumnType { min: 1, ..ty }
        } else if self.function == Function::Excludes && !ty.is_scalar() {
            ColumnType { max: None, ..ty }
        } else {
            ty
        };
        let value = coerce(self.value, &arg_ty)?;
        value.check_constraints(&arg_ty)?;
        Ok(Condition { value, ..self })
    }

    /// True when a row whose column holds `row_value` satisfies the
    /// condition. Both sides are expected to be coerced to the column's
    /// type. "==" and "!=" compare whole values; "includes" and "excludes"
    /// test each element of the condition's set (each pair of its map)
    /// against the row's value; an ordering function is false when either
    /// side is not a single number (an empty optional column matches none).
    pub fn matches(&self, row_value: &Datum) -> bool {
        match self.function {
            Function::Eq => same(row_value, &self.value),
            Function::Ne => !same(row_value, &self.value),
            Function::Includes => elements(&self.value).all(|e| holds(row_value, e)),
            Function::Excludes => !elements(&self.value).any(|e| holds(row_value, e)),
            f => {
                let ord = match (row_value.as_atom(), self.value.as_atom()) {
                    (Some(a), Some(b)) => compare(a, b),
                    _ => None,
                };
                match (f, ord) {
                    (_, None) => false,
                    (Function::Lt, Some(o)) => o == Ordering::Less,
                    (Function::Le, Some(o)) => o != Ordering::Greater,
                    (Function::Ge, Some(o)) => o != Ordering::Less,
                    (_, Some(o)) => o == Ordering::Greater,
                }
            }
        }
    }
}

/// Equal datums; an empty set and an empty map are the same empty value.
fn same(a: &Datum, b: &Datum) -> bool {
    a == b || (a.is_empty() && b.is_empty())
}

/// One element of a set (`value` is `None`) or one pair of a map.
type Element<'a> = (&'a Atom, Option<&'a Atom>);

fn elements(d: &Datum) -> impl Iterator<Item = Element<'_>> + '_ {
    d.atoms().iter().map(|a| (a, None)).chain(d.pairs().iter().map(|(k, v)| (k, Some(v))))
}

/// A set element is held when the set has it (or the map has it as a key);
/// a pair when the map has that key with that value.
fn holds(row_value: &Datum, (key, value): Element<'_>) -> bool {
    match value {
        None => row_value.contains(key),
        Some(v) => row_value.get(key) == Some(v),
    }
}

/// Numeric order of two numbers; `None` for a NaN or a non-number.
fn compare(a: &Atom, b: &Atom) -> Option<Ordering> {
    match (a, b) {
        (Atom::Integer(x), Atom::Integer(y)) => Some(x.cmp(y)),
        (Atom::Integer(_) | Atom::Real(_), Atom::Integer(_) | Atom::Real(_)) => a.as_real()?.partial_cmp(&b.as_real()?),
        _ => None,
    }
}

impl clause::Operator for Function {
    const KIND: &'static str = "function";
    const CLAUSE: &'static str = "condition";
    fn as_str(self) -> &'static str {
        Function::as_str(self)
    }
    fn from_name(name: &str) -> Option<Function> {
        Function::from_name(name)
    }
}

impl Serialize for Function {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Function {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Function, D::Error> {
        clause::deserialize_operator(d)
    }
}

impl Serialize for Condition {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        clause::serialize(s, &self.column, self.function, &self.value)
    }
}

impl<'de> Deserialize<'de> for Condition {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Condition, D::Error> {
        let (column, function, value) = clause::deserialize(d)?;
        Ok(Condition { column, function, value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::schema::DatabaseSchema;
    use crate::proto::txn::ErrorKind;
    use serde_json::json;

    fn nb() -> DatabaseSchema {
        let path = format!("{}/../../schemas/ovn-nb.ovsschema", env!("CARGO_MANIFEST_DIR"));
        DatabaseSchema::from_json_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn ints(v: &[i64]) -> Datum {
        Datum::set(v.iter().map(|&i| Atom::Integer(i)))
    }

    fn strs(pairs: &[(&str, &str)]) -> Datum {
        Datum::map(pairs.iter().map(|(k, v)| (Atom::string(*k), Atom::string(*v))))
    }

    #[test]
    fn a_row_condition_names_its_row() {
        let u = Uuid::from_u128(7);
        assert_eq!(Condition::row(u).as_row(), Some(u));
        assert_eq!(Condition::new("_uuid", Function::Ne, Atom::Uuid(u)).as_row(), None);
        assert_eq!(Condition::eq("ref", Atom::Uuid(u)).as_row(), None);
    }

    #[test]
    fn serializes_as_a_three_element_array() {
        let c = Condition::eq("name", Atom::string("sw0"));
        assert_eq!(serde_json::to_string(&c).unwrap(), r#"["name","==","sw0"]"#);
        let u = Uuid::parse_str("aaaaaaaa-0000-0000-0000-000000000001").unwrap();
        assert_eq!(
            serde_json::to_string(&Condition::row(u)).unwrap(),
            r#"["_uuid","==",["uuid","aaaaaaaa-0000-0000-0000-000000000001"]]"#
        );
        let c = Condition::excludes("external_ids", strs(&[("a", "1")]));
        assert_eq!(serde_json::to_string(&c).unwrap(), r#"["external_ids","excludes",["map",[["a","1"]]]]"#);
        for f in ["<", "<=", "==", "!=", ">=", ">", "includes", "excludes"] {
            let c: Condition = serde_json::from_value(json!(["c", f, 1])).unwrap();
            assert_eq!(c.function.as_str(), f);
            assert_eq!(serde_json::to_value(&c).unwrap(), json!(["c", f, 1]));
        }
    }

    #[test]
    fn rejects_malformed_conditions() {
        for bad in
            [json!(["c", "~=", 1]), json!(["c", "=="]), json!(["c", "==", 1, 2]), json!({"c": 1}), json!([1, "==", 1])]
        {
            assert!(serde_json::from_value::<Condition>(bad.clone()).is_err(), "{bad} accepted");
        }
    }

    /// The semantics of RFC 7047 section 5.1 as ovsdb-server 3.1 applies
    /// them (observed with `select` on a real server).
    #[test]
    fn matching_semantics() {
        let empty = Datum::empty_set();
        let three = ints(&[3]);
        let table: &[(Condition, &Datum, bool)] = &[
            (Condition::lt("c", Atom::Integer(5)), &three, true),
            (Condition::lt("c", Atom::Integer(3)), &three, false),
            (Condition::le("c", Atom::Integer(3)), &three, true),
            (Condition::gt("c", Atom::Integer(0)), &three, true),
            (Condition::ge("c", Atom::Integer(4)), &three, false),
            (Condition::lt("c", Atom::Integer(5)), &empty, false),
            (Condition::gt("c", Atom::Integer(0)), &empty, false),
            (Condition::lt("c", Atom::Real(3.5)), &three, true),
            (Condition::gt("c", Atom::Real(f64::NAN)), &three, false),
            (Condition::eq("c", empty.clone()), &empty, true),
            (Condition::eq("c", empty.clone()), &Datum::empty_map(), true),
            (Condition::ne("c", Atom::Integer(3)), &empty, true),
            (Condition::ne("c", Atom::Integer(3)), &three, false),
            (Condition::eq("c", ints(&[1, 2])), &ints(&[1, 2]), true),
            (Condition::eq("c", ints(&[1])), &ints(&[1, 2]), false),
            (Condition::includes("c", empty.clone()), &empty, true),
            (Condition::includes("c", empty.clone()), &three, true),
            (Condition::includes("c", ints(&[1, 2])), &ints(&[1, 2, 3]), true),
            (Condition::includes("c", ints(&[1, 4])), &ints(&[1, 2, 3]), false),
            (Condition::excludes("c", ints(&[3])), &empty, true),
            (Condition::excludes("c", ints(&[3])), &three, false),
            (Condition::excludes("c", ints(&[3, 4])), &three, false),
            (Condition::excludes("c", ints(&[4, 5])), &three, true),
            (Condition::excludes("c", empty.clone()), &three, true),
            (Condition::includes("m", strs(&[("a", "1")])), &strs(&[("a", "1"), ("b", "2")]), true),
            (Condition::includes("m", strs(&[("a", "2")])), &strs(&[("a", "1"), ("b", "2")]), false),
            (Condition::excludes("m", strs(&[("a", "2")])), &strs(&[("a", "1"), ("b", "2")]), true),
            (Condition::excludes("m", strs(&[("a", "1"), ("c", "3")])), &strs(&[("a", "1")]), false),
            (Condition::eq("m", strs(&[("a", "1")])), &strs(&[("a", "1")]), true),
        ];
        for (cond, row, want) in table {
            assert_eq!(cond.matches(row), *want, "{} on {row}", serde_json::to_string(cond).unwrap());
        }
    }

    #[test]
    fn parse_types_values_against_the_schema() {
        let nb = nb();
        let lsp = nb.table("Logical_Switch_Port").unwrap();
        let c = Condition::parse(&json!(["tag_request", "<", 5]), lsp).unwrap();
        assert_eq!(c.value, ints(&[5]));
        let c = Condition::parse(&json!(["tag_request", "excludes", ["set", [4, 3]]]), lsp).unwrap();
        assert_eq!(c.value, ints(&[3, 4]));
        let ls = nb.table("Logical_Switch").unwrap();
        let c = Condition::parse(&json!(["external_ids", "includes", ["map", [["b", "2"], ["a", "1"]]]]), ls).unwrap();
        assert_eq!(c.value, strs(&[("a", "1"), ("b", "2")]));
        let c = Condition::parse(&json!(["_uuid", "==", ["named-uuid", "x"]]), ls).unwrap();
        assert_eq!(c.value, Datum::from(Atom::named_uuid("x")));
    }

    /// Each case is one ovsdb-server 3.1 refuses, with the error it sends.
    #[test]
    fn check_refuses_what_the_server_refuses() {
        let nb = nb();
        let syntax = ErrorKind::syntax();
        let cases = [
            ("Logical_Switch", json!(["nosuch", "==", 1]), ErrorKind::Other("unknown column".into())),
            ("Logical_Switch", json!(["name", "<", "x"]), syntax.clone()),
            ("Logical_Switch", json!(["_uuid", "<", ["uuid", "aaaaaaaa-0000-0000-0000-000000000009"]]), syntax.clone()),
            ("Logical_Switch_Port", json!(["tag_request", "<", ["set", []]]), syntax.clone()),
            ("Logical_Switch_Port", json!(["tag_request", ">=", 3.5]), syntax.clone()),
            ("Logical_Switch_Port", json!(["tag_request", "==", ["set", [3, 4]]]), syntax.clone()),
            ("Logical_Switch_Port", json!(["tag_request", "includes", ["set", [3, 4]]]), syntax.clone()),
            ("Logical_Switch_Port", json!(["name", "excludes", ["set", ["e", "zz"]]]), syntax.clone()),
            ("Logical_Switch_Port", json!(["name", "==", ["set", []]]), syntax.clone()),
            ("Logical_Switch", json!(["external_ids", "includes", ["set", ["a"]]]), syntax.clone()),
            ("ACL", json!(["priority", "<", 40000]), ErrorKind::ConstraintViolation),
            ("ACL", json!(["action", "==", "bogus"]), ErrorKind::ConstraintViolation),
        ];
        for (table, json, kind) in cases {
            let cond: Condition = serde_json::from_value(json.clone()).unwrap();
            let fault = cond.checked(nb.table(table).unwrap()).unwrap_err();
            assert_eq!(fault.kind, kind, "{json}: {}", fault.details);
        }
        let err = Condition::parse(&json!(["name", "<", "x"]), nb.table("Logical_Switch").unwrap()).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"malformed: condition ["name","<","x"]: syntax error: type mismatch: "<" may not be applied to column name of type string"#
        );
    }
}
