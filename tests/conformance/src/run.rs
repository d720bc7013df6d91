//! Runs a scenario against real processes: NB and SB `ovsdb-server`s in a
//! temp dir, `ovn-nbctl` / `ovn-sbctl` to apply the scenario, then the
//! reference `ovn-northd`; dumps NB and SB with our own OVSDB client. Every
//! child process is killed when its owner is dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ovsdb::session::{MonitorSpec, Remote, SessionConfig};
use ovsdb::{Client, Operation, Replica, Transaction};
use regex::Regex;
use tempfile::TempDir;
use thiserror::Error;

use crate::scenario::{Scenario, Tool};

/// Errors of a run.
#[derive(Debug, Error)]
pub enum RunError {
    /// A file or process operation failed.
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    /// A tool exited non-zero.
    #[error("{what} failed ({status}): {stderr}")]
    Tool { what: String, status: String, stderr: String },
    /// A server socket did not appear in time.
    #[error("{0} did not start")]
    NotStarted(String),
    /// Our client could not read a database.
    #[error("dump of {db}: {reason}")]
    Dump { db: String, reason: String },
    /// Northd logged warnings that the scenario does not allow.
    #[error("ovn-northd logged unexpected warnings:\n{}", .0.join("\n"))]
    Warnings(Vec<String>),
    /// Our translation failed to write its result.
    #[error("our translation: {0}")]
    Translate(String),
    /// The scenario's allow-warn regex does not compile.
    #[error("bad allow-warn regex: {0}")]
    BadRegex(#[from] regex::Error),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> RunError {
    let what = what.into();
    move |source| RunError::Io { what, source }
}

/// A child process killed on drop.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Repository root (for `schemas/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// NB and SB ovsdb-servers in a temp dir.
pub struct Databases {
    // Declared first so that the servers die before their directory goes.
    servers: Vec<Guard>,
    dir: TempDir,
}

impl Databases {
    /// Creates both databases from `schemas/` and starts their servers.
    pub fn start() -> Result<Databases, RunError> {
        let dir = tempfile::Builder::new().prefix("conf").tempdir_in("/tmp").map_err(io("temp dir"))?;
        let mut dbs = Databases { servers: Vec::new(), dir };
        for (db, schema) in [("nb", "ovn-nb.ovsschema"), ("sb", "ovn-sb.ovsschema")] {
            let file = dbs.path(&format!("{db}.db"));
            let schema = repo_root().join("schemas").join(schema);
            let mut cmd = Command::new("ovsdb-tool");
            cmd.arg("create").arg(&file).arg(&schema);
            run_tool(&mut cmd, "ovsdb-tool create")?;
            let sock = dbs.path(&format!("{db}.sock"));
            let mut cmd = Command::new("ovsdb-server");
            cmd.arg(format!("--remote=punix:{}", sock.display()))
                .arg(format!("--pidfile={}", dbs.path(&format!("{db}.pid")).display()))
                .arg(format!("--unixctl={}", dbs.path(&format!("{db}.ctl")).display()))
                .arg(format!("--log-file={}", dbs.path(&format!("{db}.log")).display()))
                .arg("-vconsole:off")
                .arg("--no-chdir")
                .arg(&file);
            dbs.servers.push(dbs.spawn(cmd, "ovsdb-server")?);
            wait_for(&sock, "ovsdb-server")?;
        }
        Ok(dbs)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn nb_remote(&self) -> String {
        format!("unix:{}", self.path("nb.sock").display())
    }

    pub fn sb_remote(&self) -> String {
        format!("unix:{}", self.path("sb.sock").display())
    }

    fn env(&self, cmd: &mut Command) {
        for var in ["OVS_RUNDIR", "OVS_LOGDIR", "OVS_DBDIR", "OVN_RUNDIR", "OVN_LOGDIR", "OVN_DBDIR"] {
            cmd.env(var, self.dir.path());
        }
        cmd.env_remove("OVN_NB_DAEMON");
    }

    fn spawn(&self, mut cmd: Command, what: &str) -> Result<Guard, RunError> {
        self.env(&mut cmd);
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        Ok(Guard(cmd.spawn().map_err(io(format!("spawn {what}")))?))
    }

    /// Runs `ovn-nbctl` (or `ovn-sbctl`) with these arguments.
    pub fn ctl(&self, tool: Tool, args: &[String]) -> Result<(), RunError> {
        let (prog, db) = match tool {
            Tool::Nbctl => ("ovn-nbctl", self.nb_remote()),
            Tool::Sbctl => ("ovn-sbctl", self.sb_remote()),
        };
        let mut cmd = Command::new(prog);
        cmd.arg(format!("--db={db}")).args(args);
        self.env(&mut cmd);
        run_tool(&mut cmd, &format!("{prog} {}", args.join(" ")))
    }

    /// Applies a scenario to the (empty) databases, but for its `@sb-late`
    /// commands.
    pub fn apply(&self, sc: &Scenario) -> Result<(), RunError> {
        self.ctl(Tool::Nbctl, &["init".to_string()])?;
        self.run_commands(sc, false)
    }

    /// Runs the scenario's `@sb-late` commands (`late`) or the others.
    pub fn run_commands(&self, sc: &Scenario, late: bool) -> Result<(), RunError> {
        for c in sc.commands.iter().filter(|c| c.late == late) {
            self.ctl(c.tool, &c.args).map_err(|e| match e {
                RunError::Tool { what, status, stderr } => {
                    RunError::Tool { what: format!("{}:{}: {what}", sc.name, c.line), status, stderr }
                }
                e => e,
            })?;
        }
        Ok(())
    }

    /// Starts the reference ovn-northd, waits until SB has caught up with
    /// NB (and, when the scenario has `@sb-late` commands, runs them and
    /// waits again), stops it and returns the warnings it logged.
    pub fn run_reference_northd(&self, sc: &Scenario) -> Result<Vec<String>, RunError> {
        let log = self.path("northd.log");
        let mut cmd = Command::new("ovn-northd");
        cmd.arg(format!("--ovnnb-db={}", self.nb_remote()))
            .arg(format!("--ovnsb-db={}", self.sb_remote()))
            .arg("--no-chdir")
            .arg(format!("--log-file={}", log.display()))
            .arg(format!("--pidfile={}", self.path("northd.pid").display()))
            .arg(format!("--unixctl={}", self.path("northd.ctl").display()))
            .arg("-vconsole:off");
        let northd = self.spawn(cmd, "ovn-northd")?;
        // Twice: northd writes some NB columns (a port's `tag` from its
        // `tag_request`, dynamic addresses) and copies them to SB only on its
        // next iteration, after the first sync may already have returned.
        let sync = || self.ctl(Tool::Nbctl, &["--timeout=60".into(), "--wait=sb".into(), "sync".into()]);
        let mut synced = sync().and_then(|_| sync());
        if synced.is_ok() && sc.commands.iter().any(|c| c.late) {
            synced = self.run_commands(sc, true).and_then(|_| sync()).and_then(|_| sync());
        }
        drop(northd);
        synced?;
        let text = std::fs::read_to_string(&log).map_err(io("read northd log"))?;
        Ok(text.lines().filter(|l| l.contains("|WARN|") || l.contains("|ERR|")).map(str::to_string).collect())
    }

    /// Reads a whole database with our client.
    pub fn dump(&self, db: &str) -> Result<Replica, RunError> {
        let remote = if db == "OVN_Northbound" { self.nb_remote() } else { self.sb_remote() };
        dump(&remote, db)
    }
}

/// Panics, saying how to install them, when the tools a run needs are missing.
pub fn require_tools() {
    for tool in ["ovsdb-server", "ovsdb-tool", "ovn-northd", "ovn-nbctl", "ovn-sbctl"] {
        let found = Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success());
        assert!(found, "{tool} is not installed: run scripts/test, which installs it");
    }
}

fn run_tool(cmd: &mut Command, what: &str) -> Result<(), RunError> {
    let out = cmd.stdin(Stdio::null()).output().map_err(io(format!("run {what}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(RunError::Tool {
            what: what.to_string(),
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

fn wait_for(sock: &Path, what: &str) -> Result<(), RunError> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !sock.exists() {
        if Instant::now() > deadline {
            return Err(RunError::NotStarted(what.to_string()));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

fn runtime() -> Result<tokio::runtime::Runtime, RunError> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(io("tokio runtime"))
}

/// A client of `db` at `remote` monitoring every table, once its initial
/// contents have arrived.
async fn connect(remote: &str, db: &str) -> Result<Client, RunError> {
    let err = |reason: String| RunError::Dump { db: db.to_string(), reason };
    let remotes = Remote::parse_list(remote).map_err(|e| err(e.to_string()))?;
    let mut config = SessionConfig::new(remotes, db);
    config.monitor = Some(MonitorSpec::All);
    let mut client = Client::new(config, None);
    tokio::time::timeout(Duration::from_secs(60), client.wait_ready())
        .await
        .map_err(|_| err("timed out waiting for the monitor".into()))?;
    Ok(client)
}

fn take_replica(client: &mut Client, db: &str) -> Result<Replica, RunError> {
    let replica = client
        .session_mut()
        .replica_mut()
        .ok_or_else(|| RunError::Dump { db: db.to_string(), reason: "no replica".into() })?;
    let empty = Replica::new(replica.schema().clone());
    Ok(std::mem::replace(replica, empty))
}

/// Connects to `remote`, monitors every table of `db` and returns the
/// replica once the initial contents have arrived.
pub fn dump(remote: &str, db: &str) -> Result<Replica, RunError> {
    runtime()?.block_on(async {
        let mut client = connect(remote, db).await?;
        take_replica(&mut client, db)
    })
}

/// Sends `ops` as one transaction, if there are any.
async fn transact(client: &mut Client, db: &str, ops: Vec<Operation>) -> Result<(), RunError> {
    if ops.is_empty() {
        return Ok(());
    }
    let mut txn = Transaction::new(db);
    for op in ops {
        txn.push(op);
    }
    let params = txn.params();
    client.transact(txn).await.map_err(|e| RunError::Translate(format!("{db} transaction: {e}: {params}")))?;
    Ok(())
}

/// Our translation, once: reads NB and SB, compiles, writes the difference
/// to SB and the status columns to NB, and repeats until nothing is left to
/// write (NB write-backs such as dynamic addresses feed the next round).
/// Returns the compiler's diagnostics.
pub fn translate_with_ours(nb_remote: &str, sb_remote: &str) -> Result<Vec<String>, RunError> {
    runtime()?.block_on(async {
        for _round in 0..4 {
            let mut nbc = connect(nb_remote, "OVN_Northbound").await?;
            let mut sbc = connect(sb_remote, "OVN_Southbound").await?;
            let no_replica = |db: &str| RunError::Dump { db: db.to_string(), reason: "no replica".into() };
            let nb = nbc.session().replica().ok_or_else(|| no_replica("OVN_Northbound"))?;
            let sb = sbc.session().replica().ok_or_else(|| no_replica("OVN_Southbound"))?;
            let out = lflow::compile(nb, sb);
            let sb_plan = lflow::sync::plan_sb(&out, sb);
            let nb_ops = lflow::sync::plan_nb(&out, nb);
            if sb_plan.is_empty() && nb_ops.is_empty() {
                return Ok(out.diagnostics.iter().map(ToString::to_string).collect());
            }
            transact(&mut sbc, "OVN_Southbound", sb_plan.into_operations().collect()).await?;
            transact(&mut nbc, "OVN_Northbound", nb_ops).await?;
        }
        Err(RunError::Translate("the translation did not settle after 4 rounds".into()))
    })
}

/// What a reference run produced.
pub struct Outcome {
    pub nb: Replica,
    pub sb: Replica,
    /// Allowed warnings that northd logged.
    pub warnings: Vec<String>,
    /// The servers, still running, so that tools such as `ovn-trace` can
    /// query the result; they stop when the outcome is dropped.
    pub dbs: Databases,
}

/// Runs a scenario through our translation and dumps NB and SB; the
/// compiler's diagnostics take the place of northd's warnings.
pub fn run_ours(sc: &Scenario) -> Result<Outcome, RunError> {
    let dbs = Databases::start()?;
    dbs.apply(sc)?;
    let mut warnings = translate_with_ours(&dbs.nb_remote(), &dbs.sb_remote())?;
    if sc.commands.iter().any(|c| c.late) {
        dbs.run_commands(sc, true)?;
        warnings = translate_with_ours(&dbs.nb_remote(), &dbs.sb_remote())?;
    }
    let nb = dbs.dump("OVN_Northbound")?;
    let sb = dbs.dump("OVN_Southbound")?;
    Ok(Outcome { nb, sb, warnings, dbs })
}

/// Runs a scenario against the reference ovn-northd and dumps NB and SB.
/// Fails on northd warnings the scenario does not allow.
pub fn run_reference(sc: &Scenario) -> Result<Outcome, RunError> {
    let dbs = Databases::start()?;
    dbs.apply(sc)?;
    let warnings = dbs.run_reference_northd(sc)?;
    let allow = sc.allow_warn.as_deref().map(Regex::new).transpose()?;
    let bad: Vec<String> =
        warnings.iter().filter(|w| !allow.as_ref().is_some_and(|re| re.is_match(w))).cloned().collect();
    if !bad.is_empty() {
        return Err(RunError::Warnings(bad));
    }
    let nb = dbs.dump("OVN_Northbound")?;
    let sb = dbs.dump("OVN_Southbound")?;
    Ok(Outcome { nb, sb, warnings, dbs })
}
