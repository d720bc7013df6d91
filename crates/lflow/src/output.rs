//! What the compiler produces: the desired contents of the SB tables northd
//! owns, the NB status columns it maintains, and diagnostics about NB rows
//! it had to skip. Plain data: no replica, no I/O.
//!
//! Rows are cells of `ovsdb::Datum`. A reference from one desired row to
//! another is `Atom::NamedUuid(id)` naming the target's `DesiredRow::id`;
//! `sync` resolves it to the UUID of the SB row that ends up holding it.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;

use ovsdb::{Atom, Datum, Uuid};

use crate::stage::Stage;

/// One row of an SB table, as northd wants it.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredRow {
    /// The name other desired rows use to refer to this one, if any.
    pub id: Option<String>,
    /// Column values; a column not given reads as its default (empty).
    pub cells: BTreeMap<&'static str, Datum>,
}

impl DesiredRow {
    pub fn new(id: Option<String>) -> DesiredRow {
        DesiredRow { id, cells: BTreeMap::new() }
    }

    pub fn set(&mut self, column: &'static str, value: impl Into<Datum>) -> &mut DesiredRow {
        self.cells.insert(column, value.into());
        self
    }

    /// Sets a column only when `value` is not empty (an empty set or map
    /// is the default anyway).
    pub fn set_nonempty(&mut self, column: &'static str, value: Datum) -> &mut DesiredRow {
        if !value.is_empty() {
            self.cells.insert(column, value);
        }
        self
    }

    pub fn get(&self, column: &str) -> Option<&Datum> {
        self.cells.get(column)
    }
}

/// A reference to the desired row with this id.
pub fn reference(id: &str) -> Datum {
    Datum::from(Atom::named_uuid(id))
}

/// A string-to-string map datum.
pub fn str_map<K: AsRef<str>, V: AsRef<str>>(pairs: impl IntoIterator<Item = (K, V)>) -> Datum {
    Datum::map(pairs.into_iter().map(|(k, v)| (Atom::string(k.as_ref()), Atom::string(v.as_ref()))))
}

/// A set-of-strings datum.
pub fn str_set<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> Datum {
    Datum::set(items.into_iter().map(|s| Atom::string(s.as_ref())))
}

/// The index of a datapath in `Desired::datapaths` order; its desired row
/// id is `dp<index>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DpId(pub u32);

impl DpId {
    pub fn row_id(self) -> String {
        format!("dp{}", self.0)
    }
}

/// One logical flow on one datapath, before flows shared by several
/// datapaths are folded into `Logical_DP_Group`s.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lflow {
    pub dp: DpId,
    pub stage: Stage,
    pub priority: u16,
    pub match_: String,
    pub actions: String,
    /// The NB row the flow comes from (`external_ids:stage-hint`, its first
    /// eight hex digits).
    pub hint: Option<Uuid>,
    /// `tags:in_out_port`: the port whose binding this flow is about.
    pub io_port: Option<String>,
    /// `controller_meter`.
    pub meter: Option<String>,
    /// The part of its datapath's flows the flow is in (`Flows::part`):
    /// the NB row (a switch behind a router, a load balancer) whose change
    /// alone builds the part again, not the datapath's other flows
    /// (`Selection`); `None` for the rest.
    pub part: Option<Uuid>,
}

/// Which flows a compilation builds: of some datapaths all, of others
/// only some parts (`Lflow::part`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    pub whole: HashSet<DpId>,
    /// Datapath -> the parts of its flows built (by NB row); no datapath
    /// here is in `whole`.
    pub parts: HashMap<DpId, BTreeSet<Uuid>>,
    /// Datapaths of `whole` of which only the flows in no part are built:
    /// their parts are kept as last built.
    pub rest: HashSet<DpId>,
}

/// Which of a datapath's flows one build made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Built<'a> {
    All,
    /// The flows of these parts (`Lflow::part`) only.
    Parts(&'a BTreeSet<Uuid>),
    /// The flows in no part only.
    Rest,
}

impl Selection {
    fn has(&self, dp: DpId) -> bool {
        self.whole.contains(&dp) || self.parts.contains_key(&dp)
    }
}

