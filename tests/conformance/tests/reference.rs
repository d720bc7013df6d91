//! For each scenario, runs the reference ovn-northd once, normalizes its SB
//! and compares it with the blessed `expected/<scenario>.sb`: proves that
//! normalization is stable across runs, UUIDs and allocation orders.
//! Two scenarios run at a time.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use conformance::normalize::{diff, normalize};
use conformance::run::run_reference;
use conformance::scenario::{load_dir, scenario_dir, Scenario};

fn tools_present() {
    for tool in ["ovsdb-server", "ovsdb-tool", "ovn-northd", "ovn-nbctl", "ovn-sbctl"] {
        let found = std::process::Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success());
        assert!(found, "{tool} is not installed: run scripts/test, which installs it");
    }
}

fn check(sc: &Scenario) -> Result<(), String> {
    let out = run_reference(sc).map_err(|e| e.to_string())?;
    let actual = normalize(&out.nb, &out.sb).text();
    let path = conformance::expected_dir().join(format!("{}.sb", sc.name));
    let expected = std::fs::read_to_string(&path)
        .map_err(|e| format!("{}: {e} (run scripts/conformance --bless to create it)", path.display()))?;
    let d = diff(&expected, &actual);
    if d.is_empty() {
        Ok(())
    } else {
        Err(format!("{} (expected - / actual +)\n{}", d.summary(), d.report()))
    }
}

#[test]
fn reference_matches_expected() {
    tools_present();
    let scenarios = load_dir(&scenario_dir()).expect("scenarios parse");
    assert!(!scenarios.is_empty());
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(sc) = scenarios.get(i) else { break };
                if let Err(e) = check(sc) {
                    failures.lock().unwrap().push(format!("--- {}: {e}", sc.name));
                }
            });
        }
    });
    let mut failures = failures.into_inner().unwrap();
    failures.sort();
    assert!(
        failures.is_empty(),
        "{} of {} scenarios differ:\n{}",
        failures.len(),
        scenarios.len(),
        failures.join("\n")
    );
}
