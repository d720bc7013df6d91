//! The sans-IO OVSDB session: one logical connection to one database over a
//! list of remotes, kept alive across failures.
//!
//! It takes inputs (`handle_connected`, `handle_message`, `handle_timeout`,
//! ...) with the current time and produces outputs (`poll_io`,
//! `poll_transmit`, `poll_timeout`, `poll_event`), like quinn-proto's
//! `Connection`. It never touches a socket or a clock; `io::Client` drives it.
//!
//! On every connection it: monitors the `_Server` database to learn whether
//! this server is part of a connected cluster and its leader (and drops the
//! connection when it stops being so, to find the new leader); reads the
//! schema; declares itself change-aware; re-requests the locks it wants; and
//! (re)starts its monitor with `monitor_cond_since` and the last transaction
//! id it saw, so a reconnect fetches only what it missed. A server that does
//! not know `monitor_cond_since` gets `monitor_cond`, then `monitor`.

pub mod reconnect;
pub mod remote;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use indexmap::IndexMap;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use thiserror::Error;
use tracing::{debug, info, warn};
use uuid::Uuid;

use crate::proto::condition::Condition;
use crate::proto::op::Operation;
use crate::proto::rpc::{Id, Message};
use crate::proto::schema::DatabaseSchema;
use crate::proto::txn::{OperationResult, ResultShape, Transaction, TxnError};
use crate::proto::update::{decode_table_updates, TableUpdates, UpdateFormat};
use crate::replica::Replica;
pub use reconnect::Timing;
use reconnect::{Action, Reconnect};
pub use remote::{Remote, RemoteError};

/// Counters of what the session has done, for operators and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// Connections that became ready.
    pub connections: u64,
    /// Monitors started with a full snapshot of the database.
    pub full_syncs: u64,
    /// Monitors resumed by `monitor_cond_since` from the last transaction
    /// seen, receiving only what changed since.
    pub resumed_syncs: u64,
}

/// Identifies a request made through the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// What to monitor in one table.
#[derive(Debug, Clone, Default)]
pub struct MonitorTable {
    /// Columns; `None` for all of them.
    pub columns: Option<Vec<String>>,
    /// Rows to include (`monitor_cond`); `None` for all rows.
    pub conditions: Option<Vec<Condition>>,
}

/// Which tables to keep a replica of.
#[derive(Debug, Clone)]
pub enum MonitorSpec {
    /// Every table and column of the server's schema.
    All,
    /// These tables only. Tables or columns the server lacks are left out
    /// with a warning (an older server), not an error.
    Tables(IndexMap<String, MonitorTable>),
}

/// How a session behaves.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// The remotes, tried in turn from a random start.
    pub remotes: Vec<Remote>,
    /// The database to use.
    pub database: String,
    /// What to monitor into the replica; `None` for no replica.
    pub monitor: Option<MonitorSpec>,
    /// The schema to decode with; `None` to use the server's. With a schema
    /// given, the replica exists from the start (so indexes can be created
    /// before the first rows arrive).
    pub schema: Option<Arc<DatabaseSchema>>,
    /// The (table, column) indexes every replica the session makes gets
    /// (`Replica::create_index`); one of a column its schema lacks is left
    /// out (a lookup then says `NoIndex`).
    pub indexes: Vec<(String, String)>,
    /// Use only a server that is the leader of its cluster (standalone
    /// servers always qualify).
    pub leader_only: bool,
    pub timing: Timing,
    /// Seed for the choice of the first remote and backoff jitter.
    pub seed: u64,
}

impl SessionConfig {
    pub fn new(remotes: Vec<Remote>, database: impl Into<String>) -> SessionConfig {
        SessionConfig {
            remotes,
            database: database.into(),
            monitor: None,
            schema: None,
            indexes: Vec::new(),
            leader_only: true,
            timing: Timing::default(),
            seed: 0,
        }
    }
}

