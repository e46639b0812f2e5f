//! The OAuth server's token endpoint: the one place that POSTs a grant, reads the answer within
//! the size cap and classifies it. The client's refresh ([`grant`](crate::grant)), the code flow
//! and a standalone refresh all go through [`OAuthServer::exchange`].

use std::{fmt, time::Duration};

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::bounded_json::TOKEN_ANSWER_AMPLIFICATION;
use url::Url;

use crate::{
    body::{is_html, page_text, read_limited, BodyError, DEFAULT_MAX_RESPONSE_SIZE},
    code::ErrorCode,
    envelope::{error_from_object, snippet},
    redirect::foreign_origin,
    tokens::{OAuthApp, Tokens},
};

/// The public Bitrix24 OAuth server's token endpoint, where every portal refreshes, cloud or
/// on-premise (an on-premise portal may not proxy its own `/oauth/token/`).
pub const DEFAULT_OAUTH_SERVER: &str = "https://oauth.bitrix.info/oauth/token/";

/// A grant to trade at the token endpoint. Secrets travel in the POST body only.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub enum Grant<'a> {
    /// `grant_type=authorization_code`: the `code` the portal's redirect carried (single use,
    /// valid [`AUTHORIZATION_CODE_LIFETIME`](crate::authorization::AUTHORIZATION_CODE_LIFETIME)).
    AuthorizationCode(&'a SecretString),
    /// `grant_type=refresh_token`: a new pair for this refresh token, which dies by it.
    RefreshToken(&'a SecretString),
}

impl Grant<'_> {
    fn form_fields(&self) -> (&'static str, &'static str, &SecretString) {
        match self {
            Grant::AuthorizationCode(code) => ("authorization_code", "code", code),
            Grant::RefreshToken(token) => ("refresh_token", "refresh_token", token),
        }
    }
}

impl fmt::Debug for Grant<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (grant_type, _, _) = self.form_fields();
        write!(formatter, "Grant({grant_type}, [redacted])")
    }
}

