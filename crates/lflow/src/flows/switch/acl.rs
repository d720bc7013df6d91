//! ACLs (`ovn-northd(8)`, "Logical Switch Datapaths": ingress tables 4
//! (pre-ACL), 7 (ACL hints), 8 (ACLs), 17 (ACLs after LB) and 18
//! (stateful), egress tables 0, 3, 4 and 7): the flows every switch gets in
//! those stages, the conntrack machinery that stateful ACLs (or a load
//! balancer VIP) bring, and the flows of each ACL of the switch and of the
//! port groups holding its ports: `allow`, `allow-related`,
//! `allow-stateless`, `drop` and `reject`, with labels, logging (meters,
//! `log-related`) and `options:apply-after-lb`.
//!
//! It never builds the flows of load balancers, QoS, DHCP or DNS (other
//! modules own them, in the same stages), nor the SB `Meter` rows the
//! `log()` actions name, nor the `controller_meter` (CoPP) of its reject
//! flows. An ACL it cannot read (an unknown action or direction, a
//! priority out of range) is reported once by `diagnose` and gets no flow
//! (the reference, too, writes none for an action it does not know): its
//! packets meet the other ACLs and the default; it never becomes an allow.

use std::collections::BTreeSet;

use foldhash::{HashSet, HashSetExt};

use ovsdb::Uuid;

use super::{json_key, Switch};
use crate::input::nb;
use crate::model::Model;
use crate::output::{Diagnostic, DpId, Flows};
use crate::stage::Stage;

/// Neighbour discovery and MLD (and DHCPv6 replies), which skip conntrack
/// in the pre-ACL stages.
const ND_MLD_PRE_ACL: &str = "nd || nd_rs || nd_ra || mldv1 || mldv2 || (udp && udp.src == 546 && udp.dst == 547)";
/// Neighbour discovery and MLD, as the ACL stages spell them.
const ND_MLD_ACL: &str = "nd || nd_ra || nd_rs || mldv1 || mldv2";
/// An ACL's priority is raised by this much in its flows, leaving room for
/// the defaults below and above.
const PRIORITY_OFFSET: u16 = 1000;
/// The highest ACL priority (`ovn-nb(5)`).
const MAX_PRIORITY: i64 = 32767;

/// The registers the ACL stages use (`ovn-northd(8)`).
mod reg {
    /// Send the packet to conntrack (pre-stateful).
    pub const DEFRAG: &str = "reg0[0]";
    /// Commit the connection (stateful).
    pub const COMMIT: &str = "reg0[1]";
    /// Hint: may match an allow ACL and need a commit.
    pub const ALLOW_NEW: &str = "reg0[7]";
    /// Hint: may match an allow ACL, already committed.
    pub const ALLOW: &str = "reg0[8]";
    /// Hint: may match a drop or reject ACL.
    pub const DROP: &str = "reg0[9]";
    /// Hint: may match a drop or reject ACL of a connection allowed before.
    pub const BLOCK: &str = "reg0[10]";
    /// Commit the ACL's label with the connection.
    pub const LABEL: &str = "reg0[13]";
    /// The packet matched an `allow-stateless` ACL: no conntrack.
    pub const STATELESS: &str = "reg0[16]";
    /// A reply or related packet the ACL stage allowed (for ACLs after LB).
    pub const ALLOW_REL: &str = "reg0[17]";
    /// The label to commit.
    pub const LABEL_VALUE: &str = "reg3";
}

/// What an ACL does with the packets it matches.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Allow,
    AllowRelated,
    AllowStateless,
    Drop,
    Reject,
}

impl Verdict {
    fn parse(action: &str) -> Option<Verdict> {
        Some(match action {
            "allow" => Verdict::Allow,
            "allow-related" => Verdict::AllowRelated,
            "allow-stateless" => Verdict::AllowStateless,
            "drop" => Verdict::Drop,
            "reject" => Verdict::Reject,
            _ => return None,
        })
    }

    /// The verdict a `log()` action reports.
    fn log_word(self) -> &'static str {
        match self {
            Verdict::Allow | Verdict::AllowRelated | Verdict::AllowStateless => "allow",
            Verdict::Drop => "drop",
            Verdict::Reject => "reject",
        }
    }
}

