//! End to end, with packets: a northd between real Northbound and
//! Southbound `ovsdb-server`s, one hypervisor (`ovs-vswitchd` with the
//! userspace datapath and `ovn-controller`) and three VIFs in network
//! namespaces of their own, on two logical switches joined by a logical
//! router. Checked, in order: the VIF ports go up in the Northbound
//! database, `ovn-nbctl --wait=hv sync` returns, the northd says it is
//! active, and ping works on one switch, to the router, and across it.
//!
//! `ovn_northd_rs_forwards_packets` runs our daemon as the only northd: the
//! test that matters. Then the reference `ovn-northd` takes over, with the
//! chassis and its bindings in place (which the conformance suite does not
//! have), and must find nothing to correct: both databases stay as ours left
//! them but for the counters of the `--wait=hv` barrier that proves it is
//! done, and packets still cross the router.
//! `reference_northd_forwards_packets` runs the same checks with the
//! reference alone, which proves the harness itself (a failure there is the
//! machine's or the harness's, not the compiler's).
//!
//! Native services, on a switch of their own (`SERVICES`): a VIF without
//! an address gets its lease from OVN's DHCPv4 responder (busybox
//! `udhcpc`), and a DNS query (busybox `nslookup`) is answered from the
//! switch's DNS records; with our daemon, and with the reference to prove
//! the harness.
//!
//! NAT (`NAT_TOPOLOGY`): two VIFs behind a router whose port on an
//! external switch reaches, through a localnet port, an OVS bridge of the
//! chassis where an external host lives (a namespace outside OVN). The
//! external host's HTTP server echoes each client's address: one VIF is
//! seen as the router's SNAT address, the other as its floating IP
//! (`dnat_and_snat`), which the external host reaches it through, as it
//! reaches the first through a DNAT address. Once with a gateway router and
//! once with a distributed gateway port and a distributed floating IP; with
//! the reference, then the reference again taking over from itself writing
//! nothing.
//!
//! What it must never do: leave processes, namespaces or interfaces behind
//! (the harness, `testsupport::ovn`, owns and kills everything, also on
//! failure), or wait without a bound. Needs root.

use std::path::Path;
use std::time::Duration;

use testsupport::ovn::{poll_ok, Central, Chassis, HttpServer, Unmet, Vif};
use testsupport::require_tool;

/// Bound on each wait: ports up, a ping answered. Generous for a busy
/// 2-core machine; on a quiet one each takes a second or two.
const PATIENCE: Duration = Duration::from_secs(60);

/// Two switches, ls1 (10.0.1.0/24) and ls2 (10.0.2.0/24), joined by the
/// router lr1 (10.0.1.1 and 10.0.2.1); VIF ports lsp1 and lsp2 on ls1, lsp3
/// on ls2.
const TOPOLOGY: &[&[&str]] = &[
    &["ls-add", "ls1", "--", "ls-add", "ls2", "--", "lr-add", "lr1"],
    &["lsp-add", "ls1", "lsp1", "--", "lsp-set-addresses", "lsp1", "00:00:00:00:01:11 10.0.1.11"],
    &["lsp-add", "ls1", "lsp2", "--", "lsp-set-addresses", "lsp2", "00:00:00:00:01:12 10.0.1.12"],
    &["lsp-add", "ls2", "lsp3", "--", "lsp-set-addresses", "lsp3", "00:00:00:00:02:13 10.0.2.13"],
    &["lrp-add", "lr1", "lr1-ls1", "00:00:00:00:ff:01", "10.0.1.1/24"],
    &["lrp-add", "lr1", "lr1-ls2", "00:00:00:00:ff:02", "10.0.2.1/24"],
    &["lsp-add", "ls1", "ls1-lr1", "--", "lsp-set-type", "ls1-lr1", "router"],
    &["lsp-set-addresses", "ls1-lr1", "router", "--", "lsp-set-options", "ls1-lr1", "router-port=lr1-ls1"],
    &["lsp-add", "ls2", "ls2-lr1", "--", "lsp-set-type", "ls2-lr1", "router"],
    &["lsp-set-addresses", "ls2-lr1", "router", "--", "lsp-set-options", "ls2-lr1", "router-port=lr1-ls2"],
];

