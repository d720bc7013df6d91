//! Control plane protection (`ovn-nb(5)` "Copp"; `ovn-sb(5)`
//! Logical_Flow `controller_meter`): a switch or router whose `copp`
//! names, for a kind of packet it sends to ovn-controller, a meter of the
//! NB Meter table gets that meter on every flow that sends such packets.
//!
//! A pass over each datapath's flows once its builder is done: the kind of
//! packet is told from the flow's stage and the controller action in its
//! actions (`protocol`), so that the builders need not know about CoPP.
//! A Copp entry naming no NB meter, or a protocol ovn-nb(5) does not
//! list, meters nothing (as in the reference) and is reported. Pure; it
//! never adds or removes a flow, and changes nothing but `Lflow::meter`.

use std::collections::{BTreeMap, BTreeSet};

use foldhash::{HashMap, HashMapExt};

use crate::input::nb;
use crate::model::{DpNb, Model};
use crate::output::{Diagnostic, DpId, Lflow};
use crate::stage::Stage;

/// The protocols a Copp can name a meter for (ovn-nb(5) `Copp.meters`).
pub const PROTOCOLS: [&str; 17] = [
    "arp",
    "arp-resolve",
    "dhcpv4-opts",
    "dhcpv6-opts",
    "dns",
    "event-elb",
    "icmp4-error",
    "icmp6-error",
    "igmp",
    "nd-na",
    "nd-ns",
    "nd-ns-resolve",
    "nd-ra-opts",
    "tcp-reset",
    "bfd",
    "reject",
    "svc-monitor",
];

/// The `controller_meter` the flows of each datapath with a Copp get.
#[derive(Debug)]
pub struct Meters {
    /// Datapath -> protocol -> the meter its flows of that protocol get
    /// (only meters the NB Meter table has).
    of: HashMap<DpId, BTreeMap<String, String>>,
}

impl Meters {
    /// The meters of every datapath with a Copp; reports the entries of
    /// those Copps that meter nothing.
    pub fn new(m: &Model<'_>, diags: &mut Vec<Diagnostic>) -> Meters {
        let meters: BTreeSet<&str> = nb::Meter::all(m.nb).map(|r| r.name()).collect();
        let copp: HashMap<DpId, nb::Copp<'_>> = m
            .datapaths
            .iter()
            .filter_map(|dp| {
                let copp = match dp.nb {
                    DpNb::Switch(s) => s.copp(),
                    DpNb::Router(r) => r.copp(),
                };
                Some((dp.id, copp?))
            })
            .collect();
        if copp.is_empty() {
            return Meters { of: HashMap::new() };
        }
        let used: BTreeMap<ovsdb::Uuid, nb::Copp<'_>> = copp.values().map(|c| (c.uuid(), *c)).collect();
        for c in used.values() {
            for (proto, meter) in c.meters().iter() {
                let message = if !PROTOCOLS.contains(&proto) {
                    format!("unknown protocol '{proto}' in meters, entry ignored")
                } else if !meters.contains(meter) {
                    format!("meter '{meter}' for {proto} names no Meter, {proto} not metered")
                } else {
                    continue;
                };
                let row = if c.name().is_empty() { c.uuid().to_string() } else { c.name().to_string() };
                diags.push(Diagnostic { table: nb::Copp::TABLE, row, message });
            }
        }
        let of = copp
            .into_iter()
            .map(|(dp, c)| {
                let metered = c.meters().iter().filter(|(_, meter)| meters.contains(meter));
                (dp, metered.map(|(proto, meter)| (proto.to_string(), meter.to_string())).collect())
            })
            .collect();
        Meters { of }
    }

    /// Sets the `controller_meter` of `flows` (each datapath's flows in
    /// turn, or all at once).
    pub fn apply<'f>(&self, flows: impl IntoIterator<Item = &'f mut Lflow>) {
        if self.of.is_empty() {
            return;
        }
        for f in flows {
            let Some(c) = self.of.get(&f.dp) else { continue };
            let Some(proto) = protocol(f.stage, f.priority, &f.actions) else { continue };
            if let Some(meter) = c.get(proto) {
                f.meter = Some(meter.clone());
            }
        }
    }
}

