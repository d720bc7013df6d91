//! The daemon's one event loop: NB and SB sessions, control requests,
//! signals and a retry timer come in as [`Event`]s from one `select!`;
//! [`MainLoop::handle`] applies each to the state (every replica change also
//! goes to the engine, `lflow::engine`); then, if the state asks for it, one
//! cycle runs: the engine computes the SB and NB operations, and at most one
//! SB transaction (asserting the `ovn_northd` lock) and one NB transaction
//! are sent.
//!
//! Rules it keeps:
//! - Never a second transaction to a database while one is in flight.
//!   Changes that arrive meanwhile only mark the state dirty; one cycle
//!   follows the outcome (batching: events already waiting are drained
//!   before a cycle, so a burst costs one engine run, not one each).
//! - Writes only while active: holding the SB lock `ovn_northd` (the name
//!   ovn-northd uses, so a mixed pair never writes at once) and not paused.
//!   Sharded (`--shards`, `shards::Group`): the rows of the shards whose
//!   locks it holds, with the record of the `nb_cfg` they translate, and
//!   the global rows, the NB and `nb_cfg` if it holds `ovn_northd`
//!   (`nb_cfg` once no shard's rows are left to write and every shard's
//!   record reached it, `progress`), while its group's mark is held.
//!   A standby keeps its replicas in sync and runs the engine on every
//!   change, writing nothing (`warm_cycle`), so that taking the lock needs
//!   no recompute.
//! - A reconnect, a failed commit, `resume` and `inc-engine/recompute`
//!   force a run that recomputes every node; a new lock forces a run that
//!   computes from the changes since the standby's last.
//! - After a commit, no cycle runs until the SB replica shows the rows it
//!   inserted (ovsdb-server sends the update before the reply, so this
//!   holds at once; the guard keeps a late update from causing duplicate
//!   inserts).
//! - Our own writes come back through the monitors; they are not news.
//!   Once a transaction is done, the changes seen meanwhile are compared
//!   with the rows and columns it wrote: if that is all they are, no cycle
//!   follows (after an SB write, only the NB status columns are brought up
//!   to date), and the engine is told which rows were ours; anything else,
//!   such as a column ovn-controller set on a row we updated, makes the
//!   next cycle run.
//!
//! What it must never do: spawn tasks that change its state (control
//! connections only forward requests); panic on what a server or a client
//! sent; write to either database without the lock.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lflow::sync::{Plan, PlanStats};
use ovsdb::replica::Change;
use ovsdb::session::{Event as DbEvent, RequestId, SessionError};
use ovsdb::{Client, Datum, ErrorKind, Operation, OperationResult, Replica, Transaction, Uuid};
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::mpsc;
use tracing::{debug, info, info_span, warn};

use crate::cli::version_text;
use crate::control::{self, Command, Reply};
use crate::logging::LogHandle;
use crate::metrics::Metrics;
use crate::notify::Notifier;
use crate::ratelimit::{Diagnostics, RateLimit};
use crate::shards::{Group, LockOp};
use crate::status::{self, CfgTracker};
use lflow::engine::RunKind;
use lflow::shard::{Ownership, Pending};

/// The SB lock that makes one instance active.
pub const LOCK: &str = "ovn_northd";

/// Why a run follows taking the lock: the one forced run that keeps the
/// engine's state (it was kept up on standby).
const LOCK_ACQUIRED: &str = "lock acquired";

/// How many waiting events are handled before a cycle runs.
const DRAIN_MAX: usize = 256;

/// Cycles in a row that may write without an input change before the loop
/// slows down (NB status written after an SB commit legitimately takes one
/// or two).
const UNSETTLED_MAX: u32 = 3;

/// Backoff after a failed transaction: first and largest wait.
const RETRY_MIN: Duration = Duration::from_millis(250);
const RETRY_MAX: Duration = Duration::from_secs(8);

/// Everything the loop reacts to.
#[derive(Debug)]
pub enum Event {
    Nb(DbEvent),
    Sb(DbEvent),
    Control(control::Request),
    /// SIGHUP: reopen the log file.
    Hangup,
    /// SIGTERM or SIGINT.
    Terminate,
    /// The wait after a failed transaction is over.
    Retry,
    /// Diagnostics held back by their rate limit may be logged now.
    FlushDiagnostics,
    /// Time to look again at a sharded group's members (`shards::Group::tick`).
    GroupTick,
}

/// What `status` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Active,
    Standby,
    Paused,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Active => "active",
            Role::Standby => "standby",
            Role::Paused => "paused",
        }
    }
}

/// What the loop needs besides the two clients.
pub struct Services {
    pub control: Option<(control::Served, mpsc::Receiver<control::Request>)>,
    pub notifier: Notifier,
    pub log: LogHandle,
    /// What the loop records for `--metrics-address`.
    pub metrics: Metrics,
}

/// An SB transaction on its way.
struct SbInFlight {
    id: RequestId,
    stats: PlanStats,
    /// The tables of the plan's inserts, in order, to find the new rows:
    /// (table, how many inserts in a row).
    insert_tables: Vec<(String, usize)>,
    /// The rows the plan updates (with the columns it sets) or deletes.
    touched: OwnWrite,
    sent: Instant,
    /// For a cycle's plan, the inserts whose rows the engine asks for once
    /// it commits (`Engine::committed`): (place among the plan's inserts,
    /// `uuid-name`).
    awaited: Option<Vec<(usize, String)>>,
}

/// The rows one of our transactions wrote: what its echo through the
/// monitor may change without being news to the compiler.
#[derive(Debug, Default)]
struct OwnWrite {
    /// table -> row -> the columns written with their values; `None` for
    /// an insert or delete.
    rows: HashMap<String, HashMap<Uuid, Option<Cells>>>,
}

/// Columns with their values.
type Cells = Vec<(String, Datum)>;

