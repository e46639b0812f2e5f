//! Pacing: the portal's leaky bucket (via `governor`'s GCRA, which has the same semantics: a
//! counter that drains at a fixed rate and refuses past the burst) and the per-method
//! operating-time budget read from `time.operating` / `time.operating_reset_at`.
//!
//! The portal's answers feed back: a `QUERY_LIMIT_EXCEEDED` means the bucket is fuller than the
//! client thought (other clients of the portal, a clock drift), so every caller pauses for the
//! retry wait and then goes slower, by a factor that halves back towards 1 every two seconds.

use std::{
    borrow::Cow,
    collections::HashMap,
    num::NonZeroU32,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use crate::{coordination::RequestLimiter, envelope::Time, policy::RateLimit};

/// Past this share of the operating-time limit, calls to the method wait for its reset.
const OPERATING_SLOWDOWN_SHARE: f64 = 0.9;

/// The most the push-back slows the client down (times its paced interval).
const MAX_SLOWDOWN: f64 = 8.0;
/// How fast the slow-down fades once the portal stops pushing back.
const SLOWDOWN_HALF_LIFE: Duration = Duration::from_secs(2);

/// The slow-down after the portal pushed back.
#[derive(Debug, Clone, Copy)]
struct PushBack {
    /// The slow-down factor when it was last raised (1: none).
    factor: f64,
    at: Instant,
    /// Nobody sends before this.
    paused_until: Instant,
}

impl PushBack {
    /// The factor now, faded since it was raised.
    fn factor(&self) -> f64 {
        let halvings = self.at.elapsed().as_secs_f64() / SLOWDOWN_HALF_LIFE.as_secs_f64();
        1.0 + (self.factor - 1.0) * 0.5_f64.powf(halvings)
    }
}

/// What the portal last said about one method's operating time.
#[derive(Debug, Clone, Copy)]
struct Operating {
    seconds: f64,
    reset_at: i64,
}

pub(crate) struct Pacer {
    bucket: Option<DefaultDirectRateLimiter>,
    /// The bucket's interval between requests, the unit of the push-back's slow-down.
    interval: Option<Duration>,
    push_back: Mutex<Option<PushBack>>,
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
        let paced = local.paced();
        let bucket = paced.and_then(|(interval, burst)| {
            let quota = Quota::with_period(interval)?.allow_burst(NonZeroU32::new(burst)?);
            Some(RateLimiter::direct(quota))
        });
        Self {
            bucket,
            interval: paced.map(|(interval, _)| interval),
            push_back: Mutex::new(None),
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
        if self.bucket.is_none() && self.shared.is_none() {
            // Limits off: no bucket to take turns at, only a push-back pause to honour.
            if let Some(paused_until) = self.paused_until() {
                tokio::time::sleep_until(paused_until.into()).await;
            }
            return;
        }
        let _turn = self.turn.lock().await;
        if let Some(paused_until) = self.paused_until() {
            tokio::time::sleep_until(paused_until.into()).await;
        }
        if let Some(shared) = &self.shared {
            shared.until_ready().await;
        } else if let Some(bucket) = &self.bucket {
            bucket.until_ready().await;
            // Slower than the bucket while the portal's push-back fades; waiting while holding
            // the turn is what spaces the callers out.
            if let (Some(interval), Some(factor)) = (self.interval, self.slowdown()) {
                tokio::time::sleep(interval.mul_f64(factor - 1.0)).await;
            }
        }
    }

    /// The portal refused a request with `QUERY_LIMIT_EXCEEDED`; `wait` is the refused
    /// caller's retry wait. Every caller pauses that long, then goes slower for a while; a
    /// shared limiter is told too, so other replicas slow down as well.
    pub(crate) fn push_back(&self, wait: Duration) {
        let now = Instant::now();
        {
            let mut push_back = self
                .push_back
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let factor = push_back.map_or(1.0, |previous| previous.factor());
            let paused_until = push_back
                .map_or(now, |previous| previous.paused_until)
                .max(now + wait);
            *push_back = Some(PushBack {
                factor: (factor * 2.0).min(MAX_SLOWDOWN),
                at: now,
                paused_until,
            });
        }
        tracing::debug!(
            wait_ms = wait.as_millis(),
            "the portal pushed back; every caller slows down"
        );
        if let Some(shared) = &self.shared {
            shared.push_back(wait);
        }
    }

    /// The slow-down factor now, `None` once it has faded (below 1.05).
    fn slowdown(&self) -> Option<f64> {
        let push_back = *self
            .push_back
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        push_back
            .map(|push_back| push_back.factor())
            .filter(|factor| *factor >= 1.05)
    }

    fn paused_until(&self) -> Option<Instant> {
        let push_back = *self
            .push_back
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        push_back
            .map(|push_back| push_back.paused_until)
            .filter(|until| *until > Instant::now())
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
        let operating = Operating {
            seconds: *seconds,
            reset_at: *reset_at,
        };
        let key = method_key(method);
        let mut map = self.lock();
        match map.get_mut(key.as_ref()) {
            Some(known) => *known = operating,
            None => {
                map.insert(key.into_owned(), operating);
            }
        }
    }

    /// How long until the method's operating-time window resets, if the portal told us.
    pub(crate) fn until_reset(&self, method: &str) -> Option<Duration> {
        let state = *self.lock().get(method_key(method).as_ref())?;
        seconds_until(state.reset_at)
    }

    fn operating_wait(&self, method: &str) -> Option<Duration> {
        let limit = self.operating_limit?;
        let state = *self.lock().get(method_key(method).as_ref())?;
        if state.seconds < limit * OPERATING_SLOWDOWN_SHARE {
            return None;
        }
        seconds_until(state.reset_at)
    }

    fn forget(&self, method: &str) {
        self.lock().remove(method_key(method).as_ref());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Operating>> {
        // The map holds plain numbers; a panic elsewhere cannot leave it inconsistent.
        self.operating
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// The operating-time map's key of a method: its lower-case name, copied only when it is not
/// lower-case already (the usual case, checked per call).
fn method_key(method: &str) -> Cow<'_, str> {
    if method.bytes().any(|byte| byte.is_ascii_uppercase()) {
        Cow::Owned(method.to_ascii_lowercase())
    } else {
        Cow::Borrowed(method)
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
