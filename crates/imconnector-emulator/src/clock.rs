//! The emulated wall clock: real time multiplied by the time scale, plus manual jumps.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The longest real wait an emulated delay turns into (an hour), whatever the latency and
/// time scale.
pub(crate) const MAX_REAL_WAIT: Duration = Duration::from_secs(3600);

/// Every time-based behaviour (token lifetime, bucket drain, operating windows, added latency,
/// timestamps in responses and events) reads this clock, so one knob speeds them all up.
#[derive(Debug)]
pub(crate) struct Clock {
    started: Instant,
    started_unix: f64,
    scale: f64,
    /// Manual jumps in emulated nanoseconds (`advance`); an atomic so no lock is needed.
    jumped_nanos: AtomicU64,
}

impl Clock {
    /// A clock starting at the current system time, running `scale` times faster than real time.
    pub(crate) fn new(scale: f64) -> Self {
        let started_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |elapsed| elapsed.as_secs_f64());
        Self {
            started: Instant::now(),
            started_unix,
            scale,
            jumped_nanos: AtomicU64::new(0),
        }
    }

    /// Emulated unix time in seconds.
    pub(crate) fn now(&self) -> f64 {
        let jumped = Duration::from_nanos(self.jumped_nanos.load(Ordering::Relaxed));
        self.started_unix + self.started.elapsed().as_secs_f64() * self.scale + jumped.as_secs_f64()
    }

    /// Moves emulated time forward without waiting. Jumps saturate (at about 584 years in
    /// total) rather than wrap, so the clock never runs backwards.
    pub(crate) fn advance(&self, by: Duration) {
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        let _ = self
            .jumped_nanos
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |jumped| {
                Some(jumped.saturating_add(nanos))
            });
    }

    /// How long to really wait for `emulated` to pass, at most [`MAX_REAL_WAIT`].
    pub(crate) fn real_duration(&self, emulated: Duration) -> Duration {
        Duration::try_from_secs_f64(emulated.as_secs_f64() / self.scale)
            .map_or(MAX_REAL_WAIT, |wait| wait.min(MAX_REAL_WAIT))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_moves_now_and_scale_divides_waits() {
        let clock = Clock::new(100.0);
        let before = clock.now();
        clock.advance(Duration::from_secs(3600));
        assert!(clock.now() - before >= 3600.0);
        assert_eq!(
            clock.real_duration(Duration::from_secs(10)),
            Duration::from_millis(100)
        );
    }

    #[test]
    fn extreme_jumps_and_delays_neither_wrap_nor_panic() {
        let clock = Clock::new(1e-9);
        let before = clock.now();
        clock.advance(Duration::MAX);
        let jumped = clock.now();
        clock.advance(Duration::MAX);
        assert!(jumped > before && clock.now() >= jumped);
        assert_eq!(clock.real_duration(Duration::MAX), MAX_REAL_WAIT);
        assert_eq!(clock.real_duration(Duration::from_secs(1)), MAX_REAL_WAIT);
    }
}
