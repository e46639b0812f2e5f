//! Test-only typed methods (the generated ones live in imconnector-api, which depends on us).

use imconnector_transport::{
    decode_with_serde, AuthKind, InvalidRequest, Method, ResultError, SoftError,
};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{json, Value};

/// `imconnector.status`: idempotent, OAuth only.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    #[serde(rename = "CONNECTOR")]
    pub connector: String,
    #[serde(rename = "LINE")]
    pub line: i64,
}

impl Status {
    pub fn new(connector: &str, line: i64) -> Self {
        Self {
            connector: connector.to_owned(),
            line,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct StatusResult {
    #[serde(rename = "LINE")]
    pub line: i64,
    #[serde(rename = "CONNECTOR")]
    pub connector: String,
    #[serde(rename = "STATUS")]
    pub status: bool,
}

impl Method for Status {
    const NAME: &'static str = "imconnector.status";
    const AUTH: AuthKind = AuthKind::OAuthOnly;
    const IDEMPOTENT: bool = true;
    type Response = StatusResult;

    fn validate(&self) -> Result<(), InvalidRequest> {
        if self.connector.is_empty() {
            return Err(InvalidRequest::new("CONNECTOR", "must not be empty"));
        }
        Ok(())
    }

    fn decode_response<'de, D: Deserializer<'de>>(
        result: D,
    ) -> Result<Self::Response, ResultError> {
        decode_with_serde(result)
    }
}

/// `imconnector.send.messages`: not idempotent, OAuth only.
#[derive(Debug, Clone, Serialize)]
pub struct SendMessages {
    #[serde(rename = "CONNECTOR")]
    pub connector: String,
    #[serde(rename = "LINE")]
    pub line: i64,
    #[serde(rename = "MESSAGES")]
    pub messages: Vec<Value>,
}

impl SendMessages {
    pub fn one(text: &str) -> Self {
        Self {
            connector: "acme_chat".into(),
            line: 107,
            messages: vec![
                json!({"user": {"id": "u1"}, "message": {"id": "m1", "text": text}, "chat": {"id": "c1"}}),
            ],
        }
    }
}

impl Method for SendMessages {
    const NAME: &'static str = "imconnector.send.messages";
    const AUTH: AuthKind = AuthKind::OAuthOnly;
    const IDEMPOTENT: bool = false;
    type Response = Value;

    fn decode_response<'de, D: Deserializer<'de>>(
        result: D,
    ) -> Result<Self::Response, ResultError> {
        decode_with_serde(result)
    }
}

/// `imconnector.register` with its nested-result soft error.
#[derive(Debug, Clone, Serialize)]
pub struct Register {
    #[serde(rename = "ID")]
    pub id: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RegisterResult {
    pub result: bool,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

impl Method for Register {
    const NAME: &'static str = "imconnector.register";
    const AUTH: AuthKind = AuthKind::OAuthOnly;
    const IDEMPOTENT: bool = true;
    type Response = RegisterResult;

    fn decode_response<'de, D: Deserializer<'de>>(
        result: D,
    ) -> Result<Self::Response, ResultError> {
        let response: RegisterResult = decode_with_serde(result)?;
        if response.result {
            return Ok(response);
        }
        Err(ResultError::Soft(SoftError {
            code: response.error.clone().unwrap_or_default(),
            description: response.error_description.clone().unwrap_or_default(),
        }))
    }
}

/// `profile`: idempotent, webhooks allowed.
#[derive(Debug, Clone, Serialize)]
pub struct Profile;

impl Method for Profile {
    const NAME: &'static str = "profile";
    const AUTH: AuthKind = AuthKind::OAuthOrWebhook;
    const IDEMPOTENT: bool = true;
    type Response = Value;

    fn decode_response<'de, D: Deserializer<'de>>(
        result: D,
    ) -> Result<Self::Response, ResultError> {
        decode_with_serde(result)
    }
}

/// A hand-written method whose name could escape the URL path.
#[derive(Debug, Clone, Serialize)]
pub struct BadName;

impl Method for BadName {
    const NAME: &'static str = "../admin";
    const AUTH: AuthKind = AuthKind::OAuthOrWebhook;
    const IDEMPOTENT: bool = true;
    type Response = Value;

    fn decode_response<'de, D: Deserializer<'de>>(
        result: D,
    ) -> Result<Self::Response, ResultError> {
        decode_with_serde(result)
    }
}
