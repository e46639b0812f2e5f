//! Client configuration: the builder, turned into a [`Client`] by [`ClientBuilder::build`].

use std::{
    fmt,
    sync::{atomic::AtomicU64, Arc},
    time::Duration,
};

use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::{
    body::DEFAULT_MAX_RESPONSE_SIZE,
    client::Client,
    coordination::{RefreshCoordinator, RequestLimiter},
    error::Error,
    method_urls::MethodUrls,
    oauth::OAuthSession,
    oauth_server::{OAuthServer, DEFAULT_OAUTH_SERVER},
    pacing::Pacer,
    policy::{RateLimit, RetryPolicy},
    shared::{Auth, Shared},
    store::{MemoryTokenStore, TokenStore},
    tokens::{OAuthApp, Tokens},
};

#[derive(Clone)]
pub(crate) enum AuthConfig {
    OAuth { app: OAuthApp, tokens: Box<Tokens> },
    Webhook(SecretString),
}

impl Client {
    /// Starts configuring a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }
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
    pub(crate) max_response_size: usize,
    pub(crate) rate_limit: RateLimit,
    /// Whether [`rate_limit`](ClientBuilder::rate_limit) was called: then the plan is not
    /// learned from the portal.
    pub(crate) rate_limit_configured: bool,
    pub(crate) retry_policy: RetryPolicy,
    pub(crate) user_agent: String,
    pub(crate) operating_time_limit: Option<Duration>,
    pub(crate) refresh_margin: Duration,
    pub(crate) http_client: Option<reqwest::Client>,
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
            max_response_size: DEFAULT_MAX_RESPONSE_SIZE,
            rate_limit: RateLimit::Standard,
            rate_limit_configured: false,
            retry_policy: RetryPolicy::default(),
            user_agent: concat!("imconnector-rs/", env!("CARGO_PKG_VERSION")).to_owned(),
            operating_time_limit: Some(Duration::from_secs(480)),
            refresh_margin: Duration::from_secs(60),
            http_client: None,
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

    /// Where refreshed tokens are saved (default: [`MemoryTokenStore`]).
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

    /// The longest answer body read, in bytes, from the portal and from the OAuth server
    /// (default [`DEFAULT_MAX_RESPONSE_SIZE`], 8 MiB). A longer answer fails with
    /// [`Error::ResponseTooLarge`] as soon as it passes the cap, so a broken or hostile portal
    /// cannot make the client buffer without bound.
    pub fn max_response_size(mut self, bytes: usize) -> Self {
        self.max_response_size = bytes;
        self
    }

    /// The portal's rate-limit profile. Without it an OAuth client learns the portal's plan
    /// itself: at its first call it asks `app.info` once (`LICENSE_FAMILY` `ent`:
    /// [`RateLimit::Enterprise`], any other plan: [`RateLimit::Standard`]) and paces by it from
    /// then on; until the answer, and when `app.info` fails or is refused, it paces by
    /// [`RateLimit::Standard`]. A webhook client does not ask, nor does one with a
    /// [`request_limiter`](Self::request_limiter) unless the limiter
    /// [follows the plan](crate::RequestLimiter::follows_plan) (it is then handed the plan). [`Client::rate_limit`] says
    /// which profile is in use.
    pub fn rate_limit(mut self, rate_limit: RateLimit) -> Self {
        self.rate_limit = rate_limit;
        self.rate_limit_configured = true;
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
    /// for `operating_reset_at` (when the wait fits the retry policy's `max_elapsed`), counted
    /// from the answer's `time.finish`, so the portal's clock decides, not the client's.
    pub fn operating_time_limit(mut self, limit: Option<Duration>) -> Self {
        self.operating_time_limit = limit;
        self
    }

    /// How long before its known expiry an access token is refreshed (default 60 s).
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.refresh_margin = margin;
        self
    }

