//! Learned IP multicast groups: the `IGMP_Group` rows ovn-controllers write
//! to SB (one per address, switch and chassis) folded into one group per
//! switch and address, and, on routers with `options:mcast_relay`, one
//! group per address learned on any connected switch. Each becomes a
//! `Multicast_Group` named after the address (ovn-northd(8), "Logical
//! Switch Datapaths", L2 lookup priority 90).
//!
//! Members, as the reference computes them: a switch group holds the ports
//! the chassis reported, except ports with `options:mcast_flood` (they get
//! all multicast through `_MC_static` anyway), plus every localnet port of
//! the switch; a switch group with no reported port left is not made. A
//! router group holds the router ports towards switches that have the
//! group, except router ports with `options:mcast_flood`.
//!
//! Keys: the range above the fixed groups, per datapath; a group keeps the
//! key SB already gives it, new ones get the lowest free key, in address
//! order. Pure: reads the model and SB, writes nothing.

use std::collections::{BTreeMap, BTreeSet};

use foldhash::{HashMap, HashMapExt};

use ovsdb::Uuid;

use super::Model;
use crate::input::sb;
use crate::output::DpId;

/// Keys of learned groups: above `_MC_flood` .. `_MC_flood_l2` and the
/// reserved `_MC_mrouter_static`.
const KEYS: std::ops::RangeInclusive<i64> = 32774..=65535;

/// One learned group on one datapath.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgmpGroup {
    pub dp: DpId,
    /// The IPv4 or IPv6 multicast address, the group's name.
    pub address: String,
    /// Indexes into `Model::ports`, ascending.
    pub ports: Vec<usize>,
    pub tunnel_key: i64,
}

impl IgmpGroup {
    /// `4` or `6`, the IP version of the group's address.
    pub fn family(&self) -> char {
        if self.address.contains(':') {
            '6'
        } else {
            '4'
        }
    }
}

/// The model datapath of each SB datapath (by their UUIDs).
fn dp_of_sb(m: &Model<'_>) -> HashMap<Uuid, DpId> {
    let by_nb: HashMap<Uuid, DpId> = m.datapaths.iter().map(|d| (d.uuid, d.id)).collect();
    m.nb_of_sb.iter().filter_map(|(sb, nb)| Some((*sb, *by_nb.get(nb)?))).collect()
}

pub(super) fn build(m: &Model<'_>) -> Vec<IgmpGroup> {
    // (Without learned groups, nothing to read: the keys' pass reads every
    // SB multicast group, 6,000 at 30,000 pods.)
    if sb::IgmpGroup::all(m.sb).next().is_none() {
        return Vec::new();
    }
    let dp_of_sb = dp_of_sb(m);
    let port_of_sb = |u: Uuid| m.port_by_name.get(sb::PortBinding::get(m.sb, &u)?.logical_port()).copied();
    // (switch, address) -> reported ports.
    let mut learned: BTreeMap<(DpId, String), BTreeSet<usize>> = BTreeMap::new();
    for g in sb::IgmpGroup::all(m.sb) {
        let Some(&dp) = g.datapath_uuids().next().and_then(|u| dp_of_sb.get(&u)) else { continue };
        if !m.dp(dp).is_switch() {
            continue;
        }
        let ports = g.ports_uuids().filter_map(port_of_sb).filter(|&i| m.ports[i].dp == dp);
        learned.entry((dp, g.address().to_string())).or_default().extend(ports);
    }
    let flood = |i: usize| match m.ports[i].nb() {
        Some(super::PortNb::Switch(p)) => p.options().get_bool("mcast_flood", false),
        Some(super::PortNb::Router(p)) => p.options().get_bool("mcast_flood", false),
        None => false,
    };
    let mut groups: BTreeMap<(DpId, String), BTreeSet<usize>> = BTreeMap::new();
    for ((dp, address), ports) in learned {
        let mut ports: BTreeSet<usize> = ports.into_iter().filter(|&i| !flood(i)).collect();
        if ports.is_empty() {
            continue;
        }
        ports.extend(m.dp(dp).ports.iter().copied().filter(|&i| m.ports[i].lsp_type() == "localnet"));
        // The relaying routers attached to this switch.
        for &i in &m.dp(dp).ports {
            let Some(rp) = m.ports[i].peer.filter(|_| m.ports[i].lsp_type() == "router") else { continue };
            let router = m.ports[rp].dp;
            let relay = m.dp(router).enabled()
                && m.dp(router).router().is_some_and(|r| r.options().get_bool("mcast_relay", false));
            if relay && !flood(rp) {
                groups.entry((router, address.clone())).or_default().insert(rp);
            }
        }
        groups.insert((dp, address), ports);
    }
    assign_keys(m, &dp_of_sb, groups)
}

