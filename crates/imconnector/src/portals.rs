//! Many portals per application: a registry keyed by `member_id` that keeps one [`Client`] per
//! portal (its endpoint, tokens and limiter), so a handler receiving an event from portal X calls
//! portal X with X's tokens.
//!
//! A portal enters the registry from its `OnAppInstall` event ([`PortalRegistry::install_event`])
//! or a [`PortalRecord`] you build ([`PortalRegistry::install`]). Records live in a
//! [`PortalStore`]: [`MemoryPortalStore`] here, `imconnector_redis::RedisPortals` to share them
//! (and each portal's tokens, refresh lock and leaky bucket) between replicas, so a replica that
//! never saw the installation still finds the portal. With feature `server` the registry is the
//! event receiver's `ApplicationTokens` (an event is accepted only with the application token
//! stored for the `member_id` it claims, so a forged `member_id` is refused) and its
//! `PortalClients` (deliveries are confirmed with the client of the portal the event came from).
//!
//! ```no_run
//! # #[cfg(feature = "server")]
//! # fn run() {
//! use std::sync::Arc;
//!
//! use imconnector::events::DialogStartEvent;
//! use imconnector::portals::{MemoryPortalStore, PortalRegistry};
//! use imconnector::receiver::{EventHandler, EventReceiver, HandlerError};
//! use imconnector::OAuthApp;
//!
//! struct Bridge {
//!     portals: Arc<PortalRegistry<MemoryPortalStore>>,
//! }
//!
//! impl EventHandler for Bridge {
//!     async fn dialog_start(&self, event: DialogStartEvent) -> Result<(), HandlerError> {
//!         // The client of the portal the event came from, with that portal's tokens.
//!         let client = self.portals.client_for(&event.auth.member_id).await?;
//!         client.call_raw("imopenlines.config.list.get", serde_json::json!({})).await?;
//!         Ok(())
//!     }
//! }
//!
//! let app = OAuthApp::new("app.0123456789abcd.12345678", "client secret");
//! let portals = Arc::new(PortalRegistry::new(app, MemoryPortalStore::new()));
//! let events = EventReceiver::new(Arc::clone(&portals), Bridge { portals });
//! let router = axum::Router::new().nest("/bitrix/events", events.router());
//! # let _ = router; }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Mutex, PoisonError, RwLock};
use std::time::{Duration, UNIX_EPOCH};

use imconnector_transport::{Client, ClientBuilder, OAuthApp, Tokens};
use secrecy::SecretString;
use serde_json::Value;

/// What the registry knows about one portal.
#[derive(Clone)]
#[non_exhaustive]
pub struct PortalRecord {
    /// The portal's id, the registry's key.
    pub member_id: String,
    /// The portal's domain, when known (`example.bitrix24.com`).
    pub domain: Option<String>,
    /// The token every event of this portal must carry (`auth[application_token]`).
    pub application_token: SecretString,
    /// The OAuth pair; its `client_endpoint` is the portal's REST base.
    pub tokens: Tokens,
    /// The application's credentials on this portal, when they differ from the registry's (a
    /// local application of an on-premise portal has its own).
    pub app: Option<OAuthApp>,
    /// The portal's OAuth server, when not the registry template's (on-premise portals).
    pub oauth_server: Option<String>,
}

/// Why an installation could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InstallError {
    /// The body is not a form or JSON object.
    #[error("malformed installation: {0}")]
    Malformed(String),
    /// A required field is missing or empty.
    #[error("the installation has no `{0}`")]
    Missing(&'static str),
}

impl PortalRecord {
    /// A record for portal `member_id`; `tokens` must carry the portal's `client_endpoint`.
    pub fn new(
        member_id: impl Into<String>,
        application_token: impl Into<String>,
        tokens: Tokens,
    ) -> Self {
        Self {
            member_id: member_id.into(),
            domain: None,
            application_token: SecretString::from(application_token.into()),
            tokens,
            app: None,
            oauth_server: None,
        }
    }

