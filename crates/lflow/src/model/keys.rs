//! Tunnel keys (ovn-sb(5) `Datapath_Binding`, `Port_Binding`,
//! `Multicast_Group` `tunnel_key`; ovn-nb(5) `requested-tnl-key`): a
//! `requested-tnl-key` is honoured first (a second request for the same key
//! is reported and treated as no request), then a datapath or port keeps
//! the key SB already gives it, and the rest get the lowest free key,
//! handed out in NB UUID order (datapaths: switches before routers, as the
//! reference does) so that the result does not depend on hash order. A
//! port keeps its key only on the datapath of the same NB switch or router
//! (which may itself have a new key). Chassis-redirect ports take port keys
//! on their router after its ports. Multicast group keys are the fixed ones
//! above the port range (see `bindings`) and, for learned groups, `igmp`'s.

use std::collections::hash_map::Entry;
use std::collections::BTreeSet;

use foldhash::{HashMap, HashMapExt};

use ovsdb::Uuid;

use super::{DpNb, Model};
use crate::input::{nb, sb};
use crate::output::Diagnostic;

type Keys = std::ops::RangeInclusive<i64>;

/// The key ranges in use: Geneve (and STT) carry 24 bits of datapath and 15
/// bits of port; once a chassis uses VXLAN, 12 bits of datapath and 11 of
/// port (ovn-architecture(7), "VXLAN tunnels").
struct Ranges {
    /// Keys a switch or router may request.
    dp: Keys,
    /// Keys northd hands out itself: up to `max_tunid`. With Geneve the top
    /// 2^16 - 1 keys are left for interconnection's global datapaths.
    dp_local: Keys,
    /// Port keys (the values above are multicast groups).
    port: Keys,
}

const GENEVE: Ranges = Ranges { dp: 1..=(1 << 24) - 1, dp_local: 1..=(1 << 24) - (1 << 16), port: 1..=(1 << 15) - 1 };
const VXLAN: Ranges = Ranges { dp: 1..=(1 << 12) - 1, dp_local: 1..=(1 << 12) - 1, port: 1..=(1 << 11) - 1 };

/// Some chassis tunnels with VXLAN, which narrows every key range.
pub fn vxlan_mode(sb: &ovsdb::Replica) -> bool {
    sb::Chassis::all(sb).any(|c| c.encaps().any(|e| e.type_() == "vxlan"))
}

/// `max_tunid`: the highest datapath key northd hands out.
pub fn max_tunid(sb: &ovsdb::Replica) -> i64 {
    *if vxlan_mode(sb) { VXLAN.dp_local.end() } else { GENEVE.dp_local.end() }
}

/// Lowest key in `range` not in `used`.
pub(crate) fn lowest_free(used: &BTreeSet<i64>, range: Keys) -> Option<i64> {
    let mut next = *range.start();
    for &k in used.range(range.clone()) {
        if k > next {
            break;
        }
        next = k + 1;
    }
    (next <= *range.end()).then_some(next)
}

/// The option naming a tunnel key a datapath or port asks for (a value
/// that is not a number is reported and ignored, as the reference ignores
/// it).
pub(super) const REQUESTED: &str = "requested-tnl-key";