/// Where `FlowSet::build_each` hands each datapath's flows as soon as they
/// are built, instead of keeping them: the datapath, which of its flows
/// were built, and the flows, in build order.
pub type Sink<'s> = dyn FnMut(DpId, Built<'_>, Vec<Lflow>) + 's;

/// The flows one builder adds: a datapath's (or a test's).
#[derive(Debug, Default)]
pub struct Flows {
    flows: Vec<Lflow>,
    /// Of the one datapath a `build_each` item builds: the only parts of
    /// its flows to build, when not all of them.
    only_parts: Option<BTreeSet<Uuid>>,
    /// The datapath's parts are kept, not built (`Selection::rest`).
    keep_parts: bool,
    /// The part whose flows are being added.
    part: Option<Uuid>,
}

/// The flows of one compilation: every datapath's, built by `build_each`
/// (the only way in), then kept or handed to a `Sink`.
#[derive(Default)]
pub struct FlowSet<'s> {
    flows: Vec<Lflow>,
    sink: Option<&'s mut Sink<'s>>,
    /// The flows `build_each` builds; all when `None`.
    only: Option<Selection>,
    /// The diagnostics of each datapath `build_each` built whole.
    pub dp_diagnostics: BTreeMap<DpId, Vec<Diagnostic>>,
}

impl std::fmt::Debug for FlowSet<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowSet")
            .field("flows", &self.flows)
            .field("sink", &self.sink.is_some())
            .field("only", &self.only)
            .field("dp_diagnostics", &self.dp_diagnostics)
            .finish()
    }
}

impl Flows {
    /// Adds a flow and returns it so that optional parts can be set:
    /// `flows.add(dp, Stage::LsInL2Lkup, 50, m, a).hint(uuid)`.
    pub fn add(
        &mut self,
        dp: DpId,
        stage: Stage,
        priority: u16,
        match_: impl Into<String>,
        actions: impl Into<String>,
    ) -> &mut Lflow {
        self.flows.push(Lflow {
            dp,
            stage,
            priority,
            match_: match_.into(),
            actions: actions.into(),
            hint: None,
            io_port: None,
            meter: None,
            part: self.part,
        });
        self.flows.last_mut().expect("just pushed")
    }

    /// The datapath being built is built whole (not only some parts of
    /// its flows).
    pub fn builds_whole(&self) -> bool {
        self.only_parts.is_none()
    }

    /// Adds with `build` the part of the datapath's flows that only the NB
    /// row `row` (a switch behind a router, a load balancer) decides, each
    /// flow's `Lflow::part`, unless the datapath being built is built for
    /// other parts only, or its parts are kept. `build` must read nothing
    /// another change than that row's can change without building the
    /// datapath whole (`engine::deps` knows what).
    pub fn part(&mut self, row: Uuid, build: impl FnOnce(&mut Flows)) {
        if self.keep_parts || self.only_parts.as_ref().is_some_and(|only| !only.contains(&row)) {
            return;
        }
        let outer = self.part.replace(row);
        build(self);
        self.part = outer;
    }

    pub fn iter(&self) -> impl Iterator<Item = &Lflow> {
        self.flows.iter()
    }

    pub fn into_vec(self) -> Vec<Lflow> {
        self.flows
    }
}

