//! Integration tests of the transport against small HTTP servers on 127.0.0.1.
#![allow(clippy::unwrap_used)]

mod answer_memory;
mod batch;
mod bounds;
mod errors;
mod pacing;
mod refresh;
mod refresh_retry;
mod resilience;
mod retries;
mod store;
mod support;

use imconnector_transport::{Client, ClientBuilder, OAuthApp, RateLimit, Tokens};

pub use support::fast_retries;
use support::OAuthPortal;

/// The test application's credentials.
pub fn app() -> OAuthApp {
    OAuthApp::new("local.test-app", "client-SECRET-value")
}

/// A client on `portal` holding `access-0`/`refresh-0`, unpaced.
pub fn oauth_builder(portal: &OAuthPortal) -> ClientBuilder {
    Client::builder()
        .portal(portal.server.rest_base())
        .oauth_server(portal.server.oauth_url())
        .oauth(app(), Tokens::new("access-0", "refresh-0"))
        .rate_limit(RateLimit::Off)
        .retry_policy(fast_retries())
}
