//! `ovn-trace` on every scenario that has a `.traces` file: the reference
//! ovn-northd and our translation each write a SB from the scenario, the
//! real `ovn-trace --summary --minimal` traces every microflow against both,
//! and the normalized outputs are compared line for line. The scenarios in
//! `conformance::EXACT` must give identical traces; for the others the
//! count of identical traces is printed. Two scenarios run at a time.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use conformance::run::{require_tools, run_ours};
use conformance::scenario::{load_dir, scenario_dir, Scenario};
use conformance::trace::{compare_with_reference, load, require_ovn_trace};

/// Compares the traces of one scenario; `Ok` carries the line to print,
/// `Err` a failure of the test.
fn check(sc: &Scenario) -> Result<String, String> {
    let exact = conformance::EXACT.contains(&sc.name.as_str());
    let ours = match run_ours(sc) {
        Ok(o) => o,
        Err(e) if !exact => return Ok(format!("{:<28} traces -: our run failed: {e}", sc.name)),
        Err(e) => return Err(format!("our run failed: {e}")),
    };
    let c = compare_with_reference(sc, &ours).map_err(|e| e.to_string())?;
    let line = format!("{:<28} traces {}/{}", sc.name, c.identical, c.total);
    if exact && c.identical != c.total {
        return Err(format!("{line}: not identical\n{}", c.differences.join("\n")));
    }
    Ok(line)
}

#[test]
fn traces_match_reference() {
    require_tools();
    require_ovn_trace();
    let all = load_dir(&scenario_dir()).expect("scenarios parse");
    let scenarios: Vec<&Scenario> = all.iter().filter(|s| !load(&s.name).expect("traces parse").is_empty()).collect();
    assert!(!scenarios.is_empty(), "no scenario has a .traces file");
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(sc) = scenarios.get(i) else { break };
                let r = check(sc);
                results.lock().unwrap().push((sc.name.clone(), r));
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by(|a, b| a.0.cmp(&b.0));
    let mut failures = Vec::new();
    for (name, r) in results {
        match r {
            Ok(line) => println!("{line}"),
            Err(e) => failures.push(format!("--- {name}: {e}")),
        }
    }
    assert!(failures.is_empty(), "{} scenarios failed:\n{}", failures.len(), failures.join("\n"));
}
