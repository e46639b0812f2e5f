//! What a broken or hostile portal can answer: an endless body (cut at the cap, never buffered
//! whole), a redirect to another host (never followed with the credential), an HTML
//! maintenance page with 200 (a plain typed error).

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use axum::{
    body::{Body, Bytes},
    http::{header, StatusCode},
    response::Response,
    Router,
};
use imconnector_transport::{
    Client, Error, OAuthServer, RateLimit, RetryPolicy, TokenEndpointError, Tokens,
    DEFAULT_MAX_RESPONSE_SIZE,
};
use serde_json::{json, Value};

use crate::support::{serve, Profile, Reply};

const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * MIB;

/// A server answering every request with `total` bytes of `a`, produced lazily in 1 MiB
/// chunks; counts the bytes it handed to the connection. `declare` sets `Content-Length`.
async fn streaming_server(total: u64, declare: bool) -> (String, Arc<AtomicU64>) {
    let produced = Arc::new(AtomicU64::new(0));
    let counter = produced.clone();
    let app = Router::new().fallback(move || {
        let counter = counter.clone();
        async move {
            let chunk = Bytes::from(vec![b'a'; 1024 * 1024]);
            let chunks = futures::stream::iter(0..total.div_ceil(MIB)).map(move |_| {
                counter.fetch_add(MIB, Ordering::Relaxed);
                Ok::<_, std::io::Error>(chunk.clone())
            });
            let mut response = Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, "application/json");
            if declare {
                response = response.header(header::CONTENT_LENGTH, total);
            }
            response.body(Body::from_stream(chunks)).expect("response")
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/rest/1/webhook-code/"), produced)
}

fn webhook_client(url: &str) -> imconnector_transport::ClientBuilder {
    Client::builder()
        .webhook(url)
        .rate_limit(RateLimit::Off)
        .retry_policy(RetryPolicy::none())
}

use futures::StreamExt;

#[tokio::test]
async fn a_1_gb_answer_is_cut_at_the_default_cap_without_being_buffered() {
    let (url, produced) = streaming_server(GIB, false).await;
    let client = webhook_client(&url).build().unwrap();

    let error = tokio::time::timeout(Duration::from_secs(120), client.call(&Profile))
        .await
        .expect("the call ends")
        .unwrap_err();

    let Error::ResponseTooLarge {
        method,
        http_status,
        limit,
    } = &error
    else {
        panic!("expected ResponseTooLarge, got {error:?}");
    };
    assert_eq!(
        (method.as_str(), *http_status, *limit),
        ("profile", 200, DEFAULT_MAX_RESPONSE_SIZE)
    );
    assert!(error.to_string().contains("profile"), "{error}");
    assert!(!error.is_retryable());
    // The server stops when the client stops reading: the cap plus what the socket buffers.
    let sent = produced.load(Ordering::Relaxed);
    assert!(sent < 64 * MIB, "{sent} bytes were produced");
}

#[tokio::test]
async fn a_declared_length_over_the_cap_fails_before_the_body_is_read() {
    let (url, produced) = streaming_server(GIB, true).await;
    let client = webhook_client(&url)
        .max_response_size(64 * 1024)
        .build()
        .unwrap();

    let error = client.call(&Profile).await.unwrap_err();
    assert!(
        matches!(&error, Error::ResponseTooLarge { limit: 65_536, .. }),
        "{error:?}"
    );

    // A method that is not idempotent was answered, so it may have been applied.
    let error = client
        .call_raw("crm.lead.add", Value::Null)
        .await
        .unwrap_err();
    let Error::OutcomeUnknown { source, .. } = &error else {
        panic!("expected OutcomeUnknown, got {error:?}");
    };
    assert!(
        matches!(&**source, Error::ResponseTooLarge { method, .. } if method == "crm.lead.add"),
        "{source:?}"
    );
    let sent = produced.load(Ordering::Relaxed);
    assert!(sent < 64 * MIB, "{sent} bytes were produced");
}

#[tokio::test]
async fn an_answer_within_the_cap_in_many_chunks_is_read_whole() {
    let padding = " ".repeat(3 * 1024 * 1024);
    let body = format!(r#"{{"result": {{"ID": "1"}},{padding}"total": 1}}"#);
    let server = serve(move |_| Reply::raw(200, body.clone())).await;
    let client = webhook_client(&server.url("/rest/1/webhook-code/"))
        .build()
        .unwrap();

    let answer = client.call(&Profile).await.unwrap();

    assert_eq!(answer, json!({"ID": "1"}));
    let error = webhook_client(&server.url("/rest/1/webhook-code/"))
        .max_response_size(0)
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("max_response_size"), "{error}");
}

#[tokio::test]
async fn a_redirect_to_another_host_is_not_followed_with_the_credential() {
    let elsewhere = serve(|_| Reply::ok(json!({"ID": "stolen"}))).await;
    let target = elsewhere.url("/rest/1/webhook-code/profile");
    for status in [301, 302, 307, 308] {
        let target = target.clone();
        let portal =
            serve(move |_| Reply::raw(status, "").header("location", target.clone())).await;
        let client = webhook_client(&portal.url("/rest/1/webhook-code/"))
            .build()
            .unwrap();

        let error = client.call(&Profile).await.unwrap_err();

        let Error::Redirected {
            method,
            http_status,
            location,
        } = &error
        else {
            panic!("expected Redirected for {status}, got {error:?}");
        };
        assert_eq!((method.as_str(), *http_status), ("profile", status));
        assert_eq!(location, &format!("http://{}", elsewhere.addr));
        assert!(!error.to_string().contains("webhook-code"), "{error}");
    }
    assert!(
        elsewhere.seen.lock().unwrap().is_empty(),
        "the other host received a request"
    );
}

#[tokio::test]
async fn a_user_client_that_follows_redirects_has_the_foreign_answer_refused() {
    let elsewhere = serve(|_| Reply::ok(json!({"ID": "foreign"}))).await;
    let target = elsewhere.url("/rest/1/webhook-code/profile");
    let portal = serve(move |_| Reply::raw(307, "").header("location", target.clone())).await;
    // reqwest's default policy follows a 307 with the body: the user's misconfiguration, but
    // its answer must not be taken for the portal's.
    let client = webhook_client(&portal.url("/rest/1/webhook-code/"))
        .http_client(reqwest::Client::new())
        .build()
        .unwrap();

    let error = client.call(&Profile).await.unwrap_err();

    assert!(
        matches!(&error, Error::Redirected { location, .. } if *location == format!("http://{}", elsewhere.addr)),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_move_within_the_same_host_is_still_followed() {
    let portal = serve(|incoming| {
        if incoming.path.starts_with("/old/") {
            Reply::raw(308, "").header("location", incoming.path.replacen("/old/", "/new/", 1))
        } else {
            Reply::ok(json!({"ID": "1"}))
        }
    })
    .await;
    let client = webhook_client(&portal.url("/old/1/webhook-code/"))
        .build()
        .unwrap();

    assert_eq!(client.call(&Profile).await.unwrap(), json!({"ID": "1"}));
    assert_eq!(portal.count("profile"), 2);
}

const MAINTENANCE: &str = "<!DOCTYPE html>\n<html><head><title>Maintenance</title>\
    <style>body{font:14px sans-serif}</style></head>\
    <body><h1>Portal under maintenance</h1><p>Back at 10:00 UTC.</p></body></html>";

#[tokio::test]
async fn an_html_maintenance_page_with_200_is_a_plain_typed_error() {
    let portal = serve(|_| Reply::raw(200, MAINTENANCE).header("content-type", "text/html")).await;
    let client = webhook_client(&portal.url("/rest/1/webhook-code/"))
        .build()
        .unwrap();

    let error = client.call(&Profile).await.unwrap_err();

    let Error::HtmlPage {
        method,
        http_status,
        snippet,
    } = &error
    else {
        panic!("expected HtmlPage, got {error:?}");
    };
    assert_eq!((method.as_str(), *http_status), ("profile", 200));
    assert!(
        snippet.starts_with("Maintenance Portal under maintenance Back at 10:00 UTC."),
        "{snippet}"
    );
    assert!(error.to_string().contains("HTML page"), "{error}");
}

#[tokio::test]
async fn the_token_endpoint_answer_is_cut_at_the_cap_too() {
    let (url, produced) = streaming_server(GIB, false).await;
    let server = OAuthServer::new(crate::app())
        .unwrap()
        .token_url(&url)
        .unwrap();

    let error = tokio::time::timeout(Duration::from_secs(120), server.exchange_code("code"))
        .await
        .expect("the exchange ends")
        .unwrap_err();

    assert!(
        matches!(
            &error,
            TokenEndpointError::TooLarge {
                http_status: 200,
                limit: DEFAULT_MAX_RESPONSE_SIZE
            }
        ),
        "{error:?}"
    );
    assert!(!error.is_transient());
    let sent = produced.load(Ordering::Relaxed);
    assert!(sent < 64 * MIB, "{sent} bytes were produced");

    // The client's own refresh reads the OAuth server within the client's cap, and does not
    // retry an oversized answer.
    let client = Client::builder()
        .portal("http://127.0.0.1:9/rest/")
        .oauth_server(&url)
        .oauth(crate::app(), Tokens::new("access-0", "refresh-0"))
        .max_response_size(64 * 1024)
        .build()
        .unwrap();
    let error = client.refresh_tokens().await.unwrap_err();
    let Error::RefreshFailed { reason, .. } = &error else {
        panic!("expected RefreshFailed, got {error:?}");
    };
    assert!(reason.contains("65536-byte cap"), "{reason}");
    assert!(!reason.contains("attempts"), "{reason}");
}

#[tokio::test]
async fn the_token_endpoint_is_never_followed_to_another_host() {
    let elsewhere = serve(|_| {
        Reply::json(
            200,
            json!({"access_token": "a", "refresh_token": "r", "expires_in": 3600}),
        )
    })
    .await;
    let target = elsewhere.oauth_url();
    let oauth = serve(move |_| Reply::raw(307, "").header("location", target.clone())).await;

    for http in [None, Some(reqwest::Client::new())] {
        let mut server = OAuthServer::new(crate::app())
            .unwrap()
            .token_url(&oauth.oauth_url())
            .unwrap();
        let follows = http.is_some();
        if let Some(http) = http {
            server = server.http_client(http);
        }

        let error = server.exchange_code("code").await.unwrap_err();

        assert!(
            matches!(&error, TokenEndpointError::Redirected { location, .. } if *location == format!("http://{}", elsewhere.addr)),
            "{error:?}"
        );
        assert!(
            !error.to_string().contains("client-SECRET-value"),
            "{error}"
        );
        if !follows {
            assert!(elsewhere.seen.lock().unwrap().is_empty());
        }
    }
}

#[tokio::test]
async fn an_html_page_from_the_token_endpoint_is_a_plain_typed_error() {
    let oauth = serve(|_| Reply::raw(200, MAINTENANCE).header("content-type", "text/html")).await;
    let server = OAuthServer::new(crate::app())
        .unwrap()
        .token_url(&oauth.oauth_url())
        .unwrap();

    let error = server.exchange_code("code").await.unwrap_err();

    let TokenEndpointError::HtmlPage {
        http_status,
        snippet,
    } = &error
    else {
        panic!("expected HtmlPage, got {error:?}");
    };
    assert_eq!(*http_status, 200);
    assert!(snippet.contains("Portal under maintenance"), "{snippet}");
}
