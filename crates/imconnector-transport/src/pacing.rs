//! Pacing: the portal's leaky bucket (the client keeps a copy with the portal's own numbers, see
//! [`RateLimit`]) and the per-method operating-time budget read from `time.operating` /
//! `time.operating_reset_at`.
//!
//! The portal's answers feed back: a `QUERY_LIMIT_EXCEEDED` means the portal's bucket is full
//! (other clients of the portal, a restart into a full bucket, clocks drifting apart), so the
//! local bucket counts as full for every caller and every caller pauses for the retry wait;
//! refusals that keep coming make the bucket drain slower, by a factor that halves back towards
//! 1 every two seconds.

use std::{
    borrow::Cow,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use crate::{
    coordination::RequestLimiter, envelope::Time, leaky_bucket::LeakyBucket, policy::RateLimit,
};

/// Past this share of the operating-time limit, calls to the method wait for its reset.
const OPERATING_SLOWDOWN_SHARE: f64 = 0.9;
/// The portal's operating-time window; no reset is further away than this.
const OPERATING_WINDOW: Duration = Duration::from_secs(600);

/// The highest push-back factor. The bucket drains `factor - 1` times slower (at least 1), so
/// the first refusal after a quiet spell (factor 2) only fills the bucket and pauses the
/// callers, and refusals that keep coming (the portal drains slower than the client thinks,
/// e.g. another application shares its bucket) slow it down, up to 7 times.
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
    /// Seconds spent in the window, as of the answer.
    seconds: f64,
    /// How long after `observed` the window's oldest minute expires, by the portal's clock.
    reset_in: Duration,
    observed: Instant,
}

impl Operating {
    /// How long until the window resets, if it has not yet.
    fn until_reset(&self) -> Option<Duration> {
        let remaining = self.reset_in.saturating_sub(self.observed.elapsed());
        (!remaining.is_zero()).then_some(remaining)
    }
}

