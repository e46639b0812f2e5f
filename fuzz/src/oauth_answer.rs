//! Fuzz body: the OAuth server's answer to a token request (`grant_type=refresh_token`),
//! through the public `OAuthServer::refresh` against a local server.

use imconnector_transport::authorization::OAuthServer;
use imconnector_transport::OAuthApp;
use secrecy::SecretString;
use serde_json::Value;

use crate::answer_server::{status_and_body, AnswerServer};
use crate::peak;

const CLIENT_SECRET: &str = "Oa7sEcReTq1w2e3r4t5y6u7i8o9p";
const REFRESH_TOKEN: &str = "Rf9tOkEnZx8c7v6b5n4m3l2k1j0h";

/// What one token request allocates besides reading the answer: the HTTP client's request,
/// connection and response.
pub const ROUND_TRIP_ALLOWANCE: usize = 256 * 1024;

/// The local server and an OAuth client of it.
pub struct Harness {
    server: AnswerServer,
    oauth: OAuthServer,
}

impl Harness {
    /// Starts the server and the client.
    ///
    /// # Errors
    /// When the server or the client cannot be made.
    pub fn start() -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let server = AnswerServer::start()?;
        let oauth = OAuthServer::new(OAuthApp::new("local.fuzz", CLIENT_SECRET))?
            .token_url(&format!("http://{}/oauth/token/", server.address))?;
        Ok(Self { server, oauth })
    }
}

/// Answers a refresh with `data` (first byte: the status), and checks the client's reading:
/// within the allocation bound, never a panic, tokens only from a JSON object that has an
/// `access_token`, and neither the client secret nor the refresh token in an error.
///
/// # Panics
/// When one of those properties does not hold (that is the finding).
pub fn check(harness: &Harness, data: &[u8]) {
    let (status, body) = status_and_body(data);
    harness.server.answer(status, body);
    let refresh = SecretString::from(REFRESH_TOKEN.to_owned());
    let limit = peak::ANSWER_AMPLIFICATION * body.len() + ROUND_TRIP_ALLOWANCE;
    let answer = peak::assert_within("OAuth answer", body.len(), limit, || {
        harness
            .server
            .runtime
            .block_on(harness.oauth.refresh(&refresh))
    });
    match answer {
        Ok(_) => {
            let parsed = serde_json::from_slice::<Value>(body);
            assert!(
                matches!(&parsed, Ok(Value::Object(answer)) if answer.contains_key("access_token")),
                "tokens from an answer without access_token: {body:?}"
            );
        }
        Err(error) => {
            let shown = format!("{error} {error:?}");
            for secret in [CLIENT_SECRET, REFRESH_TOKEN] {
                assert!(!shown.contains(secret), "a secret leaked: {shown}");
            }
        }
    }
}
