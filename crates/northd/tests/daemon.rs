//! `ovn-northd-rs` as a process, against real ovsdb-servers and the real
//! `ovn-appctl` / `ovn-nbctl`: start-up errors, the control socket, the
//! pidfile and `--detach`, the log file and SIGHUP, systemd notifications,
//! and the `nb_cfg` / `sb_cfg` / `hv_cfg` sequence numbers.

mod common;

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{assert_translated, ours, Dbs};
use testsupport::northd::{sbctl, Northd};
use testsupport::{die_with_parent, require_tool, wait_until};

const BOUND: Duration = Duration::from_secs(60);

/// `ovn-appctl` on `d`; panics on failure.
fn appctl(d: &Northd, args: &[&str]) -> String {
    d.appctl(args).unwrap_or_else(|e| panic!("ovn-appctl {args:?}: {e}"))
}

fn run_ours(args: &[&str]) -> Output {
    let mut cmd = Command::new(ours());
    die_with_parent(&mut cmd);
    cmd.args(args).stdin(Stdio::null()).output().expect("run ovn-northd-rs")
}

/// Exit status 1 and exactly one line on stderr containing `needle`.
fn assert_one_line_error(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "not one line: {stderr}");
    assert!(stderr.starts_with("ovn-northd-rs: ") && stderr.contains(needle), "{stderr}");
}

#[test]
fn start_up_errors_are_one_line_and_exit_status_1() {
    let dir = tempfile::tempdir().unwrap();
    let ctl = format!("--unixctl={}", dir.path().join("x.ctl").display());
    assert_one_line_error(&run_ours(&["--ovnnb-db=punix:/x", &ctl]), "--ovnnb-db");
    assert_one_line_error(&run_ours(&["--ovnsb-db=tcp:nohost", &ctl]), "--ovnsb-db");
    assert_one_line_error(&run_ours(&["--monitor", &ctl]), "--monitor is not supported");
    assert_one_line_error(&run_ours(&["--syslog-target=127.0.0.1:514"]), "--syslog-target");
    assert_one_line_error(&run_ours(&["--no-such-option"]), "--no-such-option");
    assert_one_line_error(&run_ours(&["-vconsole:loud"]), "\"loud\"");
    // Real certificates, but a key file that cannot be read.
    let pki = testsupport::Pki::new();
    let missing = dir.path().join("missing-key.pem");
    let (key, cert, ca) = (missing.to_str().unwrap(), pki.client_cert.to_str().unwrap(), pki.ca_cert.to_str().unwrap());
    let out = run_ours(&["--ovnsb-db=ssl:127.0.0.1:6642", "-p", key, "-c", cert, "-C", ca, &ctl]);
    assert_one_line_error(&out, "missing-key.pem: No such file");
    let out = run_ours(&["--ovnsb-db=ssl:127.0.0.1:6642", "-p", cert, "-c", cert, "-C", ca, &ctl]);
    assert_one_line_error(&out, "no private key");
    let out = run_ours(&["--ovnsb-db=ssl:127.0.0.1:6642", "-p", "/dev/null", &ctl]);
    assert_one_line_error(&out, "ssl remotes need");
    let out = run_ours(&["--log-file=/nonexistent-dir/x.log", &ctl]);
    assert_one_line_error(&out, "/nonexistent-dir/x.log");
    assert_one_line_error(&run_ours(&["--metrics-address=localhost:9476", &ctl]), "--metrics-address");
    // A metrics port another socket holds.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let metrics = format!("--metrics-address={}", busy.local_addr().unwrap());
    assert_one_line_error(&run_ours(&[&metrics, &ctl, "-vconsole:off"]), "cannot listen: Address already in use");

    // A pidfile held by a live process.
    let dbs = Dbs::standalone();
    let pidfile = dir.path().join("northd.pid");
    let pidarg = format!("--pidfile={}", pidfile.display());
    let mut first = Northd::start(ours(), &dbs.nb_remote(), &dbs.sb_remote(), &[&pidarg]);
    first.wait_status("active");
    assert_eq!(std::fs::read_to_string(&pidfile).unwrap().trim(), first.pid().to_string());
    let out = run_ours(&[&pidarg, &ctl, &format!("--ovnnb-db={}", dbs.nb_remote())]);
    assert_one_line_error(&out, &format!("already running as pid {}, aborting", first.pid()));
    // With --overwrite-pidfile the second one starts and takes the file.
    let mut second = Northd::start(ours(), &dbs.nb_remote(), &dbs.sb_remote(), &[&pidarg, "--overwrite-pidfile"]);
    second.wait_status("standby");
    assert_eq!(std::fs::read_to_string(&pidfile).unwrap().trim(), second.pid().to_string());
}

#[test]
fn the_control_socket_answers_ovn_appctl() {
    let dbs = Dbs::standalone();
    let mut d = Northd::start(ours(), &dbs.nb_remote(), &dbs.sb_remote(), &[]);
    d.wait_status("active");
    let meta = std::fs::metadata(d.ctl()).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o750);

    assert_eq!(appctl(&d, &["status"]), "Status: active\n");
    assert_eq!(appctl(&d, &["is-paused"]), "false\n");
    assert_eq!(appctl(&d, &["nb-connection-status"]), "connected\n");
    assert_eq!(appctl(&d, &["sb-connection-status"]), "connected\n");
    assert!(appctl(&d, &["version"]).starts_with("ovn-northd-rs "));
    let list = appctl(&d, &["list-commands"]);
    for cmd in [
        "exit",
        "status",
        "pause",
        "resume",
        "is-paused",
        "version",
        "list-commands",
        "nb-connection-status",
        "sb-connection-status",
        "sb-cluster-state-reset",
        "nb-cluster-state-reset",
        "inc-engine/recompute",
        "inc-engine/show-stats",
    ] {
        assert!(list.lines().any(|l| l.split_whitespace().next() == Some(cmd)), "{cmd} missing from\n{list}");
    }
    // Recompute: the counter moves, the SB stays right.
    wait_until("the first cycle", BOUND, || engine_runs(&d) >= 1);
    let before = engine_runs(&d);
    assert_eq!(appctl(&d, &["inc-engine/recompute"]), "");
    wait_until("a forced recompute", BOUND, || engine_runs(&d) > before);
    assert!(appctl(&d, &["inc-engine/show-stats"]).starts_with("Node: northd\n- recompute: "));
    assert_eq!(appctl(&d, &["sb-cluster-state-reset"]), "");
    assert_eq!(appctl(&d, &["nb-cluster-state-reset"]), "");
    // Errors, as the reference words them (ovn-appctl exits 2).
    let err = d.appctl(&["status", "extra"]).unwrap_err();
    assert!(err.contains("\"status\" command takes at most 0 arguments"), "{err}");
    let err = d.appctl(&["no-such-command"]).unwrap_err();
    assert!(err.contains("is not a valid command"), "{err}");

    // Pause releases the lock; resume takes part again.
    assert_eq!(appctl(&d, &["pause"]), "");
    assert_eq!(appctl(&d, &["status"]), "Status: paused\n");
    assert_eq!(appctl(&d, &["is-paused"]), "true\n");
    let mut other = Northd::start(ours(), &dbs.nb_remote(), &dbs.sb_remote(), &[]);
    other.wait_status("active");
    dbs.nbctl(&["ls-add", "sw-while-paused"]);
    dbs.nbctl(&["--wait=sb", "sync"]);
    assert_eq!(appctl(&d, &["resume"]), "");
    d.wait_status("standby");
    other.appctl(&["exit"]).unwrap();
    assert_eq!(other.wait_exit(), Some(0));
    assert!(!other.ctl().exists(), "the socket is removed at exit");
    d.wait_status("active");
    dbs.nbctl(&["--wait=sb", "sync"]);
    assert_translated(&dbs.nb_remote(), &dbs.sb_remote());
}

