//! `ovsdb-rs`: a command-line OVSDB client built on this crate, printing the
//! same JSON as `ovsdb-client --format=json` where that has a counterpart.
//!
//! Exit codes: 0 success, 1 an operation failed (a transaction error, an
//! unknown database), 2 a usage or connection error. Errors are one line on
//! stderr.

use std::cmp::Ordering;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use ovsdb::io::{tls_config, Client, TlsFiles};
use ovsdb::proto::txn::Transaction;
use ovsdb::replica::{Change, Replica, Row, TableChanges};
use ovsdb::session::{Event, MonitorSpec, MonitorTable, Remote, SessionConfig, SessionError};
use ovsdb::{Datum, TableSchema};
use serde_json::{json, Value};

#[derive(Parser)]
#[command(name = "ovsdb-rs", version, about = "OVSDB command-line client (RFC 7047)")]
struct Args {
    /// Give up after this many seconds.
    #[arg(long, value_name = "SECS", global = true)]
    timeout: Option<f64>,
    /// Private key for ssl: remotes (PEM).
    #[arg(short = 'p', long = "private-key", value_name = "FILE", global = true)]
    private_key: Option<PathBuf>,
    /// Certificate for ssl: remotes (PEM).
    #[arg(short = 'c', long = "certificate", value_name = "FILE", global = true)]
    certificate: Option<PathBuf>,
    /// CA certificate that signs the server's certificate (PEM).
    #[arg(short = 'C', long = "ca-cert", value_name = "FILE", global = true)]
    ca_cert: Option<PathBuf>,
    /// Accept a cluster member that is not the leader.
    #[arg(long, global = true)]
    no_leader_only: bool,
    /// Log to stderr (repeat for more detail).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the databases a server holds.
    ListDbs { server: String },
    /// Print a database's schema.
    GetSchema { server: String, db: String },
    /// List a database's tables.
    ListTables { server: String, db: String },
    /// Print the contents of tables (all of them by default), one JSON object per table.
    Dump { server: String, db: String, tables: Vec<String> },
    /// Run a transaction (a JSON array: database, then operations) and print its results.
    Transact { server: String, transaction: String },
    /// Print every change to tables as JSON lines, across reconnects, until killed.
    Monitor {
        server: String,
        db: String,
        /// TABLE[,TABLE...]
        tables: String,
    },
    /// Take a lock, print `locked` when held, hold it until killed.
    Lock { server: String, name: String },
    /// Steal a lock, print `locked` when held and `stolen` when lost, until killed.
    Steal { server: String, name: String },
}

/// A failure with its exit code.
struct Failure {
    code: u8,
    message: String,
}

fn usage(message: impl Into<String>) -> Failure {
    Failure { code: 2, message: message.into() }
}

