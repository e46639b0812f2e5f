//! Secrets never leak: its own test binary, because it installs a process-wide tracing
//! subscriber to capture every span and event the client emits.
#![allow(clippy::unwrap_used)]

#[path = "transport/secrets.rs"]
mod secrets;
// The shared support module serves the main test binary; this one uses only part of it.
#[allow(dead_code, unused_imports)]
#[path = "transport/support/mod.rs"]
mod support;
