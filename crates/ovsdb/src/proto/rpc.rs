//! JSON-RPC 1.0 messages as OVSDB speaks them (RFC 7047 section 4):
//! requests, notifications, replies and error replies, decoded from one frame
//! and encoded in the exact forms `ovsdb-server` uses.
//!
//! Classification follows Open vSwitch: a member whose value is `null`
//! counts as absent; `"method"` makes a request (with an id) or a
//! notification (without); otherwise a non-null `"error"` makes an error
//! reply, and `"result"` (or an explicit `"error": null`) a reply. Members
//! this layer does not know are ignored. `params` and `result` stay raw JSON:
//! the layers above decode them once, with a schema at hand.
//!
//! This module must never do I/O, and never panic on anything a peer sent.

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;
use thiserror::Error;

use super::codec::is_whitespace;

pub use jsonrpc_core::Id;

/// A frame that is not an OVSDB JSON-RPC message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RpcError {
    /// Not well-formed JSON (syntax, bad UTF-8, truncation, trailing bytes,
    /// a member given twice).
    #[error("malformed JSON-RPC message: {0}")]
    Json(String),
    /// Well-formed JSON, but not an object.
    #[error("message is not a JSON object")]
    NotObject,
    /// A member of the wrong JSON type.
    #[error("\"{member}\" must be {expected}")]
    BadMember {
        /// The member's name.
        member: &'static str,
        /// What it must be.
        expected: &'static str,
    },
    /// A request or notification without `"params"`.
    #[error("\"{method}\" message lacks \"params\"")]
    MissingParams {
        /// The message's method.
        method: String,
    },
    /// Members that cannot appear together.
    #[error("message has both {0}")]
    Conflict(&'static str),
    /// None of `"method"`, `"result"` and `"error"`: neither a request nor a
    /// reply.
    #[error("message has none of \"method\", \"result\" and \"error\"")]
    Unclassifiable,
}

/// One JSON-RPC message.
#[derive(Debug, Clone)]
pub enum Message {
    /// A call that expects a reply with the same id.
    Request { id: Id, method: String, params: Box<RawValue> },
    /// A call without a reply (`update`, `update2`, `update3`, `locked`, ...).
    Notification { method: String, params: Box<RawValue> },
    /// A successful reply.
    Reply { id: Id, result: Box<RawValue> },
    /// A failed reply; `error` is whatever the peer sent, often a string or
    /// an object with `error` and `details`.
    Error { id: Id, error: serde_json::Value },
}

/// The members OVSDB messages are made of. `Option<&RawValue>` reads `null`
/// as `None`, which is exactly "null counts as absent"; only `error` keeps
/// an explicit `null`, which makes a reply.
#[derive(Deserialize)]
struct Wire<'a> {
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    method: Option<&'a RawValue>,
    #[serde(borrow, default)]
    params: Option<&'a RawValue>,
    #[serde(borrow, default)]
    result: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    error: Option<&'a RawValue>,
}

/// A member that is there, even as `null`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

impl Message {
    /// Decodes one frame.
    pub fn decode(frame: &[u8]) -> Result<Message, RpcError> {
        // A derived `Deserialize` also accepts an array, member by member:
        // make sure of an object first.
        if frame.iter().find(|b| !is_whitespace(**b)) != Some(&b'{') {
            return Err(match serde_json::from_slice::<serde::de::IgnoredAny>(frame) {
                Ok(_) => RpcError::NotObject,
                Err(e) => RpcError::Json(e.to_string()),
            });
        }
        let wire: Wire<'_> = serde_json::from_slice(frame).map_err(|e| RpcError::Json(e.to_string()))?;
        let id = wire.id.map(parse_id).transpose()?.unwrap_or(Id::Null);
        let error = wire.error.filter(|e| e.get() != "null");
        if let Some(method) = wire.method {
            let method: String = serde_json::from_str(method.get())
                .map_err(|_| RpcError::BadMember { member: "method", expected: "a string" })?;
            if wire.result.is_some() || error.is_some() {
                return Err(RpcError::Conflict("\"method\" and \"result\" or \"error\""));
            }
            let params = wire.params.ok_or_else(|| RpcError::MissingParams { method: method.clone() })?;
            if !params.get().starts_with('[') {
                return Err(RpcError::BadMember { member: "params", expected: "an array" });
            }
            let params = params.to_owned();
            return Ok(match id {
                Id::Null => Message::Notification { method, params },
                id => Message::Request { id, method, params },
            });
        }
        match (error, wire.result, wire.error) {
            (Some(_), Some(_), _) => Err(RpcError::Conflict("\"result\" and \"error\"")),
            (Some(error), None, _) => {
                let error = serde_json::from_str(error.get()).map_err(|e| RpcError::Json(e.to_string()))?;
                Ok(Message::Error { id, error })
            }
            // `"error": null` alone: a reply whose result is null.
            (None, Some(result), _) | (None, None, Some(result)) => {
                Ok(Message::Reply { id, result: result.to_owned() })
            }
            (None, None, None) => Err(RpcError::Unclassifiable),
        }
    }

