//! [`EmulatorBuilder`]: configure and check; `start` lives in `startup`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::config::{Faults, OAuthFaults, OperatingLimit, RateLimit, SoftErrorShape};

/// The largest time scale: a billion emulated seconds (32 years) per real second.
const MAX_TIME_SCALE: f64 = 1e9;

/// Why the emulator did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// A setting is out of range.
    #[error("invalid emulator setting: {0}")]
    InvalidSetting(String),
    /// The address could not be bound.
    #[error("could not bind {address}: {source}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The HTTP client for event delivery could not be built.
    #[error("could not build the event delivery client: {0}")]
    Client(#[source] reqwest::Error),
    /// `start` was called outside a tokio runtime.
    #[error("the emulator must be started inside a tokio runtime")]
    NoRuntime,
}

/// Configures an [`Emulator`](crate::Emulator). Limits and faults are off unless asked for.
#[derive(Debug, Clone)]
#[must_use]
pub struct EmulatorBuilder {
    pub(crate) lines: usize,
    pub(crate) first_line_id: i64,
    pub(crate) rate_limit: RateLimit,
    pub(crate) time_scale: f64,
    pub(crate) token_ttl: Duration,
    pub(crate) operating_limit: Option<OperatingLimit>,
    pub(crate) faults: Option<Faults>,
    pub(crate) oauth_faults: Option<OAuthFaults>,
    pub(crate) soft_error_shape: SoftErrorShape,
    pub(crate) host: IpAddr,
    pub(crate) port: u16,
    pub(crate) public_url: Option<String>,
    pub(crate) control_token: Option<SecretString>,
    pub(crate) allow_http_webhooks: bool,
    pub(crate) client_id: Option<String>,
    pub(crate) client_secret: Option<SecretString>,
    pub(crate) webhook_code: Option<SecretString>,
    pub(crate) seed: Option<u64>,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<crate::tls::TlsSource>,
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        Self {
            lines: 1,
            first_line_id: 1,
            rate_limit: RateLimit::Off,
            time_scale: 1.0,
            token_ttl: Duration::from_secs(3600),
            operating_limit: None,
            faults: None,
            oauth_faults: None,
            soft_error_shape: SoftErrorShape::Wrapped,
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            public_url: None,
            control_token: None,
            allow_http_webhooks: false,
            client_id: None,
            client_secret: None,
            webhook_code: None,
            seed: None,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

impl EmulatorBuilder {
    /// How many open lines exist at start (default 1).
    pub fn lines(mut self, count: usize) -> Self {
        self.lines = count;
        self
    }

    /// Id of the first line; the others follow (default 1).
    pub fn first_line_id(mut self, id: i64) -> Self {
        self.first_line_id = id;
        self
    }

    /// The leaky bucket (default off).
    pub fn rate_limit(mut self, rate_limit: RateLimit) -> Self {
        self.rate_limit = rate_limit;
        self
    }

    /// Emulated seconds per real second (default 1). `3600.0` makes a one-hour token expire
    /// after one real second; latency faults shrink by the same factor.
    pub fn time_scale(mut self, scale: f64) -> Self {
        self.time_scale = scale;
        self
    }

    /// Access-token lifetime in emulated time (default one hour).
    pub fn token_ttl(mut self, ttl: Duration) -> Self {
        self.token_ttl = ttl;
        self
    }

    /// The per-method operating-time budget (default off).
    pub fn operating_limit(mut self, limit: OperatingLimit) -> Self {
        self.operating_limit = Some(limit);
        self
    }

    /// Fault injection (default none).
    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = Some(faults);
        self
    }

    /// Faults of the OAuth server's `/oauth/token/` by request count (default none).
    pub fn oauth_faults(mut self, faults: OAuthFaults) -> Self {
        self.oauth_faults = Some(faults);
        self
    }

    /// Where register/unregister soft errors go (default [`SoftErrorShape::Wrapped`]).
    pub fn soft_error_shape(mut self, shape: SoftErrorShape) -> Self {
        self.soft_error_shape = shape;
        self
    }

    /// The interface to bind (default 127.0.0.1).
    pub fn host(mut self, host: IpAddr) -> Self {
        self.host = host;
        self
    }

    /// The port to bind (default 0: any free port).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The address the portal advertises instead of the bound one (`client_endpoint`,
    /// `server_endpoint`, event `auth[...]`, the webhook and every URL the handle returns),
    /// e.g. `https://emulator.test:8443` behind a proxy or in a container. Scheme, host and
    /// port only; checked at start.
    pub fn public_url(mut self, url: impl Into<String>) -> Self {
        self.public_url = Some(url.into());
        self
    }

    /// Requires `Authorization: Bearer <token>` on the control API (`/_emulator/`), which
    /// otherwise hands out every secret. Mandatory when binding anything but loopback.
    pub fn control_token(mut self, token: impl Into<String>) -> Self {
        self.control_token = Some(SecretString::from(token.into()));
        self
    }

    /// With HTTPS on, lets the incoming webhook answer over plain HTTP too (the portal's
    /// `REST_APAUTH_ALLOW_HTTP`); by default it answers 401 `INVALID_REQUEST` "Https required.".
    /// Without HTTPS the webhook always works over plain HTTP.
    pub fn allow_http_webhooks(mut self, allow: bool) -> Self {
        self.allow_http_webhooks = allow;
        self
    }

    /// The first app's `client_id` (default: random, portal-like `local.…`).
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    /// The first app's `client_secret` (default: random).
    pub fn client_secret(mut self, secret: impl Into<String>) -> Self {
        self.client_secret = Some(SecretString::from(secret.into()));
        self
    }

    /// The code of the incoming webhook, `/rest/1/<code>/` (default: random).
    pub fn webhook_code(mut self, code: impl Into<String>) -> Self {
        self.webhook_code = Some(SecretString::from(code.into()));
        self
    }

    /// Seeds every generated credential and token (member id, application token, access and
    /// refresh tokens), so a run can be repeated exactly. Seeded tokens are predictable: for
    /// tests only.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Serves HTTPS (and plain HTTP, told apart by the first byte) on the port, with a
    /// certificate authority and a server certificate made at start for `127.0.0.1`,
    /// `localhost` and the public URL's host. The CA's PEM is written to a file (see
    /// [`tls_ca_file`](Self::tls_ca_file)) and returned by [`Emulator::tls_ca_pem`](crate::Emulator::tls_ca_pem).
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls(mut self) -> Self {
        if !matches!(self.tls, Some(crate::tls::TlsSource::Generated { .. })) {
            self.tls = Some(crate::tls::TlsSource::Generated { ca_file: None });
        }
        self
    }

    /// Like [`tls`](Self::tls), writing the CA's PEM to `path` (default: a file named after
    /// the process and port in the temporary directory, removed when the emulator is dropped).
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls_ca_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.tls = Some(crate::tls::TlsSource::Generated {
            ca_file: Some(path.into()),
        });
        self
    }

