//! The command line, in two steps (as ripgrep does): clap turns the raw
//! arguments into `RawArgs`, a faithful record of what was typed; `parse`
//! then checks them against what ovn-northd accepts and what we support and
//! returns an [`Action`]: print something, or run with a validated
//! [`Config`].
//!
//! The options are ovn-northd 23.03's, with the same meaning and defaults
//! (`ovn-northd --help`, `ovn-northd --options`, `man ovn-northd`). An option
//! ovn-northd has but we do not support yet is still declared here, so that
//! it is rejected by name with a clear message instead of as an unknown
//! option or, worse, silently ignored.
//!
//! What it must never do: I/O. The environment comes in as [`Env`]; files
//! are not opened and remotes not contacted (the binary does that).

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::{ArgAction, CommandFactory, Parser};
use ovsdb::io::TlsFiles;
use ovsdb::session::Remote;
use thiserror::Error;

use crate::config::{Config, Unixctl};
use crate::vlog::{self, LogSettings};

/// The program name, in messages, default file names and `--version`.
pub const PROGRAM: &str = "ovn-northd-rs";

/// The ovn-northd release whose behaviour we reproduce.
pub const COMPATIBLE_WITH: &str = "ovn-northd 23.03.1";

/// The parts of the environment the command line depends on.
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// `OVN_NB_DB`: the default of `--ovnnb-db`.
    pub nb_db: Option<String>,
    /// `OVN_SB_DB`: the default of `--ovnsb-db`.
    pub sb_db: Option<String>,
    /// `OVN_RUNDIR` (default `/var/run/ovn`): pidfile and control socket.
    pub rundir: Option<PathBuf>,
    /// `OVN_LOGDIR` (default `/var/log/ovn`): the default log file.
    pub logdir: Option<PathBuf>,
}

impl Env {
    /// Reads the variables from the process environment.
    pub fn from_process() -> Env {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        Env {
            nb_db: var("OVN_NB_DB").map(|v| v.to_string_lossy().into_owned()),
            sb_db: var("OVN_SB_DB").map(|v| v.to_string_lossy().into_owned()),
            rundir: var("OVN_RUNDIR").map(PathBuf::from),
            logdir: var("OVN_LOGDIR").map(PathBuf::from),
        }
    }

    fn rundir(&self) -> PathBuf {
        self.rundir.clone().unwrap_or_else(|| PathBuf::from("/var/run/ovn"))
    }

