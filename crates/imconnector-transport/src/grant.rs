//! The OAuth server's `refresh_token` grant, retried when it failed transiently.
//!
//! A reset connection, a timeout or a proxy's 5xx page says nothing about the refresh token, so
//! the exchange is tried again with backoff, within the client's [`RetryPolicy`] (its attempts,
//! and the smaller of its `max_elapsed` and `deadline`, counted from the first exchange). If the
//! OAuth server did rotate the pair before the connection broke, the retry is answered
//! `invalid_grant`, which is handled like any other (the token store is read again). A refusal
//! (`invalid_grant`, `invalid_client` at any status, another OAuth error with a status below 500
//! other than 429) is never retried.

use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::{
    code::ErrorCode,
    envelope::{error_from_object, snippet},
    error::Error,
    policy::RetryPolicy,
    tokens::{OAuthApp, Tokens},
};

/// The HTTP settings the exchange uses (the client's pool, timeout, user agent and retry
/// policy).
pub(crate) struct Http {
    pub(crate) client: reqwest::Client,
    pub(crate) timeout: Duration,
    pub(crate) user_agent: reqwest::header::HeaderValue,
    /// Bounds the retries of an exchange that failed transiently.
    pub(crate) retry: RetryPolicy,
}

/// One exchange that did not produce a pair.
struct Failed {
    error: Error,
    /// Trying again may succeed: nothing says the refresh token or the client is bad.
    transient: bool,
}

impl Failed {
    fn transient(error: Error) -> Self {
        Self {
            error,
            transient: true,
        }
    }

    fn terminal(error: Error) -> Self {
        Self {
            error,
            transient: false,
        }
    }
}

/// Exchanges the refresh token of `tokens` at `server`, retrying transient failures.
pub(crate) async fn refresh(
    http: &Http,
    server: &url::Url,
    app: &OAuthApp,
    tokens: &Tokens,
) -> Result<Tokens, Error> {
    let policy = http.retry;
    let budget = policy.max_elapsed.min(policy.deadline);
    let started = Instant::now();
    let mut attempt: u32 = 0;
    loop {
        attempt += 1;
        let failed = match exchange(http, server, app, tokens).await {
            Ok(fresh) => return Ok(fresh),
            Err(failed) => failed,
        };
        if !failed.transient {
            return Err(failed.error);
        }
        let wait = policy.backoff(attempt);
        if attempt >= policy.max_attempts || started.elapsed() + wait > budget {
            return Err(gave_up(failed.error, attempt));
        }
        tracing::warn!(attempt, wait_ms = wait.as_millis(), error = %failed.error, "token refresh failed transiently; retrying");
        tokio::time::sleep(wait).await;
    }
}

/// The last failure, saying how many exchanges were tried.
fn gave_up(error: Error, attempts: u32) -> Error {
    match error {
        Error::RefreshFailed {
            code,
            http_status,
            reason,
            source,
        } if attempts > 1 => Error::RefreshFailed {
            code,
            http_status,
            reason: format!("{reason} (gave up after {attempts} attempts)"),
            source,
        },
        other => other,
    }
}

/// One `grant_type=refresh_token` request, secrets in the POST body only.
async fn exchange(
    http: &Http,
    server: &url::Url,
    app: &OAuthApp,
    tokens: &Tokens,
) -> Result<Tokens, Failed> {
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", app.client_id.as_str()),
        ("client_secret", app.client_secret.expose_secret()),
        ("refresh_token", tokens.refresh_token.expose_secret()),
    ];
    // No answer: a reset, a refused connection, a timeout. Nothing was refused.
    let unanswered = |reason: &str, error: reqwest::Error| {
        Failed::transient(Error::RefreshFailed {
            code: None,
            http_status: None,
            reason: reason.to_owned(),
            source: Some(Box::new(error.without_url())),
        })
    };
    let response = http
        .client
        .post(server.clone())
        .timeout(http.timeout)
        .header(reqwest::header::USER_AGENT, http.user_agent.clone())
        .header(reqwest::header::ACCEPT, "application/json")
        .form(&form)
        .send()
        .await
        .map_err(|error| unanswered("the OAuth server could not be reached", error))?;
    let status = response.status().as_u16();
    let body = response
        .bytes()
        .await
        .map_err(|error| unanswered("the OAuth server's answer could not be read", error))?;
    // The server (or a proxy in front of it) failed, or asked to be left alone for a while.
    let server_side = status >= 500 || status == 429;
    let secrets: [&SecretString; 3] = [
        &app.client_secret,
        &tokens.refresh_token,
        &tokens.access_token,
    ];
    let Ok(Value::Object(answer)) = serde_json::from_slice::<Value>(&body) else {
        let error = Error::RefreshFailed {
            code: None,
            http_status: Some(status),
            reason: format!(
                "the OAuth server answered HTTP {status} with a body that is not a JSON object: {:?}",
                snippet(&body, &secrets)
            ),
            source: None,
        };
        // A page below 400 is a proxy's or a cut answer; one in 4xx answers this request.
        let transient = server_side || status < 400;
        return Err(Failed { error, transient });
    };
    if let Some(refused) = error_from_object("oauth/token", &answer, Some(status)) {
        if refused.code == ErrorCode::InvalidGrant {
            return Err(Failed::terminal(Error::ReauthorizationNeeded {
                code: refused.code,
                description: refused.description,
            }));
        }
        let transient = server_side && refused.code != ErrorCode::InvalidClient;
        let error = Error::RefreshFailed {
            code: Some(refused.code.clone()),
            http_status: Some(status),
            reason: format!(
                "the OAuth server refused: {} ({})",
                refused.code, refused.description
            ),
            source: None,
        };
        return Err(Failed { error, transient });
    }
    Tokens::from_token_answer(&Value::Object(answer), tokens).map_err(|missing| {
        Failed::terminal(Error::RefreshFailed {
            code: None,
            http_status: Some(status),
            reason: format!("the OAuth server's answer has no `{missing}`"),
            source: None,
        })
    })
}