pub(crate) struct Pacer {
    /// The local copy of the portal's bucket, `None` when not pacing (or pacing through
    /// `shared`).
    bucket: Option<Mutex<LeakyBucket>>,
    push_back: Mutex<Option<PushBack>>,
    /// Replaces `bucket` when configured (a bucket shared with other processes).
    shared: Option<Arc<dyn RequestLimiter>>,
    /// Waiters take turns (tokio's mutex is FIFO), so a burst of callers queues in order instead
    /// of all polling the limiter at every tick.
    turn: tokio::sync::Mutex<()>,
    /// By method (lower-case): a list, not a hash map, since a client calls a handful of
    /// methods and every call looks here twice (hashing the name cost more than the scan).
    operating: Mutex<Vec<(String, Operating)>>,
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
        let bucket = local
            .paced()
            .map(|paced| Mutex::new(LeakyBucket::new(paced, Instant::now())));
        Self {
            bucket,
            push_back: Mutex::new(None),
            shared,
            turn: tokio::sync::Mutex::new(()),
            operating: Mutex::new(Vec::new()),
            operating_limit: operating_limit.map(|limit| limit.as_secs_f64()),
        }
    }

    /// Paces by `rate_limit` from now on (the portal's plan became known): the local bucket,
    /// or a shared limiter that follows the plan.
    pub(crate) fn adopt(&self, rate_limit: RateLimit) {
        if let (Some(bucket), Some(paced)) = (&self.bucket, rate_limit.paced()) {
            lock(bucket).set_paced(paced, Instant::now());
        }
        if let Some(shared) = self.shared.as_ref().filter(|shared| shared.follows_plan()) {
            shared.adopt_plan(rate_limit);
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
        if let Some(shared) = &self.shared {
            if let Some(paused_until) = self.paused_until() {
                tokio::time::sleep_until(paused_until.into()).await;
            }
            shared.until_ready().await;
            return;
        }
        let Some(bucket) = &self.bucket else {
            if let Some(paused_until) = self.paused_until() {
                tokio::time::sleep_until(paused_until.into()).await;
            }
            return;
        };
        // A push-back can land while this waiter sleeps: every round looks at the pause and
        // the bucket again.
        loop {
            if let Some(paused_until) = self.paused_until() {
                tokio::time::sleep_until(paused_until.into()).await;
            }
            let slowdown = self.slowdown();
            let admitted = lock(bucket).try_admit(Instant::now(), slowdown);
            match admitted {
                Ok(()) => return,
                Err(wait) => tokio::time::sleep(wait).await,
            }
        }
    }

    /// The portal refused a request with `QUERY_LIMIT_EXCEEDED`; `wait` is the refused
    /// caller's retry wait. The portal's bucket is full, so the local one counts as full; every
    /// caller pauses that long; if refusals keep coming, the bucket drains slower for a while
    /// (see [`MAX_SLOWDOWN`]). A shared limiter is told too, so other replicas hold back as well.
    pub(crate) fn push_back(&self, wait: Duration) {
        let now = Instant::now();
        if let Some(bucket) = &self.bucket {
            lock(bucket).fill(now);
        }
        {
            let mut push_back = lock(&self.push_back);
            let factor = push_back.map_or(1.0, |previous| previous.factor());
            // Refusals that arrive while the previous one's pause lasts are of requests sent
            // before it: the same overrun, not a new one, so they do not compound the slow-down.
            let same_overrun = push_back.is_some_and(|previous| previous.paused_until > now);
            let factor = if same_overrun {
                factor
            } else {
                (factor * 2.0).min(MAX_SLOWDOWN)
            };
            let paused_until = push_back
                .map_or(now, |previous| previous.paused_until)
                .max(now + wait);
            *push_back = Some(PushBack {
                factor,
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

    /// How many times slower than the portal's rate the bucket drains now: the push-back
    /// factor less one (see [`MAX_SLOWDOWN`]), 1 once it has faded.
    fn slowdown(&self) -> f64 {
        let slowdown = self.push_back_factor() - 1.0;
        if slowdown >= 1.05 {
            slowdown
        } else {
            1.0
        }
    }

    /// The push-back factor now (1: none).
    fn push_back_factor(&self) -> f64 {
        let push_back = *lock(&self.push_back);
        push_back.map_or(1.0, |push_back| push_back.factor())
    }

    fn paused_until(&self) -> Option<Instant> {
        let push_back = *lock(&self.push_back);
        push_back
            .map(|push_back| push_back.paused_until)
            .filter(|until| *until > Instant::now())
    }

    /// Records the `time` block of an answer to `method`.
    pub(crate) fn observe(&self, method: &str, time: Option<&Time>) {
        let Some(
            time @ Time {
                operating: Some(seconds),
                operating_reset_at: Some(reset_at),
                ..
            },
        ) = time
        else {
            return;
        };
        let Some(reset_in) = reset_in(*reset_at, time.finish.or(time.start)) else {
            // Already reset.
            self.forget(method);
            return;
        };
        let operating = Operating {
            seconds: *seconds,
            reset_in,
            observed: Instant::now(),
        };
        let key = method_key(method);
        let mut known = lock(&self.operating);
        match find(&mut known, &key) {
            Some(state) => *state = operating,
            None => known.push((key.into_owned(), operating)),
        }
    }

    /// How long until the method's operating-time window resets, if the portal told us.
    pub(crate) fn until_reset(&self, method: &str) -> Option<Duration> {
        find(&mut lock(&self.operating), &method_key(method))?.until_reset()
    }

    fn operating_wait(&self, method: &str) -> Option<Duration> {
        let limit = self.operating_limit?;
        let state = *find(&mut lock(&self.operating), &method_key(method))?;
        if state.seconds < limit * OPERATING_SLOWDOWN_SHARE {
            return None;
        }
        state.until_reset()
    }

    fn forget(&self, method: &str) {
        let key = method_key(method);
        lock(&self.operating).retain(|(known, _)| *known != *key);
    }
}

/// The operating-time state of method `key`, if the portal reported it.
fn find<'a>(known: &'a mut [(String, Operating)], key: &str) -> Option<&'a mut Operating> {
    known
        .iter_mut()
        .find(|(method, _)| method == key)
        .map(|(_, state)| state)
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

/// Locks one of the pacer's mutexes. They hold plain numbers, which a panic elsewhere cannot
/// leave inconsistent, so a poisoned lock is used as is.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Time until the unix time `reset_at`, counted on the portal's clock: from `portal_now` (the
/// answer's `time.finish`), so a client clock that is off (or an emulator's sped-up one) does
/// not matter; from the local clock only when the answer had no time. `reset_at` is in whole
/// seconds, cut down from the real moment, so a second is added. Capped at the window.
fn reset_in(reset_at: i64, portal_now: Option<f64>) -> Option<Duration> {
    let now = match portal_now {
        Some(now) => now,
        None => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .ok()?
            .as_secs_f64(),
    };
    // Precision loss is irrelevant for unix seconds.
    #[allow(clippy::cast_precision_loss)]
    let remaining = reset_at as f64 + 1.0 - now;
    (remaining > 0.0)
        .then(|| Duration::from_secs_f64(remaining.min(OPERATING_WINDOW.as_secs_f64())))
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
        assert!(wait > Duration::from_secs(20) && wait <= Duration::from_secs(31));
        assert_eq!(pacer.operating_wait("imconnector.activate"), None);
    }

    #[test]
    fn the_reset_is_counted_on_the_portals_clock() {
        let pacer = Pacer::new(RateLimit::Off, None, Some(Duration::from_secs(100)));
        // A portal whose clock is an hour ahead of ours: its reset is 20 s away, not 3,620.
        let portal_now = unix_now() + 3600;
        let time = Time {
            finish: Some(portal_now as f64 + 0.5),
            operating: Some(95.0),
            operating_reset_at: Some(portal_now + 20),
            ..Time::default()
        };
        pacer.observe("imconnector.status", Some(&time));
        let wait = pacer.operating_wait("imconnector.status").expect("a wait");
        assert!(wait > Duration::from_secs(15) && wait <= Duration::from_secs(21));
        // A window the portal already reset is forgotten.
        let reset = Time {
            operating_reset_at: Some(portal_now - 2),
            ..time
        };
        pacer.observe("imconnector.status", Some(&reset));
        assert_eq!(pacer.until_reset("imconnector.status"), None);
    }

    #[test]
    fn a_push_back_fills_the_bucket_for_every_caller_once_per_overrun() {
        let pacer = Pacer::new(
            RateLimit::Custom {
                per_second: 1,
                burst: 50,
            },
            None,
            None,
        );
        let bucket = pacer.bucket.as_ref().expect("paced");
        assert_eq!(lock(bucket).try_admit(Instant::now(), 1.0), Ok(()));
        pacer.push_back(Duration::from_millis(200));
        assert!(
            lock(bucket).try_admit(Instant::now(), 1.0).is_err(),
            "the bucket counts as full"
        );
        assert!(pacer.paused_until().is_some(), "every caller pauses");
        let raised = pacer.push_back_factor();
        assert!(raised > 1.9 && raised <= 2.0, "{raised}");
        assert_eq!(
            pacer.slowdown(),
            1.0,
            "a first refusal does not slow the rate"
        );
        // The refusals of requests already on their way when the first came back.
        pacer.push_back(Duration::from_millis(200));
        pacer.push_back(Duration::from_millis(200));
        assert!(
            pacer.push_back_factor() <= 2.0,
            "one overrun, one raise of the factor"
        );
        // A refusal after the pause is a new overrun: now the bucket drains slower.
        std::thread::sleep(Duration::from_millis(250));
        pacer.push_back(Duration::from_millis(200));
        let slowed = pacer.slowdown();
        assert!(slowed > 1.5 && slowed <= 3.0, "{slowed}");
    }
}
