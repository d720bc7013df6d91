//! Every NB column accounted for: each (table, column) of
//! `schemas/ovn-nb.ovsschema` is in `lflow::coverage::NB_COLUMNS`, and
//! what the list says is true of the compiler as it runs on every
//! scenario: the columns listed as read (`Read`, `Partly`) are read by it,
//! and those listed as not translated yet or unused are not. "Read" is
//! recorded by the generated NB accessors themselves (the `coverage`
//! feature of `lflow`), not guessed from the source.

use std::collections::BTreeSet;

use conformance::run::{require_tools, run_ours};
use conformance::scenario::{load_dir, scenario_dir};
use lflow::coverage::{columns_read, Use, NB_COLUMNS};

#[test]
fn every_nb_column_is_accounted_for() {
    require_tools();
    let scenarios = load_dir(&scenario_dir()).expect("scenarios parse");
    let (_, failures) = conformance::check_all(&scenarios, |sc| {
        let out = run_ours(sc).map_err(|e| e.to_string())?;
        lflow::compile(&out.nb, &out.sb);
        Ok(String::new())
    });
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let read: BTreeSet<(&str, &str)> = columns_read().into_iter().collect();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../schemas/ovn-nb.ovsschema");
    let schema: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut columns = BTreeSet::new();
    for (table, t) in schema["tables"].as_object().unwrap() {
        for column in t["columns"].as_object().unwrap().keys() {
            columns.insert((table.as_str(), column.as_str()));
        }
    }
    let mut errors = Vec::new();
    for &(t, c) in &columns {
        if !NB_COLUMNS.iter().any(|(lt, lc, _)| (*lt, *lc) == (t, c)) {
            errors.push(format!("{t}.{c} is not in NB_COLUMNS (read: {})", read.contains(&(t, c))));
        }
    }
    let mut listed = BTreeSet::new();
    for &(t, c, u) in NB_COLUMNS {
        if !listed.insert((t, c)) {
            errors.push(format!("{t}.{c} is listed twice"));
        }
        if !columns.contains(&(t, c)) {
            errors.push(format!("{t}.{c} is listed but not in the schema"));
        }
        let is_read = read.contains(&(t, c));
        match u {
            Use::Read | Use::Partly(_) if !is_read => {
                errors.push(format!("{t}.{c} is listed as read ({u:?}) but no scenario's compile reads it"))
            }
            Use::NotYet(_) | Use::Unused(_) if is_read => {
                errors.push(format!("{t}.{c} is listed as {u:?} but the compiler reads it"))
            }
            _ => {}
        }
    }
    assert!(errors.is_empty(), "{} problems:\n{}", errors.len(), errors.join("\n"));
}
