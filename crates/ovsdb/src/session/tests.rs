//! Session tests: scripted server messages and a virtual clock, no sockets.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::*;
use crate::proto::op::Operation;
use crate::Atom;

const NB: &str = "OVN_Northbound";

fn nb_schema_text() -> String {
    std::fs::read_to_string(format!("{}/../../schemas/ovn-nb.ovsschema", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// A session and the server side of its conversation.
struct Pair {
    s: Session,
    now: Instant,
}

impl Pair {
    fn new(remotes: &str, monitor: Option<MonitorSpec>) -> Pair {
        let now = Instant::now();
        let mut config = SessionConfig::new(Remote::parse_list(remotes).unwrap(), NB);
        config.monitor = monitor;
        Pair { s: Session::new(config, now), now }
    }

    fn nb_switches() -> Option<MonitorSpec> {
        let mut t = IndexMap::new();
        t.insert("Logical_Switch".to_string(), MonitorTable { columns: Some(vec!["name".into()]), conditions: None });
        Some(MonitorSpec::Tables(t))
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
        self.s.handle_timeout(self.now);
    }

    fn expect_connect(&mut self) -> Remote {
        match self.s.poll_io() {
            Some(IoAction::Connect(r)) => r,
            other => panic!("expected a connect, got {other:?}"),
        }
    }

    /// Pops transmitted messages up to the request for `method`.
    fn expect_request(&mut self, method: &str) -> (Id, Value) {
        while let Some(m) = self.s.poll_transmit() {
            if let Message::Request { id, method: m, params } = m {
                if m == method {
                    return (id, serde_json::from_str(params.get()).unwrap());
                }
            }
        }
        panic!("no {method} request was sent");
    }

    fn no_request(&mut self, method: &str) {
        while let Some(m) = self.s.poll_transmit() {
            assert_ne!(m.method(), Some(method), "unexpected {method} request");
        }
    }

    fn reply(&mut self, id: Id, result: Value) {
        self.s.handle_message(self.now, Message::reply(id, &result));
    }

    fn error(&mut self, id: Id, error: Value) {
        self.s.handle_message(self.now, Message::Error { id, error });
    }

    /// Delivers a notification as the server sent it (params need not be an array).
    fn notify(&mut self, method: &str, params: Value) {
        let params = raw(&params.to_string());
        self.s.handle_message(self.now, Message::Notification { method: method.into(), params });
    }

    fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.s.poll_event()).collect()
    }

    fn server_row(model: &str, leader: bool) -> Value {
        json!({"Database": {"11111111-1111-1111-1111-111111111111": {"initial": {
            "name": NB, "model": model, "connected": true, "leader": leader,
            "cid": ["uuid", "22222222-2222-2222-2222-222222222222"]}}}})
    }

    /// Connects and answers the set-up requests as a server with `model`
    /// and `leader` would; returns the monitor request's id and params if
    /// the session got that far.
    fn handshake(&mut self, model: &str, leader: bool) -> Option<(Id, Value)> {
        self.expect_connect();
        self.s.handle_connected(self.now);
        let (sid, _) = self.expect_request("monitor_cond");
        let (gid, gparams) = self.expect_request("get_schema");
        assert_eq!(gparams, json!([NB]));
        let (cid, _) = self.expect_request("set_db_change_aware");
        self.reply(cid, json!({}));
        let (iid, _) = self.expect_request("get_server_id");
        self.reply(iid, json!("99999999-9999-9999-9999-999999999999"));
        self.reply(sid, Pair::server_row(model, leader));
        let schema: Value = serde_json::from_str(&nb_schema_text()).unwrap();
        self.reply(gid, schema);
        if !self.s.is_connected() {
            return None;
        }
        Some(self.expect_request("monitor_cond_since"))
    }

    fn ready(&mut self) -> Value {
        let (mid, params) = self.handshake("standalone", false).expect("monitor sent");
        self.reply(
            mid,
            json!([false, "aaaaaaaa-0000-0000-0000-000000000001",
                {"Logical_Switch": {"33333333-3333-3333-3333-333333333333": {"initial": {"name": "sw0"}}}}]),
        );
        assert!(self.s.is_ready());
        params
    }
}

#[test]
fn connects_reads_schema_and_synchronizes() {
    let mut p = Pair::new("unix:/nb.sock", Pair::nb_switches());
    let params = p.ready();
    assert_eq!(
        params,
        json!([NB, ["monid", NB], {"Logical_Switch": [{"columns": ["name"]}]}, "00000000-0000-0000-0000-000000000000"])
    );
    let events = p.events();
    assert!(matches!(events[0], Event::ReplicaChanged), "{events:?}");
    assert!(matches!(&events[1], Event::Ready { remote } if remote == "unix:/nb.sock"), "{events:?}");
    let replica = p.s.replica_mut().unwrap();
    let t = replica.table("Logical_Switch").unwrap();
    assert_eq!(t.len(), 1);
    assert_eq!(p.s.last_txn_id().unwrap().to_string(), "aaaaaaaa-0000-0000-0000-000000000001");
    assert_eq!(p.s.server_id().unwrap().to_string(), "99999999-9999-9999-9999-999999999999");
}

/// The replica made from the server's schema has the indexes the
/// configuration asks for; one of a column the schema lacks is left out.
#[test]
fn the_replica_gets_the_indexes_asked_for() {
    let mut p = Pair::new("unix:/nb.sock", Pair::nb_switches());
    p.s.config.indexes = [("Logical_Switch", "name"), ("Logical_Switch", "no_such_column")]
        .map(|(t, c)| (t.to_string(), c.to_string()))
        .to_vec();
    p.ready();
    let replica = p.s.replica_mut().unwrap();
    let found: Vec<Uuid> =
        replica.lookup("Logical_Switch", "name", &Atom::string("sw0")).unwrap().map(|r| r.uuid()).collect();
    assert_eq!(found, ["33333333-3333-3333-3333-333333333333".parse::<Uuid>().unwrap()]);
    assert!(replica.lookup("Logical_Switch", "ports", &Atom::string("x")).is_err(), "no index asked for ports");
}

#[test]
fn leaves_a_follower_for_the_next_server_at_once() {
    let mut p = Pair::new("unix:/a,unix:/b,unix:/c", Pair::nb_switches());
    assert!(p.handshake("clustered", false).is_none(), "a follower must not be monitored");
    assert_eq!(p.s.poll_io(), Some(IoAction::Disconnect));
    let events = p.events();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Disconnected { reason, .. } if reason.contains("not the cluster leader"))),
        "{events:?}"
    );
    p.s.handle_disconnected(p.now, "closed");
    p.s.handle_timeout(p.now);
    // The next server is tried without waiting, and it is the leader.
    let (_, _) = p.handshake("clustered", true).expect("the leader is monitored");
}

