//! Pacing against the emulated portal: the client's bucket at the portal's own numbers, the
//! portal's `QUERY_LIMIT_EXCEEDED` feeding back into it, and the operating-time budget driven by
//! what the portal reports in `time`.
//!
//! Nothing here asserts a rate: how close to the portal's allowance the client gets is a bench
//! figure (`cargo run --release -p imconnector-bench -- --only throughput`). The tests assert
//! what a caller sees (no `QUERY_LIMIT_EXCEEDED`, no `OPERATION_TIME_LIMIT`) and what the portal
//! counted.

use std::time::Duration;

use futures::StreamExt;
use imconnector::emulator::client_builder;
use imconnector::methods::ListConnectors;
use imconnector::{Client, ErrorCode, RateLimit, RetryPolicy};
use imconnector_emulator::{Emulator, OperatingLimit, RateLimit as PortalLimit};

/// Emulated seconds per real second for the bucket tests: the standard bucket (2/s, burst 50)
/// then drains 50 requests per real second.
const TIME_SCALE: u32 = 25;

/// The standard bucket on the sped-up clock, as the client is told it.
fn scaled_standard() -> RateLimit {
    RateLimit::Custom {
        per_second: 2 * TIME_SCALE,
        burst: 50,
    }
}

async fn portal(rate_limit: PortalLimit, time_scale: f64) -> Emulator {
    Emulator::builder()
        .rate_limit(rate_limit)
        .time_scale(time_scale)
        .token_ttl(Duration::from_secs(365 * 24 * 3600))
        .start()
        .await
        .expect("emulator starts")
}

fn client(portal: &Emulator, rate_limit: RateLimit) -> Client {
    client_builder(portal)
        .rate_limit(rate_limit)
        .build()
        .expect("client builds")
}

/// Makes `calls` `imconnector.list` calls, `callers` at a time; returns the errors callers saw.
async fn saturate(client: &Client, calls: usize, callers: usize) -> Vec<imconnector::Error> {
    futures::stream::iter(0..calls)
        .map(|_| {
            let client = client.clone();
            async move { client.call(&ListConnectors::new()).await }
        })
        .buffer_unordered(callers)
        .filter_map(|outcome| async move { outcome.err() })
        .collect()
        .await
}

fn limit_refusals(errors: &[imconnector::Error]) -> usize {
    errors
        .iter()
        .filter(|error| error.code() == Some(&ErrorCode::QueryLimitExceeded))
        .count()
}

fn lists(portal: &Emulator) -> u64 {
    portal
        .counters()
        .requests
        .get("imconnector.list")
        .copied()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_saturating_the_portals_bucket_at_its_own_numbers_never_see_query_limit_exceeded() {
    let _machine = crate::with_own_group().await;
    let portal = portal(PortalLimit::Standard, f64::from(TIME_SCALE)).await;
    let client = client(&portal, scaled_standard());
    let calls = 400;

    let errors = saturate(&client, calls, 16).await;

    let counters = portal.counters();
    println!(
        "FIGURE {calls} calls by 16 callers, standard bucket at time scale {TIME_SCALE}, client at the same numbers: \
         {} QUERY_LIMIT_EXCEEDED sent by the portal, {} seen by callers",
        counters.query_limit_rejections,
        limit_refusals(&errors)
    );
    assert!(errors.is_empty(), "{errors:?}");
    // Every call went out once, plus one retry per refusal: nothing else was sent.
    assert_eq!(
        lists(&portal),
        u64::try_from(calls).expect("small") + counters.query_limit_rejections
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_started_against_a_full_bucket_retries_the_refusals_and_stops_overrunning() {
    let _machine = crate::with_own_group().await;
    let portal = portal(PortalLimit::Standard, f64::from(TIME_SCALE)).await;
    // Another client of the portal (or this one before a restart) has just filled its bucket.
    let other = client_builder(&portal)
        .rate_limit(RateLimit::Off)
        .retry_policy(RetryPolicy::none())
        .build()
        .expect("client builds");
    let _ = saturate(&other, 200, 16).await;
    let before = portal.counters();
    assert!(before.query_limit_rejections > 0, "the bucket is full");

    let client = client(&portal, scaled_standard());
    let (calls, callers) = (200, 16);
    let errors = saturate(&client, calls, callers).await;

    let refused = portal.counters().query_limit_rejections - before.query_limit_rejections;
    println!(
        "FIGURE {calls} calls by {callers} callers into a full standard bucket: {refused} QUERY_LIMIT_EXCEEDED sent, {} seen by callers",
        limit_refusals(&errors)
    );
    assert!(errors.is_empty(), "{errors:?}");
    // The requests already on their way when the first refusal came back are refused too;
    // after that the client's bucket counts as full and it no longer overruns the portal's.
    // (Generous: a loaded machine can delay one request behind the next.)
    assert!(
        refused <= u64::try_from(callers).expect("small") + 8,
        "kept overrunning the portal's bucket: {refused} refusals"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nearly_spent_operating_budget_waits_for_the_reset_the_portal_reports() {
    let _machine = crate::with_own_group().await;
    // Each call costs 6 s of the method's 10 s budget: the second call passes and overspends
    // it, the third would be refused until the window's first minute expires.
    let portal = Emulator::builder()
        .operating_limit(
            OperatingLimit::new(Duration::from_secs(10)).cost_per_call(Duration::from_secs(6)),
        )
        .start()
        .await
        .expect("emulator starts");
    let client = client_builder(&portal)
        .rate_limit(RateLimit::Off)
        .operating_time_limit(Some(Duration::from_secs(10)))
        .build()
        .expect("client builds");

    client
        .call(&ListConnectors::new())
        .await
        .expect("first call");
    // The portal's clock runs ahead of the client's: its window now expires within 3 s,
    // which the client can only know from the portal's own `time` block.
    portal.advance_clock(Duration::from_secs(597));
    let second = client
        .call_with_meta(&ListConnectors::new())
        .await
        .expect("second call");
    let time = second.time.expect("a time block");
    assert_eq!(time.operating, Some(12.0), "both calls counted");

    client
        .call(&ListConnectors::new())
        .await
        .expect("the third call waits for the reset instead of being refused");
    assert_eq!(portal.counters().operating_limit_rejections, 0);
    assert_eq!(lists(&portal), 3);
}
