//! The harness the integration tests of every crate use to run the real
//! Open vSwitch database tools: standalone `ovsdb-server`s (unix socket, plus
//! optional TCP and SSL remotes on 127.0.0.1), Raft clusters of them, the
//! `ovsdb-client` and `ovs-appctl` commands, and a small PKI for SSL.
//!
//! Each server or cluster lives in its own temporary directory (sockets,
//! database files, logs, control sockets, certificates) that disappears with
//! it; the `OVS_RUNDIR`/`OVS_LOGDIR`/`OVS_DBDIR` of every command we start point
//! there, so nothing is written to the machine's `/var/run/openvswitch`.
//!
//! What it must never do: leave a process behind (every child is killed with
//! SIGKILL and reaped on drop, also when the test panics); wait with a fixed
//! sleep (every wait polls a condition every 20 ms, with a generous bound for
//! a busy 2-core machine); pass silently when a tool is missing (it panics and
//! says to run `scripts/test`, which installs it); take a TCP port it was not
//! given by the kernel.
//!
//! A child is also killed when the test process dies without unwinding
//! (SIGKILL, abort): every child is started with `PR_SET_PDEATHSIG`.

use std::ffi::OsString;
use std::fs::{self, OpenOptions};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

pub mod northd;
pub mod ovn;

/// How often every wait re-checks its condition.
const POLL: Duration = Duration::from_millis(20);
/// Bound on a server becoming ready, a remote appearing, a cluster forming,
/// or a leader being elected. Generous: the machine may be busy.
const TIMEOUT: Duration = Duration::from_secs(60);
/// Bound on any one run of `ovsdb-client` or `ovs-appctl` (their own option).
const TOOL_TIMEOUT_SECS: &str = "60";
/// How many times a cluster start is retried after another process took one
/// of the Raft ports between our probe and the server's bind.
const CLUSTER_ATTEMPTS: usize = 3;

/// Makes the child get SIGKILL when the thread that starts it dies (also
/// without unwinding), so a killed test run leaves no process behind.
/// Start children from the thread that owns them.
pub fn die_with_parent(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe and touches no memory of ours.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
}

/// The path of `schemas/<name>` in this repository.
pub fn schema_path(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas").join(name);
    assert!(path.is_file(), "no schema file {}", path.display());
    path
}

/// Finds the tool `name` on `PATH` (or in the `sbin` directories, where
/// Debian puts `ovsdb-server`) and returns its path; panics if it is missing.
pub fn require_tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("{name} is not installed: run scripts/test, which installs it"))
}

/// Calls `f` every 20 ms until it returns true; panics naming `what` if that
/// does not happen within `timeout`.
pub fn wait_until(what: &str, timeout: Duration, f: impl FnMut() -> bool) {
    if !poll_until(timeout, f) {
        panic!("timed out after {timeout:?} waiting for {what}");
    }
}

/// Calls `f` every 20 ms until it returns true (then true) or `timeout`
/// passes (then false).
pub fn poll_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(POLL);
    }
}

/// Runs the real `ovsdb-client` with exactly `args` (after a `--timeout`
/// option) and returns its standard output, or its exit status and standard
/// error when it fails.
pub fn try_ovsdb_client(args: &[&str]) -> Result<String, String> {
    let timeout = format!("--timeout={TOOL_TIMEOUT_SECS}");
    let mut command = Command::new(require_tool("ovsdb-client"));
    command.arg(timeout).args(args);
    output_of(&mut command)
}

/// Like [`try_ovsdb_client`], but panics with the error output on failure.
pub fn run_ovsdb_client(args: &[&str]) -> String {
    try_ovsdb_client(args).unwrap_or_else(|err| panic!("ovsdb-client {}: {err}", args.join(" ")))
}

/// Runs `command`; its standard output if it exits with status 0, else its
/// status and standard error.
fn output_of(command: &mut Command) -> Result<String, String> {
    let output = command.stdin(Stdio::null()).output().unwrap_or_else(|err| panic!("cannot run {command:?}: {err}"));
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!("{}: {}", output.status, String::from_utf8_lossy(&output.stderr).trim()))
    }
}

/// A command for an Open vSwitch tool whose default run, log and database
/// directories are `dir`.
fn ovs_command(tool: &str, dir: &Path) -> Command {
    let mut command = Command::new(require_tool(tool));
    set_rundirs(&mut command, dir);
    command
}

