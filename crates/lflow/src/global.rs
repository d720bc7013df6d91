//! The SB tables whose contents do not depend on the logical topology, or
//! only on NB_Global: `SB_Global`, the DHCP option codes ovn-controller
//! understands (`DHCP_Options`, `DHCPv6_Options`), and the RBAC role that
//! lets chassis write their own rows (`RBAC_Role`, `RBAC_Permission`).

use std::collections::BTreeMap;

use ovsdb::{Atom, Datum, Uuid};

use crate::input::nb;
use crate::model::addr::Mac;
use crate::output::{reference, str_map, str_set, DesiredRow, Diagnostic, NbWrite, Output};

/// The version string ovn-northd 23.03.1 writes into
/// `options:northd_internal_version` (OVN version, SB schema version,
/// internal flow format version). ovn-controller compares it with its own
/// when `ovn-match-northd-version` is set, so it must be the same.
pub const NORTHD_INTERNAL_VERSION: &str = "23.03.1-20.27.0-70.6";

/// DHCPv4 options: (name, code, type).
pub(crate) const DHCP_OPTIONS: &[(&str, i64, &str)] = &[
    ("T1", 58, "uint32"),
    ("T2", 59, "uint32"),
    ("arp_cache_timeout", 35, "uint32"),
    ("bootfile_name", 67, "str"),
    ("bootfile_name_alt", 254, "str"),
    ("broadcast_address", 28, "ipv4"),
    ("classless_static_route", 121, "static_routes"),
    ("default_ttl", 23, "uint8"),
    ("dns_server", 6, "ipv4"),
    ("domain_name", 15, "str"),
    ("domain_search_list", 119, "domains"),
    ("ethernet_encap", 36, "bool"),
    ("hostname", 12, "str"),
    ("ip_forward_enable", 19, "bool"),
    ("lease_time", 51, "uint32"),
    ("log_server", 7, "ipv4"),
    ("lpr_server", 9, "ipv4"),
    ("ms_classless_static_route", 249, "static_routes"),
    ("mtu", 26, "uint16"),
    ("netbios_name_server", 44, "ipv4"),
    ("netbios_node_type", 46, "uint8"),
    ("netmask", 1, "ipv4"),
    ("next_server", 253, "ipv4"),
    ("nis_server", 41, "ipv4"),
    ("ntp_server", 42, "ipv4"),
    ("offerip", 0, "ipv4"),
    ("path_prefix", 210, "str"),
    ("policy_filter", 21, "ipv4"),
    ("router", 3, "ipv4"),
    ("router_discovery", 31, "bool"),
    ("router_solicitation", 32, "ipv4"),
    ("server_id", 54, "ipv4"),
    ("swap_server", 16, "ipv4"),
    ("tcp_keepalive_interval", 38, "uint32"),
    ("tcp_ttl", 37, "uint8"),
    ("tftp_server", 66, "host_id"),
    ("tftp_server_address", 150, "ipv4"),
    ("wpad", 252, "str"),
];

/// DHCPv6 options: (name, code, type).
pub(crate) const DHCPV6_OPTIONS: &[(&str, i64, &str)] =
    &[("dns_server", 23, "ipv6"), ("domain_search", 24, "str"), ("ia_addr", 5, "ipv6"), ("server_id", 2, "mac")];

/// What ovn-controller may write: (table, authorization column, may insert
/// and delete, updatable columns).
const RBAC_PERMISSIONS: &[(&str, &str, bool, &[&str])] = &[
    ("BFD", "", false, &["status"]),
    (
        "Chassis",
        "name",
        true,
        &["encaps", "external_ids", "nb_cfg", "other_config", "transport_zones", "vtep_logical_switches"],
    ),
    ("Chassis_Private", "name", true, &["chassis", "external_ids", "nb_cfg", "nb_cfg_timestamp"]),
    ("Controller_Event", "", true, &["chassis", "event_info", "event_type", "seq_num"]),
    ("Encap", "chassis_name", true, &["ip", "options", "type"]),
    ("FDB", "", true, &["dp_key", "mac", "port_key"]),
    ("IGMP_Group", "", true, &["address", "chassis", "datapath", "ports"]),
    ("MAC_Binding", "", true, &["datapath", "ip", "logical_port", "mac", "timestamp"]),
    (
        "Port_Binding",
        "",
        false,
        &["additional_chassis", "additional_encap", "chassis", "encap", "options", "up", "virtual_parent"],
    ),
    ("Service_Monitor", "", false, &["status"]),
];

