//! Integration tests of the transport against small HTTP servers on 127.0.0.1.
#![allow(clippy::unwrap_used)]

mod batch;
mod errors;
mod pacing;
mod refresh;
mod retries;
mod secrets;
mod store;
mod support;

use std::time::Duration;

use imconnector_transport::{Client, ClientBuilder, OAuthApp, RateLimit, RetryPolicy, Tokens};

use support::OAuthPortal;

/// Retries with short waits, so the tests spend their time on behaviour, not sleeping.
pub fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 5,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        max_elapsed: Duration::from_secs(20),
    }
}

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
