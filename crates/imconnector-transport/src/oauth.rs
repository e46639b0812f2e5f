//! OAuth tokens in use: the current pair, and a single-flight refresh that outlives its callers.
//!
//! Every pair gets a generation number. A caller that saw generation `g` fail asks for a refresh
//! "of `g`". The first such caller starts the refresh as a task of its own; the others, and
//! later callers of the same generation, wait on that task. Because it is a task, a caller that
//! gives up (a timeout, a dropped handler) cannot lose a pair the OAuth server already rotated:
//! the task still installs and saves it.
//!
//! `invalid_grant` is final for the pair it refused, not for the client: before telling a caller
//! to re-authorise, the session looks at its token store again, where another replica or a
//! reinstallation may have put a new pair.

use std::{
    sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock},
    time::{Duration, Instant},
};

use futures::{
    future::{BoxFuture, Shared},
    FutureExt,
};
use tracing::Instrument;
use url::Url;

use crate::{
    code::ErrorCode,
    coordination::{RefreshCoordinator, TokenExchange},
    error::Error,
    oauth_server::OAuthServer,
    policy::RetryPolicy,
    store::TokenStore,
    tokens::{OAuthApp, Tokens},
};

/// How often a refreshed pair is offered to the token store before the session gives up on it.
const SAVE_ATTEMPTS: u32 = 3;

/// After an early refresh (one started before the token expired) failed, how long callers keep
/// using the still-valid token without starting another one.
const EARLY_REFRESH_PAUSE: Duration = Duration::from_secs(1);

/// The pair in use and its generation.
#[derive(Clone)]
pub(crate) struct Snapshot {
    pub(crate) tokens: Arc<Tokens>,
    pub(crate) generation: u64,
    /// The pair's `client_endpoint` as a REST base (ending in `/`), parsed once per pair
    /// rather than once per call.
    pub(crate) endpoint: Result<Arc<Url>, url::ParseError>,
}

impl Snapshot {
    fn new(tokens: Tokens, generation: u64) -> Self {
        let endpoint =
            Url::parse(tokens.client_endpoint.as_deref().unwrap_or_default()).map(|mut base| {
                if !base.path().ends_with('/') {
                    let path = format!("{}/", base.path());
                    base.set_path(&path);
                }
                Arc::new(base)
            });
        Self {
            tokens: Arc::new(tokens),
            generation,
            endpoint,
        }
    }
}

/// A refresh failure, shared by every caller that waited on the refresh.
#[derive(Clone)]
pub(crate) struct Failure {
    /// `invalid_grant`: final for this pair; only a new pair in the store helps.
    reauthorize: bool,
    code: Option<ErrorCode>,
    http_status: Option<u16>,
    reason: String,
}

impl Failure {
    fn from_error(error: &Error) -> Self {
        Self {
            reauthorize: matches!(error, Error::ReauthorizationNeeded { .. }),
            code: error.code().cloned(),
            http_status: match error {
                Error::RefreshFailed { http_status, .. } => *http_status,
                _ => None,
            },
            reason: match error {
                Error::ReauthorizationNeeded { description, .. } => description.clone(),
                Error::RefreshFailed { reason, .. } => reason.clone(),
                other => other.to_string(),
            },
        }
    }

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
                reason: self.reason.clone(),
                source: None,
            }
        }
    }
}

type Outcome = Shared<BoxFuture<'static, Result<Snapshot, Failure>>>;

/// The refresh in progress for one generation.
struct Flight {
    generation: u64,
    outcome: Outcome,
}

pub(crate) struct OAuthSession {
    /// The token endpoint, with the client's HTTP settings.
    server: OAuthServer,
    /// Bounds the retries of an exchange that failed transiently.
    retry: RetryPolicy,
    store: Arc<dyn TokenStore>,
    /// When set, refreshes go through it (other processes) instead of the store.
    coordinator: Option<Arc<dyn RefreshCoordinator>>,
    margin: Duration,
    current: RwLock<Snapshot>,
    flight: Mutex<Option<Flight>>,
    /// The generation the OAuth server refused with `invalid_grant`, and why.
    refused: Mutex<Option<(u64, Failure)>>,
    /// When an early refresh last failed, to pause the next one.
    early_failed_at: Mutex<Option<Instant>>,
}

