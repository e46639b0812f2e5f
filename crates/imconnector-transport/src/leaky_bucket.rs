//! The client's copy of the portal's leaky bucket: +1 per request, drained continuously, nothing
//! admitted past the capacity. The same arithmetic as the portal's (and as the emulator's and
//! the Redis-shared bucket's), so pacing by it never sends what the portal would refuse.
//!
//! Hand-written rather than `governor`'s GCRA because the portal's answers must be able to set
//! its state: a `QUERY_LIMIT_EXCEEDED` means the portal's bucket is full, so this one is
//! [filled](LeakyBucket::fill), which a GCRA has no way to express.

use std::time::{Duration, Instant};

use crate::policy::Paced;

/// The shortest wait handed out, so a waiter never spins on a rounding error.
const MIN_WAIT: Duration = Duration::from_millis(1);

/// A leaky bucket on the local monotonic clock.
#[derive(Debug)]
pub(crate) struct LeakyBucket {
    per_second: f64,
    capacity: f64,
    level: f64,
    last: Instant,
}

impl LeakyBucket {
    /// An empty bucket: the client assumes the portal's is empty too, as it is after a quiet
    /// spell; a wrong guess costs one refused (and retried) request per request in flight.
    pub(crate) fn new(paced: Paced, now: Instant) -> Self {
        Self {
            per_second: paced.per_second,
            capacity: paced.capacity,
            level: 0.0,
            last: now,
        }
    }

    /// Drains what `slowdown` times slower than the portal's rate drained since the last look.
    fn drain(&mut self, now: Instant, slowdown: f64) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.level = (self.level - elapsed * self.per_second / slowdown).max(0.0);
        self.last = self.last.max(now);
    }

    /// Counts one request at `now` if it fits, or says how long until it would. `slowdown`
    /// (at least 1) makes the bucket drain that many times slower than the portal's rate.
    pub(crate) fn try_admit(&mut self, now: Instant, slowdown: f64) -> Result<(), Duration> {
        let slowdown = slowdown.max(1.0);
        self.drain(now, slowdown);
        let excess = self.level + 1.0 - self.capacity;
        if excess <= 1e-9 {
            self.level += 1.0;
            return Ok(());
        }
        let wait = Duration::from_secs_f64(excess * slowdown / self.per_second);
        Err(wait.max(MIN_WAIT))
    }

    /// Takes the portal's numbers from now on (its plan became known), keeping the level.
    pub(crate) fn set_paced(&mut self, paced: Paced, now: Instant) {
        self.drain(now, 1.0);
        self.per_second = paced.per_second;
        self.capacity = paced.capacity;
    }

    /// Counts the bucket as full at `now`: the portal said its own is.
    pub(crate) fn fill(&mut self, now: Instant) {
        self.drain(now, 1.0);
        self.level = self.capacity;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(per_second: f64, capacity: f64, now: Instant) -> LeakyBucket {
        LeakyBucket::new(
            Paced {
                per_second,
                capacity,
            },
            now,
        )
    }

    #[test]
    fn admits_the_capacity_at_once_then_one_per_interval() {
        let start = Instant::now();
        let mut bucket = bucket(2.0, 3.0, start);
        for _ in 0..3 {
            assert_eq!(bucket.try_admit(start, 1.0), Ok(()));
        }
        let wait = bucket.try_admit(start, 1.0).expect_err("full");
        assert_eq!(wait, Duration::from_millis(500));
        let later = start + Duration::from_millis(500);
        assert_eq!(bucket.try_admit(later, 1.0), Ok(()));
        assert!(bucket.try_admit(later, 1.0).is_err());
        // A quiet spell empties it again, never below zero.
        let quiet = later + Duration::from_secs(60);
        for _ in 0..3 {
            assert_eq!(bucket.try_admit(quiet, 1.0), Ok(()));
        }
        assert!(bucket.try_admit(quiet, 1.0).is_err());
    }

    #[test]
    fn a_filled_bucket_admits_the_next_request_one_interval_later() {
        let start = Instant::now();
        let mut bucket = bucket(4.0, 10.0, start);
        assert_eq!(bucket.try_admit(start, 1.0), Ok(()));
        bucket.fill(start);
        assert_eq!(
            bucket.try_admit(start, 1.0),
            Err(Duration::from_millis(250))
        );
        assert_eq!(
            bucket.try_admit(start + Duration::from_millis(250), 1.0),
            Ok(())
        );
    }

    #[test]
    fn a_slowdown_drains_the_bucket_slower() {
        let start = Instant::now();
        let mut bucket = bucket(10.0, 1.0, start);
        assert_eq!(bucket.try_admit(start, 1.0), Ok(()));
        assert_eq!(
            bucket.try_admit(start, 4.0),
            Err(Duration::from_millis(400))
        );
        assert!(bucket
            .try_admit(start + Duration::from_millis(200), 4.0)
            .is_err());
        assert_eq!(
            bucket.try_admit(start + Duration::from_millis(400), 4.0),
            Ok(())
        );
    }

    #[test]
    fn a_clock_read_out_of_order_drains_nothing() {
        let start = Instant::now();
        let later = start + Duration::from_secs(1);
        let mut bucket = bucket(1.0, 1.0, later);
        assert_eq!(bucket.try_admit(later, 1.0), Ok(()));
        assert!(bucket.try_admit(start, 1.0).is_err());
    }
}
