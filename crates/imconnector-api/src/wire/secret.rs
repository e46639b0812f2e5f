//! Tokens received from the portal (`application_token`, access and refresh tokens): the
//! transport's one secret type, [`SecretString`], decoded from the wire and compared in
//! constant time.

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::decode::WireDecode;

impl WireDecode for SecretString {
    fn from_wire(value: Value) -> Result<Self, String> {
        // Never echo the value in the error: it is a token.
        match value {
            Value::String(text) => Ok(Self::from(text)),
            Value::Number(number) => Ok(Self::from(number.to_string())),
            _ => Err("expected a token string".to_owned()),
        }
    }
}

/// Whether two tokens are equal, compared in constant time (the `PartialEq` of generated types
/// that hold a token; `SecretString` has none of its own).
pub fn secrets_equal(left: &SecretString, right: &SecretString) -> bool {
    imconnector_transport::secrets_match(left.expose_secret(), right.expose_secret())
}

/// [`secrets_equal`] for optional tokens: two absent tokens are equal.
pub fn optional_secrets_equal(left: &Option<SecretString>, right: &Option<SecretString>) -> bool {
    match (left, right) {
        (Some(left), Some(right)) => secrets_equal(left, right),
        (None, None) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decoded_tokens_compare_exactly_and_never_show() {
        let token = SecretString::from_wire(json!("831c76b092f9f135d9b6b36c3a720757")).unwrap();
        let shown = format!("{token:?} {:?}", Some(token.clone()));
        assert!(!shown.contains("831c"), "{shown}");
        let same = SecretString::from("831c76b092f9f135d9b6b36c3a720757".to_owned());
        let shorter = SecretString::from("831c76b092f9f135d9b6b36c3a72075".to_owned());
        assert!(secrets_equal(&token, &same));
        assert!(!secrets_equal(&token, &shorter));
        assert!(optional_secrets_equal(&None, &None));
        assert!(!optional_secrets_equal(&Some(token), &None));
        let number = SecretString::from_wire(json!(42)).unwrap();
        assert_eq!(number.expose_secret(), "42");
    }

    #[test]
    fn a_malformed_token_error_does_not_echo_the_value() {
        let error = SecretString::from_wire(json!({"secret": "abc123"})).unwrap_err();
        assert!(!error.contains("abc123"));
    }
}
