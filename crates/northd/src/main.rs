//! `ovn-northd-rs` (issue 4).
fn main() {}