impl OwnWrite {
    fn from_ops(ops: &[Operation]) -> OwnWrite {
        let mut rows = HashMap::new();
        for op in ops {
            let (table, where_, columns) = match op {
                Operation::Update { table, where_, row } => {
                    (table, where_, Some(row.iter().map(|(c, d)| (c.to_string(), d.clone())).collect()))
                }
                Operation::Delete { table, where_ } => (table, where_, None),
                _ => continue,
            };
            let uuid = where_.iter().find_map(ovsdb::Condition::as_row);
            let Some(uuid) = uuid else { continue };
            // Two updates of one row (a merged map apart): both columns.
            let of_table: &mut HashMap<Uuid, Option<Cells>> = rows.entry(table.clone()).or_default();
            match (of_table.entry(uuid).or_insert(Some(Vec::new())), columns) {
                (Some(all), Some(columns)) => all.extend(columns),
                (slot, columns) => *slot = columns,
            }
        }
        OwnWrite { rows }
    }

    /// Whether a change a monitor reported is one this write made: an
    /// insert or delete of a row it inserted or deleted, an update that
    /// left each changed column with the value this write gave it (another
    /// client's later write to the same column is news), or the server's
    /// collection of an unreferenced row of a non-root table northd owns.
    fn made(&self, change: &RowChange) -> bool {
        match self.rows.get(&change.table).and_then(|t| t.get(&change.uuid)) {
            Some(Some(written)) => change.columns.as_ref().is_some_and(|changed| {
                changed.iter().all(|(c, now)| written.iter().any(|(w, value)| w == c && same_value(value, now)))
            }),
            Some(None) => change.columns.is_none(),
            None => change.collected,
        }
    }
}

/// Whether a column holds what we wrote to it: the same value, or any
/// value where ours named a row inserted in the same transaction (its
/// UUID was not known when we wrote).
fn same_value(written: &Datum, now: &Datum) -> bool {
    let named = |d: &Datum| d.all_atoms().any(|a| matches!(a, ovsdb::Atom::NamedUuid(_)));
    written == now || named(written)
}

/// A database's changes since the last cycle, and our last committed write
/// to it, until they are classified.
#[derive(Debug, Default)]
struct Echo {
    own: Option<OwnWrite>,
    pending: Vec<RowChange>,
}

impl Echo {
    /// Records the changes a replica reported.
    fn record(&mut self, changes: &ovsdb::replica::Changes, r: &ovsdb::Replica) -> usize {
        for tc in changes.tables() {
            let table = &tc.table().name;
            for (uuid, change) in tc.iter() {
                let columns = match (change, r.get(table, uuid)) {
                    (Change::Modified { old }, Some(new)) => Some(
                        old.iter()
                            .filter(|(c, d)| new.get(c) != *d)
                            .map(|(c, _)| (c.to_string(), new.get(c).clone()))
                            .collect(),
                    ),
                    _ => None,
                };
                let collected = matches!(change, Change::Deleted { .. }) && !tc.table().is_root;
                self.pending.push(RowChange { table: table.clone(), uuid: *uuid, columns, collected });
            }
        }
        changes.len()
    }

    /// What the recorded changes hold besides our own write's echo;
    /// forgets them and the write. `db` names the database for
    /// `lflow::invariants::NOT_INPUTS`.
    /// The rows changed by others are also returned.
    fn take_news(&mut self, db: &str) -> (News, HashSet<Uuid>) {
        let others: Vec<&RowChange> =
            self.pending.iter().filter(|c| !self.own.as_ref().is_some_and(|own| own.made(c))).collect();
        let mut news = News::Echo;
        for c in &others {
            if !c.is_no_input(db) {
                news = News::Input;
                break;
            }
            news = News::Sequence;
        }
        let theirs = others.iter().map(|c| c.uuid).collect();
        // Not `clear`: a first translation's echo would keep its room.
        self.pending = Vec::new();
        self.own = None;
        (news, theirs)
    }
}

/// What a database's changes since the last cycle mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum News {
    /// Only the echo of our own write.
    Echo,
    /// Besides the echo, only `--wait` sequence numbers moved
    /// (`lflow::invariants::NOT_INPUTS`): copied without a recompute.
    Sequence,
    /// Something the compiler reads changed.
    Input,
}

/// One row change a monitor reported, as `OwnWrite::made` needs it.
#[derive(Debug)]
struct RowChange {
    table: String,
    uuid: Uuid,
    /// The columns that differ, with their new values, for a
    /// modification; `None` for an insert or a delete.
    columns: Option<Cells>,
    /// A delete in a non-root table (the server's garbage collection).
    collected: bool,
}

impl RowChange {
    /// A modification of columns the compiler never reads.
    fn is_no_input(&self, db: &str) -> bool {
        self.columns.as_ref().is_some_and(|columns| {
            columns.iter().all(|(c, _)| lflow::invariants::NOT_INPUTS.contains(&(db, self.table.as_str(), c.as_str())))
        })
    }
}

/// Detects a translation that keeps writing while its input stands still
/// (what it writes does not read back as written), which would hammer the
/// databases.
#[derive(Debug)]
struct Settle {
    /// The NB, or the SB by another client, changed since the last cycle
    /// (an SB change while our transaction is in flight counts as ours).
    input_changed: bool,
    /// Consecutive cycles that wrote without an input change.
    unsettled: u32,
}

impl Default for Settle {
    fn default() -> Settle {
        Settle { input_changed: true, unsettled: 0 }
    }
}

impl Settle {
    fn input_changed(&mut self) {
        self.input_changed = true;
    }

    /// A cycle ran and wrote (or not); `Some(n)` once `n` cycles in a row
    /// wrote without an input change, past `UNSETTLED_MAX`.
    fn cycle(&mut self, writes: bool) -> Option<u32> {
        let changed = std::mem::take(&mut self.input_changed);
        self.unsettled = if writes && !changed { self.unsettled + 1 } else { 0 };
        (self.unsettled > UNSETTLED_MAX).then_some(self.unsettled)
    }
}

/// Counters logged at exit (the engine counts its nodes' runs itself).
#[derive(Debug, Default, Clone, Copy)]
struct Stats {
    /// Engine runs, active or on standby.
    engine_runs: u64,
    sb_commits: u64,
    nb_commits: u64,
    failed_txns: u64,
}

