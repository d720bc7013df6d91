//! The logical flows of every pipeline, one module per group of stages as
//! `ovn-northd(8)` describes them, the control plane protection meters
//! set on them (`copp`), and the folding of flows that several datapaths
//! share into `Logical_DP_Group`s.

pub mod copp;
pub mod router;
pub mod switch;

use std::collections::BTreeMap;

use ovsdb::{Atom, Datum};

use crate::output::{reference, str_map, DesiredRow, DpId, Lflow, Output};

/// What makes a flow the same flow on several datapaths: its content
/// apart from its datapath and its hint.
type FlowBody<'a> = (&'a crate::stage::Stage, u16, &'a str, &'a str, Option<&'a str>, Option<&'a str>);

/// Turns flows into `Logical_Flow` rows: a flow present on one datapath
/// names it; a flow present on several names a `Logical_DP_Group` of
/// them, one group row per distinct set of datapaths.
///
/// Flows that differ only in their hint (`external_ids:stage-hint`, e.g.
/// the same ACL written on two switches) are one flow, as in the
/// reference, which keeps the hint of the datapath it built first (an
/// order of its hash tables); the lowest hint is kept here.
pub fn to_rows(flows: Vec<Lflow>, out: &mut Output) {
    let mut by_body: BTreeMap<FlowBody<'_>, (Vec<DpId>, Option<ovsdb::Uuid>)> = BTreeMap::new();
    for f in &flows {
        let body =
            (&f.stage, f.priority, f.match_.as_str(), f.actions.as_str(), f.io_port.as_deref(), f.meter.as_deref());
        let (dps, hint) = by_body.entry(body).or_insert_with(|| (Vec::new(), f.hint));
        dps.push(f.dp);
        *hint = (*hint).min(f.hint);
    }
    let mut groups: BTreeMap<Vec<DpId>, String> = BTreeMap::new();
    let mut rows = Vec::with_capacity(by_body.len());
    for ((stage, priority, m, a, io_port, meter), (mut dps, hint)) in by_body {
        dps.sort();
        dps.dedup();
        let mut row = DesiredRow::new(None);
        if dps.len() == 1 {
            row.set("logical_datapath", reference(&dps[0].row_id()));
        } else {
            let next = groups.len();
            let id = groups.entry(dps).or_insert_with(|| format!("g{next}")).clone();
            row.set("logical_dp_group", reference(&id));
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::Flows;
    use crate::stage::Stage;

    /// The same ACL written on two switches: one flow for both, in a
    /// group, with the lower of the two hints, whatever the order.
    #[test]
    fn flows_differing_only_in_hint_are_one() {
        let (low, high): (ovsdb::Uuid, ovsdb::Uuid) = (
            "00000000-0000-0000-0000-0000000000a1".parse().unwrap(),
            "00000000-0000-0000-0000-0000000000a2".parse().unwrap(),
        );
        for order in [[(0, high), (1, low)], [(1, low), (0, high)]] {
            let mut flows = Flows::default();
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
