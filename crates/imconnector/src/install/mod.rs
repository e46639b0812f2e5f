//! Installing the connector app on a portal (feature `server`): one [`Installer`] for both
//! install styles, serving install, events and the settings page from one axum [`Router`].
//!
//! - **UI app** (the local app's form with a handler and an install path): the admin opens the
//!   app and the portal POSTs the install frame (`PLACEMENT=DEFAULT`, the admin's
//!   `AUTH_ID`/`REFRESH_ID`) to the install URL. The installer proves the tokens (below),
//!   binds ONAPPINSTALL/ONAPPUNINSTALL to the install URL, provisions the connector and answers
//!   a page calling `BX24.installFinish()`. The portal then sends ONAPPINSTALL.
//! - **API-only app** ("uses API only"): the portal pushes ONAPPINSTALL to the install URL at
//!   once.
//! - **ONAPPINSTALL is never trusted as it comes** (anyone can POST one): its `refresh_token` is
//!   refreshed at the OAuth server *you configured* with your `client_secret`, and the portal
//!   is kept only when the answer's `member_id` is the event's and its `client_endpoint` is on
//!   the event's `auth[domain]`. Only then are the application token and the new (rotated)
//!   token pair stored in the [`PortalRegistry`] and the connector provisioned there.
//!   The `server_endpoint` an event or POST names is never used for this: whoever sent the
//!   request would choose who vouches for it.
//! - **Only an administrator installs.** Every employee who opens the app gets genuine tokens
//!   of it, so proven tokens are not enough: the installer asks `user.admin` with them and
//!   refuses anyone else's install POST, ONAPPINSTALL or code flow with 403
//!   ([`InstallError::NotAdministrator`]), storing nothing.
//! - **The older install POST** (no `APPLICATION_TOKEN`) is proven the same way and its pair
//!   stored with an empty application token: the portal is served (calls, keep-alive,
//!   reconcile) even if ONAPPINSTALL never arrives, and no event is accepted until
//!   ONAPPINSTALL (or ONAPPUPDATE) brings the real token, or the administrator opens the
//!   settings page: its `AUTH_ID` proven with `app.info` and `user.admin`, the
//!   `APPLICATION_TOKEN` it carries is stored (never over a token already stored).
//! - **An installed portal keeps its application token** whatever an install POST says (the
//!   administrator's proven pair is taken); only an administrator's ONAPPINSTALL, which a
//!   reinstall sends, replaces it.
//! - **ONAPPUPDATE** (a new version of the app) is proven and stored like ONAPPINSTALL: it
//!   brings the app's new application token, and since the portal removed the app's event
//!   bindings with the update, provisioning binds them again. The installer binds ONAPPUPDATE to
//!   the install URL beside ONAPPINSTALL and ONAPPUNINSTALL.
//! - **ONAPPUNINSTALL** must carry the stored application token (compared in constant time);
//!   then the portal's record and tokens are removed. A forged one changes nothing.
//! - **The settings page** (`SETTING_CONNECTOR`) is applied only when proven: by its
//!   `APPLICATION_TOKEN` (compared in constant time with the stored one) or, when the portal
//!   leaves that out, by its `AUTH_ID`, asked back of the stored portal within
//!   [`Installer::settings_proof_timeout`]: `app.info` must name this app and `user.admin` must
//!   say yes. A forged page gets 401 and changes nothing; a portal that does not answer, 504.
//! - **Code flow** (to re-obtain tokens of an installed portal): `GET authorize?member_id=…`
//!   redirects to the portal's authorize page with a random `state`; the redirect back to
//!   `oauth` is checked (state, `member_id`, domain), its code traded for tokens, and those
//!   replace the stored pair only if they are an administrator's. The states live in the
//!   registry's [`PortalStore`] (Redis included), so the redirect may reach any replica: only
//!   for installed portals, each used once, for [`Installer::authorization_lifetime`], at most
//!   [`MAX_AUTHORIZATIONS_PER_PORTAL`](imconnector_transport::portals::MAX_AUTHORIZATIONS_PER_PORTAL)
//!   per portal, so `/authorize` requests for one portal never drop another's.
//!
//! Routes of [`Installer::router`], relative to where you mount it (see [`AppUrls`]):
//! `/` the app page, `/install`, `/events` (the [`EventReceiver`]), `/settings` (the
//! `SETTING_CONNECTOR` placement), `/authorize` and `/oauth`.
//!
//! ```no_run
//! use std::sync::Arc;
//! use imconnector::install::{AppUrls, Installer};
//! use imconnector::portals::{MemoryPortalStore, PortalRegistry};
//! use imconnector::prelude::*;
//! use imconnector::transport::authorization::OAuthServer;
//!
//! struct Bridge;
//! impl EventHandler for Bridge {}
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let app = OAuthApp::new("local.5c8bb1b0891cf2.87252039", "client secret");
//! let urls = AppUrls::new("https://connector.example.com/bitrix/")?;
//! let icon = Icon::new("data:image/svg+xml,%3Csvg%20xmlns%3D%22http://www.w3.org/2000/svg%22/%3E");
//! let setup = ConnectorSetup::new(ConnectorId::new("acme_chat")?, "Acme Chat", icon,
//!     urls.settings(), urls.events());
//! let registry = Arc::new(PortalRegistry::new(app.clone(), MemoryPortalStore::new()));
//! let installer = Installer::new(registry, OAuthServer::new(app)?, setup, &urls)?;
//! let router = axum::Router::new().nest("/bitrix", installer.router(Bridge));
//! imconnector::serve(tokio::net::TcpListener::bind("0.0.0.0:8080").await?, router).await?;
//! # Ok(()) }
//! ```

