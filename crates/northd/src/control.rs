//! The control socket, compatible with `ovn-appctl`/`ovs-appctl`: Open
//! vSwitch's unixctl protocol, JSON-RPC 1.0 over a unix stream socket.
//!
//! A client sends `{"id":0,"method":"status","params":[]}` (params are
//! strings) and gets `{"id":0,"result":"Status: active\n","error":null}`, or
//! `{"id":0,"error":"<message>\n"}` for a failed command; `ovn-appctl`
//! prints the result, or the error and exits 2. A connection may carry
//! several requests; a request with a null id gets no answer, as with the
//! reference. Observed from ovn-northd 23.03.1's own socket.
//!
//! The commands and their argument counts live in [`COMMANDS`];
//! [`Command::parse`] checks a request against it (pure). Connections are
//! served by small tasks that only read requests, hand them to the main
//! loop over a channel and write back its answer: they never touch the
//! daemon's state.
//!
//! At most [`MAX_CONNECTIONS`] clients are served at once and a client
//! that sends no complete request for [`IDLE_TIMEOUT`] is dropped, so that
//! idle clients cannot take the file descriptors the database connections
//! need; refused clients and bad input are logged (rate-limited).
//!
//! What it must never do: panic or stall the daemon on what a client sends
//! (bad JSON, huge frames, a client that never reads, thousands of idle
//! clients); leave its socket reachable by others than the owner and group
//! (mode 0750).

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use jsonrpc_core::{Call, Id, Params};
use ovsdb::proto::codec::FrameDecoder;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tracing::warn;

use crate::ratelimit::Warnings;

/// Largest request accepted (commands are a few words).
const MAX_REQUEST: usize = 64 * 1024;

/// Most clients served at once; more are refused.
pub const MAX_CONNECTIONS: usize = 64;

/// How long a client may go without sending a complete request.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// A command of the control socket, with its arguments checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Exit,
    Status,
    Pause,
    Resume,
    IsPaused,
    Version,
    ListCommands,
    NbConnectionStatus,
    SbConnectionStatus,
    SbClusterStateReset,
    NbClusterStateReset,
    Recompute,
    ShardsShow,
    ShowStats { node: Option<String>, counter: Option<String> },
    VlogReopen,
}

/// One entry of the command table.
pub struct CommandSpec {
    pub name: &'static str,
    /// The argument synopsis `list-commands` prints.
    pub usage: &'static str,
    pub min_args: usize,
    pub max_args: usize,
    /// Makes the command from its (counted) arguments.
    build: fn(Vec<String>) -> Command,
}

const fn spec(
    name: &'static str,
    usage: &'static str,
    args: (usize, usize),
    build: fn(Vec<String>) -> Command,
) -> CommandSpec {
    CommandSpec { name, usage, min_args: args.0, max_args: args.1, build }
}

/// Every command, sorted by name as `list-commands` prints them.
pub const COMMANDS: &[CommandSpec] = &[
    spec("exit", "", (0, 0), |_| Command::Exit),
    spec("inc-engine/recompute", "", (0, 0), |_| Command::Recompute),
    spec("inc-engine/show-stats", "", (0, 2), |args| {
        let mut args = args.into_iter();
        Command::ShowStats { node: args.next(), counter: args.next() }
    }),
    spec("is-paused", "", (0, 0), |_| Command::IsPaused),
    spec("list-commands", "", (0, 0), |_| Command::ListCommands),
    spec("nb-cluster-state-reset", "", (0, 0), |_| Command::NbClusterStateReset),
    spec("nb-connection-status", "", (0, 0), |_| Command::NbConnectionStatus),
    spec("pause", "", (0, 0), |_| Command::Pause),
    spec("resume", "", (0, 0), |_| Command::Resume),
    spec("sb-cluster-state-reset", "", (0, 0), |_| Command::SbClusterStateReset),
    spec("sb-connection-status", "", (0, 0), |_| Command::SbConnectionStatus),
    spec("shards/show", "", (0, 0), |_| Command::ShardsShow),
    spec("status", "", (0, 0), |_| Command::Status),
    spec("version", "", (0, 0), |_| Command::Version),
    spec("vlog/reopen", "", (0, 0), |_| Command::VlogReopen),
];

impl Command {
    /// Checks a request's method and arguments; the error is the text the
    /// reference answers with.
    pub fn parse(method: &str, args: Vec<String>) -> Result<Command, String> {
        let Some(spec) = COMMANDS.iter().find(|c| c.name == method) else {
            return Err(format!(
                "\"{method}\" is not a valid command (use \"list-commands\" to see a list of valid commands)\n"
            ));
        };
        if args.len() < spec.min_args {
            return Err(format!("\"{method}\" command requires at least {} arguments\n", spec.min_args));
        }
        if args.len() > spec.max_args {
            return Err(format!("\"{method}\" command takes at most {} arguments\n", spec.max_args));
        }
        Ok((spec.build)(args))
    }
}

