//! Load balancers on a logical router (`ovn-northd(8)`, "Logical Router
//! Datapaths"): ingress DEFRAG (conntrack for each VIP), load balancing
//! affinity check and learn, the load balancing part of DNAT (new
//! connections to a VIP, related and established traffic), the ARP and
//! neighbor replies for VIPs (`_rtr_lb_*` address sets) in IP input, and
//! the egress SNAT exemption of `skip_snat` connections.
//!
//! On gateway routers also: egress UNDNAT and post UNDNAT, and the SNAT
//! (and ingress UNSNAT) of `lb_force_snat_ip`.
//!
//! On a router with a distributed gateway port, new connections are
//! balanced on its gateway chassis, where egress UNDNAT un-DNATs their
//! replies.
//!
//! A router with several distributed gateway ports with load balancers
//! gets a "not translated yet" diagnostic and no load balancer flows, as
//! do chassis whose conntrack lacks `ct_lb_mark` or related NAT. Never reads NAT rules, never adds a stage default (those are in
//! `stateful`).

use std::net::IpAddr;

use super::admission::resident_suffix;
use super::{RPort, Router};
use crate::flows::switch::CtFlavour;
use crate::input::nb;
use crate::model::lb::{Endpoint, LoadBalancer, Vip};
use crate::model::Model;
use crate::output::{Diagnostic, Flows};
use crate::stage::Stage;

/// Adds the load balancer flows of router `r`; rows it cannot translate
/// are reported in `diags`.
pub fn build(r: &Router<'_, '_>, flows: &mut Flows, diags: &mut Vec<Diagnostic>) {
    let force = force_snat(r, diags);
    if r.is_gateway {
        gateway_force_snat(r, &force, flows, diags);
    }
    let Some(b) = balancing(r, &force, diags) else { return };
    vips_of(r, &b, flows);
    let dp = r.dp;
    for (m, a) in [
        ("ct.rel && !ct.est && !ct.new", "ct_commit_nat;"),
        ("ct.est && !ct.rel && !ct.new && ct_mark.natted", "next;"),
    ] {
        flows.add(dp, Stage::LrInDnat, 50, m, a);
        for flag in ["force_snat", "skip_snat"] {
            let m = format!("{m} && ct_mark.{flag} == 1");
            flows.add(dp, Stage::LrInDnat, 70, m, format!("flags.{flag}_for_lb = 1; {a}"));
        }
    }
    if b.lbs.iter().any(|lb| skip_snat(lb)) {
        flows.add(dp, Stage::LrOutSnat, 120, "flags.skip_snat_for_lb == 1 && ip", "next;");
    }
    neighbor_replies(r, flows);
    if r.is_gateway {
        super::stateful::gateway_undnat(r, flows);
    }
}

/// The flows of each load balancer's VIPs, each load balancer's a part of
/// the router's flows (`Flows::part`): the other flows read of its load
/// balancers only what `shared_print` hashes.
pub fn vips(r: &Router<'_, '_>, flows: &mut Flows) {
    // (What this finds wrong the whole build reports.)
    let mut reported = Vec::new();
    let force = force_snat(r, &mut reported);
    if let Some(b) = balancing(r, &force, &mut reported) {
        vips_of(r, &b, flows);
    }
}

/// What the router's other flows read of its load balancers (see `vips`):
/// whether it has any, whether one has `skip_snat`, which of its own
/// addresses load balancing uses, whether it answers ARP or ND for VIPs,
/// and the VIPs that are also NAT external IPs.
pub fn shared_print(r: &Router<'_, '_>) -> u64 {
    use std::hash::{BuildHasher, Hash, Hasher};
    let lbs = router_lbs(r.m, r.nb);
    let mut h = foldhash::fast::FixedState::default().build_hasher();
    (lbs.is_empty(), lbs.iter().any(|lb| skip_snat(lb))).hash(&mut h);
    for p in &r.ports {
        let own = p.ipv4.iter().map(|n| IpAddr::V4(n.addr)).chain(p.ipv6.iter().map(|n| IpAddr::V6(n.addr)));
        own.filter(|a| r.lb_ips.contains(a)).for_each(|a| a.hash(&mut h));
    }
    let (v4, v6) = crate::bindings::router_lb_vips(r.m, r.dp, r.nb);
    (v4.is_empty(), v6.is_empty()).hash(&mut h);
    let nats = r.m.nats_of(r.dp);
    for lb in &lbs {
        for vip in lb.vips.iter().filter(|v| nats.iter().any(|n| n.external_ip == v.addr.ip)) {
            (lb.uuid, vip.addr.to_string()).hash(&mut h);
        }
    }
    h.finish()
}

