//! OAuth tokens in use: the current pair, and a single-flight refresh.
//!
//! Every pair gets a generation number. A caller that saw generation `g` fail asks for a refresh
//! "of `g`"; callers queue on one async mutex, and whoever gets it after the pair moved past `g`
//! just takes the new pair. So any number of concurrent callers cause one refresh.

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, PoisonError, RwLock,
    },
    time::Duration,
};

use futures::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use tracing::Instrument;
use url::Url;

use crate::{
    code::ErrorCode,
    coordination::{RefreshCoordinator, TokenExchange},
    envelope::{error_from_object, snippet},
    error::Error,
    store::TokenStore,
    tokens::{OAuthApp, Tokens},
};

/// The pair in use and its generation.
#[derive(Clone)]
pub(crate) struct Snapshot {
    pub(crate) tokens: Arc<Tokens>,
    pub(crate) generation: u64,
}

/// A refresh failure remembered for the callers that queued behind it.
#[derive(Clone)]
struct Failure {
    generation: u64,
    /// `invalid_grant`: final for this generation, nobody asks the OAuth server again.
    reauthorize: bool,
    code: Option<ErrorCode>,
    http_status: Option<u16>,
    reason: String,
}

impl Failure {
    fn to_error(&self) -> Error {
        if self.reauthorize {
            Error::ReauthorizationNeeded {
                code: self.code.clone().unwrap_or(ErrorCode::InvalidGrant),
                description: self.reason.clone(),
            }
        } else {
            Error::RefreshFailed {
                code: self.code.clone(),
                http_status: self.http_status,
                reason: format!("{} (an earlier concurrent refresh failed)", self.reason),
                source: None,
            }
        }
    }
}

/// Held while refreshing; remembers the last failure.
#[derive(Default)]
struct Gate {
    last_failure: Option<Failure>,
}

pub(crate) struct OAuthSession {
    pub(crate) app: OAuthApp,
    server: Url,
    store: Arc<dyn TokenStore>,
    /// When set, refreshes go through it (other processes) instead of the store.
    coordinator: Option<Arc<dyn RefreshCoordinator>>,
    margin: Duration,
    current: RwLock<Snapshot>,
    gate: tokio::sync::Mutex<Gate>,
    /// Failed refresh attempts; read without the gate to tell whether one failed while we queued.
    failures: AtomicU64,
}

impl OAuthSession {
    pub(crate) fn new(
        app: OAuthApp,
        tokens: Tokens,
        server: Url,
        store: Arc<dyn TokenStore>,
        coordinator: Option<Arc<dyn RefreshCoordinator>>,
        margin: Duration,
    ) -> Self {
        Self {
            app,
            server,
            store,
            coordinator,
            margin,
            current: RwLock::new(Snapshot {
                tokens: Arc::new(tokens),
                generation: 0,
            }),
            gate: tokio::sync::Mutex::new(Gate::default()),
            failures: AtomicU64::new(0),
        }
    }