mod admin;
mod code_flow;
mod error;
mod flow;
mod page;
mod reconcile;
mod request;
mod routes;
mod settings;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use imconnector_api::ids::LineId;
use imconnector_transport::authorization::OAuthServer;
use imconnector_transport::portals::{PortalRegistry, PortalStore};
use imconnector_transport::{InvalidRequest, MemberId};

use crate::provision::{ConnectorSetup, Provisioned};
use crate::receiver::{EventHandler, EventReceiver};
use crate::{EventsUrl, SettingsUrl};

pub use code_flow::DEFAULT_AUTHORIZATION_LIFETIME;
pub use error::InstallError;
pub use reconcile::Reconciled;
pub use settings::DEFAULT_SETTINGS_PROOF_TIMEOUT;

/// The default limit on an install or settings POST: the portal's are well under 8 KiB.
pub const DEFAULT_INSTALL_BODY_LIMIT: usize = 64 * 1024;

/// The public URLs of a connector app under one base, matching [`Installer::router`]'s routes.
///
/// ```
/// let urls = imconnector::install::AppUrls::new("https://connector.example.com/bitrix")?;
/// assert_eq!(urls.app(), "https://connector.example.com/bitrix");
/// assert_eq!(urls.install(), "https://connector.example.com/bitrix/install");
/// assert_eq!(urls.events().as_str(), "https://connector.example.com/bitrix/events");
/// # Ok::<(), imconnector::transport::InvalidRequest>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppUrls {
    base: String,
    // Built (and so checked) once in `new`, so the getters cannot fail.
    events: EventsUrl,
    settings: SettingsUrl,
    install_events: EventsUrl,
}

impl AppUrls {
    /// URLs under `base`, the public address where the router is mounted (HTTPS on a real
    /// portal; a trailing `/` is added).
    ///
    /// # Errors
    /// [`InvalidRequest`] when `base` is not an absolute http(s) URL.
    pub fn new(base: &str) -> Result<Self, InvalidRequest> {
        let base = base.trim();
        let base = if base.ends_with('/') {
            base.to_owned()
        } else {
            format!("{base}/")
        };
        // Validated through the two URLs, whose rules (absolute, http(s), a host) apply.
        let in_base = |error: InvalidRequest| InvalidRequest::new("base", error.reason);
        let events = EventsUrl::parse(&format!("{base}events")).map_err(in_base)?;
        let settings = SettingsUrl::parse(&format!("{base}settings")).map_err(in_base)?;
        let install_events = EventsUrl::parse(&format!("{base}install")).map_err(in_base)?;
        Ok(Self {
            base,
            events,
            settings,
            install_events,
        })
    }

    /// The app page ("Handler path" of the local app). It also takes the code flow's
    /// redirect, which goes to the handler path unless the app names another URL.
    pub fn app(&self) -> String {
        // Without the trailing slash: a router nested at `/bitrix` answers `/bitrix`, and
        // `/bitrix/` would be another path. A base at the root keeps its `/`.
        match url::Url::parse(&self.base) {
            Ok(url) if url.path() != "/" => self.base.trim_end_matches('/').to_owned(),
            _ => self.base.clone(),
        }
    }

    /// "Initial installation path": the install POST, ONAPPINSTALL and ONAPPUNINSTALL.
    pub fn install(&self) -> String {
        format!("{}install", self.base)
    }

    /// [`install`](Self::install) as the handler of the lifecycle events (`ONAPPINSTALL`,
    /// `ONAPPUNINSTALL`).
    pub(crate) fn install_events(&self) -> &EventsUrl {
        &self.install_events
    }

    /// Where events are POSTed.
    pub fn events(&self) -> EventsUrl {
        self.events.clone()
    }

    /// The connector's settings page (`SETTING_CONNECTOR`).
    pub fn settings(&self) -> SettingsUrl {
        self.settings.clone()
    }