/// The router's load balancers and what their VIPs' flows share.
struct Balancing<'m, 'a, 'r> {
    lbs: Vec<&'m LoadBalancer<'a>>,
    /// The distributed gateway port new connections are balanced on.
    dgp: Option<&'r RPort<'m, 'a>>,
    force_snat: bool,
    controller_event: bool,
}

/// The router's load balancing, unless it has no load balancer or cannot
/// balance (reported in `diags`).
fn balancing<'m, 'a, 'r>(
    r: &'r Router<'m, 'a>,
    force: &ForceSnat,
    diags: &mut Vec<Diagnostic>,
) -> Option<Balancing<'m, 'a, 'r>> {
    let lbs = router_lbs(r.m, r.nb);
    if lbs.is_empty() {
        return None;
    }
    let report = |diags: &mut Vec<Diagnostic>, message: String| {
        diags.push(Diagnostic { table: nb::LogicalRouter::TABLE, row: r.nb.name().to_string(), message })
    };
    let mut dgps = r.ports.iter().filter(|p| p.is_dgp && !r.is_gateway);
    let dgp = dgps.next();
    if dgps.next().is_some() {
        report(
            diags,
            "not translated yet: load balancers on routers (load_balancer on a router with several distributed \
             gateway ports)"
                .into(),
        );
        return None;
    }
    let ct = CtFlavour::of(r.m.sb);
    if ct.lb != "ct_lb_mark" || !ct.nat_related {
        report(
            diags,
            "not translated yet: load balancers on routers (chassis without ct-no-masked-label or \
             ovn-ct-lb-related)"
                .into(),
        );
        return None;
    }
    let controller_event = r.m.option("controller_event").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    Some(Balancing { lbs, dgp, force_snat: *force != ForceSnat::No, controller_event })
}

/// The flows of each VIP of `b`'s load balancers, each load balancer's a
/// part.
fn vips_of(r: &Router<'_, '_>, b: &Balancing<'_, '_, '_>, flows: &mut Flows) {
    for lb in &b.lbs {
        flows.part(lb.uuid, |flows| {
            for vip in lb.vips.iter() {
                let (fam, ip) = (vip.addr.family(), vip.addr.ip);
                flows.add(r.dp, Stage::LrInDefrag, 100, format!("ip && {fam}.dst == {ip}"), "ct_dnat;").hint(lb.uuid);
                vip_flows(r, b.dgp, lb, vip, b.force_snat, b.controller_event, flows);
            }
        });
    }
}

/// The SNAT (and ingress UNSNAT) of the connections `lb_force_snat_ip`
/// forces on a gateway router, with or without load balancers: to the
/// given addresses, or with `router_ip` to the first address of each
/// family of each port linked to a peer (more IPv4 addresses are reported
/// and not used).
fn gateway_force_snat(r: &Router<'_, '_>, force: &ForceSnat, flows: &mut Flows, diags: &mut Vec<Diagnostic>) {
    let dp = r.dp;
    match force {
        ForceSnat::No => {}
        ForceSnat::Ips(ips) => {
            for ip in ips {
                let fam = if ip.is_ipv4() { "ip4" } else { "ip6" };
                flows.add(dp, Stage::LrInUnsnat, 110, format!("{fam} && {fam}.dst == {ip}"), "ct_snat;");
                let m = format!("flags.force_snat_for_lb == 1 && {fam}");
                flows.add(dp, Stage::LrOutSnat, 100, m, format!("ct_snat({ip});"));
            }
        }
        ForceSnat::RouterIp => {
            for p in r.ports.iter().filter(|p| r.peer(p.port).is_some()) {
                if p.ipv4.len() > 1 {
                    diags.push(Diagnostic {
                        table: nb::LogicalRouterPort::TABLE,
                        row: p.name().to_string(),
                        message: format!(
                            "several IPv4 networks: only the first ({}) is used to SNAT load balanced traffic \
                             (lb_force_snat_ip=router_ip)",
                            p.ipv4[0].addr
                        ),
                    });
                }
                let v4 = p.ipv4.first().map(|n| IpAddr::V4(n.addr));
                let v6 = p.ipv6_global().first().map(|n| IpAddr::V6(n.addr));
                for (fam, ip) in [("ip4", v4), ("ip6", v6)] {
                    let Some(ip) = ip else { continue };
                    let key = p.key();
                    flows.add(dp, Stage::LrInUnsnat, 110, format!("inport == {key} && {fam}.dst == {ip}"), "ct_snat;");
                    let m = format!("flags.force_snat_for_lb == 1 && {fam} && outport == {key}");
                    flows.add(dp, Stage::LrOutSnat, 110, m, format!("ct_snat({ip});"));
                }
            }
        }
    }
}

