//! Helpers shared by the daemon's integration tests: the databases a
//! northd runs on, a watch that records every SB write, a stream of NB
//! changes, a sampler of `nb_cfg`/`sb_cfg`, transactions too large for a
//! command line, and the proof that an SB is the exact translation of an
//! NB.

#![allow(dead_code)] // each test file uses its own part of this module

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use ovsdb::replica::Change;
use ovsdb::session::{Event, MonitorSpec, Remote, SessionConfig};
use ovsdb::{Atom, Client, Replica, Transaction, Uuid};
use testsupport::northd::{nbctl, try_nbctl};
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

    /// An initialized NB and the given SB.
    pub fn with_sb(sb: Sb) -> Dbs {
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

/// The integer `column` of the first row of `table`.
pub fn int(r: &Replica, table: &str, column: &str) -> Option<i64> {
    r.table(table)?.rows().next()?.get(column).as_atom().and_then(Atom::as_integer)
}

/// Proves that the SB is the exact translation of the NB: a fresh compile
/// and diff over both plans no SB operation and no NB status write, and
/// `SB_Global.nb_cfg` carries `NB_Global.nb_cfg`.
pub fn assert_translated(nb_remote: &str, sb_remote: &str) {
    if let Err(e) = translated(&dump(nb_remote, "OVN_Northbound"), &dump(sb_remote, "OVN_Southbound")) {
        panic!("{e}");
    }
}

/// What `assert_translated` checks, on dumps already made.
pub fn translated(nb: &Replica, sb: &Replica) -> Result<(), String> {
    let out = lflow::compile(nb, sb);
    let plan = lflow::sync::plan_sb(&out, sb);
    if !plan.is_empty() {
        return Err(format!(
            "the SB is not the translation of the NB: {:?}\n{:#?}",
            plan.stats.tables.iter().filter(|(_, v)| **v != (0, 0, 0)).collect::<Vec<_>>(),
            plan.ops().iter().take(5).collect::<Vec<_>>()
        ));
    }
    let nb_ops = lflow::sync::plan_nb(&out, nb);
    if !nb_ops.is_empty() {
        return Err(format!("NB status not up to date: {nb_ops:#?}"));
    }
    let (sb_nb_cfg, nb_cfg) = (int(sb, "SB_Global", "nb_cfg"), int(nb, "NB_Global", "nb_cfg"));
    if sb_nb_cfg != nb_cfg {
        return Err(format!("SB_Global.nb_cfg {sb_nb_cfg:?}, NB_Global.nb_cfg {nb_cfg:?}"));
    }
    Ok(())
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

/// Runs `txn` (`[db, op...]`) on the database at `remote` with our client;
/// panics if it fails.
pub fn transact(remote: &str, txn: &serde_json::Value) {
    let txn = Transaction::from_json(txn).expect("a well-formed transaction");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let mut config = SessionConfig::new(Remote::parse_list(remote).expect("remote"), txn.db.clone());
        config.monitor = Some(MonitorSpec::All);
        let mut client = Client::new(config, None);
        tokio::time::timeout(Duration::from_secs(60), client.wait_ready()).await.expect("connected");
        let result = tokio::time::timeout(Duration::from_secs(60), client.transact(txn)).await.expect("answered");
        result.unwrap_or_else(|e| panic!("transaction failed: {e}"));
    });
}

/// Runs `ovn-nbctl`, again while it fails for want of a server: it gives
/// up at the first connection error (a server killed or restarting, a Raft
/// member down), and may hang while a Raft NB elects a new leader, so each
/// attempt gets 30 s; three minutes in all. Other failures are returned.
/// Only for commands that may run twice (`--may-exist`, `sync`): an
/// attempt cut short may have committed.
pub fn nbctl_through_failures(nb: &str, args: &[&str]) -> Result<String, String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    // The last --timeout wins over the one try_nbctl puts first.
    let args: Vec<&str> = std::iter::once("--timeout=30").chain(args.iter().copied()).collect();
    loop {
        match try_nbctl(nb, &args) {
            Err(e)
                if (e.contains("database connection failed") || e.contains("Alarm clock"))
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(100));
            }
            result => return result,
        }
    }
}

/// A thread adding ports to a switch, one `ovn-nbctl --may-exist lsp-add`
/// each (a call retried after a lost connection adds nothing twice), until
/// stopped.
pub struct Stream {
    stop: Arc<AtomicBool>,
    count: Arc<AtomicUsize>,
    /// Why it stopped on its own.
    failed: Arc<Mutex<Option<String>>>,
    thread: Option<JoinHandle<()>>,
}