#[test]
fn detach_pidfile_and_no_chdir_behave_as_ovs_daemons() {
    let dbs = Dbs::standalone();
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("d.pid");
    let ctl = dir.path().join("d.ctl");
    let log = dir.path().join("d.log");
    /// Kills the detached daemon if the test fails before it exits.
    struct KillOnDrop(Option<i32>);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            if let Some(pid) = self.0 {
                // SAFETY: kill(2) on a pid we started.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
    let mut guard = KillOnDrop(None);
    for no_chdir in [false, true] {
        let mut args = vec![
            format!("--ovnnb-db={}", dbs.nb_remote()),
            format!("--ovnsb-db={}", dbs.sb_remote()),
            format!("--pidfile={}", pidfile.display()),
            format!("--unixctl={}", ctl.display()),
            format!("--log-file={}", log.display()),
            "--detach".into(),
        ];
        if no_chdir {
            args.push("--no-chdir".into());
        }
        let out = Command::new(ours()).args(&args).current_dir(dir.path()).stdin(Stdio::null()).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        // The parent returns once the child is set up: the files exist.
        let pid: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
        guard.0 = Some(pid);
        assert!(ctl.exists());
        let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap();
        let want = if no_chdir { dir.path().canonicalize().unwrap() } else { Path::new("/").to_owned() };
        assert_eq!(cwd, want);
        // A new session, standard streams on /dev/null.
        // SAFETY: getsid on a pid.
        assert_eq!(unsafe { libc::getsid(pid) }, pid);
        assert_eq!(std::fs::read_link(format!("/proc/{pid}/fd/2")).unwrap(), Path::new("/dev/null"));
        let appctl =
            |cmd: &str| Command::new(require_tool("ovn-appctl")).arg("-t").arg(&ctl).arg(cmd).output().unwrap();
        wait_until("the detached daemon to be active", BOUND, || appctl("status").stdout == b"Status: active\n");
        if !no_chdir {
            // The first daemon fills the empty SB: its first write after
            // the lock is timed (a takeover's cost).
            let took = "|northd|INFO|since taking the lock: first write committed ms=";
            wait_until("the first write after the lock to be logged", BOUND, || {
                std::fs::read_to_string(&log).is_ok_and(|text| {
                    let ms = |rest: &str| rest.split(' ').next().is_some_and(|ms| ms.parse::<u64>().is_ok());
                    text.lines().filter_map(|l| l.split_once(took)).any(|(_, rest)| ms(rest))
                })
            });
        }
        let out = appctl("exit");
        assert!(out.status.success());
        wait_until("the detached daemon to exit", BOUND, || {
            // SAFETY: signal 0 only checks that the process exists.
            let alive = unsafe { libc::kill(pid, 0) } == 0;
            !alive
        });
        guard.0 = None;
        assert!(!pidfile.exists() && !ctl.exists(), "pidfile and socket are removed at exit");
    }
    // The console is off when detached; the file has the lines.
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("|northd|INFO|lock acquired"), "{text}");
}

#[test]
fn the_log_file_has_ovs_lines_and_reopens_on_sighup() {
    let dbs = Dbs::standalone();
    let mut d = Northd::start(ours(), &dbs.nb_remote(), &dbs.sb_remote(), &["-vfile:dbg"]);
    d.wait_status("active");
    // Status answers between the lock and the first cycle: wait for the cycle.
    wait_until("the first cycle", BOUND, || d.log().contains("|DBG|cycle{run_id="));
    let text = d.log();
    let line = regex::Regex::new(
        r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\|\d{5}\|(northd|ovsdb|lflow)\|(EMER|ERR|WARN|INFO|DBG)\|",
    )
    .unwrap();
    for l in text.lines() {
        assert!(line.is_match(l), "not an OVS log line: {l}");
    }
    let seqs: Vec<u64> = text.lines().map(|l| l[25..30].parse().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[1] > w[0]), "sequence numbers increase");
    assert!(text.contains("|DBG|"), "-vfile:dbg logs debug lines");

    let rotated = d.log_path().with_extension("log.1");
    std::fs::rename(d.log_path(), &rotated).unwrap();
    d.signal(libc::SIGHUP);
    wait_until("the log file to be reopened", BOUND, || d.log().contains("|INFO|reopened log file"));
    assert!(std::fs::read_to_string(&rotated).unwrap().starts_with(&text));
    // vlog/reopen does the same.
    std::fs::remove_file(d.log_path()).unwrap();
    d.appctl(&["vlog/reopen"]).unwrap();
    wait_until("the log file to be reopened again", BOUND, || d.log().contains("reopened log file"));
    d.check_alive();
}

#[test]
fn systemd_notifications_follow_the_role() {
    let dbs = Dbs::standalone();
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("notify");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(BOUND)).unwrap();
    let mut messages: Vec<String> = Vec::new();
    let next = || {
        let mut buf = [0u8; 256];
        let n = sock.recv(&mut buf).expect("a notification within the bound");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let notify = sock_path.to_str().unwrap();
    let mut d = Northd::start_with_env(ours(), &dbs.nb_remote(), &dbs.sb_remote(), &[], &[("NOTIFY_SOCKET", notify)]);
    messages.push(next());
    assert!(messages[0].starts_with("READY=1\nSTATUS="), "{messages:?}");
    while messages.last().is_some_and(|m| !m.ends_with("STATUS=active")) {
        messages.push(next());
    }
    d.wait_status("active");
    d.appctl(&["pause"]).unwrap();
    assert_eq!(next(), "STATUS=paused");
    d.appctl(&["resume"]).unwrap();
    let mut m = next();
    if m == "STATUS=standby" {
        m = next();
    }
    assert_eq!(m, "STATUS=active");
    d.signal(libc::SIGTERM);
    assert_eq!(next(), "STOPPING=1");
    assert_eq!(d.wait_exit(), Some(0));
}

#[test]
fn nb_cfg_reaches_sb_cfg_and_hv_cfg() {
    let dbs = Dbs::standalone();
    let sb = dbs.sb_remote();
    let mut d = Northd::start(ours(), &dbs.nb_remote(), &sb, &[]);
    d.wait_status("active");
    let get = |col: &str| dbs.nbctl(&["get", "NB_Global", ".", col]).trim().parse::<i64>().unwrap();
    // No chassis: --wait=hv returns as soon as the SB is done.
    dbs.nbctl(&["ls-add", "sw0"]);
    dbs.nbctl(&["--wait=hv", "sync"]);
    let n = get("nb_cfg");
    assert!(n >= 1);
    assert_eq!((get("sb_cfg"), get("hv_cfg"), get("hv_cfg_timestamp")), (n, n, 0));
    assert!(get("nb_cfg_timestamp") > 0 && get("sb_cfg_timestamp") >= get("nb_cfg_timestamp"));
    assert_eq!(sbctl(&sb, &["get", "SB_Global", ".", "nb_cfg"]).trim(), n.to_string());
    // A chassis behind holds hv_cfg back; a remote chassis does not count.
    sbctl(&sb, &["chassis-add", "ch1", "geneve", "127.0.0.1"]);
    sbctl(
        &sb,
        &[
            "chassis-add",
            "remote",
            "geneve",
            "127.0.0.2",
            "--",
            "set",
            "Chassis",
            "remote",
            "other_config:is-remote=true",
        ],
    );
    let uuid = |name: &str| sbctl(&sb, &["--bare", "--columns=_uuid", "find", "Chassis", &format!("name={name}")]);
    let ch1 = uuid("ch1");
    let remote = uuid("remote");
    sbctl(
        &sb,
        &[
            "create",
            "Chassis_Private",
            "name=ch1",
            &format!("chassis={}", ch1.trim()),
            "nb_cfg=0",
            "nb_cfg_timestamp=42",
        ],
    );
    sbctl(&sb, &["create", "Chassis_Private", "name=remote", &format!("chassis={}", remote.trim()), "nb_cfg=0"]);
    wait_until("hv_cfg to fall to the chassis' 0", BOUND, || get("hv_cfg") == 0);
    assert_eq!(get("hv_cfg_timestamp"), 42);
    // --wait=hv returns once the local chassis catches up (the remote one,
    // still at 0, is left out).
    let nb = dbs.nb_remote();
    let waiter = std::thread::spawn(move || testsupport::northd::nbctl(&nb, &["--wait=hv", "sync"]));
    wait_until("the SB to take the new nb_cfg", BOUND, || get("sb_cfg") > n);
    let m = get("nb_cfg");
    sbctl(&sb, &["set", "Chassis_Private", "ch1", &format!("nb_cfg={m}"), "nb_cfg_timestamp=77"]);
    waiter.join().unwrap();
    assert_eq!((get("hv_cfg"), get("hv_cfg_timestamp")), (m, 77));
    d.check_alive();
    assert_translated(&dbs.nb_remote(), &sb);
}

