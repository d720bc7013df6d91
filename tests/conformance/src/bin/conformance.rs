//! `conformance [--reference] [--bless] [--record-floors] [-v] [FILTER]`: runs each scenario
//! (whose name contains FILTER) through OUR translation and compares its
//! normalized SB with the blessed reference dump `expected/<scenario>.sb`,
//! printing a table (flows matched / total, groups matched / total, traces
//! identical / total, exact or not) and, with `-v`, what is missing, extra
//! and changed, and the traces that differ.
//!
//! Traces: the microflows of `scenarios/<scenario>.traces`, run with the real
//! `ovn-trace` against the reference's SB and against the run's, compared
//! line for line (see `conformance::trace`); a scenario with different
//! traces is not exact. In `--reference` mode the run's traces come from the
//! reference itself, run a second time.
//!
//! `--reference` runs the reference ovn-northd instead (compared with the
//! expected dump, which checks that normalization removes every run-to-run
//! difference); `--bless` writes the reference's dump to `expected/`.
//! `--record-floors` rewrites `floors.txt` after the run: the floors of the
//! scenarios run that are not in EXACT are raised to their scores (never
//! lowered), those of EXACT or deleted scenarios removed (see
//! `conformance::floors`). Exits non-zero on a difference or a failed run.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Instant;

use conformance::floors::{self, Floor};
use conformance::normalize::{diff, normalize, score};
use conformance::run::{run_ours, run_reference};
use conformance::scenario::{load_dir, scenario_dir};
use conformance::trace::{compare_with_reference, Comparison};

fn main() -> ExitCode {
    let (mut bless, mut reference, mut verbose, mut record) = (false, false, false, false);
    let mut filter = String::new();
    for a in std::env::args().skip(1) {
        match a.as_str() {
            "--bless" => bless = true,
            "--reference" => reference = true,
            "-v" | "--verbose" => verbose = true,
            "--record-floors" => record = true,
            "-h" | "--help" => {
                println!("usage: conformance [--reference] [--bless] [--record-floors] [-v] [FILTER]");
                return ExitCode::SUCCESS;
            }
            _ => filter = a,
        }
    }
    if record && (reference || bless) {
        eprintln!("conformance: --record-floors records our scores: not with --reference or --bless");
        return ExitCode::from(2);
    }
    let scenarios = match load_dir(&scenario_dir()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("conformance: {e}");
            return ExitCode::from(2);
        }
    };
    let old_floors = match floors::load() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("conformance: {e}");
            return ExitCode::from(2);
        }
    };
    let mut scores = BTreeMap::new();
    let started = Instant::now();
    let (mut exact, mut bad) = (0, 0);
    let (mut flows_ok, mut flows_all) = (0, 0);
    let (mut traces_ok, mut traces_all) = (0, 0);
    println!("{:<28} {:>13} {:>13} {:>7}  result", "scenario", "flows", "groups", "traces");
    for sc in scenarios.iter().filter(|s| s.name.contains(&filter)) {
        let t = Instant::now();
        let run = if reference || bless { run_reference(sc) } else { run_ours(sc) };
        let out = match run {
            Ok(out) => out,
            Err(e) => {
                bad += 1;
                scores.insert(sc.name.clone(), Floor::default());
                println!("{:<28} {:>13} {:>13} {:>7}  FAILED: {e}", sc.name, "-", "-", "-");
                continue;
            }
        };
        let actual = normalize(&out.nb, &out.sb).text();
        let path = conformance::expected_dir().join(format!("{}.sb", sc.name));
        if bless {
            if let Err(e) = std::fs::write(&path, &actual) {
                eprintln!("conformance: write {}: {e}", path.display());
                bad += 1;
            }
        }
        let expected = match std::fs::read_to_string(&path) {
            Ok(e) => e,
            Err(e) => {
                bad += 1;
                println!("{:<28} {:>13} {:>13} {:>7}  FAILED: {}: {e}", sc.name, "-", "-", "-", path.display());
                continue;
            }
        };
        let d = diff(&expected, &actual);
        let s = score(&expected, &actual, &d);
        flows_ok += s.flows_matched;
        flows_all += s.flows_total;
        let (traces, trace_error) = match compare_with_reference(sc, &out) {
            Ok(c) => (c, None),
            Err(e) => (Comparison::default(), Some(e)),
        };
        traces_ok += traces.identical;
        traces_all += traces.total;
        let got = Floor { flows: s.flows_matched, groups: s.groups_matched, traces: traces.identical };
        scores.insert(sc.name.clone(), got);
        let same_traces = trace_error.is_none() && traces.identical == traces.total;
        let mut result = if d.is_empty() { "exact".to_string() } else { d.summary() };
        let in_exact = conformance::EXACT.contains(&sc.name.as_str());
        if reference || bless || in_exact {
            // Floors and EXACT concern our translation only.
        } else if d.is_empty() {
            result.push_str(" (not in EXACT: add it)");
        } else {
            if let Err(e) = floors::check(&sc.name, &old_floors, got, &[floors::SB, floors::TRACES].concat()) {
                result = format!("{result}; {}", e.trim_start_matches(&format!("{}: ", sc.name)));
            }
        }
        if let Some(e) = &trace_error {
            result = format!("{result}; traces FAILED: {e}");
        } else if !same_traces {
            result = format!("{result}; {} traces differ", traces.total - traces.identical);
        }
        let trace_count =
            if traces.total == 0 { "-".to_string() } else { format!("{}/{}", traces.identical, traces.total) };
        println!(
            "{:<28} {:>6}/{:<6} {:>6}/{:<6} {trace_count:>7}  {result} ({:.1}s)",
            sc.name,
            s.flows_matched,
            s.flows_total,
            s.groups_matched,
            s.groups_total,
            t.elapsed().as_secs_f64()
        );
        if d.is_empty() && same_traces {
            exact += 1;
        } else {
            bad += 1;
            if verbose {
                print!("{}", d.report());
                for t in &traces.differences {
                    println!("{t}");
                }
            }
        }
        if verbose && !out.warnings.is_empty() {
            println!("  diagnostics:\n    {}", out.warnings.join("\n    "));
        }
    }
    println!(
        "conformance ({}): {exact} exact, {bad} different or failed; flows {flows_ok}/{flows_all}; \
         traces {traces_ok}/{traces_all}; {:.1}s{}",
        if reference || bless { "reference" } else { "ours" },
        started.elapsed().as_secs_f64(),
        if bless { " (blessed)" } else { "" }
    );
    if record {
        let names: Vec<&str> = scenarios.iter().map(|s| s.name.as_str()).collect();
        let new = floors::record(&old_floors, &scores, &names);
        if let Err(e) = std::fs::write(floors::path(), floors::render(&new)) {
            eprintln!("conformance: write {}: {e}", floors::path().display());
            return ExitCode::from(2);
        }
        let changed = new.iter().filter(|(n, f)| old_floors.get(*n) != Some(*f)).count();
        let removed = old_floors.keys().filter(|n| !new.contains_key(*n)).count();
        println!("floors: {changed} raised or added, {removed} removed ({})", floors::path().display());
    }
    if bad == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
