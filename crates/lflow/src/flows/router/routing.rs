//! Ingress tables 12 to 14: IP routing pre (route tables), IP routing
//! (connected routes, host routes to neighbour routers' NAT addresses with
//! `add_route`, static routes with `ip_prefix`, `nexthop`,
//! `output_port`, `policy`, `route_table`, discard routes, ECMP groups)
//! and IP routing ECMP (one flow per group member); plus the ECMP
//! symmetric reply flows that go with such routes on gateway routers
//! (DEFRAG, ECMP stateful, policy and ARP resolve stages). Never resolves
//! a next hop's MAC (that is `arp_resolve`).
//!
//! ECMP group ids are SB facts, like tunnel keys: a group keeps the id the
//! SB's routing flow for the same match already carries (`EcmpIds`). A new
//! group gets the id the reference would give it when that is free (the
//! reference numbers groups as it forms them, walking the routes in UUID
//! order: a group forms at its second member), else the lowest free id.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use foldhash::HashMap;

use super::{nh_regs, parse_ip, RPort, Router};
use crate::input::{nb, sb};
use crate::model::addr::{Ipv4Net, Ipv6Net};
use crate::model::{Model, Port};
use crate::output::{Diagnostic, DpId, Flows};
use crate::stage::Stage;

/// Priority multiplier per prefix bit and the offsets that order routes of
/// the same prefix length: source routes, static routes, connected routes.
const PRIO_MULT: u32 = 3;
const OFS_SRC: u32 = 0;
const OFS_STATIC: u32 = 1;
const OFS_CONNECTED: u32 = 2;

/// A route prefix of either family, printed as `network/plen`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Prefix {
    V4(Ipv4Net),
    V6(Ipv6Net),
}

impl Prefix {
    fn parse(s: &str) -> Option<Prefix> {
        let s = s.trim();
        if s.contains(':') {
            Ipv6Net::parse(s).map(|n| Prefix::V6(Ipv6Net { addr: n.network(), plen: n.plen }))
        } else {
            Ipv4Net::parse(s).map(|n| Prefix::V4(Ipv4Net { addr: n.network(), plen: n.plen }))
        }
    }

    fn plen(&self) -> u32 {
        match self {
            Prefix::V4(n) => n.plen as u32,
            Prefix::V6(n) => n.plen as u32,
        }
    }

    fn is_v4(&self) -> bool {
        matches!(self, Prefix::V4(_))
    }

    fn text(&self) -> String {
        match self {
            Prefix::V4(n) => format!("{}/{}", n.addr, n.plen),
            Prefix::V6(n) => format!("{}/{}", n.addr, n.plen),
        }
    }

    fn family(&self) -> &'static str {
        if self.is_v4() {
            "4"
        } else {
            "6"
        }
    }
}

/// Where a route sends packets.
#[derive(Debug, Clone, Copy)]
enum Target {
    Discard,
    /// Next hop, index of the output port in `Router::ports`, and the
    /// port's address used as the source of ARP/ND requests.
    Via {
        nexthop: IpAddr,
        port: usize,
        lrp_addr: IpAddr,
    },
}

struct Route {
    uuid: ovsdb::Uuid,
    /// The BFD session the route depends on: its `bfd` row, when that
    /// session's `dst_ip` is the route's `nexthop` (else the route does not
    /// depend on it, and the session is unused).
    bfd: Option<ovsdb::Uuid>,
    table: u32,
    prefix: Prefix,
    is_src: bool,
    target: Target,
    symmetric: bool,
}

/// The ECMP group ids the SB's routing flows carry, by router and flow
/// (priority and match): `reg8[0..15] = N; reg8[16..31] = select(...)` in
/// `lr_in_ip_routing`, on the router's datapath or in a datapath group
/// holding it.
#[derive(Debug, Default)]
pub struct EcmpIds {
    ids: HashMap<(DpId, u16, String), u16>,
}

