//! The cost of one northd cycle on generated topologies (see
//! `examples/gen_topology/topology.rs`): `lflow::compile` of the whole NB,
//! and `lflow::sync::plan_sb` of its output against an SB replica that
//! already holds it (the steady state: the plan must be empty).
//!
//! Sizes: 20 switches (1,000 VIFs, 2 routers) and 200 switches (10,000
//! VIFs, 20 routers), as `scripts/bench-northd 20` and `scripts/bench-northd`
//! fill the real databases. Before timing, it prints each size's NB and SB
//! row counts.
//!
//! Benchmarks: `compile/N` (on one thread), `compile_2_threads/N` (the
//! switches' and routers' flows built on two), `plan_sb_steady/N`, and
//! `engine_port_add/N` (the incremental engine's cycle for one port add).

#[path = "../examples/gen_topology/topology.rs"]
mod topology;

use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use lflow::output::Output;
use ovsdb::proto::update::{decode_table_updates, UpdateFormat};
use ovsdb::{DatabaseSchema, Replica};
use topology::Insert;

const SIZES: [usize; 2] = [20, 200];
/// Compiler threads (`--n-threads`): the reference's default, and two.
const THREADS: [usize; 2] = [1, 2];

fn schema(file: &str) -> Arc<DatabaseSchema> {
    let path = format!("{}/../../schemas/{file}", env!("CARGO_MANIFEST_DIR"));
    Arc::new(DatabaseSchema::from_json_str(&std::fs::read_to_string(path).unwrap()).unwrap())
}

/// A replica of `schema` holding `rows`.
fn replica(schema: &Arc<DatabaseSchema>, rows: &[Insert]) -> Replica {
    let json = topology::update2(rows).to_string();
    let mut r = Replica::new(schema.clone());
    r.apply(decode_table_updates(&json, UpdateFormat::Update2, schema).unwrap()).unwrap();
    r
}

/// The SB replica a northd leaves behind: the rows `plan_sb` inserts into
/// an empty SB for `out`.
fn settled_sb(schema: &Arc<DatabaseSchema>, out: &Output) -> Replica {
    let plan = lflow::sync::plan_sb(out, &Replica::new(schema.clone()));
    let rows = topology::planned_inserts(plan.ops());
    replica(schema, &rows)
}

fn counts(r: &Replica, tables: &[&str]) -> String {
    let n = |t: &str| r.table(t).map_or(0, |t| t.len());
    tables.iter().map(|t| format!("{t} {}", n(t))).collect::<Vec<_>>().join(", ")
}

fn benches(c: &mut Criterion) {
    let (nb_schema, sb_schema) = (schema("ovn-nb.ovsschema"), schema("ovn-sb.ovsschema"));
    let mut group = c.benchmark_group("cycle");
    group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(5));
    for size in SIZES {
        let nb = replica(&nb_schema, &topology::generate(size));
        let first = lflow::compile(&nb, &Replica::new(sb_schema.clone()));
        let sb = settled_sb(&sb_schema, &first);
        let out = lflow::compile(&nb, &sb);
        let plan = lflow::sync::plan_sb(&out, &sb);
        println!(
            "{size} switches: NB {}; SB {}; {} diagnostics; steady-state plan {:?}",
            counts(&nb, &["Logical_Switch", "Logical_Switch_Port", "Logical_Router", "Logical_Router_Port", "ACL"]),
            counts(&sb, &["Datapath_Binding", "Port_Binding", "Logical_Flow", "Logical_DP_Group", "Multicast_Group"]),
            out.diagnostics.len(),
            plan.stats.totals(),
        );
        assert!(plan.is_empty(), "the SB holding the output still needs {:?}", plan.stats);
        for threads in THREADS {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let name = if threads == 1 { "compile".to_string() } else { format!("compile_{threads}_threads") };
            group.bench_with_input(BenchmarkId::new(name, size), &size, |b, _| {
                b.iter(|| pool.install(|| lflow::compile(&nb, &sb)))
            });
        }
        group.bench_with_input(BenchmarkId::new("plan_sb_steady", size), &size, |b, _| {
            b.iter(|| lflow::sync::plan_sb(&out, &sb))
        });
        engine_port_add(&mut group, size, replica(&nb_schema, &topology::generate(size)), &sb);
    }
    group.finish();
}

/// `engine_port_add/N`: one engine cycle after a VIF is added to the first
/// switch (a new one each iteration), on one thread, the engine warm and
/// the SB settled: what a daemon computes for `ovn-nbctl lsp-add`.
fn engine_port_add(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    size: usize,
    mut nb: Replica,
    sb: &Replica,
) {
    let schema = nb.schema().clone();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let mut engine = lflow::engine::Engine::default();
    nb.take_changes();
    pool.install(|| engine.run(&nb, sb, |_, _| {}));
    let switch = nb.table("Logical_Switch").unwrap().rows().next().unwrap().uuid();
    let mut n = 0u32;
    group.bench_with_input(BenchmarkId::new("engine_port_add", size), &size, |b, _| {
        b.iter(|| {
            n += 1;
            let port = format!("00000000-0000-0000-0000-{n:012x}");
            let json = format!(
                r#"{{"Logical_Switch_Port": {{"{port}": {{"insert": {{"name": "bench{n}",
                    "addresses": "0a:00:ff:{:02x}:{:02x}:{:02x} 10.255.{}.{}"}}}}}},
                    "Logical_Switch": {{"{switch}": {{"modify": {{"ports": ["uuid", "{port}"]}}}}}}}}"#,
                n >> 16 & 255,
                n >> 8 & 255,
                n & 255,
                n >> 8 & 255,
                n & 255
            );
            nb.apply(decode_table_updates(&json, UpdateFormat::Update2, &schema).unwrap()).unwrap();
            engine.observe_nb(&nb.take_changes());
            pool.install(|| engine.run(&nb, sb, |_, _| {}))
        })
    });
}

criterion_group!(compile, benches);
criterion_main!(compile);
