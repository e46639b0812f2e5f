//! Obtaining tokens: the portal's authorize page, the `authorization_code` grant, and a refresh
//! outside a [`Client`](crate::Client) (to prove that tokens someone handed us are genuine).
//!
//! The code flow (reference app-install.md §5): send the browser to
//! [`OAuthServer::authorize_url`] with a fresh [`AuthorizationState`]; the portal redirects to
//! the app's redirect URL with `code`, `state`, `domain` and `member_id`; check the state with
//! [`AuthorizationState::matches`], then trade the code with [`OAuthServer::exchange_code`]
//! within [`AUTHORIZATION_CODE_LIFETIME`]. The client secret only ever goes to the OAuth
//! server, in a POST body, never in a URL.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use imconnector_transport::authorization::{AuthorizationState, OAuthServer};
//! use imconnector_transport::OAuthApp;
//!
//! let server = OAuthServer::new(OAuthApp::new("local.5c8bb1b0891cf2.87252039", "secret"))?;
//! let state = AuthorizationState::random();
//! let url = server.authorize_url("example.bitrix24.com", &state)?;
//! // ... redirect the browser to `url`; the portal comes back with ?code=…&state=… ...
//! # let (code, returned_state) = ("code", "state");
//! if state.matches(returned_state) {
//!     let tokens = server.exchange_code(code).await?;
//!     println!("portal {:?}", tokens.member_id);
//! }
//! # Ok(()) }
//! ```

use std::fmt;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use url::Url;

use crate::code::ErrorCode;
use crate::config::DEFAULT_OAUTH_SERVER;
use crate::envelope::{error_from_object, snippet};
use crate::tokens::{OAuthApp, Tokens};

/// How long an access token lives: one hour (reference app-install.md §5).
pub const ACCESS_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);
/// How long a refresh token lives: 180 days (reference app-install.md §5); each refresh
/// replaces it, so an app that refreshes at least twice a year never needs the code flow again.
pub const REFRESH_TOKEN_LIFETIME: Duration = Duration::from_secs(180 * 24 * 3600);
/// How long an authorization code can be exchanged: 30 seconds, once (reference §5).
pub const AUTHORIZATION_CODE_LIFETIME: Duration = Duration::from_secs(30);

