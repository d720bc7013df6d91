//! Load balancers as the flow builders and the SB rows use them: NB
//! `Load_Balancer` rows with their VIPs and backends parsed, the options
//! that change the flows (`reject`, `event`, `affinity_timeout`,
//! `selection_fields`), the switches each is applied to (directly or
//! through a `Load_Balancer_Group`), and for VIPs with a health check the
//! service monitor of each backend (`ip_port_mappings`) with the status
//! ovn-controller reported in SB `Service_Monitor`. Pure: never writes
//! either database; a VIP that cannot be parsed is reported and left out.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use foldhash::{HashMap, HashMapExt};

use ovsdb::Uuid;

use crate::input::{nb, sb};
use crate::output::{Diagnostic, DpId};

/// An IP address with an optional L4 port: a VIP or a backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Endpoint {
    pub ip: IpAddr,
    pub port: Option<u16>,
}

impl Endpoint {
    /// Parses `IP`, `IP:PORT`, `IPv6` or `[IPv6]:PORT`; a port must be 1 to
    /// 65535.
    pub fn parse(s: &str) -> Option<Endpoint> {
        let s = s.trim();
        if let Ok(ip) = s.parse() {
            return Some(Endpoint { ip, port: None });
        }
        let (host, port) = match s.strip_prefix('[') {
            Some(rest) => {
                let (host, rest) = rest.split_once(']')?;
                if rest.is_empty() {
                    (host, None)
                } else {
                    (host, Some(rest.strip_prefix(':')?))
                }
            }
            None => {
                let (host, port) = s.split_once(':')?;
                (host, Some(port))
            }
        };
        let ip: IpAddr = host.parse().ok()?;
        if ip.is_ipv4() && s.starts_with('[') {
            return None;
        }
        let port = match port {
            Some(p) => Some(p.parse::<u16>().ok().filter(|p| *p != 0)?),
            None => None,
        };
        Some(Endpoint { ip, port })
    }

    /// `ip4` or `ip6`.
    pub fn family(&self) -> &'static str {
        if self.ip.is_ipv4() {
            "ip4"
        } else {
            "ip6"
        }
    }
}

/// As ovn-northd prints an endpoint in actions: `10.0.0.1:80`,
/// `[fd00::1]:80`, or the bare address without a port.
impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.ip, self.port) {
            (ip, None) => write!(f, "{ip}"),
            (IpAddr::V4(ip), Some(p)) => write!(f, "{ip}:{p}"),
            (IpAddr::V6(ip), Some(p)) => write!(f, "[{ip}]:{p}"),
        }
    }
}

/// Where a backend's health is checked from (`ip_port_mappings`:
/// `PORT_NAME:SOURCE_IP`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Monitor {
    /// The logical switch port the backend is behind.
    pub port: String,
    /// The source IP of the health check packets (without brackets).
    pub src_ip: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    pub addr: Endpoint,
    /// Set when the VIP has a health check and `ip_port_mappings` names a
    /// logical switch port for this backend.
    pub monitor: Option<Monitor>,
    /// Traffic may go to it: without a health check always; with one,
    /// when it has a monitor whose SB status is unset or `online`.
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vip {
    /// The `vips` key as NB has it (health checks name VIPs by it).
    pub key: String,
    pub addr: Endpoint,
    pub backends: Vec<Backend>,
    /// A `Load_Balancer_Health_Check` names this VIP.
    pub health_check: bool,
}

impl Vip {
    /// The backends traffic may go to.
    pub fn active_backends(&self) -> impl Iterator<Item = &Backend> {
        self.backends.iter().filter(|b| b.active)
    }
}

/// One NB load balancer, parsed.
pub struct LoadBalancer<'a> {
    pub nb: nb::LoadBalancer<'a>,
    pub uuid: Uuid,
    /// The L4 protocol flows match on: `tcp` (also when NB leaves it
    /// empty), `udp` or `sctp`.
    pub proto: &'static str,
    /// The VIPs that parsed, in NB (key) order.
    pub vips: Arc<[Vip]>,
    /// `options:reject`: a VIP without active backends rejects instead of
    /// dropping.
    pub reject: bool,
    /// `options:event`: a VIP without backends asks ovn-controller to
    /// report an `empty_lb_backends` event.
    pub event: bool,
    /// `options:affinity_timeout`, when positive.
    pub affinity_timeout: Option<u32>,
    /// `selection_fields` as `ct_lb_mark`'s `hash_fields` (`tp_src` named
    /// after the protocol), comma-separated; empty without any.
    pub hash_fields: String,
    /// The switches it applies to, directly or through a group, sorted
    /// (shared by the balancers of the same groups).
    pub switches: Arc<[DpId]>,
}

