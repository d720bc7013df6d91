//! The conformance suite: scenario files of `ovn-nbctl` commands applied to
//! the reference `ovn-northd` (and, once it exists, to ours); the SB each
//! one writes is read with our OVSDB client, normalized, and compared.
//!
//! Module map:
//! - `scenario`: parses `.nbctl` scenario files (pure).
//! - `run`: starts ovsdb-servers, applies a scenario with the real
//!   `ovn-nbctl` / `ovn-sbctl`, runs the reference northd, dumps NB and SB.
//! - `normalize`: the SB as sorted lines free of UUIDs, tunnel keys and
//!   random values, and the diff of two such texts (pure).

pub mod normalize;
pub mod run;
pub mod scenario;

use std::path::{Path, PathBuf};

/// Scenarios our translation must reproduce exactly (all tables, all
/// flows); the test suite fails if one of them differs from the reference.
pub const EXACT: &[&str] = &[];

/// Where the blessed normalized dumps of the reference live.
pub fn expected_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("expected")
}
