//! The contract between typed requests (generated in `imconnector-api`) and the transport.

use std::borrow::Cow;

use serde::{Deserialize, Deserializer, Serialize};

/// Which credentials a REST method accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthKind {
    /// Only an OAuth application token (every `imconnector.*` method, `event.*`).
    OAuthOnly,
    /// An OAuth token or an incoming webhook.
    OAuthOrWebhook,
}

/// A typed REST method: its wire name, what it answers, and how it may be sent.
///
/// Implemented by the generated request types of `imconnector-api`; the transport's
/// `Client::call` is a thin generic shim over one non-generic body driven by these constants.
pub trait Method: Serialize + Send + Sync {
    /// The wire name, e.g. `imconnector.activate`.
    const NAME: &'static str;
    /// Which credentials the portal accepts for it.
    const AUTH: AuthKind;
    /// Whether replaying the call after an ambiguous failure is safe (nothing is applied twice).
    const IDEMPOTENT: bool;
    /// The decoded `result` of the response envelope, as the user reads it (no wire shapes).
    type Response: Send + 'static;

    /// Checks the parameters before anything is sent.
    ///
    /// # Errors
    /// [`InvalidRequest`] naming the offending parameter.
    fn validate(&self) -> Result<(), InvalidRequest> {
        Ok(())
    }

    /// Decodes the `result` of a successful (HTTP 200) answer: the one decoder of the
    /// method's answer, which also finds a failure the portal reports inside it (such as
    /// `imconnector.register`'s `{"result": {"result": false, "error": ...}}`).
    ///
    /// # Errors
    /// [`ResultError::Soft`] for such a failure, [`ResultError::Malformed`] when the `result`
    /// does not have the documented shape.
    fn decode_response<'de, D: Deserializer<'de>>(result: D)
        -> Result<Self::Response, ResultError>;
}

/// A request rejected locally, before it was sent: names the parameter and says why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid parameter `{parameter}`: {reason}")]
pub struct InvalidRequest {
    /// The parameter's wire name, with a path for nested ones (`MESSAGES[0].user.id`).
    pub parameter: Cow<'static, str>,
    /// What is wrong with it.
    pub reason: String,
}

impl InvalidRequest {
    /// Creates the error for `parameter`.
    pub fn new(parameter: impl Into<Cow<'static, str>>, reason: impl Into<String>) -> Self {
        Self {
            parameter: parameter.into(),
            reason: reason.into(),
        }
    }
}

/// An error code and description found inside a 200 `result`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoftError {
    /// The portal's error code, e.g. `NAME_REQUIRED`.
    pub code: String,
    /// The portal's (possibly localised) description.
    pub description: String,
}

/// Why the `result` of a successful answer gave no response.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResultError {
    /// The portal reported a failure inside the `result` (an HTTP 200 answer).
    Soft(SoftError),
    /// The `result` does not have the documented shape; the reason says what did not fit.
    Malformed(String),
}

impl ResultError {
    /// [`ResultError::Malformed`] with the text of a decoding error.
    pub fn malformed(error: impl std::fmt::Display) -> Self {
        Self::Malformed(error.to_string())
    }
}

/// [`Method::decode_response`] for a response type whose own `Deserialize` reads the answer
/// (no soft errors): for hand-written methods.
///
/// # Errors
/// [`ResultError::Malformed`] with the deserializer's message.
pub fn decode_with_serde<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    result: D,
) -> Result<T, ResultError> {
    T::deserialize(result).map_err(ResultError::malformed)
}