/// A MAC derived from `seed` with the locally administered bit set and the
/// multicast bit clear: random-looking and stable for a given NB.
fn derived_mac(seed: Uuid, salt: u8) -> Mac {
    let b = seed.as_bytes();
    let mut m = [0u8; 6];
    for (i, x) in m.iter_mut().enumerate() {
        *x = b[i * 2] ^ b[i * 2 + 1].rotate_left(3) ^ salt.wrapping_mul(31).wrapping_add(i as u8);
    }
    m[0] = (m[0] & 0xfe) | 0x02;
    Mac(m)
}

/// The options northd keeps in both NB_Global and SB_Global: the NB
/// options, plus `mac_prefix` and `svc_monitor_mac` (taken from NB when set,
/// else generated once and kept) and the internal version; `max_tunid`
/// depends on SB and is added by `sb_dependent_options`. A `mac_prefix` or
/// `svc_monitor_mac` that is set but unusable is reported and replaced.
pub fn global_options<'a>(
    nb_db: &'a ovsdb::Replica,
    diags: &mut Vec<Diagnostic>,
) -> (Option<nb::NbGlobal<'a>>, BTreeMap<String, String>) {
    let g = nb::NbGlobal::all(nb_db).min_by_key(|g| g.uuid());
    let mut options: BTreeMap<String, String> = BTreeMap::new();
    let seed = g.map(|g| g.uuid()).unwrap_or_default();
    if let Some(g) = g {
        options.extend(g.options().iter().map(|(k, v)| (k.to_string(), v.to_string())));
    }
    let prefix_ok =
        options.get("mac_prefix").and_then(|p| Mac::parse(&format!("{p}:00:00:00"))).is_some_and(|m| !m.is_zero());
    let mut report = |key: &str, value: &str, what: &str| {
        let row = g.map(|g| g.uuid().to_string()).unwrap_or_default();
        diags.push(Diagnostic::new(nb::NbGlobal::TABLE, &row, &format!("options:{key}"), value, what));
    };
    if !prefix_ok {
        if let Some(p) = options.get("mac_prefix") {
            report("mac_prefix", p, "not a usable MAC prefix, a generated one is used");
        }
        let m = derived_mac(seed, 1).0;
        options.insert("mac_prefix".into(), format!("{:02x}:{:02x}:{:02x}", m[0], m[1], m[2]));
    }
    if options.get("svc_monitor_mac").and_then(|m| Mac::parse(m)).is_none() {
        if let Some(v) = options.get("svc_monitor_mac") {
            report("svc_monitor_mac", v, "not a MAC, a generated one is used");
        }
        options.insert("svc_monitor_mac".into(), derived_mac(seed, 2).to_string());
    }
    options.insert("northd_internal_version".into(), NORTHD_INTERNAL_VERSION.into());
    (g, options)
}

/// SB_Global, the NB_Global options write-back, and the static tables.
pub fn build(nb_global: Option<nb::NbGlobal<'_>>, options: &BTreeMap<String, String>, out: &mut Output) {
    let mut row = DesiredRow::new(None);
    row.set("options", str_map(options.iter()));
    row.set("ipsec", Datum::from(Atom::Boolean(nb_global.is_some_and(|g| g.ipsec()))));
    out.push("SB_Global", row);
    if let Some(g) = nb_global {
        out.nb.push(NbWrite {
            table: nb::NbGlobal::TABLE,
            row: g.uuid(),
            column: "options",
            value: str_map(options.iter()),
        });
    }

    for (table, list) in [("DHCP_Options", DHCP_OPTIONS), ("DHCPv6_Options", DHCPV6_OPTIONS)] {
        out.sb.entry(table).or_default();
        for &(name, code, ty) in list {
            let mut row = DesiredRow::new(None);
            row.set("name", Datum::from(Atom::string(name)))
                .set("code", Datum::from(Atom::Integer(code)))
                .set("type", Datum::from(Atom::string(ty)));
            out.push(table, row);
        }
    }

    let mut perms = Vec::new();
    for (i, &(table, auth, insert_delete, update)) in RBAC_PERMISSIONS.iter().enumerate() {
        let id = format!("rbac{i}");
        let mut row = DesiredRow::new(Some(id.clone()));
        row.set("table", Datum::from(Atom::string(table)))
            .set("authorization", str_set([auth]))
            .set("insert_delete", Datum::from(Atom::Boolean(insert_delete)))
            .set("update", str_set(update.iter()));
        out.push("RBAC_Permission", row);
        perms.push((Atom::string(table), reference(&id).as_atom().cloned().expect("one atom")));
    }
    let mut role = DesiredRow::new(None);
    role.set("name", Datum::from(Atom::string("ovn-controller"))).set("permissions", Datum::map(perms));
    out.push("RBAC_Role", role);
}

