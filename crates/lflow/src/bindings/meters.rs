//! `Meter` and `Meter_Band` rows (ovn-sb(5) "Meter"): every NB meter
//! copied under its name with its unit and bands, and for every ACL whose
//! `meter` names a `fair` meter, a copy of that meter of its own,
//! `<meter>__<ACL UUID>`, so that each ACL's log messages are limited
//! separately (the ACL flows name that copy in their `log()` action).
//! Pure: it reads the NB meters and ACLs, and the SB meters only to keep
//! the band rows they hold; it never writes an NB row.

use std::collections::BTreeMap;

use foldhash::{HashMap, HashMapExt};

use ovsdb::{Atom, Datum, Uuid};

use super::{int, string};
use crate::input::{nb, sb};
use crate::model::Model;
use crate::output::{DesiredRow, Output};

/// A band's contents: (action, rate, burst size).
type Band<'a> = (&'a str, i64, i64);

pub(super) fn build(m: &Model<'_>, out: &mut Output) {
    for t in ["Meter", "Meter_Band"] {
        out.sb.entry(t).or_default();
    }
    let mut meters: Vec<nb::Meter<'_>> = nb::Meter::all(m.nb).collect();
    meters.sort_by_key(|r| (r.name(), r.uuid()));
    meters.dedup_by_key(|r| r.name());
    let mut copies: BTreeMap<String, nb::Meter<'_>> = BTreeMap::new();
    for r in &meters {
        copies.insert(r.name().to_string(), *r);
    }
    let fair: HashMap<&str, nb::Meter<'_>> =
        meters.iter().filter(|r| r.fair() == Some(true)).map(|r| (r.name(), *r)).collect();
    for acl in nb::Acl::all(m.nb) {
        if let Some(meter) = acl.meter().and_then(|n| fair.get(n)) {
            copies.insert(fair_name(meter.name(), acl.uuid()), *meter);
        }
    }
    // The bands each SB meter holds, so that equal band rows go back to
    // the meter that has them (see the end).
    let mut held: HashMap<(&str, Band<'_>), Vec<Uuid>> = HashMap::new();
    for r in sb::Meter::all(m.sb) {
        for b in r.bands() {
            held.entry((r.name(), (b.action(), b.rate(), b.burst_size()))).or_default().push(b.uuid());
        }
    }
    for uuids in held.values_mut() {
        uuids.sort();
        uuids.reverse();
    }
    let mut bands: Vec<(Option<Uuid>, DesiredRow)> = Vec::new();
    for (i, (name, r)) in copies.iter().enumerate() {
        let mut refs = Vec::new();
        let mut own: Vec<Band<'_>> = r.bands().map(|b| (b.action(), b.rate(), b.burst_size())).collect();
        own.sort();
        for (n, band) in own.into_iter().enumerate() {
            let id = format!("meter{i}_{n}");
            let mut row = DesiredRow::new(Some(id.clone()));
            row.set("action", string(band.0)).set("rate", int(band.1)).set("burst_size", int(band.2));
            bands.push((held.get_mut(&(name.as_str(), band)).and_then(Vec::pop), row));
            refs.push(Atom::named_uuid(id));
        }
        let mut row = DesiredRow::new(None);
        row.set("name", string(name)).set("unit", string(r.unit())).set("bands", Datum::set(refs));
        out.push("Meter", row);
    }
    // `sync` pairs rows of equal contents in the order they come, lowest
    // UUID first: held rows first, by UUID, so that each meter keeps its
    // own bands and nothing is rewritten; new ones after, in meter order.
    bands.sort_by_key(|(held, _)| (held.is_none(), *held));
    for (_, row) in bands {
        out.push("Meter_Band", row);
    }
}

/// The name of an ACL's own copy of a fair meter.
pub fn fair_name(meter: &str, acl: Uuid) -> String {
    format!("{meter}__{acl}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::testutil::u;
    use crate::tests::replica;

    /// NB: meter `m` (two bands) and fair meter `f`, named by ACLs 31
    /// and 32; ACL 33 names `m`. SB: `f` already there with its band.
    const NB: &str = r#"{
        "Meter": {
            "00000000-0000-0000-0000-000000000001": {"initial": {"name": "m", "unit": "kbps",
                "bands": ["set", [["uuid", "00000000-0000-0000-0000-000000000011"],
                                  ["uuid", "00000000-0000-0000-0000-000000000012"]]]}},
            "00000000-0000-0000-0000-000000000002": {"initial": {"name": "f", "unit": "pktps", "fair": true,
                "bands": ["uuid", "00000000-0000-0000-0000-000000000013"]}}},
        "Meter_Band": {
            "00000000-0000-0000-0000-000000000011": {"initial": {"action": "drop", "rate": 10, "burst_size": 1}},
            "00000000-0000-0000-0000-000000000012": {"initial": {"action": "drop", "rate": 20}},
            "00000000-0000-0000-0000-000000000013": {"initial": {"action": "drop", "rate": 5, "burst_size": 2}}},
        "Logical_Switch": {"00000000-0000-0000-0000-000000000041": {"initial": {"name": "sw",
            "acls": ["set", [["uuid", "00000000-0000-0000-0000-000000000031"],
                             ["uuid", "00000000-0000-0000-0000-000000000032"],
                             ["uuid", "00000000-0000-0000-0000-000000000033"]]]}}},
        "ACL": {
            "00000000-0000-0000-0000-000000000031": {"initial": {"meter": "f", "log": true, "action": "drop",
                "direction": "to-lport", "match": "ip4", "priority": 1}},
            "00000000-0000-0000-0000-000000000032": {"initial": {"meter": "f", "action": "drop",
                "direction": "to-lport", "match": "ip6", "priority": 1}},
            "00000000-0000-0000-0000-000000000033": {"initial": {"meter": "m", "log": true, "action": "drop",
                "direction": "to-lport", "match": "udp", "priority": 1}}}
    }"#;

    fn meters(sb_json: &str) -> (Output, Vec<String>) {
        let (nb, sb) = (replica("ovn-nb.ovsschema", NB), replica("ovn-sb.ovsschema", sb_json));
        let memo = crate::model::memo::PortMemo::of(&nb, &sb);
        let m = Model::build(&nb, &sb, &memo, Default::default(), &mut Vec::new());
        let mut out = Output::default();
        build(&m, &mut out);
        let names = out.rows("Meter").iter().map(|r| r.get("name").unwrap().to_string()).collect();
        (out, names)
    }

    /// Every NB meter is copied, and a fair one once more per ACL naming
    /// it, whether or not the ACL logs.
    #[test]
    fn fair_meters_get_one_copy_per_acl() {
        let (out, names) = meters("{}");
        let want = ["\"f\"".to_string(), format!("\"f__{}\"", u(31)), format!("\"f__{}\"", u(32)), "\"m\"".to_string()];
        assert_eq!(names, want);
        assert_eq!(out.rows("Meter_Band").len(), 5);
    }

    /// The band an SB meter already holds comes first, so that `sync`
    /// gives it back to that meter (here the third one) rather than to
    /// another with an equal band.
    #[test]
    fn held_bands_come_first() {
        let sb = format!(
            r#"{{"Meter": {{"{}": {{"initial": {{"name": "f__{}", "unit": "pktps", "bands": ["uuid", "{}"]}}}}}},
                "Meter_Band": {{"{}": {{"initial": {{"action": "drop", "rate": 5, "burst_size": 2}}}}}}}}"#,
            u(91),
            u(32),
            u(92),
            u(92)
        );
        let ids = |out: &Output| -> Vec<String> {
            out.rows("Meter_Band").iter().map(|r| r.id.clone().unwrap_or_default()).collect()
        };
        assert_eq!(ids(&meters("{}").0), ["meter0_0", "meter1_0", "meter2_0", "meter3_0", "meter3_1"]);
        assert_eq!(ids(&meters(&sb).0), ["meter2_0", "meter0_0", "meter1_0", "meter3_0", "meter3_1"]);
    }
}
