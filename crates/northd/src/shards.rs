//! Sharded active/active (`--shards=K`, K > 1): which SB locks this
//! instance asks for, and from the answers, what it may write. Sans-IO:
//! it takes the session's lock events and a periodic `tick`, and returns
//! the lock requests to make; the main loop applies them and asks it for
//! the `Ownership` of each cycle (`lflow::shard`).
//!
//! The locks, all on the SB server:
//! - `ovn_northd`, the global role: the name ovn-northd uses, so a C
//!   ovn-northd (or an instance that is not sharded) and the group never
//!   both hold it. Every member asks for it; the holder writes the global
//!   rows (`lflow::shard`), the NB, and `nb_cfg`.
//! - `ovn_northd_global_of_K`, the group's mark: taken only by a member
//!   that holds `ovn_northd`, released with it. The others wait in line
//!   for it, so they learn the moment its holder goes: the group writes
//!   only while this mark is held (a member that saw it free asks again
//!   every `TICK`). A C ovn-northd that got `ovn_northd`
//!   never takes it, and neither does a group with another K (its mark
//!   has another name): those keep the group's other members from
//!   writing, and the other way round.
//! - `ovn_northd_member_J_of_K`, J < `MAX_MEMBERS`: one per live member.
//!   Each member holds the lowest one free when it came, and waits in line
//!   for those others hold, so it hears at once when one of them dies; it
//!   asks again for the ones it saw free every half second, which finds
//!   members that joined (a lock it is granted that way it gives back at
//!   once).
//! - `ovn_northd_probe_of_K`: held while asking for locks this instance
//!   does not mean to keep (the mark when it is not the global role's, the
//!   slots seen free, every slot when it joins), until each has its
//!   answer and those granted are given back. An instance waiting in line
//!   for a lock cannot tell its holder from another instance that asked a
//!   moment before and gives it back at once: two members probing the same
//!   free slot together each took the other for a member that joined and
//!   moved shards for nothing, and one probing the mark while another held
//!   it for that moment took the group for active. With the probes one at
//!   a time, a lock found held is held by a member (or, for the mark, by
//!   the global role), except for the moment a lock passes down its line
//!   after its holder died.
//! - `ovn_northd_shard_I_of_K`, I < K: the shard's writer.
//!
//! An instance joins (asks for `ovn_northd` and a slot) once its engine has
//! computed the translation, a standby's way: the shards it then takes are
//! written from what it computed, not after a cold computation, while
//! their old holder keeps them.
//!
//! Every member computes the same assignment of shards to the members it
//! sees (`assign`: each gets K / N or one more, each shard going to the
//! member it ranks first that has room, so a member joining or leaving
//! moves few shards), asks for the locks of its shards and gives back the
//! others. A shard changes hands through its lock: the new holder gets it
//! only once the old one let it go, so there is never a second writer,
//! and views that differ for a moment (a join found by one member's tick
//! before another's) only delay a move. No member waits for another
//! while holding something the other waits for: the locks are asked for
//! without an order between them, and none is held in wait of another
//! (the probe lock is held only until the server answered requests it
//! answers at once), so there is no deadlock; the assignment is a
//! function of the members alone, so shards move only when membership
//! does (no churn).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use lflow::shard::Ownership;

/// The global role's lock (also `main_loop::LOCK`).
pub const GLOBAL: &str = "ovn_northd";

/// The most members a group has; an instance that finds every slot taken
/// stays out of the group (a standby) and says so.
pub const MAX_MEMBERS: u32 = 32;

/// The most shards.
pub const MAX_SHARDS: u32 = 256;

/// How often `Group::tick` runs.
pub const TICK: Duration = Duration::from_millis(100);

/// Ticks between two looks for members that joined.
const SLOT_TICKS: u32 = 5;

/// Ticks after which a probe round still waiting for an answer gives the
/// probe lock back (a request the server never answered must not keep
/// every other member from probing).
const ROUND_TICKS: u32 = 10;

/// The lock of shard `i` of `k` (also the `SB_Global external_ids` key
/// where its holder records its progress, `status::shard_progress`).
pub fn shard_lock(i: u32, k: u32) -> String {
    format!("ovn_northd_shard_{i}_of_{k}")
}

/// A lock request to make, or to drop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockOp {
    Lock(String),
    Unlock(String),
}

/// What this instance knows of a lock it does not mean to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// Not asked for since the last tick (or never).
    Unknown,
    /// Asked for; no answer yet.
    Asking,
    /// Another session holds it; this one waits in line.
    Held,
    /// Free when last asked.
    Free,
}

/// One lock named by the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Name {
    Global,
    Mark,
    Member(u32),
    Shard(u32),
    Probe,
}

