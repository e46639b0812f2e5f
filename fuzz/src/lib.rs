//! The bodies of the fuzz targets, as plain functions: `cargo fuzz` runs them through
//! libFuzzer (nightly), and the workspace's property tests run the very same files on stable
//! (`crates/imconnector-api/tests/proptest_decoders.rs` and
//! `crates/imconnector-transport/tests/proptest_envelope.rs` include them by path), so they
//! are compiled and exercised by every `cargo test`.
#![forbid(unsafe_code)]

pub mod envelope;
pub mod event_form;
pub mod validators;
