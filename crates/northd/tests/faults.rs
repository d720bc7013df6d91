//! Faults under load: on the benchmark topology (`gen_topology`'s
//! generator, 6 switches of 50 VIFs: 300 ports, 1 router, port groups and
//! ACLs) with NB changes streaming in, the servers fail under the daemon:
//!
//! - the standalone SB is killed with SIGKILL and restarted on its file;
//! - it is restarted on an empty database (a lost disk);
//! - it is frozen with SIGSTOP for longer than the daemon's probe interval
//!   (5 s to the probe, 5 s more to give up), then resumed;
//! - the standalone NB is killed with SIGKILL and restarted;
//! - with 3-server Raft clusters for both, the SB leader and then the NB
//!   leader are killed.
//!
//! After each: `ovn-nbctl --wait=sb sync` returns, and its time from the
//! restart (or resume, or kill) is printed as the recovery time; then the
//! stream stops for a moment and every streamed port must be in the NB (no
//! change lost) and the SB the exact translation of the NB (a fresh
//! `lflow::compile` plans no operation). All along, `nb_cfg` and `sb_cfg`
//! are sampled at every change and never go backwards. At the end, every
//! transaction the SB servers received (they log their JSON-RPC traffic)
//! asserts the `ovn_northd` lock: nothing was written without it.

mod common;

#[path = "../../lflow/examples/gen_topology/topology.rs"]
#[allow(dead_code)] // `update2` and `planned_inserts` serve the benchmarks
mod topology;

use std::time::{Duration, Instant};

use common::{assert_translated, nbctl_through_failures, ours, transact, CfgSampler, Dbs, Sb, Stream};
use serde_json::{json, Value};
use testsupport::northd::{nbctl, Northd};
use testsupport::{Cluster, OvsdbServer, ServerOptions};

/// Switches of the topology (50 VIFs each).
const SWITCHES: usize = 6;

/// The switch the stream adds ports to.
const STREAM_SWITCH: &str = "stream-sw";

/// How long the SB is frozen: more than twice the daemon's 5 s probe
/// interval (a probe after 5 s of silence, the connection dropped 5 s
/// later without an answer).
const FREEZE: Duration = Duration::from_secs(12);

/// The topology (without its `NB_Global`: the NB is initialized) and the
/// stream's switch, in one transaction.
fn load_topology(nb_remote: &str) {
    let mut params = vec![json!("OVN_Northbound")];
    for r in topology::generate(SWITCHES).into_iter().filter(|r| r.table != "NB_Global") {
        params.push(json!({"op": "insert", "table": r.table, "uuid-name": r.name, "row": r.row}));
    }
    params.push(json!({"op": "insert", "table": "Logical_Switch", "row": {"name": STREAM_SWITCH}}));
    transact(nb_remote, &Value::Array(params));
}

/// `--wait=sb sync`, which must return; the time it took.
fn sync(nb_remote: &str, daemon: &mut Northd, what: &str) -> Duration {
    let started = Instant::now();
    if let Err(e) = nbctl_through_failures(nb_remote, &["--wait=sb", "sync"]) {
        panic!("{what}: --wait=sb sync did not return: {e}\n{}", daemon.diagnostics());
    }
    daemon.check_alive();
    started.elapsed()
}

/// Every transaction the SB server's JSON-RPC log shows asserts the lock
/// first; returns how many there were.
fn every_sb_write_asserts_the_lock(log: &str) -> usize {
    const REQUEST: &str = "received request, method=\"transact\", params=";
    const LOCKED: &str = r#"["OVN_Southbound",{"lock":"ovn_northd","op":"assert"}"#;
    let txns: Vec<&str> = log.lines().filter_map(|l| l.split_once(REQUEST).map(|(_, p)| p)).collect();
    for t in &txns {
        assert!(t.starts_with(LOCKED), "an SB transaction without the lock: {}", &t[..t.len().min(300)]);
    }
    txns.len()
}

/// The topology translated by our daemon, NB changes streaming in, and
/// `nb_cfg`/`sb_cfg` sampled.
struct Load {
    nb: String,
    sb: String,
    daemon: Northd,
    stream: Option<Stream>,
    /// Ports the streams added so far (the running one's not counted).
    added: usize,
    sampler: CfgSampler,
}

impl Load {
    fn start(nb: String, sb: String) -> Load {
        load_topology(&nb);
        let mut daemon = Northd::start(ours(), &nb, &sb, &[]);
        daemon.wait_status("active");
        let first = sync(&nb, &mut daemon, "the first translation");
        println!("faults: the topology translated in {} ms", first.as_millis());
        let sampler = CfgSampler::start(&nb, &sb);
        let mut load = Load { nb, sb, daemon, stream: None, added: 0, sampler };
        load.stream_on();
        load
    }

