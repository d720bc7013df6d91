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
//! What it must never do: leave processes, namespaces or interfaces behind
//! (the harness, `testsupport::ovn`, owns and kills everything, also on
//! failure), or wait without a bound. Needs root.

use std::path::Path;
use std::time::Duration;

use testsupport::ovn::{poll_ok, Central, Chassis, Unmet, Vif};
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
/// check; returns the deployment and one VIF of each switch.
fn forwards_packets(northd: &Path) -> (Deployment, Vif, Vif) {
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
    (deployment, vif1, vif3)
}

#[test]
fn ovn_northd_rs_forwards_packets() {
    let (mut deployment, vif1, vif3) = forwards_packets(Path::new(env!("CARGO_BIN_EXE_ovn-northd-rs")));

    // The reference takes over and writes nothing but the barrier.
    let central = &mut deployment.central;
    let (nb, sb) = (central.nb_snapshot(), central.sb_snapshot());
    central.replace_northd(&require_tool("ovn-northd"));
    central.nbctl(&["--wait=hv", "sync"]);
    let mut changes = nb.changes(&central.nb_snapshot(), BARRIER_COLUMNS);
    changes.extend(sb.changes(&central.sb_snapshot(), BARRIER_COLUMNS));
    assert!(
        changes.is_empty(),
        "the reference ovn-northd corrected what ours wrote:\n{}\n=== northd\n{}",
        changes.join("\n"),
        central.diagnostics()
    );
    deployment.wait_for_ping(&vif3, "10.0.1.11");
    deployment.wait_for_ping(&vif1, "10.0.2.13");
}

/// A load balancer on ls1, as Kubernetes puts services on node switches:
/// TCP connections from vif1 to two VIPs (off every subnet, so through the
/// router's MAC) reach the HTTP server behind the backend on the same
/// switch and, through the router, the one on ls2; an IPv6 VIP works
/// alike; a backend reaches its own VIP (hairpin). Our daemon is the only
/// northd.
#[test]
fn ovn_northd_rs_balances_tcp_to_a_switch_vip() {
    let (mut deployment, vif1, vif3) = forwards_packets(Path::new(env!("CARGO_BIN_EXE_ovn-northd-rs")));
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
    for (client, vip, want) in checks {
        deployment.wait_for(&format!("{} to reach {want} through {vip}", client.name()), |_| {
            for server in &mut servers {
                server.check_alive()?;
            }
            http_answer(client, &format!("http://{vip}/"), want)
        });
    }
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
