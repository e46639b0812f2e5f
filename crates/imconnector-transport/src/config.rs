//! Client configuration: the builder, the rate-limit profiles and the retry policy.

use std::{fmt, sync::Arc, time::Duration};

use rand::Rng;
use secrecy::SecretString;

use crate::{
    client::Client,
    coordination::{RefreshCoordinator, RequestLimiter},
    error::Error,
    store::TokenStore,
    tokens::{OAuthApp, Tokens},
};

/// The public Bitrix24 OAuth server's token endpoint.
pub const DEFAULT_OAUTH_SERVER: &str = "https://oauth.bitrix.info/oauth/token/";

/// The portal's leaky bucket, which the client paces itself under.
///
/// The client keeps a safety margin below the numbers given here (10% of the rate, and a tenth
/// of the burst, at least one request), because requests can reach the portal closer together
/// than they left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RateLimit {
    /// Every plan but Enterprise: drains 2 requests a second, burst of 50.
    #[default]
    Standard,
    /// Enterprise plans: 5 requests a second, burst of 250.
    Enterprise,
    /// Another bucket (an on-premise portal, a test server).
    Custom {
        /// Requests drained per second.
        per_second: u32,
        /// Requests the bucket holds before the portal rejects.
        burst: u32,
    },
    /// No client-side pacing (the portal's answers are still retried).
    Off,
}

impl RateLimit {
    /// The portal's (rate per second, burst), `None` for [`RateLimit::Off`].
    pub fn portal_numbers(&self) -> Option<(u32, u32)> {
        match *self {
            RateLimit::Standard => Some((2, 50)),
            RateLimit::Enterprise => Some((5, 250)),
            RateLimit::Custom { per_second, burst } => Some((per_second, burst)),
            RateLimit::Off => None,
        }
    }

    /// The (interval between requests, burst) the client actually uses, margin included.
    pub(crate) fn paced(&self) -> Option<(Duration, u32)> {
        let (per_second, burst) = self.portal_numbers()?;
        if per_second == 0 || burst == 0 {
            return None;
        }
        let interval = Duration::from_secs_f64(1.0 / (f64::from(per_second) * 0.9));
        let burst = burst.saturating_sub((burst / 10).max(1)).max(1);
        Some((interval, burst))
    }
}

/// When and how long the client retries on its own.
///
/// Requests the portal rejected before doing any work (`QUERY_LIMIT_EXCEEDED`,
/// `OPERATION_TIME_LIMIT`) and failures where nothing was sent are always retried; transport
/// failures and 5xx answers after the request may have been received are retried only for
/// idempotent methods. Retrying stops after `max_attempts` attempts or when the next wait would
/// end more than `max_elapsed` after the first attempt was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included; 1 disables retries.
    pub max_attempts: u32,
    /// The wait before the first retry; doubled for each further one.
    pub initial_backoff: Duration,
    /// The longest wait between two attempts.
    pub max_backoff: Duration,
    /// The bound on the total time from the first attempt to the last one.
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(10),
            max_elapsed: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The wait before retry number `retry` (1-based): exponential, capped, with "equal jitter"
    /// (half fixed, half random) so clients that failed together do not return together.
    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        let exponent = retry.saturating_sub(1).min(20);
        let ceiling = self
            .initial_backoff
            .saturating_mul(1 << exponent)
            .min(self.max_backoff);
        let half = ceiling / 2;
        let jitter = rand::rng().random_range(0.0..=1.0);
        half + half.mul_f64(jitter)
    }
}

#[derive(Clone)]
pub(crate) enum AuthConfig {
    OAuth { app: OAuthApp, tokens: Box<Tokens> },
    Webhook(SecretString),
}

/// Configures a [`Client`]; start with [`Client::builder`].
///
/// Either [`oauth`](Self::oauth) (every `imconnector.*` method needs it) or
/// [`webhook`](Self::webhook) is required. With OAuth the REST base comes from
/// [`portal`](Self::portal) or else from the tokens' `client_endpoint`.
#[derive(Clone)]
#[must_use]
pub struct ClientBuilder {
    pub(crate) portal: Option<String>,
    pub(crate) auth: Option<AuthConfig>,
    pub(crate) oauth_server: String,
    pub(crate) token_store: Option<Arc<dyn TokenStore>>,
    pub(crate) refresh_coordinator: Option<Arc<dyn RefreshCoordinator>>,
    pub(crate) request_limiter: Option<Arc<dyn RequestLimiter>>,
    pub(crate) connect_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) rate_limit: RateLimit,
    pub(crate) retry_policy: RetryPolicy,
    pub(crate) user_agent: String,
    pub(crate) operating_time_limit: Option<Duration>,
    pub(crate) refresh_margin: Duration,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self {
            portal: None,
            auth: None,
            oauth_server: DEFAULT_OAUTH_SERVER.to_owned(),
            token_store: None,
            refresh_coordinator: None,
            request_limiter: None,
            connect_timeout: Duration::from_secs(10),
            // The cloud cuts requests at 60 s; give up a little earlier to see our own timeout.
            request_timeout: Duration::from_secs(55),
            rate_limit: RateLimit::Standard,
            retry_policy: RetryPolicy::default(),
            user_agent: concat!("imconnector-rs/", env!("CARGO_PKG_VERSION")).to_owned(),
            operating_time_limit: Some(Duration::from_secs(480)),
            refresh_margin: Duration::from_secs(60),
        }
    }
}

