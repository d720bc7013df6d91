//! The logical router pipelines (`ovn-northd(8)`, "Logical Router
//! Datapaths"): ingress tables 0 to 21 and egress tables 0 to 6; NAT
//! rules (`nat`) and load balancers (`lb`) add their flows to the stateful
//! stages, whose defaults are in `stateful`.
//!
//! One module per group of stages; each takes the `Router` view built here
//! (a router's usable ports with parsed networks) and adds flows. Nothing
//! here reads the replicas directly except through the typed views, and
//! nothing iterates a hash map: flows come out in Model order.

mod admission;
mod arp_resolve;
mod delivery;
mod ip_input;
mod lb;
mod multicast;
mod nat;
mod nd_ra;
mod pkt_len;
mod policy;
mod routing;
mod stateful;
#[cfg(test)]
mod tests;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub use routing::bfd_in_use;

use crate::input::nb;
use crate::model::addr::{Ipv4Net, Ipv6Net, Mac};
use crate::model::nat::{Nat, NatKind};
use crate::model::{Model, Port};
pub(crate) use crate::output::json_key;
use crate::output::{drop_action, Diagnostic, DpId, FlowSet};

/// Adds the flows of every logical router, each router's on a thread of
/// the current rayon pool. NB rows that cannot be
/// translated (a static route with a bad prefix, a policy whose nexthop no
/// port reaches) are left out and reported in `diags`.
pub fn build(m: &Model<'_>, flows: &mut FlowSet, diags: &mut Vec<Diagnostic>) {
    let parents = arp_resolve::virtual_parents(m);
    let drop = drop_action(&m.options);
    let ecmp = routing::EcmpIds::from_sb(m, |dp| flows.builds_whole_of(dp));
    // A disabled router has no datapath in SB, so no flows either.
    let routers: Vec<(DpId, nb::LogicalRouter<'_>)> =
        m.routers().filter(|dp| dp.enabled()).filter_map(|dp| Some((dp.id, dp.router()?))).collect();
    flows.build_each(
        diags,
        &routers,
        |&(dp, _)| dp,
        |&(dp, nb), flows, diags| {
            let r = Router::new(m, dp, nb, &drop);
            if !flows.builds_whole() {
                routing::nat_routes(&r, flows);
                arp_resolve::behind_switches(&r, &parents, flows);
                lb::vips(&r, flows);
                return;
            }
            admission::build(&r, flows);
            ip_input::build(&r, flows);
            multicast::build(&r, flows);
            stateful::build(&r, flows);
            lb::build(&r, flows, diags);
            nat::build(&r, flows, diags);
            nd_ra::build(&r, flows);
            let v6_nexthops = routing::build(&r, &ecmp, flows, diags);
            policy::build(&r, flows, diags);
            arp_resolve::build(&r, &parents, flows);
            pkt_len::build(&r, flows);
            delivery::build(&r, &v6_nexthops, flows);
        },
    );
}

/// `flows::lb_print` of a router.
pub fn lb_print(m: &Model<'_>, dp: DpId, nb: nb::LogicalRouter<'_>) -> u64 {
    let drop = String::new();
    lb::shared_print(&Router::new(m, dp, nb, &drop))
}

/// A router port with usable addresses.
pub struct RPort<'m, 'a> {
    pub port: &'m Port<'a>,
    pub lrp: nb::LogicalRouterPort<'a>,
    pub mac: Mac,
    /// IPv4 networks in `networks` order.
    pub ipv4: Vec<Ipv4Net>,
    /// IPv6 networks in `networks` order, then the EUI-64 link-local
    /// address (always last).
    pub ipv6: Vec<Ipv6Net>,
    /// The port is a distributed gateway port: it has a chassis-redirect
    /// port (gateway chassis or an HA chassis group, on a router that is
    /// not a gateway router; `options:redirect-chassis` does not count).
    pub is_dgp: bool,
}

impl<'m, 'a> RPort<'m, 'a> {
    pub fn name(&self) -> &'a str {
        self.port.name()
    }

    /// The port name as a quoted string for matches and actions.
    pub fn key(&self) -> String {
        json_key(self.port.name())
    }

    /// IPv6 networks other than the implicit link-local one.
    pub fn ipv6_global(&self) -> &[Ipv6Net] {
        &self.ipv6[..self.ipv6.len().saturating_sub(1)]
    }

    /// The link-local address.
    pub fn lla(&self) -> Option<&Ipv6Net> {
        self.ipv6.last()
    }

    /// The network of this port that holds `ip`, if any.
    pub fn network_of(&self, ip: IpAddr) -> Option<IpAddr> {
        match ip {
            IpAddr::V4(a) => self.ipv4.iter().find(|n| n.contains(a)).map(|n| IpAddr::V4(n.addr)),
            IpAddr::V6(a) => self.ipv6.iter().find(|n| n.contains(a)).map(|n| IpAddr::V6(n.addr)),
        }
    }

    /// The first address of the family of `ip`.
    pub fn first_of_family(&self, ip: IpAddr) -> Option<IpAddr> {
        match ip {
            IpAddr::V4(_) => self.ipv4.first().map(|n| IpAddr::V4(n.addr)),
            IpAddr::V6(_) => self.ipv6.first().map(|n| IpAddr::V6(n.addr)),
        }
    }

    /// `options:gateway_mtu` when it applies to this port: any port of a
    /// gateway router or of a router with a distributed gateway port
    /// (scenario 57), with a positive value.
    pub fn gateway_mtu(&self, r: &Router<'_, '_>) -> Option<u32> {
        if !(r.is_gateway || r.has_dgp()) {
            return None;
        }
        self.lrp.options().get_int("gateway_mtu").filter(|v| *v > 0 && *v <= u32::MAX as i64).map(|v| v as u32)
    }
}

