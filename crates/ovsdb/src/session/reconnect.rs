//! Connection keeping as a state machine that takes `now`: which remote to
//! try next, exponential backoff with jitter between rounds, and the
//! inactivity probe (send an echo after `probe_interval` of silence, give up
//! after as long again). Like Open vSwitch's `lib/reconnect.h`: the caller
//! reports what happened and asks `run(now)` what to do.

use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// What the caller should do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Open a connection to the remote with this index.
    Connect(usize),
    /// Close the connection: the peer stayed silent after a probe.
    Disconnect,
    /// Send an inactivity probe (an echo request).
    Probe,
}

/// Timing settings.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Wait before the second round of connection attempts.
    pub min_backoff: Duration,
    /// Upper bound of the wait between rounds.
    pub max_backoff: Duration,
    /// Silence after which a probe is sent; `None` disables probing.
    pub probe_interval: Option<Duration>,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing {
            min_backoff: Duration::from_millis(1000),
            max_backoff: Duration::from_millis(8000),
            probe_interval: Some(Duration::from_millis(5000)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting until the instant to connect to `next`.
    Backoff { until: Instant },
    /// A connection attempt is under way.
    Connecting,
    /// Connected; the instant of the last message received.
    Active { last_rx: Instant },
    /// Connected, probe sent at the instant.
    Idle { since: Instant },
}

/// The reconnect state machine for a list of `n` remotes.
#[derive(Debug)]
pub struct Reconnect {
    timing: Timing,
    n_remotes: usize,
    /// Index of the remote being tried or used.
    current: usize,
    /// Attempts in the current round that failed.
    failed_in_round: usize,
    backoff: Duration,
    state: State,
    rng: SmallRng,
}

impl Reconnect {
    /// Starts ready to connect to a randomly chosen first remote at once, as
    /// OVSDB clients do so that a cluster's clients spread over its servers.
    pub fn new(timing: Timing, n_remotes: usize, seed: u64, now: Instant) -> Reconnect {
        assert!(n_remotes > 0, "at least one remote");
        let mut rng = SmallRng::seed_from_u64(seed);
        let current = rng.gen_range(0..n_remotes);
        Reconnect {
            timing,
            n_remotes,
            current,
            failed_in_round: 0,
            backoff: Duration::ZERO,
            state: State::Backoff { until: now },
            rng,
        }
    }

    /// The index of the remote being tried or used.
    pub fn current(&self) -> usize {
        self.current
    }

    /// True while a connection is up.
    pub fn is_connected(&self) -> bool {
        matches!(self.state, State::Active { .. } | State::Idle { .. })
    }

    /// What to do at `now`, if anything. Each action is returned once.
    pub fn run(&mut self, now: Instant) -> Option<Action> {
        match self.state {
            State::Backoff { until } if now >= until => {
                self.state = State::Connecting;
                Some(Action::Connect(self.current))
            }
            State::Active { last_rx } => match self.timing.probe_interval {
                Some(p) if now >= last_rx + p => {
                    self.state = State::Idle { since: now };
                    Some(Action::Probe)
                }
                _ => None,
            },
            State::Idle { since } => match self.timing.probe_interval {
                Some(p) if now >= since + p => Some(Action::Disconnect),
                _ => None,
            },
            _ => None,
        }
    }

    /// When `run` next has something to do.
    pub fn timeout(&self) -> Option<Instant> {
        match self.state {
            State::Backoff { until } => Some(until),
            State::Connecting => None,
            State::Active { last_rx } => self.timing.probe_interval.map(|p| last_rx + p),
            State::Idle { since } => self.timing.probe_interval.map(|p| since + p),
        }
    }

    /// Changes the silence after which a probe is sent (`None`: never),
    /// from now on.
    pub fn set_probe_interval(&mut self, interval: Option<Duration>) {
        self.timing.probe_interval = interval;
    }

    /// The transport is up.
    pub fn connected(&mut self, now: Instant) {
        self.state = State::Active { last_rx: now };
    }

    /// The connection is fully usable (schema read, monitors set up): the
    /// next failure starts a fresh round with no wait.
    pub fn established(&mut self) {
        self.failed_in_round = 0;
        self.backoff = Duration::ZERO;
    }

    /// A message arrived.
    pub fn received(&mut self, now: Instant) {
        if self.is_connected() {
            self.state = State::Active { last_rx: now };
        }
    }

    /// The attempt failed, or the connection was lost or dropped by us (for
    /// instance because this server is not the cluster leader). Moves to the
    /// next remote; once every remote of the round has failed, waits with
    /// exponential backoff and jitter.
    pub fn disconnected(&mut self, now: Instant) {
        self.failed_in_round += 1;
        self.current = (self.current + 1) % self.n_remotes;
        let wait = if self.failed_in_round < self.n_remotes {
            Duration::ZERO
        } else {
            self.failed_in_round = 0;
            self.backoff = if self.backoff.is_zero() {
                self.timing.min_backoff
            } else {
                (self.backoff * 2).min(self.timing.max_backoff)
            };
            // Jitter: between half and all of the backoff.
            let half = self.backoff / 2;
            half + self.backoff.saturating_sub(half).mul_f64(self.rng.gen::<f64>())
        };
        self.state = State::Backoff { until: now + wait };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing() -> Timing {
        Timing {
            min_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(8),
            probe_interval: Some(Duration::from_secs(5)),
        }
    }

    #[test]
    fn tries_each_remote_then_backs_off_exponentially() {
        let t0 = Instant::now();
        let mut r = Reconnect::new(timing(), 3, 7, t0);
        let first = match r.run(t0) {
            Some(Action::Connect(i)) => i,
            other => panic!("{other:?}"),
        };
        assert_eq!(r.run(t0), None, "an action is returned once");
        // The other two remotes are tried at once.
        r.disconnected(t0);
        assert_eq!(r.run(t0), Some(Action::Connect((first + 1) % 3)));
        r.disconnected(t0);
        assert_eq!(r.run(t0), Some(Action::Connect((first + 2) % 3)));
        // A full round failed: wait 0.5..1 s.
        r.disconnected(t0);
        assert_eq!(r.run(t0), None);
        let wait = r.timeout().unwrap() - t0;
        assert!(wait >= Duration::from_millis(500) && wait <= Duration::from_secs(1), "{wait:?}");
        let mut now = r.timeout().unwrap();
        let mut waits = vec![];
        for _ in 0..5 {
            for _ in 0..3 {
                assert!(matches!(r.run(now), Some(Action::Connect(_))));
                r.disconnected(now);
            }
            waits.push(r.timeout().unwrap() - now);
            now = r.timeout().unwrap();
        }
        // Doubling up to the 8 s cap, each within [half, full].
        for (w, cap) in waits.iter().zip([2, 4, 8, 8, 8]) {
            let cap = Duration::from_secs(cap);
            assert!(*w >= cap / 2 && *w <= cap, "{w:?} outside [{:?}, {cap:?}]", cap / 2);
        }
        // Success resets the backoff.
        assert!(matches!(r.run(now), Some(Action::Connect(_))));
        r.connected(now);
        r.established();
        r.disconnected(now);
        assert!(matches!(r.run(now), Some(Action::Connect(_))));
    }

    #[test]
    fn probes_after_silence_and_disconnects_after_as_long_again() {
        let t0 = Instant::now();
        let mut r = Reconnect::new(timing(), 1, 1, t0);
        assert_eq!(r.run(t0), Some(Action::Connect(0)));
        r.connected(t0);
        r.received(t0 + Duration::from_secs(3));
        assert_eq!(r.run(t0 + Duration::from_secs(7)), None);
        assert_eq!(r.timeout(), Some(t0 + Duration::from_secs(8)));
        assert_eq!(r.run(t0 + Duration::from_secs(8)), Some(Action::Probe));
        // An answer makes it active again.
        r.received(t0 + Duration::from_secs(9));
        assert_eq!(r.run(t0 + Duration::from_secs(13)), None);
        assert_eq!(r.run(t0 + Duration::from_secs(14)), Some(Action::Probe));
        assert_eq!(r.run(t0 + Duration::from_secs(18)), None);
        assert_eq!(r.run(t0 + Duration::from_secs(19)), Some(Action::Disconnect));
    }

    #[test]
    fn probing_can_be_disabled() {
        let t0 = Instant::now();
        let mut r = Reconnect::new(Timing { probe_interval: None, ..timing() }, 1, 1, t0);
        r.run(t0);
        r.connected(t0);
        assert_eq!(r.timeout(), None);
        assert_eq!(r.run(t0 + Duration::from_secs(3600)), None);
    }
}
