//! Our translation on every scenario: applied to real ovsdb-servers (the
//! runner repeats compile-and-write until the plan is empty, so a
//! translation that does not settle fails here), normalized, and compared
//! with the reference's blessed dump. The scenarios in
//! `conformance::EXACT` must be identical; the others must score at least
//! their floors (`floors.txt`: flows and groups matched) and must not be
//! identical (a scenario that becomes exact goes into EXACT); an EXACT
//! scenario compiles without a "not translated yet" diagnostic. Also
//! checks, on every scenario, that the compiler's output does not depend on
//! the order in which the replica holds NB rows nor on the number of
//! compiler threads, and keeps its invariants (`check_invariants`).

use std::sync::Arc;

use std::collections::BTreeMap;

use conformance::floors::{self, Floor};
use conformance::normalize::{diff, normalize, score};
use conformance::run::run_ours;
use conformance::scenario::{load_dir, scenario_dir, Scenario};
use ovsdb::proto::update::{decode_table_updates, UpdateFormat};
use ovsdb::Replica;
use serde_json::{Map, Value};

/// The same rows, inserted table by table in reverse order.
fn reversed(db: &Replica) -> Replica {
    let mut tables = Map::new();
    for (name, _) in db.schema().tables.iter() {
        let Some(t) = db.table(name) else { continue };
        let rows: Vec<_> = t.rows().collect();
        let mut obj = Map::new();
        for row in rows.into_iter().rev() {
            let cols: Map<String, Value> = row
                .iter()
                .filter(|(c, d)| !c.starts_with('_') && !d.is_empty())
                .map(|(c, d)| (c.to_string(), d.to_json()))
                .collect();
            obj.insert(row.uuid().to_string(), serde_json::json!({ "initial": cols }));
        }
        tables.insert(name.clone(), Value::Object(obj));
    }
    let mut r = Replica::new(Arc::clone(db.schema()));
    let text = Value::Object(tables).to_string();
    r.apply(decode_table_updates(&text, UpdateFormat::Update2, db.schema()).expect("decode")).expect("apply");
    r
}

fn fingerprint(out: &lflow::output::Output) -> String {
    format!("{:?}\n{:?}\n{:?}", out.sb, out.nb, out.diagnostics)
}

/// The compiler's output invariants (`lflow::invariants`) on a settled
/// scenario: no SB table holds two identical rows, the echo of our NB
/// writes (and garbage in the written columns never read) changes nothing,
/// and neither do the `--wait` sequence numbers.
fn check_invariants(nb: &Replica, sb: &Replica, out: &lflow::output::Output) -> Result<(), String> {
    let identical = lflow::invariants::identical_rows(out);
    if !identical.is_empty() {
        return Err(format!("{} identical SB rows, e.g. {}", identical.len(), identical[0]));
    }
    lflow::invariants::check_echo(nb, sb)?;
    lflow::invariants::check_not_inputs(nb, sb)
}

fn check(sc: &Scenario, floors: &BTreeMap<String, Floor>) -> Result<String, String> {
    let out = run_ours(sc).map_err(|e| e.to_string())?;
    let a = lflow::compile(&out.nb, &out.sb);
    check_invariants(&out.nb, &out.sb, &a)?;
    let b = lflow::compile(&reversed(&out.nb), &reversed(&out.sb));
    if fingerprint(&a) != fingerprint(&b) {
        return Err("the output depends on the order of rows in the replicas".into());
    }
    for threads in [1, 4] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().map_err(|e| e.to_string())?;
        if fingerprint(&a) != fingerprint(&pool.install(|| lflow::compile(&out.nb, &out.sb))) {
            return Err(format!("the output on {threads} threads differs from the output on the default pool"));
        }
    }
    let actual = normalize(&out.nb, &out.sb).text();
    let path = conformance::expected_dir().join(format!("{}.sb", sc.name));
    let expected = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let d = diff(&expected, &actual);
    let s = score(&expected, &actual, &d);
    let line = format!(
        "{:<28} flows {}/{} groups {}/{}",
        sc.name, s.flows_matched, s.flows_total, s.groups_matched, s.groups_total
    );
    if conformance::EXACT.contains(&sc.name.as_str()) {
        if !d.is_empty() {
            return Err(format!("{line}: not exact ({})\n{}", d.summary(), d.report()));
        }
        let stale: Vec<&String> = out.warnings.iter().filter(|w| w.contains("not translated yet")).collect();
        if !stale.is_empty() {
            return Err(format!(
                "{line}: exact, yet the compiler says it does not translate part of it \
                 (update lflow::coverage::NB_COLUMNS):\n{stale:#?}"
            ));
        }
        return Ok(line);
    }
    if d.is_empty() {
        return Err(format!("{line}: now exact: add it to conformance::EXACT"));
    }
    let got = Floor { flows: s.flows_matched, groups: s.groups_matched, traces: 0 };
    floors::check(&sc.name, floors, got, floors::SB)?;
    Ok(line)
}

#[test]
fn ours_matches_expected() {
    conformance::run::require_tools();
    let scenarios = load_dir(&scenario_dir()).expect("scenarios parse");
    for name in conformance::EXACT {
        assert!(scenarios.iter().any(|s| s.name == *name), "EXACT names a missing scenario {name}");
    }
    let floors = floors::load().expect("floors.txt parses");
    let names: Vec<&str> = scenarios.iter().map(|s| s.name.as_str()).collect();
    let stale = floors::stale(&floors, &names);
    assert!(stale.is_empty(), "{}", stale.join("\n"));
    let (lines, failures) = conformance::check_all(&scenarios, |sc| check(sc, &floors));
    for line in &lines {
        println!("{line}");
    }
    assert!(failures.is_empty(), "{} scenarios failed:\n{}", failures.len(), failures.join("\n"));
}
