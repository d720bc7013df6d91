//! What each port's NB row parses to (a switch port's `addresses` and
//! `port_security`, a router port's `mac` and `networks`), kept between
//! compilations by whoever compiles again and again (the engine). At 6,000
//! pods, parsing every port's addresses each cycle cost a port add about
//! 4 of its 28 ms of CPU.
//!
//! An entry holds a copy of the columns it was parsed from and is parsed
//! again when they differ: the memo is never stale, whatever changed the
//! replica, so a compilation with a kept memo and one with a new memo are
//! the same function of the databases.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use foldhash::fast::FixedState;
use ovsdb::replica::Column;
use ovsdb::{Datum, Replica, Uuid};

use super::addr::{LportAddresses, Mac};
use super::ipam;
use crate::input::nb;

/// A port's parsed columns.
#[derive(Default)]
pub(crate) struct Parsed {
    /// The columns parsed, as they were: `addresses` and `port_security`,
    /// or `mac` and `networks`.
    source: [Datum; 2],
    /// The addresses that parse (a router port: its one entry, or none
    /// when its MAC does not parse), in NB order; the `dynamic` entry and
    /// `unknown` and `router` are not among them.
    pub addrs: Vec<LportAddresses>,
    /// The `port_security` entries that parse.
    pub ps_addrs: Vec<LportAddresses>,
    /// The entries asking for dynamic addresses (`ipam::Request`), parsed
    /// or not, in NB order.
    pub requests: Vec<Result<ipam::Request, String>>,
    /// `unknown` is among the addresses.
    pub has_unknown: bool,
    /// The entries that do not parse: (column, value, why).
    pub bad: Vec<(&'static str, String, &'static str)>,
    /// The last `PortMemo::refresh` that saw the row.
    generation: u64,
}

/// The parsed ports, by NB row. See the module documentation.
#[derive(Default)]
pub struct PortMemo {
    ports: HashMap<Uuid, Parsed, FixedState>,
    /// Counts `refresh`es; an entry not seen by the last is of a row gone.
    generation: u64,
}

impl std::fmt::Debug for PortMemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortMemo").field("ports", &self.ports.len()).finish()
    }
}

impl PortMemo {
    /// A memo of every port of `nb`.
    pub fn of(nb: &Replica) -> PortMemo {
        let mut memo = PortMemo::default();
        memo.refresh(nb);
        memo
    }

    /// Makes the memo hold exactly the ports of `nb`, parsing again those
    /// whose columns changed since they were parsed.
    pub fn refresh(&mut self, nb: &Replica) {
        self.generation = self.generation.wrapping_add(1);
        let mut seen = 0;
        for lsp in nb::LogicalSwitchPort::all(nb) {
            self.keep_lsp(lsp);
            seen += 1;
        }
        for lrp in nb::LogicalRouterPort::all(nb) {
            self.keep_lrp(lrp);
            seen += 1;
        }
        if self.ports.len() != seen {
            let generation = self.generation;
            self.ports.retain(|_, p| p.generation == generation);
        }
    }

    /// `refresh` when only the port rows `changed` (switch or router
    /// ports, of any table, by UUID) may have changed since the last.
    pub fn refresh_rows(&mut self, nb: &Replica, changed: impl IntoIterator<Item = Uuid>) {
        for uuid in changed {
            if let Some(lsp) = nb::LogicalSwitchPort::get(nb, &uuid) {
                self.keep_lsp(lsp);
            } else if let Some(lrp) = nb::LogicalRouterPort::get(nb, &uuid) {
                self.keep_lrp(lrp);
            } else {
                self.ports.remove(&uuid);
            }
        }
    }

    fn keep_lsp(&mut self, lsp: nb::LogicalSwitchPort<'_>) {
        static ADDRESSES: Column = Column::new("addresses");
        static PORT_SECURITY: Column = Column::new("port_security");
        let row = lsp.row();
        self.keep(lsp.uuid(), [row.column(&ADDRESSES), row.column(&PORT_SECURITY)], |s| parse_lsp(lsp, s));
    }

    fn keep_lrp(&mut self, lrp: nb::LogicalRouterPort<'_>) {
        static MAC: Column = Column::new("mac");
        static NETWORKS: Column = Column::new("networks");
        let row = lrp.row();
        self.keep(lrp.uuid(), [row.column(&MAC), row.column(&NETWORKS)], |s| parse_lrp(lrp, s));
    }