/// The loop's state. See the module documentation.
pub struct MainLoop {
    nb: Client,
    sb: Client,
    services: Services,
    sighup: Signal,
    sigterm: Signal,
    sigint: Signal,
    paused: bool,
    role: Role,
    ready_sent: bool,
    nb_was_ready: bool,
    sb_was_ready: bool,
    dirty: bool,
    settle: Settle,
    /// Why the next cycle must run even without changes.
    forced: Option<&'static str>,
    sb_txn: Option<SbInFlight>,
    nb_txn: Option<RequestId>,
    /// When this instance last took the lock, until its first cycle as
    /// the active one has written (or found nothing to write): logged,
    /// as the takeover's cost.
    took_lock: Option<Instant>,
    /// The SB replica does not show our last commit yet.
    awaiting_own_write: bool,
    /// Changes of each database not yet known to be news, and our last
    /// write to it.
    sb_echo: Echo,
    nb_echo: Echo,
    /// The rows the NB transaction in flight writes.
    nb_touched: Option<OwnWrite>,
    /// The NB status columns may need an update (our SB write committed).
    status_due: bool,
    /// `NB_Global.nb_cfg` moved without any input of the compiler: copy it
    /// to SB without a recompute (`sequence_cycle`).
    sequence_due: bool,
    retry_at: Option<tokio::time::Instant>,
    retry_wait: Duration,
    run_id: u64,
    stats: Stats,
    /// `NB_Global options:northd_probe_interval`, as last applied to both
    /// sessions (`None`: their default).
    probe_interval: Option<Duration>,
    /// What the cycles keep between them (`lflow::engine`).
    engine: lflow::engine::Engine,
    cfg: CfgTracker,
    diagnostics: Diagnostics,
    /// When to log the diagnostics held back by their rate limit.
    diagnostics_at: Option<tokio::time::Instant>,
    failure_log: RateLimit,
    connect_log: RateLimit,
    /// Servers that do not serve the database asked for.
    wrong_db_log: RateLimit,
    exit: bool,
    exit_requested_by_control: bool,
    /// `--shards` above 1: the group's locks and what they let this
    /// instance write.
    group: Option<Group>,
    group_tick: Option<tokio::time::Interval>,
    /// What the last cycle wrote under.
    ownership: Ownership,
    /// What the last cycle left of the shards' rows: `nb_cfg` waits
    /// until a cycle finds the others' written, and a shard of ours is
    /// recorded as written only once it wrote all of its rows.
    pending: Pending,
    /// Why a sharded instance writes nothing, as last logged.
    idle_logged: Option<&'static str>,
}

