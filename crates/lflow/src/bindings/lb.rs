//! The SB rows of load balancers: one `Load_Balancer` per NB load balancer
//! applied to at least one logical switch, naming those switches through a
//! `Logical_DP_Group` of its own (load balancers on the same switches share
//! one; flows never use it), and one `Service_Monitor` per health-checked
//! backend that `ip_port_mappings` places behind a logical switch port.
//! Routers do not appear in either: 23.03's SB row lists switches only.
//! It never writes `Service_Monitor.status`, which ovn-controller owns.

use std::collections::BTreeMap;

use ovsdb::{Atom, Datum};

use crate::input::nb;
use crate::model::Model;
use crate::output::{reference, str_map, DesiredRow, Diagnostic, DpId, Output};

/// The rows of the load balancers (`Load_Balancer` only when `rows`),
/// their datapath groups and service monitors.
pub(super) fn build(m: &Model<'_>, rows: bool, out: &mut Output) {
    out.sb.entry("Load_Balancer").or_default();
    out.sb.entry("Service_Monitor").or_default();
    let mut groups: BTreeMap<&[DpId], String> = BTreeMap::new();
    for lb in m.lbs.iter().filter(|lb| !lb.switches.is_empty()) {
        let next = groups.len();
        let group = groups.entry(&lb.switches[..]).or_insert_with(|| format!("lbg{next}")).clone();
        if !rows {
            continue;
        }
        let mut options: BTreeMap<&str, &str> = lb.nb.options().iter().collect();
        options.insert("hairpin_orig_tuple", "true");
        let mut row = DesiredRow::new(None);
        row.set("name", Datum::from(Atom::string(lb.nb.name())))
            .set("vips", Datum::clone(lb.nb.vips().0))
            .set("options", str_map(options))
            .set("external_ids", str_map([("lb_id", lb.uuid.to_string())]))
            .set("datapath_group", reference(&group));
        if let Some(p) = lb.nb.protocol() {
            row.set("protocol", Datum::from(Atom::string(p)));
        }
        out.push("Load_Balancer", row);
    }
    for (dps, id) in groups {
        let mut row = DesiredRow::new(Some(id));
        row.set("datapaths", Datum::set(dps.iter().map(|d| Atom::named_uuid(d.row_id()))));
        out.push("Logical_DP_Group", row);
    }
    service_monitors(m, out);
}

/// One row per (logical port, IP, port, protocol) a health check watches,
/// with the health check's options and the service monitor MAC as source.
fn service_monitors(m: &Model<'_>, out: &mut Output) {
    let src_mac = m.option("svc_monitor_mac").unwrap_or_default();
    let mut rows: BTreeMap<(&str, String, u16, &str), DesiredRow> = BTreeMap::new();
    for lb in &m.lbs {
        for vip in lb.vips.iter().filter(|v| v.health_check) {
            let hc = lb.nb.health_check().find(|hc| hc.vip() == vip.key);
            for b in &vip.backends {
                let Some(mon) = &b.monitor else { continue };
                if lb.proto == "sctp" {
                    out.diagnostics.push(Diagnostic {
                        table: nb::LoadBalancer::TABLE,
                        row: lb.nb.name().to_string(),
                        message: format!(
                            "health check of sctp VIP '{}' not supported, backends not monitored",
                            vip.key
                        ),
                    });
                    break;
                }
                let (ip, port) = (b.addr.ip.to_string(), b.addr.port.unwrap_or(0));
                let mut row = DesiredRow::new(None);
                row.set("ip", Datum::from(Atom::string(&ip)))
                    .set("port", Datum::from(Atom::Integer(port as i64)))
                    .set("protocol", Datum::from(Atom::string(lb.proto)))
                    .set("logical_port", Datum::from(Atom::string(&mon.port)))
                    .set("src_ip", Datum::from(Atom::string(&mon.src_ip)))
                    .set("src_mac", Datum::from(Atom::string(src_mac)))
                    .set_nonempty("options", hc.map_or_else(Datum::empty_map, |hc| Datum::clone(hc.options().0)));
                rows.insert((&mon.port, ip, port, lb.proto), row);
            }
        }
    }
    out.sb.entry("Service_Monitor").or_default().extend(rows.into_values());
}

#[cfg(test)]
mod tests {
    use crate::model::testutil::u;
    use crate::tests::replica;

    /// `lb-sw` is on sw0 directly and on sw1 and lr0 through a group,
    /// `lb-lr` only on lr0, `lb-none` nowhere: one SB row, naming the two
    /// switches (routers never), with the NB options plus
    /// `hairpin_orig_tuple` and its NB row as `lb_id`.
    #[test]
    fn only_load_balancers_of_switches_get_a_row_naming_those_switches() {
        let nb = format!(
            r#"{{"Logical_Switch": {{
                    "{sw0}": {{"initial": {{"name": "sw0", "load_balancer": ["uuid", "{a}"]}}}},
                    "{sw1}": {{"initial": {{"name": "sw1", "load_balancer_group": ["uuid", "{g}"]}}}}}},
                "Logical_Router": {{"{lr0}": {{"initial": {{"name": "lr0", "load_balancer": ["uuid", "{b}"],
                    "load_balancer_group": ["uuid", "{g}"]}}}}}},
                "Load_Balancer_Group": {{"{g}": {{"initial": {{"name": "g", "load_balancer": ["uuid", "{a}"]}}}}}},
                "Load_Balancer": {{
                    "{a}": {{"initial": {{"name": "lb-sw", "protocol": "udp", "options": ["map", [["reject", "true"]]],
                        "vips": ["map", [["10.0.0.1:53", "10.0.0.2:53"]]]}}}},
                    "{b}": {{"initial": {{"name": "lb-lr", "vips": ["map", [["10.0.0.3", "10.0.0.4"]]]}}}},
                    "{c}": {{"initial": {{"name": "lb-none", "vips": ["map", [["10.0.0.5", "10.0.0.6"]]]}}}}}}}}"#,
            sw0 = u(1),
            sw1 = u(2),
            lr0 = u(3),
            g = u(4),
            a = u(5),
            b = u(6),
            c = u(7),
        );
        let out = crate::compile(&replica("ovn-nb.ovsschema", &nb), &replica("ovn-sb.ovsschema", "{}"));
        let rows = out.rows("Load_Balancer");
        assert_eq!(rows.len(), 1, "{rows:?}");
        let row = &rows[0];
        let text = |c: &str| row.get(c).map(ToString::to_string).unwrap_or_default();
        assert_eq!(text("name"), r#""lb-sw""#);
        assert_eq!(text("protocol"), r#""udp""#);
        assert_eq!(text("options"), r#"["map",[["hairpin_orig_tuple","true"],["reject","true"]]]"#);
        assert_eq!(text("external_ids"), format!(r#"["map",[["lb_id","{}"]]]"#, u(5)));
        let group_id = text("datapath_group");
        let group = out
            .rows("Logical_DP_Group")
            .iter()
            .find(|g| g.id.as_deref().is_some_and(|id| group_id == format!(r#"["named-uuid","{id}"]"#)));
        let group = group.expect("the load balancer's group is written");
        // Datapath row ids: switches by name first (dp0, dp1), then lr0.
        assert_eq!(
            group.get("datapaths").map(ToString::to_string).unwrap_or_default(),
            r#"["set",[["named-uuid","dp0"],["named-uuid","dp1"]]]"#
        );
    }
}