    /// Starts the code flow for an installed portal: `authorize?member_id=…`.
    pub fn authorize(&self) -> String {
        format!("{}authorize", self.base)
    }

    /// Where the portal redirects with the code.
    pub fn oauth_callback(&self) -> String {
        format!("{}oauth", self.base)
    }
}

/// What an install request did.
#[derive(Debug)]
#[non_exhaustive]
pub enum InstallOutcome {
    /// A UI install POST: an administrator's tokens proven, connector provisioned; the page
    /// calls `BX24.installFinish()`, after which the portal sends ONAPPINSTALL. The portal is
    /// in the registry now: it was installed already (its application token kept), or the POST
    /// carried the application token, or (the older POST) it is stored with the proven pair
    /// and an empty application token, which no event matches until ONAPPINSTALL brings it.
    AwaitingFinish {
        /// The portal.
        member_id: MemberId,
        /// Whether the portal is stored (always, since the older POST's pair is kept too).
        stored: bool,
        /// What provisioning did.
        provisioned: Provisioned,
    },
    /// ONAPPINSTALL, proven: the portal is stored and the connector provisioned.
    Installed {
        /// The portal.
        member_id: MemberId,
        /// What provisioning did.
        provisioned: Provisioned,
    },
    /// ONAPPUPDATE, proven like ONAPPINSTALL: the app's new application token and pair are
    /// stored, and the events the update removed are bound again (provisioning ran).
    Updated {
        /// The portal.
        member_id: MemberId,
        /// What provisioning did.
        provisioned: Provisioned,
    },
    /// ONAPPUNINSTALL with the right application token: the portal is forgotten.
    Uninstalled {
        /// The portal.
        member_id: MemberId,
    },
}

/// Installs, uninstalls and serves a connector app on any number of portals; see the
/// [module docs](self).
pub struct Installer<S> {
    registry: Arc<PortalRegistry<S>>,
    oauth: OAuthServer,
    setup: ConnectorSetup,
    urls: AppUrls,
    line: Option<LineId>,
    body_limit: usize,
    authorization_lifetime: Duration,
    settings_proof_timeout: Duration,
}

impl<S: PortalStore> Installer<S> {
    /// An installer storing portals in `registry`, proving installs at `oauth` (configure its
    /// token URL yourself; it is never taken from a request) and provisioning `setup`, whose
    /// events URL must be `urls.events()`.
    ///
    /// # Errors
    /// [`InvalidRequest`] naming `handler` when the setup's events URL is not `urls.events()`.
    pub fn new(
        registry: Arc<PortalRegistry<S>>,
        oauth: OAuthServer,
        setup: ConnectorSetup,
        urls: &AppUrls,
    ) -> Result<Self, InvalidRequest> {
        if setup.event_handler() != &urls.events() {
            return Err(InvalidRequest::new(
                "handler",
                format!(
                    "the setup binds events to {}, but the router receives them at {}",
                    setup.event_handler(),
                    urls.events()
                ),
            ));
        }
        Ok(Self {
            registry,
            oauth,
            setup,
            urls: urls.clone(),
            line: None,
            body_limit: DEFAULT_INSTALL_BODY_LIMIT,
            authorization_lifetime: DEFAULT_AUTHORIZATION_LIFETIME,
            settings_proof_timeout: DEFAULT_SETTINGS_PROOF_TIMEOUT,
        })
    }

    /// Provisions the connector on `line` (default: the first open line the portal lists).
    #[must_use]
    pub fn line(mut self, line: LineId) -> Self {
        self.line = Some(line);
        self
    }

    /// Install and settings POSTs larger than `bytes` get 413 (default
    /// [`DEFAULT_INSTALL_BODY_LIMIT`]).
    #[must_use]
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// How long a started code-flow authorization waits for the portal's redirect (default
    /// [`DEFAULT_AUTHORIZATION_LIFETIME`], at most an hour); its state is kept in the registry's
    /// store that long.
    ///
    /// # Errors
    /// [`InvalidRequest`] naming `lifetime` when it is zero or over an hour.
    pub fn authorization_lifetime(mut self, lifetime: Duration) -> Result<Self, InvalidRequest> {
        if lifetime.is_zero() || lifetime > code_flow::MAX_AUTHORIZATION_LIFETIME {
            return Err(InvalidRequest::new(
                "lifetime",
                "must be more than zero and at most an hour",
            ));
        }
        self.authorization_lifetime = lifetime;
        Ok(self)
    }

    /// The bound on proving a settings page POST that came without `APPLICATION_TOKEN` by
    /// asking the portal about its `AUTH_ID` (default [`DEFAULT_SETTINGS_PROOF_TIMEOUT`]); past
    /// it the page answers 504 and nothing changes.
    ///
    /// # Errors
    /// [`InvalidRequest`] naming `timeout` when it is zero.
    pub fn settings_proof_timeout(mut self, timeout: Duration) -> Result<Self, InvalidRequest> {
        if timeout.is_zero() {
            return Err(InvalidRequest::new("timeout", "must be more than zero"));
        }
        self.settings_proof_timeout = timeout;
        Ok(self)
    }

