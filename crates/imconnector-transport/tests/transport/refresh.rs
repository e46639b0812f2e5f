//! OAuth: single-flight refresh, replay on `expired_token`, `invalid_grant`, token stores.

use std::{
    sync::Arc,
    time::{Duration, SystemTime},
};

use imconnector_transport::{Error, ErrorCode, FileTokenStore, TokenStore, Tokens};
use secrecy::ExposeSecret;
use serde_json::{json, Value};

use crate::{
    oauth_builder,
    support::{OAuthPortal, Reply, Status},
};

fn status_ok(method: &str, body: &Value) -> Reply {
    assert_eq!(method, "imconnector.status");
    Reply::ok(json!({"LINE": body["LINE"], "CONNECTOR": body["CONNECTOR"], "STATUS": true}))
}

async fn hundred_calls(client: &imconnector_transport::Client) -> Vec<Result<i64, Error>> {
    // Collected first, so all 100 are in flight before the first is awaited.
    let calls: Vec<_> = (0..100)
        .map(|line| {
            let client = client.clone();
            tokio::spawn(async move {
                client
                    .call(&Status::new("acme_chat", line))
                    .await
                    .map(|status| status.line)
            })
        })
        .collect();
    let mut results = Vec::new();
    for call in calls {
        results.push(call.await.unwrap());
    }
    results
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_concurrent_calls_on_an_expired_token_refresh_exactly_once() {
    let portal = OAuthPortal::start(status_ok).await;
    // A slow OAuth server keeps the refresh in flight while the other calls pile up behind it.
    *portal.tokens.oauth_delay.lock().unwrap() = Duration::from_millis(200);
    let client = oauth_builder(&portal).build().unwrap();

    let results = hundred_calls(&client).await;

    for (line, result) in results.into_iter().enumerate() {
        assert_eq!(result.unwrap(), i64::try_from(line).unwrap());
    }
    println!(
        "FIGURE refresh requests for 100 concurrent calls on an expired token: {} (401 expired_token answers: {})",
        portal.refreshes(),
        portal.server.requests("imconnector.status").iter().filter(|seen| seen.json()["auth"] == "access-0").count()
    );
    assert_eq!(portal.refreshes(), 1);
    assert_eq!(
        portal.server.count("token"),
        1,
        "exactly one request reached the OAuth endpoint"
    );
    let rejected = portal
        .server
        .requests("imconnector.status")
        .iter()
        .filter(|seen| seen.json()["auth"] == "access-0")
        .count();
    assert!(
        rejected > 1,
        "the calls really were concurrent on the expired token ({rejected} rejections)"
    );
    assert_eq!(
        client.tokens().unwrap().refresh_token.expose_secret(),
        "refresh-1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_known_to_be_expired_is_refreshed_once_before_sending() {
    let portal = OAuthPortal::start(status_ok).await;
    *portal.tokens.oauth_delay.lock().unwrap() = Duration::from_millis(100);
    let expired = Tokens::new("access-0", "refresh-0")
        .with_expires_at(SystemTime::now() - Duration::from_secs(5));
    let client = oauth_builder(&portal)
        .oauth(crate::app(), expired)
        .build()
        .unwrap();

    let results = hundred_calls(&client).await;

    assert!(results.iter().all(Result::is_ok));
    assert_eq!(portal.refreshes(), 1);
    let stale = portal
        .server
        .requests("imconnector.status")
        .iter()
        .filter(|seen| seen.json()["auth"] == "access-0")
        .count();
    assert_eq!(stale, 0, "the known-expired token is never sent");
}

#[tokio::test]
async fn refresh_sends_secrets_in_a_post_form_body_never_in_the_url() {
    let portal = OAuthPortal::start(status_ok).await;
    let client = oauth_builder(&portal).build().unwrap();
    client.call(&Status::new("acme_chat", 1)).await.unwrap();

    let refreshes = portal.server.requests("token");
    assert_eq!(refreshes.len(), 1);
    let refresh = &refreshes[0];
    assert_eq!(refresh.http_method, "POST");
    assert_eq!(refresh.query, "", "no parameter in the URL");
    assert!(refresh.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/x-www-form-urlencoded"));
    assert_eq!(
        refresh.form(),
        json!({"grant_type": "refresh_token", "client_id": "local.test-app",
               "client_secret": "client-SECRET-value", "refresh_token": "refresh-0"})
    );
    // The REST call itself carries the token in the JSON body, not the URL.
    let call = portal.server.requests("imconnector.status").pop().unwrap();
    assert_eq!(call.query, "");
    assert_eq!(call.json()["auth"], "access-1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_grant_is_a_terminal_reauthorisation_error_asked_once() {
    let portal = OAuthPortal::start(status_ok).await;
    *portal.tokens.oauth_override.lock().unwrap() = Some(Reply::error(
        400,
        "invalid_grant",
        "The refresh token is invalid",
    ));
    *portal.tokens.oauth_delay.lock().unwrap() = Duration::from_millis(100);
    let client = oauth_builder(&portal).build().unwrap();

    let calls: Vec<_> = (0..20)
        .map(|line| {
            let client = client.clone();
            tokio::spawn(async move { client.call(&Status::new("acme_chat", line)).await })
        })
        .collect();
    for call in calls {
        match call.await.unwrap() {
            Err(Error::ReauthorizationNeeded { code, .. }) => {
                assert_eq!(code, ErrorCode::InvalidGrant)
            }
            other => panic!("expected ReauthorizationNeeded, got {other:?}"),
        }
    }
    assert_eq!(
        portal.server.count("token"),
        1,
        "a dead refresh token is not tried again"
    );

    // After the user re-authorises, new tokens make the client work again.
    *portal.tokens.valid_access.lock().unwrap() = Some("access-new".into());
    client
        .set_tokens(Tokens::new("access-new", "refresh-new"))
        .unwrap();
    client.call(&Status::new("acme_chat", 5)).await.unwrap();
}

#[tokio::test]
async fn expired_token_is_refreshed_and_replayed_only_once() {
    let portal = OAuthPortal::start(|_, _| {
        Reply::error(
            401,
            "expired_token",
            "The access token provided has expired.",
        )
    })
    .await;
    let client = oauth_builder(&portal).build().unwrap();

    let error = client.call(&Status::new("acme_chat", 1)).await.unwrap_err();

    assert_eq!(error.code(), Some(&ErrorCode::ExpiredToken));
    assert_eq!(portal.refreshes(), 1);
    assert_eq!(
        portal.server.count("imconnector.status"),
        2,
        "the first try and one replay"
    );
}

#[tokio::test]
async fn refreshed_tokens_are_saved_to_the_file_store() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("tokens.json");
    let store = Arc::new(FileTokenStore::new(&path));
    let portal = OAuthPortal::start(status_ok).await;
    let client = oauth_builder(&portal)
        .token_store(store.clone())
        .build()
        .unwrap();

    client.call(&Status::new("acme_chat", 1)).await.unwrap();

    let saved = store.load().await.unwrap().expect("saved tokens");
    assert_eq!(saved.access_token.expose_secret(), "access-1");
    assert_eq!(saved.refresh_token.expose_secret(), "refresh-1");
    assert_eq!(
        saved.member_id.as_ref().map(|id| id.as_str()),
        Some("member-1")
    );
    assert!(saved.expires_at.unwrap() > SystemTime::now());
}

#[tokio::test]
async fn newer_tokens_in_the_store_are_adopted_instead_of_refreshing() {
    let directory = tempfile::tempdir().unwrap();
    let store = Arc::new(FileTokenStore::new(directory.path().join("tokens.json")));
    // Another process refreshed already and stored a pair that expires later than ours.
    let newer = Tokens::new("access-77", "refresh-77").with_expires_in(Duration::from_secs(3600));
    store.save(&newer).await.unwrap();
    let portal = OAuthPortal::start(status_ok).await;
    *portal.tokens.valid_access.lock().unwrap() = Some("access-77".into());
    let ours = Tokens::new("access-0", "refresh-0").with_expires_in(Duration::from_secs(1800));
    let client = oauth_builder(&portal)
        .oauth(crate::app(), ours)
        .token_store(store)
        .build()
        .unwrap();

    client.call(&Status::new("acme_chat", 1)).await.unwrap();

    assert_eq!(portal.refreshes(), 0);
    assert_eq!(portal.server.count("token"), 0);
    assert_eq!(
        client.tokens().unwrap().access_token.expose_secret(),
        "access-77"
    );
}