/// Failures reported for a request.
#[derive(Debug, Clone, Error)]
pub enum SessionError {
    /// The session is not connected and ready; nothing was sent.
    #[error("not connected")]
    NotConnected,
    /// The connection was lost before the reply: the outcome is unknown.
    #[error("connection lost before the reply")]
    Disconnected,
    /// The server answered with a JSON-RPC error.
    #[error("server error: {0}")]
    Rpc(Value),
    /// A transaction failed.
    #[error(transparent)]
    Txn(#[from] TxnError),
}

/// What the session tells its owner.
#[derive(Debug)]
pub enum Event {
    /// Connected to a usable server and synchronized: requests may be made.
    Ready { remote: String },
    /// A connection attempt failed; the next remote or a retry follows.
    ConnectFailed { remote: String, reason: String },
    /// The connection was lost or dropped (also before it became ready,
    /// e.g. a server that is not the leader); it is being re-established.
    Disconnected { remote: String, reason: String },
    /// The replica changed; read `replica_mut().take_changes()`.
    ReplicaChanged,
    /// The schema differs from the one of the previous connection: the
    /// replica was rebuilt with the new schema.
    SchemaChanged,
    /// This session now holds the lock.
    Locked(String),
    /// The server answered a request for the lock: another session holds
    /// it, and this one waits in line (`Locked` follows when its turn
    /// comes).
    LockQueued(String),
    /// This session no longer holds the lock (stolen, or connection lost);
    /// it asks for it again on its own.
    LockLost(String),
    /// The reply to `call`.
    Reply { id: RequestId, result: Result<Box<RawValue>, SessionError> },
    /// The outcome of `transact`.
    TxnDone { id: RequestId, result: Result<Vec<OperationResult>, SessionError> },
}

/// What the driver must do with the transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IoAction {
    /// Connect to this remote.
    Connect(Remote),
    /// Close the current connection (report it with `handle_disconnected`).
    Disconnect,
}

#[derive(Debug)]
enum Pending {
    ServerId,
    ServerMonitor,
    Schema,
    ChangeAware,
    Monitor(MonitorMethod),
    Lock(String),
    Unlock(String),
    Echo,
    Call(RequestId),
    Txn(RequestId, ResultShape),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MonitorMethod {
    CondSince,
    Cond,
    Plain,
}

impl MonitorMethod {
    fn name(self) -> &'static str {
        match self {
            MonitorMethod::CondSince => "monitor_cond_since",
            MonitorMethod::Cond => "monitor_cond",
            MonitorMethod::Plain => "monitor",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LockState {
    Wanted,
    Requested,
    Owned,
}

/// Facts about the database from `_Server.Database`.
#[derive(Debug, Clone, Default)]
struct ServerDb {
    clustered: bool,
    connected: bool,
    leader: bool,
    cid: Option<Uuid>,
}

/// Progress of the current connection.
#[derive(Debug, Default)]
struct Conn {
    /// The server's own id (`get_server_id`), for logs.
    server_id: Option<Uuid>,
    server_db: Option<ServerDb>,
    /// `_Server` answered (with the database or an error).
    server_known: bool,
    server_schema: Option<Arc<DatabaseSchema>>,
    monitor_sent: bool,
    ready: bool,
}

/// The session. See the module documentation.
pub struct Session {
    config: SessionConfig,
    reconnect: Reconnect,
    conn: Option<Conn>,
    next_id: u64,
    pending: HashMap<u64, Pending>,
    locks: IndexMap<String, LockState>,
    /// Locks with an `unlock` on its way: until its reply, what the server
    /// says of the lock is about the request it cancels (a `locked` sent
    /// before the server read it), not a later one.
    unlocking: HashMap<String, u32>,
    replica: Option<Replica>,
    server_replica: Replica,
    /// The cluster id and last transaction id seen, for monitor_cond_since.
    last_txn: Option<Uuid>,
    cid: Option<Uuid>,
    monitor_method: MonitorMethod,
    stats: SessionStats,
    io: VecDeque<IoAction>,
    transmit: VecDeque<Message>,
    events: VecDeque<Event>,
    /// The probe interval set with `set_probe_interval`, if any.
    probe_interval: Option<Duration>,
}

const SERVER_DB: &str = "_Server";

/// How the reason of a `Disconnected` event starts when the server does
/// not serve the configured database (or its schema is unusable): the
/// reason goes on with the databases the server has. Not a passing
/// failure: the session keeps retrying, but the remote is likely wrong.
pub const UNUSABLE_DATABASE: &str = "cannot use database";
const ZERO_TXN: &str = "00000000-0000-0000-0000-000000000000";

/// The part of the `_Server` schema the session monitors.
fn server_schema() -> &'static Arc<DatabaseSchema> {
    static SCHEMA: OnceLock<Arc<DatabaseSchema>> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let text = r#"{"name":"_Server","version":"1.2.0","tables":{"Database":{"columns":{
            "name":{"type":"string"},
            "model":{"type":{"key":{"type":"string","enum":["set",["standalone","clustered","relay"]]}}},
            "connected":{"type":"boolean"},
            "leader":{"type":"boolean"},
            "cid":{"type":{"key":"uuid","min":0,"max":1}},
            "index":{"type":{"key":"integer","min":0,"max":1}}}}}}"#;
        Arc::new(DatabaseSchema::from_json_str(text).expect("the built-in _Server schema parses"))
    })
}

