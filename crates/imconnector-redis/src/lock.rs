//! [`RedisRefreshLock`]: one process refreshes a portal's tokens, the others take its pair.
//!
//! The protocol, per portal:
//! 1. Try to take the lock (`SET NX PX lease`). Taking it draws a *fence* from the counter that
//!    also numbers every stored pair, so the holder is ordered after everything stored so far.
//! 2. Waiters poll (the lock is rare and short; a poll every few tens of milliseconds costs less
//!    than keeping a pub/sub connection per portal). Whenever the stored version moves they
//!    re-read the pair and take it if it differs from theirs.
//! 3. The holder re-reads the stored pair (someone may have refreshed just before), exchanges the
//!    newest refresh token while renewing its lease, and stores the new pair under its fence,
//!    which fails if a newer pair got there first. Then it releases the lock.
//! 4. A holder that dies stops renewing; its lease expires and the next waiter takes over.
//! 5. A refresh refused with `invalid_grant` (another process rotated the token, e.g. after our
//!    lease lapsed) re-reads the store, waiting up to one lease for that process's save.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use futures::future::BoxFuture;
use imconnector_transport::{
    secrecy::ExposeSecret, Error, RefreshCoordinator, TokenExchange, Tokens,
};
use rand::Rng;
use redis::aio::ConnectionManager;

use crate::{
    error::RedisBackendError,
    keys::PortalKeys,
    record,
    scripts::Scripts,
    store::{self, VersionedTokens},
};

/// How many times a refreshed pair is offered to Redis before giving up on storing it.
const SAVE_ATTEMPTS: u32 = 5;

/// Timing of the refresh lock.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LockTiming {
    /// How long the lock outlives its holder's last renewal.
    pub(crate) lease: Duration,
    /// How long a waiter waits for another process's refresh, and how long a holder renews.
    pub(crate) max_wait: Duration,
    /// The pause between two polls of a waiter (with jitter).
    pub(crate) poll: Duration,
}

/// The refresh lock of one portal, shared by every replica through Redis; a
/// [`RefreshCoordinator`] for
/// [`ClientBuilder::refresh_coordinator`](imconnector_transport::ClientBuilder::refresh_coordinator).
///
/// See the [module docs](crate#the-refresh-lock) for the protocol.
#[derive(Clone)]
pub struct RedisRefreshLock {
    pub(crate) connection: ConnectionManager,
    pub(crate) keys: Arc<PortalKeys>,
    pub(crate) member_id: Arc<str>,
    pub(crate) scripts: Arc<Scripts>,
    pub(crate) timing: LockTiming,
    /// A refreshed pair (and its fence) whose save failed: offered again until stored.
    pub(crate) unsaved: Arc<std::sync::Mutex<Option<(Tokens, u64)>>>,
}

/// The outcome of one attempt to take the lock.
enum Attempt {
    Taken { fence: u64 },
    Busy { remaining: Duration, version: u64 },
}

impl RedisRefreshLock {
    /// The portal this lock belongs to.
    pub fn member_id(&self) -> &str {
        &self.member_id
    }

    /// Whether a process holds the lock now (it is refreshing, or died less than a lease ago).
    ///
    /// # Errors
    /// [`RedisBackendError::Redis`].
    pub async fn is_held(&self) -> Result<bool, RedisBackendError> {
        let exists: u8 = redis::cmd("EXISTS")
            .arg(&self.keys.lock)
            .query_async(&mut self.connection.clone())
            .await
            .map_err(RedisBackendError::redis("look at the refresh lock"))?;
        Ok(exists == 1)
    }