impl ClientBuilder {
    /// The portal's REST base, e.g. `https://example.bitrix24.com/rest/` (a missing `/rest/` is
    /// not added: give the base exactly; a missing trailing slash is).
    pub fn portal(mut self, rest_base: impl Into<String>) -> Self {
        self.portal = Some(rest_base.into());
        self
    }

    /// Authenticates with an OAuth application's tokens, refreshed when they expire.
    pub fn oauth(mut self, app: OAuthApp, tokens: Tokens) -> Self {
        self.auth = Some(AuthConfig::OAuth {
            app,
            tokens: Box::new(tokens),
        });
        self
    }

    /// Authenticates with an incoming webhook, `https://{portal}/rest/{user}/{code}/`. Methods
    /// that accept only OAuth (all `imconnector.*`, `event.*`) then fail locally.
    pub fn webhook(mut self, url: impl Into<String>) -> Self {
        self.auth = Some(AuthConfig::Webhook(SecretString::from(url.into())));
        self
    }

    /// The OAuth token endpoint (default [`DEFAULT_OAUTH_SERVER`]).
    pub fn oauth_server(mut self, url: impl Into<String>) -> Self {
        self.oauth_server = url.into();
        self
    }

    /// Where refreshed tokens are saved (default: [`MemoryTokenStore`](crate::MemoryTokenStore)).
    pub fn token_store(mut self, store: Arc<dyn TokenStore>) -> Self {
        self.token_store = Some(store);
        self
    }

    /// Coordinates refreshes with other processes (default: none, refreshes are single-flight
    /// within this client only). See [`RefreshCoordinator`].
    pub fn refresh_coordinator(mut self, coordinator: Arc<dyn RefreshCoordinator>) -> Self {
        self.refresh_coordinator = Some(coordinator);
        self
    }

    /// Paces requests with `limiter` instead of the in-process bucket of
    /// [`rate_limit`](Self::rate_limit) (default: none). See [`RequestLimiter`].
    pub fn request_limiter(mut self, limiter: Arc<dyn RequestLimiter>) -> Self {
        self.request_limiter = Some(limiter);
        self
    }

    /// The TCP/TLS connect timeout (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The timeout of one HTTP request, answer included (default 55 s; the cloud cuts at 60 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// The portal's rate-limit profile (default [`RateLimit::Standard`]).
    pub fn rate_limit(mut self, rate_limit: RateLimit) -> Self {
        self.rate_limit = rate_limit;
        self
    }

    /// The retry policy (default [`RetryPolicy::default`]).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry_policy = policy;
        self
    }

    /// The `User-Agent` header (default `imconnector-rs/<version>`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// The portal's per-method operating-time limit (default 480 s, the documented cloud
    /// example), or `None` to ignore `time.operating`. Past 90% of it, calls to that method wait
    /// for `operating_reset_at` (when the wait fits the retry policy's `max_elapsed`).
    pub fn operating_time_limit(mut self, limit: Option<Duration>) -> Self {
        self.operating_time_limit = limit;
        self
    }

    /// How long before its known expiry an access token is refreshed (default 60 s).
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.refresh_margin = margin;
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    /// [`Error::Config`] when no auth is set, a URL is malformed or not http(s), OAuth has
    /// neither a portal nor a `client_endpoint`, or the HTTP client cannot be created.
    pub fn build(self) -> Result<Client, Error> {
        Client::from_builder(self)
    }
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let auth = match &self.auth {
            None => "none".to_owned(),
            Some(AuthConfig::OAuth { app, .. }) => format!("oauth({})", app.client_id),
            Some(AuthConfig::Webhook(_)) => "webhook([redacted])".to_owned(),
        };
        formatter
            .debug_struct("ClientBuilder")
            .field("portal", &self.portal)
            .field("auth", &auth)
            .field("oauth_server", &self.oauth_server)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("rate_limit", &self.rate_limit)
            .field("shared_limiter", &self.request_limiter.is_some())
            .field("refresh_coordinator", &self.refresh_coordinator.is_some())
            .field("retry_policy", &self.retry_policy)
            .field("user_agent", &self.user_agent)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pacing_keeps_a_margin_under_the_portal() {
        let (interval, burst) = RateLimit::Standard.paced().expect("paced");
        assert_eq!(burst, 45);
        assert!(interval > Duration::from_millis(500));
        let (_, burst) = RateLimit::Custom {
            per_second: 1,
            burst: 1,
        }
        .paced()
        .expect("paced");
        assert_eq!(burst, 1);
        assert_eq!(RateLimit::Off.paced(), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let policy = RetryPolicy::default();
        for retry in 1..30 {
            let wait = policy.backoff(retry);
            assert!(wait <= policy.max_backoff);
            let exponent = (retry - 1).min(20);
            let ceiling = (policy.initial_backoff * (1 << exponent)).min(policy.max_backoff);
            assert!(wait >= ceiling / 2);
        }
    }
}
