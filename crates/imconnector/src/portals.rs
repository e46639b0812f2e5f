//! Many portals per application: a registry keyed by `member_id` that keeps one [`Client`] per
//! portal (its endpoint, tokens and limiter), so a handler receiving an event from portal X calls
//! portal X with X's tokens.
//!
//! A portal enters the registry from its `OnAppInstall` event ([`PortalRegistry::install_event`])
//! or any [`PortalRecord`] you build ([`PortalRegistry::install`]); records live in a
//! [`PortalStore`] ([`MemoryPortalStore`] here, `imconnector_redis::RedisPortals` to share them
//! between replicas), so a replica that never saw the installation still finds the portal. With
//! feature `server` the registry is also the receiver's [`ApplicationTokens`]: an event is
//! accepted only with the application token stored for the `member_id` it claims.
//!
//! ```no_run
//! # #[cfg(feature = "server")]
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use imconnector::portals::{MemoryPortalStore, PortalRegistry};
//! use imconnector::receiver::{EventHandler, EventReceiver, HandlerError};
//! use imconnector::{events::MessageAddEvent, OAuthApp};
//!
//! struct Bridge {
//!     portals: Arc<PortalRegistry<MemoryPortalStore>>,
//! }
//!
//! impl EventHandler for Bridge {
//!     async fn dialog_start(&self, event: imconnector::events::DialogStartEvent) -> Result<(), HandlerError> {
//!         // The client of the portal the event came from, with that portal's tokens.
//!         let client = self.portals.client(&event.auth.member_id).await?;
//!         client.call_raw("imopenlines.config.list.get", serde_json::json!({})).await?;
//!         Ok(())
//!     }
//! }
//!
//! let portals = Arc::new(PortalRegistry::new(OAuthApp::new("app.id", "secret"), MemoryPortalStore::new()));
//! let events = EventReceiver::new(Arc::clone(&portals), Bridge { portals });
//! let app = axum::Router::new().nest("/bitrix/events", events.router());
//! # let _ = app; Ok(()) }
//! ```
#![cfg_attr(not(feature = "server"), allow(rustdoc::broken_intra_doc_links))]

mod record;
mod registry;

pub use record::{InstallError, PortalRecord};
pub use registry::{MemoryPortalStore, PortalRegistry, PortalStore, PortalStoreError, RegistryError};

#[cfg(feature = "server")]
use crate::receiver::ApplicationTokens;
#[cfg(not(feature = "server"))]
use self::ApplicationTokensUnavailable as ApplicationTokens;

/// Stands in for `receiver::ApplicationTokens` in the docs of builds without feature `server`.
#[cfg(not(feature = "server"))]
#[doc(hidden)]
pub enum ApplicationTokensUnavailable {}

use imconnector_transport::Client;