    async fn coordinate(
        &self,
        current: &Tokens,
        exchange: &dyn TokenExchange,
    ) -> Result<Tokens, Error> {
        self.save_unsaved().await;
        let started = Instant::now();
        let lease_id = format!("{:032x}", rand::rng().random::<u128>());
        let mut checked_version = None;
        loop {
            match self.try_acquire(&lease_id).await? {
                Attempt::Taken { fence } => {
                    return self
                        .refresh_holding(current, exchange, &lease_id, fence)
                        .await
                }
                Attempt::Busy { remaining, version } => {
                    if checked_version != Some(version) {
                        checked_version = Some(version);
                        if let Some(stored) = self.load().await? {
                            if !stored.tokens.same_access_token(current) {
                                tracing::info!(
                                    member_id = %self.member_id,
                                    version = stored.version,
                                    "another process refreshed the tokens; taking its pair"
                                );
                                return Ok(stored.tokens);
                            }
                        }
                    }
                    if started.elapsed() >= self.timing.max_wait {
                        return Err(Error::RefreshFailed {
                            code: None,
                            http_status: None,
                            reason: format!(
                                "another process has held the refresh lock of portal `{}` for more than {:?}",
                                self.member_id, self.timing.max_wait
                            ),
                            source: None,
                        });
                    }
                    tokio::time::sleep(self.poll_pause(remaining)).await;
                }
            }
        }
    }

    /// The refresh itself, while holding the lock.
    async fn refresh_holding(
        &self,
        current: &Tokens,
        exchange: &dyn TokenExchange,
        lease_id: &str,
        fence: u64,
    ) -> Result<Tokens, Error> {
        let mut tried: Option<Tokens> = None;
        let work = async {
            let base = match self.load().await? {
                // Ours is newer (a pair whose save failed lives on in memory): it wins, since
                // the stored one's refresh token died when ours was issued.
                Some(stored) if is_older(&stored.tokens, current) => current.clone(),
                Some(stored) if !stored.tokens.same_access_token(current) => {
                    if !record::is_expired(&stored.tokens) {
                        tracing::info!(member_id = %self.member_id, version = stored.version, "a newer pair was stored before we got the lock; taking it");
                        return Ok(stored.tokens);
                    }
                    // Newer than ours but expired: its refresh token is the live one.
                    stored.tokens
                }
                _ => current.clone(),
            };
            tried = Some(base.clone());
            let fresh = exchange.exchange(&base).await?;
            Ok::<Tokens, Error>(self.store_refreshed(fresh, fence).await)
        };
        let outcome = self.renewing(work, lease_id).await;
        self.release(lease_id).await;
        match outcome {
            Ok(tokens) => Ok(tokens),
            Err(error) => {
                let base = tried.as_ref().unwrap_or(current);
                let patience = match error {
                    // The token may have been rotated by a process whose save is in flight.
                    Error::ReauthorizationNeeded { .. } => self.timing.lease,
                    _ => Duration::ZERO,
                };
                match self.wait_for_newer(base, patience).await {
                    Some(stored) => {
                        tracing::info!(member_id = %self.member_id, version = stored.version, %error, "refresh failed but another process stored a newer pair; taking it");
                        Ok(stored.tokens)
                    }
                    None => Err(error),
                }
            }
        }
    }

    /// Stores `fresh` under `fence`; returns the pair everyone should use.
    async fn store_refreshed(&self, fresh: Tokens, fence: u64) -> Tokens {
        for attempt in 1..=SAVE_ATTEMPTS {
            match self.save_fenced(&fresh, fence).await {
                Ok((1, _)) => return fresh,
                Ok((_, stored)) => {
                    // A re-installation or a later holder stored a newer pair: converge on it.
                    tracing::warn!(member_id = %self.member_id, fence, stored, "a newer pair was stored while refreshing; using it");
                    return match self.load().await {
                        Ok(Some(newer)) => newer.tokens,
                        _ => fresh,
                    };
                }
                Err(error) => {
                    tracing::warn!(member_id = %self.member_id, attempt, %error, "storing the refreshed pair failed");
                    tokio::time::sleep(Duration::from_millis(50) * attempt).await;
                }
            }
        }
        // The new pair works; the old refresh token is dead. Other replicas cannot refresh until
        // it is stored: keep offering it, at the next refresh and in the background.
        tracing::error!(member_id = %self.member_id, "the refreshed pair could not be stored in Redis yet; retrying in the background");
        *lock_unsaved(&self.unsaved) = Some((fresh.clone(), fence));
        let retry = self.clone();
        tokio::spawn(async move {
            for attempt in 1..=SAVE_ATTEMPTS * 4 {
                tokio::time::sleep(Duration::from_millis(500) * attempt.min(10)).await;
                if retry.save_unsaved().await {
                    return;
                }
            }
        });
        fresh
    }

