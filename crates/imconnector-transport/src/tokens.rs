//! OAuth application credentials and the token pair a portal issues to them.

use std::{
    fmt,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use subtle::ConstantTimeEq;

/// A Bitrix24 application's OAuth credentials (from the developer's application page).
#[derive(Clone)]
pub struct OAuthApp {
    /// The application's client id (`app.xxxxxxxx.yyyyyyyy` or `local.…`); not secret.
    pub client_id: String,
    /// The application's client secret.
    pub client_secret: SecretString,
}

impl OAuthApp {
    /// Creates the credentials.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: SecretString::from(client_secret.into()),
        }
    }
}

impl fmt::Debug for OAuthApp {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("OAuthApp")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .finish()
    }
}

/// An access/refresh token pair for one portal, with what the OAuth server said about it.
///
/// The refresh token rotates on every refresh, so the latest pair must be stored (see
/// [`TokenStore`](crate::TokenStore)). Built with [`Tokens::new`] and the `with_*` setters.
#[derive(Clone)]
#[non_exhaustive]
pub struct Tokens {
    /// The access token (lives one hour).
    pub access_token: SecretString,
    /// The refresh token (lives 180 days; replaced on every refresh).
    pub refresh_token: SecretString,
    /// When the access token expires, if known.
    pub expires_at: Option<SystemTime>,
    /// When the OAuth server issued this pair, by its clock when its answer says (`expires`
    /// less `expires_in`), else the client's; set for every pair obtained from the server. The
    /// refresh token dies 180 days after, unless the pair is refreshed first (see
    /// [`KeepAlive`](crate::portals::KeepAlive)).
    pub issued_at: Option<SystemTime>,
    /// The portal's REST base, e.g. `https://example.bitrix24.com/rest/`.
    pub client_endpoint: Option<String>,
    /// The OAuth server's REST base (`https://oauth.bitrix.info/rest/`).
    pub server_endpoint: Option<String>,
    /// The `domain` field of the token answer (the OAuth server's, not the portal's).
    pub domain: Option<String>,
    /// The portal's id: the key to tell portals apart.
    pub member_id: Option<String>,
    /// Granted scopes, comma-separated.
    pub scope: Option<String>,
    /// The user the tokens belong to.
    pub user_id: Option<String>,
    /// The application's status on the portal (`L`, `F`, `D`, `T`, `P`).
    pub status: Option<String>,
}

impl Tokens {
    /// A token pair with nothing else known.
    pub fn new(access_token: impl Into<String>, refresh_token: impl Into<String>) -> Self {
        Self {
            access_token: SecretString::from(access_token.into()),
            refresh_token: SecretString::from(refresh_token.into()),
            expires_at: None,
            issued_at: None,
            client_endpoint: None,
            server_endpoint: None,
            domain: None,
            member_id: None,
            scope: None,
            user_id: None,
            status: None,
        }
    }

    /// Sets when the access token expires.
    #[must_use]
    pub fn with_expires_at(mut self, expires_at: SystemTime) -> Self {
        self.expires_at = Some(expires_at);
        self
    }

    /// Sets when the OAuth server issued the pair.
    #[must_use]
    pub fn with_issued_at(mut self, issued_at: SystemTime) -> Self {
        self.issued_at = Some(issued_at);
        self
    }

    /// Sets the expiry to `lifetime` from now (the `expires_in` / `AUTH_EXPIRES` fields).
    #[must_use]
    pub fn with_expires_in(self, lifetime: Duration) -> Self {
        self.with_expires_at(SystemTime::now() + lifetime)
    }

