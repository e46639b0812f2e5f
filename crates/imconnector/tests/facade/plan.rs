//! Plan-aware pacing: a client with no configured rate limit learns the portal's plan from
//! `app.info` once and paces by that plan's bucket.

use imconnector::emulator::{client_builder, Emulator, EmulatorRateLimit as PortalBucket};
use imconnector::prelude::*;
use serde_json::json;

/// More calls than the standard burst (50) holds, sent at once.
const CALLS: usize = 200;

async fn send_at_once(client: &Client) {
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..CALLS {
        let client = client.clone();
        calls.spawn(async move { client.call_raw("user.admin", json!({})).await });
    }
    while let Some(answer) = calls.join_next().await {
        answer.expect("the task ran").expect("the call succeeded");
    }
}

fn app_info_calls(portal: &imconnector::emulator::EmulatorHandle) -> u64 {
    portal
        .counters()
        .requests
        .get("app.info")
        .copied()
        .unwrap_or(0)
}

#[tokio::test]
async fn an_enterprise_portal_is_paced_at_its_own_bucket() {
    let portal = Emulator::builder()
        .rate_limit(PortalBucket::Enterprise)
        .start()
        .await
        .expect("emulator starts");
    let client = client_builder(&portal).build().expect("client builds");
    assert_eq!(
        client.rate_limit(),
        RateLimit::Standard,
        "nothing known yet"
    );

    send_at_once(&client).await;

    assert_eq!(client.rate_limit(), RateLimit::Enterprise);
    let counters = portal.counters();
    assert_eq!(counters.query_limit_rejections, 0, "{counters:?}");
    assert_eq!(app_info_calls(&portal), 1, "the plan is asked once");
    assert_eq!(
        counters.requests.get("user.admin").copied(),
        Some(CALLS as u64)
    );
}

#[tokio::test]
async fn a_standard_portal_keeps_the_standard_bucket() {
    let portal = Emulator::builder().start().await.expect("emulator starts");
    let client = client_builder(&portal).build().expect("client builds");
    for _ in 0..3 {
        client
            .call_raw("user.admin", json!({}))
            .await
            .expect("answered");
    }
    assert_eq!(client.rate_limit(), RateLimit::Standard);
    assert_eq!(app_info_calls(&portal), 1, "asked once, not per call");
    assert_eq!(portal.counters().query_limit_rejections, 0);
}

#[tokio::test]
async fn a_configured_rate_limit_is_kept_and_nothing_is_asked() {
    let portal = Emulator::builder()
        .rate_limit(PortalBucket::Enterprise)
        .start()
        .await
        .expect("emulator starts");
    let client = client_builder(&portal)
        .rate_limit(RateLimit::Off)
        .build()
        .expect("client builds");
    client
        .call_raw("user.admin", json!({}))
        .await
        .expect("answered");
    assert_eq!(client.rate_limit(), RateLimit::Off);
    assert_eq!(app_info_calls(&portal), 0);
}

#[tokio::test]
async fn a_refused_app_info_keeps_the_standard_bucket() {
    let portal = Emulator::builder()
        .rate_limit(PortalBucket::Enterprise)
        .start()
        .await
        .expect("emulator starts");
    // A client whose token the portal does not know: app.info is refused, as is the call.
    let app = portal.app();
    let client = Client::builder()
        .oauth(
            OAuthApp::new(&app.client_id, "wrong secret"),
            Tokens::new("unknown-access", "unknown-refresh"),
        )
        .portal(portal.rest_url())
        .oauth_server(portal.oauth_url())
        .retry_policy(RetryPolicy::none())
        .build()
        .expect("client builds");
    assert!(client.call_raw("user.admin", json!({})).await.is_err());
    assert_eq!(client.rate_limit(), RateLimit::Standard);
}