/// The columns a takeover followed by `ovn-nbctl --wait=hv sync` changes by
/// design: the sequence numbers (and their timestamps) that the barrier
/// moves through NB, northd, SB and the chassis.
const BARRIER_COLUMNS: &[(&str, &str)] = &[
    ("NB_Global", "nb_cfg"),
    ("NB_Global", "nb_cfg_timestamp"),
    ("NB_Global", "sb_cfg"),
    ("NB_Global", "sb_cfg_timestamp"),
    ("NB_Global", "hv_cfg"),
    ("NB_Global", "hv_cfg_timestamp"),
    ("SB_Global", "nb_cfg"),
    ("Chassis_Private", "nb_cfg"),
    ("Chassis_Private", "nb_cfg_timestamp"),
];

/// The deployment under test.
struct Deployment {
    central: Central,
    chassis: Chassis,
}

impl Deployment {
    /// Waits until `check` passes, failing at once if a daemon exits; on
    /// failure panics with the last error and every daemon's log.
    fn wait_for(&mut self, what: &str, mut check: impl FnMut(&Central) -> Result<(), String>) {
        let result = poll_ok(PATIENCE, || {
            self.central.check_alive().map_err(Unmet::Fatal)?;
            self.chassis.check_alive().map_err(Unmet::Fatal)?;
            Ok(check(&self.central)?)
        });
        if let Err(err) = result {
            panic!(
                "waiting for {what} (bound {PATIENCE:?}): {err}\n=== northd\n{}\n=== chassis\n{}",
                self.central.diagnostics(),
                self.chassis.diagnostics()
            );
        }
    }

    /// Waits, for each (client, URL, answer) in turn, until the client gets
    /// that answer (trimmed) from the URL, failing at once if a server
    /// died.
    fn wait_for_answers(&mut self, servers: &mut [HttpServer], checks: &[(&Vif, String, &str)], context: &str) {
        for (client, url, want) in checks {
            self.wait_for(&format!("{} to get {want} from {url} ({context})", client.name()), |_| {
                for server in servers.iter_mut() {
                    server.check_alive()?;
                }
                http_answer(client, url, want)
            });
        }
    }

    /// Waits until `vif` gets an answer to a ping to `ip`.
    fn wait_for_ping(&mut self, vif: &Vif, ip: &str) {
        self.wait_for(&format!("{} to ping {ip}", vif.name()), |_| vif.ping(ip));
    }
}

/// Ok once the logical switch port `name` is `up` in the Northbound database.
fn port_up(central: &Central, name: &str) -> Result<(), String> {
    let up = central.try_nbctl(&["get", "Logical_Switch_Port", name, "up"])?;
    if up.trim() == "true" {
        Ok(())
    } else {
        Err(format!("{name} up is {:?}", up.trim()))
    }
}

/// Builds the deployment with `northd` as its only northd and runs every
/// check; returns the deployment and its VIFs (on lsp1, lsp2, lsp3).
fn forwards_packets(northd: &Path) -> (Deployment, [Vif; 3]) {
    let central = Central::start(northd);
    for command in TOPOLOGY {
        central.nbctl(command);
    }
    let chassis = Chassis::start("hv1", &central.sb_remote());
    let vif1 = chassis.add_vif("vif1", "lsp1", "00:00:00:00:01:11", "10.0.1.11/24", Some("10.0.1.1"));
    let vif2 = chassis.add_vif("vif2", "lsp2", "00:00:00:00:01:12", "10.0.1.12/24", Some("10.0.1.1"));
    let vif3 = chassis.add_vif("vif3", "lsp3", "00:00:00:00:02:13", "10.0.2.13/24", Some("10.0.2.1"));
    let mut deployment = Deployment { central, chassis };

    // ovn-controller claims the ports in SB; northd copies `up` to NB.
    for port in ["lsp1", "lsp2", "lsp3"] {
        deployment.wait_for(&format!("{port} to go up in NB"), |central| port_up(central, port));
    }
    // Returns once every chassis has caught up with the NB's nb_cfg, which
    // northd reports as NB_Global.hv_cfg (ovn-nbctl's own bound: 60 s).
    deployment.central.nbctl(&["--wait=hv", "sync"]);
    let status = deployment.central.northd().status();
    assert_eq!(status.as_deref(), Some("active"), "the only northd holds the SB lock");

    // One switch, both ways.
    deployment.wait_for_ping(&vif1, "10.0.1.12");
    deployment.wait_for_ping(&vif2, "10.0.1.11");
    // The router's own address.
    deployment.wait_for_ping(&vif1, "10.0.1.1");
    // Across the router, both ways.
    deployment.wait_for_ping(&vif1, "10.0.2.13");
    deployment.wait_for_ping(&vif3, "10.0.1.12");
    (deployment, [vif1, vif2, vif3])
}

