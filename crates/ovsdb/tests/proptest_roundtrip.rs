//! Property tests of the wire layer: atoms and datums of every type survive
//! their JSON form; messages survive encoding, concatenation, arbitrary
//! splitting into reads, framing and decoding; and no byte string makes the
//! framer or the message decoder panic or buffer past its limit.

use ovsdb::proto::codec::FrameDecoder;
use ovsdb::proto::rpc::{Id, Message};
use ovsdb::{Atom, AtomicType, BaseType, ColumnType, Datum, Uuid};
use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::{Map, Value};

fn atomic_type() -> impl Strategy<Value = AtomicType> {
    prop_oneof![
        Just(AtomicType::Integer),
        Just(AtomicType::Real),
        Just(AtomicType::Boolean),
        Just(AtomicType::String),
        Just(AtomicType::Uuid),
    ]
}

/// Finite reals only: JSON has no NaN or infinity. Every finite real must
/// survive the trip (the workspace enables serde_json's `float_roundtrip`;
/// without it some come back one unit in the last place off).
fn real() -> BoxedStrategy<f64> {
    prop_oneof![any::<f64>().prop_filter("finite", |r| r.is_finite()), Just(0.0), Just(-0.0)].boxed()
}

fn atom(ty: AtomicType) -> BoxedStrategy<Atom> {
    match ty {
        AtomicType::Integer => any::<i64>().prop_map(Atom::Integer).boxed(),
        AtomicType::Real => real().prop_map(Atom::Real).boxed(),
        AtomicType::Boolean => any::<bool>().prop_map(Atom::Boolean).boxed(),
        AtomicType::String => any::<String>().prop_map(Atom::from).boxed(),
        AtomicType::Uuid => prop_oneof![
            4 => any::<u128>().prop_map(|u| Atom::Uuid(Uuid::from_u128(u))),
            1 => "[a-z_][a-z0-9_]{0,8}".prop_map(Atom::named_uuid),
        ]
        .boxed(),
    }
}

/// A column type (scalar, optional, set or map, of any atomic types) and a
/// datum that fits it.
fn typed_datum() -> impl Strategy<Value = (ColumnType, Datum)> {
    let bounds = prop_oneof![Just((1, Some(1))), Just((0, Some(1))), Just((0, None)), Just((1, Some(5)))];
    (atomic_type(), proptest::option::of(atomic_type()), bounds).prop_flat_map(|(k, v, (min, max))| {
        let ty = ColumnType { key: BaseType::new(k), value: v.map(BaseType::new), min, max };
        let n = min..=max.unwrap_or(6);
        let datum = match v {
            None => vec(atom(k), n).prop_map(Datum::set).boxed(),
            Some(v) => vec((atom(k), atom(v)), n).prop_map(Datum::map).boxed(),
        };
        // Duplicates collapse in `Datum::set`/`map`: drop what fell below `min`.
        (Just(ty), datum).prop_filter("enough distinct elements", |(ty, d)| d.len() >= ty.min)
    })
}

fn json_value() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        real().prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            vec((any::<String>(), inner), 0..6).prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
    .boxed()
}

fn id() -> impl Strategy<Value = Id> {
    prop_oneof![any::<u64>().prop_map(Id::Num), any::<String>().prop_map(Id::Str)]
}

fn message() -> impl Strategy<Value = Message> {
    let params = vec(json_value(), 0..4);
    prop_oneof![
        (id(), any::<String>(), params.clone()).prop_map(|(id, m, p)| Message::request(id, &m, &p)),
        (any::<String>(), params).prop_map(|(m, p)| Message::notification(&m, &p)),
        // A null result is a reply too, thanks to `"error":null`.
        (id(), json_value()).prop_map(|(id, r)| Message::reply(id, &r)),
        (id(), json_value().prop_filter("an error is not null", |e| !e.is_null()))
            .prop_map(|(id, error)| Message::Error { id, error }),
    ]
}

/// `stream` cut into reads of the given sizes (cycled), as a transport
/// would deliver it.
fn reads_of<'a>(stream: &'a [u8], reads: &'a [usize]) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut rest = stream;
    reads.iter().cycle().map_while(move |&n| {
        if rest.is_empty() {
            return None;
        }
        let (read, tail) = rest.split_at(n.min(rest.len()));
        rest = tail;
        Some(read)
    })
}

/// Feeds `stream` in reads of the given sizes (cycled) and decodes every frame.
fn frame_and_decode(stream: &[u8], reads: &[usize]) -> Vec<Message> {
    let mut decoder = FrameDecoder::default();
    let mut out = Vec::new();
    for read in reads_of(stream, reads) {
        decoder.feed(read);
        while let Some(frame) = decoder.next_frame().unwrap() {
            out.push(Message::decode(&frame).unwrap());
        }
    }
    decoder.finish().unwrap();
    out
}

proptest! {
    #[test]
    fn atoms_round_trip(a in atomic_type().prop_flat_map(atom)) {
        let json = serde_json::to_string(&a).unwrap();
        prop_assert_eq!(serde_json::from_str::<Atom>(&json).unwrap(), a);
    }

    #[test]
    fn datums_round_trip((ty, datum) in typed_datum()) {
        let json = serde_json::to_string(&datum).unwrap();
        let value: Value = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(Datum::from_json(&value, &ty).unwrap(), datum.clone());
        prop_assert_eq!(datum.to_json(), value);
    }

    #[test]
    fn messages_round_trip_through_framing(
        msgs in vec(message(), 1..5),
        gaps in vec(prop_oneof![Just(""), Just(" "), Just("\n"), Just("\r\n\t ")], 5),
        reads in vec(1usize..64, 1..8),
    ) {
        let mut stream = Vec::new();
        for (m, gap) in msgs.iter().zip(&gaps) {
            stream.extend(m.encode());
            stream.extend(gap.as_bytes());
        }
        prop_assert_eq!(frame_and_decode(&stream, &reads), msgs);
    }

    #[test]
    fn garbage_never_panics_nor_overflows(
        bytes in vec(prop_oneof![
            3 => any::<u8>(),
            2 => prop::sample::select(b"{}[]\"\\ :,".to_vec()),
        ], 0..512),
        reads in vec(1usize..32, 1..8),
        max_frame in 1usize..128,
    ) {
        let mut decoder = FrameDecoder::new(max_frame);
        for read in reads_of(&bytes, &reads) {
            decoder.feed(read);
            loop {
                match decoder.next_frame() {
                    Ok(Some(frame)) => {
                        prop_assert!(frame.len() <= max_frame);
                        let _ = Message::decode(&frame);
                    }
                    Ok(None) => break,
                    Err(_) => {
                        prop_assert_eq!(decoder.buffered(), 0);
                        break;
                    }
                }
            }
            prop_assert!(decoder.buffered() <= max_frame);
        }
        let _ = decoder.finish();
        let _ = Message::decode(&bytes);
    }
}