    /// The bytes that go on the wire: `{"id":..,"method":..,"params":..}`,
    /// `{"id":null,"method":..,"params":..}`, `{"id":..,"result":..,"error":null}`
    /// or `{"id":..,"error":..}`, as `ovsdb-server` writes them.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// Appends `encode`'s bytes to `out`, room made for them first: a
    /// large message (a first translation's transaction) is written once,
    /// into a buffer of its size.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let body = match self {
            Message::Request { params: raw, .. }
            | Message::Notification { params: raw, .. }
            | Message::Reply { result: raw, .. } => raw.get().len(),
            Message::Error { .. } => 0,
        };
        out.reserve(body + 64);
        serde_json::to_writer(out, self).expect("ids, strings, raw JSON and JSON values always serialize")
    }

    /// A request. `params` must serialize to a JSON array.
    ///
    /// # Panics
    ///
    /// If `params` fails to serialize or is not an array: a bug in the
    /// caller, never something a peer can cause.
    pub fn request(id: Id, method: &str, params: &impl Serialize) -> Message {
        Message::request_raw(id, method, params_array(params))
    }

    /// A request whose params are already JSON text (not copied again).
    ///
    /// # Panics
    ///
    /// If `params` is not an array, as `request`.
    pub fn request_raw(id: Id, method: &str, params: Box<RawValue>) -> Message {
        assert!(params.get().starts_with('['), "JSON-RPC params must be an array, not {}", params.get());
        Message::Request { id, method: method.to_owned(), params }
    }

    /// A notification. `params` must serialize to a JSON array.
    ///
    /// # Panics
    ///
    /// As `request`.
    pub fn notification(method: &str, params: &impl Serialize) -> Message {
        Message::Notification { method: method.to_owned(), params: params_array(params) }
    }

    /// A successful reply.
    ///
    /// # Panics
    ///
    /// If `result` fails to serialize (a bug in its `Serialize`).
    pub fn reply(id: Id, result: &impl Serialize) -> Message {
        let result = serde_json::value::to_raw_value(result).expect("reply result must serialize");
        Message::Reply { id, result }
    }

    /// The method of a request or notification.
    pub fn method(&self) -> Option<&str> {
        match self {
            Message::Request { method, .. } | Message::Notification { method, .. } => Some(method),
            Message::Reply { .. } | Message::Error { .. } => None,
        }
    }

    /// The id of a request, reply or error reply.
    pub fn id(&self) -> Option<&Id> {
        match self {
            Message::Request { id, .. } | Message::Reply { id, .. } | Message::Error { id, .. } => Some(id),
            Message::Notification { .. } => None,
        }
    }
}

fn params_array(params: &impl Serialize) -> Box<RawValue> {
    let raw = serde_json::value::to_raw_value(params).expect("request params must serialize");
    assert!(raw.get().starts_with('['), "JSON-RPC params must be an array, not {}", raw.get());
    raw
}

/// An id in OVSDB's use: a non-negative integer or a string (`null` was
/// already read as absent).
fn parse_id(raw: &RawValue) -> Result<Id, RpcError> {
    let bad = |_| RpcError::BadMember { member: "id", expected: "null, a non-negative integer or a string" };
    match raw.get().as_bytes().first() {
        Some(b'"') => serde_json::from_str(raw.get()).map(Id::Str).map_err(bad),
        _ => serde_json::from_str(raw.get()).map(Id::Num).map_err(bad),
    }
}