/// One counter of one engine node (`inc-engine/show-stats NODE COUNTER`).
fn stat(d: &Northd, node: &str, counter: &str) -> u64 {
    appctl(d, &["inc-engine/show-stats", node, counter]).trim().parse().unwrap()
}

/// The runs of the engine's first node (`northd`): from scratch or from
/// changes, one per cycle that computes.
fn engine_runs(d: &Northd) -> u64 {
    stat(d, "northd", "recompute") + stat(d, "northd", "compute")
}

/// The echo of the daemon's own writes (its SB transaction, the NB status
/// columns) comes back through its monitors but is not news, and a
/// `--wait=sb sync` moves only sequence numbers: one NB change costs one
/// engine run, a sync none, and `sb_cfg` still reaches `nb_cfg`.
#[test]
fn one_change_costs_one_engine_run_and_a_sync_none() {
    let dbs = Dbs::standalone();
    let mut d = Northd::start(ours(), &dbs.nb_remote(), &dbs.sb_remote(), &[]);
    d.wait_status("active");
    dbs.nbctl(&["--wait=sb", "sync"]);
    let before = engine_runs(&d);
    dbs.nbctl(&["--wait=sb", "ls-add", "one", "--", "lsp-add", "one", "one-p1"]);
    let cycles = engine_runs(&d) - before;
    assert_eq!(cycles, 1, "one change took {cycles} engine runs\n{}", d.diagnostics());
    let before = engine_runs(&d);
    let cfg = |column: &str| dbs.nbctl(&["get", "NB_Global", ".", column]).trim().parse::<i64>().unwrap();
    for _ in 0..3 {
        dbs.nbctl(&["--wait=sb", "sync"]);
        assert_eq!(cfg("sb_cfg"), cfg("nb_cfg"));
    }
    let cycles = engine_runs(&d) - before;
    assert_eq!(cycles, 0, "three syncs took {cycles} engine runs\n{}", d.diagnostics());
    assert!(cfg("nb_cfg_timestamp") > 0 && cfg("sb_cfg_timestamp") >= cfg("nb_cfg_timestamp"));
    assert_translated(&dbs.nb_remote(), &dbs.sb_remote());
}

/// A chassis coming, changing or going is not a recompute unless it
/// changes what every datapath reads of the chassis (the conntrack
/// flavour they all support, VXLAN): it reaches the bindings of the ports
/// that name it in `options:requested-chassis` (by name or hostname).
#[test]
fn a_chassis_reaches_the_ports_that_name_it_unless_it_changes_every_flow() {
    let dbs = Dbs::standalone();
    let mut d = Northd::start(ours(), &dbs.nb_remote(), &dbs.sb_remote(), &[]);
    d.wait_status("active");
    let sb = |args: &[&str]| sbctl(&dbs.sb_remote(), args);
    let features = ["other_config:ct-no-masked-label=true", "other_config:ovn-ct-lb-related=true"];
    let chassis = |name: &str, encap: &str, ip: &str, hostname: &str| {
        let hostname = format!("hostname={hostname}");
        let set = [&["--", "set", "Chassis", name, &hostname][..], &features[..]].concat();
        sb(&[&["chassis-add", name, encap, ip][..], &set].concat());
    };
    chassis("ch1", "geneve", "192.0.2.1", "h1");
    let mut setup = vec!["--wait=sb", "ls-add", "sw0", "--", "ls-add", "sw1"];
    for (sw, port, req) in [("sw0", "p0", "ch9"), ("sw0", "p1", ""), ("sw1", "q0", "h9"), ("sw1", "q1", "")] {
        setup.extend(["--", "lsp-add", sw, port, "--", "lsp-set-addresses", port, "unknown"]);
        if !req.is_empty() {
            setup.extend([
                "--",
                "lsp-set-options",
                port,
                if req == "ch9" { "requested-chassis=ch9" } else { "requested-chassis=h9" },
            ]);
        }
    }
    dbs.nbctl(&setup);
    assert_translated(&dbs.nb_remote(), &dbs.sb_remote());
    let requested = |port: &str| {
        sb(&["--bare", "--columns=requested_chassis", "find", "Port_Binding", &format!("logical_port={port}")])
    };
    assert_eq!(requested("p0").trim(), "", "no chassis ch9 yet");
    let (aborts, recomputes) = (stat(&d, "northd", "abort"), stat(&d, "northd", "recompute"));
    // ch9 (hostname h9), supporting what ch1 does: p0 and q0 name it.
    chassis("ch9", "geneve", "192.0.2.9", "h9");
    let ch9 = sb(&["--bare", "--columns=_uuid", "find", "Chassis", "name=ch9"]).trim().to_string();
    wait_until("p0 and q0 requesting ch9", BOUND, || requested("p0").trim() == ch9 && requested("q0").trim() == ch9);
    dbs.nbctl(&["--wait=sb", "sync"]);
    assert_eq!((stat(&d, "northd", "abort"), stat(&d, "northd", "recompute")), (aborts, recomputes));
    assert_translated(&dbs.nb_remote(), &dbs.sb_remote());
    // Renamed: the ports naming it by its old name lose it.
    sb(&["set", "Chassis", "ch9", "hostname=h10"]);
    wait_until("q0 requesting nothing", BOUND, || requested("q0").trim().is_empty());
    dbs.nbctl(&["--wait=sb", "sync"]);
    assert_eq!((stat(&d, "northd", "abort"), stat(&d, "northd", "recompute")), (aborts, recomputes));
    assert_translated(&dbs.nb_remote(), &dbs.sb_remote());
    // One chassis without ct-no-masked-label: every switch's conntrack
    // flavour changes.
    sb(&["remove", "Chassis", "ch9", "other_config", "ct-no-masked-label"]);
    wait_until("a recompute of every flow", BOUND, || stat(&d, "northd", "abort") > aborts);
    dbs.nbctl(&["--wait=sb", "sync"]);
    assert_translated(&dbs.nb_remote(), &dbs.sb_remote());
    // A chassis with VXLAN narrows every key range.
    let aborts = stat(&d, "northd", "abort");
    chassis("chv", "vxlan", "192.0.2.10", "hv");
    wait_until("a recompute for VXLAN", BOUND, || stat(&d, "northd", "abort") > aborts);
    dbs.nbctl(&["--wait=sb", "sync"]);
    assert_translated(&dbs.nb_remote(), &dbs.sb_remote());
    // Gone: p0 requests nothing it can name.
    sb(&["chassis-del", "ch9"]);
    wait_until("p0 requesting nothing", BOUND, || requested("p0").trim().is_empty());
    dbs.nbctl(&["--wait=sb", "sync"]);
    assert_translated(&dbs.nb_remote(), &dbs.sb_remote());
    d.check_alive();
}

