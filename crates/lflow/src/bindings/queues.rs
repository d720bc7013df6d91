//! QoS queue ids (ovn-sb(5) Port_Binding `options:qdisc_queue_id`): a
//! switch port with `qos_max_rate`, `qos_burst` or `qos_min_rate` in its
//! options (any value) gets a queue id from 1 to 61440, which
//! ovn-controller configures on the chassis' physical interface and the
//! port security flows name in `set_queue`. As the reference does:
//!
//! - an id already in the port's SB binding is kept (a takeover rewrites
//!   nothing), even where it now collides with another port's;
//! - a port bound to a chassis gets the lowest id no other port bound to
//!   that chassis holds (ids are per chassis: they number the queues of
//!   one host's interface); ports that get one in the same compilation
//!   are served in NB UUID order, as tunnel keys are (the reference's
//!   order is its hash order);
//! - a localnet port has a queue of its own whatever the chassis: 1;
//! - any other port (not bound yet) gets none until a chassis claims it;
//! - a port without QoS options (and a router-type port) has none.
//!
//! Pure: reads the model and the SB bindings (their queue ids and
//! chassis), returns the ids.

use std::collections::{BTreeMap, BTreeSet};

use foldhash::{HashMap, HashMapExt};

use ovsdb::Uuid;

use crate::model::keys::lowest_free;
use crate::model::Model;

/// The highest queue id (ovn-sb(5): 1 to 61,440).
const MAX_QUEUE_ID: i64 = 61_440;

/// The queue ids of one compilation.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Queues<'a> {
    /// By port name.
    pub ids: BTreeMap<&'a str, i64>,
    /// Ports that asked for a queue on a chassis with every id taken.
    pub exhausted: Vec<&'a str>,
}

