//! Floors: the lowest score each scenario not in `crate::EXACT` may have
//! (flows matched, groups matched, identical traces), kept as data in
//! `tests/conformance/floors.txt` so that a regression in a scenario we do
//! not reproduce exactly yet fails the test suite instead of lowering a
//! printed number. The tests `ours` and `traces` check scores against them;
//! `scripts/conformance --record-floors` rewrites the file from a run.
//!
//! What it must never do: lower a floor when recording (a lower score is a
//! regression to fix, or a floor to lower by hand in a commit that says
//! why), or keep a floor for an EXACT scenario (EXACT holds it tighter).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The header of `floors.txt`, rewritten with it.
const HEADER: &str = "\
# Conformance floors: the lowest score each scenario not in conformance::EXACT
# may have. One line a scenario:
#     NAME flows F groups G traces T
# F and G: the reference's logical flows and groups (tables, datapath stages)
# our translation matches, as `scripts/conformance` prints them; T: the traces
# of NAME.traces whose ovn-trace output is identical with the reference's.
# The tests `ours` (flows, groups) and `traces` (traces) fail when a score
# drops below its floor, when a scenario outside EXACT has no floor, and when
# one becomes exact (add it to EXACT then). After raising a score:
#     scripts/conformance --record-floors [FILTER]
# raises the floors of the scenarios run to their scores (never lowers one)
# and removes those of EXACT scenarios. Lower a floor only by hand, in a
# commit that says why.
";

/// The recorded lowest score of one scenario.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Floor {
    /// Reference flows our translation matches.
    pub flows: usize,
    /// Groups (tables, datapath stages) without any difference.
    pub groups: usize,
    /// Traces whose outputs are identical with the reference's.
    pub traces: usize,
}

impl Floor {
    /// The larger of each score of `self` and `other`.
    pub fn max(self, other: Floor) -> Floor {
        Floor {
            flows: self.flows.max(other.flows),
            groups: self.groups.max(other.groups),
            traces: self.traces.max(other.traces),
        }
    }
}

/// Where the floors live.
pub fn path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("floors.txt")
}

/// Parses the text of `floors.txt`: scenario name to floor.
pub fn parse(text: &str) -> Result<BTreeMap<String, Floor>, String> {
    let mut floors = BTreeMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |why: &str| format!("floors.txt:{}: {why}: {line:?}", i + 1);
        let w: Vec<&str> = line.split_whitespace().collect();
        let [name, "flows", f, "groups", g, "traces", t] = w.as_slice() else {
            return Err(bad("expected NAME flows F groups G traces T"));
        };
        let num = |s: &str| s.parse::<usize>().map_err(|_| bad("not a count"));
        let floor = Floor { flows: num(f)?, groups: num(g)?, traces: num(t)? };
        if floors.insert(name.to_string(), floor).is_some() {
            return Err(bad("a second floor for the scenario"));
        }
    }
    Ok(floors)
}

/// The text of `floors.txt` for `floors`, header first, sorted by name.
pub fn render(floors: &BTreeMap<String, Floor>) -> String {
    let mut text = HEADER.to_string();
    for (name, f) in floors {
        text.push_str(&format!("{name} flows {} groups {} traces {}\n", f.flows, f.groups, f.traces));
    }
    text
}

/// Reads `floors.txt`.
pub fn load() -> Result<BTreeMap<String, Floor>, String> {
    let p = path();
    let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
    parse(&text)
}

/// The floors after a run: those of the scenarios in `scores` raised to
/// their scores, those of EXACT scenarios and of scenarios not in
/// `existing` removed, the others kept.
pub fn record(
    old: &BTreeMap<String, Floor>,
    scores: &BTreeMap<String, Floor>,
    existing: &[&str],
) -> BTreeMap<String, Floor> {
    let keep = |name: &str| existing.contains(&name) && !crate::EXACT.contains(&name);
    let mut floors: BTreeMap<String, Floor> =
        old.iter().filter(|(n, _)| keep(n)).map(|(n, f)| (n.clone(), *f)).collect();
    for (name, score) in scores.iter().filter(|(n, _)| keep(n)) {
        let f = floors.entry(name.clone()).or_default();
        *f = f.max(*score);
    }
    floors
}