/// The `lflow` engine node computes a change from what changed: a port
/// added to a switch no router reaches changes that switch's flows only,
/// one on a switch a router reaches changes the router's too (its ARP
/// resolution), and each compares with the SB only the flows they gained
/// or lost (not the echo of the setup's write); an ACL of a port group
/// builds its switches alone, a switch added on the router that switch and
/// the router (not the router's other switches), a route the router alone;
/// a forced recompute starts over from every flow.
#[test]
fn a_port_add_changes_only_the_flows_of_the_datapaths_it_reaches() {
    let dbs = Dbs::standalone();
    let mut d = Northd::start(ours(), &dbs.nb_remote(), &dbs.sb_remote(), &["-vfile:dbg"]);
    d.wait_status("active");
    let mut setup: Vec<String> = Vec::new();
    for s in 0..3 {
        setup.extend(["--", "ls-add"].map(String::from).into_iter().chain([format!("sw{s}")]));
        for p in 0..3 {
            let addr = format!("0a:00:00:00:0{s}:0{p} 10.0.{s}.{}", 10 + p);
            setup.extend(["--".into(), "lsp-add".into(), format!("sw{s}"), format!("sw{s}-p{p}")]);
            setup.extend(["--".into(), "lsp-set-addresses".into(), format!("sw{s}-p{p}"), addr]);
        }
    }
    setup.extend(["--", "lr-add", "lr0"].map(String::from));
    for s in 0..2 {
        let (lrp, lsp) = (format!("lr0-sw{s}"), format!("sw{s}-lr0"));
        let mac = format!("0a:00:00:00:ff:0{s}");
        setup.extend(["--".into(), "lrp-add".into(), "lr0".into(), lrp.clone(), mac, format!("10.0.{s}.1/24")]);
        setup.extend(["--".into(), "lsp-add".into(), format!("sw{s}"), lsp.clone()]);
        setup.extend(["--".into(), "lsp-set-type".into(), lsp.clone(), "router".into()]);
        setup.extend(["--".into(), "lsp-set-options".into(), lsp.clone(), format!("router-port={lrp}")]);
        setup.extend(["--".into(), "lsp-set-addresses".into(), lsp, "router".into()]);
    }
    // A port group (with an ACL) with a port on every switch.
    setup.extend(["--", "pg-add", "pg", "sw0-p0", "sw1-p0", "sw2-p0"].map(String::from));
    setup.extend(["--", "acl-add", "pg", "to-lport", "1001", "ip4", "drop"].map(String::from));
    let mut args = vec!["--wait=sb"];
    args.extend(setup.iter().skip(1).map(String::as_str));
    dbs.nbctl(&args);
    let lflow = |counter: &str| stat(&d, "lflow", counter);
    let flows: usize =
        testsupport::northd::sbctl(&dbs.sb_remote(), &["--bare", "--columns=_uuid", "list", "Logical_Flow"])
            .split_whitespace()
            .count();
    // The cycles' log lines (written behind the daemon: wait for them).
    let computed = |d: &Northd| -> Vec<String> {
        d.log().lines().filter(|l| l.contains("datapaths_changed=")).map(str::to_owned).collect()
    };
    // (datapaths built whole, routers built in part, datapaths changed,
    // flows compared, port bindings built) of the cycle a change runs.
    let cycle = |d: &Northd, args: &[&str]| -> (usize, usize, usize, usize, usize) {
        let n = computed(d).len();
        dbs.nbctl(args);
        wait_until("the cycle's log line", BOUND, || computed(d).len() > n);
        let line = computed(d)[n].clone();
        let field = |name: &str| -> usize {
            let at = line.find(&format!("{name}=")).unwrap() + name.len() + 1;
            line[at..].split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
        };
        let counts = ["datapaths_built", "datapaths_in_part", "datapaths_changed", "flows_compared", "bindings_built"];
        let [built, in_part, changed, compared, bindings] = counts.map(field);
        (built, in_part, changed, compared, bindings)
    };
    // A port add; the port joins the port group, as a pod joins its
    // namespace's.
    let mut members = vec!["sw0-p0".to_string(), "sw1-p0".into(), "sw2-p0".into()];
    let mut add_port = |d: &Northd, sw: &str, name: &str, addr: &str| -> (usize, usize, usize, usize, usize) {
        members.push(name.to_string());
        let mut args =
            vec!["--wait=sb", "lsp-add", sw, name, "--", "lsp-set-addresses", name, addr, "--", "pg-set-ports", "pg"];
        args.extend(members.iter().map(String::as_str));
        cycle(d, &args)
    };
    let (recomputes, computes) = (lflow("recompute"), lflow("compute"));
    let (built, in_part, changed, compared, bindings) = add_port(&d, "sw2", "sw2-new", "0a:00:00:00:02:09 10.0.2.99");
    assert_eq!((built, in_part, changed), (1, 0, 1), "a port on a switch no router reaches\n{}", d.diagnostics());
    assert_eq!(bindings, 4, "the port bindings of that switch alone");
    assert!(compared > 0 && compared * 10 < flows, "{compared} of {flows} flows compared\n{}", d.diagnostics());
    let (built, in_part, changed, compared, _) = add_port(&d, "sw0", "sw0-new", "0a:00:00:00:00:09 10.0.0.99");
    assert_eq!(
        (built, in_part, changed),
        (1, 1, 2),
        "a port on a switch the router reaches: the switch, and the router's flows about the switch's ports"
    );
    assert!(compared > 0 && compared * 10 < flows, "{compared} of {flows} flows compared\n{}", d.diagnostics());
    assert_eq!(lflow("recompute"), recomputes, "no recompute for a port");
    assert!(lflow("compute") >= computes + 2);
    assert_translated(&dbs.nb_remote(), &dbs.sb_remote());
    // An ACL of the port group: its switches, not the router, which reads
    // their ports but not their ACLs.
    let (built, in_part, _, _, bindings) =
        cycle(&d, &["--wait=sb", "acl-add", "pg", "from-lport", "1002", "tcp", "drop"]);
    assert_eq!((built, in_part), (3, 0), "an ACL on a port group with ports on three switches");
    assert_eq!(bindings, 0, "an ACL changes no port binding");
    // A switch and its port on the router: the switch and the router, not
    // the router's other switches.
    let mut sw3 = vec!["--wait=sb", "ls-add", "sw3", "--", "lrp-add", "lr0", "lr0-sw3", "0a:00:00:00:ff:03"];
    sw3.extend(["10.0.3.1/24", "--", "lsp-add", "sw3", "sw3-lr0", "--", "lsp-set-type", "sw3-lr0", "router"]);
    sw3.extend(["--", "lsp-set-options", "sw3-lr0", "router-port=lr0-sw3", "--", "lsp-set-addresses", "sw3-lr0"]);
    sw3.push("router");
    assert_eq!(cycle(&d, &sw3).0, 2, "a switch added on a router: the switch and the router");
    // A route: the router alone.
    let route = ["--wait=sb", "lr-route-add", "lr0", "192.168.0.0/16", "10.0.3.10"];
    let (built, _, _, _, bindings) = cycle(&d, &route);
    assert_eq!((built, bindings), (1, 0), "a static route: the router's flows, no binding");
    assert_translated(&dbs.nb_remote(), &dbs.sb_remote());
    // A VIP added to a load balancer two switches have: its part of their
    // flows, nothing else.
    let lb = ["--wait=sb", "lb-add", "lb0", "10.0.0.200:80", "10.0.0.10:8080", "--", "ls-lb-add", "sw0", "lb0"];
    dbs.nbctl(&[&lb[..], &["--", "ls-lb-add", "sw1", "lb0"]].concat());
    let (built, in_part, changed, _, _) = cycle(&d, &["--wait=sb", "lb-add", "lb0", "10.0.0.201:80", "10.0.0.11:8080"]);
    assert_eq!((built, in_part, changed), (0, 2, 2), "a VIP added: the load balancer's part of its switches' flows");
    assert_translated(&dbs.nb_remote(), &dbs.sb_remote());
    // A port on a switch with the balancer: the switch's flows but the
    // balancer's part (kept), and the router's about the switch.
    let (built, in_part, _, _, _) = add_port(&d, "sw1", "sw1-new", "0a:00:00:00:01:09 10.0.1.99");
    assert_eq!((built, in_part), (1, 1), "a port on a switch with a load balancer");
    let last = computed(&d).last().cloned().unwrap_or_default();
    assert!(last.contains("datapaths_rest=1"), "its balancer's flows kept: {last}");
    assert_translated(&dbs.nb_remote(), &dbs.sb_remote());
    // On a gateway router whose switch port announces its NAT addresses
    // (its VIPs among them): the balancer's part of the router's flows,
    // and the rows of the router (its `_rtr_lb_` address set, its port's
    // binding) and of that switch (its port's binding).
    let mut gw = vec!["--wait=sb", "lr-add", "gw", "--", "set", "Logical_Router", "gw", "options:chassis=gw1"];
    gw.extend(["--", "lrp-add", "gw", "gw-ext", "0a:00:00:00:ff:10", "172.16.0.1/24", "--", "ls-add", "ext"]);
    gw.extend(["--", "lsp-add", "ext", "ext-gw", "--", "lsp-set-type", "ext-gw", "router", "--"]);
    gw.extend(["lsp-set-addresses", "ext-gw", "router", "--", "lsp-set-options", "ext-gw", "router-port=gw-ext"]);
    gw.extend(["nat-addresses=router", "--", "lb-add", "lb9", "10.200.0.1:80", "10.0.0.10:8080", "--"]);
    dbs.nbctl(&[&gw[..], &["lr-lb-add", "gw", "lb9"]].concat());
    let (built, in_part, _, _, bindings) =
        cycle(&d, &["--wait=sb", "lb-add", "lb9", "10.200.0.2:80", "10.0.0.11:8080"]);
    assert_eq!((built, in_part, bindings), (0, 1, 2), "a VIP added on a gateway router");
    let nat_addresses =
        sbctl(&dbs.sb_remote(), &["--bare", "--columns=nat_addresses", "find", "Port_Binding", "logical_port=ext-gw"]);
    assert!(nat_addresses.contains("10.200.0.2"), "the new VIP is announced: {nat_addresses}");
    // One CSV line per set (a bare listing's records run together where a
    // set has no addresses, depending on the rows' order).
    let router_vips = || {
        let csv = ["--format=csv", "--no-headings", "--columns=name,addresses", "list", "Address_Set"];
        let sets = sbctl(&dbs.sb_remote(), &csv);
        sets.lines().filter(|l| l.starts_with("_rtr_lb_")).map(str::to_string).collect::<Vec<_>>()
    };
    assert_translated(&dbs.nb_remote(), &dbs.sb_remote());
    // A VIP in the router's network: the router answers ARP for it.
    dbs.nbctl(&["--wait=sb", "lb-add", "lb9", "172.16.0.50:80", "10.0.0.12:8080"]);
    assert!(router_vips().iter().any(|s| s.contains("172.16.0.50")), "the router answers for it: {:?}", router_vips());
    assert_translated(&dbs.nb_remote(), &dbs.sb_remote());
    // The balancer leaves the router: its address set goes.
    dbs.nbctl(&["--wait=sb", "lr-lb-del", "gw", "lb9"]);
    assert_eq!(router_vips(), Vec::<String>::new());
    assert_translated(&dbs.nb_remote(), &dbs.sb_remote());
    // An NB option any datapath may read: the northd node gives up and
    // builds every datapath's flows; the lflow node still computes.
    let aborts = stat(&d, "northd", "abort");
    dbs.nbctl(&["--wait=sb", "set", "NB_Global", ".", "options:mcast_igmp_flood=true"]);
    assert_eq!(stat(&d, "northd", "abort"), aborts + 1);
    assert_eq!(lflow("recompute"), recomputes);
    assert_translated(&dbs.nb_remote(), &dbs.sb_remote());
    appctl(&d, &["inc-engine/recompute"]);
    wait_until("a forced recompute", BOUND, || lflow("recompute") > recomputes);
    dbs.nbctl(&["--wait=sb", "sync"]);
    assert_translated(&dbs.nb_remote(), &dbs.sb_remote());
    d.check_alive();
}

