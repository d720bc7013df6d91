//! The fuzzer's bytes read as choices by the generator of hostile NB
//! databases that the property test `crates/lflow/tests/fuzz_nb.rs` uses
//! (`nbgen`), and the same properties checked: compiling never panics, is
//! deterministic in any row order, writes no identical SB rows, names each
//! row made malformed on purpose in a diagnostic, and settles.
#![no_main]

#[path = "../../crates/lflow/tests/nbgen/mod.rs"]
mod nbgen;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = nbgen::check(data) {
        panic!("{e}");
    }
});
