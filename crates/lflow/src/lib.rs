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
//!   keys, load balancers) built once from the NB.
//! - `global`: SB_Global and the static tables (DHCP option codes, RBAC).
//! - `bindings`: datapath and port bindings, multicast groups, address
//!   sets, meters, QoS queue ids, load balancers and their service
//!   monitors.
//! - `coverage`: what the compiler does with each NB column, and the
//!   diagnostics for NB rows that use a feature not translated yet.
//! - `flows`: the logical flows, one module per group of stages, the CoPP
//!   meters set on them, and their folding into datapath groups.
//! - `output`: desired rows, logical flows, diagnostics, NB status writes.
//! - `sync`: desired rows against the replicas -> OVSDB operations.
//! - `shard`: which of K shards, or the global role, writes each SB row;
//!   a plan split into what one instance sends and what it leaves.
//! - `engine`: what a daemon keeps between cycles so that a change costs
//!   the rows it changes: the folded flows and an index of the SB's.
//! - `invariants`: checks of the output any test runs (no identical rows;
//!   compiling never depends on a column northd writes).

pub mod bindings;
pub mod coverage;
pub mod engine;
pub mod flows;
pub mod global;
pub mod input;
pub mod invariants;
pub mod model;
pub mod output;
pub mod shard;
pub mod stage;
pub mod sync;

use std::collections::{BTreeSet, HashMap, HashSet};

use ovsdb::Replica;

use output::Output;

/// The SB tables `compile` reads as facts, besides those it writes.
pub const SB_FACTS: &[&str] = &["Chassis", "Encap", "IGMP_Group"];

/// Every SB table a replica must hold for `compile` and `sync::plan_sb` to
/// see all they need (a daemon monitors these and no others).
pub fn sb_tables() -> impl Iterator<Item = &'static str> {
    sync::owned_tables().chain(SB_FACTS.iter().copied())
}

/// The SB columns whose replica index (`Replica::create_index`) a run
/// uses when it has one (`sync::Planner` finds the rows of the datapaths
/// it built, and of the port groups, by them): a daemon creates them.
pub fn sb_indexes() -> impl Iterator<Item = (&'static str, &'static str)> {
    bindings::PER_DATAPATH.iter().map(|t| (*t, "datapath")).chain([("Port_Group", "name")])
}

/// Compiles the NB replica into the desired SB contents. `sb` supplies the
/// facts to respect (tunnel keys already given out). Never fails: NB rows
/// that cannot be translated are left out and reported in
/// `Output::diagnostics`.
pub fn compile(nb: &Replica, sb: &Replica) -> Output {
    let Unfolded { mut output, flows, .. } =
        compile_unfolded(nb, sb, &model::memo::PortMemo::of(nb, sb), |_| None, None);
    flows::to_rows(flows, &mut output);
    output
}

/// A compilation whose logical flows are not folded into `Logical_Flow`
/// and `Logical_DP_Group` rows yet: what `engine` keeps between cycles.
#[derive(Debug)]
pub struct Unfolded {
    /// Every desired row but the flows and their datapath groups (the
    /// groups of load balancers are there).
    pub output: Output,
    /// The flows of every datapath built, each datapath's in build order
    /// (none when a sink took them).
    pub flows: Vec<output::Lflow>,
    /// The NB row (`Logical_Switch` or `Logical_Router`) of each `DpId`.
    pub datapaths: Vec<ovsdb::Uuid>,
    /// The datapaths whose flows were all built (all when `None`); `flows`
    /// holds theirs, and maybe some of others, to leave out.
    pub built: Option<HashSet<output::DpId>>,
    /// Datapaths of which only some parts of the flows were built
    /// (`output::Selection::parts`), and those parts.
    pub parts: HashMap<output::DpId, BTreeSet<ovsdb::Uuid>>,
    /// The datapaths whose per-datapath rows (`bindings::PER_DATAPATH`)
    /// `output` holds (all when `None`).
    pub rows_built: Option<HashSet<output::DpId>>,
    /// The port groups (by name) whose SB `Port_Group` rows and address
    /// sets `output` holds (all when `None`).
    pub port_groups: Option<HashSet<String>>,
    /// The names of the address sets `output` does not hold: those of the
    /// other port groups, the `_rtr_lb_` sets of the routers whose rows
    /// were not built, and the NB address sets not selected.
    pub unbuilt_sets: HashSet<String, foldhash::fast::FixedState>,
    /// The tables whose rows were left out (`Selected::unbuilt_tables`).
    pub unbuilt_tables: Vec<&'static str>,
    /// The diagnostics of each datapath whose flows were built, and of
    /// each whose per-datapath rows were (also in `output`).
    pub dp_diagnostics: bindings::DpDiagnostics,
    pub row_diagnostics: bindings::DpDiagnostics,
}

