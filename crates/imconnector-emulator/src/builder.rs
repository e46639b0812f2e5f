//! [`EmulatorBuilder`]: configure, bind, start.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::routing::any;
use axum::Router;
use secrecy::SecretString;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::clock::Clock;
use crate::config::{Faults, OperatingLimit, RateLimit, SoftErrorShape};
use crate::control::{new_app, EmulatorHandle};
use crate::delivery::Courier;
use crate::envelope::{error_response, ApiError};
use crate::faults::FaultEngine;
use crate::snapshot::{Counters, LineInfo, PortalUser};
use crate::state::tokens::{random_token, TokenStore};
use crate::state::{Ids, Portal, Settings, Shared, Urls, Webhook};
use crate::Emulator;

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

/// Configures an [`Emulator`]. Limits and faults are off unless asked for.
#[derive(Debug, Clone)]
#[must_use]
pub struct EmulatorBuilder {
    lines: usize,
    first_line_id: i64,
    rate_limit: RateLimit,
    time_scale: f64,
    token_ttl: Duration,
    operating_limit: Option<OperatingLimit>,
    faults: Option<Faults>,
    soft_error_shape: SoftErrorShape,
    host: IpAddr,
    port: u16,
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
            soft_error_shape: SoftErrorShape::Wrapped,
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
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

    fn check(&self) -> Result<(), StartError> {
        if !(self.time_scale.is_finite() && self.time_scale > 0.0) {
            return Err(StartError::InvalidSetting(format!(
                "time_scale must be a finite number above 0 (got {})",
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
        Ok(())
    }

    /// Binds, starts serving in the background and returns the running emulator.
    ///
    /// # Errors
    /// [`StartError`] for bad settings, a busy port, or no tokio runtime.
    pub async fn start(self) -> Result<Emulator, StartError> {
        self.check()?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| StartError::NoRuntime)?;
        let address = SocketAddr::new(self.host, self.port);
        let listener = TcpListener::bind(address)
            .await
            .map_err(|source| StartError::Bind { address, source })?;
        let bound = listener
            .local_addr()
            .map_err(|source| StartError::Bind { address, source })?;
        let advertised = if bound.ip().is_unspecified() {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), bound.port())
        } else {
            bound
        };
        let base = format!("http://{advertised}");
        let urls = Urls {
            rest: format!("{base}/rest/"),
            domain: advertised.to_string(),
            base,
        };
        // Handlers live on loopback in tests: never route event POSTs through a proxy.
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .map_err(StartError::Client)?;
        let portal = self.portal(urls);
        let shared = Arc::new(Shared::new(
            portal,
            Clock::new(self.time_scale),
            Courier::new(http, runtime),
        ));
        let router = Router::new()
            .route("/rest/{*path}", any(crate::rest::handle))
            .route("/oauth/token", any(crate::oauth::token))
            .route("/oauth/token/", any(crate::oauth::token))
            .nest("/_emulator", crate::control::http::router())
            .fallback(|| async {
                error_response(&ApiError::new(
                    404,
                    "ERROR_METHOD_NOT_FOUND",
                    "Method not found!",
                ))
            })
            .with_state(Arc::clone(&shared));
        let (shutdown, shutdown_signal) = watch::channel(false);
        let server = tokio::spawn(crate::server::serve(listener, router, shutdown_signal));
        Ok(Emulator {
            handle: EmulatorHandle { shared },
            address: bound,
            shutdown,
            server: Some(server),
        })
    }

    fn portal(&self, urls: Urls) -> Portal {
        let lines: BTreeMap<i64, LineInfo> = (0..self.lines)
            .map(|offset| {
                let id = self.first_line_id
                    + i64::try_from(offset).unwrap_or(i64::MAX - self.first_line_id);
                (
                    id,
                    LineInfo {
                        id,
                        name: format!("Open line {id}"),
                        active: true,
                    },
                )
            })
            .collect();
        Portal {
            now: 0.0,
            time_scale: self.time_scale,
            urls,
            member_id: random_token(),
            settings: Settings {
                rate_limit: self.rate_limit,
                token_ttl: self.token_ttl,
                operating: self.operating_limit,
                soft_error_shape: self.soft_error_shape,
                faults: self.faults.clone(),
            },
            apps: vec![new_app()],
            users: vec![
                PortalUser {
                    id: 1,
                    name: "Emulator Admin".to_owned(),
                    admin: true,
                },
                PortalUser {
                    id: 2,
                    name: "Emulator Employee".to_owned(),
                    admin: false,
                },
            ],
            webhook: Webhook {
                user_id: 1,
                code: SecretString::from(random_token()[..16].to_owned()),
            },
            tokens: TokenStore::default(),
            lines,
            registry: BTreeMap::new(),
            statuses: BTreeMap::new(),
            customers: BTreeMap::new(),
            chats: BTreeMap::new(),
            messages: BTreeMap::new(),
            deliveries: Vec::new(),
            bindings: Vec::new(),
            event_log: Vec::new(),
            outbox: Vec::new(),
            counters: Counters::default(),
            ids: Ids::default(),
            bucket: crate::limits::LeakyBucket::default(),
            operating: crate::limits::OperatingLedger::default(),
            faults: FaultEngine::new(self.faults.clone()),
        }
    }
}
