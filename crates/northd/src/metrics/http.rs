//! The metrics listener (`--metrics-address`): a small HTTP/1.1 server that
//! answers `GET /metrics` with the Prometheus text format, another method
//! on `/metrics` with 405, any other path with 404 and what is not an HTTP
//! request with 400, then closes the connection.
//!
//! It runs on a thread and a tokio runtime of its own: a scrape is answered
//! while a long cycle keeps the main loop busy, and a scraper never takes
//! the main loop's turn. A request's head may be at most [`MAX_REQUEST`]
//! bytes, it must arrive and its answer be taken within [`TIMEOUT`], and at
//! most [`MAX_CONNECTIONS`] clients are served at once (more are refused),
//! so that a slow or hostile client holds neither memory nor the file
//! descriptors a database reconnect needs. Refusals and bad requests are
//! logged, rate-limited.
//!
//! What it must never do: touch the daemon's state (it only reads the
//! metrics), panic on what a client sends, keep a connection open past
//! [`TIMEOUT`].

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::prometheus_text::CONTENT_TYPE;
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tracing::{debug, warn};

use crate::ratelimit::Warnings;

/// Largest request head accepted (a scrape's is a few hundred bytes).
pub const MAX_REQUEST: usize = 8 * 1024;

/// Most clients served at once; more are refused.
pub const MAX_CONNECTIONS: usize = 16;

/// How long a client has to send its request and take the answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The bound socket, not served yet.
pub struct MetricsListener {
    listener: std::net::TcpListener,
}

impl MetricsListener {
    /// Binds `address`. Call it before detaching, so that an address that
    /// cannot be used is an error at start.
    pub fn bind(address: SocketAddr) -> io::Result<MetricsListener> {
        let listener = std::net::TcpListener::bind(address)?;
        listener.set_nonblocking(true)?;
        Ok(MetricsListener { listener })
    }

    /// The address bound (the port chosen for port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves the metrics of `registry` on a thread of its own until the
    /// process exits. Call it after detaching (threads do not survive the
    /// fork).
    pub fn serve(self, registry: Arc<Registry>) -> io::Result<()> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        std::thread::Builder::new().name("metrics".into()).spawn(move || {
            runtime.block_on(async move {
                match TcpListener::from_std(self.listener) {
                    Ok(listener) => accept_loop(listener, registry).await,
                    Err(e) => warn!(error = %e, "metrics: cannot serve the listening socket"),
                }
            })
        })?;
        Ok(())
    }
}

