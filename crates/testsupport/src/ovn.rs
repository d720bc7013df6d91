//! A whole OVN deployment on one machine, for end-to-end packet tests: the
//! Northbound and Southbound `ovsdb-server`s and a northd ([`Central`]), a
//! hypervisor made of `ovs-vswitchd` with the userspace datapath and
//! `ovn-controller` ([`Chassis`]), and VIFs ([`Vif`]): OVS internal ports
//! moved into network namespaces of their own, where `ping` runs. A
//! chassis may also have provider bridges (`ovn-bridge-mappings`) with
//! hosts outside OVN on them, the external network of a localnet port.
//!
//! The northd is a parameter: any binary that takes ovn-northd's options,
//! ours (`ovn-northd-rs`) or the reference `/usr/bin/ovn-northd`.
//!
//! Isolation: every chassis runs in a private network namespace, so the tap
//! devices the userspace datapath creates never meet the host's or another
//! test's; every daemon's run, log, database and configuration directories
//! (`OVS_*DIR`, `OVN_*DIR`: control sockets, `br-int.mgmt`, logs, and the
//! `system-id-override` file ovn-controller would read from `/etc/ovn`) are
//! its temporary directory. A namespace is held by a `sleep` process, not by
//! a name under `/run/netns`, so it vanishes with its last process, taking
//! its interfaces along.
//!
//! Order matters: ovn-controller 23.03.1 dies of SIGSEGV at its first run
//! when the Southbound database has no `SB_Global` row, which the northd
//! creates. [`Central::start`] returns only once that row exists, and
//! [`Chassis::start`] refuses a Southbound database without it. Read-only
//! tools only look at the Southbound database here: every `ovn-sbctl`
//! command, even `list`, inserts a missing `SB_Global`, which would hide a
//! northd that does not.
//!
//! What it must never do: leave a process, a namespace or an interface
//! behind (every process is killed and reaped on drop, and dies with the
//! test through `PR_SET_PDEATHSIG` even when the test is SIGKILLed, which
//! also ends its namespaces); touch the host's network or `/var/run`; wait
//! without a bound. It needs root (network namespaces, tap devices) and says
//! so when it does not have it.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use crate::northd::{try_nbctl, Northd};
use crate::{
    die_with_parent, output_of, poll_until, require_tool, set_rundirs, tail, temp_dir, try_ovsdb_client, OvsdbServer,
    TIMEOUT,
};

/// Bound on any one run of `ovs-vsctl` (its own `--timeout` option).
const CTL_TIMEOUT: &str = "--timeout=60";

/// Panics unless the test runs as root, which namespaces and taps need.
fn require_root() {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        panic!("end-to-end tests need root (network namespaces, tap devices): run scripts/test as root");
    }
    if !Path::new("/dev/net/tun").exists() {
        panic!("end-to-end tests need /dev/net/tun for the userspace datapath's tap devices");
    }
}

/// A child process with its standard output and error in a file; killed
/// (SIGKILL) and reaped on drop.
struct Process {
    /// What it is, for messages.
    name: String,
    child: Option<Child>,
    /// Its own log file (`--log-file`), if it has one.
    log: Option<PathBuf>,
    /// Where its standard output and error go.
    output: PathBuf,
}

impl Process {
    /// Spawns `command` (already set up to die with its parent) with its
    /// output in `<dir>/<name>.out`.
    fn spawn(name: &str, dir: &Path, log: Option<PathBuf>, mut command: Command) -> Process {
        let output = dir.join(format!("{name}.out"));
        let file = File::create(&output).expect("cannot create an output file");
        let err = file.try_clone().expect("cannot duplicate a file descriptor");
        let child = command
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {name} ({command:?}): {err}"));
        Process { name: name.to_owned(), child: Some(child), log, output }
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().expect("the process is gone").id()
    }

    /// Err if the process has exited.
    fn check_alive(&mut self) -> Result<(), String> {
        let exited = self.child.as_mut().and_then(|child| child.try_wait().ok().flatten());
        match exited {
            Some(status) => Err(format!("{} exited ({status})", self.name)),
            None => Ok(()),
        }
    }

