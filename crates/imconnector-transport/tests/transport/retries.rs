//! Which failures are retried, and which become "outcome unknown".

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use imconnector_transport::{
    Client, ClientBuilder, Error, ErrorCode, OAuthApp, RateLimit, RetryPolicy, Tokens,
};
use serde_json::json;

use crate::{
    fast_retries,
    support::{raw_server, serve, RawAction, Reply, SendMessages, Status},
};

fn client_for(rest_base: String) -> ClientBuilder {
    Client::builder()
        .portal(rest_base)
        .oauth(
            OAuthApp::new("local.app", "secret"),
            Tokens::new("access", "refresh"),
        )
        .rate_limit(RateLimit::Off)
        .retry_policy(fast_retries())
}

/// Answers `first` to the first `failures` requests, then success.
fn failing_first(failures: usize, first: Reply) -> impl Fn(crate::support::Incoming) -> Reply {
    let count = AtomicUsize::new(0);
    move |_| {
        if count.fetch_add(1, Ordering::SeqCst) < failures {
            first.clone()
        } else {
            Reply::ok(
                json!({"SUCCESS": true, "LINE": 107, "CONNECTOR": "acme_chat", "STATUS": true}),
            )
        }
    }
}

#[tokio::test]
async fn query_limit_exceeded_is_retried_even_for_non_idempotent_methods() {
    let server = serve(failing_first(
        2,
        Reply::error(503, "QUERY_LIMIT_EXCEEDED", "Too many requests"),
    ))
    .await;
    let client = client_for(server.rest_base()).build().unwrap();

    client.call(&SendMessages::one("hello")).await.unwrap();

    assert_eq!(server.count("imconnector.send.messages"), 3);
}

#[tokio::test]
async fn operation_time_limit_is_retried() {
    let server = serve(failing_first(
        1,
        Reply::error(
            429,
            "OPERATION_TIME_LIMIT",
            "Method is blocked due to operation time limit.",
        ),
    ))
    .await;
    let client = client_for(server.rest_base()).build().unwrap();

    client.call(&SendMessages::one("hello")).await.unwrap();

    assert_eq!(server.count("imconnector.send.messages"), 2);
}

#[tokio::test]
async fn a_reset_after_send_messages_was_received_is_outcome_unknown_and_not_replayed() {
    let (addr, counts) = raw_server(|_, _| RawAction::Reset).await;
    let client = client_for(format!("http://{addr}/rest/")).build().unwrap();

    let error = client.call(&SendMessages::one("hello")).await.unwrap_err();

    let Error::OutcomeUnknown {
        method,
        request_id,
        source,
    } = &error
    else {
        panic!("expected OutcomeUnknown, got {error:?}");
    };
    assert_eq!(method, "imconnector.send.messages");
    assert!(!request_id.is_empty());
    assert!(matches!(**source, Error::Transport { .. }), "{source:?}");
    assert!(!error.is_retryable());
    assert_eq!(
        counts.lock().unwrap()["/rest/imconnector.send.messages"],
        1,
        "the server saw it exactly once"
    );
}

#[tokio::test]
async fn a_reset_on_status_is_retried() {
    let (addr, counts) = raw_server(|_, count| {
        if count == 1 {
            RawAction::Reset
        } else {
            RawAction::Respond(
                json!({"result": {"LINE": 107, "CONNECTOR": "acme_chat", "STATUS": true}})
                    .to_string(),
            )
        }
    })
    .await;
    let client = client_for(format!("http://{addr}/rest/")).build().unwrap();

    let status = client.call(&Status::new("acme_chat", 107)).await.unwrap();

    assert!(status.status);
    assert_eq!(counts.lock().unwrap()["/rest/imconnector.status"], 2);
}

#[tokio::test]
async fn a_refused_connection_sent_nothing_so_even_send_messages_is_retried() {
    // A port nobody listens on: bind, note it, close.
    let addr = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let client = client_for(format!("http://{addr}/rest/")).build().unwrap();

    let error = client.call(&SendMessages::one("hello")).await.unwrap_err();

    assert!(
        matches!(error, Error::Transport { .. }),
        "nothing was sent, so not OutcomeUnknown: {error:?}"
    );
    assert!(error.is_retryable());
}