#[test]
fn ovn_northd_rs_forwards_packets() {
    let (mut deployment, [vif1, _, vif3]) = forwards_packets(Path::new(env!("CARGO_BIN_EXE_ovn-northd-rs")));
    reference_takes_over(&mut deployment);
    deployment.wait_for_ping(&vif3, "10.0.1.11");
    deployment.wait_for_ping(&vif1, "10.0.2.13");
}

/// The reference `ovn-northd` takes over from the northd of `deployment`
/// and writes nothing but the barrier of `ovn-nbctl --wait=hv sync`
/// ([`BARRIER_COLUMNS`]): it finds both databases as it would have left
/// them, the chassis's bindings included.
fn reference_takes_over(deployment: &mut Deployment) {
    let central = &mut deployment.central;
    let (nb, sb) = (central.nb_snapshot(), central.sb_snapshot());
    central.replace_northd(&require_tool("ovn-northd"));
    central.nbctl(&["--wait=hv", "sync"]);
    let mut changes = nb.changes(&central.nb_snapshot(), BARRIER_COLUMNS);
    changes.extend(sb.changes(&central.sb_snapshot(), BARRIER_COLUMNS));
    assert!(
        changes.is_empty(),
        "the reference ovn-northd corrected what the northd before it wrote:\n{}\n=== northd\n{}",
        changes.join("\n"),
        central.diagnostics()
    );
}

/// Applies NB commands and waits until the chassis has the flows.
fn apply(deployment: &Deployment, commands: &[&[&str]]) {
    for command in commands {
        deployment.central.nbctl(command);
    }
    deployment.central.nbctl(&["--wait=hv", "sync"]);
}

/// Once the chassis has caught up (`apply`), a ping that ACLs drop gets no
/// answer (ping's own bound: one second).
fn assert_blocked(vif: &Vif, ip: &str) {
    assert!(vif.ping(ip).is_err(), "{} got an answer from {ip} through a drop ACL", vif.name());
}

