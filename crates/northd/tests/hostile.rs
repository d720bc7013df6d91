//! Hostile Northbound input through the daemon: each test writes a class
//! of bad NB rows (malformed addresses, bad tunnel keys, exhausted IPAM,
//! dangling references, peer loops, huge values, bad ACLs, load balancers,
//! routes, policies and DHCP options) into two identical NBs, one
//! translated by our daemon and one by the reference `ovn-northd`, then
//! adds a healthy part of the network. Each time:
//!
//! - our daemon stays up and `ovn-nbctl --wait=sb sync` returns;
//! - every bad row is named in its log, each warning once (not once per
//!   recompute: recomputes are forced before the log is read; more rows
//!   than the rate limit's burst are named too, later), and no log line is
//!   longer than [`LINE_MAX`] bytes;
//! - the healthy part's SB rows and flows (normalized as the conformance
//!   suite does) are exactly the reference's.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{dump, ours, transact, Dbs};
use conformance::normalize::normalize;
use serde_json::{json, Value};
use testsupport::northd::{nbctl, try_nbctl, Northd};

/// The longest log line allowed, whatever the NB holds (a diagnostic cuts
/// the row name to 200 bytes and its message to 800).
const LINE_MAX: usize = 2048;

/// Names of the healthy part's rows all start with this.
const HEALTHY: &str = "good-";

/// One NB translated by our daemon and its twin by the reference.
struct Pair {
    ours: Dbs,
    reference: Dbs,
    daemon: Northd,
    oracle: Northd,
}

impl Pair {
    fn start() -> Pair {
        conformance::run::require_tools();
        let ours_dbs = Dbs::standalone();
        let reference = Dbs::standalone();
        let mut daemon = Northd::start(ours(), &ours_dbs.nb_remote(), &ours_dbs.sb_remote(), &[]);
        let mut oracle = Northd::reference(&reference.nb_remote(), &reference.sb_remote(), &[]);
        daemon.wait_status("active");
        oracle.wait_status("active");
        Pair { ours: ours_dbs, reference, daemon, oracle }
    }

    /// Runs one `ovn-nbctl` command line on both NBs; its output on ours.
    fn nbctl(&self, args: &[&str]) -> String {
        nbctl(&self.reference.nb_remote(), args);
        nbctl(&self.ours.nb_remote(), args)
    }

    /// Runs a transaction (`[db, op...]`, too large for a command line) on
    /// both NBs.
    fn transact(&self, txn: Value) {
        for remote in [self.reference.nb_remote(), self.ours.nb_remote()] {
            transact(&remote, &txn);
        }
    }

    /// `--wait=sb sync` on both, which must return; our daemon must be up.
    fn sync(&mut self) {
        for (dbs, northd) in [(&self.ours, &mut self.daemon), (&self.reference, &mut self.oracle)] {
            if let Err(e) = try_nbctl(&dbs.nb_remote(), &["--wait=sb", "sync"]) {
                panic!("--wait=sb sync did not return: {e}\n{}", northd.diagnostics());
            }
        }
        self.daemon.check_alive();
    }

    /// Adds the healthy part, forces recomputes, and checks everything the
    /// module promises; `bad` lists the bad rows' names, each group naming
    /// the rows of which at least one must be named in a warning (where
    /// the reference too picks one of several, e.g. a key collision).
    fn finish(mut self, bad: &[&[&str]]) {
        self.sync();
        healthy(&self);
        self.sync();
        for _ in 0..3 {
            self.daemon.appctl(&["inc-engine/recompute"]).expect("inc-engine/recompute");
            self.sync();
        }
        self.oracle.check_alive();
        // After a burst of 20 lines, the rate limit lets one a second
        // through: rows held back are named later, not never.
        let deadline = Instant::now() + Duration::from_secs(120);
        while !unnamed(&self.daemon.log(), bad).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        let log = self.daemon.log();
        check_log(&log, bad);
        let (ours, theirs) = (healthy_lines(&self.ours), healthy_lines(&self.reference));
        assert!(ours.iter().filter(|l| l.starts_with("Logical_Flow")).count() > 50, "the healthy part is translated");
        if ours != theirs {
            let d = conformance::normalize::diff(&theirs.join("\n"), &ours.join("\n"));
            panic!("the healthy part differs from the reference's:\n{}", d.report());
        }
    }
}

