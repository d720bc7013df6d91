//! The logical switch pipelines (`ovn-northd(8)`, "Logical Switch
//! Datapaths"): ingress tables 0 to 26 and egress tables 0 to 9, one module
//! per group of stages. This module gathers what the stage builders share
//! about a switch (its ports by kind, whether it has ACLs or load
//! balancers) and calls them in table order. It never writes a flow of a
//! router datapath; of the SB it reads only facts the flows must follow
//! (the chassis' conntrack features, and through `bindings::queues` the
//! QoS queues already given out).
//!
//! - `port_sec`: admission and port security (ingress 0-1, egress 8-9) and
//!   MAC learning (ingress 2-3).
//! - `defaults`: the pre-stateful stages every switch gets (ingress 6,
//!   egress 2).
//! - `acl`: ACLs and the conntrack they use: pre-ACL, ACL hints, ACLs,
//!   ACLs after LB, stateful (ingress 4, 7-8, 17-18, egress 0, 3-4, 7).
//! - `qos`: QoS marking and metering (ingress 9-10, egress 5-6).
//! - `lb`: load balancers (pre-LB, the VIPs' pre-stateful flows, LB
//!   affinity, LB and hairpin: ingress 5-6 and 11-16, egress 1).
//! - `arp_nd`: the ARP/ND responder (ingress 19).
//! - `dhcp_dns`: native DHCPv4, DHCPv6 and DNS (ingress 20-23) and the
//!   egress ACL exceptions for their replies.
//! - `external`: external ports (ingress 24).
//! - `fwd_group`: forwarding groups (ingress 19 and 25).
//! - `mcast`: IGMP/MLD snooping in the destination lookup (ingress 25).
//! - `l2_lookup`: destination lookup and unknown destinations (ingress
//!   25-26).

mod acl;
mod arp_nd;
mod defaults;
mod dhcp_dns;
mod external;
mod fwd_group;
mod l2_lookup;
mod lb;
mod mcast;
mod port_sec;
mod qos;

use std::collections::BTreeMap;

use foldhash::{HashMap, HashMapExt};

use ovsdb::Uuid;

use crate::input::{nb, sb};
use crate::model::addr::LportAddresses;
use crate::model::{Datapath, Model, Port};
pub(crate) use crate::output::json_key;
use crate::output::{drop_action, Diagnostic, DpId, FlowSet};

/// Adds the flows of every logical switch, each switch's on a thread of
/// the current rayon pool; NB settings that cannot be used are reported
/// in `diags`.
pub fn build(m: &Model<'_>, flows: &mut FlowSet, diags: &mut Vec<Diagnostic>) {
    let shared = Shared::new(m, |dp| flows.builds_whole_of(dp));
    acl::diagnose(m, diags);
    let switches: Vec<&Datapath<'_>> = m.switches().collect();
    flows.build_each(
        diags,
        &switches,
        |dp| dp.id,
        |dp, flows, diags| {
            let Some(sw) = Switch::new(m, dp, &shared) else { return };
            if !flows.builds_whole() {
                lb::vips(&sw, flows);
                return;
            }
            port_sec::build(&sw, flows);
            acl::build(&sw, flows);
            defaults::build(&sw, flows);
            qos::build(&sw, flows, diags);
            lb::build(&sw, flows);
            arp_nd::build(&sw, flows, diags);
            dhcp_dns::build(&sw, flows);
            external::build(&sw, flows);
            fwd_group::build(&sw, flows, diags);
            mcast::build(&sw, flows);
            l2_lookup::build(&sw, flows);
            arp_nd::service_monitor_replies(m, dp.id, flows);
        },
    );
    dhcp_dns::check_options(m, diags);
    dhcp_dns::check_dns_records(m, diags);
}

/// `Switch::router_peer`.
fn router_peer<'m, 'a>(m: &'m Model<'a>, p: &Port<'a>) -> Option<&'m Port<'a>> {
    let peer = m.peer(p).filter(|q| q.is_lrp())?;
    let router = m.dp(peer.dp).router()?;
    router.enabled().unwrap_or(true).then_some(peer)
}

/// `flows::lb_print` of a switch: whether it has a VIP, and the
/// addresses of each router port on it (which hold its router's
/// reachable VIPs).
pub fn lb_print(m: &Model<'_>, dp: DpId, nb: nb::LogicalSwitch<'_>) -> u64 {
    use std::hash::{BuildHasher, Hash, Hasher};
    let mut h = foldhash::fast::FixedState::default().build_hasher();
    crate::model::lb::has_vip(nb).hash(&mut h);
    for p in m.ports_of(dp).filter(|p| p.lsp_type() == "router") {
        router_peer(m, p).and_then(|rp| l2_lookup::router_port_ips(m, rp)).hash(&mut h);
    }
    h.finish()
}

