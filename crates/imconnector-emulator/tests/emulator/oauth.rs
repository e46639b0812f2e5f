//! The OAuth server: grants, rotation, expiry.

use std::time::Duration;

use imconnector_emulator::{Emulator, ExposeSecret};
use serde_json::{json, Value};

use crate::common::{read, Portal};

async fn grant(portal: &Portal, query: &[(&str, &str)]) -> (u16, Value) {
    let response = portal
        .http
        .get(portal.emulator.oauth_url())
        .query(query)
        .send()
        .await
        .expect("request");
    read(response).await
}

#[tokio::test]
async fn refresh_rotates_and_the_old_refresh_token_is_invalid_grant() {
    let portal = Portal::start().await;
    let app = portal.emulator.app();
    let tokens = portal.emulator.tokens();
    let secret = app.client_secret.expose_secret();
    let refresh = tokens.refresh_token.expose_secret();
    let query = [
        ("grant_type", "refresh_token"),
        ("client_id", &app.client_id),
        ("client_secret", secret),
        ("refresh_token", refresh),
    ];
    let (status, body) = grant(&portal, &query).await;
    assert_eq!(status, 200, "{body}");
    for key in [
        "access_token",
        "refresh_token",
        "client_endpoint",
        "server_endpoint",
        "member_id",
        "scope",
        "status",
    ] {
        assert!(body[key].is_string(), "{key}: {body}");
    }
    assert_eq!(body["expires_in"], json!(3600));
    assert_eq!(body["domain"], json!("oauth.bitrix.info"));
    assert_eq!(body["client_endpoint"], json!(portal.emulator.rest_url()));
    assert_ne!(body["refresh_token"], json!(refresh));
    let new_access = body["access_token"].as_str().expect("token").to_owned();
    let (status, _) = portal
        .call_as(&new_access, "imconnector.status", json!({"CONNECTOR": "a"}))
        .await;
    assert_eq!(status, 200);

    let (status, body) = grant(&portal, &query).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    // The rotated token works once, over POST as well.
    let next = body_refresh(
        &portal,
        &app.client_id,
        secret,
        &new_refresh(&portal, &app.client_id, secret).await,
    )
    .await;
    assert_eq!(next.0, 200);
    let counters = portal.emulator.counters();
    assert_eq!((counters.refreshes, counters.refresh_rejections), (3, 1));
}

async fn new_refresh(portal: &Portal, client_id: &str, secret: &str) -> String {
    let tokens = portal.emulator.tokens();
    let (status, body) = body_refresh(
        portal,
        client_id,
        secret,
        tokens.refresh_token.expose_secret(),
    )
    .await;
    assert_eq!(status, 200);
    body["refresh_token"].as_str().expect("refresh").to_owned()
}

async fn body_refresh(
    portal: &Portal,
    client_id: &str,
    secret: &str,
    refresh: &str,
) -> (u16, Value) {
    let response = portal
        .http
        .post(portal.emulator.oauth_url())
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", client_id),
            ("client_secret", secret),
            ("refresh_token", refresh),
        ])
        .send()
        .await
        .expect("request");
    read(response).await
}

#[tokio::test]
async fn bad_client_secret_is_invalid_client_and_codes_are_single_use() {
    let portal = Portal::start().await;
    let app = portal.emulator.app();
    let tokens = portal.emulator.tokens();
    let (status, body) = grant(
        &portal,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &app.client_id),
            ("client_secret", "wrong"),
            ("refresh_token", tokens.refresh_token.expose_secret()),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let (status, body) = grant(&portal, &[("grant_type", "password")]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );

    let code = portal
        .emulator
        .authorization_code(&app.client_id, 1)
        .expect("code");
    let query = [
        ("grant_type", "authorization_code"),
        ("client_id", app.client_id.as_str()),
        ("client_secret", app.client_secret.expose_secret()),
        ("code", code.expose_secret()),
    ];
    let (status, body) = grant(&portal, &query).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user_id"], json!(1));
    let (status, body) = grant(&portal, &query).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn tokens_expire_after_their_lifetime_and_refresh_restores_access() {
    let portal = Portal::with(Emulator::builder().token_ttl(Duration::from_secs(60))).await;
    let (status, _) = portal
        .call("imconnector.status", json!({"CONNECTOR": "a"}))
        .await;
    assert_eq!(status, 200);
    portal.emulator.advance_clock(Duration::from_secs(61));
    let (status, body) = portal
        .call("imconnector.status", json!({"CONNECTOR": "a"}))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("expired_token"))
    );
    let app = portal.emulator.app();
    let fresh = portal.emulator.tokens();
    // Refresh tokens outlive access tokens (180 days).
    let (status, body) = body_refresh(
        &portal,
        &app.client_id,
        app.client_secret.expose_secret(),
        fresh.refresh_token.expose_secret(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["expires_in"], json!(60));
    let (status, _) = portal
        .call_as(
            body["access_token"].as_str().expect("token"),
            "imconnector.status",
            json!({"CONNECTOR": "a"}),
        )
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn time_scale_speeds_up_expiry() {
    // One emulated hour per real millisecond: the token is long dead by the second call.
    let portal = Portal::with(Emulator::builder().time_scale(3_600_000.0)).await;
    let mut last = 200;
    for _ in 0..1000 {
        let (status, _) = portal
            .call("imconnector.status", json!({"CONNECTOR": "a"}))
            .await;
        last = status;
        if status == 401 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(last, 401);
}
