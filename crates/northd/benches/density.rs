//! The incremental engine's cycle for a pod's port add on the density
//! topology (lflow's `examples/gen_topology/density.rs`, the NB of
//! `scripts/bench-density`), in process: no database, no socket, so that
//! changes of a tenth of a millisecond show (the daemon's port add, timed
//! through the servers, varies by two).
//!
//! It runs in the daemon's crate for the daemon's allocator: mimalloc, with
//! the daemon's options (`northd::allocator`), the first cycle's memory
//! given back at once and the port adds' ten seconds later.
//!
//! `DENSITY_PODS=30000 cargo bench -p northd --bench density`: builds the
//! NB of that many pods (1,500 unless set), an SB holding its translation,
//! runs the engine's first (full) cycle, then `ADDS` port adds (60 unless
//! set) as `bench-density` makes them (a pod on the next node's switch,
//! in its namespace's port group and address set, with an `nb_cfg` bump),
//! each followed by one cycle on one thread. Prints the last cycle's
//! counts, the median, 90th percentile and minimum of the cycles after
//! the first ten, and the median time to each node's end.
//! The SB is not updated with the cycles' writes: each cycle also plans
//! again the rows of earlier adds on the switch it builds (a few).

#[allow(dead_code)] // density.rs uses `Insert` and its helpers; this bench also `update2`.
#[path = "../../lflow/examples/gen_topology/topology.rs"]
mod topology;

#[path = "../../lflow/examples/gen_topology/density.rs"]
mod density;

use std::sync::Arc;
use std::time::{Duration, Instant};

use ovsdb::proto::update::{decode_table_updates, UpdateFormat};
use ovsdb::{Atom, DatabaseSchema, Replica, Uuid};

/// The daemon's allocator (`main.rs`), with its options set in `main`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn schema(file: &str) -> Arc<DatabaseSchema> {
    let path = format!("{}/../../schemas/{file}", env!("CARGO_MANIFEST_DIR"));
    Arc::new(DatabaseSchema::from_json_str(&std::fs::read_to_string(path).unwrap()).unwrap())
}

fn replica(schema: &Arc<DatabaseSchema>, rows: &[topology::Insert]) -> Replica {
    let json = topology::update2(rows).to_string();
    let mut r = Replica::new(schema.clone());
    r.apply(decode_table_updates(&json, UpdateFormat::Update2, schema).unwrap()).unwrap();
    r
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The UUID of the row of `table` named `name`.
fn named(nb: &Replica, table: &str, name: &str) -> Uuid {
    let rows = nb.table(table).unwrap();
    rows.rows().find(|r| r.get("name").as_atom().and_then(Atom::as_str) == Some(name)).unwrap().uuid()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument (a filter from a
    // workspace-wide run) leaves this bench out.
    if std::env::args().skip(1).any(|a| a != "--bench") {
        return;
    }
    northd::allocator::tune();
    let (pods, adds) = (env("DENSITY_PODS", 1500), env("ADDS", 60).max(11));
    let (nb_schema, sb_schema) = (schema("ovn-nb.ovsschema"), schema("ovn-sb.ovsschema"));
    let started = Instant::now();
    let mut nb = replica(&nb_schema, &density::generate(pods));
    let out = lflow::compile(&nb, &Replica::new(sb_schema.clone()));
    let plan = lflow::sync::plan_sb(&out, &Replica::new(sb_schema.clone()));
    drop(out);
    let mut sb = replica(&sb_schema, &topology::planned_inserts(plan.ops()));
    // The daemon's indexes (`main_loop`).
    for (table, column) in lflow::sb_indexes() {
        sb.create_index(table, column).unwrap();
    }
    drop(plan);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let mut engine = lflow::engine::Engine::default();
    nb.take_changes();
    let first = Instant::now();
    let cycle = pool.install(|| engine.run(&nb, &sb, |_, _| {}));
    northd::allocator::after_run(lflow::engine::RunKind::Compute);
    assert!(cycle.plan.is_empty(), "the SB holding the translation still needs {:?}", cycle.plan.stats);
    drop(cycle);
    println!(
        "{pods} pods: NB and SB built in {:.1} s, the first cycle {:.1} s",
        (first - started).as_secs_f64(),
        first.elapsed().as_secs_f64()
    );
    let (nodes, namespaces, per_node) = (density::nodes(pods), density::namespaces(pods), density::per_node(pods));
    let global = nb.table("NB_Global").unwrap().rows().next().unwrap().uuid();
    let mut cycles = Vec::new();
    let mut node_ends: Vec<Vec<(&'static str, Duration)>> = Vec::new();
    for k in 0..adds {
        let (n, ns) = (k % nodes, k % namespaces);
        let (switch, group, set) = (
            named(&nb, "Logical_Switch", &format!("node-{n:04}")),
            named(&nb, "Port_Group", &format!("pg_ns{ns:04}")),
            named(&nb, "Address_Set", &format!("as_ns{ns:04}_v4")),
        );
        let ip = format!("10.{}.{}.{}", 128 + (n >> 8), n & 255, 3 + per_node + k / nodes);
        let mac: Vec<String> = ip.split('.').map(|b| format!("{:02x}", b.parse::<u8>().unwrap())).collect();
        let addr = format!("0a:58:{} {ip}", mac.join(":"));
        let port = format!("00000000-0000-4000-9000-{k:012x}");
        let cfg = k + 1;
        let json = format!(
            r#"{{"Logical_Switch_Port": {{"{port}": {{"insert": {{"name": "ns{ns:04}_new{k:04}",
                "addresses": "{addr}", "port_security": "{addr}"}}}}}},
                "Logical_Switch": {{"{switch}": {{"modify": {{"ports": ["uuid", "{port}"]}}}}}},
                "Port_Group": {{"{group}": {{"modify": {{"ports": ["uuid", "{port}"]}}}}}},
                "Address_Set": {{"{set}": {{"modify": {{"addresses": "{ip}"}}}}}},
                "NB_Global": {{"{global}": {{"modify": {{"nb_cfg": {cfg}}}}}}}}}"#
        );
        nb.apply(decode_table_updates(&json, UpdateFormat::Update2, &nb_schema).unwrap()).unwrap();
        let t = Instant::now();
        engine.observe_nb(&nb.take_changes());
        let mut ends = Vec::new();
        let cycle = pool.install(|| engine.run(&nb, &sb, |node, _| ends.push((node, t.elapsed()))));
        cycles.push(t.elapsed());
        if k + 1 == adds {
            println!("the last cycle: {:?}, {} operations", cycle.stats, cycle.plan.len());
        }
        node_ends.push(ends);
    }
    let mut timed: Vec<Duration> = cycles[10..].to_vec();
    timed.sort();
    println!(
        "port add cycle ({} after 10): median {:.2} ms, p90 {:.2}, min {:.2}",
        timed.len(),
        ms(timed[timed.len() / 2]),
        ms(timed[timed.len() * 9 / 10]),
        ms(timed[0])
    );
    let nodes_seen: Vec<&'static str> = node_ends[10].iter().map(|(n, _)| *n).collect();
    for (i, node) in nodes_seen.iter().enumerate() {
        let mut at: Vec<Duration> = node_ends[10..].iter().filter_map(|e| e.get(i).map(|(_, d)| *d)).collect();
        at.sort();
        println!("  node {node} ends at {:.2} ms (median)", ms(at[at.len() / 2]));
    }
}
