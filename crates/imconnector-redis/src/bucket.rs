//! [`SharedBucket`]: the portal's leaky bucket kept in Redis, so all replicas together stay
//! within the portal's allowance.

use std::{
    num::NonZeroU32,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, PoisonError, RwLock,
    },
    time::Duration,
};

use futures::future::BoxFuture;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use imconnector_transport::{RateLimit, RequestLimiter};
use redis::aio::ConnectionManager;

use crate::{error::RedisBackendError, keys::PortalKeys, scripts::Scripts};

/// How long one Redis round trip of the bucket may take before this replica paces itself alone.
/// Short, because waiters queue behind it.
const REDIS_BUDGET: Duration = Duration::from_millis(250);
/// How often an unreachable Redis is probed in the background.
const PROBE_INTERVAL: Duration = Duration::from_millis(500);

/// The share of the portal's drain rate the replicas use together by default: all of it, as the
/// single client does; the spare burst, not a slower rate, absorbs arrival jitter.
pub const DEFAULT_RATE_SHARE: f64 = 1.0;
/// The share of the portal's burst the replicas use together by default; the rest absorbs
/// requests that reach the portal closer together than they left (a Redis round trip and
/// several processes make that jitter larger than a single client's).
pub const DEFAULT_BURST_SHARE: f64 = 0.8;

/// One portal's leaky bucket in Redis, shared by every replica; a [`RequestLimiter`] for
/// [`ClientBuilder::request_limiter`](imconnector_transport::ClientBuilder::request_limiter).
///
/// Each request runs one atomic script that drains the bucket by the time elapsed on the Redis
/// server's clock, then either counts the request or answers how long to wait. If Redis is
/// unreachable (or slower than a quarter second) the limiter switches at once to a local bucket of
/// the same rate and burst for this replica alone, logs a warning, and probes Redis in the
/// background until it answers again; the portal's `QUERY_LIMIT_EXCEEDED`, which the client
/// retries and feeds back, is then the backstop.
///
/// The feedback is shared: a `QUERY_LIMIT_EXCEEDED` ([`RequestLimiter::push_back`]) counts the
/// shared bucket as full and pauses it for the refused request's retry wait, so every replica
/// holds back, not only the one that was refused.
///
/// A bucket made by [`RedisBackend::plan_bucket`](crate::RedisBackend::plan_bucket) (as
/// [`RedisBackend::portals_by_plan`](crate::RedisBackend::portals_by_plan) does for every
/// portal) [follows the portal's plan](RequestLimiter::follows_plan): it starts with the
/// standard bucket and, once the client has asked `app.info`, paces by the plan's (Enterprise
/// 250 + 5/s), margins applied; each replica learns the plan from its own client.
#[derive(Clone)]
pub struct SharedBucket {
    pub(crate) connection: ConnectionManager,
    pub(crate) keys: Arc<PortalKeys>,
    pub(crate) scripts: Arc<Scripts>,
    pub(crate) numbers: Arc<Numbers>,
    pub(crate) fallback: Arc<Fallback>,
}

/// The bucket's rate and burst (margins applied), changed when the plan becomes known.
pub(crate) struct Numbers {
    /// `f64` bits: read on every request, written once per client.
    per_second: AtomicU64,
    capacity: AtomicU64,
    rate_share: f64,
    burst_share: f64,
    follows_plan: bool,
}

impl Numbers {
    /// The numbers of `rate_limit` with the shares applied; `None` when it paces nothing.
    pub(crate) fn new(
        rate_limit: RateLimit,
        (rate_share, burst_share): (f64, f64),
        follows_plan: bool,
    ) -> Option<Self> {
        let (per_second, capacity) = Self::of(rate_limit, rate_share, burst_share)?;
        Some(Self {
            per_second: AtomicU64::new(per_second.to_bits()),
            capacity: AtomicU64::new(capacity.to_bits()),
            rate_share,
            burst_share,
            follows_plan,
        })
    }

    fn of(rate_limit: RateLimit, rate_share: f64, burst_share: f64) -> Option<(f64, f64)> {
        let (per_second, burst) = rate_limit.portal_numbers()?;
        if per_second == 0 || burst == 0 {
            return None;
        }
        let capacity = (f64::from(burst) * burst_share).floor().max(1.0);
        Some((f64::from(per_second) * rate_share, capacity))
    }

    pub(crate) fn per_second(&self) -> f64 {
        f64::from_bits(self.per_second.load(Ordering::Acquire))
    }

    pub(crate) fn capacity(&self) -> f64 {
        f64::from_bits(self.capacity.load(Ordering::Acquire))
    }

    /// Takes `rate_limit`'s numbers; `false` (nothing changed) for one that paces nothing.
    fn adopt(&self, rate_limit: RateLimit) -> bool {
        let Some((per_second, capacity)) = Self::of(rate_limit, self.rate_share, self.burst_share)
        else {
            return false;
        };
        self.per_second
            .store(per_second.to_bits(), Ordering::Release);
        self.capacity.store(capacity.to_bits(), Ordering::Release);
        true
    }
}

/// The local stand-in while Redis is unreachable.
pub(crate) struct Fallback {
    local: RwLock<Option<Arc<DefaultDirectRateLimiter>>>,
    /// Redis failed: pace locally until the probe sees it again.
    degraded: AtomicBool,
    probing: AtomicBool,
}

impl Fallback {
    pub(crate) fn new(per_second: f64, capacity: f64) -> Self {
        Self {
            local: RwLock::new(Self::limiter(per_second, capacity)),
            degraded: AtomicBool::new(false),
            probing: AtomicBool::new(false),
        }
    }