/// What a load balancer's row says, parsed: all of `LoadBalancer` but its
/// row and switches, and what was reported of it. The memo keeps it
/// between compilations for a balancer without health checks, whose parse
/// reads nothing but its row (`Parsed::of_row`): at 30,000 pods, parsing
/// 1,500 balancers was 5% of a port add's cycle.
#[derive(Debug, PartialEq)]
pub(crate) struct Parsed {
    proto: &'static str,
    vips: Arc<[Vip]>,
    reject: bool,
    event: bool,
    affinity_timeout: Option<u32>,
    hash_fields: String,
    reported: Vec<Diagnostic>,
}

impl Parsed {
    /// The parse of a balancer without health checks, `None` for one with
    /// (whose backends' state reads the SB and the ports).
    pub(crate) fn of_row(lb: nb::LoadBalancer<'_>) -> Option<Parsed> {
        lb.health_check_uuids().next().is_none().then(|| parse(lb, &HashMap::new(), &|_| false))
    }
}

/// Parses every NB load balancer, by UUID, with the switches that use it.
/// `switches` lists each switch's datapath with its NB row; `is_lsp` tells
/// whether a name is a logical switch port (a monitor needs one);
/// `parsed` gives the memo's parse of a balancer, if it keeps one.
pub(crate) fn build<'a>(
    nb_db: &'a ovsdb::Replica,
    sb_db: &'a ovsdb::Replica,
    switches: &[(DpId, nb::LogicalSwitch<'a>)],
    is_lsp: &dyn Fn(&str) -> bool,
    parsed: &dyn Fn(&Uuid) -> Option<&'a Parsed>,
    diags: &mut Vec<Diagnostic>,
) -> Vec<LoadBalancer<'a>> {
    // By UUID, so that of two rows for one backend the same one wins
    // whatever the replica's order.
    let mut monitors: Vec<sb::ServiceMonitor<'a>> = sb::ServiceMonitor::all(sb_db).collect();
    monitors.sort_by_key(|m| m.uuid());
    let status: HashMap<(&str, i64, &str, &str), Option<&str>> = monitors
        .into_iter()
        .map(|m| ((m.ip(), m.port(), m.protocol().unwrap_or("tcp"), m.logical_port()), m.status()))
        .collect();
    // The switches of each load balancer directly, and of each group (a
    // group on every node switch holds every service: its switches are
    // listed once, and shared by its balancers).
    let mut direct: HashMap<Uuid, Vec<DpId>> = HashMap::new();
    let mut of_group: HashMap<Uuid, Vec<DpId>> = HashMap::new();
    for (dp, sw) in switches {
        for u in sw.load_balancer_uuids() {
            direct.entry(u).or_default().push(*dp);
        }
        for g in sw.load_balancer_group_uuids() {
            of_group.entry(g).or_default().push(*dp);
        }
    }
    let mut groups_of: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for g in nb::LoadBalancerGroup::all(nb_db).filter(|g| of_group.contains_key(&g.uuid())) {
        for u in g.load_balancer_uuids() {
            groups_of.entry(u).or_default().push(g.uuid());
        }
    }
    let mut shared: HashMap<Vec<Uuid>, Arc<[DpId]>> = HashMap::new();
    let mut lbs: Vec<nb::LoadBalancer<'a>> = nb::LoadBalancer::all(nb_db).collect();
    lbs.sort_by_key(|lb| lb.uuid());
    lbs.into_iter()
        .map(|lb| {
            let mut groups = groups_of.remove(&lb.uuid()).unwrap_or_default();
            groups.sort();
            groups.dedup();
            let of_groups = |groups: &[Uuid]| -> Vec<DpId> {
                let mut dps: Vec<DpId> = groups.iter().flat_map(|g| &of_group[g]).copied().collect();
                dps.sort();
                dps.dedup();
                dps
            };
            let switches: Arc<[DpId]> = match direct.remove(&lb.uuid()) {
                Some(mut dps) => {
                    dps.extend(of_groups(&groups));
                    dps.sort();
                    dps.dedup();
                    dps.into()
                }
                None => Arc::clone(shared.entry(groups).or_insert_with_key(|groups| of_groups(groups).into())),
            };
            let fresh;
            let p = match parsed(&lb.uuid()) {
                Some(p) => p,
                None => {
                    fresh = parse(lb, &status, is_lsp);
                    &fresh
                }
            };
            diags.extend(p.reported.iter().cloned());
            LoadBalancer {
                nb: lb,
                uuid: lb.uuid(),
                proto: p.proto,
                vips: Arc::clone(&p.vips),
                reject: p.reject,
                event: p.event,
                affinity_timeout: p.affinity_timeout,
                hash_fields: p.hash_fields.clone(),
                switches,
            }
        })
        .collect()
}

