//! Tunnel keys: a datapath or port keeps the key SB already gives it, a
//! `requested-tnl-key` is honoured when free, and the rest get the lowest
//! free key, handed out in NB UUID order so that the result does not depend
//! on hash order.

use std::collections::{BTreeSet, HashMap};

use ovsdb::Uuid;

use super::{DpNb, Model, PortNb};
use crate::input::{nb, sb};
use crate::output::Diagnostic;

/// Datapath keys: 1 to 2^24 - 1 (the range `max_tunid` allows with Geneve).
const DP_KEYS: std::ops::RangeInclusive<i64> = 1..=(1 << 24) - 1;
/// Port keys: 1 to 32767 (higher values are multicast groups).
const PORT_KEYS: std::ops::RangeInclusive<i64> = 1..=32767;

/// Lowest key in `range` not in `used`.
fn lowest_free(used: &BTreeSet<i64>, range: std::ops::RangeInclusive<i64>) -> Option<i64> {
    let mut next = *range.start();
    for &k in used.range(range.clone()) {
        if k > next {
            break;
        }
        next = k + 1;
    }
    (next <= *range.end()).then_some(next)
}

pub(super) fn assign(m: &mut Model<'_>, diags: &mut Vec<Diagnostic>) {
    // Datapaths: existing keys by NB UUID.
    let mut existing: HashMap<Uuid, i64> = HashMap::new();
    for d in sb::DatapathBinding::all(m.sb) {
        let ids = d.external_ids();
        if let Some(u) = ids.get("logical-switch").or(ids.get("logical-router")).and_then(|u| u.parse().ok()) {
            existing.insert(u, d.tunnel_key());
        }
    }
    let mut used = BTreeSet::new();
    let mut order: Vec<usize> = (0..m.datapaths.len()).collect();
    order.sort_by_key(|&i| m.datapaths[i].uuid);
    // Requested keys first, then kept keys, then new ones.
    for &i in &order {
        let requested = match m.datapaths[i].nb {
            DpNb::Switch(s) => s.other_config().get_int("requested-tnl-key"),
            DpNb::Router(r) => r.options().get_int("requested-tnl-key"),
        };
        if let Some(k) = requested.filter(|k| DP_KEYS.contains(k)) {
            if used.insert(k) {
                m.datapaths[i].tunnel_key = k;
            } else {
                diags.push(Diagnostic {
                    table: if m.datapaths[i].is_switch() { nb::LogicalSwitch::TABLE } else { nb::LogicalRouter::TABLE },
                    row: m.datapaths[i].name.to_string(),
                    message: format!("requested tunnel key {k} is already in use"),
                });
            }
        }
    }
    for &i in &order {
        if m.datapaths[i].tunnel_key == 0 {
            if let Some(&k) = existing.get(&m.datapaths[i].uuid) {
                if used.insert(k) {
                    m.datapaths[i].tunnel_key = k;
                }
            }
        }
    }
    for &i in &order {
        if m.datapaths[i].tunnel_key == 0 {
            if let Some(k) = lowest_free(&used, DP_KEYS) {
                used.insert(k);
                m.datapaths[i].tunnel_key = k;
            }
        }
    }

    // Ports, per datapath: existing keys by name (when still on the same
    // datapath).
    let dp_by_key: HashMap<Uuid, i64> = sb::DatapathBinding::all(m.sb).map(|d| (d.uuid(), d.tunnel_key())).collect();
    let mut existing: HashMap<&str, (i64, i64)> = HashMap::new();
    for pb in sb::PortBinding::all(m.sb) {
        if let Some(dk) = pb.datapath_uuids().next().and_then(|u| dp_by_key.get(&u)) {
            existing.insert(pb.logical_port(), (*dk, pb.tunnel_key()));
        }
    }
    for d in 0..m.datapaths.len() {
        let dk = m.datapaths[d].tunnel_key;
        let dp = m.datapaths[d].id;
        // The datapath's ports in NB UUID order, then its chassis-redirect
        // ports: (slot, name, requested key).
        let mut order: Vec<(Slot, &str, Option<i64>, Uuid)> = m.datapaths[d]
            .ports
            .iter()
            .map(|&i| {
                let requested = match m.ports[i].nb {
                    PortNb::Switch(p) => p.options().get_int("requested-tnl-key"),
                    PortNb::Router(p) => p.options().get_int("requested-tnl-key"),
                };
                (Slot::Port(i), m.ports[i].name, requested, m.ports[i].uuid)
            })
            .collect();
        order.sort_by_key(|s| s.3);
        for (c, cr) in m.chassis_redirect.iter().enumerate() {
            if m.ports[cr.port].dp == dp {
                order.push((Slot::Cr(c), "", None, Uuid::default()));
            }
        }
        let mut keys = vec![0i64; order.len()];
        let mut used = BTreeSet::new();
        for (n, (_, _, requested, _)) in order.iter().enumerate() {
            if let Some(k) = requested.filter(|k| PORT_KEYS.contains(k)) {
                if used.insert(k) {
                    keys[n] = k;
                }
            }
        }
        for (n, (slot, name, _, _)) in order.iter().enumerate() {
            let name = match slot {
                Slot::Port(_) => name,
                Slot::Cr(c) => m.chassis_redirect[*c].name.as_str(),
            };
            if keys[n] == 0 {
                if let Some(&(edk, k)) = existing.get(name) {
                    if edk == dk && used.insert(k) {
                        keys[n] = k;
                    }
                }
            }
        }
        for key in keys.iter_mut().filter(|k| **k == 0) {
            if let Some(k) = lowest_free(&used, PORT_KEYS) {
                used.insert(k);
                *key = k;
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
    use super::*;

    #[test]
    fn lowest_free_skips_used() {
        let used: BTreeSet<i64> = [1, 2, 4].into_iter().collect();
        assert_eq!(lowest_free(&used, 1..=10), Some(3));
        let full: BTreeSet<i64> = (1..=3).collect();
        assert_eq!(lowest_free(&full, 1..=3), None);
    }
}
