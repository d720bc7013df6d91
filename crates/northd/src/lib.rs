//! `ovn-northd-rs`: the daemon that keeps the OVN Southbound database equal
//! to the translation of the Northbound one, a drop-in replacement for
//! ovn-northd 23.03 (same options, same control commands, the same SB lock
//! so that the two never write at once).
//!
//! Module map:
//! - `cli`: the command line (clap) into a validated `Config`; no I/O.
//! - `config`: the validated configuration.
//! - `vlog`: OVS `-v` specs into per-destination, per-module levels.
//! - `logging`: tracing in OVS's line format to stderr and `--log-file`,
//!   reopened on SIGHUP.
//! - `daemon`: `--pidfile`, `--detach`, `--no-chdir` as OVS daemons do them.
//! - `notify`: systemd's `READY=1` / `STATUS=` notifications.
//! - `control`: the `ovn-appctl` control socket (unixctl JSON-RPC).
//! - `status`: `nb_cfg` / `sb_cfg` / `hv_cfg` bookkeeping (pure).
//! - `ratelimit`: rate-limited warnings and compiler diagnostics (pure).
//! - `metrics`: Prometheus metrics the main loop records, and the HTTP
//!   listener of `--metrics-address` on its own thread.
//! - `shards`: `--shards`: the locks of a sharded group and what they let
//!   an instance write (pure).
//! - `allocator`: when mimalloc gives freed memory back to the system.
//! - `main_loop`: the one event loop: sessions, compile, diff, one
//!   transaction per database at a time, active/standby/paused.
//!
//! Architecture invariant: only `main_loop` writes to the databases, and
//! only while holding the SB lock `ovn_northd` (sharded: the locks of the
//! shards it writes, and `ovn_northd` for the global rows); every SB
//! transaction asserts them.

pub mod allocator;
pub mod cli;
pub mod config;
pub mod control;
pub mod daemon;
pub mod logging;
pub mod main_loop;
pub mod metrics;
pub mod notify;
pub mod ratelimit;
pub mod shards;
pub mod status;
pub mod vlog;