impl<'s> FlowSet<'s> {
    /// Collects only the flows `build_each` builds for `only` (all when
    /// `None`).
    pub fn only(only: Option<Selection>) -> FlowSet<'s> {
        FlowSet { only, ..FlowSet::default() }
    }

    /// `only`, but `build_each` hands each datapath's flows to `sink`
    /// instead: a compilation never holds every datapath's flows at once.
    pub fn streaming(only: Option<Selection>, sink: &'s mut Sink<'s>) -> FlowSet<'s> {
        FlowSet { only, sink: Some(sink), ..FlowSet::default() }
    }

    /// `build_each` builds all of `dp`'s flows.
    pub fn builds_whole_of(&self, dp: DpId) -> bool {
        self.only.as_ref().map_or(true, |o| o.whole.contains(&dp))
    }

    /// Builds the flows of each item (of the datapath `dp_of` gives) on
    /// the current rayon pool, one `Flows` and diagnostics list per item,
    /// and appends them (or hands them to the sink) in the items' order:
    /// the result is the same on any number of threads. Items of
    /// datapaths `only` does not select are skipped; those it selects only
    /// parts of build only those. Items are built a few per thread at a
    /// time (one at a time on one thread), so that a sink gets each
    /// chunk's flows before the next is built: at 1,500 pods, an ACL on a
    /// namespace's port group (every node switch) built 32 switches at
    /// once, whose flows (7.4 MB) were the peak of the daemon's memory.
    pub fn build_each<T: Sync>(
        &mut self,
        diags: &mut Vec<Diagnostic>,
        items: &[T],
        dp_of: impl Fn(&T) -> DpId + Sync,
        build: impl Fn(&T, &mut Flows, &mut Vec<Diagnostic>) + Sync,
    ) {
        use rayon::prelude::*;
        /// Datapaths built at once per thread, when there are several.
        const PER_THREAD: usize = 4;
        let threads = rayon::current_num_threads();
        let chunk_len = if threads > 1 { threads * PER_THREAD } else { 1 };
        let only = &self.only;
        let selected: Vec<&T> =
            items.iter().filter(|item| only.as_ref().map_or(true, |only| only.has(dp_of(item)))).collect();
        for chunk in selected.chunks(chunk_len) {
            type One = (DpId, Option<BTreeSet<Uuid>>, bool, Vec<Lflow>, Vec<Diagnostic>);
            let one = |item: &&T| -> One {
                let dp = dp_of(item);
                let only_parts = only.as_ref().and_then(|o| o.parts.get(&dp).filter(|_| !o.whole.contains(&dp)));
                let keep_parts = only.as_ref().is_some_and(|o| o.rest.contains(&dp) && o.whole.contains(&dp));
                let mut flows = Flows { only_parts: only_parts.cloned(), keep_parts, ..Flows::default() };
                let mut diags = Vec::new();
                build(item, &mut flows, &mut diags);
                (dp, flows.only_parts, keep_parts, flows.flows, diags)
            };
            // On one thread, this one: the flows are freed where they were
            // allocated (an allocator keeps another thread's freed memory
            // until that thread allocates again).
            let built: Vec<One> =
                if threads > 1 { chunk.par_iter().map(one).collect() } else { chunk.iter().map(one).collect() };
            for (dp, only_parts, keep_parts, flows, more) in built {
                // (The diagnostics of a datapath built in part are those of
                // its last whole build: a part cannot change them.)
                if only_parts.is_none() {
                    diags.extend(more.iter().cloned());
                    self.dp_diagnostics.entry(dp).or_default().extend(more);
                }
                let which = match (&only_parts, keep_parts) {
                    (Some(parts), _) => Built::Parts(parts),
                    (None, true) => Built::Rest,
                    (None, false) => Built::All,
                };
                match &mut self.sink {
                    Some(sink) => sink(dp, which, flows),
                    None => self.flows.extend(flows),
                }
            }
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Lflow> {
        self.flows.iter()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Lflow> {
        self.flows.iter_mut()
    }
}

impl Lflow {
    pub fn hint(&mut self, uuid: Uuid) -> &mut Lflow {
        self.hint = Some(uuid);
        self
    }

    pub fn io_port(&mut self, port: impl Into<String>) -> &mut Lflow {
        self.io_port = Some(port.into());
        self
    }

    pub fn meter(&mut self, meter: impl Into<String>) -> &mut Lflow {
        self.meter = Some(meter.into());
        self
    }
}

/// Why an NB row (or part of it) was left out of the translation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Diagnostic {
    /// The NB table, e.g. `Logical_Switch_Port`.
    pub table: &'static str,
    /// The row's name, or its UUID when it has none.
    pub row: String,
    pub message: String,
}

/// The longest value a diagnostic quotes, in bytes (a 1 MB address must
/// not become a 1 MB log line).
pub const QUOTE_MAX: usize = 200;

impl Diagnostic {
    /// A value of `column` in the row `row` of `table` that the compiler
    /// rejects or cannot use: `column 'value': what`, the value cut to
    /// `QUOTE_MAX` bytes.
    pub fn new(table: &'static str, row: &str, column: &str, value: &str, what: &str) -> Diagnostic {
        Diagnostic { table, row: row.to_string(), message: format!("{column} '{}': {what}", cut(value, QUOTE_MAX)) }
    }
}

/// `s` cut to at most `max` bytes at a char boundary, with a marker saying
/// how long it was.
pub fn cut(s: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if s.len() <= max {
        return s.into();
    }
    let end = (0..=max).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0);
    format!("{}...[{} bytes]", &s[..end], s.len()).into()
}