/// `nb_of_sb`: the NB datapath of each SB one (`Model::nb_of_sb`).
pub(super) fn assign(m: &mut Model<'_>, nb_of_sb: &HashMap<Uuid, Uuid>, diags: &mut Vec<Diagnostic>) {
    let r = if vxlan_mode(m.sb) { VXLAN } else { GENEVE };
    // Datapaths: existing keys by NB UUID.
    let existing: HashMap<Uuid, i64> =
        sb::DatapathBinding::all(m.sb).filter_map(|d| Some((*nb_of_sb.get(&d.uuid())?, d.tunnel_key()))).collect();
    let mut used = BTreeSet::new();
    let mut order: Vec<usize> = (0..m.datapaths.len()).collect();
    // Switches before routers, as the reference hands them out.
    order.sort_by_key(|&i| (!m.datapaths[i].is_switch(), m.datapaths[i].uuid));
    // Requested keys first, then kept keys, then new ones.
    for &i in &order {
        let (table, name) = (m.datapaths[i].table(), m.datapaths[i].name);
        let (column, map) = match m.datapaths[i].nb {
            DpNb::Switch(s) => ("other_config", s.other_config()),
            DpNb::Router(r) => ("options", r.options()),
        };
        let Some(k) = map.get_int_reported(REQUESTED, column, (table, name), diags) else { continue };
        let problem = if !r.dp.contains(&k) {
            format!("out of range {}-{}, ignored", r.dp.start(), r.dp.end())
        } else if !used.insert(k) {
            "already in use, ignored".to_string()
        } else {
            m.datapaths[i].tunnel_key = k;
            continue;
        };
        diags.push(Diagnostic::new(table, name, &format!("{column}:{REQUESTED}"), &k.to_string(), &problem));
    }
    for &i in &order {
        if m.datapaths[i].tunnel_key == 0 {
            if let Some(&k) = existing.get(&m.datapaths[i].uuid) {
                if r.dp.contains(&k) && used.insert(k) {
                    m.datapaths[i].tunnel_key = k;
                }
            }
        }
    }
    for &i in &order {
        if m.datapaths[i].tunnel_key == 0 {
            if let Some(k) = lowest_free(&used, r.dp_local.clone()) {
                used.insert(k);
                m.datapaths[i].tunnel_key = k;
            } else {
                let dp = &m.datapaths[i];
                diags.push(Diagnostic {
                    table: dp.table(),
                    row: dp.name.to_string(),
                    message: "no datapath tunnel key is free, datapath left without one".into(),
                });
            }
        }
    }

    // Ports, per datapath: existing keys by name, when the binding is on the
    // SB datapath of the same NB switch or router (whatever key that
    // datapath gets now).
    let existing = |sb_key: Option<(Uuid, i64)>| {
        let (dp, key) = sb_key?;
        Some((*nb_of_sb.get(&dp)?, key))
    };
    for d in 0..m.datapaths.len() {
        let dk = m.datapaths[d].uuid;
        let dp = m.datapaths[d].id;
        // The datapath's ports, then its chassis-redirect ports: (slot,
        // name, requested key, NB UUID). Where two compete for a key, the
        // lower UUID wins (a port before a chassis-redirect port, those in
        // their order): only the few that compete are sorted (at 30,000
        // pods sorting every port was half of this).
        let mut order: Vec<(Slot, &str, Option<i64>, Uuid)> = m.datapaths[d]
            .ports
            .iter()
            .map(|&i| {
                let port = &m.ports[i];
                let requested = port.requested_key().and_then(|v| {
                    crate::input::int_reported(v, "options", REQUESTED, (port.table(), port.name()), diags)
                });
                (Slot::Port(i), port.name(), requested, port.uuid())
            })
            .collect();
        let n_ports = order.len();
        for (c, cr) in m.chassis_redirect.iter().enumerate() {
            if m.ports[cr.port].dp == dp {
                order.push((Slot::Cr(c), "", None, Uuid::default()));
            }
        }
        let rank = |n: usize| (n >= n_ports, order[n].3, n);
        let mut keys = vec![0i64; order.len()];
        // Key -> the holder (its place in `order`).
        let mut used: HashMap<i64, usize> = HashMap::with_capacity(order.len());
        let mut requesting: Vec<usize> = (0..order.len()).filter(|&n| order[n].2.is_some()).collect();
        requesting.sort_by_key(|&n| rank(n));
        for n in requesting {
            let (slot, name, requested, _) = &order[n];
            let Some(k) = *requested else { continue };
            let problem = if !r.port.contains(&k) {
                format!("out of range {}-{}, ignored", r.port.start(), r.port.end())
            } else if let Entry::Vacant(slot) = used.entry(k) {
                slot.insert(n);
                keys[n] = k;
                continue;
            } else {
                "already in use, ignored".to_string()
            };
            let table = match slot {
                Slot::Port(i) => m.ports[*i].table(),
                Slot::Cr(_) => nb::LogicalSwitchPort::TABLE,
            };
            diags.push(Diagnostic::new(table, name, &format!("options:{REQUESTED}"), &k.to_string(), &problem));
        }
        // The keys the ports had, unless requested by another.
        for (n, (slot, _, _, _)) in order.iter().enumerate() {
            if keys[n] != 0 {
                continue;
            }
            let sb_key = match slot {
                Slot::Port(i) => m.ports[*i].sb_key(),
                Slot::Cr(c) => m.binding_of(&m.chassis_redirect[*c].name).and_then(super::sb_key),
            };
            let Some((edp, k)) = existing(sb_key) else { continue };
            if edp != dk || !r.port.contains(&k) {
                continue;
            }
            match used.entry(k) {
                Entry::Vacant(slot) => {
                    slot.insert(n);
                }
                Entry::Occupied(mut holder) => {
                    let h = *holder.get();
                    if keys[h] == 0 && rank(n) < rank(h) {
                        holder.insert(n);
                    }
                }
            }
        }
        for (&k, &n) in &used {
            keys[n] = k;
        }
        // Keys are handed out lowest first, so the next free one is never
        // below the last one handed out.
        let mut fresh: Vec<usize> = (0..order.len()).filter(|&n| keys[n] == 0).collect();
        fresh.sort_by_key(|&n| rank(n));
        let mut next = *r.port.start();
        for n in fresh {
            while used.contains_key(&next) {
                next += 1;
            }
            if r.port.contains(&next) {
                used.insert(next, n);
                keys[n] = next;
            } else {
                let port = match &order[n].0 {
                    Slot::Port(_) => order[n].1,
                    Slot::Cr(c) => m.chassis_redirect[*c].name.as_str(),
                };
                diags.push(Diagnostic {
                    table: m.datapaths[d].table(),
                    row: m.datapaths[d].name.to_string(),
                    message: format!("no port tunnel key is free, port {port} left without one"),
                });
            }
        }
        for ((slot, ..), k) in order.into_iter().zip(keys) {
            match slot {
                Slot::Port(i) => m.ports[i].tunnel_key = k,
                Slot::Cr(c) => m.chassis_redirect[c].tunnel_key = k,
            }
        }
    }
}