    /// Sends every request (to the portal and to the OAuth server) with `http` instead of a
    /// client built from this builder's settings: for a proxy, custom root certificates, client
    /// certificates, or a connection pool shared with the rest of an application.
    ///
    /// Build it with `redirect(reqwest::redirect::Policy::none())`: the client re-posts a
    /// "portal moved" answer itself, within the same host only, while reqwest's default policy
    /// would turn that POST into a GET and lose the body, or re-send it (credentials included)
    /// to whatever host a 307/308 names. The client cannot see a client's policy: when `http`
    /// followed a redirect to another origin on its own, the answer is refused with
    /// [`Error::Redirected`], but the request has gone there. [`connect_timeout`](Self::connect_timeout) is then `http`'s own
    /// business; [`request_timeout`](Self::request_timeout) and
    /// [`user_agent`](Self::user_agent) still apply, per request.
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http_client = Some(http);
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    /// [`Error::Config`] when `max_response_size` is 0, no auth is set, a URL is malformed or not http(s), OAuth has
    /// neither a portal nor a `client_endpoint`, or the HTTP client cannot be created.
    pub fn build(self) -> Result<Client, Error> {
        if self.max_response_size == 0 {
            return Err(Error::config("`max_response_size` must be at least 1 byte"));
        }
        let user_agent = reqwest::header::HeaderValue::from_str(&self.user_agent)
            .map_err(|_| Error::config("`user_agent` is not a valid header value"))?;
        let http = match &self.http_client {
            Some(http) => http.clone(),
            None => default_http_client(self.connect_timeout)?,
        };
        let auth = match self.auth.clone() {
            None => {
                return Err(Error::config(
                    "no credentials: call `oauth(..)` or `webhook(..)`",
                ))
            }
            Some(AuthConfig::OAuth { app, tokens }) => {
                let server = parse_url("oauth_server", &self.oauth_server)?;
                let server = OAuthServer::for_client(
                    app,
                    server,
                    http.clone(),
                    self.request_timeout,
                    user_agent.clone(),
                    self.max_response_size,
                );
                self.oauth_auth(server, *tokens)?
            }
            Some(AuthConfig::Webhook(url)) => webhook_auth(&url)?,
        };
        let learns_plan = !self.rate_limit_configured
            && self
                .request_limiter
                .as_ref()
                .is_none_or(|limiter| limiter.follows_plan())
            && matches!(auth, Auth::OAuth { .. });
        Ok(Client::from_shared(Shared {
            http,
            request_timeout: self.request_timeout,
            max_response_size: self.max_response_size,
            user_agent,
            auth,
            pacer: Pacer::new(
                self.rate_limit,
                self.request_limiter,
                self.operating_time_limit,
            ),
            retry: self.retry_policy,
            rate_limit: self.rate_limit,
            plan: learns_plan.then(tokio::sync::OnceCell::new),
            request_prefix: rand::random(),
            request_seq: AtomicU64::new(0),
            method_urls: MethodUrls::default(),
        }))
    }
}

impl ClientBuilder {
    fn oauth_auth(&self, server: OAuthServer, tokens: Tokens) -> Result<Auth, Error> {
        let portal = self
            .portal
            .as_deref()
            .map(|portal| parse_base("portal", portal))
            .transpose()?;
        match (&portal, &tokens.client_endpoint) {
            (Some(_), _) => {}
            (None, Some(endpoint)) => {
                parse_base("tokens.client_endpoint", endpoint)?;
            }
            (None, None) => {
                return Err(Error::config(
                    "no REST base: call `portal(..)` or give tokens a `client_endpoint`",
                ))
            }
        }
        let store = self
            .token_store
            .clone()
            .unwrap_or_else(|| Arc::new(MemoryTokenStore::new()));
        let session = OAuthSession::new(
            server,
            self.retry_policy,
            tokens,
            store,
            self.refresh_coordinator.clone(),
            self.refresh_margin,
        );
        Ok(Auth::OAuth {
            session: Arc::new(session),
            portal,
        })
    }
}

fn webhook_auth(url: &SecretString) -> Result<Auth, Error> {
    let base = parse_base("webhook", url.expose_secret())?;
    let code = base
        .path_segments()
        .and_then(|mut segments| segments.rfind(|segment| !segment.is_empty()))
        .unwrap_or_default()
        .to_owned();
    // Scheme, host and port: everything of the URL but the secret path.
    let origin = format!("{}/", base.origin().ascii_serialization());
    Ok(Auth::Webhook {
        base: SecretString::from(base.to_string()),
        code: SecretString::from(code),
        origin,
    })
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
            .field("max_response_size", &self.max_response_size)
            .field("rate_limit", &self.rate_limit)
            .field("rate_limit_configured", &self.rate_limit_configured)
            .field("shared_limiter", &self.request_limiter.is_some())
            .field("refresh_coordinator", &self.refresh_coordinator.is_some())
            .field("retry_policy", &self.retry_policy)
            .field("user_agent", &self.user_agent)
            .field("own_http_client", &self.http_client.is_some())
            .finish_non_exhaustive()
    }
}

