//! Derived objects the flow builders work from: datapaths (one a logical
//! switch or router) with their tunnel keys, ports with parsed addresses
//! (including the ones IPAM assigns, `ipam`), VLAN tags, patch-port peers,
//! chassis-redirect ports of distributed gateway ports, and tunnel keys
//! (`keys`). Built once a compilation from the NB replica, the SB facts
//! that must be respected (keys already given out, chassis) and the ports
//! the `memo` gathered per datapath (kept by the engine between
//! compilations; a port reads its NB row only when asked, `Port::lsp`);
//! never writes either database.
//! Everything is in a deterministic order: switches then routers, each by
//! name then UUID; ports by NB order of their datapath's `ports` column
//! sorted by name.

pub mod addr;
pub mod bfd;
pub mod igmp;
pub mod ipam;
pub(crate) mod keys;
pub mod lb;
pub mod memo;
pub mod nat;
pub use keys::max_tunid;
#[cfg(test)]
pub(crate) mod testutil;

use std::collections::BTreeMap;

use foldhash::{HashMap, HashMapExt};
use std::collections::hash_map::Entry;

use ovsdb::{Replica, Uuid};

use crate::input::{nb, sb};
use crate::output::{cut, hmap_order, ovs_hash_string, Diagnostic, DpId, QUOTE_MAX};
use addr::LportAddresses;

/// The NB row behind a datapath.
#[derive(Clone, Copy)]
pub enum DpNb<'a> {
    Switch(nb::LogicalSwitch<'a>),
    Router(nb::LogicalRouter<'a>),
}

pub struct Datapath<'a> {
    pub id: DpId,
    pub nb: DpNb<'a>,
    pub name: &'a str,
    pub uuid: Uuid,
    pub tunnel_key: i64,
    /// Indexes into `Model::ports`, sorted by port name.
    pub ports: Vec<usize>,
}

impl<'a> Datapath<'a> {
    pub fn is_switch(&self) -> bool {
        matches!(self.nb, DpNb::Switch(_))
    }

    pub fn switch(&self) -> Option<nb::LogicalSwitch<'a>> {
        match self.nb {
            DpNb::Switch(s) => Some(s),
            DpNb::Router(_) => None,
        }
    }

    /// The NB table of the datapath's row, for diagnostics.
    pub fn table(&self) -> &'static str {
        match self.nb {
            DpNb::Switch(_) => nb::LogicalSwitch::TABLE,
            DpNb::Router(_) => nb::LogicalRouter::TABLE,
        }
    }

    pub fn router(&self) -> Option<nb::LogicalRouter<'a>> {
        match self.nb {
            DpNb::Router(r) => Some(r),
            DpNb::Switch(_) => None,
        }
    }

    /// Every switch, and routers not disabled. The reference leaves a
    /// router with `enabled=false` and its ports out of SB (switch ports
    /// still name their peers) and builds no flows for it; `bindings` and
    /// the router flows skip such routers alike, so no flow names a
    /// datapath that is not written.
    pub fn enabled(&self) -> bool {
        match self.router() {
            Some(r) => r.enabled().unwrap_or(true),
            None => true,
        }
    }
}

/// The NB row behind a port.
#[derive(Clone, Copy)]
pub enum PortNb<'a> {
    Switch(nb::LogicalSwitchPort<'a>),
    Router(nb::LogicalRouterPort<'a>),
}

pub struct Port<'a> {
    /// The NB replica, to read the port's row (`lsp`, `lrp`).
    db: &'a Replica,
    /// What the memo gathered of the port's rows: its name, UUID, and the
    /// rest of what the accessors give (a `Port` is small: at 30,000 pods
    /// every cycle writes 34,000 of them into the model, and that write
    /// was a third of the model's build with 144-byte ports).
    e: &'a memo::Entry,
    pub dp: DpId,
    pub tunnel_key: i64,
    /// For a router-type switch port, its router port; for a router port,
    /// the switch port that names it. Index into `Model::ports`.
    pub peer: Option<usize>,
    /// What this cycle decided of the few ports with dynamic addresses or
    /// a VLAN tag.
    extra: Option<Box<Extra>>,
}