#[test]
fn follows_leadership_changes_and_resumes_from_the_last_transaction() {
    let mut p = Pair::new("unix:/a,unix:/b", Pair::nb_switches());
    let (mid, _) = p.handshake("clustered", true).unwrap();
    p.reply(mid, json!([false, "aaaaaaaa-0000-0000-0000-000000000001", {}]));
    assert!(p.s.is_ready());
    p.notify(
        "update3",
        json!([["monid", NB], "aaaaaaaa-0000-0000-0000-000000000002",
            {"Logical_Switch": {"44444444-4444-4444-4444-444444444444": {"insert": {"name": "sw1"}}}}]),
    );
    // The server loses leadership: the session leaves it.
    p.notify(
        "update2",
        json!([["monid", "_Server"], {"Database": {"11111111-1111-1111-1111-111111111111": {"modify": {"leader": false}}}}]),
    );
    assert_eq!(p.s.poll_io(), Some(IoAction::Disconnect));
    assert!(!p.s.is_ready());
    p.s.handle_timeout(p.now);
    let (mid, params) = p.handshake("clustered", true).unwrap();
    assert_eq!(params[3], json!("aaaaaaaa-0000-0000-0000-000000000002"), "resumes after the last update seen");
    p.reply(mid, json!([true, "aaaaaaaa-0000-0000-0000-000000000003", {}]));
    assert_eq!(p.s.stats(), SessionStats { connections: 2, full_syncs: 1, resumed_syncs: 1 });
}

