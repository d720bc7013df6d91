//! Invariants of the compiler's output, as checks any test can run on any
//! input (the unit tests on small NBs, the conformance suite on every
//! scenario): no SB table holds two identical rows, compiling never
//! depends on a column northd writes itself, so that the daemon may skip
//! the echo of its own NB writes, and never on the `--wait` sequence
//! numbers (`NOT_INPUTS`), so that the daemon answers their changes
//! without a recompute. Pure: replicas in, findings out; it never panics on
//! what the replicas hold.

use std::collections::BTreeMap;
use std::sync::Arc;

use ovsdb::proto::update::{Cells, ColumnValues, RowUpdate, TableUpdate, TableUpdates};
use ovsdb::{Atom, Datum, Replica, Uuid};

use crate::output::{DesiredRow, Output};

/// Every NB column northd writes: the compiler's `NbWrite`s (`bindings`)
/// and the daemon's configuration bookkeeping (`northd::status`).
pub const NB_WRITTEN: &[(&str, &str)] = &[
    ("BFD", "status"),
    ("Logical_Switch_Port", "dynamic_addresses"),
    ("Logical_Switch_Port", "tag"),
    ("Logical_Switch_Port", "up"),
    ("NB_Global", "options"),
    ("NB_Global", "nb_cfg_timestamp"),
    ("NB_Global", "sb_cfg"),
    ("NB_Global", "sb_cfg_timestamp"),
    ("NB_Global", "hv_cfg"),
    ("NB_Global", "hv_cfg_timestamp"),
];

/// The written columns the compiler reads back, each only as the previous
/// result of its own assignment, to keep it (IPAM keeps a port's dynamic
/// addresses, a container port keeps its tag, a BFD session its state
/// until ovn-controller reports one, as the reference does), or
/// (`NB_Global.options`) as the user's options northd adds its generated
/// keys to (`mac_prefix`, `svc_monitor_mac`, derived from the NB_Global
/// UUID when absent): the echo of the write changes nothing. Every other
/// written column is never read at all.
pub const NB_KEPT: &[(&str, &str)] = &[
    ("BFD", "status"),
    ("Logical_Switch_Port", "dynamic_addresses"),
    ("Logical_Switch_Port", "tag"),
    ("NB_Global", "options"),
];

/// Columns the compiler never reads and whose changes alone therefore
/// need no recompute: (database, table, column). The sequence numbers of
/// `ovn-nbctl --wait=sb|hv` that the CMS bumps (`NB_Global.nb_cfg`) and
/// northd moves (the others of `NB_Global`), and the ones ovn-controller
/// reports as it catches up (`Chassis_Private`). The daemon copies them
/// (`northd::status`) without compiling.
pub const NOT_INPUTS: &[(&str, &str, &str)] = &[
    ("OVN_Northbound", "NB_Global", "nb_cfg"),
    ("OVN_Northbound", "NB_Global", "nb_cfg_timestamp"),
    ("OVN_Northbound", "NB_Global", "sb_cfg"),
    ("OVN_Northbound", "NB_Global", "sb_cfg_timestamp"),
    ("OVN_Northbound", "NB_Global", "hv_cfg"),
    ("OVN_Northbound", "NB_Global", "hv_cfg_timestamp"),
    ("OVN_Southbound", "Chassis_Private", "nb_cfg"),
    ("OVN_Southbound", "Chassis_Private", "nb_cfg_timestamp"),
];

/// Checks that the columns of `NOT_INPUTS` are no input on this input:
/// with garbage in them, the NB and SB compile to the same output.
pub fn check_not_inputs(nb: &Replica, sb: &Replica) -> Result<(), String> {
    let scramble = |db: &Replica| {
        let name = db.schema().name.clone();
        edited(db, |table, _, column, d| {
            NOT_INPUTS.contains(&(name.as_str(), table, column)).then(|| Edit::Set(garbage(d)))
        })
    };
    let first = crate::compile(nb, sb);
    let second = crate::compile(&scramble(nb)?, &scramble(sb)?);
    differences("with garbage in the columns that are no input", &first, &second)
}

/// The written columns that also hold what the user set, left as they are
/// when the NB is brought back to before northd wrote: NB_Global options,
/// and a BFD session's status (an operator may preset it, and the
/// reference honours that; once a session runs, it is the state northd
/// and ovn-controller reached together, which SB holds too).
const MERGED: &[(&str, &str)] = &[("BFD", "status"), ("NB_Global", "options")];

/// A row's cells as compared: (column, value), in column order.
type RowCells<'a> = Vec<(&'a str, &'a Datum)>;

