//! Active/passive high availability through the SB lock `ovn_northd`:
//! several instances against a standalone SB and against a 3-server Raft
//! SB; the active one is killed with SIGKILL while NB changes stream in; a
//! standby takes over without rewriting what was already right, and the SB
//! ends as the exact translation of the final NB. Also the Raft leader of
//! the SB is killed: northd follows the new leader and keeps translating.
//! The takeover times (default probe settings) are printed.
//!
//! Sharded active/active (`--shards`): three instances sharing six shards
//! lose the busiest one (the holder of the global role) while NB changes
//! stream in; the others take its shards, a fourth instance joins and
//! takes some, and no row that was right is written again; on a Raft SB
//! whose leader is killed too. No shard is ever held by two at once.
//! `--wait=sb` waits for every shard's holder.

mod common;

#[allow(dead_code)] // density.rs uses part of it.
#[path = "../../lflow/examples/gen_topology/topology.rs"]
mod topology;

#[path = "../../lflow/examples/gen_topology/density.rs"]
mod density;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::{assert_translated, dump, ours, transact, Dbs, Sb, Stream};
use ovsdb::Replica;
use testsupport::northd::{nbctl, time_until, try_nbctl, Northd};

const BOUND: Duration = Duration::from_secs(60);

/// The tables northd owns (whose rows must not churn).
const OWNED: &[&str] = &[
    "SB_Global",
    "Datapath_Binding",
    "Port_Binding",
    "Multicast_Group",
    "Logical_DP_Group",
    "Logical_Flow",
    "Address_Set",
    "Port_Group",
    "DHCP_Options",
    "DHCPv6_Options",
    "RBAC_Role",
    "RBAC_Permission",
];

/// A router joining two switches, two ports on each.
fn topology(dbs: &Dbs) {
    topology_of(dbs, 2);
}