impl EcmpIds {
    /// Reads the ids of the routers `wanted` says from the SB; reads
    /// nothing when none of them can have an ECMP group (two static routes
    /// with the same table, policy and prefix).
    pub fn from_sb(m: &Model<'_>, wanted: impl Fn(DpId) -> bool) -> EcmpIds {
        let mut out = EcmpIds::default();
        let may_have_groups = |r: nb::LogicalRouter<'_>| {
            let mut keys: Vec<_> = r
                .static_routes()
                .filter_map(|rt| {
                    Some((rt.route_table(), rt.policy() == Some("src-ip"), Prefix::parse(rt.ip_prefix())?))
                })
                .collect();
            keys.sort();
            keys.windows(2).any(|w| w[0] == w[1])
        };
        let nb_routers: HashMap<ovsdb::Uuid, DpId> = m
            .routers()
            .filter(|dp| wanted(dp.id) && dp.router().is_some_and(may_have_groups))
            .map(|dp| (dp.uuid, dp.id))
            .collect();
        if nb_routers.is_empty() {
            return out;
        }
        let routers: HashMap<ovsdb::Uuid, DpId> = sb::DatapathBinding::all(m.sb)
            .filter_map(|d| {
                let nb = d.external_ids().get("logical-router")?.parse::<ovsdb::Uuid>().ok()?;
                Some((d.uuid(), *nb_routers.get(&nb)?))
            })
            .collect();
        let st = Stage::LrInIpRouting;
        for f in sb::LogicalFlow::all(m.sb) {
            if f.table_id() != i64::from(st.table()) || f.pipeline() != st.pipeline().as_str() {
                continue;
            }
            let (Some(id), Ok(prio)) = (group_id(f.actions()), u16::try_from(f.priority())) else { continue };
            let dps =
                f.logical_datapath_uuids().chain(f.logical_dp_group().into_iter().flat_map(|g| g.datapaths_uuids()));
            for dp in dps.filter_map(|u| routers.get(&u)) {
                out.ids.insert((*dp, prio, f.match_().to_string()), id);
            }
        }
        out
    }

    fn get(&self, dp: DpId, prio: u16, match_: &str) -> Option<u16> {
        self.ids.get(&(dp, prio, match_.to_string())).copied()
    }
}

/// N in the actions of an ECMP group's routing flow
/// (`... reg8[0..15] = N; reg8[16..31] = select(...);`), when it is a
/// valid group id (1 to 65535).
fn group_id(actions: &str) -> Option<u16> {
    if !actions.contains("reg8[16..31] = select(") {
        return None;
    }
    let rest = &actions[actions.find("reg8[0..15] = ")? + "reg8[0..15] = ".len()..];
    rest[..rest.find(';')?].trim().parse::<u16>().ok().filter(|id| *id > 0)
}

/// Group ids for `wanted` groups (priority, match and the id the reference
/// would give, in order): the id SB holds for the same flow when no
/// earlier group took it; then the reference's id when free; then the
/// lowest free ids (none once all 65535 are taken).
fn assign_group_ids(r: &Router<'_, '_>, ecmp: &EcmpIds, wanted: &[(u16, String, u16)]) -> Vec<Option<u16>> {
    let mut used = BTreeSet::new();
    let mut ids: Vec<Option<u16>> =
        wanted.iter().map(|(prio, m, _)| ecmp.get(r.dp, *prio, m).filter(|id| used.insert(*id))).collect();
    for (id, (_, _, preferred)) in ids.iter_mut().zip(wanted) {
        if id.is_none() && *preferred > 0 && used.insert(*preferred) {
            *id = Some(*preferred);
        }
    }
    let mut free = (1..=u16::MAX).filter(|id| !used.contains(id));
    ids.into_iter().map(|id| id.or_else(|| free.next())).collect()
}