    fn logdir(&self) -> PathBuf {
        self.logdir.clone().unwrap_or_else(|| PathBuf::from("/var/log/ovn"))
    }
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Action {
    /// Print this text on standard output and exit 0 (`--help`,
    /// `--version`, `--options`).
    Print(String),
    /// Run the daemon.
    Run(Box<Config>),
}

/// A command line that cannot be used.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum CliError {
    /// clap refused the arguments (unknown option, missing value, ...).
    #[error("{0}")]
    Syntax(String),
    /// An ovn-northd option that ovn-northd-rs does not support yet.
    #[error("{option} is not supported by ovn-northd-rs yet ({why})")]
    Unsupported { option: &'static str, why: &'static str },
    /// `--ovnnb-db` or `--ovnsb-db` is not a usable remote list.
    #[error("--{option}: {reason}")]
    BadRemote { option: &'static str, reason: String },
    /// An `ssl:` remote without the PKI options, or only some of them.
    #[error("{0}")]
    Pki(String),
    /// A `-v` specification we cannot apply.
    #[error("processing \"{spec}\": {reason}")]
    Verbose { spec: String, reason: String },
    /// `--n-threads` is not a number.
    #[error("--n-threads: \"{0}\" is not an integer")]
    Threads(String),
    /// `--metrics-address` is not an IP address and a port.
    #[error("--shards: \"{0}\" is not a number of shards from 1 to 256")]
    Shards(String),
    #[error("--metrics-address: \"{0}\" is not ADDR:PORT (an IP address, IPv6 in brackets, and a port)")]
    MetricsAddress(String),
}

/// The arguments as typed. Every ovn-northd option is here; the ones we do
/// not support are hidden from `--help` and rejected by `parse`.
#[derive(Debug, Parser)]
#[command(
    name = PROGRAM,
    about = "OVN northbound management daemon (a drop-in replacement for ovn-northd)",
    disable_version_flag = true,
    disable_help_flag = true
)]
struct RawArgs {
    /// Connect to the OVN Northbound database at DATABASE
    /// [default: $OVN_NB_DB, else unix:$OVN_RUNDIR/ovnnb_db.sock]
    #[arg(long = "ovnnb-db", short = 'D', value_name = "DATABASE")]
    ovnnb_db: Option<String>,
    /// Connect to the OVN Southbound database at DATABASE
    /// [default: $OVN_SB_DB, else unix:$OVN_RUNDIR/ovnsb_db.sock]
    #[arg(long = "ovnsb-db", short = 'd', value_name = "DATABASE")]
    ovnsb_db: Option<String>,
    /// Start in paused state (do not commit database changes)
    #[arg(long = "dry-run")]
    dry_run: bool,
    /// Number of threads for building logical flows (1 to 256)
    #[arg(long = "n-threads", value_name = "N")]
    n_threads: Option<String>,
    /// Shard the network over K SB locks: every instance with the same K
    /// writes the datapaths of the shards it holds, one of them the global
    /// rows (1 to 256; 1: one active instance, ovn-northd's way) [default: 1]
    #[arg(long = "shards", value_name = "K")]
    shards: Option<String>,
    /// Serve Prometheus metrics over HTTP at http://ADDR:PORT/metrics
    /// (e.g. 127.0.0.1:9476, [::1]:9476; port 0 picks one and logs it) [default: none]
    #[arg(long = "metrics-address", value_name = "ADDR:PORT")]
    metrics_address: Option<String>,
    /// Control socket path, relative to $OVN_RUNDIR; "none" for no socket
    /// [default: $OVN_RUNDIR/ovn-northd-rs.PID.ctl]
    #[arg(long = "unixctl", short = 'u', value_name = "SOCKET")]
    unixctl: Option<PathBuf>,
    /// Private key for ssl: remotes (PEM)
    #[arg(long = "private-key", short = 'p', value_name = "FILE")]
    private_key: Option<PathBuf>,
    /// Certificate for the private key (PEM)
    #[arg(long = "certificate", short = 'c', value_name = "FILE")]
    certificate: Option<PathBuf>,
    /// CA certificate that signs the servers' certificates (PEM)
    #[arg(long = "ca-cert", short = 'C', value_name = "FILE")]
    ca_cert: Option<PathBuf>,
    /// Run in the background as a daemon
    #[arg(long)]
    detach: bool,
    /// With --detach, do not chdir to /
    #[arg(long = "no-chdir")]
    no_chdir: bool,
    /// Accepted for compatibility: ovn-northd-rs never confines itself
    #[arg(long = "no-self-confinement")]
    no_self_confinement: bool,
    /// Create a pidfile, relative to $OVN_RUNDIR [default: ovn-northd-rs.pid]
    #[arg(long, value_name = "FILE", num_args = 0..=1, require_equals = true)]
    pidfile: Option<Option<PathBuf>>,
    /// With --pidfile, start even if the pidfile is held by a running process
    #[arg(long = "overwrite-pidfile")]
    overwrite_pidfile: bool,
    /// Set logging levels (OVS vlog syntax); alone, the most verbose
    #[arg(
        long,
        short = 'v',
        value_name = "SPEC",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "",
        action = ArgAction::Append
    )]
    verbose: Vec<String>,
    /// Log to FILE [default: $OVN_LOGDIR/ovn-northd-rs.log]
    #[arg(long = "log-file", value_name = "FILE", num_args = 0..=1, require_equals = true)]
    log_file: Option<Option<PathBuf>>,
    /// Print this help and exit
    #[arg(long, short = 'h')]
    help: bool,
    /// List the long options and exit
    #[arg(long, short = 'o')]
    options: bool,
    /// Print version information and exit
    #[arg(long, short = 'V')]
    version: bool,
    // ovn-northd options not supported yet: declared so that they are
    // rejected by name.
    #[arg(long, hide = true)]
    monitor: bool,
    #[arg(long, hide = true)]
    user: Option<String>,
    #[arg(long = "syslog-method", hide = true)]
    syslog_method: Option<String>,
    #[arg(long = "syslog-target", hide = true)]
    syslog_target: Option<String>,
    #[arg(long = "ssl-protocols", hide = true)]
    ssl_protocols: Option<String>,
    #[arg(long = "ssl-ciphers", hide = true)]
    ssl_ciphers: Option<String>,
}