/// A switch that joins the switches a datapath group's flows apply to
/// changes the group in place: the flows on it, and the load balancer on
/// its twin group, keep their rows and their groups; the flows the new
/// switch does not share move (fewer than those that stay). Then a switch
/// leaves, and the SB is the translation after each; the reference takes
/// over from there writing no flow or load balancer.
#[test]
fn a_switch_joining_a_group_changes_the_group_in_place() {
    let dbs = Dbs::standalone();
    let mut d = Northd::start(ours(), &dbs.nb_remote(), &dbs.sb_remote(), &[]);
    d.wait_status("active");
    let mut setup = vec!["--wait=sb".to_string(), "lb-add".into(), "lb".into(), "10.0.0.100:80".into()];
    setup.push("10.0.0.10:8080".into());
    for s in 0..4 {
        setup.extend(["--".into(), "ls-add".into(), format!("sw{s}"), "--".into(), "ls-lb-add".into()]);
        setup.extend([format!("sw{s}"), "lb".into()]);
        // The first three have a port, so they share flows the fourth has not.
        if s < 3 {
            setup.extend(["--".into(), "lsp-add".into(), format!("sw{s}"), format!("p{s}")]);
        }
    }
    dbs.nbctl(&setup.iter().map(String::as_str).collect::<Vec<_>>());
    // Flow row -> its group; load balancer row -> its group.
    let rows = |table: &str, column: &str| -> std::collections::BTreeMap<String, String> {
        let columns = format!("--columns=_uuid,{column}");
        let out = sbctl(&dbs.sb_remote(), &["-f", "csv", "-d", "bare", "--no-headings", &columns, "list", table]);
        out.lines().filter_map(|l| l.split_once(',')).map(|(u, g)| (u.to_string(), g.to_string())).collect()
    };
    let (flows, lbs) = (rows("Logical_Flow", "logical_dp_group"), rows("Load_Balancer", "datapath_group"));
    let grouped = flows.values().filter(|g| !g.is_empty()).count();
    assert!(grouped > 50, "{grouped} flows on groups");
    dbs.nbctl(&["--wait=sb", "ls-add", "sw4", "--", "ls-lb-add", "sw4", "lb"]);
    let moved = |before: &std::collections::BTreeMap<String, String>,
                 after: &std::collections::BTreeMap<String, String>| {
        before.iter().filter(|(u, g)| after.get(*u).is_some_and(|h| h != *g)).count()
    };
    let after = rows("Logical_Flow", "logical_dp_group");
    let moved_flows = moved(&flows, &after);
    assert!(moved_flows * 5 < grouped, "{moved_flows} of {grouped} grouped flows moved to another group");
    assert_eq!(moved(&lbs, &rows("Load_Balancer", "datapath_group")), 0, "the load balancer moved");
    assert_translated(&dbs.nb_remote(), &dbs.sb_remote());
    dbs.nbctl(&["--wait=sb", "ls-del", "sw0"]);
    assert_translated(&dbs.nb_remote(), &dbs.sb_remote());
    d.check_alive();
    // The reference takes over the groups so changed and rewrites nothing.
    d.kill();
    let (flows, lbs) = (rows("Logical_Flow", "logical_dp_group"), rows("Load_Balancer", "datapath_group"));
    let mut reference = Northd::reference(&dbs.nb_remote(), &dbs.sb_remote(), &[]);
    reference.wait_status("active");
    dbs.nbctl(&["--wait=sb", "sync"]);
    assert_eq!(rows("Logical_Flow", "logical_dp_group"), flows, "the reference moved flows");
    assert_eq!(rows("Load_Balancer", "datapath_group"), lbs, "the reference moved load balancers");
    reference.check_alive();
}