    /// The registry portals are stored in.
    pub fn registry(&self) -> &Arc<PortalRegistry<S>> {
        &self.registry
    }

    /// Handles a POST to the install URL outside axum: `query` is the query string (without
    /// `?`), `body` the raw body (form or JSON per `content_type`).
    ///
    /// # Errors
    /// [`InstallError`], which says the HTTP status to answer. Nothing is stored or changed
    /// unless the request was proven; a proven install whose provisioning failed
    /// ([`InstallError::Provision`]) keeps the stored portal: call
    /// [`provision`](Self::provision) later (the portal does not resend ONAPPINSTALL).
    pub async fn handle(
        &self,
        query: Option<&str>,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<InstallOutcome, InstallError> {
        match request::InstallRequest::parse(query, content_type, body)? {
            request::InstallRequest::Frame(frame) => self.frame_install(frame).await,
            request::InstallRequest::AppInstall(event) => self.app_install(*event).await,
            request::InstallRequest::AppUpdate(event) => self.app_update(*event).await,
            request::InstallRequest::AppUninstall(event) => self.app_uninstall(event).await,
        }
    }

    /// Provisions the connector again on installed portal `member_id` (after a failed
    /// provisioning, or a changed setup); idempotent.
    ///
    /// # Errors
    /// [`InstallError::Registry`] (not installed, store), [`InstallError::Provision`],
    /// [`InstallError::Portal`], [`InstallError::NoOpenLine`].
    pub async fn provision(&self, member_id: &MemberId) -> Result<Provisioned, InstallError> {
        let client = self.registry.client_for(member_id).await?;
        let provisioned = self.provision_portal(&client).await?;
        self.mark_provisioned(member_id).await;
        Ok(provisioned)
    }

    /// The router: `/`, `/install`, `/events`, `/settings`, `/authorize`, `/oauth` (see the
    /// [module docs](self)); `handler` receives the events, and operator messages it reports as
    /// sent are confirmed with the client of their portal.
    ///
    /// The events' pipeline holds them in memory: for a durable inbox, or to drain the
    /// pipeline on shutdown, build the receiver with [`event_receiver`](Self::event_receiver)
    /// and mount it with [`router_with_events`](Self::router_with_events).
    pub fn router<H: EventHandler>(self, handler: H) -> Router {
        Arc::new(self).shared_router(handler)
    }

    /// [`router`](Self::router) for an installer you keep using (e.g. to call
    /// [`provision`](Self::provision)).
    pub fn shared_router<H: EventHandler>(self: Arc<Self>, handler: H) -> Router {
        let events = self.event_receiver(handler).router();
        self.router_with_events(events)
    }

    /// The receiver [`router`](Self::router) mounts at `/events`: events checked against the
    /// registry's application tokens, and the messages `handler` reports as sent confirmed with
    /// the client of their portal. Add a durable inbox or options, then
    /// [`build`](EventReceiver::build) it and pass its router to
    /// [`router_with_events`](Self::router_with_events) (keep its pipeline to drain on
    /// shutdown).
    pub fn event_receiver<H: EventHandler>(
        &self,
        handler: H,
    ) -> EventReceiver<H, Arc<PortalRegistry<S>>, Arc<PortalRegistry<S>>> {
        EventReceiver::new(Arc::clone(&self.registry), handler)
            .confirm_deliveries(Arc::clone(&self.registry))
    }

    /// The router with `events` (from [`event_receiver`](Self::event_receiver)) at `/events`.
    pub fn router_with_events(self: Arc<Self>, events: Router) -> Router {
        let limit = self.body_limit;
        Router::new()
            .route("/", get(routes::app_page::<S>).post(routes::app_page::<S>))
            .route("/install", post(routes::install::<S>))
            .route("/settings", post(routes::settings::<S>))
            .route("/authorize", get(routes::authorize::<S>))
            .route("/oauth", get(routes::oauth_callback::<S>))
            .layer(DefaultBodyLimit::max(limit))
            .with_state(self)
            .nest("/events", events)
    }
}

impl<S> fmt::Debug for Installer<S> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Installer")
            .field("oauth", &self.oauth)
            .field("connector", self.setup.id())
            .field("urls", &self.urls)
            .field("line", &self.line)
            .field("body_limit", &self.body_limit)
            .field("authorization_lifetime", &self.authorization_lifetime)
            .field("settings_proof_timeout", &self.settings_proof_timeout)
            .finish_non_exhaustive()
    }
}