/// Parses a command line (`args[0]` is the program name) in the
/// environment `env`.
pub fn parse<I, T>(args: I, env: &Env) -> Result<Action, CliError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let raw = RawArgs::try_parse_from(args.into_iter().map(|a| attached_verbose(a.into())))
        .map_err(|e| CliError::Syntax(first_line(&e.to_string())))?;
    if raw.help {
        return Ok(Action::Print(RawArgs::command().render_help().to_string()));
    }
    if raw.version {
        return Ok(Action::Print(version_text()));
    }
    if raw.options {
        return Ok(Action::Print(options_text()));
    }
    reject_unsupported(&raw)?;
    let rundir = env.rundir();
    let nb_text = raw.ovnnb_db.clone().or_else(|| env.nb_db.clone()).unwrap_or_else(|| default_db(&rundir, "ovnnb"));
    let sb_text = raw.ovnsb_db.clone().or_else(|| env.sb_db.clone()).unwrap_or_else(|| default_db(&rundir, "ovnsb"));
    let nb_remotes = remotes("ovnnb-db", &nb_text)?;
    let sb_remotes = remotes("ovnsb-db", &sb_text)?;
    let any_ssl = nb_remotes.iter().chain(&sb_remotes).any(Remote::is_ssl);
    let tls = tls_files(&raw, any_ssl)?;
    let log = verbose(&raw.verbose)?;
    let (n_threads, n_threads_note) = n_threads(raw.n_threads.as_deref())?;
    let shards = match raw.shards.as_deref().map(|t| (t, t.trim().parse::<u32>())) {
        None => 1,
        Some((_, Ok(k))) if (1..=crate::shards::MAX_SHARDS).contains(&k) => k,
        Some((t, _)) => return Err(CliError::Shards(t.to_owned())),
    };
    let metrics_address = raw
        .metrics_address
        .map(|text| text.parse::<SocketAddr>().map_err(|_| CliError::MetricsAddress(text)))
        .transpose()?;
    let unixctl = match raw.unixctl {
        None => Unixctl::Default(rundir.clone()),
        Some(p) if p == Path::new("none") => Unixctl::Disabled,
        Some(p) => Unixctl::Path(rundir.join(p)),
    };
    let pidfile = raw.pidfile.map(|p| rundir.join(p.unwrap_or_else(|| format!("{PROGRAM}.pid").into())));
    let log_file = raw.log_file.map(|p| env.logdir().join(p.unwrap_or_else(|| format!("{PROGRAM}.log").into())));
    Ok(Action::Run(Box::new(Config {
        nb_db: nb_text,
        nb_remotes,
        sb_db: sb_text,
        sb_remotes,
        tls,
        unixctl,
        pidfile,
        overwrite_pidfile: raw.overwrite_pidfile,
        detach: raw.detach,
        no_chdir: raw.no_chdir,
        log_file,
        log,
        n_threads,
        n_threads_note,
        dry_run: raw.dry_run,
        shards,
        metrics_address,
    })))
}

/// `-vSPEC` as `--verbose=SPEC`: OVS takes the spec attached to `-v`,
/// which clap would read as more short options.
fn attached_verbose(arg: OsString) -> OsString {
    match arg.to_str().and_then(|a| a.strip_prefix("-v")) {
        Some(spec) if !spec.is_empty() && !spec.starts_with('=') => format!("--verbose={spec}").into(),
        _ => arg,
    }
}

/// clap's message without its "error: " prefix, usage and hints.
fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    line.strip_prefix("error: ").unwrap_or(line).to_owned()
}

fn default_db(rundir: &Path, name: &str) -> String {
    format!("unix:{}", rundir.join(format!("{name}_db.sock")).display())
}

fn remotes(option: &'static str, text: &str) -> Result<Vec<Remote>, CliError> {
    Remote::parse_list(text).map_err(|e| CliError::BadRemote { option, reason: e.to_string() })
}