/// Row names and messages are cut (`cut`), so that no NB value, however
/// long, makes a long log line.
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.table, cut(&self.row, QUOTE_MAX), cut(&self.message, 4 * QUOTE_MAX))
    }
}

/// A value northd maintains in an NB row (status written back).
#[derive(Debug, Clone, PartialEq)]
pub struct NbWrite {
    pub table: &'static str,
    pub row: Uuid,
    pub column: &'static str,
    pub value: Datum,
}

/// The compiler's result.
#[derive(Debug, Default)]
pub struct Output {
    /// Desired rows by SB table; every table in `sync::OWNED_TABLES` is
    /// present (possibly empty), so that its stray rows get deleted.
    pub sb: BTreeMap<&'static str, Vec<DesiredRow>>,
    /// NB columns to bring to these values.
    pub nb: Vec<NbWrite>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Output {
    pub fn rows(&self, table: &str) -> &[DesiredRow] {
        self.sb.get(table).map(Vec::as_slice).unwrap_or_default()
    }

    pub fn push(&mut self, table: &'static str, row: DesiredRow) {
        self.sb.entry(table).or_default().push(row);
    }
}

/// The order in which the reference walks a set of strings it collected
/// in an OVS `sset` (a hash table keyed by `hash_string(s, 0)`), given the
/// order they were added in; duplicates are dropped. Where the reference
/// prints such a set into a match (`eth.src == {...}`), printing it in
/// this order gives the same string byte for byte.
pub fn sset_order<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> Vec<String> {
    hmap_order(items.into_iter().map(|s| (ovs_hash_string(s.as_ref()), s.as_ref().to_string())))
}

/// The order in which an OVS hmap holding `items` (hash, value), inserted
/// in this order, is walked; a value inserted twice is kept once.
pub fn hmap_order<T: PartialEq + Clone>(items: impl IntoIterator<Item = (u32, T)>) -> Vec<T> {
    // New nodes go to the head of their bucket; it grows to
    // `calc_mask(n)` buckets when n / 2 exceeds the mask, rehashing bucket
    // by bucket, and is walked bucket by bucket.
    fn calc_mask(capacity: usize) -> usize {
        let mut mask = capacity / 2;
        for shift in [1, 2, 4, 8, 16, 32] {
            mask |= mask >> shift;
        }
        mask | ((mask & 1) << 1)
    }
    let mut buckets: Vec<Vec<(T, u32)>> = vec![Vec::new()];
    let mut n = 0;
    for (hash, item) in items {
        let mask = buckets.len() - 1;
        if buckets[hash as usize & mask].iter().any(|(t, _)| *t == item) {
            continue;
        }
        buckets[hash as usize & mask].insert(0, (item, hash));
        n += 1;
        let new_mask = calc_mask(n);
        if n / 2 > mask && new_mask > mask {
            let mut grown: Vec<Vec<(T, u32)>> = vec![Vec::new(); new_mask + 1];
            for (t, h) in buckets.into_iter().flatten() {
                grown[h as usize & new_mask].insert(0, (t, h));
            }
            buckets = grown;
        }
    }
    buckets.into_iter().flatten().map(|(t, _)| t).collect()
}

/// OVS `hash_string(s, 0)` (`lib/hash.c`, the portable murmur3-based
/// variant Debian builds).
pub(crate) fn ovs_hash_string(s: &str) -> u32 {
    fn add(hash: u32, data: u32) -> u32 {
        let mut hash = hash;
        if data != 0 {
            let d = data.wrapping_mul(0xcc9e_2d51).rotate_left(15).wrapping_mul(0x1b87_3593);
            hash ^= d;
        }
        hash.rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64)
    }
    let bytes = s.as_bytes();
    let mut hash = 0u32;
    let mut chunks = bytes.chunks_exact(4);
    for c in &mut chunks {
        hash = add(hash, u32::from_le_bytes([c[0], c[1], c[2], c[3]]));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut tail = [0u8; 4];
        tail[..rest.len()].copy_from_slice(rest);
        hash = add(hash, u32::from_le_bytes(tail));
    }
    let mut h = hash ^ bytes.len() as u32;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

/// The action the reference writes wherever it drops a packet: `drop;`,
/// or, when NB_Global `options:debug_drop_collector_set` is a non-zero
/// number (and `debug_drop_domain_id` fits in 8 bits), a sample of the
/// dropped packet to that IPFIX collector set.
pub fn drop_action(options: &BTreeMap<String, String>) -> String {
    let num = |key: &str| options.get(key).and_then(|v| v.trim().parse::<u32>().ok()).unwrap_or(0);
    let (collector_set, domain) = (num("debug_drop_collector_set"), num("debug_drop_domain_id"));
    if collector_set == 0 || domain >= u8::MAX as u32 {
        return "drop;".to_string();
    }
    format!("sample(probability=65535,collector_set={collector_set},obs_domain={domain},obs_point=$cookie); /* drop */")
}

/// A name as a match or action string literal (`"sw0-p1"`), quoted and
/// escaped the way OVN's lexer reads it (and ovn-northd writes it).
pub fn json_key(name: &str) -> String {
    let mut s = String::with_capacity(name.len() + 2);
    s.push('"');
    for c in name.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\t' => s.push_str("\\t"),
            '\r' => s.push_str("\\r"),
            c if (c as u32) < 0x20 => s.push_str(&format!("\\u{:04x}", c as u32)),
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Orders observed in ovn-northd 23.03.1's flows (the self-originated
    /// ARP flow of a switch port to a router with a NAT external MAC).
    #[test]
    fn sset_order_is_the_reference_walk() {
        assert_eq!(sset_order(["00:00:00:00:ff:02", "30:54:00:00:00:11"]), ["30:54:00:00:00:11", "00:00:00:00:ff:02"]);
        assert_eq!(sset_order(["00:00:00:00:ff:01", "30:54:00:00:00:11"]), ["00:00:00:00:ff:01", "30:54:00:00:00:11"]);
        assert_eq!(sset_order(["a", "a"]), ["a"]);
    }

    #[test]
    fn drop_action_samples_when_a_collector_is_set() {
        let opts = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        assert_eq!(drop_action(&opts(&[])), "drop;");
        assert_eq!(drop_action(&opts(&[("debug_drop_domain_id", "5")])), "drop;");
        assert_eq!(
            drop_action(&opts(&[("debug_drop_domain_id", "5"), ("debug_drop_collector_set", "7")])),
            "sample(probability=65535,collector_set=7,obs_domain=5,obs_point=$cookie); /* drop */"
        );
        assert_eq!(drop_action(&opts(&[("debug_drop_domain_id", "300"), ("debug_drop_collector_set", "7")])), "drop;");
    }

    /// A 1 MB value becomes a short line, cut at a char boundary with a
    /// marker; short values are quoted whole.
    #[test]
    fn diagnostics_cut_long_values() {
        let huge = "é".repeat(500_000);
        let d = Diagnostic::new("Logical_Switch_Port", &huge, "addresses", &huge, "invalid syntax, entry ignored");
        let line = d.to_string();
        assert!(line.len() < 3 * QUOTE_MAX, "{} bytes", line.len());
        assert!(line.contains("...[1000000 bytes]") && line.ends_with("invalid syntax, entry ignored"), "{line}");
        let d = Diagnostic::new("Logical_Router_Port", "lrp", "mac", "zz", "invalid MAC, port left out");
        assert_eq!(d.to_string(), "Logical_Router_Port lrp: mac 'zz': invalid MAC, port left out");
        let long_message = Diagnostic { table: "ACL", row: "r".into(), message: "x".repeat(10_000) };
        assert!(long_message.to_string().len() < 5 * QUOTE_MAX);
    }
}