impl OAuthSession {
    pub(crate) fn new(
        server: OAuthServer,
        retry: RetryPolicy,
        tokens: Tokens,
        store: Arc<dyn TokenStore>,
        coordinator: Option<Arc<dyn RefreshCoordinator>>,
        margin: Duration,
    ) -> Self {
        Self {
            server,
            retry,
            store,
            coordinator,
            margin,
            current: RwLock::new(Snapshot::new(tokens, 0)),
            flight: Mutex::new(None),
            refused: Mutex::new(None),
            early_failed_at: Mutex::new(None),
        }
    }

    /// The application whose tokens these are.
    pub(crate) fn app(&self) -> &OAuthApp {
        self.server.app()
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
        *current = Snapshot::new(tokens, current.generation + 1);
        current.clone()
    }

    /// Installs a refreshed pair of generation `seen`, unless the pair was replaced meanwhile
    /// (`set_tokens` during the refresh): the replacement wins. Returns the pair in use.
    fn install(&self, seen: u64, tokens: Tokens) -> Snapshot {
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        if current.generation == seen {
            *current = Snapshot::new(tokens, seen + 1);
        }
        current.clone()
    }

    /// The pair to send. A token known to have expired is refreshed first; one that expires
    /// within the margin is refreshed in the background while it is still used, so a slow or
    /// unreachable OAuth server or coordinator (a Redis outage) does not fail calls whose token
    /// still works.
    pub(crate) async fn usable(self: &Arc<Self>) -> Result<Snapshot, Error> {
        let snapshot = self.snapshot();
        if !snapshot.tokens.expires_within(self.margin) {
            return Ok(snapshot);
        }
        if snapshot.tokens.expires_within(Duration::ZERO) {
            return self.refresh(snapshot.generation).await;
        }
        if self.early_refresh_allowed() {
            let outcome = self.join_or_start(&snapshot);
            let session = Arc::clone(self);
            // Watches the refresh only to pause the next early one if it fails; the refresh
            // itself runs anyway.
            tokio::spawn(async move {
                if let Err(failure) = outcome.await {
                    tracing::warn!(reason = %failure.reason, "early token refresh failed; the current token is used while it is valid");
                    *lock(&session.early_failed_at) = Some(Instant::now());
                }
            });
        }
        Ok(snapshot)
    }

    fn early_refresh_allowed(&self) -> bool {
        lock(&self.early_failed_at)
            .is_none_or(|failed_at| failed_at.elapsed() >= EARLY_REFRESH_PAUSE)
    }

    /// Refreshes the pair of generation `seen`, unless someone already did; waits for the
    /// refresh, which goes on if this caller stops waiting.
    pub(crate) async fn refresh(self: &Arc<Self>, seen: u64) -> Result<Snapshot, Error> {
        let current = self.snapshot();
        if current.generation != seen {
            return Ok(current);
        }
        self.join_or_start(&current)
            .await
            .map_err(|failure| failure.to_error())
    }

    /// The refresh of `current`'s generation: the one in progress, or a new task.
    fn join_or_start(self: &Arc<Self>, current: &Snapshot) -> Outcome {
        let mut flight = lock(&self.flight);
        if let Some(running) = flight.as_ref().filter(|running| {
            running.generation == current.generation && running.outcome.peek().is_none()
        }) {
            return running.outcome.clone();
        }
        let session = Arc::clone(self);
        let seen = current.clone();
        let task = tokio::spawn(async move { session.run(seen).await });
        let outcome = async move {
            task.await.unwrap_or_else(|_| {
                Err(Failure::from_error(&Error::RefreshFailed {
                    code: None,
                    http_status: None,
                    reason: "the refresh task stopped (runtime shutting down?)".to_owned(),
                    source: None,
                }))
            })
        }
        .boxed()
        .shared();
        *flight = Some(Flight {
            generation: current.generation,
            outcome: outcome.clone(),
        });
        outcome
    }

