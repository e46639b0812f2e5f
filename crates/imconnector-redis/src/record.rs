//! The JSON form of a token pair in Redis: the transport's own persisted form
//! ([`Tokens::to_json`]), so a pair moves between a file store and Redis unchanged.

use std::time::SystemTime;

use imconnector_transport::secrecy::SecretString;
use imconnector_transport::Tokens;

/// The pair as the JSON text stored in Redis (the transport's persisted form).
pub(crate) fn encode(tokens: &Tokens) -> SecretString {
    tokens.to_json()
}

/// The pair from its stored JSON text; the error names the position, never the content.
pub(crate) fn decode(text: &str) -> Result<Tokens, String> {
    Tokens::from_json(text).map_err(|error| error.to_string())
}

/// Whether `expires_at` is in the past.
pub(crate) fn is_expired(tokens: &Tokens) -> bool {
    tokens
        .expires_at
        .is_some_and(|expires_at| expires_at <= SystemTime::now())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use imconnector_transport::secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn every_field_round_trips() {
        let mut tokens = Tokens::new("access-1", "refresh-1")
            .with_expires_at(UNIX_EPOCH + Duration::from_secs(1_900_000_000))
            .with_client_endpoint("https://example.bitrix24.com/rest/")
            .with_member_id("m1")
            .with_scope("imconnector")
            .with_user_id("7");
        tokens.domain = Some("oauth.bitrix.info".to_owned());
        tokens.server_endpoint = Some("https://oauth.bitrix.info/rest/".to_owned());
        tokens.status = Some("L".to_owned());
        let back = decode(encode(&tokens).expose_secret()).unwrap();
        assert!(back.same_access_token(&tokens));
        assert_eq!(back.refresh_token.expose_secret(), "refresh-1");
        assert_eq!(back.expires_at, tokens.expires_at);
        assert_eq!(back.client_endpoint, tokens.client_endpoint);
        assert_eq!(back.server_endpoint, tokens.server_endpoint);
        assert_eq!(back.domain, tokens.domain);
        assert_eq!(back.member_id, tokens.member_id);
        assert_eq!(back.scope, tokens.scope);
        assert_eq!(back.user_id, tokens.user_id);
        assert_eq!(back.status, tokens.status);
    }

    #[test]
    fn a_malformed_record_is_described_without_its_content() {
        let error = decode(r#"{"access_token":"s3cr3t-value","refresh_token":5"#).unwrap_err();
        assert!(!error.contains("s3cr3t"), "{error}");
        assert!(error.contains("line 1"), "{error}");
    }
}
