//! `ovn-trace` comparison: the microflows of a scenario's `NN-name.traces`
//! file, traced with the real `ovn-trace --summary --minimal` against the SB
//! of a finished run (the reference's or ours), normalized, and compared
//! line for line. One `ovn-trace` daemon per run reads the SB once and
//! answers every trace of the scenario on its control socket (a process per
//! trace would read and parse the whole SB each time).
//!
//! Format of a `.traces` file: one trace per line,
//! `[--ovn-trace-opts] DATAPATH 'MICROFLOW'` with shell quoting; `#` starts a
//! comment, and a comment line describes the trace that follows it.
//! Every scenario has one (a missing file is an error). A trace whose
//! output varies between two runs of the reference (`conformance
//! --reference` shows them) is left out: besides the limits listed in
//! `shared/conformance/README.md`, these are multicast and broadcast
//! packets that leave through a localnet or router port (two egress flows,
//! `eth.mcast` and the port's own, overlap at the same priority and
//! `ovn-trace` picks either), and ECMP `select`s unless `--select-id`
//! names the member.
//!
//! What normalization removes, and why (nothing else is touched):
//! - the tunnel keys in the OpenFlow form of a packet (`reg14=0x3`,
//!   `reg15=`, `metadata=`), which `ovn-trace` prints for the microflow
//!   first and for the packet of each `LOG:` action: keys are allocated in
//!   UUID order, so two correct runs differ there; each is replaced by the
//!   name of its port (in the datapath whose pipeline the line is in) or
//!   datapath, so a key that names the wrong port still shows;
//! - `SB_Global options:mac_prefix` and `svc_monitor_mac`, random per run:
//!   replaced by `MAC_PREFIX` and `SVC_MONITOR_MAC` wherever they appear
//!   (dynamic MACs, service monitor replies).
//!
//! What it must never do: treat a failing trace as a harness error (a
//! translation that lacks a datapath or port makes `ovn-trace` fail; that
//! is a difference to report, so the error becomes the output), wait for
//! `ovn-trace` without a bound, or leave an `ovn-trace` daemon behind.

use std::collections::HashMap;
use std::io::{ErrorKind, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use ovsdb::replica::Row;
use ovsdb::{Atom, Replica};
use regex::{Captures, Regex};
use serde_json::Value;
use thiserror::Error;

use crate::run::{run_reference, Outcome, RunError};
use crate::scenario::{scenario_dir, split_words, Scenario};

/// Bound on an `ovn-trace` daemon start and on one trace; a few
/// milliseconds is usual.
const TRACE_TIMEOUT: Duration = Duration::from_secs(30);
/// How many lines of each output a difference report shows.
const REPORT_LINES: usize = 12;
/// How often a starting `ovn-trace` daemon is checked for readiness.
const POLL: Duration = Duration::from_millis(5);

/// Errors of trace files and of running `ovn-trace`.
#[derive(Debug, Error)]
pub enum TraceError {
    /// The `.traces` file could not be read.
    #[error("{path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    /// A line of a `.traces` file is not `[OPTS] DATAPATH MICROFLOW`.
    #[error("{name}.traces:{line}: {reason}")]
    Parse { name: String, line: usize, reason: String },
    /// `ovn-trace` could not be started or its output read.
    #[error("ovn-trace: {0}")]
    Spawn(std::io::Error),
    /// The `ovn-trace` daemon did not start.
    #[error("ovn-trace daemon: {0}")]
    Daemon(String),
    /// The reference run to compare with failed.
    #[error("reference run: {0}")]
    Reference(#[from] RunError),
}

/// One microflow to trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    /// 1-based line in the `.traces` file.
    pub line: usize,
    /// The comment lines just above it, joined.
    pub comment: String,
    /// `ovn-trace` options such as `--ct=new` or `--lb-dst=IP:PORT`.
    pub opts: Vec<String>,
    pub datapath: String,
    pub microflow: String,
}

/// Parses the text of `NAME.traces`.
pub fn parse(name: &str, text: &str) -> Result<Vec<Trace>, TraceError> {
    let mut traces = Vec::new();
    let mut comment = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let t = raw.trim();
        if t.is_empty() {
            comment.clear();
            continue;
        }
        if let Some(c) = t.strip_prefix('#') {
            comment.push(c.trim().to_string());
            continue;
        }
        let bad = |reason: &str| TraceError::Parse { name: name.to_string(), line, reason: reason.to_string() };
        let mut words = split_words(t).ok_or_else(|| bad("unterminated quote"))?;
        if words.len() < 2 {
            return Err(bad("expected [OPTIONS] DATAPATH 'MICROFLOW'"));
        }
        let microflow = words.pop().unwrap_or_default();
        let datapath = words.pop().unwrap_or_default();
        if datapath.starts_with('-') {
            return Err(bad("expected a datapath before the microflow"));
        }
        if let Some(w) = words.iter().find(|w| !w.starts_with("--")) {
            return Err(bad(&format!("{w:?} is not an option")));
        }
        traces.push(Trace { line, comment: comment.join(" "), opts: words, datapath, microflow });
        comment.clear();
    }
    Ok(traces)
}

