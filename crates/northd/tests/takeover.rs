//! Takeover without churn, both ways, on conformance scenarios.
//!
//! - Ours after the reference: the reference `ovn-northd` translates the
//!   scenario and stops; our daemon starts on that SB, becomes active, and
//!   must write nothing: an SB watch sees only the `SB_Global.nb_cfg` write
//!   that a following `ovn-nbctl --wait=sb sync` asks for (the barrier that
//!   proves our first cycle is over).
//! - The reference after ours: the same with the roles swapped.
//!
//! This holds where the compiler is exact for the scenario: every scenario
//! the conformance suite declares exact (`conformance::EXACT`) is run, and a
//! write is a failure. (Elsewhere our translation may not even settle, so
//! the other scenarios are not tried.) An empty NB (only `ovn-nbctl init`)
//! must take over cleanly too.

mod common;

use std::time::Duration;

use common::{ours, SbWatch};
use conformance::run::Databases;
use std::collections::BTreeMap;

use conformance::scenario::{load_dir, parse, scenario_dir, Scenario};
use testsupport::northd::{nbctl, Northd};
use testsupport::wait_until;

const BOUND: Duration = Duration::from_secs(60);

/// The only SB write a takeover may cause: the barrier's `nb_cfg`.
const BARRIER: &str = "SB_Global modify nb_cfg";

/// Runs `first` to a synced SB and stops it; then starts `second` on that
/// SB and returns the SB writes it made up to the barrier.
fn handover(sc: &Scenario, first_is_ours: bool) -> Result<Vec<String>, String> {
    let dbs = Databases::start().map_err(|e| e.to_string())?;
    dbs.apply(sc).map_err(|e| e.to_string())?;
    let (nb, sb) = (dbs.nb_remote(), dbs.sb_remote());
    let start =
        |is_ours: bool| if is_ours { Northd::start(ours(), &nb, &sb, &[]) } else { Northd::reference(&nb, &sb, &[]) };
    let mut first = start(first_is_ours);
    first.wait_status("active");
    // Twice: NB write-backs (dynamic addresses, tags) reach the SB on the
    // next round.
    nbctl(&nb, &["--wait=sb", "sync"]);
    nbctl(&nb, &["--wait=sb", "sync"]);
    if sc.commands.iter().any(|c| c.late) {
        // SB rows about what the first northd created (learned groups).
        dbs.run_commands(sc, true).map_err(|e| e.to_string())?;
        nbctl(&nb, &["--wait=sb", "sync"]);
        nbctl(&nb, &["--wait=sb", "sync"]);
    }
    drop(first);
    let watch = SbWatch::start(&sb);
    let mut second = start(!first_is_ours);
    second.wait_status("active");
    nbctl(&nb, &["--wait=sb", "sync"]);
    second.check_alive();
    // The watch is another client: wait until it has seen the barrier too
    // (the writes before it come before it on the same connection).
    wait_until("the SB watch to see the barrier", BOUND, || {
        watch.changes().iter().any(|w| w == BARRIER || w.starts_with("SB_Global modify"))
    });
    Ok(watch.changes())
}

/// Both handovers; an error lists the writes besides the barrier, counted
/// by kind.
fn check(sc: &Scenario) -> Result<(), String> {
    let mut problems = Vec::new();
    for (first_is_ours, what) in [(false, "ours after the reference"), (true, "the reference after ours")] {
        let writes = handover(sc, first_is_ours)?;
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for w in &writes {
            *counts.entry(w).or_default() += 1;
        }
        if counts.get(BARRIER) != Some(&1) || counts.len() > 1 {
            let list: Vec<String> = counts.iter().map(|(w, n)| format!("{w} x{n}")).collect();
            problems.push(format!("{what}: {}", list.join(", ")));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

#[test]
fn taking_over_an_empty_nb_writes_nothing_either_way() {
    conformance::run::require_tools();
    let sc = parse("empty", "").expect("an empty scenario");
    check(&sc).unwrap();
}

#[test]
fn taking_over_a_scenario_writes_nothing_where_the_compiler_is_exact() {
    conformance::run::require_tools();
    let mut scenarios = load_dir(&scenario_dir()).expect("scenarios parse");
    scenarios.retain(|sc| conformance::EXACT.contains(&sc.name.as_str()));
    assert_eq!(scenarios.len(), conformance::EXACT.len(), "EXACT names a missing scenario");
    let (lines, failures) =
        conformance::check_all(&scenarios, |sc| check(sc).map(|()| format!("{:<28} takeover writes nothing", sc.name)));
    for line in &lines {
        println!("{line}");
    }
    assert!(failures.is_empty(), "{} scenarios churn on takeover:\n{}", failures.len(), failures.join("\n"));
}
