//! OVSDB datums (RFC 7047 section 5.1): the value of one column, a set of
//! atoms or a map from atoms to atoms, always kept sorted with unique keys.
//!
//! JSON comes in untyped (`Deserialize`) and is settled against a
//! `ColumnType` by `Datum::coerce`, which is where type, count and duplicate
//! errors are found. `Datum::check_constraints` checks enums, ranges, lengths.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

use serde::de::{self, DeserializeSeed, SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::atom::{Atom, AtomVisitor, AtomicType, TagStr};
use super::schema::{BaseType, ColumnType};
use crate::error::DatumError;

/// The value of one column: a set of atoms or a map, read through its
/// methods (`atoms`, `pairs`, `keys`, `get`, ...).
///
/// As small as one atom (24 bytes): a set of exactly one atom (a scalar
/// column, or an optional one holding a value) is stored inline; other sets
/// and maps are exact-size boxed slices, and an empty one does not allocate.
#[derive(Clone)]
pub struct Datum(Repr);

/// Invariant: `Set` never holds exactly one atom (that is `One`), so every
/// value has a single representation.
#[derive(Clone)]
enum Repr {
    One(Atom),
    Set(Box<[Atom]>),
    Map(Box<[(Atom, Atom)]>),
}

/// A datum as RFC 7047 sees it. Comparison, hashing and `Debug` go through
/// this view: a set orders as its sequence of atoms, a map as its sequence of
/// pairs, and every set before every map.
#[derive(Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum View<'a> {
    Set(&'a [Atom]),
    Map(&'a [(Atom, Atom)]),
}

impl Default for Datum {
    fn default() -> Datum {
        Datum::empty_set()
    }
}

impl From<Atom> for Datum {
    fn from(a: Atom) -> Datum {
        Datum(Repr::One(a))
    }
}

impl PartialEq for Datum {
    fn eq(&self, other: &Datum) -> bool {
        self.view() == other.view()
    }
}

impl Eq for Datum {}

impl Ord for Datum {
    fn cmp(&self, other: &Datum) -> Ordering {
        self.view().cmp(&other.view())
    }
}

impl PartialOrd for Datum {
    fn partial_cmp(&self, other: &Datum) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Hash for Datum {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.view().hash(state)
    }
}

/// `Set([..])` or `Map([..])`.
impl fmt::Debug for Datum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.view().fmt(f)
    }
}

impl Datum {
    pub fn empty_set() -> Datum {
        Datum(Repr::Set(Box::default()))
    }

    pub fn empty_map() -> Datum {
        Datum(Repr::Map(Box::default()))
    }

    /// A set from atoms in any order; duplicates collapse.
    pub fn set(atoms: impl IntoIterator<Item = Atom>) -> Datum {
        let mut v: Vec<Atom> = atoms.into_iter().collect();
        v.sort();
        v.dedup();
        Datum::from_atoms(v)
    }

    /// A map from pairs in any order; for a repeated key the last pair wins.
    pub fn map(pairs: impl IntoIterator<Item = (Atom, Atom)>) -> Datum {
        let mut v: Vec<(Atom, Atom)> = pairs.into_iter().collect();
        v.reverse();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v.dedup_by(|a, b| a.0 == b.0);
        Datum(Repr::Map(v.into_boxed_slice()))
    }

    /// A set of `atoms` kept in the order given.
    fn from_atoms(atoms: Vec<Atom>) -> Datum {
        match <[Atom; 1]>::try_from(atoms) {
            Ok([a]) => Datum(Repr::One(a)),
            Err(atoms) => Datum(Repr::Set(atoms.into_boxed_slice())),
        }
    }

