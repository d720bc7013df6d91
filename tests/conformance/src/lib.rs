//! The conformance suite: scenario files of `ovn-nbctl` commands applied to
//! the reference `ovn-northd` (and, once it exists, to ours); the SB each
//! one writes is read with our OVSDB client, normalized, and compared.
//!
//! Module map:
//! - `scenario`: parses `.nbctl` scenario files (pure).
//! - `run`: starts ovsdb-servers, applies a scenario with the real
//!   `ovn-nbctl` / `ovn-sbctl`, runs the reference northd, dumps NB and SB.
//! - `normalize`: the SB as sorted lines free of UUIDs, tunnel keys and
//!   random values, and the diff of two such texts (pure).
//! - `trace`: `.traces` files of microflows, run with the real `ovn-trace`
//!   against a run's SB, normalized and compared line for line.
//! - `floors`: the lowest score each scenario not in `EXACT` may have
//!   (`floors.txt`), checked by the tests and rewritten by
//!   `scripts/conformance --record-floors` (pure but for reading the file).

pub mod floors;
pub mod normalize;
pub mod run;
pub mod scenario;
pub mod trace;

use std::path::{Path, PathBuf};

/// Scenarios our translation must reproduce exactly (all tables, all
/// flows); the test suite fails if one of them differs from the reference.
pub const EXACT: &[&str] = &[
    "01-l2-basic",
    "02-port-security",
    "03-localnet",
    "05-router-two-switches",
    "06-static-routes",
    "07-ipv6-router",
    "10-ipam-dynamic",
    "12-acl-basic",
    "13-acl-port-groups",
    "15-acl-stateless-after-lb",
    "16-lb-switch",
    "18-nat-gateway-router",
    "19-distributed-gw-port",
    "20-dhcpv4",
    "22-dns",
    "24-nat-advanced",
    "25-ecmp-routes",
    "26-router-policies",
    "27-igmp-multicast",
    "29-virtual-ports",
    "30-external-ha-chassis",
    "32-lb-group",
    "34-fdb-static-mac",
    "36-mirror",
    "37-nat-edge",
    "38-nat-arp-responders",
    "39-nat-switch-side",
    "40-switch-port-kinds",
    "41-switch-router-ports",
    "42-switch-mcast-snoop",
    "43-switch-fwd-group-arp-proxy",
    "44-switch-lb-health-check",
    "45-router-options",
    "46-router-topologies",
    "47-router-gateway-ports",
    "48-router-edge-cases",
    "49-router-dgp-vtep",
    "50-ipam-edge",
    "51-gateway-bindings",
    "52-port-types",
    "53-mcast-groups",
    "54-ipv6-ra-options",
    "55-bfd-routes",
    "56-bfd-edge",
    "57-gateway-mtu",
    "58-router-neighbor-learning",
    "59-igmp-learned",
    "60-switch-debug-drop",
    "61-switch-gateway-macs",
    "62-switch-edge-cases",
    "63-switch-disabled-parts",
    "64-router-lb",
    "65-router-lb-edge",
    "66-router-lb-router-ip",
    "67-router-lb-gateway",
    "68-router-lb-gateway-snat-ip",
    "69-router-lb-dgp",
    "70-router-debug-drop",
    "71-router-redirect-arp",
    "72-router-ecmp-groups",
    "73-external-ha-group",
    "74-switch-lb-options",
    "75-switch-lb-groups-health",
    "76-switch-lb-malformed",
    "77-switch-lb-copp",
    "78-nat-gateway-router-edge",
    "79-nat-two-dgps",
    "80-acl-edge-cases",
    "81-acl-default-drop",
    "82-acl-log-meters",
    "83-acl-debug-drop-ct-label",
    "84-acl-ct-features",
    "85-dhcpv4-options",
    "86-dhcpv6",
    "87-dhcp-malformed",
    "88-dns-records",
    "89-dhcp-dns-router",
    "90-qos-switch",
    "91-qos-edge",
    "92-meters",
    "93-meter-edge",
    "94-copp-switch",
    "95-copp-router",
    "96-qos-queues",
    "97-copp-acl-services",
    "98-router-port-bad-networks",
    "99-bad-values",
];

/// Where the blessed normalized dumps of the reference live.
pub fn expected_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("expected")
}

/// Runs `check` on every scenario, two at a time, and returns the results
/// sorted by scenario name: the lines to print (`Ok`) and the failures
/// (`Err`, each prefixed with the scenario's name).
pub fn check_all<S: std::borrow::Borrow<scenario::Scenario> + Sync>(
    scenarios: &[S],
    check: impl Fn(&scenario::Scenario) -> Result<String, String> + Sync,
) -> (Vec<String>, Vec<String>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(sc) = scenarios.get(i) else { break };
                let sc = sc.borrow();
                let r = check(sc);
                results.lock().unwrap_or_else(|e| e.into_inner()).push((sc.name.clone(), r));
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results.sort_by(|a, b| a.0.cmp(&b.0));
    let (mut lines, mut failures) = (Vec::new(), Vec::new());
    for (name, r) in results {
        match r {
            Ok(line) => lines.push(line),
            Err(e) => failures.push(format!("--- {name}: {e}")),
        }
    }
    (lines, failures)
}