/// Members in the order `ovsdb-server` writes them.
impl Serialize for Message {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(3))?;
        match self {
            Message::Request { id, method, params } => {
                map.serialize_entry("id", id)?;
                map.serialize_entry("method", method)?;
                map.serialize_entry("params", params)?;
            }
            Message::Notification { method, params } => {
                map.serialize_entry("id", &Id::Null)?;
                map.serialize_entry("method", method)?;
                map.serialize_entry("params", params)?;
            }
            Message::Reply { id, result } => {
                map.serialize_entry("id", id)?;
                map.serialize_entry("result", result)?;
                map.serialize_entry("error", &())?;
            }
            Message::Error { id, error } => {
                map.serialize_entry("id", id)?;
                map.serialize_entry("error", error)?;
            }
        }
        map.end()
    }
}

/// Equal when of the same kind with equal members; raw JSON compares as text.
impl PartialEq for Message {
    fn eq(&self, other: &Message) -> bool {
        use Message::*;
        match (self, other) {
            (Request { id: a, method: m, params: p }, Request { id: b, method: n, params: q }) => {
                a == b && m == n && p.get() == q.get()
            }
            (Notification { method: m, params: p }, Notification { method: n, params: q }) => {
                m == n && p.get() == q.get()
            }
            (Reply { id: a, result: r }, Reply { id: b, result: s }) => a == b && r.get() == s.get(),
            (Error { id: a, error: e }, Error { id: b, error: f }) => a == b && e == f,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_owned()).unwrap()
    }