/// An empty replica of `schema` with the indexes `config` asks for.
fn new_replica(config: &SessionConfig, schema: Arc<DatabaseSchema>) -> Replica {
    let mut replica = Replica::new(schema);
    for (table, column) in &config.indexes {
        // (A column the schema lacks: no index, as documented.)
        let _ = replica.create_index(table, column);
    }
    replica
}

impl Session {
    /// A session that will connect at the first `poll_io`.
    pub fn new(config: SessionConfig, now: Instant) -> Session {
        let reconnect = Reconnect::new(config.timing, config.remotes.len(), config.seed, now);
        let replica = match (&config.monitor, &config.schema) {
            (Some(_), Some(schema)) => Some(new_replica(&config, schema.clone())),
            _ => None,
        };
        let mut s = Session {
            config,
            reconnect,
            conn: None,
            next_id: 1,
            pending: HashMap::new(),
            locks: IndexMap::new(),
            unlocking: HashMap::new(),
            replica,
            server_replica: Replica::new(server_schema().clone()),
            last_txn: None,
            cid: None,
            monitor_method: MonitorMethod::CondSince,
            stats: SessionStats::default(),
            io: VecDeque::new(),
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            probe_interval: None,
        };
        s.handle_timeout(now);
        s
    }

    /// The database this session serves.
    pub fn database(&self) -> &str {
        &self.config.database
    }

    /// The remote in use or being tried.
    pub fn remote(&self) -> &Remote {
        &self.config.remotes[self.reconnect.current()]
    }

    /// True while a connection is up (ready or still setting up).
    pub fn is_connected(&self) -> bool {
        self.conn.is_some()
    }

    /// True once connected, synchronized, and until the connection is lost.
    pub fn is_ready(&self) -> bool {
        self.conn.as_ref().is_some_and(|c| c.ready)
    }

    /// The replica of the monitored tables, once a schema is known.
    pub fn replica(&self) -> Option<&Replica> {
        self.replica.as_ref()
    }

    pub fn replica_mut(&mut self) -> Option<&mut Replica> {
        self.replica.as_mut()
    }

    /// The schema of the server currently connected.
    pub fn server_schema(&self) -> Option<&Arc<DatabaseSchema>> {
        self.conn.as_ref().and_then(|c| c.server_schema.as_ref())
    }

    /// What the session has done so far.
    pub fn stats(&self) -> SessionStats {
        self.stats
    }

    /// The id of the server connected (`get_server_id`), once known.
    pub fn server_id(&self) -> Option<Uuid> {
        self.conn.as_ref().and_then(|c| c.server_id)
    }

    /// The last transaction id seen through `monitor_cond_since`.
    pub fn last_txn_id(&self) -> Option<Uuid> {
        self.last_txn
    }

    /// Whether this session holds the named lock.
    pub fn has_lock(&self, name: &str) -> bool {
        self.locks.get(name) == Some(&LockState::Owned)
    }

    // ---- requests -------------------------------------------------------

    /// Sends a raw JSON-RPC request (`list_dbs`, `get_schema`, ...); the
    /// answer comes as `Event::Reply`. Allowed once connected, before ready.
    pub fn call(&mut self, method: &str, params: Value) -> Result<RequestId, SessionError> {
        if self.conn.is_none() {
            return Err(SessionError::NotConnected);
        }
        let rid = self.new_request_id();
        self.send(method, &params, Pending::Call(rid));
        Ok(rid)
    }

    /// Sends a transaction; its outcome comes as `Event::TxnDone`. Fails at
    /// once with `NotConnected` unless ready.
    pub fn transact(&mut self, txn: Transaction) -> Result<RequestId, SessionError> {
        self.transact_ops(&txn.db, txn.ops)
    }

    /// `transact` of the operations `ops` yields on `db`, each encoded as
    /// it comes (`Transaction::encode`).
    pub fn transact_ops(
        &mut self,
        db: &str,
        ops: impl IntoIterator<Item = Operation>,
    ) -> Result<RequestId, SessionError> {
        if !self.is_ready() {
            return Err(SessionError::NotConnected);
        }
        let rid = self.new_request_id();
        // Straight to JSON text: a JSON value tree of a large transaction
        // (a first translation) would take several times its size. Only
        // the shape of its results is kept.
        let (params, shape) = Transaction::encode(db, ops);
        self.send_raw("transact", params, Pending::Txn(rid, shape));
        Ok(rid)
    }