fn parse(
    lb: nb::LoadBalancer<'_>,
    status: &HashMap<(&str, i64, &str, &str), Option<&str>>,
    is_lsp: &dyn Fn(&str) -> bool,
) -> Parsed {
    let mut reported = Vec::new();
    let proto = match lb.protocol() {
        Some("udp") => "udp",
        Some("sctp") => "sctp",
        _ => "tcp",
    };
    let named = lb.protocol().filter(|p| !p.is_empty());
    let hash_fields: Vec<String> = lb
        .selection_fields()
        .map(|f| match (f, named) {
            ("tp_src", Some(p)) => format!("{p}_src"),
            ("tp_dst", Some(p)) => format!("{p}_dst"),
            (f, _) => f.to_string(),
        })
        .collect();
    let checked: Vec<&str> = lb.health_check().map(|hc| hc.vip()).collect();
    let row = if lb.name().is_empty() { lb.uuid().to_string() } else { lb.name().to_string() };
    let mut report =
        |message: String| reported.push(Diagnostic { table: nb::LoadBalancer::TABLE, row: row.clone(), message });
    let mut vips = Vec::new();
    for (key, backends) in lb.vips().iter() {
        let Some(addr) = Endpoint::parse(key) else {
            report(format!("invalid VIP '{key}', VIP left out"));
            continue;
        };
        let health_check = addr.port.is_some() && checked.contains(&key);
        // One bad backend leaves the whole VIP out, as the reference does.
        let parsed: Result<Vec<Endpoint>, &str> = backends
            .split(',')
            .map(str::trim)
            .filter(|b| !b.is_empty())
            .map(|b| {
                Endpoint::parse(b)
                    .filter(|e| e.ip.is_ipv4() == addr.ip.is_ipv4() && e.port.is_some() == addr.port.is_some())
                    .ok_or(b)
            })
            .collect();
        let parsed = match parsed {
            Ok(p) => p,
            Err(b) => {
                report(format!("invalid backend '{b}' of VIP '{key}', VIP left out"));
                continue;
            }
        };
        let backends = parsed
            .into_iter()
            .map(|b| {
                let monitor = health_check.then(|| monitor(lb, b)).flatten().filter(|m| is_lsp(&m.port));
                let active = match &monitor {
                    None => !health_check,
                    Some(m) => {
                        let ip = b.ip.to_string();
                        let st = status.get(&(ip.as_str(), b.port.unwrap_or(0) as i64, proto, m.port.as_str()));
                        st.copied().flatten().map_or(true, |s| s == "online")
                    }
                };
                Backend { addr: b, monitor, active }
            })
            .collect();
        vips.push(Vip { key: key.to_string(), addr, backends, health_check });
    }
    let affinity_timeout =
        lb.options().get_int("affinity_timeout").filter(|t| *t > 0).map(|t| t.min(u32::MAX as i64) as u32);
    Parsed {
        proto,
        vips: vips.into(),
        reject: lb.options().get_bool("reject", false),
        event: lb.options().get_bool("event", false),
        affinity_timeout,
        hash_fields: hash_fields.join(","),
        reported,
    }
}

/// The monitor `ip_port_mappings` gives a backend: the key is its IP
/// (`[IPv6]` bracketed), the value `PORT_NAME:SOURCE_IP`.
fn monitor(lb: nb::LoadBalancer<'_>, b: Endpoint) -> Option<Monitor> {
    let key = match b.ip {
        IpAddr::V4(ip) => ip.to_string(),
        IpAddr::V6(ip) => format!("[{ip}]"),
    };
    let (port, src) = lb.ip_port_mappings().get(&key)?.split_once(':')?;
    let src = src.trim_start_matches('[').trim_end_matches(']');
    src.parse::<IpAddr>().ok()?;
    Some(Monitor { port: port.to_string(), src_ip: src.to_string() })
}

/// The UUIDs of a switch's load balancers, its own then its groups' (one
/// in both, or in two groups, comes more than once).
pub fn of_switch<'a>(sw: nb::LogicalSwitch<'a>) -> impl Iterator<Item = Uuid> + 'a {
    sw.load_balancer_uuids().chain(sw.load_balancer_group().flat_map(|g| g.load_balancer_uuids()))
}