// (What keeps it small: the values few ports have are boxed apart.)
const _: () = assert!(std::mem::size_of::<Port<'static>>() <= 56);

/// The values a cycle decides for a port asking for dynamic addresses or
/// a tag.
#[derive(Default)]
struct Extra {
    /// Its addresses with those IPAM assigns, when it assigned some.
    addrs: Option<Vec<LportAddresses>>,
    dynamic_addresses: Option<String>,
    tag: Option<i64>,
}

impl<'a> Port<'a> {
    pub fn name(&self) -> &'a str {
        &self.e.name
    }

    /// The UUID of the port's NB row.
    pub fn uuid(&self) -> Uuid {
        self.e.uuid
    }

    /// Parsed `addresses` (switch ports: every parsable entry, including
    /// the addresses IPAM assigns in place of the `dynamic` entry; router
    /// ports: MAC and networks).
    pub fn addrs(&self) -> &[LportAddresses] {
        match self.extra.as_deref().and_then(|x| x.addrs.as_deref()) {
            Some(addrs) => addrs,
            None => &self.e.parsed.addrs,
        }
    }

    /// The addresses IPAM assigns the switch port (`dynamic_addresses` as
    /// northd writes it back to NB), when it asks for dynamic ones.
    pub fn dynamic_addresses(&self) -> Option<&str> {
        self.extra.as_deref()?.dynamic_addresses.as_deref()
    }

    /// The VLAN tag of a switch port with `tag_request` (container ports
    /// get a free one per parent when they request 0).
    pub fn tag(&self) -> Option<i64> {
        self.extra.as_deref()?.tag
    }

    fn extra(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Box::default)
    }

    /// The port's NB row. The memo the model was built from holds only
    /// rows of its replica, so the row is there.
    pub fn nb(&self) -> Option<PortNb<'a>> {
        if self.e.router {
            nb::LogicalRouterPort::get(self.db, &self.e.uuid).map(PortNb::Router)
        } else {
            nb::LogicalSwitchPort::get(self.db, &self.e.uuid).map(PortNb::Switch)
        }
    }

    pub fn lsp(&self) -> Option<nb::LogicalSwitchPort<'a>> {
        (!self.e.router).then(|| nb::LogicalSwitchPort::get(self.db, &self.e.uuid)).flatten()
    }

    pub fn lrp(&self) -> Option<nb::LogicalRouterPort<'a>> {
        self.e.router.then(|| nb::LogicalRouterPort::get(self.db, &self.e.uuid)).flatten()
    }

    /// A switch port (without reading its row).
    pub fn is_lsp(&self) -> bool {
        !self.e.router
    }

    /// A router port (without reading its row).
    pub fn is_lrp(&self) -> bool {
        self.e.router
    }

    /// The NB table of the port's row.
    pub fn table(&self) -> &'static str {
        if self.e.router {
            nb::LogicalRouterPort::TABLE
        } else {
            nb::LogicalSwitchPort::TABLE
        }
    }

    /// The switch port's `type` ("" for a VIF and for a router port).
    pub fn lsp_type(&self) -> &'a str {
        &self.e.type_
    }

    /// Parsed `port_security` entries.
    pub fn ps_addrs(&self) -> &'a [LportAddresses] {
        &self.e.parsed.ps_addrs
    }

    /// The `addresses` entries asking for dynamic ones, in NB order.
    pub(crate) fn requests(&self) -> &'a [Result<ipam::Request, String>] {
        &self.e.parsed.requests
    }

    /// The switch port's `tag_request`.
    pub(crate) fn tag_request(&self) -> Option<i64> {
        self.e.tag_request
    }

    /// The switch port has `unknown` in its addresses.
    pub fn has_unknown(&self) -> bool {
        self.e.parsed.has_unknown
    }

    /// The switch port is up, as northd reports it in the NB `up` column
    /// (`up`): taken from the SB binding ovn-controller claims, never
    /// from that NB column, which northd itself writes.
    pub fn up(&self) -> bool {
        self.e.up
    }

    /// `options:requested-tnl-key` as written.
    pub(crate) fn requested_key(&self) -> Option<&'a str> {
        self.e.requested_key.as_deref()
    }

    /// A switch port (not of type `router`) with an option asking for a
    /// QoS queue (`QOS_OPTIONS`).
    pub(crate) fn asks_queue(&self) -> bool {
        self.e.asks_queue
    }

    /// The binding's SB datapath and tunnel key.
    pub(crate) fn sb_key(&self) -> Option<(Uuid, i64)> {
        self.e.sb_key
    }

    /// The switch port's `dhcpv4_options` and `dhcpv6_options` rows.
    pub(crate) fn dhcp_options(&self) -> [Option<nb::DhcpOptions<'a>>; 2] {
        self.e.dhcp_options.map(|u| u.and_then(|u| nb::DhcpOptions::get(self.db, &u)))
    }

    /// The port is enabled (`enabled` unset or true).
    pub fn enabled(&self) -> bool {
        match self.nb() {
            Some(PortNb::Switch(p)) => p.enabled().unwrap_or(true),
            Some(PortNb::Router(p)) => p.enabled().unwrap_or(true),
            None => true,
        }
    }
}

/// The chassis-redirect port of a distributed gateway port: a router port
/// with `gateway_chassis` or `ha_chassis_group` on a router that is not a
/// gateway router. It is bound to one chassis at a time.
pub struct ChassisRedirect {
    /// The distributed gateway port (index into `Model::ports`).
    pub port: usize,
    /// `cr-<port name>`.
    pub name: String,
    pub tunnel_key: i64,
}

/// NAT rules by router.
type NatsByRouter<'a> = HashMap<DpId, Vec<nat::Nat<'a>>>;

