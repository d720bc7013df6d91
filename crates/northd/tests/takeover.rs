//! Takeover without churn, both ways, on conformance scenarios.
//!
//! - Ours after the reference: the reference `ovn-northd` translates the
//!   scenario and stops; our daemon starts on that SB, becomes active, and
//!   must write nothing: an SB watch sees only the `SB_Global.nb_cfg` write
//!   that a following `ovn-nbctl --wait=sb sync` asks for (the barrier that
//!   proves our first cycle is over).
//! - The reference after ours: the same with the roles swapped.
//! - A sharded group (three of ours, `--shards=6`) after the reference, and
//!   the reference after the group: started beside it, the reference stays
//!   on standby (the group holds `ovn_northd`), and takes over once the
//!   group stops. The group's barrier is also each shard's progress record
//!   (`SB_Global external_ids`), which its holder writes for the sync,
//!   alone or with the `nb_cfg` copy.
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

/// A sharded group's barrier: the shards' progress records, alone or with
/// the copy of `nb_cfg`.
const RECORDS: [&str; 2] = ["SB_Global modify external_ids", "SB_Global modify nb_cfg,external_ids"];

/// Which northd runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Ours,
    Reference,
    /// Three of ours with `--shards=6`.
    Sharded,
}

/// Starts `side` and waits until it is active (a sharded group: until
/// each instance holds its two shards).
fn start(side: Side, nb: &str, sb: &str) -> Result<Vec<Northd>, String> {
    let mut northds = match side {
        Side::Ours => vec![Northd::start(ours(), nb, sb, &[])],
        Side::Reference => vec![Northd::reference(nb, sb, &[])],
        Side::Sharded => (0..3).map(|_| Northd::start(ours(), nb, sb, &["--shards=6"])).collect(),
    };
    if side != Side::Sharded {
        northds[0].wait_status("active");
        return Ok(northds);
    }
    let two_each = || {
        northds.iter().all(|n| {
            n.appctl(&["shards/show"]).is_ok_and(|show| {
                show.lines()
                    .filter(|l| !l.starts_with("global") && l.split_whitespace().nth(1) == Some("active"))
                    .count()
                    == 2
            })
        })
    };
    if !testsupport::poll_until(BOUND, two_each) {
        return Err(format!("the group never held two shards each:\n{}", northds[0].log()));
    }
    Ok(northds)
}

/// Runs `first` to a synced SB and stops it; then starts `second` on that
/// SB and returns the SB writes it made up to the barrier. The reference
/// after a sharded group is started beside it, and must stay on standby.
fn handover(sc: &Scenario, first_side: Side, second_side: Side) -> Result<Vec<String>, String> {
    let dbs = Databases::start().map_err(|e| e.to_string())?;
    dbs.apply(sc).map_err(|e| e.to_string())?;
    let (nb, sb) = (dbs.nb_remote(), dbs.sb_remote());
    let first = start(first_side, &nb, &sb)?;
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
    let watch;
    let mut second;
    if (first_side, second_side) == (Side::Sharded, Side::Reference) {
        second = vec![Northd::reference(&nb, &sb, &[])];
        second[0].wait_status("standby");
        nbctl(&nb, &["--wait=sb", "sync"]);
        if second[0].status().as_deref() != Some("standby") {
            return Err("the reference started beside a sharded group did not stay on standby".into());
        }
        watch = SbWatch::start(&sb);
        drop(first);
        second[0].wait_status("active");
    } else {
        drop(first);
        watch = SbWatch::start(&sb);
        second = start(second_side, &nb, &sb)?;
    }
    nbctl(&nb, &["--wait=sb", "sync"]);
    for northd in &mut second {
        northd.check_alive();
    }
    // The watch is another client: wait until it has seen the barrier too
    // (the writes before it come before it on the same connection).
    wait_until("the SB watch to see the barrier", BOUND, || {
        watch.changes().iter().any(|w| w.starts_with("SB_Global modify") && w.contains("nb_cfg"))
    });
    Ok(watch.changes())
}

/// Both handovers; an error lists the writes besides the barrier, counted
/// by kind.
fn check(sc: &Scenario) -> Result<(), String> {
    let mut problems = Vec::new();
    let pairs = [
        (Side::Reference, Side::Ours, "ours after the reference"),
        (Side::Ours, Side::Reference, "the reference after ours"),
        (Side::Reference, Side::Sharded, "a sharded group after the reference"),
        (Side::Sharded, Side::Reference, "the reference after a sharded group"),
    ];
    for (first, second, what) in pairs {
        let writes = handover(sc, first, second)?;
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for w in &writes {
            *counts.entry(w).or_default() += 1;
        }
        let records = |w: &str| second == Side::Sharded && RECORDS.contains(&w);
        let copies = counts.get(BARRIER).copied().unwrap_or(0) + counts.get(RECORDS[1]).copied().unwrap_or(0);
        if copies != 1 || counts.keys().any(|w| *w != BARRIER && !records(w)) {
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