/// An ACL as its flows need it.
struct Acl<'a> {
    row: nb::Acl<'a>,
    verdict: Verdict,
    /// `from-lport`.
    ingress: bool,
    /// The priority of its flows (ACL priority + 1000).
    priority: u16,
}

impl<'a> Acl<'a> {
    /// Reads an ACL; `Err` says why it cannot be translated.
    fn parse(row: nb::Acl<'a>) -> Result<Acl<'a>, String> {
        let verdict = Verdict::parse(row.action()).ok_or_else(|| format!("unknown action '{}'", row.action()))?;
        let ingress = match row.direction() {
            "from-lport" => true,
            "to-lport" => false,
            d => return Err(format!("unknown direction '{d}'")),
        };
        let priority = match row.priority() {
            p @ 0..=MAX_PRIORITY => p as u16 + PRIORITY_OFFSET,
            p => return Err(format!("priority {p} out of range 0 to {MAX_PRIORITY}")),
        };
        Ok(Acl { row, verdict, ingress, priority })
    }

    /// The stage its flows go to.
    fn stage(&self) -> Stage {
        if !self.ingress {
            Stage::LsOutAcl
        } else if self.row.options().get_bool("apply-after-lb", false) {
            Stage::LsInAclAfterLb
        } else {
            Stage::LsInAcl
        }
    }

    /// The `reg0[13] = 1; reg3 = LABEL; ` that commits a nonzero label.
    fn label_actions(&self) -> Option<String> {
        let label = self.row.label();
        (label != 0).then(|| format!("{} = 1; {} = {label}; ", reg::LABEL, reg::LABEL_VALUE))
    }
}

/// Reports, once each and in UUID order, the ACLs that cannot be
/// translated (`build` leaves them out on every switch).
pub(super) fn diagnose(m: &Model<'_>, diags: &mut Vec<Diagnostic>) {
    let mut acls: Vec<nb::Acl<'_>> = nb::Acl::all(m.nb).collect();
    acls.sort_by_key(|a| a.uuid());
    for acl in acls {
        let row = || acl.name().filter(|n| !n.is_empty()).map_or_else(|| acl.uuid().to_string(), str::to_string);
        if let Err(message) = Acl::parse(acl) {
            diags.push(Diagnostic { table: nb::Acl::TABLE, row: row(), message: format!("{message}, ACL ignored") });
        } else if let Some(problem) = crate::flows::match_problem(acl.match_()) {
            // Its flows are written as the reference writes them; the
            // operator must know they do nothing.
            diags.push(Diagnostic::new(
                nb::Acl::TABLE,
                &row(),
                "match",
                acl.match_(),
                &format!("{problem}: ovn-controller rejects its flows, the ACL has no effect"),
            ));
        }
    }
}

/// What the ACL flows of every switch share: the NB_Global options that
/// shape them and the meters that are `fair`.
pub(crate) struct AclOptions<'a> {
    /// `options:default_acl_drop`.
    default_drop: bool,
    /// `options:use_ct_inv_match` (true unless "false").
    ct_inv: bool,
    /// The names of the NB meters with `fair=true`.
    fair_meters: BTreeSet<&'a str>,
}

impl<'a> AclOptions<'a> {
    pub fn new(m: &Model<'a>) -> AclOptions<'a> {
        let opt = |key: &str| m.option(key).map(str::to_ascii_lowercase);
        AclOptions {
            default_drop: opt("default_acl_drop").as_deref() == Some("true"),
            ct_inv: opt("use_ct_inv_match").as_deref() != Some("false"),
            fair_meters: nb::Meter::all(m.nb).filter(|r| r.fair() == Some(true)).map(|r| r.name()).collect(),
        }
    }
}

/// Adds the ACL flows of one switch.
pub(super) fn build(sw: &Switch<'_, '_>, flows: &mut Flows) {
    let acls: Vec<Acl<'_>> = sw.acls.iter().filter_map(|a| Acl::parse(*a).ok()).collect();
    let mut out = Out { flows, dp: sw.dp.id, seen: HashSet::new() };
    pre_acl(sw, &acls, &mut out);
    hints(sw, out.flows);
    defaults(sw, out.flows);
    for acl in &acls {
        log_related(sw, acl, &mut out);
        flows_of(sw, acl, &mut out);
    }
    stateful(sw, out.flows);
}

/// Adds ACL flows, each (stage, priority, match, actions) once: two ACLs
/// that give the same flow make one, hinted with the first (the switch's
/// own ACLs by UUID, then those of its port groups by group UUID).
struct Out<'f> {
    flows: &'f mut Flows,
    dp: DpId,
    seen: HashSet<(Stage, u16, String, String)>,
}