/// The UUIDs of a router's load balancers, as `of_switch` gives a switch's.
pub fn of_router<'a>(r: nb::LogicalRouter<'a>) -> impl Iterator<Item = Uuid> + 'a {
    r.load_balancer_uuids().chain(r.load_balancer_group().flat_map(|g| g.load_balancer_uuids()))
}

/// A load balancer with at least one VIP applies to the switch, directly
/// or through a group.
pub fn has_vip(sw: nb::LogicalSwitch<'_>) -> bool {
    let has_vips = |lb: nb::LoadBalancer<'_>| !lb.vips().is_empty();
    sw.load_balancer().any(has_vips) || sw.load_balancer_group().any(|g| g.load_balancer().any(has_vips))
}

/// The addresses of a load balancer's VIPs as routers and their switches
/// read them (kept by the memo while the balancer's row stays as it is).
#[derive(Debug, Clone, PartialEq)]
pub struct VipIps {
    /// Which of `ips` the router's ports answer ARP and ND for.
    pub responder: Responder,
    /// `vip_ip` of each VIP (in NB order; VIPs without one left out).
    pub ips: Vec<IpAddr>,
    /// The IP of each VIP that is an `Endpoint` (in NB order): those
    /// the router's switches send ARP and ND for to its ports.
    pub endpoints: Vec<IpAddr>,
}

impl VipIps {
    pub fn of(lb: nb::LoadBalancer<'_>) -> VipIps {
        let vips = lb.vips();
        VipIps {
            responder: Responder::of(lb),
            ips: vips.iter().filter_map(|(vip, _)| vip_ip(vip)).collect(),
            endpoints: vips.iter().filter_map(|(vip, _)| Endpoint::parse(vip)).map(|e| e.ip).collect(),
        }
    }
}

/// Which VIPs of a load balancer the ports of a router that has it answer
/// ARP and neighbor solicitations for, per `options:neighbor_responder`
/// (ovn-nb(5)): `all`, `none`, or by default the reachable ones (inside
/// one of the router's networks); a template load balancer answers for
/// none unless it says `all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Responder {
    All,
    Reachable,
    None,
}

impl Responder {
    pub fn of(lb: nb::LoadBalancer<'_>) -> Responder {
        let template = lb.options().get_bool("template", false);
        match lb.options().get("neighbor_responder").unwrap_or(if template { "none" } else { "reachable" }) {
            "all" => Responder::All,
            "reachable" => Responder::Reachable,
            _ => Responder::None,
        }
    }
}

/// The IP of a NAT's `external_ip` or of a load balancer VIP (`ip`,
/// `ip:port`, `[ip6]:port`).
pub fn vip_ip(vip: &str) -> Option<IpAddr> {
    let host = match vip.strip_prefix('[') {
        Some(rest) => rest.split(']').next()?,
        None if vip.matches(':').count() == 1 => vip.split(':').next()?,
        None => vip,
    };
    super::addr::Ipv4Net::parse(host)
        .filter(|n| n.plen == 32 && host.contains('.'))
        .map(|n| IpAddr::V4(n.addr))
        .or_else(|| super::addr::Ipv6Net::parse(host).filter(|n| n.plen == 128).map(|n| IpAddr::V6(n.addr)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vip_ips() {
        let ip = |vip: &str| vip_ip(vip).map(|ip| ip.to_string());
        assert_eq!(ip("172.16.0.200:80").as_deref(), Some("172.16.0.200"));
        assert_eq!(ip("172.16.0.200").as_deref(), Some("172.16.0.200"));
        assert_eq!(ip("[fd00::100]:80").as_deref(), Some("fd00::100"));
        assert_eq!(ip("fd00::100").as_deref(), Some("fd00::100"));
        assert_eq!(ip("10.0.0.0/24"), None);
        assert_eq!(ip("bogus"), None);
    }

    #[test]
    fn endpoints_parse_and_print_as_the_reference() {
        let e = |s: &str| Endpoint::parse(s).map(|e| e.to_string());
        assert_eq!(e("10.0.0.1").as_deref(), Some("10.0.0.1"));
        assert_eq!(e("10.0.0.1:80").as_deref(), Some("10.0.0.1:80"));
        assert_eq!(e("[fd00:0::1]:80").as_deref(), Some("[fd00::1]:80"));
        assert_eq!(e("fd00::1").as_deref(), Some("fd00::1"));
        for bad in ["10.0.0.300:80", "10.0.0.1:99999", "10.0.0.1:0", "bogus", "[10.0.0.1]:80", "[fd00::1]80", ""] {
            assert_eq!(Endpoint::parse(bad), None, "{bad}");
        }
    }
}
