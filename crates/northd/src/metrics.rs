//! The daemon's Prometheus metrics (`--metrics-address`): what the main
//! loop records and their text encoding. Names start with `ovn_northd_`:
//!
//! - `node_runs_total{node,kind}` and `node_run_seconds{node}`: runs of each
//!   engine node by kind (`recompute`, `compute`, `abort`, as
//!   `inc-engine/show-stats` counts them) and their durations. One call,
//!   [`Metrics::node_run`], records a run, so a node added to the engine
//!   appears by calling it.
//! - `cfg_lag_seconds`: time from seeing a new `NB_Global.nb_cfg` until
//!   `NB_Global.sb_cfg` carries it (what `ovn-nbctl --wait=sb` waits for);
//!   `cfg_lag`: `nb_cfg - sb_cfg` now.
//! - `sb_transaction_rows`, `sb_rows_total{table,op}`: rows written per
//!   committed SB transaction, and per table and operation;
//!   `transactions_total{db,result}`: transactions committed and failed.
//! - `active`, `paused`: the lock role; `db_connected{db}`,
//!   `db_reconnects_total{db}`: the connections.
//!
//! The main loop only updates counters, gauges and histograms (atomics and
//! short locks); the listener ([`http`]) encodes them on its own thread.
//!
//! What it must never do: I/O, or anything that could block or slow the
//! main loop; change what the daemon does.

pub mod http;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lflow::sync::PlanStats;
use ovsdb::Replica;
use prometheus_client::encoding::prometheus_text;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use lflow::engine::RunKind;

use crate::main_loop::Role;
use crate::status;

/// Labels of `node_runs_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct NodeKind {
    node: &'static str,
    kind: &'static str,
}

/// Labels of `node_run_seconds`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct Node {
    node: &'static str,
}

/// Labels of the per-database metrics.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct Db {
    db: &'static str,
}

/// Labels of `transactions_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct DbResult {
    db: &'static str,
    result: &'static str,
}

/// Labels of `sb_rows_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct TableOp {
    table: &'static str,
    op: &'static str,
}

/// The databases, as the logs name them.
const DBS: [&str; 2] = ["OVN_Northbound", "OVN_Southbound"];

/// Bucket bounds of the durations, in seconds: 1 ms to a minute.
const SECONDS: [f64; 15] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// Bucket bounds of rows per transaction.
const ROWS: [f64; 7] = [1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6];

/// Most `nb_cfg` values remembered while waiting for `sb_cfg` (the oldest
/// are forgotten first).
const PENDING_MAX: usize = 1024;

fn seconds_histogram() -> Histogram {
    Histogram::new(SECONDS)
}

/// The metrics, as the main loop records them.
pub struct Metrics {
    registry: Arc<Registry>,
    node_runs: Family<NodeKind, Counter>,
    node_seconds: Family<Node, Histogram>,
    cfg_lag_seconds: Histogram,
    cfg_lag: Gauge,
    sb_transaction_rows: Histogram,
    sb_rows: Family<TableOp, Counter>,
    transactions: Family<DbResult, Counter>,
    active: Gauge,
    paused: Gauge,
    connected: Family<Db, Gauge>,
    reconnects: Family<Db, Counter>,
    /// The `nb_cfg` values seen ahead of `sb_cfg`, increasing, each with
    /// when it was first seen.
    pending: VecDeque<(i64, Instant)>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        let mut m = Metrics {
            registry: Arc::default(),
            node_runs: Family::default(),
            node_seconds: Family::new_with_constructor(seconds_histogram),
            cfg_lag_seconds: seconds_histogram(),
            cfg_lag: Gauge::default(),
            sb_transaction_rows: Histogram::new(ROWS),
            sb_rows: Family::default(),
            transactions: Family::default(),
            active: Gauge::default(),
            paused: Gauge::default(),
            connected: Family::default(),
            reconnects: Family::default(),
            pending: VecDeque::new(),
        };
        // Series that exist from the start, at 0.
        for db in DBS {
            for result in ["committed", "failed"] {
                m.transactions.get_or_create(&DbResult { db, result }).inc_by(0);
            }
            m.connected.get_or_create(&Db { db }).set(0);
            m.reconnects.get_or_create(&Db { db }).inc_by(0);
        }
        let mut r = Registry::with_prefix("ovn_northd");
        r.register(
            "node_runs",
            "Runs of each engine node, by kind as inc-engine/show-stats counts them (recompute, compute, abort)",
            m.node_runs.clone(),
        );
        r.register("node_run_seconds", "Time each engine node's runs took", m.node_seconds.clone());
        r.register(
            "cfg_lag_seconds",
            "Time from seeing a new NB_Global nb_cfg until NB_Global sb_cfg carries it (its translation committed), on the active instance",
            m.cfg_lag_seconds.clone(),
        );
        r.register("cfg_lag", "NB_Global nb_cfg minus sb_cfg: changes not yet known translated", m.cfg_lag.clone());
        r.register(
            "sb_transaction_rows",
            "Rows the translation wrote in each committed SB transaction",
            m.sb_transaction_rows.clone(),
        );
        r.register(
            "sb_rows",
            "SB rows written in committed transactions, by table and operation (inserted, updated, deleted)",
            m.sb_rows.clone(),
        );
        r.register(
            "transactions",
            "Transactions sent, by database and result (committed, failed)",
            m.transactions.clone(),
        );
        r.register("active", "1 while this instance holds the ovn_northd lock and writes, else 0", m.active.clone());
        r.register(
            "paused",
            "1 while this instance is paused (writes nothing, lock released), else 0",
            m.paused.clone(),
        );
        r.register("db_connected", "1 while the connection to the database is up, else 0", m.connected.clone());
        r.register("db_reconnects", "Connections to the database made again after it was ready", m.reconnects.clone());
        m.registry = Arc::new(r);
        m
    }
}

