//! The compiler under random and malicious Northbound databases: byte
//! strings read as choices by `nbgen` (every NB table the compiler reads,
//! valid, near-valid and hostile values, references to rows that exist or
//! not) must compile without a panic, deterministically in any row order,
//! without identical SB rows, with a diagnostic naming each row made
//! malformed on purpose, and into an SB that settles (`nbgen::check`). The
//! same generator drives the cargo-fuzz target `nb_compile`.

mod nbgen;

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { max_shrink_iters: 2000, ..ProptestConfig::default() })]

    #[test]
    fn hostile_nb_compiles_and_settles(data in proptest::collection::vec(any::<u8>(), 0..1024)) {
        if let Err(e) = nbgen::check(&data) {
            prop_assert!(false, "{e}");
        }
    }
}