/// Adds the routing flows; returns the IPv6 next hops of static routes
/// with a route through each, whether or not its BFD session is down (the
/// ARP request stage solicits them directly).
pub fn build(
    r: &Router<'_, '_>,
    ecmp: &EcmpIds,
    flows: &mut Flows,
    diags: &mut Vec<Diagnostic>,
) -> Vec<(Ipv6Addr, ovsdb::Uuid)> {
    let tables = route_tables(r);
    routing_pre(r, &tables, flows);
    connected(r, flows);
    nat_routes(r, flows);
    flows.add(r.dp, Stage::LrInIpRouting, 10550, "nd_rs || nd_ra", r.drop);
    flows.add(r.dp, Stage::LrInIpRouting, 0, "1", r.drop);
    flows.add(r.dp, Stage::LrInIpRoutingEcmp, 150, "reg8[0..15] == 0", "next;");
    flows.add(r.dp, Stage::LrInIpRoutingEcmp, 0, "1", r.drop);

    // One solicitation flow per IPv6 next hop, hinted with the lowest UUID
    // of the routes through it: of every usable route, also one left out
    // below for its BFD session (the reference solicits its next hop still).
    let mut routes = parse_routes(r, &tables, diags);
    let mut v6_nexthops: Vec<(Ipv6Addr, ovsdb::Uuid)> = routes
        .iter()
        .filter_map(|rt| match rt.target {
            Target::Via { nexthop: IpAddr::V6(a), .. } => Some((a, rt.uuid)),
            _ => None,
        })
        .collect();
    v6_nexthops.sort();
    v6_nexthops.dedup_by_key(|(a, _)| *a);
    // A route whose BFD session is down is left out.
    routes.retain(|rt| !rt.bfd.and_then(|b| r.m.bfd.get(b)).is_some_and(|s| s.status == "down"));
    // Routes with the same table, policy and prefix form an ECMP group;
    // its members are numbered in route UUID order, as the reference does.
    let mut groups: BTreeMap<(u32, bool, Prefix), Vec<&Route>> = BTreeMap::new();
    for rt in &routes {
        groups.entry((rt.table, rt.is_src, rt.prefix)).or_default().push(rt);
    }
    for members in groups.values_mut() {
        members.sort_by_key(|rt| rt.uuid);
    }
    // The reference's ids: groups in the UUID order of their second member.
    let mut formed: Vec<ovsdb::Uuid> = groups.values().filter_map(|members| members.get(1)).map(|rt| rt.uuid).collect();
    formed.sort();
    let wanted: Vec<(u16, String, u16)> = groups
        .iter()
        .filter(|(_, members)| members.len() > 1)
        .map(|((table, is_src, prefix), members)| {
            let (m, prio) = route_match(*table, prefix, *is_src, OFS_STATIC);
            let rank = formed.binary_search(&members[1].uuid).map_or(0, |i| i + 1);
            (prio as u16, m, u16::try_from(rank).unwrap_or(0))
        })
        .collect();
    let mut gids = assign_group_ids(r, ecmp, &wanted).into_iter();
    for ((table, is_src, prefix), members) in &groups {
        let (m, prio) = route_match(*table, prefix, *is_src, OFS_STATIC);
        if members.len() == 1 {
            let rt = members[0];
            match rt.target {
                Target::Discard => {
                    flows.add(r.dp, Stage::LrInIpRouting, prio as u16, m, r.drop).hint(rt.uuid);
                }
                Target::Via { nexthop, port, lrp_addr } => {
                    let p = &r.ports[port];
                    let (r0, r1) = nh_regs(nexthop);
                    let actions = format!(
                        "reg8[0..15] = 0; {r0} = {nexthop}; {r1} = {lrp_addr}; eth.src = {}; outport = {}; flags.loopback = 1; next;",
                        p.mac,
                        p.key()
                    );
                    route_flows(r, p, prio as u16, &m, &actions, rt.uuid, flows);
                }
            }
            continue;
        }
        let Some(gid) = gids.next().flatten() else { continue };
        let mut mids = Vec::new();
        let symmetric_hint = members.iter().filter(|rt| rt.symmetric).map(|rt| rt.uuid).min();
        for (i, rt) in members.iter().enumerate() {
            let Target::Via { nexthop, port, lrp_addr } = rt.target else { continue };
            let mid = i + 1;
            mids.push(mid.to_string());
            let p = &r.ports[port];
            let (r0, r1) = nh_regs(nexthop);
            flows
                .add(
                    r.dp,
                    Stage::LrInIpRoutingEcmp,
                    100,
                    format!("reg8[0..15] == {gid} && reg8[16..31] == {mid}"),
                    format!("{r0} = {nexthop}; {r1} = {lrp_addr}; eth.src = {}; outport = {}; next;", p.mac, p.key()),
                )
                .hint(rt.uuid);
            if let (true, true, Some(hint)) = (rt.symmetric, r.is_gateway, symmetric_hint) {
                symmetric_reply(r, rt, hint, p, lrp_addr, &m, flows);
            }
        }
        flows.add(
            r.dp,
            Stage::LrInIpRouting,
            prio as u16,
            m,
            format!("ip.ttl--; flags.loopback = 1; reg8[0..15] = {gid}; reg8[16..31] = select({});", mids.join(", ")),
        );
    }

    v6_nexthops
}

