//! systemd's readiness protocol (`man sd_notify`): when `NOTIFY_SOCKET` is
//! set, state lines such as `READY=1` or `STATUS=active` go to that unix
//! datagram socket (a path, or `@name` in the abstract namespace).
//!
//! What it must never do: fail the daemon. A notification that cannot be
//! sent is logged at debug and forgotten; without `NOTIFY_SOCKET` every call
//! does nothing.

use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};

use tracing::debug;

/// The notification socket, if the service manager gave one.
pub struct Notifier {
    target: Option<(UnixDatagram, SocketAddr)>,
}

impl Notifier {
    /// Reads `NOTIFY_SOCKET` and removes it from the environment (our
    /// children must not notify in our name).
    pub fn from_env() -> Notifier {
        let Some(path) = std::env::var_os("NOTIFY_SOCKET") else { return Notifier { target: None } };
        std::env::remove_var("NOTIFY_SOCKET");
        match Notifier::open(&path.to_string_lossy()) {
            Ok(target) => Notifier { target: Some(target) },
            Err(e) => {
                debug!(socket = %path.to_string_lossy(), error = %e, "cannot use NOTIFY_SOCKET");
                Notifier { target: None }
            }
        }
    }

    fn open(path: &str) -> io::Result<(UnixDatagram, SocketAddr)> {
        let addr = match path.strip_prefix('@') {
            Some(name) => SocketAddr::from_abstract_name(name.as_bytes())?,
            None => SocketAddr::from_pathname(path)?,
        };
        Ok((UnixDatagram::unbound()?, addr))
    }

    /// Sends the newline-separated assignments in `state`.
    pub fn send(&self, state: &str) {
        let Some((socket, addr)) = &self.target else { return };
        if let Err(e) = socket.send_to_addr(state.as_bytes(), addr) {
            debug!(error = %e, state, "sd_notify failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_datagrams_to_a_path_and_an_abstract_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let listener = UnixDatagram::bind(&path).unwrap();
        let n = Notifier { target: Some(Notifier::open(path.to_str().unwrap()).unwrap()) };
        n.send("READY=1\nSTATUS=standby");
        let mut buf = [0u8; 64];
        let len = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1\nSTATUS=standby");

        let name = format!("northd-notify-test-{}", std::process::id());
        let listener = UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap()).unwrap();
        let n = Notifier { target: Some(Notifier::open(&format!("@{name}")).unwrap()) };
        n.send("STATUS=active");
        let len = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"STATUS=active");
    }

    #[test]
    fn without_a_socket_nothing_happens() {
        Notifier { target: None }.send("READY=1");
    }
}