/// The traces of scenario `name` (`scenarios/NAME.traces`). Every
/// scenario has one: a missing file is an error, not a scenario without
/// traces.
pub fn load(name: &str) -> Result<Vec<Trace>, TraceError> {
    let path = scenario_dir().join(format!("{name}.traces"));
    match std::fs::read_to_string(&path) {
        Ok(text) => parse(name, &text),
        Err(source) => Err(TraceError::Read { path, source }),
    }
}

/// Panics, saying how to install it, when `ovn-trace` is missing.
pub fn require_ovn_trace() {
    let found = Command::new("ovn-trace").arg("--version").output().is_ok_and(|o| o.status.success());
    assert!(found, "ovn-trace is not installed: run scripts/test, which installs it");
}

/// Waits for `child` to exit, at most `TRACE_TIMEOUT`; kills it after that.
fn wait_bounded(child: &mut Child) -> Result<Option<ExitStatus>, TraceError> {
    let deadline = Instant::now() + TRACE_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().map_err(TraceError::Spawn)? {
            return Ok(Some(status));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(POLL);
    }
}

/// An `ovn-trace` daemon that has read one SB (it reads it once, when it
/// starts) and answers `trace` requests on its control socket: one process
/// for all the traces of a run instead of one per trace, each of which
/// would read and parse the whole SB again. It exits by itself when the SB
/// server goes; it is also told to exit, or killed, on drop.
struct Daemon {
    pid: i32,
    ctl: PathBuf,
    /// The daemon stopped answering (it crashed, or a trace timed out).
    dead: bool,
}

impl Daemon {
    /// Starts a daemon on the SB at `sb_remote`; its files are
    /// `scratch/ovn-trace-N.*`. Returns once it has read the SB.
    fn start(sb_remote: &str, scratch: &Path, n: usize) -> Result<Daemon, TraceError> {
        let file = |ext: &str| scratch.join(format!("ovn-trace-{n}.{ext}"));
        let (ctl, pidfile, log) = (file("ctl"), file("pid"), file("log"));
        let mut cmd = Command::new("ovn-trace");
        cmd.arg("--detach")
            .arg("--no-chdir")
            .arg(format!("--pidfile={}", pidfile.display()))
            .arg(format!("--unixctl={}", ctl.display()))
            .arg(format!("--log-file={}", log.display()))
            .arg("-vconsole:off")
            .arg(format!("--db={sb_remote}"));
        for var in ["OVS_RUNDIR", "OVS_LOGDIR", "OVN_RUNDIR", "OVN_LOGDIR"] {
            cmd.env(var, scratch);
        }
        let err_path = file("err");
        let err = std::fs::File::create(&err_path).map_err(TraceError::Spawn)?;
        let mut parent =
            cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(err).spawn().map_err(TraceError::Spawn)?;
        let failed = |why: String| {
            let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
            TraceError::Daemon(format!("{why}: {}", stderr.trim()))
        };
        match wait_bounded(&mut parent)? {
            Some(s) if s.success() => {}
            Some(s) => return Err(failed(format!("exited with {s}"))),
            None => return Err(failed(format!("not ready after {}s", TRACE_TIMEOUT.as_secs()))),
        }
        let pid = std::fs::read_to_string(&pidfile)
            .ok()
            .and_then(|p| p.trim().parse().ok())
            .ok_or_else(|| failed(format!("no pid in {}", pidfile.display())))?;
        Ok(Daemon { pid, ctl, dead: false })
    }

