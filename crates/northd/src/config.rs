//! The validated configuration the daemon runs with, built by `cli::parse`
//! and passed explicitly to whatever needs it (no globals).
//!
//! What it must never do: hold anything unchecked. Remotes are parsed, paths
//! are absolute where ovn-northd makes them absolute, the PKI options come
//! as a complete set or not at all.

use std::net::SocketAddr;
use std::path::PathBuf;

use ovsdb::io::TlsFiles;
use ovsdb::session::Remote;

use crate::cli::PROGRAM;
use crate::vlog::LogSettings;

/// Where the control socket goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unixctl {
    /// `<rundir>/ovn-northd-rs.<pid>.ctl`, as ovn-northd names its own.
    Default(PathBuf),
    /// `--unixctl=PATH` (made absolute against the run directory).
    Path(PathBuf),
    /// `--unixctl=none`: no control socket.
    Disabled,
}

impl Unixctl {
    /// The socket path for the process `pid`, if there is a socket.
    pub fn path(&self, pid: u32) -> Option<PathBuf> {
        match self {
            Unixctl::Default(rundir) => Some(rundir.join(format!("{PROGRAM}.{pid}.ctl"))),
            Unixctl::Path(p) => Some(p.clone()),
            Unixctl::Disabled => None,
        }
    }
}

/// Everything the daemon needs to know from its command line.
#[derive(Debug, Clone)]
pub struct Config {
    /// The Northbound remote list as given, for messages.
    pub nb_db: String,
    pub nb_remotes: Vec<Remote>,
    /// The Southbound remote list as given, for messages.
    pub sb_db: String,
    pub sb_remotes: Vec<Remote>,
    /// The PKI for `ssl:` remotes.
    pub tls: Option<TlsFiles>,
    pub unixctl: Unixctl,
    /// `--pidfile`, absolute.
    pub pidfile: Option<PathBuf>,
    pub overwrite_pidfile: bool,
    pub detach: bool,
    pub no_chdir: bool,
    /// `--log-file`, absolute.
    pub log_file: Option<PathBuf>,
    /// Levels per destination and module (`-v`).
    pub log: LogSettings,
    /// Threads for building flows, 1 to 256.
    pub n_threads: usize,
    /// Why `n_threads` differs from what was asked, to log once logging is up.
    pub n_threads_note: Option<String>,
    /// `--dry-run`: start paused.
    pub dry_run: bool,
    /// `--shards`: K shards (1: not sharded).
    pub shards: u32,
    /// `--metrics-address`: where to serve Prometheus metrics (none by
    /// default).
    pub metrics_address: Option<SocketAddr>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_socket_is_named_after_the_pid() {
        let u = Unixctl::Default("/var/run/ovn".into());
        assert_eq!(u.path(42), Some(PathBuf::from("/var/run/ovn/ovn-northd-rs.42.ctl")));
        assert_eq!(Unixctl::Path("/x.ctl".into()).path(42), Some(PathBuf::from("/x.ctl")));
        assert_eq!(Unixctl::Disabled.path(42), None);
    }
}
