//! The portal's own error answer, as a type: kept apart from [`Error`](crate::Error) so the
//! envelope decoding below the client can build it without knowing the client's errors.

use crate::code::ErrorCode;

/// An error answer from the portal: the `error`/`error_description` envelope (any HTTP status),
/// a batch command's `result_error` entry, or a soft error found inside a 200 `result`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{method}` failed with {code}: {description}")]
#[non_exhaustive]
pub struct ApiError {
    /// The REST method that failed.
    pub method: String,
    /// The portal's error code; classify by this, not by the HTTP status.
    pub code: ErrorCode,
    /// The portal's description (human text, possibly localised, not meant for end users).
    pub description: String,
    /// The HTTP status of the answer; `None` inside a batch, where commands have none.
    pub http_status: Option<u16>,
    /// The offending parameter, when the portal names it (`ERROR_ARGUMENT`).
    pub argument: Option<String>,
}

impl ApiError {
    /// Creates an API error; mostly useful to tests and to code that maps soft errors.
    pub fn new(
        method: impl Into<String>,
        code: impl Into<ErrorCode>,
        description: impl Into<String>,
    ) -> Self {
        Self {
            method: method.into(),
            code: code.into(),
            description: description.into(),
            http_status: None,
            argument: None,
        }
    }
}