    /// Sets the portal's domain.
    #[must_use]
    pub fn with_domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// Uses these application credentials for this portal instead of the registry's.
    #[must_use]
    pub fn with_app(mut self, app: OAuthApp) -> Self {
        self.app = Some(app);
        self
    }

    /// Uses this OAuth token endpoint for this portal instead of the template's.
    #[must_use]
    pub fn with_oauth_server(mut self, url: impl Into<String>) -> Self {
        self.oauth_server = Some(url.into());
        self
    }

    /// Reads the `auth[...]` block of an `OnAppInstall` event (parsed with
    /// [`imconnector_form::parse`] or from JSON): `member_id`, `application_token`,
    /// `access_token`, `refresh_token` and `client_endpoint` are required; `expires` (or
    /// `expires_in`), `domain`, `server_endpoint`, `scope`, `status` and `user_id` are kept.
    ///
    /// # Errors
    /// [`InstallError::Missing`] naming the first missing field.
    pub fn from_install_event(event: &Value) -> Result<Self, InstallError> {
        let auth = event
            .get("auth")
            .and_then(Value::as_object)
            .ok_or(InstallError::Missing("auth"))?;
        let text = |key: &str| -> Option<String> {
            match auth.get(key)? {
                Value::String(text) if !text.trim().is_empty() => Some(text.trim().to_owned()),
                Value::Number(number) => Some(number.to_string()),
                _ => None,
            }
        };
        let required = |key: &'static str| text(key).ok_or(InstallError::Missing(key));
        let member_id = required("member_id")?;
        let application_token = required("application_token")?;
        let mut tokens = Tokens::new(required("access_token")?, required("refresh_token")?)
            .with_client_endpoint(required("client_endpoint")?)
            .with_member_id(member_id.clone());
        let number = |key: &str| text(key).and_then(|value| value.parse::<u64>().ok());
        if let Some(unix) = number("expires") {
            tokens = tokens.with_expires_at(UNIX_EPOCH + Duration::from_secs(unix));
        } else if let Some(seconds) = number("expires_in") {
            tokens = tokens.with_expires_in(Duration::from_secs(seconds));
        }
        if let Some(scope) = text("scope") {
            tokens = tokens.with_scope(scope);
        }
        if let Some(user_id) = text("user_id") {
            tokens = tokens.with_user_id(user_id);
        }
        tokens.server_endpoint = text("server_endpoint");
        tokens.status = text("status");
        let mut record = Self::new(member_id, application_token, tokens);
        record.domain = text("domain");
        Ok(record)
    }
}

impl fmt::Debug for PortalRecord {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("PortalRecord")
            .field("member_id", &self.member_id)
            .field("domain", &self.domain)
            .field("application_token", &"[redacted]")
            .field("tokens", &self.tokens)
            .field("app", &self.app)
            .field("oauth_server", &self.oauth_server)
            .finish()
    }
}

/// Why a [`PortalStore`] failed.
#[derive(Debug, thiserror::Error)]
#[error("portal store: {message}")]
pub struct PortalStoreError {
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl PortalStoreError {
    /// An error described by `message` (never put a token in it), caused by `source`, if any.
    pub fn new(
        message: impl Into<String>,
        source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        Self {
            message: message.into(),
            source,
        }
    }
}

/// Where the registry keeps its [`PortalRecord`]s, and what it adds to each portal's client.
pub trait PortalStore: Send + Sync + 'static {
    /// The record of portal `member_id` with its current token pair, `None` if not installed.
    fn load(
        &self,
        member_id: &str,
    ) -> impl Future<Output = Result<Option<PortalRecord>, PortalStoreError>> + Send;

    /// Stores `record`, replacing the portal's record and token pair (an installation wins
    /// over everything stored before).
    fn save(&self, record: &PortalRecord)
        -> impl Future<Output = Result<(), PortalStoreError>> + Send;

