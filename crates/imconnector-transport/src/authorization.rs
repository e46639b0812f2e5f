//! Obtaining tokens: the portal's authorize page and its `state`, here; the token endpoint
//! ([`OAuthServer`]: the `authorization_code` grant, and a refresh outside a
//! [`Client`](crate::Client), to prove that tokens someone handed us are genuine) is shared with
//! the client's own refresh and re-exported here.
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
use url::Url;

use crate::oauth_server::parse_url;
#[doc(no_inline)]
pub use crate::oauth_server::{Grant, OAuthServer, TokenEndpointError};

/// How long an access token lives: one hour (reference app-install.md §5).
pub const ACCESS_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);
/// How long a refresh token lives: 180 days (reference app-install.md §5); each refresh
/// replaces it, so an app that refreshes at least twice a year never needs the code flow again.
pub const REFRESH_TOKEN_LIFETIME: Duration = Duration::from_secs(180 * 24 * 3600);
/// How long an authorization code can be exchanged: 30 seconds, once (reference §5).
pub const AUTHORIZATION_CODE_LIFETIME: Duration = Duration::from_secs(30);

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

impl OAuthServer {
    /// `https://{portal}/oauth/authorize/?client_id=…&state=…`: where the browser starts the
    /// code flow. `portal` is a domain (`example.bitrix24.com`, HTTPS assumed) or a base URL
    /// with its scheme (`http://127.0.0.1:8080`). No `redirect_uri`: the portal uses the one
    /// in the app's settings.
    ///
    /// # Errors
    /// [`TokenEndpointError::InvalidUrl`] for a malformed portal.
    pub fn authorize_url(
        &self,
        portal: &str,
        state: &AuthorizationState,
    ) -> Result<Url, TokenEndpointError> {
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
            .append_pair("client_id", &self.app().client_id)
            .append_pair("state", state.expose());
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::tokens::OAuthApp;

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
}
