//! The `ovsdb-rs` command-line client.
fn main() {}
