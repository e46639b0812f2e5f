//! The client: configuration turned into shared state, and the public calling surface.

use std::{
    fmt,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Map, Value};
use url::Url;

use crate::{
    config::{AuthConfig, ClientBuilder, RateLimit, RetryPolicy},
    dispatch::Call,
    envelope::{snippet, RawResponse, Response},
    error::{ApiError, Error},
    method::{AuthKind, InvalidRequest, Method},
    oauth::OAuthSession,
    pacing::Pacer,
    store::MemoryTokenStore,
    tokens::Tokens,
};

/// A Bitrix24 REST client for one portal.
///
/// Cheap to clone: clones share the connection pool, the tokens (and their single-flight
/// refresh), and the rate limiter, so pacing holds across every clone. `Send + Sync`.
///
/// ```no_run
/// # async fn run() -> Result<(), imconnector_transport::Error> {
/// use imconnector_transport::{Client, OAuthApp, Tokens};
///
/// let client = Client::builder()
///     .oauth(
///         OAuthApp::new("local.abc", "client-secret"),
///         Tokens::new("access", "refresh").with_client_endpoint("https://example.bitrix24.com/rest/"),
///     )
///     .build()?;
/// let answer = client
///     .call_raw("imconnector.status", serde_json::json!({"CONNECTOR": "acme_chat", "LINE": 107}))
///     .await?;
/// println!("{}", answer.result);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) http: reqwest::Client,
    pub(crate) auth: Auth,
    pub(crate) pacer: Pacer,
    pub(crate) retry: RetryPolicy,
    rate_limit: RateLimit,
    request_prefix: u32,
    request_seq: AtomicU64,
}

pub(crate) enum Auth {
    OAuth {
        session: Box<OAuthSession>,
        /// The REST base given to the builder; otherwise the tokens' `client_endpoint` is used.
        portal: Option<Url>,
    },
    Webhook {
        /// The full base URL; its path holds the secret code.
        base: SecretString,
        /// The code alone, to mask it in error snippets.
        code: SecretString,
        /// `scheme://host/` for `Debug`.
        origin: String,
    },
}