    /// Offers again a refreshed pair whose save failed, under its fence (a newer pair stored
    /// since wins, as always). Returns whether nothing is left unsaved.
    async fn save_unsaved(&self) -> bool {
        let Some((tokens, fence)) = lock_unsaved(&self.unsaved).clone() else {
            return true;
        };
        match self.save_fenced(&tokens, fence).await {
            Ok((stored, _)) => {
                if stored == 1 {
                    tracing::info!(member_id = %self.member_id, fence, "the refreshed pair is stored at last");
                }
                let mut unsaved = lock_unsaved(&self.unsaved);
                if unsaved
                    .as_ref()
                    .is_some_and(|(_, pending)| *pending == fence)
                {
                    *unsaved = None;
                }
                true
            }
            Err(error) => {
                tracing::warn!(member_id = %self.member_id, %error, "the refreshed pair still cannot be stored");
                false
            }
        }
    }

    /// Stores `tokens` under `fence` unless a newer fence holds the key: `(1, _)` when stored,
    /// `(0, stored fence)` when a newer pair won.
    async fn save_fenced(&self, tokens: &Tokens, fence: u64) -> redis::RedisResult<(u8, u64)> {
        let pair = record::encode(tokens);
        self.scripts
            .save_fenced
            .key(&self.keys.tokens)
            .arg(pair.expose_secret())
            .arg(fence)
            .invoke_async(&mut self.connection.clone())
            .await
    }

    /// Runs `work`, renewing the lease meanwhile (for at most `max_wait`). Dropping the returned
    /// future stops the renewal, so the lease of a holder that dies or is cancelled lapses.
    async fn renewing<T>(&self, work: impl std::future::Future<Output = T>, lease_id: &str) -> T {
        let started = Instant::now();
        let mut ticker = tokio::time::interval(self.timing.lease / 3);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        tokio::pin!(work);
        loop {
            tokio::select! {
                result = &mut work => return result,
                _ = ticker.tick(), if started.elapsed() < self.timing.max_wait => {
                    self.renew(lease_id).await;
                }
            }
        }
    }

    /// Polls the store for a pair other than `base`, for up to `patience`.
    async fn wait_for_newer(&self, base: &Tokens, patience: Duration) -> Option<VersionedTokens> {
        let deadline = Instant::now() + patience;
        loop {
            match self.load().await {
                Ok(Some(stored)) if !stored.tokens.same_access_token(base) => return Some(stored),
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(member_id = %self.member_id, %error, "cannot re-read the token pair")
                }
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(self.poll_pause(patience)).await;
        }
    }

    async fn try_acquire(&self, lease_id: &str) -> Result<Attempt, RedisBackendError> {
        let (taken, number, version): (u8, i64, u64) = self
            .scripts
            .acquire
            .key(&self.keys.lock)
            .key(&self.keys.tokens)
            .arg(lease_id)
            .arg(millis(self.timing.lease))
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(RedisBackendError::redis("take the refresh lock"))?;
        Ok(if taken == 1 {
            Attempt::Taken {
                fence: u64::try_from(number).unwrap_or_default(),
            }
        } else {
            // PTTL is -1 for a lock without expiry (never written by us) and -2 once gone.
            let remaining = u64::try_from(number).map_or(Duration::ZERO, Duration::from_millis);
            Attempt::Busy { remaining, version }
        })
    }

