//! The client: configuration turned into shared state, and the public calling surface.

use std::{fmt, sync::Arc};

use serde_json::{Map, Value};
use url::Url;

use crate::{
    call::{check_method_name, is_method_name, raw_auth_kind, to_params_text, Call},
    envelope::{RawResponse, Response},
    error::Error,
    method::{InvalidRequest, Method},
    policy::RateLimit,
    result_reader::MethodResult,
    shared::{Auth, Shared},
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
    pub(crate) inner: Arc<Shared>,
}

impl Client {
    pub(crate) fn from_shared(inner: Shared) -> Client {
        Client {
            inner: Arc::new(inner),
        }
    }

    /// Calls a typed method and decodes its `result`.
    ///
    /// The request is validated first and refused locally (before any I/O) when invalid, or
    /// when the method needs OAuth and the client uses a webhook. A soft error inside a 200
    /// answer (see [`Method::decode_response`]) becomes an [`Error::Api`].
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
        // A method's name is a constant: checked when the call is compiled, not on every call,
        // and refused (as an untyped call's name is) before anything is sent.
        if !const { is_method_name(M::NAME) } {
            check_method_name(M::NAME)?;
        }
        request.validate()?;
        let params = to_params_text(request)?;
        let call = Call {
            method: M::NAME,
            auth: M::AUTH,
            idempotent: M::IDEMPOTENT,
            params,
        };
        let mut reader = MethodResult::<M>::new();
        let (success, http_status) = self.inner.execute(call, Some(&mut reader)).await?;
        self.inner
            .decode_method_result::<M>(http_status, success, reader)
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
        check_method_name(method)?;
        let call = Call {
            method,
            auth: raw_auth_kind(method),
            idempotent: false,
            params: Call::params_text(params),
        };
        let (success, http_status) = self.inner.execute(call, None).await?;
        self.inner.decode_value_result(method, http_status, success)
    }

    /// The rate-limit profile the client paces by: the configured one, or the portal's plan
    /// once learned (see [`ClientBuilder::rate_limit`](crate::ClientBuilder::rate_limit)),
    /// [`RateLimit::Standard`] until then.
    pub fn rate_limit(&self) -> RateLimit {
        self.inner
            .plan
            .as_ref()
            .and_then(tokio::sync::OnceCell::get)
            .copied()
            .unwrap_or(self.inner.rate_limit)
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
                let fresh = session.refresh(seen).await?;
                Ok(Tokens::clone(&fresh.tokens))
            }
            Auth::Webhook { .. } => Err(Error::config(
                "this client uses a webhook, not OAuth tokens",
            )),
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
                    .field("client_id", &session.app().client_id)
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
            .field("rate_limit", &self.rate_limit())
            .field("retry_policy", &self.inner.retry)
            .finish_non_exhaustive()
    }
}

// Shared across tasks and threads: a clone per task is the intended use.
const _: fn() = || {
    fn send_sync<T: Send + Sync + Clone>() {}
    send_sync::<Client>();
};
