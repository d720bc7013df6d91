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
//! shortcut.

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

/// Replays `sc` one command at a time with ours (else the reference)
/// running, each command followed by a sync; with ours, checks after each
/// sync that the SB is the translation of the NB. Returns the final
/// normalized SB; an error names the command after which the SB was not
/// the translation.
fn replay(sc: &Scenario, ours_running: bool) -> Result<String, String> {
    let dbs = Databases::start().map_err(|e| e.to_string())?;
    dbs.ctl(Tool::Nbctl, &["init".into()]).map_err(|e| e.to_string())?;
    let (nb, sb) = (dbs.nb_remote(), dbs.sb_remote());
    let mut northd = if ours_running { Northd::start(ours(), &nb, &sb, &[]) } else { Northd::reference(&nb, &sb, &[]) };
    northd.wait_status("active");
    let sync = ["--timeout=60".to_string(), "--wait=sb".into(), "sync".into()];
    for c in &sc.commands {
        let what = format!("{}:{} `{}`", sc.name, c.line, c.args.join(" "));
        dbs.ctl(c.tool, &c.args).map_err(|e| format!("{what}: {e}"))?;
        dbs.ctl(Tool::Nbctl, &sync).map_err(|e| format!("{what}: the sync after it: {e}"))?;
        if ours_running {
            translated(&nb, &sb).map_err(|e| format!("after {what}: {e}\n{}", northd.diagnostics()))?;
        }
    }
    if !ours_running {
        // The reference copies some NB write-backs to SB a round later.
        dbs.ctl(Tool::Nbctl, &sync).map_err(|e| e.to_string())?;
    }
    northd.check_alive();
    drop(northd);
    let (nb, sb) = (dbs.dump("OVN_Northbound"), dbs.dump("OVN_Southbound"));
    Ok(normalize(&nb.map_err(|e| e.to_string())?, &sb.map_err(|e| e.to_string())?).text())
}

/// Ours replayed live, checked after each command, then compared with the
/// reference: its blessed dump, or where a scenario's result depends on
/// its history (IPAM hands out addresses in the order ports come), the
/// reference replayed live the same way.
fn check(sc: &Scenario) -> Result<String, String> {
    let actual = replay(sc, true)?;
    let path = conformance::expected_dir().join(format!("{}.sb", sc.name));
    let blessed = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut against = "its blessed dump";
    if !diff(&blessed, &actual).is_empty() {
        against = "the reference replayed live";
        let expected = replay(sc, false)?;
        let d = diff(&expected, &actual);
        if !d.is_empty() {
            return Err(format!("differs from the reference replayed live: {}\n{}", d.summary(), d.report()));
        }
    }
    Ok(format!("{:<28} {:>3} commands, translated after each, equal to {against}", sc.name, sc.commands.len()))
}

#[test]
fn every_exact_scenario_replayed_live_is_translated_after_each_command() {
    conformance::run::require_tools();
    let mut scenarios = load_dir(&scenario_dir()).expect("scenarios parse");
    scenarios.retain(|sc| conformance::EXACT.contains(&sc.name.as_str()));
    assert_eq!(scenarios.len(), conformance::EXACT.len(), "EXACT names a missing scenario");
    let (lines, failures) = conformance::check_all(&scenarios, check);
    for line in &lines {
        println!("{line}");
    }
    assert!(failures.is_empty(), "{} scenarios fail live:\n{}", failures.len(), failures.join("\n"));
}
