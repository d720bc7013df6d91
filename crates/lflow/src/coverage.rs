//! Every NB column accounted for: `NB_COLUMNS` says for each table and
//! column of `schemas/ovn-nb.ovsschema` whether the compiler reads it, what
//! feature that is not translated yet it belongs to, or why ovn-northd
//! 23.03 does not use it. `not_translated` turns the NB rows that use a
//! feature not translated yet into diagnostics, so that no NB input is
//! dropped silently. The conformance test `coverage` holds the list true.
//!
//! What it never does: read a column through the generated accessors (that
//! would count as the compiler reading it), or leave out a row it reports.

use std::collections::BTreeMap;

use ovsdb::{Atom, Datum, Replica, Uuid};

use crate::output::Diagnostic;

/// What the compiler does with an NB column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// Read and translated.
    Read,
    /// Read, but the feature it belongs to (named) is not translated yet:
    /// a row with a value in it gets a diagnostic.
    Partly(&'static str),
    /// Not read: the feature (named) is not translated yet; a row with a
    /// value in it gets a diagnostic.
    NotYet(&'static str),
    /// Not read by the compiler: the daemon (`crates/northd`) handles it
    /// (how).
    Daemon(&'static str),
    /// Not read because ovn-northd 23.03 does not use it either (why).
    Unused(&'static str),
}

use Use::{Daemon, NotYet, Partly, Read, Unused};

/// `external_ids` the reference never reads a key of.
const CMS: Use = Unused("the CMS's own data: ovn-northd reads no key of it");
/// The tables ovsdb-server configures itself from.
const SERVER: Use = Unused("ovsdb-server's configuration (remotes, SSL): ovn-northd never reads it");
/// NB_Global status that the daemon writes back.
const STATUS: Use = Daemon("status the daemon writes (crates/northd/src/status.rs), never reads for the translation");

/// Every NB (table, column) and what the compiler does with it, sorted by
/// table and column. Entries `Partly` and `NotYet` name the feature in the
/// diagnostic of `not_translated`; flip them to `Read` when it lands.
pub const NB_COLUMNS: &[(&str, &str, Use)] = &[
    ("ACL", "action", Read),
    ("ACL", "direction", Read),
    ("ACL", "external_ids", CMS),
    ("ACL", "label", Read),
    ("ACL", "log", Read),
    ("ACL", "match", Read),
    ("ACL", "meter", Read),
    ("ACL", "name", Read),
    ("ACL", "options", Read),
    ("ACL", "priority", Read),
    ("ACL", "severity", Read),
    ("Address_Set", "addresses", Read),
    ("Address_Set", "external_ids", CMS),
    ("Address_Set", "name", Read),
    ("BFD", "detect_mult", Read),
    ("BFD", "dst_ip", Read),
    ("BFD", "external_ids", CMS),
    ("BFD", "logical_port", Read),
    ("BFD", "min_rx", Read),
    ("BFD", "min_tx", Read),
    ("BFD", "options", Unused("reserved for future use: the reference neither reads nor copies it")),
    ("BFD", "status", Read),
    ("Chassis_Template_Var", "chassis", NotYet("chassis template variables")),
    ("Chassis_Template_Var", "external_ids", CMS),
    ("Chassis_Template_Var", "variables", NotYet("chassis template variables")),
    ("Connection", "external_ids", SERVER),
    ("Connection", "inactivity_probe", SERVER),
    ("Connection", "is_connected", SERVER),
    ("Connection", "max_backoff", SERVER),
    ("Connection", "other_config", SERVER),
    ("Connection", "status", SERVER),
    ("Connection", "target", SERVER),
    ("Copp", "external_ids", CMS),
    ("Copp", "meters", Read),
    ("Copp", "name", Read),
    ("DHCP_Options", "cidr", Read),
    ("DHCP_Options", "external_ids", CMS),
    ("DHCP_Options", "options", Read),
    ("DNS", "external_ids", CMS),
    ("DNS", "records", Read),
    ("Forwarding_Group", "child_port", Read),
    ("Forwarding_Group", "external_ids", CMS),
    ("Forwarding_Group", "liveness", Read),
    ("Forwarding_Group", "name", Unused("names the group for the CMS; the flows use vip, vmac, liveness, child_port")),
    ("Forwarding_Group", "vip", Read),
    ("Forwarding_Group", "vmac", Read),
    ("Gateway_Chassis", "chassis_name", Read),
    ("Gateway_Chassis", "external_ids", CMS),
    ("Gateway_Chassis", "name", Unused("the SB HA_Chassis_Group of the port is built from chassis_name and priority")),
    ("Gateway_Chassis", "options", Unused("no option is defined for it in 23.03")),
    ("Gateway_Chassis", "priority", Read),
    ("HA_Chassis", "chassis_name", Read),
    ("HA_Chassis", "external_ids", CMS),
    ("HA_Chassis", "priority", Read),
    ("HA_Chassis_Group", "external_ids", CMS),
    ("HA_Chassis_Group", "ha_chassis", Read),
    ("HA_Chassis_Group", "name", Read),
    ("Load_Balancer", "external_ids", CMS),
    ("Load_Balancer", "health_check", Read),
    ("Load_Balancer", "ip_port_mappings", Read),
    ("Load_Balancer", "name", Read),
    ("Load_Balancer", "options", Read),
    ("Load_Balancer", "protocol", Read),
    ("Load_Balancer", "selection_fields", Read),
    ("Load_Balancer", "vips", Read),
    ("Load_Balancer_Group", "load_balancer", Read),
    ("Load_Balancer_Group", "name", Unused("names the group for the CMS; the flows use its load balancers")),
    ("Load_Balancer_Health_Check", "external_ids", CMS),
    ("Load_Balancer_Health_Check", "options", Read),
    ("Load_Balancer_Health_Check", "vip", Read),
    ("Logical_Router", "copp", Read),
    ("Logical_Router", "enabled", Read),
    ("Logical_Router", "external_ids", Read),
    ("Logical_Router", "load_balancer", Read),
    ("Logical_Router", "load_balancer_group", Read),
    ("Logical_Router", "name", Read),
    ("Logical_Router", "nat", Read),
    ("Logical_Router", "options", Read),
    ("Logical_Router", "policies", Read),
    ("Logical_Router", "ports", Read),
    ("Logical_Router", "static_routes", Read),
    ("Logical_Router_Policy", "action", Read),
    ("Logical_Router_Policy", "external_ids", CMS),
    ("Logical_Router_Policy", "match", Read),
    ("Logical_Router_Policy", "nexthop", NotYet("the deprecated single nexthop of a router policy")),
    ("Logical_Router_Policy", "nexthops", Read),
    ("Logical_Router_Policy", "options", Read),
    ("Logical_Router_Policy", "priority", Read),
    ("Logical_Router_Port", "enabled", Read),
    ("Logical_Router_Port", "external_ids", Read),
    ("Logical_Router_Port", "gateway_chassis", Read),
    ("Logical_Router_Port", "ha_chassis_group", Read),
    ("Logical_Router_Port", "ipv6_prefix", NotYet("IPv6 prefix delegation")),
    ("Logical_Router_Port", "ipv6_ra_configs", Read),
    ("Logical_Router_Port", "mac", Read),
    ("Logical_Router_Port", "name", Read),
    ("Logical_Router_Port", "networks", Read),
    ("Logical_Router_Port", "options", Read),
    ("Logical_Router_Port", "peer", Read),
    ("Logical_Router_Static_Route", "bfd", Read),
    ("Logical_Router_Static_Route", "external_ids", CMS),
    ("Logical_Router_Static_Route", "ip_prefix", Read),
    ("Logical_Router_Static_Route", "nexthop", Read),
    ("Logical_Router_Static_Route", "options", Read),
    ("Logical_Router_Static_Route", "output_port", Read),
    ("Logical_Router_Static_Route", "policy", Read),
    ("Logical_Router_Static_Route", "route_table", Read),
    ("Logical_Switch", "acls", Read),
    ("Logical_Switch", "copp", Read),
    ("Logical_Switch", "dns_records", Read),
    ("Logical_Switch", "external_ids", Read),
    ("Logical_Switch", "forwarding_groups", Read),
    ("Logical_Switch", "load_balancer", Read),
    ("Logical_Switch", "load_balancer_group", Read),
    ("Logical_Switch", "name", Read),
    ("Logical_Switch", "other_config", Read),
    ("Logical_Switch", "ports", Read),
    ("Logical_Switch", "qos_rules", Read),
    ("Logical_Switch_Port", "addresses", Read),
    ("Logical_Switch_Port", "dhcpv4_options", Read),
    ("Logical_Switch_Port", "dhcpv6_options", Read),
    ("Logical_Switch_Port", "dynamic_addresses", Read),
    ("Logical_Switch_Port", "enabled", Read),
    ("Logical_Switch_Port", "external_ids", Read),
    ("Logical_Switch_Port", "ha_chassis_group", Read),
    ("Logical_Switch_Port", "mirror_rules", Read),
    ("Logical_Switch_Port", "name", Read),
    ("Logical_Switch_Port", "options", Read),
    ("Logical_Switch_Port", "parent_name", Read),
    ("Logical_Switch_Port", "port_security", Read),
    ("Logical_Switch_Port", "tag", Read),
    ("Logical_Switch_Port", "tag_request", Read),
    ("Logical_Switch_Port", "type", Read),
    ("Logical_Switch_Port", "up", Unused("status northd writes from the SB binding; the compiler takes a port's up from the SB, never from this column")),
    ("Meter", "bands", Read),
    ("Meter", "external_ids", CMS),
    ("Meter", "fair", Read),
    ("Meter", "name", Read),
    ("Meter", "unit", Read),
    ("Meter_Band", "action", Read),
    ("Meter_Band", "burst_size", Read),
    ("Meter_Band", "external_ids", CMS),
    ("Meter_Band", "rate", Read),
    ("Mirror", "external_ids", Read),
    ("Mirror", "filter", Read),
    ("Mirror", "index", Read),
    ("Mirror", "name", Read),
    ("Mirror", "sink", Read),
    ("Mirror", "type", Read),
    ("NAT", "allowed_ext_ips", Read),
    ("NAT", "exempted_ext_ips", Read),
    ("NAT", "external_ids", CMS),
    ("NAT", "external_ip", Read),
    ("NAT", "external_mac", Read),
    ("NAT", "external_port_range", Read),
    ("NAT", "gateway_port", Read),
    ("NAT", "logical_ip", Read),
    ("NAT", "logical_port", Read),
    ("NAT", "options", Read),
    ("NAT", "type", Read),
    ("NB_Global", "connections", SERVER),
    ("NB_Global", "external_ids", CMS),
    ("NB_Global", "hv_cfg", STATUS),
    ("NB_Global", "hv_cfg_timestamp", STATUS),
    ("NB_Global", "ipsec", Read),
    ("NB_Global", "name", Unused("names the deployment for the CMS and ovn-ic; ovn-northd does not read it")),
    ("NB_Global", "nb_cfg", Daemon("copied to SB_Global nb_cfg by the daemon (crates/northd/src/status.rs)")),
    ("NB_Global", "nb_cfg_timestamp", STATUS),
    ("NB_Global", "options", Read),
    ("NB_Global", "sb_cfg", STATUS),
    ("NB_Global", "sb_cfg_timestamp", STATUS),
    ("NB_Global", "ssl", SERVER),
    ("Port_Group", "acls", Read),
    ("Port_Group", "external_ids", CMS),
    ("Port_Group", "name", Read),
    ("Port_Group", "ports", Read),
    ("QoS", "action", Read),
    ("QoS", "bandwidth", Read),
    ("QoS", "direction", Read),
    ("QoS", "external_ids", CMS),
    ("QoS", "match", Read),
    ("QoS", "priority", Read),
    ("SSL", "bootstrap_ca_cert", SERVER),
    ("SSL", "ca_cert", SERVER),
    ("SSL", "certificate", SERVER),
    ("SSL", "external_ids", SERVER),
    ("SSL", "private_key", SERVER),
    ("SSL", "ssl_ciphers", SERVER),
    ("SSL", "ssl_protocols", SERVER),
    ("Static_MAC_Binding", "ip", Read),
    ("Static_MAC_Binding", "logical_port", Read),
    ("Static_MAC_Binding", "mac", Read),
    ("Static_MAC_Binding", "override_dynamic_mac", Read),
];

/// A diagnostic for each NB row that uses a feature not translated yet (a
/// value in a column listed `Partly` or `NotYet`): one a row and feature,
/// naming the row (its `name`, or its UUID) and the columns. A value is a
/// non-empty set that is not the type's default (`""`, `0`, `false`).
pub fn not_translated(nb: &Replica, diags: &mut Vec<Diagnostic>) {
    let mut found: BTreeMap<(&'static str, Uuid, &'static str), (String, Vec<&'static str>)> = BTreeMap::new();
    for &(table, column, u) in NB_COLUMNS {
        let (Partly(feature) | NotYet(feature)) = u else { continue };
        let Some(t) = nb.table(table) else { continue };
        for row in t.rows() {
            if !has_value(row.get(column)) {
                continue;
            }
            let name = match row.get("name").as_atom().and_then(Atom::as_str) {
                Some(n) if !n.is_empty() => n.to_string(),
                _ => row.uuid().to_string(),
            };
            found.entry((table, row.uuid(), feature)).or_insert((name, Vec::new())).1.push(column);
        }
    }
    for ((table, _, feature), (row, columns)) in found {
        let message = format!("not translated yet: {feature} ({})", columns.join(", "));
        diags.push(Diagnostic { table, row, message });
    }
}

/// Whether a column holds a value other than its type's default.
fn has_value(d: &Datum) -> bool {
    match d.as_atom() {
        Some(Atom::String(s)) => !s.is_empty(),
        Some(Atom::Integer(i)) => *i != 0,
        Some(Atom::Real(r)) => *r != 0.0,
        Some(Atom::Boolean(b)) => *b,
        _ => !d.is_empty(),
    }
}

/// The NB columns read through the generated views since the process
/// started (`coverage` feature only).
#[cfg(feature = "coverage")]
pub fn columns_read() -> Vec<(&'static str, &'static str)> {
    use std::sync::atomic::Ordering;
    crate::input::nb::COLUMNS
        .iter()
        .zip(crate::input::nb::READ.iter())
        .filter(|(_, r)| r.load(Ordering::Relaxed))
        .map(|(c, _)| *c)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::replica;

    /// `NB_COLUMNS` lists each column of the NB schema once, sorted.
    #[test]
    fn every_schema_column_is_listed_once() {
        let listed: Vec<(&str, &str)> = NB_COLUMNS.iter().map(|(t, c, _)| (*t, *c)).collect();
        let mut schema = crate::input::nb::COLUMNS.to_vec();
        schema.sort();
        assert_eq!(listed, schema);
    }

    /// Rows using features not translated yet (IPv6 prefix delegation
    /// here) get one diagnostic a row and feature, naming the row and the
    /// columns; rows of translated features (an ACL, a QoS rule, DHCP
    /// options, a load balancer itself, on a switch or a router, NAT on a
    /// gateway router and on a router without a gateway) and rows without
    /// such values get none.
    #[test]
    fn rows_of_features_not_translated_yet_get_a_diagnostic() {
        let nb = replica(
            "ovn-nb.ovsschema",
            r#"{
            "Logical_Switch": {"00000000-0000-0000-0000-000000000001": {"initial": {"name": "sw0",
                "ports": ["set", [["uuid", "00000000-0000-0000-0000-000000000011"],
                                  ["uuid", "00000000-0000-0000-0000-000000000012"]]],
                "acls": ["uuid", "00000000-0000-0000-0000-000000000031"],
                "qos_rules": ["uuid", "00000000-0000-0000-0000-000000000041"]}}},
            "Logical_Switch_Port": {
                "00000000-0000-0000-0000-000000000011": {"initial": {"name": "plain",
                    "addresses": "00:00:00:00:00:01 10.0.0.1"}},
                "00000000-0000-0000-0000-000000000012": {"initial": {"name": "dhcp",
                    "addresses": "00:00:00:00:00:02 10.0.0.2",
                    "dhcpv4_options": ["uuid", "00000000-0000-0000-0000-000000000051"]}}},
            "ACL": {"00000000-0000-0000-0000-000000000031": {"initial": {"priority": 1000,
                "direction": "to-lport", "match": "ip4", "action": "drop"}}},
            "QoS": {"00000000-0000-0000-0000-000000000041": {"initial": {"priority": 10,
                "direction": "from-lport", "match": "ip4", "action": ["map", [["dscp", 10]]]}}},
            "DHCP_Options": {"00000000-0000-0000-0000-000000000051": {"initial": {"cidr": "10.0.0.0/24"}}},
            "Logical_Router": {"00000000-0000-0000-0000-000000000002": {"initial": {"name": "lr0",
                "ports": ["uuid", "00000000-0000-0000-0000-000000000021"],
                "nat": ["uuid", "00000000-0000-0000-0000-000000000061"],
                "options": ["map", [["chassis", "hv1"]]],
                "load_balancer": ["uuid", "00000000-0000-0000-0000-000000000071"]}},
                "00000000-0000-0000-0000-000000000003": {"initial": {"name": "lr1",
                "nat": ["uuid", "00000000-0000-0000-0000-000000000062"]}}},
            "NAT": {"00000000-0000-0000-0000-000000000061": {"initial": {"type": "snat",
                "external_ip": "172.16.0.1", "logical_ip": "10.0.0.0/24"}},
                "00000000-0000-0000-0000-000000000062": {"initial": {"type": "snat",
                "external_ip": "172.16.1.1", "logical_ip": "10.0.1.0/24"}}},
            "Logical_Router_Port": {"00000000-0000-0000-0000-000000000021": {"initial": {"name": "lrp0",
                "mac": "00:00:00:00:ff:01", "networks": "10.0.0.1/24", "ipv6_prefix": "fd00::/64"}}},
            "Load_Balancer": {"00000000-0000-0000-0000-000000000071": {"initial": {"name": "lb0",
                "vips": ["map", [["10.0.0.100:80", "10.0.0.1:80"]]]}}}
        }"#,
        );
        let out = crate::compile(&nb, &replica("ovn-sb.ovsschema", "{}"));
        let got: Vec<String> =
            out.diagnostics.iter().map(ToString::to_string).filter(|d| d.contains("not translated yet")).collect();
        let want = ["Logical_Router_Port lrp0: not translated yet: IPv6 prefix delegation (ipv6_prefix)"];
        assert_eq!(got, want);
    }
}