#[test]
fn falls_back_to_older_monitor_methods() {
    let mut p = Pair::new("unix:/nb.sock", Pair::nb_switches());
    let (mid, _) = p.handshake("standalone", false).unwrap();
    p.error(mid, json!("unknown method"));
    let (mid, params) = p.expect_request("monitor_cond");
    assert_eq!(params.as_array().unwrap().len(), 3);
    p.error(mid, json!({"error": "unknown method", "details": "monitor_cond"}));
    let (mid, params) = p.expect_request("monitor");
    assert_eq!(params[2]["Logical_Switch"][0]["select"]["initial"], json!(true));
    p.reply(mid, json!({"Logical_Switch": {"33333333-3333-3333-3333-333333333333": {"new": {"name": "sw0"}}}}));
    assert!(p.s.is_ready());
    assert_eq!(p.s.replica().unwrap().table("Logical_Switch").unwrap().len(), 1);
}

/// The lock events reported since the last look, one line each.
fn lock_events(p: &mut Pair) -> Vec<String> {
    p.events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Locked(n) => Some(format!("locked {n}")),
            Event::LockQueued(n) => Some(format!("queued {n}")),
            Event::LockLost(n) => Some(format!("lost {n}")),
            _ => None,
        })
        .collect()
}

#[test]
fn locks_are_requested_on_every_connection_and_reported() {
    let mut p = Pair::new("unix:/sb.sock", None);
    p.s.lock("ovn_northd");
    p.expect_connect();
    p.s.handle_connected(p.now);
    let (lid, params) = p.expect_request("lock");
    assert_eq!(params, json!(["ovn_northd"]));
    p.reply(lid, json!({"locked": false}));
    assert!(!p.s.has_lock("ovn_northd"));
    p.notify("locked", json!(["ovn_northd"]));
    assert!(p.s.has_lock("ovn_northd"));
    p.notify("stolen", json!(["ovn_northd"]));
    assert!(!p.s.has_lock("ovn_northd"));
    p.notify("locked", json!(["ovn_northd"]));
    assert_eq!(lock_events(&mut p), ["queued ovn_northd", "locked ovn_northd", "lost ovn_northd", "locked ovn_northd"]);
    // Losing the connection loses the lock; it is asked for again.
    p.s.handle_disconnected(p.now, "reset");
    assert!(p.events().iter().any(|e| matches!(e, Event::LockLost(_))));
    p.advance(Duration::from_secs(10));
    p.expect_connect();
    p.s.handle_connected(p.now);
    p.expect_request("lock");
}

/// A lock given up and asked for again before the server answered: what
/// it says of the first request (granted, then a `locked` sent before it
/// read the `unlock`) is not taken for the second, which waits in line.
#[test]
fn a_lock_asked_for_again_is_not_granted_by_the_answers_to_the_first() {
    let mut p = Pair::new("unix:/sb.sock", None);
    p.expect_connect();
    p.s.handle_connected(p.now);
    p.events();
    p.s.lock("shard");
    let (first, _) = p.expect_request("lock");
    p.s.unlock("shard");
    let (unlock, _) = p.expect_request("unlock");
    p.s.lock("shard");
    let (second, _) = p.expect_request("lock");
    p.reply(first, json!({"locked": true}));
    p.notify("locked", json!(["shard"]));
    assert!(!p.s.has_lock("shard"), "the first request's grant");
    p.reply(unlock, json!({}));
    p.reply(second, json!({"locked": false}));
    assert!(!p.s.has_lock("shard"));
    assert_eq!(lock_events(&mut p), ["queued shard"]);
    p.notify("locked", json!(["shard"]));
    assert!(p.s.has_lock("shard"), "the second request's turn");
}

