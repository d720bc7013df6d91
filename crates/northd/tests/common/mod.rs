//! Helpers shared by the daemon's integration tests: the databases a
//! northd runs on, a watch that records every SB write, and the proof that
//! an SB is the exact translation of an NB.

#![allow(dead_code)] // each test file uses its own part of this module

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use ovsdb::replica::Change;
use ovsdb::session::{Event, MonitorSpec, Remote, SessionConfig};
use ovsdb::{Atom, Client, Replica};
use testsupport::northd::nbctl;
use testsupport::{wait_until, Cluster, OvsdbServer, ServerOptions};
use tokio::sync::oneshot;

/// Our daemon's binary.
pub fn ours() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_ovn-northd-rs"))
}

/// The Southbound server(s).
pub enum Sb {
    /// One server, used through its unix socket or (`tcp`) its TCP remote.
    Standalone {
        server: Box<OvsdbServer>,
        tcp: bool,
    },
    Raft(Cluster),
}

impl Sb {
    /// The remote list northd and the tools connect to.
    pub fn remote(&self) -> String {
        match self {
            Sb::Standalone { server, tcp: false } => server.remote(),
            Sb::Standalone { server, tcp: true } => server.tcp_remote(),
            Sb::Raft(c) => c.remotes(),
        }
    }
}

/// An initialized NB (`ovn-nbctl init`) and an empty SB.
pub struct Dbs {
    pub nb: OvsdbServer,
    pub sb: Sb,
}

impl Dbs {
    pub fn standalone() -> Dbs {
        Dbs::with_sb(Sb::Standalone { server: Box::new(OvsdbServer::start("ovn-sb.ovsschema")), tcp: false })
    }

    /// A standalone SB that northd reaches over TCP (where ovsdb-server
    /// sends inactivity probes; it does not on unix sockets).
    pub fn standalone_tcp() -> Dbs {
        let opts = ServerOptions { tcp: true, ..ServerOptions::new("ovn-sb.ovsschema") };
        Dbs::with_sb(Sb::Standalone { server: Box::new(OvsdbServer::start_with(opts)), tcp: true })
    }

    /// The SB as a 3-server Raft cluster.
    pub fn raft() -> Dbs {
        Dbs::with_sb(Sb::Raft(Cluster::start("ovn-sb.ovsschema", 3)))
    }

    fn with_sb(sb: Sb) -> Dbs {
        let nb = OvsdbServer::start("ovn-nb.ovsschema");
        nbctl(&nb.remote(), &["init"]);
        Dbs { nb, sb }
    }

    pub fn nb_remote(&self) -> String {
        self.nb.remote()
    }

    pub fn sb_remote(&self) -> String {
        self.sb.remote()
    }

    pub fn nbctl(&self, args: &[&str]) -> String {
        nbctl(&self.nb_remote(), args)
    }
}

/// Reads a whole database with our client.
pub fn dump(remote: &str, db: &str) -> Replica {
    conformance::run::dump(remote, db).unwrap_or_else(|e| panic!("dump of {db} at {remote}: {e}"))
}

fn int(r: &Replica, table: &str, column: &str) -> Option<i64> {
    r.table(table)?.rows().next()?.get(column).as_atom().and_then(Atom::as_integer)
}

/// Proves that the SB is the exact translation of the NB: a fresh compile
/// and diff over both plans no SB operation and no NB status write, and
/// `SB_Global.nb_cfg` carries `NB_Global.nb_cfg`.
pub fn assert_translated(nb_remote: &str, sb_remote: &str) {
    let nb = dump(nb_remote, "OVN_Northbound");
    let sb = dump(sb_remote, "OVN_Southbound");
    let out = lflow::compile(&nb, &sb);
    let plan = lflow::sync::plan_sb(&out, &sb);
    assert!(
        plan.ops.is_empty(),
        "the SB is not the translation of the NB: {:?}\n{:#?}",
        plan.stats.tables.iter().filter(|(_, v)| **v != (0, 0, 0)).collect::<Vec<_>>(),
        plan.ops.iter().take(5).collect::<Vec<_>>()
    );
    let nb_ops = lflow::sync::plan_nb(&out, &nb);
    assert!(nb_ops.is_empty(), "NB status not up to date: {nb_ops:#?}");
    assert_eq!(int(&sb, "SB_Global", "nb_cfg"), int(&nb, "NB_Global", "nb_cfg"), "SB_Global.nb_cfg");
}

/// Every SB write seen after the watch became ready, one line each:
/// `Table insert`, `Table delete`, or `Table modify col,col`.
pub struct SbWatch {
    changes: Arc<Mutex<Vec<String>>>,
    ready: Arc<AtomicBool>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl SbWatch {
    /// Starts watching `remote` and returns once its initial copy is made.
    pub fn start(remote: &str) -> SbWatch {
        let mut config = SessionConfig::new(Remote::parse_list(remote).expect("remote"), "OVN_Southbound");
        config.monitor = Some(MonitorSpec::All);
        let changes = Arc::new(Mutex::new(Vec::new()));
        let ready = Arc::new(AtomicBool::new(false));
        let (stop_tx, stop_rx) = oneshot::channel();
        let (c, r) = (changes.clone(), ready.clone());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(watch(Client::new(config, None), c, r, stop_rx));
        });
        let watch = SbWatch { changes, ready, stop: Some(stop_tx), thread: Some(thread) };
        wait_until("the SB watch to sync", Duration::from_secs(60), || watch.ready.load(Ordering::SeqCst));
        watch
    }

    /// The writes seen so far.
    pub fn changes(&self) -> Vec<String> {
        self.changes.lock().unwrap().clone()
    }
}

impl Drop for SbWatch {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn watch(
    mut client: Client,
    out: Arc<Mutex<Vec<String>>>,
    ready: Arc<AtomicBool>,
    mut stop: oneshot::Receiver<()>,
) {
    loop {
        let ev = tokio::select! {
            ev = client.next_event() => ev,
            _ = &mut stop => return,
        };
        let Some(replica) = client.session_mut().replica_mut() else { continue };
        let changes = replica.take_changes();
        match ev {
            // The first copy is not a write; later resyncs would be.
            Event::Ready { .. } if !ready.load(Ordering::SeqCst) => {
                ready.store(true, Ordering::SeqCst);
            }
            Event::ReplicaChanged if ready.load(Ordering::SeqCst) => {
                let mut out = out.lock().unwrap();
                for (table, uuid, change) in changes.iter() {
                    out.push(match change {
                        Change::Inserted => format!("{table} insert"),
                        Change::Deleted { .. } => format!("{table} delete"),
                        Change::Modified { old } => {
                            let new = replica.get(table, uuid).expect("a modified row is in the replica");
                            let schema = new.table_schema().clone();
                            let cols: Vec<&str> = schema
                                .columns
                                .keys()
                                .map(String::as_str)
                                .filter(|c| old.get(c) != new.get(c))
                                .collect();
                            format!("{table} modify {}", cols.join(","))
                        }
                    });
                }
            }
            _ => {}
        }
    }
}
