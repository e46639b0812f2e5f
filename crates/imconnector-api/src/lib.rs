//! Typed requests, responses and events of the Bitrix24 `imconnector.*` REST API.
//!
//! Everything under [`methods`], [`types`] and [`events`] is generated from the spec in the
//! repository's `spec/` directory by `cargo xtask codegen`; [`wire`] holds the hand-written
//! helpers the spec names for the shapes the real server produces.
//!
//! - Build a request with `new(..)` (required parameters) and the setters (optional ones),
//!   then send it with [`transport::Client::call`]; it is validated before anything is sent.
//! - Decode what the portal POSTs to your handler with [`events::Event::from_form`].
#![deny(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub use imconnector_transport as transport;

mod event_decode;
// Written by `cargo xtask codegen` and formatted by prettyplease; rustfmt must not touch it.
#[rustfmt::skip]
mod generated;
#[cfg(test)]
mod test_support;
pub mod wire;

pub use generated::{events, methods, types};
