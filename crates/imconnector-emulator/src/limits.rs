//! The portal's leaky bucket and per-method operating-time budget (reference §1.7).
//!
//! Hand-written rather than taken from a rate-limiting crate: the emulator must reproduce the
//! portal's own arithmetic on its own (scaled, jumpable) clock, not a generic GCRA.

use std::collections::HashMap;

/// Seconds a bucket of the operating window lives after its first call (ten minutes).
const OPERATING_WINDOW_SECS: f64 = 600.0;
/// Width of one operating bucket (one minute).
const OPERATING_BUCKET_SECS: f64 = 60.0;

/// Counter +1 per request, drained continuously; a request that would overflow is refused.
#[derive(Debug, Default)]
pub(crate) struct LeakyBucket {
    level: f64,
    last: Option<f64>,
}

impl LeakyBucket {
    /// Admits one request at emulated time `now` (seconds), or refuses it without counting it.
    pub(crate) fn try_admit(&mut self, now: f64, per_second: f64, burst: f64) -> bool {
        if let Some(last) = self.last {
            let drained = (now - last).max(0.0) * per_second;
            self.level = (self.level - drained).max(0.0);
        }
        self.last = Some(now);
        if self.level + 1.0 > burst + 1e-9 {
            return false;
        }
        self.level += 1.0;
        true
    }

    /// Empties the bucket (used when the limit is reconfigured).
    pub(crate) fn reset(&mut self) {
        *self = Self::default();
    }
}

/// What a response's `time` block reports about the budget.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct OperatingReport {
    /// Seconds spent within the window, including this call.
    pub(crate) operating: f64,
    /// Unix time when the oldest bucket expires.
    pub(crate) reset_at: i64,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    minute: i64,
    first_call: f64,
    spent: f64,
}

/// Execution time per (caller, method) in one-minute buckets over ten minutes.
#[derive(Debug, Default)]
pub(crate) struct OperatingLedger {
    windows: HashMap<(String, String), Vec<Bucket>>,
}

impl OperatingLedger {
    fn live(&mut self, key: &(String, String), now: f64) -> &mut Vec<Bucket> {
        let buckets = self.windows.entry(key.clone()).or_default();
        buckets.retain(|bucket| bucket.first_call + OPERATING_WINDOW_SECS > now);
        buckets
    }

    /// Whether the method is blocked: its window already holds more than `budget` seconds.
    pub(crate) fn is_blocked(&mut self, caller: &str, method: &str, now: f64, budget: f64) -> bool {
        let key = (caller.to_owned(), method.to_owned());
        let spent: f64 = self.live(&key, now).iter().map(|bucket| bucket.spent).sum();
        spent > budget
    }

    /// Adds `cost` seconds spent by a call at `now` and reports the window.
    pub(crate) fn charge(
        &mut self,
        caller: &str,
        method: &str,
        now: f64,
        cost: f64,
    ) -> OperatingReport {
        let key = (caller.to_owned(), method.to_owned());
        let buckets = self.live(&key, now);
        #[allow(clippy::cast_possible_truncation)] // minutes since 1970 fit easily
        let minute = (now / OPERATING_BUCKET_SECS).floor() as i64;
        match buckets.last_mut() {
            Some(bucket) if bucket.minute == minute => bucket.spent += cost,
            _ => buckets.push(Bucket {
                minute,
                first_call: now,
                spent: cost,
            }),
        }
        let operating = buckets.iter().map(|bucket| bucket.spent).sum();
        let oldest = buckets.first().map_or(now, |bucket| bucket.first_call);
        #[allow(clippy::cast_possible_truncation)]
        let reset_at = (oldest + OPERATING_WINDOW_SECS).floor() as i64;
        OperatingReport {
            operating,
            reset_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_admits_the_burst_then_drains() {
        let mut bucket = LeakyBucket::default();
        for _ in 0..3 {
            assert!(bucket.try_admit(100.0, 1.0, 3.0));
        }
        assert!(!bucket.try_admit(100.0, 1.0, 3.0));
        assert!(bucket.try_admit(101.0, 1.0, 3.0));
        assert!(!bucket.try_admit(101.0, 1.0, 3.0));
        assert!(bucket.try_admit(110.0, 1.0, 3.0));
    }

    #[test]
    fn operating_budget_blocks_after_it_is_exceeded_and_resets_after_ten_minutes() {
        let mut ledger = OperatingLedger::default();
        let now = 1_000_000.0;
        for call in 0..4 {
            assert!(!ledger.is_blocked("app", "m", now, 3.0), "call {call}");
            let report = ledger.charge("app", "m", now, 1.0);
            assert!((report.operating - f64::from(call + 1)).abs() < 1e-9);
            assert_eq!(report.reset_at, 1_000_600);
        }
        assert!(ledger.is_blocked("app", "m", now, 3.0));
        assert!(!ledger.is_blocked("app", "other", now, 3.0));
        assert!(!ledger.is_blocked("app", "m", now + 600.0, 3.0));
    }
}
