//! OVSDB datums (RFC 7047 section 5.1): the value of one column, a set of
//! atoms or a map from atoms to atoms, always kept sorted with unique keys.
//!
//! JSON comes in untyped (`Deserialize`) and is settled against a
//! `ColumnType` by `Datum::coerce`, which is where type, count and duplicate
//! errors are found. `Datum::check_constraints` checks enums, ranges, lengths.

use std::fmt;

use serde::de::{self, DeserializeSeed, SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use smallvec::SmallVec;

use super::atom::{Atom, AtomVisitor, AtomicType, TagStr};
use super::schema::{BaseType, ColumnType};
use crate::error::DatumError;

/// The value of one column. Sets hold one atom inline, so scalar columns do
/// not allocate beyond their atom.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Datum {
    Set(SmallVec<[Atom; 1]>),
    Map(Vec<(Atom, Atom)>),
}

impl Default for Datum {
    fn default() -> Datum {
        Datum::empty_set()
    }
}

impl From<Atom> for Datum {
    fn from(a: Atom) -> Datum {
        let mut v = SmallVec::new();
        v.push(a);
        Datum::Set(v)
    }
}

impl Datum {
    pub fn empty_set() -> Datum {
        Datum::Set(SmallVec::new())
    }

    pub fn empty_map() -> Datum {
        Datum::Map(Vec::new())
    }

    /// A set from atoms in any order; duplicates collapse.
    pub fn set(atoms: impl IntoIterator<Item = Atom>) -> Datum {
        let mut v: SmallVec<[Atom; 1]> = atoms.into_iter().collect();
        v.sort();
        v.dedup();
        Datum::Set(v)
    }

    /// A map from pairs in any order; for a repeated key the last pair wins.
    pub fn map(pairs: impl IntoIterator<Item = (Atom, Atom)>) -> Datum {
        let mut v: Vec<(Atom, Atom)> = pairs.into_iter().collect();
        v.reverse();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v.dedup_by(|a, b| a.0 == b.0);
        Datum::Map(v)
    }

    /// Number of elements (atoms of a set, pairs of a map).
    pub fn len(&self) -> usize {
        match self {
            Datum::Set(s) => s.len(),
            Datum::Map(m) => m.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The atoms of a set, or the keys of a map, in order.
    pub fn keys(&self) -> impl Iterator<Item = &Atom> + '_ {
        let (set, map) = match self {
            Datum::Set(s) => (Some(s.iter()), None),
            Datum::Map(m) => (None, Some(m.iter().map(|(k, _)| k))),
        };
        set.into_iter().flatten().chain(map.into_iter().flatten())
    }

    /// The atoms of a set, or the keys of a map.
    pub fn into_keys(self) -> Vec<Atom> {
        match self {
            Datum::Set(s) => s.into_vec(),
            Datum::Map(m) => m.into_iter().map(|(k, _)| k).collect(),
        }
    }

    /// The pairs of a map; empty for a set.
    pub fn pairs(&self) -> &[(Atom, Atom)] {
        match self {
            Datum::Map(m) => m,
            Datum::Set(_) => &[],
        }
    }

    /// The one atom of a scalar or optional column holding a value.
    pub fn as_atom(&self) -> Option<&Atom> {
        match self {
            Datum::Set(s) if s.len() == 1 => Some(&s[0]),
            _ => None,
        }
    }

    /// True when a set holds `atom`, or a map has it as a key.
    pub fn contains(&self, atom: &Atom) -> bool {
        match self {
            Datum::Set(s) => s.binary_search(atom).is_ok(),
            Datum::Map(m) => m.binary_search_by(|(k, _)| k.cmp(atom)).is_ok(),
        }
    }

    /// The value of `key` in a map.
    pub fn get(&self, key: &Atom) -> Option<&Atom> {
        match self {
            Datum::Map(m) => m.binary_search_by(|(k, _)| k.cmp(key)).ok().map(|i| &m[i].1),
            Datum::Set(_) => None,
        }
    }

    /// Parses the JSON form of a value of column type `ty`.
    pub fn from_json(value: &serde_json::Value, ty: &ColumnType) -> Result<Datum, DatumError> {
        Datum::deserialize(value).map_err(|e| DatumError::Json(e.to_string()))?.coerce(ty)
    }

    /// The JSON form.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("a datum always serializes")
    }