impl Client {
    /// Starts configuring a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    pub(crate) fn from_builder(builder: ClientBuilder) -> Result<Client, Error> {
        let auth =
            match builder.auth {
                None => {
                    return Err(Error::config(
                        "no credentials: call `oauth(..)` or `webhook(..)`",
                    ))
                }
                Some(AuthConfig::OAuth { app, tokens }) => {
                    let portal = builder
                        .portal
                        .as_deref()
                        .map(|portal| parse_base("portal", portal))
                        .transpose()?;
                    match (&portal, &tokens.client_endpoint) {
                        (Some(_), _) => {}
                        (None, Some(endpoint)) => {
                            parse_base("tokens.client_endpoint", endpoint)?;
                        }
                        (None, None) => return Err(Error::config(
                            "no REST base: call `portal(..)` or give tokens a `client_endpoint`",
                        )),
                    }
                    let server = parse_url("oauth_server", &builder.oauth_server)?;
                    let store = builder
                        .token_store
                        .unwrap_or_else(|| Arc::new(MemoryTokenStore::new()));
                    let session = OAuthSession::new(
                        app,
                        *tokens,
                        server,
                        store,
                        builder.refresh_coordinator,
                        builder.refresh_margin,
                    );
                    Auth::OAuth {
                        session: Box::new(session),
                        portal,
                    }
                }
                Some(AuthConfig::Webhook(url)) => {
                    let base = parse_base("webhook", url.expose_secret())?;
                    let code = base
                        .path_segments()
                        .and_then(|mut segments| segments.rfind(|segment| !segment.is_empty()))
                        .unwrap_or_default()
                        .to_owned();
                    // Scheme, host and port: everything of the URL but the secret path.
                    let origin = format!("{}/", base.origin().ascii_serialization());
                    Auth::Webhook {
                        base: SecretString::from(base.to_string()),
                        code: SecretString::from(code),
                        origin,
                    }
                }
            };
        let http = reqwest::Client::builder()
            // 302 "portal moved" must be re-POSTed, not turned into a GET: done by hand.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(builder.connect_timeout)
            .timeout(builder.request_timeout)
            .user_agent(builder.user_agent)
            .build()
            .map_err(|error| Error::config(format!("cannot create the HTTP client: {error}")))?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                auth,
                pacer: Pacer::new(
                    builder.rate_limit,
                    builder.request_limiter,
                    builder.operating_time_limit,
                ),
                retry: builder.retry_policy,
                rate_limit: builder.rate_limit,
                request_prefix: rand::random(),
                request_seq: AtomicU64::new(0),
            }),
        })
    }

    /// Calls a typed method and decodes its `result`.
    ///
    /// The request is validated first and refused locally (before any I/O) when invalid, or
    /// when the method needs OAuth and the client uses a webhook. A soft error inside a 200
    /// answer (see [`Method::soft_error`]) becomes an [`Error::Api`].
    ///
    /// # Errors
    /// See [`Error`]; notably [`Error::OutcomeUnknown`] when a non-idempotent request may have
    /// been applied without an answer.
    pub async fn call<M: Method>(&self, request: &M) -> Result<M::Response, Error> {
        self.call_with_meta(request)
            .await
            .map(|response| response.result)
    }

    /// Like [`call`](Self::call), keeping the envelope's `time`, `total` and `next`.
    ///
    /// # Errors
    /// As [`call`](Self::call).
    pub async fn call_with_meta<M: Method>(
        &self,
        request: &M,
    ) -> Result<Response<M::Response>, Error> {
        request.validate()?;
        let params = to_params_text(request)?;
        let call = Call {
            method: M::NAME,
            auth: M::AUTH,
            idempotent: M::IDEMPOTENT,
            params,
        };
        let (response, http_status) = self.execute(call).await?;
        let result = M::Response::deserialize(&response.result).map_err(|error| {
            let body = serde_json::to_vec(&response.result).unwrap_or_default();
            Error::Decode {
                method: M::NAME.to_owned(),
                http_status,
                reason: format!("unexpected `result` ({error})"),
                snippet: self.snippet(&body),
            }
        })?;
        if let Some(soft) = M::soft_error(&result) {
            let mut error = ApiError::new(M::NAME, soft.code, soft.description);
            error.http_status = Some(http_status);
            return Err(Error::Api(error));
        }
        Ok(response.map(|_| result))
    }

    /// Calls any method with untyped parameters (a JSON object, or `null` for none).
    ///
    /// Same auth, pacing, retries and errors as [`call`](Self::call). The method is treated as
    /// non-idempotent (never replayed once it may have been received); `imconnector.*` and
    /// `event.*` are known to need OAuth and are refused locally with a webhook.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] when `params` is not an object or `method` is not a method
    /// name; otherwise as [`call`](Self::call).
    pub async fn call_raw(&self, method: &str, params: Value) -> Result<RawResponse, Error> {
        let params = match params {
            Value::Object(map) => map,
            Value::Null => Map::new(),
            _ => return Err(InvalidRequest::new("params", "must be a JSON object").into()),
        };
        let call = Call {
            method,
            auth: raw_auth_kind(method),
            idempotent: false,
            params: Call::params_text(params),
        };
        self.execute(call).await.map(|(response, _)| response)
    }

    /// The OAuth pair in use (to persist it yourself), `None` with a webhook.
    pub fn tokens(&self) -> Option<Tokens> {
        match &self.inner.auth {
            Auth::OAuth { session, .. } => Some(Tokens::clone(&session.snapshot().tokens)),
            Auth::Webhook { .. } => None,
        }
    }

    /// Replaces the OAuth pair, e.g. after the user re-authorised the application.
    ///
    /// # Errors
    /// [`Error::Config`] when the client uses a webhook.
    pub fn set_tokens(&self, tokens: Tokens) -> Result<(), Error> {
        match &self.inner.auth {
            Auth::OAuth { session, .. } => {
                session.replace(tokens);
                Ok(())
            }
            Auth::Webhook { .. } => Err(Error::config(
                "this client uses a webhook, not OAuth tokens",
            )),
        }
    }

    /// Refreshes the OAuth pair now and returns the new one.
    ///
    /// # Errors
    /// [`Error::ReauthorizationNeeded`], [`Error::RefreshFailed`], or [`Error::Config`] with a
    /// webhook.
    pub async fn refresh_tokens(&self) -> Result<Tokens, Error> {
        match &self.inner.auth {
            Auth::OAuth { session, .. } => {
                let seen = session.snapshot().generation;
                let fresh = session.refresh(&self.inner.http, seen).await?;
                Ok(Tokens::clone(&fresh.tokens))
            }
            Auth::Webhook { .. } => Err(Error::config(
                "this client uses a webhook, not OAuth tokens",
            )),
        }
    }

    pub(crate) fn next_request_id(&self) -> String {
        let seq = self.inner.request_seq.fetch_add(1, Ordering::Relaxed);
        format!("{:08x}-{seq}", self.inner.request_prefix)
    }

    /// An error snippet of `body` with every secret this client knows masked.
    pub(crate) fn snippet(&self, body: &[u8]) -> String {
        match &self.inner.auth {
            Auth::OAuth { session, .. } => {
                let tokens = session.snapshot().tokens;
                snippet(
                    body,
                    &[
                        &tokens.access_token,
                        &tokens.refresh_token,
                        &session.app.client_secret,
                    ],
                )
            }
            Auth::Webhook { code, .. } => snippet(body, &[code]),
        }
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = formatter.debug_struct("Client");
        match &self.inner.auth {
            Auth::OAuth { session, portal } => {
                let snapshot = session.snapshot();
                let portal = portal
                    .as_ref()
                    .map(Url::to_string)
                    .or_else(|| snapshot.tokens.client_endpoint.clone());
                debug
                    .field("auth", &"oauth")
                    .field("client_id", &session.app.client_id)
                    .field("portal", &portal)
                    .field("tokens", &snapshot.tokens);
            }
            Auth::Webhook { origin, .. } => {
                debug
                    .field("auth", &"webhook")
                    .field("portal", &format!("{origin}rest/[redacted]/"));
            }
        }
        debug
            .field("rate_limit", &self.inner.rate_limit)
            .field("retry_policy", &self.inner.retry)
            .finish_non_exhaustive()
    }
}

