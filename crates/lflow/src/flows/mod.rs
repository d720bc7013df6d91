//! The logical flows of every pipeline, one module per group of stages as
//! `ovn-northd(8)` describes them, the control plane protection meters
//! set on them (`copp`), and the folding of flows that several datapaths
//! share into `Logical_DP_Group`s.

pub mod copp;
pub mod router;
pub mod switch;

use std::collections::BTreeMap;

use ovsdb::{Atom, Datum};

use crate::model::Model;
use crate::output::{reference, str_map, DesiredRow, DpId, Lflow, Output};

/// What the flows of datapath `dp` outside its load balancers' parts
/// (`Flows::part`) read of its load balancers, and a switch's flows of
/// its routers', hashed: a load balancer change that leaves it the same
/// changes that balancer's part alone.
pub fn lb_print(m: &Model<'_>, dp: DpId) -> u64 {
    let d = m.dp(dp);
    match (d.switch(), d.router()) {
        (Some(sw), _) => switch::lb_print(m, dp, sw),
        (None, Some(nb)) => router::lb_print(m, dp, nb),
        (None, None) => 0,
    }
}

/// What makes a flow the flow it is, apart from its datapath and the NB
/// row it comes from: stage, priority, match, actions, port tag, meter.
pub(crate) type FlowBody<'a> = (&'a crate::stage::Stage, u16, &'a str, &'a str, Option<&'a str>, Option<&'a str>);

/// Turns flows into `Logical_Flow` rows: a flow present on one datapath
/// names it; a flow present on several names a `Logical_DP_Group` of
/// them, one group row per distinct set of datapaths. A flow built more
/// than once (two router ports with one MAC give the same flows, on one
/// router or on two) is one row, as the reference writes it: the NB rows
/// it comes from do not make flows different, and its `stage-hint` is the
/// lowest of their UUIDs. So no two rows are identical.
pub fn to_rows(flows: Vec<Lflow>, out: &mut Output) {
    let mut by_body: BTreeMap<FlowBody<'_>, (Vec<DpId>, Option<ovsdb::Uuid>)> = BTreeMap::new();
    for f in &flows {
        let body =
            (&f.stage, f.priority, f.match_.as_str(), f.actions.as_str(), f.io_port.as_deref(), f.meter.as_deref());
        let (dps, hint) = by_body.entry(body).or_insert((Vec::new(), f.hint));
        dps.push(f.dp);
        *hint = match (*hint, f.hint) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    let mut groups: BTreeMap<Vec<DpId>, String> = BTreeMap::new();
    let mut rows = Vec::with_capacity(by_body.len());
    for ((stage, priority, m, a, io_port, meter), (mut dps, hint)) in by_body {
        dps.sort();
        dps.dedup();
        let on = if dps.len() == 1 {
            ("logical_datapath", reference(&dps[0].row_id()))
        } else {
            let next = groups.len();
            let id = groups.entry(dps).or_insert_with(|| format!("g{next}")).clone();
            ("logical_dp_group", reference(&id))
        };
        let row = flow_row((stage, priority, m, a, io_port, meter), hint, on);
        rows.push(row);
    }
    let mut group_rows: Vec<(String, Vec<DpId>)> = groups.into_iter().map(|(dps, id)| (id, dps)).collect();
    group_rows.sort();
    let groups_out = out.sb.entry("Logical_DP_Group").or_default();
    for (id, dps) in group_rows {
        let mut row = DesiredRow::new(Some(id));
        row.set("datapaths", Datum::set(dps.iter().map(|d| Atom::named_uuid(d.row_id()))));
        groups_out.push(row);
    }
    out.sb.entry("Logical_Flow").or_default().extend(rows);
}

/// The `Logical_Flow` row of a flow body, with its `stage-hint` (the
/// lowest of the NB rows it comes from) and where it applies: `on` is
/// `logical_datapath` or `logical_dp_group` with the reference.
pub(crate) fn flow_row(body: FlowBody<'_>, hint: Option<ovsdb::Uuid>, on: (&'static str, Datum)) -> DesiredRow {
    let (stage, priority, m, a, io_port, meter) = body;
    let mut row = DesiredRow::new(None);
    row.set(on.0, on.1);
    let mut ids = vec![("stage-name".to_string(), stage.name().to_string())];
    if let Some(h) = hint {
        ids.push(("stage-hint".into(), h.simple().to_string()[..8].to_string()));
    }
    row.set("pipeline", Datum::from(Atom::string(stage.pipeline().as_str())))
        .set("table_id", Datum::from(Atom::Integer(stage.table() as i64)))
        .set("priority", Datum::from(Atom::Integer(priority as i64)))
        .set("match", Datum::from(Atom::string(m)))
        .set("actions", Datum::from(Atom::string(a)))
        .set("external_ids", str_map(ids));
    if let Some(p) = io_port {
        row.set("tags", str_map([("in_out_port", p)]));
    }
    if let Some(meter) = meter {
        row.set("controller_meter", Datum::from(Atom::string(meter)));
    }
    row
}