/// The Copp protocol (its key in `Copp.meters`) of the packets a flow
/// sends to ovn-controller, from the first controller action in its
/// actions; `None` for a flow that sends none, or whose packets the
/// reference does not meter (`log`, `put_fdb`, `bind_vport`,
/// `handle_dhcpv6_reply`, and the service monitor's own neighbour
/// replies, which only their stage and priority tell apart).
pub fn protocol(stage: Stage, priority: u16, actions: &str) -> Option<&'static str> {
    if stage == Stage::LsInArpRsp && priority == 110 {
        return None;
    }
    let bytes = actions.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        // A string literal (an ACL's log name, an event's VIP) is data,
        // whatever words it holds.
        if bytes[i] == b'"' {
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            continue;
        }
        if !(bytes[i].is_ascii_alphabetic() || bytes[i] == b'_') || (i > 0 && is_word(bytes[i - 1])) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && is_word(bytes[i]) {
            i += 1;
        }
        let word = &actions[start..i];
        let rest = actions[i..].trim_start();
        let proto = match word {
            "trigger_event" => Some("event-elb"),
            "reject" => Some("reject"),
            "tcp_reset" | "sctp_abort" => Some("tcp-reset"),
            "icmp4" | "icmp4_error" => Some("icmp4-error"),
            "icmp6" | "icmp6_error" => Some("icmp6-error"),
            "nd_na" | "nd_na_router" => Some("nd-na"),
            "nd_ns" => Some("nd-ns-resolve"),
            "arp" => Some("arp-resolve"),
            "put_arp" => Some("arp"),
            // put_nd(inport, nd.target, ...) learns from an advertisement,
            // put_nd(inport, ip6.src, ...) from a solicitation.
            "put_nd" if rest.replace(' ', "").starts_with("(inport,nd.target") => Some("nd-na"),
            "put_nd" => Some("nd-ns"),
            "put_dhcp_opts" => Some("dhcpv4-opts"),
            "put_dhcpv6_opts" => Some("dhcpv6-opts"),
            "dns_lookup" => Some("dns"),
            "put_nd_ra_opts" => Some("nd-ra-opts"),
            "igmp" => Some("igmp"),
            "handle_svc_check" => Some("svc-monitor"),
            "handle_bfd_msg" => Some("bfd"),
            _ => None,
        };
        // A controller action is followed by `{`, `(` or `;`; the same
        // word elsewhere is a field or a match keyword (`arp.op`).
        if proto.is_some() && rest.starts_with(['{', '(', ';']) {
            return proto;
        }
    }
    None
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Model;

    /// Actions as the reference writes them, and the meter it gave each
    /// flow on a datapath whose Copp names every protocol.
    #[test]
    fn protocols_of_controller_actions() {
        let cases: &[(Stage, u16, &str, Option<&str>)] = &[
            (
                Stage::LrInArpRequest,
                100,
                "arp { eth.dst = ff:ff:ff:ff:ff:ff; arp.spa = reg1; arp.op = 1; output; };",
                Some("arp-resolve"),
            ),
            (Stage::LrInArpRequest, 100, "nd_ns { nd.target = xxreg0; output; };", Some("nd-ns-resolve")),
            (Stage::LrInLearnNeighbor, 90, "put_arp(inport, arp.spa, arp.sha); next;", Some("arp")),
            (Stage::LrInLearnNeighbor, 90, "put_nd(inport, nd.target, nd.tll); next;", Some("nd-na")),
            (Stage::LrInLearnNeighbor, 95, "put_nd(inport, nd.target, eth.src); next;", Some("nd-na")),
            (Stage::LrInLearnNeighbor, 90, "put_nd(inport, ip6.src, nd.sll); next;", Some("nd-ns")),
            (
                Stage::LrInIpInput,
                80,
                "tcp_reset {eth.dst <-> eth.src; ip4.dst <-> ip4.src; next; };",
                Some("tcp-reset"),
            ),
            (
                Stage::LrInIpInput,
                80,
                "sctp_abort {eth.dst <-> eth.src; ip4.dst <-> ip4.src; next; };",
                Some("tcp-reset"),
            ),
            (Stage::LrInIpInput, 31, "icmp4 {eth.dst <-> eth.src; icmp4.type = 11; next; };", Some("icmp4-error")),
            (
                Stage::LrInLargerPkts,
                150,
                "icmp4_error {reg9[0] = 1; next(pipeline=ingress, table=0); };",
                Some("icmp4-error"),
            ),
            (Stage::LrInIpInput, 70, "icmp6 {eth.dst <-> eth.src; icmp6.type = 1; next; };", Some("icmp6-error")),
            (Stage::LrInIpInput, 90, "nd_na_router { eth.src = xreg0[0..47]; output; };", Some("nd-na")),
            (Stage::LrInIpInput, 100, "handle_bfd_msg(); ", Some("bfd")),
            (Stage::LrInIpInput, 100, "reg0 = 0; handle_dhcpv6_reply;", None),
            // Words inside a string literal are no actions.
            (Stage::LsInAcl, 2000, "log(name=\"reject;\", verdict=allow, severity=info); next;", None),
            (Stage::LsInAcl, 2000, "log(name=\"a\\\"arp;\", verdict=allow); next;", None),
            (Stage::LrInNdRaOptions, 50, "reg0[5] = put_nd_ra_opts(addr_mode = \"slaac\"); next;", Some("nd-ra-opts")),
            (
                Stage::LrInDnat,
                130,
                "trigger_event(event = \"empty_lb_backends\", vip = \"10.0.0.100:80\");",
                Some("event-elb"),
            ),
            (
                Stage::LsInLb,
                120,
                "reg0 = 0; reject { outport <-> inport; next(pipeline=egress,table=5);};",
                Some("reject"),
            ),
            (
                Stage::LsOutAcl,
                1900,
                "ct_commit { ct_mark.blocked = 1; };  reg0 = 0; reject { outport <-> inport; };",
                Some("reject"),
            ),
            (Stage::LsInAcl, 2000, "reg0[1] = 1; log(name=\"rel\", severity=info, verdict=allow); next;", None),
            (Stage::LsInArpRsp, 50, "nd_na { eth.src = 00:00:00:00:00:02; outport = inport; output; };", Some("nd-na")),
            (Stage::LsInArpRsp, 110, "nd_na { eth.dst = eth.src; eth.src = c2:c7:97:85:d5:97; output; };", None),
            (Stage::LsInArpRsp, 50, "eth.dst = eth.src; arp.op = 2; /* ARP reply */ arp.tha = arp.sha; output;", None),
            (Stage::LsInArpRsp, 100, "bind_vport(\"vip1\", inport); next;", None),
            (Stage::LsInPutFdb, 100, "put_fdb(inport, eth.src); next;", None),
            (Stage::LsInDhcpOptions, 100, "reg0[3] = put_dhcp_opts(offerip = 10.0.0.11); next;", Some("dhcpv4-opts")),
            (Stage::LsInDhcpOptions, 100, "reg0[3] = put_dhcpv6_opts(ia_addr = fd00::11); next;", Some("dhcpv6-opts")),
            (Stage::LsInDnsLookup, 100, "reg0[4] = dns_lookup(); next;", Some("dns")),
            (Stage::LsInL2Lkup, 100, "igmp;", Some("igmp")),
            (Stage::LsInL2Lkup, 110, "handle_svc_check(inport);", Some("svc-monitor")),
            (Stage::LsInL2Lkup, 0, "outport = get_fdb(eth.dst); next;", None),
        ];
        for (stage, priority, actions, want) in cases {
            assert_eq!(protocol(*stage, *priority, actions), *want, "{actions}");
        }
    }

    /// Every protocol `protocol` gives is one a Copp can name.
    #[test]
    fn protocols_are_copp_keys() {
        for word in [
            "trigger_event(",
            "reject {",
            "tcp_reset {",
            "icmp4 {",
            "icmp6 {",
            "nd_na {",
            "nd_ns {",
            "arp {",
            "put_arp(",
            "put_nd(inport, nd.target, nd.tll)",
            "put_nd(inport, ip6.src, nd.sll)",
            "put_dhcp_opts(",
            "put_dhcpv6_opts(",
            "dns_lookup(",
            "put_nd_ra_opts(",
            "igmp;",
            "handle_svc_check(",
            "handle_bfd_msg(",
        ] {
            let proto = protocol(Stage::LrInIpInput, 1, word).unwrap_or_else(|| panic!("{word}"));
            assert!(PROTOCOLS.contains(&proto), "{proto}");
        }
    }

    /// A switch whose Copp names an existing meter for service monitor
    /// replies, a missing one for IGMP and an unknown protocol: only the
    /// first meters its flow; the other two entries are reported once,
    /// though two switches share the Copp; a switch without Copp gets no
    /// meter.
    #[test]
    fn copp_meters_only_existing_meters() {
        use crate::tests::replica;
        let nb = replica(
            "ovn-nb.ovsschema",
            r#"{
            "Meter": {"00000000-0000-0000-0000-000000000001": {"initial": {"name": "m", "unit": "pktps",
                "bands": ["uuid", "00000000-0000-0000-0000-000000000002"]}}},
            "Meter_Band": {"00000000-0000-0000-0000-000000000002": {"initial": {"action": "drop", "rate": 1}}},
            "Copp": {"00000000-0000-0000-0000-000000000003": {"initial": {"name": "c",
                "meters": ["map", [["svc-monitor", "m"], ["igmp", "missing"], ["foo", "m"]]]}}},
            "Logical_Switch": {
                "00000000-0000-0000-0000-000000000011": {"initial": {"name": "sw0",
                    "copp": ["uuid", "00000000-0000-0000-0000-000000000003"],
                    "other_config": ["map", [["mcast_snoop", "true"]]]}},
                "00000000-0000-0000-0000-000000000012": {"initial": {"name": "sw1",
                    "copp": ["uuid", "00000000-0000-0000-0000-000000000003"]}},
                "00000000-0000-0000-0000-000000000013": {"initial": {"name": "sw2"}}}
        }"#,
        );
        let sb = replica("ovn-sb.ovsschema", "{}");
        let mut diags = Vec::new();
        let memo = crate::model::memo::PortMemo::of(&nb, &sb);
        let m = Model::build(&nb, &sb, &memo, Default::default(), &mut diags);
        let mut flows = crate::output::FlowSet::default();
        crate::flows::switch::build(&m, &mut flows, &mut diags);
        Meters::new(&m, &mut diags).apply(flows.iter_mut());
        let mut metered: Vec<(u32, &str, Option<&str>)> = flows
            .iter()
            .filter(|f| f.actions == "igmp;" || f.actions.starts_with("handle_svc_check"))
            .map(|f| (f.dp.0, f.actions.as_str(), f.meter.as_deref()))
            .collect();
        metered.sort();
        assert_eq!(
            metered,
            [
                (0, "handle_svc_check(inport);", Some("m")),
                (0, "igmp;", None),
                (0, "igmp;", None),
                (1, "handle_svc_check(inport);", Some("m")),
                (2, "handle_svc_check(inport);", None),
            ]
        );
        let texts: Vec<String> = diags.iter().map(ToString::to_string).collect();
        assert_eq!(
            texts,
            [
                "Copp c: unknown protocol 'foo' in meters, entry ignored",
                "Copp c: meter 'missing' for igmp names no Meter, igmp not metered"
            ]
        );
    }
}