/// The text of `list-commands`.
pub fn list_commands() -> String {
    let mut out = String::from("The available commands are:\n");
    for c in COMMANDS {
        out.push_str(&format!("  {:<23} {}\n", c.name, c.usage));
    }
    out
}

/// What a command answers: text for the client, or an error text.
pub type Reply = Result<String, String>;

/// A request for the main loop, with the way back to its client.
#[derive(Debug)]
pub struct Request {
    pub command: Command,
    pub reply: oneshot::Sender<Reply>,
}

/// The listening socket and the path to remove at exit.
pub struct ControlSocket {
    listener: std::os::unix::net::UnixListener,
    path: PathBuf,
}

impl ControlSocket {
    /// Binds `path` with mode 0750, replacing a stale socket file there. Call
    /// it before threads exist: the mode is set through the umask, so that
    /// the socket is never reachable more widely, even for an instant.
    pub fn bind(path: &Path) -> io::Result<ControlSocket> {
        match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_dir() => {
                return Err(io::Error::new(io::ErrorKind::AlreadyExists, "a directory is in the way"))
            }
            Ok(_) => std::fs::remove_file(path)?,
            Err(_) => {}
        }
        // SAFETY: umask only swaps the process's file mode mask.
        let old = unsafe { libc::umask(0o027) };
        let bound = std::os::unix::net::UnixListener::bind(path);
        // SAFETY: as above, restoring the previous mask.
        unsafe { libc::umask(old) };
        let listener = bound?;
        // The umask only removes bits; make the mode exactly 0750.
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o750))?;
        listener.set_nonblocking(true)?;
        Ok(ControlSocket { listener, path: path.to_owned() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Starts serving (inside the tokio runtime): requests come out of the
    /// returned channel. The socket file is removed when `Served` drops.
    pub fn serve(self) -> io::Result<(Served, mpsc::Receiver<Request>)> {
        let listener = UnixListener::from_std(self.listener)?;
        let (tx, rx) = mpsc::channel(16);
        let (exit_tx, exit_rx) = mpsc::channel(1);
        let accept = tokio::spawn(accept_loop(listener, tx, exit_tx));
        Ok((Served { path: self.path, accept, exit_written: exit_rx }, rx))
    }
}

/// A socket being served.
pub struct Served {
    path: PathBuf,
    accept: tokio::task::JoinHandle<()>,
    exit_written: mpsc::Receiver<()>,
}

impl Served {
    /// Waits (at most a second) until the answer to `exit` has been written,
    /// so that `ovn-appctl exit` sees success before the process ends.
    pub async fn exit_answered(&mut self) {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(1), self.exit_written.recv()).await;
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.accept.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

async fn accept_loop(listener: UnixListener, tx: mpsc::Sender<Request>, exit_tx: mpsc::Sender<()>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let warnings = Warnings::default();
    loop {
        match listener.accept().await {
            Ok((stream, _)) => match Arc::clone(&slots).try_acquire_owned() {
                Ok(slot) => {
                    let (tx, exit_tx, warnings) = (tx.clone(), exit_tx.clone(), warnings.clone());
                    tokio::spawn(async move {
                        serve_connection(stream, tx, exit_tx, warnings).await;
                        drop(slot);
                    });
                }
                Err(_) => {
                    if let Some(suppressed) = warnings.allow() {
                        warn!(limit = MAX_CONNECTIONS, suppressed, "control socket: too many clients, one refused");
                    }
                }
            },
            Err(e) => {
                if let Some(suppressed) = warnings.allow() {
                    warn!(error = %e, suppressed, "control socket: accept failed");
                }
                // Out of file descriptors, say: do not spin.
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Serves one client until it closes the connection, stays idle for
/// `IDLE_TIMEOUT` or sends garbage.
async fn serve_connection(
    mut stream: UnixStream,
    tx: mpsc::Sender<Request>,
    exit_tx: mpsc::Sender<()>,
    warnings: Warnings,
) {
    let mut decoder = FrameDecoder::new(MAX_REQUEST);
    let mut buf = vec![0u8; 4096];
    let mut deadline = tokio::time::Instant::now() + IDLE_TIMEOUT;
    loop {
        let frame = match decoder.next_frame() {
            Ok(Some(frame)) => frame,
            Ok(None) => match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
                Err(_) => {
                    if let Some(suppressed) = warnings.allow() {
                        warn!(idle = ?IDLE_TIMEOUT, suppressed, "control socket: idle client dropped");
                    }
                    return;
                }
                Ok(Ok(0) | Err(_)) => return,
                Ok(Ok(n)) => {
                    decoder.feed(&buf[..n]);
                    continue;
                }
            },
            Err(e) => {
                if let Some(suppressed) = warnings.allow() {
                    warn!(error = %e, suppressed, "control socket: bad input, connection closed");
                }
                return;
            }
        };
        deadline = tokio::time::Instant::now() + IDLE_TIMEOUT;
        let (id, outcome) = match decode_request(&frame) {
            Ok(Some(request)) => request,
            Ok(None) => continue,
            Err(e) => {
                if let Some(suppressed) = warnings.allow() {
                    warn!(error = %e, suppressed, "control socket: request is not JSON-RPC, ignored");
                }
                continue;
            }
        };
        let is_exit = matches!(outcome, Ok(Command::Exit));
        let reply = match outcome {
            Ok(command) => {
                let (reply_tx, reply_rx) = oneshot::channel();
                if tx.send(Request { command, reply: reply_tx }).await.is_err() {
                    return; // the daemon is stopping
                }
                match reply_rx.await {
                    Ok(reply) => reply,
                    Err(_) => return,
                }
            }
            Err(message) => Err(message),
        };
        if stream.write_all(&encode_reply(&id, &reply)).await.is_err() {
            return;
        }
        if is_exit {
            let _ = exit_tx.try_send(());
        }
    }
}

/// A request's id and its command, or the error text to answer.
type Decoded = (Id, Result<Command, String>);

/// A request's id and command (or the error to answer); `None` for what
/// gets no answer: notifications and null ids; `Err` for a frame that is
/// no JSON-RPC call at all (no answer either: there is no id to answer).
fn decode_request(frame: &[u8]) -> Result<Option<Decoded>, serde_json::Error> {
    let call = match serde_json::from_slice::<Call>(frame)? {
        Call::MethodCall(c) if c.id != Id::Null => c,
        Call::Invalid { id } if id != Id::Null => return Ok(Some((id, Err("invalid request\n".into())))),
        _ => return Ok(None),
    };
    let args: Result<Vec<String>, String> = match call.params {
        Params::None => Ok(Vec::new()),
        Params::Array(values) => values
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                other => Err(format!("command has non-string argument: {other}\n")),
            })
            .collect(),
        Params::Map(_) => Err("\"params\" must be an array of strings\n".into()),
    };
    Ok(Some((call.id, args.and_then(|args| Command::parse(&call.method, args)))))
}

fn encode_reply(id: &Id, reply: &Reply) -> Vec<u8> {
    let value = match reply {
        Ok(text) => json!({"id": id, "result": text, "error": null}),
        Err(text) => json!({"id": id, "error": text}),
    };
    serde_json::to_vec(&value).expect("a reply always serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_check_their_arguments_as_the_reference_does() {
        assert_eq!(Command::parse("status", vec![]), Ok(Command::Status));
        assert_eq!(
            Command::parse("status", vec!["a".into()]),
            Err("\"status\" command takes at most 0 arguments\n".into())
        );
        assert_eq!(
            Command::parse("bogus", vec![]),
            Err("\"bogus\" is not a valid command (use \"list-commands\" to see a list of valid commands)\n".into())
        );
        assert_eq!(
            Command::parse("inc-engine/show-stats", vec!["northd".into(), "recompute".into()]),
            Ok(Command::ShowStats { node: Some("northd".into()), counter: Some("recompute".into()) })
        );
        assert!(Command::parse("inc-engine/show-stats", vec!["a".into(), "b".into(), "c".into()]).is_err());
        for spec in COMMANDS {
            let args = vec![String::new(); spec.min_args];
            assert!(Command::parse(spec.name, args).is_ok(), "{}", spec.name);
        }
    }

    #[test]
    fn list_commands_is_sorted_and_aligned_like_the_reference() {
        let text = list_commands();
        let names: Vec<&str> = text.lines().skip(1).map(|l| l.split_whitespace().next().unwrap()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        assert!(text.starts_with("The available commands are:\n  exit                    \n"), "{text}");
        assert!(text.contains("\n  status                  \n"));
    }

    #[test]
    fn requests_decode_and_replies_encode_as_on_the_wire() {
        let (id, cmd) = decode_request(br#"{"id":0,"method":"status","params":[]}"#).unwrap().unwrap();
        assert_eq!((id.clone(), cmd), (Id::Num(0), Ok(Command::Status)));
        assert_eq!(
            encode_reply(&id, &Ok("Status: active\n".into())),
            br#"{"id":0,"result":"Status: active\n","error":null}"#
        );
        assert_eq!(encode_reply(&Id::Str("x".into()), &Err("bad\n".into())), br#"{"id":"x","error":"bad\n"}"#.to_vec());
        let (_, cmd) = decode_request(br#"{"id":1,"method":"status","params":[1]}"#).unwrap().unwrap();
        assert!(cmd.unwrap_err().contains("non-string"));
        assert!(decode_request(br#"{"id":null,"method":"exit","params":[]}"#).unwrap().is_none(), "null id: no answer");
        assert!(decode_request(br#"{"method":"exit","params":[]}"#).unwrap().is_none(), "notification: no answer");
        assert!(decode_request(b"[1,2]").is_err(), "not a call: reported");
    }
}
