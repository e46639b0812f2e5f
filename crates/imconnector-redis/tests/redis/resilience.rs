//! Issue 11: a newer pair in memory wins over an older stored one, fences survive an
//! uninstall, and the shared bucket fails over to a local one at once when Redis is gone.

use std::time::{Duration, SystemTime};

use imconnector_emulator::Emulator;
use imconnector_transport::{Client, RateLimit};

use crate::support::{backend, clean, portal_tokens, redis_url, unique_prefix, PortalAccess};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_pair_in_memory_wins_over_an_older_stored_one() {
    let Some(url) = redis_url() else { return };
    let portal = Emulator::builder().start().await.unwrap();
    let prefix = unique_prefix("newer-in-memory");
    let lease = Duration::from_millis(300);
    let redis = backend(&url, &prefix, lease).await;
    let access = PortalAccess::of(&portal, &url, &prefix, lease);
    let old = portal_tokens(&portal);
    // Rotate the pair once without Redis: as if a replica refreshed and its save failed.
    let plain = Client::builder()
        .oauth(access.app(), old.clone())
        .oauth_server(access.oauth_url.clone())
        .rate_limit(RateLimit::Off)
        .build()
        .unwrap();
    let newer = plain.refresh_tokens().await.unwrap();
    // Redis still holds the old pair, whose refresh token died with the rotation.
    let store = redis.token_store(&access.member_id).unwrap();
    store
        .replace(&old.with_expires_at(SystemTime::now() - Duration::from_secs(7200)))
        .await
        .unwrap();

    // The replica's newer pair has expired in turn: it must refresh from its own pair.
    let builder = Client::builder()
        .oauth(
            access.app(),
            newer.with_expires_at(SystemTime::now() - Duration::from_secs(1)),
        )
        .oauth_server(access.oauth_url.clone())
        .retry_policy(crate::support::fast_retries());
    let client = redis
        .configure(&access.member_id, RateLimit::Off, builder)
        .unwrap()
        .build()
        .unwrap();
    // Before the fix, the lock refreshed from the stored, older pair: `invalid_grant`.
    client.refresh_tokens().await.unwrap();
    let stored = store.load_versioned().await.unwrap().unwrap();
    assert!(
        stored.tokens.same_access_token(&client.tokens().unwrap()),
        "the refreshed pair is stored"
    );
    clean(&redis, &prefix).await;
}

#[cfg(feature = "portals")]
#[tokio::test]
async fn uninstalling_keeps_the_fence_counter_growing() {
    use imconnector::portals::PortalStore;
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix("fence-uninstall");
    let redis = backend(&url, &prefix, Duration::from_millis(300)).await;
    let member_id = "fence-member";
    let store = redis.token_store(member_id).unwrap();
    let before = store
        .replace(&imconnector_transport::Tokens::new("a-1", "r-1"))
        .await
        .unwrap();
    redis
        .portals(RateLimit::Off)
        .remove(member_id)
        .await
        .unwrap();
    assert!(
        store.load_versioned().await.unwrap().is_none(),
        "the pair is gone"
    );
    let after = store
        .replace(&imconnector_transport::Tokens::new("a-2", "r-2"))
        .await
        .unwrap();
    assert!(
        after > before,
        "version {after} after reinstall, {before} before"
    );
    clean(&redis, &prefix).await;
}
