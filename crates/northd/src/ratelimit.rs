//! Rate limiting of repeated log messages, like OVS's `VLOG_RATE_LIMIT`: a
//! token bucket refilled at a steady rate up to a burst; what it holds back
//! is counted and reported with the next message let through. Also the
//! de-duplication of compiler diagnostics, which every cycle reproduces.
//!
//! Pure: time comes in as `now`, except in [`Warnings`], the limiter the
//! socket servers' tasks share, which reads the clock.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lflow::output::{cut, Diagnostic, QUOTE_MAX};
use tracing::warn;

/// A token bucket.
#[derive(Debug)]
pub struct RateLimit {
    /// Time to earn one token.
    interval: Duration,
    burst: u32,
    tokens: u32,
    /// When the last token was earned (or the bucket started).
    since: Option<Instant>,
    suppressed: u64,
}

impl RateLimit {
    /// `burst` messages at once, then one per `interval`.
    pub fn new(interval: Duration, burst: u32) -> RateLimit {
        RateLimit { interval, burst, tokens: burst, since: None, suppressed: 0 }
    }

    /// Whether a message may be logged now; `Some(n)` with the number held
    /// back since the last one let through.
    pub fn allow(&mut self, now: Instant) -> Option<u64> {
        let since = *self.since.get_or_insert(now);
        let earned = (now.saturating_duration_since(since).as_nanos() / self.interval.as_nanos().max(1)) as u32;
        if earned > 0 {
            self.tokens = self.tokens.saturating_add(earned).min(self.burst);
            self.since = Some(since + self.interval * earned);
        }
        if self.tokens == 0 {
            self.suppressed += 1;
            return None;
        }
        self.tokens -= 1;
        Some(std::mem::take(&mut self.suppressed))
    }
}

/// The warnings of a socket server (the control socket, the metrics
/// listener), shared by its connections' tasks: a burst of 5, then one
/// every 5 seconds.
#[derive(Clone)]
pub struct Warnings(Arc<Mutex<RateLimit>>);

impl Default for Warnings {
    fn default() -> Warnings {
        Warnings(Arc::new(Mutex::new(RateLimit::new(Duration::from_secs(5), 5))))
    }
}

impl Warnings {
    /// Whether to log now: `Some` with the number held back before.
    pub fn allow(&self) -> Option<u64> {
        self.0.lock().ok()?.allow(Instant::now())
    }
}

/// Logs the compiler's diagnostics: each one once while it persists (a
/// diagnostic that goes away and comes back is logged again), one line per
/// NB row (the first new message and how many more the row has: a set of
/// 10,000 bad entries is one line), at most a burst of 20 lines and then one
/// a second. A row held back by the limit is not forgotten: it stays
/// pending, and `flush` logs it once the limit allows (the main loop calls
/// it while `pending`), so every bad row is named in the end.
#[derive(Debug)]
pub struct Diagnostics {
    current: BTreeSet<Diagnostic>,
    /// The diagnostics of `current` already logged.
    logged: BTreeSet<Diagnostic>,
    limit: RateLimit,
}

impl Default for Diagnostics {
    fn default() -> Diagnostics {
        Diagnostics {
            current: BTreeSet::new(),
            logged: BTreeSet::new(),
            limit: RateLimit::new(Duration::from_secs(1), 20),
        }
    }
}

impl Diagnostics {
    /// Takes this cycle's diagnostics and logs what the limit allows;
    /// returns how many are new (not logged before).
    pub fn report(&mut self, diagnostics: &[Diagnostic], now: Instant) -> usize {
        self.current = diagnostics.iter().cloned().collect();
        self.logged.retain(|d| self.current.contains(d));
        let new = self.current.len() - self.logged.len();
        self.flush(now);
        new
    }

    /// Logs the pending rows the limit allows now, in row order.
    pub fn flush(&mut self, now: Instant) {
        let mut rows: BTreeMap<(&'static str, &str), Vec<&Diagnostic>> = BTreeMap::new();
        for d in self.current.difference(&self.logged) {
            rows.entry((d.table, d.row.as_str())).or_default().push(d);
        }
        let mut done = Vec::new();
        for ((table, row), new) in rows {
            let Some(suppressed) = self.limit.allow(now) else { break };
            // Cut, as `Diagnostic`'s Display does: NB values may be huge.
            let (row, message) = (cut(row, QUOTE_MAX), cut(&new[0].message, 4 * QUOTE_MAX));
            let more = new.len() - 1;
            warn!(table, %row, more, suppressed, "skipped in translation: {message}");
            done.extend(new.into_iter().cloned());
        }
        self.logged.extend(done);
    }

    /// Whether some diagnostics wait for the limit.
    pub fn pending(&self) -> bool {
        self.logged.len() < self.current.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_one_per_interval_with_the_count_held_back() {
        let t0 = Instant::now();
        let mut rl = RateLimit::new(Duration::from_secs(1), 3);
        assert_eq!((0..5).map(|_| rl.allow(t0)).collect::<Vec<_>>(), [Some(0), Some(0), Some(0), None, None]);
        assert_eq!(rl.allow(t0 + Duration::from_millis(999)), None);
        assert_eq!(rl.allow(t0 + Duration::from_millis(1000)), Some(3));
        assert_eq!(rl.allow(t0 + Duration::from_millis(1500)), None);
        // A long quiet time refills up to the burst only.
        let later = t0 + Duration::from_secs(100);
        assert_eq!((0..4).map(|_| rl.allow(later)).collect::<Vec<_>>(), [Some(1), Some(0), Some(0), None]);
    }

    fn diag(row: &str) -> Diagnostic {
        Diagnostic { table: "Logical_Switch_Port", row: row.into(), message: "bad address".into() }
    }

    #[test]
    fn diagnostics_are_reported_when_they_appear() {
        let now = Instant::now();
        let mut d = Diagnostics::default();
        assert_eq!(d.report(&[diag("a"), diag("b")], now), 2);
        assert_eq!(d.report(&[diag("a"), diag("b")], now), 0, "the same again: nothing new");
        assert_eq!(d.report(&[diag("b"), diag("c")], now), 1);
        assert_eq!(d.report(&[], now), 0);
        assert_eq!(d.report(&[diag("a")], now), 1, "back again: new again");
    }

    #[test]
    fn rows_held_back_by_the_limit_stay_pending_until_flushed() {
        let now = Instant::now();
        let mut d = Diagnostics::default();
        let rows: Vec<Diagnostic> = (0..25).map(|i| diag(&format!("p{i:02}"))).collect();
        assert_eq!(d.report(&rows, now), 25);
        assert!(d.pending(), "a burst of 20 rows, 5 held back");
        assert_eq!(d.report(&rows, now), 5, "the same again: the 5 are still new");
        d.flush(now + Duration::from_secs(5));
        assert!(!d.pending(), "5 seconds later the 5 are logged");
        assert_eq!(d.report(&rows, now + Duration::from_secs(5)), 0);
    }

    #[test]
    fn a_row_with_many_diagnostics_is_one_line() {
        let now = Instant::now();
        let mut d = Diagnostics::default();
        let many: Vec<Diagnostic> = (0..10_000)
            .map(|i| Diagnostic { table: "Logical_Switch_Port", row: "p".into(), message: format!("bad entry {i}") })
            .collect();
        let other = diag("q");
        let all: Vec<Diagnostic> = many.iter().cloned().chain([other]).collect();
        assert_eq!(d.report(&all, now), 10_001);
        assert!(!d.pending(), "two rows, two lines: within the burst");
    }
}