    #[test]
    fn classifies_like_open_vswitch() {
        let cases: [(&str, Message); 12] = [
            (
                r#"{"id":0,"method":"list_dbs","params":[]}"#,
                Message::Request { id: Id::Num(0), method: "list_dbs".into(), params: raw("[]") },
            ),
            (
                r#"{"id":"echo","method":"echo","params":[]}"#,
                Message::Request { id: Id::Str("echo".into()), method: "echo".into(), params: raw("[]") },
            ),
            (
                r#"{"id":null,"method":"update3","params":[null,"x",{}]}"#,
                Message::Notification { method: "update3".into(), params: raw(r#"[null,"x",{}]"#) },
            ),
            (
                r#"{"method":"locked","params":["l"],"result":null,"error":null}"#,
                Message::Notification { method: "locked".into(), params: raw(r#"["l"]"#) },
            ),
            (
                r#"{"id":1,"result":["OVN_Northbound","_Server"],"error":null}"#,
                Message::Reply { id: Id::Num(1), result: raw(r#"["OVN_Northbound","_Server"]"#) },
            ),
            (r#"{"id":1,"result":{}}"#, Message::Reply { id: Id::Num(1), result: raw("{}") }),
            (r#"{"id":1,"result":null,"error":null}"#, Message::Reply { id: Id::Num(1), result: raw("null") }),
            (r#"{"error":null,"id":7}"#, Message::Reply { id: Id::Num(7), result: raw("null") }),
            (r#"{"id":2,"error":"unknown method"}"#, Message::Error { id: Id::Num(2), error: json!("unknown method") }),
            (
                r#"{"id":4,"result":null,"error":{"error":"unknown database","details":"d"}}"#,
                Message::Error { id: Id::Num(4), error: json!({"error": "unknown database", "details": "d"}) },
            ),
            (r#"{"error":"bad"}"#, Message::Error { id: Id::Null, error: json!("bad") }),
            (
                " {\"params\":[1], \"x\":{\"y\":[]}, \"method\":\"m\", \"id\":18446744073709551615}\n",
                Message::Request { id: Id::Num(u64::MAX), method: "m".into(), params: raw("[1]") },
            ),
        ];
        for (json, want) in cases {
            assert_eq!(Message::decode(json.as_bytes()), Ok(want), "{json}");
        }
    }

    #[test]
    fn rejects_what_is_not_a_message() {
        let member = |member, expected| RpcError::BadMember { member, expected };
        let id = member("id", "null, a non-negative integer or a string");
        let cases = [
            (r#"[1]"#, RpcError::NotObject),
            (r#" "s""#, RpcError::NotObject),
            (r#"null"#, RpcError::NotObject),
            (r#"{}"#, RpcError::Unclassifiable),
            (r#"{"id":1,"result":null}"#, RpcError::Unclassifiable),
            (r#"{"id":1}"#, RpcError::Unclassifiable),
            (r#"{"id":1,"method":7,"params":[]}"#, member("method", "a string")),
            (r#"{"id":1,"method":"m","params":{}}"#, member("params", "an array")),
            (r#"{"id":1,"method":"m","params":"[]"}"#, member("params", "an array")),
            (r#"{"id":1,"method":"m"}"#, RpcError::MissingParams { method: "m".into() }),
            (r#"{"id":1,"method":"m","params":null}"#, RpcError::MissingParams { method: "m".into() }),
            (r#"{"id":-1,"method":"m","params":[]}"#, id.clone()),
            (r#"{"id":1.5,"method":"m","params":[]}"#, id.clone()),
            (r#"{"id":[1],"method":"m","params":[]}"#, id.clone()),
            (r#"{"id":true,"result":[]}"#, id.clone()),
            (r#"{"id":1,"result":[],"error":"e"}"#, RpcError::Conflict("\"result\" and \"error\"")),
            (
                r#"{"id":1,"method":"m","params":[],"result":1}"#,
                RpcError::Conflict("\"method\" and \"result\" or \"error\""),
            ),
        ];
        for (json, want) in cases {
            assert_eq!(Message::decode(json.as_bytes()), Err(want), "{json}");
        }
        for bad in [
            &b""[..],
            b"{",
            b"{\"id\":1,}",
            b"{} {}",
            b"{\"id\":1,\"id\":2,\"result\":1}",
            b"{\"id\":1,\"result\":\"\xff\"}",
            b"xyz",
        ] {
            assert!(matches!(Message::decode(bad), Err(RpcError::Json(_))), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn encodes_as_ovsdb_server_does() {
        let cases = [
            (Message::request(Id::Num(0), "list_dbs", &[(); 0]), r#"{"id":0,"method":"list_dbs","params":[]}"#),
            (
                Message::request(Id::Str("echo".into()), "echo", &json!(["a\"b"])),
                r#"{"id":"echo","method":"echo","params":["a\"b"]}"#,
            ),
            (
                Message::notification("update3", &(None::<()>, "x", json!({}))),
                r#"{"id":null,"method":"update3","params":[null,"x",{}]}"#,
            ),
            (Message::reply(Id::Num(1), &["OVN_Northbound"]), r#"{"id":1,"result":["OVN_Northbound"],"error":null}"#),
            (Message::Error { id: Id::Num(2), error: json!("unknown method") }, r#"{"id":2,"error":"unknown method"}"#),
        ];
        for (msg, wire) in cases {
            assert_eq!(String::from_utf8(msg.encode()).unwrap(), wire);
            assert_eq!(Message::decode(wire.as_bytes()), Ok(msg));
        }
    }

    #[test]
    fn raw_members_are_kept_verbatim() {
        let wire = br#"{"id":3,"result":[ {"b" : 1.50, "a":"\u00e9"} ],"error":null}"#;
        let Ok(Message::Reply { result, .. }) = Message::decode(wire) else { panic!("not a reply") };
        assert_eq!(result.get(), r#"[ {"b" : 1.50, "a":"\u00e9"} ]"#);
    }

    #[test]
    fn accessors() {
        let req = Message::request(Id::Num(5), "transact", &json!(["db"]));
        assert_eq!((req.method(), req.id()), (Some("transact"), Some(&Id::Num(5))));
        let note = Message::notification("locked", &["l"]);
        assert_eq!((note.method(), note.id()), (Some("locked"), None));
        let reply = Message::reply(Id::Str("echo".into()), &json!([]));
        assert_eq!((reply.method(), reply.id()), (None, Some(&Id::Str("echo".into()))));
    }

    #[test]
    #[should_panic(expected = "params must be an array")]
    fn request_params_must_be_an_array() {
        Message::request(Id::Num(1), "m", &json!({}));
    }
}