/// A holder of a port key: a port, or a chassis-redirect port (indexes).
#[derive(Clone, Copy)]
enum Slot {
    Port(usize),
    Cr(usize),
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::model::testutil::u;
    use crate::model::Model;
    use crate::tests::replica;

    #[test]
    fn lowest_free_skips_used() {
        let used: BTreeSet<i64> = [1, 2, 4].into_iter().collect();
        assert_eq!(lowest_free(&used, 1..=10), Some(3));
        let full: BTreeSet<i64> = (1..=3).collect();
        assert_eq!(lowest_free(&full, 1..=3), None);
    }

    fn keys(nb: &str, sb: &str) -> (BTreeMap<String, i64>, Vec<Diagnostic>) {
        let nb = replica("ovn-nb.ovsschema", nb);
        let sb = replica("ovn-sb.ovsschema", sb);
        let mut diags = Vec::new();
        let memo = crate::model::memo::PortMemo::of(&nb, &sb);
        let m = Model::build(&nb, &sb, &memo, BTreeMap::new(), &mut diags);
        let mut out: BTreeMap<String, i64> = m.datapaths.iter().map(|d| (d.name.to_string(), d.tunnel_key)).collect();
        out.extend(m.ports.iter().map(|p| (p.name().to_string(), p.tunnel_key)));
        out.extend(m.chassis_redirect.iter().map(|c| (c.name.clone(), c.tunnel_key)));
        (out, diags)
    }

