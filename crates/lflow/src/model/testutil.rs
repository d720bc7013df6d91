//! Test helpers for model tests (replicas come from `crate::tests::replica`).

/// The UUID `00000000-0000-0000-0000-<n>`, as text, for test rows.
pub fn u(n: u32) -> String {
    format!("00000000-0000-0000-0000-{n:012}")
}

/// The update2 entry `"<uuid n>": {"initial": {"name": NAME<extra>}}` of a
/// row with a name; `extra` adds columns (`, "type": "localnet"`).
pub fn named_row(n: u32, name: &str, extra: &str) -> String {
    format!(r#""{}": {{"initial": {{"name": "{name}"{extra}}}}}"#, u(n))
}
