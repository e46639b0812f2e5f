//! Four OS processes, fifty concurrent calls each, on one expired token: one refresh in all.

use std::time::Duration;

use imconnector_emulator::{Emulator, Faults};
use imconnector_transport::{Client, RateLimit, RetryPolicy};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::support::{
    backend, barrier, clean, concurrent_status_calls, portal_tokens, redis_url, release_barrier,
    replica_plan, replica_report, report, spawn_replica, unique_prefix, PortalAccess,
};

const REPLICAS: usize = 4;
const CALLS_PER_REPLICA: usize = 50;
const TEST: &str = "refresh::four_processes_on_an_expired_token_refresh_exactly_once";

#[derive(Serialize, Deserialize)]
struct Plan {
    access: PortalAccess,
    calls: usize,
}

#[derive(Debug, Serialize, Deserialize)]
struct Report {
    succeeded: usize,
    errors: Vec<String>,
    /// Whether the client ended with the pair stored in Redis.
    holds_the_stored_pair: bool,
}

/// What one replica does: 50 concurrent calls, then compare its pair with the stored one.
async fn replica(plan: Plan) {
    let backend = plan.access.backend().await;
    let client = plan.access.client(&backend, RateLimit::Off).await;
    barrier(&backend, &plan.access.prefix).await;
    let (succeeded, errors) = concurrent_status_calls(&client, plan.calls).await;
    let stored = backend
        .token_store(&plan.access.member_id)
        .expect("valid member_id")
        .load_versioned()
        .await
        .expect("Redis answers")
        .expect("a stored pair");
    report(&Report {
        succeeded,
        errors,
        holds_the_stored_pair: client
            .tokens()
            .expect("OAuth")
            .same_access_token(&stored.tokens),
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_processes_on_an_expired_token_refresh_exactly_once() {
    if let Some(plan) = replica_plan::<Plan>() {
        return replica(plan).await;
    }
    let Some(url) = redis_url() else { return };
    // Every request (the OAuth grant included) takes 300 ms, so the 200 calls are all in
    // flight on the expired token while the one refresh is.
    let portal = Emulator::builder()
        .faults(Faults::new(7).latency(Duration::from_millis(300), 1.0))
        .start()
        .await
        .expect("emulator starts");
    let prefix = unique_prefix("refresh");
    let lease = Duration::from_secs(5);
    let parent = backend(&url, &prefix, lease).await;
    let access = PortalAccess::of(&portal, &url, &prefix, lease);
    let store = parent
        .token_store(&access.member_id)
        .expect("valid member_id");
    let initial = portal_tokens(&portal);
    assert_eq!(store.replace(&initial).await.expect("stored"), 1);
    // Expired at the portal, though the clients' copy does not say so: each finds out by a
    // 401 `expired_token`, the way a token that outlived its hour does.
    portal.expire_tokens();

    let children: Vec<_> = (0..REPLICAS)
        .map(|_| {
            spawn_replica(
                TEST,
                &Plan {
                    access: access.clone(),
                    calls: CALLS_PER_REPLICA,
                },
            )
        })
        .collect();
    release_barrier(&parent, &prefix, i64::try_from(REPLICAS).expect("small")).await;
    let mut reports: Vec<Report> = Vec::new();
    for child in children {
        reports.push(replica_report(child).await);
    }

    let counters = portal.counters();
    println!(
        "FIGURE {REPLICAS} processes x {CALLS_PER_REPLICA} concurrent calls on an expired token: {} refresh grant(s) at the OAuth endpoint, {} refused grant(s), {} expired_token answers, {} calls succeeded",
        counters.refreshes,
        counters.refresh_rejections,
        counters.expired_token_rejections,
        reports.iter().map(|report| report.succeeded).sum::<usize>(),
    );
    for report in &reports {
        assert_eq!(report.errors, Vec::<String>::new());
        assert_eq!(report.succeeded, CALLS_PER_REPLICA);
        assert!(report.holds_the_stored_pair, "{report:?}");
    }
    assert_eq!(
        counters.refreshes, 1,
        "exactly one refresh reached the OAuth endpoint"
    );
    assert_eq!(counters.refresh_rejections, 0, "no refresh was refused");
    assert!(
        counters.expired_token_rejections >= u64::try_from(REPLICAS).expect("small"),
        "every process met the expired token ({} rejections)",
        counters.expired_token_rejections
    );

    // The stored pair is the newest: the one refresh stored it under the next version, and it
    // works, access token and refresh token alike.
    let stored = store
        .load_versioned()
        .await
        .expect("Redis answers")
        .expect("a stored pair");
    assert_eq!(stored.version, 2);
    assert!(!stored.tokens.same_access_token(&initial));
    let plain = Client::builder()
        .oauth(access.app(), stored.tokens.clone())
        .oauth_server(portal.oauth_url())
        .rate_limit(RateLimit::Off)
        .retry_policy(RetryPolicy::none())
        .build()
        .expect("client builds");
    plain
        .call_raw(
            "imconnector.status",
            json!({"CONNECTOR": "acme_chat", "LINE": 1}),
        )
        .await
        .expect("the stored access token works");
    plain
        .refresh_tokens()
        .await
        .expect("the stored refresh token is the live one");
    clean(&parent, &prefix).await;
}
