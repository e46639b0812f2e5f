//! [`RedisTokenStore`]: one portal's token pair in a Redis hash, versioned.

use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc,
};

use futures::future::BoxFuture;
use imconnector_transport::{secrecy::ExposeSecret, TokenStore, TokenStoreError, Tokens};
use redis::aio::ConnectionManager;

use crate::{error::RedisBackendError, keys::PortalKeys, record, scripts::Scripts};

/// A stored token pair and its version.
///
/// Versions only grow: every save takes the next number of one per-portal counter, which also
/// numbers the refresh lock's fences.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct VersionedTokens {
    /// The version of the pair (1 for the first save).
    pub version: u64,
    /// The pair.
    pub tokens: Tokens,
}

/// One portal's token pair in Redis, shared by every replica.
///
/// As a [`TokenStore`], [`save`](TokenStore::save) is a compare-and-set against the version this
/// store (and its clones) last loaded or saved: a writer that has not seen a newer pair cannot
/// overwrite it, and gets an error instead. Use [`replace`](Self::replace) for a pair that must
/// win (a new installation or re-authorisation). The client itself does not save through this
/// store when the portal's [`RedisRefreshLock`](crate::RedisRefreshLock) is configured: the lock
/// saves under its fence.
///
/// The pair is stored as JSON in plain text: protect Redis like any other secret store (ACLs,
/// a private network or TLS in front of it).
#[derive(Clone)]
pub struct RedisTokenStore {
    pub(crate) connection: ConnectionManager,
    pub(crate) keys: Arc<PortalKeys>,
    pub(crate) member_id: Arc<str>,
    pub(crate) scripts: Arc<Scripts>,
    /// The version last loaded or saved through this store (0: none yet).
    observed: Arc<AtomicU64>,
}

impl RedisTokenStore {
    pub(crate) fn new(
        connection: ConnectionManager,
        keys: Arc<PortalKeys>,
        member_id: Arc<str>,
        scripts: Arc<Scripts>,
    ) -> Self {
        Self {
            connection,
            keys,
            member_id,
            scripts,
            observed: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The portal this store belongs to.
    pub fn member_id(&self) -> &str {
        &self.member_id
    }

    /// The stored pair with its version, `None` when nothing is stored.
    ///
    /// # Errors
    /// [`RedisBackendError::Redis`], or [`RedisBackendError::Malformed`] when the hash was not
    /// written by this crate.
    pub async fn load_versioned(&self) -> Result<Option<VersionedTokens>, RedisBackendError> {
        let loaded = load(&mut self.connection.clone(), &self.keys.tokens).await?;
        if let Some(stored) = &loaded {
            self.observed.fetch_max(stored.version, Ordering::AcqRel);
        }
        Ok(loaded)
    }

    /// Stores `tokens` unconditionally under a new version, which outranks every stored pair and
    /// every refresh in flight (their late saves are then refused). For a new installation or a
    /// re-authorisation; returns the new version.
    ///
    /// # Errors
    /// [`RedisBackendError::Redis`].
    pub async fn replace(&self, tokens: &Tokens) -> Result<u64, RedisBackendError> {
        let pair = record::encode(tokens);
        let version: u64 = self
            .scripts
            .replace
            .key(&self.keys.tokens)
            .arg(pair.expose_secret())
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(RedisBackendError::redis("store a token pair"))?;
        self.observed.fetch_max(version, Ordering::AcqRel);
        Ok(version)
    }

    async fn save_if_unchanged(&self, tokens: &Tokens) -> Result<u64, RedisBackendError> {
        let expected = self.observed.load(Ordering::Acquire);
        let pair = record::encode(tokens);
        let (stored, version): (u8, u64) = self
            .scripts
            .save_if_version
            .key(&self.keys.tokens)
            .arg(pair.expose_secret())
            .arg(expected)
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(RedisBackendError::redis("store a token pair"))?;
        if stored == 1 {
            self.observed.fetch_max(version, Ordering::AcqRel);
            Ok(version)
        } else {
            Err(RedisBackendError::StaleWrite {
                member_id: self.member_id.to_string(),
                stored: version,
                seen: expected,
            })
        }
    }
}

impl std::fmt::Debug for RedisTokenStore {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("RedisTokenStore")
            .field("key", &self.keys.tokens)
            .field("observed_version", &self.observed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl TokenStore for RedisTokenStore {
    fn load(&self) -> BoxFuture<'_, Result<Option<Tokens>, TokenStoreError>> {
        Box::pin(async move {
            let loaded = self.load_versioned().await?;
            Ok(loaded.map(|stored| stored.tokens))
        })
    }

    fn save<'a>(&'a self, tokens: &'a Tokens) -> BoxFuture<'a, Result<(), TokenStoreError>> {
        Box::pin(async move {
            self.save_if_unchanged(tokens).await?;
            Ok(())
        })
    }
}

/// Reads the pair and its version from the token hash.
pub(crate) async fn load(
    connection: &mut ConnectionManager,
    key: &str,
) -> Result<Option<VersionedTokens>, RedisBackendError> {
    let (pair, version): (Option<String>, Option<u64>) = redis::cmd("HMGET")
        .arg(key)
        .arg("pair")
        .arg("version")
        .query_async(connection)
        .await
        .map_err(RedisBackendError::redis("read a token pair"))?;
    let malformed = |reason: String| RedisBackendError::Malformed {
        key: key.to_owned(),
        reason,
    };
    match (pair, version) {
        (None, _) => Ok(None),
        (Some(pair), Some(version)) => {
            // Wrapped at once so the exposed text does not outlive this function unguarded.
            let pair = imconnector_transport::secrecy::SecretString::from(pair);
            let tokens = record::decode(pair.expose_secret()).map_err(malformed)?;
            Ok(Some(VersionedTokens { version, tokens }))
        }
        (Some(_), None) => Err(malformed("a pair without a version".to_owned())),
    }
}