    fn limiter(per_second: f64, capacity: f64) -> Option<Arc<DefaultDirectRateLimiter>> {
        let local = (per_second > 0.0).then(|| Duration::from_secs_f64(1.0 / per_second));
        // Truncation is intended: the burst is a whole number of requests.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let burst = NonZeroU32::new(capacity.max(1.0) as u32);
        local.zip(burst).and_then(|(period, burst)| {
            Some(Arc::new(RateLimiter::direct(
                Quota::with_period(period)?.allow_burst(burst),
            )))
        })
    }

    fn set(&self, per_second: f64, capacity: f64) {
        *self.local.write().unwrap_or_else(PoisonError::into_inner) =
            Self::limiter(per_second, capacity);
    }

    fn local(&self) -> Option<Arc<DefaultDirectRateLimiter>> {
        // Replaced whole or not at all: a panic elsewhere cannot leave it half-written.
        self.local
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl SharedBucket {
    /// The drain rate the replicas pace at together, requests per second (margin applied).
    pub fn per_second(&self) -> f64 {
        self.numbers.per_second()
    }

    /// The burst the replicas use together (margin applied).
    pub fn burst(&self) -> f64 {
        self.numbers.capacity()
    }

    /// Counts one request if the bucket has room; otherwise returns how long until it has.
    ///
    /// # Errors
    /// [`RedisBackendError::Redis`].
    pub async fn try_acquire(&self) -> Result<Option<Duration>, RedisBackendError> {
        let wait_micros: u64 = self
            .scripts
            .bucket
            .key(&self.keys.bucket)
            .arg(self.numbers.per_second())
            .arg(self.numbers.capacity())
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(RedisBackendError::redis("run the shared rate limiter"))?;
        Ok((wait_micros > 0).then(|| Duration::from_micros(wait_micros)))
    }

    /// Waits until the bucket counts one request.
    ///
    /// # Errors
    /// [`RedisBackendError::Redis`].
    pub async fn acquire(&self) -> Result<(), RedisBackendError> {
        while let Some(wait) = self.try_acquire().await? {
            tokio::time::sleep(wait).await;
        }
        Ok(())
    }
}

impl SharedBucket {
    /// Whether the bucket paces this replica alone because Redis is unreachable.
    pub fn is_degraded(&self) -> bool {
        self.fallback.degraded.load(Ordering::Acquire)
    }

    async fn pace(&self) {
        while !self.is_degraded() {
            match tokio::time::timeout(REDIS_BUDGET, self.try_acquire()).await {
                Ok(Ok(None)) => return,
                Ok(Ok(Some(wait))) => tokio::time::sleep(wait).await,
                Ok(Err(error)) => {
                    tracing::warn!(%error, key = %self.keys.bucket, "shared rate limiter unavailable; pacing this replica alone");
                    self.degrade();
                }
                Err(_) => {
                    tracing::warn!(key = %self.keys.bucket, "shared rate limiter too slow; pacing this replica alone");
                    self.degrade();
                }
            }
        }
        if let Some(local) = self.fallback.local() {
            local.until_ready().await;
        }
    }

    /// Switches to the local bucket and starts the background probe (once).
    fn degrade(&self) {
        self.fallback.degraded.store(true, Ordering::Release);
        if self.fallback.probing.swap(true, Ordering::AcqRel) {
            return;
        }
        let bucket = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(PROBE_INTERVAL).await;
                let mut connection = bucket.connection.clone();
                let ping = redis::cmd("PING");
                let answered = ping.query_async::<String>(&mut connection);
                if let Ok(Ok(_)) = tokio::time::timeout(REDIS_BUDGET, answered).await {
                    tracing::info!(key = %bucket.keys.bucket, "shared rate limiter reachable again");
                    bucket.fallback.degraded.store(false, Ordering::Release);
                    bucket.fallback.probing.store(false, Ordering::Release);
                    return;
                }
            }
        });
    }
}

impl RequestLimiter for SharedBucket {
    fn until_ready(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.pace())
    }

    fn push_back(&self, wait: Duration) {
        if self.is_degraded() {
            return;
        }
        // Every replica pauses for `wait`, then waits for the full bucket to drain; shared in
        // the background, since this must not block the caller.
        let bucket = self.clone();
        let pause_micros = u64::try_from(wait.as_micros()).unwrap_or(u64::MAX);
        tokio::spawn(async move {
            let mut connection = bucket.connection.clone();
            let mut invocation = bucket.scripts.fill.key(&bucket.keys.bucket);
            invocation
                .arg(bucket.numbers.capacity())
                .arg(bucket.numbers.per_second())
                .arg(pause_micros);
            let filled = invocation.invoke_async::<u8>(&mut connection);
            if let Ok(Err(error)) = tokio::time::timeout(REDIS_BUDGET, filled).await {
                tracing::warn!(%error, key = %bucket.keys.bucket, "cannot share the portal's push-back");
            }
        });
    }

    fn follows_plan(&self) -> bool {
        self.numbers.follows_plan
    }

    fn adopt_plan(&self, rate_limit: RateLimit) {
        if self.numbers.follows_plan && self.numbers.adopt(rate_limit) {
            self.fallback
                .set(self.numbers.per_second(), self.numbers.capacity());
            tracing::debug!(key = %self.keys.bucket, ?rate_limit, "the shared bucket follows the portal's plan");
        }
    }
}

impl std::fmt::Debug for SharedBucket {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("SharedBucket")
            .field("key", &self.keys.bucket)
            .field("per_second", &self.numbers.per_second())
            .field("burst", &self.numbers.capacity())
            .field("follows_plan", &self.numbers.follows_plan)
            .finish_non_exhaustive()
    }
}