/// What makes a match (of an ACL, a router policy) unreadable to any
/// parser, if anything: nothing but blanks, a string literal left open, unbalanced parentheses or braces, or
/// a trailing operator. (Unknown fields and type errors are not seen.)
pub(crate) fn match_problem(m: &str) -> Option<&'static str> {
    if m.trim().is_empty() {
        return Some("empty");
    }
    let mut open: Vec<char> = Vec::new();
    let mut chars = m.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => loop {
                match chars.next() {
                    None => return Some("string literal left open"),
                    Some('\\') => {
                        chars.next();
                    }
                    Some('"') => break,
                    Some(_) => {}
                }
            },
            '(' | '{' => open.push(c),
            ')' | '}' => {
                let want = if c == ')' { '(' } else { '{' };
                if open.pop() != Some(want) {
                    return Some("unbalanced parentheses or braces");
                }
            }
            _ => {}
        }
    }
    if !open.is_empty() {
        return Some("unbalanced parentheses or braces");
    }
    let end = m.trim_end();
    end.ends_with(['=', '!', '<', '>', '&', '|']).then_some("ends with an operator")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stage::Stage;
    use crate::tests::replica;

    /// Regression: router ports sharing a MAC (two of one router, one of
    /// another) built the same flows once per port, written as rows that
    /// differed only in their stage hint.
    #[test]
    fn ports_sharing_a_mac_give_each_flow_once() {
        let nb = replica(
            "ovn-nb.ovsschema",
            r#"{
            "Logical_Router": {
                "00000000-0000-0000-0000-000000000001": {"initial": {"name": "lr2",
                    "ports": ["set", [["uuid", "00000000-0000-0000-0000-000000000011"],
                                      ["uuid", "00000000-0000-0000-0000-000000000012"]]]}},
                "00000000-0000-0000-0000-000000000002": {"initial": {"name": "lr3",
                    "ports": ["uuid", "00000000-0000-0000-0000-000000000013"]}}},
            "Logical_Router_Port": {
                "00000000-0000-0000-0000-000000000011": {"initial": {"name": "a",
                    "mac": "00:00:00:00:ee:01", "networks": "10.1.1.1/24"}},
                "00000000-0000-0000-0000-000000000012": {"initial": {"name": "b",
                    "mac": "00:00:00:00:ee:01", "networks": "10.1.2.1/24"}},
                "00000000-0000-0000-0000-000000000013": {"initial": {"name": "c",
                    "mac": "00:00:00:00:ee:01", "networks": "10.1.1.254/24"}}
            }
        }"#,
        );
        let out = crate::compile(&nb, &replica("ovn-sb.ovsschema", "{}"));
        assert_eq!(crate::invariants::identical_rows(&out), Vec::<String>::new());
        let lla = "ip6.dst == {fe80::200:ff:fe00:ee01}";
        let rows: Vec<&DesiredRow> = out
            .rows("Logical_Flow")
            .iter()
            .filter(|r| r.get("match").and_then(|m| m.as_atom()?.as_str()) == Some(lla))
            .collect();
        assert_eq!(rows.len(), 1, "{rows:#?}");
        assert!(rows[0].get("logical_dp_group").is_some(), "shared by lr2 and lr3: {rows:#?}");
    }

    /// Flows that differ only in the NB row they come from fold into one
    /// row with the lowest hint; flows that differ in anything else stay
    /// apart.
    #[test]
    fn flows_differing_only_in_hint_fold() {
        let mut flows = crate::output::Flows::default();
        let uuid = |n: u128| ovsdb::Uuid::from_u128(n << 96);
        flows.add(DpId(0), Stage::LrInIpInput, 60, "m", "drop;").hint(uuid(2));
        flows.add(DpId(0), Stage::LrInIpInput, 60, "m", "drop;").hint(uuid(1));
        flows.add(DpId(1), Stage::LrInIpInput, 60, "m", "drop;").hint(uuid(3));
        flows.add(DpId(1), Stage::LrInIpInput, 60, "m", "drop;").io_port("p");
        let mut out = Output::default();
        to_rows(flows.into_vec(), &mut out);
        let rows = out.rows("Logical_Flow");
        assert_eq!(rows.len(), 2, "{rows:#?}");
        assert!(rows.iter().any(
            |r| r.get("logical_dp_group").is_some() && format!("{:?}", r.get("external_ids")).contains("00000001")
        ));
        assert_eq!(out.rows("Logical_DP_Group").len(), 1);
    }

    /// The same ACL written on two switches: one flow for both, in a
    /// group, with the lower of the two hints, whatever the order.
    #[test]
    fn flows_differing_only_in_hint_are_one() {
        let (low, high): (ovsdb::Uuid, ovsdb::Uuid) = (
            "00000000-0000-0000-0000-0000000000a1".parse().unwrap(),
            "00000000-0000-0000-0000-0000000000a2".parse().unwrap(),
        );
        for order in [[(0, high), (1, low)], [(1, low), (0, high)]] {
            let mut flows = crate::output::Flows::default();
            for (dp, hint) in order {
                flows.add(DpId(dp), Stage::LsOutAcl, 2000, "ip4", "/* drop */").hint(hint);
            }
            let mut out = Output::default();
            to_rows(flows.into_vec(), &mut out);
            let rows = out.rows("Logical_Flow");
            assert_eq!(rows.len(), 1);
            assert_eq!(rows[0].get("logical_dp_group"), Some(&reference("g0")));
            assert_eq!(
                rows[0].get("external_ids"),
                Some(&str_map([("stage-name", "ls_out_acl"), ("stage-hint", "00000000")]))
            );
            assert_eq!(out.rows("Logical_DP_Group").len(), 1);
        }
    }
}
