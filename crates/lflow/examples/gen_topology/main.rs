//! Prints a benchmark topology: `topology.rs`'s for `scripts/bench-northd`,
//! or `density.rs`'s (ovn-kubernetes-like) for `scripts/bench-density`.
//!
//! Usage: `gen_topology SWITCHES [transact|update2]` or
//! `gen_topology density PODS [transact|update2]`: `transact` (the
//! default) prints the params of one `transact` request inserting every
//! row into `OVN_Northbound`; `update2` prints the rows as an update2
//! `<table-updates2>` object. Writes nothing but stdout.

// Its `planned_inserts` serves the benchmark and tests, not this program.
#[allow(dead_code)]
mod topology;

mod density;

use std::io::Write;

use serde_json::{json, Value};

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: gen_topology [density] SIZE [transact|update2]";
    let density = args.first().is_some_and(|a| a == "density");
    if density {
        args.remove(0);
    }
    let Some(Ok(size)) = args.first().map(|a| a.parse::<usize>()) else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let rows = if density { density::generate(size) } else { topology::generate(size) };
    let out = match args.get(1).map(String::as_str).unwrap_or("transact") {
        "transact" => {
            let mut params = vec![json!("OVN_Northbound")];
            params.extend(
                rows.iter().map(|r| json!({"op": "insert", "table": r.table, "uuid-name": r.name, "row": r.row})),
            );
            Value::Array(params)
        }
        "update2" => topology::update2(&rows),
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    };
    let text = out.to_string() + "\n";
    std::io::stdout().lock().write_all(text.as_bytes()).unwrap_or_else(|e| {
        eprintln!("gen_topology: cannot write: {e}");
        std::process::exit(1);
    });
}