#[test]
fn answers_echo_and_probes_a_silent_server() {
    let mut p = Pair::new("tcp:127.0.0.1:6641", None);
    p.expect_connect();
    p.s.handle_connected(p.now);
    p.no_request("echo");
    p.s.handle_message(
        p.now,
        Message::Request { id: Id::Str("echo".into()), method: "echo".into(), params: raw("[1]") },
    );
    match p.s.poll_transmit() {
        Some(Message::Reply { id, result }) => {
            assert_eq!(id, Id::Str("echo".into()));
            assert_eq!(result.get(), "[1]");
        }
        other => panic!("expected the echo reply, got {other:?}"),
    }
    p.advance(Duration::from_millis(4999));
    p.no_request("echo");
    p.advance(Duration::from_millis(1));
    p.expect_request("echo");
    p.advance(Duration::from_secs(5));
    assert_eq!(p.s.poll_io(), Some(IoAction::Disconnect));
    assert!(p.events().iter().any(|e| matches!(e, Event::Disconnected { reason, .. } if reason.contains("probe"))));
}

/// A unix socket is not probed by default (a server busy committing a
/// large transaction for longer than the interval is not dead), unless an
/// interval is set; zero turns probes off on any connection.
#[test]
fn unix_sockets_are_probed_only_when_asked() {
    let mut p = Pair::new("unix:/nb.sock", None);
    p.expect_connect();
    p.s.handle_connected(p.now);
    p.advance(Duration::from_secs(60));
    p.no_request("echo");
    p.s.set_probe_interval(Some(Duration::from_secs(2)));
    p.advance(Duration::from_secs(2));
    p.expect_request("echo");
    p.s.set_probe_interval(None);
    p.advance(Duration::from_secs(60));
    assert_eq!(p.s.poll_io(), None, "back to no probes");

    let mut p = Pair::new("tcp:127.0.0.1:6641", None);
    p.s.set_probe_interval(Some(Duration::ZERO));
    p.expect_connect();
    p.s.handle_connected(p.now);
    p.advance(Duration::from_secs(60));
    p.no_request("echo");
}

#[test]
fn transactions_in_flight_fail_as_unknown_when_the_connection_drops() {
    let mut p = Pair::new("unix:/nb.sock", Pair::nb_switches());
    let txn = Transaction::new(NB).with(Operation::Comment("x".into()));
    assert!(matches!(p.s.transact(txn.clone()), Err(SessionError::NotConnected)));
    p.ready();
    p.events();
    let id = p.s.transact(txn).unwrap();
    let (_tid, params) = p.expect_request("transact");
    assert_eq!(params, json!([NB, {"op": "comment", "comment": "x"}]));
    p.s.handle_disconnected(p.now, "reset");
    let events = p.events();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::TxnDone { id: got, result: Err(SessionError::Disconnected) } if *got == id)),
        "{events:?}"
    );
}

#[test]
fn malformed_server_input_drops_the_connection_without_panic() {
    for (method, params) in [
        ("update3", json!([["monid", NB], "not-a-uuid", {}])),
        ("update3", json!([["monid", NB]])),
        ("update2", json!([["monid", NB], {"No_Such_Table": {}}])),
        ("update2", json!("x")),
        ("locked", json!([1])),
        // Not malformed, but the monitor is gone (schema converted): start over.
        ("monitor_canceled", json!([["monid", NB]])),
    ] {
        let mut p = Pair::new("unix:/nb.sock", Pair::nb_switches());
        p.ready();
        p.notify(method, params.clone());
        assert_eq!(p.s.poll_io(), Some(IoAction::Disconnect), "{method} {params}");
    }
}

fn raw(s: &str) -> Box<RawValue> {
    RawValue::from_string(s.to_owned()).unwrap()
}