/// The healthy part: a switch with two ports and a router port, its router.
fn healthy(pair: &Pair) {
    pair.nbctl(&[
        "ls-add",
        "good-sw",
        "--",
        "lsp-add",
        "good-sw",
        "good-p1",
        "--",
        "lsp-set-addresses",
        "good-p1",
        "00:00:00:aa:00:01 192.168.100.11",
        "--",
        "lsp-set-port-security",
        "good-p1",
        "00:00:00:aa:00:01 192.168.100.11",
        "--",
        "lsp-add",
        "good-sw",
        "good-p2",
        "--",
        "lsp-set-addresses",
        "good-p2",
        "00:00:00:aa:00:02 192.168.100.12",
        "--",
        "lr-add",
        "good-lr",
        "--",
        "lrp-add",
        "good-lr",
        "good-lrp",
        "00:00:00:aa:00:ff",
        "192.168.100.1/24",
        "--",
        "lsp-add",
        "good-sw",
        "good-sw-lr",
        "--",
        "lsp-set-type",
        "good-sw-lr",
        "router",
        "--",
        "lsp-set-addresses",
        "good-sw-lr",
        "router",
        "--",
        "lsp-set-options",
        "good-sw-lr",
        "router-port=good-lrp",
    ]);
}

/// The normalized SB lines of the healthy part: rows keyed by a healthy
/// name and flows of a healthy datapath.
fn healthy_lines(dbs: &Dbs) -> Vec<String> {
    let nb = dump(&dbs.nb_remote(), "OVN_Northbound");
    let sb = dump(&dbs.sb_remote(), "OVN_Southbound");
    normalize(&nb, &sb)
        .lines
        .into_iter()
        .filter(|l| l.split_whitespace().nth(1).is_some_and(|key| key.starts_with(HEALTHY)))
        .collect()
}

/// The log's promises: bounded lines, each warning once, each bad row (of
/// each group, one at least) named in a warning.
fn check_log(log: &str, bad: &[&[&str]]) {
    let mut warnings: BTreeMap<&str, usize> = BTreeMap::new();
    for line in log.lines() {
        assert!(line.len() <= LINE_MAX, "a log line of {} bytes: {}...", line.len(), &line[..200]);
        // `TIME|SEQ|MODULE|LEVEL|text`: the text without time and number.
        if let Some((_, text)) = line.split_once("|WARN|") {
            *warnings.entry(text).or_default() += 1;
        }
    }
    let repeated: Vec<_> = warnings.iter().filter(|(_, n)| **n > 1).collect();
    assert!(repeated.is_empty(), "warnings logged more than once: {repeated:#?}");
    // The `row=` field of each warning: a name, or its first 200 bytes and
    // `...[N bytes]`.
    if let Some(group) = unnamed(log, bad).first() {
        panic!("none of {group:?} is named in a warning:\n{log}");
    }
}

