//! The sans-IO protocol core: OVSDB values, schemas, messages, framing,
//! transactions and monitor updates. Nothing here does I/O or reads a clock.

pub mod atom;
mod clause;
pub mod codec;
pub mod condition;
pub mod datum;
pub mod mutation;
pub mod op;
pub mod rpc;
pub mod schema;
pub mod txn;
pub mod update;