    /// Forgets portal `member_id` (the application was uninstalled).
    fn remove(&self, member_id: &str) -> impl Future<Output = Result<(), PortalStoreError>> + Send;

    /// Adds what the store shares between replicas (token store, refresh coordination, a
    /// shared limiter) to a portal's client. The default adds nothing.
    ///
    /// # Errors
    /// When the store cannot serve this portal.
    fn configure(
        &self,
        record: &PortalRecord,
        builder: ClientBuilder,
    ) -> Result<ClientBuilder, PortalStoreError> {
        let _ = record;
        Ok(builder)
    }
}

/// Keeps records in this process only: for one replica, or tests.
#[derive(Debug, Default)]
pub struct MemoryPortalStore {
    records: Mutex<HashMap<String, PortalRecord>>,
}

impl MemoryPortalStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl PortalStore for MemoryPortalStore {
    fn load(
        &self,
        member_id: &str,
    ) -> impl Future<Output = Result<Option<PortalRecord>, PortalStoreError>> + Send {
        let found = self
            .records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(member_id)
            .cloned();
        async move { Ok(found) }
    }

    fn save(
        &self,
        record: &PortalRecord,
    ) -> impl Future<Output = Result<(), PortalStoreError>> + Send {
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(record.member_id.clone(), record.clone());
        async { Ok(()) }
    }

    fn remove(&self, member_id: &str) -> impl Future<Output = Result<(), PortalStoreError>> + Send {
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(member_id);
        async { Ok(()) }
    }
}

/// Why the registry could not serve a portal.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// No portal with this `member_id` is installed.
    #[error("no portal with member_id {0:?} is installed")]
    NotInstalled(String),
    /// The installation could not be read.
    #[error(transparent)]
    Install(#[from] InstallError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] PortalStoreError),
    /// The portal's client could not be built (e.g. a malformed `client_endpoint`).
    #[error("cannot build the client of portal {member_id:?}: {source}")]
    Client {
        /// The portal.
        member_id: String,
        /// The builder's error.
        #[source]
        source: Box<imconnector_transport::Error>,
    },
}

/// One [`Client`] per portal, built on first use from the [`PortalStore`] and kept.
pub struct PortalRegistry<S> {
    app: OAuthApp,
    template: ClientBuilder,
    store: S,
    clients: RwLock<HashMap<String, Client>>,
}

impl<S: PortalStore> PortalRegistry<S> {
    /// A registry for application `app` keeping records in `store`; clients start from
    /// [`Client::builder`] (see [`client_template`](Self::client_template)).
    pub fn new(app: OAuthApp, store: S) -> Self {
        Self {
            app,
            template: Client::builder(),
            store,
            clients: RwLock::new(HashMap::new()),
        }
    }