/// Route table names to their ids: the ports' `options:route_table` first
/// (in port order), then the static routes' `route_table`, numbered from 1
/// in order of first use. The main table (empty name) is 0.
fn route_tables(r: &Router<'_, '_>) -> BTreeMap<String, u32> {
    let mut ids: BTreeMap<String, u32> = BTreeMap::new();
    let mut add = |name: &str| {
        if !name.is_empty() && !ids.contains_key(name) {
            let id = ids.len() as u32 + 1;
            ids.insert(name.to_string(), id);
        }
    };
    for p in &r.ports {
        if let Some(t) = p.lrp.options().get("route_table") {
            add(t);
        }
    }
    for rt in sorted_routes(r) {
        add(rt.route_table());
    }
    ids
}

fn sorted_routes<'a>(r: &Router<'_, 'a>) -> Vec<nb::LogicalRouterStaticRoute<'a>> {
    let mut v: Vec<_> = r.nb.static_routes().collect();
    v.sort_by_key(|s| (s.route_table(), s.ip_prefix(), s.nexthop(), s.uuid()));
    v
}

fn routing_pre(r: &Router<'_, '_>, tables: &BTreeMap<String, u32>, flows: &mut Flows) {
    flows.add(r.dp, Stage::LrInIpRoutingPre, 0, "1", "reg7 = 0; next;");
    for p in &r.ports {
        let Some(id) = p.lrp.options().get("route_table").and_then(|t| tables.get(t)) else { continue };
        flows.add(r.dp, Stage::LrInIpRoutingPre, 100, format!("inport == {}", p.key()), format!("reg7 = {id}; next;"));
    }
}

/// The match and priority of a route: `[inport == P && ][reg7 == T && ]ipN.dir == prefix`.
fn route_match(table: u32, prefix: &Prefix, is_src: bool, ofs: u32) -> (String, u32) {
    let ofs = if is_src { OFS_SRC } else { ofs };
    let prio = prefix.plen() * PRIO_MULT + ofs;
    let mut m = String::new();
    if table != 0 || ofs == OFS_STATIC {
        m.push_str(&format!("reg7 == {table} && "));
    }
    m.push_str(&format!("ip{}.{} == {}", prefix.family(), if is_src { "src" } else { "dst" }, prefix.text()));
    (m, prio)
}

fn connected(r: &Router<'_, '_>, flows: &mut Flows) {
    for p in &r.ports {
        let key = p.key();
        let v4 =
            p.ipv4.iter().map(|n| (Prefix::V4(Ipv4Net { addr: n.network(), plen: n.plen }), n.addr.to_string(), false));
        let v6 = p
            .ipv6
            .iter()
            .map(|n| (Prefix::V6(Ipv6Net { addr: n.network(), plen: n.plen }), n.addr.to_string(), n.is_lla()));
        for (prefix, addr, lla) in v4.chain(v6) {
            let (m, prio) = route_match(0, &prefix, false, OFS_CONNECTED);
            let m = if lla { format!("inport == {key} && {m}") } else { m };
            route_flows(r, p, prio as u16, &m, &direct(p, &prefix, &addr), p.port.uuid(), flows);
        }
    }
}

/// The actions of a route to a destination directly reachable out of `p`,
/// from `p`'s address `addr`, but for the TTL decrement (`route_flows`).
fn direct(p: &RPort<'_, '_>, prefix: &Prefix, addr: &str) -> String {
    let (f, reg) = (prefix.family(), if prefix.is_v4() { "reg" } else { "xxreg" });
    format!(
        "reg8[0..15] = 0; {reg}0 = ip{f}.dst; {reg}1 = {addr}; eth.src = {}; outport = {}; flags.loopback = 1; next;",
        p.mac,
        p.key()
    )
}

/// The external IPv4 addresses of the NAT rules with
/// `options:add_route=true` that apply at the distributed gateway port
/// `q` (the reference adds no route for IPv6 ones, nor for those of a
/// gateway router), in NB UUID order.
pub fn add_route_ips<'m>(m: &'m Model<'_>, q: &'m Port<'_>) -> impl Iterator<Item = Ipv4Addr> + 'm {
    m.nats_of(q.dp).iter().filter_map(move |n| match n.external_ip {
        IpAddr::V4(ip)
            if n.dgp.is_some_and(|i| std::ptr::eq(&m.ports[i], q)) && n.nb.options().get_bool("add_route", false) =>
        {
            Some(ip)
        }
        _ => None,
    })
}