    /// Sets the portal's REST base (`client_endpoint`).
    #[must_use]
    pub fn with_client_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.client_endpoint = Some(endpoint.into());
        self
    }

    /// Sets the portal id (`member_id`).
    #[must_use]
    pub fn with_member_id(mut self, member_id: impl Into<String>) -> Self {
        self.member_id = Some(member_id.into());
        self
    }

    /// Sets the granted scopes.
    #[must_use]
    pub fn with_scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// Sets the user id the tokens belong to.
    #[must_use]
    pub fn with_user_id(mut self, user_id: impl Into<String>) -> Self {
        self.user_id = Some(user_id.into());
        self
    }

    /// Whether the access token is known to expire within `margin` from now.
    pub fn expires_within(&self, margin: Duration) -> bool {
        self.expires_at
            .is_some_and(|expires_at| SystemTime::now() + margin >= expires_at)
    }

    /// Compares the access tokens of two pairs in constant time.
    pub fn same_access_token(&self, other: &Tokens) -> bool {
        secrets_equal(&self.access_token, &other.access_token)
    }

    /// Builds the new pair from an OAuth server answer, keeping what the answer leaves out from
    /// `previous`. Returns the name of a missing field on failure.
    pub(crate) fn from_token_answer(answer: &Value, previous: &Tokens) -> Result<Tokens, String> {
        let text = |key: &str| -> Option<String> {
            match answer.get(key)? {
                Value::String(text) if !text.is_empty() => Some(text.clone()),
                Value::Number(number) => Some(number.to_string()),
                _ => None,
            }
        };
        let number = |key: &str| -> Option<u64> { text(key)?.parse().ok() };
        let access_token = text("access_token").ok_or("access_token")?;
        let refresh_token = text("refresh_token").ok_or("refresh_token")?;
        let expires_at = number("expires")
            .map(|unix| UNIX_EPOCH + Duration::from_secs(unix))
            .or_else(|| {
                number("expires_in").map(|secs| SystemTime::now() + Duration::from_secs(secs))
            });
        // Dated by the server's clock when it says both (`expires` less `expires_in`): its
        // clock is the one the refresh token's 180 days run on.
        let issued_at = number("expires")
            .zip(number("expires_in"))
            .and_then(|(expires, lifetime)| expires.checked_sub(lifetime))
            .map_or_else(SystemTime::now, |unix| {
                UNIX_EPOCH + Duration::from_secs(unix)
            });
        Ok(Tokens {
            access_token: SecretString::from(access_token),
            refresh_token: SecretString::from(refresh_token),
            expires_at,
            issued_at: Some(issued_at),
            client_endpoint: text("client_endpoint").or_else(|| previous.client_endpoint.clone()),
            server_endpoint: text("server_endpoint").or_else(|| previous.server_endpoint.clone()),
            domain: text("domain").or_else(|| previous.domain.clone()),
            member_id: text("member_id").or_else(|| previous.member_id.clone()),
            scope: text("scope").or_else(|| previous.scope.clone()),
            user_id: text("user_id").or_else(|| previous.user_id.clone()),
            status: text("status").or_else(|| previous.status.clone()),
        })
    }
}

impl fmt::Debug for Tokens {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Tokens")
            .field("access_token", &"[redacted]")
            .field("refresh_token", &"[redacted]")
            .field("expires_at", &self.expires_at.map(unix_seconds))
            .field("issued_at", &self.issued_at.map(unix_seconds))
            .field("client_endpoint", &self.client_endpoint)
            .field("member_id", &self.member_id)
            .field("scope", &self.scope)
            .field("user_id", &self.user_id)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// Whether two secrets (tokens, states, codes) are equal, in constant time: the time taken does
/// not depend on where they differ, only on their lengths (a length is not secret). Every
/// comparison of secrets in the client crates goes through here.
pub fn secrets_match(left: &str, right: &str) -> bool {
    left.as_bytes().ct_eq(right.as_bytes()).into()
}

/// [`secrets_match`] of two stored secrets.
pub(crate) fn secrets_equal(left: &SecretString, right: &SecretString) -> bool {
    secrets_match(left.expose_secret(), right.expose_secret())
}

fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// The persisted form of [`Tokens`] (the file store's JSON). Secrets are exposed only here,
/// on their way to the file.
#[derive(Serialize, Deserialize)]
pub(crate) struct TokenRecord {
    access_token: String,
    refresh_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    issued_at: Option<u64>,
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
            expires_at: tokens.expires_at.map(unix_seconds),
            issued_at: tokens.issued_at.map(unix_seconds),
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
        Self {
            access_token: SecretString::from(record.access_token),
            refresh_token: SecretString::from(record.refresh_token),
            expires_at: record
                .expires_at
                .map(|unix| UNIX_EPOCH + Duration::from_secs(unix)),
            issued_at: record
                .issued_at
                .map(|unix| UNIX_EPOCH + Duration::from_secs(unix)),
            client_endpoint: record.client_endpoint,
            server_endpoint: record.server_endpoint,
            domain: record.domain,
            member_id: record.member_id,
            scope: record.scope,
            user_id: record.user_id,
            status: record.status,
        }
    }
}

impl Tokens {
    /// The pair as JSON: the form [`FileTokenStore`](crate::FileTokenStore) writes and shared
    /// stores (such as `imconnector-redis`) keep. The text holds both tokens in the clear, so it
    /// comes back as a secret.
    pub fn to_json(&self) -> SecretString {
        // Serialising strings and numbers cannot fail.
        SecretString::from(serde_json::to_string(&TokenRecord::from(self)).unwrap_or_default())
    }

    /// Reads a pair written by [`Tokens::to_json`].
    ///
    /// # Errors
    /// [`TokenStoreError`](crate::TokenStoreError) naming the position of the fault, never the
    /// text (it may hold a token).
    pub fn from_json(text: &str) -> Result<Tokens, crate::TokenStoreError> {
        serde_json::from_str::<TokenRecord>(text)
            .map(Tokens::from)
            .map_err(|error| {
                crate::TokenStoreError::new(format!(
                    "not a token record (line {}, column {})",
                    error.line(),
                    error.column()
                ))
            })
    }
}

// No Debug on the record: it holds exposed secrets.
