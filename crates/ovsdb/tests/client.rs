//! The client against real `ovsdb-server`s: a standalone one, a 3-server
//! Raft cluster whose leader is killed under load, restarts, SSL, and a
//! peer that sends garbage.

use testsupport as support;

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use indexmap::IndexMap;
use ovsdb::io::{tls_config, Client, TlsFiles};
use ovsdb::proto::op::{Operation, Row};
use ovsdb::proto::txn::{ErrorKind, Transaction, TxnError};
use ovsdb::replica::Change;
use ovsdb::session::{Event, MonitorSpec, MonitorTable, Remote, SessionConfig, SessionError, Timing};
use ovsdb::{Atom, Datum, Uuid};
use support::{Cluster, OvsdbServer, ServerOptions};
use tokio::time::timeout;

const NB: &str = "OVN_Northbound";
const LIMIT: Duration = Duration::from_secs(60);

fn switches_only() -> Option<MonitorSpec> {
    let mut t = IndexMap::new();
    t.insert("Logical_Switch".to_string(), MonitorTable { columns: Some(vec!["name".into()]), conditions: None });
    Some(MonitorSpec::Tables(t))
}

fn config(remotes: &str, monitor: Option<MonitorSpec>) -> SessionConfig {
    let mut c = SessionConfig::new(Remote::parse_list(remotes).unwrap(), NB);
    c.monitor = monitor;
    c.timing =
        Timing { min_backoff: Duration::from_millis(50), max_backoff: Duration::from_millis(400), ..Timing::default() };
    c
}

fn switch_row(name: &str) -> Row {
    let mut row = Row::new();
    row.insert("name".into(), Datum::from(Atom::string(name)));
    row
}

