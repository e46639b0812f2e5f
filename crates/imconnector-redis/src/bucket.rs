//! [`SharedBucket`]: the portal's leaky bucket kept in Redis, so all replicas together stay
//! within the portal's allowance.

use std::{sync::Arc, time::Duration};

use futures::future::BoxFuture;
use imconnector_transport::RequestLimiter;
use redis::aio::ConnectionManager;

use crate::{error::RedisBackendError, keys::PortalKeys, scripts::Scripts};

/// The share of the portal's drain rate the replicas use together by default.
pub const DEFAULT_RATE_SHARE: f64 = 0.98;
/// The share of the portal's burst the replicas use together by default; the rest absorbs
/// requests that reach the portal closer together than they left.
pub const DEFAULT_BURST_SHARE: f64 = 0.8;

/// One portal's leaky bucket in Redis, shared by every replica; a [`RequestLimiter`] for
/// [`ClientBuilder::request_limiter`](imconnector_transport::ClientBuilder::request_limiter).
///
/// Each request runs one atomic script that drains the bucket by the time elapsed on the Redis
/// server's clock, then either counts the request or answers how long to wait. If Redis is
/// unreachable the limiter paces this replica alone at the full rate and logs a warning: the
/// portal's `QUERY_LIMIT_EXCEEDED`, which the client retries, is then the backstop.
#[derive(Clone)]
pub struct SharedBucket {
    pub(crate) connection: ConnectionManager,
    pub(crate) keys: Arc<PortalKeys>,
    pub(crate) scripts: Arc<Scripts>,
    pub(crate) per_second: f64,
    pub(crate) capacity: f64,
}

impl SharedBucket {
    /// The drain rate the replicas pace at together, requests per second (margin applied).
    pub fn per_second(&self) -> f64 {
        self.per_second
    }

    /// The burst the replicas use together (margin applied).
    pub fn burst(&self) -> f64 {
        self.capacity
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
            .arg(self.per_second)
            .arg(self.capacity)
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

impl RequestLimiter for SharedBucket {
    fn until_ready(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if let Err(error) = self.acquire().await {
                tracing::warn!(%error, key = %self.keys.bucket, "shared rate limiter unavailable; pacing this replica alone");
                tokio::time::sleep(Duration::from_secs_f64(1.0 / self.per_second)).await;
            }
        })
    }
}

impl std::fmt::Debug for SharedBucket {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("SharedBucket")
            .field("key", &self.keys.bucket)
            .field("per_second", &self.per_second)
            .field("burst", &self.capacity)
            .finish_non_exhaustive()
    }
}