fn parse_url(what: &str, text: &str) -> Result<Url, Error> {
    let url = Url::parse(text)
        .map_err(|error| Error::config(format!("`{what}` is not a URL: {error}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(Error::config(format!(
            "`{what}` must be an http(s) URL with a host"
        )));
    }
    Ok(url)
}

/// Parses a base URL and makes sure it ends with `/`, so joining a method name appends to it.
fn parse_base(what: &str, text: &str) -> Result<Url, Error> {
    let mut url = parse_url(what, text)?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::config(format!(
            "`{what}` must not have a query or fragment"
        )));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// The HTTP client used unless the builder was given one.
fn default_http_client(connect_timeout: Duration) -> Result<reqwest::Client, Error> {
    let mut builder = reqwest::Client::builder()
        // 302 "portal moved" must be re-POSTed, not turned into a GET: done by hand.
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(connect_timeout);
    if !system_proxy_possible(|name| std::env::var_os(name)) {
        // The same client: where no proxy is configured, reqwest's system proxy would never
        // be used, yet it checks `NO_PROXY` against every request's host (an address parse
        // per call, measured in the overhead bench).
        builder = builder.no_proxy();
    }
    with_roots(builder)?
        .build()
        .map_err(|error| Error::config(format!("cannot create the HTTP client: {error}")))
}

/// Whether reqwest's system proxy could send a request through a proxy: on Linux and the
/// other platforms without a system proxy setting, only when the environment names one (the
/// variables reqwest reads when the client is built); on macOS and Windows, always (their
/// system settings count too).
fn system_proxy_possible(env: impl Fn(&str) -> Option<std::ffi::OsString>) -> bool {
    if cfg!(any(target_os = "macos", target_os = "windows")) {
        return true;
    }
    PROXY_VARIABLES
        .iter()
        .any(|name| env(name).is_some_and(|value| !value.is_empty()))
}

/// The variables that name a proxy for reqwest's system proxy (`NO_PROXY` only excludes).
const PROXY_VARIABLES: [&str; 6] = [
    "ALL_PROXY",
    "all_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
];

/// The roots the TLS features ask for. reqwest 0.13 trusts the platform's verifier by default;
/// `rustls-webpki-roots` alone replaces it with Mozilla's roots, both features merge them.
#[allow(clippy::unnecessary_wraps)] // Fallible only with `rustls-webpki-roots`.
fn with_roots(builder: reqwest::ClientBuilder) -> Result<reqwest::ClientBuilder, Error> {
    #[cfg(feature = "rustls-webpki-roots")]
    {
        let roots = webpki_root_certs::TLS_SERVER_ROOT_CERTS
            .iter()
            .map(|der| reqwest::Certificate::from_der(der))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| {
                Error::config(format!("unusable bundled root certificate: {error}"))
            })?;
        if cfg!(feature = "rustls-native-roots") {
            return Ok(builder.tls_certs_merge(roots));
        }
        Ok(builder.tls_certs_only(roots))
    }
    #[cfg(not(feature = "rustls-webpki-roots"))]
    Ok(builder)
}

#[cfg(test)]
mod tests {
    use super::{system_proxy_possible, PROXY_VARIABLES};
    use std::ffi::OsString;

    #[test]
    fn the_system_proxy_is_kept_whenever_the_environment_names_one() {
        let with = |set: &'static [(&'static str, &'static str)]| {
            system_proxy_possible(move |name| {
                set.iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, value)| OsString::from(value))
            })
        };
        let desktop = cfg!(any(target_os = "macos", target_os = "windows"));
        assert_eq!(with(&[]), desktop, "nothing set");
        assert_eq!(with(&[("NO_PROXY", "*"), ("HTTP_PROXY", "")]), desktop);
        for name in PROXY_VARIABLES {
            assert!(
                system_proxy_possible(
                    |asked| (asked == name).then(|| OsString::from("http://proxy:3128"))
                ),
                "{name}"
            );
        }
    }
}
