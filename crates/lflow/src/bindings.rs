//! The SB rows that describe the topology itself: `Datapath_Binding` for
//! every switch and router, `Port_Binding` for every port (switch ports of
//! each type, router ports as patch pairs), the flood and unknown
//! `Multicast_Group`s, `IP_Multicast` for every switch, and the
//! `Address_Set`s and `Port_Group`s copied from NB.

use std::collections::HashMap;

use ovsdb::{Atom, Datum};

use crate::input::{nb, sb};
use crate::model::{DpNb, Model, Port, PortNb};
use crate::output::{reference, str_map, str_set, DesiredRow, NbWrite, Output};

/// Fixed multicast group keys (the range above port keys).
pub const MC_FLOOD: (&str, i64) = ("_MC_flood", 32768);
pub const MC_UNKNOWN: (&str, i64) = ("_MC_unknown", 32769);
pub const MC_MROUTER_FLOOD: (&str, i64) = ("_MC_mrouter_flood", 32770);
pub const MC_STATIC: (&str, i64) = ("_MC_static", 32771);
pub const MC_FLOOD_L2: (&str, i64) = ("_MC_flood_l2", 32772);

fn string(s: &str) -> Datum {
    Datum::from(Atom::string(s))
}

fn int(i: i64) -> Datum {
    Datum::from(Atom::Integer(i))
}

/// The desired row id of a port's binding.
pub fn pb_id(port_index: usize) -> String {
    format!("pb{port_index}")
}

pub fn build(m: &Model<'_>, out: &mut Output) {
    for t in ["Datapath_Binding", "Port_Binding", "Multicast_Group", "IP_Multicast", "Address_Set", "Port_Group"] {
        out.sb.entry(t).or_default();
    }
    for dp in &m.datapaths {
        let mut row = DesiredRow::new(Some(dp.id.row_id()));
        let (kind, name_key) = match dp.nb {
            DpNb::Switch(_) => ("logical-switch", "name"),
            DpNb::Router(_) => ("logical-router", "name"),
        };
        let mut ids = vec![(kind.to_string(), dp.uuid.to_string()), (name_key.to_string(), dp.name.to_string())];
        if let DpNb::Switch(s) = dp.nb {
            for key in ["interconn-ts"] {
                if let Some(v) = s.other_config().get(key) {
                    ids.push((key.to_string(), v.to_string()));
                }
            }
        }
        row.set("external_ids", str_map(ids)).set("tunnel_key", int(dp.tunnel_key));
        out.push("Datapath_Binding", row);

        if dp.is_switch() {
            ip_multicast(m, dp.id, out);
        }
    }
    for (i, p) in m.ports.iter().enumerate() {
        out.push("Port_Binding", port_binding(m, i, p));
    }
    multicast_groups(m, out);
    address_sets(m, out);
    nb_status(m, out);
}

/// The switch port columns northd maintains in NB: `dynamic_addresses`
/// (what IPAM assigned) and `up`. A port is up when a chassis has claimed
/// its binding; when that chassis reports port readiness
/// (`other_config:port-up-notif`), only once the binding's `up` is true as
/// well. Router-type ports are always up.
fn nb_status(m: &Model<'_>, out: &mut Output) {
    let bindings: HashMap<&str, sb::PortBinding<'_>> =
        sb::PortBinding::all(m.sb).map(|pb| (pb.logical_port(), pb)).collect();
    for p in &m.ports {
        let Some(lsp) = p.lsp() else { continue };
        if p.dynamic_addresses.is_some() || lsp.dynamic_addresses().is_some() {
            out.nb.push(NbWrite {
                table: nb::LogicalSwitchPort::TABLE,
                row: p.uuid,
                column: "dynamic_addresses",
                value: str_set(p.dynamic_addresses.iter()),
            });
        }
        let up = lsp.type_() == "router"
            || bindings.get(p.name).is_some_and(|pb| match pb.chassis() {
                Some(ch) if ch.other_config().get_bool("port-up-notif", false) => pb.up() == Some(true),
                Some(_) => true,
                None => false,
            });
        out.nb.push(NbWrite {
            table: nb::LogicalSwitchPort::TABLE,
            row: p.uuid,
            column: "up",
            value: Datum::from(Atom::Boolean(up)),
        });
    }
}