/// One logical router and its usable ports.
pub struct Router<'m, 'a> {
    pub m: &'m Model<'a>,
    pub dp: DpId,
    pub nb: nb::LogicalRouter<'a>,
    /// Ports with a valid MAC and networks, in Model order.
    pub ports: Vec<RPort<'m, 'a>>,
    /// A gateway router (`options:chassis` set).
    pub is_gateway: bool,
    /// The action that drops a packet (`drop;` or a debug sample).
    pub drop: &'m str,
    /// Addresses load balancing uses: the VIPs of its load balancers and
    /// the `lb_force_snat_ip` addresses, sorted.
    pub lb_ips: Vec<IpAddr>,
    /// A gateway router SNATs load balanced traffic to its ports' own
    /// addresses (`lb_force_snat_ip=router_ip`): none of its addresses
    /// drops traffic in IP input.
    pub snat_router_ip: bool,
    /// The router's NAT rules in NB UUID order: those it applies, or on a
    /// router with no gateway those it answers ARP and ND for all the same.
    pub nats: Vec<&'m Nat<'a>>,
    /// The external IPs of its `snat` rules: router addresses among them
    /// are dropped in ARP resolve rather than IP input, after UNSNAT.
    pub snat_ips: Vec<IpAddr>,
}

impl<'m, 'a> Router<'m, 'a> {
    fn new(m: &'m Model<'a>, dp: DpId, nb: nb::LogicalRouter<'a>, drop: &'m str) -> Router<'m, 'a> {
        let mut ports = Vec::new();
        for &i in &m.dp(dp).ports {
            let p = &m.ports[i];
            let (Some(lrp), Some(addrs)) = (p.lrp(), p.addrs().first()) else { continue };
            ports.push(RPort {
                port: p,
                lrp,
                mac: addrs.mac,
                ipv4: addrs.ipv4.clone(),
                ipv6: addrs.ipv6.clone(),
                is_dgp: m.cr_port(i).is_some(),
            });
        }
        let is_gateway = nb.options().get("chassis").is_some_and(|c| !c.is_empty());
        let lb_ips = lb::lb_ips(m, nb);
        let snat_router_ip = is_gateway && nb.options().get("lb_force_snat_ip") == Some("router_ip");
        let nats: Vec<&Nat<'a>> = m.all_nats_of(dp).collect();
        let snat_ips = nats.iter().filter(|n| n.kind == NatKind::Snat && !n.rejected).map(|n| n.external_ip).collect();
        Router { m, dp, nb, ports, is_gateway, drop, lb_ips, snat_router_ip, nats, snat_ips }
    }

