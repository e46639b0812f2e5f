//! [`RedisBackend`]: the connection, the key prefix and the timings, and the per-portal pieces
//! made from them.

use std::{sync::Arc, time::Duration};

use imconnector_transport::{ClientBuilder, RateLimit};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::{
    bucket::{Fallback, Numbers, SharedBucket, DEFAULT_BURST_SHARE, DEFAULT_RATE_SHARE},
    error::RedisBackendError,
    eviction::{self, EvictingPolicy},
    keys::{check_client_id, check_prefix, PortalKeys, DEFAULT_PREFIX},
    lock::{LockTiming, RedisRefreshLock},
    scripts::Scripts,
    store::RedisTokenStore,
    tls::{self, TlsRoots},
};

/// Configures a [`RedisBackend`]; start with [`RedisBackend::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct RedisBackendBuilder {
    client_id: String,
    /// Replaces the default prefix, `DEFAULT_PREFIX:client_id`.
    prefix: Option<String>,
    evicting_policy: EvictingPolicy,
    tls_roots: Option<TlsRoots>,
    timing: LockTiming,
    rate_share: f64,
    burst_share: f64,
    response_timeout: Duration,
}

impl RedisBackendBuilder {
    fn new(client_id: &str) -> Self {
        Self {
            client_id: client_id.to_owned(),
            prefix: None,
            evicting_policy: EvictingPolicy::default(),
            tls_roots: None,
            timing: LockTiming {
                lease: Duration::from_secs(5),
                max_wait: Duration::from_secs(60),
                poll: Duration::from_millis(25),
            },
            rate_share: DEFAULT_RATE_SHARE,
            burst_share: DEFAULT_BURST_SHARE,
            response_timeout: Duration::from_secs(5),
        }
    }

    /// Replaces the whole key prefix (default `imconnector:<client_id>`, so applications
    /// sharing one Redis keep apart). Two applications given the same prefix overwrite each
    /// other's tokens; `key_prefix(DEFAULT_PREFIX)` keeps the keys of earlier releases, whose default it was.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }

    /// What [`connect`](Self::connect) does when Redis's `maxmemory-policy` is `allkeys-*`
    /// (Redis may then evict token pairs and portal records): refuse (the default) or warn.
    /// A Redis that refuses both `CONFIG GET` and `INFO` (some managed services) gets a
    /// warning and is used.
    pub fn on_evicting_policy(mut self, setting: EvictingPolicy) -> Self {
        self.evicting_policy = setting;
        self
    }

    /// For a `rediss://` URL, trusts the CA certificates in `pem` (one or more PEM blocks,
    /// e.g. the content of your Redis CA's `ca.pem`) instead of the system's root certificates:
    /// for a Redis whose certificate a private CA signed. The server's certificate is always
    /// verified, hostname included; without this setting against the system's roots.
    pub fn tls_root_certificates(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls_roots = Some(TlsRoots::new(pem.into()));
        self
    }

    /// The prefix of every key.
    fn prefix(&self) -> String {
        self.prefix
            .clone()
            .unwrap_or_else(|| format!("{DEFAULT_PREFIX}:{}", self.client_id))
    }

    /// How long the refresh lock outlives its holder's last renewal (default 5 s; renewed every
    /// third of it). A holder that dies blocks the portal's refreshes this long at most.
    pub fn refresh_lease(mut self, lease: Duration) -> Self {
        self.timing.lease = lease;
        self
    }

    /// How long a process waits for another's refresh before failing its call, and how long a
    /// holder keeps renewing its lease (default 60 s).
    pub fn max_refresh_wait(mut self, wait: Duration) -> Self {
        self.timing.max_wait = wait;
        self
    }

    /// The pause between two looks at a lock held by another process (default 25 ms, jittered).
    pub fn refresh_poll_interval(mut self, interval: Duration) -> Self {
        self.timing.poll = interval;
        self
    }

    /// The shares of the portal's drain rate and burst the replicas use together (defaults
    /// [`DEFAULT_RATE_SHARE`] and [`DEFAULT_BURST_SHARE`]), each within `0.0 < share <= 1.0`.
    pub fn bucket_margins(mut self, rate_share: f64, burst_share: f64) -> Self {
        self.rate_share = rate_share;
        self.burst_share = burst_share;
        self
    }

