//! Fuzz body: reading REST answers (the `result`/`error` envelope), through the public
//! `Client::call_raw` against a local server that answers whatever status and body it is told.

use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Router;
use imconnector_transport::{Client, Error, RateLimit, RawResponse, RetryPolicy};
use serde_json::Value;

/// The secret part of the local webhook URL: it must never show in an error.
const WEBHOOK_CODE: &str = "Zq8K1vW3xY7mN2pR4tS6uV9b";

/// Statuses the server answers with (no 1xx, 204, 3xx: those have no body to read).
const STATUSES: [u16; 10] = [200, 201, 400, 401, 403, 404, 429, 500, 502, 503];

type Answer = Arc<Mutex<(u16, Bytes)>>;

/// A local server and a client calling it.
pub struct Harness {
    runtime: tokio::runtime::Runtime,
    client: Client,
    answer: Answer,
    /// One call at a time: the answer to give is shared with the server.
    turn: Mutex<()>,
}

async fn respond(State(answer): State<Answer>) -> (StatusCode, Bytes) {
    let (status, body) = answer
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    (StatusCode::from_u16(status).unwrap_or(StatusCode::OK), body)
}

impl Harness {
    /// Starts the server on 127.0.0.1 (port 0) and a client of it: an incoming webhook (so
    /// no token refresh is involved), no pacing, no retries.
    ///
    /// # Errors
    /// When the runtime, the listener or the client cannot be made.
    pub fn start() -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let answer: Answer = Arc::new(Mutex::new((200, Bytes::new())));
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
        let address = listener.local_addr()?;
        let router = Router::new()
            .fallback(respond)
            .with_state(Arc::clone(&answer));
        runtime.spawn(async move { axum::serve(listener, router).await });
        let client = Client::builder()
            .webhook(format!("http://{address}/rest/1/{WEBHOOK_CODE}/"))
            .rate_limit(RateLimit::Off)
            .retry_policy(RetryPolicy::none())
            .build()?;
        Ok(Self {
            runtime,
            client,
            answer,
            turn: Mutex::new(()),
        })
    }

    /// Calls `profile` while the server answers `status` and `body`.
    ///
    /// # Errors
    /// Whatever the client makes of the answer.
    pub fn call(&self, status: u16, body: &[u8]) -> Result<RawResponse, Error> {
        let _turn = self.turn.lock().unwrap_or_else(PoisonError::into_inner);
        *self.answer.lock().unwrap_or_else(PoisonError::into_inner) =
            (status, Bytes::copy_from_slice(body));
        self.runtime
            .block_on(self.client.call_raw("profile", Value::Null))
    }
}

/// What the client must make of `body`: the error code it carries, the result, or neither.
enum Expected {
    ApiError(String),
    Result(Value),
    /// Not JSON and starting with `<`: an HTML page (a maintenance or proxy page).
    HtmlPage,
    Undecodable,
}

fn expected(body: &[u8]) -> Expected {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(mut object)) => {
            match object.get("error").and_then(Value::as_str) {
                Some(code) if !code.is_empty() => return Expected::ApiError(code.to_owned()),
                _ => {}
            }
            object
                .remove("result")
                .map_or(Expected::Undecodable, Expected::Result)
        }
        Ok(_) => Expected::Undecodable,
        Err(_) => {
            let text = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
            if text.trim_ascii_start().first() == Some(&b'<') {
                Expected::HtmlPage
            } else {
                Expected::Undecodable
            }
        }
    }
}

/// Answers the first byte of `data` (picking a status) and the rest as the body, and checks
/// what the client made of it: the error code from an `error` envelope, the `result` of a
/// `result` envelope whatever the status, an HTML-page error for a body starting with `<`, a
/// decode error (wrapped as outcome-unknown after a 5xx) for anything else, and
/// never the webhook's secret in an error.
///
/// # Panics
/// When the client's answer is not the expected one (that is the finding).
pub fn check(harness: &Harness, data: &[u8]) {
    let (status, body) = match data.split_first() {
        Some((first, rest)) => (STATUSES[usize::from(*first) % STATUSES.len()], rest),
        None => (200, data),
    };
    let answer = harness.call(status, body);
    if let Err(error) = &answer {
        let shown = format!("{error} {error:?}");
        assert!(
            !shown.contains(WEBHOOK_CODE),
            "the webhook code leaked: {shown}"
        );
    }
    match (expected(body), answer) {
        (Expected::ApiError(code), Err(Error::Api(error))) => {
            assert_eq!(error.code.as_str(), code);
            assert_eq!(error.http_status, Some(status));
        }
        // The portal is read by its envelope, not by its status (reference §1.4).
        (Expected::Result(result), Ok(response)) => assert_eq!(response.result, result),
        (
            Expected::Undecodable,
            Err(Error::Decode {
                http_status,
                snippet,
                ..
            }),
        ) => {
            assert!(
                status < 500,
                "a 5xx without an envelope must be outcome-unknown"
            );
            assert_eq!(http_status, status);
            assert!(snippet.chars().count() <= 201, "snippet too long");
        }
        (
            Expected::HtmlPage,
            Err(Error::HtmlPage {
                http_status,
                snippet,
                ..
            }),
        ) => {
            assert!(snippet.chars().count() <= 201, "snippet too long");
            assert!(
                status < 500,
                "a 5xx without an envelope must be outcome-unknown"
            );
            assert_eq!(http_status, status);
        }
        (Expected::Undecodable, Err(Error::OutcomeUnknown { source, .. })) => {
            assert!(status >= 500);
            assert!(matches!(*source, Error::Decode { .. }), "{source:?}");
        }
        (Expected::HtmlPage, Err(Error::OutcomeUnknown { source, .. })) => {
            assert!(status >= 500);
            assert!(matches!(*source, Error::HtmlPage { .. }), "{source:?}");
        }
        (_, answer) => panic!("status {status}, body {body:?}: unexpected {answer:?}"),
    }
}
