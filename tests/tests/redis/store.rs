//! The token store: versioned, compare-and-set saves, `replace` that outranks everything.

use imconnector_transport::MemberId;
use std::time::Duration;

use imconnector_redis::RedisBackendError;
use imconnector_transport::{secrecy::ExposeSecret, TokenStore, Tokens};

use crate::support::{backend, clean, redis_url, unique_prefix};

fn pair(n: u32) -> Tokens {
    Tokens::new(format!("access-{n}"), format!("refresh-{n}"))
        .with_client_endpoint("https://example.bitrix24.com/rest/")
        .with_member_id("member1")
}

#[tokio::test]
async fn a_stale_writer_cannot_overwrite_a_newer_pair() {
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix("store");
    let backend = backend(&url, &prefix, Duration::from_secs(1)).await;
    let replica_a = backend.token_store("member1").unwrap();
    let replica_b = backend.token_store("member1").unwrap();
    assert!(replica_a.load().await.unwrap().is_none());

    // Both saw "nothing stored"; the first save wins, the second is refused by name.
    replica_a.save(&pair(1)).await.unwrap();
    let refused = replica_b.save(&pair(2)).await.unwrap_err();
    assert!(
        refused.to_string().contains("newer token pair"),
        "{refused}"
    );
    assert!(!refused.to_string().contains("access-2"), "{refused}");
    let stored = replica_b.load_versioned().await.unwrap().unwrap();
    assert_eq!(
        (stored.version, stored.tokens.access_token.expose_secret()),
        (1, "access-1")
    );

    // Having loaded version 1, B may save over it; now A is the stale one.
    replica_b.save(&pair(3)).await.unwrap();
    assert!(replica_a.save(&pair(4)).await.is_err());
    let stored = replica_a.load_versioned().await.unwrap().unwrap();
    assert_eq!(
        (stored.version, stored.tokens.refresh_token.expose_secret()),
        (2, "refresh-3")
    );

    // `replace` (a new installation) wins regardless and takes the next version.
    assert_eq!(replica_b.replace(&pair(5)).await.unwrap(), 3);
    let stored = replica_a.load_versioned().await.unwrap().unwrap();
    assert_eq!(stored.version, 3);
    assert_eq!(
        stored.tokens.member_id.as_ref().map(MemberId::as_str),
        Some("member1")
    );
    clean(&backend, &prefix).await;
}

#[tokio::test]
async fn portals_do_not_share_keys_and_bad_member_ids_are_refused_before_any_request() {
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix("keys");
    let backend = backend(&url, &prefix, Duration::from_secs(1)).await;
    backend
        .token_store("portal-a")
        .unwrap()
        .replace(&pair(1))
        .await
        .unwrap();
    assert!(backend
        .token_store("portal-b")
        .unwrap()
        .load()
        .await
        .unwrap()
        .is_none());
    for bad in ["", "a}b", "x{y}", "with space"] {
        let error = backend.token_store(bad).unwrap_err();
        assert!(
            matches!(error, RedisBackendError::InvalidMemberId { .. }),
            "{error}"
        );
        assert!(error.to_string().contains("member_id"), "{error}");
    }
    clean(&backend, &prefix).await;
}

#[tokio::test]
async fn a_malformed_stored_pair_is_an_error_that_does_not_quote_it() {
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix("malformed");
    let backend = backend(&url, &prefix, Duration::from_secs(1)).await;
    let store = backend.token_store("member1").unwrap();
    store.replace(&pair(1)).await.unwrap();
    let _: () = redis::cmd("HSET")
        .arg(format!("{prefix}:{{member1}}:tokens"))
        .arg("pair")
        .arg(r#"{"access_token":"leaked-s3cr3t","refresh_token":"#)
        .query_async(&mut backend.connection())
        .await
        .unwrap();
    let error = store.load().await.unwrap_err();
    let text = format!("{error} {error:?}");
    assert!(text.contains("not a token record"), "{text}");
    assert!(!text.contains("leaked-s3cr3t"), "{text}");
    clean(&backend, &prefix).await;
}

#[tokio::test]
async fn invalid_settings_and_urls_are_refused_by_name() {
    let error = imconnector_redis::RedisBackend::builder("app.test")
        .refresh_lease(Duration::from_millis(10))
        .connect("redis://127.0.0.1:1/")
        .await
        .unwrap_err();
    assert!(error.to_string().contains("refresh_lease"), "{error}");
    let error = imconnector_redis::RedisBackend::builder("app.test")
        .key_prefix("has space")
        .connect("redis://127.0.0.1:1/")
        .await
        .unwrap_err();
    assert!(error.to_string().contains("prefix"), "{error}");
    let error = imconnector_redis::RedisBackend::connect("http://user:hunter2@example", "app.test")
        .await
        .unwrap_err();
    assert!(!error.to_string().contains("hunter2"), "{error}");
}

#[tokio::test]
async fn a_missing_application_token_is_filled_once_and_the_record_kept_whole() {
    use imconnector_transport::portals::{PortalRecord, PortalStore};
    use imconnector_transport::{secrecy::SecretString, OAuthApp, RateLimit};

    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix("fill");
    let backend = backend(&url, &prefix, Duration::from_secs(1)).await;
    let store = backend.portals(RateLimit::Off);
    let legacy = PortalRecord::new("member1", "", pair(1))
        .with_domain("example.bitrix24.com")
        .with_app(OAuthApp::new("local.1", "local-secret"))
        .with_oauth_server("https://oauth.bitrix.info/oauth/token/");
    store.save(&legacy).await.unwrap();
    let member = MemberId::from("member1");
    let token = SecretString::from("proven-token".to_owned());
    assert!(store.fill_application_token(&member, &token).await.unwrap());
    let other = SecretString::from("another-token".to_owned());
    assert!(!store.fill_application_token(&member, &other).await.unwrap());
    let unknown = MemberId::from("never-installed");
    assert!(!store
        .fill_application_token(&unknown, &token)
        .await
        .unwrap());
    assert!(
        store.load(&unknown).await.unwrap().is_none(),
        "nothing created"
    );

    let stored = store.load(&member).await.unwrap().expect("stored");
    assert_eq!(stored.application_token.expose_secret(), "proven-token");
    assert_eq!(stored.tokens.refresh_token.expose_secret(), "refresh-1");
    assert_eq!(stored.domain.as_deref(), Some("example.bitrix24.com"));
    assert_eq!(
        stored.oauth_server.as_deref(),
        Some("https://oauth.bitrix.info/oauth/token/")
    );
    assert_eq!(
        stored
            .app
            .map(|app| app.client_secret.expose_secret().to_owned())
            .as_deref(),
        Some("local-secret")
    );
    clean(&backend, &prefix).await;
}