/// Problems of the floors file as a whole: floors of scenarios that do not
/// exist or are EXACT.
pub fn stale(floors: &BTreeMap<String, Floor>, existing: &[&str]) -> Vec<String> {
    floors
        .keys()
        .filter_map(|n| {
            if !existing.contains(&n.as_str()) {
                Some(format!("floors.txt names a missing scenario {n} (scripts/conformance --record-floors)"))
            } else if crate::EXACT.contains(&n.as_str()) {
                Some(format!("{n} is EXACT but has a floor (scripts/conformance --record-floors)"))
            } else {
                None
            }
        })
        .collect()
}

/// A named score of a `Floor`, for `check`.
pub type Measure = (&'static str, fn(&Floor) -> usize);

/// Checks one score of a scenario not in EXACT against its floor: `what`
/// names the score (`flows`, `groups`, `traces`), `get` picks it.
pub fn check(name: &str, floors: &BTreeMap<String, Floor>, score: Floor, what: &[Measure]) -> Result<(), String> {
    let Some(floor) = floors.get(name) else {
        return Err(format!("{name} is not in EXACT and has no floor (scripts/conformance --record-floors {name})"));
    };
    let low: Vec<String> = what
        .iter()
        .filter(|(_, get)| get(&score) < get(floor))
        .map(|(w, get)| format!("{w} {} below the floor {}", get(&score), get(floor)))
        .collect();
    if low.is_empty() {
        Ok(())
    } else {
        Err(format!("{name}: {}", low.join(", ")))
    }
}

/// The flows and groups scores, for `check`.
pub const SB: &[Measure] = &[("flows", |f| f.flows), ("groups", |f| f.groups)];
/// The traces score, for `check`.
pub const TRACES: &[Measure] = &[("traces", |f| f.traces)];

#[cfg(test)]
mod tests {
    use super::*;

    fn f(flows: usize, groups: usize, traces: usize) -> Floor {
        Floor { flows, groups, traces }
    }

    #[test]
    fn render_parses_back_and_bad_lines_are_errors() {
        let floors: BTreeMap<String, Floor> =
            [("12-acl-basic".to_string(), f(181, 69, 4)), ("16-lb-switch".to_string(), f(283, 89, 2))].into();
        assert_eq!(parse(&render(&floors)).unwrap(), floors);
        assert!(parse("x flows 1 groups 2\n").unwrap_err().contains("floors.txt:1"));
        assert!(parse("x flows 1 groups a traces 3\n").unwrap_err().contains("not a count"));
        assert!(parse("x flows 1 groups 2 traces 3\nx flows 1 groups 2 traces 3\n").unwrap_err().contains("second"));
    }

    #[test]
    fn record_only_raises_and_drops_exact_and_missing_scenarios() {
        let old: BTreeMap<String, Floor> = [
            ("x1-not-exact".to_string(), f(181, 69, 4)),
            ("01-l2-basic".to_string(), f(1, 1, 1)),
            ("99-gone".to_string(), f(1, 1, 1)),
            ("x3-not-exact".to_string(), f(283, 89, 2)),
        ]
        .into();
        let scores: BTreeMap<String, Floor> =
            [("x1-not-exact".to_string(), f(190, 60, 5)), ("x2-not-exact".to_string(), f(78, 44, 1))].into();
        let existing = ["01-l2-basic", "x3-not-exact", "x1-not-exact", "x2-not-exact"];
        let new = record(&old, &scores, &existing);
        let want: BTreeMap<String, Floor> = [
            ("x1-not-exact".to_string(), f(190, 69, 5)),
            ("x3-not-exact".to_string(), f(283, 89, 2)),
            ("x2-not-exact".to_string(), f(78, 44, 1)),
        ]
        .into();
        assert_eq!(new, want);
        assert_eq!(stale(&old, &existing).len(), 2);
        assert!(stale(&new, &existing).is_empty());
    }

    #[test]
    fn check_reports_missing_floors_and_drops() {
        let floors: BTreeMap<String, Floor> = [("12-acl-basic".to_string(), f(181, 69, 4))].into();
        assert!(check("12-acl-basic", &floors, f(181, 70, 0), SB).is_ok());
        let e = check("12-acl-basic", &floors, f(180, 68, 9), SB).unwrap_err();
        assert!(e.contains("flows 180 below the floor 181") && e.contains("groups 68"), "{e}");
        assert!(check("12-acl-basic", &floors, f(181, 69, 3), TRACES).unwrap_err().contains("traces 3"));
        assert!(check("20-dhcpv4", &floors, f(1, 1, 1), SB).unwrap_err().contains("no floor"));
    }
}
