//! The leaky bucket and the operating-time budget.

use std::time::Duration;

use imconnector_emulator::{Emulator, OperatingLimit, RateLimit};
use serde_json::json;

use crate::common::Portal;

#[tokio::test]
async fn bucket_refuses_after_the_burst_and_recovers_as_it_drains() {
    // A drain so slow that real time cannot refill it during the test; the clock is advanced
    // explicitly instead, so nothing depends on the machine's speed.
    let limit = RateLimit::custom(0.001, 5);
    let portal = Portal::with(Emulator::builder().rate_limit(limit)).await;
    for call in 0..5 {
        let (status, body) = portal
            .call("imconnector.status", json!({"CONNECTOR": "a"}))
            .await;
        assert_eq!(status, 200, "call {call}: {body}");
    }
    let (status, body) = portal
        .call("imconnector.status", json!({"CONNECTOR": "a"}))
        .await;
    assert_eq!(status, 503);
    assert_eq!(
        body,
        json!({"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"})
    );
    portal.emulator.advance_clock(Duration::from_secs(2000)); // drains two requests
    for _ in 0..2 {
        assert_eq!(
            portal
                .call("imconnector.status", json!({"CONNECTOR": "a"}))
                .await
                .0,
            200
        );
    }
    assert_eq!(
        portal
            .call("imconnector.status", json!({"CONNECTOR": "a"}))
            .await
            .0,
        503
    );
    assert_eq!(portal.emulator.counters().query_limit_rejections, 2);
    // A batch counts as one request.
    portal.emulator.advance_clock(Duration::from_secs(1000));
    let (status, body) = portal
        .call("batch", json!({"cmd": {"a": "imconnector.status?CONNECTOR=a", "b": "imconnector.status?CONNECTOR=b"}}))
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn standard_and_enterprise_profiles_allow_their_burst_exactly() {
    // Time almost stands still (scale 1e-6), so the drain cannot let an extra request in.
    let frozen = Emulator::builder().time_scale(1e-6);
    let portal = Portal::with(frozen.rate_limit(RateLimit::Standard)).await;
    for (profile, burst) in [(RateLimit::Standard, 50), (RateLimit::Enterprise, 250)] {
        // Setting a profile also empties the bucket.
        portal.emulator.set_rate_limit(profile).expect("valid");
        let mut refused_at = None;
        for call in 0..burst + 10 {
            let (status, _) = portal
                .call("imconnector.status", json!({"CONNECTOR": "a"}))
                .await;
            if status == 503 {
                refused_at = Some(call);
                break;
            }
        }
        assert_eq!(refused_at, Some(burst), "{profile:?}");
    }
    assert!(portal
        .emulator
        .set_rate_limit(RateLimit::custom(-1.0, 1))
        .is_err());
}

#[tokio::test]
async fn operating_budget_blocks_the_method_and_reports_time_operating() {
    let limit = OperatingLimit::new(Duration::from_secs(3)).cost_per_call(Duration::from_secs(1));
    let portal = Portal::with(Emulator::builder().operating_limit(limit)).await;
    for call in 1..=4 {
        let (status, body) = portal
            .call("imconnector.status", json!({"CONNECTOR": "a"}))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["time"]["operating"], json!(f64::from(call)));
        assert!(body["time"]["operating_reset_at"].is_i64());
    }
    let (status, body) = portal
        .call("imconnector.status", json!({"CONNECTOR": "a"}))
        .await;
    assert_eq!(status, 429);
    assert_eq!(
        body,
        json!({"error": "OPERATION_TIME_LIMIT", "error_description": "Method is blocked due to operation time limit."})
    );
    // Per method: another one still runs.
    assert_eq!(
        portal
            .call(
                "imconnector.activate",
                json!({"CONNECTOR": "a", "LINE": 1, "ACTIVE": 1})
            )
            .await
            .0,
        200
    );
    // Inside a batch the blocked method fails alone; the batch itself is not charged.
    let result = portal.ok("batch", json!({"cmd": {"s": "imconnector.status?CONNECTOR=a", "l": "imopenlines.config.get?CONFIG_ID=1"}})).await;
    assert_eq!(
        result["result_error"]["s"]["error"],
        json!("OPERATION_TIME_LIMIT")
    );
    assert!(result["result_time"]["l"]["operating"].is_number());
    assert_eq!(portal.emulator.counters().operating_limit_rejections, 2);
    // Ten minutes later the window is empty again.
    portal.emulator.advance_clock(Duration::from_secs(601));
    assert_eq!(
        portal
            .call("imconnector.status", json!({"CONNECTOR": "a"}))
            .await
            .0,
        200
    );
}