    fn view(&self) -> View<'_> {
        match &self.0 {
            Repr::One(a) => View::Set(std::slice::from_ref(a)),
            Repr::Set(s) => View::Set(s),
            Repr::Map(m) => View::Map(m),
        }
    }

    /// Number of elements (atoms of a set, pairs of a map).
    pub fn len(&self) -> usize {
        match self.view() {
            View::Set(s) => s.len(),
            View::Map(m) => m.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True for a map (even an empty one), false for a set.
    pub fn is_map(&self) -> bool {
        matches!(self.0, Repr::Map(_))
    }

    /// The atoms of a set, in order; empty for a map.
    pub fn atoms(&self) -> &[Atom] {
        match self.view() {
            View::Set(s) => s,
            View::Map(_) => &[],
        }
    }

    /// The pairs of a map, in key order; empty for a set.
    pub fn pairs(&self) -> &[(Atom, Atom)] {
        match self.view() {
            View::Map(m) => m,
            View::Set(_) => &[],
        }
    }

    /// The atoms of a set, or the keys of a map, in order.
    pub fn keys(&self) -> impl Iterator<Item = &Atom> + '_ {
        self.atoms().iter().chain(self.pairs().iter().map(|(k, _)| k))
    }

    /// Every atom: a set's, or a map's keys and values.
    pub fn all_atoms(&self) -> impl Iterator<Item = &Atom> + '_ {
        self.keys().chain(self.pairs().iter().map(|(_, v)| v))
    }

    /// The atoms of a set, or the keys of a map.
    pub fn into_keys(self) -> Vec<Atom> {
        match self.0 {
            Repr::One(a) => vec![a],
            Repr::Set(s) => s.into_vec(),
            Repr::Map(m) => m.into_vec().into_iter().map(|(k, _)| k).collect(),
        }
    }

    /// The one atom of a scalar or optional column holding a value.
    pub fn as_atom(&self) -> Option<&Atom> {
        match &self.0 {
            Repr::One(a) => Some(a),
            _ => None,
        }
    }

    /// True when a set holds `atom`, or a map has it as a key.
    pub fn contains(&self, atom: &Atom) -> bool {
        match self.view() {
            View::Set(s) => s.binary_search(atom).is_ok(),
            View::Map(m) => m.binary_search_by(|(k, _)| k.cmp(atom)).is_ok(),
        }
    }

    /// The value of `key` in a map.
    pub fn get(&self, key: &Atom) -> Option<&Atom> {
        let m = self.pairs();
        m.binary_search_by(|(k, _)| k.cmp(key)).ok().map(|i| &m[i].1)
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
        let datum = match (self.0, &ty.value) {
            (Repr::One(mut a), None) => {
                coerce_atom(&mut a, &ty.key)?;
                Datum(Repr::One(a))
            }
            (Repr::Set(mut atoms), None) => {
                for a in atoms.iter_mut() {
                    coerce_atom(a, &ty.key)?;
                }
                if !is_strictly_sorted(atoms.iter()) {
                    atoms.sort();
                    if let Some(w) = atoms.windows(2).find(|w| w[0] == w[1]) {
                        return Err(DatumError::Duplicate(w[0].to_string()));
                    }
                }
                Datum(Repr::Set(atoms))
            }
            (Repr::Set(atoms), Some(_)) if atoms.is_empty() => Datum::empty_map(),
            (Repr::Map(mut pairs), Some(vty)) => {
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
                Datum(Repr::Map(pairs))
            }
            (Repr::One(_) | Repr::Set(_), Some(_)) => {
                return Err(DatumError::Type { expected: "map".into(), found: "set".into() })
            }
            (Repr::Map(_), None) => {
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
        match self.view() {
            View::Set(s) => s.iter().try_for_each(|a| check_atom(a, &ty.key)),
            View::Map(m) => m.iter().try_for_each(|(k, v)| {
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
        *self = match (std::mem::take(self).0, diff.0) {
            (Repr::Map(cur), Repr::Map(d)) => {
                let mut cur = cur.into_vec();
                for (k, v) in d.into_vec() {
                    match cur.binary_search_by(|(ck, _)| ck.cmp(&k)) {
                        Ok(i) if cur[i].1 == v => {
                            cur.remove(i);
                        }
                        Ok(i) => cur[i].1 = v,
                        Err(i) => cur.insert(i, (k, v)),
                    }
                }
                Datum(Repr::Map(cur.into_boxed_slice()))
            }
            (cur @ (Repr::One(_) | Repr::Set(_)), d @ (Repr::One(_) | Repr::Set(_))) => {
                Datum::from_atoms(toggle(Datum(cur).into_keys(), Datum(d).into_keys()))
            }
            (_, diff) => Datum(diff),
        };
    }
}

/// The symmetric difference of two sorted sets of atoms, sorted.
fn toggle(cur: Vec<Atom>, diff: Vec<Atom>) -> Vec<Atom> {
    let mut out = Vec::with_capacity(cur.len() + diff.len());
    let mut a = cur.into_iter().peekable();
    let mut b = diff.into_iter().peekable();
    loop {
        match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => match x.cmp(y) {
                Ordering::Less => out.push(a.next().unwrap()),
                Ordering::Greater => out.push(b.next().unwrap()),
                Ordering::Equal => {
                    a.next();
                    b.next();
                }
            },
            (Some(_), None) => out.push(a.next().unwrap()),
            (None, Some(_)) => out.push(b.next().unwrap()),
            (None, None) => break,
        }
    }
    out
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
        Atom::Integer(i) if base.min_integer.is_some_and(|m| *i < m) || base.max_integer.is_some_and(|m| *i > m) => {
            Err(DatumError::Constraint(format!(
                "{i} is not in the range {}",
                range_text(base.min_integer, base.max_integer)
            )))
        }
        Atom::Real(r) if base.min_real.is_some_and(|m| *r < m) || base.max_real.is_some_and(|m| *r > m) => {
            Err(DatumError::Constraint(format!("{r} is not in the range {}", range_text(base.min_real, base.max_real))))
        }
        Atom::String(s) => {
            let n = s.chars().count();
            if base.min_length.is_some_and(|m| n < m) || base.max_length.is_some_and(|m| n > m) {
                return Err(DatumError::Constraint(format!(
                    "{atom} length {n} is not in the range {}",
                    range_text(base.min_length, base.max_length)
                )));
            }
            Ok(())
        }
        _ => Ok(()),
    }
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
        match self.view() {
            View::Set([atom]) => atom.serialize(s),
            View::Set(atoms) => {
                let mut seq = s.serialize_seq(Some(2))?;
                seq.serialize_element("set")?;
                seq.serialize_element(atoms)?;
                seq.end()
            }
            View::Map(pairs) => {
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
                let atoms: Vec<Atom> =
                    seq.next_element()?.ok_or_else(|| de::Error::custom("[\"set\"] lacks its elements"))?;
                Datum::from_atoms(atoms)
            }
            "map" => {
                let pairs: Vec<(Atom, Atom)> =
                    seq.next_element()?.ok_or_else(|| de::Error::custom("[\"map\"] lacks its pairs"))?;
                Datum(Repr::Map(pairs.into_boxed_slice()))
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
    fn all_atoms_are_a_sets_or_a_maps_keys_and_values() {
        let set = Datum::set([Atom::Integer(2), Atom::Integer(1)]);
        assert_eq!(set.all_atoms().cloned().collect::<Vec<_>>(), [Atom::Integer(1), Atom::Integer(2)]);
        let map = Datum::map([(Atom::string("k"), Atom::string("v"))]);
        assert_eq!(map.all_atoms().cloned().collect::<Vec<_>>(), [Atom::string("k"), Atom::string("v")]);
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

    #[test]
    fn atom_and_datum_are_24_bytes() {
        assert_eq!(std::mem::size_of::<Atom>(), 24);
        assert_eq!(std::mem::size_of::<Datum>(), 24);
    }

    #[test]
    fn one_atom_has_one_form() {
        let i = Atom::Integer;
        let untyped: Datum = serde_json::from_value(json!(["set", [7]])).unwrap();
        assert_eq!(untyped, Datum::from(i(7)));
        assert_eq!(untyped.as_atom(), Some(&i(7)));
        assert_eq!(Datum::set([i(7), i(7)]).as_atom(), Some(&i(7)));
        let set_ty = ty(json!({"key": "integer", "min": 0, "max": "unlimited"}));
        let mut d = Datum::set([i(1), i(2)]);
        d.apply_diff(Datum::from(i(2)), &set_ty);
        assert_eq!((d.as_atom(), d.atoms()), (Some(&i(1)), &[i(1)][..]));
        d.apply_diff(Datum::from(i(3)), &set_ty);
        assert_eq!((d.as_atom(), d.atoms()), (None, &[i(1), i(3)][..]));
        d.apply_diff(Datum::set([i(1), i(3)]), &set_ty);
        assert_eq!(d, Datum::empty_set());
    }

    #[test]
    fn sets_order_as_sequences_before_maps() {
        let i = Atom::Integer;
        let ordered = [
            Datum::empty_set(),
            Datum::from(i(1)),
            Datum::set([i(1), i(2)]),
            Datum::from(i(2)),
            Datum::set([i(2), i(3)]),
            Datum::empty_map(),
            Datum::map([(i(1), i(9)), (i(2), i(0))]),
            Datum::map([(i(2), i(0))]),
        ];
        for (a, b) in ordered.iter().zip(&ordered[1..]) {
            assert!(a < b, "{a:?} < {b:?}");
        }
        assert_eq!(format!("{:?}", Datum::from(i(1))), "Set([Integer(1)])");
        assert_eq!(format!("{:?}", Datum::map([(i(1), i(2))])), "Map([(Integer(1), Integer(2))])");
    }
}
