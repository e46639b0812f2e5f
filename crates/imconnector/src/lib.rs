#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod error;
pub mod placement;
pub mod prelude;
mod provision;
#[cfg(feature = "server")]
pub mod receiver;
pub mod sender;

pub use imconnector_api as api;
pub use imconnector_api::{events, methods, types, wire};
/// The fake Bitrix24 portal (feature `emulator`): test your connector against it.
#[cfg(feature = "emulator")]
pub use imconnector_emulator as emulator;
/// Many portals per application: one client per portal, records in a store (re-exported from
/// the transport, where every storage hook lives). With feature `server` a registry is also the
/// receiver's [`ApplicationTokens`](crate::receiver::ApplicationTokens) and
/// [`PortalClients`](crate::receiver::PortalClients).
pub use imconnector_transport::portals;
pub use imconnector_transport as transport;
pub use imconnector_transport::{
    ApiError, Client, ClientBuilder, Error, ErrorCode, OAuthApp, RateLimit, RetryPolicy, Tokens,
};

pub use error::{Step, WorkflowError};
pub use provision::{provision, teardown, ConnectorSetup, Provisioned, TornDown};