    /// Settles an untyped datum against its column type: numbers are made
    /// the column's number type, an empty set becomes an empty map for a map
    /// column, elements are sorted; wrong types, duplicates and a wrong count
    /// are errors. Named UUIDs pass as UUIDs (transactions use them).
    pub fn coerce(self, ty: &ColumnType) -> Result<Datum, DatumError> {
        let datum = match (self, &ty.value) {
            (Datum::Set(atoms), None) => {
                let mut atoms = atoms;
                for a in atoms.iter_mut() {
                    coerce_atom(a, &ty.key)?;
                }
                if !is_strictly_sorted(atoms.iter()) {
                    atoms.sort();
                    if let Some(w) = atoms.windows(2).find(|w| w[0] == w[1]) {
                        return Err(DatumError::Duplicate(w[0].to_string()));
                    }
                }
                Datum::Set(atoms)
            }
            (Datum::Set(atoms), Some(_)) if atoms.is_empty() => Datum::Map(Vec::new()),
            (Datum::Map(mut pairs), Some(vty)) => {
                for (k, v) in pairs.iter_mut() {
                    coerce_atom(k, &ty.key)?;
                    coerce_atom(v, vty)?;
                }
                if !is_strictly_sorted(pairs.iter().map(|(k, _)| k)) {
                    pairs.sort_by(|a, b| a.0.cmp(&b.0));
                    if let Some(w) = pairs.windows(2).find(|w| w[0].0 == w[1].0) {
                        return Err(DatumError::Duplicate(w[0].0.to_string()));
                    }
                }
                Datum::Map(pairs)
            }
            (Datum::Set(_), Some(_)) => return Err(DatumError::Type { expected: "map".into(), found: "set".into() }),
            (Datum::Map(_), None) => {
                return Err(DatumError::Type { expected: "set or atom".into(), found: "map".into() })
            }
        };
        let n = datum.len();
        if n < ty.min || ty.max.is_some_and(|m| n > m) {
            return Err(DatumError::Count {
                n,
                min: ty.min,
                max: ty.max.map_or_else(|| "unlimited".to_string(), |m| m.to_string()),
            });
        }
        Ok(datum)
    }

    /// Checks enums, integer and real ranges, and string lengths.
    pub fn check_constraints(&self, ty: &ColumnType) -> Result<(), DatumError> {
        match self {
            Datum::Set(s) => s.iter().try_for_each(|a| check_atom(a, &ty.key)),
            Datum::Map(m) => m.iter().try_for_each(|(k, v)| {
                check_atom(k, &ty.key)?;
                ty.value.as_ref().map_or(Ok(()), |vt| check_atom(v, vt))
            }),
        }
    }