#[tokio::test]
async fn a_timeout_after_sending_is_outcome_unknown_for_send_messages_and_retried_for_status() {
    let status_calls = Arc::new(AtomicUsize::new(0));
    let counter = status_calls.clone();
    let server = serve(move |incoming| {
        let slow = Duration::from_secs(3);
        match incoming.rest_method().as_str() {
            "imconnector.status" if counter.fetch_add(1, Ordering::SeqCst) > 0 => {
                Reply::ok(json!({"LINE": 1, "CONNECTOR": "acme_chat", "STATUS": false}))
            }
            _ => Reply::ok(json!(true)).delayed(slow),
        }
    })
    .await;
    let client = client_for(server.rest_base())
        .request_timeout(Duration::from_millis(300))
        .build()
        .unwrap();

    let error = client.call(&SendMessages::one("hello")).await.unwrap_err();
    let Error::OutcomeUnknown { source, .. } = &error else {
        panic!("expected OutcomeUnknown, got {error:?}");
    };
    assert!(matches!(**source, Error::Timeout { .. }));
    assert_eq!(server.count("imconnector.send.messages"), 1);

    client.call(&Status::new("acme_chat", 1)).await.unwrap();
    assert_eq!(server.count("imconnector.status"), 2);
}

#[tokio::test]
async fn retries_stop_after_max_attempts() {
    let server = serve(|_| Reply::error(503, "QUERY_LIMIT_EXCEEDED", "Too many requests")).await;
    let policy = fast_retries().with_max_attempts(4);
    let client = client_for(server.rest_base())
        .retry_policy(policy)
        .build()
        .unwrap();

    let error = client.call(&Status::new("acme_chat", 1)).await.unwrap_err();

    assert_eq!(error.code(), Some(&ErrorCode::QueryLimitExceeded));
    assert!(error.is_retryable());
    assert_eq!(server.count("imconnector.status"), 4);
}

#[tokio::test]
async fn retries_stop_within_the_total_retry_time() {
    let server = serve(|_| Reply::error(503, "QUERY_LIMIT_EXCEEDED", "Too many requests")).await;
    let policy = RetryPolicy::default()
        .with_max_attempts(10_000)
        .with_initial_backoff(Duration::from_millis(10))
        .with_max_backoff(Duration::from_millis(20))
        .with_max_elapsed(Duration::from_millis(300));
    let client = client_for(server.rest_base())
        .retry_policy(policy)
        .build()
        .unwrap();

    let error = client.call(&Status::new("acme_chat", 1)).await.unwrap_err();

    assert_eq!(error.code(), Some(&ErrorCode::QueryLimitExceeded));
    // Every wait is at least 5 ms, so 300 ms allow at most 60 retries.
    assert!(server.count("imconnector.status") <= 61);
}

#[tokio::test]
async fn a_server_error_is_retried_for_idempotent_methods_only() {
    let server = serve(failing_first(
        1,
        Reply::error(500, "INTERNAL_SERVER_ERROR", "Internal error"),
    ))
    .await;
    let client = client_for(server.rest_base()).build().unwrap();
    client.call(&Status::new("acme_chat", 1)).await.unwrap();
    assert_eq!(server.count("imconnector.status"), 2);

    let server = serve(failing_first(
        1,
        Reply::error(500, "INTERNAL_SERVER_ERROR", "Internal error"),
    ))
    .await;
    let client = client_for(server.rest_base()).build().unwrap();
    let error = client.call(&SendMessages::one("hello")).await.unwrap_err();
    assert_eq!(error.code(), Some(&ErrorCode::InternalServerError));
    assert_eq!(server.count("imconnector.send.messages"), 1);
}

#[tokio::test]
async fn a_moved_portal_is_re_posted_not_turned_into_a_get() {
    let server = serve(|incoming| {
        if incoming.path.starts_with("/old/") {
            Reply::raw(302, "").header("location", incoming.path.replacen("/old/", "/new/", 1))
        } else {
            Reply::ok(json!({"LINE": 9, "CONNECTOR": "acme_chat", "STATUS": true}))
        }
    })
    .await;
    let client = client_for(server.url("/old/rest/")).build().unwrap();

    let status = client.call(&Status::new("acme_chat", 9)).await.unwrap();

    assert_eq!(status.line, 9);
    let seen = server.requests("imconnector.status");
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].path, "/new/rest/imconnector.status");
    assert_eq!(seen[1].http_method, "POST");
    assert_eq!(
        seen[1].json(),
        seen[0].json(),
        "the same body, auth included"
    );
    assert_eq!(seen[1].json()["LINE"], 9);
}