    pub(crate) fn snapshot(&self) -> Snapshot {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces the pair (after a re-authorisation); a new generation.
    pub(crate) fn replace(&self, tokens: Tokens) -> Snapshot {
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        *current = Snapshot {
            tokens: Arc::new(tokens),
            generation: current.generation + 1,
        };
        current.clone()
    }

    /// The pair to send, refreshed first when it is known to expire within the margin.
    pub(crate) async fn usable(&self, http: &reqwest::Client) -> Result<Snapshot, Error> {
        let snapshot = self.snapshot();
        if !snapshot.tokens.expires_within(self.margin) {
            return Ok(snapshot);
        }
        match self.refresh(http, snapshot.generation).await {
            // An early refresh that failed for a passing reason does not stop a token that still
            // works; the portal will say `expired_token` when it really is.
            Err(Error::RefreshFailed { .. }) if !snapshot.tokens.expires_within(Duration::ZERO) => {
                Ok(snapshot)
            }
            refreshed => refreshed,
        }
    }

    /// Refreshes the pair of generation `seen`, unless someone already did.
    pub(crate) async fn refresh(
        &self,
        http: &reqwest::Client,
        seen: u64,
    ) -> Result<Snapshot, Error> {
        let failures_before = self.failures.load(Ordering::Acquire);
        let mut gate = self.gate.lock().await;
        let current = self.snapshot();
        if current.generation != seen {
            return Ok(current);
        }
        if let Some(failure) = gate
            .last_failure
            .as_ref()
            .filter(|failure| failure.generation == seen)
        {
            // Final failures stay final; a transient one is shared with those who queued behind it.
            if failure.reauthorize || self.failures.load(Ordering::Acquire) != failures_before {
                return Err(failure.to_error());
            }
        }
        let span = tracing::info_span!("oauth_refresh", client_id = %self.app.client_id, generation = seen);
        let refreshed = if let Some(coordinator) = &self.coordinator {
            let exchange = Exchange {
                session: self,
                http,
            };
            coordinator
                .refresh(&current.tokens, &exchange)
                .instrument(span)
                .await
                .map(|fresh| self.replace(fresh))
        } else {
            if let Some(adopted) = self.adopt_stored(&current.tokens).await {
                gate.last_failure = None;
                return Ok(adopted);
            }
            match self.exchange(http, &current.tokens).instrument(span).await {
                Ok(fresh) => {
                    let snapshot = self.replace(fresh);
                    if let Err(error) = self.store.save(&snapshot.tokens).await {
                        // The pair is valid and in use; failing the call would not bring it back.
                        tracing::error!(%error, "refreshed tokens could not be saved; they will be lost on restart");
                    }
                    Ok(snapshot)
                }
                Err(error) => Err(error),
            }
        };
        match refreshed {
            Ok(snapshot) => {
                gate.last_failure = None;
                tracing::info!("access token refreshed");
                Ok(snapshot)
            }
            Err(error) => {
                tracing::warn!(%error, "token refresh failed");
                self.failures.fetch_add(1, Ordering::AcqRel);
                gate.last_failure = Some(Failure {
                    generation: seen,
                    reauthorize: matches!(error, Error::ReauthorizationNeeded { .. }),
                    code: error.code().cloned(),
                    http_status: match &error {
                        Error::RefreshFailed { http_status, .. } => *http_status,
                        _ => None,
                    },
                    reason: match &error {
                        Error::ReauthorizationNeeded { description, .. } => description.clone(),
                        Error::RefreshFailed { reason, .. } => reason.clone(),
                        other => other.to_string(),
                    },
                });
                Err(error)
            }
        }
    }

    /// Takes a newer pair another process saved (a later expiry than ours), if any.
    async fn adopt_stored(&self, ours: &Tokens) -> Option<Snapshot> {
        let stored = match self.store.load().await {
            Ok(stored) => stored?,
            Err(error) => {
                tracing::warn!(%error, "token store unreadable; refreshing without it");
                return None;
            }
        };
        let newer = match (stored.expires_at, ours.expires_at) {
            (Some(theirs), Some(mine)) => theirs > mine,
            _ => false,
        };
        if newer && !stored.same_access_token(ours) && !stored.expires_within(self.margin) {
            tracing::info!("adopting newer tokens from the token store");
            return Some(self.replace(stored));
        }
        None
    }

    /// `grant_type=refresh_token` against the OAuth server, secrets in the POST body only.
    async fn exchange(&self, http: &reqwest::Client, tokens: &Tokens) -> Result<Tokens, Error> {
        let form = [
            ("grant_type", "refresh_token"),
            ("client_id", self.app.client_id.as_str()),
            ("client_secret", self.app.client_secret.expose_secret()),
            ("refresh_token", tokens.refresh_token.expose_secret()),
        ];
        let failed = |reason: String, source: Option<reqwest::Error>| Error::RefreshFailed {
            code: None,
            http_status: None,
            reason,
            source: source.map(|error| Box::new(error.without_url()) as _),
        };
        let response = http
            .post(self.server.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&form)
            .send()
            .await
            .map_err(|error| {
                failed(
                    "the OAuth server could not be reached".to_owned(),
                    Some(error),
                )
            })?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(|error| {
            failed(
                "the OAuth server's answer could not be read".to_owned(),
                Some(error),
            )
        })?;
        let secrets: [&SecretString; 3] = [
            &self.app.client_secret,
            &tokens.refresh_token,
            &tokens.access_token,
        ];
        let Ok(Value::Object(answer)) = serde_json::from_slice::<Value>(&body) else {
            return Err(Error::RefreshFailed {
                code: None,
                http_status: Some(status),
                reason: format!("the OAuth server answered HTTP {status} with a body that is not a JSON object: {:?}", snippet(&body, &secrets)),
                source: None,
            });
        };
        if let Some(refused) = error_from_object("oauth/token", &answer, Some(status)) {
            if refused.code == ErrorCode::InvalidGrant {
                return Err(Error::ReauthorizationNeeded {
                    code: refused.code,
                    description: refused.description,
                });
            }
            return Err(Error::RefreshFailed {
                code: Some(refused.code.clone()),
                http_status: Some(status),
                reason: format!(
                    "the OAuth server refused: {} ({})",
                    refused.code, refused.description
                ),
                source: None,
            });
        }
        Tokens::from_token_answer(&Value::Object(answer), tokens).map_err(|missing| {
            Error::RefreshFailed {
                code: None,
                http_status: Some(status),
                reason: format!("the OAuth server's answer has no `{missing}`"),
                source: None,
            }
        })
    }
}

/// The session's OAuth grant, lent to a [`RefreshCoordinator`].
struct Exchange<'a> {
    session: &'a OAuthSession,
    http: &'a reqwest::Client,
}

impl TokenExchange for Exchange<'_> {
    fn exchange<'b>(&'b self, tokens: &'b Tokens) -> BoxFuture<'b, Result<Tokens, Error>> {
        Box::pin(self.session.exchange(self.http, tokens))
    }
}
