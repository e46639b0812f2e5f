//! The bodies of the fuzz targets, as plain functions: `cargo fuzz` runs them through
//! libFuzzer (nightly), and the workspace's property tests run the very same files on stable
//! (`crates/imconnector-api/tests/proptest_decoders.rs` and
//! `crates/imconnector-transport/tests/proptest_envelope.rs` include them by path), so they
//! are compiled and exercised by every `cargo test`. The targets added for issue 20
//! (`install_request`, `settings_placement`, `install_event`, `oauth_answer`, `batch_answer`)
//! also assert an allocation bound ([`peak`]); their property tests are
//! `tests/tests/fuzz_twins.rs`.
#![forbid(unsafe_code)]

pub mod answer_server;
pub mod batch_answer;
pub mod envelope;
pub mod event_form;
pub mod install_event;
pub mod install_request;
pub mod oauth_answer;
pub mod peak;
pub mod settings_placement;
pub mod validators;