/// Points every run, log, database and configuration directory OVS and OVN
/// tools read at `dir`, so that nothing global is read or written.
pub(crate) fn set_rundirs(command: &mut Command, dir: &Path) {
    for var in [
        "OVS_RUNDIR",
        "OVS_LOGDIR",
        "OVS_DBDIR",
        "OVS_SYSCONFDIR",
        "OVN_RUNDIR",
        "OVN_LOGDIR",
        "OVN_DBDIR",
        "OVN_SYSCONFDIR",
    ] {
        command.env(var, dir);
    }
}

/// Runs an Open vSwitch tool in `dir`'s environment; panics on failure.
fn run_ovs(tool: &str, dir: &Path, args: &[OsString]) -> String {
    output_of(ovs_command(tool, dir).args(args)).unwrap_or_else(|err| panic!("{tool} {args:?}: {err}"))
}

/// A fresh temporary directory for one server, cluster or PKI.
fn temp_dir() -> TempDir {
    tempfile::Builder::new().prefix("ovsdb-test-").tempdir().expect("cannot create a temporary directory")
}

/// A TCP port on 127.0.0.1 that the kernel just handed out and that nobody
/// listens on right now. Another process may take it before we bind it again;
/// callers detect that and retry.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("cannot bind an ephemeral port on 127.0.0.1")
        .port()
}