    /// The end of its log and of its output, for failure messages.
    fn diagnostics(&self) -> String {
        let mut text = String::new();
        if let Some(log) = &self.log {
            text += &format!("--- {}:\n{}\n", log.display(), tail(log, 25));
        }
        text + &format!("--- {}:\n{}", self.output.display(), tail(&self.output, 10))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // An error means it already exited; `wait` reaps it either way.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Waits (bounded by `TIMEOUT`) until `path` accepts unix connections;
/// panics with the process's diagnostics if it exits first (at once, not at
/// the bound) or the socket never opens.
fn wait_for_socket(process: &mut Process, path: &Path) {
    let result = poll_ok(TIMEOUT, || {
        process.check_alive().map_err(Unmet::Fatal)?;
        UnixStream::connect(path).map(drop).map_err(|err| Unmet::Retry(format!("{} not open: {err}", path.display())))
    });
    if let Err(err) = result {
        panic!("{}: {err}\n{}", process.name, process.diagnostics());
    }
}

/// Why the check of a [`poll_ok`] wait did not pass.
#[derive(Debug)]
pub enum Unmet {
    /// Not yet: checked again until the bound.
    Retry(String),
    /// Never will (a daemon exited): the wait ends at once.
    Fatal(String),
}

impl From<String> for Unmet {
    fn from(reason: String) -> Unmet {
        Unmet::Retry(reason)
    }
}

/// Calls `check` every 20 ms until it returns Ok (then Ok), returns
/// [`Unmet::Fatal`] (then its reason, at once) or `timeout` passes (then the
/// last reason), for waits whose failure message needs more than a name.
pub fn poll_ok(timeout: Duration, mut check: impl FnMut() -> Result<(), Unmet>) -> Result<(), String> {
    let mut last = Ok(());
    poll_until(timeout, || {
        last = check();
        !matches!(last, Err(Unmet::Retry(_)))
    });
    last.map_err(|(Unmet::Retry(reason) | Unmet::Fatal(reason))| reason)
}

/// A private network namespace, held by a `sleep` process; it ends when
/// that process and every other process in it have exited.
pub struct Netns {
    holder: Process,
    /// `/proc/<holder>/ns/net`, open (close-on-exec) for `setns`.
    handle: File,
}

impl Netns {
    /// Creates a namespace with its loopback interface up; output of the
    /// holder goes to `dir`.
    pub fn new(name: &str, dir: &Path) -> Netns {
        require_root();
        let mut command = Command::new(require_tool("sleep"));
        command.arg("infinity");
        die_with_parent(&mut command);
        // SAFETY: unshare is async-signal-safe and touches no memory of ours.
        unsafe {
            command.pre_exec(|| {
                if libc::unshare(libc::CLONE_NEWNET) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
        // spawn returns after the exec, hence after the unshare.
        let holder = Process::spawn(&format!("netns-{name}"), dir, None, command);
        let path = format!("/proc/{}/ns/net", holder.pid());
        let handle = File::open(&path).unwrap_or_else(|err| panic!("cannot open {path}: {err}"));
        let netns = Netns { holder, handle };
        netns.run("ip", &["link", "set", "lo", "up"]);
        netns
    }

    /// The holder's pid: `ip link set DEV netns PID` moves a device here.
    pub fn pid(&self) -> u32 {
        self.holder.pid()
    }

    /// A command for the tool `program` that runs in this namespace and dies
    /// with the thread that spawns it.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new(require_tool(program));
        let fd = self.handle.as_raw_fd();
        // SAFETY: setns is async-signal-safe and touches no memory. Should
        // this Netns be dropped before the spawn, `fd` is closed or names
        // another file: setns fails, and so does the spawn.
        unsafe {
            command.pre_exec(move || {
                if libc::setns(fd, libc::CLONE_NEWNET) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
        die_with_parent(&mut command);
        command
    }

    /// Runs `program args` in this namespace; its standard output, or its
    /// status and standard error.
    pub fn try_run(&self, program: &str, args: &[&str]) -> Result<String, String> {
        output_of(self.command(program).args(args))
    }

    /// Like [`Netns::try_run`]; panics on failure.
    pub fn run(&self, program: &str, args: &[&str]) -> String {
        self.try_run(program, args).unwrap_or_else(|err| panic!("{program} {} (in a netns): {err}", args.join(" ")))
    }
}

/// The central part: Northbound and Southbound `ovsdb-server`s on unix
/// sockets, and one northd between them.
pub struct Central {
    northd: Northd,
    nb: OvsdbServer,
    sb: OvsdbServer,
}

impl Central {
    /// Starts the databases and `northd` (a binary taking ovn-northd's
    /// options, run by [`Northd`]); returns once northd says it is active
    /// and has created `SB_Global`, so that a chassis may start.
    pub fn start(northd: &Path) -> Central {
        let nb = OvsdbServer::start("ovn-nb.ovsschema");
        let sb = OvsdbServer::start("ovn-sb.ovsschema");
        let mut northd = Northd::start(northd, &nb.remote(), &sb.remote(), &[]);
        northd.wait_status("active");
        let mut central = Central { northd, nb, sb };
        let remote = central.sb.remote();
        let result = poll_ok(TIMEOUT, || {
            central.northd.try_alive().map_err(Unmet::Fatal)?;
            if has_sb_global(&remote)? {
                Ok(())
            } else {
                Err(Unmet::Retry("the Southbound database has no SB_Global row".to_owned()))
            }
        });
        if let Err(err) = result {
            panic!("northd did not initialize the Southbound database: {err}\n{}", central.diagnostics());
        }
        central
    }

    /// Stops the northd (SIGKILL) and starts `northd` in its place on the
    /// same databases; returns once the new one says it is active.
    pub fn replace_northd(&mut self, northd: &Path) {
        self.northd.kill();
        self.northd = Northd::start(northd, &self.nb.remote(), &self.sb.remote(), &[]);
        self.northd.wait_status("active");
    }

    /// Everything the Northbound database holds now.
    pub fn nb_snapshot(&self) -> Snapshot {
        Snapshot::take(&self.nb.remote(), "OVN_Northbound").unwrap_or_else(|err| panic!("{err}"))
    }

    /// Everything the Southbound database holds now.
    pub fn sb_snapshot(&self) -> Snapshot {
        Snapshot::take(&self.sb.remote(), "OVN_Southbound").unwrap_or_else(|err| panic!("{err}"))
    }

    /// The Southbound database's remote, for the chassis.
    pub fn sb_remote(&self) -> String {
        self.sb.remote()
    }

    /// The northd, for `ovn-appctl` ([`Northd::appctl`], [`Northd::status`]).
    pub fn northd(&self) -> &Northd {
        &self.northd
    }

    /// Runs `ovn-nbctl` on the Northbound database; its standard output, or
    /// its status and standard error.
    pub fn try_nbctl(&self, args: &[&str]) -> Result<String, String> {
        try_nbctl(&self.nb.remote(), args)
    }

    /// Like [`Central::try_nbctl`]; panics with the diagnostics on failure.
    pub fn nbctl(&self, args: &[&str]) -> String {
        self.try_nbctl(args).unwrap_or_else(|err| panic!("ovn-nbctl {}: {err}\n{}", args.join(" "), self.diagnostics()))
    }

    /// Err if the northd has exited (see [`Central::diagnostics`]).
    pub fn check_alive(&mut self) -> Result<(), String> {
        self.northd.try_alive()
    }

    /// The end of the northd's log and output, and what the Southbound
    /// database holds, read with `ovsdb-client` (which writes nothing), for
    /// failure messages.
    pub fn diagnostics(&self) -> String {
        let remote = self.sb.remote();
        let counts: Vec<String> = ["SB_Global", "Datapath_Binding", "Port_Binding", "Logical_Flow", "Multicast_Group"]
            .iter()
            .map(|table| match count_rows(&remote, table, "[]") {
                Ok(rows) => format!("{table}: {rows}"),
                Err(err) => format!("{table}: {err}"),
            })
            .collect();
        let ports = try_ovsdb_client(&[
            "dump",
            &remote,
            "OVN_Southbound",
            "Port_Binding",
            "logical_port",
            "type",
            "chassis",
            "up",
        ])
        .unwrap_or_else(|err| format!("ovsdb-client dump: {err}"));
        format!("{}\n--- Southbound rows: {}\n--- {ports}", self.northd.diagnostics(), counts.join(", "))
    }
}

/// How many rows of the table `table` of the Southbound database at
/// `remote` match `conditions` (a JSON array of RFC 7047 conditions).
fn count_rows(remote: &str, table: &str, conditions: &str) -> Result<usize, String> {
    let txn =
        format!(r#"["OVN_Southbound",{{"op":"select","table":"{table}","where":{conditions},"columns":["_uuid"]}}]"#);
    let out = try_ovsdb_client(&["transact", remote, &txn])?;
    let reply: serde_json::Value =
        serde_json::from_str(&out).map_err(|err| format!("ovsdb-client transact printed {out:?}: {err}"))?;
    reply[0]["rows"].as_array().map(Vec::len).ok_or_else(|| format!("ovsdb-client transact printed {out:?}"))
}

/// Whether the Southbound database at `remote` has its `SB_Global` row.
fn has_sb_global(remote: &str) -> Result<bool, String> {
    count_rows(remote, "SB_Global", "[]").map(|rows| rows > 0)
}

/// One table's rows by UUID, each a map from column name to value.
type Rows = BTreeMap<String, BTreeMap<String, serde_json::Value>>;

/// A database's contents at one moment: every row of every table by UUID,
/// column by column (`_version` left out), as `ovsdb-client dump` shows them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Snapshot {
    tables: BTreeMap<String, Rows>,
}

impl Snapshot {
    /// Dumps the database `db` at `remote` with `ovsdb-client` (which writes
    /// nothing).
    pub fn take(remote: &str, db: &str) -> Result<Snapshot, String> {
        let out = try_ovsdb_client(&["dump", "--format=json", remote, db])?;
        out.lines().filter(|line| !line.trim().is_empty()).map(Snapshot::parse_table).collect()
    }

    /// One line of `ovsdb-client dump --format=json`: `{"caption": "NAME
    /// table", "headings": [...], "data": [[...], ...]}`.
    fn parse_table(line: &str) -> Result<(String, Rows), String> {
        let bad = || format!("ovsdb-client dump printed an unexpected line: {line}");
        let table: serde_json::Value = serde_json::from_str(line).map_err(|err| format!("{}: {err}", bad()))?;
        let name = table["caption"].as_str().and_then(|c| c.strip_suffix(" table")).ok_or_else(bad)?;
        let headings: Vec<&str> = table["headings"]
            .as_array()
            .ok_or_else(bad)?
            .iter()
            .map(|h| h.as_str().ok_or_else(bad))
            .collect::<Result<_, _>>()?;
        let mut rows = BTreeMap::new();
        for data in table["data"].as_array().ok_or_else(bad)? {
            let mut row: BTreeMap<String, serde_json::Value> =
                headings.iter().map(|h| h.to_string()).zip(data.as_array().ok_or_else(bad)?.iter().cloned()).collect();
            row.remove("_version");
            let uuid = row.remove("_uuid").and_then(|u| u[1].as_str().map(str::to_owned)).ok_or_else(bad)?;
            rows.insert(uuid, row);
        }
        Ok((name.to_owned(), rows))
    }

    /// What changed from `self` to `later`, one line a row inserted or
    /// deleted or a column modified (`TABLE modify UUID COLUMN: OLD -> NEW`),
    /// leaving out the `(table, column)` pairs of `ignored`.
    pub fn changes(&self, later: &Snapshot, ignored: &[(&str, &str)]) -> Vec<String> {
        let empty = BTreeMap::new();
        let mut out = Vec::new();
        let names: BTreeSet<&String> = self.tables.keys().chain(later.tables.keys()).collect();
        for name in names {
            let (old, new) = (self.tables.get(name).unwrap_or(&empty), later.tables.get(name).unwrap_or(&empty));
            for (uuid, row) in old {
                let Some(now) = new.get(uuid) else {
                    out.push(format!("{name} delete {uuid}: {row:?}"));
                    continue;
                };
                for (column, value) in row {
                    let after = now.get(column).unwrap_or(&serde_json::Value::Null);
                    if value != after && !ignored.contains(&(name.as_str(), column.as_str())) {
                        out.push(format!("{name} modify {uuid} {column}: {value} -> {after}"));
                    }
                }
            }
            for (uuid, row) in new.iter().filter(|(uuid, _)| !old.contains_key(*uuid)) {
                out.push(format!("{name} insert {uuid}: {row:?}"));
            }
        }
        out
    }
}

impl FromIterator<(String, Rows)> for Snapshot {
    fn from_iter<I: IntoIterator<Item = (String, Rows)>>(iter: I) -> Snapshot {
        Snapshot { tables: iter.into_iter().collect() }
    }
}

/// One hypervisor: an Open vSwitch database, `ovs-vswitchd` with the
/// userspace datapath (`br-int`, `datapath_type=netdev`) and
/// `ovn-controller`, the two daemons in a private network namespace.
pub struct Chassis {
    controller: Process,
    vswitchd: Process,
    netns: Netns,
    ovs_db: OvsdbServer,
    /// Its OVS_RUNDIR and OVN_RUNDIR, logs included. Declared last.
    dir: TempDir,
}

impl Chassis {
    /// Starts a chassis named `name` (its `system-id`) that follows the
    /// Southbound database at `sb_remote`; returns once `br-int` exists and
    /// `ovn-controller` runs and has registered the chassis in that database
    /// (its `Chassis_Private` row). Panics at once if that database has no
    /// `SB_Global` row yet (start the [`Central`] first): ovn-controller
    /// 23.03.1 would crash on it.
    pub fn start(name: &str, sb_remote: &str) -> Chassis {
        require_root();
        match has_sb_global(sb_remote) {
            Ok(true) => {}
            Ok(false) => panic!(
                "the Southbound database {sb_remote} has no SB_Global row, on which ovn-controller 23.03.1 dies of \
                 SIGSEGV: start the chassis once a northd has initialized it (Central::start returns then)"
            ),
            Err(err) => panic!("cannot read SB_Global from {sb_remote}: {err}"),
        }
        let ovs_db = OvsdbServer::start("vswitch.ovsschema");
        let dir = temp_dir();
        let netns = Netns::new(name, dir.path());
        let mut chassis_setup = vec![
            "--no-wait".to_owned(),
            "init".to_owned(),
            "--".to_owned(),
            "set".to_owned(),
            "Open_vSwitch".to_owned(),
            ".".to_owned(),
        ];
        chassis_setup.extend(
            [
                ("system-id", name),
                ("ovn-remote", sb_remote),
                ("ovn-encap-type", "geneve"),
                ("ovn-encap-ip", "127.0.0.1"),
                ("ovn-bridge-datapath-type", "netdev"),
            ]
            .map(|(key, value)| format!("external_ids:{key}={value}")),
        );
        run_vsctl(&ovs_db, dir.path(), &chassis_setup);

        let vswitchd_ctl = dir.path().join("ovs-vswitchd.ctl");
        let log = dir.path().join("ovs-vswitchd.log");
        let mut command = netns.command("ovs-vswitchd");
        command
            .arg(ovs_db.remote())
            .arg(format!("--unixctl={}", vswitchd_ctl.display()))
            .arg(format!("--log-file={}", log.display()))
            .arg("-vconsole:off");
        set_rundirs(&mut command, dir.path());
        let mut vswitchd = Process::spawn("ovs-vswitchd", dir.path(), Some(log), command);
        wait_for_socket(&mut vswitchd, &vswitchd_ctl);
        // Without --no-wait: returns once ovs-vswitchd has made the bridge.
        let bridge = "add-br br-int -- set Bridge br-int datapath_type=netdev fail-mode=secure \
                      other-config:disable-in-band=true";
        run_vsctl(&ovs_db, dir.path(), &bridge.split_whitespace().collect::<Vec<_>>());

        let log = dir.path().join("ovn-controller.log");
        let mut command = netns.command("ovn-controller");
        command.arg(ovs_db.remote()).arg(format!("--log-file={}", log.display())).arg("-vconsole:off");
        set_rundirs(&mut command, dir.path());
        let mut controller = Process::spawn("ovn-controller", dir.path(), Some(log), command);
        // ovn-controller 23.03 has no --unixctl: its socket is named by pid.
        let controller_ctl = dir.path().join(format!("ovn-controller.{}.ctl", controller.pid()));
        wait_for_socket(&mut controller, &controller_ctl);
        // Registered: ovn-controller has been through its first round with
        // the Southbound database, the one that crashes without SB_Global.
        let conditions = format!(r#"[["name","==","{name}"]]"#);
        let registered = poll_ok(TIMEOUT, || {
            controller.check_alive().map_err(Unmet::Fatal)?;
            match count_rows(sb_remote, "Chassis_Private", &conditions)? {
                0 => Err(Unmet::Retry(format!("no Chassis_Private row for {name} after {TIMEOUT:?}"))),
                _ => Ok(()),
            }
        });
        if let Err(err) = registered {
            panic!("ovn-controller: {err}\n{}", controller.diagnostics());
        }
        Chassis { controller, vswitchd, netns, ovs_db, dir }
    }

    /// Runs `ovs-vsctl` on this chassis's database; panics on failure.
    pub fn vsctl<S: AsRef<OsStr>>(&self, args: &[S]) -> String {
        run_vsctl(&self.ovs_db, self.dir.path(), args)
    }

    /// Adds the VIF `name` (an OVS internal port of `br-int` bound to the
    /// logical switch port `iface_id`), moves it into a namespace of its own
    /// and configures it there: `mac`, `cidr` (address/prefix length), and a
    /// default route through `gateway` if given.
    pub fn add_vif(&self, name: &str, iface_id: &str, mac: &str, cidr: &str, gateway: Option<&str>) -> Vif {
        let vif = self.add_unnumbered_vif(name, iface_id, mac);
        vif.configure(cidr, gateway);
        vif
    }

    /// Adds the VIF `name` like [`Chassis::add_vif`], up and with the MAC
    /// `mac`, but without an IP address or a route (for a DHCP client).
    pub fn add_unnumbered_vif(&self, name: &str, iface_id: &str, mac: &str) -> Vif {
        self.add_internal_port("br-int", name, mac, &[&format!("external_ids:iface-id={iface_id}")])
    }

    /// Adds the OVS bridge `bridge` (userspace datapath, standalone: a
    /// learning switch) beside `br-int` and maps the physical network
    /// `network` to it (`ovn-bridge-mappings`): ovn-controller then patches
    /// the localnet ports of `network` on the chassis's datapaths to it.
    /// Returns once ovs-vswitchd has made the bridge.
    pub fn add_provider_bridge(&self, network: &str, bridge: &str) {
        self.vsctl(&[
            "add-br",
            bridge,
            "--",
            "set",
            "Bridge",
            bridge,
            "datapath_type=netdev",
            "other-config:disable-in-band=true",
            "--",
            "set",
            "Open_vSwitch",
            ".",
            &format!("external_ids:ovn-bridge-mappings={network}:{bridge}"),
        ]);
    }

    /// Adds a host outside OVN on the provider bridge `bridge` (see
    /// [`Chassis::add_provider_bridge`]): an OVS internal port `name` in a
    /// namespace of its own, configured like a VIF of [`Chassis::add_vif`]
    /// (`mac`, `cidr`, a default route through `gateway` if given) but bound
    /// to no logical port.
    pub fn add_host(&self, bridge: &str, name: &str, mac: &str, cidr: &str, gateway: Option<&str>) -> Vif {
        let host = self.add_internal_port(bridge, name, mac, &[]);
        host.configure(cidr, gateway);
        host
    }

    /// Adds the OVS internal port `name` to `bridge` with the interface
    /// settings `settings` (`COLUMN:KEY=VALUE`), moves it into a namespace
    /// of its own and brings it up there with the MAC `mac`.
    fn add_internal_port(&self, bridge: &str, name: &str, mac: &str, settings: &[&str]) -> Vif {
        let netns = Netns::new(name, self.dir.path());
        // Returns once ovs-vswitchd has created the tap, in our namespace.
        let mut add = vec!["add-port", bridge, name, "--", "set", "Interface", name, "type=internal"];
        add.extend(settings);
        self.vsctl(&add);
        self.netns.run("ip", &["link", "set", name, "netns", &netns.pid().to_string()]);
        netns.run("ip", &["link", "set", name, "address", mac]);
        netns.run("ip", &["link", "set", name, "up"]);
        Vif { name: name.to_owned(), netns }
    }

    /// Err if `ovs-vswitchd` or `ovn-controller` has exited (see
    /// [`Chassis::diagnostics`]).
    pub fn check_alive(&mut self) -> Result<(), String> {
        self.vswitchd.check_alive()?;
        self.controller.check_alive()
    }

    /// The end of both daemons' logs, for failure messages.
    pub fn diagnostics(&self) -> String {
        format!("{}\n{}", self.vswitchd.diagnostics(), self.controller.diagnostics())
    }
}

/// Runs `ovs-vsctl` on `db` with `dir` as its run directory; panics on
/// failure.
fn run_vsctl<S: AsRef<OsStr>>(db: &OvsdbServer, dir: &Path, args: &[S]) -> String {
    let mut command = Command::new(require_tool("ovs-vsctl"));
    command.arg(format!("--db={}", db.remote())).arg(CTL_TIMEOUT).args(args);
    set_rundirs(&mut command, dir);
    output_of(&mut command).unwrap_or_else(|err| {
        let args: Vec<_> = args.iter().map(|arg| arg.as_ref().to_string_lossy()).collect();
        panic!("ovs-vsctl {}: {err}", args.join(" "))
    })
}

/// A VIF: one end of an OVS internal port, alone in its own namespace.
pub struct Vif {
    name: String,
    netns: Netns,
}

impl Vif {
    /// Adds the address `cidr` (address/prefix length) and, if given, a
    /// default route through `gateway`.
    fn configure(&self, cidr: &str, gateway: Option<&str>) {
        self.netns.run("ip", &["address", "add", cidr, "dev", &self.name]);
        if let Some(gateway) = gateway {
            self.netns.run("ip", &["route", "add", "default", "via", gateway]);
        }
    }

    /// Sends one ICMP echo request to `ip` and waits up to a second for the
    /// reply; Err with ping's output if none came.
    pub fn ping(&self, ip: &str) -> Result<(), String> {
        self.netns
            .try_run("ping", &["-c", "1", "-W", "1", "-n", ip])
            .map(drop)
            .map_err(|err| format!("no answer from {ip} ({err})"))
    }

    /// Runs `program args` in the VIF's namespace (a client whose own
    /// options bound its wait); its standard output, or its status and
    /// standard error.
    pub fn try_run(&self, program: &str, args: &[&str]) -> Result<String, String> {
        self.netns.try_run(program, args)
    }

    /// The interface's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Adds the IPv6 address `cidr` (no duplicate address detection) and,
    /// if given, a default IPv6 route through `gateway`.
    pub fn add_ipv6(&self, cidr: &str, gateway: Option<&str>) {
        self.netns.run("ip", &["-6", "address", "add", cidr, "dev", &self.name, "nodad"]);
        if let Some(gateway) = gateway {
            self.netns.run("ip", &["-6", "route", "add", "default", "via", gateway]);
        }
    }

    /// Serves `body` over HTTP on TCP `port` of every address of this VIF
    /// (busybox `httpd` in the foreground) until the server is dropped.
    pub fn serve_http(&self, port: u16, body: &str) -> HttpServer {
        self.start_httpd(port, |root| {
            std::fs::write(root.join("index.html"), body).expect("cannot write index.html");
        })
    }

    /// Serves over HTTP on TCP `port` of every address of this VIF, at
    /// `/cgi-bin/client`, the address each client connects from as this
    /// VIF sees it (an IPv4 address without its IPv6-mapped form), until the
    /// server is dropped: what a host behind NAT is seen as.
    pub fn serve_client_address(&self, port: u16) -> HttpServer {
        self.start_httpd(port, |root| {
            let cgi = root.join("cgi-bin");
            std::fs::create_dir(&cgi).expect("cannot create cgi-bin");
            std::fs::write(cgi.join("client"), CLIENT_ADDRESS_CGI).expect("cannot write the CGI script");
            std::fs::set_permissions(cgi.join("client"), std::os::unix::fs::PermissionsExt::from_mode(0o755))
                .expect("cannot make the CGI script executable");
        })
    }

    /// Runs busybox `httpd` in the foreground on TCP `port` of every address
    /// of this VIF, on a document root that `fill` writes first.
    fn start_httpd(&self, port: u16, fill: impl FnOnce(&Path)) -> HttpServer {
        let dir = temp_dir();
        let root = dir.path().join("www");
        std::fs::create_dir(&root).expect("cannot create the document root");
        fill(&root);
        let mut command = self.netns.command("busybox");
        command.args(["httpd", "-f", "-p", &port.to_string(), "-h"]).arg(&root);
        let process = Process::spawn(&format!("httpd-{}", self.name), dir.path(), None, command);
        HttpServer { process, _dir: dir }
    }

    /// Fetches `url` from this VIF (busybox `wget` under a 2-second
    /// `timeout`: its own `-T` crashes busybox 1.35); the body, or wget's
    /// status and error.
    pub fn http_get(&self, url: &str) -> Result<String, String> {
        self.netns.try_run("busybox", &["timeout", "2", "busybox", "wget", "-q", "-O", "-", url])
    }
}

/// The CGI script of [`Vif::serve_client_address`]: busybox httpd gives
/// `REMOTE_ADDR` as `[::ffff:10.0.0.1]` or `[fd00::1]`.
const CLIENT_ADDRESS_CGI: &str = r#"#!/bin/sh
addr=${REMOTE_ADDR#\[}
addr=${addr%\]}
printf 'Content-Type: text/plain\r\n\r\n%s\n' "${addr#::ffff:}"
"#;

/// An HTTP server in a VIF's namespace; killed and reaped on drop.
pub struct HttpServer {
    process: Process,
    _dir: TempDir,
}

impl HttpServer {
    /// Err if the server has exited.
    pub fn check_alive(&mut self) -> Result<(), String> {
        self.process.check_alive().map_err(|err| format!("{err}\n{}", self.process.diagnostics()))
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    /// Needs root; like every harness test it fails (never passes) without.
    #[test]
    fn netns_is_private_and_ends_with_its_holder() {
        let dir = temp_dir();
        let netns = Netns::new("t", dir.path());
        let links = netns.run("ip", &["-o", "link", "show"]);
        assert_eq!(links.lines().count(), 1, "a new namespace has only lo: {links}");
        assert!(links.contains("lo:") && links.contains("UP"), "lo is up: {links}");
        let path = format!("/proc/{}/ns/net", netns.pid());
        let ours = fs::read_link("/proc/self/ns/net").expect("cannot read our namespace");
        assert_ne!(fs::read_link(&path).expect("cannot read the holder's namespace"), ours);
        let pid = netns.pid();
        drop(netns);
        assert!(!Path::new(&format!("/proc/{pid}")).exists(), "the holder {pid} was reaped");
    }

    /// The VIF's tap leaves the chassis namespace for its own, and dropping
    /// the chassis and the VIF ends every process, hence every namespace
    /// and interface they held.
    /// An SB as a northd leaves it before any NB content: `SB_Global` only.
    fn initialized_sb() -> OvsdbServer {
        let sb = OvsdbServer::start("ovn-sb.ovsschema");
        sb.transact(r#"["OVN_Southbound",{"op":"insert","table":"SB_Global","row":{}}]"#);
        sb
    }

    #[test]
    fn chassis_and_vif_leave_nothing_behind() {
        let sb = initialized_sb();
        let mut chassis = Chassis::start("hv-test", &sb.remote());
        let vif = chassis.add_vif("vif9", "lsp9", "00:00:00:00:00:09", "10.9.0.9/24", None);
        let in_vif = vif.netns.run("ip", &["-o", "address", "show", "dev", "vif9"]);
        assert!(in_vif.contains("10.9.0.9/24"), "vif9 is configured in its namespace: {in_vif}");
        assert!(chassis.netns.try_run("ip", &["link", "show", "vif9"]).is_err(), "vif9 left the chassis namespace");
        assert!(chassis.netns.try_run("ip", &["link", "show", "br-int"]).is_ok(), "br-int is a tap of the chassis");
        assert_eq!(chassis.check_alive(), Ok(()), "both daemons still run\n{}", chassis.diagnostics());
        let pids = [chassis.controller.pid(), chassis.vswitchd.pid(), chassis.netns.pid(), vif.netns.pid()];
        drop(vif);
        drop(chassis);
        for pid in pids {
            assert!(!Path::new(&format!("/proc/{pid}")).exists(), "process {pid} was killed and reaped");
        }
    }

    /// Two hosts on a provider bridge (a learning switch, no OVN flows)
    /// reach each other; the HTTP server of one tells the other's address;
    /// the bridge is mapped to its network; everything ends with the chassis
    /// and the hosts.
    #[test]
    fn provider_bridge_hosts_see_each_other() {
        let sb = initialized_sb();
        let chassis = Chassis::start("hv-test", &sb.remote());
        chassis.add_provider_bridge("physnet", "br-ex");
        let mappings = chassis.vsctl(&["get", "Open_vSwitch", ".", "external_ids:ovn-bridge-mappings"]);
        assert_eq!(mappings.trim(), r#""physnet:br-ex""#);
        let server = chassis.add_host("br-ex", "ext1", "00:00:00:00:09:01", "10.9.1.1/24", None);
        let client = chassis.add_host("br-ex", "ext2", "00:00:00:00:09:02", "10.9.1.2/24", Some("10.9.1.1"));
        let in_client = client.netns.run("ip", &["route", "show", "default"]);
        assert!(in_client.contains("via 10.9.1.1"), "ext2 has its default route: {in_client}");
        let mut httpd = server.serve_client_address(8080);
        let answer = poll_ok(TIMEOUT, || {
            httpd.check_alive().map_err(Unmet::Fatal)?;
            match client.http_get("http://10.9.1.1:8080/cgi-bin/client") {
                Ok(body) if body == "10.9.1.2\n" => Ok(()),
                other => Err(Unmet::Retry(format!("ext2 got {other:?}"))),
            }
        });
        assert_eq!(answer, Ok(()));
        let pids = [httpd.process.pid(), server.netns.pid(), client.netns.pid()];
        drop((httpd, server, client, chassis));
        for pid in pids {
            assert!(!Path::new(&format!("/proc/{pid}")).exists(), "process {pid} was killed and reaped");
        }
    }

    /// ovn-controller 23.03.1 dies of SIGSEGV 40 to 100 ms after it starts
    /// on a Southbound database without SB_Global, as this module's chassis
    /// test gave it (no northd had run). That test passed when its 20 ms
    /// poll reached the control socket before the crash (it never looked
    /// again) and otherwise waited for its 60 s bound: it failed or passed
    /// by timing. Such a chassis is now refused before anything starts.
    #[test]
    #[should_panic(expected = "has no SB_Global row")]
    fn chassis_on_an_sb_without_sb_global_is_refused() {
        let sb = OvsdbServer::start("ovn-sb.ovsschema");
        Chassis::start("hv-test", &sb.remote());
    }

    /// Two dumps as `ovsdb-client dump --format=json` prints them.
    #[test]
    fn snapshot_changes_name_rows_and_columns() {
        let parse = |text: &str| -> Snapshot {
            text.lines().map(|line| Snapshot::parse_table(line).expect("a dump line")).collect()
        };
        let before = parse(concat!(
            r#"{"caption":"T table","data":[[["uuid","u1"],["uuid","v1"],1,"a"],[["uuid","u2"],["uuid","v2"],2,"b"]],"#,
            r#""headings":["_uuid","_version","n","s"]}"#,
            "\n",
            r#"{"caption":"E table","data":[],"headings":["_uuid","_version","x"]}"#
        ));
        let after = parse(concat!(
            r#"{"caption":"T table","data":[[["uuid","u1"],["uuid","v9"],1,"z"],[["uuid","u3"],["uuid","v3"],3,"c"]],"#,
            r#""headings":["_uuid","_version","n","s"]}"#
        ));
        assert_eq!(before.changes(&before, &[]), Vec::<String>::new(), "no change");
        assert_eq!(
            before.changes(&after, &[]),
            [
                r#"T modify u1 s: "a" -> "z""#,
                r#"T delete u2: {"n": Number(2), "s": String("b")}"#,
                r#"T insert u3: {"n": Number(3), "s": String("c")}"#,
            ],
            "a new _version alone is no change"
        );
        assert_eq!(before.changes(&after, &[("T", "s")]).len(), 2, "an ignored column");
        assert!(Snapshot::parse_table(r#"{"caption":"T","data":[],"headings":[]}"#).is_err());
    }

    /// A wait ends at the first fatal reason, without waiting for its bound.
    #[test]
    fn poll_ok_stops_at_a_fatal_reason() {
        let start = std::time::Instant::now();
        let mut calls = 0;
        let result = poll_ok(TIMEOUT, || {
            calls += 1;
            if calls < 3 {
                Err(Unmet::Retry(format!("try {calls}")))
            } else {
                Err(Unmet::Fatal("gone".to_owned()))
            }
        });
        assert_eq!(result, Err("gone".to_owned()));
        assert_eq!(calls, 3);
        assert!(start.elapsed() < TIMEOUT / 2, "no wait for the bound: {:?}", start.elapsed());
        assert_eq!(poll_ok(Duration::ZERO, || Err(Unmet::Retry("never".to_owned()))), Err("never".to_owned()));
        assert_eq!(poll_ok(Duration::ZERO, || Ok(())), Ok(()));
    }
}
