//! Tests of the harness in `support/` against the real tools: that the
//! servers it starts answer, keep data across a restart, form a Raft cluster
//! that survives losing its leader, serve SSL to a client holding the right
//! certificates, and that no process outlives its harness. Also checks that
//! the vendored OVN schemas are the installed ones, so that a package upgrade
//! that changes a schema is noticed.

use testsupport as support;

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};
use support::{run_ovsdb_client, try_ovsdb_client, wait_until, Cluster, OvsdbServer, ServerOptions};

/// The value of `column` in the only row a one-`select` transaction returned.
fn only_row_column(result: &Value, column: &str) -> Value {
    let rows = result[0]["rows"].as_array().unwrap_or_else(|| panic!("no rows in {result}"));
    assert_eq!(rows.len(), 1, "expected one row in {result}");
    rows[0][column].clone()
}

#[test]
fn standalone_server_answers_list_dbs() {
    let server = OvsdbServer::start("ovn-nb.ovsschema");
    let dbs = server.ovsdb_client(&["list-dbs"]);
    assert_eq!(dbs.lines().collect::<Vec<_>>(), ["OVN_Northbound", "_Server"]);
}

#[test]
fn restart_after_sigkill_keeps_committed_rows() {
    let mut server = OvsdbServer::start("ovn-nb.ovsschema");
    let inserted =
        server.transact(r#"["OVN_Northbound",{"op":"insert","table":"Logical_Switch","row":{"name":"sw0"}}]"#);
    let uuid = inserted[0]["uuid"].clone();
    assert_eq!(uuid[0], "uuid", "insert result: {inserted}");

    server.kill();
    server.restart();

    let selected = server.transact(
        r#"["OVN_Northbound",{"op":"select","table":"Logical_Switch","where":[],"columns":["_uuid","name"]}]"#,
    );
    assert_eq!(only_row_column(&selected, "_uuid"), uuid);
    assert_eq!(only_row_column(&selected, "name"), "sw0");
}

#[test]
fn tcp_remote_keeps_its_port_across_restart() {
    let mut server = OvsdbServer::start_with(ServerOptions { tcp: true, ..ServerOptions::new("ovn-sb.ovsschema") });
    let remote = server.tcp_remote();
    assert!(run_ovsdb_client(&["list-dbs", &remote]).contains("OVN_Southbound"));

    server.restart();
    assert_eq!(server.tcp_remote(), remote);
    assert!(run_ovsdb_client(&["list-dbs", &remote]).contains("OVN_Southbound"));
}

#[test]
fn ssl_remote_serves_a_client_with_certificates_from_the_ca() {
    // TCP too, so that each remote must get its own port right: plain TCP on
    // the SSL port (or the reverse) would fail below.
    let server =
        OvsdbServer::start_with(ServerOptions { tcp: true, ssl: true, ..ServerOptions::new("ovn-nb.ovsschema") });
    assert!(run_ovsdb_client(&["list-dbs", &server.tcp_remote()]).contains("OVN_Northbound"));
    let pki = server.pki();
    let remote = server.ssl_remote();
    let arg = |path: &Path| path.to_str().expect("temporary paths are UTF-8").to_owned();
    let (key, cert, ca) = (arg(&pki.client_key), arg(&pki.client_cert), arg(&pki.ca_cert));

    let dbs = run_ovsdb_client(&["-p", &key, "-c", &cert, "-C", &ca, "list-dbs", &remote]);
    assert_eq!(dbs.lines().collect::<Vec<_>>(), ["OVN_Northbound", "_Server"]);

    // A client that does not trust the server's CA must be refused, or the
    // test above would prove nothing about certificates.
    let refused = try_ovsdb_client(&["-p", &key, "-c", &cert, "-C", &cert, "list-dbs", &remote]);
    assert!(refused.is_err(), "a client trusting the wrong CA connected: {refused:?}");
}

#[test]
fn dropping_the_server_kills_its_process() {
    let server = OvsdbServer::start("ovn-nb.ovsschema");
    let proc_dir = format!("/proc/{}", server.pid());
    assert!(Path::new(&proc_dir).exists());
    drop(server);
    // Drop reaps the child, so its /proc entry is gone at once.
    assert!(!Path::new(&proc_dir).exists(), "{proc_dir} survived the drop");
}

#[test]
fn cluster_elects_a_new_leader_when_the_leader_is_killed() {
    let mut cluster = Cluster::start("ovn-sb.ovsschema", 3);
    let first = cluster.wait_for_leader();

    // ovsdb-client picks the leader out of the comma-separated list.
    let remotes = cluster.remotes();
    let insert = r#"["OVN_Southbound",{"op":"insert","table":"SB_Global","row":{"nb_cfg":1}}]"#;
    let inserted: Value = serde_json::from_str(&run_ovsdb_client(&["transact", &remotes, insert])).unwrap();
    let uuid = inserted[0]["uuid"].clone();
    assert_eq!(uuid[0], "uuid", "insert result: {inserted}");

    cluster.kill(first);
    let second = cluster.wait_for_leader();
    assert_ne!(second, first);

    let select = r#"["OVN_Southbound",{"op":"select","table":"SB_Global","where":[],"columns":["_uuid","nb_cfg"]}]"#;
    let selected: Value = serde_json::from_str(&run_ovsdb_client(&["transact", &remotes, select])).unwrap();
    assert_eq!(only_row_column(&selected, "_uuid"), uuid);

    // A write while the old leader is down reaches it once it is back.
    let update = r#"["OVN_Southbound",{"op":"update","table":"SB_Global","where":[],"row":{"nb_cfg":2}}]"#;
    let updated: Value = serde_json::from_str(&run_ovsdb_client(&["transact", &remotes, update])).unwrap();
    assert_eq!(updated, json!([{"count": 1}]));
    cluster.restart(first);
    let old_leader = cluster.remote(first);
    wait_until("the restarted server to catch up", Duration::from_secs(60), || {
        try_ovsdb_client(&["--no-leader-only", "transact", &old_leader, select])
            .ok()
            .and_then(|out| serde_json::from_str::<Value>(&out).ok())
            .is_some_and(|result| result[0]["rows"][0]["nb_cfg"] == 2)
    });
}

#[test]
fn single_server_cluster_is_its_own_leader() {
    let cluster = Cluster::start("ovn-nb.ovsschema", 1);
    assert_eq!(cluster.wait_for_leader(), 0);
    // With one server leadership cannot move, so the snapshot is stable.
    assert_eq!(cluster.leader(), 0);
    assert_eq!(cluster.remotes(), cluster.remote(0));
    let dbs = run_ovsdb_client(&["list-dbs", &cluster.remotes()]);
    assert_eq!(dbs.lines().collect::<Vec<_>>(), ["OVN_Northbound", "_Server"]);
}

#[test]
fn wait_until_names_what_timed_out() {
    let waited =
        std::panic::catch_unwind(|| wait_until("a condition that never holds", Duration::from_millis(50), || false));
    let message = waited.expect_err("wait_until returned on a false condition");
    let message = message.downcast_ref::<String>().expect("a formatted panic message");
    assert!(message.contains("a condition that never holds"), "{message}");
}

#[test]
fn vendored_ovn_schemas_are_the_installed_ones() {
    for name in ["ovn-nb.ovsschema", "ovn-sb.ovsschema"] {
        let installed = Path::new("/usr/share/ovn").join(name);
        let installed = std::fs::read(&installed).unwrap_or_else(|err| {
            panic!("{}: {err}: ovn-central is not installed: run scripts/test, which installs it", installed.display())
        });
        let vendored = std::fs::read(support::schema_path(name)).expect("cannot read the vendored schema");
        assert!(
            vendored == installed,
            "schemas/{name} differs from /usr/share/ovn/{name}: the OVN package changed; \
             copy the new file and update schemas/README.md"
        );
    }
}
