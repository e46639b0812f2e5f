//! Pacing: the portal's leaky bucket (via `governor`'s GCRA, which has the same semantics: a
//! counter that drains at a fixed rate and refuses past the burst) and the per-method
//! operating-time budget read from `time.operating` / `time.operating_reset_at`.

use std::{
    collections::HashMap,
    num::NonZeroU32,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use crate::{coordination::RequestLimiter, envelope::Time, policy::RateLimit};

/// Past this share of the operating-time limit, calls to the method wait for its reset.
const OPERATING_SLOWDOWN_SHARE: f64 = 0.9;

/// What the portal last said about one method's operating time.
#[derive(Debug, Clone, Copy)]
struct Operating {
    seconds: f64,
    reset_at: i64,
}

pub(crate) struct Pacer {
    bucket: Option<DefaultDirectRateLimiter>,
    /// Replaces `bucket` when configured (a bucket shared with other processes).
    shared: Option<Arc<dyn RequestLimiter>>,
    /// Waiters take turns (tokio's mutex is FIFO), so a burst of callers queues in order instead
    /// of all polling the limiter at every tick.
    turn: tokio::sync::Mutex<()>,
    operating: Mutex<HashMap<String, Operating>>,
    operating_limit: Option<f64>,
}

impl Pacer {
    pub(crate) fn new(
        rate_limit: RateLimit,
        shared: Option<Arc<dyn RequestLimiter>>,
        operating_limit: Option<Duration>,
    ) -> Self {
        let local = if shared.is_some() {
            RateLimit::Off
        } else {
            rate_limit
        };
        let bucket = local.paced().and_then(|(interval, burst)| {
            let quota = Quota::with_period(interval)?.allow_burst(NonZeroU32::new(burst)?);
            Some(RateLimiter::direct(quota))
        });
        Self {
            bucket,
            shared,
            turn: tokio::sync::Mutex::new(()),
            operating: Mutex::new(HashMap::new()),
            operating_limit: operating_limit.map(|limit| limit.as_secs_f64()),
        }
    }

    /// Waits until `method` may be sent: first its operating-time budget (at most `max_wait`;
    /// past that the portal, which knows its real limit, decides), then a slot in the bucket.
    pub(crate) async fn before_send(&self, method: &str, max_wait: Duration) {
        if let Some(wait) = self.operating_wait(method) {
            if wait <= max_wait {
                tracing::debug!(
                    method,
                    wait_ms = wait.as_millis(),
                    "operating-time budget nearly spent, waiting for its reset"
                );
                tokio::time::sleep(wait).await;
                self.forget(method);
            }
        }
        if let Some(shared) = &self.shared {
            let _turn = self.turn.lock().await;
            shared.until_ready().await;
        } else if let Some(bucket) = &self.bucket {
            let _turn = self.turn.lock().await;
            bucket.until_ready().await;
        }
    }

    /// Records the `time` block of an answer to `method`.
    pub(crate) fn observe(&self, method: &str, time: Option<&Time>) {
        let Some(Time {
            operating: Some(seconds),
            operating_reset_at: Some(reset_at),
            ..
        }) = time
        else {
            return;
        };
        self.lock().insert(
            method.to_ascii_lowercase(),
            Operating {
                seconds: *seconds,
                reset_at: *reset_at,
            },
        );
    }

    /// How long until the method's operating-time window resets, if the portal told us.
    pub(crate) fn until_reset(&self, method: &str) -> Option<Duration> {
        let state = *self.lock().get(&method.to_ascii_lowercase())?;
        seconds_until(state.reset_at)
    }

    fn operating_wait(&self, method: &str) -> Option<Duration> {
        let limit = self.operating_limit?;
        let state = *self.lock().get(&method.to_ascii_lowercase())?;
        if state.seconds < limit * OPERATING_SLOWDOWN_SHARE {
            return None;
        }
        seconds_until(state.reset_at)
    }

    fn forget(&self, method: &str) {
        self.lock().remove(&method.to_ascii_lowercase());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Operating>> {
        // The map holds plain numbers; a panic elsewhere cannot leave it inconsistent.
        self.operating
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Time from now until the unix time `reset_at` (the portal's clock; ours may differ, so the
/// result is capped at the 10-minute window the portal uses).
fn seconds_until(reset_at: i64) -> Option<Duration> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_secs_f64();
    // Precision loss is irrelevant for unix seconds.
    #[allow(clippy::cast_precision_loss)]
    let remaining = reset_at as f64 - now;
    (remaining > 0.0).then(|| Duration::from_secs_f64(remaining.min(600.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unix_now() -> i64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970");
        i64::try_from(now.as_secs()).expect("fits")
    }

    #[test]
    fn slows_down_only_near_the_limit() {
        let pacer = Pacer::new(RateLimit::Off, None, Some(Duration::from_secs(100)));
        let mut time = Time {
            operating: Some(50.0),
            operating_reset_at: Some(unix_now() + 30),
            ..Time::default()
        };
        pacer.observe("imconnector.status", Some(&time));
        assert_eq!(pacer.operating_wait("imconnector.status"), None);
        time.operating = Some(95.0);
        pacer.observe("IMCONNECTOR.STATUS", Some(&time));
        let wait = pacer.operating_wait("imconnector.status").expect("a wait");
        assert!(wait > Duration::from_secs(20) && wait <= Duration::from_secs(30));
        assert_eq!(pacer.operating_wait("imconnector.activate"), None);
    }
}
