//! The normalized SB: a text form of the Southbound database that does not
//! depend on UUIDs, allocation orders or random values, so that two runs of
//! the reference (and later, the reference and ours) compare line by line.
//! Pure: reads replicas, does no I/O.
//!
//! One line per row or per logical flow, sorted; each line is `KEY => VALUE`
//! (rows) or `Logical_Flow DP PIPELINE TABLE STAGE PRIORITY (MATCH) => (ACTIONS)`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use ovsdb::replica::Row;
use ovsdb::{Atom, Datum, Replica, Uuid};
use regex::{Captures, Regex};

/// A normalized SB dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Normalized {
    /// Sorted lines.
    pub lines: Vec<String>,
    /// Logical flows, one per datapath (groups expanded).
    pub flows: usize,
    /// Distinct (pipeline, table, stage) of the flows.
    pub tables: usize,
}

impl Normalized {
    /// The text form: the lines, each ended by a newline.
    pub fn text(&self) -> String {
        let mut s = String::new();
        for l in &self.lines {
            s.push_str(l);
            s.push('\n');
        }
        s
    }
}

/// Tables left out entirely: written by ovn-controller or the operator at
/// run time, or rows folded into others (logical datapath groups).
const SKIPPED_TABLES: &[&str] = &[
    "Logical_Flow",
    "Logical_DP_Group",
    "Connection",
    "SSL",
    "Chassis_Private",
    "MAC_Binding",
    "FDB",
    "IGMP_Group",
    "Controller_Event",
];

/// Map keys left out: the NB UUIDs of a datapath's own NB row (its name
/// says it), flow hints that point into NB or northd's source, and the
/// progress a sharded group records per shard (`ovn_northd_shard_I_of_K`,
/// a sequence number).
fn dropped_key(table: &str, key: &str) -> bool {
    matches!(
        (table, key),
        ("Datapath_Binding", "logical-switch" | "logical-router") | ("Logical_Flow", "stage-hint" | "source")
    ) || (table == "SB_Global" && key.starts_with("ovn_northd_shard_"))
}

/// Columns left out of rows: tunnel keys (checked for uniqueness instead),
/// columns written by ovn-controller, sequence numbers, random BFD values.
fn skipped_column(table: &str, col: &str) -> bool {
    matches!(
        (table, col),
        (_, "tunnel_key")
            | (_, "nb_cfg")
            | (_, "nb_cfg_timestamp")
            | ("SB_Global", "connections" | "ssl")
            | ("Datapath_Binding", "load_balancers")
            | (
                "Port_Binding",
                "chassis" | "encap" | "up" | "virtual_parent" | "additional_chassis" | "additional_encap"
            )
            | ("BFD", "disc" | "src_port" | "status")
            | ("Service_Monitor", "status")
    )
}

struct Ctx<'a> {
    sb: &'a Replica,
    nb_labels: HashMap<Uuid, String>,
    sb_labels: HashMap<Uuid, String>,
    dp_names: HashMap<Uuid, String>,
    dp_by_key: HashMap<i64, String>,
    /// (datapath, port or multicast group key) -> name.
    port_by_key: HashMap<(Uuid, i64), String>,
    macs: Vec<(String, &'static str)>,
    uuid_re: Regex,
    pg_re: Regex,
    ecmp_port_re: Regex,
}

fn str_of(row: &Row, col: &str) -> String {
    row.get(col).as_atom().and_then(Atom::as_str).unwrap_or_default().to_string()
}

fn map_get(row: &Row, col: &str, key: &str) -> Option<String> {
    row.get(col).get(&Atom::string(key)).and_then(Atom::as_str).map(str::to_string)
}

fn int_of(row: &Row, col: &str) -> i64 {
    row.get(col).as_atom().and_then(Atom::as_integer).unwrap_or_default()
}

fn rows<'r>(db: &'r Replica, table: &str) -> Vec<&'r Row> {
    db.table(table).map(|t| t.rows().collect()).unwrap_or_default()
}

/// Quotes a string when it is empty or holds characters that would make
/// the line ambiguous.
fn quote(s: &str) -> String {
    if s.is_empty() || s.chars().any(|c| c.is_whitespace() || matches!(c, ',' | '=' | '[' | ']' | '{' | '}' | '"')) {
        format!("{s:?}")
    } else {
        s.to_string()
    }
}