/// Everything the flow builders need, derived once.
pub struct Model<'a> {
    pub nb: &'a Replica,
    pub sb: &'a Replica,
    /// The ports' parsed columns.
    memo: &'a memo::PortMemo,
    pub datapaths: Vec<Datapath<'a>>,
    pub ports: Vec<Port<'a>>,
    pub port_by_name: HashMap<&'a str, usize>,
    /// `SB_Global`/`NB_Global` options: mac_prefix, svc_monitor_mac, ...
    pub options: BTreeMap<String, String>,
    /// Chassis-redirect ports, in port order (`ChassisRedirect::port`
    /// ascending).
    pub chassis_redirect: Vec<ChassisRedirect>,
    /// Learned IP multicast groups, by datapath then address.
    pub igmp_groups: Vec<igmp::IgmpGroup>,
    /// Every NB load balancer, parsed, by UUID.
    pub lbs: Vec<lb::LoadBalancer<'a>>,
    /// BFD sessions (set by `compile` once the static routes that use
    /// them are known).
    pub bfd: bfd::Sessions<'a>,
    /// The switch whose row the flows every switch with a load balancer
    /// VIP shares name (their stage hint): the first such switch in the
    /// reference's walk of datapaths.
    pub lb_hint: Option<Uuid>,
    /// Index into `lbs` of each load balancer, by UUID.
    lb_index: HashMap<Uuid, usize>,
    /// The NAT rules each router applies (`nat::build`).
    nats: NatsByRouter<'a>,
    /// The NAT rules of routers with no gateway, which apply nowhere.
    idle_nats: NatsByRouter<'a>,
    /// The ports' QoS queue ids (`bindings::queues`).
    pub(crate) queues: crate::bindings::queues::Queues<'a>,
    /// The ports some pass over the model reads, listed as they are
    /// pushed, so that the pass reads only them.
    pub(crate) lists: PortLists<'a>,
    /// The NB switch or router of each SB datapath binding, by their
    /// UUIDs (`sb::DatapathBinding::nb_uuid`).
    pub(crate) nb_of_sb: HashMap<Uuid, Uuid>,
}

