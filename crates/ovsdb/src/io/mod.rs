//! The I/O layer: transports and the tokio driver. The only place in the
//! crate that touches sockets, files of keys, or the clock.

pub mod client;
pub mod transport;

pub use client::Client;
pub use transport::{tls_config, TlsFiles, TransportError};