/// Adds switch `sw0` with port `p0` (`0a:00:00:00:00:01 10.0.0.1`) and
/// what the `ovn-nbctl` command `more` makes, in one transaction, and
/// waits for the SB.
fn switch_with_p0(dbs: &Dbs, more: &[&str]) {
    let mut args = vec!["--wait=sb", "ls-add", "sw0", "--", "lsp-add", "sw0", "p0", "--"];
    args.extend(["lsp-set-addresses", "p0", "0a:00:00:00:00:01 10.0.0.1", "--"]);
    args.extend(more);
    dbs.nbctl(&args);
}

/// Waits until the SB is the translation again after someone else changed
/// it (each try an `nbctl --wait=sb sync`).
fn wait_put_back(dbs: &Dbs) {
    wait_until("the SB put back", BOUND, || {
        dbs.nbctl(&["--wait=sb", "sync"]);
        let (nb, sb) =
            (common::dump(&dbs.nb_remote(), "OVN_Northbound"), common::dump(&dbs.sb_remote(), "OVN_Southbound"));
        common::translated(&nb, &sb).is_ok()
    });
}

/// Rows someone else changes in the SB are put back: a port group's
/// address set emptied and its per-switch port group deleted behind the
/// daemon's back come back, and a port add after that (which changes no
/// group) leaves the SB the translation.
#[test]
fn address_sets_port_groups_and_other_rows_others_change_are_put_back() {
    let dbs = Dbs::standalone();
    let mut d = Northd::start(ours(), &dbs.nb_remote(), &dbs.sb_remote(), &[]);
    d.wait_status("active");
    switch_with_p0(&dbs, &["pg-add", "pg", "p0"]);
    dbs.nbctl(&["--wait=sb", "lsp-add", "sw0", "p1"]);
    let sb = dbs.sb_remote();
    sbctl(&sb, &["clear", "Address_Set", "pg_ip4", "addresses"]);
    let groups = sbctl(&sb, &["--bare", "--columns=_uuid", "find", "Port_Group", "ports=p0"]);
    sbctl(&sb, &["destroy", "Port_Group", groups.trim()]);
    // A row of a table whose last plans changed nothing (`Settled`).
    let dp = sbctl(&sb, &["--bare", "--columns=_uuid", "find", "Datapath_Binding", "external_ids:name=sw0"]);
    sbctl(&sb, &["set", "Datapath_Binding", dp.trim(), "external_ids:name=elsewhere"]);
    wait_put_back(&dbs);
    dbs.nbctl(&["--wait=sb", "lsp-add", "sw0", "p2"]);
    assert_translated(&dbs.nb_remote(), &sb);
    d.check_alive();
}

/// A table a plan changed is settled by that plan's commit, with the rows
/// its inserts created (`lflow::sync::Settled`): switches added together
/// (their datapath bindings inserted among other rows), then a port on
/// each, one change at a time (changes of ports only, whose run takes the
/// bindings as settled and refers to them by the rows the commit
/// created); a load balancer added, then changed by someone else in the
/// SB, then a port add: the SB is the translation after each.
#[test]
fn tables_a_commit_settled_are_what_it_wrote() {
    let dbs = Dbs::standalone();
    let mut d = Northd::start(ours(), &dbs.nb_remote(), &dbs.sb_remote(), &[]);
    d.wait_status("active");
    let sb = dbs.sb_remote();
    switch_with_p0(&dbs, &["ls-add", "sw1", "--", "ls-add", "sw2", "--", "lsp-add", "sw2", "q0"]);
    for (i, switch) in ["sw1", "sw2", "sw0", "sw1"].into_iter().enumerate() {
        dbs.nbctl(&["--wait=sb", "lsp-add", switch, &format!("{switch}-p{i}")]);
        assert_translated(&dbs.nb_remote(), &sb);
    }
    dbs.nbctl(&["--wait=sb", "lb-add", "lb0", "10.0.0.100:80", "10.0.0.1:8080", "--", "ls-lb-add", "sw0", "lb0"]);
    dbs.nbctl(&["--wait=sb", "lsp-add", "sw0", "p5"]);
    assert_translated(&dbs.nb_remote(), &sb);
    let lb = sbctl(&sb, &["--bare", "--columns=_uuid", "find", "Load_Balancer", "name=lb0"]);
    sbctl(&sb, &["set", "Load_Balancer", lb.trim(), "vips:\"10.0.0.200:80\"=\"10.0.0.1:8080\""]);
    dbs.nbctl(&["--wait=sb", "lsp-add", "sw0", "p6"]);
    wait_put_back(&dbs);
    d.check_alive();
}

/// An NB address set named as one northd makes itself (a port group's
/// `<group>_ip4`, `svc_monitor_mac`) is left out with a diagnostic naming
/// it, and the rest translated: the second SB row of one name made the
/// server refuse every transaction (so does the reference's, which never
/// commits again). Once the group goes, the NB set is translated again.
#[test]
fn an_address_set_named_as_one_northd_makes_is_left_out() {
    let dbs = Dbs::standalone();
    let mut d = Northd::start(ours(), &dbs.nb_remote(), &dbs.sb_remote(), &[]);
    d.wait_status("active");
    let sb = dbs.sb_remote();
    let addresses = |name: &str| {
        let found = sbctl(&sb, &["--bare", "--columns=addresses", "find", "Address_Set", &format!("name={name}")]);
        found.split_whitespace().map(str::to_string).collect::<Vec<_>>()
    };
    switch_with_p0(&dbs, &["create", "Address_Set", "name=pg_ip4", "addresses=1.1.1.1"]);
    assert_eq!(addresses("pg_ip4"), ["1.1.1.1"], "no group of that name yet");
    // (`--wait=sb` returning says the SB took the transaction.)
    dbs.nbctl(&[
        "--wait=sb",
        "pg-add",
        "pg",
        "p0",
        "--",
        "create",
        "Address_Set",
        "name=svc_monitor_mac",
        "addresses=2.2.2.2",
    ]);
    assert_eq!(addresses("pg_ip4"), ["10.0.0.1"], "the group's set");
    assert!(!addresses("svc_monitor_mac").contains(&"2.2.2.2".to_string()), "northd's own set");
    assert_translated(&dbs.nb_remote(), &sb);
    for name in ["pg_ip4", "svc_monitor_mac"] {
        let warned = d.log().lines().any(|l| {
            l.contains("|WARN|") && l.contains(&format!("table=Address_Set row={name} ")) && l.contains("name taken")
        });
        assert!(warned, "the NB set {name} is named in a warning:\n{}", d.diagnostics());
    }
    dbs.nbctl(&["--wait=sb", "pg-del", "pg"]);
    assert_eq!(addresses("pg_ip4"), ["1.1.1.1"], "the NB set's again once the group went");
    assert_translated(&dbs.nb_remote(), &sb);
    d.check_alive();
}

