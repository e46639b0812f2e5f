//! An emulated portal on a runtime of its own (so the client's thread measures only the
//! client), a registered and activated connector, and the clients the benchmarks compare.

use std::time::Duration;

use imconnector_api::ids::{ConnectorId, LineId, SettingsUrl};
use imconnector_api::methods::{ActivateConnector, RegisterConnector};
use imconnector_api::types::Icon;
use imconnector_emulator::{Emulator, EmulatorBuilder, EmulatorHandle, ExposeSecret};
use imconnector_transport::{Client, ClientBuilder, OAuthApp, RateLimit, RetryPolicy, Tokens};
use serde::{Deserialize, Serialize};

/// The connector every benchmark sends as.
pub const CONNECTOR: &str = "bench_connector";

/// A failure while preparing a benchmark.
pub type SetupError = Box<dyn std::error::Error + Send + Sync>;

/// The connector id.
///
/// # Panics
/// Never: the id is a valid constant.
pub fn connector() -> ConnectorId {
    #[allow(clippy::expect_used)] // a constant, checked by the tests
    ConnectorId::new(CONNECTOR).expect("valid connector id")
}

/// What a client (in this process or a child process) needs to call the portal.
#[derive(Clone, Serialize, Deserialize)]
pub struct Access {
    /// `http://127.0.0.1:PORT/rest/`.
    pub rest_url: String,
    /// `http://127.0.0.1:PORT/oauth/token/`.
    pub oauth_url: String,
    /// The app's client id.
    pub client_id: String,
    /// The app's client secret.
    pub client_secret: String,
    /// An access token.
    pub access_token: String,
    /// Its refresh token.
    pub refresh_token: String,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Access")
            .field("rest_url", &self.rest_url)
            .finish_non_exhaustive()
    }
}

impl Access {
    /// An SDK client with this access and `rate_limit`.
    ///
    /// # Errors
    /// When the client cannot be built.
    pub fn client(&self, rate_limit: RateLimit) -> Result<Client, SetupError> {
        self.client_with(|builder| builder.rate_limit(rate_limit))
    }

    /// An SDK client with this access, configured further by `configure` (e.g. a shared
    /// request limiter).
    ///
    /// # Errors
    /// When the client cannot be built.
    pub fn client_with(
        &self,
        configure: impl FnOnce(ClientBuilder) -> ClientBuilder,
    ) -> Result<Client, SetupError> {
        let builder = Client::builder()
            .oauth(
                OAuthApp::new(self.client_id.clone(), self.client_secret.clone()),
                Tokens::new(self.access_token.clone(), self.refresh_token.clone())
                    .with_client_endpoint(self.rest_url.clone()),
            )
            .oauth_server(self.oauth_url.clone())
            // Throughput runs retry rate-limit refusals for as long as they take.
            .retry_policy(
                RetryPolicy::default()
                    .with_max_attempts(20)
                    .with_max_elapsed(Duration::from_secs(600))
                    .with_deadline(Duration::from_secs(900)),
            );
        Ok(configure(builder).build()?)
    }
}

/// An emulator serving from worker threads of its own runtime.
pub struct Portal {
    emulator: Option<Emulator>,
    handle: EmulatorHandle,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Portal {
    /// Starts `builder` on a new runtime with `threads` worker threads.
    ///
    /// # Errors
    /// When the runtime or the emulator cannot start.
    pub fn start(builder: EmulatorBuilder, threads: usize) -> Result<Self, SetupError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name("emulator")
            .enable_all()
            .build()?;
        let emulator = runtime.block_on(builder.start())?;
        let handle = emulator.handle();
        Ok(Self {
            emulator: Some(emulator),
            handle,
            runtime: Some(runtime),
        })
    }

    /// The control handle.
    pub fn handle(&self) -> &EmulatorHandle {
        &self.handle
    }

    /// Fresh credentials of the first app.
    pub fn access(&self) -> Access {
        let app = self.handle.app();
        let tokens = self.handle.tokens();
        Access {
            rest_url: self.handle.rest_url(),
            oauth_url: self.handle.oauth_url(),
            client_id: app.client_id,
            client_secret: app.client_secret.expose_secret().to_owned(),
            access_token: tokens.access_token.expose_secret().to_owned(),
            refresh_token: tokens.refresh_token.expose_secret().to_owned(),
        }
    }

    /// Registers the connector and activates it on lines `1..=lines`.
    ///
    /// # Errors
    /// When a call fails.
    pub async fn connect(client: &Client, lines: i64) -> Result<(), SetupError> {
        let register = RegisterConnector::new(
            connector(),
            "Bench connector",
            Icon::new("data:image/svg+xml,%3Csvg%2F%3E"),
            SettingsUrl::parse("https://bench.example/settings")?,
        );
        client.call(&register).await?;
        for line in 1..=lines {
            client
                .call(&ActivateConnector::new(
                    connector(),
                    LineId::new(line)?,
                    true,
                ))
                .await?;
        }
        Ok(())
    }
}

impl Drop for Portal {
    fn drop(&mut self) {
        if let (Some(runtime), Some(emulator)) = (self.runtime.take(), self.emulator.take()) {
            runtime.block_on(emulator.shutdown());
            runtime.shutdown_timeout(Duration::from_secs(1));
        }
    }
}