    /// Applies an update2 `modify` diff (`man 7 ovsdb-server`): a column
    /// holding at most one value (scalar, optional, or a map of at most one
    /// pair) takes the new value, as ovsdb-server sends it; a set toggles
    /// each element; a map adds a missing key, removes a key given with its
    /// current value, and replaces the value of a key given with another.
    pub fn apply_diff(&mut self, diff: Datum, ty: &ColumnType) {
        if ty.max == Some(1) {
            *self = diff;
            return;
        }
        match (self, diff) {
            (Datum::Set(cur), Datum::Set(d)) => {
                let mut out: SmallVec<[Atom; 1]> = SmallVec::with_capacity(cur.len() + d.len());
                let mut a = std::mem::take(cur).into_iter().peekable();
                let mut b = d.into_iter().peekable();
                loop {
                    match (a.peek(), b.peek()) {
                        (Some(x), Some(y)) => match x.cmp(y) {
                            std::cmp::Ordering::Less => out.push(a.next().unwrap()),
                            std::cmp::Ordering::Greater => out.push(b.next().unwrap()),
                            std::cmp::Ordering::Equal => {
                                a.next();
                                b.next();
                            }
                        },
                        (Some(_), None) => out.push(a.next().unwrap()),
                        (None, Some(_)) => out.push(b.next().unwrap()),
                        (None, None) => break,
                    }
                }
                *cur = out;
            }
            (Datum::Map(cur), Datum::Map(d)) => {
                for (k, v) in d {
                    match cur.binary_search_by(|(ck, _)| ck.cmp(&k)) {
                        Ok(i) if cur[i].1 == v => {
                            cur.remove(i);
                        }
                        Ok(i) => cur[i].1 = v,
                        Err(i) => cur.insert(i, (k, v)),
                    }
                }
            }
            (cur, diff) => *cur = diff,
        }
    }
}

fn is_strictly_sorted<'a>(mut it: impl Iterator<Item = &'a Atom>) -> bool {
    let Some(mut prev) = it.next() else { return true };
    for a in it {
        if prev >= a {
            return false;
        }
        prev = a;
    }
    true
}

fn coerce_atom(atom: &mut Atom, base: &BaseType) -> Result<(), DatumError> {
    match (base.atomic, &*atom) {
        (AtomicType::Real, Atom::Integer(i)) => {
            *atom = Atom::Real(*i as f64);
            Ok(())
        }
        (want, a) if a.atomic_type() == want => Ok(()),
        (want, a) => Err(DatumError::Type { expected: want.name().into(), found: a.atomic_type().name().into() }),
    }
}

fn check_atom(atom: &Atom, base: &BaseType) -> Result<(), DatumError> {
    if let Some(allowed) = &base.enumeration {
        if allowed.binary_search(atom).is_err() {
            let list: Vec<String> = allowed.iter().map(|a| a.to_string()).collect();
            return Err(DatumError::Constraint(format!(
                "{atom} is not one of the allowed values ({})",
                list.join(", ")
            )));
        }
    }
    match atom {
        Atom::Integer(i) => {
            if base.min_integer.is_some_and(|m| *i < m) || base.max_integer.is_some_and(|m| *i > m) {
                return Err(DatumError::Constraint(format!(
                    "{i} is not in the range {}",
                    range_text(base.min_integer, base.max_integer)
                )));
            }
        }
        Atom::Real(r) => {
            if base.min_real.is_some_and(|m| *r < m) || base.max_real.is_some_and(|m| *r > m) {
                return Err(DatumError::Constraint(format!(
                    "{r} is not in the range {}",
                    range_text(base.min_real, base.max_real)
                )));
            }
        }
        Atom::String(s) => {
            let n = s.chars().count();
            if base.min_length.is_some_and(|m| n < m) || base.max_length.is_some_and(|m| n > m) {
                return Err(DatumError::Constraint(format!(
                    "{atom} length {n} is not in the range {}",
                    range_text(base.min_length, base.max_length)
                )));
            }
        }
        _ => {}
    }
    Ok(())
}

fn range_text<T: fmt::Display>(min: Option<T>, max: Option<T>) -> String {
    let show = |v: Option<T>, inf: &str| v.map_or_else(|| inf.to_string(), |v| v.to_string());
    format!("[{}, {}]", show(min, "-inf"), show(max, "inf"))
}

