//! The one error type of the transport.

use crate::{
    api_error::ApiError, batch::response::BatchResponse, code::ErrorCode, method::InvalidRequest,
    store::TokenStoreError,
};

/// A boxed error cause, as kept in [`Error::Transport`] and friends.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong when calling the portal.
///
/// The variants separate what a caller must handle differently: a request refused locally
/// ([`Error::InvalidRequest`], [`Error::WrongAuthKind`]), one that never got an answer
/// ([`Error::Transport`], [`Error::Timeout`]), one the portal refused ([`Error::Api`]), an answer
/// that could not be read ([`Error::Decode`]), credentials that need a human
/// ([`Error::ReauthorizationNeeded`]) and, most important, a request that **may have been
/// applied** ([`Error::OutcomeUnknown`]), which the client never replays on its own.
///
/// No variant's `Debug` or `Display` contains a token, a client secret or a webhook code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A parameter failed local validation; nothing was sent.
    #[error(transparent)]
    InvalidRequest(#[from] InvalidRequest),
    /// The method accepts only an OAuth application token but the client uses an incoming
    /// webhook; nothing was sent.
    #[error(
        "`{method}` accepts only an OAuth application token; this client uses an incoming webhook"
    )]
    WrongAuthKind {
        /// The method that was refused.
        method: String,
    },
    /// The client configuration is unusable (missing auth, malformed URL, ...).
    #[error("invalid client configuration: {reason}")]
    Config {
        /// What is wrong.
        reason: String,
    },
    /// No answer was received, and either nothing was sent or the method is safe to repeat
    /// (so retrying later is safe).
    #[error("transport failure calling `{method}`: {reason}")]
    Transport {
        /// The method being called.
        method: String,
        /// A short description of the failure.
        reason: String,
        /// The underlying failure (never carries the request URL).
        #[source]
        source: Option<BoxError>,
    },
    /// No answer arrived in time, and either nothing was sent or the method is safe to repeat.
    #[error("`{method}` timed out")]
    Timeout {
        /// The method being called.
        method: String,
    },
    /// The portal refused the request with an error code.
    #[error(transparent)]
    Api(ApiError),
    /// The portal answered something that is not the expected envelope (an HTML error page,
    /// truncated JSON, an unexpected shape).
    #[error("could not decode the answer to `{method}` (HTTP {http_status}): {reason}; body starts with: {snippet:?}")]
    Decode {
        /// The method being called.
        method: String,
        /// The HTTP status of the answer.
        http_status: u16,
        /// Why decoding failed.
        reason: String,
        /// The first characters of the body, with known secrets masked.
        snippet: String,
    },
    /// The answer was longer than the client's cap
    /// ([`ClientBuilder::max_response_size`](crate::ClientBuilder::max_response_size)); reading
    /// stopped there. For a method that is not idempotent it comes wrapped in
    /// [`Error::OutcomeUnknown`]: the portal answered, so it may have applied the call.
    #[error("the answer to `{method}` (HTTP {http_status}) is longer than the {limit}-byte cap; not read further")]
    ResponseTooLarge {
        /// The method being called.
        method: String,
        /// The HTTP status of the answer.
        http_status: u16,
        /// The cap, in bytes.
        limit: usize,
    },
    /// The portal redirected the request to another host (or from https to http), which the
    /// client does not follow: the request carries the access token or the webhook's code. A
    /// "portal moved" redirect within the same host is followed. If the portal really moved,
    /// give the client its new address. Nothing was sent to the redirect's target.
    #[error("`{method}`: the portal answered HTTP {http_status} redirecting to {location}; not followed, the request carries credentials")]
    Redirected {
        /// The method being called.
        method: String,
        /// The HTTP status of the redirect.
        http_status: u16,
        /// Where it pointed: scheme, host and port only (the path may be anything).
        location: String,
    },
    /// The portal (or a proxy in front of it) answered an HTML page instead of the JSON
    /// envelope: a maintenance page, a proxy's error page, a PHP error. For a method that is not
    /// idempotent, a 5xx page comes wrapped in [`Error::OutcomeUnknown`].
    #[error("the portal answered `{method}` with an HTML page (HTTP {http_status}), not JSON: {snippet:?}")]
    HtmlPage {
        /// The method being called.
        method: String,
        /// The HTTP status of the answer.
        http_status: u16,
        /// The start of the page's text, tags removed, with known secrets masked.
        snippet: String,
    },
    /// The OAuth server refused the refresh token (`invalid_grant`): the user or administrator
    /// must install or authorise the application again.
    #[error("re-authorisation needed: the OAuth server answered {code} ({description})")]
    ReauthorizationNeeded {
        /// The OAuth server's code, normally [`ErrorCode::InvalidGrant`].
        code: ErrorCode,
        /// The OAuth server's description.
        description: String,
    },
    /// Refreshing the access token failed for another reason (bad client secret, OAuth server
    /// unreachable, malformed answer).
    #[error("token refresh failed: {reason}")]
    RefreshFailed {
        /// The OAuth server's error code, if it sent one.
        code: Option<ErrorCode>,
        /// The HTTP status of the OAuth server's answer, if there was one.
        http_status: Option<u16>,
        /// What went wrong.
        reason: String,
        /// The underlying failure.
        #[source]
        source: Option<BoxError>,
    },
    /// The token store failed to load or save tokens.
    #[error(transparent)]
    TokenStore(#[from] TokenStoreError),
    /// The request may have reached the portal and been applied, but no answer was read. The
    /// client does not replay non-idempotent methods; check the portal's state before retrying.
    #[error("outcome of `{method}` (request {request_id}) is unknown, it may have been applied: {source}")]
    OutcomeUnknown {
        /// The method being called.
        method: String,
        /// The id of the logical call (also in the `X-Request-Id` header and the tracing span).
        request_id: String,
        /// What happened (a transport failure, a timeout, an unreadable 5xx answer).
        #[source]
        source: Box<Error>,
    },
    /// A batch command was not executed (an earlier command failed under `halt`).
    #[error("batch command `{key}` (`{method}`) was not executed")]
    NotExecuted {
        /// The command's method.
        method: String,
        /// The command's key in the batch.
        key: String,
    },
    /// A chunk of a batch longer than 50 commands failed after earlier chunks were applied; the
    /// answers received so far are in `partial`.
    #[error("batch stopped after a chunk failed: {source}")]
    BatchIncomplete {
        /// Every command: those answered before the failure, those of the failed chunk as
        /// [`BatchOutcome::Unknown`](crate::BatchOutcome::Unknown) when its answer was lost
        /// (else not executed), and those of later chunks as not executed.
        partial: Box<BatchResponse>,
        /// Why the chunk failed.
        #[source]
        source: Box<Error>,
    },
}