    fn stream_on(&mut self) {
        let stream = Stream::start(self.nb.clone(), STREAM_SWITCH, 100 + self.added);
        stream.wait_more(3);
        self.stream = Some(stream);
    }

    /// Waits for `n` more NB changes.
    fn wait_more(&self, n: usize) {
        self.stream.as_ref().expect("streaming").wait_more(n);
    }

    /// After a fault: prints the recovery time (from the server back, or
    /// the kill, to `--wait=sb sync` returning); then stops the stream and
    /// checks that no change was lost and the SB is the translation of the
    /// NB; then streams on.
    fn recovered(&mut self, what: &str, since: Instant) {
        sync(&self.nb, &mut self.daemon, what);
        println!("fault recovery ({what}): --wait=sb sync returned {} ms after", since.elapsed().as_millis());
        self.added += self.stream.take().expect("streaming").stop();
        sync(&self.nb, &mut self.daemon, what);
        // Twice: NB write-backs reach the SB on the next round.
        sync(&self.nb, &mut self.daemon, what);
        assert_translated(&self.nb, &self.sb);
        let ports = nbctl(&self.nb, &["lsp-list", STREAM_SWITCH]).lines().count();
        assert_eq!(ports, self.added, "{what}: every streamed port is in the NB");
        self.stream_on();
    }

    /// Stops the stream and the sampler (no cfg went backwards).
    fn finish(mut self) -> Northd {
        self.added += self.stream.take().expect("streaming").stop();
        let samples = self.sampler.finish();
        println!("faults: {} ports streamed in, {samples} cfg samples, none backwards", self.added);
        self.daemon.check_alive();
        self.daemon
    }
}

#[test]
fn standalone_sb_and_nb_fail_under_load() {
    conformance::run::require_tools();
    // The SB server logs every JSON-RPC message, for the lock check.
    let opts =
        ServerOptions { extra_args: vec!["-vjsonrpc:file:dbg".into()], ..ServerOptions::new("ovn-sb.ovsschema") };
    let mut dbs = Dbs::with_sb(Sb::Standalone { server: Box::new(OvsdbServer::start_with(opts)), tcp: false });
    let mut load = Load::start(dbs.nb_remote(), dbs.sb_remote());
    let Sb::Standalone { server, .. } = &mut dbs.sb else { unreachable!("a standalone SB") };

    server.kill();
    load.wait_more(2);
    server.restart();
    load.recovered("SB killed with SIGKILL, restarted", Instant::now());

    server.restart_empty();
    load.recovered("SB restarted empty", Instant::now());

    // SAFETY: kill(2) on the server, our child.
    let signal = |pid: u32, sig: i32| assert_eq!(unsafe { libc::kill(pid as i32, sig) }, 0, "kill");
    signal(server.pid(), libc::SIGSTOP);
    let frozen = Instant::now();
    load.wait_more(2);
    while frozen.elapsed() < FREEZE {
        std::thread::sleep(Duration::from_millis(200));
    }
    signal(server.pid(), libc::SIGCONT);
    load.recovered("SB frozen with SIGSTOP for 12 s, resumed", Instant::now());
    let drops = load.daemon.log().matches("disconnected db=OVN_Southbound").count();
    println!("faults: the daemon dropped its SB connection {drops} times so far (kill, restart, freeze)");

    dbs.nb.kill();
    dbs.nb.restart();
    load.recovered("NB killed with SIGKILL, restarted", Instant::now());

    load.finish();
    let Sb::Standalone { server, .. } = &dbs.sb else { unreachable!("a standalone SB") };
    let txns = every_sb_write_asserts_the_lock(&server.log());
    println!("faults: {txns} SB transactions in the server's log, each under the lock");
    assert!(txns > 1, "the SB log shows {txns} transactions");
}

#[test]
fn raft_sb_and_nb_leaders_killed_under_load() {
    conformance::run::require_tools();
    let mut nb_cluster = Cluster::start("ovn-nb.ovsschema", 3);
    let mut sb_cluster = Cluster::start("ovn-sb.ovsschema", 3);
    // Every SB server logs every JSON-RPC message, for the lock check.
    sb_cluster.vlog_set("jsonrpc:file:dbg");
    nbctl(&nb_cluster.remotes(), &["init"]);
    let mut load = Load::start(nb_cluster.remotes(), sb_cluster.remotes());

    let leader = sb_cluster.leader();
    let killed = Instant::now();
    sb_cluster.kill(leader);
    load.recovered("SB Raft leader killed", killed);

    let leader = nb_cluster.leader();
    let killed = Instant::now();
    nb_cluster.kill(leader);
    load.recovered("NB Raft leader killed", killed);

    load.finish();
    let txns = every_sb_write_asserts_the_lock(&sb_cluster.logs());
    println!("faults: {txns} SB transactions in the Raft servers' logs, each under the lock");
    assert!(txns > 1, "the SB logs show {txns} transactions");
}