    /// The refresh task: obtains the next pair, installs it and saves it.
    async fn run(self: Arc<Self>, current: Snapshot) -> Result<Snapshot, Failure> {
        let seen = current.generation;
        let refused = lock(&self.refused)
            .as_ref()
            .filter(|(generation, _)| *generation == seen)
            .map(|(_, failure)| failure.clone());
        if let Some(failure) = refused {
            // The OAuth server already refused this pair: asking again would only be refused
            // again. Another replica or a reinstallation may have stored a new one since.
            return match self.adopt_replacement(&current.tokens).await {
                Some(adopted) => Ok(adopted),
                None => Err(failure),
            };
        }
        let span = tracing::info_span!("oauth_refresh", client_id = %self.app().client_id, generation = seen);
        let refreshed = async {
            if let Some(coordinator) = &self.coordinator {
                let exchange = Exchange { session: &self };
                let fresh = coordinator.refresh(&current.tokens, &exchange).await?;
                return Ok(self.install(seen, fresh));
            }
            if let Some(adopted) = self.adopt_stored(&current.tokens).await {
                return Ok(adopted);
            }
            let fresh = self.exchange(&current.tokens).await?;
            let snapshot = self.install(seen, fresh);
            self.save(&snapshot.tokens).await;
            Ok::<Snapshot, Error>(snapshot)
        }
        .instrument(span)
        .await;
        match refreshed {
            Ok(snapshot) => {
                tracing::info!("access token refreshed");
                Ok(snapshot)
            }
            Err(error) => {
                tracing::warn!(%error, "token refresh failed");
                let failure = Failure::from_error(&error);
                if failure.reauthorize {
                    *lock(&self.refused) = Some((seen, failure.clone()));
                }
                Err(failure)
            }
        }
    }

    /// Saves a refreshed pair, retrying: the old refresh token is dead, so this pair is the
    /// only way back in after a restart.
    async fn save(&self, tokens: &Tokens) {
        for attempt in 1..=SAVE_ATTEMPTS {
            match self.store.save(tokens).await {
                Ok(()) => return,
                Err(error) if attempt < SAVE_ATTEMPTS => {
                    tracing::warn!(%error, attempt, "saving the refreshed tokens failed; retrying");
                    tokio::time::sleep(Duration::from_millis(100) * attempt).await;
                }
                Err(error) => {
                    // The pair is valid and in use; failing the call would not bring it back.
                    tracing::error!(%error, "refreshed tokens could not be saved; they will be lost on restart");
                }
            }
        }
    }

    /// Takes a newer pair another process saved (a later expiry than ours), if any.
    async fn adopt_stored(&self, ours: &Tokens) -> Option<Snapshot> {
        let stored = self.load_stored().await?;
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

    /// After `invalid_grant`: any stored pair with another refresh token replaces ours (a
    /// reinstallation, or another replica's refresh), even an expired one, whose refresh token
    /// is then the live one.
    async fn adopt_replacement(&self, ours: &Tokens) -> Option<Snapshot> {
        let stored = self.load_stored().await?;
        let other = !crate::tokens::secrets_equal(&stored.refresh_token, &ours.refresh_token);
        if other {
            tracing::info!("the refused pair was replaced in the token store; taking the new one");
            return Some(self.replace(stored));
        }
        None
    }

    async fn load_stored(&self) -> Option<Tokens> {
        match self.store.load().await {
            Ok(stored) => stored,
            Err(error) => {
                tracing::warn!(%error, "token store unreadable; going on without it");
                None
            }
        }
    }

    /// The `refresh_token` grant against the OAuth server, transient failures retried.
    async fn exchange(&self, tokens: &Tokens) -> Result<Tokens, Error> {
        crate::grant::refresh(&self.server, self.retry, tokens).await
    }
}

/// The session's OAuth grant, lent to a [`RefreshCoordinator`].
struct Exchange<'a> {
    session: &'a OAuthSession,
}

impl TokenExchange for Exchange<'_> {
    fn exchange<'b>(&'b self, tokens: &'b Tokens) -> BoxFuture<'b, Result<Tokens, Error>> {
        Box::pin(self.session.exchange(tokens))
    }
}

/// Locks a mutex of plain state; a panic elsewhere cannot leave it inconsistent.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