/// Keys kept from SB (by datapath and name) where still free, the lowest
/// free one otherwise.
fn assign_keys(
    m: &Model<'_>,
    dp_of_sb: &HashMap<Uuid, DpId>,
    groups: BTreeMap<(DpId, String), BTreeSet<usize>>,
) -> Vec<IgmpGroup> {
    let mut existing: HashMap<(DpId, &str), i64> = HashMap::new();
    for g in sb::MulticastGroup::all(m.sb) {
        if let Some(&dp) = g.datapath_uuids().next().and_then(|u| dp_of_sb.get(&u)) {
            existing.insert((dp, g.name()), g.tunnel_key());
        }
    }
    let mut out: Vec<IgmpGroup> = groups
        .into_iter()
        .map(|((dp, address), ports)| IgmpGroup { dp, address, ports: ports.into_iter().collect(), tunnel_key: 0 })
        .collect();
    let mut used: BTreeMap<DpId, BTreeSet<i64>> = BTreeMap::new();
    for g in &mut out {
        let kept = existing.get(&(g.dp, g.address.as_str())).copied().filter(|k| KEYS.contains(k));
        if let Some(k) = kept.filter(|k| used.entry(g.dp).or_default().insert(*k)) {
            g.tunnel_key = k;
        }
    }
    for g in out.iter_mut().filter(|g| g.tunnel_key == 0) {
        let taken = used.entry(g.dp).or_default();
        if let Some(k) = super::keys::lowest_free(taken, KEYS) {
            taken.insert(k);
            g.tunnel_key = k;
        }
    }
    out.retain(|g| g.tunnel_key != 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::testutil::{named_row, u};
    use crate::tests::replica;

    /// sw0: vm1, vm2 (mcast_flood), a localnet port and a router port to
    /// lr0 (mcast_relay). SB: 239.0.1.1 learned on vm1 and vm2 (a
    /// `Multicast_Group` for it already has key 40000), 239.0.1.2 only on
    /// vm2, ff0e::1 on vm1.
    #[test]
    fn learned_groups_fold_per_switch_and_reach_relaying_routers() {
        let lsp = named_row;
        let sw = u(1);
        let nb = format!(
            r#"{{"Logical_Switch": {{"{sw}": {{"initial": {{"name": "sw0", "ports": ["set",
                    [["uuid", "{p1}"], ["uuid", "{p2}"], ["uuid", "{p3}"], ["uuid", "{p4}"]]]}}}}}},
              "Logical_Switch_Port": {{{}, {}, {}, {}}},
              "Logical_Router": {{"{lr}": {{"initial": {{"name": "lr0", "ports": ["uuid", "{rp}"],
                    "options": ["map", [["mcast_relay", "true"]]]}}}}}},
              "Logical_Router_Port": {{"{rp}": {{"initial": {{"name": "lr0-sw0", "mac": "00:00:00:00:ff:01",
                    "networks": "10.0.0.1/24"}}}}}}}}"#,
            lsp(11, "vm1", ""),
            lsp(12, "vm2", r#", "options": ["map", [["mcast_flood", "true"]]]"#),
            lsp(13, "ln", r#", "type": "localnet""#),
            lsp(14, "sw0-lr0", r#", "type": "router", "options": ["map", [["router-port", "lr0-sw0"]]]"#),
            lr = u(2),
            rp = u(21),
            p1 = u(11),
            p2 = u(12),
            p3 = u(13),
            p4 = u(14),
        );
        let sb = format!(
            r#"{{"Datapath_Binding": {{"{d}": {{"initial": {{"tunnel_key": 1,
                    "external_ids": ["map", [["logical-switch", "{sw}"]]]}}}}}},
              "Port_Binding": {{
                "{b1}": {{"initial": {{"logical_port": "vm1", "tunnel_key": 1, "datapath": ["uuid", "{d}"]}}}},
                "{b2}": {{"initial": {{"logical_port": "vm2", "tunnel_key": 2, "datapath": ["uuid", "{d}"]}}}}}},
              "IGMP_Group": {{
                "{g1}": {{"initial": {{"address": "239.0.1.1", "datapath": ["uuid", "{d}"],
                    "ports": ["set", [["uuid", "{b1}"], ["uuid", "{b2}"]]]}}}},
                "{g2}": {{"initial": {{"address": "239.0.1.2", "datapath": ["uuid", "{d}"], "ports": ["uuid", "{b2}"]}}}},
                "{g3}": {{"initial": {{"address": "ff0e::1", "datapath": ["uuid", "{d}"], "ports": ["uuid", "{b1}"]}}}}}},
              "Multicast_Group": {{"{mg}": {{"initial": {{"name": "239.0.1.1", "tunnel_key": 40000,
                    "datapath": ["uuid", "{d}"]}}}}}}}}"#,
            d = u(101),
            b1 = u(111),
            b2 = u(112),
            g1 = u(121),
            g2 = u(122),
            g3 = u(123),
            mg = u(131),
        );
        let nb = replica("ovn-nb.ovsschema", &nb);
        let sb = replica("ovn-sb.ovsschema", &sb);
        let memo = crate::model::memo::PortMemo::of(&nb, &sb);
        let m = Model::build(&nb, &sb, &memo, Default::default(), &mut Vec::new());
        let got: Vec<(String, String, Vec<&str>, i64)> = m
            .igmp_groups
            .iter()
            .map(|g| {
                let ports = g.ports.iter().map(|&i| m.ports[i].name()).collect();
                (m.dp(g.dp).name.to_string(), g.address.clone(), ports, g.tunnel_key)
            })
            .collect();
        let want = [
            ("sw0", "239.0.1.1", vec!["ln", "vm1"], 40000),
            ("sw0", "ff0e::1", vec!["ln", "vm1"], 32774),
            ("lr0", "239.0.1.1", vec!["lr0-sw0"], 32774),
            ("lr0", "ff0e::1", vec!["lr0-sw0"], 32775),
        ];
        let want: Vec<(String, String, Vec<&str>, i64)> =
            want.into_iter().map(|(d, a, p, k)| (d.to_string(), a.to_string(), p, k)).collect();
        assert_eq!(got, want);
    }
}