/// A router joining `switches` switches, two ports on each.
fn topology_of(dbs: &Dbs, switches: usize) {
    let mut args: Vec<String> = Vec::new();
    let mut cmd = |parts: &[&str]| {
        if !args.is_empty() {
            args.push("--".into());
        }
        args.extend(parts.iter().map(|s| s.to_string()));
    };
    cmd(&["lr-add", "lr0"]);
    let names: Vec<String> = (0..switches).map(|i| format!("sw{i}")).collect();
    for (i, sw) in names.iter().enumerate() {
        let (mac, net) = (format!("00:00:00:00:ff:0{i}"), format!("10.0.{i}.1/24"));
        cmd(&["ls-add", sw.as_str()]);
        cmd(&["lrp-add", "lr0", &format!("lr0-{sw}"), &mac, &net]);
        cmd(&["lsp-add", sw.as_str(), &format!("{sw}-lr0")]);
        cmd(&["lsp-set-type", &format!("{sw}-lr0"), "router"]);
        cmd(&["lsp-set-addresses", &format!("{sw}-lr0"), "router"]);
        cmd(&["lsp-set-options", &format!("{sw}-lr0"), &format!("router-port=lr0-{sw}")]);
        for p in 1..=2 {
            let port = format!("{sw}-p{p}");
            cmd(&["lsp-add", sw.as_str(), &port]);
            cmd(&["lsp-set-addresses", &port, &format!("00:00:00:00:0{i}:0{p} 10.0.{i}.{}", p + 10)]);
        }
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    dbs.nbctl(&refs);
}

/// Each instance's status; panics if two are active at once.
fn statuses(instances: &[Northd]) -> Vec<Option<String>> {
    let s: Vec<Option<String>> = instances.iter().map(Northd::status).collect();
    assert!(s.iter().filter(|x| x.as_deref() == Some("active")).count() <= 1, "two active instances: {s:?}");
    s
}

/// Waits until one instance is active and the others standby; its index.
fn wait_one_active(instances: &[Northd]) -> usize {
    time_until("one active instance and the others on standby", BOUND, || {
        let s = statuses(instances);
        let standby = s.iter().filter(|x| x.as_deref() == Some("standby")).count();
        let active = s.iter().position(|x| x.as_deref() == Some("active"))?;
        (standby == instances.len() - 1).then_some(active)
    })
    .0
}

/// Kills the active instance while the stream runs; returns the new
/// active's index, printing how long the lock took to move and how long
/// until the SB had caught up with the NB (an `--wait=sb sync` sent right
/// after the kill).
fn kill_active(label: &str, dbs: &Dbs, instances: &mut Vec<Northd>, active: usize) -> usize {
    let nb = dbs.nb_remote();
    let killed_at = Instant::now();
    instances[active].kill();
    instances.remove(active);
    let sync = std::thread::spawn(move || {
        nbctl(&nb, &["--wait=sb", "sync"]);
        killed_at.elapsed()
    });
    let (new_active, lock_moved) = time_until("a standby to become active", BOUND, || {
        statuses(instances).iter().position(|x| x.as_deref() == Some("active"))
    });
    let caught_up = sync.join().unwrap();
    println!(
        "takeover ({label}): lock moved to a standby in {} ms; SB caught up with the NB {} ms after the kill",
        lock_moved.as_millis(),
        caught_up.as_millis()
    );
    new_active
}

/// Every owned row of an SB as (table, content) -> UUID, content being all
/// columns but the UUID.
fn rows_by_content(sb: &Replica) -> BTreeMap<(String, String), BTreeSet<ovsdb::Uuid>> {
    let mut out: BTreeMap<(String, String), BTreeSet<ovsdb::Uuid>> = BTreeMap::new();
    for table in OWNED {
        let Some(t) = sb.table(table) else { continue };
        for row in t.rows() {
            let content: Vec<String> = t.schema().columns.keys().map(|c| format!("{c}={:?}", row.get(c))).collect();
            out.entry((table.to_string(), content.join(" "))).or_default().insert(row.uuid());
        }
    }
    out
}

/// No churn: every row of `before` whose exact content is still wanted in
/// `after` kept its UUID (it was not deleted and inserted again).
fn assert_no_churn(before: &Replica, after: &Replica) {
    let after = rows_by_content(after);
    let mut kept = 0;
    for (key, uuids) in rows_by_content(before) {
        if let Some(now) = after.get(&key) {
            assert!(uuids.is_subset(now), "{} row rewritten with the same content: {}", key.0, key.1);
            kept += uuids.len();
        }
    }
    assert!(kept > 0, "nothing in common between the two SBs");
}

fn start_instances(dbs: &Dbs, n: usize) -> Vec<Northd> {
    (0..n).map(|_| Northd::start(ours(), &dbs.nb_remote(), &dbs.sb_remote(), &[])).collect()
}

/// The topology, `n` instances of which one is active, the SB translated
/// and dumped, and a stream of NB changes already flowing: the instances,
/// the active one's index, the dump and the stream.
fn translated_then_streaming(dbs: &Dbs, n: usize) -> (Vec<Northd>, usize, Replica, Stream) {
    topology(dbs);
    let instances = start_instances(dbs, n);
    let active = wait_one_active(&instances);
    dbs.nbctl(&["--wait=sb", "sync"]);
    assert_translated(&dbs.nb_remote(), &dbs.sb_remote());
    let before = dump(&dbs.sb_remote(), "OVN_Southbound");
    let stream = Stream::start(dbs.nb_remote(), "sw0", 100);
    stream.wait_more(5);
    (instances, active, before, stream)
}

/// Stops the stream and checks the end state: the `survivor` active, the
/// SB the translation of the NB without churn since `before`, and every
/// streamed port in the NB.
fn stop_and_check(dbs: &Dbs, stream: Stream, survivor: &mut Northd, before: &Replica) {
    let added = stream.stop();
    dbs.nbctl(&["--wait=sb", "sync"]);
    survivor.wait_status("active");
    assert_translated(&dbs.nb_remote(), &dbs.sb_remote());
    assert_no_churn(before, &dump(&dbs.sb_remote(), "OVN_Southbound"));
    let ports = dbs.nbctl(&["lsp-list", "sw0"]).lines().count();
    assert_eq!(ports, 3 + added, "every streamed port is in the NB");
}

#[test]
fn three_instances_on_a_standalone_sb_survive_two_kills() {
    let dbs = Dbs::standalone();
    let (mut instances, active, before, stream) = translated_then_streaming(&dbs, 3);
    let active = kill_active("standalone SB, 3 instances", &dbs, &mut instances, active);
    stream.wait_more(5);
    kill_active("standalone SB, 2 instances", &dbs, &mut instances, active);
    stream.wait_more(5);
    stop_and_check(&dbs, stream, &mut instances[0], &before);
    instances[0].check_alive();
}

#[test]
fn a_raft_sb_survives_the_active_and_the_leader_being_killed() {
    let mut dbs = Dbs::raft();
    let (mut instances, active, before, stream) = translated_then_streaming(&dbs, 2);
    kill_active("3-server Raft SB, 2 instances", &dbs, &mut instances, active);
    stream.wait_more(5);
    let Sb::Raft(cluster) = &mut dbs.sb else { unreachable!("a Raft SB") };
    let leader = cluster.leader();
    let nb = dbs.nb.remote();
    let killed_at = Instant::now();
    cluster.kill(leader);
    nbctl(&nb, &["--wait=sb", "sync"]);
    let caught_up = killed_at.elapsed().as_millis();
    println!("SB leader killed: northd wrote the NB's latest changes to the new leader {caught_up} ms later");
    stream.wait_more(5);
    stop_and_check(&dbs, stream, &mut instances[0], &before);
}

/// A hung active instance (SIGSTOP) holds the lock until the SB server's
/// inactivity probe gives up on it: the takeover then takes the server's
/// default probe time; a change made meanwhile, which the standby computed
/// but did not write, is written once it takes over. Once resumed, the old
/// instance finds itself on standby and writes nothing.
#[test]
fn a_frozen_active_loses_the_lock_to_the_servers_probe() {
    let dbs = Dbs::standalone_tcp();
    topology(&dbs);
    let mut instances = start_instances(&dbs, 2);
    let active = wait_one_active(&instances);
    dbs.nbctl(&["--wait=sb", "sync"]);
    instances[active].signal(libc::SIGSTOP);
    let stopped_at = Instant::now();
    let standby = 1 - active;
    // A change the frozen one never writes: the standby computes it (its
    // engine kept warm) and, once active, writes what it held back.
    dbs.nbctl(&["lsp-add", "sw0", "p-frozen", "--", "lsp-set-addresses", "p-frozen", "00:00:00:00:00:42 10.0.0.42"]);
    let (_, moved) = time_until("the standby to take over from the frozen one", BOUND, || {
        (instances[standby].status().as_deref() == Some("active")).then_some(())
    });
    println!("takeover from a frozen active (SB over tcp, default probes): {} ms", moved.as_millis());
    assert!(stopped_at.elapsed() >= Duration::from_secs(2), "the lock moved before any probe could fire");
    dbs.nbctl(&["--wait=sb", "ls-add", "sw-after-freeze"]);
    instances[active].signal(libc::SIGCONT);
    instances[active].wait_status("standby");
    dbs.nbctl(&["--wait=sb", "sync"]);
    assert_translated(&dbs.nb_remote(), &dbs.sb_remote());
}

const SHARDS: u32 = 6;

/// The shards one instance holds, and whether it holds the global role, as
/// its `shards/show` says (`None`: it did not answer).
fn holding(instance: &Northd) -> Option<(BTreeSet<u32>, bool)> {
    let show = instance.appctl(&["shards/show"]).ok()?;
    let mut shards = BTreeSet::new();
    let mut global = false;
    for line in show.lines() {
        match line.split_whitespace().collect::<Vec<_>>()[..] {
            ["global", "active"] => global = true,
            [i, "active", ..] => {
                shards.insert(i.parse().ok()?);
            }
            _ => {}
        }
    }
    Some((shards, global))
}

/// Every instance's holding; panics if a shard or the global role is held
/// by two at once. Each instance is asked in turn, twice: what two of
/// them say they hold in both rounds they held at the same moment (a
/// shard seen with two in one round may have moved between the
/// questions).
fn holdings(instances: &[Northd]) -> Vec<(BTreeSet<u32>, bool)> {
    let round = || -> Vec<(BTreeSet<u32>, bool)> { instances.iter().map(|i| holding(i).unwrap_or_default()).collect() };
    let (first, second) = (round(), round());
    for a in 0..instances.len() {
        for b in a + 1..instances.len() {
            let both =
                |r: &[(BTreeSet<u32>, bool)]| -> BTreeSet<u32> { r[a].0.intersection(&r[b].0).copied().collect() };
            let twice: Vec<u32> = both(&first).intersection(&both(&second)).copied().collect();
            assert!(twice.is_empty(), "shards {twice:?} held by two instances at once: {first:?} then {second:?}");
            let global = |r: &[(BTreeSet<u32>, bool)]| r[a].1 && r[b].1;
            assert!(!(global(&first) && global(&second)), "two global roles: {first:?} then {second:?}");
        }
    }
    second
}

/// Waits until the instances hold every shard and the global role between
/// them, each at least one shard and at most its share; how long it took.
fn wait_balanced(instances: &[Northd]) -> Duration {
    let most = (SHARDS as usize).div_ceil(instances.len());
    time_until("the shards spread over every instance", BOUND, || {
        let all = holdings(instances);
        let held: usize = all.iter().map(|(s, _)| s.len()).sum();
        let ok = held == SHARDS as usize
            && all.iter().any(|(_, g)| *g)
            && all.iter().all(|(s, _)| !s.is_empty() && s.len() <= most);
        ok.then_some(())
    })
    .1
}

fn start_sharded(dbs: &Dbs, n: usize) -> Vec<Northd> {
    let shards = format!("--shards={SHARDS}");
    (0..n).map(|_| Northd::start(ours(), &dbs.nb_remote(), &dbs.sb_remote(), &[&shards])).collect()
}

/// `switches` switches on a standalone SB, written by three instances
/// with `SHARDS` shards, balanced and synced.
fn synced_group(switches: usize) -> (Dbs, Vec<Northd>) {
    let dbs = Dbs::standalone();
    topology_of(&dbs, switches);
    let instances = start_sharded(&dbs, 3);
    wait_balanced(&instances);
    dbs.nbctl(&["--wait=sb", "sync"]);
    (dbs, instances)
}

/// Kills the instance holding the global role (and its shards) while the
/// stream runs; the survivors must hold everything within 3 s.
fn kill_busiest(label: &str, instances: &mut Vec<Northd>) {
    // (After an SB leader change, once the group holds everything again.)
    wait_balanced(instances);
    let busiest = holdings(instances).iter().position(|(_, g)| *g).expect("an instance holds the global role");
    instances[busiest].kill();
    instances.remove(busiest);
    let took = wait_balanced(instances);
    println!("sharded takeover ({label}): the shards of the killed instance taken in {} ms", took.as_millis());
    assert!(took <= Duration::from_secs(3), "{label}: the shards took {took:?} to move");
}

/// Three instances, six shards; the busiest one killed under a stream of
/// NB changes; a fourth joins. Then the SB is the translation of the NB,
/// no row that was right was written again, no change was lost.
fn sharded_group_survives(dbs: &mut Dbs, label: &str) {
    topology_of(dbs, 6);
    let mut instances = start_sharded(dbs, 3);
    wait_balanced(&instances);
    dbs.nbctl(&["--wait=sb", "sync"]);
    assert_translated(&dbs.nb_remote(), &dbs.sb_remote());
    let before = dump(&dbs.sb_remote(), "OVN_Southbound");
    let stream = Stream::start(dbs.nb_remote(), "sw0", 100);
    stream.wait_more(5);
    if let Sb::Raft(cluster) = &mut dbs.sb {
        let leader = cluster.leader();
        cluster.kill(leader);
        stream.wait_more(5);
    }
    kill_busiest(label, &mut instances);
    stream.wait_more(5);
    let shards = format!("--shards={SHARDS}");
    instances.push(Northd::start(ours(), &dbs.nb_remote(), &dbs.sb_remote(), &[&shards]));
    let took = wait_balanced(&instances);
    println!("sharded ({label}): a new instance took its shards in {} ms", took.as_millis());
    stream.wait_more(5);
    let added = stream.stop();
    dbs.nbctl(&["--wait=sb", "sync"]);
    assert_translated(&dbs.nb_remote(), &dbs.sb_remote());
    assert_no_churn(&before, &dump(&dbs.sb_remote(), "OVN_Southbound"));
    let ports = dbs.nbctl(&["lsp-list", "sw0"]).lines().count();
    assert_eq!(ports, 3 + added, "every streamed port is in the NB");
    for instance in &mut instances {
        instance.check_alive();
    }
    wait_balanced(&instances);
}

#[test]
fn a_sharded_group_on_a_standalone_sb_survives_its_busiest_instance_and_takes_a_newcomer() {
    sharded_group_survives(&mut Dbs::standalone(), "standalone SB");
}

#[test]
fn a_sharded_group_on_a_raft_sb_survives_the_leader_and_its_busiest_instance() {
    sharded_group_survives(&mut Dbs::raft(), "3-server Raft SB");
}

/// A sharded group holds `ovn_northd`: an instance with another number
/// of shards, and one not sharded, stay on standby beside it (the first
/// says why); once the group stops, one of them takes over.
#[test]
fn instances_of_another_k_or_not_sharded_stay_on_standby_beside_a_group() {
    let dbs = Dbs::standalone();
    topology_of(&dbs, 4);
    let group = start_sharded(&dbs, 2);
    wait_balanced(&group);
    let (nb, sb) = (dbs.nb_remote(), dbs.sb_remote());
    let mut others = vec![Northd::start(ours(), &nb, &sb, &["--shards=4"]), Northd::start(ours(), &nb, &sb, &[])];
    for other in &mut others {
        other.wait_status("standby");
    }
    dbs.nbctl(&["--wait=sb", "ls-add", "sw-extra"]);
    assert_translated(&nb, &sb);
    for other in &others {
        assert_eq!(other.status().as_deref(), Some("standby"), "{}", other.log());
    }
    let show = others[0].appctl(&["shards/show"]).unwrap();
    assert!(show.contains("writing nothing: the ovn_northd lock is held outside this group"), "{show}");
    drop(group);
    let (active, took) = time_until("one of the others to take over", BOUND, || {
        let s: Vec<Option<String>> = others.iter().map(Northd::status).collect();
        assert!(s.iter().filter(|x| x.as_deref() == Some("active")).count() <= 1, "both write: {s:?}");
        s.iter().position(|x| x.as_deref() == Some("active"))
    });
    println!("instance {active} took over from the stopped group in {} ms", took.as_millis());
    dbs.nbctl(&["--wait=sb", "ls-add", "sw-after"]);
    assert_translated(&nb, &sb);
}

/// The density topology (ovn-kubernetes-like: node switches, gateway
/// routers, external switches, port groups, ACLs, load balancers in a
/// group) written by three instances with six shards: the SB is what one
/// instance writes (a fresh compile finds nothing to change), and each
/// instance holds shards; then a node's pods change and it still is.
#[test]
fn a_sharded_group_writes_the_density_topology_as_one_instance() {
    let dbs = Dbs::standalone();
    let mut ops = vec![serde_json::json!("OVN_Northbound")];
    for r in density::generate(480).into_iter().filter(|r| r.table != "NB_Global") {
        ops.push(serde_json::json!({"op": "insert", "table": r.table, "uuid-name": r.name, "row": r.row}));
    }
    transact(&dbs.nb_remote(), &serde_json::Value::Array(ops));
    let instances = start_sharded(&dbs, 3);
    wait_balanced(&instances);
    dbs.nbctl(&["--wait=sb", "sync"]);
    assert_translated(&dbs.nb_remote(), &dbs.sb_remote());
    let switch = dbs
        .nbctl(&["ls-list"])
        .lines()
        .find_map(|l| l.split_whitespace().nth(1).map(|n| n.trim_matches(['(', ')']).to_string()));
    let switch = switch.expect("a switch");
    dbs.nbctl(&[
        "--wait=sb",
        "lsp-add",
        &switch,
        "pod-new",
        "--",
        "lsp-set-addresses",
        "pod-new",
        "0a:58:0a:f4:ff:fe 10.244.255.254",
    ]);
    assert_translated(&dbs.nb_remote(), &dbs.sb_remote());
    wait_balanced(&instances);
}

/// `pause` makes a member leave its group: the others take its shards
/// and it says `paused`, writing nothing; `resume` brings it back, and it
/// takes its share again. The SB stays the translation throughout.
#[test]
fn a_paused_member_leaves_its_group_and_a_resumed_one_rejoins() {
    let dbs = Dbs::standalone();
    topology_of(&dbs, 4);
    let mut instances = start_sharded(&dbs, 3);
    wait_balanced(&instances);
    instances[1].appctl(&["pause"]).unwrap();
    instances[1].wait_status("paused");
    let paused = instances.remove(1);
    wait_balanced(&instances);
    dbs.nbctl(&["--wait=sb", "ls-add", "sw-while-paused"]);
    assert_translated(&dbs.nb_remote(), &dbs.sb_remote());
    assert_eq!(holding(&paused), Some((BTreeSet::new(), false)), "{}", paused.appctl(&["shards/show"]).unwrap());
    paused.appctl(&["resume"]).unwrap();
    instances.insert(1, paused);
    wait_balanced(&instances);
    dbs.nbctl(&["--wait=sb", "ls-add", "sw-after-resume"]);
    assert_translated(&dbs.nb_remote(), &dbs.sb_remote());
}

/// `--wait=sb` means every shard: with the holder of two shards frozen
/// (SIGSTOP; it keeps its locks, a unix socket has no probes), a sync
/// does not return, even one that changes no row (before each shard's
/// holder recorded its progress, the global role copied nb_cfg at once);
/// once it runs again, it records the new nb_cfg and the sync returns.
/// Then every shard's record is at nb_cfg.
#[test]
fn sb_cfg_waits_for_every_shards_holder() {
    let (dbs, instances) = synced_group(4);
    let frozen = holdings(&instances).iter().position(|(s, g)| !g && !s.is_empty()).expect("a holder of shards alone");
    instances[frozen].signal(libc::SIGSTOP);
    let waited = try_nbctl(&dbs.nb_remote(), &["--timeout=3", "--wait=sb", "sync"]);
    instances[frozen].signal(libc::SIGCONT);
    assert!(waited.is_err(), "sb_cfg reached nb_cfg while the holder of shards was frozen: {waited:?}");
    dbs.nbctl(&["--wait=sb", "sync"]);
    assert_translated(&dbs.nb_remote(), &dbs.sb_remote());
    let (nb, sb) = (dump(&dbs.nb_remote(), "OVN_Northbound"), dump(&dbs.sb_remote(), "OVN_Southbound"));
    let nb_cfg = common::int(&nb, "NB_Global", "nb_cfg").expect("nb_cfg").to_string();
    let global = sb.table("SB_Global").and_then(|t| t.rows().next()).expect("SB_Global");
    for i in 0..SHARDS {
        let key = ovsdb::Atom::string(format!("ovn_northd_shard_{i}_of_{SHARDS}"));
        let record = global.get("external_ids").get(&key).and_then(ovsdb::Atom::as_str).map(str::to_owned);
        assert_eq!(record.as_deref(), Some(nb_cfg.as_str()), "shard {i}'s record");
    }
}

/// Switches deleted under a sharded group: the holder of the global role
/// deletes a datapath's binding only once the shards' rows that refer to
/// it are gone, so no transaction fails (the server refuses to delete a
/// binding rows still refer to).
#[test]
fn switches_deleted_under_a_sharded_group_fail_no_transaction() {
    let (dbs, instances) = synced_group(8);
    for i in 0..8 {
        dbs.nbctl(&["--wait=sb", "ls-del", &format!("sw{i}")]);
        assert_translated(&dbs.nb_remote(), &dbs.sb_remote());
    }
    for instance in &instances {
        let log = instance.log();
        assert!(!log.contains("transaction failed"), "{log}");
    }
}
