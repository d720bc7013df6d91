//! How the daemon's allocator (mimalloc, set in `main.rs`) gives memory
//! back to the system: at once during a translation of everything (a cold
//! start, a recompute), so that its phases do not add up in the peak
//! resident set; ten seconds later between incremental cycles, so that a
//! cycle reuses the pages the last one freed instead of faulting in fresh
//! zeroed ones (at 30,000 pods, copying the model's 34,000 ports into a
//! new vector took 4.2 ms a port add with purging at once, most of it in
//! page faults; 41,104 page faults in 10 port adds at once, 4,254 with a
//! second's delay). Ten seconds rather than one: port adds back to back
//! 35.3 -> 30.1 ms, 2.5 s apart 42.9 -> 37.0 ms (one run each, the same
//! NB); the resident set after either was 1.45 GB, the peak 1.66 GB (the
//! cold start's).
//!
//! The calls only set mimalloc options: in a process whose global
//! allocator is another (the library's tests), they change nothing.

use lflow::engine::RunKind;

/// `mi_option_purge_delay` in mimalloc's `mi_option_t` (mimalloc.h; its
/// options keep their numbers across releases: retired ones stay as
/// `deprecated_*` placeholders). The crate names no constant for it.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// `mi_option_arena_eager_commit` (the same header).
pub const MI_OPTION_ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;

/// The purge delay between incremental cycles, in milliseconds.
const INCREMENTAL_PURGE_MS: std::ffi::c_long = 10_000;

/// Makes the memory a cycle frees leave the resident set at once. A first
/// translation frees its flows and operations in bulk; by default
/// mimalloc gives such memory back to the system a second later, in
/// transparent huge pages of 2 MiB, so the peak resident set counted the
/// memory of several phases at once. At 6,000 pods the peak went from
/// 254-269 MiB to 173 MiB, the port add time unchanged within the
/// noise of five runs (`scripts/bench-density`-like runs).
pub fn tune() {
    // SAFETY: both calls take plain integers. mimalloc reads the option
    // at its next purge; prctl changes only this process's THP policy
    // (failure leaves the default, which is only more memory).
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0);
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

/// Sets the purge delay for what follows the engine's `northd` node run
/// of kind `kind`: ten seconds after an incremental one, none after a
/// recompute (the next cycle is likely another of its kind).
pub fn after_run(kind: RunKind) {
    let delay = match kind {
        RunKind::Compute => INCREMENTAL_PURGE_MS,
        RunKind::Recompute | RunKind::Abort => 0,
    };
    // SAFETY: sets an integer option, read at mimalloc's next purge.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, delay) };
}