/// The router's load balancers, its own and its groups', parsed, by UUID.
pub(super) fn router_lbs<'m, 'a>(m: &'m Model<'a>, nb: nb::LogicalRouter<'a>) -> Vec<&'m LoadBalancer<'a>> {
    let mut uuids: Vec<_> = crate::model::lb::of_router(nb).collect();
    uuids.sort();
    uuids.dedup();
    // `Model::lbs` is sorted by UUID.
    uuids.iter().filter_map(|u| m.lbs.binary_search_by_key(u, |lb| lb.uuid).ok().map(|i| &m.lbs[i])).collect()
}

/// The addresses load balancing on router `nb` uses (see `Router::lb_ips`):
/// a router address among them is not dropped in IP input.
pub(super) fn lb_ips(m: &Model<'_>, nb: nb::LogicalRouter<'_>) -> Vec<IpAddr> {
    let lbs = router_lbs(m, nb);
    let force = nb.options().get("lb_force_snat_ip").unwrap_or_default();
    let mut ips: Vec<IpAddr> = lbs
        .iter()
        .flat_map(|lb| lb.vips.iter().map(|v| v.addr.ip))
        .chain(force.split_whitespace().filter_map(super::parse_ip))
        .collect();
    ips.sort();
    ips.dedup();
    ips
}

/// `options:skip_snat=true` on a load balancer.
fn skip_snat(lb: &LoadBalancer<'_>) -> bool {
    lb.nb.options().get_bool("skip_snat", false)
}

/// Whether and to what the router SNATs load balanced traffic
/// (`options:lb_force_snat_ip`).
#[derive(Debug, PartialEq, Eq)]
enum ForceSnat {
    No,
    /// `router_ip` on a gateway router: each port's own first address.
    RouterIp,
    /// These addresses, in the option's order.
    Ips(Vec<IpAddr>),
}

/// `options:lb_force_snat_ip`: IP addresses, or `router_ip` on a gateway
/// router; anything else is reported and ignored.
fn force_snat(r: &Router<'_, '_>, diags: &mut Vec<Diagnostic>) -> ForceSnat {
    let Some(v) = r.nb.options().get("lb_force_snat_ip").filter(|v| !v.trim().is_empty()) else {
        return ForceSnat::No;
    };
    if v == "router_ip" && r.is_gateway {
        return ForceSnat::RouterIp;
    }
    let ips: Option<Vec<IpAddr>> = v.split_whitespace().map(super::parse_ip).collect();
    if let Some(ips) = ips {
        return ForceSnat::Ips(ips);
    }
    diags.push(Diagnostic {
        table: nb::LogicalRouter::TABLE,
        row: r.nb.name().to_string(),
        message: format!("options:lb_force_snat_ip '{v}' is not a list of IP addresses, ignored"),
    });
    ForceSnat::No
}

