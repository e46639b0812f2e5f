//! The OAuth server's own faults (resets and delays by request count, before redeeming), a held
//! token request, and share faults that spare the OAuth server.

use std::time::Duration;

use imconnector_emulator::{Emulator, ExposeSecret, Faults, OAuthFaults};
use serde_json::{json, Value};

use crate::common::{http, read, Portal, WAIT};

/// A `refresh_token` grant of the first app with a client of its own (a reset connection must
/// not poison the next request); `Err` when no answer came.
async fn refresh_with(
    client: &reqwest::Client,
    portal: &Portal,
    refresh_token: &str,
) -> Result<(u16, Value), reqwest::Error> {
    let app = portal.emulator.app();
    let response = client
        .post(portal.emulator.oauth_url())
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", app.client_id.as_str()),
            ("client_secret", app.client_secret.expose_secret()),
            ("refresh_token", refresh_token),
        ])
        .send()
        .await?;
    Ok(read(response).await)
}

async fn refresh(portal: &Portal, refresh_token: &str) -> Result<(u16, Value), reqwest::Error> {
    refresh_with(&http(), portal, refresh_token).await
}

fn refresh_token_of(body: &Value) -> String {
    body["refresh_token"].as_str().expect("a pair").to_owned()
}

#[tokio::test]
async fn token_requests_are_reset_or_delayed_by_count_and_a_reset_redeems_nothing() {
    let faults = OAuthFaults::new(5).reset_every(2).delay_every(
        3,
        Duration::from_millis(10),
        Duration::from_millis(50),
    );
    let portal = Portal::with(Emulator::builder().oauth_faults(faults.clone())).await;
    let first = portal.emulator.tokens();

    let (status, body) = refresh(&portal, first.refresh_token.expose_secret())
        .await
        .expect("request 1 is answered");
    assert_eq!(status, 200, "{body}");
    let second = refresh_token_of(&body);
    let reset = refresh(&portal, &second).await;
    assert!(reset.is_err(), "request 2 is reset: {reset:?}");
    // The reset came before redeeming: the same refresh token still works (request 3, delayed).
    let (status, body) = refresh(&portal, &second).await.expect("request 3");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        portal
            .emulator
            .last_granted_tokens()
            .expect("a grant")
            .refresh_token
            .expose_secret(),
        refresh_token_of(&body)
    );

    let counters = portal.emulator.counters();
    assert_eq!(
        (
            counters.faults.token_resets,
            counters.faults.token_delays,
            counters.refreshes,
            counters.refresh_rejections,
        ),
        (1, 1, 2, 0)
    );
    assert_eq!(portal.emulator.oauth_faults(), Some(faults));
}

#[tokio::test]
async fn a_client_that_hangs_up_during_a_delay_redeems_nothing() {
    let portal = Portal::start().await;
    portal
        .emulator
        .set_oauth_faults(Some(OAuthFaults::new(1).delay_every(
            1,
            Duration::from_secs(30),
            Duration::from_secs(30),
        )))
        .expect("valid");
    let impatient = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(300))
        .build()
        .expect("client");
    let first = portal.emulator.tokens();
    let gave_up = refresh_with(&impatient, &portal, first.refresh_token.expose_secret()).await;
    assert!(
        gave_up.as_ref().is_err_and(reqwest::Error::is_timeout),
        "{gave_up:?}"
    );
    tokio::time::timeout(WAIT, async {
        while portal.emulator.counters().faults.token_abandoned == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the abandoned request is counted");

    portal.emulator.set_oauth_faults(None).expect("valid");
    let (status, body) = refresh(&portal, first.refresh_token.expose_secret())
        .await
        .expect("answered");
    assert_eq!(status, 200, "the refresh token was not redeemed: {body}");
    assert_eq!(portal.emulator.counters().refreshes, 1);
}

#[tokio::test]
async fn a_held_token_request_waits_for_its_release() {
    let portal = std::sync::Arc::new(Portal::start().await);
    let first = portal.emulator.tokens();
    let hold = portal.emulator.hold_next_token_request();
    assert!(!hold.has_arrived());
    let in_flight = {
        let portal = std::sync::Arc::clone(&portal);
        let refresh_token = first.refresh_token.expose_secret().to_owned();
        tokio::spawn(async move { refresh(&portal, &refresh_token).await })
    };
    tokio::time::timeout(WAIT, hold.arrived())
        .await
        .expect("the request arrives");
    assert_eq!(
        portal.emulator.counters().refreshes,
        0,
        "held before redeeming"
    );
    assert!(portal.emulator.last_granted_tokens().is_none());
    hold.release();
    let (status, body) = tokio::time::timeout(WAIT, in_flight)
        .await
        .expect("released")
        .expect("task")
        .expect("answered");
    assert_eq!(status, 200, "{body}");
    assert_eq!(portal.emulator.counters().refreshes, 1);
    // Only the next request was held.
    let (status, _) = refresh(&portal, &refresh_token_of(&body))
        .await
        .expect("answered");
    assert_eq!(status, 200);
}

#[tokio::test]
async fn rest_only_faults_spare_the_oauth_server() {
    let portal = Portal::start().await;
    portal
        .emulator
        .set_faults(Some(Faults::new(3).error_500_share(1.0).rest_only()))
        .expect("valid");
    let (status, _) = portal
        .call("imconnector.status", json!({"CONNECTOR": "a"}))
        .await;
    assert_eq!(status, 500);
    let first = portal.emulator.tokens();
    let (status, body) = refresh(&portal, first.refresh_token.expose_secret())
        .await
        .expect("answered");
    assert_eq!(status, 200, "{body}");
    assert_eq!(portal.emulator.counters().faults.error_500, 1);
}

#[tokio::test]
async fn oauth_faults_are_set_over_http_and_checked() {
    let portal = Portal::start().await;
    let url = format!("{}settings/oauth-faults", portal.emulator.control_url());
    let faults = json!({"seed": 2, "reset_every": 3, "delay_every": 2, "shortest_delay": 0.2, "longest_delay": 1.2});
    let response = http().put(&url).json(&faults).send().await.expect("put");
    assert_eq!(response.status(), 200);
    assert_eq!(
        portal.emulator.oauth_faults(),
        Some(OAuthFaults::new(2).reset_every(3).delay_every(
            2,
            Duration::from_millis(200),
            Duration::from_millis(1200)
        ))
    );
    let backwards = json!({"delay_every": 1, "shortest_delay": 2.0, "longest_delay": 1.0});
    let response = http().put(&url).json(&backwards).send().await.expect("put");
    assert_eq!(response.status(), 409);
    let (status, settings) = read(
        http()
            .get(format!("{}settings", portal.emulator.control_url()))
            .send()
            .await
            .expect("get"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(settings["oauth_faults"]["reset_every"], json!(3));
}
