//! Issue 20: two applications on one Redis keep apart by default (their keys carry the
//! application's `client_id`), and Redis's eviction policy is checked at connect.

use imconnector_transport::MemberId;
use std::time::Duration;

use imconnector_redis::{EvictingPolicy, RedisBackend, RedisBackendError};
use imconnector_tests::redis_process::RedisProcess;
use imconnector_transport::portals::{PortalRecord, PortalStore};
use imconnector_transport::{secrecy::ExposeSecret, RateLimit, Tokens};

use crate::support::redis_url;

/// Deletes the keys of `backend`'s prefix.
async fn clean_prefix(backend: &RedisBackend) {
    crate::support::clean(backend, &format!("{}:", backend.key_prefix())).await;
}

#[tokio::test]
async fn two_apps_on_one_redis_do_not_overwrite_each_others_portals() {
    let Some(url) = redis_url() else { return };
    // Unique ids, so parallel runs do not meet; the prefix is the default one.
    let run = format!("{:08x}", rand::random::<u32>());
    let (id_a, id_b) = (format!("app.a{run}.1"), format!("app.b{run}.2"));
    let app_a = RedisBackend::connect(&url, &id_a).await.unwrap();
    let app_b = RedisBackend::connect(&url, &id_b).await.unwrap();

    // Both apps are installed on the same portal (one member_id).
    let member_id = "bac1cd5c8940947a75e0d71b1a84e348";
    let record = |app: &str| {
        PortalRecord::new(
            member_id,
            format!("application-token-{app}"),
            Tokens::new(format!("access-{app}"), format!("refresh-{app}"))
                .with_client_endpoint("https://portal.example/rest/"),
        )
    };
    let (portals_a, portals_b) = (app_a.portals(RateLimit::Off), app_b.portals(RateLimit::Off));
    portals_a.save(&record("a")).await.unwrap();
    portals_b.save(&record("b")).await.unwrap();

    // Before the fix both wrote `imconnector:{member_id}:…`: A read B's tokens.
    let stored_a = portals_a
        .load(&MemberId::from(member_id))
        .await
        .unwrap()
        .unwrap();
    let stored_b = portals_b
        .load(&MemberId::from(member_id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored_a.application_token.expose_secret(),
        "application-token-a"
    );
    assert_eq!(stored_a.tokens.refresh_token.expose_secret(), "refresh-a");
    assert_eq!(
        stored_b.application_token.expose_secret(),
        "application-token-b"
    );
    assert_eq!(stored_b.tokens.refresh_token.expose_secret(), "refresh-b");
    assert_eq!(app_a.key_prefix(), format!("imconnector:{id_a}"));

    // Uninstalling one app leaves the other installed.
    portals_b.remove(&MemberId::from(member_id)).await.unwrap();
    assert!(portals_b
        .load(&MemberId::from(member_id))
        .await
        .unwrap()
        .is_none());
    assert!(portals_a
        .load(&MemberId::from(member_id))
        .await
        .unwrap()
        .is_some());
    clean_prefix(&app_a).await;
    clean_prefix(&app_b).await;
}

#[tokio::test]
async fn a_client_id_that_cannot_name_keys_is_refused_by_name() {
    for bad in ["", "has space", "{app}", &"x".repeat(200)] {
        let error = RedisBackend::connect("redis://127.0.0.1:1/", bad)
            .await
            .unwrap_err();
        assert!(error.to_string().contains("client_id"), "{bad:?}: {error}");
    }
}

#[tokio::test]
async fn an_evicting_redis_is_refused_at_connect_unless_accepted() {
    if redis_url().is_none() {
        return;
    }
    let server = RedisProcess::start_with(&["--maxmemory-policy", "allkeys-lru"]).await;
    // Before the fix the backend connected without a word.
    let error = RedisBackend::connect(&server.url(), "app.evicting")
        .await
        .unwrap_err();
    assert!(
        matches!(&error, RedisBackendError::EvictingPolicy { policy } if policy == "allkeys-lru"),
        "{error}"
    );
    assert!(error.to_string().contains("noeviction"), "{error}");
    let accepted = RedisBackend::builder("app.evicting")
        .on_evicting_policy(EvictingPolicy::Warn)
        .connect(&server.url())
        .await
        .unwrap();
    assert_eq!(
        accepted.check_eviction_policy().await.unwrap().as_deref(),
        Some("allkeys-lru")
    );
    drop(server);

    // `volatile-*` only evicts keys with an expiry (locks, buckets, code-flow states).
    let server = RedisProcess::start_with(&["--maxmemory-policy", "volatile-lru"]).await;
    RedisBackend::connect(&server.url(), "app.volatile")
        .await
        .unwrap();
}

#[tokio::test]
async fn a_managed_redis_that_refuses_config_is_checked_through_info_or_trusted() {
    if redis_url().is_none() {
        return;
    }
    // Managed services rename or forbid CONFIG: INFO still tells the policy.
    let server = RedisProcess::start_with(&[
        "--maxmemory-policy",
        "allkeys-lfu",
        "--rename-command",
        "CONFIG",
        "",
    ])
    .await;
    let error = RedisBackend::connect(&server.url(), "app.managed")
        .await
        .unwrap_err();
    assert!(
        matches!(&error, RedisBackendError::EvictingPolicy { policy } if policy == "allkeys-lfu"),
        "{error}"
    );
    drop(server);
    // Neither CONFIG nor INFO: connect anyway (with a warning), the policy unknown.
    let server = RedisProcess::start_with(&[
        "--rename-command",
        "CONFIG",
        "",
        "--rename-command",
        "INFO",
        "",
    ])
    .await;
    let backend = tokio::time::timeout(
        Duration::from_secs(60),
        RedisBackend::connect(&server.url(), "app.managed"),
    )
    .await
    .expect("in time")
    .unwrap();
    assert_eq!(backend.check_eviction_policy().await.unwrap(), None);
}
