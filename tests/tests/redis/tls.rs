//! Issue 20: `rediss://` against the TLS redis-server `.ci/redis.sh` starts, trusting its test
//! CA through configuration; the server's certificate is verified, never waved through.

use imconnector_transport::MemberId;
use std::error::Error as _;

use imconnector_redis::{RedisBackend, RedisBackendError};
use imconnector_transport::portals::{PortalRecord, PortalStore};
use imconnector_transport::{secrecy::ExposeSecret, RateLimit, Tokens};

use crate::support::{clean, rediss_url_and_ca, unique_prefix};

/// The error and its sources as one text.
fn chain(error: &RedisBackendError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

#[tokio::test]
async fn rediss_works_against_a_tls_redis_trusting_the_configured_ca() {
    let Some((url, ca)) = rediss_url_and_ca() else {
        return;
    };
    let prefix = unique_prefix("tls");
    // Before the fix: refused at once, the client library built without TLS.
    let backend = RedisBackend::builder("app.tls")
        .key_prefix(&prefix)
        .tls_root_certificates(ca.clone())
        .connect(&url)
        .await
        .unwrap_or_else(|error| panic!("{}", chain(&error)));
    let portals = backend.portals(RateLimit::Off);
    let record = PortalRecord::new(
        "tls-member",
        "application-token",
        Tokens::new("access", "refresh").with_client_endpoint("https://portal.example/rest/"),
    );
    portals.save(&record).await.unwrap();
    let stored = portals
        .load(&MemberId::from("tls-member"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.tokens.refresh_token.expose_secret(), "refresh");
    let version = backend
        .token_store("tls-member")
        .unwrap()
        .load_versioned()
        .await
        .unwrap()
        .unwrap()
        .version;
    assert!(version >= 1);
    clean(&backend, &prefix).await;
}

#[tokio::test]
async fn a_tls_redis_whose_ca_is_not_trusted_is_refused() {
    let Some((url, ca)) = rediss_url_and_ca() else {
        return;
    };
    // The system's roots do not know the test CA: the certificate is not accepted.
    let error = RedisBackend::connect(&url, "app.tls").await.unwrap_err();
    let text = chain(&error);
    assert!(
        matches!(error, RedisBackendError::Redis { .. }) && text.contains("certificate"),
        "{text}"
    );
    // A CA for a plain `redis://` URL would be a TLS connection that is not: refused by name.
    let plain = url.replace("rediss://", "redis://");
    let error = RedisBackend::builder("app.tls")
        .tls_root_certificates(ca)
        .connect(&plain)
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("tls_root_certificates"),
        "{error}"
    );
}
