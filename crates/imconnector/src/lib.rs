#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod doctor;
#[cfg(feature = "emulator")]
#[cfg_attr(docsrs, doc(cfg(feature = "emulator")))]
pub mod emulator;
mod error;
pub mod inbound;
#[cfg(feature = "server")]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub mod install;
#[cfg_attr(not(feature = "server"), allow(dead_code))]
mod log_text;
#[cfg(feature = "server")]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub mod offline;
pub mod placement;
pub mod prelude;
mod provision;
#[cfg(feature = "server")]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub mod receiver;
pub mod sender;
#[cfg(feature = "server")]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub mod serve;

pub use imconnector_api as api;
pub use imconnector_api::{events, ids, methods, php, soft_errors, types};
pub use imconnector_transport as transport;
/// Many portals per application: one client per portal, records in a store (re-exported from
/// the transport, where every storage hook lives). With feature `server` a registry is also the
/// event receiver's source of application tokens and of each portal's client.
pub use imconnector_transport::portals;
/// The SDK's one secret type (tokens, client secret, application token): redacted in `Debug`,
/// read with [`ExposeSecret::expose_secret`], compared with [`secrets_match`] (constant time).
pub use imconnector_transport::secrecy::{ExposeSecret, SecretString};
pub use imconnector_transport::{
    secrets_match, ApiError, Client, ClientBuilder, Error, ErrorCode, FileTokenStore, MemberId,
    OAuthApp, RateLimit, RetryPolicy, TokenStore, Tokens,
};

pub use error::{Step, WorkflowError};
pub use imconnector_api::ids::{EventsUrl, SettingsUrl};
pub use provision::{
    provision, teardown, ConnectorSetup, EventDelivery, Provisioned, TornDown, OFFLINE_WAKEUP_EVENT,
};
#[cfg(feature = "server")]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub use serve::{serve, Serve};