impl From<ApiError> for Error {
    fn from(error: ApiError) -> Self {
        Error::Api(error)
    }
}

impl Error {
    /// The portal's or OAuth server's error code, when the error carries one.
    pub fn code(&self) -> Option<&ErrorCode> {
        match self {
            Error::Api(api) => Some(&api.code),
            Error::ReauthorizationNeeded { code, .. } => Some(code),
            Error::RefreshFailed { code, .. } => code.as_ref(),
            _ => None,
        }
    }

    /// The API error, when the portal refused the request.
    pub fn as_api(&self) -> Option<&ApiError> {
        match self {
            Error::Api(api) => Some(api),
            _ => None,
        }
    }

    /// Whether calling again later may succeed **and** cannot apply anything twice: a request
    /// rejected before any work (rate or operating-time limit), or a transport failure or timeout
    /// the client already judged safe (nothing sent, or an idempotent method).
    /// [`Error::OutcomeUnknown`] is never retryable.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Api(api) => {
                api.code.is_rejected_before_work() || api.code == ErrorCode::ConnectionError
            }
            Error::Transport { .. } | Error::Timeout { .. } => true,
            _ => false,
        }
    }

    /// Whether the request may have been applied although no answer was read.
    pub fn is_outcome_unknown(&self) -> bool {
        matches!(self, Error::OutcomeUnknown { .. })
    }

    pub(crate) fn config(reason: impl Into<String>) -> Self {
        Error::Config {
            reason: reason.into(),
        }
    }

    pub(crate) fn transport(method: &str, source: reqwest::Error) -> Self {
        // `without_url`: a webhook URL carries its secret code in the path.
        let source = source.without_url();
        Error::Transport {
            method: method.to_owned(),
            reason: describe_reqwest(&source),
            source: Some(Box::new(source)),
        }
    }
}

/// A one-line description of a reqwest failure, including its innermost cause (reqwest's own
/// `Display` only says "error sending request").
fn describe_reqwest(error: &reqwest::Error) -> String {
    let mut reason = error.to_string();
    let mut cause = std::error::Error::source(error);
    let mut innermost = None;
    while let Some(next) = cause {
        innermost = Some(next.to_string());
        cause = next.source();
    }
    if let Some(innermost) = innermost {
        reason.push_str(": ");
        reason.push_str(&innermost);
    }
    reason
}

// The client is shared across tasks, so its errors must cross threads.
const _: fn() = || {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Error>();
    send_sync::<ApiError>();
};
