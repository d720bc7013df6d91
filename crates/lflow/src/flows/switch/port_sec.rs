//! Admission control and port security of a logical switch (ingress tables
//! 0-1, egress tables 8-9) and MAC learning on ports that accept unknown
//! addresses (ingress tables 2-3). The port security rules themselves are
//! applied by ovn-controller (`check_in_port_sec()` /
//! `check_out_port_sec()` read the port binding); this module only adds the
//! per-switch and per-port flows around them, and the hairpin-stage flow
//! that ends the bypass of VTEP traffic. It never looks at ACLs.

use super::{is_l3dgw, json_key, Switch};
use crate::output::Flows;
use crate::stage::Stage;

/// `REGBIT_PORT_SEC_DROP`.
const PORT_SEC_DROP: &str = "reg0[15]";
/// `REGBIT_FROM_RAMP`: the packet came in from a VTEP gateway.
const FROM_RAMP: &str = "reg0[14]";
/// `REGBIT_LKUP_FDB`.
const LKUP_FDB: &str = "reg0[11]";

pub(super) fn build(sw: &Switch<'_, '_>, flows: &mut Flows) {
    let dp = sw.dp.id;

    // Ingress table 0: VLAN-tagged frames (unless the switch passes VLANs
    // through) and multicast source addresses are dropped outright.
    if !sw.vlan_passthru {
        flows.add(dp, Stage::LsInCheckPortSec, 100, "vlan.present", sw.drop);
    }
    flows.add(dp, Stage::LsInCheckPortSec, 100, "eth.src[40]", sw.drop);
    flows.add(dp, Stage::LsInCheckPortSec, 50, "1", format!("{PORT_SEC_DROP} = check_in_port_sec(); next;"));
    // External ports' traffic comes in through a localnet port: they get
    // no per-port admission flows.
    for p in sw.ports.iter().filter(|p| p.lsp_type() != "external") {
        let inport = format!("inport == {}", json_key(p.name()));
        if !p.enabled() {
            flows
                .add(dp, Stage::LsInCheckPortSec, 100, inport, format!("{PORT_SEC_DROP} = 1; next;"))
                .hint(p.uuid())
                .io_port(p.name());
        } else if p.lsp_type() == "vtep" {
            // Traffic from a VTEP gateway is marked and skips the ACL and
            // load balancing stages up to the hairpin stage, which sends it
            // straight to the destination lookup.
            let action = format!("{FROM_RAMP} = 1; next(pipeline=ingress, table={});", Stage::LsInHairpin.table());
            flows.add(dp, Stage::LsInCheckPortSec, 70, inport, action).hint(p.uuid()).io_port(p.name());
        } else if let Some(q) = sw.queue_ids.get(p.name()) {
            // A port with a QoS queue: its traffic is queued, then checked.
            let action = format!("set_queue({q}); {PORT_SEC_DROP} = check_in_port_sec(); next;");
            flows.add(dp, Stage::LsInCheckPortSec, 70, inport, action).hint(p.uuid()).io_port(p.name());
        }
    }
    if sw.ports_of_type("vtep").next().is_some() {
        let action = format!("next(pipeline=ingress, table={});", Stage::LsInL2Lkup.table());
        flows.add(dp, Stage::LsInHairpin, 1000, format!("{FROM_RAMP} == 1"), action);
        // Except what a distributed gateway port handles on its chassis.
        for (_, rp) in sw.router_ports() {
            let Some(router) = sw.m.dp(rp.dp).router() else { continue };
            if is_l3dgw(rp, router) {
                let m = format!("{FROM_RAMP} == 1 && is_chassis_resident({})", json_key(&format!("cr-{}", rp.name())));
                flows.add(dp, Stage::LsInHairpin, 2000, m, "next;");
            }
        }
    }

    // Ingress table 1.
    flows.add(dp, Stage::LsInApplyPortSec, 50, format!("{PORT_SEC_DROP} == 1"), sw.drop);
    flows.add(dp, Stage::LsInApplyPortSec, 0, "1", "next;");

    // Ingress tables 2 and 3: learn the MACs behind ports without port
    // security that accept unknown destinations: VIFs (also disabled
    // ones), and localnet ports that ask for it.
    for p in &sw.ports {
        let learns = match p.lsp_type() {
            "" => true,
            "localnet" => p.lsp().is_some_and(|l| l.options().get_bool("localnet_learn_fdb", false)),
            _ => false,
        };
        if !learns || !p.has_unknown() || !p.ps_addrs().is_empty() {
            continue;
        }
        let inport = format!("inport == {}", json_key(p.name()));
        flows
            .add(
                dp,
                Stage::LsInLookupFdb,
                100,
                inport.clone(),
                format!("{LKUP_FDB} = lookup_fdb(inport, eth.src); next;"),
            )
            .hint(p.uuid())
            .io_port(p.name());
        flows
            .add(dp, Stage::LsInPutFdb, 100, format!("{inport} && {LKUP_FDB} == 0"), "put_fdb(inport, eth.src); next;")
            .hint(p.uuid())
            .io_port(p.name());
    }
    flows.add(dp, Stage::LsInLookupFdb, 0, "1", "next;");
    flows.add(dp, Stage::LsInPutFdb, 0, "1", "next;");

    // Egress tables 8 and 9.
    flows.add(dp, Stage::LsOutCheckPortSec, 100, "eth.mcast", format!("{PORT_SEC_DROP} = 0; next;"));
    flows.add(dp, Stage::LsOutCheckPortSec, 0, "1", format!("{PORT_SEC_DROP} = check_out_port_sec(); next;"));
    // Egress QoS on localnet ports (the physical interface must be marked
    // ovn-egress-iface).
    for p in sw.ports_of_type("localnet") {
        if let Some(q) = sw.queue_ids.get(p.name()) {
            let outport = format!("outport == {}", json_key(p.name()));
            flows
                .add(dp, Stage::LsOutApplyPortSec, 100, outport, format!("set_queue({q}); output;"))
                .hint(p.uuid())
                .io_port(p.name());
        }
    }
    flows.add(dp, Stage::LsOutApplyPortSec, 50, format!("{PORT_SEC_DROP} == 1"), sw.drop);
    flows.add(dp, Stage::LsOutApplyPortSec, 0, "1", "output;");
}