fn port_binding(m: &Model<'_>, i: usize, p: &Port<'_>) -> DesiredRow {
    let mut row = DesiredRow::new(Some(pb_id(i)));
    row.set("logical_port", string(p.name))
        .set("datapath", reference(&m.dp(p.dp).id.row_id()))
        .set("tunnel_key", int(p.tunnel_key));
    match p.nb {
        PortNb::Switch(lsp) => {
            let mut options: Vec<(String, String)> =
                lsp.options().iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            let ty = match lsp.type_() {
                "router" => {
                    options.retain(|(k, _)| k != "router-port");
                    if let Some(peer) = m.peer(p) {
                        options.push(("peer".into(), peer.name.to_string()));
                    }
                    "patch"
                }
                t => t,
            };
            row.set("type", string(ty))
                .set_nonempty("options", str_map(options))
                .set_nonempty("mac", str_set(lsp.addresses()))
                .set_nonempty("port_security", str_set(lsp.port_security()))
                .set_nonempty("external_ids", str_map(lsp_external_ids(lsp)));
            if let Some(tag) = lsp.tag() {
                row.set("tag", int(tag)).set("parent_port", string(lsp.parent_name().unwrap_or("")));
            } else if let Some(parent) = lsp.parent_name() {
                row.set("parent_port", string(parent));
            }
        }
        PortNb::Router(lrp) => {
            let mut options: Vec<(String, String)> = Vec::new();
            if let Some(peer) = m.peer(p) {
                options.push(("peer".into(), peer.name.to_string()));
            }
            let mac = std::iter::once(lrp.mac()).chain(lrp.networks()).collect::<Vec<_>>().join(" ");
            row.set("type", string("patch")).set_nonempty("options", str_map(options)).set("mac", str_set([mac]));
        }
    }
    row
}

/// The NB external_ids northd copies to a switch port's binding.
fn lsp_external_ids<'a>(lsp: nb::LogicalSwitchPort<'a>) -> Vec<(&'a str, &'a str)> {
    lsp.external_ids().iter().filter(|(k, _)| k.starts_with("neutron:")).collect()
}

/// `_MC_flood` (every enabled port), `_MC_flood_l2` (every enabled port
/// but router ports) and `_MC_unknown` (ports with `unknown`) of each
/// switch; a group with no member is not written.
fn multicast_groups(m: &Model<'_>, out: &mut Output) {
    for dp in m.switches() {
        let mut flood = Vec::new();
        let mut flood_l2 = Vec::new();
        let mut unknown = Vec::new();
        for &i in &dp.ports {
            let p = &m.ports[i];
            if !p.enabled() {
                continue;
            }
            flood.push(i);
            if p.lsp_type() != "router" {
                flood_l2.push(i);
            }
            if p.has_unknown {
                unknown.push(i);
            }
        }
        for ((name, key), members) in [(MC_FLOOD, flood), (MC_FLOOD_L2, flood_l2), (MC_UNKNOWN, unknown)] {
            if members.is_empty() {
                continue;
            }
            let mut row = DesiredRow::new(None);
            row.set("datapath", reference(&dp.id.row_id()))
                .set("name", string(name))
                .set("tunnel_key", int(key))
                .set("ports", Datum::set(members.iter().map(|&i| Atom::named_uuid(pb_id(i)))));
            out.push("Multicast_Group", row);
        }
    }
}

/// The IP multicast (IGMP/MLD snooping) settings of a switch.
fn ip_multicast(m: &Model<'_>, dp: crate::output::DpId, out: &mut Output) {
    let Some(s) = m.dp(dp).switch() else { return };
    let oc = s.other_config();
    let enabled = oc.get_bool("mcast_snoop", false);
    let mut row = DesiredRow::new(None);
    row.set("datapath", reference(&dp.row_id()))
        .set("enabled", Datum::from(Atom::Boolean(enabled)))
        .set("querier", Datum::from(Atom::Boolean(oc.get_bool("mcast_querier", true))))
        .set("eth_src", string(oc.get("mcast_eth_src").unwrap_or("")))
        .set("ip4_src", string(oc.get("mcast_ip4_src").unwrap_or("")))
        .set("ip6_src", string(oc.get("mcast_ip6_src").unwrap_or("")))
        .set("table_size", int(oc.get_int("mcast_table_size").unwrap_or(2048)))
        .set("idle_timeout", int(oc.get_int("mcast_idle_timeout").unwrap_or(300)))
        .set("query_interval", int(oc.get_int("mcast_query_interval").unwrap_or(-1)))
        .set("query_max_resp", int(oc.get_int("mcast_query_max_response").unwrap_or(1)))
        .set("seq_no", int(0));
    // The query interval defaults to half the idle timeout.
    if oc.get_int("mcast_query_interval").is_none() {
        let idle = oc.get_int("mcast_idle_timeout").unwrap_or(300);
        row.set("query_interval", int(idle / 2));
    }
    out.push("IP_Multicast", row);
}

/// NB address sets, the `svc_monitor_mac` set, and port groups.
fn address_sets(m: &Model<'_>, out: &mut Output) {
    let mut row = DesiredRow::new(None);
    row.set("name", string("svc_monitor_mac"))
        .set("addresses", str_set(m.option("svc_monitor_mac").into_iter()));
    out.push("Address_Set", row);
    let mut sets: Vec<nb::AddressSet<'_>> = nb::AddressSet::all(m.nb).collect();
    sets.sort_by_key(|s| (s.name(), s.uuid()));
    for s in sets {
        let mut row = DesiredRow::new(None);
        row.set("name", string(s.name())).set_nonempty("addresses", str_set(s.addresses()));
        out.push("Address_Set", row);
    }
}