/// Labels every NB row: `Table:name` when it has a name, else `Table#i` by
/// the order of its non-reference contents.
fn nb_labels(nb: &Replica) -> HashMap<Uuid, String> {
    let mut labels = HashMap::new();
    for (tname, _) in nb.schema().tables.iter() {
        let mut unnamed: Vec<(String, Uuid)> = Vec::new();
        for row in rows(nb, tname) {
            let name =
                if row.table_schema().columns.contains_key("name") { str_of(row, "name") } else { String::new() };
            if !name.is_empty() {
                labels.insert(row.uuid(), format!("{tname}:{name}"));
            } else {
                let mut content = String::new();
                for (col, d) in row.iter() {
                    let has_ref =
                        d.keys().any(|a| a.as_uuid().is_some()) || d.pairs().iter().any(|(_, v)| v.as_uuid().is_some());
                    if !has_ref && !col.starts_with('_') {
                        content.push_str(&format!("{col}={d} "));
                    }
                }
                unnamed.push((content, row.uuid()));
            }
        }
        unnamed.sort();
        for (i, (_, u)) in unnamed.into_iter().enumerate() {
            labels.insert(u, format!("{tname}#{i}"));
        }
    }
    labels
}

impl<'a> Ctx<'a> {
    fn new(nb: &Replica, sb: &'a Replica) -> Ctx<'a> {
        let mut dp_names = HashMap::new();
        let mut dp_by_key = HashMap::new();
        for dp in rows(sb, "Datapath_Binding") {
            let name = map_get(dp, "external_ids", "name").unwrap_or_else(|| format!("dp-{}", dp.uuid()));
            dp_by_key.insert(int_of(dp, "tunnel_key"), name.clone());
            dp_names.insert(dp.uuid(), name);
        }
        let mut port_by_key = HashMap::new();
        for table in ["Port_Binding", "Multicast_Group"] {
            let col = if table == "Port_Binding" { "logical_port" } else { "name" };
            for pb in rows(sb, table) {
                if let Some(dp) = pb.get("datapath").as_atom().and_then(Atom::as_uuid) {
                    port_by_key.insert((dp, int_of(pb, "tunnel_key")), str_of(pb, col));
                }
            }
        }
        let mut macs = Vec::new();
        if let Some(g) = rows(sb, "SB_Global").first() {
            if let Some(m) = map_get(g, "options", "svc_monitor_mac").filter(|m| !m.is_empty()) {
                macs.push((m, "SVC_MONITOR_MAC"));
            }
            if let Some(m) = map_get(g, "options", "mac_prefix").filter(|m| !m.is_empty()) {
                macs.push((m, "MAC_PREFIX"));
            }
        }
        let mut ctx = Ctx {
            sb,
            nb_labels: nb_labels(nb),
            sb_labels: HashMap::new(),
            dp_names,
            dp_by_key,
            port_by_key,
            macs,
            uuid_re: Regex::new(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
                .unwrap(),
            pg_re: Regex::new(r"(^|[@$]|_rtr_lb_)(\d+)_").unwrap(),
            ecmp_port_re: Regex::new(r"ecmp_reply_port( ?==? ?)(\d+)").unwrap(),
        };
        ctx.sb_labels = ctx.sb_labels();
        ctx
    }

    /// Labels of SB rows that other SB rows refer to.
    fn sb_labels(&self) -> HashMap<Uuid, String> {
        let mut l = HashMap::new();
        for (u, n) in &self.dp_names {
            l.insert(*u, n.clone());
        }
        for r in rows(self.sb, "Port_Binding") {
            l.insert(r.uuid(), str_of(r, "logical_port"));
        }
        for t in ["Chassis", "HA_Chassis_Group", "Gateway_Chassis", "Meter", "Mirror", "Chassis_Private"] {
            for r in rows(self.sb, t) {
                l.insert(r.uuid(), self.text(&str_of(r, "name")));
            }
        }
        for r in rows(self.sb, "RBAC_Permission") {
            l.insert(r.uuid(), str_of(r, "table"));
        }
        for r in rows(self.sb, "Encap") {
            l.insert(r.uuid(), format!("{}:{}", str_of(r, "type"), str_of(r, "ip")));
        }
        for r in rows(self.sb, "Logical_DP_Group") {
            l.insert(r.uuid(), self.dp_group_label(r));
        }
        for r in rows(self.sb, "Meter_Band") {
            l.insert(r.uuid(), format!("{}/{}/{}", str_of(r, "action"), int_of(r, "rate"), int_of(r, "burst_size")));
        }
        let chassis: HashMap<Uuid, String> =
            rows(self.sb, "Chassis").into_iter().map(|r| (r.uuid(), str_of(r, "name"))).collect();
        for r in rows(self.sb, "HA_Chassis") {
            let ch = r
                .get("chassis")
                .as_atom()
                .and_then(Atom::as_uuid)
                .and_then(|u| chassis.get(&u).cloned())
                .or_else(|| map_get(r, "external_ids", "chassis-name"));
            l.insert(r.uuid(), format!("{}@{}", ch.unwrap_or_default(), int_of(r, "priority")));
        }
        l
    }

    fn dp_group_label(&self, g: &Row) -> String {
        let mut names: Vec<&str> = g
            .get("datapaths")
            .keys()
            .filter_map(Atom::as_uuid)
            .map(|u| self.dp_names.get(&u).map(String::as_str).unwrap_or("?"))
            .collect();
        names.sort();
        format!("[{}]", names.join(" "))
    }

    /// Normalizes a string value: NB UUIDs to labels, random MACs to
    /// placeholders, datapath tunnel keys in per-datapath port group names
    /// and in routers' `_rtr_lb_<key>_ip4` address sets to datapath names.
    fn text(&self, s: &str) -> String {
        let mut s = self
            .uuid_re
            .replace_all(s, |c: &Captures| {
                let u: Option<Uuid> = c[0].parse().ok();
                match u.and_then(|u| self.nb_labels.get(&u).or_else(|| self.sb_labels.get(&u))) {
                    Some(l) => format!("<{l}>"),
                    None => "<uuid>".to_string(),
                }
            })
            .into_owned();
        for (mac, placeholder) in &self.macs {
            if s.contains(mac.as_str()) {
                s = s.replace(mac.as_str(), placeholder);
            }
        }
        self.pg_re
            .replace_all(&s, |c: &Captures| {
                let key: i64 = c[2].parse().unwrap_or(-1);
                match self.dp_by_key.get(&key) {
                    Some(n) => format!("{}{n}_", &c[1]),
                    None => c[0].to_string(),
                }
            })
            .into_owned()
    }

    fn atom(&self, a: &Atom) -> String {
        match a {
            Atom::String(s) => quote(&self.text(s)),
            Atom::Uuid(u) => match self.sb_labels.get(u).or_else(|| self.nb_labels.get(u)) {
                Some(l) if l.starts_with('[') => l.clone(),
                Some(l) => quote(l),
                None => "<uuid>".to_string(),
            },
            a => a.to_string(),
        }
    }

    fn datum(&self, table: &str, col: &str, d: &Datum) -> String {
        if d.is_map() {
            let mut pairs: Vec<(String, String)> = d
                .pairs()
                .iter()
                .filter(|(k, _)| !dropped_key(table, k.as_str().unwrap_or_default()))
                .map(|(k, v)| {
                    let mut v = self.atom(v);
                    if table == "Port_Binding" && col == "nat_addresses" {
                        v = sort_nat_addresses(&v);
                    }
                    (self.atom(k), v)
                })
                .collect();
            pairs.sort();
            let inner: Vec<String> = pairs.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("{{{}}}", inner.join(", "))
        } else {
            let scalar = self
                .sb
                .schema()
                .table(table)
                .and_then(|t| t.columns.get(col))
                .is_some_and(|c| c.ty.max == Some(1) && c.ty.value.is_none());
            let mut atoms: Vec<String> = d.keys().map(|a| self.atom(a)).collect();
            if table == "Port_Binding" && col == "nat_addresses" {
                atoms = atoms.iter().map(|a| sort_nat_addresses(a)).collect();
            }
            atoms.sort();
            if scalar && atoms.len() == 1 {
                atoms.remove(0)
            } else {
                format!("[{}]", atoms.join(", "))
            }
        }
    }

    /// A row as `col=value` pairs, sorted by column, empty values (maps
    /// empty once their dropped keys are left out too) and skipped columns
    /// left out.
    fn row(&self, table: &str, row: &Row, key_cols: &[&str]) -> String {
        let empty = |d: &Datum| {
            d.is_empty()
                || (d.is_map() && d.pairs().iter().all(|(k, _)| dropped_key(table, k.as_str().unwrap_or_default())))
        };
        let mut cols: Vec<(&str, &Datum)> = row
            .iter()
            .filter(|(c, d)| !c.starts_with('_') && !key_cols.contains(c) && !skipped_column(table, c) && !empty(d))
            .collect();
        cols.sort_by_key(|(c, _)| *c);
        let parts: Vec<String> = cols.into_iter().map(|(c, d)| format!("{c}={}", self.datum(table, c, d))).collect();
        parts.join(" ")
    }

    fn row_lines(&self, out: &mut Vec<String>) {
        for (tname, ts) in self.sb.schema().tables.iter() {
            if SKIPPED_TABLES.contains(&tname.as_str()) {
                continue;
            }
            let key_col = ["logical_port", "name"].into_iter().find(|c| ts.columns.contains_key(*c));
            for r in rows(self.sb, tname) {
                let mut key = match key_col {
                    Some(c) => self.atom(&Atom::string(str_of(r, c))),
                    None => String::new(),
                };
                let mut skip: Vec<&str> = key_col.into_iter().collect();
                if tname == "HA_Chassis" {
                    key = quote(self.sb_labels.get(&r.uuid()).map(String::as_str).unwrap_or("?"));
                } else if tname == "Datapath_Binding" {
                    key = quote(self.dp_names.get(&r.uuid()).map(String::as_str).unwrap_or("?"));
                } else if ts.columns.contains_key("datapath") && tname != "Port_Binding" {
                    let dp = r.get("datapath").as_atom().map(|a| self.atom(a)).unwrap_or_default();
                    key = format!("{dp} {key}");
                    skip.push("datapath");
                }
                let line = format!("{tname} {} => {}", key.trim(), self.row(tname, r, &skip)).replace("  => ", " => ");
                out.push(line.trim_end().to_string());
            }
        }
    }

    /// Tunnel keys: datapaths unique; ports and multicast groups unique per
    /// datapath.
    fn check_keys(&self, out: &mut Vec<String>) {
        let mut seen: HashMap<i64, usize> = HashMap::new();
        for dp in rows(self.sb, "Datapath_Binding") {
            let k = int_of(dp, "tunnel_key");
            *seen.entry(k).or_default() += 1;
            if !(1..=(1 << 24) - 1).contains(&k) {
                out.push(format!("Problem => datapath {} has tunnel key {k} out of range", self.dp_names[&dp.uuid()]));
            }
        }
        for (k, n) in seen {
            if n > 1 {
                out.push(format!("Problem => {n} datapaths share tunnel key {k}"));
            }
        }
        let mut per_dp: HashMap<(Uuid, i64), usize> = HashMap::new();
        for (t, col, range) in [("Port_Binding", "logical_port", 1..=32767), ("Multicast_Group", "name", 32768..=65535)]
        {
            for r in rows(self.sb, t) {
                let k = int_of(r, "tunnel_key");
                if !range.contains(&k) {
                    out.push(format!("Problem => {t} {} has tunnel key {k} out of range", str_of(r, col)));
                }
                if let Some(dp) = r.get("datapath").as_atom().and_then(Atom::as_uuid) {
                    *per_dp.entry((dp, k)).or_default() += 1;
                }
            }
        }
        for ((dp, k), n) in per_dp {
            if n > 1 {
                let name = self.dp_names.get(&dp).cloned().unwrap_or_default();
                out.push(format!("Problem => {n} ports or multicast groups of {name} share tunnel key {k}"));
            }
        }
    }

    fn flows(&self) -> (Vec<Flow>, BTreeMap<String, usize>) {
        let groups: HashMap<Uuid, &Row> =
            rows(self.sb, "Logical_DP_Group").into_iter().map(|g| (g.uuid(), g)).collect();
        let mut flows = Vec::new();
        let mut group_use: BTreeMap<String, usize> = BTreeMap::new();
        for f in rows(self.sb, "Logical_Flow") {
            let mut dps: Vec<Uuid> = f.get("logical_datapath").keys().filter_map(Atom::as_uuid).collect();
            for g in f.get("logical_dp_group").keys().filter_map(Atom::as_uuid) {
                if let Some(g) = groups.get(&g) {
                    *group_use.entry(self.dp_group_label(g)).or_default() += 1;
                    dps.extend(g.get("datapaths").keys().filter_map(Atom::as_uuid));
                }
            }
            let m = sort_sets(&self.text(&str_of(f, "match")));
            let a = self.text(&str_of(f, "actions"));
            let meter = self.text(&str_of(f, "controller_meter"));
            let tags = if f.get("tags").is_empty() {
                String::new()
            } else {
                self.datum("Logical_Flow", "tags", f.get("tags"))
            };
            for dp in dps {
                let fix = |s: &str| {
                    self.ecmp_port_re
                        .replace_all(s, |c: &Captures| {
                            let key: i64 = c[2].parse().unwrap_or(-1);
                            match self.port_by_key.get(&(dp, key)) {
                                Some(p) => format!("ecmp_reply_port{}{p:?}", &c[1]),
                                None => c[0].to_string(),
                            }
                        })
                        .into_owned()
                };
                flows.push(Flow {
                    dp: self.dp_names.get(&dp).cloned().unwrap_or_else(|| "?".into()),
                    pipeline: str_of(f, "pipeline"),
                    table: int_of(f, "table_id"),
                    stage: map_get(f, "external_ids", "stage-name").unwrap_or_default(),
                    priority: int_of(f, "priority"),
                    matches: fix(&m),
                    actions: fix(&a),
                    extra: format!(
                        "{}{}",
                        if meter.is_empty() { String::new() } else { format!(" meter={}", quote(&meter)) },
                        if tags.is_empty() { String::new() } else { format!(" tags={tags}") }
                    ),
                });
            }
        }
        (flows, group_use)
    }
}

/// One logical flow on one datapath.
#[derive(Debug, Clone)]
struct Flow {
    dp: String,
    pipeline: String,
    table: i64,
    stage: String,
    priority: i64,
    matches: String,
    actions: String,
    extra: String,
}

impl Flow {
    fn line(&self) -> String {
        format!(
            "Logical_Flow {} {} {:02} {} {} ({}) => ({}){}",
            self.dp, self.pipeline, self.table, self.stage, self.priority, self.matches, self.actions, self.extra
        )
    }
}

/// Sorts the members of every `{...}` set of a match.
pub fn sort_sets(m: &str) -> String {
    let mut out = String::with_capacity(m.len());
    let mut rest = m;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else { break };
        let inner = &rest[open + 1..open + close];
        if inner.contains('{') {
            out.push_str(&rest[..=open]);
            rest = &rest[open + 1..];
            continue;
        }
        let mut items: Vec<&str> = inner.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
        items.sort();
        out.push_str(&rest[..open]);
        out.push('{');
        out.push_str(&items.join(", "));
        out.push('}');
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

/// `"MAC ip2 ip1 is_chassis_resident(..)"` -> `"MAC ip1 ip2 is_chassis_resident(..)"`.
fn sort_nat_addresses(v: &str) -> String {
    let quoted = v.starts_with('"');
    let inner = v.trim_matches('"');
    let mut words: Vec<&str> = inner.split_whitespace().collect();
    if words.len() > 2 {
        // The MAC first, then IPs (sorted), then conditions.
        let n = words[1..].iter().take_while(|w| !w.contains('(')).count();
        words[1..=n].sort();
    }
    let s = words.join(" ");
    if quoted {
        format!("\"{s}\"")
    } else {
        s
    }
}

/// Renumbers ECMP group ids (`reg8[0..15]`) and member ids (`reg8[16..31]`)
/// of the routing and policy stages in a canonical order: groups by the
/// text of the flow that selects them, members by the text of their flow.
fn renumber_ecmp(flows: &mut [Flow]) {
    let def_re = Regex::new(r"reg8\[0\.\.15\] = (\d+);").unwrap();
    let sel_re = Regex::new(r"reg8\[16\.\.31\] = select\(([^)]*)\);").unwrap();
    let mem_re = Regex::new(r"reg8\[0\.\.15\] == (\d+) && reg8\[16\.\.31\] == (\d+)").unwrap();
    let mask = |s: &str| {
        let s = def_re.replace_all(s, "reg8[0..15] = ?;");
        let s = sel_re.replace_all(&s, "reg8[16..31] = select(?);");
        mem_re.replace_all(&s, "reg8[0..15] == ? && reg8[16..31] == ?").into_owned()
    };
    let mut by_dp: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
    for (i, f) in flows.iter().enumerate() {
        let family = f.stage.strip_suffix("_ecmp").unwrap_or(&f.stage);
        if matches!(family, "lr_in_ip_routing" | "lr_in_policy") {
            by_dp.entry((f.dp.clone(), family.to_string())).or_default().push(i);
        }
    }
    for ((_, family), idx) in by_dp {
        let sort_key = |i: &usize| {
            let f = &flows[*i];
            (f.priority, mask(&f.matches), mask(&f.actions))
        };
        let mut defs: Vec<usize> =
            idx.iter().copied().filter(|i| flows[*i].stage == family && def_re.is_match(&flows[*i].actions)).collect();
        defs.sort_by_key(sort_key);
        let mut groups: HashMap<i64, i64> = HashMap::new();
        for i in &defs {
            let g: i64 = def_re.captures(&flows[*i].actions).unwrap()[1].parse().unwrap();
            if g != 0 {
                let next = groups.len() as i64 + 1;
                groups.entry(g).or_insert(next);
            }
        }
        let mut members: Vec<usize> =
            idx.iter().copied().filter(|i| flows[*i].stage != family && mem_re.is_match(&flows[*i].matches)).collect();
        members.sort_by_key(sort_key);
        let mut member_ids: HashMap<(i64, i64), i64> = HashMap::new();
        let mut counts: HashMap<i64, i64> = HashMap::new();
        for i in &members {
            let c = mem_re.captures(&flows[*i].matches).unwrap();
            let (g, m): (i64, i64) = (c[1].parse().unwrap(), c[2].parse().unwrap());
            let n = counts.entry(g).or_default();
            if let std::collections::hash_map::Entry::Vacant(e) = member_ids.entry((g, m)) {
                *n += 1;
                e.insert(*n);
            }
        }
        let group = |g: i64| groups.get(&g).copied().unwrap_or(g);
        for i in idx {
            let f = &mut flows[i];
            let old_g = def_re.captures(&f.actions).map(|c| c[1].parse::<i64>().unwrap());
            if let Some(og) = old_g {
                f.actions =
                    def_re.replace_all(&f.actions, |_: &Captures| format!("reg8[0..15] = {};", group(og))).into_owned();
                f.actions = sel_re
                    .replace_all(&f.actions, |c: &Captures| {
                        let mut items: Vec<(i64, String)> = c[1]
                            .split(',')
                            .map(str::trim)
                            .map(|it| {
                                let (m, w) = match it.split_once('=') {
                                    Some((m, w)) => (m, format!("={w}")),
                                    None => (it, String::new()),
                                };
                                let m: i64 = m.parse().unwrap_or(-1);
                                let nm = member_ids.get(&(og, m)).copied().unwrap_or(m);
                                (nm, format!("{nm}{w}"))
                            })
                            .collect();
                        items.sort();
                        let items: Vec<String> = items.into_iter().map(|(_, s)| s).collect();
                        format!("reg8[16..31] = select({});", items.join(", "))
                    })
                    .into_owned();
            }
            f.matches = mem_re
                .replace_all(&f.matches, |c: &Captures| {
                    let (g, m): (i64, i64) = (c[1].parse().unwrap(), c[2].parse().unwrap());
                    let nm = member_ids.get(&(g, m)).copied().unwrap_or(m);
                    format!("reg8[0..15] == {} && reg8[16..31] == {nm}", group(g))
                })
                .into_owned();
        }
    }
}

/// Normalizes the SB written by a northd for this NB.
pub fn normalize(nb: &Replica, sb: &Replica) -> Normalized {
    let ctx = Ctx::new(nb, sb);
    let mut lines = Vec::new();
    let (mut flows, group_use) = ctx.flows();
    renumber_ecmp(&mut flows);
    let tables: BTreeSet<(String, i64, String)> =
        flows.iter().map(|f| (f.pipeline.clone(), f.table, f.stage.clone())).collect();
    let n_flows = flows.len();
    lines.extend(flows.iter().map(Flow::line));
    for (g, n) in group_use {
        lines.push(format!("Logical_DP_Group {g} => flows={n}"));
    }
    ctx.row_lines(&mut lines);
    ctx.check_keys(&mut lines);
    lines.sort();
    Normalized { lines, flows: n_flows, tables: tables.len() }
}

/// Differences between an expected and an actual normalized text.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Diff {
    /// Group (`Table` or `Logical_Flow DP PIPELINE TABLE STAGE`) -> changes.
    pub groups: BTreeMap<String, GroupDiff>,
}

/// The changes within one group.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GroupDiff {
    pub missing: Vec<String>,
    pub extra: Vec<String>,
    /// (expected, actual) lines with the same key.
    pub changed: Vec<(String, String)>,
}

fn split_line(l: &str) -> (String, &str) {
    let key = l.split_once(" => ").map_or(l, |(k, _)| k);
    let n = if l.starts_with("Logical_Flow ") { 5 } else { 1 };
    let group: Vec<&str> = l.split(' ').take(n).collect();
    (group.join(" "), key)
}

/// Compares two normalized texts.
pub fn diff(expected: &str, actual: &str) -> Diff {
    type Sides<'t> = (Vec<&'t str>, Vec<&'t str>);
    let mut by_key: BTreeMap<(String, &str), Sides> = BTreeMap::new();
    for l in expected.lines() {
        let (g, k) = split_line(l);
        by_key.entry((g, k)).or_default().0.push(l);
    }
    for l in actual.lines() {
        let (g, k) = split_line(l);
        by_key.entry((g, k)).or_default().1.push(l);
    }
    let mut d = Diff::default();
    for ((g, _), (mut e, mut a)) in by_key {
        e.sort();
        a.sort();
        let common: Vec<&str> = e.iter().filter(|x| a.contains(x)).copied().collect();
        for c in common {
            if let (Some(i), Some(j)) = (e.iter().position(|x| *x == c), a.iter().position(|x| *x == c)) {
                e.remove(i);
                a.remove(j);
            }
        }
        if e.is_empty() && a.is_empty() {
            continue;
        }
        let gd = d.groups.entry(g).or_default();
        let n = e.len().min(a.len());
        for i in 0..n {
            gd.changed.push((e[i].to_string(), a[i].to_string()));
        }
        gd.missing.extend(e[n..].iter().map(|s| s.to_string()));
        gd.extra.extend(a[n..].iter().map(|s| s.to_string()));
    }
    d
}

/// How much of an expected text an actual one matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Score {
    /// Expected logical flow lines present in the actual text.
    pub flows_matched: usize,
    pub flows_total: usize,
    /// Groups (a table, or a datapath's pipeline stage) without difference.
    pub groups_matched: usize,
    pub groups_total: usize,
}