    /// Sends one unixctl request and returns its result, or the error text
    /// of the reply or of the connection (which marks the daemon dead).
    fn call(&mut self, method: &str, params: &[&str]) -> Result<String, String> {
        let request = serde_json::json!({ "id": 0, "method": method, "params": params });
        let reply = UnixStream::connect(&self.ctl)
            .and_then(|mut s| {
                s.set_read_timeout(Some(TRACE_TIMEOUT))?;
                s.set_write_timeout(Some(TRACE_TIMEOUT))?;
                s.write_all(request.to_string().as_bytes())?;
                let mut values = serde_json::Deserializer::from_reader(&s).into_iter::<Value>();
                values
                    .next()
                    .unwrap_or_else(|| Err(serde_json::Error::io(ErrorKind::UnexpectedEof.into())))
                    .map_err(std::io::Error::from)
            })
            .map_err(|e| {
                self.dead = true;
                format!("no reply from the ovn-trace daemon: {e}")
            })?;
        match (&reply["result"], &reply["error"]) {
            (Value::String(r), Value::Null) => Ok(r.clone()),
            (_, Value::String(e)) => Err(e.trim_end().to_string()),
            _ => Err(format!("unexpected reply {reply}")),
        }
    }

    /// Traces `t`. The result is the trace, or the error `ovn-trace` gave
    /// (a difference to report, not an error of the harness).
    fn trace(&mut self, t: &Trace) -> String {
        let mut params: Vec<&str> = vec!["--summary", "--minimal"];
        params.extend(t.opts.iter().map(String::as_str));
        params.push(&t.datapath);
        params.push(&t.microflow);
        self.call("trace", &params).unwrap_or_else(|e| format!("ovn-trace failed: {e}"))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if !self.dead && self.call("exit", &[]).is_ok() {
            return;
        }
        // Only the process we started: the pid may have been reused since.
        let cmdline = std::fs::read(format!("/proc/{}/cmdline", self.pid)).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(&*self.ctl.to_string_lossy()) {
            // SAFETY: kill has no memory effects on this process.
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
        }
    }
}