/// Where this instance is in a round of probes (see the module
/// documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Probe {
    /// The probe lock is not asked for.
    Idle,
    /// Asked for: another member probes, or no answer yet.
    Waiting,
    /// Held: the round's requests not answered yet, and the tick it began.
    Open { pending: BTreeSet<Name>, since: u32 },
}

/// This instance's view of its group. See the module documentation.
#[derive(Debug)]
pub struct Group {
    k: u32,
    running: bool,
    joined: bool,
    /// The member slot this instance holds, or asks for as its own.
    slot: Option<u32>,
    slot_held: bool,
    /// The other slots.
    members: Vec<Seen>,
    /// The mark, when this instance does not hold `ovn_northd`.
    mark: Seen,
    mark_held: bool,
    global_held: bool,
    /// Shards asked for (held or waiting), and held.
    wanted: BTreeSet<u32>,
    held: BTreeSet<u32>,
    probe: Probe,
    /// Whether the next probe round asks for the slots seen free.
    slots_due: bool,
    /// Ticks so far.
    ticks: u32,
}

impl Group {
    pub fn new(k: u32) -> Group {
        Group {
            k,
            running: false,
            joined: false,
            slot: None,
            slot_held: false,
            members: vec![Seen::Unknown; MAX_MEMBERS as usize],
            mark: Seen::Unknown,
            mark_held: false,
            global_held: false,
            wanted: BTreeSet::new(),
            held: BTreeSet::new(),
            probe: Probe::Idle,
            slots_due: false,
            ticks: 0,
        }
    }

    fn name(&self, n: Name) -> String {
        let k = self.k;
        match n {
            Name::Global => GLOBAL.to_owned(),
            Name::Mark => format!("ovn_northd_global_of_{k}"),
            Name::Member(j) => format!("ovn_northd_member_{j}_of_{k}"),
            Name::Shard(i) => shard_lock(i, k),
            Name::Probe => format!("ovn_northd_probe_of_{k}"),
        }
    }

    fn parse(&self, lock: &str) -> Option<Name> {
        if lock == GLOBAL {
            return Some(Name::Global);
        }
        let rest = lock.strip_prefix("ovn_northd_")?;
        let (what, k) = rest.rsplit_once("_of_")?;
        if k.parse::<u32>().ok()? != self.k {
            return None;
        }
        match what {
            "global" => return Some(Name::Mark),
            "probe" => return Some(Name::Probe),
            _ => {}
        }
        let (kind, i) = what.rsplit_once('_')?;
        let i = i.parse::<u32>().ok()?;
        match kind {
            "member" if i < MAX_MEMBERS => Some(Name::Member(i)),
            "shard" if i < self.k => Some(Name::Shard(i)),
            _ => None,
        }
    }

    /// Starts: looks at the mark (whether the group writes). Nothing is
    /// asked for that would give this instance rows to write before it
    /// `join`s.
    pub fn start(&mut self) -> Vec<LockOp> {
        self.running = true;
        let mut ops = Vec::new();
        self.ask_round(&mut ops);
        ops
    }

    /// Joins the group, once this instance's engine has computed the
    /// translation (so that the shards it takes are written at once, not
    /// after a cold computation): asks for the global role and every
    /// member slot.
    pub fn join(&mut self) -> Vec<LockOp> {
        if !self.running || self.joined {
            return Vec::new();
        }
        self.joined = true;
        self.slots_due = true;
        let mut ops = vec![LockOp::Lock(self.name(Name::Global))];
        self.ask_round(&mut ops);
        ops
    }

    /// K.
    pub fn shards(&self) -> u32 {
        self.k
    }

    /// Whether `join` was called since the start.
    pub fn joined(&self) -> bool {
        self.joined
    }

    /// Leaves the group (`pause`): gives back every lock.
    pub fn stop(&mut self) -> Vec<LockOp> {
        let mut ops = Vec::new();
        if !self.running {
            return ops;
        }
        self.running = false;
        ops.push(LockOp::Unlock(self.name(Name::Global)));
        ops.push(LockOp::Unlock(self.name(Name::Mark)));
        ops.push(LockOp::Unlock(self.name(Name::Probe)));
        for j in 0..MAX_MEMBERS {
            ops.push(LockOp::Unlock(self.name(Name::Member(j))));
        }
        for i in std::mem::take(&mut self.wanted) {
            ops.push(LockOp::Unlock(self.name(Name::Shard(i))));
        }
        *self = Group::new(self.k);
        ops
    }

    /// Whether the mark is to be asked for in a probe round: seen free
    /// (or never asked for), and not this instance's to take as the
    /// global role's.
    fn mark_to_probe(&self) -> bool {
        !self.global_held && self.mark_unasked()
    }