/// When to wake the loop to log diagnostics waiting for their rate limit
/// (it earns one line a second), if any wait.
fn schedule(diagnostics: &Diagnostics) -> Option<tokio::time::Instant> {
    diagnostics.pending().then(|| tokio::time::Instant::now() + Duration::from_secs(1))
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

impl MainLoop {
    /// Sets up the loop; `paused` is `--dry-run`. Must run inside the
    /// runtime (signal handlers).
    /// `shards` is `--shards` (K).
    pub fn new(nb: Client, mut sb: Client, services: Services, paused: bool, shards: u32) -> std::io::Result<MainLoop> {
        let mut group = (shards > 1).then(|| Group::new(shards));
        if !paused {
            match &mut group {
                Some(g) => apply_locks(&mut sb, g.start()),
                None => sb.session_mut().lock(LOCK),
            }
        }
        let group_tick = group.as_ref().map(|_| {
            let mut t = tokio::time::interval(crate::shards::TICK);
            t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            t
        });
        let role = if paused { Role::Paused } else { Role::Standby };
        services.metrics.role(role);
        Ok(MainLoop {
            nb,
            sb,
            services,
            sighup: signal(SignalKind::hangup())?,
            sigterm: signal(SignalKind::terminate())?,
            sigint: signal(SignalKind::interrupt())?,
            paused,
            role,
            ready_sent: false,
            nb_was_ready: false,
            sb_was_ready: false,
            dirty: true,
            sb_echo: Echo::default(),
            nb_echo: Echo::default(),
            nb_touched: None,
            status_due: false,
            sequence_due: false,
            settle: Settle::default(),
            forced: Some("start"),
            sb_txn: None,
            took_lock: None,
            nb_txn: None,
            awaiting_own_write: false,
            retry_at: None,
            retry_wait: RETRY_MIN,
            run_id: 0,
            stats: Stats::default(),
            probe_interval: None,
            engine: lflow::engine::Engine::default(),
            cfg: CfgTracker::default(),
            diagnostics: Diagnostics::default(),
            diagnostics_at: None,
            failure_log: RateLimit::new(Duration::from_secs(5), 5),
            connect_log: RateLimit::new(Duration::from_secs(10), 4),
            wrong_db_log: RateLimit::new(Duration::from_secs(10), 2),
            exit: false,
            exit_requested_by_control: false,
            group,
            group_tick,
            ownership: Ownership::default(),
            pending: Pending::default(),
            idle_logged: None,
        })
    }

    /// Runs until `exit`, SIGTERM or SIGINT.
    pub async fn run(mut self) {
        info!(role = self.role.as_str(), "starting");
        while !self.exit {
            let ev = self.next_event().await;
            self.handle(ev);
            // Batching: take what is already waiting before computing.
            for _ in 0..DRAIN_MAX {
                if self.exit {
                    break;
                }
                match tokio::time::timeout(Duration::ZERO, self.next_event()).await {
                    Ok(ev) => self.handle(ev),
                    Err(_) => break,
                }
            }
            if !self.exit {
                self.after_events();
            }
        }
        let Stats { engine_runs, sb_commits, nb_commits, failed_txns } = self.stats;
        info!(engine_runs, sb_commits, nb_commits, failed_txns, "exiting");
        self.services.notifier.send("STOPPING=1");
        if self.exit_requested_by_control {
            if let Some((served, _)) = self.services.control.as_mut() {
                served.exit_answered().await;
            }
        }
    }

    /// The next event. Cancel-safe: every branch is.
    async fn next_event(&mut self) -> Event {
        let retry_at = self.retry_at;
        let diagnostics_at = self.diagnostics_at;
        let control = self.services.control.as_mut().map(|(_, rx)| rx);
        let tick = self.group_tick.as_mut();
        tokio::select! {
            ev = self.nb.next_event() => Event::Nb(ev),
            ev = self.sb.next_event() => Event::Sb(ev),
            Some(req) = async move {
                match control {
                    Some(rx) => rx.recv().await,
                    None => std::future::pending().await,
                }
            } => Event::Control(req),
            _ = self.sighup.recv() => Event::Hangup,
            _ = self.sigterm.recv() => Event::Terminate,
            _ = self.sigint.recv() => Event::Terminate,
            _ = async move {
                match retry_at {
                    Some(t) => tokio::time::sleep_until(t).await,
                    None => std::future::pending().await,
                }
            } => Event::Retry,
            _ = async move {
                match diagnostics_at {
                    Some(t) => tokio::time::sleep_until(t).await,
                    None => std::future::pending().await,
                }
            } => Event::FlushDiagnostics,
            _ = async move {
                match tick {
                    Some(t) => t.tick().await,
                    None => std::future::pending().await,
                }
            } => Event::GroupTick,
        }
    }

    /// Applies one event to the state.
    fn handle(&mut self, ev: Event) {
        match ev {
            Event::Nb(ev) => self.db_event(false, ev),
            Event::Sb(ev) => self.db_event(true, ev),
            Event::Control(req) => {
                let reply = self.command(req.command);
                // The client may be gone; nothing to do then.
                let _ = req.reply.send(reply);
            }
            Event::Hangup => {
                if let Err(e) = self.services.log.reopen() {
                    warn!(error = %e, "cannot reopen the log file");
                }
            }
            Event::Terminate => {
                info!("terminating on signal");
                self.exit = true;
            }
            Event::Retry => self.retry_at = None,
            Event::FlushDiagnostics => {
                self.diagnostics.flush(Instant::now());
                self.diagnostics_at = schedule(&self.diagnostics);
            }
            Event::GroupTick => self.group_locks(|g| g.tick()),
        }
    }

    fn db_event(&mut self, is_sb: bool, ev: DbEvent) {
        let db = if is_sb { "OVN_Southbound" } else { "OVN_Northbound" };
        match ev {
            DbEvent::Ready { remote } => {
                let was_ready = if is_sb { &mut self.sb_was_ready } else { &mut self.nb_was_ready };
                if std::mem::replace(was_ready, true) {
                    info!(db, %remote, "reconnected: forcing a recompute");
                    self.services.metrics.reconnected(db);
                    self.forced = Some(if is_sb { "sb reconnected" } else { "nb reconnected" });
                }
                self.dirty = true;
            }
            DbEvent::ConnectFailed { remote, reason } => {
                if let Some(suppressed) = self.connect_log.allow(Instant::now()) {
                    info!(db, %remote, %reason, suppressed, "connection attempt failed");
                }
            }
            DbEvent::Disconnected { remote, reason } => {
                if is_sb {
                    self.awaiting_own_write = false;
                    if let Some(g) = &mut self.group {
                        g.disconnected();
                    }
                }
                // A server without the database: the remote is likely
                // wrong; say so (the session keeps retrying).
                if reason.starts_with(ovsdb::session::UNUSABLE_DATABASE) {
                    if let Some(suppressed) = self.wrong_db_log.allow(Instant::now()) {
                        warn!(db, %remote, %reason, suppressed, "the server does not serve the database");
                    }
                }
            }
            DbEvent::ReplicaChanged => {
                // Whether this is news or the echo of our own write is
                // decided once our transaction is done (after_events).
                let (client, echo) =
                    if is_sb { (&mut self.sb, &mut self.sb_echo) } else { (&mut self.nb, &mut self.nb_echo) };
                if let Some(r) = client.session_mut().replica_mut() {
                    let changes = r.take_changes();
                    if is_sb {
                        self.engine.observe_sb(&changes, r);
                    } else {
                        self.engine.observe_nb(&changes);
                    }
                    let rows = echo.record(&changes, r);
                    debug!(db, rows, "replica changed");
                }
                if is_sb {
                    self.awaiting_own_write = false;
                } else if let Some(nb) = self.nb.session().replica() {
                    self.services.metrics.nb_changed(nb, self.role == Role::Active);
                    let probe = status::probe_interval(nb);
                    if probe != self.probe_interval {
                        info!(probe_ms = probe.map(|p| p.as_millis() as u64), "inactivity probe interval set");
                        self.probe_interval = probe;
                        self.nb.session_mut().set_probe_interval(probe);
                        self.sb.session_mut().set_probe_interval(probe);
                    }
                }
            }
            DbEvent::SchemaChanged => {
                info!(db, "schema changed: forcing a recompute");
                self.forced = Some("schema changed");
            }
            DbEvent::Locked(name) => match self.group {
                Some(_) => self.group_locks(|g| g.locked(&name)),
                None => self.forced = Some(LOCK_ACQUIRED),
            },
            DbEvent::LockQueued(name) => self.group_locks(|g| g.queued(&name)),
            DbEvent::LockLost(name) => self.group_locks(|g| g.lost(&name)),
            DbEvent::Reply { .. } => {}
            DbEvent::TxnDone { id, result } => {
                if is_sb {
                    self.sb_done(id, result);
                } else {
                    self.nb_done(id, result);
                }
            }
        }
    }

    fn sb_done(&mut self, id: RequestId, result: Result<Vec<OperationResult>, SessionError>) {
        let Some(txn) = self.sb_txn.take_if(|t| t.id == id) else { return };
        let elapsed_ms = txn.sent.elapsed().as_millis() as u64;
        match result {
            Ok(results) => {
                self.stats.sb_commits += 1;
                self.services.metrics.transaction("OVN_Southbound", true);
                self.services.metrics.sb_committed(&txn.stats);
                self.retry_wait = RETRY_MIN;
                let (ins, upd, del) = txn.stats.totals();
                debug!(inserted = ins, updated = upd, deleted = del, elapsed_ms, "sb transaction committed");
                if let Some(at) = self.took_lock.take() {
                    // When it left, apart: the SB server's share is the rest.
                    let sent_ms = txn.sent.saturating_duration_since(at).as_millis() as u64;
                    info!(
                        ms = at.elapsed().as_millis() as u64,
                        sent_ms, "since taking the lock: first write committed"
                    );
                }
                // The rows our inserts created: the replica must show them
                // before the next cycle, and their echo is ours.
                let results = results.iter().filter_map(|r| match r {
                    OperationResult::Insert { uuid } => Some(*uuid),
                    _ => None,
                });
                if let Some(awaited) = txn.awaited {
                    let (mut awaited, mut inserted) = (awaited.into_iter().peekable(), HashMap::new());
                    for (i, uuid) in results.clone().enumerate() {
                        if let Some((_, name)) = awaited.next_if(|(at, _)| *at == i) {
                            inserted.insert(name, uuid);
                        }
                    }
                    self.engine.committed(|name| inserted.get(name).copied());
                }
                let replica = self.sb.session().replica();
                let mut own = txn.touched;
                let mut results = results;
                for (table, n) in txn.insert_tables {
                    let rows = own.rows.entry(table.clone()).or_default();
                    for uuid in results.by_ref().take(n) {
                        if !self.awaiting_own_write && replica.is_some_and(|r| r.get(&table, &uuid).is_none()) {
                            debug!("the sb replica does not show our commit yet");
                            self.awaiting_own_write = true;
                        }
                        rows.insert(uuid, None);
                    }
                }
                self.sb_echo.own = Some(own);
            }
            Err(e) => self.txn_failed("OVN_Southbound", &e),
        }
    }

    fn nb_done(&mut self, id: RequestId, result: Result<Vec<OperationResult>, SessionError>) {
        if self.nb_txn != Some(id) {
            return;
        }
        self.nb_txn = None;
        match result {
            Ok(_) => {
                self.stats.nb_commits += 1;
                self.services.metrics.transaction("OVN_Northbound", true);
                debug!("nb transaction committed");
                self.nb_echo.own = self.nb_touched.take();
            }
            Err(e) => {
                // The nb_cfg stamp may not have been written: redo it.
                self.cfg = CfgTracker::default();
                self.txn_failed("OVN_Northbound", &e);
            }
        }
    }

    fn txn_failed(&mut self, db: &'static str, e: &SessionError) {
        self.stats.failed_txns += 1;
        self.services.metrics.transaction(db, false);
        self.dirty = true;
        match e {
            SessionError::Disconnected | SessionError::NotConnected => {
                debug!(db, error = %e, "transaction outcome unknown; the reconnect forces a recompute");
            }
            SessionError::Txn(t) if t.kind() == Some(ErrorKind::NotOwner) => {
                // A lock moved (the session reports it too): nothing was
                // written, and what the engine planned is still right, as
                // after a standby's run (with shards, a shard moved to
                // another member while the transaction was on its way).
                info!(db, "transaction refused: a lock it asserts is no longer ours");
                self.engine.discard();
                // Again before a commit: wait (the session should have
                // heard of the move by then).
                if self.retry_wait > RETRY_MIN {
                    self.retry_at = Some(tokio::time::Instant::now() + self.retry_wait);
                }
                self.retry_wait = (self.retry_wait * 2).min(RETRY_MAX);
            }
            _ => {
                let retry_ms = self.retry_wait.as_millis() as u64;
                if let Some(suppressed) = self.failure_log.allow(Instant::now()) {
                    warn!(db, error = %e, suppressed, retry_ms, "transaction failed");
                }
                self.forced = Some("commit failed");
                self.retry_at = Some(tokio::time::Instant::now() + self.retry_wait);
                self.retry_wait = (self.retry_wait * 2).min(RETRY_MAX);
            }
        }
    }

    /// Applies a sharded group's answer to a lock event (nothing when
    /// not sharded).
    fn group_locks(&mut self, f: impl FnOnce(&mut Group) -> Vec<LockOp>) {
        if let Some(g) = &mut self.group {
            apply_locks(&mut self.sb, f(g));
        }
    }

    /// What this instance may write now.
    fn ownership_now(&self) -> Ownership {
        match &self.group {
            Some(g) => g.ownership(),
            None => Ownership::default(),
        }
    }

    fn role_now(&self) -> Role {
        if self.paused {
            Role::Paused
        } else if let Some(g) = &self.group {
            let own = g.ownership();
            if own.global || !own.held.is_empty() {
                Role::Active
            } else {
                Role::Standby
            }
        } else if self.sb.session().has_lock(LOCK) {
            Role::Active
        } else {
            Role::Standby
        }
    }

    /// Role transitions, readiness, then a cycle if one is due.
    fn after_events(&mut self) {
        let role = self.role_now();
        if role != self.role {
            let was = self.role;
            self.role = role;
            match role {
                Role::Active => {
                    info!("lock acquired: this instance is now active");
                    self.took_lock = Some(Instant::now());
                }
                Role::Standby if was == Role::Active => {
                    info!("lock lost: this instance is now on standby");
                    self.took_lock = None;
                }
                Role::Standby => info!("resumed: this instance is on standby until it gets the lock"),
                Role::Paused => {
                    info!("paused: lock released, writing nothing");
                    self.took_lock = None;
                }
            }
            if self.ready_sent {
                self.services.notifier.send(&format!("STATUS={}", role.as_str()));
            }
            self.services.metrics.role(role);
        }
        // A sharded instance joins its group once its engine has run.
        if self.stats.engine_runs > 0 && self.group.as_ref().is_some_and(|g| !g.joined()) {
            self.group_locks(Group::join);
        }
        if let Some(g) = &self.group {
            let own = g.ownership();
            if own != self.ownership {
                info!(
                    shards = ?own.held,
                    global = own.global,
                    "sharded: this instance now writes these shards"
                );
                // A run plans what it may write now (the engine plans
                // every row; it keeps those it now owns).
                self.dirty = true;
                self.ownership = own;
            }
            let idle = g.idle_reason();
            if idle != self.idle_logged && !self.paused {
                if let Some(why) = idle {
                    info!(why, "sharded: this instance writes nothing");
                }
                self.idle_logged = idle;
            }
        }
        self.services.metrics.connections(self.nb.session().is_connected(), self.sb.session().is_connected());
        let both_ready = self.nb.session().is_ready() && self.sb.session().is_ready();
        if both_ready && !self.ready_sent {
            self.ready_sent = true;
            self.services.notifier.send(&format!("READY=1\nSTATUS={}", role.as_str()));
        }
        self.classify_changes();
        let due = role == Role::Active
            && both_ready
            && self.sb_txn.is_none()
            && self.nb_txn.is_none()
            && self.retry_at.is_none()
            && !self.awaiting_own_write
            && (self.dirty || self.forced.is_some());
        if due {
            self.cycle();
        } else if self.sequence_due
            && !self.dirty
            && role == Role::Active
            && both_ready
            && self.sb_txn.is_none()
            && self.nb_txn.is_none()
            && self.retry_at.is_none()
            && !self.awaiting_own_write
        {
            self.sequence_cycle();
        } else if self.status_due
            && self.ownership.global
            && role == Role::Active
            && both_ready
            && self.sb_txn.is_none()
            && self.nb_txn.is_none()
        {
            self.status_cycle();
        } else if role == Role::Standby && both_ready && (self.dirty || self.forced.is_some()) {
            self.warm_cycle();
        }
    }

    /// Once no transaction of ours is in flight to a database, decides
    /// whether its changes since the last cycle are news (a full cycle) or
    /// only the echo of our last write: for SB, then only the NB status
    /// columns may need an update (the compiler would find nothing to
    /// write); for NB, nothing.
    fn classify_changes(&mut self) {
        if self.sb_txn.is_none() && !self.awaiting_own_write && !self.sb_echo.pending.is_empty() {
            let (news, theirs) = self.sb_echo.take_news("OVN_Southbound");
            self.engine.settle_sb(|uuid| !theirs.contains(&uuid));
            match news {
                News::Input => {
                    self.dirty = true;
                    self.settle.input_changed();
                }
                News::Sequence | News::Echo => {
                    debug!("the sb changes are our own write's echo or chassis sequence numbers");
                    self.status_due = true;
                }
            }
        }
        if self.nb_txn.is_none() && !self.nb_echo.pending.is_empty() {
            let (news, theirs) = self.nb_echo.take_news("OVN_Northbound");
            self.engine.settle_nb(|uuid| !theirs.contains(&uuid));
            match news {
                News::Input => {
                    self.dirty = true;
                    self.settle.input_changed();
                }
                News::Sequence => {
                    debug!("only nb_cfg moved: no recompute");
                    self.sequence_due = true;
                }
                News::Echo => debug!("the nb changes are our own write's echo"),
            }
        }
    }

    /// Sends `ops` as the NB transaction, if there are any, remembering the
    /// rows they write.
    fn send_nb(&mut self, ops: Vec<Operation>) {
        if ops.is_empty() {
            return;
        }
        let touched = OwnWrite::from_ops(&ops);
        let txn = Transaction { db: "OVN_Northbound".into(), ops };
        match self.nb.session_mut().transact(txn) {
            Ok(id) => {
                self.nb_txn = Some(id);
                self.nb_touched = Some(touched);
            }
            Err(e) => self.txn_failed("OVN_Northbound", &e),
        }
    }

    /// Updates the NB status columns (`sb_cfg`, `hv_cfg` and their
    /// timestamps) without a recompute.
    fn status_cycle(&mut self) {
        self.status_due = false;
        let started = Instant::now();
        let (Some(nb), Some(sb)) = (self.nb.session().replica(), self.sb.session().replica()) else { return };
        let output = lflow::output::Output { nb: self.cfg.nb_writes(nb, sb, now_ms()), ..Default::default() };
        let nb_ops = lflow::sync::plan_nb(&output, nb);
        self.services.metrics.node_run("status_cycle", RunKind::Compute, started.elapsed());
        self.send_nb(nb_ops);
    }

    /// Copies `NB_Global.nb_cfg` to `SB_Global.nb_cfg` without a
    /// recompute (with shards, records this instance's shards as written
    /// at it, and copies it once every shard is): nothing the compiler
    /// reads changed since the last cycle, whose writes are committed and
    /// seen, so the SB already is the translation of this NB. The echo
    /// then brings `sb_cfg` up (`status_cycle`).
    fn sequence_cycle(&mut self) {
        self.sequence_due = false;
        let started = Instant::now();
        let (Some(nb), Some(sb)) = (self.nb.session().replica(), self.sb.session().replica()) else { return };
        let mut plan = Plan::default();
        self.progress(plan.ops_mut(), nb, sb, &self.pending);
        self.services.metrics.node_run("sequence_cycle", RunKind::Compute, started.elapsed());
        if plan.is_empty() {
            self.status_due = true;
            return;
        }
        debug!(nb_cfg = status::nb_cfg(nb), "nb_cfg moved: its progress written without a recompute");
        if self.send_sb(plan, false) && self.ownership.global {
            // nb_cfg_timestamp, as a full cycle stamps it.
            self.status_cycle();
        }
    }

    /// Adds to `ops` what this instance reports of its progress at the
    /// NB's `nb_cfg`: with shards, that the rows of those it holds and
    /// writes whole (not `pending.held`) translate it
    /// (`status::shard_progress`); as the global role, the copy of
    /// `nb_cfg` once no other shard's row is left (`pending.others`) and
    /// every shard's record (or this plan) says so.
    fn progress(&self, ops: &mut Vec<Operation>, nb: &Replica, sb: &Replica, pending: &Pending) {
        let Some(nb_cfg) = status::nb_cfg(nb) else { return };
        let mut reached = true;
        if let Some(k) = self.group.as_ref().map(Group::shards) {
            let written = self.ownership.held.difference(&pending.held).copied().collect();
            status::shard_progress(ops, sb, &written, k, nb_cfg);
            reached = status::shards_reached(sb, k, nb_cfg, &written);
        }
        if self.ownership.global && !pending.others && reached {
            status::sb_nb_cfg_op(ops, sb, nb_cfg);
        }
    }

    /// Runs the engine on the replicas; a forced run (reconnect, failed
    /// commit, command) recomputes every node first, except on taking the
    /// lock: the engine kept up on standby (`warm_cycle`).
    fn run_engine(&mut self) -> Option<lflow::engine::Cycle> {
        if let Some(reason) = self.forced.take() {
            debug!(reason, "forced run");
            if reason != LOCK_ACQUIRED {
                self.engine.reset();
            }
        }
        self.dirty = false;
        self.stats.engine_runs += 1;
        let (Some(nb), Some(sb)) = (self.nb.session().replica(), self.sb.session().replica()) else { return None };
        let (metrics, mut last) = (&self.services.metrics, Instant::now());
        Some(self.engine.run(nb, sb, |node, kind| {
            // An abort is told before its node's recompute, which has the
            // time.
            let now = Instant::now();
            metrics.node_run(node, kind, now - last);
            if node == lflow::engine::NODES[0] {
                crate::allocator::after_run(kind);
            }
            if kind != RunKind::Abort {
                last = now;
            }
        }))
    }

    /// On standby: runs the engine on every change as the active
    /// instance does, writing nothing, so that taking over needs no cold
    /// recompute.
    fn warm_cycle(&mut self) {
        self.run_id += 1;
        let span = info_span!("warm_cycle", run_id = self.run_id);
        let _guard = span.enter();
        let started = Instant::now();
        self.engine.set_ownership(self.ownership_now());
        let Some(cycle) = self.run_engine() else { return };
        self.engine.discard();
        let compile_ms = started.elapsed().as_millis() as u64;
        debug!(compile_ms, datapaths_built = cycle.stats.datapaths_built, "computed on standby, nothing written");
    }

    /// One engine run and at most one transaction per database.
    fn cycle(&mut self) {
        self.run_id += 1;
        let span = info_span!("cycle", run_id = self.run_id, forced = self.forced.unwrap_or(""));
        let _guard = span.enter();
        self.status_due = false;
        self.sequence_due = false;
        let started = Instant::now();
        // (`after_events` has just brought it up to date.)
        self.engine.set_ownership(self.ownership.clone());
        let Some(lflow::engine::Cycle { mut output, mut plan, stats, pending }) = self.run_engine() else {
            return;
        };
        let (Some(nb), Some(sb)) = (self.nb.session().replica(), self.sb.session().replica()) else { return };
        self.diagnostics.report(&output.diagnostics, started);
        self.diagnostics_at = schedule(&self.diagnostics);
        // The NB, and nb_cfg once every shard's rows are written, are the
        // global role's.
        self.progress(plan.ops_mut(), nb, sb, &pending);
        self.pending = pending;
        let mut nb_ops = Vec::new();
        if self.ownership.global {
            output.nb.extend(self.cfg.nb_writes(nb, sb, now_ms()));
            nb_ops = lflow::sync::plan_nb(&output, nb);
            nb_ops.extend(status::nb_global_insert(nb));
        }
        // The desired rows are planned: not held while the transaction is
        // encoded, at the peak of a first translation.
        drop(output);
        let compile_ms = started.elapsed().as_millis() as u64;
        debug!(
            compile_ms,
            sb_ops = plan.len(),
            nb_ops = nb_ops.len(),
            datapaths_built = stats.datapaths_built,
            datapaths_in_part = stats.datapaths_in_part,
            datapaths_rest = stats.datapaths_rest,
            datapaths_changed = stats.datapaths_changed,
            flows_compared = stats.flows_compared,
            bindings_built = stats.bindings_built,
            "computed"
        );
        self.check_settled(!plan.is_empty() || !nb_ops.is_empty());
        if !plan.is_empty() {
            self.send_sb(plan, true);
        } else if let Some(at) = self.took_lock.take() {
            info!(ms = at.elapsed().as_millis() as u64, "since taking the lock: nothing to write");
        }
        self.send_nb(nb_ops);
    }

    /// Sends `plan` as the SB transaction, under the lock, remembering the
    /// rows it writes and the tables it inserts into; whether it went out.
    fn send_sb(&mut self, mut plan: Plan, cycle: bool) -> bool {
        let mut insert_tables: Vec<(String, usize)> = Vec::new();
        let inserts = plan.ops().iter().filter_map(|op| match op {
            Operation::Insert { table, uuid_name, .. } => Some((table.as_str(), uuid_name)),
            _ => None,
        });
        // (The deferred inserts come after all the others.)
        let awaited = cycle.then(|| {
            let inserts = inserts.clone().enumerate().filter(|(_, (table, _))| self.engine.awaits(table));
            inserts.filter_map(|(i, (_, name))| Some((i, name.clone()?))).collect()
        });
        for table in inserts.map(|(table, _)| table).chain(plan.deferred_tables()) {
            match insert_tables.last_mut() {
                Some((last, n)) if last == table => *n += 1,
                _ => insert_tables.push((table.to_string(), 1)),
            }
        }
        let touched = OwnWrite::from_ops(plan.ops());
        let stats = std::mem::take(&mut plan.stats);
        let locks: Vec<String> = match &self.group {
            Some(g) => g.locks(),
            None => vec![LOCK.to_string()],
        };
        let asserts = locks.into_iter().map(|lock| Operation::Assert { lock });
        // The deferred inserts are built as they are encoded.
        match self.sb.session_mut().transact_ops("OVN_Southbound", asserts.chain(plan.into_operations())) {
            Ok(id) => {
                self.sb_txn = Some(SbInFlight { id, stats, insert_tables, touched, sent: Instant::now(), awaited });
                true
            }
            Err(e) => {
                self.txn_failed("OVN_Southbound", &e);
                false
            }
        }
    }

    /// Slows down (and warns) when the translation does not settle.
    fn check_settled(&mut self, writes: bool) {
        if let Some(cycles) = self.settle.cycle(writes) {
            if let Some(suppressed) = self.failure_log.allow(Instant::now()) {
                warn!(cycles, suppressed, "the translation does not settle: slowing down");
            }
            self.retry_at = Some(tokio::time::Instant::now() + self.retry_wait);
            self.retry_wait = (self.retry_wait * 2).min(RETRY_MAX);
        }
    }

    /// Runs a control command.
    fn command(&mut self, command: Command) -> Reply {
        match command {
            Command::Exit => {
                self.exit = true;
                self.exit_requested_by_control = true;
                Ok(String::new())
            }
            Command::Status => Ok(format!("Status: {}\n", self.role_now().as_str())),
            Command::Pause => {
                if !self.paused {
                    self.paused = true;
                    match &mut self.group {
                        Some(g) => apply_locks(&mut self.sb, g.stop()),
                        None => self.sb.session_mut().unlock(LOCK),
                    }
                }
                Ok(String::new())
            }
            Command::Resume => {
                if self.paused {
                    self.paused = false;
                    match &mut self.group {
                        Some(g) => apply_locks(&mut self.sb, g.start()),
                        None => self.sb.session_mut().lock(LOCK),
                    }
                    self.forced = Some("resumed");
                }
                Ok(String::new())
            }
            Command::ShardsShow => Ok(match &self.group {
                Some(g) => g.show(),
                None => {
                    let role = if self.role_now() == Role::Active { "active" } else { "standby" };
                    format!("0 {role}\nglobal {role}\n")
                }
            }),
            Command::IsPaused => Ok(format!("{}\n", self.paused)),
            Command::Version => Ok(version_text()),
            Command::ListCommands => Ok(control::list_commands()),
            Command::NbConnectionStatus => Ok(connection_status(&self.nb)),
            Command::SbConnectionStatus => Ok(connection_status(&self.sb)),
            Command::SbClusterStateReset | Command::NbClusterStateReset => {
                // The session keeps no cluster index that could refuse a
                // rebuilt database (a new cluster id resets what it knows),
                // so there is nothing to forget; read everything again.
                info!("cluster state reset: forcing a recompute");
                self.forced = Some("cluster state reset");
                Ok(String::new())
            }
            Command::Recompute => {
                self.forced = Some("inc-engine/recompute");
                Ok(String::new())
            }
            Command::ShowStats { node, counter } => {
                Ok(show_stats(self.engine.stats(), node.as_deref(), counter.as_deref()))
            }
            Command::VlogReopen => self.services.log.reopen().map(|()| String::new()).map_err(|e| format!("{e}\n")),
        }
    }
}

/// Makes the lock requests a sharded group asks for.
fn apply_locks(sb: &mut Client, ops: Vec<LockOp>) {
    for op in ops {
        match op {
            LockOp::Lock(name) => sb.session_mut().lock(&name),
            LockOp::Unlock(name) => sb.session_mut().unlock(&name),
        }
    }
}

/// `inc-engine/show-stats [NODE [COUNTER]]` in the reference's layout:
/// every engine node (or the one named) with its counters.
fn show_stats(
    nodes: impl Iterator<Item = (&'static str, lflow::engine::NodeStats)>,
    node: Option<&str>,
    counter: Option<&str>,
) -> String {
    let mut out = String::new();
    for (name, stats) in nodes.filter(|(name, _)| node.map_or(true, |n| n == *name)) {
        let counters = [("recompute", stats.recompute), ("compute", stats.compute), ("abort", stats.abort)];
        match counter {
            Some(c) => match counters.iter().find(|(name, _)| *name == c) {
                Some((_, v)) => out.push_str(&format!("{v}\n")),
                None => out.push_str(&format!("Invalid stat type : {c}\n")),
            },
            None => {
                out.push_str(&format!("Node: {name}\n"));
                for (name, v) in counters {
                    out.push_str(&format!("{:<14}{v:>11}\n", format!("- {name}:")));
                }
            }
        }
    }
    out
}

fn connection_status(client: &Client) -> String {
    if client.session().is_connected() { "connected\n" } else { "not connected\n" }.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ovsdb::{Atom, Condition, OpRow};

    /// Regression: a user's change to a column our last write also set was
    /// taken for that write's echo (`set NB_Global . options:k=v` right
    /// after northd wrote its generated options), and never translated.
    #[test]
    fn only_the_value_we_wrote_is_our_echo() {
        let uuid = Uuid::from_u128(7);
        let options = |kv: &[(&str, &str)]| Datum::map(kv.iter().map(|(k, v)| (Atom::string(*k), Atom::string(*v))));
        let ours = options(&[("mac_prefix", "0a:00:00")]);
        let mut row = OpRow::new();
        row.insert("options".into(), ours.clone());
        row.insert("ref".into(), Datum::from(Atom::NamedUuid("new_row".into())));
        let write = OwnWrite::from_ops(&[Operation::Update {
            table: "NB_Global".into(),
            where_: vec![Condition::row(uuid)],
            row,
        }]);
        let change = |column: &str, value: Datum| RowChange {
            table: "NB_Global".into(),
            uuid,
            columns: Some(vec![(column.into(), value)]),
            collected: false,
        };
        assert!(write.made(&change("options", ours)));
        let theirs = options(&[("controller_event", "true"), ("mac_prefix", "0a:00:00")]);
        assert!(!write.made(&change("options", theirs)), "another client's value is news");
        assert!(write.made(&change("ref", Datum::from(Atom::Uuid(Uuid::from_u128(9))))), "a named row's UUID");
        assert!(!write.made(&change("name", Datum::from(Atom::string("x")))), "a column we did not write");
    }

    #[test]
    fn a_translation_that_keeps_writing_is_caught() {
        let mut s = Settle::default();
        // An NB change, its SB write, the NB status write: settles.
        assert_eq!(s.cycle(true), None);
        assert_eq!(s.cycle(true), None);
        s.input_changed();
        assert_eq!(s.cycle(false), None);
        // Writing on and on with nothing coming in.
        let flags: Vec<Option<u32>> = (0..5).map(|_| s.cycle(true)).collect();
        assert_eq!(flags, [None, None, None, Some(4), Some(5)]);
        s.input_changed();
        assert_eq!(s.cycle(true), None, "an input change resets the count");
    }

    #[test]
    fn show_stats_prints_like_the_reference() {
        use lflow::engine::NodeStats;
        let nodes = || {
            [
                ("northd", NodeStats { recompute: 2, ..Default::default() }),
                ("lflow", NodeStats { recompute: 1, compute: 19, abort: 0 }),
            ]
            .into_iter()
        };
        // From ovn-northd 23.03.1: "Node: northd\n- recompute:            2\n...".
        assert_eq!(
            show_stats(nodes(), Some("northd"), None),
            "Node: northd\n- recompute:            2\n- compute:              0\n- abort:                0\n"
        );
        assert!(show_stats(nodes(), None, None).ends_with(
            "Node: lflow\n- recompute:            1\n- compute:             19\n- abort:                0\n"
        ));
        assert_eq!(show_stats(nodes(), Some("lflow"), Some("compute")), "19\n");
        assert_eq!(show_stats(nodes(), Some("northd"), Some("bogus")), "Invalid stat type : bogus\n");
        assert_eq!(show_stats(nodes(), Some("nowhere"), None), "");
    }
}
