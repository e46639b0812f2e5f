//! HTTP transport for the Bitrix24 REST API.
#![deny(missing_docs)]

mod method;

pub use method::{AuthKind, InvalidRequest, Method, SoftError};
pub use secrecy;
