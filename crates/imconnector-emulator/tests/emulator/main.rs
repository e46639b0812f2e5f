//! The emulator's conformance suite: plain HTTP against a running emulator, checked against the
//! reference (shared/reference/imconnector-api.md) and the spec's examples.

mod app_update;
mod basic_scope;
mod batch;
#[cfg(feature = "cli")]
mod binary;
mod common;
mod conformance;
mod conformance_lines;
mod control_http;
mod events;
mod exposure;
mod faults;
mod install;
mod limits;
mod messages;
mod oauth;
mod oauth_faults;
mod offline;
mod quirks;
mod settings_page;
mod spec_examples;
#[cfg(feature = "tls")]
mod tls;
mod transport;