fn failed(message: impl Into<String>) -> Failure {
    Failure { code: 1, message: message.into() }
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.verbose > 0 {
        let level = if args.verbose > 1 { "debug" } else { "info" };
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_env_filter(tracing_subscriber::EnvFilter::new(level))
            .init();
    }
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ovsdb-rs: cannot start runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let timeout = args.timeout;
    let result = runtime.block_on(async move {
        match timeout {
            Some(secs) if secs > 0.0 => tokio::time::timeout(Duration::from_secs_f64(secs), run(args))
                .await
                .unwrap_or_else(|_| Err(usage(format!("timeout expired after {secs} s")))),
            _ => run(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("ovsdb-rs: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

struct Connector {
    tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    leader_only: bool,
}

impl Connector {
    fn config(&self, server: &str, db: &str, monitor: Option<MonitorSpec>) -> Result<SessionConfig, Failure> {
        let remotes = Remote::parse_list(server).map_err(|e| usage(e.to_string()))?;
        if remotes.iter().any(Remote::is_ssl) && self.tls.is_none() {
            return Err(usage("ssl remotes need --private-key, --certificate and --ca-cert"));
        }
        let mut config = SessionConfig::new(remotes, db);
        config.leader_only = self.leader_only;
        config.monitor = monitor;
        config.seed = std::process::id() as u64;
        Ok(config)
    }

    /// Connects and waits until the session is ready. Transport failures on
    /// every remote twice in a row end the command; a server that is not
    /// (yet) the leader is retried until the timeout.
    async fn connect(&self, config: SessionConfig) -> Result<Client, Failure> {
        let limit = 2 * config.remotes.len();
        let mut client = Client::new(config, self.tls.clone());
        let mut failures = 0;
        while !client.session().is_ready() {
            match client.next_event().await {
                Event::ConnectFailed { reason, .. } => {
                    failures += 1;
                    if failures >= limit {
                        return Err(usage(format!("failed to connect: {reason}")));
                    }
                }
                Event::Disconnected { reason, .. } if reason.starts_with(ovsdb::session::UNUSABLE_DATABASE) => {
                    return Err(failed(reason));
                }
                _ => {}
            }
        }
        Ok(client)
    }
}

async fn run(args: Args) -> Result<(), Failure> {
    let tls = match (&args.private_key, &args.certificate, &args.ca_cert) {
        (None, None, None) => None,
        (Some(k), Some(c), Some(ca)) => Some(
            tls_config(&TlsFiles { private_key: k.clone(), certificate: c.clone(), ca_cert: ca.clone() })
                .map_err(|e| usage(e.to_string()))?,
        ),
        _ => return Err(usage("--private-key, --certificate and --ca-cert go together")),
    };
    let conn = Connector { tls, leader_only: !args.no_leader_only };
    let mut out = std::io::stdout().lock();
    match args.command {
        Command::ListDbs { server } => {
            let mut config = conn.config(&server, "_Server", None)?;
            config.leader_only = false;
            let mut client = conn.connect(config).await?;
            let reply = client.call("list_dbs", json!([])).await.map_err(session_failure)?;
            let names: Vec<String> =
                serde_json::from_str(reply.get()).map_err(|e| failed(format!("bad list_dbs reply: {e}")))?;
            for n in names {
                writeln!(out, "{n}").map_err(io_failure)?;
            }
        }
        Command::GetSchema { server, db } => {
            let mut client = conn.connect(conn.config(&server, &db, None)?).await?;
            let reply = client.call("get_schema", json!([db])).await.map_err(session_failure)?;
            writeln!(out, "{}", reply.get()).map_err(io_failure)?;
        }
        Command::ListTables { server, db } => {
            let client = conn.connect(conn.config(&server, &db, None)?).await?;
            let schema = client.session().server_schema().cloned().expect("a ready session has a schema");
            let mut names: Vec<&String> = schema.tables.keys().collect();
            names.sort();
            let width = names.iter().map(|n| n.len()).max().unwrap_or(0).max(5);
            writeln!(out, "Table\n{}", "-".repeat(width)).map_err(io_failure)?;
            for n in names {
                writeln!(out, "{n}").map_err(io_failure)?;
            }
        }
        Command::Dump { server, db, tables } => {
            let spec = if tables.is_empty() {
                MonitorSpec::All
            } else {
                MonitorSpec::Tables(tables.iter().map(|t| (t.clone(), MonitorTable::default())).collect())
            };
            let client = conn.connect(conn.config(&server, &db, Some(spec))?).await?;
            let replica = client.session().replica().expect("a monitoring session has a replica");
            let mut names: Vec<String> = if tables.is_empty() {
                replica.schema().tables.keys().cloned().collect()
            } else {
                for t in &tables {
                    if replica.schema().table(t).is_none() {
                        return Err(failed(format!("no table \"{t}\" in database {db}")));
                    }
                }
                tables.clone()
            };
            names.sort();
            names.dedup();
            let mut out = std::io::BufWriter::with_capacity(1 << 16, out);
            for name in names {
                dump_table(&mut out, replica, &name).map_err(io_failure)?;
            }
            out.flush().map_err(io_failure)?;
        }
        Command::Transact { server, transaction } => {
            let json: Value =
                serde_json::from_str(&transaction).map_err(|e| usage(format!("transaction is not JSON: {e}")))?;
            let txn = Transaction::from_json(&json).map_err(|e| usage(e.to_string()))?;
            let mut client = conn.connect(conn.config(&server, &txn.db, None)?).await?;
            let reply = client.call("transact", json).await.map_err(session_failure)?;
            writeln!(out, "{}", reply.get()).map_err(io_failure)?;
            let schema = client.session().server_schema().cloned();
            txn.parse_results(&reply, schema.as_deref()).map_err(|e| failed(e.to_string()))?;
        }
        Command::Monitor { server, db, tables } => {
            let names: Vec<String> = tables.split(',').filter(|t| !t.is_empty()).map(str::to_owned).collect();
            if names.is_empty() {
                return Err(usage("monitor needs at least one table"));
            }
            let spec = MonitorSpec::Tables(names.iter().map(|t| (t.clone(), MonitorTable::default())).collect());
            let mut client = conn.connect(conn.config(&server, &db, Some(spec))?).await?;
            for t in &names {
                if client.session().replica().and_then(|r| r.schema().table(t)).is_none() {
                    return Err(failed(format!("no table \"{t}\" in database {db}")));
                }
            }
            let mut initial = true;
            loop {
                if let Some(replica) = client.session_mut().replica_mut() {
                    if replica.has_changes() {
                        print_changes(&mut out, replica, initial)?;
                    }
                }
                initial = false;
                match client.next_event().await {
                    Event::Disconnected { reason, .. } => eprintln!("ovsdb-rs: disconnected ({reason}), reconnecting"),
                    Event::Ready { remote } => eprintln!("ovsdb-rs: connected to {remote}"),
                    _ => {}
                }
            }
        }
        Command::Lock { server, name } => hold_lock(&conn, &server, &name, false, &mut out).await?,
        Command::Steal { server, name } => hold_lock(&conn, &server, &name, true, &mut out).await?,
    }
    Ok(())
}

async fn hold_lock(
    conn: &Connector,
    server: &str,
    name: &str,
    steal: bool,
    out: &mut impl Write,
) -> Result<(), Failure> {
    if name.is_empty() {
        return Err(usage("a lock needs a name"));
    }
    let mut config = conn.config(server, "_Server", None)?;
    config.leader_only = false;
    let mut client = conn.connect(config).await?;
    if steal {
        client.session_mut().steal(name);
    } else {
        client.session_mut().lock(name);
    }
    loop {
        let line = match client.next_event().await {
            Event::Locked(n) if n == name => "locked",
            Event::LockLost(n) if n == name => {
                if client.session().is_connected() {
                    "stolen"
                } else {
                    "lost"
                }
            }
            _ => continue,
        };
        writeln!(out, "{line}").and_then(|_| out.flush()).map_err(io_failure)?;
    }
}

fn session_failure(e: SessionError) -> Failure {
    match e {
        SessionError::NotConnected | SessionError::Disconnected => usage(e.to_string()),
        SessionError::Rpc(_) | SessionError::Txn(_) => failed(e.to_string()),
    }
}

fn io_failure(e: std::io::Error) -> Failure {
    usage(format!("cannot write output: {e}"))
}

/// Orders datums as OVSDB does: by number of elements, then element by element.
fn ovsdb_cmp(a: &Datum, b: &Datum) -> Ordering {
    a.len()
        .cmp(&b.len())
        .then_with(|| a.keys().cmp(b.keys()))
        .then_with(|| a.pairs().iter().map(|(_, v)| v).cmp(b.pairs().iter().map(|(_, v)| v)))
}

fn sorted_columns(schema: &TableSchema) -> Vec<&String> {
    let mut cols: Vec<&String> = schema.columns.keys().collect();
    cols.sort();
    cols
}

/// Writes one table as `ovsdb-client dump --format=json` prints it, row by
/// row: columns sorted by name after `_uuid`; rows sorted by the values of
/// the columns in that order, first leaving out the columns of UUIDs
/// (random, so they would make the order vary from one database to the
/// next), then by `_uuid`.
fn dump_table(out: &mut impl Write, replica: &Replica, name: &str) -> std::io::Result<()> {
    let table = replica.table(name);
    let schema = replica.schema().table(name).expect("checked by the caller");
    let cols = sorted_columns(schema);
    let sort_cols: Vec<&String> =
        cols.iter().copied().filter(|c| schema.columns[c.as_str()].ty.key.atomic != ovsdb::AtomicType::Uuid).collect();
    let mut rows: Vec<&Row> = table.map(|t| t.rows().collect()).unwrap_or_default();
    rows.sort_by(|a, b| {
        sort_cols
            .iter()
            .map(|c| ovsdb_cmp(a.get(c), b.get(c)))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
            .then_with(|| a.uuid().cmp(&b.uuid()))
    });
    write!(out, "{{\"caption\":{},\"data\":[", json!(format!("{name} table")))?;
    for (i, row) in rows.iter().enumerate() {
        let sep = if i == 0 { "" } else { "," };
        write!(out, "{sep}[[\"uuid\",\"{}\"]", row.uuid())?;
        for c in &cols {
            out.write_all(b",")?;
            serde_json::to_writer(&mut *out, row.get(c))?;
        }
        out.write_all(b"]")?;
    }
    let mut headings = vec![json!("_uuid")];
    headings.extend(cols.iter().map(|c| json!(c)));
    writeln!(out, "],\"headings\":{}}}", Value::Array(headings))
}

/// Prints pending replica changes as `ovsdb-client monitor --format=json`
/// does: one line per table, a row per change (`initial`, `insert`,
/// `delete`; a modification as an `old` row with the changed columns and a
/// `new` row with all of them).
fn print_changes(out: &mut impl Write, replica: &mut Replica, initial: bool) -> Result<(), Failure> {
    let changes = replica.take_changes();
    let mut tables: Vec<&TableChanges> = changes.tables().iter().collect();
    tables.sort_by(|a, b| a.table().name.cmp(&b.table().name));
    for table in tables {
        let name = &table.table().name;
        let cols = sorted_columns(table.table());
        let full = |row: &Row, uuid: String, action: &str| {
            let mut v = vec![json!(uuid), json!(action)];
            v.extend(cols.iter().map(|c| row.get(c).to_json()));
            Value::Array(v)
        };
        let mut data = Vec::with_capacity(table.len());
        for (uuid, change) in table.iter() {
            match change {
                Change::Inserted => {
                    let row = replica.get(name, uuid).expect("an inserted row exists");
                    data.push(full(row, uuid.to_string(), if initial { "initial" } else { "insert" }));
                }
                Change::Deleted { old } => data.push(full(old, uuid.to_string(), "delete")),
                Change::Modified { old } => {
                    let row = replica.get(name, uuid).expect("a modified row exists");
                    let mut v = vec![json!(uuid.to_string()), json!("old")];
                    v.extend(cols.iter().map(|c| {
                        let before = old.get(c);
                        if before == row.get(c) {
                            Value::Null
                        } else {
                            before.to_json()
                        }
                    }));
                    data.push(Value::Array(v));
                    data.push(full(row, String::new(), "new"));
                }
            }
        }
        let mut headings = vec![json!("row"), json!("action")];
        headings.extend(cols.iter().map(|c| json!(c)));
        writeln!(out, "{}", json!({"data": data, "headings": headings})).map_err(io_failure)?;
    }
    out.flush().map_err(io_failure)
}
