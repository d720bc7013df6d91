//! The `ovn-northd-rs` binary: parses the command line, does the start-up
//! steps that need the process itself (PKI files, pidfile, detaching,
//! logging, control socket) and runs the main loop on a single-threaded
//! tokio runtime. Errors are one line on stderr and exit status 1.

use std::process::ExitCode;

use anyhow::Context;
use northd::cli::{self, Action, Env, PROGRAM};
use northd::config::Config;
use northd::control::ControlSocket;
use northd::daemon::{self, Pidfile};
use northd::logging;
use northd::main_loop::{MainLoop, Services};
use northd::metrics::http::MetricsListener;
use northd::metrics::Metrics;
use northd::notify::Notifier;
use northd::vlog::Destination;
use ovsdb::io::tls_config;
use ovsdb::session::{MonitorSpec, MonitorTable, Remote, SessionConfig};
use ovsdb::Client;
use tracing::{info, warn};

/// mimalloc, not the system's allocator: at 6,000 pods the daemon's CPU
/// per port add was 57 and 46 ms with glibc's malloc, 45 and 42 ms with
/// this one (two interleaved runs of 30 adds, the same build otherwise),
/// and glibc kept 290 MiB resident after the first translation, against
/// 192 MiB (see also `northd::allocator`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Before the first allocation (the Rust runtime's, before `main`):
/// mimalloc commits the memory of its arenas as pages are used, not all
/// at once, so what it has not handed out is not resident.
extern "C" fn before_main() {
    // SAFETY: sets an integer option; mimalloc reads it when it first
    // reserves an arena.
    unsafe { libmimalloc_sys::mi_option_set(northd::allocator::MI_OPTION_ARENA_EAGER_COMMIT, 0) };
}

#[used]
#[link_section = ".init_array"]
static BEFORE_MAIN: extern "C" fn() = before_main;

fn main() -> ExitCode {
    northd::allocator::tune();
    let action = match cli::parse(std::env::args_os(), &Env::from_process()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{PROGRAM}: {e}");
            return ExitCode::from(1);
        }
    };
    match action {
        Action::Print(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Action::Run(config) => match run(*config) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{PROGRAM}: {e:#}");
                ExitCode::from(1)
            }
        },
    }
}

/// The SB tables the daemon keeps a replica of: those the compiler writes
/// and reads (`lflow::sb_tables`), and `Chassis_Private` for `hv_cfg`. The
/// rest (MAC bindings, FDB, controller events, ...) can be large and is
/// never read.
fn sb_monitor() -> MonitorSpec {
    let tables = lflow::sb_tables()
        .chain(["Chassis_Private"])
        .map(|t| (t.to_string(), MonitorTable { columns: None, conditions: None }))
        .collect();
    MonitorSpec::Tables(tables)
}

fn session(remotes: Vec<Remote>, database: &str, monitor: MonitorSpec) -> SessionConfig {
    let mut config = SessionConfig::new(remotes, database);
    config.monitor = Some(monitor);
    // Instances spread their first connection over a cluster's servers.
    config.seed = u64::from(std::process::id());
    config
}

fn run(config: Config) -> anyhow::Result<()> {
    // What can fail is checked before detaching, so that the error reaches
    // the terminal.
    let tls = config.tls.as_ref().map(tls_config).transpose()?;
    if let Some(path) = &config.pidfile {
        daemon::check_pidfile(path, config.overwrite_pidfile)?;
    }
    let notifier = Notifier::from_env();
    let detached = if config.detach { Some(daemon::detach()?) } else { None };
    let mut levels = config.log.clone();
    if config.detach {
        levels.silence(Destination::Console);
    }
    let log = logging::init(levels, config.log_file.as_deref()).with_context(|| {
        format!("{}: cannot open the log file", config.log_file.as_deref().unwrap_or("".as_ref()).display())
    })?;
    info!(target: "northd", version = env!("CARGO_PKG_VERSION"), nb = %config.nb_db, sb = %config.sb_db, n_threads = config.n_threads, "ovn-northd-rs starting");
    if let Some(note) = &config.n_threads_note {
        warn!(target: "northd", "{note}");
    }
    if config.log.syslog_asked {
        warn!(target: "northd", "logging to syslog is not supported: log lines go to stderr and --log-file");
    }
    let _pidfile = config.pidfile.as_deref().map(|p| Pidfile::create(p, config.overwrite_pidfile)).transpose()?;
    let control = match config.unixctl.path(std::process::id()) {
        Some(path) => Some(
            ControlSocket::bind(&path)
                .with_context(|| format!("{}: could not initialize control socket", path.display()))?,
        ),
        None => None,
    };
    let metrics_listener = match config.metrics_address {
        Some(address) => {
            let listener = MetricsListener::bind(address)
                .with_context(|| format!("--metrics-address={address}: cannot listen"))?;
            let address = listener.local_addr().context("--metrics-address")?;
            info!(target: "northd", %address, "serving metrics over http");
            Some(listener)
        }
        None => None,
    };
    if let Some(d) = detached {
        d.finish(config.no_chdir)?;
    }
    // After detaching: the pool's threads would not survive the fork.
    rayon::ThreadPoolBuilder::new()
        .num_threads(config.n_threads)
        .thread_name(|i| format!("compile-{i}"))
        .build_global()
        .context("compiler threads")?;
    let metrics = Metrics::default();
    if let Some(listener) = metrics_listener {
        listener.serve(metrics.registry()).context("metrics listener")?;
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().context("tokio runtime")?;
    runtime.block_on(async move {
        let control = control.map(ControlSocket::serve).transpose().context("control socket")?;
        let nb = Client::new(session(config.nb_remotes, "OVN_Northbound", MonitorSpec::All), tls.clone());
        let mut sb_session = session(config.sb_remotes, "OVN_Southbound", sb_monitor());
        // (The compiler's lookups; without an index a run scans.)
        sb_session.indexes = lflow::sb_indexes().map(|(t, c)| (t.to_string(), c.to_string())).collect();
        let sb = Client::new(sb_session, tls);
        let services = Services { control, notifier, log, metrics };
        MainLoop::new(nb, sb, services, config.dry_run, config.shards).context("signal handlers")?.run().await;
        Ok(())
    })
}
