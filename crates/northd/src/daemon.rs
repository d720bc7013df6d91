//! Running as Open vSwitch daemons do: `--pidfile` (a file holding our pid
//! under an fcntl write lock for as long as we run, so that a second start
//! can tell a live owner from a stale file), `--overwrite-pidfile`,
//! `--detach` (fork; the child starts a new session and the parent exits
//! once the child has finished initializing, with status 0, or 1 if the
//! child failed) and `--no-chdir` (otherwise a detached daemon moves to `/`).
//!
//! What it must never do: fork once threads exist (call [`detach`] before
//! the tokio runtime is built); leave a pidfile that names a dead process
//! when it exits normally.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use thiserror::Error;

/// Why the daemon could not set itself up.
#[derive(Debug, Error)]
pub enum DaemonError {
    /// The pidfile is locked by a running process.
    #[error("{path}: already running as pid {pid}, aborting")]
    AlreadyRunning { path: PathBuf, pid: i32 },
    /// A pidfile operation failed.
    #[error("{path}: {source}")]
    Pidfile { path: PathBuf, source: io::Error },
    /// fork, setsid, pipe or chdir failed.
    #[error("{what}: {source}")]
    Detach { what: &'static str, source: io::Error },
}

fn pidfile_err(path: &Path) -> impl FnOnce(io::Error) -> DaemonError + '_ {
    move |source| DaemonError::Pidfile { path: path.to_owned(), source }
}

/// The pid of the process holding a write lock on `file`, if any.
fn lock_holder(file: &File) -> io::Result<Option<i32>> {
    // SAFETY: an all-zero flock is a valid value; fcntl fills it in.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = libc::F_WRLCK as libc::c_short;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    // SAFETY: a valid fd and a pointer to a live flock.
    if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETLK, &mut fl) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok((fl.l_type != libc::F_UNLCK as libc::c_short).then_some(fl.l_pid))
}

fn lock(file: &File) -> io::Result<()> {
    // SAFETY: as in lock_holder.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = libc::F_WRLCK as libc::c_short;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    // SAFETY: a valid fd and a pointer to a live flock.
    if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLK, &fl) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Fails if `path` is held by a running process (unless `overwrite`). A
/// check before detaching, so that the error reaches the terminal.
pub fn check_pidfile(path: &Path, overwrite: bool) -> Result<(), DaemonError> {
    if overwrite {
        return Ok(());
    }
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(pidfile_err(path)(e)),
    };
    match lock_holder(&file).map_err(pidfile_err(path))? {
        Some(pid) => Err(DaemonError::AlreadyRunning { path: path.to_owned(), pid }),
        None => Ok(()),
    }
}

/// A pidfile we hold; removed on drop.
#[derive(Debug)]
pub struct Pidfile {
    path: PathBuf,
    /// Open for as long as we run: closing it would release the lock.
    _file: File,
}

impl Pidfile {
    /// Writes our pid to `<path>.tmp`, locks it and renames it over `path`,
    /// so that readers never see a partial file.
    pub fn create(path: &Path, overwrite: bool) -> Result<Pidfile, DaemonError> {
        check_pidfile(path, overwrite)?;
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(pidfile_err(&tmp))?;
        lock(&file).map_err(pidfile_err(&tmp))?;
        writeln!(file, "{}", std::process::id()).map_err(pidfile_err(&tmp))?;
        std::fs::rename(&tmp, path).map_err(pidfile_err(path))?;
        Ok(Pidfile { path: path.to_owned(), _file: file })
    }
}

impl Drop for Pidfile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The child's end of `--detach`: tells the waiting parent how start-up went.
pub struct Detached {
    to_parent: File,
}

/// Forks. The parent waits until the child calls [`Detached::finish`] and
/// exits 0, or exits 1 if the child ends first. The child starts a new
/// session and gets the `Detached` handle.
pub fn detach() -> Result<Detached, DaemonError> {
    let err = |what| move |source| DaemonError::Detach { what, source };
    let mut fds = [0; 2];
    // SAFETY: pipe fills in two fds.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } == -1 {
        return Err(err("pipe")(io::Error::last_os_error()));
    }
    // SAFETY: the fds are fresh and ours alone.
    let (read_end, write_end) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: no other thread exists yet (see the module documentation).
    match unsafe { libc::fork() } {
        -1 => Err(err("fork")(io::Error::last_os_error())),
        0 => {
            drop(read_end);
            // SAFETY: plain system call.
            if unsafe { libc::setsid() } == -1 {
                return Err(err("setsid")(io::Error::last_os_error()));
            }
            Ok(Detached { to_parent: File::from(write_end) })
        }
        _child => {
            drop(write_end);
            let mut byte = [0u8; 1];
            let ok = matches!(File::from(read_end).read(&mut byte), Ok(1));
            std::process::exit(if ok { 0 } else { 1 });
        }
    }
}

impl Detached {
    /// Start-up succeeded: move to `/` (unless `no_chdir`), point the
    /// standard streams at /dev/null and let the parent exit.
    pub fn finish(mut self, no_chdir: bool) -> Result<(), DaemonError> {
        let err = |what| move |source| DaemonError::Detach { what, source };
        if !no_chdir {
            std::env::set_current_dir("/").map_err(err("chdir /"))?;
        }
        let null = OpenOptions::new().read(true).write(true).open("/dev/null").map_err(err("open /dev/null"))?;
        for fd in 0..=2 {
            // SAFETY: dup2 onto the standard descriptors, which we own.
            if unsafe { libc::dup2(null.as_raw_fd(), fd) } == -1 {
                return Err(err("dup2")(io::Error::last_os_error()));
            }
        }
        self.to_parent.write_all(b"1").map_err(err("notify parent"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pidfile_holds_our_pid_and_goes_away() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.pid");
        let pf = Pidfile::create(&path, false).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), format!("{}\n", std::process::id()));
        assert!(!dir.path().join("d.pid.tmp").exists());
        // fcntl locks belong to the process: our own lock does not show
        // through F_GETLK, so a live owner is tested across processes in the
        // daemon's integration tests.
        drop(pf);
        assert!(!path.exists());
    }

    #[test]
    fn a_stale_pidfile_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.pid");
        std::fs::write(&path, "999999\n").unwrap();
        check_pidfile(&path, false).unwrap();
        let _pf = Pidfile::create(&path, false).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap().trim(), std::process::id().to_string());
    }

    #[test]
    fn an_unreadable_pidfile_location_is_an_error() {
        let err = Pidfile::create(Path::new("/nonexistent-dir/x.pid"), false).unwrap_err();
        assert!(err.to_string().starts_with("/nonexistent-dir/x.pid.tmp: "), "{err}");
    }
}