/// The last `n` lines of the file at `path`, for failure messages.
fn tail(path: &Path, n: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// One `ovsdb-server` child process and how to start it again.
struct Daemon {
    /// Its directory, which the `OVS_*DIR` variables point to.
    dir: PathBuf,
    /// The full argument list, reused as is by a restart.
    args: Vec<OsString>,
    /// Its unix socket for clients.
    sock: PathBuf,
    /// Its `ovs-appctl` control socket.
    ctl: PathBuf,
    /// Its log file (`--log-file`).
    log: PathBuf,
    /// Where its standard error goes (appended to across restarts).
    stderr: PathBuf,
    /// TCP ports (TCP or SSL remotes) that must accept connections before it
    /// counts as ready.
    tcp_ports: Vec<u16>,
    /// The running process, if any.
    child: Option<Child>,
}

impl Daemon {
    /// Describes (does not start) a server named `name` in `dir` serving the
    /// database file `db` on `<dir>/<name>.sock`.
    fn new(dir: &Path, name: &str, db: &Path) -> Daemon {
        let sock = dir.join(format!("{name}.sock"));
        let ctl = dir.join(format!("{name}.ctl"));
        let log = dir.join(format!("{name}.log"));
        let mut args: Vec<OsString> = vec![db.into()];
        for (flag, path) in [("--remote=punix:", &sock), ("--unixctl=", &ctl), ("--log-file=", &log)] {
            let mut arg = OsString::from(flag);
            arg.push(path);
            args.push(arg);
        }
        Daemon {
            dir: dir.to_owned(),
            args,
            stderr: dir.join(format!("{name}.stderr")),
            sock,
            ctl,
            log,
            tcp_ports: Vec::new(),
            child: None,
        }
    }

    fn remote(&self) -> String {
        format!("unix:{}", self.sock.display())
    }

    fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Starts the process (it must not be running) without waiting for it.
    fn spawn(&mut self) {
        assert!(self.child.is_none(), "ovsdb-server {} is already running", self.sock.display());
        let stderr = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.stderr)
            .expect("cannot open the server's stderr file");
        let mut command = ovs_command("ovsdb-server", &self.dir);
        die_with_parent(&mut command);
        let child = command
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start ovsdb-server: {err}"));
        self.child = Some(child);
    }

    /// Waits until the unix socket, the control socket (created a little
    /// later) and every TCP port accept connections;
    /// panics with the log if the process exits or the wait times out.
    fn wait_ready(&mut self) {
        let ready = poll_until(TIMEOUT, || {
            self.check_alive();
            UnixStream::connect(&self.sock).is_ok()
                && UnixStream::connect(&self.ctl).is_ok()
                && self.tcp_ports.iter().all(|port| TcpStream::connect(("127.0.0.1", *port)).is_ok())
        });
        if !ready {
            panic!(
                "ovsdb-server {} did not become ready within {TIMEOUT:?}\n{}",
                self.sock.display(),
                self.diagnostics()
            );
        }
    }

    /// Panics with the log if the process has exited on its own.
    fn check_alive(&mut self) {
        let exited = self.child.as_mut().and_then(|child| child.try_wait().ok().flatten());
        if let Some(status) = exited {
            self.child = None;
            panic!("ovsdb-server {} exited ({status})\n{}", self.sock.display(), self.diagnostics());
        }
    }

    /// SIGKILL and reap; nothing if it is not running.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // An error means it already exited; `wait` reaps it either way.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Runs `ovs-appctl` against this server's control socket.
    fn appctl(&self, args: &[&str]) -> Result<String, String> {
        let mut target = OsString::from("--target=");
        target.push(&self.ctl);
        output_of(
            ovs_command("ovs-appctl", &self.dir).arg(format!("--timeout={TOOL_TIMEOUT_SECS}")).arg(target).args(args),
        )
    }

    /// Adds the passive remote `kind:0:127.0.0.1` (`ptcp` or `pssl`) to the
    /// running server, reads the port the kernel chose from the log, and
    /// makes later restarts listen on that same port. Returns the port.
    fn add_listener(&mut self, kind: &str) -> u16 {
        let before = self.listening_ports().len();
        let remote = format!("{kind}:0:127.0.0.1");
        if let Err(err) = self.appctl(&["ovsdb-server/add-remote", &remote]) {
            panic!("ovs-appctl ovsdb-server/add-remote {remote}: {err}");
        }
        let mut port = None;
        wait_until(&format!("ovsdb-server to log the port of {remote}"), TIMEOUT, || {
            port = self.listening_ports().get(before).copied();
            port.is_some()
        });
        let port = port.expect("wait_until returned without a port");
        self.args.push(format!("--remote={kind}:{port}:127.0.0.1").into());
        self.tcp_ports.push(port);
        port
    }

    /// The ports in the log's "listening on port N" lines, oldest first
    /// (ovsdb-server logs one for each passive remote bound to port 0).
    fn listening_ports(&self) -> Vec<u16> {
        fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| line.split_once("listening on port ")?.1.trim().parse().ok())
            .collect()
    }

    /// The end of the log and of standard error, for failure messages.
    fn diagnostics(&self) -> String {
        format!(
            "--- {}:\n{}\n--- {}:\n{}",
            self.log.display(),
            tail(&self.log, 30),
            self.stderr.display(),
            tail(&self.stderr, 10)
        )
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What [`OvsdbServer::start_with`] starts.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// File name under `schemas/`, e.g. `ovn-nb.ovsschema`.
    pub schema: String,
    /// Also listen on TCP, 127.0.0.1, a port the kernel picks.
    pub tcp: bool,
    /// Also listen on SSL, 127.0.0.1, a port the kernel picks, with a fresh
    /// [`Pki`] (the server requires a client certificate signed by its CA).
    pub ssl: bool,
    /// With `ssl`: certificates made by `ovs-pki`, as operators deploy them,
    /// instead of the default `openssl` ones.
    pub ovs_pki: bool,
    /// Extra `ovsdb-server` arguments, appended after ours.
    pub extra_args: Vec<String>,
}

impl ServerOptions {
    /// A unix socket only, for the schema `schemas/<schema>`.
    pub fn new(schema: &str) -> ServerOptions {
        ServerOptions { schema: schema.to_owned(), tcp: false, ssl: false, ovs_pki: false, extra_args: Vec::new() }
    }
}

/// One standalone `ovsdb-server` in a temporary directory.
pub struct OvsdbServer {
    daemon: Daemon,
    /// The schema's file name under `schemas/`, for a restart from empty.
    schema: String,
    tcp_port: Option<u16>,
    ssl_port: Option<u16>,
    pki: Option<Pki>,
    /// Declared last: removed after the server is dead.
    _dir: TempDir,
}

impl OvsdbServer {
    /// Creates a database from `schemas/<schema>` and serves it on a unix
    /// socket; returns once the socket accepts connections.
    pub fn start(schema: &str) -> OvsdbServer {
        OvsdbServer::start_with(ServerOptions::new(schema))
    }

