//! Many portals per application: a registry keyed by `member_id` that keeps one [`Client`] per
//! portal (its endpoint, tokens and limiter), so a handler receiving an event from portal X calls
//! portal X with X's tokens.
//!
//! A portal enters the registry from its `OnAppInstall` event ([`PortalRegistry::install_event`])
//! or a [`PortalRecord`] you build ([`PortalRegistry::install`]). Records live in a
//! [`PortalStore`]: [`MemoryPortalStore`] for one process that may forget them,
//! [`FilePortalStore`] for one process that restarts, `imconnector_redis::RedisPortals` to share them
//! (and each portal's tokens, refresh lock and leaky bucket) between replicas, so a replica that
//! never saw the installation still finds the portal. The facade `imconnector` makes the
//! registry its event receiver's source of application tokens and portal clients.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use imconnector_transport::portals::{MemoryPortalStore, PortalRecord, PortalRegistry};
//! use imconnector_transport::{MemberId, OAuthApp, Tokens};
//!
//! let app = OAuthApp::new("app.0123456789abcd.12345678", "client secret");
//! let portals = PortalRegistry::new(app, MemoryPortalStore::new());
//! let tokens = Tokens::new("access", "refresh")
//!     .with_client_endpoint("https://example.bitrix24.com/rest/");
//! portals.install(PortalRecord::new("member-id", "application token", tokens)).await?;
//! // The client of the portal an event came from, with that portal's tokens.
//! let client = portals.client_for(&MemberId::from("member-id")).await?;
//! client.call_raw("imopenlines.config.list.get", serde_json::json!({})).await?;
//! # Ok(()) }
//! ```

mod authorizations;
mod file_store;
#[cfg(test)]
mod file_store_tests;
mod keep_alive;
mod known_tokens;
mod record;
mod store;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;
use std::sync::{PoisonError, RwLock};
use std::time::Duration;

use crate::{Client, ClientBuilder, MemberId, OAuthApp};
use secrecy::SecretString;

pub use authorizations::{StateSaved, DEFAULT_MAX_AUTHORIZATIONS, MAX_AUTHORIZATIONS_PER_PORTAL};
pub use file_store::FilePortalStore;
pub use keep_alive::{
    KeepAlive, KeepAliveError, KeepAliveReport, DEFAULT_KEEP_ALIVE_CONCURRENCY,
    DEFAULT_KEEP_ALIVE_INTERVAL, DEFAULT_MAX_IDLE, REFRESH_TOKEN_LIFETIME,
};
use known_tokens::KnownTokens;
pub use known_tokens::{DEFAULT_KNOWN_TOKENS, DEFAULT_KNOWN_TOKEN_AGE};
pub use record::{InstallEventError, PortalRecord};
pub use store::{MemoryPortalStore, PortalStore, PortalStoreError};

/// Why the registry could not serve a portal.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// No portal with this `member_id` is installed.
    #[error("no portal with member_id {0:?} is installed")]
    NotInstalled(MemberId),
    /// The installation could not be read.
    #[error(transparent)]
    Install(#[from] InstallEventError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] PortalStoreError),
    /// The portal's client could not be built (e.g. a malformed `client_endpoint`).
    #[error("cannot build the client of portal {member_id:?}: {source}")]
    Client {
        /// The portal.
        member_id: MemberId,
        /// The builder's error.
        #[source]
        source: Box<crate::Error>,
    },
}

