//! For each scenario, runs the reference ovn-northd once, normalizes its SB
//! and compares it with the blessed `expected/<scenario>.sb`: proves that
//! normalization is stable across runs, UUIDs and allocation orders.
//! For the scenarios our translation reproduces exactly
//! (`conformance::EXACT`), also checks that our compiler, given the
//! reference's NB and SB, plans no write at all: taking over from the
//! reference changes nothing. Two scenarios run at a time.

use conformance::normalize::{diff, normalize};
use conformance::run::run_reference;
use conformance::scenario::{load_dir, scenario_dir, Scenario};

fn check(sc: &Scenario) -> Result<(), String> {
    let out = run_reference(sc).map_err(|e| e.to_string())?;
    let actual = normalize(&out.nb, &out.sb).text();
    let path = conformance::expected_dir().join(format!("{}.sb", sc.name));
    let expected = std::fs::read_to_string(&path)
        .map_err(|e| format!("{}: {e} (run scripts/conformance --bless to create it)", path.display()))?;
    let d = diff(&expected, &actual);
    if !d.is_empty() {
        return Err(format!("{} (expected - / actual +)\n{}", d.summary(), d.report()));
    }
    if conformance::EXACT.contains(&sc.name.as_str()) {
        let ours = lflow::compile(&out.nb, &out.sb);
        let plan = lflow::sync::plan_sb(&ours, &out.sb);
        let nb_ops = lflow::sync::plan_nb(&ours, &out.nb);
        if !plan.is_empty() || !nb_ops.is_empty() {
            return Err(format!(
                "taking over from the reference would write: SB {:?}, {} NB updates\n{:#?}\n{:#?}",
                plan.stats.tables.iter().filter(|(_, v)| **v != (0, 0, 0)).collect::<Vec<_>>(),
                nb_ops.len(),
                plan.ops().iter().take(5).collect::<Vec<_>>(),
                nb_ops.iter().take(5).collect::<Vec<_>>()
            ));
        }
    }
    Ok(())
}

#[test]
fn reference_matches_expected() {
    conformance::run::require_tools();
    let scenarios = load_dir(&scenario_dir()).expect("scenarios parse");
    assert!(!scenarios.is_empty());
    let (_, failures) = conformance::check_all(&scenarios, |sc| check(sc).map(|()| String::new()));
    assert!(
        failures.is_empty(),
        "{} of {} scenarios differ:\n{}",
        failures.len(),
        scenarios.len(),
        failures.join("\n")
    );
}
