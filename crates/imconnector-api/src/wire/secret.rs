//! Tokens received from the portal (`application_token`, access and refresh tokens).

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{de::Error as _, Deserialize, Deserializer};
use serde_json::Value;

use super::decode::WireDecode;

/// A token: redacted in `Debug`, never serialised, compared in constant time.
///
/// ```
/// # use imconnector_api::wire::Secret;
/// let token = Secret::new("831c76b0");
/// assert!(token.matches("831c76b0"));
/// assert!(!token.matches("831c76b1"));
/// assert_eq!(format!("{token:?}"), "Secret([REDACTED])");
/// ```
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    /// Wraps a token.
    pub fn new(token: impl Into<String>) -> Self {
        Self(SecretString::from(token.into()))
    }

    /// Whether the token equals `expected`, compared in constant time (the time taken does
    /// not depend on where the two differ; only on their lengths). Use it to check an event's
    /// `application_token` against the one saved at install.
    pub fn matches(&self, expected: &str) -> bool {
        imconnector_transport::secrets_match(self.0.expose_secret(), expected)
    }

    /// The token itself, to send it on or store it. Keep it out of logs.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

impl From<String> for Secret {
    fn from(token: String) -> Self {
        Self::new(token)
    }
}

impl WireDecode for Secret {
    fn from_wire(value: Value) -> Result<Self, String> {
        // Never echo the value in the error: it is a token.
        match value {
            Value::String(text) => Ok(Self::new(text)),
            Value::Number(number) => Ok(Self::new(number.to_string())),
            _ => Err("expected a token string".to_owned()),
        }
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::from_wire(Value::deserialize(deserializer)?).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn debug_never_shows_the_token_and_comparison_is_exact() {
        let token: Secret =
            serde_json::from_value(json!("831c76b092f9f135d9b6b36c3a720757")).unwrap();
        let shown = format!("{token:?} {:?}", Some(token.clone()));
        assert!(!shown.contains("831c"), "{shown}");
        assert!(token.matches("831c76b092f9f135d9b6b36c3a720757"));
        assert!(!token.matches("831c76b092f9f135d9b6b36c3a72075"));
        assert!(!token.matches(""));
        assert_eq!(token.expose(), "831c76b092f9f135d9b6b36c3a720757");
    }

    #[test]
    fn a_malformed_token_error_does_not_echo_the_value() {
        let error = serde_json::from_value::<Secret>(json!({"secret": "abc123"})).unwrap_err();
        assert!(!error.to_string().contains("abc123"));
    }
}