impl Serialize for Datum {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Pair<'a>(&'a Atom, &'a Atom);
        impl Serialize for Pair<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut seq = s.serialize_seq(Some(2))?;
                seq.serialize_element(self.0)?;
                seq.serialize_element(self.1)?;
                seq.end()
            }
        }
        struct Pairs<'a>(&'a [(Atom, Atom)]);
        impl Serialize for Pairs<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_seq(self.0.iter().map(|(k, v)| Pair(k, v)))
            }
        }
        match self {
            Datum::Set(atoms) if atoms.len() == 1 => atoms[0].serialize(s),
            Datum::Set(atoms) => {
                let mut seq = s.serialize_seq(Some(2))?;
                seq.serialize_element("set")?;
                seq.serialize_element(atoms.as_slice())?;
                seq.end()
            }
            Datum::Map(pairs) => {
                let mut seq = s.serialize_seq(Some(2))?;
                seq.serialize_element("map")?;
                seq.serialize_element(&Pairs(pairs))?;
                seq.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Datum {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Datum, D::Error> {
        d.deserialize_any(DatumVisitor)
    }
}

struct DatumVisitor;

impl<'de> Visitor<'de> for DatumVisitor {
    type Value = Datum;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an OVSDB datum")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Datum, E> {
        AtomVisitor.visit_i64(v).map(Datum::from)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Datum, E> {
        AtomVisitor.visit_u64(v).map(Datum::from)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Datum, E> {
        AtomVisitor.visit_f64(v).map(Datum::from)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Datum, E> {
        AtomVisitor.visit_bool(v).map(Datum::from)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Datum, E> {
        AtomVisitor.visit_str(v).map(Datum::from)
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Datum, E> {
        AtomVisitor.visit_string(v).map(Datum::from)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Datum, A::Error> {
        let tag: TagStr<'de> =
            seq.next_element()?.ok_or_else(|| de::Error::custom("empty array is not an OVSDB datum"))?;
        let datum = match &*tag.0 {
            "set" => {
                let atoms: SmallVec<[Atom; 1]> =
                    seq.next_element()?.ok_or_else(|| de::Error::custom("[\"set\"] lacks its elements"))?;
                Datum::Set(atoms)
            }
            "map" => {
                let pairs: Vec<(Atom, Atom)> =
                    seq.next_element()?.ok_or_else(|| de::Error::custom("[\"map\"] lacks its pairs"))?;
                Datum::Map(pairs)
            }
            "uuid" | "named-uuid" => {
                let value: TagStr<'de> =
                    seq.next_element()?.ok_or_else(|| de::Error::custom("a UUID atom lacks its value"))?;
                let atom = if &*tag.0 == "uuid" {
                    Atom::Uuid(super::atom::parse_uuid(&value.0).map_err(de::Error::custom)?)
                } else {
                    Atom::NamedUuid(value.0.into())
                };
                Datum::from(atom)
            }
            other => return Err(de::Error::custom(format_args!("[\"{other}\", ...] is not an OVSDB datum"))),
        };
        if seq.next_element::<de::IgnoredAny>()?.is_some() {
            return Err(de::Error::custom("a datum array has exactly two elements"));
        }
        Ok(datum)
    }
}

/// Deserializes a datum and coerces it to a column type in one step; used
/// where a schema is at hand while decoding.
pub struct TypedDatum<'a>(pub &'a ColumnType);

impl<'de> DeserializeSeed<'de> for TypedDatum<'_> {
    type Value = Datum;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Datum, D::Error> {
        Datum::deserialize(d)?.coerce(self.0).map_err(de::Error::custom)
    }
}

impl fmt::Display for Datum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&serde_json::to_string(self).map_err(|_| fmt::Error)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::schema::parse_column_type;
    use serde_json::json;

    fn ty(j: serde_json::Value) -> ColumnType {
        parse_column_type(&j, "t").unwrap()
    }

    #[test]
    fn json_forms() {
        let set_ty = ty(json!({"key": "integer", "min": 0, "max": "unlimited"}));
        let d = Datum::from_json(&json!(["set", [3, 1, 2]]), &set_ty).unwrap();
        assert_eq!(d.to_json(), json!(["set", [1, 2, 3]]));
        let one = Datum::from_json(&json!(["set", [7]]), &set_ty).unwrap();
        assert_eq!(one.to_json(), json!(7));
        let map_ty = ty(json!({"key": "string", "value": "string", "min": 0, "max": "unlimited"}));
        let m = Datum::from_json(&json!(["map", [["b", "2"], ["a", "1"]]]), &map_ty).unwrap();
        assert_eq!(m.to_json(), json!(["map", [["a", "1"], ["b", "2"]]]));
        assert_eq!(Datum::from_json(&json!(["set", []]), &map_ty).unwrap(), Datum::empty_map());
        let real = ty(json!("real"));
        assert_eq!(Datum::from_json(&json!(2), &real).unwrap(), Datum::from(Atom::Real(2.0)));
    }

    #[test]
    fn type_errors() {
        let scalar = ty(json!("integer"));
        let cases = [
            (json!("x"), &scalar, "expected integer"),
            (json!(["set", []]), &scalar, "0 elements"),
            (json!(["set", [1, 2]]), &scalar, "2 elements"),
            (json!(["map", []]), &scalar, "expected set or atom"),
        ];
        for (v, t, needle) in cases {
            let e = Datum::from_json(&v, t).unwrap_err().to_string();
            assert!(e.contains(needle), "{e} lacks {needle}");
        }
        let set_ty = ty(json!({"key": "string", "min": 0, "max": "unlimited"}));
        let e = Datum::from_json(&json!(["set", ["a", "a"]]), &set_ty).unwrap_err();
        assert!(matches!(e, DatumError::Duplicate(_)));
    }

    #[test]
    fn constraints() {
        let t = ty(json!({"key": {"type": "integer", "minInteger": 1, "maxInteger": 4095}, "min": 0, "max": 1}));
        assert!(Datum::from(Atom::Integer(4095)).check_constraints(&t).is_ok());
        let e = Datum::from(Atom::Integer(4096)).check_constraints(&t).unwrap_err().to_string();
        assert!(e.contains("[1, 4095]"), "{e}");
        let t = ty(json!({"key": {"type": "string", "enum": ["set", ["allow", "drop"]]}}));
        assert!(Datum::from(Atom::string("drop")).check_constraints(&t).is_ok());
        assert!(Datum::from(Atom::string("reject")).check_constraints(&t).is_err());
        let t = ty(json!({"key": {"type": "string", "maxLength": 2}}));
        assert!(Datum::from(Atom::string("héé")).check_constraints(&t).is_err());
        assert!(Datum::from(Atom::string("hé")).check_constraints(&t).is_ok());
    }

    #[test]
    fn update2_diffs() {
        let set_ty = ty(json!({"key": "integer", "min": 0, "max": "unlimited"}));
        let mut d = Datum::set([1, 2, 3].map(Atom::Integer));
        d.apply_diff(Datum::set([2, 4].map(Atom::Integer)), &set_ty);
        assert_eq!(d, Datum::set([1, 3, 4].map(Atom::Integer)));
        let map_ty = ty(json!({"key": "string", "value": "string", "min": 0, "max": "unlimited"}));
        let s = |x: &str| Atom::string(x);
        let mut m = Datum::map([(s("a"), s("1")), (s("b"), s("2"))]);
        m.apply_diff(Datum::map([(s("a"), s("1")), (s("b"), s("3")), (s("c"), s("4"))]), &map_ty);
        assert_eq!(m, Datum::map([(s("b"), s("3")), (s("c"), s("4"))]));
        let scalar = ty(json!("string"));
        let mut x = Datum::from(s("old"));
        x.apply_diff(Datum::from(s("new")), &scalar);
        assert_eq!(x, Datum::from(s("new")));
        // An optional column: ovsdb-server 3.1 sends the new value (tag 5 -> 7 as 7, 7 -> none as []).
        let optional = ty(json!({"key": "integer", "min": 0, "max": 1}));
        let mut tag = Datum::from(Atom::Integer(5));
        tag.apply_diff(Datum::from(Atom::Integer(7)), &optional);
        assert_eq!(tag, Datum::from(Atom::Integer(7)));
        tag.apply_diff(Datum::empty_set(), &optional);
        assert_eq!(tag, Datum::empty_set());
    }
}