    /// Like [`OvsdbServer::start`], with the remotes and arguments of `opts`.
    pub fn start_with(opts: ServerOptions) -> OvsdbServer {
        let dir = temp_dir();
        let db = dir.path().join("db");
        run_ovs("ovsdb-tool", dir.path(), &["create".into(), db.clone().into(), schema_path(&opts.schema).into()]);
        let mut daemon = Daemon::new(dir.path(), "db", &db);
        let pki = opts.ssl.then(|| if opts.ovs_pki { Pki::ovs_pki() } else { Pki::new() });
        if let Some(pki) = &pki {
            for (flag, path) in [
                ("--private-key=", &pki.server_key),
                ("--certificate=", &pki.server_cert),
                ("--ca-cert=", &pki.ca_cert),
            ] {
                let mut arg = OsString::from(flag);
                arg.push(path);
                daemon.args.push(arg);
            }
        }
        daemon.args.extend(opts.extra_args.iter().map(OsString::from));
        daemon.spawn();
        daemon.wait_ready();
        // Added one at a time at run time, so that each "listening on port"
        // log line belongs to a known remote.
        let tcp_port = opts.tcp.then(|| daemon.add_listener("ptcp"));
        let ssl_port = opts.ssl.then(|| daemon.add_listener("pssl"));
        OvsdbServer { daemon, schema: opts.schema, tcp_port, ssl_port, pki, _dir: dir }
    }

    /// `unix:<dir>/db.sock`.
    pub fn remote(&self) -> String {
        self.daemon.remote()
    }

    /// `tcp:127.0.0.1:<port>`; panics if the server has no TCP remote.
    pub fn tcp_remote(&self) -> String {
        format!("tcp:127.0.0.1:{}", self.tcp_port.expect("server started without `tcp`"))
    }

    /// `ssl:127.0.0.1:<port>`; panics if the server has no SSL remote.
    pub fn ssl_remote(&self) -> String {
        format!("ssl:127.0.0.1:{}", self.ssl_port.expect("server started without `ssl`"))
    }

    /// The certificates the SSL remote uses; panics if there is none.
    pub fn pki(&self) -> &Pki {
        self.pki.as_ref().expect("server started without `ssl`")
    }

    /// The process id of the running server; panics if it is not running.
    pub fn pid(&self) -> u32 {
        self.daemon.child.as_ref().expect("ovsdb-server is not running").id()
    }

    /// Kills the server with SIGKILL (no clean shutdown) and reaps it.
    pub fn kill(&mut self) {
        self.daemon.kill();
    }

    /// Serves one more database, created from `schemas/<schema>`, at run
    /// time (`ovsdb-server/add-db`); a restart serves it too.
    pub fn add_db(&mut self, schema: &str) {
        let db = self.daemon.dir.join(schema.replace(".ovsschema", ".db"));
        run_ovs("ovsdb-tool", &self.daemon.dir, &["create".into(), db.clone().into(), schema_path(schema).into()]);
        let path = db.to_string_lossy().into_owned();
        if let Err(err) = self.daemon.appctl(&["ovsdb-server/add-db", &path]) {
            panic!("ovs-appctl ovsdb-server/add-db {path}: {err}");
        }
        self.daemon.args.push(db.into());
    }

    /// Starts the server again on the same database file, socket path and
    /// TCP/SSL ports (killing it first if it is still running); returns once
    /// it accepts connections.
    pub fn restart(&mut self) {
        self.daemon.kill();
        self.daemon.spawn();
        self.daemon.wait_ready();
    }

    /// Like [`OvsdbServer::restart`], on a database file created afresh
    /// (empty, as after a lost disk); databases added with `add_db` keep
    /// theirs.
    pub fn restart_empty(&mut self) {
        self.daemon.kill();
        let db = self.daemon.dir.join("db");
        fs::remove_file(&db).expect("cannot remove the database file");
        let schema = schema_path(&self.schema);
        run_ovs("ovsdb-tool", &self.daemon.dir, &["create".into(), db.into(), schema.into()]);
        self.daemon.spawn();
        self.daemon.wait_ready();
    }

    /// The server's log file (all of it, across restarts).
    pub fn log(&self) -> String {
        fs::read_to_string(&self.daemon.log).unwrap_or_default()
    }

