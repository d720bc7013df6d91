//! Packet length checks for ports with `options:gateway_mtu` (ports of
//! gateway routers and of routers with a distributed gateway port): the check_pkt_larger
//! part of admission, the ICMP "fragmentation needed" / "packet too big"
//! replies in IP input, and ingress tables 18 (check packet length) and
//! 19 (handle larger packets), and the `gateway_mtu_bypass` flows that skip
//! the check for traffic that never needs fragmenting.

use super::{RPort, Router};
use crate::output::Flows;
use crate::stage::Stage;

/// Ethernet header bytes added to the MTU for check_pkt_larger.
const ETH_HEADER: u32 = 14;

/// The `reg9[1] = check_pkt_larger(L); ` prefix of a gateway port's
/// admission actions; empty for other ports.
pub fn check_action(r: &Router<'_, '_>, p: &RPort<'_, '_>) -> String {
    match p.gateway_mtu(r) {
        Some(mtu) => format!("reg9[1] = check_pkt_larger({}); ", mtu as u64 + ETH_HEADER as u64),
        None => String::new(),
    }
}

/// `options:gateway_mtu_bypass` (a match) of a port whose MTU is checked;
/// a blank one too, as the reference does (scenario 57).
pub fn bypass<'a>(r: &Router<'_, 'a>, p: &RPort<'_, 'a>) -> Option<&'a str> {
    p.gateway_mtu(r)?;
    p.lrp.options().get("gateway_mtu_bypass").filter(|m| !m.is_empty())
}

pub fn build(r: &Router<'_, '_>, flows: &mut Flows) {
    flows.add(r.dp, Stage::LrInChkPktLen, 0, "1", "next;");
    flows.add(r.dp, Stage::LrInLargerPkts, 0, "1", "next;");
    for g in &r.ports {
        let Some(mtu) = g.gateway_mtu(r) else { continue };
        let gkey = g.key();
        flows
            .add(r.dp, Stage::LrInChkPktLen, 50, format!("outport == {gkey}"), format!("{}next;", check_action(r, g)))
            .hint(g.port.uuid());
        if let Some(bypass) = bypass(r, g) {
            flows
                .add(r.dp, Stage::LrInChkPktLen, 55, format!("outport == {gkey} && ({bypass})"), "next;")
                .hint(g.port.uuid());
        }
        too_big(r, g, Stage::LrInIpInput, &format!("inport == {gkey}"), mtu, flows);
        for q in r.ports.iter().filter(|q| !std::ptr::eq(*q, g)) {
            too_big(r, q, Stage::LrInLargerPkts, &format!("inport == {} && outport == {gkey}", q.key()), mtu, flows);
        }
    }
}

/// The ICMPv4 and ICMPv6 errors sent back out of `q` (from its first
/// address of each family) for packets too big for the gateway port.
fn too_big(r: &Router<'_, '_>, q: &RPort<'_, '_>, st: Stage, m: &str, mtu: u32, flows: &mut Flows) {
    let prio = 150;
    if let Some(a) = q.ipv4.first() {
        flows
            .add(
                r.dp,
                st,
                prio,
                format!("{m} && ip4 && reg9[1] && reg9[0] == 0"),
                format!(
                    "icmp4_error {{reg9[0] = 1; reg9[1] = 0; eth.dst = {}; ip4.dst = ip4.src; ip4.src = {}; ip.ttl = 255; icmp4.type = 3; /* Destination Unreachable. */ icmp4.code = 4; /* Frag Needed and DF was Set. */ icmp4.frag_mtu = {mtu}; next(pipeline=ingress, table=0); }};",
                    q.mac, a.addr
                ),
            )
            .hint(q.port.uuid());
    }
    if let Some(a) = q.ipv6.first() {
        flows
            .add(
                r.dp,
                st,
                prio,
                format!("{m} && ip6 && reg9[1] && reg9[0] == 0"),
                format!(
                    "icmp6_error {{reg9[0] = 1; reg9[1] = 0; eth.dst = {}; ip6.dst = ip6.src; ip6.src = {}; ip.ttl = 255; icmp6.type = 2; /* Packet Too Big. */ icmp6.code = 0; icmp6.frag_mtu = {mtu}; next(pipeline=ingress, table=0); }};",
                    q.mac, a.addr
                ),
            )
            .hint(q.port.uuid());
    }
}