/// What every switch's flows depend on, computed once a compilation.
struct Shared<'a> {
    ct: CtFlavour,
    drop: String,
    /// The ACLs of port groups, by the switches whose ports they hold (of
    /// the switches built whole).
    pg_acls: HashMap<DpId, Vec<nb::Acl<'a>>>,
    acl_options: acl::AclOptions<'a>,
}

impl<'a> Shared<'a> {
    fn new(m: &Model<'a>, whole: impl Fn(DpId) -> bool) -> Shared<'a> {
        let dp_of_port: HashMap<Uuid, DpId> =
            m.switches().filter(|dp| whole(dp.id)).flat_map(|dp| m.ports_of(dp.id)).map(|p| (p.uuid(), p.dp)).collect();
        let mut pg_acls: HashMap<DpId, Vec<nb::Acl<'a>>> = HashMap::new();
        let mut groups: Vec<nb::PortGroup<'a>> = nb::PortGroup::all(m.nb).collect();
        groups.sort_by_key(|g| g.uuid());
        for pg in groups {
            // (The groups' ACL rows are read only for the groups on the
            // switches built: at 30,000 pods, reading the 6,000 ACLs of
            // every namespace each cycle was 2% of a port add's.)
            if pg.acls_uuids().next().is_none() {
                continue;
            }
            let mut dps: Vec<DpId> = pg.ports_uuids().filter_map(|u| dp_of_port.get(&u).copied()).collect();
            if dps.is_empty() {
                continue;
            }
            dps.sort();
            dps.dedup();
            let acls: Vec<nb::Acl<'a>> = pg.acls().collect();
            for dp in dps {
                pg_acls.entry(dp).or_default().extend(acls.iter().copied());
            }
        }
        let acl_options = acl::AclOptions::new(m);
        Shared { ct: CtFlavour::of(m.sb), drop: drop_action(&m.options), pg_acls, acl_options }
    }
}

/// What the stage builders need to know about one switch.
pub(crate) struct Switch<'m, 'a> {
    pub m: &'m Model<'a>,
    pub dp: &'m Datapath<'a>,
    /// The switch's ports, in model order (by name).
    pub ports: Vec<&'m Port<'a>>,
    /// The ACLs that apply to the switch: its own, by UUID, then those of
    /// the port groups holding one of its ports, by group UUID then ACL
    /// UUID.
    pub acls: Vec<nb::Acl<'a>>,
    /// There are such ACLs.
    pub has_acls: bool,
    /// One of those ACLs is stateful (`allow-related`).
    pub has_stateful_acl: bool,
    /// A load balancer with at least one VIP applies to the switch
    /// (directly or through a load balancer group).
    pub has_lb_vip: bool,
    /// The stage hint of the flows every switch with a load balancer VIP
    /// shares (hairpin): the reference groups them and keeps the hint of
    /// the first such switch in its walk of datapaths.
    pub lb_hint: Option<Uuid>,
    /// `other_config:vlan-passthru=true`.
    pub vlan_passthru: bool,
    /// How conntrack marks are spelled for the chassis there are.
    pub ct: CtFlavour,
    /// The action that drops a packet (`drop;` or a debug sample).
    pub drop: &'m str,
    /// What shapes the ACL flows of every switch.
    pub acl_options: &'m acl::AclOptions<'a>,
    /// The QoS queue of each port that has one (`bindings::queues`, which
    /// also writes it into the port's binding).
    pub queue_ids: &'m BTreeMap<&'a str, i64>,
}

impl<'m, 'a> Switch<'m, 'a> {
    fn new(m: &'m Model<'a>, dp: &'m Datapath<'a>, shared: &'m Shared<'a>) -> Option<Switch<'m, 'a>> {
        let nb = dp.switch()?;
        let ports: Vec<&'m Port<'a>> = m.ports_of(dp.id).collect();
        let mut acls: Vec<nb::Acl<'a>> = nb.acls().collect();
        acls.sort_by_key(|a| a.uuid());
        acls.extend(shared.pg_acls.get(&dp.id).into_iter().flatten().copied());
        Some(Switch {
            m,
            dp,
            ports,
            has_acls: !acls.is_empty(),
            has_stateful_acl: acls.iter().any(|a| a.action() == "allow-related"),
            acls,
            has_lb_vip: crate::model::lb::has_vip(nb),
            lb_hint: m.lb_hint,
            vlan_passthru: nb.other_config().get_bool("vlan-passthru", false),
            queue_ids: &m.queues.ids,
            ct: shared.ct,
            drop: &shared.drop,
            acl_options: &shared.acl_options,
        })
    }

