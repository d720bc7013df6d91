//! The tokio driver of a `Session`: the only code in this crate that awaits.
//!
//! `Client::next_event` moves bytes between the transport and the session,
//! fires its timers, and returns the session's next event. It is
//! cancel-safe (all progress lives in `Client`), so an owner can `select!`
//! over several clients and its own inputs without spawning tasks.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::BytesMut;
use rustls::ClientConfig;
use serde_json::value::RawValue;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::time::Instant;
use tracing::{debug, Instrument, Span};

use super::transport::{self, Stream, TransportError};
use crate::proto::codec::FrameDecoder;
use crate::proto::rpc::Message;
use crate::proto::txn::{OperationResult, Transaction};
use crate::session::{Event, IoAction, RequestId, Session, SessionConfig, SessionError};

/// The write buffer's capacity kept once it is empty; a larger one (left
/// by a large transaction) is freed.
const OUT_KEPT: usize = 1 << 20;

type Connecting = Pin<Box<dyn Future<Output = Result<Box<dyn Stream>, TransportError>> + Send>>;

enum Conn {
    Closed,
    Connecting(Connecting),
    Up { rd: ReadHalf<Box<dyn Stream>>, wr: WriteHalf<Box<dyn Stream>>, decoder: FrameDecoder },
}

/// What woke the driver.
enum Wake {
    Timer,
    Connected(Result<Box<dyn Stream>, TransportError>),
    Read(std::io::Result<usize>),
    Wrote(std::io::Result<usize>),
    Flushed(std::io::Result<()>),
}

/// A session driven over real transports.
pub struct Client {
    session: Session,
    tls: Option<Arc<ClientConfig>>,
    max_frame: usize,
    conn: Conn,
    rbuf: BytesMut,
    out: Vec<u8>,
    out_pos: usize,
    needs_flush: bool,
    backlog: VecDeque<Event>,
    bytes_received: u64,
    span: Span,
}

impl Client {
    /// A client for `config`; `tls` is needed for `ssl:` remotes (see
    /// `transport::tls_config`). Connecting starts at the first `next_event`.
    pub fn new(config: SessionConfig, tls: Option<Arc<ClientConfig>>) -> Client {
        let span = tracing::info_span!("ovsdb", db = %config.database);
        Client {
            session: Session::new(config, Instant::now().into_std()),
            tls,
            max_frame: FrameDecoder::DEFAULT_MAX_FRAME,
            conn: Conn::Closed,
            rbuf: BytesMut::new(),
            out: Vec::new(),
            out_pos: 0,
            needs_flush: false,
            backlog: VecDeque::new(),
            bytes_received: 0,
            span,
        }
    }

    /// Limits the size of one incoming message (default 1 GiB).
    pub fn set_max_frame(&mut self, bytes: usize) {
        self.max_frame = bytes;
    }

    /// Bytes read from servers since the client was made.
    pub fn bytes_received(&self) -> u64 {
        self.bytes_received
    }

    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The session, to make requests; what they queue is sent at the next
    /// `next_event`.
    pub fn session_mut(&mut self) -> &mut Session {
        &mut self.session
    }

    /// The next event: one kept by `wait_ready`, `transact` or `call`, or
    /// else the next one the session has after driving I/O. Cancel-safe.
    pub async fn next_event(&mut self) -> Event {
        match self.backlog.pop_front() {
            Some(ev) => ev,
            None => self.fresh_event().await,
        }
    }

    /// Drives I/O until the session has an event, ignoring the backlog (the
    /// waiting helpers put what they skip there).
    async fn fresh_event(&mut self) -> Event {
        let span = self.span.clone();
        self.run().instrument(span).await
    }

    /// Waits until the session is ready (connected, schema read, monitor
    /// synchronized). Events met on the way are kept for `next_event`.
    pub async fn wait_ready(&mut self) {
        while !self.session.is_ready() {
            let ev = self.fresh_event().await;
            self.backlog.push_back(ev);
        }
    }

    /// Sends a transaction once ready and waits for its outcome. Events met
    /// on the way are kept for `next_event`.
    pub async fn transact(&mut self, txn: Transaction) -> Result<Vec<OperationResult>, SessionError> {
        self.wait_ready().await;
        let id = self.session.transact(txn)?;
        loop {
            match self.fresh_event().await {
                Event::TxnDone { id: got, result } if got == id => return result,
                ev => self.backlog.push_back(ev),
            }
        }
    }

    /// Sends a raw request once connected and waits for its reply.
    pub async fn call(&mut self, method: &str, params: Value) -> Result<Box<RawValue>, SessionError> {
        while !self.session.is_connected() {
            let ev = self.fresh_event().await;
            self.backlog.push_back(ev);
        }
        let id = self.session.call(method, params)?;
        self.wait_reply(id).await
    }

    async fn wait_reply(&mut self, id: RequestId) -> Result<Box<RawValue>, SessionError> {
        loop {
            match self.fresh_event().await {
                Event::Reply { id: got, result } if got == id => return result,
                ev => self.backlog.push_back(ev),
            }
        }
    }

