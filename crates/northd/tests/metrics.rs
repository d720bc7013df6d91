//! `--metrics-address` against real NB and SB ovsdb-servers: the counters,
//! the `nb_cfg` lag and the role move as the daemon works; a standby and a
//! paused instance say so; without the flag nothing listens; and slow,
//! idle or garbage-sending clients of the metrics port do not disturb the
//! daemon.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{assert_translated, ours, Dbs};
use testsupport::northd::Northd;
use testsupport::wait_until;

const BOUND: Duration = Duration::from_secs(60);

/// How long the listener gives a client (`metrics::http::TIMEOUT`), and
/// how many it serves at once (`metrics::http::MAX_CONNECTIONS`).
const CLIENT_TIMEOUT: Duration = northd::metrics::http::TIMEOUT;
const MAX_CONNECTIONS: usize = northd::metrics::http::MAX_CONNECTIONS;

/// Starts our daemon with `--metrics-address=127.0.0.1:0`; it and the
/// address it logged.
fn start_with_metrics(dbs: &Dbs, extra: &[&str]) -> (Northd, String) {
    let mut args = vec!["--metrics-address=127.0.0.1:0"];
    args.extend_from_slice(extra);
    let mut d = Northd::start(ours(), &dbs.nb_remote(), &dbs.sb_remote(), &args);
    let line = regex::Regex::new(r"serving metrics over http address=(\S+)").unwrap();
    let mut address = None;
    wait_until("the metrics address in the log", BOUND, || {
        d.check_alive();
        address = line.captures(&d.log()).map(|c| c[1].to_owned());
        address.is_some()
    });
    (d, address.unwrap())
}

/// Sends `request` and reads the answer until the server closes.
fn exchange(address: &str, request: &[u8]) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(BOUND))?;
    stream.write_all(request)?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

/// `GET /metrics`: the body of a 200 answer.
fn scrape(address: &str) -> String {
    let answer = exchange(address, b"GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n").expect("scrape");
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no head: {answer:?}"));
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    body.to_owned()
}

/// The value of `series` (a name with its labels) in a scrape.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Like [`value`]; panics with the scrape if the series is missing.
fn get(text: &str, series: &str) -> f64 {
    value(text, series).unwrap_or_else(|| panic!("no {series} in:\n{text}"))
}

const RECOMPUTES: &str = r#"ovn_northd_node_runs_total{node="northd",kind="recompute"}"#;
const COMPUTES: &str = r#"ovn_northd_node_runs_total{node="northd",kind="compute"}"#;
const SB_COMMITTED: &str = r#"ovn_northd_transactions_total{db="OVN_Southbound",result="committed"}"#;
const FLOWS_INSERTED: &str = r#"ovn_northd_sb_rows_total{table="Logical_Flow",op="inserted"}"#;
const LAGS: &str = "ovn_northd_cfg_lag_seconds_count";

/// The TCP ports process `pid` listens on (its sockets found in
/// `/proc/net/tcp` and `tcp6` in the LISTEN state), one per socket: the
/// kernel may list a socket twice when its table changes while it is
/// read (other tests open sockets meanwhile).
fn listening_ports(pid: u32) -> Vec<u16> {
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("the daemon's fds")
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|target| {
            let t = target.to_string_lossy();
            Some(t.strip_prefix("socket:[")?.strip_suffix(']')?.to_owned())
        })
        .collect();
    let mut ports = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        for line in std::fs::read_to_string(table).unwrap_or_default().lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state), Some(inode)) = (fields.get(1), fields.get(3), fields.get(9)) else {
                continue;
            };
            if *state == "0A" && inodes.iter().any(|i| i == inode) && seen.insert(inode.to_string()) {
                let port = local.rsplit(':').next().and_then(|p| u16::from_str_radix(p, 16).ok());
                ports.extend(port);
            }
        }
    }
    ports
}

