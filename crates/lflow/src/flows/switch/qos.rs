//! QoS marking and metering (`ovn-northd(8)`, ingress tables 9-10
//! "from-lport QoS Marking" / "QoS Meter", egress tables 5-6): every
//! `qos_rules` row of a switch becomes, at its own priority, a flow that
//! sets the DSCP bits (`action:dscp`) and one that meters the packet
//! (`bandwidth:rate`, with `bandwidth:burst` when set), in the stages of
//! its direction; then the priority-0 fallbacks. It never writes a meter
//! row (a QoS meter is an anonymous `set_meter(rate, burst)`), and never
//! checks a rule's match, which it copies as the reference does.

use super::Switch;
use crate::input::nb;
use crate::output::{Diagnostic, Flows};
use crate::stage::Stage;

pub(super) fn build(sw: &Switch<'_, '_>, flows: &mut Flows, diags: &mut Vec<Diagnostic>) {
    let dp = sw.dp.id;
    for stage in [Stage::LsInQosMark, Stage::LsInQosMeter, Stage::LsOutQosMark, Stage::LsOutQosMeter] {
        flows.add(dp, stage, 0, "1", "next;");
    }
    let Some(ls) = sw.dp.switch() else { return };
    for q in ls.qos_rules() {
        let Some((mark, meter)) = stages(q.direction()) else {
            diags.push(diag(q, format!("unknown direction '{}', rule ignored", q.direction())));
            continue;
        };
        let Ok(priority) = u16::try_from(q.priority()) else {
            diags.push(diag(q, format!("priority {} out of range, rule ignored", q.priority())));
            continue;
        };
        if let Some(dscp) = integer(q.action(), "dscp") {
            flows.add(dp, mark, priority, q.match_(), format!("ip.dscp = {dscp}; next;")).hint(q.uuid());
        }
        match (integer(q.bandwidth(), "rate"), integer(q.bandwidth(), "burst")) {
            (Some(rate), burst) => {
                let args = burst.map_or(rate.to_string(), |b| format!("{rate}, {b}"));
                flows.add(dp, meter, priority, q.match_(), format!("set_meter({args}); next;")).hint(q.uuid());
            }
            (None, Some(_)) => diags.push(diag(q, "bandwidth has a burst but no rate, no meter flow".into())),
            (None, None) => {}
        }
    }
}

/// The marking and metering stages of a rule's direction.
fn stages(direction: &str) -> Option<(Stage, Stage)> {
    match direction {
        "from-lport" => Some((Stage::LsInQosMark, Stage::LsInQosMeter)),
        "to-lport" => Some((Stage::LsOutQosMark, Stage::LsOutQosMeter)),
        _ => None,
    }
}

/// The integer value of `key` in a string-to-integer map column.
fn integer(map: &ovsdb::Datum, key: &str) -> Option<i64> {
    map.get(&ovsdb::Atom::string(key)).and_then(ovsdb::Atom::as_integer)
}

fn diag(q: nb::Qos<'_>, message: String) -> Diagnostic {
    Diagnostic { table: nb::Qos::TABLE, row: q.uuid().to_string(), message }
}
