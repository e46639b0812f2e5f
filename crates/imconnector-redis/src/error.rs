//! The error of the Redis backend.

use imconnector_transport::TokenStoreError;

/// Why the Redis backend could not do something.
///
/// Never carries a token, a client secret or the Redis URL (which may hold a password).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisBackendError {
    /// A `member_id` that cannot name a portal's keys.
    #[error("invalid `member_id` {member_id:?}: {reason}")]
    InvalidMemberId {
        /// The id (its first 40 characters).
        member_id: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A key prefix with braces, spaces or control characters, or empty.
    #[error("invalid key `prefix` {prefix:?}: use 1 to 128 printable ASCII characters without braces or spaces")]
    InvalidPrefix {
        /// The prefix (its first 40 characters).
        prefix: String,
    },
    /// A setting out of range.
    #[error("invalid setting `{name}`: {reason}")]
    InvalidSetting {
        /// The setting.
        name: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The Redis URL could not be parsed (the URL is not repeated: it may hold a password).
    #[error("the Redis URL is not valid ({kind})")]
    InvalidUrl {
        /// The client library's classification of the problem.
        kind: String,
    },
    /// Redis may evict keys without an expiry (an `allkeys-*` `maxmemory-policy`), so a portal's
    /// token pair or record could vanish.
    #[error("Redis runs with `maxmemory-policy {policy}` and may evict portal tokens and records: set `noeviction` (or a `volatile-*` policy), or accept the risk with `on_evicting_policy(EvictingPolicy::Warn)`")]
    EvictingPolicy {
        /// The server's policy.
        policy: String,
    },
    /// Redis could not be reached or refused a command.
    #[error("redis failed to {action}")]
    Redis {
        /// What was being done.
        action: &'static str,
        /// The client library's error.
        #[source]
        source: redis::RedisError,
    },
    /// A compare-and-set save lost: a newer pair is stored than the one the writer last saw.
    #[error("a newer token pair (version {stored}) is stored for portal `{member_id}` than the one this writer last saw (version {seen}); load it instead of overwriting it")]
    StaleWrite {
        /// The portal.
        member_id: String,
        /// The stored version.
        stored: u64,
        /// The version the writer last saw.
        seen: u64,
    },
    /// Redis holds something this crate did not write in that shape.
    #[error("malformed data at `{key}`: {reason}")]
    Malformed {
        /// The key.
        key: String,
        /// What is wrong (never the data itself: it may hold tokens).
        reason: String,
    },
}

impl RedisBackendError {
    pub(crate) fn redis(action: &'static str) -> impl FnOnce(redis::RedisError) -> Self {
        move |source| Self::Redis { action, source }
    }
}

impl From<RedisBackendError> for TokenStoreError {
    fn from(error: RedisBackendError) -> Self {
        let message = error.to_string();
        TokenStoreError::with_source(message, error)
    }
}

impl From<RedisBackendError> for imconnector_transport::Error {
    fn from(error: RedisBackendError) -> Self {
        imconnector_transport::Error::TokenStore(error.into())
    }
}