    /// Whether the mark is neither held nor asked for (seen free, or never
    /// asked for).
    fn mark_unasked(&self) -> bool {
        !self.mark_held && matches!(self.mark, Seen::Unknown | Seen::Free)
    }

    /// Asks for the probe lock if a round is due and none is under way.
    fn ask_round(&mut self, ops: &mut Vec<LockOp>) {
        let due = self.mark_to_probe() || (self.joined && self.slots_due);
        if self.running && due && self.probe == Probe::Idle {
            self.probe = Probe::Waiting;
            ops.push(LockOp::Lock(self.name(Name::Probe)));
        }
    }

    /// The probe lock is ours: asks for the mark if it is to be probed,
    /// and for the slots seen free if they are due (every slot but ours).
    fn open_round(&mut self, ops: &mut Vec<LockOp>) {
        let mut pending = BTreeSet::new();
        if self.mark_to_probe() {
            self.mark = Seen::Asking;
            ops.push(LockOp::Lock(self.name(Name::Mark)));
            pending.insert(Name::Mark);
        }
        if self.joined && std::mem::take(&mut self.slots_due) {
            for j in 0..MAX_MEMBERS {
                if self.slot != Some(j) && matches!(self.members[j as usize], Seen::Free | Seen::Unknown) {
                    self.members[j as usize] = Seen::Asking;
                    ops.push(LockOp::Lock(self.name(Name::Member(j))));
                    pending.insert(Name::Member(j));
                }
            }
        }
        self.probe = Probe::Open { pending, since: self.ticks };
        self.answered(None, ops);
    }

    /// The server answered the request for `name` (granted or queued):
    /// ends the round once every request of it has its answer, after the
    /// locks granted in it were given back (`ops` are applied in order).
    fn answered(&mut self, name: Option<Name>, ops: &mut Vec<LockOp>) {
        if let Probe::Open { pending, .. } = &mut self.probe {
            if let Some(name) = name {
                pending.remove(&name);
            }
            if pending.is_empty() {
                self.probe = Probe::Idle;
                ops.push(LockOp::Unlock(self.name(Name::Probe)));
            }
        }
    }

    /// The session holds `lock` now.
    pub fn locked(&mut self, lock: &str) -> Vec<LockOp> {
        self.on(lock, Group::on_locked)
    }

    /// Another session holds `lock`; this one waits in line for it.
    pub fn queued(&mut self, lock: &str) -> Vec<LockOp> {
        self.on(lock, Group::on_queued)
    }

    /// The session no longer holds `lock` (stolen, or the connection
    /// lost: the session asks for it again by itself).
    pub fn lost(&mut self, lock: &str) -> Vec<LockOp> {
        self.on(lock, Group::on_lost)
    }

    /// Applies `f` to an event about one of the group's locks, then
    /// rebalances; the lock requests to make.
    fn on(&mut self, lock: &str, f: impl FnOnce(&mut Group, Name, &mut Vec<LockOp>)) -> Vec<LockOp> {
        let mut ops = Vec::new();
        if let Some(name) = self.parse(lock).filter(|_| self.running) {
            f(self, name, &mut ops);
            self.rebalance(&mut ops);
        }
        ops
    }

    fn on_locked(&mut self, name: Name, ops: &mut Vec<LockOp>) {
        match name {
            Name::Global => {
                // The mark, as ours now, without a probe round: a request
                // already made (waiting in line, or a round's) stays
                // (the server refuses a second).
                self.global_held = true;
                if self.mark_unasked() {
                    self.mark = Seen::Asking;
                    ops.push(LockOp::Lock(self.name(Name::Mark)));
                }
            }
            Name::Mark => {
                if self.global_held {
                    self.mark_held = true;
                } else {
                    // Its holder is gone, and no member holds the role.
                    self.mark = Seen::Free;
                    ops.push(LockOp::Unlock(self.name(name)));
                }
                self.answered(Some(name), ops);
            }
            Name::Member(j) => {
                if self.slot.is_none() || self.slot == Some(j) {
                    self.slot = Some(j);
                    self.slot_held = true;
                } else {
                    // Free, or its member is gone.
                    self.members[j as usize] = Seen::Free;
                    ops.push(LockOp::Unlock(self.name(name)));
                }
                self.answered(Some(name), ops);
            }
            Name::Probe => self.open_round(ops),
            Name::Shard(i) => {
                if self.wanted.contains(&i) {
                    self.held.insert(i);
                } else {
                    ops.push(LockOp::Unlock(self.name(name)));
                }
            }
        }
    }

