//! Northd processes for tests: ours (`ovn-northd-rs`, whose path the test
//! gives, e.g. `env!("CARGO_BIN_EXE_ovn-northd-rs")`) or the reference
//! `ovn-northd`, started on given NB and SB remotes with a control socket
//! and a log file in their own temporary directory, driven with the real
//! `ovn-appctl` and `ovn-nbctl`.
//!
//! Same rules as the rest of the harness: every process is killed and
//! reaped on drop (and dies with the test process), every wait polls with a
//! bound, and a northd's run, log and configuration directories are its
//! temporary directory, never the machine's `/var/run/ovn` or `/etc/ovn`.

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::set_rundirs;
use crate::{die_with_parent, output_of, poll_until, require_tool, tail, temp_dir, TIMEOUT, TOOL_TIMEOUT_SECS};

/// One northd process.
pub struct Northd {
    child: Option<Child>,
    program: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    ctl: PathBuf,
    log: PathBuf,
    stderr: PathBuf,
    dir: TempDir,
}

impl Northd {
    /// Starts `program` on `nb` and `sb` (remote lists) with `extra`
    /// arguments; returns at once (see [`Northd::wait_status`]).
    pub fn start(program: &Path, nb: &str, sb: &str, extra: &[&str]) -> Northd {
        Northd::start_with_env(program, nb, sb, extra, &[])
    }

    /// Like [`Northd::start`], with extra environment variables.
    pub fn start_with_env(program: &Path, nb: &str, sb: &str, extra: &[&str], env: &[(&str, &str)]) -> Northd {
        let dir = temp_dir();
        let ctl = dir.path().join("northd.ctl");
        let log = dir.path().join("northd.log");
        let mut args: Vec<OsString> = vec![
            format!("--ovnnb-db={nb}").into(),
            format!("--ovnsb-db={sb}").into(),
            format!("--unixctl={}", ctl.display()).into(),
            format!("--log-file={}", log.display()).into(),
            "-vconsole:off".into(),
        ];
        args.extend(extra.iter().map(OsString::from));
        let env = env.iter().map(|(k, v)| (OsString::from(k), OsString::from(v))).collect();
        let mut northd = Northd {
            child: None,
            program: program.to_owned(),
            args,
            env,
            ctl,
            log,
            stderr: dir.path().join("stderr"),
            dir,
        };
        northd.spawn();
        northd
    }

    /// Starts the reference `ovn-northd` (see [`Northd::start`]).
    pub fn reference(nb: &str, sb: &str, extra: &[&str]) -> Northd {
        Northd::start(&require_tool("ovn-northd"), nb, sb, extra)
    }

    fn spawn(&mut self) {
        assert!(self.child.is_none(), "northd is already running");
        let stderr = OpenOptions::new().create(true).append(true).open(&self.stderr).expect("cannot open stderr file");
        let mut command = Command::new(&self.program);
        die_with_parent(&mut command);
        set_rundirs(&mut command, self.dir.path());
        let child = command
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.program.display()));
        self.child = Some(child);
    }

    /// The process id; panics if it is not running.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("northd is not running").id()
    }

    /// Its control socket.
    pub fn ctl(&self) -> &Path {
        &self.ctl
    }

    /// Runs `ovn-appctl -t <ctl> args...`: its output, or the exit status
    /// and error output.
    pub fn appctl(&self, args: &[&str]) -> Result<String, String> {
        output_of(
            Command::new(require_tool("ovn-appctl"))
                .arg(format!("--timeout={TOOL_TIMEOUT_SECS}"))
                .arg("-t")
                .arg(&self.ctl)
                .args(args),
        )
    }

    /// `status` as `active`, `standby` or `paused`, or None if it does not
    /// answer (not started yet, or dead).
    pub fn status(&self) -> Option<String> {
        if !self.ctl.exists() {
            return None;
        }
        let out = self.appctl(&["status"]).ok()?;
        out.trim().strip_prefix("Status: ").map(str::to_owned)
    }

    /// Waits until `status` answers `want`; panics with the log otherwise.
    pub fn wait_status(&mut self, want: &str) {
        if !poll_until(TIMEOUT, || {
            self.check_alive();
            self.status().as_deref() == Some(want)
        }) {
            panic!("northd did not become {want} within {TIMEOUT:?}\n{}", self.diagnostics());
        }
    }

    /// Panics with the log if the process has exited.
    pub fn check_alive(&mut self) {
        if let Err(err) = self.try_alive() {
            panic!("{err}\n{}", self.diagnostics());
        }
    }

    /// Err naming the exit status if the process has exited (see
    /// [`Northd::diagnostics`]); it is reaped, and counts as not running.
    pub fn try_alive(&mut self) -> Result<(), String> {
        let exited = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten());
        match exited {
            Some(status) => {
                self.child = None;
                Err(format!("{} exited ({status})", self.program.display()))
            }
            None => Ok(()),
        }
    }

    /// Waits (up to a minute) for the process to exit on its own; its
    /// status code.
    pub fn wait_exit(&mut self) -> Option<i32> {
        let mut code = None;
        let exited = poll_until(TIMEOUT, || {
            let Some(child) = self.child.as_mut() else { return true };
            match child.try_wait() {
                Ok(Some(status)) => {
                    code = status.code();
                    true
                }
                _ => false,
            }
        });
        assert!(exited, "northd did not exit within {TIMEOUT:?}\n{}", self.diagnostics());
        self.child = None;
        code
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends a signal (SIGTERM, SIGHUP, ...) without waiting.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid.
        let rc = unsafe { libc::kill(self.pid() as i32, signal) };
        assert_eq!(rc, 0, "kill: {}", std::io::Error::last_os_error());
    }

    /// The log file's contents.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The log file's path.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The end of the log and of standard error, for failure messages.
    pub fn diagnostics(&self) -> String {
        format!("--- {}:\n{}\n--- stderr:\n{}", self.log.display(), tail(&self.log, 40), tail(&self.stderr, 20))
    }
}

impl Drop for Northd {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs `ovn-nbctl --db=<nb> args...`; its standard output, or its status
/// and standard error.
pub fn try_nbctl(nb: &str, args: &[&str]) -> Result<String, String> {
    output_of(
        Command::new(require_tool("ovn-nbctl"))
            .arg(format!("--db={nb}"))
            .arg(format!("--timeout={TOOL_TIMEOUT_SECS}"))
            .args(args),
    )
}

/// Like [`try_nbctl`]; panics on failure.
pub fn nbctl(nb: &str, args: &[&str]) -> String {
    try_nbctl(nb, args).unwrap_or_else(|e| panic!("ovn-nbctl {}: {e}", args.join(" ")))
}

/// Runs `ovn-sbctl --db=<sb> args...`; panics on failure.
pub fn sbctl(sb: &str, args: &[&str]) -> String {
    output_of(Command::new(require_tool("ovn-sbctl")).arg(format!("--db={sb}")).arg("--timeout=60").args(args))
        .unwrap_or_else(|e| panic!("ovn-sbctl {}: {e}", args.join(" ")))
}

/// Polls `f` every 20 ms until it returns `Some`; returns it with the time
/// it took, or panics naming `what` after `timeout`.
pub fn time_until<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> (T, Duration) {
    let start = Instant::now();
    let mut out = None;
    if !poll_until(timeout, || {
        out = f();
        out.is_some()
    }) {
        panic!("timed out after {timeout:?} waiting for {what}");
    }
    (out.expect("poll_until returned without a value"), start.elapsed())
}
