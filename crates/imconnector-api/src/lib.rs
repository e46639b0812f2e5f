#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub use imconnector_transport as transport;

mod event_decode;
// Written by `cargo xtask codegen` and formatted by prettyplease; rustfmt must not touch it.
#[rustfmt::skip]
mod generated;
pub mod ids;
mod offline_decode;
pub mod php;
mod results;
pub mod soft_errors;
#[cfg(test)]
mod test_support;
mod wire;

pub use generated::{events, methods, types};
