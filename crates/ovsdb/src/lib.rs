//! An OVSDB client (RFC 7047 and Open vSwitch's extensions).
//!
//! Module map:
//! - `proto`: the sans-IO core. Atoms, datums and schemas with their JSON
//!   forms; JSON-RPC 1.0 messages as OVSDB speaks them; framing of a stream
//!   of concatenated JSON values; transaction operations and results; monitor
//!   updates (update, update2, update3).
//! - `replica`: an in-memory copy of monitored tables that applies updates and
//!   reports what changed since it was last asked.
//! - `error`: the data layer's errors; each other layer has its own.
//!
//! Architecture invariant: `proto` and `replica` do no I/O and read no clock.

pub mod error;
pub mod proto;

pub use error::{DatumError, SchemaError};
pub use proto::atom::{Atom, AtomicType};
pub use proto::datum::Datum;
pub use proto::schema::{BaseType, ColumnSchema, ColumnType, DatabaseSchema, RefType, TableSchema};
pub use uuid::Uuid;
pub mod replica;