/// One [`Client`] per portal, built on first use from the [`PortalStore`] and kept.
pub struct PortalRegistry<S> {
    app: OAuthApp,
    template: ClientBuilder,
    store: S,
    clients: RwLock<HashMap<MemberId, Client>>,
    known_tokens: KnownTokens,
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
            known_tokens: KnownTokens::new(DEFAULT_KNOWN_TOKENS, DEFAULT_KNOWN_TOKEN_AGE),
        }
    }

    /// How many portals' application tokens this process keeps to verify events while the
    /// store is unreachable (default [`DEFAULT_KNOWN_TOKENS`]; 0 keeps none), and for how long
    /// after the store last confirmed one (default [`DEFAULT_KNOWN_TOKEN_AGE`]); see
    /// [`last_known_application_token`](Self::last_known_application_token).
    #[must_use]
    pub fn known_application_tokens(mut self, portals: usize, max_age: Duration) -> Self {
        self.known_tokens = KnownTokens::new(portals, max_age);
        self
    }

    /// The settings every portal's client starts from (rate limit, retries, timeouts, OAuth
    /// server); its auth is replaced by each portal's.
    #[must_use]
    pub fn client_template(mut self, template: ClientBuilder) -> Self {
        self.template = template;
        self
    }

    /// The application's credentials (those of portals without their own).
    pub fn app(&self) -> &OAuthApp {
        &self.app
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
        if record.member_id.as_str().trim().is_empty() {
            return Err(InstallEventError::Missing("member_id").into());
        }
        let client = self.build(&record)?;
        self.store.save(&record).await?;
        self.known_tokens
            .confirm(record.member_id.as_str(), &record.application_token);
        self.write()
            .insert(record.member_id.clone(), client.clone());
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
        let event = imconnector_form::parse_body(content_type, body)
            .map_err(|error| InstallEventError::Malformed(error.to_string()))?;
        self.install(PortalRecord::from_install_event(&event)?)
            .await
    }

    /// The client of portal `member_id`, with that portal's endpoint, tokens and limiter.
    ///
    /// (Not named `client`: on an `Arc<PortalRegistry>` that name would resolve to the
    /// receiver's `PortalClients::client`, which answers `None` instead of an error.)
    ///
    /// # Errors
    /// [`RegistryError::NotInstalled`], [`RegistryError::Store`], [`RegistryError::Client`].
    pub async fn client_for(&self, member_id: &MemberId) -> Result<Client, RegistryError> {
        if let Some(client) = self.read().get(member_id) {
            return Ok(client.clone());
        }
        let record = self
            .store
            .load(member_id)
            .await?
            .ok_or_else(|| RegistryError::NotInstalled(member_id.clone()))?;
        let client = self.build(&record)?;
        // Another task may have built one meanwhile: keep the first, so all share one limiter.
        Ok(self
            .write()
            .entry(member_id.clone())
            .or_insert(client)
            .clone())
    }

    /// The application token portal `member_id`'s events must carry, `None` if not installed.
    ///
    /// # Errors
    /// [`RegistryError::Store`].
    pub async fn application_token(
        &self,
        member_id: &MemberId,
    ) -> Result<Option<SecretString>, RegistryError> {
        // Read from the store every time: another replica may have re-installed the portal.
        let record = self.store.load(member_id).await?;
        match &record {
            Some(record) => self
                .known_tokens
                .confirm(member_id.as_str(), &record.application_token),
            None => self.known_tokens.forget(member_id.as_str()),
        }
        Ok(record.map(|record| record.application_token))
    }

    /// The application token the store last gave for portal `member_id` (through
    /// [`application_token`](Self::application_token) or an installation in this process),
    /// within the age set by [`known_application_tokens`](Self::known_application_tokens):
    /// what to verify events with while the store cannot be reached. The store's answer, when
    /// it gives one, always wins: an uninstall or reinstall elsewhere is seen at once.
    pub fn last_known_application_token(&self, member_id: &MemberId) -> Option<SecretString> {
        self.known_tokens.get(member_id.as_str())
    }

    /// Gives installed portal `member_id` the application token `token` if it has none yet
    /// (see [`PortalStore::fill_application_token`]): for an installation whose token was
    /// never received, once `token` is proven by other means. `true` when it was filled.
    ///
    /// # Errors
    /// [`RegistryError::Store`].
    pub async fn fill_application_token(
        &self,
        member_id: &MemberId,
        token: &SecretString,
    ) -> Result<bool, RegistryError> {
        let filled = self.store.fill_application_token(member_id, token).await?;
        if filled {
            self.known_tokens.confirm(member_id.as_str(), token);
        }
        Ok(filled)
    }

    /// Forgets portal `member_id` (`OnAppUninstall`).
    ///
    /// # Errors
    /// [`RegistryError::Store`].
    pub async fn uninstall(&self, member_id: &MemberId) -> Result<(), RegistryError> {
        self.write().remove(member_id);
        self.known_tokens.forget(member_id.as_str());
        self.store.remove(member_id).await?;
        Ok(())
    }

    /// The `member_id` of every installed portal in the store (all replicas'), in no
    /// particular order.
    ///
    /// # Errors
    /// [`RegistryError::Store`].
    pub async fn portals(&self) -> Result<Vec<MemberId>, RegistryError> {
        Ok(self.store.list().await?)
    }

    /// Records that the connector is provisioned on portal `member_id` (see
    /// [`PortalRecord::provisioned`]).
    ///
    /// # Errors
    /// [`RegistryError::Store`].
    pub async fn mark_provisioned(&self, member_id: &MemberId) -> Result<(), RegistryError> {
        Ok(self.store.set_provisioned(member_id, true).await?)
    }

    /// The stored record of portal `member_id` (its pair as stored), `None` when not
    /// installed.
    ///
    /// # Errors
    /// [`RegistryError::Store`].
    pub async fn record(
        &self,
        member_id: &MemberId,
    ) -> Result<Option<PortalRecord>, RegistryError> {
        Ok(self.store.load(member_id).await?)
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

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<MemberId, Client>> {
        // The map holds clients only; a panic elsewhere cannot leave it half-updated.
        self.clients.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<MemberId, Client>> {
        self.clients.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<S> fmt::Debug for PortalRegistry<S> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut portals: Vec<MemberId> = self
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