/// The deterministic row UUID of the i-th switch, so that a retried insert
/// whose first try committed is recognised instead of duplicated.
fn switch_uuid(i: u32) -> Uuid {
    Uuid::from_u128(0x5eed_0000_0000_4000_8000_0000_0000_0000 | i as u128)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// Names of the switches in the server, as the real ovsdb-client sees them.
fn names_in_server(remote: &str) -> BTreeSet<String> {
    let out = support::run_ovsdb_client(&[
        "transact",
        remote,
        r#"["OVN_Northbound",{"op":"select","table":"Logical_Switch","where":[],"columns":["name"]}]"#,
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v[0]["rows"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap().to_owned()).collect()
}

fn names_in_replica(client: &Client) -> BTreeSet<String> {
    let t = client.session().replica().unwrap().table("Logical_Switch");
    t.map(|t| t.rows().map(|r| r.get("name").as_atom().unwrap().as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

/// The reason of the client's first failed connection attempt.
async fn first_connect_failure(client: &mut Client) -> String {
    timeout(LIMIT, async {
        loop {
            if let Event::ConnectFailed { reason, .. } = client.next_event().await {
                return reason;
            }
        }
    })
    .await
    .expect("a connection attempt fails in time")
}

/// Records every change the replica reports and fails on a row inserted
/// twice without a delete between, or deleted without being there.
#[derive(Default)]
struct Ledger {
    present: HashSet<Uuid>,
    inserts: usize,
}

impl Ledger {
    fn take(&mut self, client: &mut Client) {
        let changes = client.session_mut().replica_mut().unwrap().take_changes();
        for (_, uuid, change) in changes.iter() {
            match change {
                Change::Inserted => {
                    assert!(self.present.insert(*uuid), "row {uuid} reported inserted twice");
                    self.inserts += 1;
                }
                Change::Deleted { .. } => assert!(self.present.remove(uuid), "row {uuid} deleted but never inserted"),
                Change::Modified { .. } => assert!(self.present.contains(uuid), "row {uuid} modified but absent"),
            }
        }
    }
}

#[test]
fn follows_the_raft_leader_and_misses_or_repeats_no_change() {
    const N: u32 = 150;
    let mut cluster = Cluster::start("ovn-nb.ovsschema", 3);
    let remotes = cluster.remotes();
    let rt = runtime();
    // The writer runs on its own thread and runtime: a numbered sequence of
    // inserts, each retried until it is known to be committed. It waits
    // for the kill before its last third, so that those inserts reach the
    // client only through another server, however the monitor batches the
    // first ones.
    let writer_remotes = remotes.clone();
    let killed_flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer_waits = killed_flag.clone();
    let writer = std::thread::spawn(move || {
        runtime().block_on(async move {
            let mut client = Client::new(config(&writer_remotes, None), None);
            for i in 0..N {
                if i == 2 * N / 3 {
                    timeout(LIMIT, async {
                        while !writer_waits.load(std::sync::atomic::Ordering::SeqCst) {
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    })
                    .await
                    .expect("the leader was never killed");
                }
                loop {
                    let mut op = Transaction::new(NB);
                    op.push(Operation::Insert {
                        table: "Logical_Switch".into(),
                        row: switch_row(&format!("sw{i:04}")),
                        uuid_name: None,
                        uuid: Some(switch_uuid(i)),
                    });
                    match timeout(LIMIT, client.transact(op)).await.expect("writer stuck") {
                        Ok(_) => break,
                        // The first try committed before the connection dropped.
                        Err(SessionError::Txn(TxnError::Operation(e))) if e.kind == ErrorKind::DuplicateUuid => break,
                        Err(SessionError::Txn(e)) => panic!("insert {i}: {e}"),
                        Err(_) => continue,
                    }
                }
            }
        })
    });
    rt.block_on(async {
        let mut client = Client::new(config(&remotes, switches_only()), None);
        let mut ledger = Ledger::default();
        let mut killed = None;
        let mut reconnects = 0;
        let mut connected: Option<String> = None;
        timeout(Duration::from_secs(180), async {
            loop {
                match client.next_event().await {
                    Event::ReplicaChanged => ledger.take(&mut client),
                    Event::Ready { remote } => {
                        reconnects += 1;
                        connected = Some(remote);
                    }
                    _ => {}
                }
                if killed.is_none() && ledger.inserts >= N as usize / 3 {
                    // The server the client follows: the leader when it
                    // connected. The leader the cluster reports now may be
                    // another one on a loaded machine, where leadership can
                    // move in between, and killing that one would not make
                    // the client move.
                    let on = (0..3).find(|&i| connected.as_deref() == Some(cluster.remote(i).as_str()));
                    let victim = on.unwrap_or_else(|| cluster.leader());
                    cluster.kill(victim);
                    killed = Some(victim);
                    killed_flag.store(true, std::sync::atomic::Ordering::SeqCst);
                }
                if ledger.inserts == N as usize {
                    break;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("saw {} of {N} inserts", ledger.inserts));
        writer.join().unwrap();
        assert!(killed.is_some());
        assert!(reconnects >= 2, "the client never had to reconnect");
        // The new leader had the client's last transaction in its history:
        // the monitor resumed from it instead of fetching everything again.
        let stats = client.session().stats();
        assert!(stats.resumed_syncs >= 1, "{stats:?}");
        assert_eq!(stats.full_syncs, 1, "{stats:?}");
        let expected: BTreeSet<String> = (0..N).map(|i| format!("sw{i:04}")).collect();
        assert_eq!(names_in_replica(&client), expected);
        let survivor = (0..3).find(|i| Some(*i) != killed).unwrap();
        assert_eq!(names_in_server(&cluster.remote(survivor)), expected);
    });
}

#[test]
fn reconnects_after_a_server_restart_and_reports_only_what_changed() {
    let mut server = OvsdbServer::start("ovn-nb.ovsschema");
    let remote = server.remote();
    server.transact(r#"["OVN_Northbound",{"op":"insert","table":"Logical_Switch","row":{"name":"before"}}]"#);
    runtime().block_on(async {
        let mut client = Client::new(config(&remote, switches_only()), None);
        timeout(LIMIT, client.wait_ready()).await.unwrap();
        let mut ledger = Ledger::default();
        ledger.take(&mut client);
        assert_eq!(ledger.inserts, 1);
        server.kill();
        loop {
            if let Event::Disconnected { .. } = timeout(LIMIT, client.next_event()).await.unwrap() {
                break;
            }
        }
        server.restart();
        server.transact(r#"["OVN_Northbound",{"op":"insert","table":"Logical_Switch","row":{"name":"after"}}]"#);
        timeout(LIMIT, async {
            while names_in_replica(&client).len() < 2 {
                client.next_event().await;
            }
        })
        .await
        .expect("the change made during the outage arrives");
        // The refetch after the restart reports the one new row, not "before" again.
        let before = ledger.inserts;
        ledger.take(&mut client);
        assert_eq!(ledger.inserts - before, 1);
        assert_eq!(names_in_replica(&client), ["after", "before"].map(String::from).into());
    });
}

#[test]
fn two_contenders_for_a_lock_and_an_assert_on_a_lock_not_held() {
    let server = OvsdbServer::start("ovn-nb.ovsschema");
    let remote = server.remote();
    runtime().block_on(async {
        let mut a = Client::new(config(&remote, None), None);
        let mut b = Client::new(config(&remote, None), None);
        timeout(LIMIT, a.wait_ready()).await.unwrap();
        timeout(LIMIT, b.wait_ready()).await.unwrap();
        a.session_mut().lock("ovn_northd");
        b.session_mut().lock("ovn_northd");
        let winner = timeout(LIMIT, async {
            loop {
                tokio::select! {
                    ev = a.next_event() => if matches!(ev, Event::Locked(_)) { return 'a' },
                    ev = b.next_event() => if matches!(ev, Event::Locked(_)) { return 'b' },
                }
            }
        })
        .await
        .unwrap();
        let (mut owner, mut other) = if winner == 'a' { (a, b) } else { (b, a) };
        assert!(owner.session().has_lock("ovn_northd"));
        assert!(!other.session().has_lock("ovn_northd"));
        // A write asserting the lock fails for the one without it, and writes nothing.
        let txn = Transaction::new(NB).assert_lock("ovn_northd").insert("Logical_Switch", switch_row("x"), None);
        let err = timeout(LIMIT, other.transact(txn.clone())).await.unwrap().unwrap_err();
        match err {
            SessionError::Txn(TxnError::Operation(e)) => assert_eq!((e.kind, e.index), (ErrorKind::NotOwner, 0)),
            e => panic!("expected not owner, got {e}"),
        }
        assert!(names_in_server(&remote).is_empty());
        timeout(LIMIT, owner.transact(txn)).await.unwrap().expect("the owner may write");
        assert_eq!(names_in_server(&remote).len(), 1);
        // The owner goes away: the other one is granted the lock.
        drop(owner);
        timeout(LIMIT, async { while !matches!(other.next_event().await, Event::Locked(_)) {} })
            .await
            .expect("the lock passes on");
        assert!(other.session().has_lock("ovn_northd"));
    });
}

#[test]
fn tcp_and_ssl_remotes() {
    let mut opts = ServerOptions::new("ovn-nb.ovsschema");
    opts.tcp = true;
    opts.ssl = true;
    let server = OvsdbServer::start_with(opts);
    let pki = server.pki();
    let tls = tls_config(&TlsFiles {
        private_key: pki.client_key.clone(),
        certificate: pki.client_cert.clone(),
        ca_cert: pki.ca_cert.clone(),
    })
    .unwrap();
    runtime().block_on(async {
        for (remote, tls) in [(server.tcp_remote(), None), (server.ssl_remote(), Some(tls.clone()))] {
            let mut client = Client::new(config(&remote, switches_only()), tls);
            timeout(LIMIT, client.wait_ready()).await.unwrap_or_else(|_| panic!("{remote} never ready"));
            let dbs = timeout(LIMIT, client.call("list_dbs", serde_json::json!([]))).await.unwrap().unwrap();
            assert!(dbs.get().contains(NB), "{remote}: {}", dbs.get());
        }
        // A CA that did not sign the server's certificate: the handshake fails.
        let other = support::Pki::new();
        let wrong = tls_config(&TlsFiles {
            private_key: pki.client_key.clone(),
            certificate: pki.client_cert.clone(),
            ca_cert: other.ca_cert.clone(),
        })
        .unwrap();
        let mut client = Client::new(config(&server.ssl_remote(), None), Some(wrong));
        let reason = first_connect_failure(&mut client).await;
        assert!(reason.contains("tls handshake"), "{reason}");
    });
}

/// The parser takes the real `_Server` schema, and the columns the session
/// monitors in it are there with the types it decodes them with.
#[test]
fn parses_the_real_server_schema() {
    let server = OvsdbServer::start("ovn-nb.ovsschema");
    let text = server.ovsdb_client(&["get-schema", "_Server"]);
    let schema = ovsdb::DatabaseSchema::from_json_str(&text).unwrap();
    let db = schema.table("Database").expect("_Server has a Database table");
    for (column, atomic) in [
        ("name", ovsdb::AtomicType::String),
        ("model", ovsdb::AtomicType::String),
        ("connected", ovsdb::AtomicType::Boolean),
        ("leader", ovsdb::AtomicType::Boolean),
        ("cid", ovsdb::AtomicType::Uuid),
        ("index", ovsdb::AtomicType::Integer),
    ] {
        assert_eq!(db.column(column).map(|c| c.ty.key.atomic), Some(atomic), "{column}");
    }
}

/// Certificates from `ovs-pki` name no host; OVS tools accept a peer by its
/// chain to the CA alone, and so must we (with every other check on).
#[test]
fn ssl_with_ovs_pki_certificates() {
    let mut opts = ServerOptions::new("ovn-sb.ovsschema");
    opts.ssl = true;
    opts.ovs_pki = true;
    let server = OvsdbServer::start_with(opts);
    let pki = server.pki();
    let files = |ca: &std::path::Path| TlsFiles {
        private_key: pki.client_key.clone(),
        certificate: pki.client_cert.clone(),
        ca_cert: ca.to_owned(),
    };
    runtime().block_on(async {
        let mut config = SessionConfig::new(Remote::parse_list(&server.ssl_remote()).unwrap(), "OVN_Southbound");
        config.monitor = Some(MonitorSpec::All);
        let mut client = Client::new(config, Some(tls_config(&files(&pki.ca_cert)).unwrap()));
        timeout(LIMIT, client.wait_ready()).await.expect("an ovs-pki server is accepted");
        assert!(client.session().replica().unwrap().table("SB_Global").is_some());
        // The same certificates, but trusting the other CA that ovs-pki made: refused.
        let controllerca = pki.ca_cert.parent().unwrap().parent().unwrap().join("controllerca/cacert.pem");
        let mut config = SessionConfig::new(Remote::parse_list(&server.ssl_remote()).unwrap(), "OVN_Southbound");
        config.timing.min_backoff = Duration::from_millis(50);
        let mut client = Client::new(config, Some(tls_config(&files(&controllerca)).unwrap()));
        let reason = first_connect_failure(&mut client).await;
        assert!(reason.contains("tls handshake"), "{reason}");
    });
}

/// A peer that is not an OVSDB server: each connection gets one kind of bad
/// input (`{ID}` stands for the id of the client's first request, the
/// `_Server` monitor). The client must say what was wrong, not panic, and
/// connect again.
#[test]
fn garbage_from_a_peer_is_a_clear_error_then_a_reconnect() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.sock");
    let bad_inputs = [
        ("xyz", "bad input"),
        ("{\"id\":{ID},\"result\":", "ended inside a message"),
        ("[1,2,3]", "bad message"),
        ("{\"id\":{ID},\"result\":5,\"error\":null}", "_Server"),
        ("{\"id\":null,\"method\":\"update3\",\"params\":7}", "must be an array"),
        (
            "{\"id\":null,\"method\":\"update3\",\"params\":[[\"monid\",\"OVN_Northbound\"],\"x\",{}]}",
            "bad transaction id",
        ),
    ];
    runtime().block_on(async {
        let listener = tokio::net::UnixListener::bind(&path).unwrap();
        let remote = format!("unix:{}", path.display());
        let mut client = Client::new(config(&remote, switches_only()), None);
        for (input, expected) in bad_inputs {
            let serve = async {
                let (mut sock, _) = listener.accept().await.unwrap();
                let mut buf = Vec::new();
                let first: serde_json::Value = loop {
                    let mut chunk = [0u8; 4096];
                    let n = sock.read(&mut chunk).await.unwrap();
                    buf.extend_from_slice(&chunk[..n]);
                    let mut values = serde_json::Deserializer::from_slice(&buf).into_iter::<serde_json::Value>();
                    if let Some(Ok(v)) = values.next() {
                        break v;
                    }
                };
                let text = input.replace("{ID}", &first["id"].to_string());
                sock.write_all(text.as_bytes()).await.unwrap();
                sock.shutdown().await.unwrap();
                // Keep the socket open until the client has read and judged it.
                tokio::time::sleep(Duration::from_secs(30)).await;
            };
            let judge = async {
                loop {
                    if let Event::Disconnected { reason, .. } = client.next_event().await {
                        return reason;
                    }
                }
            };
            let reason = tokio::select! {
                r = timeout(LIMIT, judge) => r.expect("the client judges the input"),
                _ = serve => unreachable!("the server side waits longer than the client"),
            };
            assert!(reason.contains(expected), "input {input:?}: reason {reason:?} lacks {expected:?}");
        }
    });
}
