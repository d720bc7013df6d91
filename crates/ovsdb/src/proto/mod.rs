//! The sans-IO protocol core: OVSDB values, schemas, messages, framing,
//! transactions and monitor updates. Nothing here does I/O or reads a clock.

pub mod atom;
pub mod datum;
pub mod schema;
