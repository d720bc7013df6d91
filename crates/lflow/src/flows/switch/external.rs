//! External ports (ingress table 24): traffic of an external port arrives
//! through a localnet port on every chassis of the physical network, but
//! only the chassis that claims the port may answer its ARP/ND requests
//! for the switch's router IPs or route its packets; every other chassis
//! drops them here. Only the switch's own ports are looked at.

use super::{json_key, Switch};
use crate::model::addr::solicited_node;
use crate::output::Flows;
use crate::stage::Stage;

pub(super) fn build(sw: &Switch<'_, '_>, flows: &mut Flows) {
    let dp = sw.dp.id;
    for ext in sw.ports_of_type("external") {
        let resident = format!("is_chassis_resident({})", json_key(ext.name()));
        for ln in sw.ports_of_type("localnet") {
            for a in sw.lsp_addrs(ext) {
                let from = format!("inport == {} && eth.src == {}", json_key(ln.name()), a.mac);
                for (_, rp) in sw.router_ports() {
                    for r in rp.addrs().iter() {
                        let mut matches: Vec<String> = Vec::new();
                        for ip in &r.ipv4 {
                            matches.push(format!("{from} && !{resident} && arp.tpa == {} && arp.op == 1", ip.addr));
                        }
                        for ip in &r.ipv6 {
                            matches.push(format!(
                                "{from} && !{resident} && nd_ns && ip6.dst == {{{ip}, {sn}}} && nd.target == {ip}",
                                ip = ip.addr,
                                sn = solicited_node(ip.addr)
                            ));
                        }
                        matches.push(format!("{from} && eth.dst == {} && !{resident}", r.mac));
                        for m in matches {
                            flows.add(dp, Stage::LsInExternalPort, 100, m, sw.drop).hint(ext.uuid()).io_port(ln.name());
                        }
                    }
                }
            }
        }
    }
    flows.add(dp, Stage::LsInExternalPort, 0, "1", "next;");
}