fn reject_unsupported(raw: &RawArgs) -> Result<(), CliError> {
    let unsupported: [(bool, &'static str, &'static str); 6] = [
        (raw.monitor, "--monitor", "use systemd's Restart=on-failure"),
        (raw.user.is_some(), "--user", "start it as that user, e.g. with systemd's User="),
        (raw.syslog_method.is_some(), "--syslog-method", "it logs to stderr and --log-file"),
        (raw.syslog_target.is_some(), "--syslog-target", "it logs to stderr and --log-file"),
        (raw.ssl_protocols.is_some(), "--ssl-protocols", "rustls chooses TLS 1.2 or 1.3"),
        (raw.ssl_ciphers.is_some(), "--ssl-ciphers", "rustls uses its safe default cipher suites"),
    ];
    match unsupported.into_iter().find(|(given, _, _)| *given) {
        Some((_, option, why)) => Err(CliError::Unsupported { option, why }),
        None => Ok(()),
    }
}

/// The PKI files: all three or none. Required when a remote is `ssl:`.
fn tls_files(raw: &RawArgs, any_ssl: bool) -> Result<Option<TlsFiles>, CliError> {
    if raw.ca_cert.as_deref() == Some(Path::new("none")) {
        return Err(CliError::Unsupported {
            option: "--ca-cert=none",
            why: "servers' certificates are always verified",
        });
    }
    match (&raw.private_key, &raw.certificate, &raw.ca_cert) {
        (Some(k), Some(c), Some(ca)) => {
            Ok(Some(TlsFiles { private_key: k.clone(), certificate: c.clone(), ca_cert: ca.clone() }))
        }
        (None, None, None) if !any_ssl => Ok(None),
        given => {
            let missing: Vec<&str> =
                [(given.0, "-p/--private-key"), (given.1, "-c/--certificate"), (given.2, "-C/--ca-cert")]
                    .into_iter()
                    .filter(|(v, _)| v.is_none())
                    .map(|(_, name)| name)
                    .collect();
            let why = if any_ssl { "ssl remotes need" } else { "the PKI options go together; missing" };
            Err(CliError::Pki(format!("{why} {}", missing.join(", "))))
        }
    }
}

fn verbose(specs: &[String]) -> Result<LogSettings, CliError> {
    let mut settings = LogSettings::default();
    for spec in specs {
        vlog::apply_spec(&mut settings, spec)
            .map_err(|e| CliError::Verbose { spec: spec.clone(), reason: e.to_string() })?;
    }
    Ok(settings)
}

/// `--n-threads` as ovn-northd reads it: below 1 becomes 1 and above 256
/// becomes 256, each with a note to log.
fn n_threads(text: Option<&str>) -> Result<(usize, Option<String>), CliError> {
    let Some(text) = text else { return Ok((1, None)) };
    let n: i64 = text.trim().parse().map_err(|_| CliError::Threads(text.to_owned()))?;
    Ok(match n {
        i64::MIN..=0 => (1, Some(format!("n-threads {n} is below 1: using 1 thread"))),
        1..=256 => (n as usize, None),
        _ => (256, Some(format!("n-threads {n} is above 256: using 256 threads"))),
    })
}

/// `--version` and the control command `version`.
pub fn version_text() -> String {
    format!("{PROGRAM} {}\ncompatible with {COMPATIBLE_WITH}\n", env!("CARGO_PKG_VERSION"))
}

