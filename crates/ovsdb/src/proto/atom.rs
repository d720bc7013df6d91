//! OVSDB atoms (RFC 7047 section 5.1): the scalar values every datum is made of,
//! with a total order (sets and maps are kept sorted by it) and their JSON forms.
//!
//! Deserialization here is untyped: a JSON number with a fraction or exponent
//! becomes a `Real`, any other number an `Integer`. `Datum::coerce` settles an
//! atom against its column type afterwards.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

use compact_str::CompactString;
use serde::de::{self, SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// The five atomic types of OVSDB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AtomicType {
    Integer,
    Real,
    Boolean,
    String,
    Uuid,
}

impl AtomicType {
    /// The name used in schemas and error messages.
    pub fn name(self) -> &'static str {
        match self {
            AtomicType::Integer => "integer",
            AtomicType::Real => "real",
            AtomicType::Boolean => "boolean",
            AtomicType::String => "string",
            AtomicType::Uuid => "uuid",
        }
    }

    /// Parses a schema's type name.
    pub fn from_name(name: &str) -> Option<AtomicType> {
        Some(match name {
            "integer" => AtomicType::Integer,
            "real" => AtomicType::Real,
            "boolean" => AtomicType::Boolean,
            "string" => AtomicType::String,
            "uuid" => AtomicType::Uuid,
            _ => return None,
        })
    }

    /// The default atom of this type (RFC 7047 section 5.2: 0, 0.0, false, "",
    /// and the all-zero UUID).
    pub fn default_atom(self) -> Atom {
        match self {
            AtomicType::Integer => Atom::Integer(0),
            AtomicType::Real => Atom::Real(0.0),
            AtomicType::Boolean => Atom::Boolean(false),
            AtomicType::String => Atom::String(CompactString::const_new("")),
            AtomicType::Uuid => Atom::Uuid(Uuid::nil()),
        }
    }
}

impl fmt::Display for AtomicType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One OVSDB value. `NamedUuid` exists only inside a transaction, where it
/// names a row inserted by the same transaction (`["named-uuid", "name"]`).
///
/// A string of up to 24 bytes is stored inline, without a heap allocation
/// (most names, keys and values of `external_ids`); the atom stays 24 bytes.
#[derive(Debug, Clone)]
pub enum Atom {
    Integer(i64),
    Real(f64),
    Boolean(bool),
    String(CompactString),
    Uuid(Uuid),
    NamedUuid(Box<str>),
}

impl Atom {
    /// A string atom, inline when it fits, else without spare capacity.
    pub fn string(s: impl Into<CompactString>) -> Atom {
        let mut s = s.into();
        s.shrink_to_fit();
        Atom::String(s)
    }

    /// A reference to a row inserted by the same transaction.
    pub fn named_uuid(s: impl Into<Box<str>>) -> Atom {
        Atom::NamedUuid(s.into())
    }

    /// The atomic type; a named UUID is of type `uuid`.
    pub fn atomic_type(&self) -> AtomicType {
        match self {
            Atom::Integer(_) => AtomicType::Integer,
            Atom::Real(_) => AtomicType::Real,
            Atom::Boolean(_) => AtomicType::Boolean,
            Atom::String(_) => AtomicType::String,
            Atom::Uuid(_) | Atom::NamedUuid(_) => AtomicType::Uuid,
        }
    }