/// Scores `actual` against `expected` (`d` is their diff).
pub fn score(expected: &str, actual: &str, d: &Diff) -> Score {
    let mut groups: BTreeSet<String> = BTreeSet::new();
    for l in expected.lines().chain(actual.lines()) {
        groups.insert(split_line(l).0);
    }
    let flows_total = expected.lines().filter(|l| l.starts_with("Logical_Flow ")).count();
    let flows_missing: usize = d
        .groups
        .iter()
        .filter(|(g, _)| g.starts_with("Logical_Flow "))
        .map(|(_, g)| g.missing.len() + g.changed.len())
        .sum();
    Score {
        flows_matched: flows_total - flows_missing,
        flows_total,
        groups_matched: groups.len() - d.groups.len(),
        groups_total: groups.len(),
    }
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// `identical`, or counts of missing, extra and changed lines.
    pub fn summary(&self) -> String {
        if self.is_empty() {
            return "identical".to_string();
        }
        let (mut m, mut e, mut c) = (0, 0, 0);
        for g in self.groups.values() {
            m += g.missing.len();
            e += g.extra.len();
            c += g.changed.len();
        }
        format!("{m} missing, {e} extra, {c} changed in {} groups", self.groups.len())
    }

    /// The full report, group by group.
    pub fn report(&self) -> String {
        let mut s = String::new();
        for (g, d) in &self.groups {
            s.push_str(&format!(
                "== {g}: {} missing, {} extra, {} changed\n",
                d.missing.len(),
                d.extra.len(),
                d.changed.len()
            ));
            for l in &d.missing {
                s.push_str(&format!("  - {l}\n"));
            }
            for l in &d.extra {
                s.push_str(&format!("  + {l}\n"));
            }
            for (a, b) in &d.changed {
                s.push_str(&format!("  ~ - {a}\n    + {b}\n"));
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ovsdb::proto::update::{decode_table_updates, UpdateFormat};
    use ovsdb::DatabaseSchema;
    use std::sync::Arc;

    fn replica(schema_file: &str, updates: &str) -> Replica {
        let path = crate::run::repo_root().join("schemas").join(schema_file);
        let schema = DatabaseSchema::from_json_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let mut r = Replica::new(Arc::new(schema));
        let u = decode_table_updates(updates, UpdateFormat::Update2, r.schema()).unwrap();
        r.apply(u).unwrap();
        r
    }

    /// One NB switch and its SB translation, with the given UUIDs, tunnel
    /// keys and MAC prefix (and a sharded group's progress record that
    /// says them).
    fn pair(u: [&str; 4], keys: [i64; 3], prefix: &str) -> Normalized {
        let [ls, dp, pb, lf] = u;
        let nb = replica(
            "ovn-nb.ovsschema",
            &format!(r#"{{"Logical_Switch": {{"{ls}": {{"initial": {{"name": "sw0"}}}}}}}}"#),
        );
        let [dk, pk, mk] = keys;
        let sb = format!(
            r#"{{
            "SB_Global": {{"00000000-0000-0000-0000-000000000001": {{"initial": {{"options": ["map", [["mac_prefix", "{prefix}"]]],
                "external_ids": ["map", [["ovn_northd_shard_{dk}_of_8", "{pk}"]]]}}}}}},
            "Datapath_Binding": {{"{dp}": {{"initial": {{"tunnel_key": {dk},
                "external_ids": ["map", [["name", "sw0"], ["logical-switch", "{ls}"]]]}}}}}},
            "Port_Binding": {{"{pb}": {{"initial": {{"logical_port": "p1", "tunnel_key": {pk},
                "datapath": ["uuid", "{dp}"], "mac": "{prefix}:00:00:01 10.0.0.1"}}}}}},
            "Multicast_Group": {{"00000000-0000-0000-0000-0000000000{mk:02}": {{"initial": {{"name": "_MC_flood",
                "tunnel_key": {}, "datapath": ["uuid", "{dp}"], "ports": ["uuid", "{pb}"]}}}}}},
            "Port_Group": {{"00000000-0000-0000-0000-000000000002": {{"initial": {{"name": "{dk}_pg1", "ports": "p1"}}}}}},
            "Address_Set": {{"00000000-0000-0000-0000-000000000003": {{"initial": {{"name": "_rtr_lb_{dk}_ip4",
                "addresses": "10.0.0.100"}}}}}},
            "Logical_Flow": {{"{lf}": {{"initial": {{"logical_datapath": ["uuid", "{dp}"], "pipeline": "ingress",
                "table_id": 1, "priority": 50, "match": "eth.dst == {{{prefix}:00:00:02, {prefix}:00:00:01}}",
                "actions": "trigger_event(load_balancer = \"{ls}\");",
                "external_ids": ["map", [["stage-name", "ls_in_x"], ["stage-hint", "abcd"]]]}}}}}}
        }}"#,
            32768 + mk
        );
        normalize(&nb, &replica("ovn-sb.ovsschema", &sb))
    }

    #[test]
    fn uuids_keys_and_mac_prefix_normalized() {
        let a = pair(
            [
                "11111111-0000-0000-0000-000000000000",
                "22222222-0000-0000-0000-000000000000",
                "33333333-0000-0000-0000-000000000000",
                "44444444-0000-0000-0000-000000000000",
            ],
            [1, 1, 1],
            "0a:00:00",
        );
        let b = pair(
            [
                "aaaaaaaa-0000-0000-0000-000000000000",
                "bbbbbbbb-0000-0000-0000-000000000000",
                "cccccccc-0000-0000-0000-000000000000",
                "dddddddd-0000-0000-0000-000000000000",
            ],
            [7, 3, 5],
            "3e:12:34",
        );
        assert_eq!(a.text(), b.text());
        assert_eq!(a.flows, 1);
        let text = a.text();
        assert!(text.contains(
            "Logical_Flow sw0 ingress 01 ls_in_x 50 (eth.dst == {MAC_PREFIX:00:00:01, MAC_PREFIX:00:00:02}) \
             => (trigger_event(load_balancer = \"<Logical_Switch:sw0>\");)"
        ));
        assert!(text.contains("Port_Group sw0_pg1 => ports=[p1]"), "{text}");
        assert!(text.contains("Address_Set _rtr_lb_sw0_ip4 => addresses=[10.0.0.100]"), "{text}");
        assert!(text.contains("Datapath_Binding sw0 => external_ids={name=sw0}\n"), "{text}");
        assert!(!text.contains("Problem"), "{text}");
        assert!(!text.contains("SB_Global => external_ids"), "{text}");
    }

    #[test]
    fn port_tunnel_key_out_of_range_reported() {
        let mut a = pair(
            [
                "11111111-0000-0000-0000-000000000000",
                "22222222-0000-0000-0000-000000000000",
                "33333333-0000-0000-0000-000000000000",
                "44444444-0000-0000-0000-000000000000",
            ],
            [1, 40000, 1],
            "0a:00:00",
        );
        a.lines.retain(|l| l.starts_with("Problem"));
        assert_eq!(a.lines, ["Problem => Port_Binding p1 has tunnel key 40000 out of range"]);
    }

    #[test]
    fn sets_sorted() {
        assert_eq!(sort_sets("ip4.dst == {10.0.0.2, 10.0.0.1} && x"), "ip4.dst == {10.0.0.1, 10.0.0.2} && x");
        assert_eq!(sort_sets("a == {3,1,2}"), "a == {1, 2, 3}");
    }

    #[test]
    fn nat_addresses_sorted() {
        assert_eq!(
            sort_nat_addresses("\"00:00:00:00:00:01 2.2.2.2 1.1.1.1 is_chassis_resident(\\\"cr\\\")\""),
            "\"00:00:00:00:00:01 1.1.1.1 2.2.2.2 is_chassis_resident(\\\"cr\\\")\""
        );
    }

    #[test]
    fn diff_groups() {
        let e = "Logical_Flow sw0 ingress 00 s 10 (a) => (x)\nLogical_Flow sw0 ingress 00 s 20 (b) => (y)\nPort_Binding p => type=\"\"\n";
        let a =
            "Logical_Flow sw0 ingress 00 s 10 (a) => (z)\nPort_Binding p => type=\"\"\nPort_Binding q => type=\"\"\n";
        let d = diff(e, a);
        assert_eq!(d.summary(), "1 missing, 1 extra, 1 changed in 2 groups");
        assert!(diff(e, e).is_empty());
    }

    #[test]
    fn ecmp_renumbered() {
        let mk = |stage: &str, m: &str, a: &str| Flow {
            dp: "lr0".into(),
            pipeline: "ingress".into(),
            table: 0,
            stage: stage.into(),
            priority: 10,
            matches: m.into(),
            actions: a.into(),
            extra: String::new(),
        };
        let mut f = vec![
            mk("lr_in_ip_routing", "ip4.dst == 2.0.0.0/8", "reg8[0..15] = 1; reg8[16..31] = select(1, 2);"),
            mk("lr_in_ip_routing", "ip4.dst == 1.0.0.0/8", "reg8[0..15] = 2; reg8[16..31] = select(1, 2);"),
            mk("lr_in_ip_routing_ecmp", "reg8[0..15] == 2 && reg8[16..31] == 1", "reg0 = 9.9.9.9;"),
            mk("lr_in_ip_routing_ecmp", "reg8[0..15] == 2 && reg8[16..31] == 2", "reg0 = 8.8.8.8;"),
        ];
        renumber_ecmp(&mut f);
        assert_eq!(f[1].actions, "reg8[0..15] = 1; reg8[16..31] = select(1, 2);");
        assert_eq!(f[0].actions, "reg8[0..15] = 2; reg8[16..31] = select(1, 2);");
        assert_eq!(f[2].matches, "reg8[0..15] == 1 && reg8[16..31] == 2");
        assert_eq!(f[3].matches, "reg8[0..15] == 1 && reg8[16..31] == 1");
    }
}