/// What load balanced connections of `lb` set before `ct_lb_mark` and
/// add to its arguments: `skip_snat`, or `force_snat` on a router that
/// forces it, or nothing.
fn snat_flag(lb: &LoadBalancer<'_>, force_snat: bool) -> Option<&'static str> {
    if skip_snat(lb) {
        Some("skip_snat")
    } else if force_snat {
        Some("force_snat")
    } else {
        None
    }
}

/// `ct_lb_mark(...)` to `backends`, hashing `hash_fields` (when not
/// empty), with the flag set before it.
fn ct_lb(hash_fields: &str, backends: &str, flag: Option<&str>) -> String {
    let hash = if hash_fields.is_empty() { String::new() } else { format!("; hash_fields=\"{hash_fields}\"") };
    match flag {
        Some(f) => format!("flags.{f}_for_lb = 1; ct_lb_mark(backends={backends}{hash}; {f});"),
        None => format!("ct_lb_mark(backends={backends}{hash});"),
    }
}

/// The register holding the VIP between affinity check and learn: `reg0`
/// (IPv4) or `xxreg0` (IPv6).
fn vip_reg(addr: &Endpoint) -> &'static str {
    if addr.ip.is_ipv4() {
        "reg0"
    } else {
        "xxreg0"
    }
}

/// The flows of one VIP: the empty-backends event, affinity, and the
/// load balancing of new connections (DNAT), on the gateway chassis of the
/// distributed gateway port `dgp` when there is one, where replies are
/// un-DNATed too.
fn vip_flows(
    r: &Router<'_, '_>,
    dgp: Option<&RPort<'_, '_>>,
    lb: &LoadBalancer<'_>,
    vip: &Vip,
    force_snat: bool,
    controller_event: bool,
    flows: &mut Flows,
) {
    let dp = r.dp;
    let (addr, proto) = (vip.addr, lb.proto);
    let fam = addr.family();
    let l4 = addr.port.map(|p| format!(" && {proto} && {proto}.dst == {p}")).unwrap_or_default();
    let flag = snat_flag(lb, force_snat);
    let prefix = flag.map(|f| format!("flags.{f}_for_lb = 1; ")).unwrap_or_default();

    if (lb.event || controller_event) && vip.backends.is_empty() && !lb.reject {
        let m = format!(
            "{fam}.dst == {} && {proto}{}",
            addr.ip,
            addr.port.map(|p| format!(" && {proto}.dst == {p}")).unwrap_or_default()
        );
        let a = format!(
            "trigger_event(event = \"empty_lb_backends\", vip = \"{addr}\", protocol = \"{proto}\", load_balancer = \"{}\");",
            lb.uuid
        );
        flows.add(dp, Stage::LrInDnat, 130, m, a).hint(lb.uuid);
    }

    if let Some(timeout) = lb.affinity_timeout {
        affinity(r, lb, vip, timeout, flag, flows);
    }

    let active: Vec<String> = vip.active_backends().map(|b| b.addr.to_string()).collect();
    let action = if active.is_empty() && lb.reject {
        format!(
            "{prefix}reg0 = 0; reject {{ outport <-> inport; next(pipeline=egress,table={});}};",
            Stage::LrOutSnat.table()
        )
    } else if active.is_empty() {
        format!("{prefix}{}", r.drop)
    } else {
        ct_lb(&lb.hash_fields, &active.join(","), flag)
    };
    let priority = if addr.port.is_some() { 120 } else { 110 };
    let resident = match dgp {
        Some(p) if !(active.is_empty() && lb.reject) => resident_suffix(p),
        _ => String::new(),
    };
    let m = format!("ct.new && !ct.rel && {fam} && {fam}.dst == {}{l4}{resident}", addr.ip);
    flows.add(dp, Stage::LrInDnat, priority, m, action).hint(lb.uuid);

    if let Some(p) = dgp.filter(|_| !active.is_empty()) {
        let backends: Vec<String> = vip
            .active_backends()
            .map(|b| {
                let port = b.addr.port.map(|p| format!(" && {proto}.src == {p}")).unwrap_or_default();
                format!("({fam}.src == {}{port})", b.addr.ip)
            })
            .collect();
        let m = format!("{fam} && ({}) && outport == {}{}", backends.join(" || "), p.key(), resident_suffix(p));
        let a = match flag {
            Some(f) => format!("flags.{f}_for_lb = 1; next;"),
            None => "ct_dnat_in_czone;".to_string(),
        };
        flows.add(dp, Stage::LrOutUndnat, 120, m, a).hint(lb.uuid);
    }
}

