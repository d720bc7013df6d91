//! Test helpers for model tests (replicas come from `crate::tests::replica`).

/// The UUID `00000000-0000-0000-0000-<n>`, as text, for test rows.
pub fn u(n: u32) -> String {
    format!("00000000-0000-0000-0000-{n:012}")
}