/// Two instances of ours on `dbs`: the first active, the second standby.
fn active_and_standby(dbs: &Dbs) -> (Northd, Northd) {
    let mut a = Northd::start(ours(), &dbs.nb_remote(), &dbs.sb_remote(), &[]);
    a.wait_status("active");
    let mut b = Northd::start(ours(), &dbs.nb_remote(), &dbs.sb_remote(), &[]);
    b.wait_status("standby");
    (a, b)
}

/// A standby runs the engine on every change, writing nothing, and takes
/// over without a recompute: its first cycle as the active instance
/// computes from the changes since its last run, and the SB it leaves is
/// the translation.
#[test]
fn a_standby_stays_warm_and_takes_over_without_a_recompute() {
    let dbs = Dbs::standalone();
    let (mut a, mut b) = active_and_standby(&dbs);
    dbs.nbctl(&["--wait=sb", "ls-add", "sw0", "--", "lsp-add", "sw0", "p0"]);
    dbs.nbctl(&["--wait=sb", "lsp-set-addresses", "p0", "0a:00:00:00:00:01 10.0.0.1"]);
    wait_until("the standby's engine to follow the changes", BOUND, || stat(&b, "lflow", "compute") >= 2);
    let (lflow, northd) = (stat(&b, "lflow", "recompute"), stat(&b, "northd", "recompute"));
    assert_eq!(lflow, 1, "one run from scratch, at the start");
    let before = testsupport::northd::sbctl(&dbs.sb_remote(), &["--bare", "--columns=_uuid", "list", "Logical_Flow"]);
    a.kill();
    b.wait_status("active");
    dbs.nbctl(&["--wait=sb", "sync"]);
    let after = testsupport::northd::sbctl(&dbs.sb_remote(), &["--bare", "--columns=_uuid", "list", "Logical_Flow"]);
    assert_eq!(before, after, "taking over rewrites no flow");
    dbs.nbctl(&["--wait=sb", "lsp-add", "sw0", "p1", "--", "lsp-set-addresses", "p1", "0a:00:00:00:00:02 10.0.0.2"]);
    assert_eq!(stat(&b, "lflow", "recompute"), lflow, "taking over needs no recompute");
    assert_eq!(stat(&b, "northd", "recompute"), northd, "taking over needs no recompute");
    assert_translated(&dbs.nb_remote(), &dbs.sb_remote());
    b.check_alive();
}

/// What a standby computed for NB alone (a port that came up, which
/// changes no SB row northd owns) while the active instance was frozen is
/// written once it takes over.
#[test]
fn a_standby_writes_the_nb_status_it_computed_once_it_takes_over() {
    let dbs = Dbs::standalone();
    let (mut a, mut b) = active_and_standby(&dbs);
    dbs.nbctl(&["--wait=sb", "ls-add", "sw0", "--", "lsp-add", "sw0", "p0"]);
    sbctl(&dbs.sb_remote(), &["chassis-add", "ch1", "geneve", "127.0.0.1"]);
    dbs.nbctl(&["--wait=sb", "sync"]);
    wait_until("the standby to follow", BOUND, || stat(&b, "northd", "compute") >= 1);
    let computes = stat(&b, "northd", "compute");
    a.signal(libc::SIGSTOP);
    sbctl(&dbs.sb_remote(), &["lsp-bind", "p0", "ch1"]);
    wait_until("the standby to compute the port up", BOUND, || stat(&b, "northd", "compute") > computes);
    let up = || dbs.nbctl(&["get", "Logical_Switch_Port", "p0", "up"]);
    assert_eq!(up().trim(), "false", "the frozen instance wrote nothing");
    a.kill();
    b.wait_status("active");
    wait_until("the port to be reported up", BOUND, || up().trim() == "true");
    dbs.nbctl(&["--wait=sb", "sync"]);
    assert_translated(&dbs.nb_remote(), &dbs.sb_remote());
    b.check_alive();
}

#[test]
fn a_burst_is_batched_and_a_reconnect_forces_a_recompute() {
    let mut dbs = Dbs::standalone();
    let mut d = Northd::start(ours(), &dbs.nb_remote(), &dbs.sb_remote(), &[]);
    d.wait_status("active");
    dbs.nbctl(&["--wait=sb", "sync"]);
    // 40 NB transactions queue up while the daemon is stopped.
    let before = engine_runs(&d);
    d.signal(libc::SIGSTOP);
    for i in 0..40 {
        dbs.nbctl(&["ls-add", &format!("burst{i}")]);
    }
    d.signal(libc::SIGCONT);
    dbs.nbctl(&["--wait=sb", "sync"]);
    let cycles = engine_runs(&d) - before;
    // The burst, its commit's echo, then the sync's SB and NB writes and
    // their echoes: a handful, not one per change.
    println!("a burst of 40 NB transactions and a sync took {cycles} recomputes");
    assert!(cycles <= 10, "{cycles} recomputes for a burst of 40 changes");
    assert_translated(&dbs.nb_remote(), &dbs.sb_remote());

    // A reconnect recomputes, although nothing changed.
    let before = engine_runs(&d);
    dbs.nb.restart();
    wait_until("a recompute after the NB reconnect", BOUND, || engine_runs(&d) > before);
    assert!(d.log().contains("reconnected: forcing a recompute"), "{}", d.diagnostics());

    // Bad NB data is logged (once) and the rest is translated.
    dbs.nbctl(&[
        "lsp-add",
        "burst0",
        "bad-mac",
        "--",
        "set",
        "Logical_Switch_Port",
        "bad-mac",
        "addresses=\"00:00:00:00:00:zz 10.0.0.2\"",
    ]);
    dbs.nbctl(&["--wait=sb", "sync"]);
    dbs.nbctl(&["--wait=sb", "sync"]);
    let warnings: Vec<String> =
        d.log().lines().filter(|l| l.contains("|WARN|") && l.contains("bad-mac")).map(str::to_owned).collect();
    assert_eq!(warnings.len(), 1, "logged once: {warnings:#?}");
    assert!(warnings[0].contains("skipped in translation"), "{}", warnings[0]);
    assert_translated(&dbs.nb_remote(), &dbs.sb_remote());
    d.check_alive();
}

#[test]
fn an_uninitialized_nb_gets_its_nb_global() {
    let nb = testsupport::OvsdbServer::start("ovn-nb.ovsschema");
    let sb = testsupport::OvsdbServer::start("ovn-sb.ovsschema");
    let mut d = Northd::start(ours(), &nb.remote(), &sb.remote(), &[]);
    d.wait_status("active");
    let nbctl = |args: &[&str]| testsupport::northd::nbctl(&nb.remote(), args);
    // As ovn-northd does: an NB_Global row appears, with northd's options.
    wait_until("NB_Global to be created", BOUND, || {
        nbctl(&["--columns=options", "list", "NB_Global"]).contains("max_tunid")
    });
    nbctl(&["--wait=sb", "sync"]);
    assert_translated(&nb.remote(), &sb.remote());
    d.check_alive();
}