/// Routes to the `add_route_ips` of other routers' gateway ports on the
/// switch behind one of ours: connected host routes out of our port, from
/// its address in the external IP's network or else its first IPv4 one;
/// each switch's a part of the router's flows (`Flows::part`).
pub(super) fn nat_routes(r: &Router<'_, '_>, flows: &mut Flows) {
    for p in &r.ports {
        let Some(peer) = r.peer(p.port).filter(|q| q.is_lsp()) else { continue };
        flows.part(r.m.dp(peer.dp).uuid, |flows| {
            for lsp in r.m.ports_of(peer.dp).filter(|q| q.lsp_type() == "router") {
                let Some(q) = r.peer(lsp).filter(|q| q.dp != r.dp) else { continue };
                for ip in add_route_ips(r.m, q) {
                    let Some(addr) = p.network_of(IpAddr::V4(ip)).or_else(|| p.first_of_family(IpAddr::V4(ip))) else {
                        continue;
                    };
                    let prefix = Prefix::V4(Ipv4Net { addr: ip, plen: 32 });
                    let (m, prio) = route_match(0, &prefix, false, OFS_CONNECTED);
                    route_flows(r, p, prio as u16, &m, &direct(p, &prefix, &addr.to_string()), lsp.uuid(), flows);
                }
            }
        });
    }
}

/// The routing flow of a route through `p` that is not an ECMP group
/// (`actions` without the TTL decrement it starts with); when a BFD session
/// runs on `p`, also its copy for BFD packets, one priority above, that
/// keeps their TTL (a BFD packet's TTL must stay 255, RFC 5881).
fn route_flows(
    r: &Router<'_, '_>,
    p: &RPort<'_, '_>,
    prio: u16,
    m: &str,
    actions: &str,
    hint: ovsdb::Uuid,
    flows: &mut Flows,
) {
    flows.add(r.dp, Stage::LrInIpRouting, prio, m, format!("ip.ttl--; {actions}")).hint(hint);
    if r.m.bfd.on_port(p.name()) {
        flows.add(r.dp, Stage::LrInIpRouting, prio + 1, format!("{m} && udp.dst == 3784"), actions).hint(hint);
    }
}

/// The NB `BFD` rows that usable static routes of enabled routers depend
/// on (see `Route::bfd`).
pub fn bfd_in_use(m: &Model<'_>) -> BTreeSet<ovsdb::Uuid> {
    let drop = String::new();
    let mut in_use = BTreeSet::new();
    // (Only a route with a `bfd` row depends on one.)
    if nb::LogicalRouterStaticRoute::all(m.nb).all(|rt| rt.bfd().is_none()) {
        return in_use;
    }
    for dp in m.routers().filter(|dp| dp.enabled()) {
        let Some(nb) = dp.router() else { continue };
        let r = Router::new(m, dp.id, nb, &drop);
        // The diagnostics are the routing flows' to report.
        let routes = parse_routes(&r, &route_tables(&r), &mut Vec::new());
        in_use.extend(routes.iter().filter_map(|rt| rt.bfd));
    }
    in_use
}

fn diag(rt: &nb::LogicalRouterStaticRoute<'_>, message: String) -> Diagnostic {
    Diagnostic { table: nb::LogicalRouterStaticRoute::TABLE, row: rt.uuid().to_string(), message }
}

fn parse_routes(r: &Router<'_, '_>, tables: &BTreeMap<String, u32>, diags: &mut Vec<Diagnostic>) -> Vec<Route> {
    let mut out = Vec::new();
    for rt in sorted_routes(r) {
        let Some(prefix) = Prefix::parse(rt.ip_prefix()) else {
            diags.push(diag(&rt, format!("bad 'ip_prefix' {}, route left out", rt.ip_prefix())));
            continue;
        };
        let table = tables.get(rt.route_table()).copied().unwrap_or(0);
        let is_src = rt.policy() == Some("src-ip");
        let target = if rt.nexthop() == "discard" {
            Target::Discard
        } else {
            let Some(nexthop) = parse_ip(rt.nexthop()).filter(|a| a.is_ipv4() == prefix.is_v4()) else {
                diags.push(diag(
                    &rt,
                    format!("bad 'nexthop' {} for prefix {}, route left out", rt.nexthop(), rt.ip_prefix()),
                ));
                continue;
            };
            let found = match rt.output_port() {
                Some(name) => r.ports.iter().position(|p| p.name() == name).and_then(|i| {
                    let p = &r.ports[i];
                    p.network_of(nexthop).or_else(|| p.first_of_family(nexthop)).map(|a| (i, a))
                }),
                None => r.ports.iter().enumerate().find_map(|(i, p)| p.network_of(nexthop).map(|a| (i, a))),
            };
            let Some((port, lrp_addr)) = found else {
                diags.push(diag(&rt, format!("no router port reaches nexthop {nexthop}, route left out")));
                continue;
            };
            Target::Via { nexthop, port, lrp_addr }
        };
        out.push(Route {
            uuid: rt.uuid(),
            bfd: rt.bfd().filter(|b| b.dst_ip() == rt.nexthop()).map(|b| b.uuid()),
            table,
            prefix,
            is_src,
            target,
            symmetric: rt.options().get_bool("ecmp_symmetric_reply", false),
        });
    }
    out
}

