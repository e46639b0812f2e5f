//! Seeded fault injection: HTML 500s, resets before and after processing, determinism.

use std::sync::LazyLock;
use std::time::Duration;

use imconnector_emulator::{Emulator, ExposeSecret, Faults};
use serde_json::json;

use crate::common::{http, Portal};

/// What a plain client observed for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    Ok,
    Html500,
    Dropped,
}

/// One client for every observed request, each on a connection of its own (it keeps no idle
/// one), so a reset connection cannot poison the next request. Built once: building a client
/// (its TLS roots) for each request took most of this file's ten seconds.
fn fresh_connections() -> &'static reqwest::Client {
    static CLIENT: LazyLock<reqwest::Client> = LazyLock::new(|| {
        reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(0)
            .build()
            .expect("client")
    });
    &CLIENT
}

async fn observe(portal: &Portal, line: i64) -> Seen {
    let sent = fresh_connections()
        .post(portal.url("imconnector.activate"))
        .json(&json!({"CONNECTOR": "f", "LINE": line, "ACTIVE": 1, "auth": portal.token}))
        .send()
        .await;
    match sent {
        Err(error) => {
            assert!(!error.is_timeout() && !error.is_status(), "{error:?}");
            Seen::Dropped
        }
        Ok(response) if response.status() == 500 => {
            let content_type = response.headers()["content-type"]
                .to_str()
                .expect("ascii")
                .to_owned();
            let body = response.text().await.expect("body");
            assert!(
                content_type.starts_with("text/html")
                    && serde_json::from_str::<serde_json::Value>(&body).is_err()
            );
            Seen::Html500
        }
        Ok(response) => {
            assert_eq!(response.status(), 200);
            Seen::Ok
        }
    }
}

fn faults(seed: u64) -> Faults {
    Faults::new(seed)
        .error_500_share(0.25)
        .drop_before_share(0.25)
}

async fn run(seed: u64) -> Vec<Seen> {
    let portal = Portal::start().await;
    portal
        .emulator
        .set_faults(Some(faults(seed)))
        .expect("valid");
    let mut seen = Vec::new();
    for line in 0..40 {
        seen.push(observe(&portal, line).await);
    }
    seen
}

#[tokio::test]
async fn the_same_seed_gives_the_same_faults() {
    let first = run(42).await;
    assert_eq!(first, run(42).await);
    assert_ne!(
        first,
        run(43).await,
        "a different seed changes the sequence"
    );
    for kind in [Seen::Ok, Seen::Html500, Seen::Dropped] {
        assert!(first.contains(&kind), "{kind:?} in {first:?}");
    }
}

#[tokio::test]
async fn dropped_before_applies_nothing_and_500_applies_nothing() {
    let portal = Portal::start().await;
    portal.emulator.set_faults(Some(faults(7))).expect("valid");
    let mut outcomes = Vec::new();
    for line in 0..30 {
        outcomes.push((line, observe(&portal, line).await));
    }
    portal.emulator.set_faults(None).expect("valid");
    for (line, seen) in outcomes {
        let applied = portal.emulator.line_status("f", line).active;
        assert_eq!(applied, seen == Seen::Ok, "line {line}: {seen:?}");
    }
    let counters = portal.emulator.counters();
    assert!(
        counters.faults.error_500 > 0 && counters.faults.dropped_before > 0,
        "{counters:?}"
    );
}

/// Whether an error was caused by a TCP reset (not a tidy close or a timeout).
fn is_reset(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        if error
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionReset)
        {
            return true;
        }
        current = error.source();
    }
    false
}

#[tokio::test]
async fn dropped_after_applies_the_request_but_never_answers() {
    let portal = Portal::start().await;
    portal
        .emulator
        .set_faults(Some(Faults::new(1).drop_after_share(1.0)))
        .expect("valid");
    let error = http()
        .post(portal.url("imconnector.activate"))
        .json(&json!({"CONNECTOR": "f", "LINE": 8, "ACTIVE": 1, "auth": portal.token}))
        .send()
        .await
        .expect_err("no answer");
    assert!(
        is_reset(&error),
        "the connection is reset, not closed: {error:?}"
    );
    let seen = observe(&portal, 9).await;
    assert_eq!(seen, Seen::Dropped);
    portal.emulator.set_faults(None).expect("valid");
    assert!(
        portal.emulator.line_status("f", 9).active,
        "the activation was applied"
    );
    assert!(portal.emulator.line_status("f", 8).active);
    assert_eq!(portal.emulator.counters().faults.dropped_after, 2);
    // The server keeps serving.
    assert_eq!(observe(&portal, 10).await, Seen::Ok);
}

#[tokio::test]
async fn latency_is_added_in_emulated_time() {
    // 1000 emulated seconds at scale 1000 is one real second: the request still succeeds.
    let builder = Emulator::builder()
        .time_scale(1000.0)
        .token_ttl(Duration::from_secs(86_400 * 365));
    let portal = Portal::with(builder).await;
    portal
        .emulator
        .set_faults(Some(Faults::new(3).latency(Duration::from_secs(1000), 1.0)))
        .expect("valid");
    assert_eq!(observe(&portal, 1).await, Seen::Ok);
    assert_eq!(portal.emulator.counters().faults.delayed, 1);
}

#[tokio::test]
async fn invalid_fault_settings_are_refused() {
    let portal = Portal::start().await;
    let too_much = Faults::default()
        .error_500_share(0.7)
        .drop_before_share(0.7);
    assert!(portal.emulator.set_faults(Some(too_much.clone())).is_err());
    assert!(Emulator::builder().faults(too_much).start().await.is_err());
}

#[tokio::test]
async fn query_limit_fault_answers_as_the_bucket_does_applies_nothing_and_spares_oauth() {
    let portal = Portal::start().await;
    portal
        .emulator
        .set_faults(Some(Faults::new(5).query_limit_share(1.0)))
        .expect("valid");
    let (status, body) = portal
        .call(
            "imconnector.activate",
            json!({"CONNECTOR": "f", "LINE": 1, "ACTIVE": 1}),
        )
        .await;
    assert_eq!(status, 503);
    assert_eq!(
        body,
        json!({"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}),
        "the rate limit's own answer"
    );
    // The OAuth server has no rate limit: the fault leaves it alone.
    let app = portal.emulator.app();
    let tokens = portal.emulator.tokens();
    let response = http()
        .post(portal.emulator.oauth_url())
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", app.client_id.as_str()),
            ("client_secret", app.client_secret.expose_secret()),
            ("refresh_token", tokens.refresh_token.expose_secret()),
        ])
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    portal.emulator.set_faults(None).expect("valid");
    assert!(
        !portal.emulator.line_status("f", 1).active,
        "the refused activation was not applied"
    );
    let counters = portal.emulator.counters();
    assert_eq!(counters.faults.query_limit_exceeded, 1, "{counters:?}");
    assert_eq!(
        counters.query_limit_rejections, 0,
        "the bucket refused nothing"
    );
    assert_eq!(counters.refreshes, 1);
}
