//! The numbers a client paces and retries by: the portal's rate-limit profiles and the retry
//! policy. Plain values, below everything that uses them.

use std::time::Duration;

use rand::Rng;

/// The portal's leaky bucket, which the client paces itself under.
///
/// The client keeps the same bucket as the portal (+1 per request, drained continuously at the
/// full rate, nothing sent past the burst), so a saturated client uses the portal's whole
/// allowance. Of the burst it keeps a few requests free: as many as the bucket drains in
/// 100 ms, at least one and at most a tenth of the burst. Requests can reach the portal closer
/// together than they left (network and scheduling jitter), and that reserve absorbs it; the
/// rate itself has no margin, since a reserve in the burst costs nothing over time.
///
/// Whatever still overruns the portal's bucket (another application on the portal, a restart
/// into a bucket already full, clocks running at slightly different speeds) comes back as
/// `QUERY_LIMIT_EXCEEDED`, which the portal answers before doing any work: the client retries
/// it, and counts its own bucket as full for every caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RateLimit {
    /// Every plan but Enterprise: drains 2 requests a second, burst of 50.
    #[default]
    Standard,
    /// Enterprise plans: 5 requests a second, burst of 250.
    Enterprise,
    /// Another bucket (an on-premise portal, a test server).
    Custom {
        /// Requests drained per second.
        per_second: u32,
        /// Requests the bucket holds before the portal rejects.
        burst: u32,
    },
    /// No client-side pacing (the portal's answers are still retried).
    Off,
}

impl RateLimit {
    /// The portal's (rate per second, burst), `None` for [`RateLimit::Off`].
    pub fn portal_numbers(&self) -> Option<(u32, u32)> {
        match *self {
            RateLimit::Standard => Some((2, 50)),
            RateLimit::Enterprise => Some((5, 250)),
            RateLimit::Custom { per_second, burst } => Some((per_second, burst)),
            RateLimit::Off => None,
        }
    }

    /// The bucket the client paces by: the portal's drain rate and its burst less the reserve
    /// for arrival jitter (see the type's docs); `None` when nothing is paced.
    pub(crate) fn paced(&self) -> Option<Paced> {
        let (per_second, burst) = self.portal_numbers()?;
        if per_second == 0 || burst == 0 {
            return None;
        }
        let per_second = f64::from(per_second);
        let burst = f64::from(burst);
        let reserve = (per_second * ARRIVAL_JITTER.as_secs_f64())
            .ceil()
            .clamp(1.0, (burst / 10.0).floor().max(1.0));
        Some(Paced {
            per_second,
            capacity: (burst - reserve).max(1.0),
        })
    }
}

/// How much closer together than they left requests may reach the portal without overrunning
/// its bucket: the reserve kept free in the burst is what the bucket drains in this time.
const ARRIVAL_JITTER: Duration = Duration::from_millis(100);

/// The leaky bucket the client paces by.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Paced {
    /// Requests drained per second: the portal's rate.
    pub(crate) per_second: f64,
    /// Requests the bucket holds: the portal's burst less the reserve.
    pub(crate) capacity: f64,
}

