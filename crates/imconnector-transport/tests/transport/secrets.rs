//! No secret in `Debug`/`Display` of the client, config, tokens or any error, nor in tracing
//! output, even when the server echoes them back.

use std::{
    io::Write,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
};

use imconnector_transport::{Client, Error, MemoryTokenStore, OAuthApp, RateLimit, Tokens};
use serde_json::json;
use tracing_subscriber::fmt::{format::FmtSpan, MakeWriter};

use crate::support::{fast_retries, serve, Incoming, Profile, Reply, SendMessages, Status};

const ACCESS: &str = "tok-ACCESS-s3cr3t";
const REFRESH: &str = "tok-REFRESH-s3cr3t";
const NEW_ACCESS: &str = "tok-ACCESS-NEW-s3cr3t";
const NEW_REFRESH: &str = "tok-REFRESH-NEW-s3cr3t";
const CLIENT_SECRET: &str = "app-SECRET-s3cr3t";
const WEBHOOK_CODE: &str = "wh-CODE-s3cr3t";
const SECRETS: &[&str] = &[
    ACCESS,
    REFRESH,
    NEW_ACCESS,
    NEW_REFRESH,
    CLIENT_SECRET,
    WEBHOOK_CODE,
    "s3cr3t",
];

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// A hostile portal: every failure page quotes the request, credentials included.
fn echoing_portal() -> impl Fn(Incoming) -> Reply {
    let refreshes = AtomicUsize::new(0);
    move |incoming| {
        let echo = format!(
            "<html>failed: {} {} {}</html>",
            incoming.path,
            incoming.query,
            String::from_utf8_lossy(&incoming.body)
        );
        if incoming.path == "/oauth/token/" {
            if refreshes.fetch_add(1, Ordering::SeqCst) == 0 {
                return Reply::json(
                    200,
                    json!({"access_token": NEW_ACCESS, "refresh_token": NEW_REFRESH, "expires_in": 3600}),
                );
            }
            return Reply::raw(500, echo);
        }
        let body = incoming.json();
        match incoming.rest_method().as_str() {
            "imconnector.status" if body["auth"] == ACCESS => {
                Reply::error(401, "expired_token", "expired")
            }
            "imconnector.send.messages" => Reply::raw(200, format!("{{\"result\": \"{echo}")),
            _ => Reply::raw(500, echo),
        }
    }
}

fn assert_clean(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{what} leaks `{secret}`: {text}");
    }
}

/// `Debug` and `Display` of an error and of every cause in its chain.
fn render(error: &Error) -> String {
    let mut text = format!("{error:?}\n{error}\n");
    let mut cause = std::error::Error::source(error);
    while let Some(next) = cause {
        text.push_str(&format!("{next:?}\n{next}\n"));
        cause = next.source();
    }
    text
}

#[tokio::test]
async fn no_secret_in_debug_display_errors_or_tracing_output() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(FmtSpan::CLOSE)
        .finish();
    // Process-wide on purpose (this test has its own binary): a thread-scoped subscriber races
    // with other tests' threads over tracing's per-callsite interest cache and misses spans.
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber here");

    let server = serve(echoing_portal()).await;
    let store = Arc::new(MemoryTokenStore::new());
    let builder = Client::builder()
        .portal(server.rest_base())
        .oauth_server(server.oauth_url())
        .oauth(
            OAuthApp::new("local.app", CLIENT_SECRET),
            Tokens::new(ACCESS, REFRESH).with_member_id("member-1"),
        )
        .token_store(store.clone())
        .rate_limit(RateLimit::Off)
        .retry_policy(fast_retries());
    let client = builder.clone().build().unwrap();
    let webhook_builder = Client::builder()
        .webhook(server.url(&format!("/rest/1/{WEBHOOK_CODE}/")))
        .rate_limit(RateLimit::Off)
        .retry_policy(fast_retries());
    let webhook = webhook_builder.clone().build().unwrap();
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let unreachable = Client::builder()
        .webhook(format!("http://{closed}/rest/1/{WEBHOOK_CODE}/"))
        .retry_policy(fast_retries())
        .build()
        .unwrap();

    let mut errors = Vec::new();
    // Expired token, refresh, replay, then an echoing 500 page (retried: idempotent).
    errors.push(client.call(&Status::new("acme_chat", 1)).await.unwrap_err());
    // An echoing, unreadable 200 answer.
    errors.push(client.call(&SendMessages::one("hello")).await.unwrap_err());
    // The OAuth server echoing the refresh form (client secret and refresh token) in a 500 page.
    errors.push(client.refresh_tokens().await.unwrap_err());
    // A webhook whose failure page quotes the URL path, and one that cannot connect at all.
    errors.push(webhook.call(&Profile).await.unwrap_err());
    errors.push(unreachable.call(&Profile).await.unwrap_err());
    errors.push(
        webhook
            .call(&Status::new("acme_chat", 1))
            .await
            .unwrap_err(),
    );

    assert!(
        matches!(errors[0], Error::HtmlPage { .. }),
        "{:?}",
        errors[0]
    );
    assert!(matches!(errors[1], Error::Decode { .. }), "{:?}", errors[1]);
    assert!(
        matches!(errors[2], Error::RefreshFailed { .. }),
        "{:?}",
        errors[2]
    );
    assert!(
        matches!(errors[3], Error::HtmlPage { .. }),
        "{:?}",
        errors[3]
    );
    assert!(
        matches!(errors[4], Error::Transport { .. }),
        "{:?}",
        errors[4]
    );
    for error in &errors {
        assert_clean("an error", &render(error));
    }
    // The snippets still show what the page said, with the credentials masked.
    assert!(render(&errors[0]).contains("[redacted]"));
    assert!(
        render(&errors[3]).contains("/rest/1/[redacted]/profile"),
        "{}",
        render(&errors[3])
    );

    assert_clean("Debug of the OAuth client", &format!("{client:?}"));
    assert_clean("Debug of the webhook client", &format!("{webhook:?}"));
    assert!(
        format!("{webhook:?}").contains(&server.url("/rest/[redacted]/")),
        "Debug of a webhook client still names its portal, port included: {webhook:?}"
    );
    assert_clean(
        "Debug of the unreachable client",
        &format!("{unreachable:?}"),
    );
    assert_clean("Debug of the builder", &format!("{builder:?}"));
    assert_clean(
        "Debug of the webhook builder",
        &format!("{webhook_builder:?}"),
    );
    assert_clean(
        "Debug of the tokens",
        &format!("{:?}", client.tokens().unwrap()),
    );
    assert_clean("Debug of the token store", &format!("{store:?}"));
    assert_clean(
        "Debug of the app",
        &format!("{:?}", OAuthApp::new("local.app", CLIENT_SECRET)),
    );
    assert!(
        format!("{client:?}").contains("member-1"),
        "Debug still shows what is not secret"
    );

    // The new pair really is in use and stored, so the checks above covered it.
    assert!(client
        .tokens()
        .unwrap()
        .same_access_token(&Tokens::new(NEW_ACCESS, "")));

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("imconnector_call"),
        "tracing output was captured: {logs}"
    );
    assert!(
        logs.contains("imconnector.status")
            && logs.contains("oauth_refresh")
            && logs.contains("retrying")
    );
    // A call's span records what became of it: its attempts, the last answer's HTTP status
    // and how long it took.
    assert!(
        logs.lines().any(|line| line.contains("imconnector_call{")
            && line.contains("attempts=")
            && line.contains("status=")
            && line.contains("duration_ms=")
            && line.contains("close")),
        "{logs}"
    );
    assert_clean("tracing output", &logs);
}
