//! `ovsdb-rs` against real servers, compared with the real `ovsdb-client`.

use testsupport as support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

use serde_json::Value;
use support::OvsdbServer;

const WAIT: Duration = Duration::from_secs(60);

fn ovsdb_rs(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ovsdb-rs"))
        .args(["--timeout", "60"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(args: &[&str]) -> String {
    let (code, out, err) = ovsdb_rs(args);
    assert_eq!(code, 0, "ovsdb-rs {args:?} failed: {err}");
    out
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"))).collect()
}

/// A Northbound database with rows of many column types: scalars,
/// optional values, sets, maps, integers with ranges, strong and weak
/// references, through the real ovn-nbctl.
fn populated_nb() -> OvsdbServer {
    let server = OvsdbServer::start("ovn-nb.ovsschema");
    let db = format!("--db={}", server.remote());
    let nbctl = |args: &[&str]| {
        let out = Command::new(support::require_tool("ovn-nbctl")).arg(&db).args(args).output().unwrap();
        assert!(out.status.success(), "ovn-nbctl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    nbctl(&["init"]);
    for (sw, n) in [("sw0", 3), ("sw1", 2), ("empty", 0)] {
        nbctl(&["ls-add", sw]);
        for i in 0..n {
            let port = format!("{sw}-p{i}");
            nbctl(&["lsp-add", sw, &port]);
            nbctl(&["lsp-set-addresses", &port, &format!("0a:00:00:00:0{i}:01 10.0.{i}.1"), "unknown"]);
        }
    }
    nbctl(&["set", "logical_switch_port", "sw0-p0", "tag_request=42", "external_ids:owner=test", "enabled=true"]);
    nbctl(&["lr-add", "lr0"]);
    nbctl(&["lrp-add", "lr0", "lrp0", "0a:00:00:00:ff:01", "10.0.0.254/24", "fd00::1/64"]);
    nbctl(&["lr-route-add", "lr0", "0.0.0.0/0", "10.0.0.1"]);
    nbctl(&["acl-add", "sw0", "from-lport", "1001", "ip4 && tcp.dst == 22", "drop"]);
    nbctl(&["lb-add", "lb0", "10.1.0.1:80", "10.0.0.2:8080,10.0.0.3:8080", "tcp"]);
    nbctl(&["ls-lb-add", "sw1", "lb0"]);
    server
}

#[test]
fn dump_prints_what_ovsdb_client_prints() {
    let server = populated_nb();
    let remote = server.remote();
    let compare = |ours: Vec<Value>, theirs: Vec<Value>| {
        assert_eq!(ours.len(), theirs.len());
        for (a, b) in ours.iter().zip(&theirs) {
            assert_eq!(a, b, "\nours:   {a}\ntheirs: {b}");
        }
    };
    // The whole database.
    let ours = json_lines(&ok(&["dump", &remote, "OVN_Northbound"]));
    assert_eq!(ours.len(), 30);
    compare(ours, json_lines(&support::run_ovsdb_client(&["dump", "--format=json", &remote, "OVN_Northbound"])));
    // Some tables (ovsdb-client takes one table at a time; ours prints them sorted by name).
    let tables = ["Logical_Switch_Port", "Logical_Switch", "ACL"];
    let mut args = vec!["dump", remote.as_str(), "OVN_Northbound"];
    args.extend(tables);
    let ours = json_lines(&ok(&args));
    let mut sorted = tables;
    sorted.sort();
    let theirs = sorted
        .iter()
        .flat_map(|t| json_lines(&support::run_ovsdb_client(&["dump", "--format=json", &remote, "OVN_Northbound", t])))
        .collect();
    compare(ours, theirs);
}

#[test]
fn list_dbs_get_schema_and_list_tables_match_ovsdb_client() {
    let server = OvsdbServer::start("ovn-sb.ovsschema");
    let remote = server.remote();
    let sorted = |s: &str| {
        let mut v: Vec<String> = s.lines().map(str::to_owned).collect();
        v.sort();
        v
    };
    assert_eq!(sorted(&ok(&["list-dbs", &remote])), sorted(&support::run_ovsdb_client(&["list-dbs", &remote])));
    let ours: Value = serde_json::from_str(&ok(&["get-schema", &remote, "OVN_Southbound"])).unwrap();
    let theirs: Value =
        serde_json::from_str(&support::run_ovsdb_client(&["get-schema", &remote, "OVN_Southbound"])).unwrap();
    assert_eq!(ours, theirs);
    // Both print a "Table" heading and a rule, then one name per line.
    let names = |s: &str| sorted(&s.lines().skip(2).collect::<Vec<_>>().join("\n"));
    let tables = ok(&["list-tables", &remote, "OVN_Southbound"]);
    let real = support::run_ovsdb_client(&["list-tables", &remote, "OVN_Southbound"]);
    assert_eq!(tables.lines().next(), Some("Table"));
    assert_eq!(names(&tables), names(&real));
    assert_eq!(names(&tables).len(), 34);
}

#[test]
fn transact_prints_the_results_and_exit_codes_say_what_failed() {
    let server = OvsdbServer::start("ovn-nb.ovsschema");
    let remote = server.remote();
    let insert = r#"["OVN_Northbound",{"op":"insert","table":"Logical_Switch","row":{"name":"a"},"uuid-name":"x"},
                   {"op":"select","table":"Logical_Switch","where":[["_uuid","==",["named-uuid","x"]]],"columns":["name"]}]"#;
    let out: Value = serde_json::from_str(&ok(&["transact", &remote, insert])).unwrap();
    assert_eq!(out[1], serde_json::json!({"rows": [{"name": "a"}]}));
    let select = r#"["OVN_Northbound",{"op":"select","table":"Logical_Switch","where":[],"columns":["name"]}]"#;
    let ours: Value = serde_json::from_str(&ok(&["transact", &remote, select])).unwrap();
    let theirs: Value = serde_json::from_str(&support::run_ovsdb_client(&["transact", &remote, select])).unwrap();
    assert_eq!(ours, theirs);

    // An operation error: 1, the results still printed, one line on stderr.
    let bad = r#"["OVN_Northbound",{"op":"insert","table":"NB_Global","row":{}},{"op":"insert","table":"NB_Global","row":{}}]"#;
    let (code, out, err) = ovsdb_rs(&["transact", &remote, bad]);
    assert_eq!(code, 1, "{err}");
    assert!(out.contains("error"), "{out}");
    assert!(err.contains("constraint violation") || err.contains("resources exhausted"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    // Usage and connection errors: 2.
    for (args, needle) in [
        (vec!["transact", remote.as_str(), "not json"], "not JSON"),
        (vec!["transact", "bogus:x", select], "unsupported remote"),
        (vec!["transact", "unix:/nonexistent/db.sock", select], "failed to connect"),
        (vec!["dump", "unix:/nonexistent/db.sock", "OVN_Northbound"], "failed to connect"),
    ] {
        let (code, _, err) = ovsdb_rs(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    let (code, _, err) = ovsdb_rs(&["dump", &remote, "No_Such_Db"]);
    assert_eq!(code, 1, "{err}");
}

/// A child process whose stdout lines arrive on a channel.
struct Lines {
    child: Child,
    rx: Receiver<String>,
}

impl Lines {
    fn spawn(args: &[&str]) -> Lines {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ovsdb-rs"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                if tx.send(line.unwrap()).is_err() {
                    break;
                }
            }
        });
        Lines { child, rx }
    }

    fn next(&self) -> String {
        self.rx.recv_timeout(WAIT).expect("a line in time")
    }

    fn none_within(&self, d: Duration) -> bool {
        self.rx.recv_timeout(d).is_err()
    }
}

impl Drop for Lines {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn actions(line: &str) -> Vec<(String, String)> {
    let v: Value = serde_json::from_str(line).unwrap();
    let name_col = v["headings"].as_array().unwrap().iter().position(|h| h == "name").unwrap();
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r[1].as_str().unwrap().to_owned(), r[name_col].as_str().unwrap_or("").to_owned()))
        .collect()
}

#[test]
fn monitor_prints_changes_and_carries_on_across_a_restart() {
    let mut server = OvsdbServer::start("ovn-nb.ovsschema");
    let remote = server.remote();
    server.transact(r#"["OVN_Northbound",{"op":"insert","table":"Logical_Switch","row":{"name":"a"}}]"#);
    let mon = Lines::spawn(&["monitor", &remote, "OVN_Northbound", "Logical_Switch"]);
    assert_eq!(actions(&mon.next()), [("initial".to_string(), "a".to_string())]);
    server.transact(
        r#"["OVN_Northbound",{"op":"update","table":"Logical_Switch","where":[["name","==","a"]],"row":{"name":"b"}}]"#,
    );
    assert_eq!(actions(&mon.next()), [("old".into(), "a".into()), ("new".into(), "b".into())]);
    server.restart();
    server.transact(r#"["OVN_Northbound",{"op":"insert","table":"Logical_Switch","row":{"name":"c"}}]"#);
    assert_eq!(actions(&mon.next()), [("insert".to_string(), "c".to_string())]);
    assert!(mon.none_within(Duration::from_millis(500)), "nothing else, in particular not \"b\" again");
}

#[test]
fn lock_contention_between_processes_and_steal() {
    let server = OvsdbServer::start("ovn-sb.ovsschema");
    let remote = server.remote();
    let first = Lines::spawn(&["lock", &remote, "ovn_northd"]);
    assert_eq!(first.next(), "locked");
    let mut second = Lines::spawn(&["lock", &remote, "ovn_northd"]);
    assert!(second.none_within(Duration::from_secs(1)), "two owners of one lock");
    // SIGKILL the owner: the waiting one gets the lock.
    drop(first);
    assert_eq!(second.next(), "locked");
    let thief = Lines::spawn(&["steal", &remote, "ovn_northd"]);
    assert_eq!(thief.next(), "locked");
    assert_eq!(second.next(), "stolen");
    second.child.kill().unwrap();
}
