//! Keep-alive: each stored portal's pair is refreshed before its refresh token dies of
//! idleness.
//!
//! A refresh token lives 180 days and every refresh replaces it (`settings/oauth`); a portal
//! whose application calls nothing for that long (no messages sent, no events answered) is
//! lost until it is installed again. [`PortalRegistry::keep_alive`] walks the store every
//! [`KeepAlive::interval`] and refreshes each pair issued more than [`KeepAlive::max_idle`]
//! ago through the portal's own client, so the refreshed pair goes where that client keeps its
//! pairs: with a shared store (`imconnector_redis::RedisPortals`) the portal's refresh lock
//! makes one replica refresh while the others take its pair, so replicas running a keep-alive
//! each refresh a portal once between them.

use std::time::{Duration, SystemTime};

use futures::{stream, StreamExt};

use super::{PortalRegistry, PortalStore, RegistryError};
use crate::{InvalidRequest, Tokens};

/// How long a refresh token lives (`settings/oauth`): a pair not refreshed for this long is
/// dead.
pub const REFRESH_TOKEN_LIFETIME: Duration = Duration::from_secs(180 * 24 * 3600);
/// The default longest time a pair stays unrefreshed: well within [`REFRESH_TOKEN_LIFETIME`].
pub const DEFAULT_MAX_IDLE: Duration = Duration::from_secs(30 * 24 * 3600);
/// The default pause between two walks of the store.
pub const DEFAULT_KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(3600);
/// The default number of portals refreshed at once.
pub const DEFAULT_KEEP_ALIVE_CONCURRENCY: usize = 4;

/// The access token's documented lifetime, to date a pair stored without its issue time (one
/// written before [`Tokens::issued_at`] existed) from its expiry.
const ACCESS_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// When and how [`PortalRegistry::keep_alive`] refreshes idle pairs.
#[derive(Debug, Clone, Copy)]
pub struct KeepAlive {
    max_idle: Duration,
    interval: Duration,
    concurrency: usize,
}

impl Default for KeepAlive {
    fn default() -> Self {
        Self {
            max_idle: DEFAULT_MAX_IDLE,
            interval: DEFAULT_KEEP_ALIVE_INTERVAL,
            concurrency: DEFAULT_KEEP_ALIVE_CONCURRENCY,
        }
    }
}

impl KeepAlive {
    /// The defaults: [`DEFAULT_MAX_IDLE`], [`DEFAULT_KEEP_ALIVE_INTERVAL`],
    /// [`DEFAULT_KEEP_ALIVE_CONCURRENCY`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Refreshes a pair once it was issued this long ago (default [`DEFAULT_MAX_IDLE`]).
    ///
    /// # Errors
    /// [`InvalidRequest`] naming `max_idle` when it is zero, or when it and the
    /// [`interval`](Self::interval) together reach [`REFRESH_TOKEN_LIFETIME`] (a pair could die
    /// between two walks).
    pub fn max_idle(mut self, max_idle: Duration) -> Result<Self, InvalidRequest> {
        Self::check("max_idle", max_idle, self.interval)?;
        self.max_idle = max_idle;
        Ok(self)
    }

    /// Walks the store this often (default [`DEFAULT_KEEP_ALIVE_INTERVAL`]).
    ///
    /// # Errors
    /// [`InvalidRequest`] naming `interval` when it is zero, or when it and
    /// [`max_idle`](Self::max_idle) together reach [`REFRESH_TOKEN_LIFETIME`].
    pub fn interval(mut self, interval: Duration) -> Result<Self, InvalidRequest> {
        Self::check("interval", interval, self.max_idle)?;
        self.interval = interval;
        Ok(self)
    }

    /// Refreshes at most this many portals at once (default
    /// [`DEFAULT_KEEP_ALIVE_CONCURRENCY`]), so a walk that finds many idle portals (all
    /// installed the same day) does not burst at the OAuth server.
    ///
    /// # Errors
    /// [`InvalidRequest`] naming `concurrency` when it is zero.
    pub fn concurrency(mut self, concurrency: usize) -> Result<Self, InvalidRequest> {
        if concurrency == 0 {
            return Err(InvalidRequest::new("concurrency", "must be at least 1"));
        }
        self.concurrency = concurrency;
        Ok(self)
    }

    /// The longest time a pair stays unrefreshed.
    pub fn idle_limit(&self) -> Duration {
        self.max_idle
    }

    /// The pause between two walks.
    pub fn walk_interval(&self) -> Duration {
        self.interval
    }

    fn check(name: &'static str, value: Duration, other: Duration) -> Result<(), InvalidRequest> {
        if value.is_zero() {
            return Err(InvalidRequest::new(name, "must be longer than zero"));
        }
        if value.saturating_add(other) >= REFRESH_TOKEN_LIFETIME {
            return Err(InvalidRequest::new(
                name,
                "max_idle and interval together must stay below the refresh token's 180 days",
            ));
        }
        Ok(())
    }

    /// Whether a pair issued at `issued` (unknown: assumed long ago) is due at `now`.
    fn is_due(&self, issued: Option<SystemTime>, now: SystemTime) -> bool {
        issued.is_none_or(|issued| issued + self.max_idle <= now)
    }
}

/// Why one portal could not be kept alive.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeepAliveError {
    /// The portal's record or client could not be had.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The refresh failed ([`Error::ReauthorizationNeeded`](crate::Error::ReauthorizationNeeded)
    /// when the pair is dead already).
    #[error("refreshing the pair of portal {member_id:?} failed: {source}")]
    Refresh {
        /// The portal.
        member_id: String,
        /// The client's error.
        #[source]
        source: crate::Error,
    },
}

