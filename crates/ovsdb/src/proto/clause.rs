//! The `[<column>, <operator>, <value>]` JSON form that conditions and
//! mutations share (RFC 7047 section 5.1), written once for both. Knows
//! nothing of what the operators mean.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serializer};

use super::atom::TagStr;
use super::datum::Datum;

/// The operator of a clause: a condition's function or a mutation's mutator.
pub(crate) trait Operator: Sized + Copy {
    /// What the operator is called: "function", "mutator".
    const KIND: &'static str;
    /// What the clause is called: "condition", "mutation".
    const CLAUSE: &'static str;
    fn as_str(self) -> &'static str;
    fn from_name(name: &str) -> Option<Self>;
}

/// Writes `[column, operator, value]`.
pub(crate) fn serialize<S: Serializer, O: Operator>(
    s: S,
    column: &str,
    op: O,
    value: &Datum,
) -> Result<S::Ok, S::Error> {
    let mut seq = s.serialize_seq(Some(3))?;
    seq.serialize_element(column)?;
    seq.serialize_element(op.as_str())?;
    seq.serialize_element(value)?;
    seq.end()
}

/// Reads an operator by its name.
pub(crate) fn deserialize_operator<'de, D: Deserializer<'de>, O: Operator>(d: D) -> Result<O, D::Error> {
    let name = TagStr::deserialize(d)?;
    O::from_name(&name.0).ok_or_else(|| de::Error::custom(format_args!("unknown {} \"{}\"", O::KIND, name.0)))
}

/// Reads `[column, operator, value]`.
pub(crate) fn deserialize<'de, D: Deserializer<'de>, O: Operator>(d: D) -> Result<(String, O, Datum), D::Error> {
    struct Op<O>(O);
    impl<'de, O: Operator> Deserialize<'de> for Op<O> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            deserialize_operator(d).map(Op)
        }
    }
    struct V<O>(PhantomData<O>);
    impl<'de, O: Operator> Visitor<'de> for V<O> {
        type Value = (String, O, Datum);
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "a {} [<column>, <{}>, <value>]", O::CLAUSE, O::KIND)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let missing = || de::Error::custom(format_args!("a {} is [<column>, <{}>, <value>]", O::CLAUSE, O::KIND));
            let column: TagStr<'de> = seq.next_element()?.ok_or_else(missing)?;
            let Op(op): Op<O> = seq.next_element()?.ok_or_else(missing)?;
            let value: Datum = seq.next_element()?.ok_or_else(missing)?;
            if seq.next_element::<de::IgnoredAny>()?.is_some() {
                return Err(missing());
            }
            Ok((column.0.into_owned(), op, value))
        }
    }
    d.deserialize_seq(V(PhantomData))
}