/// Why the OAuth server gave no tokens. Never contains a token or the client secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthorizationError {
    /// A URL (the OAuth server's, or the portal's) is malformed.
    #[error("invalid URL for {what}: {reason}")]
    InvalidUrl {
        /// Which URL.
        what: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The OAuth server refused: `invalid_grant` (a used, expired or foreign code or refresh
    /// token), `invalid_client` (wrong keys, or the app is not installed), ...
    #[error("the OAuth server refused: {code} ({description})")]
    Refused {
        /// The server's `error`.
        code: ErrorCode,
        /// The server's `error_description`.
        description: String,
        /// The HTTP status.
        http_status: u16,
    },
    /// The OAuth server could not be reached or its answer could not be read.
    #[error("the OAuth server could not be reached: {0}")]
    Unreachable(#[source] reqwest::Error),
    /// The answer is not a token answer.
    #[error("the OAuth server's answer (HTTP {http_status}) is not a token answer: {reason}")]
    Malformed {
        /// The HTTP status.
        http_status: u16,
        /// What is wrong (secrets masked).
        reason: String,
    },
}

/// The opaque `state` of one authorization: random, kept by the app until the portal's
/// redirect comes back, then compared in constant time. `Debug` does not show it.
#[derive(Clone)]
pub struct AuthorizationState(SecretString);

impl AuthorizationState {
    /// 32 random bytes from the operating system's generator, as 64 hex digits.
    pub fn random() -> Self {
        let bytes: [u8; 32] = rand::random();
        let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
        Self(SecretString::from(hex))
    }

    /// A state kept elsewhere (e.g. in a session store) and read back.
    pub fn from_stored(state: impl Into<String>) -> Self {
        Self(SecretString::from(state.into()))
    }

    /// The value to put in the authorize URL or a cookie.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// Whether `returned` (the `state` of the redirect) is this state, in constant time.
    pub fn matches(&self, returned: &str) -> bool {
        let expected = self.0.expose_secret();
        !expected.is_empty() && crate::secrets_match(expected, returned)
    }
}

impl fmt::Debug for AuthorizationState {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("AuthorizationState([redacted])")
    }
}

/// The application's side of the OAuth server: authorize URLs, the code grant and refreshes.
#[derive(Clone)]
pub struct OAuthServer {
    app: OAuthApp,
    token_url: Url,
    http: reqwest::Client,
}

impl OAuthServer {
    /// For `app`, at [`DEFAULT_OAUTH_SERVER`].
    ///
    /// # Errors
    /// [`AuthorizationError::Unreachable`] when no HTTP client can be created (no TLS backend).
    pub fn new(app: OAuthApp) -> Result<Self, AuthorizationError> {
        let http = reqwest::Client::builder()
            // The token endpoint never redirects legitimately; following one could carry the
            // secret elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("imconnector-rs/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(AuthorizationError::Unreachable)?;
        Ok(Self {
            app,
            token_url: parse_url("the OAuth server", DEFAULT_OAUTH_SERVER)?,
            http,
        })
    }

    /// Uses the token endpoint `url` (`https://oauth.bitrix.info/oauth/token/`, an on-premise
    /// portal's, or an emulator's). Configure it yourself: never take it from a request, or
    /// whoever sends the request chooses who vouches for it.
    ///
    /// # Errors
    /// [`AuthorizationError::InvalidUrl`].
    pub fn token_url(mut self, url: &str) -> Result<Self, AuthorizationError> {
        self.token_url = parse_url("the OAuth server", url)?;
        Ok(self)
    }

    /// Uses this HTTP client (proxies, timeouts). Disable its redirects.
    #[must_use]
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = http;
        self
    }

    /// The application.
    pub fn app(&self) -> &OAuthApp {
        &self.app
    }

    /// The token endpoint in use.
    pub fn token_endpoint(&self) -> &Url {
        &self.token_url
    }

    /// `https://{portal}/oauth/authorize/?client_id=…&state=…`: where the browser starts the
    /// code flow. `portal` is a domain (`example.bitrix24.com`, HTTPS assumed) or a base URL
    /// with its scheme (`http://127.0.0.1:8080`). No `redirect_uri`: the portal uses the one
    /// in the app's settings.
    ///
    /// # Errors
    /// [`AuthorizationError::InvalidUrl`] for a malformed portal.
    pub fn authorize_url(
        &self,
        portal: &str,
        state: &AuthorizationState,
    ) -> Result<Url, AuthorizationError> {
        let portal = portal.trim().trim_end_matches('/');
        let base = if portal.contains("://") {
            portal.to_owned()
        } else {
            format!("https://{portal}")
        };
        let mut url = parse_url("the portal", &base)?;
        url.set_path("/oauth/authorize/");
        url.set_query(None);
        url.query_pairs_mut()
            .append_pair("client_id", &self.app.client_id)
            .append_pair("state", state.expose());
        Ok(url)
    }

    /// `grant_type=authorization_code`: the tokens for `code` (single use, valid
    /// [`AUTHORIZATION_CODE_LIFETIME`]).
    ///
    /// # Errors
    /// [`AuthorizationError::Refused`] (`invalid_grant` for a used or expired code), or the
    /// server could not be reached or answered nonsense.
    pub async fn exchange_code(&self, code: &str) -> Result<Tokens, AuthorizationError> {
        let code = SecretString::from(code.to_owned());
        self.grant("authorization_code", ("code", &code), &Tokens::new("", ""))
            .await
    }

    /// `grant_type=refresh_token`: a new pair for `refresh_token` (which dies by it). Used to
    /// prove that a refresh token someone sent was issued to this app: only the app's secret
    /// can refresh it, and the answer names the portal (`member_id`, `client_endpoint`).
    ///
    /// # Errors
    /// As [`exchange_code`](Self::exchange_code).
    pub async fn refresh(
        &self,
        refresh_token: &SecretString,
    ) -> Result<Tokens, AuthorizationError> {
        self.grant(
            "refresh_token",
            ("refresh_token", refresh_token),
            &Tokens::new("", ""),
        )
        .await
    }

    async fn grant(
        &self,
        grant_type: &str,
        (key, secret): (&str, &SecretString),
        previous: &Tokens,
    ) -> Result<Tokens, AuthorizationError> {
        let form = [
            ("grant_type", grant_type),
            ("client_id", self.app.client_id.as_str()),
            ("client_secret", self.app.client_secret.expose_secret()),
            (key, secret.expose_secret()),
        ];
        let response = self
            .http
            .post(self.token_url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&form)
            .send()
            .await
            .map_err(|error| AuthorizationError::Unreachable(error.without_url()))?;
        let http_status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|error| AuthorizationError::Unreachable(error.without_url()))?;
        let secrets = [&self.app.client_secret, secret];
        parse_token_answer(http_status, &body, &secrets, previous)
    }
}

impl fmt::Debug for OAuthServer {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("OAuthServer")
            .field("app", &self.app)
            .field("token_url", &self.token_url.as_str())
            .finish_non_exhaustive()
    }
}