/// The rows that appear more than once in a table of `out`, as
/// `TABLE: ROW` lines (empty when the output keeps the invariant). Rows
/// with different ids are different rows even with equal cells: each is
/// referenced by its own parent (two meters' equal bands, a chassis in two
/// HA groups). Logical flows are compared without `external_ids`: the
/// NB row a flow comes from (`stage-hint`) does not make it another flow.
pub fn identical_rows(out: &Output) -> Vec<String> {
    let mut found = Vec::new();
    for (table, rows) in &out.sb {
        let mut cells: Vec<(&Option<String>, RowCells<'_>)> = rows
            .iter()
            .map(|r: &DesiredRow| {
                let cells = r.cells.iter().filter(|(c, _)| *table != "Logical_Flow" || **c != "external_ids");
                (&r.id, cells.map(|(c, d)| (*c, d)).collect())
            })
            .collect();
        cells.sort();
        for pair in cells.windows(2) {
            if pair[0] == pair[1] {
                found.push(format!("{table}: {:?}", pair[0].1));
            }
        }
    }
    found
}

/// Checks that the daemon may skip the echo of its NB writes on this
/// input: the NB with every written column cleared (as before northd ever
/// wrote) compiles to the same SB rows and NB writes once those writes are
/// applied, and again once the written columns that are never read are
/// set to garbage. Every NB write of the compilation names a column of
/// `NB_WRITTEN`. Returns what differs.
pub fn check_echo(nb: &Replica, sb: &Replica) -> Result<(), String> {
    let written = |table: &str, column: &str| NB_WRITTEN.contains(&(table, column));
    let fresh = edited(nb, |table, _, column, _| {
        (written(table, column) && !MERGED.contains(&(table, column))).then_some(Edit::Clear)
    })?;
    let first = crate::compile(&fresh, sb);
    if let Some(w) = first.nb.iter().find(|w| !written(w.table, w.column)) {
        return Err(format!("the compiler writes {}.{}, which NB_WRITTEN lacks", w.table, w.column));
    }
    let writes: BTreeMap<(Uuid, &str), &Datum> = first.nb.iter().map(|w| ((w.row, w.column), &w.value)).collect();
    let echoed = edited(&fresh, |_, row, column, _| writes.get(&(row, column)).map(|v| Edit::Set((*v).clone())))?;
    let second = crate::compile(&echoed, sb);
    differences("after the echo of its writes", &first, &second)?;
    let scrambled = edited(&echoed, |table, _, column, d| {
        (written(table, column) && !NB_KEPT.contains(&(table, column))).then(|| Edit::Set(garbage(d)))
    })?;
    let third = crate::compile(&scrambled, sb);
    differences("with garbage in the written columns it never reads", &first, &third)
}

/// A value of the same kind that no northd would write: a boolean flipped,
/// a number no configuration counter reaches.
fn garbage(d: &Datum) -> Datum {
    match d.as_atom() {
        Some(Atom::Boolean(b)) => Datum::from(Atom::Boolean(!b)),
        Some(Atom::Integer(_)) | None => Datum::from(Atom::Integer(987_654_321)),
        Some(other) => Datum::from(other.clone()),
    }
}

/// `Err` naming the first table whose rows differ between `a` and `b`, or
/// the NB writes when they do.
fn differences(when: &str, a: &Output, b: &Output) -> Result<(), String> {
    for (table, rows) in &a.sb {
        let theirs = b.rows(table);
        if rows.as_slice() != theirs {
            let only_a = rows.iter().find(|r| !theirs.contains(r));
            let only_b = theirs.iter().find(|r| !rows.contains(r));
            return Err(format!(
                "{table} differs {when}: {} rows before, {} after; before only: {:?}; after only: {:?}",
                rows.len(),
                theirs.len(),
                only_a.map(|r| &r.cells),
                only_b.map(|r| &r.cells)
            ));
        }
    }
    if a.nb != b.nb {
        return Err(format!("the NB writes differ {when}: {:?} then {:?}", a.nb, b.nb));
    }
    Ok(())
}

/// A change to one cell.
enum Edit {
    /// Back to the column's default.
    Clear,
    Set(Datum),
}

/// A copy of `db` in which `edit(table, row, column, value)` changes the
/// cells it returns an edit for.
fn edited(db: &Replica, mut edit: impl FnMut(&str, Uuid, &str, &Datum) -> Option<Edit>) -> Result<Replica, String> {
    let mut updates = TableUpdates::default();
    for (name, schema) in db.schema().tables.iter() {
        let Some(table) = db.table(name) else { continue };
        let rows = table
            .rows()
            .map(|row| {
                let mut values: ColumnValues = (schema.columns.iter().enumerate())
                    .map(|(i, (column, col))| {
                        let d = row.get(column);
                        let value = match edit(name, row.uuid(), column, d) {
                            None => d.clone(),
                            Some(Edit::Clear) => col.ty.default_datum(),
                            Some(Edit::Set(v)) => v,
                        };
                        (i, value)
                    })
                    .collect();
                (row.uuid(), RowUpdate::Initial(Cells::from_values(schema, &mut values)))
            })
            .collect();
        updates.tables.push(TableUpdate { table: Arc::clone(schema), rows });
    }
    let mut copy = Replica::new(Arc::clone(db.schema()));
    copy.apply(updates).map_err(|e| format!("editing a copy of the replica: {e}"))?;
    Ok(copy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::replica;

    /// A switch with IPAM: `q` asks for dynamic addresses, `vm` is bound
    /// to a chassis, `down` is not; ARP replies only for ports that are
    /// up (`ignore_lsp_down=false`).
    const NB: &str = r#"{
        "NB_Global": {"00000000-0000-0000-0000-000000000009": {"initial": {
            "options": ["map", [["mac_prefix", "0a:00:00"], ["ignore_lsp_down", "false"]]]}}},
        "Logical_Switch": {"00000000-0000-0000-0000-000000000001": {"initial": {"name": "sw",
            "other_config": ["map", [["subnet", "10.0.0.0/24"]]],
            "ports": ["set", [["uuid", "00000000-0000-0000-0000-000000000011"],
                              ["uuid", "00000000-0000-0000-0000-000000000012"],
                              ["uuid", "00000000-0000-0000-0000-000000000013"]]]}}},
        "Logical_Switch_Port": {
            "00000000-0000-0000-0000-000000000011": {"initial": {"name": "q", "addresses": "dynamic"}},
            "00000000-0000-0000-0000-000000000012": {"initial": {"name": "vm",
                "addresses": "00:00:00:00:00:02 10.0.0.2"}},
            "00000000-0000-0000-0000-000000000013": {"initial": {"name": "down",
                "addresses": "00:00:00:00:00:03 10.0.0.3"}}
        }
    }"#;

    const SB: &str = r#"{
        "Chassis": {"00000000-0000-0000-0000-0000000000c1": {"initial": {"name": "ch1", "hostname": "h1"}}},
        "Port_Binding": {"00000000-0000-0000-0000-0000000000b1": {"initial": {"logical_port": "vm",
            "chassis": ["uuid", "00000000-0000-0000-0000-0000000000c1"], "tunnel_key": 2}}}
    }"#;

    fn flows(out: &Output) -> Vec<String> {
        let s = |r: &DesiredRow, c: &str| r.get(c).and_then(|d| d.as_atom()?.as_str().map(str::to_string));
        let mut v: Vec<String> = out
            .rows("Logical_Flow")
            .iter()
            .map(|r| format!("{} {} {}", s(r, "match").unwrap_or_default(), "=>", s(r, "actions").unwrap_or_default()))
            .collect();
        v.sort();
        v
    }

    /// Regression: the destination lookup read the NB `dynamic_addresses`
    /// (written one cycle later) and the ARP responder the NB `up`, so a
    /// new dynamic port had no unicast flow until an unrelated recompute.
    #[test]
    fn echo_of_dynamic_addresses_and_up_changes_nothing() {
        let (nb, sb) = (replica("ovn-nb.ovsschema", NB), replica("ovn-sb.ovsschema", SB));
        check_echo(&nb, &sb).unwrap();
        let out = crate::compile(&nb, &sb);
        let dynamic = out.nb.iter().find(|w| w.column == "dynamic_addresses").expect("q gets addresses");
        let mac = dynamic.value.as_atom().and_then(Atom::as_str).unwrap().split(' ').next().unwrap().to_string();
        let flows = flows(&out);
        assert!(flows.iter().any(|f| f.starts_with(&format!("eth.dst == {mac} =>"))), "{flows:#?}");
        assert!(flows.iter().any(|f| f.starts_with("arp.tpa == 10.0.0.2 && arp.op == 1 =>")), "{flows:#?}");
        assert!(!flows.iter().any(|f| f.starts_with("arp.tpa == 10.0.0.3 && arp.op == 1 =>")), "{flows:#?}");
    }

    /// The `--wait` sequence numbers of both databases, set, change
    /// nothing; `ch1`'s Chassis_Private row holds some.
    #[test]
    fn wait_sequence_numbers_are_no_input() {
        let sb = SB.replacen(
            "\"Port_Binding\"",
            r#""Chassis_Private": {"00000000-0000-0000-0000-0000000000c2": {"initial": {"name": "ch1",
                "nb_cfg": 7, "nb_cfg_timestamp": 1000}}},
            "Port_Binding""#,
            1,
        );
        let nb = NB.replacen("\"options\"", r#""nb_cfg": 7, "sb_cfg": 6, "hv_cfg": 5, "options""#, 1);
        let (nb, sb) = (replica("ovn-nb.ovsschema", &nb), replica("ovn-sb.ovsschema", &sb));
        assert_eq!(sb.table("Chassis_Private").map(|t| t.len()), Some(1));
        check_not_inputs(&nb, &sb).unwrap();
    }

    /// The checks find what they are about: a duplicated row, and a
    /// compilation whose SB rows differ.
    #[test]
    fn checks_report_violations() {
        let mut out = Output::default();
        let mut row = DesiredRow::new(None);
        row.set("match", Datum::from(Atom::string("1")));
        out.push("Logical_Flow", row.clone());
        assert!(identical_rows(&out).is_empty());
        row.set("external_ids", crate::output::str_map([("stage-hint", "00000002")]));
        out.push("Logical_Flow", row);
        assert_eq!(identical_rows(&out).len(), 1);
        let other = Output::default();
        assert!(differences("now", &out, &other).unwrap_err().contains("Logical_Flow differs now"));
    }
}