/// Serialises a typed request into the parameter object.
pub(crate) fn to_params<M: Method>(request: &M) -> Result<Map<String, Value>, Error> {
    match serde_json::to_value(request) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(Value::Null) => Ok(Map::new()),
        Ok(_) => {
            Err(InvalidRequest::new(M::NAME, "the request must serialise to a JSON object").into())
        }
        Err(error) => Err(InvalidRequest::new(
            M::NAME,
            format!("cannot serialise the request: {error}"),
        )
        .into()),
    }
}

/// Serialises a typed request straight to JSON text, keeping its field order.
fn to_params_text<M: Method>(request: &M) -> Result<String, Error> {
    match serde_json::to_string(request) {
        Ok(text) if text == "null" => Ok("{}".to_owned()),
        Ok(text) if text.starts_with('{') => Ok(text),
        Ok(_) => {
            Err(InvalidRequest::new(M::NAME, "the request must serialise to a JSON object").into())
        }
        Err(error) => Err(InvalidRequest::new(
            M::NAME,
            format!("cannot serialise the request: {error}"),
        )
        .into()),
    }
}

/// Methods known to accept only OAuth, for untyped calls (typed ones declare it).
pub(crate) fn raw_auth_kind(method: &str) -> AuthKind {
    let lower = method.to_ascii_lowercase();
    if lower.starts_with("imconnector.") || lower.starts_with("event.") {
        AuthKind::OAuthOnly
    } else {
        AuthKind::OAuthOrWebhook
    }
}

fn parse_url(what: &str, text: &str) -> Result<Url, Error> {
    let url = Url::parse(text)
        .map_err(|error| Error::config(format!("`{what}` is not a URL: {error}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(Error::config(format!(
            "`{what}` must be an http(s) URL with a host"
        )));
    }
    Ok(url)
}

/// Parses a base URL and makes sure it ends with `/`, so joining a method name appends to it.
fn parse_base(what: &str, text: &str) -> Result<Url, Error> {
    let mut url = parse_url(what, text)?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::config(format!(
            "`{what}` must not have a query or fragment"
        )));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

// Shared across tasks and threads: a clone per task is the intended use.
const _: fn() = || {
    fn send_sync<T: Send + Sync + Clone>() {}
    send_sync::<Client>();
};