/// `--options`: every long option we accept, one a line.
fn options_text() -> String {
    let mut out = String::new();
    let mut command = RawArgs::command();
    command.build();
    for arg in command.get_arguments().filter(|a| !a.is_hide_set()) {
        let Some(long) = arg.get_long() else { continue };
        let takes = arg.get_num_args().is_some_and(|n| n.takes_values());
        let optional = arg.get_num_args().is_some_and(|n| n.min_values() == 0);
        let value = match (takes, optional) {
            (false, _) => "",
            (true, true) => "=[ARG]",
            (true, false) => "=ARG",
        };
        out.push_str(&format!("--{long}{value}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vlog::{Destination, Level};

    fn env() -> Env {
        Env { rundir: Some("/run/t".into()), logdir: Some("/log/t".into()), ..Env::default() }
    }

    fn run(args: &[&str]) -> Result<Config, CliError> {
        let mut full = vec![PROGRAM];
        full.extend_from_slice(args);
        match parse(full, &env())? {
            Action::Run(c) => Ok(*c),
            Action::Print(text) => panic!("printed {text}"),
        }
    }

    #[test]
    fn defaults_follow_the_run_directory_and_the_environment() {
        let c = run(&[]).unwrap();
        assert_eq!(c.nb_db, "unix:/run/t/ovnnb_db.sock");
        assert_eq!(c.sb_db, "unix:/run/t/ovnsb_db.sock");
        assert_eq!(c.unixctl, Unixctl::Default("/run/t".into()));
        assert_eq!(c.pidfile, None);
        assert_eq!(c.log_file, None);
        assert_eq!(c.n_threads, 1);
        assert!(!c.dry_run && !c.detach);
        assert_eq!(c.metrics_address, None, "no metrics listener unless asked");
        let e = Env { nb_db: Some("tcp:1.2.3.4:6641".into()), sb_db: Some("tcp:1.2.3.4:6642".into()), ..env() };
        let Action::Run(c) = parse([PROGRAM], &e).unwrap() else { panic!() };
        assert_eq!(c.nb_db, "tcp:1.2.3.4:6641");
        assert_eq!(c.sb_remotes, vec![Remote::Tcp { host: "1.2.3.4".into(), port: 6642 }]);
        // The option wins over the environment.
        let Action::Run(c) = parse([PROGRAM, "--ovnnb-db=unix:/x"], &e).unwrap() else { panic!() };
        assert_eq!(c.nb_db, "unix:/x");
    }

    #[test]
    fn every_supported_option_takes_effect() {
        let c = run(&[
            "--ovnnb-db=unix:/a,unix:/b",
            "-d",
            "tcp:127.0.0.1:6642",
            "--dry-run",
            "--n-threads=4",
            "--unixctl=ctl",
            "--pidfile",
            "--overwrite-pidfile",
            "--detach",
            "--no-chdir",
            "--no-self-confinement",
            "--log-file=/var/log/x.log",
            "-vconsole:off",
            "-vfile:dbg",
            "--metrics-address=127.0.0.1:9476",
        ])
        .unwrap();
        assert_eq!(c.metrics_address, Some("127.0.0.1:9476".parse().unwrap()));
        assert_eq!(c.nb_remotes.len(), 2);
        assert_eq!(c.sb_db, "tcp:127.0.0.1:6642");
        assert!(c.dry_run && c.detach && c.no_chdir && c.overwrite_pidfile);
        assert_eq!(c.n_threads, 4);
        assert_eq!(c.unixctl, Unixctl::Path("/run/t/ctl".into()));
        assert_eq!(c.pidfile, Some("/run/t/ovn-northd-rs.pid".into()));
        assert_eq!(c.log_file, Some("/var/log/x.log".into()));
        assert_eq!(c.log.level(Destination::Console, "northd::main_loop"), Level::Off);
        assert_eq!(c.log.level(Destination::File, "northd::main_loop"), Level::Dbg);
        let c = run(&["--pidfile=/abs/p.pid", "--log-file", "--unixctl=/abs/c.ctl", "-v"]).unwrap();
        assert_eq!(c.pidfile, Some("/abs/p.pid".into()));
        assert_eq!(c.log_file, Some("/log/t/ovn-northd-rs.log".into()));
        assert_eq!(c.unixctl, Unixctl::Path("/abs/c.ctl".into()));
        assert_eq!(c.log.level(Destination::Console, "northd::control"), Level::Dbg);
        assert_eq!(run(&["--unixctl=none"]).unwrap().unixctl, Unixctl::Disabled);
    }

    #[test]
    fn n_threads_is_clamped_as_ovn_northd_does() {
        assert_eq!(run(&["--n-threads=0"]).unwrap().n_threads, 1);
        assert!(run(&["--n-threads=0"]).unwrap().n_threads_note.is_some());
        assert_eq!(run(&["--n-threads=1000"]).unwrap().n_threads, 256);
        assert_eq!(run(&["--n-threads=x"]).unwrap_err(), CliError::Threads("x".into()));
    }

    #[test]
    fn unsupported_options_are_rejected_by_name() {
        for (args, name) in [
            (&["--monitor"][..], "--monitor"),
            (&["--user=ovn"], "--user"),
            (&["--syslog-method=libc"], "--syslog-method"),
            (&["--syslog-target=1.2.3.4:514"], "--syslog-target"),
            (&["--ssl-protocols=TLSv1.2"], "--ssl-protocols"),
            (&["--ssl-ciphers=HIGH"], "--ssl-ciphers"),
            (&["-p", "k", "-c", "c", "-C", "none"], "--ca-cert=none"),
        ] {
            let err = run(args).unwrap_err();
            assert!(matches!(err, CliError::Unsupported { option, .. } if option == name), "{args:?}: {err}");
            assert!(err.to_string().starts_with(name), "{err}");
        }
        let err = run(&["--bogus"]).unwrap_err();
        assert!(err.to_string().contains("--bogus"), "{err}");
        assert!(!err.to_string().contains('\n'));
    }

    #[test]
    fn bad_remotes_and_incomplete_pki_are_errors() {
        let err = run(&["--ovnnb-db=punix:/x"]).unwrap_err();
        assert!(matches!(err, CliError::BadRemote { option: "ovnnb-db", .. }), "{err}");
        assert!(matches!(run(&["--ovnsb-db=tcp:nohost"]).unwrap_err(), CliError::BadRemote { option: "ovnsb-db", .. }));
        let err = run(&["--ovnsb-db=ssl:127.0.0.1:6642"]).unwrap_err();
        assert_eq!(err.to_string(), "ssl remotes need -p/--private-key, -c/--certificate, -C/--ca-cert");
        let err = run(&["--ovnsb-db=ssl:127.0.0.1:6642", "-p", "k", "-c", "c"]).unwrap_err();
        assert_eq!(err.to_string(), "ssl remotes need -C/--ca-cert");
        let c = run(&["--ovnsb-db=ssl:127.0.0.1:6642", "-p", "k", "-c", "c", "-C", "ca"]).unwrap();
        assert_eq!(c.tls.unwrap().ca_cert, PathBuf::from("ca"));
        assert!(matches!(run(&["-p", "k"]).unwrap_err(), CliError::Pki(_)));
    }

    #[test]
    fn the_metrics_address_is_an_ip_address_and_a_port() {
        assert_eq!(run(&["--metrics-address=[::1]:0"]).unwrap().metrics_address, Some("[::1]:0".parse().unwrap()));
        for bad in ["localhost:9476", "127.0.0.1", "9476", "::1:9476", "127.0.0.1:70000", ""] {
            let err = run(&[&format!("--metrics-address={bad}")]).unwrap_err();
            assert_eq!(err, CliError::MetricsAddress(bad.into()));
            assert!(err.to_string().starts_with("--metrics-address: "), "{err}");
        }
    }

    #[test]
    fn shards_are_a_number_from_1_to_256() {
        assert_eq!(run(&[]).unwrap().shards, 1, "not sharded unless asked");
        assert_eq!(run(&["--shards=6"]).unwrap().shards, 6);
        assert_eq!(run(&["--shards", "256"]).unwrap().shards, 256);
        for bad in ["0", "257", "-1", "six", ""] {
            let err = run(&[&format!("--shards={bad}")]).unwrap_err();
            assert_eq!(err, CliError::Shards(bad.into()));
            assert!(err.to_string().starts_with("--shards: "), "{err}");
        }
    }

    #[test]
    fn bad_verbose_specs_name_the_spec() {
        let err = run(&["-vconsole:bogus"]).unwrap_err();
        assert_eq!(err.to_string(), "processing \"console:bogus\": no destination, level, or module \"bogus\"");
    }

    #[test]
    fn help_version_and_options_print() {
        for flag in ["-h", "--help"] {
            let Action::Print(text) = parse([PROGRAM, flag], &env()).unwrap() else { panic!() };
            assert!(text.contains("--ovnsb-db") && !text.contains("--monitor"), "{text}");
        }
        let Action::Print(text) = parse([PROGRAM, "-V"], &env()).unwrap() else { panic!() };
        assert!(text.starts_with("ovn-northd-rs ") && text.contains("23.03"), "{text}");
        let Action::Print(text) = parse([PROGRAM, "--options"], &env()).unwrap() else { panic!() };
        assert!(text.lines().any(|l| l == "--pidfile=[ARG]"), "{text}");
        assert!(text.lines().any(|l| l == "--ovnnb-db=ARG"), "{text}");
        assert!(text.lines().any(|l| l == "--detach"), "{text}");
        assert!(text.lines().any(|l| l == "--metrics-address=ARG"), "{text}");
    }
}
