//! Remote addresses as OVSDB tools write them: `unix:PATH`, `tcp:HOST:PORT`,
//! `ssl:HOST:PORT` (IPv6 hosts in brackets), and comma-separated lists of
//! them for a cluster. Parsing only; connecting is `io::transport`'s job.

use std::fmt;

use thiserror::Error;

/// One place to connect to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Remote {
    Unix(String),
    Tcp { host: String, port: u16 },
    Ssl { host: String, port: u16 },
}

/// A remote string that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RemoteError {
    /// No remote at all.
    #[error("no remote given")]
    Empty,
    /// A method other than unix, tcp or ssl (passive remotes are for servers).
    #[error("\"{0}\": unsupported remote (expected unix:PATH, tcp:HOST:PORT or ssl:HOST:PORT)")]
    Unsupported(String),
    /// A tcp or ssl remote without a valid host and port.
    #[error("\"{0}\": expected HOST:PORT with a port from 1 to 65535")]
    BadAddress(String),
}

impl Remote {
    /// Parses one remote.
    pub fn parse(s: &str) -> Result<Remote, RemoteError> {
        let s = s.trim();
        if let Some(path) = s.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(RemoteError::BadAddress(s.to_owned()));
            }
            return Ok(Remote::Unix(path.to_owned()));
        }
        let (tls, rest) = if let Some(r) = s.strip_prefix("tcp:") {
            (false, r)
        } else if let Some(r) = s.strip_prefix("ssl:") {
            (true, r)
        } else {
            return Err(RemoteError::Unsupported(s.to_owned()));
        };
        let (host, port) = split_host_port(rest).ok_or_else(|| RemoteError::BadAddress(s.to_owned()))?;
        Ok(if tls { Remote::Ssl { host, port } } else { Remote::Tcp { host, port } })
    }

    /// Parses a comma-separated list of remotes.
    pub fn parse_list(s: &str) -> Result<Vec<Remote>, RemoteError> {
        let list: Vec<Remote> =
            s.split(',').filter(|p| !p.trim().is_empty()).map(Remote::parse).collect::<Result<_, _>>()?;
        if list.is_empty() {
            return Err(RemoteError::Empty);
        }
        Ok(list)
    }

    /// True for `ssl:` remotes.
    pub fn is_ssl(&self) -> bool {
        matches!(self, Remote::Ssl { .. })
    }
}

fn split_host_port(s: &str) -> Option<(String, u16)> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (h, p) = rest.split_once("]:")?;
        (h, p)
    } else {
        s.rsplit_once(':')?
    };
    if host.is_empty() {
        return None;
    }
    let port: u16 = port.parse().ok().filter(|&p| p != 0)?;
    Some((host.to_owned(), port))
}

impl fmt::Display for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host_port = |f: &mut fmt::Formatter<'_>, m: &str, h: &str, p: u16| {
            if h.contains(':') {
                write!(f, "{m}:[{h}]:{p}")
            } else {
                write!(f, "{m}:{h}:{p}")
            }
        };
        match self {
            Remote::Unix(p) => write!(f, "unix:{p}"),
            Remote::Tcp { host, port } => host_port(f, "tcp", host, *port),
            Remote::Ssl { host, port } => host_port(f, "ssl", host, *port),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        assert_eq!(Remote::parse("unix:/run/ovn/nb.sock").unwrap(), Remote::Unix("/run/ovn/nb.sock".into()));
        assert_eq!(Remote::parse("tcp:127.0.0.1:6641").unwrap(), Remote::Tcp { host: "127.0.0.1".into(), port: 6641 });
        let v6 = Remote::parse("ssl:[::1]:6642").unwrap();
        assert_eq!(v6, Remote::Ssl { host: "::1".into(), port: 6642 });
        assert_eq!(v6.to_string(), "ssl:[::1]:6642");
        let list = Remote::parse_list("unix:/a, tcp:h:1,").unwrap();
        assert_eq!(list.len(), 2);
    }

    #[test]
    fn rejects_bad_remotes() {
        for bad in ["", "punix:/x", "ptcp:6641", "tcp:host", "tcp::1", "tcp:h:0", "tcp:h:70000", "unix:", "ssl:[::1]"] {
            assert!(Remote::parse_list(bad).is_err(), "{bad} accepted");
        }
    }
}