#[test]
fn metrics_follow_cycles_the_cfg_lag_and_the_role() {
    let dbs = Dbs::standalone();
    let (mut a, address) = start_with_metrics(&dbs, &[]);
    a.wait_status("active");
    let port: u16 = address.rsplit(':').next().unwrap().parse().unwrap();
    assert_eq!(listening_ports(a.pid()), [port], "the metrics port, and no other");
    let before = scrape(&address);
    assert_eq!(get(&before, "ovn_northd_active"), 1.0, "{before}");
    dbs.nbctl(&["--wait=sb", "ls-add", "sw0", "--", "lsp-add", "sw0", "p0"]);
    // --wait=sb returned once NB_Global.sb_cfg moved; the daemon sees it
    // through its monitor right after.
    let mut after = String::new();
    wait_until("the lag recorded and caught up", BOUND, || {
        after = scrape(&address);
        value(&after, LAGS).unwrap_or(0.0) >= 1.0 && value(&after, "ovn_northd_cfg_lag") == Some(0.0)
    });
    assert!(get(&after, "ovn_northd_cfg_lag_seconds_sum") > 0.0, "{after}");
    // The northd node runs once per cycle, from scratch or from changes.
    let runs = |text: &str| value(text, RECOMPUTES).unwrap_or(0.0) + value(text, COMPUTES).unwrap_or(0.0);
    assert!(runs(&after) > runs(&before), "{after}");
    assert_eq!(get(&after, r#"ovn_northd_node_run_seconds_count{node="northd"}"#), runs(&after));
    // The lflow node computed the change from what changed.
    let lflow_computes = r#"ovn_northd_node_runs_total{node="lflow",kind="compute"}"#;
    assert!(get(&after, lflow_computes) > value(&before, lflow_computes).unwrap_or(0.0), "{after}");
    assert!(get(&after, SB_COMMITTED) > get(&before, SB_COMMITTED), "{after}");
    assert!(get(&after, FLOWS_INSERTED) > value(&before, FLOWS_INSERTED).unwrap_or(0.0), "{after}");
    assert!(get(&after, r#"ovn_northd_sb_rows_total{table="Port_Binding",op="inserted"}"#) >= 1.0, "{after}");
    assert!(get(&after, "ovn_northd_sb_transaction_rows_count") >= 1.0, "{after}");
    assert_eq!(get(&after, r#"ovn_northd_transactions_total{db="OVN_Southbound",result="failed"}"#), 0.0);
    assert_eq!(get(&after, "ovn_northd_paused"), 0.0);
    assert_eq!(get(&after, r#"ovn_northd_db_connected{db="OVN_Northbound"}"#), 1.0);
    assert_eq!(get(&after, r#"ovn_northd_db_connected{db="OVN_Southbound"}"#), 1.0);
    assert_eq!(get(&after, r#"ovn_northd_db_reconnects_total{db="OVN_Southbound"}"#), 0.0);

    // A second instance is on standby: not active, and the lag of the
    // active's writes is not its own.
    let (mut b, b_address) = start_with_metrics(&dbs, &[]);
    b.wait_status("standby");
    dbs.nbctl(&["--wait=sb", "ls-add", "sw1"]);
    wait_until("both caught up with the new nb_cfg", BOUND, || {
        value(&scrape(&address), LAGS).unwrap_or(0.0) >= 2.0
            && value(&scrape(&b_address), "ovn_northd_cfg_lag") == Some(0.0)
    });
    let standby = scrape(&b_address);
    assert_eq!(get(&standby, "ovn_northd_active"), 0.0, "{standby}");
    assert_eq!(get(&standby, "ovn_northd_paused"), 0.0, "{standby}");
    assert_eq!(get(&standby, LAGS), 0.0, "{standby}");
    // It keeps its engine warm, and writes nothing.
    assert!(get(&standby, RECOMPUTES) >= 1.0, "a standby runs the engine:\n{standby}");
    assert_eq!(value(&standby, SB_COMMITTED).unwrap_or(0.0), 0.0, "a standby writes nothing:\n{standby}");
    b.appctl(&["pause"]).unwrap();
    b.wait_status("paused");
    let paused = scrape(&b_address);
    assert_eq!((get(&paused, "ovn_northd_active"), get(&paused, "ovn_northd_paused")), (0.0, 1.0), "{paused}");
    b.check_alive();
    a.check_alive();
}

#[test]
fn without_the_flag_nothing_listens() {
    let dbs = Dbs::standalone();
    let mut d = Northd::start(ours(), &dbs.nb_remote(), &dbs.sb_remote(), &[]);
    d.wait_status("active");
    assert_eq!(listening_ports(d.pid()), Vec::<u16>::new());
    assert!(!d.log().contains("serving metrics"), "{}", d.log());
}

#[test]
fn garbage_and_idle_clients_on_the_metrics_port_do_not_disturb_the_daemon() {
    let dbs = Dbs::standalone();
    let (mut d, address) = start_with_metrics(&dbs, &[]);
    d.wait_status("active");
    let not_found = exchange(&address, b"GET /other HTTP/1.1\r\n\r\n").unwrap();
    assert!(not_found.starts_with("HTTP/1.1 404 Not Found\r\n"), "{not_found}");
    for garbage in [&b"\x00\xff\xfe\x16\x03\x01 binary\r\n\r\n"[..], b"hello there\n\n"] {
        let bad = exchange(&address, garbage).unwrap();
        assert!(bad.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{bad}");
    }
    // More than a request head may be: the server reads its limit, answers
    // and closes (the client may see a reset: what is left is unread).
    let _ = exchange(&address, &vec![b'x'; 64 * 1024]);
    // Clients that connect and say nothing take every slot.
    let idle: Vec<TcpStream> = (0..MAX_CONNECTIONS).map(|_| TcpStream::connect(&address).unwrap()).collect();
    let refused = exchange(&address, b"GET /metrics HTTP/1.1\r\n\r\n");
    assert!(
        refused.as_ref().map_or(true, |answer| answer.is_empty()),
        "one more client is refused while {MAX_CONNECTIONS} are idle: {refused:?}"
    );
    // Meanwhile the daemon translates and answers its control socket.
    dbs.nbctl(&["--wait=sb", "ls-add", "while-idle"]);
    assert_eq!(d.status().as_deref(), Some("active"));
    assert_translated(&dbs.nb_remote(), &dbs.sb_remote());
    // The idle clients are dropped after the timeout, which frees the
    // slots.
    for mut stream in idle {
        stream.set_read_timeout(Some(CLIENT_TIMEOUT + BOUND)).unwrap();
        let mut rest = Vec::new();
        let read = stream.read_to_end(&mut rest);
        assert!(read.is_ok() && rest.is_empty(), "an idle client is closed without an answer: {read:?} {rest:?}");
    }
    let text = scrape(&address);
    assert_eq!(get(&text, "ovn_northd_active"), 1.0, "{text}");
    d.check_alive();
    let log = d.log();
    assert!(log.contains("metrics: too many clients, one refused"), "{log}");
    assert!(log.contains("metrics: not an HTTP request line"), "{log}");
}