    fn on_queued(&mut self, name: Name, ops: &mut Vec<LockOp>) {
        match name {
            Name::Mark if !self.global_held => self.mark = Seen::Held,
            Name::Member(j) => {
                if self.slot == Some(j) && !self.slot_held {
                    // Our slot went to another while we were away: the
                    // next round looks for one.
                    self.slot = None;
                    self.slots_due = true;
                }
                if self.slot != Some(j) {
                    self.members[j as usize] = Seen::Held;
                }
            }
            _ => {}
        }
        self.answered(Some(name), ops);
    }

    fn on_lost(&mut self, name: Name, ops: &mut Vec<LockOp>) {
        match name {
            Name::Global => {
                self.global_held = false;
                if self.mark_held {
                    self.mark_held = false;
                    self.mark = Seen::Free;
                    ops.push(LockOp::Unlock(self.name(Name::Mark)));
                }
            }
            // (Given back by us, it is not held any more: the session
            // reports the `unlock` too.)
            Name::Mark if self.mark_held => {
                // The session asks for it again.
                self.mark_held = false;
                self.mark = Seen::Asking;
            }
            Name::Mark => {}
            Name::Member(j) if self.slot == Some(j) => self.slot_held = false,
            Name::Member(_) => {}
            Name::Shard(i) => {
                self.held.remove(&i);
            }
            // Lost with the round under way (given back by us, it is
            // `Idle` already): the session asks for it again.
            Name::Probe => {
                if matches!(self.probe, Probe::Open { .. }) {
                    self.probe = Probe::Waiting;
                }
            }
        }
    }

    /// The SB connection is gone: every lock with it. The session asks
    /// again for those it still wants once it reconnects.
    pub fn disconnected(&mut self) {
        self.global_held = false;
        self.mark_held = false;
        self.slot_held = false;
        self.held.clear();
        for seen in &mut self.members {
            *seen = match *seen {
                Seen::Held | Seen::Asking => Seen::Asking,
                _ => Seen::Unknown,
            };
        }
        self.mark = match self.mark {
            Seen::Held | Seen::Asking => Seen::Asking,
            _ => Seen::Unknown,
        };
        if self.probe != Probe::Idle {
            self.probe = Probe::Waiting;
        }
    }

    /// Periodically (every `TICK`): a probe round if the mark was free
    /// (a member has just taken the global role, and the others should
    /// write again soon), and every `SLOT_TICKS` ticks for the slots last
    /// seen free (a member may have joined) and a slot of our own if there
    /// is none.
    pub fn tick(&mut self) -> Vec<LockOp> {
        let mut ops = Vec::new();
        if !self.running {
            return ops;
        }
        self.ticks += 1;
        if let Probe::Open { since, pending } = &self.probe {
            if self.ticks - since > ROUND_TICKS {
                // The requests still unanswered are withdrawn, to be asked
                // again by a later round (the mark stays asked for if it
                // is the global role's now).
                for name in pending.clone() {
                    match name {
                        Name::Member(j) => self.members[j as usize] = Seen::Unknown,
                        Name::Mark if !self.global_held => self.mark = Seen::Unknown,
                        _ => continue,
                    }
                    ops.push(LockOp::Unlock(self.name(name)));
                }
                self.probe = Probe::Idle;
                ops.push(LockOp::Unlock(self.name(Name::Probe)));
            }
        }
        if self.joined && self.ticks % SLOT_TICKS == 0 {
            self.slots_due = true;
        }
        self.ask_round(&mut ops);
        ops
    }

    /// The member slots seen taken, ours included, in order.
    fn live(&self) -> Vec<u32> {
        (0..MAX_MEMBERS)
            .filter(|&j| (self.slot == Some(j) && self.slot_held) || self.members[j as usize] == Seen::Held)
            .collect()
    }

    /// Asks for the shards the assignment gives this member, and gives
    /// back the others.
    fn rebalance(&mut self, ops: &mut Vec<LockOp>) {
        let mine: BTreeSet<u32> = match self.slot.filter(|_| self.slot_held) {
            Some(slot) => assign(self.k, &self.live())
                .into_iter()
                .enumerate()
                .filter(|(_, m)| *m == slot)
                .map(|(i, _)| i as u32)
                .collect(),
            None => BTreeSet::new(),
        };
        for &i in mine.difference(&self.wanted) {
            ops.push(LockOp::Lock(self.name(Name::Shard(i))));
        }
        for &i in self.wanted.difference(&mine) {
            self.held.remove(&i);
            ops.push(LockOp::Unlock(self.name(Name::Shard(i))));
        }
        self.wanted = mine;
    }

    /// Whether the group may write: its mark is held, by this instance
    /// (holding the global role) or by another member.
    pub fn group_active(&self) -> bool {
        self.running && self.slot_held && (self.mark_held || (!self.global_held && self.mark == Seen::Held))
    }