    /// Runs the real `ovsdb-client` against this server: `args` are options
    /// (leading `-...`), the command, then the command's arguments; the
    /// server's unix remote is inserted after the command. Returns standard
    /// output; panics with standard error on failure.
    pub fn ovsdb_client(&self, args: &[&str]) -> String {
        let command = args.iter().position(|arg| !arg.starts_with('-')).expect("ovsdb_client needs a command");
        let remote = self.remote();
        let mut full = args[..=command].to_vec();
        full.push(&remote);
        full.extend_from_slice(&args[command + 1..]);
        run_ovsdb_client(&full)
    }

    /// Runs the transaction `txn` (a JSON array: database name, then
    /// operations) with `ovsdb-client transact`; returns its parsed result.
    pub fn transact(&self, txn: &str) -> serde_json::Value {
        let out = self.ovsdb_client(&["transact", txn]);
        serde_json::from_str(&out).unwrap_or_else(|err| panic!("ovsdb-client transact printed {out:?}: {err}"))
    }
}

/// Raft state of one server as `ovs-appctl cluster/status` reports it.
struct RaftStatus {
    /// "Status: cluster member" (joined, not joining or left).
    member: bool,
    /// "Role: leader".
    leader: bool,
    /// "Leader:" names a server (not "unknown").
    leader_known: bool,
    /// Entries under "Servers:".
    servers: usize,
}

impl RaftStatus {
    fn parse(text: &str) -> RaftStatus {
        let field = |name: &str| text.lines().find_map(|line| line.strip_prefix(name)).map(str::trim).unwrap_or("");
        let servers = text
            .lines()
            .skip_while(|line| !line.starts_with("Servers:"))
            .skip(1)
            .take_while(|line| line.starts_with(char::is_whitespace))
            .count();
        RaftStatus {
            member: field("Status:") == "cluster member",
            leader: field("Role:") == "leader",
            leader_known: !matches!(field("Leader:"), "" | "unknown"),
            servers,
        }
    }
}

/// A Raft cluster of `ovsdb-server`s on 127.0.0.1, in one temporary
/// directory. Server `i` (0-based) has its own database file, unix client
/// socket, control socket and log.
pub struct Cluster {
    members: Vec<Daemon>,
    /// The database name (from the schema), for `cluster/status`.
    db_name: String,
    /// Declared last: removed after the servers are dead.
    dir: TempDir,
}

impl Cluster {
    /// Creates an `n`-server cluster of `schemas/<schema>` (`ovsdb-tool
    /// create-cluster` on the first, `join-cluster` for the others) and
    /// returns once every server is a member that knows the leader and sees
    /// all `n` servers.
    pub fn start(schema: &str, n: usize) -> Cluster {
        assert!(n >= 1, "a cluster needs at least one server");
        let schema = schema_path(schema);
        let text = fs::read_to_string(&schema).expect("cannot read the schema");
        let json: serde_json::Value = serde_json::from_str(&text).expect("the schema is not JSON");
        let db_name = json["name"].as_str().expect("the schema has no name").to_owned();
        let mut dir = temp_dir();
        for attempt in 0..CLUSTER_ATTEMPTS {
            let members = Cluster::start_members(dir.path(), attempt, &schema, &db_name, n);
            let mut cluster = Cluster { members, db_name: db_name.clone(), dir };
            if cluster.wait_formed() {
                return cluster;
            }
            // A Raft port was taken: kill these servers, keep the directory.
            cluster.members.clear();
            dir = cluster.dir;
        }
        panic!("could not find {n} free Raft ports in {CLUSTER_ATTEMPTS} attempts");
    }

    /// Creates the database files of one attempt in `<dir>/attempt-<k>` and
    /// starts the servers.
    fn start_members(dir: &Path, attempt: usize, schema: &Path, db_name: &str, n: usize) -> Vec<Daemon> {
        let dir = dir.join(format!("attempt-{attempt}"));
        fs::create_dir(&dir).expect("cannot create the attempt directory");
        let mut ports: Vec<u16> = Vec::with_capacity(n);
        while ports.len() < n {
            let port = free_port();
            if !ports.contains(&port) {
                ports.push(port);
            }
        }
        let address = |i: usize| OsString::from(format!("tcp:127.0.0.1:{}", ports[i]));
        let mut members = Vec::with_capacity(n);
        for i in 0..n {
            let db = dir.join(format!("s{}.db", i + 1));
            let args: Vec<OsString> = if i == 0 {
                vec!["create-cluster".into(), (&db).into(), schema.into(), address(0)]
            } else {
                vec!["join-cluster".into(), (&db).into(), db_name.into(), address(i), address(0)]
            };
            run_ovs("ovsdb-tool", &dir, &args);
            members.push(Daemon::new(&dir, &format!("s{}", i + 1), &db));
        }
        for member in &mut members {
            member.spawn();
        }
        for member in &mut members {
            member.wait_ready();
        }
        members
    }