impl Metrics {
    /// The registry the listener encodes.
    pub fn registry(&self) -> Arc<Registry> {
        Arc::clone(&self.registry)
    }

    /// Records one run of the engine node `node`.
    pub fn node_run(&self, node: &'static str, kind: RunKind, elapsed: Duration) {
        self.node_runs.get_or_create(&NodeKind { node, kind: kind.as_str() }).inc();
        // An abort is followed by the node's recompute, which has the time.
        if kind != RunKind::Abort {
            self.node_seconds.get_or_create(&Node { node }).observe(elapsed.as_secs_f64());
        }
    }

    /// Follows `nb_cfg` and `sb_cfg` after an NB change; the lag is
    /// recorded only while `active` (the instance that writes `sb_cfg`).
    pub fn nb_changed(&mut self, nb: &Replica, active: bool) {
        if let (Some(nb_cfg), Some(sb_cfg)) = (status::nb_cfg(nb), status::sb_cfg(nb)) {
            self.cfg(nb_cfg, sb_cfg, active, Instant::now());
        }
    }

    fn cfg(&mut self, nb_cfg: i64, sb_cfg: i64, active: bool, now: Instant) {
        self.cfg_lag.set(nb_cfg.saturating_sub(sb_cfg));
        // nb_cfg went back: another NB, or one restored from a backup.
        if self.pending.back().is_some_and(|&(cfg, _)| cfg > nb_cfg) {
            self.pending.clear();
        }
        if nb_cfg > sb_cfg && self.pending.back().map_or(true, |&(cfg, _)| cfg < nb_cfg) {
            if self.pending.len() == PENDING_MAX {
                self.pending.pop_front();
            }
            self.pending.push_back((nb_cfg, now));
        }
        while let Some(&(cfg, seen)) = self.pending.front() {
            if cfg > sb_cfg {
                break;
            }
            self.pending.pop_front();
            if active {
                self.cfg_lag_seconds.observe(now.saturating_duration_since(seen).as_secs_f64());
            }
        }
    }

    /// Records a committed SB transaction's rows (by the plan's count).
    pub fn sb_committed(&self, stats: &PlanStats) {
        let (inserted, updated, deleted) = stats.totals();
        self.sb_transaction_rows.observe((inserted + updated + deleted) as f64);
        for (&table, &(inserted, updated, deleted)) in &stats.tables {
            for (op, n) in [("inserted", inserted), ("updated", updated), ("deleted", deleted)] {
                if n > 0 {
                    self.sb_rows.get_or_create(&TableOp { table, op }).inc_by(n as u64);
                }
            }
        }
    }

    /// Records a transaction's outcome.
    pub fn transaction(&self, db: &'static str, committed: bool) {
        let result = if committed { "committed" } else { "failed" };
        self.transactions.get_or_create(&DbResult { db, result }).inc();
    }

    /// Records the role.
    pub fn role(&self, role: Role) {
        self.active.set(i64::from(role == Role::Active));
        self.paused.set(i64::from(role == Role::Paused));
    }

    /// Records whether each database's connection is up.
    pub fn connections(&self, nb: bool, sb: bool) {
        for (db, up) in DBS.into_iter().zip([nb, sb]) {
            self.connected.get_or_create(&Db { db }).set(i64::from(up));
        }
    }

    /// Records a reconnection to `db`.
    pub fn reconnected(&self, db: &'static str) {
        self.reconnects.get_or_create(&Db { db }).inc();
    }
}