/// ACLs with packets, our daemon alone: a to-lport drop blocks the pings
/// towards a port and no other pair; a higher-priority allow-related lets
/// them through again; a stateful pair (drop all IPv4 towards lsp1, allow
/// related from it) lets the replies of lsp1's own pings through
/// (conntrack) and blocks new connections towards it.
#[test]
fn ovn_northd_rs_acls_filter_packets() {
    let (mut deployment, [vif1, vif2, vif3]) = forwards_packets(Path::new(env!("CARGO_BIN_EXE_ovn-northd-rs")));

    apply(&deployment, &[&["acl-add", "ls1", "to-lport", "1000", r#"outport == "lsp2" && ip4"#, "drop"]]);
    assert_blocked(&vif1, "10.0.1.12");
    assert_blocked(&vif3, "10.0.1.12");
    deployment.wait_for_ping(&vif1, "10.0.2.13");
    deployment.wait_for_ping(&vif3, "10.0.1.11");
    deployment.wait_for_ping(&vif1, "10.0.1.1");

    apply(&deployment, &[&["acl-add", "ls1", "to-lport", "1001", r#"outport == "lsp2" && icmp4"#, "allow-related"]]);
    deployment.wait_for_ping(&vif1, "10.0.1.12");
    deployment.wait_for_ping(&vif3, "10.0.1.12");

    apply(
        &deployment,
        &[
            &["acl-del", "ls1"],
            &["acl-add", "ls1", "to-lport", "1000", r#"outport == "lsp1" && ip4"#, "drop"],
            &["acl-add", "ls1", "from-lport", "1000", r#"inport == "lsp1" && ip4"#, "allow-related"],
        ],
    );
    // lsp1's own sessions: the replies are known to conntrack.
    deployment.wait_for_ping(&vif1, "10.0.1.12");
    deployment.wait_for_ping(&vif1, "10.0.2.13");
    deployment.wait_for_ping(&vif1, "10.0.1.1");
    // New sessions towards lsp1, from its switch and across the router.
    assert_blocked(&vif2, "10.0.1.11");
    assert_blocked(&vif3, "10.0.1.11");
    // Other pairs still pass.
    deployment.wait_for_ping(&vif2, "10.0.2.13");
}

/// A load balancer on ls1, as Kubernetes puts services on node switches:
/// TCP connections from vif1 to two VIPs (off every subnet, so through the
/// router's MAC) reach the HTTP server behind the backend on the same
/// switch and, through the router, the one on ls2; an IPv6 VIP works
/// alike; a backend reaches its own VIP (hairpin). Our daemon is the only
/// northd.
#[test]
fn ovn_northd_rs_balances_tcp_to_a_switch_vip() {
    let (mut deployment, [vif1, _, vif3]) = forwards_packets(Path::new(env!("CARGO_BIN_EXE_ovn-northd-rs")));
    let central = &deployment.central;
    central.nbctl(&["lsp-add", "ls1", "lsp4", "--", "lsp-set-addresses", "lsp4", "00:00:00:00:01:14 10.0.1.14"]);
    let vif4 = deployment.chassis.add_vif("vif4", "lsp4", "00:00:00:00:01:14", "10.0.1.14/24", Some("10.0.1.1"));
    // IPv6 on ls1 too, for an IPv6 VIP.
    central.nbctl(&["set", "Logical_Router_Port", "lr1-ls1", r#"networks="10.0.1.1/24","fd00:1::1/64""#]);
    central.nbctl(&["lsp-set-addresses", "lsp1", "00:00:00:00:01:11 10.0.1.11 fd00:1::11"]);
    central.nbctl(&["lsp-set-addresses", "lsp4", "00:00:00:00:01:14 10.0.1.14 fd00:1::14"]);
    vif1.add_ipv6("fd00:1::11/64", Some("fd00:1::1"));
    vif4.add_ipv6("fd00:1::14/64", Some("fd00:1::1"));
    central.nbctl(&["lb-add", "lb6", "[fd00:30::1]:80", "[fd00:1::14]:8080", "tcp"]);
    central.nbctl(&["ls-lb-add", "ls1", "lb6"]);
    central.nbctl(&["lb-add", "lb1", "172.30.0.1:80", "10.0.1.14:8080", "tcp"]);
    central.nbctl(&["lb-add", "lb1", "172.30.0.2:80", "10.0.2.13:8080", "tcp"]);
    central.nbctl(&["ls-lb-add", "ls1", "lb1"]);
    deployment.wait_for("lsp4 to go up in NB", |central| port_up(central, "lsp4"));
    deployment.central.nbctl(&["--wait=hv", "sync"]);

    let mut servers = [vif4.serve_http(8080, "backend lsp4\n"), vif3.serve_http(8080, "backend lsp3\n")];
    let checks = [
        (&vif1, "172.30.0.1", "backend lsp4"),
        (&vif1, "172.30.0.2", "backend lsp3"),
        (&vif1, "[fd00:30::1]", "backend lsp4"),
        // Hairpin: the backend reaches its own VIP.
        (&vif4, "172.30.0.1", "backend lsp4"),
    ];
    let checks = checks.map(|(client, vip, want)| (client, format!("http://{vip}/"), want));
    deployment.wait_for_answers(&mut servers, &checks, "through a VIP");
    // The backend itself, not through the VIP, answers too.
    assert_eq!(http_answer(&vif1, "http://10.0.1.14:8080/", "backend lsp4"), Ok(()));
}

/// Ok once `client` gets `want` (trimmed) from `url`.
fn http_answer(client: &Vif, url: &str, want: &str) -> Result<(), String> {
    let body = client.http_get(url)?;
    if body.trim() == want {
        Ok(())
    } else {
        Err(format!("{url} answered {body:?}"))
    }
}

#[test]
fn reference_northd_forwards_packets() {
    forwards_packets(&require_tool("ovn-northd"));
}

/// The native DHCP and DNS services, on one switch with a router port: ls1
/// (10.0.1.0/24) and lr1 (10.0.1.1) as in [`TOPOLOGY`], lsp1 asking for its
/// address with DHCPv4 (a `DHCP_Options` row whose server is the router
/// port), lsp2 configured statically, and DNS records on ls1.
const SERVICES: &[&[&str]] = &[
    &["ls-add", "ls1", "--", "lr-add", "lr1"],
    &["lsp-add", "ls1", "lsp1", "--", "lsp-set-addresses", "lsp1", "00:00:00:00:01:11 10.0.1.11"],
    &["lsp-add", "ls1", "lsp2", "--", "lsp-set-addresses", "lsp2", "00:00:00:00:01:12 10.0.1.12"],
    &["lrp-add", "lr1", "lr1-ls1", "00:00:00:00:ff:01", "10.0.1.1/24"],
    &["lsp-add", "ls1", "ls1-lr1", "--", "lsp-set-type", "ls1-lr1", "router"],
    &["lsp-set-addresses", "ls1-lr1", "router", "--", "lsp-set-options", "ls1-lr1", "router-port=lr1-ls1"],
    &[
        "--id=@dhcp",
        "create",
        "DHCP_Options",
        "cidr=10.0.1.0/24",
        "options:server_id=10.0.1.1",
        "options:server_mac=00:00:00:00:ff:01",
        "options:lease_time=3600",
        "options:router=10.0.1.1",
        "options:dns_server=10.0.1.1",
        r#"options:domain_name="\"ovn.example\"""#,
        "--",
        "set",
        "Logical_Switch_Port",
        "lsp1",
        "dhcpv4_options=@dhcp",
    ],
    &[
        "--id=@dns",
        "create",
        "DNS",
        r#"records:"vm1.ovn.example"="10.0.1.11 fd00::11""#,
        r#"records:"vm2.ovn.example"="10.0.1.12""#,
        "--",
        "add",
        "Logical_Switch",
        "ls1",
        "dns_records",
        "@dns",
    ],
];

/// Builds [`SERVICES`] with `northd` as its only northd: lsp1's VIF
/// without an address, lsp2's with its own; returns once both ports are up
/// and every chassis has caught up.
fn services(northd: &Path) -> (Deployment, Vif, Vif) {
    let central = Central::start(northd);
    for command in SERVICES {
        central.nbctl(command);
    }
    let chassis = Chassis::start("hv1", &central.sb_remote());
    let client = chassis.add_unnumbered_vif("vif1", "lsp1", "00:00:00:00:01:11");
    let vif2 = chassis.add_vif("vif2", "lsp2", "00:00:00:00:01:12", "10.0.1.12/24", Some("10.0.1.1"));
    let mut deployment = Deployment { central, chassis };
    for port in ["lsp1", "lsp2"] {
        deployment.wait_for(&format!("{port} to go up in NB"), |central| port_up(central, port));
    }
    deployment.central.nbctl(&["--wait=hv", "sync"]);
    (deployment, client, vif2)
}

/// Runs busybox `udhcpc` once on `vif` (at most three DISCOVERs a second
/// apart, then it gives up) with a script that prints what it was given;
/// Ok with the `bound` event's line once a lease is obtained.
fn dhcp_lease(vif: &Vif, script: &Path) -> Result<String, String> {
    let script = script.to_str().expect("a UTF-8 path");
    let out =
        vif.try_run("busybox", &["udhcpc", "-i", vif.name(), "-f", "-q", "-n", "-t", "3", "-T", "1", "-s", script])?;
    out.lines().find(|l| l.starts_with("bound ")).map(str::to_owned).ok_or_else(|| format!("no lease in {out:?}"))
}

/// Runs busybox `nslookup` once on `vif` for `name` (record `kind`) against
/// `server`; Ok with its output when it lists `address` as the answer.
fn dns_answer(vif: &Vif, kind: &str, name: &str, server: &str, address: &str) -> Result<(), String> {
    let out = vif.try_run("busybox", &["nslookup", &format!("-type={kind}"), name, server])?;
    let answer = out.split_once(&format!("Name:\t{name}")).map(|(_, a)| a).unwrap_or_default();
    if answer.lines().any(|l| l.trim() == format!("Address: {address}")) {
        Ok(())
    } else {
        Err(format!("no {kind} answer {address} for {name} in {out:?}"))
    }
}

/// Checks that a port with `dhcpv4_options` gets its own address, mask,
/// router, DNS server, domain and lease time from ovn-controller's DHCP
/// responder, as the flows of `northd` tell it to.
fn serves_dhcpv4(northd: &Path) {
    let (mut deployment, client, _) = services(northd);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let script = dir.path().join("udhcpc.script");
    std::fs::write(
        &script,
        "#!/bin/sh\necho \"$1 ip=$ip subnet=$subnet router=$router dns=$dns domain=$domain lease=$lease\"\n",
    )
    .expect("cannot write the udhcpc script");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("cannot make the udhcpc script executable");
    let mut lease = String::new();
    deployment.wait_for("a DHCPv4 lease for lsp1", |_| {
        lease = dhcp_lease(&client, &script)?;
        Ok(())
    });
    assert_eq!(
        lease,
        "bound ip=10.0.1.11 subnet=255.255.255.0 router=10.0.1.1 dns=10.0.1.1 domain=ovn.example lease=3600"
    );
}

/// Checks that a DNS query from a port of a switch with DNS records is
/// answered from them by ovn-controller (A and AAAA), as the flows of
/// `northd` tell it to, and that a name the records lack gets no address.
fn serves_dns(northd: &Path) {
    let (mut deployment, _, vif2) = services(northd);
    deployment.wait_for("an A answer for vm1.ovn.example", |_| {
        dns_answer(&vif2, "a", "vm1.ovn.example", "10.0.1.1", "10.0.1.11")
    });
    deployment.wait_for("an AAAA answer for vm1.ovn.example", |_| {
        dns_answer(&vif2, "aaaa", "vm1.ovn.example", "10.0.1.1", "fd00::11")
    });
    let unknown = dns_answer(&vif2, "a", "nobody.ovn.example", "10.0.1.1", "10.0.1.11");
    assert!(unknown.is_err(), "a name without a record got an answer");
}

#[test]
fn ovn_northd_rs_serves_dhcpv4() {
    serves_dhcpv4(Path::new(env!("CARGO_BIN_EXE_ovn-northd-rs")));
}

#[test]
fn ovn_northd_rs_serves_dns() {
    serves_dns(Path::new(env!("CARGO_BIN_EXE_ovn-northd-rs")));
}

/// The same checks with the reference alone: a failure there is the
/// harness's or the machine's, not the compiler's.
#[test]
fn reference_northd_serves_dhcpv4_and_dns() {
    let reference = require_tool("ovn-northd");
    serves_dhcpv4(&reference);
    serves_dns(&reference);
}

/// NAT between an inside switch and an external network, for
/// [`nat_packets`]: lsp1 (10.0.1.11) and lsp2 (10.0.1.12) on `inside`
/// behind the router lr1 (10.0.1.1, and 172.16.0.1 on `outside`), whose
/// localnet port `outside-localnet` reaches the physical network `physnet`
/// where the external host (172.16.0.100) lives. The inside subnet leaves
/// through SNAT to 172.16.0.201; lsp1 is reachable at 172.16.0.203
/// (`dnat`); lsp2 has the floating IP 172.16.0.202 (`dnat_and_snat`). How
/// lr1 reaches `outside` is the [`Gateway`]'s part.
const NAT_TOPOLOGY: &[&[&str]] = &[
    &["ls-add", "inside", "--", "ls-add", "outside", "--", "lr-add", "lr1"],
    &["lsp-add", "inside", "lsp1", "--", "lsp-set-addresses", "lsp1", "00:00:00:00:01:11 10.0.1.11"],
    &["lsp-add", "inside", "lsp2", "--", "lsp-set-addresses", "lsp2", "00:00:00:00:01:12 10.0.1.12"],
    &["lrp-add", "lr1", "lr1-inside", "00:00:00:00:ff:01", "10.0.1.1/24"],
    &["lsp-add", "inside", "inside-lr1", "--", "lsp-set-type", "inside-lr1", "router"],
    &["lsp-set-addresses", "inside-lr1", "router", "--", "lsp-set-options", "inside-lr1", "router-port=lr1-inside"],
    &["lrp-add", "lr1", "lr1-outside", "00:00:00:00:ff:02", "172.16.0.1/24"],
    &["lsp-add", "outside", "outside-lr1", "--", "lsp-set-type", "outside-lr1", "router"],
    &["lsp-set-addresses", "outside-lr1", "router", "--", "lsp-set-options", "outside-lr1", "router-port=lr1-outside"],
    &["lsp-add", "outside", "outside-localnet", "--", "lsp-set-type", "outside-localnet", "localnet"],
    &["lsp-set-addresses", "outside-localnet", "unknown"],
    &["lsp-set-options", "outside-localnet", "network_name=physnet"],
    &["lr-nat-add", "lr1", "snat", "172.16.0.201", "10.0.1.0/24"],
    &["lr-nat-add", "lr1", "dnat", "172.16.0.203", "10.0.1.11"],
];

/// How lr1 of [`NAT_TOPOLOGY`] reaches the external network.
#[derive(Clone, Copy, Debug)]
enum Gateway {
    /// lr1 is a gateway router bound to the chassis (`options:chassis`),
    /// with a centralized floating IP.
    Router,
    /// lr1 is distributed and its port on `outside` is a distributed
    /// gateway port (`lrp-set-gateway-chassis`) on the chassis; the floating
    /// IP is distributed (its logical port and external MAC given), as
    /// OpenStack's are.
    DistributedPort,
}

impl Gateway {
    /// The MAC address that answers for the floating IP outside: the
    /// router port's, or the external MAC of a distributed floating IP.
    fn floating_ip_mac(self) -> &'static str {
        match self {
            Gateway::Router => "00:00:00:00:ff:02",
            Gateway::DistributedPort => "00:00:00:00:10:ca",
        }
    }

    /// The NB commands that make lr1 this kind of gateway, with lsp2's
    /// floating IP.
    fn commands(self) -> &'static [&'static [&'static str]] {
        match self {
            Gateway::Router => &[
                &["set", "Logical_Router", "lr1", "options:chassis=hv1"],
                &["lr-nat-add", "lr1", "dnat_and_snat", "172.16.0.202", "10.0.1.12"],
            ],
            Gateway::DistributedPort => &[
                &["lrp-set-gateway-chassis", "lr1-outside", "hv1", "20"],
                &["lr-nat-add", "lr1", "dnat_and_snat", "172.16.0.202", "10.0.1.12", "lsp2", "00:00:00:00:10:ca"],
            ],
        }
    }
}

/// Builds [`NAT_TOPOLOGY`] with `gateway` and `northd` as its only northd,
/// the external network as an OVS bridge of the chassis (`br-ex`, mapped to
/// `physnet`) with the external host on it, and checks with packets: the
/// external host answers lr1's outside address across the localnet port;
/// lsp1 reaches it (ping, HTTP) and is seen as the SNAT address; HTTP to
/// the floating IP reaches lsp2's server, and lsp2 is seen as its floating
/// IP; HTTP to the DNAT address reaches lsp1's server; lsp1 reaches lsp2
/// through the floating IP too (hairpin on lr1); the external host learned each NAT address at the MAC that should
/// answer for it; the SNAT address alone lets no connection in. The
/// external host has no route to the inside subnet: whatever comes back to
/// a VIF came through NAT. Returns the deployment.
fn nat_packets(northd: &Path, gateway: Gateway) -> Deployment {
    let central = Central::start(northd);
    for command in NAT_TOPOLOGY.iter().chain(gateway.commands()) {
        central.nbctl(command);
    }
    let chassis = Chassis::start("hv1", &central.sb_remote());
    chassis.add_provider_bridge("physnet", "br-ex");
    let vif1 = chassis.add_vif("vif1", "lsp1", "00:00:00:00:01:11", "10.0.1.11/24", Some("10.0.1.1"));
    let vif2 = chassis.add_vif("vif2", "lsp2", "00:00:00:00:01:12", "10.0.1.12/24", Some("10.0.1.1"));
    let external = chassis.add_host("br-ex", "ext", "00:00:00:00:10:64", "172.16.0.100/24", None);
    let mut deployment = Deployment { central, chassis };
    for port in ["lsp1", "lsp2"] {
        deployment.wait_for(&format!("{port} to go up in NB"), |central| port_up(central, port));
    }
    deployment.central.nbctl(&["--wait=hv", "sync"]);

    deployment.wait_for_ping(&external, "172.16.0.1");
    deployment.wait_for_ping(&vif1, "172.16.0.100");
    let mut servers = [
        external.serve_client_address(8080),
        vif1.serve_http(8080, "inside lsp1\n"),
        vif2.serve_http(8080, "inside lsp2\n"),
    ];
    let whoami = "http://172.16.0.100:8080/cgi-bin/client";
    let checks = [
        (&vif1, whoami, "172.16.0.201"),
        (&external, "http://172.16.0.202:8080/", "inside lsp2"),
        (&vif2, whoami, "172.16.0.202"),
        (&external, "http://172.16.0.203:8080/", "inside lsp1"),
        (&vif1, "http://172.16.0.202:8080/", "inside lsp2"),
    ];
    let checks = checks.map(|(client, url, want)| (client, url.to_string(), want));
    deployment.wait_for_answers(&mut servers, &checks, &format!("{gateway:?}"));
    // Who answered ARP for each NAT address, as the external host learned.
    for (ip, mac) in [("172.16.0.201", "00:00:00:00:ff:02"), ("172.16.0.202", gateway.floating_ip_mac())] {
        let neighbor = external.try_run("ip", &["neigh", "show", ip, "dev", external.name()]);
        let learned = neighbor.as_deref().map(|n| n.contains(&format!(" lladdr {mac} "))).unwrap_or(false);
        assert!(learned, "the external host has {ip} at {mac} ({gateway:?}): {neighbor:?}");
    }
    // SNAT only: no way in for a new connection.
    let snat_in = http_answer(&external, "http://172.16.0.201:8080/", "inside lsp1");
    assert!(snat_in.is_err(), "a connection to the SNAT address reached lsp1 ({gateway:?})");
    deployment
}

/// The reference alone, then taking over from itself: a failure is the
/// harness's or the machine's, and the takeover that the `ovn_northd_rs_`
/// variants end with is stable on this deployment (the chassis's own SB
/// writes included) when the northd before was right.
#[test]
fn reference_northd_nats_through_a_gateway_router() {
    let mut deployment = nat_packets(&require_tool("ovn-northd"), Gateway::Router);
    reference_takes_over(&mut deployment);
}

/// Like [`reference_northd_nats_through_a_gateway_router`].
#[test]
fn reference_northd_nats_through_a_distributed_gateway_port() {
    let mut deployment = nat_packets(&require_tool("ovn-northd"), Gateway::DistributedPort);
    reference_takes_over(&mut deployment);
}

/// NAT with packets through a gateway router, our daemon alone (see
/// [`nat_packets`]); then the reference takes over and writes nothing.
#[test]
fn ovn_northd_rs_nats_through_a_gateway_router() {
    let mut deployment = nat_packets(Path::new(env!("CARGO_BIN_EXE_ovn-northd-rs")), Gateway::Router);
    reference_takes_over(&mut deployment);
}

/// NAT with packets through a distributed gateway port and a distributed
/// floating IP, our daemon alone; then the reference takes over and writes
/// nothing.
#[test]
fn ovn_northd_rs_nats_through_a_distributed_gateway_port() {
    let mut deployment = nat_packets(Path::new(env!("CARGO_BIN_EXE_ovn-northd-rs")), Gateway::DistributedPort);
    reference_takes_over(&mut deployment);
}
