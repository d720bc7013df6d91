//! The Northbound-to-Southbound logical-flow compiler: pure and
//! deterministic. `compile(nb, sb)` reads the NB replica (and the SB facts
//! it must respect: tunnel keys already given out, chassis) and returns the
//! desired SB rows; `sync` turns them into the operations that make the SB
//! equal to them. No I/O, no clock, no randomness that is not derived from
//! the input: the same replicas give the same output, row for row.
//!
//! Module map:
//! - `input`: typed views of the NB and SB replicas, generated from
//!   `schemas/` by `build.rs`.
//! - `stage`: every pipeline stage with its table number.
//! - `output`: desired rows, logical flows, diagnostics, NB status writes.
//! - `sync`: desired rows against the replicas -> OVSDB operations.

pub mod input;
pub mod output;
pub mod stage;
pub mod sync;
