//! The Northbound-to-Southbound logical-flow compiler: pure and
//! deterministic. `compile(nb, sb)` reads the NB replica (and the SB facts
//! it must respect: tunnel keys already given out, chassis) and returns the
//! desired SB rows; `sync` turns them into the operations that make the SB
//! equal to them. No I/O, no clock, no randomness that is not derived from
//! the input: the same replicas give the same output, row for row.
//!
//! Module map:
//! - `input`: typed views of the NB and SB replicas, generated from
//!   `schemas/` by `build.rs`.
//! - `stage`: every pipeline stage with its table number.
//! - `model`: derived objects (datapaths, ports, parsed addresses, tunnel
//!   keys) built once from the NB.
//! - `global`: SB_Global and the static tables (DHCP option codes, RBAC).
//! - `bindings`: datapath and port bindings, multicast groups, address sets.
//! - `flows`: the logical flows, one module per group of stages, and their
//!   folding into datapath groups.
//! - `output`: desired rows, logical flows, diagnostics, NB status writes.
//! - `sync`: desired rows against the replicas -> OVSDB operations.

pub mod bindings;
pub mod flows;
pub mod global;
pub mod input;
pub mod model;
pub mod output;
pub mod stage;
pub mod sync;

use ovsdb::Replica;

use output::Output;

/// Compiles the NB replica into the desired SB contents. `sb` supplies the
/// facts to respect (tunnel keys already given out). Never fails: NB rows
/// that cannot be translated are left out and reported in
/// `Output::diagnostics`.
pub fn compile(nb: &Replica, sb: &Replica) -> Output {
    let mut out = Output::default();
    let (nb_global, options) = global::global_options(nb);
    global::build(nb_global, &options, &mut out);
    let model = model::Model::build(nb, sb, options, &mut out.diagnostics);
    bindings::build(&model, &mut out);
    let mut flows = output::Flows::default();
    flows::switch::build(&model, &mut flows);
    flows::router::build(&model, &mut flows, &mut out.diagnostics);
    flows::to_rows(flows.into_vec(), &mut out);
    out.diagnostics.sort();
    out
}