/// Indexes into `Model::ports` of the ports of some kind, ascending (a
/// pass over every port read a line of memory per port: at 30,000 pods
/// each pass cost about half a millisecond).
#[derive(Default)]
pub(crate) struct PortLists<'a> {
    /// Switch ports of type `router` naming a router port, with its name.
    pub router_lsps: Vec<(usize, &'a str)>,
    /// Router ports naming a peer, with its name.
    pub lrp_peers: Vec<(usize, &'a str)>,
    /// Router ports with gateway chassis or an HA chassis group.
    pub gateways: Vec<usize>,
    /// Switch ports of type `external`.
    pub external: Vec<usize>,
    /// Switch ports with a `tag_request`.
    pub tag_requests: Vec<usize>,
    /// Switch ports asking for a QoS queue (`Port::asks_queue`).
    pub queue_askers: Vec<usize>,
    /// Switch ports with DHCP options.
    pub dhcp: Vec<usize>,
}

impl<'a> Model<'a> {
    pub fn dp(&self, id: DpId) -> &Datapath<'a> {
        &self.datapaths[id.0 as usize]
    }

    pub fn switches(&self) -> impl Iterator<Item = &Datapath<'a>> {
        self.datapaths.iter().filter(|d| d.is_switch())
    }

    pub fn routers(&self) -> impl Iterator<Item = &Datapath<'a>> {
        self.datapaths.iter().filter(|d| !d.is_switch())
    }

    /// The ports of a datapath.
    pub fn ports_of(&self, dp: DpId) -> impl Iterator<Item = &Port<'a>> {
        self.dp(dp).ports.iter().map(|&i| &self.ports[i])
    }

    pub fn port(&self, name: &str) -> Option<&Port<'a>> {
        self.port_by_name.get(name).map(|&i| &self.ports[i])
    }

    pub fn peer(&self, port: &Port<'a>) -> Option<&Port<'a>> {
        port.peer.map(|i| &self.ports[i])
    }

    /// The switches a load balancer with a VIP applies to.
    pub fn lb_switches(&self) -> impl Iterator<Item = Uuid> + '_ {
        self.switches().filter(|d| d.switch().is_some_and(lb::has_vip)).map(|d| d.uuid)
    }

    /// `lb_hint`: the reference walks its datapaths in hash table order (by
    /// the first 32 bits of the NB UUID), having inserted them as it walked
    /// its NB tables (hashed alike): switches, then routers; rows entered
    /// those tables in the order its JSON parser walked the monitor reply's
    /// object of rows (hashed by UUID string).
    fn find_lb_hint(&self) -> Option<Uuid> {
        let hash = |u: Uuid| {
            let b = u.as_bytes();
            (u32::from_be_bytes([b[0], b[1], b[2], b[3]]), u)
        };
        let idl_walk = |uuids: Vec<Uuid>| {
            let arrival = hmap_order(uuids.into_iter().map(|u| (ovs_hash_string(&u.to_string()), u)));
            hmap_order(arrival.into_iter().map(hash))
        };
        let switches: Vec<Uuid> = self.switches().map(|d| d.uuid).collect();
        let routers: Vec<Uuid> = self.routers().filter(|d| d.enabled()).map(|d| d.uuid).collect();
        let walk = self.memo.walk(&switches, &routers, || {
            hmap_order(idl_walk(switches.clone()).into_iter().chain(idl_walk(routers.clone())).map(hash))
        });
        let lb_switches: std::collections::HashSet<Uuid> = self.lb_switches().collect();
        walk.into_iter().find(|u| lb_switches.contains(u))
    }

    /// The addresses of a load balancer's VIPs (by its NB row).
    pub fn vip_ips(&self, lb: &Uuid) -> Option<&'a lb::VipIps> {
        self.memo.lb(lb).map(|l| &l.vip_ips)
    }

    pub fn option(&self, key: &str) -> Option<&str> {
        self.options.get(key).map(String::as_str)
    }

    /// Builds the model. NB rows that cannot be used (a port in two
    /// switches, a duplicate name) are reported in `diags` and left out.
    /// `memo` must hold every datapath of `nb` (`PortMemo::refresh`,
    /// `PortMemo::update`).
    pub fn build(
        nb: &'a Replica,
        sb: &'a Replica,
        memo: &'a memo::PortMemo,
        options: BTreeMap<String, String>,
        diags: &mut Vec<Diagnostic>,
    ) -> Model<'a> {
        let mut switches: Vec<nb::LogicalSwitch<'a>> = nb::LogicalSwitch::all(nb).collect();
        switches.sort_by_cached_key(|s| (s.name(), s.uuid()));
        let mut routers: Vec<nb::LogicalRouter<'a>> = nb::LogicalRouter::all(nb).collect();
        routers.sort_by_cached_key(|r| (r.name(), r.uuid()));
        let n_ports = [nb::LogicalSwitchPort::TABLE, nb::LogicalRouterPort::TABLE]
            .iter()
            .filter_map(|t| nb.table(t))
            .map(|t| t.len())
            .sum();
        let mut m = Model {
            nb,
            sb,
            memo,
            datapaths: Vec::with_capacity(switches.len() + routers.len()),
            ports: Vec::with_capacity(n_ports),
            port_by_name: HashMap::with_capacity(n_ports),
            options,
            chassis_redirect: Vec::new(),
            igmp_groups: Vec::new(),
            lbs: Vec::new(),
            bfd: bfd::Sessions::default(),
            lb_hint: None,
            lb_index: HashMap::new(),
            nats: HashMap::new(),
            idle_nats: HashMap::new(),
            queues: Default::default(),
            lists: PortLists::default(),
            nb_of_sb: HashMap::new(),
        };
        for s in switches {
            m.push_dp(DpNb::Switch(s), s.name(), s.uuid());
        }
        for r in routers {
            m.push_dp(DpNb::Router(r), r.name(), r.uuid());
        }
        for i in 0..m.datapaths.len() {
            let dp = DpId(i as u32);
            let d = &m.datapaths[i];
            let Some(block) = memo.block(&d.uuid) else {
                // Not in the memo the caller refreshed: a caller's bug, never
                // ports left out in silence.
                diags.push(Diagnostic {
                    table: d.table(),
                    row: d.name.to_string(),
                    message: "ports not gathered, left out".into(),
                });
                continue;
            };
            for e in &block.ports {
                m.push_port(dp, e, diags);
            }
        }
        m.link_peers(diags);
        m.assign_dynamic(diags);
        m.assign_tags(diags);
        m.find_chassis_redirect(diags);
        (m.nats, m.idle_nats) = m.build_nats(diags);
        let nb_of_sb = sb::DatapathBinding::all(sb).filter_map(|d| Some((d.uuid(), d.nb_uuid()?))).collect();
        keys::assign(&mut m, &nb_of_sb, diags);
        m.nb_of_sb = nb_of_sb;
        m.queues = crate::bindings::queues::assign(&m);
        m.igmp_groups = igmp::build(&m);
        let switches: Vec<(DpId, nb::LogicalSwitch<'a>)> =
            m.datapaths.iter().filter_map(|d| Some((d.id, d.switch()?))).collect();
        let is_lsp = |name: &str| m.port(name).is_some_and(Port::is_lsp);
        let parsed = |u: &Uuid| memo.lb(u)?.parsed.as_deref();
        m.lbs = lb::build(nb, sb, &switches, &is_lsp, &parsed, diags);
        m.lb_index = m.lbs.iter().enumerate().map(|(i, lb)| (lb.uuid, i)).collect();
        m.lb_hint = m.find_lb_hint();
        if m.option("install_ls_lb_from_router").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            diags.push(Diagnostic {
                table: nb::NbGlobal::TABLE,
                row: ".".into(),
                message: "options:install_ls_lb_from_router is not translated: router load balancers are not \
                          installed on the switches of their routers"
                    .into(),
            });
        }
        m
    }

    /// The load balancers applied to a switch, directly or through a
    /// group, by UUID.
    pub fn lbs_of(&self, dp: DpId) -> impl Iterator<Item = &lb::LoadBalancer<'a>> {
        let mut lbs: Vec<usize> = match self.dp(dp).switch() {
            Some(sw) => lb::of_switch(sw).filter_map(|u| self.lb_index.get(&u).copied()).collect(),
            None => Vec::new(),
        };
        lbs.sort_unstable();
        lbs.dedup();
        lbs.into_iter().map(|i| &self.lbs[i])
    }

    /// The NAT rules a router applies, in NB UUID order.
    pub fn nats_of(&self, dp: DpId) -> &[nat::Nat<'a>] {
        self.nats.get(&dp).map_or(&[], Vec::as_slice)
    }

    /// Every NAT rule of a router that parses, in NB UUID order: the ones
    /// it applies (`nats_of`), then the ones it does not (`idle_nats_of`).
    pub fn all_nats_of(&self, dp: DpId) -> impl Iterator<Item = &nat::Nat<'a>> {
        self.nats_of(dp).iter().chain(self.idle_nats_of(dp))
    }

    /// The NAT rules a router does not apply, in NB UUID order: all those
    /// of a router with neither `options:chassis` nor a distributed
    /// gateway port, and the `rejected` ones of others. No stage
    /// translates packets with them, but the reference still answers ARP
    /// and ND for their external IPs, and keeps the SNAT addresses of the
    /// former out of the drops of traffic to the router.
    pub fn idle_nats_of(&self, dp: DpId) -> &[nat::Nat<'a>] {
        self.idle_nats.get(&dp).map_or(&[], Vec::as_slice)
    }

    /// The NAT rules of every enabled router, each resolved to the gateway
    /// it applies at: the router itself when it is a gateway router
    /// (`options:chassis`), else one of its distributed gateway ports; and
    /// apart, the rules of routers with no gateway.
    fn build_nats(&self, diags: &mut Vec<Diagnostic>) -> (NatsByRouter<'a>, NatsByRouter<'a>) {
        let (mut out, mut idle) = (HashMap::new(), HashMap::new());
        for dp in self.routers().filter(|d| d.enabled()) {
            let Some(r) = dp.router() else { continue };
            let gw = if r.options().get("chassis").is_some_and(|c| !c.is_empty()) {
                nat::Gateway::Router
            } else {
                let ports: Vec<_> = self
                    .chassis_redirect
                    .iter()
                    .map(|c| (c.port, &self.ports[c.port]))
                    .filter(|(_, p)| p.dp == dp.id)
                    .filter_map(|(i, p)| Some((i, p.lrp()?, p.addrs().first()?)))
                    .collect();
                if ports.is_empty() {
                    nat::Gateway::None
                } else {
                    nat::Gateway::Ports(ports)
                }
            };
            let no_gateway = matches!(gw, nat::Gateway::None);
            let (applied, unused): (Vec<_>, Vec<_>) =
                nat::build(r, &gw, diags).into_iter().partition(|n| !no_gateway && !n.rejected);
            if !applied.is_empty() {
                out.insert(dp.id, applied);
            }
            if !unused.is_empty() {
                idle.insert(dp.id, unused);
            }
        }
        (out, idle)
    }

    /// The chassis-redirect port of a distributed gateway port.
    pub fn cr_port(&self, port: usize) -> Option<&ChassisRedirect> {
        // Built in port order.
        self.chassis_redirect.binary_search_by_key(&port, |c| c.port).ok().map(|i| &self.chassis_redirect[i])
    }

    /// Tags: `tag_request` when it is not 0; for a container port (with a
    /// parent) asking for 0, the lowest tag from 1 to 4095 that no other
    /// port of the same parent uses, kept from NB `tag` when still free; a
    /// port left without one is reported.
    fn assign_tags(&mut self, diags: &mut Vec<Diagnostic>) {
        let mut used: HashMap<&'a str, std::collections::BTreeSet<i64>> = HashMap::new();
        let mut wanted = Vec::new();
        for &i in &self.lists.tag_requests {
            let p = &mut self.ports[i];
            let Some(req) = p.tag_request() else { continue };
            let Some(lsp) = p.lsp() else { continue };
            let parent = lsp.parent_name().unwrap_or("");
            if req != 0 || parent.is_empty() {
                p.extra().tag = Some(req);
                used.entry(parent).or_default().insert(req);
            } else {
                wanted.push(i);
            }
        }
        // Keep tags NB already holds, then hand out new ones.
        for keep in [true, false] {
            for &i in &wanted {
                let Some(lsp) = self.ports[i].lsp() else { continue };
                if self.ports[i].tag().is_some() {
                    continue;
                }
                let taken = used.entry(lsp.parent_name().unwrap_or("")).or_default();
                let tag = if keep {
                    lsp.tag().filter(|t| (1..=4095).contains(t) && !taken.contains(t))
                } else {
                    (1..=4095).find(|t| !taken.contains(t))
                };
                if let Some(t) = tag {
                    taken.insert(t);
                    self.ports[i].extra().tag = Some(t);
                } else if !keep {
                    diags.push(Diagnostic {
                        table: nb::LogicalSwitchPort::TABLE,
                        row: self.ports[i].name().to_string(),
                        message: "tag_request 0: every tag from 1 to 4095 is taken under its parent, no tag".into(),
                    });
                }
            }
        }
    }

    /// Finds the distributed gateway ports. On a gateway router (one with
    /// `options:chassis`) they are ignored with a diagnostic.
    fn find_chassis_redirect(&mut self, diags: &mut Vec<Diagnostic>) {
        for &i in &self.lists.gateways {
            let p = &self.ports[i];
            if self.dp(p.dp).router().is_some_and(|r| r.options().contains("chassis")) {
                diags.push(Diagnostic {
                    table: nb::LogicalRouterPort::TABLE,
                    row: p.name().to_string(),
                    message: "distributed gateway port on a gateway router, gateway chassis ignored".into(),
                });
                continue;
            }
            self.chassis_redirect.push(ChassisRedirect { port: i, name: format!("cr-{}", p.name()), tunnel_key: 0 });
        }
    }

    /// Runs IPAM and puts each assignment among the port's addresses where
    /// its `dynamic` entry is.
    fn assign_dynamic(&mut self, diags: &mut Vec<Diagnostic>) {
        for (i, value) in ipam::assign(self, diags) {
            let port = &mut self.ports[i];
            if let (Some(lsp), Some(parsed)) = (port.lsp(), LportAddresses::parse(&value)) {
                let slot = lsp
                    .addresses()
                    .take_while(|a| ipam::Request::parse(a).is_none())
                    .filter(|a| LportAddresses::parse(a).is_some())
                    .count();
                let mut addrs = port.addrs().to_vec();
                addrs.insert(slot.min(addrs.len()), parsed);
                port.extra().addrs = Some(addrs);
            }
            port.extra().dynamic_addresses = Some(value);
        }
    }

    fn push_dp(&mut self, nb: DpNb<'a>, name: &'a str, uuid: Uuid) {
        let id = DpId(self.datapaths.len() as u32);
        self.datapaths.push(Datapath { id, nb, name, uuid, tunnel_key: 0, ports: Vec::new() });
    }

    fn push_port(&mut self, dp: DpId, e: &'a memo::Entry, diags: &mut Vec<Diagnostic>) {
        let name = e.name.as_str();
        let table = if e.router { nb::LogicalRouterPort::TABLE } else { nb::LogicalSwitchPort::TABLE };
        let idx = self.ports.len();
        let slot = match self.port_by_name.entry(name) {
            Entry::Occupied(other) => {
                let other = self.datapaths[self.ports[*other.get()].dp.0 as usize].name;
                diags.push(Diagnostic {
                    table,
                    row: name.to_string(),
                    message: format!("duplicate port name (also in {other}), port left out"),
                });
                return;
            }
            Entry::Vacant(slot) => slot,
        };
        let parsed = &e.parsed;
        for (column, value, why) in &parsed.bad {
            diags.push(Diagnostic::new(table, name, column, value, why));
        }
        if e.router && parsed.addrs.is_empty() {
            return;
        }
        slot.insert(idx);
        let port = Port { db: self.nb, e, dp, tunnel_key: 0, peer: None, extra: None };
        self.datapaths[dp.0 as usize].ports.push(idx);
        let lists = &mut self.lists;
        if let Some(peer) = &e.peer {
            let list = if e.router { &mut lists.lrp_peers } else { &mut lists.router_lsps };
            list.push((idx, peer.as_str()));
        }
        let listed = [
            (e.router && e.gateway, &mut lists.gateways),
            (port.lsp_type() == "external", &mut lists.external),
            (port.tag_request().is_some(), &mut lists.tag_requests),
            (port.asks_queue(), &mut lists.queue_askers),
            (port.dhcp_options().iter().any(Option::is_some), &mut lists.dhcp),
        ];
        for (yes, list) in listed {
            if yes {
                list.push(idx);
            }
        }
        self.ports.push(port);
    }

    /// The SB binding of a port.
    pub fn binding(&self, port: &Port<'a>) -> Option<sb::PortBinding<'a>> {
        port.e.binding.and_then(|u| sb::PortBinding::get(self.sb, &u))
    }

    /// The SB binding of a port name (a chassis-redirect port's).
    pub fn binding_of(&self, name: &str) -> Option<sb::PortBinding<'a>> {
        self.memo.binding(self.sb, name)
    }

    /// Pairs router-type switch ports with the router ports they name.
    fn link_peers(&mut self, diags: &mut Vec<Diagnostic>) {
        for k in 0..self.lists.router_lsps.len() {
            let (i, rp) = self.lists.router_lsps[k];
            match self.port_by_name.get(rp).copied() {
                Some(j) if self.ports[j].is_lrp() => {
                    if self.ports[j].peer.is_none() {
                        self.ports[j].peer = Some(i);
                    }
                    self.ports[i].peer = Some(j);
                }
                _ => diags.push(Diagnostic::new(
                    nb::LogicalSwitchPort::TABLE,
                    self.ports[i].name(),
                    "options:router-port",
                    rp,
                    "not a logical router port",
                )),
            }
        }
        // A router port may also name its peer router port directly (router
        // to router links).
        for k in 0..self.lists.lrp_peers.len() {
            let (i, peer) = self.lists.lrp_peers[k];
            match self.port_by_name.get(peer) {
                Some(&j) if self.ports[j].is_lrp() => {
                    self.ports[i].peer = Some(j);
                    // Kept as written, as the reference does; but a patch
                    // port to itself or to a port peering elsewhere carries
                    // no traffic back.
                    let back = self.ports[j].lrp().and_then(|l| l.peer());
                    let problem = if i == j {
                        Some("the port itself".to_string())
                    } else if back != Some(self.ports[i].name()) {
                        Some(match back {
                            Some(other) => format!("it peers with '{}', not with this port", cut(other, QUOTE_MAX)),
                            None => "it names no peer".to_string(),
                        })
                    } else {
                        None
                    };
                    if let Some(problem) = problem {
                        diags.push(Diagnostic::new(
                            nb::LogicalRouterPort::TABLE,
                            self.ports[i].name(),
                            "peer",
                            peer,
                            &problem,
                        ));
                    }
                }
                _ => diags.push(Diagnostic::new(
                    nb::LogicalRouterPort::TABLE,
                    self.ports[i].name(),
                    "peer",
                    peer,
                    "not a logical router port, ignored",
                )),
            }
        }
    }
}

