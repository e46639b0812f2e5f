//! Keep-alive across replicas: two registries sharing one Redis store walk at the same time
//! with the emulator's clock advanced past `max_idle`; the portal's pair is refreshed once
//! between them (its refresh lock), walk after walk, and stays usable on both.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use imconnector::emulator::Emulator;
use imconnector::portals::{KeepAlive, PortalRecord, PortalRegistry};
use imconnector::prelude::*;
use imconnector::ExposeSecret;
use imconnector_redis::RedisPortals;

use crate::support::{backend, clean, fast_retries, portal_tokens, redis_url, unique_prefix};

const DAY: Duration = Duration::from_secs(24 * 3600);

fn registry(store: RedisPortals) -> Arc<PortalRegistry<RedisPortals>> {
    let template = Client::builder()
        .rate_limit(RateLimit::Off)
        .retry_policy(fast_retries());
    Arc::new(
        PortalRegistry::new(OAuthApp::new("app.unused", "unused"), store).client_template(template),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_keeping_one_portal_alive_refresh_it_once_per_max_idle() {
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix("keep-alive");
    let portal = Emulator::builder().start().await.expect("emulator");
    let app = portal.app();
    let lease = Duration::from_secs(5);
    let first = registry(backend(&url, &prefix, lease).await.portals(RateLimit::Off));
    let second = registry(backend(&url, &prefix, lease).await.portals(RateLimit::Off));
    let record = PortalRecord::new(
        &app.member_id,
        app.application_token.expose_secret(),
        portal_tokens(&portal),
    )
    .with_app(OAuthApp::new(
        app.client_id.clone(),
        app.client_secret.expose_secret(),
    ))
    .with_oauth_server(portal.oauth_url());
    first.install(record).await.expect("installed");
    // Both replicas have built the portal's client (and keep its pair of that moment).
    for replica in [&first, &second] {
        replica.client_for(&app.member_id).await.expect("client");
    }

    let policy = KeepAlive::new();
    let started = SystemTime::now();
    let before = portal.counters().refreshes;
    for month in 1..=3_u32 {
        portal.advance_clock(31 * DAY);
        let now = started + 31 * DAY * month;
        let (one, two) = tokio::join!(
            first.keep_alive_once(&policy, now),
            second.keep_alive_once(&policy, now)
        );
        let (one, two) = (one.expect("walk"), two.expect("walk"));
        assert!(
            one.failed.is_empty() && two.failed.is_empty(),
            "{one:?} {two:?}"
        );
        assert_eq!(
            portal.counters().refreshes,
            before + u64::from(month),
            "month {month}: one refresh between the two replicas ({one:?} {two:?})"
        );
        eprintln!(
            "FIGURE keep-alive month {month}: refreshes {} (replica 1 reported {}, replica 2 {})",
            portal.counters().refreshes - before,
            one.refreshed.len(),
            two.refreshed.len()
        );
    }
    assert_eq!(portal.counters().refresh_rejections, 0);
    // 93 idle days later, both replicas' clients still work.
    for replica in [&first, &second] {
        let client = replica.client_for(&app.member_id).await.expect("client");
        client
            .call_raw("app.info", serde_json::json!({}))
            .await
            .expect("the portal answers");
    }
    clean(&backend(&url, &prefix, lease).await, &prefix).await;
}