    /// How long to wait for one Redis answer or connection (default 5 s). A command on an
    /// unreachable Redis fails after one reconnection attempt; the next command tries again.
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    fn check(&self) -> Result<(), RedisBackendError> {
        check_client_id(&self.client_id)?;
        check_prefix(&self.prefix())?;
        let invalid = |name: &'static str, reason: &str| {
            Err(RedisBackendError::InvalidSetting {
                name,
                reason: reason.to_owned(),
            })
        };
        if self.timing.lease < Duration::from_millis(100) {
            return invalid("refresh_lease", "must be at least 100 ms");
        }
        if self.timing.poll.is_zero() || self.timing.poll > self.timing.lease {
            return invalid(
                "refresh_poll_interval",
                "must be above zero and at most the lease",
            );
        }
        if self.timing.max_wait < self.timing.lease {
            return invalid("max_refresh_wait", "must be at least the lease");
        }
        for (name, share) in [
            ("bucket_margins.rate_share", self.rate_share),
            ("bucket_margins.burst_share", self.burst_share),
        ] {
            if !(share > 0.0 && share <= 1.0) {
                return invalid(name, "must be within 0.0 < share <= 1.0");
            }
        }
        Ok(())
    }

    /// Connects to the Redis at `url`: `redis://[user:password@]host:port[/db]`, or
    /// `rediss://…` for TLS (see [`tls_root_certificates`](Self::tls_root_certificates)). The
    /// connection reconnects on its own after a failure.
    ///
    /// # Errors
    /// [`RedisBackendError::InvalidSetting`], [`RedisBackendError::InvalidPrefix`],
    /// [`RedisBackendError::InvalidUrl`], [`RedisBackendError::Redis`] when Redis cannot be
    /// reached, [`RedisBackendError::EvictingPolicy`] (see
    /// [`on_evicting_policy`](Self::on_evicting_policy)).
    pub async fn connect(self, url: &str) -> Result<RedisBackend, RedisBackendError> {
        self.check()?;
        let client = tls::client(url, self.tls_roots.as_ref())?;
        // One reconnection attempt per command, at most a response timeout apart: with the
        // client library's default (six attempts, exponential delays) every command waits some
        // ten seconds on a stopped Redis, and so does a refresh whose new pair is already
        // issued. The next command tries to reconnect again.
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(self.response_timeout))
            .set_connection_timeout(Some(self.response_timeout))
            .set_number_of_retries(1)
            .set_max_delay(self.response_timeout);
        let connection = client
            .get_connection_manager_with_config(config)
            .await
            .map_err(RedisBackendError::redis("connect"))?;
        let backend = self.with_connection(connection);
        backend.check_eviction_policy().await?;
        Ok(backend)
    }

    /// Uses an existing connection. Unlike [`connect`](Self::connect) it does not look at the
    /// server's `maxmemory-policy`: call [`RedisBackend::check_eviction_policy`] for that.
    ///
    /// # Errors
    /// As [`connect`](Self::connect), without the connection and policy errors.
    pub fn build(self, connection: ConnectionManager) -> Result<RedisBackend, RedisBackendError> {
        self.check()?;
        Ok(self.with_connection(connection))
    }

    fn with_connection(self, connection: ConnectionManager) -> RedisBackend {
        RedisBackend {
            connection,
            prefix: self.prefix(),
            settings: Arc::new(self),
            scripts: Arc::new(Scripts::new()),
        }
    }
}

/// Redis as the shared state of a connector's replicas: per portal, the token pair
/// ([`RedisTokenStore`]), the refresh lock ([`RedisRefreshLock`]) and the leaky bucket
/// ([`SharedBucket`]). Cheap to clone; clones share one multiplexed connection.
#[derive(Clone)]
pub struct RedisBackend {
    connection: ConnectionManager,
    prefix: String,
    settings: Arc<RedisBackendBuilder>,
    scripts: Arc<Scripts>,
}

impl RedisBackend {
    /// Starts configuring the backend of application `client_id` (its OAuth `client_id`, e.g.
    /// `app.0123456789abcd.12345678`), whose keys go under `imconnector:<client_id>` unless
    /// [`key_prefix`](RedisBackendBuilder::key_prefix) says otherwise.
    pub fn builder(client_id: &str) -> RedisBackendBuilder {
        RedisBackendBuilder::new(client_id)
    }

    /// Connects with the default settings for application `client_id`; see
    /// [`RedisBackendBuilder::connect`].
    ///
    /// # Errors
    /// As [`RedisBackendBuilder::connect`].
    pub async fn connect(url: &str, client_id: &str) -> Result<Self, RedisBackendError> {
        Self::builder(client_id).connect(url).await
    }

    /// Reads the server's `maxmemory-policy` and applies the builder's
    /// [`on_evicting_policy`](RedisBackendBuilder::on_evicting_policy) setting; returns the
    /// policy, `None` when Redis refuses to tell (then a warning is logged). `connect` calls it.
    ///
    /// # Errors
    /// [`RedisBackendError::EvictingPolicy`].
    pub async fn check_eviction_policy(&self) -> Result<Option<String>, RedisBackendError> {
        let policy = eviction::read_policy(&mut self.connection()).await;
        eviction::judge(policy.as_deref(), self.settings.evicting_policy)?;
        Ok(policy)
    }

    /// The connection, e.g. to inspect or clean up keys.
    pub fn connection(&self) -> ConnectionManager {
        self.connection.clone()
    }

    /// The key prefix.
    pub fn key_prefix(&self) -> &str {
        &self.prefix
    }

    pub(crate) fn scripts(&self) -> &Scripts {
        &self.scripts
    }