/// When and how long the client retries on its own.
///
/// Requests the portal rejected before doing any work (`QUERY_LIMIT_EXCEEDED`,
/// `OPERATION_TIME_LIMIT`) and failures where nothing was sent are always retried; transport
/// failures and 5xx answers after the request may have been received are retried only for
/// idempotent methods. Retrying stops after `max_attempts` attempts or when the next wait would
/// end more than `max_elapsed` after the first attempt was sent.
///
/// Above all of it, `deadline` bounds the whole call from the moment it is made: the wait for a
/// pacing slot, a token refresh, every attempt and every wait between them. A call past its
/// deadline fails with [`Error::Timeout`](crate::Error::Timeout) when nothing may have been
/// applied, or [`Error::OutcomeUnknown`](crate::Error::OutcomeUnknown) when an attempt of a
/// non-idempotent method was cut short.
///
/// Built with [`RetryPolicy::default`] or [`RetryPolicy::none`] and the `with_*` setters (the
/// struct is `#[non_exhaustive]`, so a field added later is not a breaking change):
///
/// ```
/// use std::time::Duration;
/// use imconnector_transport::RetryPolicy;
///
/// let policy = RetryPolicy::default()
///     .with_max_attempts(3)
///     .with_deadline(Duration::from_secs(30));
/// assert_eq!(policy.max_attempts, 3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts in total, the first included; 1 disables retries.
    pub max_attempts: u32,
    /// The wait before the first retry; doubled for each further one.
    pub initial_backoff: Duration,
    /// The longest wait between two attempts.
    pub max_backoff: Duration,
    /// The bound on the total time from the first attempt to the last one.
    pub max_elapsed: Duration,
    /// The bound on the whole call: pacing, refresh, attempts and retries.
    pub deadline: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(10),
            max_elapsed: Duration::from_secs(60),
            // Room for a full retry budget plus a refresh and a pacing wait; past it a caller
            // is better told than kept waiting.
            deadline: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Sets the number of attempts in total, the first included (1 disables retries).
    #[must_use]
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// Sets the wait before the first retry (doubled for each further one).
    #[must_use]
    pub fn with_initial_backoff(mut self, backoff: Duration) -> Self {
        self.initial_backoff = backoff;
        self
    }

    /// Sets the longest wait between two attempts.
    #[must_use]
    pub fn with_max_backoff(mut self, backoff: Duration) -> Self {
        self.max_backoff = backoff;
        self
    }

    /// Sets the bound on the time from the first attempt to the last one.
    #[must_use]
    pub fn with_max_elapsed(mut self, elapsed: Duration) -> Self {
        self.max_elapsed = elapsed;
        self
    }

    /// Sets the bound on the whole call (pacing, refresh, attempts and retries).
    #[must_use]
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// The wait before retry number `retry` (1-based): exponential, capped, with "equal jitter"
    /// (half fixed, half random) so clients that failed together do not return together.
    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        let exponent = retry.saturating_sub(1).min(20);
        let ceiling = self
            .initial_backoff
            .saturating_mul(1 << exponent)
            .min(self.max_backoff);
        let half = ceiling / 2;
        let jitter = rand::rng().random_range(0.0..=1.0);
        half + half.mul_f64(jitter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paced(per_second: u32, burst: u32) -> Paced {
        RateLimit::Custom { per_second, burst }
            .paced()
            .expect("paced")
    }

    #[test]
    fn pacing_uses_the_full_rate_and_keeps_a_small_reserve_of_the_burst() {
        let standard = RateLimit::Standard.paced().expect("paced");
        assert_eq!(
            standard,
            Paced {
                per_second: 2.0,
                capacity: 49.0
            }
        );
        let enterprise = RateLimit::Enterprise.paced().expect("paced");
        assert_eq!(enterprise.per_second, 5.0);
        assert_eq!(enterprise.capacity, 249.0);
        // What the bucket drains in 100 ms...
        assert_eq!(paced(20, 50).capacity, 48.0);
        // ...but at most a tenth of the burst, and never the whole of a tiny one.
        assert_eq!(paced(200, 50).capacity, 45.0);
        assert_eq!(paced(100, 5).capacity, 4.0);
        assert_eq!(paced(1, 1).capacity, 1.0);
        assert_eq!(RateLimit::Off.paced(), None);
        let never = RateLimit::Custom {
            per_second: 0,
            burst: 50,
        };
        assert_eq!(never.paced(), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let policy = RetryPolicy::default();
        for retry in 1..30 {
            let wait = policy.backoff(retry);
            assert!(wait <= policy.max_backoff);
            let exponent = (retry - 1).min(20);
            let ceiling = (policy.initial_backoff * (1 << exponent)).min(policy.max_backoff);
            assert!(wait >= ceiling / 2);
        }
    }
}