async fn accept_loop(listener: TcpListener, registry: Arc<Registry>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let warnings = Warnings::default();
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => match Arc::clone(&slots).try_acquire_owned() {
                Ok(slot) => {
                    let (registry, warnings) = (Arc::clone(&registry), warnings.clone());
                    tokio::spawn(async move {
                        serve_connection(stream, peer, &registry, &warnings).await;
                        drop(slot);
                    });
                }
                Err(_) => {
                    if let Some(suppressed) = warnings.allow() {
                        warn!(limit = MAX_CONNECTIONS, %peer, suppressed, "metrics: too many clients, one refused");
                    }
                }
            },
            Err(e) => {
                if let Some(suppressed) = warnings.allow() {
                    warn!(error = %e, suppressed, "metrics: accept failed");
                }
                // Out of file descriptors, say: do not spin.
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Reads one request, answers it and closes the connection.
async fn serve_connection(mut stream: TcpStream, peer: SocketAddr, registry: &Registry, warnings: &Warnings) {
    let exchange = async {
        let answer = match read_head(&mut stream).await? {
            Some(head) => answer(&head, registry),
            None => return Ok(None),
        };
        stream.write_all(&answer.bytes).await?;
        stream.shutdown().await?;
        Ok::<_, io::Error>(answer.problem)
    };
    let problem = match tokio::time::timeout(TIMEOUT, exchange).await {
        Ok(Ok(problem)) => problem,
        Ok(Err(e)) => {
            debug!(error = %e, %peer, "metrics: connection failed");
            None
        }
        Err(_) => Some("too slow: connection closed"),
    };
    if let Some(problem) = problem {
        if let Some(suppressed) = warnings.allow() {
            warn!(%peer, suppressed, "metrics: {problem}");
        }
    }
}

/// The request's head up to its blank line, or what was read when it grew
/// past [`MAX_REQUEST`] without one; `None` if the client closed first.
async fn read_head(stream: &mut TcpStream) -> io::Result<Option<Vec<u8>>> {
    let mut head = Vec::new();
    let mut chunk = [0u8; 1024];
    while head_end(&head).is_none() && head.len() < MAX_REQUEST {
        let room = chunk.len().min(MAX_REQUEST - head.len());
        let n = stream.read(&mut chunk[..room]).await?;
        if n == 0 {
            return Ok(None);
        }
        head.extend_from_slice(&chunk[..n]);
    }
    Ok(Some(head))
}

/// Where the head ends: just after its blank line (`\r\n\r\n`, or `\n\n`
/// from a lenient client).
fn head_end(bytes: &[u8]) -> Option<usize> {
    (0..bytes.len()).find_map(|i| {
        let rest = &bytes[i..];
        [&b"\r\n\r\n"[..], b"\n\n"].iter().find(|end| rest.starts_with(end)).map(|end| i + end.len())
    })
}

/// A response, and what to log about the request.
struct Answer {
    bytes: Vec<u8>,
    problem: Option<&'static str>,
}

/// A response that closes the connection; `extra` are more header lines.
fn response(status: &str, content_type: &str, extra: &str, body: &str) -> Vec<u8> {
    let mut bytes = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    bytes.extend_from_slice(body.as_bytes());
    bytes
}

/// The response to a request head.
fn answer(head: &[u8], registry: &Registry) -> Answer {
    const TEXT: &str = "text/plain; charset=utf-8";
    let bad =
        |problem| Answer { bytes: response("400 Bad Request", TEXT, "", "bad request\n"), problem: Some(problem) };
    if head_end(head).is_none() {
        return bad("request head too large or unterminated");
    }
    let Some(line) = std::str::from_utf8(head).ok().and_then(|h| h.lines().next()) else {
        return bad("request is not text");
    };
    let parts: Vec<&str> = line.split(' ').collect();
    let [method, target, version] = parts[..] else { return bad("not an HTTP request line") };
    if !version.starts_with("HTTP/1.") {
        return bad("not an HTTP/1 request");
    }
    let path = target.split('?').next().unwrap_or(target);
    let bytes = match (path, method) {
        ("/metrics", "GET") => match super::text(registry) {
            Ok(body) => response("200 OK", CONTENT_TYPE, "", &body),
            Err(_) => response("500 Internal Server Error", TEXT, "", "the metrics could not be encoded\n"),
        },
        ("/metrics", _) => response("405 Method Not Allowed", TEXT, "Allow: GET\r\n", "only GET serves the metrics\n"),
        _ => response("404 Not Found", TEXT, "", "not found: the metrics are at /metrics\n"),
    };
    Answer { bytes, problem: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_of(head: &[u8]) -> (String, Option<&'static str>) {
        let registry = Registry::default();
        let a = answer(head, &registry);
        let text = String::from_utf8(a.bytes).unwrap();
        (text.lines().next().unwrap().to_owned(), a.problem)
    }

    #[test]
    fn get_metrics_is_answered_and_the_rest_refused() {
        let registry = crate::metrics::Metrics::default().registry();
        let a = answer(b"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n", &registry);
        let text = String::from_utf8(a.bytes).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(head.contains("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"), "{head}");
        assert!(head.contains(&format!("\r\nContent-Length: {}\r\n", body.len())), "{head}");
        assert!(head.ends_with("\r\nConnection: close"), "{head}");
        assert!(body.contains("\novn_northd_active 0\n"), "{body}");
        assert_eq!(a.problem, None);
        for (request, status) in [
            (&b"GET /metrics?name[]=x HTTP/1.0\n\n"[..], "HTTP/1.1 200 OK"),
            (b"GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 404 Not Found"),
            (b"GET /metricsx HTTP/1.1\r\n\r\n", "HTTP/1.1 404 Not Found"),
            (b"POST /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 405 Method Not Allowed"),
        ] {
            assert_eq!(status_of(request), (status.to_owned(), None), "{}", String::from_utf8_lossy(request));
        }
        for request in [
            &b"\x00\xff\xfe garbage\r\n\r\n"[..],
            b"GET /metrics\r\n\r\n",
            b"GET /metrics SPDY/3\r\n\r\n",
            b"GET  /metrics HTTP/1.1\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\nHost: x\r\n",
        ] {
            let (status, problem) = status_of(request);
            assert_eq!(status, "HTTP/1.1 400 Bad Request", "{}", String::from_utf8_lossy(request));
            assert!(problem.is_some());
        }
    }

    #[test]
    fn a_head_ends_at_its_blank_line() {
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nA: b\r\n\r\nrest"), Some(24));
        assert_eq!(head_end(b"GET / HTTP/1.1\n\n"), Some(16));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nA: b\r\n"), None);
        assert_eq!(head_end(b""), None);
    }
}