    /// Asks for a lock, now and after every reconnect, until `unlock`.
    pub fn lock(&mut self, name: &str) {
        self.want_lock(name, "lock");
    }

    /// Takes a lock from its holder, now and after every reconnect.
    pub fn steal(&mut self, name: &str) {
        self.want_lock(name, "steal");
    }

    /// Gives up a lock (or the wish for it).
    pub fn unlock(&mut self, name: &str) {
        if let Some(state) = self.locks.shift_remove(name) {
            if self.conn.is_some() && state != LockState::Wanted {
                *self.unlocking.entry(name.to_owned()).or_default() += 1;
                self.send("unlock", &json!([name]), Pending::Unlock(name.to_owned()));
            }
            if state == LockState::Owned {
                self.events.push_back(Event::LockLost(name.to_owned()));
            }
        }
    }

    fn want_lock(&mut self, name: &str, method: &str) {
        let state = self.locks.entry(name.to_owned()).or_insert(LockState::Wanted);
        if *state == LockState::Owned {
            return;
        }
        if self.conn.is_some() {
            *state = LockState::Requested;
            self.send(method, &json!([name]), Pending::Lock(name.to_owned()));
        }
    }

    fn new_request_id(&mut self) -> RequestId {
        let id = self.next_id;
        self.next_id += 1;
        RequestId(id)
    }

    fn send(&mut self, method: &str, params: &impl serde::Serialize, pending: Pending) {
        let params = serde_json::value::to_raw_value(params).expect("request params always serialize");
        self.send_raw(method, params, pending);
    }

    /// `send` of params already in JSON text.
    fn send_raw(&mut self, method: &str, params: Box<serde_json::value::RawValue>, pending: Pending) {
        let id = self.next_id;
        self.next_id += 1;
        self.pending.insert(id, pending);
        self.transmit.push_back(Message::request_raw(Id::Num(id), method, params));
    }

    // ---- outputs --------------------------------------------------------

    /// What to do with the transport.
    pub fn poll_io(&mut self) -> Option<IoAction> {
        self.io.pop_front()
    }

    /// The next message to send on the current connection.
    pub fn poll_transmit(&mut self) -> Option<Message> {
        self.transmit.pop_front()
    }