    /// What this instance writes now.
    pub fn ownership(&self) -> Ownership {
        let active = self.group_active();
        Ownership {
            shards: self.k,
            held: if active { self.held.clone() } else { BTreeSet::new() },
            global: active && self.global_held && self.mark_held,
        }
    }

    /// The locks the writes of `ownership()` rely on.
    pub fn locks(&self) -> Vec<String> {
        let own = self.ownership();
        let global = own.global.then(|| self.name(Name::Global));
        global.into_iter().chain(own.held.iter().map(|&i| self.name(Name::Shard(i)))).collect()
    }

    /// Why this instance writes nothing, if it does not.
    pub fn idle_reason(&self) -> Option<&'static str> {
        if !self.running {
            Some("paused")
        } else if !self.joined {
            Some("computing the translation before it joins the group")
        } else if !self.slot_held {
            Some("no member slot (the group is full, or this instance is joining)")
        } else if !self.group_active() {
            Some(
                "the ovn_northd lock is held outside this group (ovn-northd, an instance that is not \
                 sharded, or a group with another --shards), or the group's holder is changing",
            )
        } else {
            None
        }
    }

    /// `shards/show`: one line per shard, `<index> active` or `<index>
    /// standby` (with the member slot it goes to, as this instance sees
    /// the group), then the global role and the members.
    pub fn show(&self) -> String {
        let own = self.ownership();
        let live = self.live();
        let assignment = assign(self.k, &live);
        let mut out = String::new();
        for i in 0..self.k {
            if own.held.contains(&i) {
                out.push_str(&format!("{i} active\n"));
            } else {
                match assignment.get(i as usize) {
                    Some(m) if Some(*m) != self.slot => out.push_str(&format!("{i} standby (member {m})\n")),
                    _ => out.push_str(&format!("{i} standby\n")),
                }
            }
        }
        out.push_str(&format!("global {}\n", if own.global { "active" } else { "standby" }));
        let slots: Vec<String> = live.iter().map(u32::to_string).collect();
        let me = match self.slot.filter(|_| self.slot_held) {
            Some(s) => format!("member {s}"),
            None => "not a member".to_owned(),
        };
        out.push_str(&format!("members: {} (this instance: {me})\n", slots.join(" ")));
        if let Some(why) = self.idle_reason() {
            out.push_str(&format!("writing nothing: {why}\n"));
        }
        out
    }
}

/// The member each shard goes to: of `members` (slots, sorted), each
/// gets K / N shards, the first K % N one more; shard by shard, in order,
/// the member that ranks the shard highest (`rank`) among those with
/// room. A function of the members alone, the same in every instance.
pub fn assign(k: u32, members: &[u32]) -> Vec<u32> {
    if members.is_empty() {
        return Vec::new();
    }
    let n = members.len() as u32;
    let mut room: BTreeMap<u32, u32> =
        members.iter().enumerate().map(|(r, &m)| (m, k / n + u32::from((r as u32) < k % n))).collect();
    (0..k)
        .map(|i| {
            let m = *members
                .iter()
                .filter(|m| room[m] > 0)
                .max_by_key(|&&m| (rank(i, m), m))
                .expect("the rooms add up to K");
            *room.get_mut(&m).expect("a member") -= 1;
            m
        })
        .collect()
}

