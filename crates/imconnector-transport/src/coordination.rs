//! Seams for running several replicas against one portal: a refresh coordinator that replaces
//! the in-process refresh, and a request limiter that replaces the in-process leaky bucket.
//! Neither is used unless configured; `imconnector-redis` implements both on Redis.

use std::time::Duration;

use futures::future::BoxFuture;

use crate::{error::Error, policy::RateLimit, tokens::Tokens};

/// The OAuth `refresh_token` grant of a client, handed to a [`RefreshCoordinator`].
pub trait TokenExchange: Send + Sync {
    /// Exchanges the refresh token of `tokens` for a new pair at the OAuth server.
    ///
    /// Transient failures (no answer, a 5xx or HTML page) are already retried inside, within
    /// the client's [`RetryPolicy`](crate::RetryPolicy): one exchange can last up to its
    /// `max_elapsed` plus a request timeout, which a coordinator's lock should outlast.
    ///
    /// # Errors
    /// [`Error::ReauthorizationNeeded`] on `invalid_grant`, [`Error::RefreshFailed`] otherwise.
    fn exchange<'a>(&'a self, tokens: &'a Tokens) -> BoxFuture<'a, Result<Tokens, Error>>;
}

/// Makes one process refresh a portal's tokens while the others wait and take its new pair.
///
/// When configured ([`ClientBuilder::refresh_coordinator`](crate::ClientBuilder::refresh_coordinator)),
/// the client calls [`refresh`](Self::refresh) instead of loading, exchanging and saving on its
/// own; concurrent calls inside one client are still merged into one `refresh` first. The
/// coordinator owns persistence: the client does not call its
/// [`TokenStore`](crate::TokenStore) on this path.
pub trait RefreshCoordinator: Send + Sync + 'static {
    /// Returns the pair to use instead of `current`: a newer one another process stored, or one
    /// obtained with `exchange` (and stored) while holding the coordinator's lock.
    ///
    /// # Errors
    /// As [`TokenExchange::exchange`], or [`Error::TokenStore`] when the coordination itself
    /// failed (the client then keeps `current`).
    fn refresh<'a>(
        &'a self,
        current: &'a Tokens,
        exchange: &'a dyn TokenExchange,
    ) -> BoxFuture<'a, Result<Tokens, Error>>;
}

/// Paces requests to a portal in place of the client's in-process leaky bucket, e.g. one bucket
/// shared by every replica.
///
/// Configured with [`ClientBuilder::request_limiter`](crate::ClientBuilder::request_limiter);
/// the client's [`RateLimit`](crate::RateLimit) then no longer paces. Waiters of one client
/// take turns, so at most one of them waits inside [`until_ready`](Self::until_ready) at a time.
pub trait RequestLimiter: Send + Sync + 'static {
    /// Resolves when one more request may be sent. Infallible on purpose: a limiter that cannot
    /// reach its backend should degrade to pacing locally, since the portal still answers
    /// `QUERY_LIMIT_EXCEEDED`, which the client retries.
    fn until_ready(&self) -> BoxFuture<'_, ()>;

    /// The portal refused a request with `QUERY_LIMIT_EXCEEDED` although the limiter let it
    /// through: the bucket is fuller than the limiter thinks. A shared limiter should make every
    /// replica wait (e.g. count the bucket as full). `wait` is the refused caller's retry wait.
    /// Must not block; the default does nothing.
    fn push_back(&self, wait: Duration) {
        let _ = wait;
    }

    /// Whether this limiter paces by the portal's plan: then a client built without
    /// [`ClientBuilder::rate_limit`](crate::ClientBuilder::rate_limit) asks `app.info` once, as
    /// it does without a limiter, and hands the plan to [`adopt_plan`](Self::adopt_plan). The
    /// default (`false`) is a limiter with numbers of its own, which nothing changes.
    fn follows_plan(&self) -> bool {
        false
    }

    /// The portal's plan became known: pace by its bucket from now on (called once per client,
    /// only when [`follows_plan`](Self::follows_plan)). Must not block; the default does
    /// nothing.
    fn adopt_plan(&self, rate_limit: RateLimit) {
        let _ = rate_limit;
    }
}
