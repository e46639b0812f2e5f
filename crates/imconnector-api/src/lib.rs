//! Typed requests, responses and events of the Bitrix24 `imconnector.*` REST API.
#![deny(missing_docs)]

pub use imconnector_transport as transport;