    /// The settings every portal's client starts from (rate limit, retries, timeouts, OAuth
    /// server); its auth is replaced by each portal's.
    #[must_use]
    pub fn client_template(mut self, template: ClientBuilder) -> Self {
        self.template = template;
        self
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Installs (or re-installs) a portal: stores `record` and returns its fresh client.
    ///
    /// # Errors
    /// [`RegistryError::Store`], [`RegistryError::Client`].
    pub async fn install(&self, record: PortalRecord) -> Result<Client, RegistryError> {
        if record.member_id.trim().is_empty() {
            return Err(InstallError::Missing("member_id").into());
        }
        let client = self.build(&record)?;
        self.store.save(&record).await?;
        self.write().insert(record.member_id.clone(), client.clone());
        Ok(client)
    }

    /// Installs the portal an `OnAppInstall` event POST describes (the raw body, form-encoded
    /// or JSON per `content_type`). Verify where it comes from first (e.g. your install
    /// handler's own secret URL): this event carries the application token itself.
    ///
    /// # Errors
    /// [`RegistryError::Install`], then as [`install`](Self::install).
    pub async fn install_event(
        &self,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<Client, RegistryError> {
        let json = content_type
            .and_then(|value| value.split(';').next())
            .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"));
        let event = if json {
            serde_json::from_slice(body)
                .map_err(|error| InstallError::Malformed(format!("not JSON: {error}")))?
        } else {
            imconnector_form::parse(body)
                .map_err(|error| InstallError::Malformed(error.to_string()))?
        };
        self.install(PortalRecord::from_install_event(&event)?).await
    }

    /// The client of portal `member_id`, with that portal's endpoint, tokens and limiter.
    ///
    /// (Not named `client`: on an `Arc<PortalRegistry>` that name would resolve to the
    /// receiver's `PortalClients::client`, which answers `None` instead of an error.)
    ///
    /// # Errors
    /// [`RegistryError::NotInstalled`], [`RegistryError::Store`], [`RegistryError::Client`].
    pub async fn client_for(&self, member_id: &str) -> Result<Client, RegistryError> {
        if let Some(client) = self.read().get(member_id) {
            return Ok(client.clone());
        }
        let record = self
            .store
            .load(member_id)
            .await?
            .ok_or_else(|| RegistryError::NotInstalled(member_id.to_owned()))?;
        let client = self.build(&record)?;
        // Another task may have built one meanwhile: keep the first, so all share one limiter.
        Ok(self
            .write()
            .entry(member_id.to_owned())
            .or_insert(client)
            .clone())
    }

    /// The application token portal `member_id`'s events must carry, `None` if not installed.
    ///
    /// # Errors
    /// [`RegistryError::Store`].
    pub async fn application_token(
        &self,
        member_id: &str,
    ) -> Result<Option<SecretString>, RegistryError> {
        // Read from the store every time: another replica may have re-installed the portal.
        let record = self.store.load(member_id).await?;
        Ok(record.map(|record| record.application_token))
    }

    /// Forgets portal `member_id` (`OnAppUninstall`).
    ///
    /// # Errors
    /// [`RegistryError::Store`].
    pub async fn uninstall(&self, member_id: &str) -> Result<(), RegistryError> {
        self.write().remove(member_id);
        self.store.remove(member_id).await?;
        Ok(())
    }

    fn build(&self, record: &PortalRecord) -> Result<Client, RegistryError> {
        let app = record.app.clone().unwrap_or_else(|| self.app.clone());
        let mut builder = self.template.clone().oauth(app, record.tokens.clone());
        if let Some(server) = &record.oauth_server {
            builder = builder.oauth_server(server.clone());
        }
        let builder = self.store.configure(record, builder)?;
        builder.build().map_err(|source| RegistryError::Client {
            member_id: record.member_id.clone(),
            source: Box::new(source),
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Client>> {
        // The map holds clients only; a panic elsewhere cannot leave it half-updated.
        self.clients.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Client>> {
        self.clients.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<S> fmt::Debug for PortalRegistry<S> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut portals: Vec<String> = self
            .clients
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .cloned()
            .collect();
        portals.sort_unstable();
        formatter
            .debug_struct("PortalRegistry")
            .field("app", &self.app)
            .field("clients", &portals)
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "server")]
impl<S: PortalStore> crate::receiver::ApplicationTokens for PortalRegistry<S> {
    async fn application_token(&self, member_id: &str) -> Option<SecretString> {
        match PortalRegistry::application_token(self, member_id).await {
            Ok(token) => token,
            Err(error) => {
                // Refusing is the safe answer; the portal does not retry, so say why.
                tracing::error!(%error, member_id, "cannot look up the application token; refusing the event");
                None
            }
        }
    }
}

#[cfg(feature = "server")]
impl<S: PortalStore> crate::receiver::PortalClients for PortalRegistry<S> {
    async fn client(&self, member_id: &str) -> Option<Client> {
        match PortalRegistry::client_for(self, member_id).await {
            Ok(client) => Some(client),
            Err(error) => {
                tracing::warn!(%error, member_id, "no client for this portal");
                None
            }
        }
    }
}
