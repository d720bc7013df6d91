//! BFD sessions (NB `BFD`, ovn-nb(5)): one per NB row, with the SB row it
//! keeps (`src_port` and `disc` are given out once and kept, as tunnel
//! keys are) and its status, decided the way ovn-northd 23.03 does:
//!
//! - A session no usable static route names (a route whose `bfd` is the
//!   session and whose `nexthop` is its `dst_ip`) is `admin_down`,
//!   whatever ovn-controller reported.
//! - A session such a route names is `down` when northd had not set it
//!   to a state of its own yet (NB status unset or `admin_down`); else
//!   SB's status as ovn-controller reports it, or NB's when SB has none
//!   (no row yet, or `admin_down`). A route whose session is `down` is
//!   left out of routing.
//!
//! The NB status is the one column northd writes that is read here: as
//! the previous state of the session (like a port keeps its dynamic
//! addresses); the result is written to both SB and NB, so reading it
//! back changes nothing. Pure: reads the replicas, writes nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use foldhash::HashMap;

use ovsdb::{Replica, Uuid};

use crate::input::{nb, sb};
use crate::output::Diagnostic;

/// `src_port` range (RFC 5881 section 4).
const SRC_PORTS: std::ops::RangeInclusive<i64> = 49152..=65535;

/// Defaults of the NB timers (ovn-nb(5)).
const MIN_TX: i64 = 1000;
const MIN_RX: i64 = 1000;
const DETECT_MULT: i64 = 5;

/// One BFD session, as its SB row holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session<'a> {
    pub nb: Uuid,
    pub logical_port: &'a str,
    pub dst_ip: &'a str,
    pub min_tx: i64,
    pub min_rx: i64,
    pub detect_mult: i64,
    pub src_port: i64,
    pub disc: i64,
    pub status: &'static str,
}

/// Every session, by `(logical_port, dst_ip)` (NB keeps that pair unique).
#[derive(Debug, Default)]
pub struct Sessions<'a> {
    pub list: Vec<Session<'a>>,
    by_nb: HashMap<Uuid, usize>,
    ports: BTreeSet<&'a str>,
}

/// A status name as a static string, when it is one of the four.
fn known(s: &str) -> Option<&'static str> {
    ["admin_down", "down", "init", "up"].into_iter().find(|k| *k == s)
}

/// The status of a session: `nb` the status northd wrote last (NB), `sb`
/// the one ovn-controller reports (None without an SB row).
pub fn status(in_use: bool, nb: Option<&str>, sb: Option<&str>) -> &'static str {
    if !in_use {
        return "admin_down";
    }
    let nb = nb.and_then(known).filter(|s| *s != "admin_down");
    let sb = sb.and_then(known).filter(|s| *s != "admin_down");
    match (nb, sb) {
        (None, _) => "down",
        (Some(_), Some(sb)) => sb,
        (Some(nb), None) => nb,
    }
}

impl<'a> Sessions<'a> {
    /// The sessions of every NB `BFD` row; `in_use` holds the rows that
    /// usable static routes name. A session that cannot run (its
    /// `dst_ip` is not an address, or its `logical_port` is no router
    /// port) is still written, as the reference writes it, with a
    /// diagnostic.
    pub fn build(
        nb: &'a Replica,
        sb: &'a Replica,
        in_use: &BTreeSet<Uuid>,
        is_router_port: impl Fn(&str) -> bool,
        diags: &mut Vec<Diagnostic>,
    ) -> Sessions<'a> {
        let mut rows: Vec<nb::Bfd<'a>> = nb::Bfd::all(nb).collect();
        rows.sort_by_key(|b| (b.logical_port(), b.dst_ip(), b.uuid()));
        // The NB index makes the pair unique; a replica that breaks it
        // keeps the lowest UUID's session.
        rows.dedup_by(|b, kept| {
            let dup = (b.logical_port(), b.dst_ip()) == (kept.logical_port(), kept.dst_ip());
            if dup {
                diags.push(Diagnostic::new(
                    nb::Bfd::TABLE,
                    &b.uuid().to_string(),
                    "dst_ip",
                    b.dst_ip(),
                    "another session has this logical_port and dst_ip, session left out",
                ));
            }
            dup
        });
        for b in &rows {
            let row = b.uuid().to_string();
            if b.dst_ip().parse::<IpAddr>().is_err() {
                diags.push(Diagnostic::new(
                    nb::Bfd::TABLE,
                    &row,
                    "dst_ip",
                    b.dst_ip(),
                    "not an IP address: no session can run",
                ));
            }
            if !is_router_port(b.logical_port()) {
                diags.push(Diagnostic::new(
                    nb::Bfd::TABLE,
                    &row,
                    "logical_port",
                    b.logical_port(),
                    "not a logical router port: no session can run",
                ));
            }
        }
        // The SB row of each pair: the lowest UUID when there are several.
        let mut existing: BTreeMap<(&str, &str), sb::Bfd<'a>> = BTreeMap::new();
        let mut sb_rows: Vec<sb::Bfd<'a>> = sb::Bfd::all(sb).collect();
        sb_rows.sort_by_key(|b| b.uuid());
        for b in sb_rows {
            existing.entry((b.logical_port(), b.dst_ip())).or_insert(b);
        }
        let kept = |b: &nb::Bfd<'a>| existing.get(&(b.logical_port(), b.dst_ip()));
        // Ports and discriminators of the SB rows kept, first come first
        // served; the others get free ones.
        let (mut ports, mut discs) = (BTreeSet::new(), BTreeSet::new());
        let mut kept_ids: Vec<(Option<i64>, Option<i64>)> = Vec::new();
        for b in &rows {
            let old = kept(b);
            let port = old.map(|o| o.src_port()).filter(|p| SRC_PORTS.contains(p) && ports.insert(*p));
            let disc = old.map(|o| o.disc()).filter(|d| *d != 0 && discs.insert(*d));
            kept_ids.push((port, disc));
        }
        let mut out = Sessions::default();
        let mut free_ports = SRC_PORTS.filter(|p| !ports.contains(p));
        for (b, (port, disc)) in rows.iter().zip(kept_ids) {
            let Some(src_port) = port.or_else(|| free_ports.next()) else {
                let row = b.uuid().to_string();
                let what = "no UDP source port left (49152 to 65535 all taken), session left out";
                diags.push(Diagnostic::new(nb::Bfd::TABLE, &row, "dst_ip", b.dst_ip(), what));
                continue;
            };
            let disc = disc.unwrap_or_else(|| new_disc(b.uuid(), &mut discs));
            let old_status = kept(b).map(|o| o.status());
            out.by_nb.insert(b.uuid(), out.list.len());
            out.ports.insert(b.logical_port());
            out.list.push(Session {
                nb: b.uuid(),
                logical_port: b.logical_port(),
                dst_ip: b.dst_ip(),
                min_tx: b.min_tx().unwrap_or(MIN_TX),
                min_rx: b.min_rx().unwrap_or(MIN_RX),
                detect_mult: b.detect_mult().unwrap_or(DETECT_MULT),
                src_port,
                disc,
                status: status(in_use.contains(&b.uuid()), b.status(), old_status),
            });
        }
        out
    }

    /// The session of an NB `BFD` row.
    pub fn get(&self, nb: Uuid) -> Option<&Session<'a>> {
        self.by_nb.get(&nb).map(|&i| &self.list[i])
    }

    /// Some session runs on this logical port.
    pub fn on_port(&self, name: &str) -> bool {
        self.ports.contains(name)
    }
}

