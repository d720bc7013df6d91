//! The SB `BFD` rows, one per NB `BFD` row (`model::bfd` decides their
//! ports, discriminators and status), and the status written back to the
//! NB row. NB `options` and `external_ids` are not copied, as in the
//! reference. Pure: it never writes a database itself.

use ovsdb::{Atom, Datum};

use crate::input::nb;
use crate::model::Model;
use crate::output::{DesiredRow, NbWrite, Output};

pub(super) fn build(m: &Model<'_>, out: &mut Output) {
    out.sb.entry("BFD").or_default();
    for s in &m.bfd.list {
        let int = |i: i64| Datum::from(Atom::Integer(i));
        let string = |v: &str| Datum::from(Atom::string(v));
        let mut row = DesiredRow::new(None);
        row.set("logical_port", string(s.logical_port))
            .set("dst_ip", string(s.dst_ip))
            .set("src_port", int(s.src_port))
            .set("disc", int(s.disc))
            .set("min_tx", int(s.min_tx))
            .set("min_rx", int(s.min_rx))
            .set("detect_mult", int(s.detect_mult))
            .set("status", string(s.status));
        out.push("BFD", row);
        out.nb.push(NbWrite { table: nb::Bfd::TABLE, row: s.nb, column: "status", value: string(s.status) });
    }
}