    /// Keeps the entry of `uuid` if it was parsed from `source`, else
    /// parses it again; marks it seen by the current generation.
    fn keep(&mut self, uuid: Uuid, source: [&Datum; 2], parse: impl Fn([Datum; 2]) -> Parsed) {
        let parsed = match self.ports.entry(uuid) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => e.insert(parse(source.map(Datum::clone))),
        };
        if !parsed.source.iter().eq(source) {
            *parsed = parse(source.map(Datum::clone));
        }
        parsed.generation = self.generation;
    }

    /// A port's parsed columns; `None` for a row `refresh` did not see.
    pub(crate) fn get(&self, uuid: &Uuid) -> Option<&Parsed> {
        self.ports.get(uuid)
    }
}

/// The memo of one switch port.
fn parse_lsp(lsp: nb::LogicalSwitchPort<'_>, source: [Datum; 2]) -> Parsed {
    let mut p = Parsed::default();
    for a in lsp.addresses() {
        match a {
            "unknown" => p.has_unknown = true,
            "router" => {}
            a => match ipam::Request::parse(a) {
                Some(request) => p.requests.push(request),
                None => match LportAddresses::parse(a) {
                    Some(parsed) => p.addrs.push(parsed),
                    None => p.bad.push(("addresses", a.to_string(), "invalid syntax, entry ignored")),
                },
            },
        }
    }
    for a in lsp.port_security() {
        match LportAddresses::parse(a) {
            Some(parsed) => p.ps_addrs.push(parsed),
            None => p.bad.push(("port_security", a.to_string(), "invalid syntax, entry ignored")),
        }
    }
    p.source = source;
    p
}

/// The memo of one router port. Without a MAC the reference writes
/// neither the port's binding nor a flow of it: no addresses, and the MAC
/// among the bad entries.
fn parse_lrp(lrp: nb::LogicalRouterPort<'_>, source: [Datum; 2]) -> Parsed {
    let mut p = Parsed::default();
    match Mac::parse(lrp.mac()) {
        None => p.bad.push(("mac", lrp.mac().to_string(), "invalid MAC, port left out")),
        Some(mac) => {
            let (parsed, bad) = LportAddresses::router_port(mac, lrp.networks());
            p.bad.extend(bad.into_iter().map(|n| ("networks", n.to_string(), "invalid network, entry ignored")));
            p.addrs.push(parsed);
        }
    }
    p.source = source;
    p
}

#[cfg(test)]
mod tests {
    use ovsdb::proto::update::{decode_table_updates, UpdateFormat};

    use super::super::testutil::{named_row, u};
    use super::*;
    use crate::tests::replica;

    fn apply(r: &mut Replica, json: &str) {
        r.apply(decode_table_updates(json, UpdateFormat::Update2, r.schema()).unwrap()).unwrap();
    }

    fn uuid(n: u32) -> Uuid {
        u(n).parse().unwrap()
    }

    /// A kept memo parses again the port whose addresses changed, forgets
    /// the port deleted, and then holds what a new memo would.
    #[test]
    fn a_kept_memo_follows_changes_of_the_rows() {
        let mut nb = replica(
            "ovn-nb.ovsschema",
            &format!(
                r#"{{"Logical_Switch_Port": {{{}, {}}}}}"#,
                named_row(1, "p1", r#", "addresses": "00:00:00:00:00:01 10.0.0.1""#),
                named_row(2, "p2", r#", "addresses": ["set", ["unknown", "zz"]]"#),
            ),
        );
        let mut memo = PortMemo::of(&nb);
        let p2 = memo.get(&uuid(2)).unwrap();
        assert!(p2.has_unknown && p2.addrs.is_empty());
        assert_eq!(p2.bad, [("addresses", "zz".to_string(), "invalid syntax, entry ignored")]);
        apply(
            &mut nb,
            &format!(
                r#"{{"Logical_Switch_Port": {{"{}": {{"modify": {{"addresses":
                    ["set", ["00:00:00:00:00:01 10.0.0.1", "00:00:00:00:00:01 10.0.0.9"]]}}}},
                    "{}": {{"delete": null}}}}}}"#,
                u(1),
                u(2)
            ),
        );
        memo.refresh(&nb);
        let fresh = PortMemo::of(&nb);
        assert!(memo.get(&uuid(2)).is_none());
        let (kept, new) = (memo.get(&uuid(1)).unwrap(), fresh.get(&uuid(1)).unwrap());
        assert_eq!(kept.addrs[0].ipv4[0].addr.to_string(), "10.0.0.9");
        assert_eq!((&kept.addrs, &kept.source), (&new.addrs, &new.source));
    }
}
