//! Fuzz body: reading REST answers (the `result`/`error` envelope), through the public
//! `Client::call_raw` against a local server that answers whatever status and body it is told.

use std::sync::{Mutex, PoisonError};

use imconnector_transport::{Client, Error, RateLimit, RawResponse, RetryPolicy};
use serde_json::Value;

use crate::answer_server::AnswerServer;

/// The secret part of the local webhook URL: it must never show in an error.
const WEBHOOK_CODE: &str = "Zq8K1vW3xY7mN2pR4tS6uV9b";

/// Statuses the server answers with (no 1xx, 204, 3xx: those have no body to read).
const STATUSES: [u16; 10] = [200, 201, 400, 401, 403, 404, 429, 500, 502, 503];

/// A local server and a client calling it.
pub struct Harness {
    server: AnswerServer,
    client: Client,
    /// One call at a time: the answer to give is shared with the server.
    turn: Mutex<()>,
}

impl Harness {
    /// Starts the server on 127.0.0.1 (port 0) and a client of it: an incoming webhook (so
    /// no token refresh is involved), no pacing, no retries.
    ///
    /// # Errors
    /// When the runtime, the listener or the client cannot be made.
    pub fn start() -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let server = AnswerServer::start()?;
        let client = Client::builder()
            .webhook(format!("http://{}/rest/1/{WEBHOOK_CODE}/", server.address))
            .rate_limit(RateLimit::Off)
            .retry_policy(RetryPolicy::none())
            .build()?;
        Ok(Self {
            server,
            client,
            turn: Mutex::new(()),
        })
    }

    /// Calls `profile` while the server answers `status` and `body`.
    ///
    /// # Errors
    /// Whatever the client makes of the answer.
    pub fn call(&self, status: u16, body: &[u8]) -> Result<RawResponse, Error> {
        let _turn = self.turn.lock().unwrap_or_else(PoisonError::into_inner);
        self.server.answer(status, body);
        self.server
            .runtime
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