impl Stream {
    /// Ports `s<first>`, `s<first+1>`, ... on `switch` (which must exist).
    pub fn start(nb: String, switch: &str, first: usize) -> Stream {
        let stop = Arc::new(AtomicBool::new(false));
        let count = Arc::new(AtomicUsize::new(0));
        let failed = Arc::new(Mutex::new(None));
        let (s, c, f, switch) = (stop.clone(), count.clone(), failed.clone(), switch.to_string());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                let i = c.load(Ordering::SeqCst) + first;
                let port = format!("s{i}");
                let addr = format!("00:00:00:01:{:02x}:{:02x} 10.1.{}.{}", i / 256, i % 256, i / 250, i % 250 + 1);
                let args = ["--may-exist", "lsp-add", &switch, &port, "--", "lsp-set-addresses", &port, &addr];
                if let Err(e) = nbctl_through_failures(&nb, &args) {
                    *f.lock().unwrap() = Some(format!("ovn-nbctl {}: {e}", args.join(" ")));
                    return;
                }
                c.fetch_add(1, Ordering::SeqCst);
            }
        });
        Stream { stop, count, failed, thread: Some(thread) }
    }

    pub fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    /// Waits until `n` more changes went in.
    pub fn wait_more(&self, n: usize) {
        let target = self.count() + n;
        wait_until("NB changes to stream in", Duration::from_secs(120), || {
            if let Some(e) = self.failed.lock().unwrap().as_ref() {
                panic!("the NB stream failed: {e}");
            }
            self.count() >= target
        });
    }

    /// Stops the stream; how many ports it added.
    pub fn stop(mut self) -> usize {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.take().unwrap().join().unwrap();
        if let Some(e) = self.failed.lock().unwrap().as_ref() {
            panic!("the NB stream failed: {e}");
        }
        self.count()
    }
}

/// Samples `NB_Global.nb_cfg` and `sb_cfg` and `SB_Global.nb_cfg` at
/// every change its monitors see, and records each time one of them went
/// backwards in the same row (a row created afresh, as in an SB restored
/// empty, starts over).
pub struct CfgSampler {
    backwards: Arc<Mutex<Vec<String>>>,
    samples: Arc<AtomicUsize>,
    stop: Vec<oneshot::Sender<()>>,
    threads: Vec<JoinHandle<()>>,
}

impl CfgSampler {
    pub fn start(nb_remote: &str, sb_remote: &str) -> CfgSampler {
        let backwards = Arc::new(Mutex::new(Vec::new()));
        let samples = Arc::new(AtomicUsize::new(0));
        let mut sampler = CfgSampler { backwards, samples, stop: Vec::new(), threads: Vec::new() };
        for (remote, db, table, columns) in [
            (nb_remote, "OVN_Northbound", "NB_Global", &["nb_cfg", "sb_cfg"][..]),
            (sb_remote, "OVN_Southbound", "SB_Global", &["nb_cfg"][..]),
        ] {
            let mut config = SessionConfig::new(Remote::parse_list(remote).expect("remote"), db);
            config.monitor = Some(MonitorSpec::All);
            let (stop_tx, stop_rx) = oneshot::channel();
            let (b, n) = (sampler.backwards.clone(), sampler.samples.clone());
            let columns: Vec<&'static str> = columns.to_vec();
            sampler.threads.push(std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
                rt.block_on(sample(Client::new(config, None), table, columns, b, n, stop_rx));
            }));
            sampler.stop.push(stop_tx);
        }
        sampler
    }

    /// Stops sampling; panics if a value went backwards or nothing was
    /// sampled. Returns the number of samples.
    pub fn finish(mut self) -> usize {
        for stop in self.stop.drain(..) {
            let _ = stop.send(());
        }
        for t in self.threads.drain(..) {
            t.join().expect("a sampler thread panicked");
        }
        let backwards = self.backwards.lock().unwrap().clone();
        assert!(backwards.is_empty(), "cfg went backwards:\n{}", backwards.join("\n"));
        let n = self.samples.load(Ordering::SeqCst);
        assert!(n > 0, "no cfg sampled");
        n
    }
}

async fn sample(
    mut client: Client,
    table: &'static str,
    columns: Vec<&'static str>,
    backwards: Arc<Mutex<Vec<String>>>,
    samples: Arc<AtomicUsize>,
    mut stop: oneshot::Receiver<()>,
) {
    let mut last: std::collections::HashMap<(Uuid, &'static str), i64> = std::collections::HashMap::new();
    loop {
        tokio::select! {
            _ = client.next_event() => {}
            _ = &mut stop => return,
        };
        let Some(replica) = client.session_mut().replica_mut() else { continue };
        replica.take_changes();
        let Some(t) = replica.table(table) else { continue };
        for row in t.rows() {
            for col in &columns {
                let v = row.get(col).as_atom().and_then(Atom::as_integer).unwrap_or(0);
                samples.fetch_add(1, Ordering::SeqCst);
                if let Some(old) = last.insert((row.uuid(), col), v) {
                    if v < old {
                        backwards.lock().unwrap().push(format!("{table}.{col}: {old} -> {v}"));
                    }
                }
            }
        }
    }
}