/// Why the token endpoint gave no tokens. Never contains a token, a code or the client secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenEndpointError {
    /// A URL (the OAuth server's, or the portal's) is malformed.
    #[error("invalid URL for {what}: {reason}")]
    InvalidUrl {
        /// Which URL.
        what: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A setting is unusable (e.g. a `max_response_size` of 0).
    #[error("invalid setting `{what}`: {reason}")]
    InvalidSetting {
        /// Which setting.
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
    /// The OAuth server could not be reached, did not answer in time, or its answer could not
    /// be read.
    #[error("the OAuth server could not be reached: {0}")]
    Unreachable(#[source] reqwest::Error),
    /// The answer is JSON but not a token answer.
    #[error("the OAuth server's answer (HTTP {http_status}) is not a token answer: {reason}")]
    Malformed {
        /// The HTTP status.
        http_status: u16,
        /// What is wrong (secrets masked).
        reason: String,
    },
    /// The OAuth server (or a proxy in front of it) answered an HTML page: maintenance, a
    /// gateway error.
    #[error("the OAuth server answered an HTML page (HTTP {http_status}), not JSON: {snippet:?}")]
    HtmlPage {
        /// The HTTP status.
        http_status: u16,
        /// The start of the page's text, tags removed, secrets masked.
        snippet: String,
    },
    /// The answer was longer than the cap; reading stopped there.
    #[error("the OAuth server's answer (HTTP {http_status}) is longer than the {limit}-byte cap")]
    TooLarge {
        /// The HTTP status.
        http_status: u16,
        /// The cap, in bytes.
        limit: usize,
    },
    /// The token endpoint redirected to another origin, which is never followed: the request
    /// carries the client secret.
    #[error("the OAuth server answered HTTP {http_status} redirecting to {location}; not followed, the request carries the client secret")]
    Redirected {
        /// The HTTP status.
        http_status: u16,
        /// Where it pointed: scheme, host and port only.
        location: String,
    },
}

impl TokenEndpointError {
    /// Whether asking again later may succeed: nothing says the grant or the client is bad. No
    /// answer; a server-side failure or 429 that is not `invalid_grant`/`invalid_client`; a
    /// page or unreadable answer from a proxy (below 400, or 5xx/429). A refusal, an oversized
    /// answer, a redirect and a configuration error are not.
    pub fn is_transient(&self) -> bool {
        let server_side = |status: u16| status >= 500 || status == 429;
        match self {
            TokenEndpointError::Unreachable(_) => true,
            TokenEndpointError::Refused {
                code, http_status, ..
            } => {
                server_side(*http_status)
                    && !matches!(code, ErrorCode::InvalidGrant | ErrorCode::InvalidClient)
            }
            // A page below 400 is a proxy's or a cut answer; one in 4xx answers this request.
            TokenEndpointError::Malformed { http_status, .. }
            | TokenEndpointError::HtmlPage { http_status, .. } => {
                server_side(*http_status) || *http_status < 400
            }
            _ => false,
        }
    }

    /// The OAuth server's error code, when it sent one.
    pub fn code(&self) -> Option<&ErrorCode> {
        match self {
            TokenEndpointError::Refused { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The HTTP status of the answer, when there was one.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            TokenEndpointError::Refused { http_status, .. }
            | TokenEndpointError::Malformed { http_status, .. }
            | TokenEndpointError::HtmlPage { http_status, .. }
            | TokenEndpointError::TooLarge { http_status, .. }
            | TokenEndpointError::Redirected { http_status, .. } => Some(*http_status),
            _ => None,
        }
    }
}

/// The application's side of the OAuth server: the token endpoint (code grant, refreshes) and,
/// in [`authorization`](crate::authorization), the portal's authorize URL.
#[derive(Clone)]
pub struct OAuthServer {
    pub(crate) app: OAuthApp,
    token_url: Url,
    http: reqwest::Client,
    timeout: Duration,
    user_agent: reqwest::header::HeaderValue,
    max_response_size: usize,
}

impl OAuthServer {
    /// For `app`, at [`DEFAULT_OAUTH_SERVER`]: 10 s to connect, 30 s per exchange, answers up
    /// to [`DEFAULT_MAX_RESPONSE_SIZE`].
    ///
    /// # Errors
    /// [`TokenEndpointError::Unreachable`] when no HTTP client can be created (no TLS backend).
    pub fn new(app: OAuthApp) -> Result<Self, TokenEndpointError> {
        let http = reqwest::Client::builder()
            // The token endpoint never redirects legitimately; following one could carry the
            // secret elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(TokenEndpointError::Unreachable)?;
        Ok(Self {
            app,
            token_url: parse_url("the OAuth server", DEFAULT_OAUTH_SERVER)?,
            http,
            timeout: Duration::from_secs(30),
            user_agent: reqwest::header::HeaderValue::from_static(concat!(
                "imconnector-rs/",
                env!("CARGO_PKG_VERSION")
            )),
            max_response_size: DEFAULT_MAX_RESPONSE_SIZE,
        })
    }

    /// The token endpoint of a [`Client`](crate::Client): its HTTP client, timeout, user agent
    /// and answer cap.
    pub(crate) fn for_client(
        app: OAuthApp,
        token_url: Url,
        http: reqwest::Client,
        timeout: Duration,
        user_agent: reqwest::header::HeaderValue,
        max_response_size: usize,
    ) -> Self {
        Self {
            app,
            token_url,
            http,
            timeout,
            user_agent,
            max_response_size,
        }
    }

    /// Uses the token endpoint `url` instead of [`DEFAULT_OAUTH_SERVER`], e.g. an emulator's.
    /// Every real portal, cloud or on-premise, refreshes at `oauth.bitrix.info` (an on-premise
    /// portal may not proxy its own `/oauth/token/`). Configure it yourself: never take it from a request, or
    /// whoever sends the request chooses who vouches for it.
    ///
    /// # Errors
    /// [`TokenEndpointError::InvalidUrl`].
    pub fn token_url(mut self, url: &str) -> Result<Self, TokenEndpointError> {
        self.token_url = parse_url("the OAuth server", url)?;
        Ok(self)
    }

    /// Uses this HTTP client (proxies, custom roots). Build it with
    /// `redirect(reqwest::redirect::Policy::none())`: an answer it fetched from another origin
    /// by following a redirect is refused ([`TokenEndpointError::Redirected`]), but the request
    /// has gone there. The 30 s per exchange and the answer cap still apply.
    #[must_use]
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = http;
        self
    }

    /// The longest answer read, in bytes (default [`DEFAULT_MAX_RESPONSE_SIZE`]); a longer one
    /// is [`TokenEndpointError::TooLarge`].
    ///
    /// # Errors
    /// [`TokenEndpointError::InvalidSetting`] for 0.
    pub fn max_response_size(mut self, bytes: usize) -> Result<Self, TokenEndpointError> {
        if bytes == 0 {
            return Err(TokenEndpointError::InvalidSetting {
                what: "max_response_size",
                reason: "must be at least 1 byte".to_owned(),
            });
        }
        self.max_response_size = bytes;
        Ok(self)
    }

    /// The application.
    pub fn app(&self) -> &OAuthApp {
        &self.app
    }

    /// The token endpoint in use.
    pub fn token_endpoint(&self) -> &Url {
        &self.token_url
    }

    /// Trades `grant` for tokens: one POST, no retry (see [`TokenEndpointError::is_transient`]).
    ///
    /// # Errors
    /// [`TokenEndpointError::Refused`] (`invalid_grant` for a used, expired or foreign code or
    /// refresh token), or the server could not be reached, answered too much, redirected, or
    /// answered something that is not a token answer.
    pub async fn exchange(&self, grant: Grant<'_>) -> Result<Tokens, TokenEndpointError> {
        self.exchange_keeping(grant, &Tokens::new("", "")).await
    }

    /// `grant_type=authorization_code`: the tokens for `code`. Same as
    /// [`exchange`](Self::exchange) with [`Grant::AuthorizationCode`].
    ///
    /// # Errors
    /// As [`exchange`](Self::exchange).
    pub async fn exchange_code(&self, code: &str) -> Result<Tokens, TokenEndpointError> {
        let code = SecretString::from(code.to_owned());
        self.exchange(Grant::AuthorizationCode(&code)).await
    }

    /// `grant_type=refresh_token`: a new pair for `refresh_token`. Used to prove that a refresh
    /// token someone sent was issued to this app: only the app's secret can refresh it, and the
    /// answer names the portal (`member_id`, `client_endpoint`). Same as
    /// [`exchange`](Self::exchange) with [`Grant::RefreshToken`].
    ///
    /// # Errors
    /// As [`exchange`](Self::exchange).
    pub async fn refresh(
        &self,
        refresh_token: &SecretString,
    ) -> Result<Tokens, TokenEndpointError> {
        self.exchange(Grant::RefreshToken(refresh_token)).await
    }

    /// [`exchange`](Self::exchange), keeping from `previous` what the answer leaves out (and
    /// masking its access token in snippets).
    pub(crate) async fn exchange_keeping(
        &self,
        grant: Grant<'_>,
        previous: &Tokens,
    ) -> Result<Tokens, TokenEndpointError> {
        let (grant_type, key, secret) = grant.form_fields();
        let form = [
            ("grant_type", grant_type),
            ("client_id", self.app.client_id.as_str()),
            ("client_secret", self.app.client_secret.expose_secret()),
            (key, secret.expose_secret()),
        ];
        let mut response = self
            .http
            .post(self.token_url.clone())
            .timeout(self.timeout)
            .header(reqwest::header::USER_AGENT, self.user_agent.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&form)
            .send()
            .await
            .map_err(|error| TokenEndpointError::Unreachable(error.without_url()))?;
        let http_status = response.status().as_u16();
        if let Some(location) = self.redirect_refused(&response) {
            return Err(TokenEndpointError::Redirected {
                http_status,
                location,
            });
        }
        let html_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| is_html(Some(value), b""));
        let body = match read_limited(&mut response, self.max_response_size).await {
            Ok(body) => body,
            Err(BodyError::TooLarge) => {
                return Err(TokenEndpointError::TooLarge {
                    http_status,
                    limit: self.max_response_size,
                })
            }
            Err(BodyError::Failed(error)) => {
                return Err(TokenEndpointError::Unreachable(error.without_url()))
            }
        };
        let secrets = [
            &self.app.client_secret,
            secret,
            &previous.access_token,
            &previous.refresh_token,
        ];
        read_token_answer(http_status, &body, html_type, &secrets, previous)
    }

    /// The origin a redirect pointed to, when this answer is one (reqwest's client given by the
    /// user may even have followed it: then the answer came from there).
    fn redirect_refused(&self, response: &reqwest::Response) -> Option<String> {
        if let Some(origin) = foreign_origin(&self.token_url, response.url()) {
            return Some(origin);
        }
        if !response.status().is_redirection() {
            return None;
        }
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|value| value.to_str().ok())?;
        // Any redirect of the token endpoint is refused; its origin is named when it parses.
        Some(match self.token_url.join(location) {
            Ok(target) => target.origin().ascii_serialization(),
            Err(_) => "an invalid address".to_owned(),
        })
    }
}