    /// The switch has stateful ACLs or a load balancer VIP: ACL verdicts
    /// (and the flows that let packets skip ACLs) go through conntrack.
    pub fn has_stateful(&self) -> bool {
        self.has_stateful_acl || self.has_lb_vip
    }

    /// Ports of the given `type`.
    pub fn ports_of_type<'s>(&'s self, ty: &'s str) -> impl Iterator<Item = &'m Port<'a>> + 's {
        self.ports.iter().copied().filter(move |p| p.lsp_type() == ty)
    }

    /// Router-type ports whose `router-port` names a logical router port.
    pub fn router_ports<'s>(&'s self) -> impl Iterator<Item = (&'m Port<'a>, &'m Port<'a>)> + 's {
        self.ports_of_type("router").filter_map(|p| Some((p, self.router_peer(p)?)))
    }

    /// The logical router port a switch port is connected to, unless its
    /// router is disabled (a disabled router has no datapath).
    pub fn router_peer(&self, p: &Port<'a>) -> Option<&'m Port<'a>> {
        router_peer(self.m, p)
    }

    /// A port's addresses as the switch uses them: its own entries and, for
    /// `router` in a router-type port's addresses, its peer's MAC and
    /// networks (with the link-local address).
    pub fn lsp_addrs(&self, p: &Port<'a>) -> Vec<LportAddresses> {
        let mut addrs = p.addrs().to_vec();
        let Some(lsp) = p.lsp() else { return addrs };
        if lsp.addresses().any(|a| a == "router") {
            if let Some(peer) = self.router_peer(p) {
                addrs.extend(peer.addrs().iter().cloned());
            }
        }
        addrs
    }
}

/// The router is a gateway router (bound to one chassis).
fn is_gateway_router(r: nb::LogicalRouter<'_>) -> bool {
    r.options().get("chassis").is_some_and(|c| !c.is_empty())
}

/// A distributed gateway port: a port of a distributed router with
/// gateway chassis.
fn is_l3dgw(rp: &Port<'_>, router: nb::LogicalRouter<'_>) -> bool {
    rp.lrp().is_some_and(|l| l.gateway_chassis_uuids().next().is_some() || l.ha_chassis_group().is_some())
        && !is_gateway_router(router)
}

/// What the chassis' conntrack features allow, each one used only when
/// every local chassis reports it in `other_config` (or there is no chassis
/// yet): with `ct-no-masked-label=true`, `ct_mark.blocked` and
/// `ct_lb_mark`, otherwise the older `ct_label.blocked` and `ct_lb` that
/// every ovn-controller knows; with `ovn-ct-lb-related=true`,
/// `ct_commit_nat` for related packets.
#[derive(Clone, Copy)]
pub(crate) struct CtFlavour {
    /// `ct_mark.blocked` or `ct_label.blocked`.
    pub blocked: &'static str,
    /// `ct_lb_mark` or `ct_lb`.
    pub lb: &'static str,
    /// Packets related to an allowed session get `ct_commit_nat` so that
    /// their inner headers are NATed; otherwise the ACL stage only lets
    /// them through.
    pub nat_related: bool,
}

impl CtFlavour {
    pub fn of(sb: &ovsdb::Replica) -> CtFlavour {
        let every = |feature: &str| {
            sb::Chassis::all(sb)
                .filter(|c| !c.other_config().get_bool("is-remote", false))
                .all(|c| c.other_config().get_bool(feature, false))
        };
        let (blocked, lb) =
            if every("ct-no-masked-label") { ("ct_mark.blocked", "ct_lb_mark") } else { ("ct_label.blocked", "ct_lb") };
        CtFlavour { blocked, lb, nat_related: every("ovn-ct-lb-related") }
    }

    /// The conntrack field that says a connection was NATed:
    /// `ct_mark.natted`, or `ct_label.natted` on chassis without
    /// `ct-no-masked-label`.
    pub fn natted(&self) -> &'static str {
        if self.lb == "ct_lb_mark" {
            "ct_mark.natted"
        } else {
            "ct_label.natted"
        }
    }
}

#[cfg(test)]
mod tests;