/// The groups of `bad` of which no row is named in a warning of `log`.
fn unnamed<'a>(log: &str, bad: &[&'a [&'a str]]) -> Vec<&'a [&'a str]> {
    // The `row=` field of each warning: a name, or its first 200 bytes and
    // `...[N bytes]`.
    let rows: Vec<&str> =
        log.lines().filter_map(|l| l.split_once("|WARN|")?.1.split(" row=").nth(1)?.split(' ').next()).collect();
    let named = |name: &str| rows.iter().any(|r| *r == name || (r.starts_with(name) && r.contains("...[")));
    bad.iter().copied().filter(|group| !group.iter().any(|name| named(name))).collect()
}

#[test]
fn malformed_addresses_networks_and_macs() {
    let pair = Pair::start();
    pair.nbctl(&[
        "ls-add",
        "bad-addr-sw",
        "--",
        "lsp-add",
        "bad-addr-sw",
        "bad-mac",
        "--",
        "set",
        "Logical_Switch_Port",
        "bad-mac",
        "addresses=\"zz:zz:zz:zz:zz:zz 10.0.0.1\"",
        "--",
        "lsp-add",
        "bad-addr-sw",
        "bad-ip",
        "--",
        "set",
        "Logical_Switch_Port",
        "bad-ip",
        "addresses=\"00:00:00:00:00:01 10.0.0.999\"",
        "--",
        "lsp-add",
        "bad-addr-sw",
        "bad-portsec",
        "--",
        "set",
        "Logical_Switch_Port",
        "bad-portsec",
        "port_security=\"00:00:00:00:00:02 10.0.0.2/40\"",
        "--",
        "lr-add",
        "bad-addr-lr",
        "--",
        "lrp-add",
        "bad-addr-lr",
        "bad-net",
        "00:00:00:00:01:01",
        "10.1.0.1/24",
        "--",
        "set",
        "Logical_Router_Port",
        "bad-net",
        "networks=\"10.1.0.1/99\"",
        "--",
        "lrp-add",
        "bad-addr-lr",
        "bad-lrp-mac",
        "00:00:00:00:01:02",
        "10.2.0.1/24",
        "--",
        "set",
        "Logical_Router_Port",
        "bad-lrp-mac",
        "mac=zz",
    ]);
    // More bad rows than the log's burst of 20 lines: those held back are
    // named a second apart.
    let mut args: Vec<String> = Vec::new();
    let many: Vec<String> = (0..24).map(|i| format!("bad-many-{i:02}")).collect();
    for (i, port) in many.iter().enumerate() {
        if !args.is_empty() {
            args.push("--".into());
        }
        let addresses = format!("addresses=\"00:00:00:00:01:zz 10.0.1.{}\"", i + 1);
        args.extend(
            ["lsp-add", "bad-addr-sw", port, "--", "set", "Logical_Switch_Port", port, &addresses].map(String::from),
        );
    }
    pair.nbctl(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let mut bad: Vec<&[&str]> = vec![&["bad-mac"], &["bad-ip"], &["bad-portsec"], &["bad-net"], &["bad-lrp-mac"]];
    let many: Vec<[&str; 1]> = many.iter().map(|p| [p.as_str()]).collect();
    bad.extend(many.iter().map(|p| &p[..]));
    pair.finish(&bad);
}

#[test]
fn bad_tunnel_keys_and_an_exhausted_ipam_subnet() {
    let pair = Pair::start();
    let mut args: Vec<String> = Vec::new();
    let mut cmd = |parts: &[&str]| {
        if !args.is_empty() {
            args.push("--".into());
        }
        args.extend(parts.iter().map(|s| s.to_string()));
    };
    for (sw, key) in [("bad-key-text", "abc"), ("bad-key-a", "77"), ("bad-key-b", "77")] {
        cmd(&["ls-add", sw]);
        cmd(&["set", "Logical_Switch", sw, &format!("other_config:requested-tnl-key={key}")]);
    }
    cmd(&["ls-add", "bad-pkey-sw"]);
    for (port, key) in [("bad-pkey-text", "xyz"), ("bad-pkey-a", "5"), ("bad-pkey-b", "5")] {
        cmd(&["lsp-add", "bad-pkey-sw", port]);
        cmd(&["set", "Logical_Switch_Port", port, &format!("options:requested-tnl-key={key}")]);
    }
    cmd(&["ls-add", "bad-ipam-sw"]);
    cmd(&["set", "Logical_Switch", "bad-ipam-sw", "other_config:subnet=10.9.0.0/30"]);
    for i in 1..=4 {
        let port = format!("bad-ipam-{i}");
        cmd(&["lsp-add", "bad-ipam-sw", &port]);
        cmd(&["lsp-set-addresses", &port, "dynamic"]);
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    pair.nbctl(&refs);
    // Keys out of range go to our NB only: the reference copies them to
    // the SB, whose server refuses the transaction, again and again (its
    // `--wait=sb` never returns).
    let ours_nb = pair.ours.nb_remote();
    nbctl(
        &ours_nb,
        &[
            "ls-add",
            "bad-key-range",
            "--",
            "set",
            "Logical_Switch",
            "bad-key-range",
            "other_config:requested-tnl-key=99999999",
            "--",
            "lsp-add",
            "bad-pkey-sw",
            "bad-pkey-range",
            "--",
            "set",
            "Logical_Switch_Port",
            "bad-pkey-range",
            "options:requested-tnl-key=40000",
        ],
    );
    pair.finish(&[
        &["bad-key-text"],
        &["bad-key-range"],
        &["bad-key-a", "bad-key-b"],
        &["bad-pkey-text"],
        &["bad-pkey-range"],
        &["bad-pkey-a", "bad-pkey-b"],
        // The switch, whose message names a port left without an address.
        &["bad-ipam-sw"],
    ]);
}

#[test]
fn dangling_references_duplicate_names_and_peer_loops() {
    let pair = Pair::start();
    pair.nbctl(&[
        "ls-add",
        "bad-ref-sw",
        "--",
        "lsp-add",
        "bad-ref-sw",
        "bad-rp",
        "--",
        "lsp-set-type",
        "bad-rp",
        "router",
        "--",
        "lsp-set-options",
        "bad-rp",
        "router-port=missing",
        "--",
        "lr-add",
        "bad-ref-lr",
        "--",
        "lrp-add",
        "bad-ref-lr",
        "bad-peer",
        "00:00:00:00:02:01",
        "10.3.0.1/24",
        "peer=missing",
        "--",
        "lrp-add",
        "bad-ref-lr",
        "bad-self",
        "00:00:00:00:02:02",
        "10.3.1.1/24",
        "peer=bad-self",
        "--",
        "lr-add",
        "bad-loop-lr1",
        "--",
        "lr-add",
        "bad-loop-lr2",
        "--",
        "lr-add",
        "bad-loop-lr3",
        "--",
        "lrp-add",
        "bad-loop-lr1",
        "bad-loop-a",
        "00:00:00:00:02:03",
        "10.3.2.1/24",
        "peer=bad-loop-b",
        "--",
        "lrp-add",
        "bad-loop-lr2",
        "bad-loop-b",
        "00:00:00:00:02:04",
        "10.3.2.2/24",
        "peer=bad-loop-c",
        "--",
        "lrp-add",
        "bad-loop-lr3",
        "bad-loop-c",
        "00:00:00:00:02:05",
        "10.3.2.3/24",
        "peer=bad-loop-a",
        "--",
        "--add-duplicate",
        "ls-add",
        "dup-sw",
        "--",
        "--add-duplicate",
        "ls-add",
        "dup-sw",
        "--",
        "lsp-add",
        "bad-ref-sw",
        "bad-dup-port",
        "--",
        "lrp-add",
        "bad-ref-lr",
        "bad-dup-port",
        "00:00:00:00:02:06",
        "10.3.3.1/24",
    ]);
    pair.finish(&[
        &["bad-rp"],
        &["bad-peer"],
        &["bad-self"],
        &["bad-loop-a", "bad-loop-b", "bad-loop-c"],
        &["bad-dup-port"],
    ]);
}

#[test]
fn huge_names_addresses_and_sets() {
    let pair = Pair::start();
    let huge = "x".repeat(1 << 20);
    let set: Vec<Value> = (0..10_000).map(|i| json!(format!("zz:{i} 10.20.{}.{}", i / 250, i % 250))).collect();
    pair.transact(json!([
        "OVN_Northbound",
        {"op": "insert", "table": "Logical_Switch", "uuid-name": "big",
         "row": {"name": format!("bad-huge-name-{huge}"),
                 "other_config": ["map", [["subnet", format!("10.0.0.0/8{huge}")]]]}},
        {"op": "insert", "table": "Logical_Switch_Port", "uuid-name": "p1",
         "row": {"name": "bad-huge-addr", "addresses": format!("00:00:00:00:00:01 10.0.0.1 {huge}")}},
        {"op": "insert", "table": "Logical_Switch_Port", "uuid-name": "p2",
         "row": {"name": "bad-huge-set", "addresses": ["set", set]}},
        {"op": "insert", "table": "Logical_Switch", "row": {"name": "bad-huge-sw",
         "ports": ["set", [["named-uuid", "p1"], ["named-uuid", "p2"]]]}},
    ]));
    pair.finish(&[&["bad-huge-name-xxxx"], &["bad-huge-addr"], &["bad-huge-set"]]);
}

#[test]
fn bad_acls_load_balancers_routes_policies_and_dhcp_options() {
    let pair = Pair::start();
    // ACL priorities and actions are held by the schema: the server refuses.
    let ours_nb = pair.ours.nb_remote();
    assert!(try_nbctl(&ours_nb, &["ls-add", "refused", "--", "acl-add", "refused", "to-lport", "40000", "1", "drop"])
        .is_err());
    let out = pair.nbctl(&[
        "ls-add",
        "bad-pol-sw",
        "--",
        "--name=bad-acl-syntax",
        "acl-add",
        "bad-pol-sw",
        "from-lport",
        "1001",
        "ip4.src == {",
        "drop",
        "--",
        "--name=bad-acl-field",
        "acl-add",
        "bad-pol-sw",
        "to-lport",
        "1002",
        "foo.bar == 1",
        "allow",
        "--",
        "create",
        "Load_Balancer",
        "name=bad-lb-vip",
        "vips:\"10.0.0.300:80\"=\"10.0.0.5:80\"",
        "--",
        "create",
        "Load_Balancer",
        "name=bad-lb-backend",
        "vips:\"10.0.0.10:80\"=\"10.0.0.x:80\"",
        "--",
        "ls-lb-add",
        "bad-pol-sw",
        "bad-lb-vip",
        "--",
        "ls-lb-add",
        "bad-pol-sw",
        "bad-lb-backend",
        "--",
        "lr-add",
        "bad-pol-lr",
        "--",
        "--id=@r",
        "create",
        "Logical_Router_Static_Route",
        "ip_prefix=10.0.0.0/99",
        "nexthop=10.0.0.1",
        "--",
        "add",
        "Logical_Router",
        "bad-pol-lr",
        "static_routes",
        "@r",
        "--",
        "--id=@q",
        "create",
        "Logical_Router_Policy",
        "priority=100",
        "match=\"ip4.src ==\"",
        "action=reroute",
        "nexthops=bad",
        "--",
        "add",
        "Logical_Router",
        "bad-pol-lr",
        "policies",
        "@q",
        "--",
        "--id=@d",
        "create",
        "DHCP_Options",
        "cidr=bad-cidr",
        "options:router=10.0.0.1",
        "--",
        "--id=@e",
        "create",
        "DHCP_Options",
        "cidr=10.4.0.0/24",
        "options:router=not-an-ip",
        "options:lease_time=abc",
        "options:server_id=10.4.0.1",
        "options:server_mac=00:00:00:00:04:01",
        "--",
        "lsp-add",
        "bad-pol-sw",
        "bad-dhcp-cidr",
        "--",
        "lsp-set-addresses",
        "bad-dhcp-cidr",
        "00:00:00:00:04:02 10.4.0.2",
        "--",
        "set",
        "Logical_Switch_Port",
        "bad-dhcp-cidr",
        "dhcpv4_options=@d",
        "--",
        "lsp-add",
        "bad-pol-sw",
        "bad-dhcp-opts",
        "--",
        "lsp-set-addresses",
        "bad-dhcp-opts",
        "00:00:00:00:04:03 10.4.0.3",
        "--",
        "set",
        "Logical_Switch_Port",
        "bad-dhcp-opts",
        "dhcpv4_options=@e",
    ]);
    // `create` prints the UUIDs of the rows it made, in order: the unnamed
    // route, policy and DHCP options are named by them.
    let uuids: Vec<&str> = out.lines().collect();
    let [_, _, route, policy, dhcp_cidr, dhcp_opts] = uuids[..] else { panic!("six rows created: {out}") };
    pair.finish(&[
        &["bad-acl-syntax"],
        &["bad-lb-vip"],
        &["bad-lb-backend"],
        &[route],
        &[policy],
        &[dhcp_cidr],
        &[dhcp_opts],
    ]);
}
