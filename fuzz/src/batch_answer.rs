//! Fuzz body: the answer to a `batch` call, through the public `Client::batch` against a
//! local server: one outcome per command, in order, whatever the answer.

use imconnector_transport::{Batch, Client, RateLimit, RetryPolicy};
use serde_json::Value;

use crate::answer_server::{status_and_body, AnswerServer};
use crate::peak;

/// The secret part of the local webhook URL: it must never show in an error.
const WEBHOOK_CODE: &str = "Bq8K1vW3xY7mN2pR4tS6uV9c";

/// What one batch call allocates besides reading the answer: the request (two commands) and
/// the HTTP client's connection and response.
pub const ROUND_TRIP_ALLOWANCE: usize = 256 * 1024;

/// The local server and a client of it.
pub struct Harness {
    server: AnswerServer,
    client: Client,
    batch: Batch,
}

impl Harness {
    /// Starts the server and the client (an incoming webhook: no token refresh involved, no
    /// pacing, no retries), and the batch it sends: two commands, `a` then `b`.
    ///
    /// # Errors
    /// When the server, the client or the batch cannot be made.
    pub fn start() -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let server = AnswerServer::start()?;
        let client = Client::builder()
            .webhook(format!("http://{}/rest/1/{WEBHOOK_CODE}/", server.address))
            .rate_limit(RateLimit::Off)
            .retry_policy(RetryPolicy::none())
            .build()?;
        let mut batch = Batch::new();
        batch.add_raw("a", "profile", Value::Null)?;
        batch.add_raw("b", "user.current", Value::Null)?;
        Ok(Self {
            server,
            client,
            batch,
        })
    }
}

/// Answers the batch with `data` (first byte: the status) and checks what the client made of
/// it: within the allocation bound, never a panic, on success one outcome per command in the
/// order added, and never the webhook's secret in an error.
///
/// # Panics
/// When one of those properties does not hold (that is the finding).
pub fn check(harness: &Harness, data: &[u8]) {
    let (status, body) = status_and_body(data);
    harness.server.answer(status, body);
    let limit = peak::ANSWER_AMPLIFICATION * body.len() + ROUND_TRIP_ALLOWANCE;
    let answer = peak::assert_within("batch answer", body.len(), limit, || {
        harness
            .server
            .runtime
            .block_on(harness.client.batch(&harness.batch))
    });
    match answer {
        Ok(response) => {
            let keys: Vec<&str> = response
                .entries()
                .iter()
                .map(|entry| entry.key.as_str())
                .collect();
            assert_eq!(keys, ["a", "b"], "one outcome per command, in order");
            for entry in response.entries() {
                assert!(response.entry(&entry.key).is_some());
            }
        }
        Err(error) => {
            let shown = format!("{error} {error:?}");
            assert!(
                !shown.contains(WEBHOOK_CODE),
                "the webhook code leaked: {shown}"
            );
        }
    }
}