fn parse_url(what: &'static str, text: &str) -> Result<Url, AuthorizationError> {
    match Url::parse(text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => Ok(url),
        Ok(_) => Err(AuthorizationError::InvalidUrl {
            what,
            reason: "not an http(s) URL with a host".to_owned(),
        }),
        Err(error) => Err(AuthorizationError::InvalidUrl {
            what,
            reason: error.to_string(),
        }),
    }
}

/// The token endpoint's answer: tokens, or its `{"error", "error_description"}`.
fn parse_token_answer(
    http_status: u16,
    body: &[u8],
    secrets: &[&SecretString],
    previous: &Tokens,
) -> Result<Tokens, AuthorizationError> {
    let Ok(Value::Object(answer)) = serde_json::from_slice::<Value>(body) else {
        return Err(AuthorizationError::Malformed {
            http_status,
            reason: format!("not a JSON object: {:?}", snippet(body, secrets)),
        });
    };
    if let Some(refused) = error_from_object("oauth/token", &answer, Some(http_status)) {
        return Err(AuthorizationError::Refused {
            code: refused.code,
            description: refused.description,
            http_status,
        });
    }
    Tokens::from_token_answer(&Value::Object(answer), previous).map_err(|missing| {
        AuthorizationError::Malformed {
            http_status,
            reason: format!("no `{missing}`"),
        }
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn server() -> OAuthServer {
        OAuthServer::new(OAuthApp::new("local.abc.123", "s3cret")).unwrap()
    }

    #[test]
    fn the_authorize_url_carries_client_id_and_state_only() {
        let state = AuthorizationState::from_stored("st&te");
        let url = server()
            .authorize_url("example.bitrix24.com/", &state)
            .unwrap();
        assert_eq!(
            url.as_str(),
            "https://example.bitrix24.com/oauth/authorize/?client_id=local.abc.123&state=st%26te"
        );
        let url = server()
            .authorize_url("http://127.0.0.1:8080", &state)
            .unwrap();
        assert!(url
            .as_str()
            .starts_with("http://127.0.0.1:8080/oauth/authorize/?"));
        assert!(!url.as_str().contains("s3cret"));
        assert!(server().authorize_url("http://[::1", &state).is_err());
    }

    #[test]
    fn states_are_random_compared_whole_and_never_shown() {
        let (one, two) = (AuthorizationState::random(), AuthorizationState::random());
        assert_eq!(one.expose().len(), 64);
        assert_ne!(one.expose(), two.expose());
        assert!(one.matches(one.expose()));
        assert!(!one.matches(two.expose()));
        assert!(!one.matches(&one.expose()[..63]));
        assert!(!AuthorizationState::from_stored("").matches(""));
        assert!(!format!("{one:?}").contains(one.expose()));
    }

    #[test]
    fn lifetimes_are_the_documented_ones() {
        assert_eq!(ACCESS_TOKEN_LIFETIME.as_secs(), 3600);
        assert_eq!(REFRESH_TOKEN_LIFETIME.as_secs() / 86_400, 180);
        assert_eq!(AUTHORIZATION_CODE_LIFETIME.as_secs(), 30);
    }

    #[test]
    fn answers_become_tokens_or_typed_refusals_without_secrets() {
        let previous = Tokens::new("", "");
        let ok = br#"{"access_token":"a1","refresh_token":"r1","expires_in":3600,"member_id":"m","client_endpoint":"https://p.example/rest/","domain":"oauth.bitrix.info"}"#;
        let tokens = parse_token_answer(200, ok, &[], &previous).unwrap();
        assert_eq!(tokens.member_id.as_deref(), Some("m"));
        assert_eq!(tokens.refresh_token.expose_secret(), "r1");
        assert!(tokens.expires_at.is_some());

        let refused = br#"{"error":"invalid_grant","error_description":"Invalid grant"}"#;
        let error = parse_token_answer(400, refused, &[], &previous).unwrap_err();
        assert!(
            matches!(
                &error,
                AuthorizationError::Refused {
                    code: ErrorCode::InvalidGrant,
                    http_status: 400,
                    ..
                }
            ),
            "{error:?}"
        );

        let secret = SecretString::from("leaked-secret-value".to_owned());
        let error = parse_token_answer(
            500,
            b"<html>leaked-secret-value</html>",
            &[&secret],
            &previous,
        )
        .unwrap_err();
        assert!(
            !error.to_string().contains("leaked-secret-value"),
            "{error}"
        );
        let error =
            parse_token_answer(200, br#"{"access_token":"a"}"#, &[], &previous).unwrap_err();
        assert!(error.to_string().contains("refresh_token"), "{error}");
    }
}