/// Rewrites what legitimately differs between two correct runs in the
/// output of `ovn-trace` (see the module documentation).
pub struct Normalizer {
    /// Datapath name -> (port tunnel key -> port name).
    ports: HashMap<String, HashMap<i64, String>>,
    /// Datapath tunnel key -> name.
    datapaths: HashMap<i64, String>,
    /// Random MACs and their placeholders.
    macs: Vec<(String, &'static str)>,
    key_re: Regex,
    dp_re: Regex,
}

fn string_of(row: &Row, col: &str) -> Option<String> {
    row.get(col).as_atom().and_then(Atom::as_str).map(str::to_string)
}

fn int_of(row: &Row, col: &str) -> Option<i64> {
    row.get(col).as_atom().and_then(Atom::as_integer)
}

fn map_get(row: &Row, col: &str, key: &str) -> Option<String> {
    row.get(col).get(&Atom::string(key)).and_then(Atom::as_str).map(str::to_string)
}

impl Normalizer {
    /// Learns the keys and random values of this SB.
    pub fn new(sb: &Replica) -> Normalizer {
        let rows = |t: &str| sb.table(t).map(|t| t.rows().collect::<Vec<_>>()).unwrap_or_default();
        let mut dp_names = HashMap::new();
        let mut datapaths = HashMap::new();
        for dp in rows("Datapath_Binding") {
            let name = map_get(dp, "external_ids", "name").unwrap_or_else(|| dp.uuid().to_string());
            if let Some(key) = int_of(dp, "tunnel_key") {
                datapaths.insert(key, name.clone());
            }
            dp_names.insert(dp.uuid(), name);
        }
        let mut ports: HashMap<String, HashMap<i64, String>> = HashMap::new();
        for (table, col) in [("Port_Binding", "logical_port"), ("Multicast_Group", "name")] {
            for pb in rows(table) {
                let dp = pb.get("datapath").as_atom().and_then(Atom::as_uuid).and_then(|u| dp_names.get(&u));
                if let (Some(dp), Some(key), Some(name)) = (dp, int_of(pb, "tunnel_key"), string_of(pb, col)) {
                    ports.entry(dp.clone()).or_default().insert(key, name);
                }
            }
        }
        let mut macs = Vec::new();
        if let Some(g) = rows("SB_Global").first() {
            for (opt, placeholder) in [("svc_monitor_mac", "SVC_MONITOR_MAC"), ("mac_prefix", "MAC_PREFIX")] {
                if let Some(m) = map_get(g, "options", opt).filter(|m| !m.is_empty()) {
                    macs.push((m, placeholder));
                }
            }
        }
        Normalizer {
            ports,
            datapaths,
            macs,
            key_re: Regex::new(r"\b(reg14|reg15|metadata)=0x([0-9a-f]+)\b").expect("static regex"),
            dp_re: Regex::new(r#"^(?:ingress|egress)\(dp="([^"]*)""#).expect("static regex"),
        }
    }

    /// Normalizes the output of tracing a microflow on `datapath`. Port keys
    /// are looked up in the datapath whose pipeline the line is in: the
    /// summary nests `ingress(dp="NAME", ...) {` blocks.
    pub fn output(&self, datapath: &str, text: &str) -> String {
        let mut lines = Vec::new();
        let mut dps = vec![datapath.to_string()];
        for line in text.lines() {
            let current = dps.last().map_or(datapath, String::as_str);
            let mut norm = self.flow_keys(current, line);
            for (mac, placeholder) in &self.macs {
                norm = norm.replace(mac.as_str(), placeholder);
            }
            let t = line.trim();
            if t.ends_with('{') {
                let dp = self.dp_re.captures(t).map_or_else(|| current.to_string(), |c| c[1].to_string());
                dps.push(dp);
            } else if t.starts_with('}') && dps.len() > 1 {
                dps.pop();
            }
            lines.push(norm);
        }
        lines.join("\n")
    }

    /// Replaces the tunnel keys in a packet's OpenFlow form (the microflow
    /// printed first, the packet of a `LOG:` line) by names.
    fn flow_keys(&self, datapath: &str, line: &str) -> String {
        self.key_re
            .replace_all(line, |c: &Captures| {
                let key = i64::from_str_radix(&c[2], 16).ok();
                let name = match &c[1] {
                    "metadata" => key.and_then(|k| self.datapaths.get(&k)),
                    _ => key.and_then(|k| self.ports.get(datapath)?.get(&k)),
                };
                match name {
                    Some(n) => format!("{}=\"{n}\"", &c[1]),
                    None => format!("{}=<unknown key {}>", &c[1], &c[2]),
                }
            })
            .into_owned()
    }
}

/// Traces every microflow against a finished run's SB (its servers still
/// up) and returns the normalized outputs, in order. A daemon that stops
/// answering is replaced for the next trace.
pub fn run_all(run: &Outcome, traces: &[Trace]) -> Result<Vec<String>, TraceError> {
    let norm = Normalizer::new(&run.sb);
    let (remote, scratch) = (run.dbs.sb_remote(), run.dbs.path(""));
    let mut started = 0;
    let mut daemon: Option<Daemon> = None;
    let mut outputs = Vec::with_capacity(traces.len());
    for t in traces {
        let d = match daemon.take() {
            Some(d) if !d.dead => daemon.insert(d),
            _ => {
                started += 1;
                daemon.insert(Daemon::start(&remote, &scratch, started)?)
            }
        };
        outputs.push(norm.output(&t.datapath, &d.trace(t)));
    }
    Ok(outputs)
}

/// Runs the reference ovn-northd on `sc` and compares its traces with those
/// of `actual`, a finished run of the same scenario (ours, or a second run
/// of the reference to check the normalization). A scenario without a
/// `.traces` file is an error; one whose file holds no trace compares as
/// 0 / 0 and starts nothing.
pub fn compare_with_reference(sc: &Scenario, actual: &Outcome) -> Result<Comparison, TraceError> {
    let traces = load(&sc.name)?;
    if traces.is_empty() {
        return Ok(Comparison::default());
    }
    let reference = run_reference(sc)?;
    let expected = run_all(&reference, &traces)?;
    drop(reference);
    let got = run_all(actual, &traces)?;
    Ok(compare(&sc.name, &traces, &expected, &got))
}

/// The comparison of one scenario's traces.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Comparison {
    pub identical: usize,
    pub total: usize,
    /// One report per differing trace: where it is, and both outputs from
    /// the first differing line.
    pub differences: Vec<String>,
}

/// Compares expected (reference) and actual outputs of the same traces.
pub fn compare(name: &str, traces: &[Trace], expected: &[String], actual: &[String]) -> Comparison {
    let mut c = Comparison { total: traces.len(), ..Comparison::default() };
    for ((t, e), a) in traces.iter().zip(expected).zip(actual) {
        if e == a {
            c.identical += 1;
            continue;
        }
        let (el, al): (Vec<&str>, Vec<&str>) = (e.lines().collect(), a.lines().collect());
        let first = el.iter().zip(&al).take_while(|(x, y)| x == y).count();
        let tail = |v: &[&str]| {
            let rest = v.get(first..).unwrap_or_default();
            let mut shown: Vec<String> = rest.iter().take(REPORT_LINES).map(|l| format!("      {l}")).collect();
            if rest.len() > REPORT_LINES {
                shown.push(format!("      ... {} more lines", rest.len() - REPORT_LINES));
            }
            shown.join("\n")
        };
        let opts: String = t.opts.iter().map(|o| format!("{o} ")).collect();
        c.differences.push(format!(
            "  {name}.traces:{} ({}): {opts}{}\n    from output line {}, reference:\n{}\n    ours:\n{}",
            t.line,
            t.comment,
            t.datapath,
            first + 1,
            tail(&el),
            tail(&al)
        ));
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use ovsdb::proto::update::{decode_table_updates, UpdateFormat};
    use ovsdb::DatabaseSchema;
    use std::sync::Arc;

    #[test]
    fn parses_options_datapath_microflow_and_comments() {
        let text = "# unicast\n# two lines\nsw0 'inport == \"p1\" && ip4'\n\n--ct=new --lb-dst=10.0.0.1:80 lr0 'ip4.dst == 1.1.1.1'\n";
        let t = parse("x", text).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(
            t[0],
            Trace {
                line: 3,
                comment: "unicast two lines".into(),
                opts: vec![],
                datapath: "sw0".into(),
                microflow: "inport == \"p1\" && ip4".into(),
            }
        );
        assert_eq!(t[1].opts, ["--ct=new", "--lb-dst=10.0.0.1:80"]);
        assert_eq!((t[1].line, t[1].comment.as_str(), t[1].datapath.as_str()), (5, "", "lr0"));
    }

    #[test]
    fn rejects_malformed_lines() {
        for bad in ["sw0", "--ct=new 'ip4'", "sw0 'ip4", "extra sw0 'ip4'"] {
            assert!(matches!(parse("x", bad), Err(TraceError::Parse { line: 1, .. })), "{bad}");
        }
    }

    #[test]
    fn every_scenario_traces_file_parses() {
        let dir = scenario_dir();
        let mut n = 0;
        for e in std::fs::read_dir(&dir).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            if let Some(stem) = name.strip_suffix(".traces") {
                assert!(dir.join(format!("{stem}.nbctl")).is_file(), "{name} has no scenario");
                n += load(stem).unwrap().len();
            }
        }
        assert!(n > 0, "no traces found in {}", dir.display());
    }

    fn sb(dp_key: i64, port_key: i64, prefix: &str) -> Replica {
        let path = crate::run::repo_root().join("schemas/ovn-sb.ovsschema");
        let schema = DatabaseSchema::from_json_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let mut r = Replica::new(Arc::new(schema));
        let text = format!(
            r#"{{"SB_Global": {{"00000000-0000-0000-0000-000000000001": {{"initial": {{"options": ["map", [["mac_prefix", "{prefix}"]]]}}}}}},
               "Datapath_Binding": {{"00000000-0000-0000-0000-000000000002": {{"initial": {{"tunnel_key": {dp_key}, "external_ids": ["map", [["name", "sw0"]]]}}}},
                                     "00000000-0000-0000-0000-000000000004": {{"initial": {{"tunnel_key": {}, "external_ids": ["map", [["name", "lr0"]]]}}}}}},
               "Port_Binding": {{"00000000-0000-0000-0000-000000000003": {{"initial": {{"logical_port": "p1", "tunnel_key": {port_key}, "datapath": ["uuid", "00000000-0000-0000-0000-000000000002"]}}}},
                                 "00000000-0000-0000-0000-000000000005": {{"initial": {{"logical_port": "lr0-sw0", "tunnel_key": {port_key}, "datapath": ["uuid", "00000000-0000-0000-0000-000000000004"]}}}}}}}}"#,
            dp_key + 1
        );
        let updates = decode_table_updates(&text, UpdateFormat::Update2, r.schema()).unwrap();
        r.apply(updates).unwrap();
        r
    }

    #[test]
    fn keys_and_mac_prefix_normalized() {
        let out = |dp: i64, port: i64, prefix: &str| {
            let text = format!(
                "# icmp,reg14={port:#x},metadata={dp:#x},dl_src=00:00:00:00:00:01\neth.src = {prefix}:00:00:0b;\n"
            );
            Normalizer::new(&sb(dp, port, prefix)).output("sw0", &text)
        };
        let a = out(1, 3, "0a:1b:2c");
        assert_eq!(a, "# icmp,reg14=\"p1\",metadata=\"sw0\",dl_src=00:00:00:00:00:01\neth.src = MAC_PREFIX:00:00:0b;");
        assert_eq!(a, out(7, 12, "02:aa:bb"));
        // A key that names no port stays visible as a difference.
        let unknown = Normalizer::new(&sb(1, 3, "0a:1b:2c")).output("sw0", "# ip,reg14=0x9");
        assert_eq!(unknown, "# ip,reg14=<unknown key 9>");
    }

    #[test]
    fn log_packet_keys_named_in_the_enclosing_datapath() {
        let text = |k: i64| {
            format!(
                "ingress(dp=\"sw0\", inport=\"p1\") {{\n    ingress(dp=\"lr0\", inport=\"lr0-sw0\") {{\n        \
                 LOG: packet=\"tcp,reg14={k:#x}\";\n    }};\n    LOG: packet=\"tcp,reg14={k:#x}\";\n}};"
            )
        };
        let a = Normalizer::new(&sb(1, 3, "0a:1b:2c")).output("sw0", &text(3));
        assert!(a.contains("        LOG: packet=\"tcp,reg14=\"lr0-sw0\"\";\n    };"), "{a}");
        assert!(a.contains("    LOG: packet=\"tcp,reg14=\"p1\"\";\n};"), "{a}");
        assert_eq!(a, Normalizer::new(&sb(5, 8, "0a:1b:2c")).output("sw0", &text(8)));
    }

    #[test]
    fn compare_counts_and_reports_first_difference() {
        let traces = parse("x", "# a\nsw0 'ip4'\n# b\nsw0 'ip6'\n").unwrap();
        let e = ["x\ny\nz".to_string(), "same".to_string()];
        let a = ["x\nY\nz".to_string(), "same".to_string()];
        let c = compare("x", &traces, &e, &a);
        assert_eq!((c.identical, c.total, c.differences.len()), (1, 2, 1));
        assert!(c.differences[0].contains("x.traces:2 (a)"), "{}", c.differences[0]);
        assert!(c.differences[0].contains("from output line 2"), "{}", c.differences[0]);
        assert!(c.differences[0].contains("      Y\n      z"), "{}", c.differences[0]);
    }
}