    async fn run(&mut self) -> Event {
        loop {
            self.pump();
            if let Some(ev) = self.session.poll_event() {
                return ev;
            }
            let wake = self.wait().await;
            let now = Instant::now().into_std();
            match wake {
                Wake::Timer => self.session.handle_timeout(now),
                Wake::Connected(Ok(stream)) => {
                    let (rd, wr) = tokio::io::split(stream);
                    self.conn = Conn::Up { rd, wr, decoder: FrameDecoder::new(self.max_frame) };
                    self.out.clear();
                    self.out_pos = 0;
                    self.session.handle_connected(now);
                }
                Wake::Connected(Err(e)) => {
                    self.conn = Conn::Closed;
                    self.session.handle_connect_failed(now, &e.to_string());
                }
                Wake::Read(Ok(0)) => {
                    let reason = match &self.conn {
                        Conn::Up { decoder, .. } => match decoder.finish() {
                            Ok(()) => "connection closed by peer".to_string(),
                            Err(e) => e.to_string(),
                        },
                        _ => "connection closed".to_string(),
                    };
                    self.close(now, &reason);
                }
                Wake::Read(Ok(_)) => self.deliver(now),
                Wake::Read(Err(e)) | Wake::Wrote(Err(e)) | Wake::Flushed(Err(e)) => self.close(now, &e.to_string()),
                Wake::Wrote(Ok(n)) => {
                    self.out_pos += n;
                    if self.out_pos >= self.out.len() {
                        // A large message's room is given back once sent.
                        if self.out.capacity() > OUT_KEPT {
                            self.out = Vec::new();
                        }
                        self.out.clear();
                        self.out_pos = 0;
                        self.needs_flush = true;
                    }
                }
                Wake::Flushed(Ok(())) => self.needs_flush = false,
            }
        }
    }

    /// Hands every complete message read so far to the session.
    fn deliver(&mut self, now: std::time::Instant) {
        let Conn::Up { decoder, .. } = &mut self.conn else { return };
        decoder.feed(&self.rbuf);
        self.bytes_received += self.rbuf.len() as u64;
        self.rbuf.clear();
        loop {
            let Conn::Up { decoder, .. } = &mut self.conn else { return };
            let frame = match decoder.next_frame() {
                Ok(Some(frame)) => frame,
                Ok(None) => return,
                Err(e) => return self.close(now, &format!("bad input from server: {e}")),
            };
            match Message::decode(&frame) {
                Ok(msg) => {
                    // The message holds its own copy of what matters: free
                    // the frame before the session decodes what is in it.
                    drop(frame);
                    self.session.handle_message(now, msg)
                }
                Err(e) => return self.close(now, &format!("bad message from server: {e}")),
            }
            if !self.session.is_connected() {
                // The session dropped the connection; what follows is moot.
                return;
            }
        }
    }

    /// Closes the transport after an I/O or input error and tells the session.
    fn close(&mut self, now: std::time::Instant, reason: &str) {
        debug!(reason, "closing connection");
        self.conn = Conn::Closed;
        self.session.handle_disconnected(now, reason);
    }

    /// Carries out the session's transport actions and queues its messages.
    fn pump(&mut self) {
        while let Some(action) = self.session.poll_io() {
            match action {
                IoAction::Connect(remote) => {
                    self.conn = Conn::Connecting(Box::pin(transport::connect(remote, self.tls.clone())));
                }
                IoAction::Disconnect => {
                    self.conn = Conn::Closed;
                    self.out.clear();
                    self.out_pos = 0;
                }
            }
        }
        if matches!(self.conn, Conn::Up { .. }) {
            while let Some(msg) = self.session.poll_transmit() {
                msg.encode_into(&mut self.out);
            }
        }
    }

    async fn wait(&mut self) -> Wake {
        let deadline = self.session.poll_timeout().map(Instant::from_std);
        let timer = async move {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        let Client { conn, rbuf, out, out_pos, needs_flush, .. } = self;
        match conn {
            Conn::Closed => {
                timer.await;
                Wake::Timer
            }
            Conn::Connecting(fut) => tokio::select! {
                r = fut.as_mut() => Wake::Connected(r),
                _ = timer => Wake::Timer,
            },
            Conn::Up { rd, wr, .. } => {
                if rbuf.capacity() - rbuf.len() < 16 * 1024 {
                    rbuf.reserve(256 * 1024);
                }
                let pending = &out[*out_pos..];
                let must_write = !pending.is_empty() || *needs_flush;
                let writing = async move {
                    if pending.is_empty() {
                        Wake::Flushed(wr.flush().await)
                    } else {
                        Wake::Wrote(wr.write(pending).await)
                    }
                };
                tokio::select! {
                    r = rd.read_buf(rbuf) => Wake::Read(r),
                    w = writing, if must_write => w,
                    _ = timer => Wake::Timer,
                }
            }
        }
    }
}