    /// Three switches: `a` requests key 5, which SB gives `b`; `c` has key 7
    /// in SB. On `a`: `p1` requests port key 3, which SB gives `p2`; `p3`
    /// has key 9 in SB.
    fn topology() -> (String, String) {
        let (a, b, c) = (u(1), u(2), u(3));
        let nb = format!(
            r#"{{"Logical_Switch": {{
                "{a}": {{"initial": {{"name": "a", "other_config": ["map", [["requested-tnl-key", "5"]]],
                    "ports": ["set", [["uuid", "{p1}"], ["uuid", "{p2}"], ["uuid", "{p3}"]]]}}}},
                "{b}": {{"initial": {{"name": "b"}}}},
                "{c}": {{"initial": {{"name": "c"}}}}}},
              "Logical_Switch_Port": {{
                "{p1}": {{"initial": {{"name": "p1", "options": ["map", [["requested-tnl-key", "3"]]]}}}},
                "{p2}": {{"initial": {{"name": "p2"}}}},
                "{p3}": {{"initial": {{"name": "p3"}}}}}}}}"#,
            p1 = u(11),
            p2 = u(12),
            p3 = u(13)
        );
        let sb = format!(
            r#"{{"Datapath_Binding": {{
                "{da}": {{"initial": {{"tunnel_key": 4, "external_ids": ["map", [["logical-switch", "{a}"]]]}}}},
                "{db}": {{"initial": {{"tunnel_key": 5, "external_ids": ["map", [["logical-switch", "{b}"]]]}}}},
                "{dc}": {{"initial": {{"tunnel_key": 7, "external_ids": ["map", [["logical-switch", "{c}"]]]}}}}}},
              "Port_Binding": {{
                "{pb2}": {{"initial": {{"logical_port": "p2", "tunnel_key": 3, "datapath": ["uuid", "{da}"]}}}},
                "{pb3}": {{"initial": {{"logical_port": "p3", "tunnel_key": 9, "datapath": ["uuid", "{da}"]}}}}}}}}"#,
            da = u(101),
            db = u(102),
            dc = u(103),
            pb2 = u(112),
            pb3 = u(113)
        );
        (nb, sb)
    }

    #[test]
    fn requested_keys_win_existing_keys_stay_new_keys_fill_gaps() {
        let (nb, sb) = topology();
        let (k, diags) = keys(&nb, &sb);
        assert!(diags.is_empty(), "{diags:?}");
        // a gets its requested key although SB gave it 4 and b holds 5; b
        // then takes the lowest free key; c keeps 7.
        assert_eq!((k["a"], k["b"], k["c"]), (5, 1, 7));
        // p1 gets its request; p2 loses 3 and takes the lowest free; p3
        // keeps 9: its binding is on a's datapath, whose key changed.
        assert_eq!((k["p1"], k["p2"], k["p3"]), (3, 1, 9));
    }

    #[test]
    fn port_keys_stay_when_the_datapath_keeps_its_key() {
        let (nb, sb) = topology();
        let nb = nb.replace(r#""other_config": ["map", [["requested-tnl-key", "5"]]],"#, "");
        let (k, _) = keys(&nb, &sb);
        assert_eq!((k["a"], k["b"], k["c"]), (4, 5, 7));
        assert_eq!((k["p1"], k["p2"], k["p3"]), (3, 1, 9));
    }

    #[test]
    fn requested_key_taken_twice_is_reported() {
        let nb = format!(
            r#"{{"Logical_Switch": {{
                "{a}": {{"initial": {{"name": "a", "other_config": ["map", [["requested-tnl-key", "5"]]]}}}},
                "{b}": {{"initial": {{"name": "b", "other_config": ["map", [["requested-tnl-key", "5"]]]}}}}}}}}"#,
            a = u(1),
            b = u(2)
        );
        let (k, diags) = keys(&nb, "{}");
        assert_eq!((k["a"], k["b"]), (5, 1));
        assert!(diags.iter().any(|d| d.row == "b" && d.message.contains("already in use")), "{diags:?}");
        let (k, diags) = keys(&nb.replacen("\"5\"", "\"16777216\"", 1), "{}");
        assert_eq!((k["a"], k["b"]), (1, 5));
        assert!(diags.iter().any(|d| d.row == "a" && d.message.contains("out of range")), "{diags:?}");
    }

    /// Switch `a` with `ports` (name, more of its columns as JSON: `,
    /// "options": ...`), the n-th of UUID `u(21 + n)`; its SB datapath
    /// (key 4) with `bindings` (port name, key).
    fn switch_a(ports: &[(&str, &str)], bindings: &[(&str, i64)]) -> (String, String) {
        let refs: Vec<String> = (0..ports.len()).map(|n| format!(r#"["uuid", "{}"]"#, u(21 + n as u32))).collect();
        let rows: Vec<String> = ports
            .iter()
            .enumerate()
            .map(|(n, (name, more))| format!(r#""{}": {{"initial": {{"name": "{name}"{more}}}}}"#, u(21 + n as u32)))
            .collect();
        let nb = format!(
            r#"{{"Logical_Switch": {{"{a}": {{"initial": {{"name": "a", "ports": ["set", [{}]]}}}}}},
              "Logical_Switch_Port": {{{}}}}}"#,
            refs.join(", "),
            rows.join(", "),
            a = u(1)
        );
        let rows: Vec<String> = bindings
            .iter()
            .enumerate()
            .map(|(n, (port, key))| {
                format!(
                    r#""{}": {{"initial": {{"logical_port": "{port}", "tunnel_key": {key}, "datapath": ["uuid", "{}"]}}}}"#,
                    u(121 + n as u32),
                    u(101)
                )
            })
            .collect();
        let sb = format!(
            r#"{{"Datapath_Binding": {{"{da}": {{"initial": {{"tunnel_key": 4,
                    "external_ids": ["map", [["logical-switch", "{a}"]]]}}}}}},
              "Port_Binding": {{{}}}}}"#,
            rows.join(", "),
            da = u(101),
            a = u(1)
        );
        (nb, sb)
    }

    /// Two bindings on a switch's datapath hold one key (written by
    /// another tool): the port of the lower NB UUID keeps it, whatever the
    /// names' order, and the other takes the lowest free key.
    #[test]
    fn a_key_two_bindings_hold_stays_with_the_lower_uuid() {
        let (nb, sb) = switch_a(&[("zz", ""), ("aa", ""), ("mm", "")], &[("zz", 3), ("aa", 3), ("mm", 1)]);
        let (k, _) = keys(&nb, &sb);
        assert_eq!((k["zz"], k["aa"], k["mm"]), (3, 2, 1));
    }

    /// Both ports of a switch have keys; one asks for another key: it gets
    /// it, the other keeps its own (without the request both keep theirs).
    #[test]
    fn a_port_with_a_key_that_asks_for_another_gets_it() {
        let request = r#", "options": ["map", [["requested-tnl-key", "7"]]]"#;
        let (nb, sb) = switch_a(&[("x", ""), ("y", request)], &[("x", 1), ("y", 2)]);
        let (k, diags) = keys(&nb, &sb);
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!((k["x"], k["y"]), (1, 7));
        let (k, _) = keys(&nb.replace(request, ""), &sb);
        assert_eq!((k["x"], k["y"]), (1, 2), "both kept without the request");
    }

    /// A requested key that is not a number, or out of range, is reported
    /// naming the table, the row and the column, and ignored.
    #[test]
    fn unusable_requested_keys_are_reported() {
        let (nb, sb) = topology();
        let nb = nb
            .replace(r#"["requested-tnl-key", "5"]"#, r#"["requested-tnl-key", "abc"]"#)
            .replace(r#"["requested-tnl-key", "3"]"#, r#"["requested-tnl-key", "40000"]"#);
        let (k, diags) = keys(&nb, &sb);
        assert_eq!((k["a"], k["p1"]), (4, 1));
        let diags: Vec<String> = diags.iter().map(ToString::to_string).collect();
        assert_eq!(
            diags,
            [
                "Logical_Switch a: other_config:requested-tnl-key 'abc': not a number, ignored",
                "Logical_Switch_Port p1: options:requested-tnl-key '40000': out of range 1-32767, ignored",
            ]
        );
    }

    #[test]
    fn chassis_redirect_ports_share_the_router_key_space() {
        let nb = format!(
            r#"{{"Logical_Router": {{"{r}": {{"initial": {{"name": "r",
                    "ports": ["set", [["uuid", "{r1}"], ["uuid", "{r2}"]]]}}}}}},
              "Logical_Router_Port": {{
                "{r1}": {{"initial": {{"name": "r1", "mac": "00:00:00:00:00:01", "networks": "10.0.0.1/24",
                    "gateway_chassis": ["uuid", "{gc}"]}}}},
                "{r2}": {{"initial": {{"name": "r2", "mac": "00:00:00:00:00:02", "networks": "10.1.0.1/24"}}}}}},
              "Gateway_Chassis": {{"{gc}": {{"initial": {{"name": "r1-gw1", "chassis_name": "gw1", "priority": 1}}}}}}}}"#,
            r = u(1),
            r1 = u(11),
            r2 = u(12),
            gc = u(21)
        );
        let sb = format!(
            r#"{{"Datapath_Binding": {{"{d}": {{"initial": {{"tunnel_key": 1,
                    "external_ids": ["map", [["logical-router", "{r}"]]]}}}}}},
              "Port_Binding": {{"{pb}": {{"initial": {{"logical_port": "cr-r1", "tunnel_key": 1,
                    "datapath": ["uuid", "{d}"]}}}}}}}}"#,
            r = u(1),
            d = u(101),
            pb = u(111)
        );
        let (k, diags) = keys(&nb, &sb);
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!((k["cr-r1"], k["r1"], k["r2"]), (1, 2, 3));
    }

    /// With a VXLAN chassis, requests above 12 bits (datapaths) and 11 bits
    /// (ports) are refused and reported.
    #[test]
    fn vxlan_narrows_the_ranges() {
        let nb = format!(
            r#"{{"Logical_Switch": {{"{a}": {{"initial": {{"name": "a",
                    "other_config": ["map", [["requested-tnl-key", "5000"]]], "ports": ["uuid", "{p}"]}}}}}},
              "Logical_Switch_Port": {{"{p}": {{"initial": {{"name": "p",
                    "options": ["map", [["requested-tnl-key", "3000"]]]}}}}}}}}"#,
            a = u(1),
            p = u(11)
        );
        let sb = format!(
            r#"{{"Chassis": {{"{c}": {{"initial": {{"name": "hv1", "encaps": ["uuid", "{e}"]}}}}}},
              "Encap": {{"{e}": {{"initial": {{"type": "vxlan", "ip": "127.0.0.1", "chassis_name": "hv1"}}}}}}}}"#,
            c = u(201),
            e = u(202)
        );
        let (k, diags) = keys(&nb, &sb);
        assert_eq!((k["a"], k["p"]), (1, 1));
        assert_eq!(diags.len(), 2, "{diags:?}");
        assert!(diags.iter().all(|d| d.message.contains("out of range")));
        assert_eq!(max_tunid(&replica("ovn-sb.ovsschema", &sb)), 4095);
        let (k, diags) = keys(&nb, "{}");
        assert_eq!((k["a"], k["p"]), (5000, 3000));
        assert!(diags.is_empty());
    }
}