/// A binding's SB datapath and tunnel key (`Port::sb_key`).
pub(super) fn sb_key(pb: sb::PortBinding<'_>) -> Option<(Uuid, i64)> {
    Some((pb.datapath_uuids().next()?, pb.tunnel_key()))
}

/// Whether northd reports a switch port of type `type_` up: a
/// router-type port always is; another once a chassis has claimed its
/// binding and, when that chassis reports port readiness
/// (`other_config:port-up-notif`), once the binding's `up` is true as well.
pub(super) fn up(type_: &str, binding: Option<sb::PortBinding<'_>>) -> bool {
    type_ == "router"
        || binding.is_some_and(|pb| match pb.chassis() {
            Some(ch) if ch.other_config().get_bool("port-up-notif", false) => pb.up() == Some(true),
            Some(_) => true,
            None => false,
        })
}

/// The options of a switch port that ask for a QoS queue
/// (`bindings::queues`).
pub(crate) const QOS_OPTIONS: [&str; 3] = ["qos_max_rate", "qos_burst", "qos_min_rate"];

#[cfg(test)]
mod tests {
    use super::testutil::{named_row, u};
    use super::*;
    use crate::tests::replica;

    /// Container ports of `vm`: `c1` asks for a tag and NB already gives it
    /// 7, `c2` asks for one, `c3` requests 1; a localnet port requests VLAN
    /// 100 with an empty parent; `c4` of another parent asks for one.
    #[test]
    fn tags_are_kept_requested_or_the_lowest_free_per_parent() {
        let port = named_row;
        let nb = format!(
            r#"{{"Logical_Switch": {{"{sw}": {{"initial": {{"name": "sw", "ports": ["set",
                [["uuid", "{p1}"], ["uuid", "{p2}"], ["uuid", "{p3}"], ["uuid", "{p4}"], ["uuid", "{p5}"], ["uuid", "{p6}"]]]}}}}}},
              "Logical_Switch_Port": {{{}, {}, {}, {}, {}, {}}}}}"#,
            port(11, "vm", ""),
            port(12, "c1", r#", "parent_name": "vm", "tag_request": 0, "tag": 7"#),
            port(13, "c2", r#", "parent_name": "vm", "tag_request": 0"#),
            port(14, "c3", r#", "parent_name": "vm", "tag_request": 1"#),
            port(15, "ln", r#", "parent_name": "", "tag_request": 100, "type": "localnet""#),
            port(16, "c4", r#", "parent_name": "other", "tag_request": 0"#),
            sw = u(1),
            p1 = u(11),
            p2 = u(12),
            p3 = u(13),
            p4 = u(14),
            p5 = u(15),
            p6 = u(16),
        );
        let nb = replica("ovn-nb.ovsschema", &nb);
        let sb = replica("ovn-sb.ovsschema", "{}");
        let memo = crate::model::memo::PortMemo::of(&nb, &sb);
        let m = Model::build(&nb, &sb, &memo, BTreeMap::new(), &mut Vec::new());
        let tag = |n: &str| m.port(n).and_then(|p| p.tag());
        assert_eq!(
            [tag("vm"), tag("c1"), tag("c2"), tag("c3"), tag("ln"), tag("c4")],
            [None, Some(7), Some(2), Some(1), Some(100), Some(1)]
        );
    }

    /// A router port keeps the networks that parse (and its link-local
    /// address) and reports each other one; a port with an invalid MAC is
    /// left out, as the reference leaves out its binding and flows.
    #[test]
    fn router_port_keeps_valid_networks_and_drops_a_bad_mac() {
        let nb = format!(
            r#"{{"Logical_Router": {{"{lr}": {{"initial": {{"name": "lr",
                "ports": ["set", [["uuid", "{p1}"], ["uuid", "{p2}"]]]}}}}}},
              "Logical_Router_Port": {{{}, {}}}}}"#,
            named_row(
                11,
                "good",
                r#", "mac": "00:00:00:00:ff:01", "networks": ["set", ["10.0.1.1/24", "bogus", "fd01::1/64", "10.0.2.1/33"]]"#
            ),
            named_row(12, "badmac", r#", "mac": "00:00:00:00:ff:zz", "networks": "10.0.3.1/24""#),
            lr = u(1),
            p1 = u(11),
            p2 = u(12),
        );
        let (nb, sb) = (replica("ovn-nb.ovsschema", &nb), replica("ovn-sb.ovsschema", "{}"));
        let mut diags = Vec::new();
        let memo = crate::model::memo::PortMemo::of(&nb, &sb);
        let m = Model::build(&nb, &sb, &memo, BTreeMap::new(), &mut diags);
        assert!(m.port("badmac").is_none());
        let good = m.port("good").unwrap();
        let a = &good.addrs()[0];
        assert_eq!(a.ipv4.iter().map(|n| format!("{}/{}", n.addr, n.plen)).collect::<Vec<_>>(), ["10.0.1.1/24"]);
        assert_eq!(a.ipv6.len(), 2, "fd01::1/64 and the link-local address");
        let diags: Vec<String> = diags.iter().map(ToString::to_string).collect();
        assert_eq!(
            diags,
            [
                "Logical_Router_Port badmac: mac '00:00:00:00:ff:zz': invalid MAC, port left out",
                "Logical_Router_Port good: networks '10.0.2.1/33': invalid network, entry ignored",
                "Logical_Router_Port good: networks 'bogus': invalid network, entry ignored",
            ]
        );
    }

    /// A router port peering with no router port, and a NAT rule with an
    /// unusable external IP or MAC, are reported.
    #[test]
    fn bad_peers_and_nat_addresses_are_reported() {
        let nb = format!(
            r#"{{"Logical_Router": {{"{lr}": {{"initial": {{"name": "lr", "ports": ["uuid", "{p1}"],
                "nat": ["uuid", "{n1}"], "options": ["map", [["chassis", "hv1"]]]}}}}}},
              "Logical_Router_Port": {{{}}},
              "NAT": {{"{n1}": {{"initial": {{"type": "dnat_and_snat", "external_ip": "172.16.0.300",
                "logical_ip": "10.0.0.5", "external_mac": "zz"}}}}}}}}"#,
            named_row(11, "p1", r#", "mac": "00:00:00:00:ff:01", "networks": "10.0.0.1/24", "peer": "nowhere""#),
            lr = u(1),
            p1 = u(11),
            n1 = u(31),
        );
        let (nb, sb) = (replica("ovn-nb.ovsschema", &nb), replica("ovn-sb.ovsschema", "{}"));
        let mut diags = Vec::new();
        let memo = crate::model::memo::PortMemo::of(&nb, &sb);
        Model::build(&nb, &sb, &memo, BTreeMap::new(), &mut diags);
        let diags: Vec<String> = diags.iter().map(ToString::to_string).collect();
        let nat = u(31);
        assert_eq!(
            diags,
            [
                "Logical_Router_Port p1: peer 'nowhere': not a logical router port, ignored".to_string(),
                format!("NAT {nat}: external_ip '172.16.0.300': not an IP address, rule ignored"),
            ]
        );
    }

    /// A router port peering with itself, and three peering in a loop
    /// (none names back the port that names it): kept as written, as the
    /// reference does, and each named in a diagnostic.
    #[test]
    fn router_ports_peering_with_themselves_or_in_a_loop_are_reported() {
        let lrp = |n: u32, name: &str, peer: &str| {
            named_row(
                n,
                name,
                &format!(r#", "mac": "00:00:00:00:ff:0{n}", "networks": "10.0.{n}.1/24", "peer": "{peer}""#),
            )
        };
        let nb = format!(
            r#"{{"Logical_Router": {{"{lr}": {{"initial": {{"name": "lr", "ports": ["set", [["uuid", "{p1}"], ["uuid", "{p2}"], ["uuid", "{p3}"], ["uuid", "{p4}"]]]}}}}}},
              "Logical_Router_Port": {{{}, {}, {}, {}}}}}"#,
            lrp(1, "self", "self"),
            lrp(2, "a", "b"),
            lrp(3, "b", "c"),
            lrp(4, "c", "a"),
            lr = u(10),
            p1 = u(1),
            p2 = u(2),
            p3 = u(3),
            p4 = u(4),
        );
        let (nb, sb) = (replica("ovn-nb.ovsschema", &nb), replica("ovn-sb.ovsschema", "{}"));
        let mut diags = Vec::new();
        let memo = crate::model::memo::PortMemo::of(&nb, &sb);
        let m = Model::build(&nb, &sb, &memo, BTreeMap::new(), &mut diags);
        let diags: Vec<String> = diags.iter().map(ToString::to_string).collect();
        assert_eq!(
            diags,
            [
                "Logical_Router_Port a: peer 'b': it peers with 'c', not with this port",
                "Logical_Router_Port b: peer 'c': it peers with 'a', not with this port",
                "Logical_Router_Port c: peer 'a': it peers with 'b', not with this port",
                "Logical_Router_Port self: peer 'self': the port itself",
            ]
        );
        let peer = |name: &str| m.peer(m.port(name).unwrap()).map(|p| p.name());
        assert_eq!((peer("self"), peer("a"), peer("c")), (Some("self"), Some("b"), Some("a")), "kept as written");
    }
}
