//! The conformance scenarios replayed live against our daemon: it runs on
//! real servers from an empty NB, and each command of a scenario is
//! followed by `ovn-nbctl --wait=sb sync`. When that returns, the SB must
//! be the whole translation of the NB as it is at that point (`--wait=sb`
//! means done: nothing left for a fresh compile to write, `sb_cfg` at
//! `nb_cfg`), after every command, not only at the end; and at the end the
//! SB must equal the reference's for every scenario the compiler is exact
//! on (`conformance::EXACT`): its blessed dump, or, where the result depends
//! on the order changes came in, the reference replayed live alike. The
//! batch translation of `tests/conformance` computes a scenario in one go;
//! this is the path an operator's changes take, one transaction at a time,
//! through the daemon's cycles, its echo handling and its sequence-number
//! shortcut. The same again with a sharded group: three instances with
//! `--shards=6`, each holding shards, writing one SB together, `--wait=sb`
//! returning only once every shard wrote its part.

mod common;

use common::{int, ours};
use conformance::normalize::{diff, normalize};
use conformance::run::{dump, Databases};
use conformance::scenario::{load_dir, scenario_dir, Scenario, Tool};
use testsupport::northd::Northd;

/// Ok when the SB holds exactly the translation of the NB
/// (`common::translated`) and `sb_cfg` reached `nb_cfg`; else what is
/// left to write.
fn translated(nb_remote: &str, sb_remote: &str) -> Result<(), String> {
    let nb = dump(nb_remote, "OVN_Northbound").map_err(|e| e.to_string())?;
    let sb = dump(sb_remote, "OVN_Southbound").map_err(|e| e.to_string())?;
    common::translated(&nb, &sb)?;
    let (nb_cfg, sb_cfg) = (int(&nb, "NB_Global", "nb_cfg"), int(&nb, "NB_Global", "sb_cfg"));
    if nb_cfg != sb_cfg {
        return Err(format!("sb_cfg {sb_cfg:?} has not reached nb_cfg {nb_cfg:?}"));
    }
    Ok(())
}

/// Which northd a replay runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Running {
    Ours,
    Reference,
    /// `INSTANCES` of ours with `--shards=SHARDS`.
    Sharded,
}

const INSTANCES: usize = 3;
const SHARDS: u32 = 6;

/// The shards an instance holds, from its `shards/show` (`<i> active`).
fn shards_held(northd: &Northd) -> Result<usize, String> {
    let show = northd.appctl(&["shards/show"])?;
    Ok(show.lines().filter(|l| l.split_whitespace().nth(1) == Some("active") && !l.starts_with("global")).count())
}

/// Replays `sc` one command at a time, each command followed by a sync;
/// with ours, checks after each sync that the SB is the translation of
/// the NB. Returns the final normalized SB; an error names the command
/// after which the SB was not the translation.
fn replay(sc: &Scenario, running: Running) -> Result<String, String> {
    let dbs = Databases::start().map_err(|e| e.to_string())?;
    dbs.ctl(Tool::Nbctl, &["init".into()]).map_err(|e| e.to_string())?;
    let (nb, sb) = (dbs.nb_remote(), dbs.sb_remote());
    let shards = format!("--shards={SHARDS}");
    let mut northds = match running {
        Running::Ours => vec![Northd::start(ours(), &nb, &sb, &[])],
        Running::Reference => vec![Northd::reference(&nb, &sb, &[])],
        Running::Sharded => (0..INSTANCES).map(|_| Northd::start(ours(), &nb, &sb, &[&shards])).collect(),
    };
    if running == Running::Sharded {
        // Every instance has its share once they all see each other.
        let per = SHARDS as usize / INSTANCES;
        let balanced = || northds.iter().all(|n| shards_held(n).is_ok_and(|h| h == per));
        if !testsupport::poll_until(std::time::Duration::from_secs(20), balanced) {
            return Err(format!("the instances never held {per} shards each:\n{}", northds[0].log()));
        }
    } else {
        northds[0].wait_status("active");
    }
    let sync = ["--timeout=60".to_string(), "--wait=sb".into(), "sync".into()];
    let diagnostics = |northds: &[Northd]| northds.iter().map(Northd::diagnostics).collect::<Vec<_>>().join("\n");
    for c in &sc.commands {
        let what = format!("{}:{} `{}`", sc.name, c.line, c.args.join(" "));
        dbs.ctl(c.tool, &c.args).map_err(|e| format!("{what}: {e}"))?;
        dbs.ctl(Tool::Nbctl, &sync).map_err(|e| format!("{what}: the sync after it: {e}"))?;
        if running != Running::Reference {
            translated(&nb, &sb).map_err(|e| format!("after {what}: {e}\n{}", diagnostics(&northds)))?;
        }
    }
    if running == Running::Reference {
        // The reference copies some NB write-backs to SB a round later.
        dbs.ctl(Tool::Nbctl, &sync).map_err(|e| e.to_string())?;
    }
    for northd in &mut northds {
        northd.check_alive();
    }
    if running == Running::Sharded {
        for northd in &northds {
            if shards_held(northd)? == 0 {
                // Every instance's log: the cause is in the others' as
                // often as in its own (a shard moved for a member seen
                // for a moment).
                let logs: Vec<String> =
                    northds.iter().map(|n| format!("--- {}:\n{}", n.log_path().display(), n.log())).collect();
                return Err(format!("an instance holds no shard at the end:\n{}", logs.join("\n")));
            }
        }
    }
    drop(northds);
    let (nb, sb) = (dbs.dump("OVN_Northbound"), dbs.dump("OVN_Southbound"));
    Ok(normalize(&nb.map_err(|e| e.to_string())?, &sb.map_err(|e| e.to_string())?).text())
}

/// Ours replayed live, checked after each command, then compared with the
/// reference: its blessed dump, or where a scenario's result depends on
/// its history (IPAM hands out addresses in the order ports come), the
/// reference replayed live the same way.
fn check(sc: &Scenario, running: Running) -> Result<String, String> {
    let actual = replay(sc, running)?;
    let path = conformance::expected_dir().join(format!("{}.sb", sc.name));
    let blessed = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut against = "its blessed dump";
    if !diff(&blessed, &actual).is_empty() {
        against = "the reference replayed live";
        let expected = replay(sc, Running::Reference)?;
        let d = diff(&expected, &actual);
        if !d.is_empty() {
            return Err(format!("differs from the reference replayed live: {}\n{}", d.summary(), d.report()));
        }
    }
    Ok(format!("{:<28} {:>3} commands, translated after each, equal to {against}", sc.name, sc.commands.len()))
}

fn check_every_exact_scenario(running: Running) {
    conformance::run::require_tools();
    let mut scenarios = load_dir(&scenario_dir()).expect("scenarios parse");
    scenarios.retain(|sc| conformance::EXACT.contains(&sc.name.as_str()));
    assert_eq!(scenarios.len(), conformance::EXACT.len(), "EXACT names a missing scenario");
    let (lines, failures) = conformance::check_all(&scenarios, |sc| check(sc, running));
    for line in &lines {
        println!("{line}");
    }
    assert!(failures.is_empty(), "{} scenarios fail live:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn every_exact_scenario_replayed_live_is_translated_after_each_command() {
    check_every_exact_scenario(Running::Ours);
}

/// Three instances, six shards: after every command the SB is the whole
/// translation (each shard's rows written by its holder, `nb_cfg` copied
/// only then), and at the end every instance holds shards.
#[test]
fn a_sharded_group_replayed_live_is_translated_after_each_command() {
    check_every_exact_scenario(Running::Sharded);
}