    /// Waits for the cluster to form: true once it has, false if a server
    /// could not bind its Raft port; panics on timeout.
    fn wait_formed(&mut self) -> bool {
        let n = self.members.len();
        let mut collided = false;
        let done = poll_until(TIMEOUT, || {
            for member in &mut self.members {
                member.check_alive();
            }
            collided = self
                .members
                .iter()
                .any(|member| fs::read_to_string(&member.log).unwrap_or_default().contains("Address already in use"));
            collided || (0..n).all(|i| self.status(i).is_some_and(|s| s.member && s.leader_known && s.servers == n))
        });
        if !done {
            panic!("the {n}-server cluster did not form within {TIMEOUT:?}\n{}", self.diagnostics());
        }
        !collided
    }

    /// Server `i`'s Raft status, or None if it does not answer.
    fn status(&self, i: usize) -> Option<RaftStatus> {
        let member = &self.members[i];
        if !member.is_running() {
            return None;
        }
        member.appctl(&["cluster/status", &self.db_name]).ok().map(|text| RaftStatus::parse(&text))
    }

    /// The running server that says it is the leader, if any.
    fn current_leader(&self) -> Option<usize> {
        (0..self.members.len()).find(|&i| self.status(i).is_some_and(|s| s.leader))
    }

    /// Every server's `cluster/status` and log tail, for failure messages.
    fn diagnostics(&self) -> String {
        self.members
            .iter()
            .map(|member| {
                let status = if member.is_running() {
                    member.appctl(&["cluster/status", &self.db_name]).unwrap_or_else(|err| err)
                } else {
                    "(killed)".to_owned()
                };
                format!("=== {}\n{status}\n{}", member.sock.display(), member.diagnostics())
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The unix remotes of all servers, comma-separated, in server order.
    pub fn remotes(&self) -> String {
        self.members.iter().map(Daemon::remote).collect::<Vec<_>>().join(",")
    }

    /// The unix remote of server `i`.
    pub fn remote(&self, i: usize) -> String {
        self.members[i].remote()
    }

    /// The server that reports itself leader now; panics if none does. A
    /// snapshot: on a loaded machine leadership may move right after.
    pub fn leader(&self) -> usize {
        self.current_leader().unwrap_or_else(|| panic!("no server is leader\n{}", self.diagnostics()))
    }

    /// Waits (up to a minute) until some running server is leader; returns it.
    pub fn wait_for_leader(&self) -> usize {
        let mut leader = None;
        if !poll_until(TIMEOUT, || {
            leader = self.current_leader();
            leader.is_some()
        }) {
            panic!("no leader elected within {TIMEOUT:?}\n{}", self.diagnostics());
        }
        leader.expect("poll_until returned without a leader")
    }

    /// Runs `ovs-appctl vlog/set <spec>` on every running server (e.g.
    /// `jsonrpc:file:dbg` to log every message); panics on failure.
    pub fn vlog_set(&self, spec: &str) {
        for member in self.members.iter().filter(|m| m.is_running()) {
            if let Err(err) = member.appctl(&["vlog/set", spec]) {
                panic!("ovs-appctl vlog/set {spec}: {err}");
            }
        }
    }

    /// The log files of all servers (killed ones too), one after another.
    pub fn logs(&self) -> String {
        self.members.iter().map(|m| fs::read_to_string(&m.log).unwrap_or_default()).collect::<Vec<_>>().join("\n")
    }

    /// Kills server `i` with SIGKILL and reaps it.
    pub fn kill(&mut self, i: usize) {
        self.members[i].kill();
    }

    /// Starts server `i` again on its database file, sockets and Raft port
    /// (killing it first if it runs); returns once its unix socket accepts
    /// connections, which does not mean it has rejoined the cluster.
    pub fn restart(&mut self, i: usize) {
        let member = &mut self.members[i];
        member.kill();
        member.spawn();
        member.wait_ready();
    }
}

/// A CA, a server certificate and a client certificate, all signed by the
/// CA, as PEM files in a temporary directory.
///
/// Generated with `openssl` (a dependency of `openvswitch-common`) rather
/// than `ovs-pki`, because `ovs-pki` certificates carry no subjectAltName:
/// these name `IP:127.0.0.1` and `DNS:localhost`, so they also satisfy a
/// client that checks the server's name the standard (webpki) way, besides
/// OVS-style clients that check only the chain. Keys are ECDSA P-256, fast
/// to generate, and `ovsdb-server`/`ovsdb-client` 3.1 accept them. The
/// server certificate is for `serverAuth`, the client one for `clientAuth`.
pub struct Pki {
    /// The CA's certificate: `-C` / `--ca-cert` on both sides.
    pub ca_cert: PathBuf,
    /// The server's private key (`--private-key`).
    pub server_key: PathBuf,
    /// The server's certificate (`--certificate`).
    pub server_cert: PathBuf,
    /// The client's private key (`-p`).
    pub client_key: PathBuf,
    /// The client's certificate (`-c`).
    pub client_cert: PathBuf,
    /// Declared last: removed when the Pki is dropped.
    _dir: TempDir,
}

impl Default for Pki {
    fn default() -> Pki {
        Pki::new()
    }
}

impl Pki {
    /// Generates a fresh CA and its two certificates.
    pub fn new() -> Pki {
        let dir = temp_dir();
        // Runs openssl in `dir` with a command line that has no quoted words.
        let openssl = |line: &str| {
            let mut command = Command::new(require_tool("openssl"));
            command.current_dir(dir.path()).args(line.split_whitespace());
            if let Err(err) = output_of(&mut command) {
                panic!("openssl {line}: {err}");
            }
        };
        let new_key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
        openssl(&format!(
            "req -x509 {new_key} -keyout ca-key.pem -out ca-cert.pem -days 3650 \
             -subj /CN=ovsdb-test-ca -addext basicConstraints=critical,CA:TRUE \
             -addext keyUsage=critical,keyCertSign,cRLSign"
        ));
        for (name, usage) in [("server", "serverAuth"), ("client", "clientAuth")] {
            let extensions = format!(
                "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n\
                 extendedKeyUsage={usage}\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n"
            );
            fs::write(dir.path().join(format!("{name}.ext")), extensions).expect("cannot write an extensions file");
            openssl(&format!("req {new_key} -keyout {name}-key.pem -out {name}-req.pem -subj /CN={name}"));
            openssl(&format!(
                "x509 -req -in {name}-req.pem -CA ca-cert.pem -CAkey ca-key.pem \
                 -CAcreateserial -days 3650 -out {name}-cert.pem -extfile {name}.ext"
            ));
        }
        let path = |name: &str| dir.path().join(name);
        Pki {
            ca_cert: path("ca-cert.pem"),
            server_key: path("server-key.pem"),
            server_cert: path("server-cert.pem"),
            client_key: path("client-key.pem"),
            client_cert: path("client-cert.pem"),
            _dir: dir,
        }
    }

    /// Certificates as Open vSwitch's own `ovs-pki` makes them: RSA keys, a
    /// subject naming no host (`CN=<name> id:<uuid>`), no subjectAltName.
    /// Both certificates are signed by the `switchca`, so one CA file serves
    /// both sides.
    pub fn ovs_pki() -> Pki {
        let dir = temp_dir();
        let pki_dir = dir.path().join("pki");
        let ovs_pki = |args: &[&str]| {
            let mut command = Command::new(require_tool("ovs-pki"));
            command.current_dir(dir.path()).arg("--force").arg(format!("--dir={}", pki_dir.display())).args(args);
            if let Err(err) = output_of(&mut command) {
                panic!("ovs-pki {args:?}: {err}");
            }
        };
        ovs_pki(&["init"]);
        ovs_pki(&["req+sign", "server", "switch"]);
        ovs_pki(&["req+sign", "client", "switch"]);
        let path = |name: &str| dir.path().join(name);
        Pki {
            ca_cert: pki_dir.join("switchca/cacert.pem"),
            server_key: path("server-privkey.pem"),
            server_cert: path("server-cert.pem"),
            client_key: path("client-privkey.pem"),
            client_cert: path("client-cert.pem"),
            _dir: dir,
        }
    }
}
