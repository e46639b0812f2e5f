//! Build Bitrix24 Open Channels connectors in Rust.
#![deny(missing_docs)]

pub use imconnector_api as api;
pub use imconnector_transport as transport;