/// Session affinity: a new connection to the VIP from a client seen within
/// `timeout` seconds goes to the backend it went to then (`chk_lb_aff`,
/// DNAT at priority 150); otherwise the chosen backend is learned
/// (`commit_lb_aff`).
fn affinity(r: &Router<'_, '_>, lb: &LoadBalancer<'_>, vip: &Vip, timeout: u32, flag: Option<&str>, flows: &mut Flows) {
    let dp = r.dp;
    let (addr, proto) = (vip.addr, lb.proto);
    let (fam, reg) = (addr.family(), vip_reg(&addr));
    let l4 = addr.port.map(|p| format!(" && {proto} && {proto}.dst == {p}")).unwrap_or_default();
    let save_port = if addr.port.is_some() { format!(" reg9[16..31] = {proto}.dst;") } else { String::new() };
    let m = format!("ct.new && !ct.rel && {fam} && {fam}.dst == {}{l4}", addr.ip);
    let a = format!("{reg} = {fam}.dst;{save_port} reg9[6] = chk_lb_aff(); next;");
    flows.add(dp, Stage::LrInLbAffCheck, 100, m, a).hint(lb.uuid);

    let vip_port = addr.port.map(|p| format!(" && reg9[16..31] == {p}")).unwrap_or_default();
    let proto_arg = if addr.port.is_some() { format!(" proto = {proto},") } else { String::new() };
    for b in vip.active_backends() {
        let b_reg = if b.addr.ip.is_ipv4() { "reg4" } else { "xxreg1" };
        let b_port = b.addr.port.map(|p| format!(" && reg8[0..15] == {p}")).unwrap_or_default();
        let m = format!("reg9[6] == 1 && ct.new && {fam} && {b_reg} == {}{b_port}", b.addr.ip);
        // The backend is already chosen: no hash.
        let a = format!("{reg} = {}; {}", addr.ip, ct_lb("", &b.addr.to_string(), flag));
        flows.add(dp, Stage::LrInDnat, 150, m, a).hint(lb.uuid);

        let b_l4 = b.addr.port.map(|p| format!(" && {proto}.dst == {p}")).unwrap_or_default();
        let m = format!(
            "reg9[6] == 0 && ct.new && {fam} && {reg} == {}{vip_port} && {fam}.dst == {}{b_l4}",
            addr.ip, b.addr.ip
        );
        let a = format!(
            "commit_lb_aff(vip = \"{addr}\", backend = \"{}\",{proto_arg} timeout = {timeout}); /* drop */",
            b.addr
        );
        flows.add(dp, Stage::LrInLbAffLearn, 100, m, a).hint(lb.uuid);
    }
}

/// ARP and neighbor solicitation replies, on every port (a distributed
/// gateway port's on its gateway chassis only), for the VIPs of
/// the router's `_rtr_lb_<key>_ip4` and `_ip6` address sets (written by
/// `bindings`), when they are not empty.
fn neighbor_replies(r: &Router<'_, '_>, flows: &mut Flows) {
    let (v4, v6) = crate::bindings::router_lb_vips(r.m, r.dp, r.nb);
    let key = r.m.dp(r.dp).tunnel_key;
    for p in &r.ports {
        let (inport, res) = (p.key(), resident_suffix(p));
        if !v4.is_empty() {
            let set = crate::bindings::router_lb_set(key, "ip4");
            let m = format!("inport == {inport} && arp.op == 1 && arp.tpa == ${set}{res}");
            let a = "eth.dst = eth.src; eth.src = xreg0[0..47]; arp.op = 2; /* ARP reply */ arp.tha = arp.sha; \
                     arp.sha = xreg0[0..47]; arp.tpa <-> arp.spa; outport = inport; flags.loopback = 1; output;";
            flows.add(r.dp, Stage::LrInIpInput, 90, m, a);
        }
        if !v6.is_empty() {
            let set = crate::bindings::router_lb_set(key, "ip6");
            let m = format!("inport == {inport} && nd_ns && nd.target == ${set}{res}");
            let a = "nd_na { eth.src = xreg0[0..47]; ip6.src = nd.target; nd.tll = xreg0[0..47]; outport = inport; \
                     flags.loopback = 1; output; };";
            flows.add(r.dp, Stage::LrInIpInput, 90, m, a);
        }
    }
}