/// The flows, and the datapaths whose per-datapath rows
/// (`bindings::PER_DATAPATH`, the routers' `_rtr_lb_` address sets, the
/// NB status columns of their switch ports), a compilation builds.
#[derive(Debug, Default)]
pub struct Selected {
    pub flows: output::Selection,
    pub rows: HashSet<output::DpId>,
    /// The NB status columns of every switch port, not only of those of
    /// `rows`.
    pub nb_status_all: bool,
    /// The port groups (by name) whose SB `Port_Group` rows to build; all
    /// when `None`.
    pub port_groups: Option<HashSet<String>>,
    /// The NB address sets (by name) whose SB rows to build; all when
    /// `None`.
    pub address_sets: Option<HashSet<String>>,
    /// Tables of `bindings::MADE_OF_NO_PORT` whose rows to leave out: the
    /// caller plans them as its last plan found them
    /// (`sync::Planner::table_as_settled`).
    pub unbuilt_tables: Vec<&'static str>,
}

/// `compile` but for the last step, `flows::to_rows`, and building the
/// flows and the per-datapath rows of only the datapaths `select` picks
/// from the model (all when it says `None`). Each datapath's flows go to
/// `sink` as soon as they are built, if there is one (`Unfolded::flows`
/// is then empty): the engine keeps them, and no compilation holds every
/// datapath's flows at once. `memo` holds every port of `nb`
/// (`PortMemo::refresh`).
pub fn compile_unfolded(
    nb: &Replica,
    sb: &Replica,
    memo: &model::memo::PortMemo,
    select: impl FnOnce(&model::Model<'_>) -> Option<Selected>,
    mut sink: Option<&mut output::Sink<'_>>,
) -> Unfolded {
    let mut out = Output::default();
    let (nb_global, options) = global::global_options(nb, &mut out.diagnostics);
    global::build(nb_global, &options, &mut out);
    global::sb_dependent_options(sb, &mut out);
    coverage::not_translated(nb, &mut out.diagnostics);
    let mut model = model::Model::build(nb, sb, memo, options, &mut out.diagnostics);
    let in_use = flows::router::bfd_in_use(&model);
    let is_router_port = |name: &str| model.port(name).is_some_and(|p| p.is_lrp());
    let bfd = model::bfd::Sessions::build(nb, sb, &in_use, is_router_port, &mut out.diagnostics);
    model.bfd = bfd;
    let (selection, rows_built, port_groups, address_sets, nb_status_all, unbuilt_tables) = select(&model)
        .map_or((None, None, None, None, true, Vec::new()), |s| {
            (Some(s.flows), Some(s.rows), s.port_groups, s.address_sets, s.nb_status_all, s.unbuilt_tables)
        });
    let mut row_diagnostics = bindings::DpDiagnostics::new();
    let mut unbuilt_sets = HashSet::default();
    let groups = port_groups.as_ref();
    let only = bindings::Only {
        rows: rows_built.as_ref(),
        groups,
        address_sets: address_sets.as_ref(),
        nb_status_all,
        unbuilt_tables: &unbuilt_tables,
    };
    bindings::build(&model, only, &mut out, &mut row_diagnostics, &mut unbuilt_sets);
    let (built, parts) = match &selection {
        Some(s) => (Some(s.whole.clone()), s.parts.clone()),
        None => (None, HashMap::new()),
    };
    let meters = flows::copp::Meters::new(&model, &mut out.diagnostics);
    let mut kept = Vec::new();
    let mut emit = |dp, which: output::Built<'_>, mut built: Vec<output::Lflow>| {
        meters.apply(built.iter_mut());
        match &mut sink {
            Some(sink) => sink(dp, which, built),
            None => kept.extend(built),
        }
    };
    let mut flows = output::FlowSet::streaming(selection, &mut emit);
    flows::switch::build(&model, &mut flows, &mut out.diagnostics);
    flows::router::build(&model, &mut flows, &mut out.diagnostics);
    let dp_diagnostics = std::mem::take(&mut flows.dp_diagnostics);
    drop(flows);
    out.diagnostics.sort();
    let datapaths = model.datapaths.iter().map(|dp| dp.uuid).collect();
    Unfolded {
        output: out,
        flows: kept,
        datapaths,
        built,
        parts,
        rows_built,
        port_groups,
        unbuilt_sets,
        unbuilt_tables,
        dp_diagnostics,
        row_diagnostics,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;

    use ovsdb::proto::update::{decode_table_updates, UpdateFormat};
    use ovsdb::DatabaseSchema;

    use super::*;

    /// A replica of `schemas/<schema>` holding `json` (an update2 table
    /// updates object); shared by the crate's unit tests.
    pub(crate) fn replica(schema: &str, json: &str) -> Replica {
        let path = format!("{}/../../schemas/{schema}", env!("CARGO_MANIFEST_DIR"));
        let schema = DatabaseSchema::from_json_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let mut r = Replica::new(Arc::new(schema));
        r.apply(decode_table_updates(json, UpdateFormat::Update2, r.schema()).unwrap()).unwrap();
        r
    }

    /// Every SB table the compiler's code reads through a generated view
    /// is one `sb_tables()` names, so a daemon monitoring only those misses
    /// nothing.
    #[test]
    fn sb_tables_cover_every_sb_view_in_use() {
        let schema = replica("ovn-sb.ovsschema", "{}").schema().clone();
        let type_of =
            |table: &str| table.split('_').map(|p| p[..1].to_uppercase() + &p[1..].to_lowercase()).collect::<String>();
        let wanted: Vec<&str> = sb_tables().collect();
        let mut stack = vec![std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/src"))];
        let mut seen = 0;
        while let Some(path) = stack.pop() {
            if path.is_dir() {
                stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for (i, _) in text.match_indices("sb::") {
                let name: String = text[i + 4..].chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
                if let Some((table, _)) = schema.tables.iter().find(|(t, _)| type_of(t) == name) {
                    seen += 1;
                    assert!(
                        wanted.contains(&table.as_str()),
                        "{} reads SB {table}, which sb_tables() lacks",
                        path.display()
                    );
                }
            }
        }
        assert!(seen > 5, "found only {seen} uses of SB views");
    }

    /// Malformed NB values are reported with the row's name and left out;
    /// the rest of the translation goes on.
    #[test]
    fn bad_nb_data_is_skipped_with_a_diagnostic() {
        let nb = replica(
            "ovn-nb.ovsschema",
            r#"{
            "Logical_Switch": {"00000000-0000-0000-0000-000000000001": {"initial": {"name": "sw0",
                "ports": ["set", [["uuid", "00000000-0000-0000-0000-000000000011"],
                                  ["uuid", "00000000-0000-0000-0000-000000000012"],
                                  ["uuid", "00000000-0000-0000-0000-000000000013"]]]}}},
            "Logical_Switch_Port": {
                "00000000-0000-0000-0000-000000000011": {"initial": {"name": "good",
                    "addresses": "00:00:00:00:00:01 10.0.0.1"}},
                "00000000-0000-0000-0000-000000000012": {"initial": {"name": "bad-mac",
                    "addresses": "00:00:00:00:00:zz 10.0.0.2"}},
                "00000000-0000-0000-0000-000000000013": {"initial": {"name": "bad-router", "type": "router",
                    "options": ["map", [["router-port", "nowhere"]]]}}
            },
            "Logical_Router": {"00000000-0000-0000-0000-000000000002": {"initial": {"name": "lr0",
                "ports": ["uuid", "00000000-0000-0000-0000-000000000021"]}}},
            "Logical_Router_Port": {"00000000-0000-0000-0000-000000000021": {"initial": {"name": "lrp0",
                "mac": "00:00:00:00:ff:01", "networks": "10.0.0.300/24"}}}
        }"#,
        );
        let sb = replica("ovn-sb.ovsschema", "{}");
        let out = compile(&nb, &sb);
        let diags: Vec<String> = out.diagnostics.iter().map(ToString::to_string).collect();
        for name in ["bad-mac", "bad-router", "lrp0"] {
            assert!(diags.iter().any(|d| d.contains(name)), "no diagnostic names {name}: {diags:?}");
        }
        assert!(!diags.iter().any(|d| d.contains("good")), "{diags:?}");
        let ports: Vec<String> = out
            .rows("Port_Binding")
            .iter()
            .filter_map(|r| r.get("logical_port")?.as_atom()?.as_str().map(str::to_string))
            .collect();
        for name in ["good", "bad-mac", "bad-router", "lrp0"] {
            assert!(ports.contains(&name.to_string()), "{name} lost: {ports:?}");
        }
        assert_eq!(out.rows("Datapath_Binding").len(), 2);
    }
}
