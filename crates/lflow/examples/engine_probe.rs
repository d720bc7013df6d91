#[path = "gen_topology/topology.rs"]
#[allow(dead_code)]
mod topology;
use ovsdb::proto::update::{decode_table_updates, UpdateFormat};
use ovsdb::{DatabaseSchema, Replica};
use std::sync::Arc;
use std::time::Instant;
fn schema(file: &str) -> Arc<DatabaseSchema> {
    let path = format!("{}/../../schemas/{file}", env!("CARGO_MANIFEST_DIR"));
    Arc::new(DatabaseSchema::from_json_str(&std::fs::read_to_string(path).unwrap()).unwrap())
}
fn main() {
    let size: usize = std::env::args().nth(1).unwrap().parse().unwrap();
    let n: usize = std::env::args().nth(2).unwrap().parse().unwrap();
    let (nbs, sbs) = (schema("ovn-nb.ovsschema"), schema("ovn-sb.ovsschema"));
    let rows = topology::generate(size);
    let mut nb = Replica::new(nbs.clone());
    nb.apply(decode_table_updates(&topology::update2(&rows).to_string(), UpdateFormat::Update2, &nbs).unwrap())
        .unwrap();
    let first = lflow::compile(&nb, &Replica::new(sbs.clone()));
    let plan = lflow::sync::plan_sb(&first, &Replica::new(sbs.clone()));
    let mut sb = Replica::new(sbs.clone());
    sb.apply(
        decode_table_updates(
            &topology::update2(&topology::planned_inserts(&plan.ops)).to_string(),
            UpdateFormat::Update2,
            &sbs,
        )
        .unwrap(),
    )
    .unwrap();
    nb.take_changes();
    sb.take_changes();
    let mut engine = lflow::engine::Engine::default();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    pool.install(|| {
        engine.run(&nb, &sb, |_, _| {});
        let ls = nb.table("Logical_Switch").unwrap().rows().next().unwrap().uuid();
        let t = Instant::now();
        for i in 0..n {
            let new = format!("00000000-0000-0000-0000-0000ffff{i:04}");
            let json = format!(r#"{{"Logical_Switch_Port": {{"{new}": {{"insert": {{"name": "newp{i}", "addresses": "0a:00:00:ff:00:{:02x} 10.99.0.{}"}}}}}}, "Logical_Switch": {{"{ls}": {{"modify": {{"ports": ["set", [["uuid","{new}"]]]}}}}}}}}"#, i % 256, i % 256);
            nb.apply(decode_table_updates(&json, UpdateFormat::Update2, &nbs).unwrap()).unwrap();
            engine.observe_nb(&nb.take_changes());
            engine.run(&nb, &sb, |_, _| {});
        }
        println!("{n} port adds: {:?} each", t.elapsed() / n as u32);
    });
}