/// How much member `m` wants shard `i` (rendezvous hashing: a member's
/// going changes only the shards it had, and those pushed by room).
fn rank(i: u32, m: u32) -> u64 {
    // splitmix64 of the pair.
    let mut z = (u64::from(i) << 32 | u64::from(m)).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_balanced_and_few_move() {
        for k in 1..=12 {
            for n in 1..=5u32 {
                let members: Vec<u32> = (0..n).map(|j| j * 3 + 1).collect();
                let a = assign(k, &members);
                assert_eq!(a.len(), k as usize);
                for m in &members {
                    let count = a.iter().filter(|x| *x == m).count() as u32;
                    assert!(count == k / n || count == k / n + 1, "k={k} n={n}: {a:?}");
                }
                assert_eq!(a, assign(k, &members), "deterministic");
            }
        }
        // A member leaving: the survivors keep most of what they had.
        let before = assign(12, &[0, 1, 2, 3]);
        let after = assign(12, &[0, 1, 3]);
        let kept = before.iter().zip(&after).filter(|(b, a)| b == a && **b != 2).count();
        assert!(kept >= 7, "{before:?} -> {after:?}");
    }

    fn names(ops: &[LockOp]) -> Vec<String> {
        ops.iter()
            .map(|op| match op {
                LockOp::Lock(n) => format!("lock {n}"),
                LockOp::Unlock(n) => format!("unlock {n}"),
            })
            .collect()
    }

    /// Feeds the answers a server would give a lone instance.
    #[test]
    fn a_lone_member_takes_every_shard_and_the_global_role() {
        let mut g = Group::new(3);
        let ops = g.start();
        assert_eq!(names(&ops), ["lock ovn_northd_probe_of_3"], "nothing to write before it joins");
        assert_eq!(names(&g.locked("ovn_northd_probe_of_3")), ["lock ovn_northd_global_of_3"]);
        // The mark is free: given back (the session reports that as lost),
        // and with the last answer of the round, the probe lock.
        let back = g.locked("ovn_northd_global_of_3");
        assert_eq!(names(&back), ["unlock ovn_northd_global_of_3", "unlock ovn_northd_probe_of_3"]);
        g.lost("ovn_northd_global_of_3");
        g.lost("ovn_northd_probe_of_3");
        assert!(!g.group_active());
        // Not a member yet: its rounds ask for the mark alone.
        assert_eq!(names(&g.tick()), ["lock ovn_northd_probe_of_3"]);
        assert_eq!(names(&g.locked("ovn_northd_probe_of_3")), ["lock ovn_northd_global_of_3"]);
        g.locked("ovn_northd_global_of_3");
        g.lost("ovn_northd_global_of_3");
        g.lost("ovn_northd_probe_of_3");
        let ops = g.join();
        assert_eq!(names(&ops), ["lock ovn_northd", "lock ovn_northd_probe_of_3"]);
        let round = names(&g.locked("ovn_northd_probe_of_3"));
        assert!(round.contains(&"lock ovn_northd_global_of_3".into()));
        assert_eq!(round.iter().filter(|n| n.starts_with("lock ovn_northd_member_")).count(), MAX_MEMBERS as usize);
        g.locked("ovn_northd_global_of_3");
        g.lost("ovn_northd_global_of_3");
        let mut more = g.locked("ovn_northd_member_0_of_3");
        for j in 1..MAX_MEMBERS {
            more.extend(g.locked(&format!("ovn_northd_member_{j}_of_3")));
        }
        let more = names(&more);
        assert!(more.contains(&"unlock ovn_northd_member_1_of_3".into()));
        assert_eq!(more.last().map(String::as_str), Some("unlock ovn_northd_probe_of_3"), "{more:?}");
        assert_eq!(more.iter().filter(|n| n.starts_with("lock ovn_northd_shard_")).count(), 3);
        g.lost("ovn_northd_probe_of_3");
        for i in 0..3 {
            g.locked(&format!("ovn_northd_shard_{i}_of_3"));
        }
        assert!(g.ownership().held.is_empty(), "not while the group is not active");
        let ops = g.locked("ovn_northd");
        assert_eq!(names(&ops), ["lock ovn_northd_global_of_3"], "the global role's mark, without a round");
        g.locked("ovn_northd_global_of_3");
        assert!(g.group_active());
        assert!(g.ownership().is_all());
        assert_eq!(g.locks().len(), 4);
        assert!(g.show().starts_with("0 active\n1 active\n2 active\nglobal active\n"), "{}", g.show());
        // Losing the global role gives back the mark: nothing is written.
        let ops = g.lost("ovn_northd");
        assert_eq!(names(&ops), ["unlock ovn_northd_global_of_3"]);
        assert!(!g.group_active() && g.ownership().held.is_empty());
        assert!(g.idle_reason().is_some());
    }

    /// Joins a group whose member 0 holds the global role: `g` ends up
    /// member 1, in line for slot 0 and the mark.
    fn second_member(k: u32) -> Group {
        let mut g = Group::new(k);
        g.start();
        g.join();
        g.queued("ovn_northd");
        g.locked(&format!("ovn_northd_probe_of_{k}"));
        g.queued(&format!("ovn_northd_global_of_{k}"));
        g.queued(&format!("ovn_northd_member_0_of_{k}"));
        let mut ops = g.locked(&format!("ovn_northd_member_1_of_{k}"));
        for j in 2..MAX_MEMBERS {
            ops.extend(g.locked(&format!("ovn_northd_member_{j}_of_{k}")));
        }
        assert!(names(&ops).ends_with(&[format!("unlock ovn_northd_probe_of_{k}")]));
        g.lost(&format!("ovn_northd_probe_of_{k}"));
        g
    }

    #[test]
    fn a_second_member_takes_half_and_gives_them_back_when_the_first_leaves() {
        let mut g = second_member(4);
        assert!(g.group_active());
        let mine = assign(4, &[0, 1]).iter().filter(|m| **m == 1).count();
        assert_eq!(g.wanted.len(), mine);
        for i in g.wanted.clone() {
            g.locked(&format!("ovn_northd_shard_{i}_of_4"));
        }
        assert_eq!(g.ownership().held.len(), 2);
        assert!(!g.ownership().global);
        // Member 0 dies: its slot and the mark come to us in line.
        let ops = g.locked("ovn_northd_member_0_of_4");
        assert!(names(&ops).contains(&"unlock ovn_northd_member_0_of_4".into()));
        assert_eq!(names(&ops).iter().filter(|n| n.starts_with("lock ovn_northd_shard_")).count(), 2);
        g.locked("ovn_northd_global_of_4");
        assert!(!g.group_active(), "the mark's holder is gone");
        // Then the global role: the mark again, ours now.
        g.locked("ovn_northd");
        g.locked("ovn_northd_global_of_4");
        assert!(g.group_active() && g.ownership().global);
        // A member joins, found within five ticks, by a round.
        let ops: Vec<LockOp> = (0..SLOT_TICKS).flat_map(|_| g.tick()).collect();
        assert_eq!(names(&ops), ["lock ovn_northd_probe_of_4"]);
        let ops = g.locked("ovn_northd_probe_of_4");
        assert!(names(&ops).contains(&"lock ovn_northd_member_0_of_4".into()));
        let ops = g.queued("ovn_northd_member_0_of_4");
        assert_eq!(names(&ops).iter().filter(|n| n.starts_with("unlock ovn_northd_shard_")).count(), 2);
        assert_eq!(g.ownership().held.len(), 2);
    }

    /// A round whose answers never all come gives the probe lock back.
    #[test]
    fn a_round_without_its_answers_ends() {
        let mut g = second_member(4);
        let mut ops = Vec::new();
        for _ in 0..SLOT_TICKS {
            ops = g.tick();
        }
        assert_eq!(names(&ops), ["lock ovn_northd_probe_of_4"]);
        g.locked("ovn_northd_probe_of_4");
        let ops = names(&(0..=ROUND_TICKS).flat_map(|_| g.tick()).collect::<Vec<_>>());
        assert!(ops.contains(&"unlock ovn_northd_member_2_of_4".into()), "withdrawn: {ops:?}");
        assert!(ops.contains(&"unlock ovn_northd_probe_of_4".into()), "{ops:?}");
        // And asked for again by the next round.
        assert_eq!(g.members[2], Seen::Unknown);
    }

    /// What the server says of a lock, or the session of its own unlock.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Answer {
        Locked,
        Queued,
        Lost,
    }

    /// Members on a model of the SB server's locks (RFC 7047 4.1.8 to
    /// 4.1.10): one line of sessions per lock, its first the holder, the
    /// next told `locked` when it goes. Requests and answers keep their
    /// order per session and interleave in any order between sessions,
    /// which the real server's tests cannot choose. Each request carries a
    /// number: an answer to a request cancelled since is dropped, as the
    /// session does.
    struct Sim {
        groups: Vec<Group>,
        lines: BTreeMap<String, Vec<(usize, u64)>>,
        to_server: Vec<std::collections::VecDeque<(LockOp, u64)>>,
        to_member: Vec<std::collections::VecDeque<(Answer, String, u64)>>,
        /// Per member, its requests not cancelled, and the locks it holds.
        asked: Vec<BTreeMap<String, u64>>,
        owned: Vec<BTreeSet<String>>,
        next: u64,
    }

    impl Sim {
        fn new(n: usize, k: u32) -> Sim {
            let mut sim = Sim {
                groups: (0..n).map(|_| Group::new(k)).collect(),
                lines: BTreeMap::new(),
                to_server: vec![Default::default(); n],
                to_member: vec![Default::default(); n],
                asked: vec![BTreeMap::new(); n],
                owned: vec![BTreeSet::new(); n],
                next: 0,
            };
            for i in 0..n {
                let ops = sim.groups[i].start();
                sim.send(i, ops);
            }
            sim
        }

        fn send(&mut self, i: usize, ops: Vec<LockOp>) {
            for op in ops {
                match &op {
                    LockOp::Lock(n) => {
                        assert!(!self.asked[i].contains_key(n), "member {i} asks twice for {n}");
                        self.next += 1;
                        self.asked[i].insert(n.clone(), self.next);
                        self.to_server[i].push_back((op, self.next));
                    }
                    LockOp::Unlock(n) => {
                        if self.asked[i].remove(n).is_some() {
                            if self.owned[i].remove(n) {
                                self.to_member[i].push_back((Answer::Lost, n.clone(), 0));
                            }
                            self.to_server[i].push_back((op, 0));
                        }
                    }
                }
            }
        }

        /// The server takes member `i`'s next request.
        fn serve(&mut self, i: usize) {
            let Some((op, id)) = self.to_server[i].pop_front() else { return };
            match op {
                LockOp::Lock(n) => {
                    let line = self.lines.entry(n.clone()).or_default();
                    line.push((i, id));
                    let answer = if line.len() == 1 { Answer::Locked } else { Answer::Queued };
                    self.to_member[i].push_back((answer, n, id));
                }
                LockOp::Unlock(n) => {
                    let line = self.lines.entry(n.clone()).or_default();
                    let was_holder = line.first().is_some_and(|(m, _)| *m == i);
                    line.retain(|(m, _)| *m != i);
                    if let (true, Some(&(next, id))) = (was_holder, line.first()) {
                        self.to_member[next].push_back((Answer::Locked, n, id));
                    }
                }
            }
        }

        /// Member `i` takes its next answer.
        fn deliver(&mut self, i: usize) {
            let Some((answer, n, id)) = self.to_member[i].pop_front() else { return };
            let ops = match answer {
                Answer::Lost => self.groups[i].lost(&n),
                _ if self.asked[i].get(&n) != Some(&id) => return,
                Answer::Locked => {
                    self.owned[i].insert(n.clone());
                    self.groups[i].locked(&n)
                }
                Answer::Queued => self.groups[i].queued(&n),
            };
            self.send(i, ops);
        }

        fn step(&mut self, what: u8, i: usize) {
            match what % 8 {
                0 if !self.groups[i].joined() => {
                    let ops = self.groups[i].join();
                    self.send(i, ops);
                }
                0 | 1 => {
                    let ops = self.groups[i].tick();
                    self.send(i, ops);
                }
                2..=4 => self.serve(i),
                _ => self.deliver(i),
            }
        }

        fn holder(&self, lock: &str) -> Option<usize> {
            self.lines.get(lock).and_then(|l| l.first()).map(|(m, _)| *m)
        }

        /// Nothing is ever seen that is not so: a member counted by
        /// another holds its slot, two members never hold one shard, and
        /// a member without the global role writes only while the member
        /// holding it holds the mark.
        fn check(&self, k: u32) {
            let real: BTreeSet<u32> = self.groups.iter().filter(|g| g.slot_held).filter_map(|g| g.slot).collect();
            let mut shards = BTreeSet::new();
            for (i, g) in self.groups.iter().enumerate() {
                for m in g.live() {
                    assert!(real.contains(&m), "member {i} counts slot {m}, which no member holds ({real:?})");
                }
                for s in g.ownership().held {
                    assert!(shards.insert(s), "shard {s} written by two members");
                }
                if g.group_active() && !g.global_held {
                    let mark = self.holder(&format!("ovn_northd_global_of_{k}"));
                    assert!(
                        mark.is_some() && mark == self.holder(GLOBAL),
                        "member {i} writes while the mark is held by {mark:?} and the role by {:?}",
                        self.holder(GLOBAL)
                    );
                }
            }
        }
    }

    proptest::proptest! {
        /// Members joining and probing in any interleaving never see a
        /// member that is not one, and end up balanced.
        #[test]
        fn probes_in_any_order_find_only_members(
            n in 2usize..=4,
            steps in proptest::collection::vec((0u8..8, 0usize..4), 0..800),
        ) {
            let k = 6;
            let mut sim = Sim::new(n, k);
            for (what, i) in steps {
                sim.step(what, i % n);
                sim.check(k);
            }
            // Then every member in turn, until it settles.
            for _ in 0..50 {
                for i in 0..n {
                    sim.step(0, i);
                    while !sim.to_server[i].is_empty() || !sim.to_member[i].is_empty() {
                        sim.serve(i);
                        sim.deliver(i);
                        for j in 0..n {
                            while !sim.to_member[j].is_empty() {
                                sim.deliver(j);
                            }
                        }
                        sim.check(k);
                    }
                }
            }
            let owns: Vec<usize> = sim.groups.iter().map(|g| g.ownership().held.len()).collect();
            let per = k as usize / n;
            assert!(owns.iter().all(|&o| o == per || o == per + 1), "{owns:?}");
            assert_eq!(owns.iter().sum::<usize>(), k as usize);
            assert_eq!(sim.groups.iter().filter(|g| g.ownership().global).count(), 1);
        }
    }

    #[test]
    fn locks_of_another_k_are_not_ours() {
        let mut g = Group::new(6);
        g.start();
        g.join();
        assert!(g.locked("ovn_northd_shard_1_of_4").is_empty());
        assert!(g.locked("ovn_northd_member_99_of_6").is_empty());
        assert!(g.locked("something_else").is_empty());
    }
}