/// What one walk of the store did.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct KeepAliveReport {
    /// How many stored portals were looked at.
    pub checked: usize,
    /// The portals whose pair was refreshed (by this process or, with a shared store, by the
    /// replica holding the refresh lock).
    pub refreshed: Vec<String>,
    /// The portals that could not be kept alive.
    pub failed: Vec<KeepAliveError>,
}

impl<S: PortalStore> PortalRegistry<S> {
    /// Keeps every stored portal's pair alive, walking the store every
    /// [`KeepAlive::interval`] (the first walk at once) for as long as the future runs: spawn
    /// it next to your server. Failures are logged, and retried at the next walk.
    pub async fn keep_alive(&self, policy: KeepAlive) {
        let mut walks = tokio::time::interval(policy.interval);
        walks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            walks.tick().await;
            match self.keep_alive_once(&policy, SystemTime::now()).await {
                Ok(report) => {
                    for failure in &report.failed {
                        tracing::warn!(error = %failure, "keep-alive: a portal's pair could not be refreshed");
                    }
                    tracing::debug!(
                        checked = report.checked,
                        refreshed = report.refreshed.len(),
                        failed = report.failed.len(),
                        "keep-alive walk done"
                    );
                }
                Err(error) => {
                    tracing::warn!(%error, "keep-alive: the portals could not be listed");
                }
            }
        }
    }

    /// One walk of [`keep_alive`](Self::keep_alive) as of `now` (a test may pass a later
    /// time than the system's, as the emulator's clock can be advanced): refreshes each
    /// portal whose newest pair was issued [`KeepAlive::max_idle`] or more before `now`.
    ///
    /// # Errors
    /// [`RegistryError::Store`] when the portals cannot be listed; one portal's failure is in
    /// the report instead.
    pub async fn keep_alive_once(
        &self,
        policy: &KeepAlive,
        now: SystemTime,
    ) -> Result<KeepAliveReport, RegistryError> {
        let members = self.portals().await?;
        let mut report = KeepAliveReport {
            checked: members.len(),
            ..KeepAliveReport::default()
        };
        let mut outcomes = stream::iter(members)
            .map(|member_id| async move {
                let outcome = self.keep_portal_alive(&member_id, policy, now).await;
                (member_id, outcome)
            })
            .buffer_unordered(policy.concurrency);
        while let Some((member_id, outcome)) = outcomes.next().await {
            match outcome {
                Ok(true) => report.refreshed.push(member_id),
                Ok(false) => {}
                Err(error) => report.failed.push(error),
            }
        }
        Ok(report)
    }

    /// Refreshes portal `member_id`'s pair if due; `true` when refreshed.
    async fn keep_portal_alive(
        &self,
        member_id: &str,
        policy: &KeepAlive,
        now: SystemTime,
    ) -> Result<bool, KeepAliveError> {
        // The stored pair is the newest with a shared store; with a memory store a client
        // built before keeps the newest (its refreshes are not written back to the record).
        let Some(record) = self
            .store
            .load(member_id)
            .await
            .map_err(RegistryError::from)?
        else {
            return Ok(false); // uninstalled since it was listed
        };
        let cached = self.read().get(member_id).and_then(crate::Client::tokens);
        let judged = match cached {
            Some(cached) if issued(&cached) > issued(&record.tokens) => cached,
            _ => record.tokens,
        };
        if !policy.is_due(issued(&judged), now) {
            return Ok(false);
        }
        let client = self.client_for(member_id).await?;
        let failed = |source| KeepAliveError::Refresh {
            member_id: member_id.to_owned(),
            source,
        };
        let fresh = client.refresh_tokens().await.map_err(failed)?;
        if fresh.same_access_token(&judged) {
            // The client's pair was older than the one judged, so its refresh only took the
            // stored pair (another replica's): refresh that one now.
            client.refresh_tokens().await.map_err(failed)?;
        }
        tracing::info!(member_id, "keep-alive: an idle portal's pair refreshed");
        Ok(true)
    }
}

/// When `tokens` were issued: as recorded, else dated from the access token's expiry.
fn issued(tokens: &Tokens) -> Option<SystemTime> {
    tokens.issued_at.or_else(|| {
        tokens
            .expires_at
            .and_then(|expires| expires.checked_sub(ACCESS_TOKEN_LIFETIME))
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(24 * 3600);

    #[test]
    fn settings_that_could_let_a_pair_die_are_refused_by_name() {
        let error = KeepAlive::new().max_idle(Duration::ZERO).unwrap_err();
        assert_eq!(error.parameter, "max_idle");
        let error = KeepAlive::new().max_idle(180 * DAY).unwrap_err();
        assert_eq!(error.parameter, "max_idle");
        let error = KeepAlive::new()
            .max_idle(170 * DAY)
            .unwrap()
            .interval(10 * DAY)
            .unwrap_err();
        assert_eq!(error.parameter, "interval");
        assert_eq!(
            KeepAlive::new().concurrency(0).unwrap_err().parameter,
            "concurrency"
        );
    }

    #[test]
    fn a_pair_is_due_once_issued_max_idle_ago_or_when_its_age_is_unknown() {
        let policy = KeepAlive::new();
        let now = SystemTime::now();
        assert!(!policy.is_due(Some(now - 29 * DAY), now));
        assert!(policy.is_due(Some(now - 30 * DAY), now));
        assert!(policy.is_due(None, now));
        let old = Tokens::new("a", "r").with_expires_at(now - 40 * DAY);
        assert!(policy.is_due(issued(&old), now));
        let fresh = Tokens::new("a", "r").with_expires_in(Duration::from_secs(3600));
        assert!(!policy.is_due(issued(&fresh), now));
    }
}
