//! The client's refresh: the token endpoint's `refresh_token` grant
//! ([`OAuthServer::exchange`]), retried when it failed transiently.
//!
//! A reset connection, a timeout or a proxy's 5xx page says nothing about the refresh token, so
//! the exchange is tried again with backoff, within the client's [`RetryPolicy`] (its attempts,
//! and the smaller of its `max_elapsed` and `deadline`, counted from the first exchange). If the
//! OAuth server did rotate the pair before the connection broke, the retry is answered
//! `invalid_grant`, which is handled like any other (the token store is read again). What is
//! transient is decided once, by [`TokenEndpointError::is_transient`].

use std::time::Instant;

use crate::{
    code::ErrorCode,
    error::Error,
    oauth_server::{Grant, OAuthServer, TokenEndpointError},
    policy::RetryPolicy,
    tokens::Tokens,
};

/// Exchanges the refresh token of `tokens` at `server`, retrying transient failures.
pub(crate) async fn refresh(
    server: &OAuthServer,
    policy: RetryPolicy,
    tokens: &Tokens,
) -> Result<Tokens, Error> {
    let budget = policy.max_elapsed.min(policy.deadline);
    let started = Instant::now();
    let mut attempt: u32 = 0;
    loop {
        attempt += 1;
        let failed = match server
            .exchange_keeping(Grant::RefreshToken(&tokens.refresh_token), tokens)
            .await
        {
            Ok(fresh) => return Ok(fresh),
            Err(failed) => failed,
        };
        if !failed.is_transient() {
            return Err(client_error(failed, attempt));
        }
        let wait = policy.backoff(attempt);
        if attempt >= policy.max_attempts || started.elapsed() + wait > budget {
            return Err(client_error(failed, attempt));
        }
        tracing::warn!(attempt, wait_ms = wait.as_millis(), error = %failed, "token refresh failed transiently; retrying");
        tokio::time::sleep(wait).await;
    }
}

/// The client's error for a failed refresh: `invalid_grant` needs a human, anything else is a
/// failed refresh that says how many exchanges were tried.
fn client_error(error: TokenEndpointError, attempts: u32) -> Error {
    if let TokenEndpointError::Refused {
        code: ErrorCode::InvalidGrant,
        description,
        ..
    } = error
    {
        return Error::ReauthorizationNeeded {
            code: ErrorCode::InvalidGrant,
            description,
        };
    }
    let mut reason = error.to_string();
    if attempts > 1 {
        reason.push_str(&format!(" (gave up after {attempts} attempts)"));
    }
    Error::RefreshFailed {
        code: error.code().cloned(),
        http_status: error.http_status(),
        reason,
        source: Some(Box::new(error)),
    }
}