    /// The next event for the owner.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When to call `handle_timeout` next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.reconnect.timeout()
    }

    // ---- inputs ---------------------------------------------------------

    /// Time passed: connect, probe, or give up on a silent peer.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.reconnect.run(now) {
            Some(Action::Connect(i)) => {
                let remote = self.config.remotes[i].clone();
                debug!(%remote, db = %self.config.database, "connecting");
                self.io.push_back(IoAction::Connect(remote));
            }
            Some(Action::Probe) if self.conn.is_some() => self.send("echo", &json!([]), Pending::Echo),
            Some(Action::Disconnect) => {
                self.drop_connection(now, "no response to inactivity probe".into());
            }
            Some(Action::Probe) | None => {}
        }
    }

    /// The transport connected.
    pub fn handle_connected(&mut self, now: Instant) {
        self.reconnect.connected(now);
        self.apply_probe_interval();
        self.conn = Some(Conn::default());
        self.transmit.clear();
        let db = self.config.database.clone();
        self.send(
            "monitor_cond",
            &json!([SERVER_DB, ["monid", SERVER_DB], {"Database": [{"columns": ["name", "model", "connected", "leader", "cid", "index"]}]}]),
            Pending::ServerMonitor,
        );
        self.send("get_schema", &json!([db]), Pending::Schema);
        self.send("set_db_change_aware", &json!([true]), Pending::ChangeAware);
        self.send("get_server_id", &json!([]), Pending::ServerId);
        let names: Vec<String> = self.locks.keys().cloned().collect();
        for name in names {
            self.locks.insert(name.clone(), LockState::Requested);
            self.send("lock", &json!([name]), Pending::Lock(name));
        }
    }

    /// Sets the inactivity probe interval of every connection from now on:
    /// `None` for the default (the configured `Timing` on TCP and SSL, no
    /// probes on a unix socket, whose peer cannot vanish unseen), zero for
    /// no probes.
    pub fn set_probe_interval(&mut self, interval: Option<Duration>) {
        self.probe_interval = interval;
        self.apply_probe_interval();
    }

    fn apply_probe_interval(&mut self) {
        let interval = match self.probe_interval {
            Some(d) if d.is_zero() => None,
            Some(d) => Some(d),
            None if matches!(self.remote(), Remote::Unix(_)) => None,
            None => self.config.timing.probe_interval,
        };
        self.reconnect.set_probe_interval(interval);
    }

    /// The connection attempt failed.
    pub fn handle_connect_failed(&mut self, now: Instant, reason: &str) {
        let remote = self.remote().to_string();
        debug!(%remote, reason, "connection attempt failed");
        self.reconnect.disconnected(now);
        self.events.push_back(Event::ConnectFailed { remote, reason: reason.to_owned() });
    }

    /// The connection closed (by the peer, an error, or after `IoAction::Disconnect`).
    pub fn handle_disconnected(&mut self, now: Instant, reason: &str) {
        if self.conn.is_some() {
            self.lost(now, reason.to_owned());
        }
    }

    /// A message arrived.
    pub fn handle_message(&mut self, now: Instant, msg: Message) {
        if self.conn.is_none() {
            return;
        }
        self.reconnect.received(now);
        match msg {
            Message::Request { id, method, params } => match method.as_str() {
                "echo" => self.transmit.push_back(Message::reply(id, &params)),
                other => {
                    debug!(method = other, "ignoring request from server");
                    self.transmit.push_back(Message::Error { id, error: json!(format!("unknown method {other}")) });
                }
            },
            Message::Notification { method, params } => self.handle_notification(now, &method, params),
            Message::Reply { id, result } => self.handle_reply(now, &id, Ok(result)),
            Message::Error { id, error } => self.handle_reply(now, &id, Err(error)),
        }
    }

    fn handle_notification(&mut self, now: Instant, method: &str, params: Box<RawValue>) {
        match method {
            "update" | "update2" | "update3" => {
                let parts: Vec<&RawValue> = match serde_json::from_str(params.get()) {
                    Ok(p) => p,
                    Err(e) => return self.protocol_error(now, format!("malformed {method} notification: {e}")),
                };
                let (monid, txn, updates) = match (method, parts.as_slice()) {
                    ("update3", [m, t, u]) => (*m, Some(*t), *u),
                    ("update" | "update2", [m, u]) => (*m, None, *u),
                    _ => return self.protocol_error(now, format!("{method} notification with wrong arity")),
                };
                let format = if method == "update" { UpdateFormat::Update } else { UpdateFormat::Update2 };
                let is_server =
                    serde_json::from_str::<Value>(monid.get()).is_ok_and(|v| v == json!(["monid", SERVER_DB]));
                if is_server {
                    self.apply_server_update(now, updates, false);
                    return;
                }
                if let Some(t) = txn {
                    match serde_json::from_str::<String>(t.get()).ok().and_then(|s| Uuid::parse_str(&s).ok()) {
                        Some(u) => self.last_txn = Some(u),
                        None => return self.protocol_error(now, "update3 with a bad transaction id".into()),
                    }
                }
                let decoded = self.decode_update(updates, format);
                drop(parts);
                drop(params);
                self.apply_update(now, decoded, false);
            }
            "locked" | "stolen" => {
                let name = match serde_json::from_str::<(String,)>(params.get()) {
                    Ok((n,)) => n,
                    Err(_) => return self.protocol_error(now, format!("malformed {method} notification")),
                };
                if self.unlocking.contains_key(&name) {
                    return;
                }
                let Some(state) = self.locks.get_mut(&name) else { return };
                if method == "locked" {
                    if *state != LockState::Owned {
                        *state = LockState::Owned;
                        debug!(lock = %name, "lock acquired");
                        self.events.push_back(Event::Locked(name));
                    }
                } else if *state == LockState::Owned {
                    *state = LockState::Requested;
                    debug!(lock = %name, "lock stolen");
                    self.events.push_back(Event::LockLost(name));
                }
            }
            // The database was converted to a new schema or removed: start
            // over on a fresh connection, which reads the schema again.
            "monitor_canceled" => self.protocol_error(now, "the server canceled the monitor".into()),
            other => debug!(method = other, "ignoring notification"),
        }
    }

    fn handle_reply(&mut self, now: Instant, id: &Id, result: Result<Box<RawValue>, Value>) {
        let Id::Num(n) = id else {
            debug!(?id, "reply to a request we did not make");
            return;
        };
        let Some(pending) = self.pending.remove(n) else {
            debug!(id = n, "reply to an unknown request");
            return;
        };
        match pending {
            Pending::Echo => {}
            Pending::Unlock(name) => {
                if let Some(n) = self.unlocking.get_mut(&name) {
                    *n -= 1;
                    if *n == 0 {
                        self.unlocking.remove(&name);
                    }
                }
            }
            Pending::ServerId => {
                let id = result.ok().and_then(|r| serde_json::from_str::<String>(r.get()).ok());
                if let Some(c) = self.conn.as_mut() {
                    c.server_id = id.and_then(|s| Uuid::parse_str(&s).ok());
                }
            }
            Pending::ChangeAware => {
                if let Err(e) = result {
                    debug!(error = %e, "server does not take set_db_change_aware");
                }
            }
            Pending::Call(rid) => {
                self.events.push_back(Event::Reply { id: rid, result: result.map_err(SessionError::Rpc) })
            }
            Pending::Txn(rid, shape) => {
                let schema = self.decode_schema().cloned();
                let outcome = match result {
                    Ok(raw) => shape.parse(&raw, schema.as_deref()).map_err(SessionError::Txn),
                    Err(e) => Err(SessionError::Rpc(e)),
                };
                self.events.push_back(Event::TxnDone { id: rid, result: outcome });
            }
            Pending::Lock(name) if self.unlocking.contains_key(&name) => {}
            Pending::Lock(name) => {
                let locked = result
                    .ok()
                    .and_then(|r| serde_json::from_str::<Value>(r.get()).ok())
                    .and_then(|v| v.get("locked").and_then(Value::as_bool));
                match (locked, self.locks.get_mut(&name)) {
                    (Some(true), Some(state)) if *state != LockState::Owned => {
                        *state = LockState::Owned;
                        debug!(lock = %name, "lock acquired");
                        self.events.push_back(Event::Locked(name));
                    }
                    (Some(false), Some(LockState::Requested)) => self.events.push_back(Event::LockQueued(name)),
                    _ => {}
                }
            }
            Pending::ServerMonitor => {
                match result {
                    Ok(raw) => self.apply_server_update(now, &raw, true),
                    Err(e) => {
                        // A server without _Server: a standalone one of old.
                        debug!(error = %e, "no _Server database; assuming a standalone server");
                        if let Some(c) = self.conn.as_mut() {
                            c.server_known = true;
                        }
                    }
                }
                self.maybe_start_monitor(now);
            }
            Pending::Schema => {
                match result
                    .map_err(|e| e.to_string())
                    .and_then(|raw| DatabaseSchema::from_json_str(raw.get()).map_err(|e| e.to_string()))
                {
                    Ok(schema) => {
                        if let Some(c) = self.conn.as_mut() {
                            c.server_schema = Some(Arc::new(schema));
                        }
                        self.maybe_start_monitor(now);
                    }
                    Err(e) => {
                        let reason = format!(
                            "{UNUSABLE_DATABASE} {}: {e}; the server has: {}",
                            self.config.database,
                            self.server_databases().join(", ")
                        );
                        self.drop_connection(now, reason);
                    }
                }
            }
            Pending::Monitor(method) => match result {
                Ok(raw) => self.handle_monitor_reply(now, method, raw),
                Err(e) if method != MonitorMethod::Plain && is_unknown_method(&e) => {
                    self.monitor_method =
                        if method == MonitorMethod::CondSince { MonitorMethod::Cond } else { MonitorMethod::Plain };
                    debug!(fallback = self.monitor_method.name(), "server lacks {}", method.name());
                    self.send_monitor();
                }
                Err(e) => self.drop_connection(now, format!("{} failed: {e}", method.name())),
            },
        }
    }

    /// The reply to the data monitor: a full snapshot, or (monitor_cond_since
    /// with `found`) what changed since the last transaction seen. The reply's
    /// text is freed once decoded, before the rows go into the replica.
    fn handle_monitor_reply(&mut self, now: Instant, method: MonitorMethod, raw: Box<RawValue>) {
        let (decoded, full) = match method {
            MonitorMethod::CondSince => {
                let parsed: Result<(bool, String, &RawValue), _> = serde_json::from_str(raw.get());
                let Ok((found, txn, updates)) = parsed else {
                    return self.protocol_error(now, "malformed monitor_cond_since reply".into());
                };
                self.last_txn = Uuid::parse_str(&txn).ok();
                (self.decode_update(updates, UpdateFormat::Update2), !found)
            }
            MonitorMethod::Cond => (self.decode_update(&raw, UpdateFormat::Update2), true),
            MonitorMethod::Plain => (self.decode_update(&raw, UpdateFormat::Update), true),
        };
        drop(raw);
        if full {
            self.stats.full_syncs += 1;
        } else {
            self.stats.resumed_syncs += 1;
        }
        self.apply_update(now, decoded, full);
        if self.conn.is_none() {
            return;
        }
        self.become_ready();
    }

    fn become_ready(&mut self) {
        if let Some(c) = self.conn.as_mut() {
            if !c.ready {
                c.ready = true;
                self.stats.connections += 1;
                let server_id = c.server_id.map(|u| u.to_string()).unwrap_or_default();
                self.reconnect.established();
                let remote = self.remote().to_string();
                info!(db = %self.config.database, %remote, %server_id, "connected");
                self.events.push_back(Event::Ready { remote });
            }
        }
    }

    /// Starts the data monitor once both `_Server` and the schema are known
    /// and the server qualifies.
    fn maybe_start_monitor(&mut self, now: Instant) {
        let Some(c) = self.conn.as_ref() else { return };
        if !c.server_known || c.monitor_sent {
            return;
        }
        let Some(server_schema) = c.server_schema.clone() else { return };
        if let Some(db) = &c.server_db {
            if db.clustered && !db.connected {
                return self.drop_connection(now, "server is not connected to its cluster".into());
            }
            if db.clustered && self.config.leader_only && !db.leader {
                return self.drop_connection(now, "server is not the cluster leader".into());
            }
            if db.cid.is_some() && db.cid != self.cid {
                // Another cluster (or the first connection): transaction ids do not carry over.
                if self.cid.is_some() {
                    self.last_txn = None;
                }
                self.cid = db.cid;
            }
        }
        // A replica decoding with the server's schema is rebuilt when that schema changes.
        if self.config.monitor.is_some() && self.config.schema.is_none() {
            let same = self.replica.as_ref().is_some_and(|r| **r.schema() == *server_schema);
            if !same {
                let had = self.replica.is_some();
                self.replica = Some(new_replica(&self.config, server_schema));
                self.last_txn = None;
                if had {
                    self.events.push_back(Event::SchemaChanged);
                }
            }
        }
        if let Some(c) = self.conn.as_mut() {
            c.monitor_sent = true;
        }
        if self.config.monitor.is_some() {
            self.send_monitor();
        } else {
            self.become_ready();
        }
    }

    fn send_monitor(&mut self) {
        let Some(server_schema) = self.server_schema().cloned() else { return };
        let Some(spec) = self.config.monitor.clone() else { return };
        let decode = self.decode_schema().cloned().unwrap_or_else(|| server_schema.clone());
        let mut requests = serde_json::Map::new();
        let wanted: Vec<(String, MonitorTable)> = match spec {
            MonitorSpec::All => decode.tables.keys().map(|t| (t.clone(), MonitorTable::default())).collect(),
            MonitorSpec::Tables(t) => t.into_iter().collect(),
        };
        for (table, mt) in wanted {
            let (Some(server_t), Some(local_t)) = (server_schema.table(&table), decode.table(&table)) else {
                warn!(db = %self.config.database, %table, "table missing from the server's schema; not monitored");
                continue;
            };
            let names: Vec<String> = match &mt.columns {
                Some(cols) => cols.clone(),
                None => local_t.columns.keys().cloned().collect(),
            };
            let columns: Vec<&String> = names
                .iter()
                .filter(|c| {
                    let ok = server_t.columns.contains_key(*c) && local_t.columns.contains_key(*c);
                    if !ok {
                        warn!(db = %self.config.database, %table, column = %c, "column missing; not monitored");
                    }
                    ok
                })
                .collect();
            let mut req = json!({ "columns": columns });
            if self.monitor_method == MonitorMethod::Plain {
                req["select"] = json!({"initial": true, "insert": true, "delete": true, "modify": true});
            } else if let Some(conds) = &mt.conditions {
                req["where"] = serde_json::to_value(conds).expect("conditions serialize");
            }
            requests.insert(table, json!([req]));
        }
        let db = self.config.database.clone();
        let monid = json!(["monid", db]);
        let method = self.monitor_method;
        let params = match method {
            MonitorMethod::CondSince => {
                let since = self.last_txn.map_or_else(|| ZERO_TXN.to_string(), |u| u.to_string());
                json!([db, monid, requests, since])
            }
            _ => json!([db, monid, requests]),
        };
        self.send(method.name(), &params, Pending::Monitor(method));
    }

    fn decode_schema(&self) -> Option<&Arc<DatabaseSchema>> {
        self.replica.as_ref().map(|r| r.schema()).or_else(|| self.server_schema())
    }

    /// Decodes monitor updates against the replica's schema; `None` without a replica.
    fn decode_update(&self, raw: &RawValue, format: UpdateFormat) -> Option<Result<TableUpdates, String>> {
        let replica = self.replica.as_ref()?;
        Some(decode_table_updates(raw.get(), format, replica.schema()).map_err(|e| e.to_string()))
    }

    /// Puts decoded updates into the replica: a full snapshot (`full`) or a change.
    fn apply_update(&mut self, now: Instant, decoded: Option<Result<TableUpdates, String>>, full: bool) {
        let (Some(replica), Some(decoded)) = (self.replica.as_mut(), decoded) else { return };
        let result =
            decoded.and_then(|u| if full { replica.replace(u) } else { replica.apply(u) }.map_err(|e| e.to_string()));
        match result {
            Ok(()) => {
                if replica.has_changes() {
                    self.events.push_back(Event::ReplicaChanged);
                }
            }
            Err(e) => {
                // The replica may now differ from the server: start over from a full fetch.
                self.last_txn = None;
                self.protocol_error(now, format!("cannot apply update: {e}"));
            }
        }
    }

    fn apply_server_update(&mut self, now: Instant, raw: &RawValue, initial: bool) {
        let schema = server_schema().clone();
        let result =
            decode_table_updates(raw.get(), UpdateFormat::Update2, &schema).map_err(|e| e.to_string()).and_then(|u| {
                if initial { self.server_replica.replace(u) } else { self.server_replica.apply(u) }
                    .map_err(|e| e.to_string())
            });
        if let Err(e) = result {
            return self.protocol_error(now, format!("bad _Server update: {e}"));
        }
        self.server_replica.take_changes();
        let db = self.config.database.clone();
        let row = self
            .server_replica
            .table("Database")
            .and_then(|t| t.rows().find(|r| r.get("name").as_atom().and_then(|a| a.as_str()) == Some(db.as_str())));
        let facts = row.map(|r| ServerDb {
            clustered: r.get("model").as_atom().and_then(|a| a.as_str()) == Some("clustered"),
            connected: r.get("connected").as_atom().and_then(|a| a.as_bool()).unwrap_or(false),
            leader: r.get("leader").as_atom().and_then(|a| a.as_bool()).unwrap_or(false),
            cid: r.get("cid").as_atom().and_then(|a| a.as_uuid()),
        });
        let Some(c) = self.conn.as_mut() else { return };
        c.server_known = true;
        c.server_db = facts.clone();
        if !initial && c.monitor_sent {
            if let Some(db) = facts {
                if db.clustered && (!db.connected || (self.config.leader_only && !db.leader)) {
                    let why = if db.connected { "server lost cluster leadership" } else { "server lost its cluster" };
                    self.drop_connection(now, why.into());
                }
            }
        }
    }

    /// The names of the databases `_Server` lists, sorted (empty for a
    /// server without `_Server`).
    fn server_databases(&self) -> Vec<String> {
        let mut names: Vec<String> = (self.server_replica.table("Database").into_iter())
            .flat_map(|t| t.rows())
            .filter_map(|r| r.get("name").as_atom().and_then(|a| a.as_str()).map(str::to_string))
            .collect();
        names.sort();
        names
    }

    fn protocol_error(&mut self, now: Instant, reason: String) {
        warn!(db = %self.config.database, remote = %self.remote(), %reason, "dropping connection");
        self.drop_connection(now, reason);
    }

    /// Closes the connection on our side.
    fn drop_connection(&mut self, now: Instant, reason: String) {
        if self.conn.is_some() {
            self.io.push_back(IoAction::Disconnect);
            self.lost(now, reason);
        }
    }

    fn lost(&mut self, now: Instant, reason: String) {
        let was_ready = self.conn.take().is_some_and(|c| c.ready);
        let remote = self.remote().to_string();
        if was_ready {
            info!(db = %self.config.database, %remote, %reason, "disconnected");
        } else {
            debug!(db = %self.config.database, %remote, %reason, "connection unusable");
        }
        self.reconnect.disconnected(now);
        self.transmit.clear();
        let mut ids: Vec<u64> = self.pending.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            match self.pending.remove(&id) {
                Some(Pending::Call(rid)) => {
                    self.events.push_back(Event::Reply { id: rid, result: Err(SessionError::Disconnected) })
                }
                Some(Pending::Txn(rid, _)) => {
                    self.events.push_back(Event::TxnDone { id: rid, result: Err(SessionError::Disconnected) })
                }
                _ => {}
            }
        }
        for (name, state) in self.locks.iter_mut() {
            if *state == LockState::Owned {
                self.events.push_back(Event::LockLost(name.clone()));
            }
            *state = LockState::Wanted;
        }
        self.unlocking.clear();
        self.events.push_back(Event::Disconnected { remote, reason });
    }
}

fn is_unknown_method(e: &Value) -> bool {
    let text = e.as_str().map(str::to_owned).unwrap_or_else(|| e.to_string());
    text.contains("unknown method")
}

#[cfg(test)]
mod tests;