/// The flows that send replies of connections that came in over an ECMP
/// route back to the MAC and port they came from. They carry the lowest
/// UUID of the group's symmetric routes as hint, so that members through
/// the same port share them.
fn symmetric_reply(
    r: &Router<'_, '_>,
    rt: &Route,
    hint: ovsdb::Uuid,
    p: &RPort<'_, '_>,
    lrp_addr: IpAddr,
    route_m: &str,
    flows: &mut Flows,
) {
    let key = p.key();
    let fam = rt.prefix.family();
    let reverse_dir = if rt.is_src { "dst" } else { "src" };
    let in_match = format!("inport == {key} && ip{fam}.{reverse_dir} == {}", rt.prefix.text());
    let tunnel_key = p.port.tunnel_key;
    flows.add(r.dp, Stage::LrInDefrag, 100, in_match.clone(), "reg9[5] = chk_ecmp_nh_mac(); ct_next;").hint(hint);
    flows.add(r.dp, Stage::LrInDefrag, 100, route_m.to_string(), "reg9[5] = chk_ecmp_nh(); ct_next;").hint(hint);
    let ipv6 = !rt.prefix.is_v4();
    for proto in ["tcp", "udp", "sctp"] {
        let actions = format!(
            "ct_commit {{ ct_label.ecmp_reply_eth = eth.src;  ct_mark.ecmp_reply_port = {tunnel_key};}}; commit_ecmp_nh(ipv6 = {ipv6}, proto = {proto}); next;"
        );
        flows
            .add(
                r.dp,
                Stage::LrInEcmpStateful,
                100,
                format!("{in_match} && (ct.new && !ct.est) && {proto}"),
                actions.clone(),
            )
            .hint(hint);
        flows
            .add(
                r.dp,
                Stage::LrInEcmpStateful,
                100,
                format!("{in_match} && (!ct.rpl && ct.est) && {proto} && reg9[5] == 0"),
                actions,
            )
            .hint(hint);
    }
    let reply = format!("ct.rpl && reg9[5] == 1 && ct_mark.ecmp_reply_port == {tunnel_key}");
    let (_, r1) = nh_regs(lrp_addr);
    flows
        .add(
            r.dp,
            Stage::LrInIpRouting,
            10300,
            format!("{reply} && {route_m}"),
            format!("ip.ttl--; flags.loopback = 1; eth.src = {}; {r1} = {lrp_addr}; outport = {key}; next;", p.mac),
        )
        .hint(hint);
    flows.add(r.dp, Stage::LrInPolicy, 65535, reply.clone(), "next;").hint(hint);
    flows
        .add(
            r.dp,
            Stage::LrInArpResolve,
            200,
            reply,
            "push(xxreg1); xxreg1 = ct_label; eth.dst = xxreg1[32..79]; pop(xxreg1); next;",
        )
        .hint(hint);
}

#[cfg(test)]
mod tests {
    use super::group_id;

    #[test]
    fn group_ids_in_routing_actions() {
        assert_eq!(group_id("ip.ttl--; flags.loopback = 1; reg8[0..15] = 12; reg8[16..31] = select(1, 2);"), Some(12));
        assert_eq!(group_id("ip.ttl--; reg8[0..15] = 0; reg0 = 1.2.3.4; next;"), None);
        assert_eq!(group_id("reg8[0..15] = 0; reg8[16..31] = select(1, 2);"), None);
        assert_eq!(group_id("reg8[0..15] = 70000; reg8[16..31] = select(1, 2);"), None);
        assert_eq!(group_id("reg8[0..15] = x; reg8[16..31] = select(1, 2);"), None);
        assert_eq!(group_id("reg8[16..31] = select(1, 2); reg8[0..15] = 3"), None);
    }
}