    /// The router has at least one distributed gateway port.
    pub fn has_dgp(&self) -> bool {
        self.ports.iter().any(|p| p.is_dgp)
    }

    /// The port `p` is linked to (a switch port, or a router port when
    /// routers are linked directly), unless it is on a disabled router,
    /// which the reference leaves out of SB as if it did not exist.
    pub fn peer(&self, p: &Port<'a>) -> Option<&'m Port<'a>> {
        self.m.peer(p).filter(|q| self.m.dp(q.dp).enabled())
    }

    /// The distributed gateway port whose chassis a port with
    /// `options:reside-on-redirect-chassis` resides on: the router's only
    /// one (with several, the option has no effect).
    pub fn redirect_chassis_of(&self, p: &RPort<'_, '_>) -> Option<&RPort<'m, 'a>> {
        if !p.lrp.options().get_bool("reside-on-redirect-chassis", false) {
            return None;
        }
        let mut dgps = self.ports.iter().filter(|q| q.is_dgp);
        match (dgps.next(), dgps.next()) {
            (Some(only), None) => Some(only),
            _ => None,
        }
    }

    /// The router port of `nat`'s distributed gateway port, if it has one.
    pub fn dgp_of(&self, nat: &Nat<'_>) -> Option<&RPort<'m, 'a>> {
        let i = nat.dgp?;
        self.ports.iter().find(|p| std::ptr::eq(p.port, &self.m.ports[i]))
    }

    /// `ip` is an address load balancing or SNAT uses, which IP input
    /// leaves to ARP resolve to drop.
    pub fn shared_ip(&self, ip: IpAddr) -> bool {
        self.lb_ips.contains(&ip) || self.snat_ips.contains(&ip)
    }

    pub fn port(&self, name: &str) -> Option<&RPort<'m, 'a>> {
        self.ports.iter().find(|p| p.name() == name)
    }

    /// The switch behind `p` has a port of type `ty` ("localnet", "vtep").
    pub fn peer_has_lsp_type(&self, p: &RPort<'_, '_>, ty: &str) -> bool {
        self.m
            .peer(p.port)
            .filter(|peer| peer.is_lsp())
            .is_some_and(|peer| self.m.ports_of(peer.dp).any(|q| q.lsp_type() == ty))
    }

    /// The first port (Model order) with a network holding `ip`, and that
    /// network's address.
    pub fn port_for_nexthop(&self, ip: IpAddr) -> Option<(&RPort<'m, 'a>, IpAddr)> {
        self.ports.iter().find_map(|p| p.network_of(ip).map(|a| (p, a)))
    }
}

/// `a` alone, or `{a, b, ...}` when there are several (OVN's way of
/// printing a port's addresses in a match).
pub fn addr_set<T: ToString>(items: &[T]) -> String {
    if items.len() == 1 {
        items[0].to_string()
    } else {
        format!("{{{}}}", join(items))
    }
}

/// Items joined with ", ".
pub fn join<T: ToString>(items: &[T]) -> String {
    items.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

/// The registers that carry a next hop and the router's own address:
/// `reg0`/`reg1` for IPv4, `xxreg0`/`xxreg1` for IPv6.
pub fn nh_regs(ip: IpAddr) -> (&'static str, &'static str) {
    match ip {
        IpAddr::V4(_) => ("reg0", "reg1"),
        IpAddr::V6(_) => ("xxreg0", "xxreg1"),
    }
}

/// Parses a plain IPv4 or IPv6 address (no prefix length).
pub fn parse_ip(s: &str) -> Option<IpAddr> {
    s.trim().parse::<Ipv4Addr>().map(IpAddr::V4).or_else(|_| s.trim().parse::<Ipv6Addr>().map(IpAddr::V6)).ok()
}
