//! Rate limiting of repeated log messages, like OVS's `VLOG_RATE_LIMIT`: a
//! token bucket refilled at a steady rate up to a burst; what it holds back
//! is counted and reported with the next message let through. Also the
//! de-duplication of compiler diagnostics, which every cycle reproduces.
//!
//! Pure: time comes in as `now`.

use std::collections::BTreeSet;
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

/// Logs the compiler's diagnostics: each one once while it persists (a
/// diagnostic that goes away and comes back is logged again), at most a
/// burst of 20 and then one a second.
#[derive(Debug)]
pub struct Diagnostics {
    current: BTreeSet<Diagnostic>,
    limit: RateLimit,
}

impl Default for Diagnostics {
    fn default() -> Diagnostics {
        Diagnostics { current: BTreeSet::new(), limit: RateLimit::new(Duration::from_secs(1), 20) }
    }
}

impl Diagnostics {
    /// Takes this cycle's diagnostics; logs and returns how many are new.
    pub fn report(&mut self, diagnostics: &[Diagnostic], now: Instant) -> usize {
        let next: BTreeSet<Diagnostic> = diagnostics.iter().cloned().collect();
        let mut new = 0;
        for d in next.difference(&self.current) {
            new += 1;
            if let Some(suppressed) = self.limit.allow(now) {
                // Cut, as `Diagnostic`'s Display does: NB values may be huge.
                let (row, message) = (cut(&d.row, QUOTE_MAX), cut(&d.message, 4 * QUOTE_MAX));
                warn!(table = d.table, %row, suppressed, "skipped in translation: {message}");
            }
        }
        self.current = next;
        new
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
}
