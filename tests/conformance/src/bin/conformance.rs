//! `conformance [--bless] [FILTER]`: runs each scenario (whose name contains
//! FILTER) and compares normalized SB dumps. There is no compiler yet, so
//! the reference runs twice and the two dumps are compared: this checks that
//! normalization removes every run-to-run difference. `--bless` writes the
//! first dump to `expected/<scenario>.sb`. Exits non-zero on a difference or
//! a failed run.

use std::process::ExitCode;
use std::time::Instant;

use conformance::normalize::{diff, normalize, Normalized};
use conformance::run::{run_reference, RunError};
use conformance::scenario::{load_dir, scenario_dir};

fn run_once(sc: &conformance::scenario::Scenario) -> Result<Normalized, RunError> {
    let out = run_reference(sc)?;
    Ok(normalize(&out.nb, &out.sb))
}

fn main() -> ExitCode {
    let mut bless = false;
    let mut filter = String::new();
    for a in std::env::args().skip(1) {
        match a.as_str() {
            "--bless" => bless = true,
            "-h" | "--help" => {
                println!("usage: conformance [--bless] [FILTER]");
                return ExitCode::SUCCESS;
            }
            _ => filter = a,
        }
    }
    let scenarios = match load_dir(&scenario_dir()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("conformance: {e}");
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    let (mut ok, mut bad) = (0, 0);
    println!("{:<28} {:>6} {:>6}  result", "scenario", "flows", "tables");
    for sc in scenarios.iter().filter(|s| s.name.contains(&filter)) {
        let t = Instant::now();
        let result = run_once(sc).and_then(|a| Ok((a, run_once(sc)?)));
        match result {
            Ok((a, b)) => {
                let d = diff(&a.text(), &b.text());
                println!(
                    "{:<28} {:>6} {:>6}  {} ({:.1}s)",
                    sc.name,
                    a.flows,
                    a.tables,
                    d.summary(),
                    t.elapsed().as_secs_f64()
                );
                if d.is_empty() {
                    ok += 1;
                } else {
                    bad += 1;
                    print!("{}", d.report());
                }
                if bless {
                    let path = conformance::expected_dir().join(format!("{}.sb", sc.name));
                    if let Err(e) = std::fs::write(&path, a.text()) {
                        eprintln!("conformance: write {}: {e}", path.display());
                        bad += 1;
                    }
                }
            }
            Err(e) => {
                bad += 1;
                println!("{:<28} {:>6} {:>6}  FAILED: {e}", sc.name, "-", "-");
            }
        }
    }
    println!(
        "conformance: {ok} identical, {bad} different or failed, {:.1}s{}",
        started.elapsed().as_secs_f64(),
        if bless { " (blessed)" } else { "" }
    );
    if bad == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