/// Assigns the queue ids of every switch port that asks for one
/// (`Port::asks_queue`: an option of `model::QOS_OPTIONS`).
pub(crate) fn assign<'a>(m: &Model<'a>) -> Queues<'a> {
    let mut q = Queues::default();
    let asking: Vec<_> = m.lists.queue_askers.iter().map(|&i| &m.ports[i]).filter(|p| super::live(m, p)).collect();
    if asking.is_empty() {
        return q;
    }
    let mut used: HashMap<Uuid, BTreeSet<i64>> = HashMap::new();
    let mut wanted = Vec::new();
    for p in asking {
        let pb = m.binding(p);
        let chassis = pb.and_then(|pb| pb.chassis_uuids().next());
        let kept =
            pb.and_then(|pb| pb.options().get_int("qdisc_queue_id")).filter(|id| (1..=MAX_QUEUE_ID).contains(id));
        match kept {
            Some(id) => {
                q.ids.insert(p.name(), id);
                if let Some(ch) = chassis.filter(|_| p.lsp_type() != "localnet") {
                    used.entry(ch).or_default().insert(id);
                }
            }
            None => wanted.push((p.uuid(), p.name(), p.lsp_type() == "localnet", chassis)),
        }
    }
    wanted.sort();
    for (_, name, localnet, chassis) in wanted {
        let id = match (localnet, chassis) {
            (true, _) => Some(1),
            (false, Some(ch)) => {
                let taken = used.entry(ch).or_default();
                let id = lowest_free(taken, 1..=MAX_QUEUE_ID);
                taken.extend(id);
                if id.is_none() {
                    q.exhausted.push(name);
                }
                id
            }
            (false, None) => None,
        };
        if let Some(id) = id {
            q.ids.insert(name, id);
        }
    }
    q
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::model::testutil::{named_row, u};
    use crate::tests::replica;

    /// The queue ids of the ports of one switch: `(name, extra NB
    /// columns)`, with SB bindings `(port, chassis n or 0, queue id or "")`
    /// on chassis `ch1` (n = 1) and `ch2` (n = 2).
    fn queues(ports: &[(&str, &str)], bindings: &[(&str, u32, &str)]) -> BTreeMap<String, i64> {
        let refs: Vec<String> = (0..ports.len()).map(|i| format!(r#"["uuid", "{}"]"#, u(100 + i as u32))).collect();
        let rows: Vec<String> =
            ports.iter().enumerate().map(|(i, (n, extra))| named_row(100 + i as u32, n, extra)).collect();
        let nb = format!(
            r#"{{"Logical_Switch": {{{}}}, "Logical_Switch_Port": {{{}}}}}"#,
            named_row(1, "sw", &format!(r#", "ports": ["set", [{}]]"#, refs.join(", "))),
            rows.join(", ")
        );
        let pbs: Vec<String> = bindings
            .iter()
            .enumerate()
            .map(|(i, (port, ch, q))| {
                let chassis = if *ch == 0 { String::new() } else { format!(r#", "chassis": ["uuid", "{}"]"#, u(*ch)) };
                let options = if q.is_empty() {
                    String::new()
                } else {
                    format!(r#", "options": ["map", [["qdisc_queue_id", "{q}"]]]"#)
                };
                format!(r#""{}": {{"initial": {{"logical_port": "{port}"{chassis}{options}}}}}"#, u(200 + i as u32))
            })
            .collect();
        let sb = format!(
            r#"{{"Chassis": {{{}, {}}}, "Port_Binding": {{{}}}}}"#,
            named_row(1, "ch1", ""),
            named_row(2, "ch2", ""),
            pbs.join(", ")
        );
        let (nb, sb) = (replica("ovn-nb.ovsschema", &nb), replica("ovn-sb.ovsschema", &sb));
        let memo = crate::model::memo::PortMemo::of(&nb, &sb);
        let m = Model::build(&nb, &sb, &memo, BTreeMap::new(), &mut Vec::new());
        assign(&m).ids.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }

    const QOS: &str = r#", "options": ["map", [["qos_max_rate", "1000"]]]"#;
    const LOCALNET_QOS: &str = r#", "type": "localnet", "options": ["map", [["qos_burst", ""]]]"#;

    fn ids(pairs: &[(&str, i64)]) -> BTreeMap<String, i64> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    /// Bound ports get the lowest id free on their chassis, in name
    /// order; ids are per chassis; an unbound port gets none; a localnet
    /// port gets 1 whatever else holds 1.
    #[test]
    fn lowest_free_per_chassis() {
        let got = queues(
            &[("a", QOS), ("b", QOS), ("c", QOS), ("d", QOS), ("ln", LOCALNET_QOS)],
            &[("a", 1, ""), ("b", 1, ""), ("c", 2, ""), ("d", 0, "")],
        );
        assert_eq!(got, ids(&[("a", 1), ("b", 2), ("c", 1), ("ln", 1)]));
    }

    /// Ids already in SB are kept, even a colliding one or one on an
    /// unbound port; new ones skip every kept id of the chassis; a bad or
    /// out-of-range id is replaced.
    #[test]
    fn kept_ids_win_and_are_skipped() {
        let got = queues(
            &[("a", QOS), ("b", QOS), ("c", QOS), ("d", QOS), ("e", QOS), ("ln", LOCALNET_QOS)],
            &[("a", 1, "1"), ("b", 1, "1"), ("c", 1, "0"), ("d", 0, "5"), ("e", 1, "61441"), ("ln", 0, "9")],
        );
        assert_eq!(got, ids(&[("a", 1), ("b", 1), ("c", 2), ("d", 5), ("e", 3), ("ln", 9)]));
    }

    /// A port without QoS options loses a stale id; a router-type port
    /// never gets one.
    #[test]
    fn no_qos_options_no_queue() {
        let got = queues(
            &[("a", QOS), ("b", ""), ("r", r#", "type": "router", "options": ["map", [["qos_burst", "1"]]]"#)],
            &[("a", 2, "7"), ("b", 2, "3"), ("r", 2, "")],
        );
        assert_eq!(got, ids(&[("a", 7)]));
    }

    /// Takeover from the reference: the queue ids it wrote are kept, so
    /// the plan leaves the bindings' options alone; a port that has none
    /// yet gets its option written.
    #[test]
    fn takeover_writes_no_option_the_reference_wrote() {
        let nb = format!(
            r#"{{"Logical_Switch": {{{}}}, "Logical_Switch_Port": {{{}, {}}}}}"#,
            named_row(1, "sw", &format!(r#", "ports": ["set", [["uuid", "{}"], ["uuid", "{}"]]]"#, u(11), u(12))),
            named_row(11, "vm1", QOS),
            named_row(12, "vm2", QOS),
        );
        let sb = format!(
            r#"{{"Chassis": {{{}}}, "Port_Binding": {{
                "{}": {{"initial": {{"logical_port": "vm1", "chassis": ["uuid", "{}"],
                    "options": ["map", [["qdisc_queue_id", "4"], ["qos_max_rate", "1000"]]]}}}},
                "{}": {{"initial": {{"logical_port": "vm2", "chassis": ["uuid", "{}"],
                    "options": ["map", [["qos_max_rate", "1000"]]]}}}}}}}}"#,
            named_row(1, "ch1", ""),
            u(21),
            u(1),
            u(22),
            u(1),
        );
        let (nb, sb) = (replica("ovn-nb.ovsschema", &nb), replica("ovn-sb.ovsschema", &sb));
        let plan = crate::sync::plan_sb(&crate::compile(&nb, &sb), &sb);
        let updates: Vec<String> = plan
            .ops
            .iter()
            .filter(|o| o.table() == Some("Port_Binding"))
            .map(|o| format!("{o:?}"))
            .filter(|o| o.contains("options"))
            .collect();
        assert_eq!(updates.len(), 1, "{updates:?}");
        assert!(
            updates[0].contains(&u(22)) && updates[0].contains(r#"String("qdisc_queue_id"), String("1")"#),
            "{updates:?}"
        );
    }
}