impl Out<'_> {
    fn add(&mut self, stage: Stage, priority: u16, match_: String, actions: String, hint: Uuid) {
        if self.seen.insert((stage, priority, match_.clone(), actions.clone())) {
            self.flows.add(self.dp, stage, priority, match_, actions).hint(hint);
        }
    }
}

/// Pre-ACL (ingress 4, egress 0): the conntrack hint for IP when ACLs are
/// stateful, and what skips it (router and localnet ports, multicast,
/// ND/MLD, `allow-stateless` ACLs).
fn pre_acl(sw: &Switch<'_, '_>, acls: &[Acl<'_>], out: &mut Out<'_>) {
    let dp = sw.dp.id;
    let next = "next;";
    out.flows.add(dp, Stage::LsInPreAcl, 0, "1", next);
    out.flows.add(dp, Stage::LsOutPreAcl, 0, "1", next);
    out.flows.add(dp, Stage::LsInPreAcl, 110, "eth.dst == $svc_monitor_mac", next);
    out.flows.add(dp, Stage::LsOutPreAcl, 110, "eth.src == $svc_monitor_mac", next);
    if !sw.has_stateful() {
        return;
    }
    if sw.has_stateful_acl {
        let skipped = sw.router_ports().map(|(p, _)| p).chain(sw.ports_of_type("localnet"));
        for p in skipped {
            let key = json_key(p.name());
            let f = out.flows.add(dp, Stage::LsInPreAcl, 110, format!("ip && inport == {key}"), next);
            f.hint(p.uuid()).io_port(p.name());
            let f = out.flows.add(dp, Stage::LsOutPreAcl, 110, format!("ip && outport == {key}"), next);
            f.hint(p.uuid()).io_port(p.name());
        }
    }
    // Stateless ACLs skip conntrack, also when only a load balancer would
    // send packets there.
    for acl in acls.iter().filter(|a| a.verdict == Verdict::AllowStateless) {
        let stage = if acl.ingress { Stage::LsInPreAcl } else { Stage::LsOutPreAcl };
        let actions = format!("{} = 1; next;", reg::STATELESS);
        out.add(stage, acl.priority, acl.row.match_().to_string(), actions, acl.row.uuid());
    }
    if sw.has_stateful_acl {
        for stage in [Stage::LsInPreAcl, Stage::LsOutPreAcl] {
            out.flows.add(dp, stage, 110, "eth.mcast", next);
            out.flows.add(dp, stage, 110, ND_MLD_PRE_ACL, next);
            out.flows.add(dp, stage, 100, "ip", format!("{} = 1; next;", reg::DEFRAG));
        }
    }
}

/// ACL hints (ingress 7, egress 3): what conntrack says of the packet,
/// as the bits the ACL flows test.
fn hints(sw: &Switch<'_, '_>, flows: &mut Flows) {
    let dp = sw.dp.id;
    let blocked = sw.ct.blocked;
    for stage in [Stage::LsInAclHint, Stage::LsOutAclHint] {
        if !sw.has_acls && !sw.has_lb_vip {
            flows.add(dp, stage, u16::MAX, "1", "next;");
            continue;
        }
        flows.add(dp, stage, 0, "1", "next;");
        if !sw.has_stateful() {
            continue;
        }
        let (new, allow, drop, block) = (reg::ALLOW_NEW, reg::ALLOW, reg::DROP, reg::BLOCK);
        // A new session may match an allow (to commit) or a drop.
        flows.add(dp, stage, 7, "ct.new && !ct.est", format!("{new} = 1; {drop} = 1; next;"));
        // The request direction of a blocked session: as new.
        let m = format!("!ct.new && ct.est && !ct.rpl && {blocked} == 1");
        flows.add(dp, stage, 6, m, format!("{new} = 1; {drop} = 1; next;"));
        // Untracked: allow without commit, or drop.
        flows.add(dp, stage, 5, "!ct.trk", format!("{allow} = 1; {drop} = 1; next;"));
        // The request direction of an allowed session: allow, or block it.
        let m = format!("!ct.new && ct.est && !ct.rpl && {blocked} == 0");
        flows.add(dp, stage, 4, m, format!("{allow} = 1; {block} = 1; next;"));
        flows.add(dp, stage, 3, "!ct.est", format!("{drop} = 1; next;"));
        flows.add(dp, stage, 2, format!("ct.est && {blocked} == 1"), format!("{drop} = 1; next;"));
        flows.add(dp, stage, 1, format!("ct.est && {blocked} == 0"), format!("{block} = 1; next;"));
    }
}

/// The drop of an ACL verdict: a comment (the flow has no other action),
/// or the debug sample that `Switch::drop` is when one is configured.
fn acl_drop<'s>(sw: &Switch<'s, '_>) -> &'s str {
    if sw.drop == "drop;" {
        "/* drop */"
    } else {
        sw.drop
    }
}

/// The default flows of the ACL stages (ingress 8 and 17, egress 4):
/// allow (or drop, with `default_acl_drop`), conntrack's own verdicts on
/// replies, related and invalid packets, ND/MLD and service monitor
/// packets.
fn defaults(sw: &Switch<'_, '_>, flows: &mut Flows) {
    let dp = sw.dp.id;
    let opts = &sw.acl_options;
    let next = "next;";
    let acl_stages = [Stage::LsInAcl, Stage::LsOutAcl];
    if !sw.has_acls {
        let priority = if sw.has_lb_vip { 0 } else { u16::MAX };
        for stage in acl_stages {
            flows.add(dp, stage, priority, "1", next);
        }
        flows.add(dp, Stage::LsInAclAfterLb, 0, "1", next);
    } else {
        let default = if opts.default_drop { sw.drop } else { next };
        for stage in [Stage::LsInAcl, Stage::LsOutAcl, Stage::LsInAclAfterLb] {
            flows.add(dp, stage, 0, "1", default);
        }
    }
    for stage in [Stage::LsInAcl, Stage::LsOutAcl, Stage::LsInAclAfterLb] {
        flows.add(dp, stage, 65532, ND_MLD_ACL, next);
    }
    if sw.has_stateful() {
        let blocked = sw.ct.blocked;
        let commit = format!("{} = 1; next;", reg::COMMIT);
        let inv = if opts.ct_inv { " && !ct.inv" } else { "" };
        let (drop, block, rel) = (reg::DROP, reg::BLOCK, reg::ALLOW_REL);
        for stage in acl_stages {
            // Sessions not committed yet are committed (or dropped), and
            // blocked sessions that reach here are allowed again.
            flows.add(dp, stage, 1, format!("ip && ct.est && {blocked} == 1"), commit.clone());
            flows.add(dp, stage, 1, "ip && !ct.est", if opts.default_drop { sw.drop } else { &commit });
            let invalid = if opts.ct_inv { "ct.inv || " } else { "" };
            flows.add(dp, stage, 65532, format!("{invalid}(ct.est && ct.rpl && {blocked} == 1)"), sw.drop);
        }
        let reply = format!("ct.est && !ct.rel && !ct.new{inv} && ct.rpl && {blocked} == 0");
        flows.add(dp, Stage::LsInAcl, 65532, reply.clone(), format!("{drop} = 0; {block} = 0; {rel} = 1; next;"));
        flows.add(dp, Stage::LsOutAcl, 65532, reply, next);
        let related = format!("!ct.est && ct.rel && !ct.new{inv} && {blocked} == 0");
        let nat = if sw.ct.nat_related { "ct_commit_nat;" } else { next };
        flows.add(dp, Stage::LsInAcl, 65532, related.clone(), format!("{rel} = 1; {nat}"));
        flows.add(dp, Stage::LsOutAcl, 65532, related, nat);
        flows.add(dp, Stage::LsInAclAfterLb, 65532, format!("{rel} == 1"), next);
    }
    if sw.has_acls || sw.has_lb_vip {
        flows.add(dp, Stage::LsInAcl, 34000, "eth.dst == $svc_monitor_mac", next);
        flows.add(dp, Stage::LsOutAcl, 34000, "eth.src == $svc_monitor_mac", next);
    }
}

/// The `log(...); ` an ACL with `log=true` starts its actions with.
fn log_action(sw: &Switch<'_, '_>, acl: &Acl<'_>) -> String {
    let row = acl.row;
    if !row.log() {
        return String::new();
    }
    let mut parts = Vec::new();
    if let Some(name) = row.name() {
        // Quoted and escaped: the reference writes the name as is, and a
        // name with a quote makes its flow one no chassis can parse.
        parts.push(format!("name={}", json_key(name)));
    }
    parts.push(format!("severity={}", row.severity().unwrap_or("info")));
    parts.push(format!("verdict={}", acl.verdict.log_word()));
    if let Some(meter) = row.meter() {
        // A fair meter limits each ACL separately, through a copy of its
        // own.
        let meter = if sw.acl_options.fair_meters.contains(meter) {
            crate::bindings::meters::fair_name(meter, row.uuid())
        } else {
            meter.to_string()
        };
        parts.push(format!("meter={}", json_key(&meter)));
    }
    format!("log({}); ", parts.join(", "))
}

/// The flows of one ACL in its stage, at its priority.
fn flows_of(sw: &Switch<'_, '_>, acl: &Acl<'_>, out: &mut Out<'_>) {
    let (stage, priority, uuid) = (acl.stage(), acl.priority, acl.row.uuid());
    let m = acl.row.match_();
    let log = log_action(sw, acl);
    let stateful = sw.has_stateful();
    match acl.verdict {
        Verdict::AllowStateless => out.add(stage, priority, m.to_string(), format!("{log}next;"), uuid),
        Verdict::Allow | Verdict::AllowRelated if !stateful => {
            out.add(stage, priority, m.to_string(), format!("{log}next;"), uuid)
        }
        Verdict::Allow | Verdict::AllowRelated => {
            // Every allow commits a new session when conntrack is in use,
            // so that its replies are known; an established one is only
            // committed again to update its label.
            let label = acl.label_actions();
            let commit = format!("{} = 1; ", reg::COMMIT);
            let label_commit = label.as_ref().map(|l| format!("{commit}{l}")).unwrap_or_default();
            let new = format!("{commit}{}{log}next;", label.unwrap_or_default());
            out.add(stage, priority, format!("{} == 1 && ({m})", reg::ALLOW_NEW), new, uuid);
            let est = format!("{label_commit}{log}next;");
            out.add(stage, priority, format!("{} == 1 && ({m})", reg::ALLOW), est, uuid);
        }
        Verdict::Drop if stateful => {
            let drop = acl_drop(sw);
            out.add(stage, priority, format!("{} == 1 && ({m})", reg::DROP), format!("{log}{drop}"), uuid);
            // A session allowed before is marked blocked, so that its
            // replies are dropped too.
            let block = format!("ct_commit {{ {} = 1; }}; {log}{drop}", sw.ct.blocked);
            out.add(stage, priority, format!("{} == 1 && ({m})", reg::BLOCK), block, uuid);
        }
        Verdict::Drop => out.add(stage, priority, m.to_string(), format!("{log}{}", acl_drop(sw)), uuid),
        Verdict::Reject if stateful => {
            reject(acl, &log, Some(&format!("{} == 1", reg::DROP)), "", out);
            let block = format!("ct_commit {{ {} = 1; }}; ", sw.ct.blocked);
            reject(acl, &log, Some(&format!("{} == 1", reg::BLOCK)), &block, out);
        }
        Verdict::Reject => reject(acl, &log, None, "", out),
    }
}

/// A reject flow: the packet turns back towards its sender as a TCP reset
/// or an ICMP unreachable, through the egress QoS stage for from-lport
/// ACLs and the destination lookup for to-lport ones.
fn reject(acl: &Acl<'_>, log: &str, hint_match: Option<&str>, extra: &str, out: &mut Out<'_>) {
    let m = acl.row.match_();
    let m = match hint_match {
        Some(h) => format!("({h}) && {m}"),
        None => m.to_string(),
    };
    let extra = if extra.is_empty() { String::new() } else { format!("{extra} ") };
    let (pipeline, table) =
        if acl.ingress { ("egress", Stage::LsOutQosMark.table()) } else { ("ingress", Stage::LsInL2Lkup.table()) };
    let actions = format!(
        "{log}{extra}reg0 = 0; reject {{ /* eth.dst <-> eth.src; ip.dst <-> ip.src; is implicit. */ \
         outport <-> inport; next(pipeline={pipeline},table={table}); }};"
    );
    out.add(acl.stage(), acl.priority, m, actions, acl.row.uuid());
}

/// `options:log-related` on a logged allow ACL with a label: the replies
/// and related packets of the sessions it allowed are logged too, in the
/// other direction's ACL stage.
fn log_related(sw: &Switch<'_, '_>, acl: &Acl<'_>, out: &mut Out<'_>) {
    let row = acl.row;
    let allow = matches!(acl.verdict, Verdict::Allow | Verdict::AllowRelated);
    if !sw.has_stateful() || !allow || !row.log() || row.label() == 0 {
        return;
    }
    if !row.options().get_bool("log-related", false) {
        return;
    }
    let stage = if acl.ingress { Stage::LsOutAcl } else { Stage::LsInAcl };
    let inv = if sw.acl_options.ct_inv { " && !ct.inv" } else { "" };
    let (blocked, label) = (sw.ct.blocked, row.label());
    let actions = format!("{}next;", log_action(sw, acl));
    let reply = format!("ct.est && !ct.rel && !ct.new{inv} && ct.rpl && {blocked} == 0 && ct_label.label == {label}");
    out.add(stage, u16::MAX - 2, reply, actions.clone(), row.uuid());
    let related = format!("!ct.est && ct.rel && !ct.new{inv} && {blocked} == 0 && ct_label.label == {label}");
    out.add(stage, u16::MAX - 2, related, actions, row.uuid());
}

/// Stateful (ingress 18, egress 7): commit what the ACL stages asked to
/// commit, unblocking it, with the ACL's label when one was set.
fn stateful(sw: &Switch<'_, '_>, flows: &mut Flows) {
    let dp = sw.dp.id;
    let blocked = sw.ct.blocked;
    let (commit, label) = (reg::COMMIT, reg::LABEL);
    for stage in [Stage::LsInStateful, Stage::LsOutStateful] {
        flows.add(dp, stage, 0, "1", "next;");
        flows.add(
            dp,
            stage,
            100,
            format!("{commit} == 1 && {label} == 0"),
            format!("ct_commit {{ {blocked} = 0; }}; next;"),
        );
        let with_label = format!("ct_commit {{ {blocked} = 0; ct_label.label = {}; }}; next;", reg::LABEL_VALUE);
        flows.add(dp, stage, 100, format!("{commit} == 1 && {label} == 1"), with_label);
    }
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::super::tests::switch_flows;
    use crate::stage::Stage;

    /// A switch with two ports, `p1` in port group `pg`, and the given
    /// ACLs (`"uuid-suffix": {ACL columns}`) on the switch (`own`) and on
    /// `pg` (`grouped`).
    fn nb(own: &[&str], grouped: &[&str], acls: &str) -> String {
        let refs = |ids: &[&str]| {
            let ids: Vec<String> =
                ids.iter().map(|i| format!(r#"["uuid", "00000000-0000-0000-0000-0000000000{i}"]"#)).collect();
            format!(r#"["set", [{}]]"#, ids.join(", "))
        };
        format!(
            r#"{{
            "Logical_Switch": {{"00000000-0000-0000-0000-000000000001": {{"initial": {{"name": "sw0",
                "ports": ["set", [["uuid", "00000000-0000-0000-0000-000000000011"],
                                  ["uuid", "00000000-0000-0000-0000-000000000012"]]],
                "acls": {}}}}}}},
            "Logical_Switch_Port": {{
                "00000000-0000-0000-0000-000000000011": {{"initial": {{"name": "p1",
                    "addresses": "00:00:00:00:00:01 10.0.0.11"}}}},
                "00000000-0000-0000-0000-000000000012": {{"initial": {{"name": "p2",
                    "addresses": "00:00:00:00:00:02 10.0.0.12"}}}}}},
            "Port_Group": {{"00000000-0000-0000-0000-000000000002": {{"initial": {{"name": "pg",
                "ports": ["uuid", "00000000-0000-0000-0000-000000000011"], "acls": {}}}}}}},
            "ACL": {{{acls}}}
        }}"#,
            refs(own),
            refs(grouped)
        )
    }

    fn acl(id: &str, columns: &str) -> String {
        format!(r#""00000000-0000-0000-0000-0000000000{id}": {{"initial": {{{columns}}}}}"#)
    }

    const ACL_STAGES: &[Stage] = &[Stage::LsInPreAcl, Stage::LsInAcl, Stage::LsOutPreAcl, Stage::LsOutAcl];

    /// Without a stateful ACL, a drop is a drop and an allow is a plain
    /// `next;`; nothing goes through conntrack.
    #[test]
    fn stateless_switch() {
        let acls = [
            acl("a1", r#""direction": "to-lport", "priority": 1000, "match": "ip4", "action": "drop""#),
            acl("a2", r#""direction": "from-lport", "priority": 900, "match": "udp", "action": "allow""#),
            acl("a3", r#""direction": "to-lport", "priority": 1000, "match": "tcp", "action": "reject""#),
        ];
        let (flows, diags) = switch_flows(&nb(&["a1", "a2", "a3"], &[], &acls.join(",")), ACL_STAGES);
        assert!(diags.is_empty(), "{diags:?}");
        expect![[r#"
            in 04 0 (1) => (next;)
            in 04 110 (eth.dst == $svc_monitor_mac) => (next;)
            in 08 0 (1) => (next;)
            in 08 1900 (udp) => (next;)
            in 08 34000 (eth.dst == $svc_monitor_mac) => (next;)
            in 08 65532 (nd || nd_ra || nd_rs || mldv1 || mldv2) => (next;)
            out 00 0 (1) => (next;)
            out 00 110 (eth.src == $svc_monitor_mac) => (next;)
            out 04 0 (1) => (next;)
            out 04 2000 (ip4) => (/* drop */)
            out 04 2000 (tcp) => (reg0 = 0; reject { /* eth.dst <-> eth.src; ip.dst <-> ip.src; is implicit. */ outport <-> inport; next(pipeline=ingress,table=25); };)
            out 04 34000 (eth.src == $svc_monitor_mac) => (next;)
            out 04 65532 (nd || nd_ra || nd_rs || mldv1 || mldv2) => (next;)
        "#]]
        .assert_eq(&flows);
    }

    /// A port group's allow-related ACL makes the whole switch stateful:
    /// the switch's own drop then blocks established sessions too, and a
    /// stateless ACL skips conntrack from the pre-ACL stage.
    #[test]
    fn port_group_acl_makes_the_switch_stateful() {
        let acls = [
            acl("a1", r#""direction": "to-lport", "priority": 1000, "match": "ip4", "action": "drop""#),
            acl(
                "a2",
                r#""direction": "from-lport", "priority": 1000, "match": "inport == @pg", "action": "allow-related", "label": 5"#,
            ),
            acl("a3", r#""direction": "from-lport", "priority": 2000, "match": "udp", "action": "allow-stateless""#),
        ];
        let (flows, _) = switch_flows(&nb(&["a1", "a3"], &["a2"], &acls.join(",")), ACL_STAGES);
        for want in [
            "in 04 100 (ip) => (reg0[0] = 1; next;)",
            "in 04 3000 (udp) => (reg0[16] = 1; next;)",
            "in 08 3000 (udp) => (next;)",
            "in 08 2000 (reg0[7] == 1 && (inport == @pg)) => (reg0[1] = 1; reg0[13] = 1; reg3 = 5; next;)",
            "in 08 2000 (reg0[8] == 1 && (inport == @pg)) => (reg0[1] = 1; reg0[13] = 1; reg3 = 5; next;)",
            "out 04 2000 (reg0[9] == 1 && (ip4)) => (/* drop */)",
            "out 04 2000 (reg0[10] == 1 && (ip4)) => (ct_commit { ct_mark.blocked = 1; }; /* drop */)",
            "out 04 65532 (ct.inv || (ct.est && ct.rpl && ct_mark.blocked == 1)) => (drop;)",
        ] {
            assert!(flows.lines().any(|l| l == want), "{want} missing in\n{flows}");
        }
    }

    /// An ACL that cannot be read is reported once and gets no flow: a
    /// `drop` with a priority out of range is not turned into anything
    /// else, and the ACLs around it are translated.
    #[test]
    fn unreadable_acl_is_reported_and_left_out() {
        let acls = [
            acl("a1", r#""direction": "to-lport", "priority": 40000, "match": "ip4", "action": "drop", "name": "big""#),
            acl("a2", r#""direction": "to-lport", "priority": 10, "match": "tcp", "action": "drop""#),
        ];
        let (flows, diags) = switch_flows(&nb(&["a1", "a2"], &["a1"], &acls.join(",")), ACL_STAGES);
        let diags: Vec<String> = diags.iter().map(ToString::to_string).collect();
        assert_eq!(diags, ["ACL big: priority 40000 out of range 0 to 32767, ACL ignored"]);
        assert!(!flows.contains("(ip4)"), "{flows}");
        assert!(flows.contains("out 04 1010 (tcp) => (/* drop */)"), "{flows}");
    }

    /// An ACL whose match no parser can read keeps the flows the reference
    /// writes for it, and is named in a diagnostic.
    #[test]
    fn unreadable_match_is_reported() {
        let acls = [
            acl(
                "a1",
                r#""direction": "to-lport", "priority": 10, "match": "ip4.src == {", "action": "drop", "name": "open""#,
            ),
            acl(
                "a2",
                r#""direction": "to-lport", "priority": 11, "match": "ip4.src ==", "action": "drop", "name": "tail""#,
            ),
            acl(
                "a3",
                r#""direction": "to-lport", "priority": 12, "match": "inport == \"a)\" && (ip4)", "action": "drop", "name": "fine""#,
            ),
            acl(
                "a4",
                r#""direction": "to-lport", "priority": 13, "match": "inport == \"a", "action": "drop", "name": "quote""#,
            ),
        ];
        let (flows, diags) = switch_flows(&nb(&["a1", "a2", "a3", "a4"], &[], &acls.join(",")), ACL_STAGES);
        let diags: Vec<String> = diags.iter().map(ToString::to_string).collect();
        let effect = "ovn-controller rejects its flows, the ACL has no effect";
        assert_eq!(
            diags,
            [
                format!("ACL open: match 'ip4.src == {{': unbalanced parentheses or braces: {effect}"),
                format!("ACL tail: match 'ip4.src ==': ends with an operator: {effect}"),
                format!("ACL quote: match 'inport == \"a': string literal left open: {effect}"),
            ]
        );
        assert!(flows.contains("out 04 1010 (ip4.src == {) => (/* drop */)"), "{flows}");
    }

    /// Two ACLs giving the same flow make one, hinted with the switch's
    /// own ACL.
    #[test]
    fn equal_flows_of_two_acls_are_one() {
        let same = r#""direction": "to-lport", "priority": 1000, "match": "ip4", "action": "drop""#;
        let acls = [acl("a1", same), acl("a2", same)];
        let json = nb(&["a2"], &["a1"], &acls.join(","));
        let nb = crate::tests::replica("ovn-nb.ovsschema", &json);
        let sb = crate::tests::replica("ovn-sb.ovsschema", "{}");
        let mut diags = Vec::new();
        let memo = crate::model::memo::PortMemo::of(&nb, &sb);
        let model = crate::model::Model::build(&nb, &sb, &memo, Default::default(), &mut diags);
        let mut flows = crate::output::FlowSet::default();
        super::super::build(&model, &mut flows, &mut diags);
        let drops: Vec<_> = flows.iter().filter(|f| f.stage == Stage::LsOutAcl && f.priority == 2000).collect();
        assert_eq!(drops.len(), 1);
        assert_eq!(drops[0].hint, Some("00000000-0000-0000-0000-0000000000a2".parse().unwrap()));
    }
}