/// A discriminator for a new session: derived from its NB row (the
/// reference draws a random one), nonzero, 32 bits, and not `used`.
fn new_disc(nb: Uuid, used: &mut BTreeSet<i64>) -> i64 {
    let bytes = nb.as_bytes();
    let mut d = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    while d == 0 || used.contains(&i64::from(d)) {
        d = d.wrapping_add(1);
    }
    used.insert(i64::from(d));
    i64::from(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::replica;

    /// The states observed of ovn-northd 23.03.1 (scenarios 55 and 56).
    #[test]
    fn status_follows_the_reference() {
        assert_eq!(status(false, Some("up"), Some("up")), "admin_down");
        assert_eq!(status(true, None, None), "down");
        assert_eq!(status(true, None, Some("up")), "down");
        assert_eq!(status(true, Some("admin_down"), Some("up")), "down");
        assert_eq!(status(true, Some("up"), Some("admin_down")), "up");
        assert_eq!(status(true, Some("up"), None), "up");
        assert_eq!(status(true, Some("down"), Some("up")), "up");
        assert_eq!(status(true, Some("init"), Some("down")), "down");
    }

    /// An SB row keeps its port and discriminator; new sessions get the
    /// lowest free port and a nonzero discriminator; NB timers default.
    #[test]
    fn sessions_keep_their_sb_ids() {
        let nb = replica(
            "ovn-nb.ovsschema",
            r#"{"BFD": {
                "00000000-0000-0000-0000-000000000001": {"initial": {"logical_port": "p", "dst_ip": "10.0.0.2",
                    "min_rx": 0, "status": "up"}},
                "00000000-0000-0000-0000-000000000002": {"initial": {"logical_port": "p", "dst_ip": "10.0.0.3"}}
            }}"#,
        );
        let sb = replica(
            "ovn-sb.ovsschema",
            r#"{"BFD": {"00000000-0000-0000-0000-0000000000b1": {"initial": {"logical_port": "p",
                "dst_ip": "10.0.0.3", "src_port": 49152, "disc": 7, "status": "up"}}}}"#,
        );
        let in_use: BTreeSet<Uuid> = ["00000000-0000-0000-0000-000000000001".parse().unwrap()].into();
        let mut diags = Vec::new();
        let s = Sessions::build(&nb, &sb, &in_use, |name| name == "p", &mut diags);
        assert!(diags.is_empty(), "{diags:?}");
        let (a, b) = (&s.list[0], &s.list[1]);
        assert_eq!(
            (a.dst_ip, a.src_port, a.min_tx, a.min_rx, a.detect_mult, a.status),
            ("10.0.0.2", 49153, 1000, 0, 5, "up")
        );
        assert!(a.disc != 0 && a.disc != 7);
        assert_eq!((b.dst_ip, b.src_port, b.disc, b.status), ("10.0.0.3", 49152, 7, "admin_down"));
        assert!(s.on_port("p") && !s.on_port("q"));
    }

    /// A session with a bad address or on no router port is written, and
    /// named in a diagnostic.
    #[test]
    fn sessions_that_cannot_run_are_reported() {
        let nb = replica(
            "ovn-nb.ovsschema",
            r#"{"BFD": {"00000000-0000-0000-0000-000000000001": {"initial": {"logical_port": "vm",
                "dst_ip": "bogus"}}}}"#,
        );
        let sb = replica("ovn-sb.ovsschema", "{}");
        let mut diags = Vec::new();
        let s = Sessions::build(&nb, &sb, &BTreeSet::new(), |_| false, &mut diags);
        assert_eq!(s.list.len(), 1);
        let text: Vec<String> = diags.iter().map(ToString::to_string).collect();
        assert_eq!(text.len(), 2, "{text:?}");
        assert!(text[0].contains("dst_ip 'bogus'") && text[1].contains("logical_port 'vm'"), "{text:?}");
    }
}
