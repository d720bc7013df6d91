//! The initial sync and incremental updates of a replica, on a generated
//! update3-style payload of 100k `Logical_Switch_Port` rows (and the 100
//! switches holding them) shaped like an OpenStack deployment's, decoded with
//! the real NB schema.
//!
//! Benchmarks: `decode_100k_lsp` (decode_table_updates), `apply_100k_lsp`
//! (decode + Replica::replace into an empty replica), `modify_10k_of_100k`
//! (decode + apply an update2 modify of 10% of the rows + take_changes).
//! Before them it prints, once, the JSON size and the heap the decode and the
//! replica use, counted by a global allocator that this bench installs.

use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use ovsdb::proto::update::{decode_table_updates, UpdateFormat};
use ovsdb::replica::Replica;
use ovsdb::DatabaseSchema;

/// The system allocator, counting the bytes in use and their peak while
/// `COUNTING` is set (only while measuring memory: counting slows the timed
/// runs down).
struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static IN_USE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(n: usize) {
    let now = IN_USE.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every call is forwarded to `System` unchanged; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() && COUNTING.load(Ordering::Relaxed) {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        if COUNTING.load(Ordering::Relaxed) {
            IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() && COUNTING.load(Ordering::Relaxed) {
            IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
            grew(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const PORTS: usize = 100_000;
const SWITCHES: usize = 100;

fn nb_schema() -> Arc<DatabaseSchema> {
    let path = format!("{}/../../schemas/ovn-nb.ovsschema", env!("CARGO_MANIFEST_DIR"));
    Arc::new(DatabaseSchema::from_json_str(&std::fs::read_to_string(path).unwrap()).unwrap())
}

/// splitmix64: deterministic, random-looking numbers from a counter.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A version-4-shaped UUID for `(kind, n)`.
fn uuid(kind: u64, n: usize) -> String {
    let (a, b) = (mix(kind << 32 | n as u64), mix(!(kind << 32 | n as u64)));
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | (b >> 48) & 0x3fff,
        b & 0xffff_ffff_ffff
    )
}

fn mac(n: usize) -> String {
    format!("fa:16:3e:{:02x}:{:02x}:{:02x}", (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff)
}

/// The `<table-updates2>` of a monitor_cond_since reply (result[2]):
/// switches with their port sets, then the ports, defaults left out as
/// ovsdb-server does.
fn initial_payload() -> String {
    let mut s = String::with_capacity(PORTS * 500);
    s.push_str(r#"{"Logical_Switch":{"#);
    for sw in 0..SWITCHES {
        let sep = if sw == 0 { "" } else { "," };
        write!(s, r#"{sep}"{}":{{"initial":{{"name":"neutron-{}","ports":["set",["#, uuid(1, sw), uuid(2, sw)).unwrap();
        for p in (sw..PORTS).step_by(SWITCHES) {
            let sep = if p == sw { "" } else { "," };
            write!(s, r#"{sep}["uuid","{}"]"#, uuid(3, p)).unwrap();
        }
        write!(s, r#"]],"other_config":["map",[["mcast_snoop","true"]]]}}}}"#).unwrap();
    }
    s.push_str(r#"},"Logical_Switch_Port":{"#);
    for p in 0..PORTS {
        let sep = if p == 0 { "" } else { "," };
        let addr = format!("{} 10.{}.{}.{}", mac(p), p / 65536, (p / 256) % 256, p % 256);
        write!(
            s,
            concat!(
                r#"{sep}"{uuid}":{{"initial":{{"addresses":"{addr}","enabled":true,"#,
                r#""external_ids":["map",[["neutron:device_owner","compute:nova"],["neutron:network_name","neutron-{net}"]]],"#,
                r#""name":"{name}","options":["map",[["requested-chassis","compute-{chassis}"]]],"#,
                r#""port_security":"{addr}""#
            ),
            sep = sep,
            uuid = uuid(3, p),
            addr = addr,
            net = uuid(2, p % SWITCHES),
            name = uuid(4, p),
            chassis = p % 500,
        )
        .unwrap();
        if p % 4 == 0 {
            write!(s, r#","tag":{}"#, 1 + p % 4094).unwrap();
        }
        s.push_str(r#","up":true}}"#);
    }
    s.push_str("}}");
    s
}

/// An update2 modify of every tenth port: `up` and a revision number in
/// `external_ids`.
fn modify_payload(up: bool, revision: u32) -> String {
    let mut s = String::from(r#"{"Logical_Switch_Port":{"#);
    for p in (0..PORTS).step_by(10) {
        let sep = if p == 0 { "" } else { "," };
        write!(
            s,
            r#"{sep}"{}":{{"modify":{{"external_ids":["map",[["neutron:revision_number","{revision}"]]],"up":{up}}}}}"#,
            uuid(3, p)
        )
        .unwrap();
    }
    s.push_str("}}");
    s
}

fn mib(n: usize) -> f64 {
    n as f64 / (1 << 20) as f64
}

/// Prints the JSON size and the heap used while syncing and after.
fn report_memory(schema: &Arc<DatabaseSchema>, json: &str) {
    let in_use = || IN_USE.load(Ordering::Relaxed);
    let base = in_use();
    PEAK.store(base, Ordering::Relaxed);
    COUNTING.store(true, Ordering::Relaxed);
    let updates = decode_table_updates(json, UpdateFormat::Update2, schema).unwrap();
    let decoded = in_use().wrapping_sub(base);
    let mut replica = Replica::new(schema.clone());
    replica.replace(updates).unwrap();
    let peak = PEAK.load(Ordering::Relaxed).wrapping_sub(base);
    let tracked = in_use().wrapping_sub(base);
    drop(replica.take_changes());
    let held = in_use().wrapping_sub(base);
    COUNTING.store(false, Ordering::Relaxed);
    let rows = replica.table("Logical_Switch_Port").unwrap().len() + replica.table("Logical_Switch").unwrap().len();
    println!(
        "initial sync of {rows} rows: JSON {:.1} MiB; decoded updates {:.1} MiB; \
         replica {:.1} MiB ({:.2}x JSON), {:.1} MiB with its change tracking; \
         peak {:.1} MiB beside the JSON, so JSON + peak = {:.2}x JSON",
        mib(json.len()),
        mib(decoded),
        mib(held),
        held as f64 / json.len() as f64,
        mib(tracked),
        mib(peak),
        (json.len() + peak) as f64 / json.len() as f64,
    );
}

fn benches(c: &mut Criterion) {
    let schema = nb_schema();
    let json = initial_payload();
    report_memory(&schema, &json);

    c.bench_function("decode_100k_lsp", |b| {
        b.iter_with_large_drop(|| decode_table_updates(&json, UpdateFormat::Update2, &schema).unwrap())
    });

    c.bench_function("apply_100k_lsp", |b| {
        b.iter_with_large_drop(|| {
            let updates = decode_table_updates(&json, UpdateFormat::Update2, &schema).unwrap();
            let mut replica = Replica::new(schema.clone());
            replica.replace(updates).unwrap();
            replica
        })
    });

    let mut replica = Replica::new(schema.clone());
    replica.replace(decode_table_updates(&json, UpdateFormat::Update2, &schema).unwrap()).unwrap();
    replica.take_changes();
    let modifies = [modify_payload(false, 2), modify_payload(true, 3)];
    let mut turn = 0;
    c.bench_function("modify_10k_of_100k", |b| {
        b.iter_with_large_drop(|| {
            turn += 1;
            let updates = decode_table_updates(&modifies[turn % 2], UpdateFormat::Update2, &schema).unwrap();
            replica.apply(updates).unwrap();
            let changes = replica.take_changes();
            assert_eq!(changes.len(), PORTS / 10);
            changes
        })
    });
}

criterion_group! {
    name = replica;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    targets = benches
}
criterion_main!(replica);
