//! Times the replica's initial sync of a database: connect, fetch the schema,
//! monitor every table, wait until synchronized. Prints one JSON line with
//! the seconds taken, the rows held, the bytes received and the peak
//! resident memory. Used by `scripts/bench-dump`.
//!
//! Usage: initial_sync SERVER DB

use std::time::Instant;

use ovsdb::io::Client;
use ovsdb::session::{MonitorSpec, Remote, SessionConfig};

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, server, db] = args.as_slice() else {
        eprintln!("usage: initial_sync SERVER DB");
        std::process::exit(2);
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let mut config = SessionConfig::new(Remote::parse_list(server).expect("remote"), db.as_str());
        config.monitor = Some(MonitorSpec::All);
        let start = Instant::now();
        let mut client = Client::new(config, None);
        client.wait_ready().await;
        let secs = start.elapsed().as_secs_f64();
        let replica = client.session().replica().expect("replica");
        let rows: usize = replica.schema().tables.keys().filter_map(|t| replica.table(t)).map(|t| t.len()).sum();
        println!(
            "{{\"seconds\":{secs:.3},\"rows\":{rows},\"bytes_received\":{},\"peak_rss_kib\":{}}}",
            client.bytes_received(),
            peak_rss_kib().unwrap_or(0)
        );
    });
}