    async fn renew(&self, lease_id: &str) {
        let renewed: Result<u8, _> = self
            .scripts
            .renew
            .key(&self.keys.lock)
            .arg(lease_id)
            .arg(millis(self.timing.lease))
            .invoke_async(&mut self.connection.clone())
            .await;
        match renewed {
            Ok(1) => {}
            // Fencing keeps a late save from overwriting the new holder's pair.
            Ok(_) => {
                tracing::warn!(member_id = %self.member_id, "the refresh lease lapsed while refreshing")
            }
            Err(error) => {
                tracing::warn!(member_id = %self.member_id, %error, "cannot renew the refresh lease")
            }
        }
    }

    async fn release(&self, lease_id: &str) {
        let released: Result<u8, _> = self
            .scripts
            .release
            .key(&self.keys.lock)
            .arg(lease_id)
            .invoke_async(&mut self.connection.clone())
            .await;
        if let Err(error) = released {
            // The lease expires on its own; waiters are only delayed.
            tracing::warn!(member_id = %self.member_id, %error, "cannot release the refresh lock");
        }
    }

    async fn load(&self) -> Result<Option<VersionedTokens>, RedisBackendError> {
        store::load(&mut self.connection.clone(), &self.keys.tokens).await
    }

    /// The poll interval with jitter, never past the end of the holder's lease.
    fn poll_pause(&self, remaining: Duration) -> Duration {
        let jitter = rand::rng().random_range(0.75..=1.25);
        let pause = self.timing.poll.mul_f64(jitter);
        if remaining.is_zero() {
            pause
        } else {
            pause.min(remaining + Duration::from_millis(1))
        }
    }
}

impl RefreshCoordinator for RedisRefreshLock {
    fn refresh<'a>(
        &'a self,
        current: &'a Tokens,
        exchange: &'a dyn TokenExchange,
    ) -> BoxFuture<'a, Result<Tokens, Error>> {
        Box::pin(self.coordinate(current, exchange))
    }
}

impl std::fmt::Debug for RedisRefreshLock {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("RedisRefreshLock")
            .field("key", &self.keys.lock)
            .field("lease", &self.timing.lease)
            .field("max_wait", &self.timing.max_wait)
            .finish_non_exhaustive()
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// Whether `stored` is known to be older than `ours` (an earlier expiry). In whole seconds: the
/// stored form keeps no more, while a pair in memory computed from `expires_in` has a fraction,
/// which would make a pair stored within the same second look older than the one it replaced.
fn is_older(stored: &Tokens, ours: &Tokens) -> bool {
    let seconds = |at: std::time::SystemTime| {
        at.duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_secs())
    };
    matches!((stored.expires_at, ours.expires_at), (Some(theirs), Some(mine)) if seconds(theirs) < seconds(mine))
}

fn lock_unsaved(
    unsaved: &std::sync::Mutex<Option<(Tokens, u64)>>,
) -> std::sync::MutexGuard<'_, Option<(Tokens, u64)>> {
    unsaved
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn a_pair_stored_within_the_same_second_is_not_older() {
        let at = UNIX_EPOCH + Duration::from_secs(1_900_000_000);
        let ours = Tokens::new("a-1", "r-1").with_expires_at(at + Duration::from_millis(700));
        // Issued after ours, but stored in whole seconds.
        let stored = decode_stored(
            &Tokens::new("a-2", "r-2").with_expires_at(at + Duration::from_millis(900)),
        );
        assert!(!is_older(&stored, &ours));
        let earlier = Tokens::new("a-0", "r-0").with_expires_at(at - Duration::from_secs(1));
        assert!(is_older(&earlier, &ours));
    }

    fn decode_stored(tokens: &Tokens) -> Tokens {
        record::decode(record::encode(tokens).expose_secret()).expect("round trip")
    }
}
