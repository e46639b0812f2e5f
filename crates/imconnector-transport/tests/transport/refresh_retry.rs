//! Issue 11: a refresh whose exchange with the OAuth server failed transiently (a reset, a
//! proxy's 5xx page) is retried within the call's retry budget; an OAuth server that keeps
//! failing fails the call once the budget is spent; a refusal is never retried.

use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, SystemTime},
};

use imconnector_transport::{
    Client, Error, ErrorCode, MemoryTokenStore, RateLimit, TokenStore, Tokens,
};
use secrecy::ExposeSecret;
use serde_json::json;

use crate::{
    app, fast_retries,
    support::{raw_server, RawAction, Status},
};

/// Only reached when something hangs; generous for a loaded 2-core machine.
const PATIENCE: Duration = Duration::from_secs(60);

const TOKEN_PATH: &str = "/oauth/token/";

fn expired() -> Tokens {
    Tokens::new("access-0", "refresh-0").with_expires_at(SystemTime::now() - Duration::from_secs(5))
}

fn rotated_pair() -> RawAction {
    RawAction::Respond(
        json!({
            "access_token": "access-1", "refresh_token": "refresh-1", "expires_in": 3600,
            "domain": "oauth.bitrix.info", "member_id": "member-1", "status": "L"
        })
        .to_string(),
    )
}

fn status_answer() -> RawAction {
    RawAction::Respond(
        json!({
            "result": {"LINE": 1, "CONNECTOR": "acme_chat", "STATUS": true},
            "time": {"start": 1738065600.11, "finish": 1738065600.19, "duration": 0.08}
        })
        .to_string(),
    )
}

fn bad_gateway() -> RawAction {
    RawAction::Page {
        status: 502,
        content_type: "text/html",
        body: "<html><body><h1>502 Bad Gateway</h1></body></html>".to_owned(),
    }
}

fn client_on(addr: SocketAddr, store: Arc<MemoryTokenStore>) -> Client {
    Client::builder()
        .portal(format!("http://{addr}/rest/"))
        .oauth_server(format!("http://{addr}{TOKEN_PATH}"))
        .oauth(app(), expired())
        .token_store(store)
        .rate_limit(RateLimit::Off)
        .retry_policy(fast_retries())
        .build()
        .unwrap()
}

fn count(counts: &std::sync::Mutex<std::collections::HashMap<String, usize>>, path: &str) -> usize {
    counts.lock().unwrap().get(path).copied().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_reset_or_refused_by_a_proxy_is_retried_and_the_call_succeeds() {
    let exchanges = Arc::new(AtomicUsize::new(0));
    let issued = exchanges.clone();
    let (addr, counts) = raw_server(move |path, n| {
        if path != TOKEN_PATH {
            return status_answer();
        }
        match n {
            // The connection is reset before the server issued anything, then a proxy in
            // front of the OAuth server answers its HTML page.
            1 => RawAction::Reset,
            2 => bad_gateway(),
            _ => {
                issued.fetch_add(1, Ordering::SeqCst);
                rotated_pair()
            }
        }
    })
    .await;
    let store = Arc::new(MemoryTokenStore::new());
    let client = client_on(addr, store.clone());

    let status = tokio::time::timeout(PATIENCE, client.call(&Status::new("acme_chat", 1)))
        .await
        .expect("no hang")
        .expect("the refresh is retried and the call succeeds");
    assert_eq!(status.line, 1);
    assert_eq!(
        count(&counts, TOKEN_PATH),
        3,
        "two failed exchanges, then one"
    );
    assert_eq!(
        exchanges.load(Ordering::SeqCst),
        1,
        "one successful exchange"
    );
    let stored = store.load().await.unwrap().expect("the new pair is stored");
    assert_eq!(stored.refresh_token.expose_secret(), "refresh-1");
    assert_eq!(
        client.tokens().unwrap().access_token.expose_secret(),
        "access-1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oauth_server_failing_every_time_fails_the_call_after_the_budget() {
    let (addr, counts) = raw_server(|path, n| {
        if path != TOKEN_PATH {
            return status_answer();
        }
        if n % 2 == 1 {
            RawAction::Reset
        } else {
            bad_gateway()
        }
    })
    .await;
    let client = client_on(addr, Arc::new(MemoryTokenStore::new()));

    let result = tokio::time::timeout(PATIENCE, client.call(&Status::new("acme_chat", 1)))
        .await
        .expect("the call gives up instead of hanging");
    let max_attempts = fast_retries().max_attempts;
    match result {
        Err(error @ Error::RefreshFailed { .. }) => {
            let text = error.to_string();
            assert!(
                text.contains(&format!("{max_attempts} attempts")),
                "says how hard it tried: {text}"
            );
        }
        other => panic!("expected RefreshFailed, got {other:?}"),
    }
    assert_eq!(
        count(&counts, TOKEN_PATH),
        usize::try_from(max_attempts).unwrap(),
        "the whole budget, no more"
    );
    let total: usize = counts.lock().unwrap().values().sum();
    assert_eq!(
        total,
        count(&counts, TOKEN_PATH),
        "nothing sent to the portal"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_by_the_oauth_server_is_not_retried() {
    let (addr, counts) = raw_server(|path, _| {
        if path != TOKEN_PATH {
            return status_answer();
        }
        RawAction::Page {
            status: 401,
            content_type: "application/json",
            body: json!({"error": "invalid_client", "error_description": "Invalid client"})
                .to_string(),
        }
    })
    .await;
    let client = client_on(addr, Arc::new(MemoryTokenStore::new()));

    let result = tokio::time::timeout(PATIENCE, client.call(&Status::new("acme_chat", 1)))
        .await
        .expect("no hang");
    assert!(
        matches!(
            &result,
            Err(Error::RefreshFailed {
                code: Some(ErrorCode::InvalidClient),
                ..
            })
        ),
        "{result:?}"
    );
    assert_eq!(count(&counts, TOKEN_PATH), 1, "a refusal is final");
}
