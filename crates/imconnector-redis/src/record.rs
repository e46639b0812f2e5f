//! The JSON form of a token pair in Redis. Secrets are exposed only here, on their way in and
//! out of Redis; the record has no `Debug`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use imconnector_transport::secrecy::{ExposeSecret, SecretString};
use imconnector_transport::Tokens;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
pub(crate) struct TokenRecord {
    access_token: String,
    refresh_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    server_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    member_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<String>,
}

impl From<&Tokens> for TokenRecord {
    fn from(tokens: &Tokens) -> Self {
        Self {
            access_token: tokens.access_token.expose_secret().to_owned(),
            refresh_token: tokens.refresh_token.expose_secret().to_owned(),
            expires_at: tokens
                .expires_at
                .and_then(|at| at.duration_since(UNIX_EPOCH).ok())
                .map(|since| since.as_secs()),
            client_endpoint: tokens.client_endpoint.clone(),
            server_endpoint: tokens.server_endpoint.clone(),
            domain: tokens.domain.clone(),
            member_id: tokens.member_id.clone(),
            scope: tokens.scope.clone(),
            user_id: tokens.user_id.clone(),
            status: tokens.status.clone(),
        }
    }
}

impl From<TokenRecord> for Tokens {
    fn from(record: TokenRecord) -> Self {
        // `Tokens` is non-exhaustive: built through its constructor, then its public fields.
        let mut tokens = Tokens::new(record.access_token, record.refresh_token);
        tokens.expires_at = record
            .expires_at
            .map(|unix| UNIX_EPOCH + Duration::from_secs(unix));
        tokens.client_endpoint = record.client_endpoint;
        tokens.server_endpoint = record.server_endpoint;
        tokens.domain = record.domain;
        tokens.member_id = record.member_id;
        tokens.scope = record.scope;
        tokens.user_id = record.user_id;
        tokens.status = record.status;
        tokens
    }
}

/// The pair as the JSON text stored in Redis.
pub(crate) fn encode(tokens: &Tokens) -> SecretString {
    // Serialising strings and numbers cannot fail.
    SecretString::from(serde_json::to_string(&TokenRecord::from(tokens)).unwrap_or_default())
}

/// The pair from its stored JSON text; the error names the position, never the content.
pub(crate) fn decode(text: &str) -> Result<Tokens, String> {
    serde_json::from_str::<TokenRecord>(text)
        .map(Tokens::from)
        .map_err(|error| {
            format!(
                "not a token record (line {}, column {})",
                error.line(),
                error.column()
            )
        })
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
