//! Issue 11: when redis-server stops mid-run and comes back (empty, as a cache-only Redis does),
//! no token pair is lost and each expiry after it returns costs exactly one refresh.
//!
//! Two replicas share Redis. A refresh is in flight when Redis stops (its save fails; the pair
//! lives on in memory), the tokens expire again during the outage, and twice more after Redis
//! returns. Exchanges are counted by the emulator's OAuth server, which holds one of them in
//! flight on request.

use std::time::Duration;

use imconnector_emulator::{Emulator, EmulatorHandle, ExposeSecret};
use imconnector_redis::RedisBackend;
use imconnector_tests::redis_process::RedisProcess;
use imconnector_transport::{Client, RateLimit};

use crate::support::{portal_tokens, redis_url, unique_prefix, PortalAccess, PATIENCE};

const LEASE: Duration = Duration::from_millis(500);

async fn replica_backend(url: &str, prefix: &str) -> RedisBackend {
    RedisBackend::builder("app.test")
        .key_prefix(prefix)
        .refresh_lease(LEASE)
        .refresh_poll_interval(Duration::from_millis(20))
        .max_refresh_wait(Duration::from_secs(30))
        // A stopped Redis is noticed quickly.
        .response_timeout(Duration::from_millis(300))
        .connect(url)
        .await
        .expect("Redis answers")
}

/// Calls until one succeeds (a replica's call may fail while Redis is down or another replica
/// refreshes); panics after [`PATIENCE`].
async fn call_until_ok(client: &Client, who: &str) {
    let started = std::time::Instant::now();
    loop {
        match client
            .call_raw("imconnector.list", serde_json::Value::Null)
            .await
        {
            Ok(_) => return,
            Err(error) => {
                assert!(
                    started.elapsed() < PATIENCE,
                    "{who} never got a call through: {error}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Successful `refresh_token` grants so far.
fn rotations(portal: &EmulatorHandle) -> u64 {
    portal.counters().refreshes
}

/// The access token of the newest pair the OAuth server issued.
fn newest_access_token(portal: &EmulatorHandle) -> String {
    portal
        .last_granted_tokens()
        .expect("a refresh happened")
        .access_token
        .expose_secret()
        .to_owned()
}

/// The access token stored in Redis, once Redis holds one.
async fn stored_access_token(backend: &RedisBackend, member_id: &str) -> String {
    let store = backend.token_store(member_id).expect("valid member_id");
    let started = std::time::Instant::now();
    loop {
        if let Ok(Some(stored)) = store.load_versioned().await {
            return stored.tokens.access_token.expose_secret().to_owned();
        }
        assert!(started.elapsed() < PATIENCE, "Redis never got a pair back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_pair_is_lost_and_each_expiry_costs_one_refresh_after_redis_returns() {
    // Needs a redis-server binary; the shared server's URL only says Redis tests are wanted.
    if redis_url().is_none() {
        return;
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let mut redis = RedisProcess::start().await;
    let url = redis.url();
    let portal = Emulator::builder().start().await.unwrap();
    let oauth = portal.handle();
    let first = portal_tokens(&portal);
    let prefix = unique_prefix("redis-returns");
    let access = PortalAccess::of(&portal, &url, &prefix, LEASE);
    let (backend_a, backend_b) = (
        replica_backend(&url, &prefix).await,
        replica_backend(&url, &prefix).await,
    );
    let member_id = access.member_id.clone();
    backend_a
        .token_store(&member_id)
        .unwrap()
        .replace(&first)
        .await
        .unwrap();
    let a = access
        .builder(&backend_a, RateLimit::Off)
        .await
        .build()
        .unwrap();
    let b = access
        .builder(&backend_b, RateLimit::Off)
        .await
        .build()
        .unwrap();

    // An expiry with Redis up: one refresh for both replicas.
    portal.handle().expire_tokens();
    call_until_ok(&a, "replica A").await;
    call_until_ok(&b, "replica B").await;
    assert_eq!(rotations(&oauth), 1, "one refresh per expiry");

    // The next expiry's refresh is in flight when Redis stops: the OAuth server rotates, the
    // save fails, the new pair lives on in replica A's memory.
    let hold = oauth.hold_next_token_request();
    portal.handle().expire_tokens();
    let in_flight = {
        let a = a.clone();
        tokio::spawn(async move { call_until_ok(&a, "replica A").await })
    };
    tokio::time::timeout(PATIENCE, hold.arrived())
        .await
        .expect("replica A starts a refresh");
    redis.stop().await;
    hold.release();
    // Generous for a loaded machine; with the Redis client's default reconnection (some ten
    // seconds per command on a stopped Redis) the five tries to store the pair took a minute.
    tokio::time::timeout(Duration::from_secs(20), in_flight)
        .await
        .expect("replica A's call finishes while Redis is down")
        .unwrap();
    assert_eq!(rotations(&oauth), 2);
    // Another expiry during the outage: nobody can take the lock, so nobody refreshes (a
    // refresh without it could rotate a pair another replica is rotating too).
    portal.handle().expire_tokens();
    for client in [&a, &b] {
        let _ = client
            .call_raw("imconnector.list", serde_json::Value::Null)
            .await;
    }
    let during = rotations(&oauth);

    redis.restart().await;
    // Replica A offers its unsaved pair again: Redis holds the newest pair issued.
    assert_eq!(
        stored_access_token(&backend_a, &member_id).await,
        newest_access_token(&oauth),
        "the pair refreshed during the outage is stored once Redis returns"
    );
    // The expiry of the outage, and two more after Redis returned: one refresh each.
    call_until_ok(&a, "replica A").await;
    call_until_ok(&b, "replica B").await;
    for round in 0..2 {
        portal.handle().expire_tokens();
        let (first, second) = if round == 0 { (&a, &b) } else { (&b, &a) };
        call_until_ok(first, "the first replica").await;
        call_until_ok(second, "the second replica").await;
    }
    let counts = oauth.counters();
    println!(
        "FIGURE Redis returns: {} refreshes before and during the outage, {} after it for 3 expiries; {} refused",
        during,
        counts.refreshes - during,
        counts.refresh_rejections
    );
    assert_eq!(
        counts.refreshes - during,
        3,
        "one refresh per expiry after Redis returns"
    );
    assert_eq!(
        counts.refresh_rejections, 0,
        "no replica refreshed with a dead refresh token"
    );
    assert_eq!(
        stored_access_token(&backend_b, &member_id).await,
        newest_access_token(&oauth),
        "Redis holds the newest pair"
    );
    for client in [&a, &b] {
        assert!(client.tokens().is_some_and(
            |tokens| tokens.access_token.expose_secret() == newest_access_token(&oauth)
        ));
    }
    crate::support::clean(&backend_a, &prefix).await;
}