/// The Prometheus text format of the metrics in `registry`.
pub fn text(registry: &Registry) -> Result<String, std::fmt::Error> {
    let mut out = String::new();
    prometheus_text::encode(&mut out, registry)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_has_every_metric_with_help_and_type() {
        let mut m = Metrics::default();
        m.node_run("northd", RunKind::Recompute, Duration::from_millis(3));
        m.node_run("northd", RunKind::Recompute, Duration::from_millis(30));
        let mut stats = PlanStats::default();
        stats.tables.insert("Logical_Flow", (5, 2, 0));
        m.sb_committed(&stats);
        m.transaction("OVN_Southbound", true);
        m.role(Role::Active);
        m.connections(true, false);
        let t0 = Instant::now();
        m.cfg(1, 0, true, t0);
        m.cfg(1, 1, true, t0 + Duration::from_millis(20));
        let text = text(&m.registry()).unwrap();
        for line in [
            "# HELP ovn_northd_node_runs_total Runs of each engine node, by kind as inc-engine/show-stats counts them (recompute, compute, abort).",
            "# TYPE ovn_northd_node_runs_total counter",
            "ovn_northd_node_runs_total{node=\"northd\",kind=\"recompute\"} 2",
            "# TYPE ovn_northd_node_run_seconds histogram",
            "ovn_northd_node_run_seconds_bucket{node=\"northd\",le=\"0.001\"} 0",
            "ovn_northd_node_run_seconds_bucket{node=\"northd\",le=\"0.005\"} 1",
            "ovn_northd_node_run_seconds_bucket{node=\"northd\",le=\"0.05\"} 2",
            "ovn_northd_node_run_seconds_bucket{node=\"northd\",le=\"+Inf\"} 2",
            "ovn_northd_node_run_seconds_count{node=\"northd\"} 2",
            "ovn_northd_node_run_seconds_sum{node=\"northd\"} 0.033",
            "ovn_northd_cfg_lag_seconds_count 1",
            "ovn_northd_cfg_lag_seconds_bucket{le=\"0.01\"} 0",
            "ovn_northd_cfg_lag_seconds_bucket{le=\"0.025\"} 1",
            "# TYPE ovn_northd_cfg_lag gauge",
            "ovn_northd_cfg_lag 0",
            "ovn_northd_sb_transaction_rows_bucket{le=\"1\"} 0",
            "ovn_northd_sb_transaction_rows_bucket{le=\"10\"} 1",
            "ovn_northd_sb_transaction_rows_sum 7.0",
            "ovn_northd_sb_rows_total{table=\"Logical_Flow\",op=\"inserted\"} 5",
            "ovn_northd_sb_rows_total{table=\"Logical_Flow\",op=\"updated\"} 2",
            "ovn_northd_transactions_total{db=\"OVN_Southbound\",result=\"committed\"} 1",
            "ovn_northd_transactions_total{db=\"OVN_Southbound\",result=\"failed\"} 0",
            "ovn_northd_transactions_total{db=\"OVN_Northbound\",result=\"committed\"} 0",
            "# TYPE ovn_northd_active gauge",
            "ovn_northd_active 1",
            "ovn_northd_paused 0",
            "ovn_northd_db_connected{db=\"OVN_Northbound\"} 1",
            "ovn_northd_db_connected{db=\"OVN_Southbound\"} 0",
            "ovn_northd_db_reconnects_total{db=\"OVN_Southbound\"} 0",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in:\n{text}");
        }
        assert!(!text.contains("op=\"deleted\""), "no series for rows never written:\n{text}");
        // Every metric has its HELP and TYPE lines.
        let names: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("# TYPE ")?.split(' ').next()).collect();
        assert_eq!(names.len(), 11, "{text}");
        for name in names {
            assert!(text.contains(&format!("# HELP {name} ")), "{name} has no HELP");
        }
    }

    #[test]
    fn the_lag_runs_from_a_new_nb_cfg_to_its_sb_cfg() {
        let mut m = Metrics::default();
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        m.cfg(1, 0, true, at(0));
        m.cfg(2, 0, true, at(100));
        m.cfg(2, 0, true, at(150));
        assert_eq!(m.cfg_lag.get(), 2);
        m.cfg(2, 1, true, at(200));
        assert_eq!((m.cfg_lag_seconds.count(), m.cfg_lag_seconds.sum()), (1, 0.2));
        m.cfg(3, 3, true, at(400));
        assert_eq!(m.cfg_lag.get(), 0);
        assert_eq!(m.cfg_lag_seconds.count(), 2);
        assert!((m.cfg_lag_seconds.sum() - 0.5).abs() < 1e-9, "2 was seen at 100 ms, caught up at 400 ms");
        assert!(m.pending.is_empty(), "3 was never behind");
        // On standby the lag is followed but not recorded.
        m.cfg(4, 3, false, at(500));
        m.cfg(4, 4, false, at(600));
        assert_eq!(m.cfg_lag_seconds.count(), 2);
        // nb_cfg going back forgets what was pending.
        m.cfg(9, 3, true, at(700));
        m.cfg(1, 0, true, at(800));
        assert_eq!(m.pending.iter().map(|p| p.0).collect::<Vec<_>>(), [1]);
    }

    #[test]
    fn the_pending_cfgs_are_bounded() {
        let mut m = Metrics::default();
        let t0 = Instant::now();
        for cfg in 1..=(PENDING_MAX as i64 + 10) {
            m.cfg(cfg, 0, false, t0);
        }
        assert_eq!(m.pending.len(), PENDING_MAX);
        assert_eq!(m.pending.front().map(|p| p.0), Some(11));
    }
}