    /// Serves HTTPS with a PEM certificate chain and PEM private key from files.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls_files(
        mut self,
        cert: impl Into<std::path::PathBuf>,
        key: impl Into<std::path::PathBuf>,
    ) -> Self {
        self.tls = Some(crate::tls::TlsSource::Files {
            cert: cert.into(),
            key: key.into(),
        });
        self
    }

    pub(crate) fn check(&self) -> Result<(), StartError> {
        if !(self.time_scale.is_finite()
            && self.time_scale > 0.0
            && self.time_scale <= MAX_TIME_SCALE)
        {
            return Err(StartError::InvalidSetting(format!(
                "time_scale must be above 0 and at most {MAX_TIME_SCALE} (got {})",
                self.time_scale
            )));
        }
        if self.token_ttl.is_zero() {
            return Err(StartError::InvalidSetting(
                "token_ttl must not be zero".to_owned(),
            ));
        }
        self.rate_limit
            .check()
            .map_err(StartError::InvalidSetting)?;
        if let Some(faults) = &self.faults {
            faults.check().map_err(StartError::InvalidSetting)?;
        }
        if let Some(faults) = &self.oauth_faults {
            faults.check().map_err(StartError::InvalidSetting)?;
        }
        if !self.host.is_loopback() && self.control_token.is_none() {
            return Err(StartError::InvalidSetting(format!(
                "binding {} (not loopback) requires a control token: the control API hands out every secret",
                self.host
            )));
        }
        if self
            .control_token
            .as_ref()
            .is_some_and(|token| token.expose_secret().trim().is_empty())
        {
            return Err(StartError::InvalidSetting(
                "the control token must not be empty".to_owned(),
            ));
        }
        Ok(())
    }
}
