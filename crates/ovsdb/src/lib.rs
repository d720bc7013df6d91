//! An OVSDB client (RFC 7047 and Open vSwitch's extensions).
//!
//! Module map:
//! - `proto`: the sans-IO core. Atoms, datums and schemas with their JSON
//!   forms (`atom`, `datum`, `schema`); JSON-RPC 1.0 messages as OVSDB speaks
//!   them (`rpc`); framing of a stream of concatenated JSON values (`codec`);
//!   transaction operations, conditions, mutations, results and errors
//!   (`op`, `condition`, `mutation`, `txn`); monitor updates in the three
//!   formats (`update`).
//! - `replica`: an in-memory copy of monitored tables that applies updates and
//!   reports what changed since it was last asked.
//! - `session`: the sans-IO session state machine: remotes, reconnect with
//!   backoff, inactivity probes, cluster leader tracking through `_Server`,
//!   monitor set-up and resumption, locks, requests and transactions.
//! - `io`: the only code that does I/O: transports (unix, tcp, ssl) and the
//!   tokio driver `Client` that runs a session over them.
//! - `error`: the data layer's errors; each other layer has its own, all
//!   re-exported here.
//!
//! Architecture invariant: `proto`, `replica` and `session` do no I/O and
//! read no clock; time comes in as `now`. Only `io` knows tokio.

pub mod error;
pub mod io;
pub mod proto;
pub mod replica;
pub mod session;

pub use error::{DatumError, SchemaError};
pub use io::{Client, TransportError};
pub use proto::atom::{Atom, AtomicType};
pub use proto::codec::FrameError;
pub use proto::condition::{Condition, Function};
pub use proto::datum::Datum;
pub use proto::mutation::{Mutation, Mutator};
pub use proto::op::{Operation, Row as OpRow};
pub use proto::rpc::{Message, RpcError};
pub use proto::schema::{BaseType, ColumnSchema, ColumnType, DatabaseSchema, RefType, TableSchema};
pub use proto::txn::{ErrorKind, OperationError, OperationResult, ResultShape, Transaction, TxnError};
pub use proto::update::UpdateError;
pub use replica::{Replica, ReplicaError};
pub use session::{Event, Session, SessionConfig, SessionError, SessionStats};
pub use uuid::Uuid;