    pub fn as_integer(&self) -> Option<i64> {
        match self {
            Atom::Integer(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_real(&self) -> Option<f64> {
        match self {
            Atom::Real(r) => Some(*r),
            Atom::Integer(i) => Some(*i as f64),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Atom::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Atom::String(s) => Some(s.as_str()),
            _ => None,
        }
    }

    pub fn as_uuid(&self) -> Option<Uuid> {
        match self {
            Atom::Uuid(u) => Some(*u),
            _ => None,
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Atom::Integer(_) => 0,
            Atom::Real(_) => 1,
            Atom::Boolean(_) => 2,
            Atom::String(_) => 3,
            Atom::Uuid(_) => 4,
            Atom::NamedUuid(_) => 5,
        }
    }
}

impl From<i64> for Atom {
    fn from(v: i64) -> Atom {
        Atom::Integer(v)
    }
}
impl From<f64> for Atom {
    fn from(v: f64) -> Atom {
        Atom::Real(v)
    }
}
impl From<bool> for Atom {
    fn from(v: bool) -> Atom {
        Atom::Boolean(v)
    }
}
impl From<&str> for Atom {
    fn from(v: &str) -> Atom {
        Atom::string(v)
    }
}
impl From<String> for Atom {
    fn from(v: String) -> Atom {
        Atom::string(v)
    }
}
impl From<Uuid> for Atom {
    fn from(v: Uuid) -> Atom {
        Atom::Uuid(v)
    }
}

/// Atoms of one type order as OVSDB orders them (numbers numerically, strings
/// bytewise, UUIDs by their bytes); atoms of different types order by type.
impl Ord for Atom {
    fn cmp(&self, other: &Atom) -> Ordering {
        match (self, other) {
            (Atom::Integer(a), Atom::Integer(b)) => a.cmp(b),
            (Atom::Real(a), Atom::Real(b)) => a.total_cmp(b),
            (Atom::Boolean(a), Atom::Boolean(b)) => a.cmp(b),
            (Atom::String(a), Atom::String(b)) => a.as_str().cmp(b.as_str()),
            (Atom::Uuid(a), Atom::Uuid(b)) => a.cmp(b),
            (Atom::NamedUuid(a), Atom::NamedUuid(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for Atom {
    fn partial_cmp(&self, other: &Atom) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Atom {
    fn eq(&self, other: &Atom) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Atom {}

impl Hash for Atom {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.rank().hash(state);
        match self {
            Atom::Integer(i) => i.hash(state),
            Atom::Real(r) => r.to_bits().hash(state),
            Atom::Boolean(b) => b.hash(state),
            Atom::String(s) => s.as_str().hash(state),
            Atom::NamedUuid(s) => s.hash(state),
            Atom::Uuid(u) => u.hash(state),
        }
    }
}

/// The human form `ovsdb-client` and `ovn-nbctl` print: strings quoted only
/// where needed is a presentation concern left to callers; here strings are
/// printed JSON-quoted, everything else bare.
impl fmt::Display for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Atom::Integer(i) => write!(f, "{i}"),
            Atom::Real(r) => write!(f, "{r}"),
            Atom::Boolean(b) => write!(f, "{b}"),
            Atom::String(s) => write!(f, "{}", serde_json::Value::from(s.as_str())),
            Atom::Uuid(u) => write!(f, "{u}"),
            Atom::NamedUuid(n) => write!(f, "@{n}"),
        }
    }
}

impl Serialize for Atom {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Atom::Integer(i) => s.serialize_i64(*i),
            Atom::Real(r) => s.serialize_f64(*r),
            Atom::Boolean(b) => s.serialize_bool(*b),
            Atom::String(v) => s.serialize_str(v.as_str()),
            Atom::Uuid(u) => {
                let mut seq = s.serialize_seq(Some(2))?;
                seq.serialize_element("uuid")?;
                seq.serialize_element(u.hyphenated().encode_lower(&mut Uuid::encode_buffer()))?;
                seq.end()
            }
            Atom::NamedUuid(n) => {
                let mut seq = s.serialize_seq(Some(2))?;
                seq.serialize_element("named-uuid")?;
                seq.serialize_element(&**n)?;
                seq.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Atom {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Atom, D::Error> {
        d.deserialize_any(AtomVisitor)
    }
}

pub(crate) struct AtomVisitor;

impl<'de> Visitor<'de> for AtomVisitor {
    type Value = Atom;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an OVSDB atom")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Atom, E> {
        Ok(Atom::Integer(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Atom, E> {
        i64::try_from(v).map(Atom::Integer).map_err(|_| E::custom(format_args!("integer {v} out of range")))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Atom, E> {
        Ok(Atom::Real(v))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Atom, E> {
        Ok(Atom::Boolean(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Atom, E> {
        Ok(Atom::String(CompactString::new(v)))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Atom, E> {
        Ok(Atom::string(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Atom, A::Error> {
        let tag: TagStr<'de> =
            seq.next_element()?.ok_or_else(|| de::Error::custom("empty array is not an OVSDB atom"))?;
        let atom = match &*tag.0 {
            "uuid" => {
                let s: TagStr<'de> =
                    seq.next_element()?.ok_or_else(|| de::Error::custom("[\"uuid\"] lacks its value"))?;
                Atom::Uuid(parse_uuid(&s.0).map_err(de::Error::custom)?)
            }
            "named-uuid" => {
                let s: TagStr<'de> =
                    seq.next_element()?.ok_or_else(|| de::Error::custom("[\"named-uuid\"] lacks its name"))?;
                Atom::NamedUuid(s.0.into())
            }
            other => return Err(de::Error::custom(format_args!("[\"{other}\", ...] is not an OVSDB atom"))),
        };
        if seq.next_element::<de::IgnoredAny>()?.is_some() {
            return Err(de::Error::custom("an atom array has exactly two elements"));
        }
        Ok(atom)
    }
}

/// A UUID in OVSDB's text form: 36 characters, hyphenated.
pub fn parse_uuid(s: &str) -> Result<Uuid, String> {
    if s.len() != 36 {
        return Err(format!("\"{s}\" is not a valid UUID"));
    }
    Uuid::try_parse(s).map_err(|_| format!("\"{s}\" is not a valid UUID"))
}

/// A string borrowed from the input where it has no escapes.
pub(crate) struct TagStr<'de>(pub std::borrow::Cow<'de, str>);

impl<'de> Deserialize<'de> for TagStr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TagStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(TagStr(v.into()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(TagStr(v.to_owned().into()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(TagStr(v.into()))
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_forms_round_trip() {
        let u = Uuid::parse_str("550e8400-e29b-41d4-a716-446655440000").unwrap();
        for (atom, json) in [
            (Atom::Integer(-5), "-5"),
            (Atom::Real(1.5), "1.5"),
            (Atom::Boolean(true), "true"),
            (Atom::string("a\"b"), r#""a\"b""#),
            (Atom::Uuid(u), r#"["uuid","550e8400-e29b-41d4-a716-446655440000"]"#),
            (Atom::named_uuid("row1"), r#"["named-uuid","row1"]"#),
        ] {
            assert_eq!(serde_json::to_string(&atom).unwrap(), json);
            assert_eq!(serde_json::from_str::<Atom>(json).unwrap(), atom);
        }
    }

    #[test]
    fn rejects_malformed_atoms() {
        for bad in [
            "[]",
            r#"["uuid"]"#,
            r#"["uuid","nope"]"#,
            r#"["set",[]]"#,
            r#"["uuid","550e8400-e29b-41d4-a716-446655440000",1]"#,
            "null",
            "{}",
            "18446744073709551615",
        ] {
            assert!(serde_json::from_str::<Atom>(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn orders_within_and_across_types() {
        assert!(Atom::Integer(-1) < Atom::Integer(2));
        assert!(Atom::string("a") < Atom::string("b"));
        assert!(Atom::Real(f64::NAN) == Atom::Real(f64::NAN));
        assert!(Atom::Integer(5) < Atom::string(""));
    }
}