impl fmt::Debug for OAuthServer {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("OAuthServer")
            .field("app", &self.app)
            .field("token_url", &self.token_url.as_str())
            .field("timeout", &self.timeout)
            .field("max_response_size", &self.max_response_size)
            .finish_non_exhaustive()
    }
}

pub(crate) fn parse_url(what: &'static str, text: &str) -> Result<Url, TokenEndpointError> {
    match Url::parse(text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => Ok(url),
        Ok(_) => Err(TokenEndpointError::InvalidUrl {
            what,
            reason: "not an http(s) URL with a host".to_owned(),
        }),
        Err(error) => Err(TokenEndpointError::InvalidUrl {
            what,
            reason: error.to_string(),
        }),
    }
}

/// The token endpoint's answer: tokens, or its `{"error", "error_description"}`, or why it is
/// neither. The one parser of token answers.
fn read_token_answer(
    http_status: u16,
    body: &[u8],
    html_type: bool,
    secrets: &[&SecretString],
    previous: &Tokens,
) -> Result<Tokens, TokenEndpointError> {
    let parsed = crate::bounded_json::value_within(body, TOKEN_ANSWER_AMPLIFICATION);
    if let Err(refused) = &parsed {
        if refused.over_budget {
            return Err(TokenEndpointError::Malformed {
                http_status,
                reason: refused.reason.clone(),
            });
        }
    }
    let Ok(Value::Object(answer)) = parsed else {
        if is_html(html_type.then_some("text/html"), body) {
            return Err(TokenEndpointError::HtmlPage {
                http_status,
                snippet: snippet(&page_text(body), secrets),
            });
        }
        return Err(TokenEndpointError::Malformed {
            http_status,
            reason: format!("not a JSON object: {:?}", snippet(body, secrets)),
        });
    };
    if let Some(refused) = error_from_object("oauth/token", &answer, Some(http_status)) {
        return Err(TokenEndpointError::Refused {
            code: refused.code,
            description: refused.description,
            http_status,
        });
    }
    Tokens::from_token_answer(&Value::Object(answer), previous).map_err(|missing| {
        TokenEndpointError::Malformed {
            http_status,
            reason: format!("no `{missing}`"),
        }
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn answers_become_tokens_or_typed_refusals_without_secrets() {
        let previous = Tokens::new("", "");
        let ok = br#"{"access_token":"a1","refresh_token":"r1","expires_in":3600,"member_id":"m","client_endpoint":"https://p.example/rest/","domain":"oauth.bitrix.info"}"#;
        let tokens = read_token_answer(200, ok, false, &[], &previous).unwrap();
        assert_eq!(tokens.member_id.as_ref().map(|id| id.as_str()), Some("m"));
        assert_eq!(tokens.refresh_token.expose_secret(), "r1");
        assert!(tokens.expires_at.is_some());

        let refused = br#"{"error":"invalid_grant","error_description":"Invalid grant"}"#;
        let error = read_token_answer(400, refused, false, &[], &previous).unwrap_err();
        assert!(
            matches!(
                &error,
                TokenEndpointError::Refused {
                    code: ErrorCode::InvalidGrant,
                    http_status: 400,
                    ..
                }
            ),
            "{error:?}"
        );
        assert!(!error.is_transient());

        let secret = SecretString::from("leaked-secret-value".to_owned());
        let error = read_token_answer(
            500,
            b"<html>leaked-secret-value</html>",
            false,
            &[&secret],
            &previous,
        )
        .unwrap_err();
        assert!(matches!(error, TokenEndpointError::HtmlPage { .. }));
        assert!(
            !error.to_string().contains("leaked-secret-value"),
            "{error}"
        );
        assert!(error.is_transient());
        let error =
            read_token_answer(200, br#"{"access_token":"a"}"#, false, &[], &previous).unwrap_err();
        assert!(error.to_string().contains("refresh_token"), "{error}");
    }

    #[test]
    fn transient_failures_are_told_apart_once() {
        let refused = |code: &str, http_status| TokenEndpointError::Refused {
            code: ErrorCode::from(code),
            description: String::new(),
            http_status,
        };
        let page = |http_status| TokenEndpointError::HtmlPage {
            http_status,
            snippet: String::new(),
        };
        assert!(refused("temporarily_unavailable", 503).is_transient());
        assert!(refused("slow_down", 429).is_transient());
        assert!(!refused("invalid_client", 503).is_transient());
        assert!(!refused("invalid_grant", 500).is_transient());
        assert!(!refused("invalid_request", 400).is_transient());
        assert!(page(502).is_transient());
        assert!(page(200).is_transient());
        assert!(!page(404).is_transient());
        assert!(!TokenEndpointError::TooLarge {
            http_status: 200,
            limit: 1
        }
        .is_transient());
    }
}
