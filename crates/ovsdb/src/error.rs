//! Errors of the data layer (schemas and datums). Each further layer keeps
//! its own `thiserror` enum beside its code (framing, messages, transactions,
//! updates, sessions, transports) and `lib.rs` re-exports them all.

use thiserror::Error;

/// A schema that does not follow `man 5 ovsdb`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("schema error{}: {message}", if at.is_empty() { String::new() } else { format!(" at {at}") })]
pub struct SchemaError {
    /// Where: `Table`, `Table.column`, or empty for the top level.
    pub at: String,
    pub message: String,
}

impl SchemaError {
    pub(crate) fn new(at: impl Into<String>, message: impl Into<String>) -> SchemaError {
        SchemaError { at: at.into(), message: message.into() }
    }
}

/// A value that does not fit its column.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DatumError {
    /// The JSON is not an OVSDB datum at all.
    #[error("malformed datum: {0}")]
    Json(String),
    /// An atom or datum of the wrong type.
    #[error("type mismatch: expected {expected}, found {found}")]
    Type { expected: String, found: String },
    /// Too few or too many elements.
    #[error("{n} elements, but the column takes {min} to {max}")]
    Count { n: usize, min: usize, max: String },
    /// A set element or map key given twice.
    #[error("duplicate element {0}")]
    Duplicate(String),
    /// An enum, range or length constraint not met.
    #[error("constraint violation: {0}")]
    Constraint(String),
}