    fn keys(&self, member_id: &str) -> Result<Arc<PortalKeys>, RedisBackendError> {
        PortalKeys::new(&self.prefix, member_id).map(Arc::new)
    }

    /// The token store of portal `member_id`.
    ///
    /// # Errors
    /// [`RedisBackendError::InvalidMemberId`].
    pub fn token_store(&self, member_id: &str) -> Result<RedisTokenStore, RedisBackendError> {
        Ok(RedisTokenStore::new(
            self.connection.clone(),
            self.keys(member_id)?,
            Arc::from(member_id),
            Arc::clone(&self.scripts),
        ))
    }

    /// The refresh lock of portal `member_id`.
    ///
    /// # Errors
    /// [`RedisBackendError::InvalidMemberId`].
    pub fn refresh_lock(&self, member_id: &str) -> Result<RedisRefreshLock, RedisBackendError> {
        Ok(RedisRefreshLock {
            connection: self.connection.clone(),
            keys: self.keys(member_id)?,
            member_id: Arc::from(member_id),
            scripts: Arc::clone(&self.scripts),
            timing: self.settings.timing,
            unsaved: Arc::default(),
        })
    }

    /// The shared bucket of portal `member_id` for `rate_limit`, `None` for [`RateLimit::Off`]
    /// (or a zero rate or burst). Its numbers stay; see [`plan_bucket`](Self::plan_bucket) for
    /// one that follows the portal's plan.
    ///
    /// # Errors
    /// [`RedisBackendError::InvalidMemberId`].
    pub fn shared_bucket(
        &self,
        member_id: &str,
        rate_limit: RateLimit,
    ) -> Result<Option<SharedBucket>, RedisBackendError> {
        self.bucket(member_id, rate_limit, false)
    }

    /// The shared bucket of portal `member_id` that follows its plan: the standard bucket
    /// (50 + 2/s) until a client built without
    /// [`rate_limit`](imconnector_transport::ClientBuilder::rate_limit) has asked `app.info`,
    /// then the plan's (Enterprise 250 + 5/s), margins applied.
    ///
    /// # Errors
    /// [`RedisBackendError::InvalidMemberId`].
    pub fn plan_bucket(&self, member_id: &str) -> Result<SharedBucket, RedisBackendError> {
        self.bucket(member_id, RateLimit::Standard, true)?.ok_or(
            RedisBackendError::InvalidSetting {
                name: "rate_limit",
                reason: "the standard bucket paces".to_owned(),
            },
        )
    }

    fn bucket(
        &self,
        member_id: &str,
        rate_limit: RateLimit,
        follows_plan: bool,
    ) -> Result<Option<SharedBucket>, RedisBackendError> {
        let keys = self.keys(member_id)?;
        let shares = (self.settings.rate_share, self.settings.burst_share);
        let Some(numbers) = Numbers::new(rate_limit, shares, follows_plan) else {
            return Ok(None);
        };
        let fallback = Fallback::new(numbers.per_second(), numbers.capacity());
        Ok(Some(SharedBucket {
            connection: self.connection.clone(),
            keys,
            scripts: Arc::clone(&self.scripts),
            numbers: Arc::new(numbers),
            fallback: Arc::new(fallback),
        }))
    }

    /// Adds portal `member_id`'s token store, refresh lock and shared bucket (for `rate_limit`)
    /// to `builder`. Give the builder the pair [`RedisTokenStore::load_versioned`] returns, so
    /// every replica starts from the stored pair.
    ///
    /// # Errors
    /// [`RedisBackendError::InvalidMemberId`].
    pub fn configure(
        &self,
        member_id: &str,
        rate_limit: RateLimit,
        builder: ClientBuilder,
    ) -> Result<ClientBuilder, RedisBackendError> {
        let builder = self.coordinate(member_id, builder)?.rate_limit(rate_limit);
        Ok(match self.shared_bucket(member_id, rate_limit)? {
            Some(bucket) => builder.request_limiter(Arc::new(bucket)),
            None => builder,
        })
    }

    /// As [`configure`](Self::configure), with the [`plan_bucket`](Self::plan_bucket): the
    /// client (given no `rate_limit`) asks the portal's plan once and every replica's bucket
    /// follows it.
    ///
    /// # Errors
    /// [`RedisBackendError::InvalidMemberId`].
    pub fn configure_by_plan(
        &self,
        member_id: &str,
        builder: ClientBuilder,
    ) -> Result<ClientBuilder, RedisBackendError> {
        let bucket = self.plan_bucket(member_id)?;
        Ok(self
            .coordinate(member_id, builder)?
            .request_limiter(Arc::new(bucket)))
    }

    fn coordinate(
        &self,
        member_id: &str,
        builder: ClientBuilder,
    ) -> Result<ClientBuilder, RedisBackendError> {
        Ok(builder
            .token_store(Arc::new(self.token_store(member_id)?))
            .refresh_coordinator(Arc::new(self.refresh_lock(member_id)?)))
    }
}

impl std::fmt::Debug for RedisBackend {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("RedisBackend")
            .field("prefix", &self.prefix)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}
