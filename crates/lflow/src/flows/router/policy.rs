//! Ingress tables 15 and 16: logical router policies (allow, drop,
//! reroute to one next hop or to several with ECMP) and their ECMP member
//! flows. Never rewrites a policy's match: it is used as the user wrote it.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::{nh_regs, parse_ip, Router};
use crate::input::nb;
use crate::output::{Diagnostic, Flows};
use crate::stage::Stage;

pub fn build(r: &Router<'_, '_>, flows: &mut Flows, diags: &mut Vec<Diagnostic>) {
    flows.add(r.dp, Stage::LrInPolicy, 0, "1", "reg8[0..15] = 0; next;");
    flows.add(r.dp, Stage::LrInPolicyEcmp, 150, "reg8[0..15] == 0", "next;");
    flows.add(r.dp, Stage::LrInPolicyEcmp, 0, "1", r.drop);

    let mut policies: Vec<nb::LogicalRouterPolicy<'_>> = r.nb.policies().collect();
    policies.sort_by_key(|p| (std::cmp::Reverse(p.priority()), p.match_(), p.uuid()));
    let gids = ecmp_group_ids(&policies);
    for pol in policies {
        let Ok(prio) = u16::try_from(pol.priority()) else {
            diags.push(diag(&pol, format!("priority {} out of range, policy left out", pol.priority())));
            continue;
        };
        let mark = match pol.options().get("pkt_mark") {
            Some(v) => match v.trim().parse::<u32>() {
                Ok(m) if m > 0 => format!("pkt.mark = {m}; "),
                _ => String::new(),
            },
            None => String::new(),
        };
        let actions = match pol.action() {
            "allow" => format!("{mark}reg8[0..15] = 0; next;"),
            "drop" => r.drop.to_string(),
            "reroute" => {
                let mut nexthops: Vec<&str> = pol.nexthops().collect();
                if nexthops.is_empty() {
                    nexthops.extend(pol.nexthop());
                }
                let mut hops = Vec::new();
                for nh in &nexthops {
                    match parse_ip(nh).and_then(|ip| r.port_for_nexthop(ip).map(|(p, a)| (ip, p, a))) {
                        Some(h) => hops.push(h),
                        None => {
                            diags.push(diag(&pol, format!("no router port reaches nexthop {nh}, policy left out")));
                            break;
                        }
                    }
                }
                if hops.len() != nexthops.len() || hops.is_empty() {
                    continue;
                }
                if hops.iter().any(|(ip, _, _)| ip.is_ipv4() != hops[0].0.is_ipv4()) {
                    diags.push(diag(&pol, "nexthops of both address families, policy left out".to_string()));
                    continue;
                }
                if hops.len() == 1 {
                    let (nh, p, a) = &hops[0];
                    format!("{mark}{}reg8[0..15] = 0; next;", set_nexthop(*nh, *a, p))
                } else {
                    let Some(gid) = gids.get(&pol.uuid()) else { continue };
                    let mut mids = Vec::new();
                    for (i, (nh, p, a)) in hops.iter().enumerate() {
                        let mid = i + 1;
                        mids.push(mid.to_string());
                        flows
                            .add(
                                r.dp,
                                Stage::LrInPolicyEcmp,
                                100,
                                format!("reg8[0..15] == {gid} && reg8[16..31] == {mid}"),
                                format!("{mark}{}next;", set_nexthop(*nh, *a, p)),
                            )
                            .hint(pol.uuid());
                    }
                    format!("reg8[0..15] = {gid}; reg8[16..31] = select({});", mids.join(", "))
                }
            }
            other => {
                diags.push(diag(&pol, format!("unknown action '{other}', policy left out")));
                continue;
            }
        };
        if let Some(problem) = crate::flows::match_problem(pol.match_()) {
            // Written as the reference writes it; the operator must know
            // it does nothing.
            let what = format!("{problem}: ovn-controller rejects its flow, the policy has no effect");
            let row = pol.uuid().to_string();
            diags.push(Diagnostic::new(nb::LogicalRouterPolicy::TABLE, &row, "match", pol.match_(), &what));
        }
        flows.add(r.dp, Stage::LrInPolicy, prio, pol.match_(), actions).hint(pol.uuid());
    }
}

/// The ECMP group id of every reroute policy with several `nexthops`: they
/// are numbered from 1 in NB (UUID) order, as the reference does, counting
/// those it then leaves out (a nexthop no port reaches).
fn ecmp_group_ids(policies: &[nb::LogicalRouterPolicy<'_>]) -> BTreeMap<ovsdb::Uuid, u32> {
    let mut ecmp: Vec<ovsdb::Uuid> = policies
        .iter()
        .filter(|p| p.action() == "reroute" && p.nexthops().nth(1).is_some())
        .map(|p| p.uuid())
        .collect();
    ecmp.sort();
    ecmp.into_iter().zip(1..).collect()
}

/// `reg0 = NH; reg1 = A; eth.src = E; outport = P; flags.loopback = 1; `
fn set_nexthop(nh: IpAddr, lrp_addr: IpAddr, p: &super::RPort<'_, '_>) -> String {
    let (r0, r1) = nh_regs(nh);
    format!("{r0} = {nh}; {r1} = {lrp_addr}; eth.src = {}; outport = {}; flags.loopback = 1; ", p.mac, p.key())
}

fn diag(p: &nb::LogicalRouterPolicy<'_>, message: String) -> Diagnostic {
    Diagnostic { table: nb::LogicalRouterPolicy::TABLE, row: p.uuid().to_string(), message }
}
