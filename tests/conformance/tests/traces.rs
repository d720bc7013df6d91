//! `ovn-trace` on every scenario (each must have a `.traces` file with at
//! least one microflow; a missing one fails the test): the reference
//! ovn-northd and our translation each write a SB from the scenario, the
//! real `ovn-trace --summary --minimal` traces every microflow against both,
//! and the normalized outputs are compared line for line. The scenarios in
//! `conformance::EXACT` must give identical traces; the others must have at
//! least their floor of identical traces (`floors.txt`). Two scenarios run
//! at a time.

use std::collections::BTreeMap;

use conformance::floors::{self, Floor};
use conformance::run::{require_tools, run_ours};
use conformance::scenario::{load_dir, scenario_dir, Scenario};
use conformance::trace::{compare_with_reference, load, require_ovn_trace};

/// Compares the traces of one scenario; `Ok` carries the line to print,
/// `Err` a failure of the test.
fn check(sc: &Scenario, floors: &BTreeMap<String, Floor>) -> Result<String, String> {
    let exact = conformance::EXACT.contains(&sc.name.as_str());
    let ours = run_ours(sc).map_err(|e| format!("our run failed: {e}"))?;
    let c = compare_with_reference(sc, &ours).map_err(|e| e.to_string())?;
    let line = format!("{:<28} traces {}/{}", sc.name, c.identical, c.total);
    if exact && c.identical != c.total {
        return Err(format!("{line}: not identical\n{}", c.differences.join("\n")));
    }
    if !exact {
        let got = Floor { traces: c.identical, ..Floor::default() };
        floors::check(&sc.name, floors, got, floors::TRACES)
            .map_err(|e| format!("{e}\n{}", c.differences.join("\n")))?;
    }
    Ok(line)
}

#[test]
fn traces_match_reference() {
    require_tools();
    require_ovn_trace();
    let scenarios = load_dir(&scenario_dir()).expect("scenarios parse");
    let without: Vec<String> = scenarios
        .iter()
        .filter_map(|s| match load(&s.name) {
            Ok(t) if t.is_empty() => Some(format!("{}.traces holds no trace", s.name)),
            Ok(_) => None,
            Err(e) => Some(e.to_string()),
        })
        .collect();
    assert!(without.is_empty(), "every scenario needs a .traces file with traces:\n{}", without.join("\n"));
    let floors = floors::load().expect("floors.txt parses");
    let (lines, failures) = conformance::check_all(&scenarios, |sc| check(sc, &floors));
    for line in &lines {
        println!("{line}");
    }
    assert!(failures.is_empty(), "{} scenarios failed:\n{}", failures.len(), failures.join("\n"));
}

/// A trace `ovn-trace` rejects (unknown datapath) and one that makes it
/// abort (a router solicitation: `put_nd_ra_opts`) become outputs, and the
/// traces after them still run (the daemon is restarted after the abort).
#[test]
fn trace_failures_are_outputs_and_later_traces_run() {
    require_tools();
    require_ovn_trace();
    let all = load_dir(&scenario_dir()).expect("scenarios parse");
    let sc = all.iter().find(|s| s.name == "07-ipv6-router").expect("scenario 07-ipv6-router");
    let run = conformance::run::run_reference(sc).expect("reference run");
    let ping = r#"sw6a 'inport == "a-vm1" && eth.src == 00:00:00:00:06:01 && eth.dst == 00:00:00:00:ff:61 && ip6.src == fd10::11 && ip6.dst == fd20::11 && ip.ttl == 64 && icmp6.type == 128'"#;
    let rs = r#"sw6a 'inport == "a-vm1" && eth.src == 00:00:00:00:06:01 && eth.dst == 33:33:00:00:00:02 && ip6.src == fe80::200:ff:fe00:601 && ip6.dst == ff02::2 && icmp6.type == 133 && icmp6.code == 0 && ip.ttl == 255'"#;
    let text = format!("nosuch 'ip4'\n{ping}\n{rs}\n{ping}\n");
    let traces = conformance::trace::parse("t", &text).expect("traces parse");
    let out = conformance::trace::run_all(&run, &traces).expect("traces run");
    assert!(out[0].contains("unknown datapath"), "{}", out[0]);
    assert!(out[1].starts_with("# ") && out[1].contains("output(\"b-vm1\")"), "{}", out[1]);
    assert!(out[2].starts_with("ovn-trace failed"), "{}", out[2]);
    assert_eq!(out[3], out[1]);
}