/// An NB row using a feature the compiler does not translate yet is named
/// in the log, once, however many cycles follow.
#[test]
fn a_row_not_translated_yet_is_logged_once() {
    let dbs = Dbs::standalone();
    let mut d = Northd::start(ours(), &dbs.nb_remote(), &dbs.sb_remote(), &[]);
    d.wait_status("active");
    dbs.nbctl(&["--wait=sb", "lr-add", "nlr", "--", "lrp-add", "nlr", "nlrp", "00:00:00:00:ff:09", "10.9.0.1/24"]);
    dbs.nbctl(&["--wait=sb", "set", "Logical_Router_Port", "nlrp", r#"ipv6_prefix="fd00::/64""#]);
    for i in 0..3 {
        dbs.nbctl(&["--wait=sb", "ls-add", &format!("later{i}")]);
    }
    dbs.nbctl(&["--wait=sb", "sync"]);
    let warnings: Vec<String> = d
        .log()
        .lines()
        .filter(|l| {
            l.contains("|WARN|")
                && l.contains("table=Logical_Router_Port row=nlrp ")
                && l.contains("not translated yet")
        })
        .map(str::to_owned)
        .collect();
    assert_eq!(warnings.len(), 1, "logged once: {warnings:#?}\n{}", d.diagnostics());
    assert!(warnings[0].contains("IPv6 prefix delegation (ipv6_prefix)"), "{}", warnings[0]);
    assert_translated(&dbs.nb_remote(), &dbs.sb_remote());
    d.check_alive();
}

/// Regression: idle clients of the control socket took every file
/// descriptor, so that a database reconnect failed with "Too many open
/// files", and garbage on the socket was dropped without a word. Now
/// clients past the limit are refused (and logged) and the NB reconnect
/// goes through; garbage gets a log line.
#[test]
fn idle_control_clients_do_not_starve_a_database_reconnect() {
    use std::io::Write;
    use std::os::unix::net::UnixStream;

    let mut dbs = Dbs::standalone();
    let mut d = Northd::start(ours(), &dbs.nb_remote(), &dbs.sb_remote(), &[]);
    d.wait_status("active");
    dbs.nbctl(&["--wait=sb", "sync"]);

    // Garbage: a frame that is not JSON, and JSON that is not a request.
    for garbage in [&b"}not json{"[..], &b"[1,2]"[..]] {
        let mut c = UnixStream::connect(d.ctl()).unwrap();
        c.write_all(garbage).unwrap();
    }
    wait_until("garbage to be logged", BOUND, || {
        let log = d.log();
        log.contains("control socket: bad input") && log.contains("control socket: request is not JSON-RPC")
    });

    // The daemon gets 256 descriptors; 400 clients connect and stay idle.
    let limit = libc::rlimit { rlim_cur: 256, rlim_max: 256 };
    // SAFETY: prlimit only sets the limit of our own child process.
    let rc = unsafe { libc::prlimit(d.pid() as libc::pid_t, libc::RLIMIT_NOFILE, &limit, std::ptr::null_mut()) };
    assert_eq!(rc, 0, "prlimit: {}", std::io::Error::last_os_error());
    let idle: Vec<UnixStream> = (0..400).filter_map(|_| UnixStream::connect(d.ctl()).ok()).collect();
    assert!(idle.len() > 300, "only {} clients connected", idle.len());
    wait_until("refused clients to be logged", BOUND, || d.log().contains("control socket: too many clients"));

    // The NB restarts: the daemon reconnects and translates a change
    // (ovn-appctl is refused as well while the idle clients stay).
    let reconnects = d.log().matches("reconnected: forcing a recompute").count();
    dbs.nb.restart();
    wait_until("the NB reconnect", BOUND, || d.log().matches("reconnected: forcing a recompute").count() > reconnects);
    dbs.nbctl(&["--wait=sb", "ls-add", "after-restart"]);
    assert_translated(&dbs.nb_remote(), &dbs.sb_remote());
    assert!(!d.log().contains("Too many open files"), "{}", d.diagnostics());
    drop(idle);
    d.check_alive();
}

/// Regression: with `--ovnsb-db` naming a server without `OVN_Southbound`
/// the daemon stayed standby forever and logged nothing. It now says so,
/// naming the remote and the databases the server has, keeps retrying,
/// and works once the server serves the database.
#[test]
fn a_server_without_the_database_is_reported_until_it_serves_it() {
    let nb = testsupport::OvsdbServer::start("ovn-nb.ovsschema");
    testsupport::northd::nbctl(&nb.remote(), &["init"]);
    let mut sb = testsupport::OvsdbServer::start("ovn-nb.ovsschema");
    let mut d = Northd::start(ours(), &nb.remote(), &sb.remote(), &[]);
    wait_until("the wrong database to be logged", BOUND, || {
        d.log().lines().any(|l| {
            l.contains("|WARN|")
                && l.contains("does not serve the database")
                && l.contains("OVN_Southbound")
                && l.contains(&sb.remote())
                && l.contains("the server has: OVN_Northbound, _Server")
        })
    });
    assert_eq!(d.status().as_deref(), Some("standby"));
    sb.add_db("ovn-sb.ovsschema");
    d.wait_status("active");
    testsupport::northd::nbctl(&nb.remote(), &["--wait=sb", "ls-add", "sw"]);
    assert_translated(&nb.remote(), &sb.remote());
    d.check_alive();
}

/// Regression: a new port asking for dynamic addresses got its unicast
/// flow only at an unrelated recompute: the compiler read the NB
/// `dynamic_addresses` northd writes in the same cycle, whose echo the
/// daemon skips. With `--wait=sb`, the flow is there when ovn-nbctl returns.
#[test]
fn a_dynamic_port_has_its_flows_when_wait_sb_returns() {
    let dbs = Dbs::standalone();
    let mut d = Northd::start(ours(), &dbs.nb_remote(), &dbs.sb_remote(), &[]);
    d.wait_status("active");
    dbs.nbctl(&["--wait=sb", "ls-add", "sw", "--", "set", "Logical_Switch", "sw", "other_config:subnet=10.0.0.0/24"]);
    dbs.nbctl(&["--wait=sb", "lsp-add", "sw", "q", "--", "lsp-set-addresses", "q", "dynamic"]);
    let dynamic = dbs.nbctl(&["get", "Logical_Switch_Port", "q", "dynamic_addresses"]);
    let mac = dynamic.trim().trim_matches('"').split(' ').next().unwrap().to_string();
    let flows = sbctl(&dbs.sb_remote(), &["lflow-list", "sw"]);
    assert!(flows.contains(&format!("match=(eth.dst == {mac})")), "no unicast flow for {mac}:\n{flows}");
    assert_translated(&dbs.nb_remote(), &dbs.sb_remote());
    d.check_alive();
}

/// With `ignore_lsp_down=false` the ARP responder answers for a port only
/// once a chassis has bound it (as the reference does, which also writes
/// the NB `up` back whatever an operator sets there). The compiler takes
/// `up` from the SB binding, not from the NB column the daemon writes in
/// the same cycle and whose echo it skips: the flows follow the binding.
#[test]
fn arp_replies_follow_the_port_binding() {
    let dbs = Dbs::standalone();
    let mut d = Northd::start(ours(), &dbs.nb_remote(), &dbs.sb_remote(), &[]);
    d.wait_status("active");
    dbs.nbctl(&["set", "NB_Global", ".", "options:ignore_lsp_down=false"]);
    dbs.nbctl(&["--wait=sb", "ls-add", "sw", "--", "lsp-add", "sw", "vm"]);
    dbs.nbctl(&["--wait=sb", "lsp-set-addresses", "vm", "00:00:00:00:00:01 10.0.0.1"]);
    let replies =
        || sbctl(&dbs.sb_remote(), &["lflow-list", "sw"]).matches("arp.tpa == 10.0.0.1 && arp.op == 1").count();
    assert_eq!(replies(), 0, "vm is down");
    sbctl(&dbs.sb_remote(), &["chassis-add", "ch1", "geneve", "127.0.0.1"]);
    sbctl(&dbs.sb_remote(), &["lsp-bind", "vm", "ch1"]);
    // No NB change follows to trigger another recompute: the binding's
    // own must give the flows (the reply and the owner's own request).
    wait_until("the ARP replies of the bound port", Duration::from_secs(10), || replies() == 2);
    assert_eq!(dbs.nbctl(&["get", "Logical_Switch_Port", "vm", "up"]).trim(), "true");
    dbs.nbctl(&["--wait=sb", "sync"]);
    assert_translated(&dbs.nb_remote(), &dbs.sb_remote());
    d.check_alive();
}