/// Some chassis does not report `other_config:ct-no-masked-label=true`:
/// an older ovn-controller, which needs the masked ct label for hairpin
/// traffic (`sb_dependent_options`).
pub(crate) fn needs_masked_label(sb: &ovsdb::Replica) -> bool {
    crate::input::sb::Chassis::all(sb).any(|c| !c.other_config().get_bool("ct-no-masked-label", false))
}

/// Adds the options that depend on the SB chassis: `max_tunid` (the
/// highest datapath key northd hands out, lower once a chassis tunnels with
/// VXLAN) to both `SB_Global` and the `NB_Global` write-back, and, to
/// `SB_Global` only, `lb_hairpin_use_ct_mark=false` when some chassis does
/// not report `other_config:ct-no-masked-label=true` (an older
/// ovn-controller that needs the masked ct label for hairpin traffic).
pub fn sb_dependent_options(sb: &ovsdb::Replica, out: &mut Output) {
    let max_tunid = crate::model::max_tunid(sb).to_string();
    let old = needs_masked_label(sb);
    if let Some(w) = out.nb.iter_mut().find(|w| w.table == nb::NbGlobal::TABLE && w.column == "options") {
        w.value = with_option(&w.value, "max_tunid", &max_tunid);
    }
    let Some(row) = out.sb.get_mut("SB_Global").and_then(|rows| rows.first_mut()) else { return };
    let mut options = with_option(row.get("options").unwrap_or(&Datum::empty_map()), "max_tunid", &max_tunid);
    if old {
        options = with_option(&options, "lb_hairpin_use_ct_mark", "false");
    }
    row.set("options", options);
}

/// A string map with `key` set to `value`.
fn with_option(map: &Datum, key: &str, value: &str) -> Datum {
    Datum::map(map.pairs().iter().cloned().chain([(Atom::string(key), Atom::string(value))]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::testutil::u;
    use crate::tests::replica;

    fn options_with_chassis(sb_json: &str) -> (Datum, Datum) {
        let nb = replica("ovn-nb.ovsschema", &format!(r#"{{"NB_Global": {{"{}": {{"initial": {{}}}}}}}}"#, u(1)));
        let sb = replica("ovn-sb.ovsschema", sb_json);
        let (g, options) = global_options(&nb, &mut Vec::new());
        let mut out = Output::default();
        build(g, &options, &mut out);
        sb_dependent_options(&sb, &mut out);
        let sb_options = out.rows("SB_Global")[0].get("options").cloned().unwrap();
        (sb_options, out.nb[0].value.clone())
    }

    fn get<'d>(d: &'d Datum, key: &str) -> Option<&'d str> {
        d.get(&Atom::string(key)).and_then(Atom::as_str)
    }

    #[test]
    fn chassis_decide_max_tunid_and_hairpin_option() {
        let (sb, nb) = options_with_chassis("{}");
        assert_eq!((get(&sb, "max_tunid"), get(&nb, "max_tunid")), (Some("16711680"), Some("16711680")));
        assert_eq!(get(&sb, "lb_hairpin_use_ct_mark"), None);
        let chassis = |encap: &str, other_config: &str| {
            format!(
                r#"{{"Chassis": {{"{c}": {{"initial": {{"name": "hv1", "encaps": ["uuid", "{e}"], "other_config": {other_config}}}}}}},
                  "Encap": {{"{e}": {{"initial": {{"type": "{encap}", "ip": "127.0.0.1", "chassis_name": "hv1"}}}}}}}}"#,
                c = u(2),
                e = u(3)
            )
        };
        let (sb, nb) = options_with_chassis(&chassis("vxlan", r#"["map", []]"#));
        assert_eq!((get(&sb, "max_tunid"), get(&nb, "max_tunid")), (Some("4095"), Some("4095")));
        assert_eq!((get(&sb, "lb_hairpin_use_ct_mark"), get(&nb, "lb_hairpin_use_ct_mark")), (Some("false"), None));
        let (sb, _) = options_with_chassis(&chassis("geneve", r#"["map", [["ct-no-masked-label", "true"]]]"#));
        assert_eq!((get(&sb, "max_tunid"), get(&sb, "lb_hairpin_use_ct_mark")), (Some("16711680"), None));
    }
}
