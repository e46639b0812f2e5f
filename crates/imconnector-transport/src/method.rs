//! The contract between typed requests (generated in `imconnector-api`) and the transport.

use std::borrow::Cow;

use serde::{de::DeserializeOwned, Serialize};

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
    /// The decoded `result` of the response envelope.
    type Response: DeserializeOwned + Send + 'static;

    /// Checks the parameters before anything is sent.
    ///
    /// # Errors
    /// [`InvalidRequest`] naming the offending parameter.
    fn validate(&self) -> Result<(), InvalidRequest> {
        Ok(())
    }

    /// A failure the portal reports inside a successful (HTTP 200) `result`, such as
    /// `imconnector.register`'s `{"result": {"result": false, "error": ...}}`.
    fn soft_error(_response: &Self::Response) -> Option<SoftError> {
        None
    }
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
