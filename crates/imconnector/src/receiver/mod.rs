//! The event receiver (feature `server`): an axum [`Router`] for the URL your events are bound
//! to.
//!
//! Bitrix24 POSTs each event as a PHP-style form. The receiver
//! 1. refuses bodies over the size limit (413);
//! 2. parses the body (400 if it cannot be parsed) and checks `auth[application_token]` in
//!    constant time ([`secrets_match`](crate::secrets_match)) against the token [`ApplicationTokens`] gives for
//!    `auth[member_id]`: a missing, wrong or unknown one is 401, and the event is neither
//!    decoded nor dispatched;
//! 3. decodes the typed [`Event`] with [`Event::from_value`]: 400 if it does not have its
//!    documented shape;
//! 4. hands it to the [inbound pipeline](crate::inbound) (per-chat order, bounded handlers,
//!    deduplication, packed delivery confirmations) and answers 200; 503 once the pipeline is
//!    shut down. The portal throttles slow answers and never retries, so the handler runs
//!    after the answer.
//!
//! **By default the pipeline holds events in memory: a crash, a kill or a deploy loses those
//! it holds** (the portal never sends them again). To keep them, put a durable inbox in front
//! ([`EventReceiver::durable_inbox`]): the receiver then appends each verified event to it
//! before answering 200, and in the same step makes it pending for this replica's consumer
//! ([`InboxStore::append_and_read`]),
//! which gets the event already decoded instead of reading it back from the store.
//!
//! ```no_run
//! use std::time::Duration;
//! use imconnector::receiver::{EventHandler, EventReceiver, SingleToken};
//!
//! struct Connector;
//! impl EventHandler for Connector {}
//!
//! # async fn run() -> std::io::Result<()> {
//! let (events, pipeline) = EventReceiver::new(SingleToken::new("application token from OnAppInstall"), Connector)
//!     .build();
//! let app = axum::Router::new().nest("/bitrix/events", events);
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
//! imconnector::serve(listener, app).await?; // timeouts and limits: see [`serve`](crate::serve())
//! // After the server stopped: finish what the pipeline holds.
//! pipeline.shutdown(Duration::from_secs(10)).await;
//! # Ok(())
//! # }
//! ```

mod registry;
mod tokens;

use std::fmt;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use imconnector_api::events::{Event, EventDecodeError};
use imconnector_transport::Client;
use secrecy::ExposeSecret;

use crate::log_text::{untrusted, REFUSED_REQUESTS};

use crate::inbound::durable::SharedInbox;
use crate::inbound::local::SharedIntake;
use crate::inbound::{ConsumerOptions, DedupKey, Inbound, InboundOptions};
pub use crate::inbound::{
    DeliveryReport, EventHandler, HandlerError, PortalClients, SentMessage, SentMessages,
};
use imconnector_transport::inbox::{AppendedAndRead, InboxStore};
pub use tokens::{ApplicationTokens, SingleToken, TokenMap};

/// The default limit on an event body: far above any event the portal sends (a message
/// event with a long text and several file links is a few KiB).
pub const DEFAULT_BODY_LIMIT: usize = 256 * 1024;

/// Verifies the events Bitrix24 POSTs and hands them to the [inbound pipeline](crate::inbound);
/// see the [module docs](self).
///
/// `C` is where delivery confirmations get their client (see
/// [`confirm_deliveries`](Self::confirm_deliveries)); it is unused until that is called.
pub struct EventReceiver<H, T, C = Client> {
    handler: H,
    tokens: T,
    confirm_with: Option<C>,
    options: InboundOptions,
    inbox: Option<(SharedInbox, ConsumerOptions)>,
    body_limit: usize,
}

/// What the request handler shares.
struct Shared<H, T, C> {
    tokens: T,
    pipeline: Inbound<H, C>,
    /// With a durable inbox, where verified events go before the answer, and how the
    /// appended events reach this process's consumer.
    inbox: Option<(SharedInbox, SharedIntake)>,
}

impl<H: EventHandler, T: ApplicationTokens> EventReceiver<H, T> {
    /// A receiver checking tokens with `tokens` and dispatching to `handler`.
    pub fn new(tokens: T, handler: H) -> Self {
        Self {
            handler,
            tokens,
            confirm_with: None,
            options: InboundOptions::default(),
            inbox: None,
            body_limit: DEFAULT_BODY_LIMIT,
        }
    }
}

impl<H: EventHandler, T: ApplicationTokens, C: PortalClients> EventReceiver<H, T, C> {
    /// Bodies larger than `bytes` are refused with 413 (default [`DEFAULT_BODY_LIMIT`]).
    #[must_use]
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// The pipeline's bounds, timeouts and deduplication (default
    /// [`InboundOptions::default`]).
    #[must_use]
    pub fn options(mut self, options: InboundOptions) -> Self {
        self.options = options;
        self
    }

    /// Keeps verified events in a durable inbox (e.g. `imconnector_redis::RedisInbox`): each is
    /// appended to `store` *before* the portal gets its 200 (an error appending answers 503,
    /// and the portal reports the event undelivered), and a consumer named as `consumer` says
    /// reads them into the pipeline and acknowledges each once handled and confirmed. A crash
    /// then loses nothing the portal was told was received: the restarted replica (same
    /// consumer name) reads its unacknowledged entries first, and another replica takes them
    /// after [`ConsumerOptions::min_idle`]. Delivery to the handler is at least once (see
    /// [`crate::inbound`]).
    ///
    /// [`build`](Self::build) (and [`router`](Self::router)) then starts the consumer: call it
    /// inside a Tokio runtime.
    #[must_use]
    pub fn durable_inbox<S: InboxStore>(mut self, store: S, consumer: ConsumerOptions) -> Self {
        self.inbox = Some((Arc::new(store), consumer));
        self
    }

    /// Confirms the messages [`EventHandler::message_add`] reports as sent with
    /// `imconnector.send.status.delivery` (packed and retried: see
    /// [`InboundBuilder::confirm_deliveries`](crate::inbound::InboundBuilder::confirm_deliveries)),
    /// then reports the outcome to [`EventHandler::delivery_confirmed`]. Without it, confirm
    /// them yourself (or Bitrix24 shows them as undelivered).
    ///
    /// `clients` gives the client of the portal an event came from (by its `member_id`): a
    /// [`Client`] for an application on one portal, a [`PortalClients`] registry for many.
    #[must_use]
    pub fn confirm_deliveries<Clients: PortalClients>(
        self,
        clients: Clients,
    ) -> EventReceiver<H, T, Clients> {
        EventReceiver {
            handler: self.handler,
            tokens: self.tokens,
            confirm_with: Some(clients),
            options: self.options,
            inbox: self.inbox,
            body_limit: self.body_limit,
        }
    }

    /// The router: `POST /` receives events. Mount it where your handler URL points, e.g.
    /// `Router::new().nest("/bitrix/events", receiver.router())`, or serve it as it is.
    /// [`build`](Self::build) also returns the pipeline, to drain it on shutdown.
    pub fn router(self) -> Router {
        self.build().0
    }

    /// The router and the [`Inbound`] pipeline it feeds: drain the pipeline on shutdown
    /// ([`Inbound::shutdown`]), or feed it from another source too (an offline-event poller).
    pub fn build(self) -> (Router, Inbound<H, C>) {
        let pipeline = Inbound::builder(self.handler)
            .options(self.options)
            .confirm_with(self.confirm_with)
            .build();
        let inbox = self.inbox.map(|(store, consumer)| {
            let intake = pipeline.consume_shared(Arc::clone(&store), consumer);
            (store, intake)
        });
        let shared = Arc::new(Shared {
            tokens: self.tokens,
            pipeline: pipeline.clone(),
            inbox,
        });
        let router = Router::new()
            .route("/", post(receive::<H, T, C>))
            .layer(DefaultBodyLimit::max(self.body_limit))
            .with_state(shared);
        (router, pipeline)
    }
}

impl<H, T: fmt::Debug, C> fmt::Debug for EventReceiver<H, T, C> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("EventReceiver")
            .field("tokens", &self.tokens)
            .field("options", &self.options)
            .field("body_limit", &self.body_limit)
            .field("confirms_deliveries", &self.confirm_with.is_some())
            .field(
                "durable_inbox",
                &self.inbox.as_ref().map(|(_, consumer)| consumer),
            )
            .finish_non_exhaustive()
    }
}

/// Why an event POST was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// The body could not be parsed, or the event does not have its documented shape (400).
    #[error("malformed event: {0}")]
    Malformed(String),
    /// No application token, or not the one expected for the portal (401).
    #[error("unauthenticated event: {0}")]
    Unauthorized(&'static str),
}

impl Rejection {
    /// The HTTP status to answer.
    pub fn status(&self) -> StatusCode {
        match self {
            Rejection::Malformed(_) => StatusCode::BAD_REQUEST,
            Rejection::Unauthorized(_) => StatusCode::UNAUTHORIZED,
        }
    }
}

async fn receive<H: EventHandler, T: ApplicationTokens, C: PortalClients>(
    State(shared): State<Arc<Shared<H, T, C>>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok());
    if let Some((inbox, intake)) = &shared.inbox {
        return match verify_and_keep(&shared.tokens, content_type, &body).await {
            Ok(Kept {
                key,
                event,
                payload,
            }) => {
                let member_id = event.auth().member_id.clone();
                let appended = inbox
                    .append_and_read(key.as_str(), &member_id, &payload, intake.consumer())
                    .await;
                match appended {
                    Ok(AppendedAndRead::Read(id)) => {
                        intake.hand_over(id, key, member_id, event);
                        (StatusCode::OK, "OK")
                    }
                    Ok(AppendedAndRead::Stored { id, older }) => {
                        intake.keep(id, event);
                        if older.is_some() {
                            intake.missed_one();
                        }
                        (StatusCode::OK, "OK")
                    }
                    // A duplicate was stored before: answered like the first.
                    Ok(_) => (StatusCode::OK, "OK"),
                    Err(error) => {
                        tracing::error!(error = %untrusted(&error), "cannot append an event to the inbox; answering 503");
                        (StatusCode::SERVICE_UNAVAILABLE, "inbox unavailable")
                    }
                }
            }
            Err(rejection) => refuse(rejection),
        };
    }
    match verify_event(&shared.tokens, content_type, &body).await {
        Ok(event) => {
            let key = DedupKey::of(&event);
            let member_id = event.auth().member_id.clone();
            // The ticket is not awaited: the portal gets its answer now, and the pipeline
            // logs and reports what becomes of the event.
            match shared.pipeline.submit(key, member_id, event).await {
                Ok(_ticket) => (StatusCode::OK, "OK"),
                Err(_closed) => (StatusCode::SERVICE_UNAVAILABLE, "shutting down"),
            }
        }
        Err(rejection) => refuse(rejection),
    }
}

fn refuse(rejection: Rejection) -> (StatusCode, &'static str) {
    if let Some(suppressed) = REFUSED_REQUESTS.admit() {
        tracing::warn!(rejection = %untrusted(&rejection), suppressed, "refused an event POST");
    }
    let text = match rejection {
        Rejection::Malformed(_) => "malformed event",
        Rejection::Unauthorized(_) => "unauthorized",
    };
    (rejection.status(), text)
}

/// A verified event on its way to the durable inbox.
struct Kept {
    key: DedupKey,
    /// Decoded from the payload's value (its application token replaced too).
    event: Event,
    /// The verified body as JSON with the application token replaced (it was checked; it is
    /// not stored).
    payload: String,
}

/// Verifies and decodes like [`verify_event`], and returns what the durable inbox keeps.
async fn verify_and_keep<T: ApplicationTokens>(
    tokens: &T,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Kept, Rejection> {
    let mut value = verified_value(tokens, content_type, body).await?;
    // Two lookups, not `pointer_mut`, which unescapes each step of the path into a new string.
    let auth = value.get_mut("auth");
    if let Some(token) = auth.and_then(|auth| auth.get_mut("application_token")) {
        *token = serde_json::Value::String(VERIFIED_TOKEN.to_owned());
    }
    // Written before the decode consumes the value (no copy of the tree): the decode still
    // refuses a malformed event before anything is appended. Sized from the body, which the
    // JSON rarely outgrows, so the text is written without growing its buffer step by step.
    let mut payload = Vec::with_capacity(body.len() + body.len() / 4);
    serde_json::to_writer(&mut payload, &value)
        .map_err(|error| Rejection::Malformed(error.to_string()))?;
    // serde_json writes UTF-8 only.
    let payload =
        String::from_utf8(payload).map_err(|error| Rejection::Malformed(error.to_string()))?;
    let event = decode(value)?;
    Ok(Kept {
        key: DedupKey::of(&event),
        event,
        payload,
    })
}

/// What the durable inbox stores in place of a verified event's application token.
const VERIFIED_TOKEN: &str = "verified";

/// Checks and decodes an event body as the router does, for use outside axum: parses it
/// (JSON when `content_type` is `application/json`, the portal's form encoding otherwise),
/// checks `auth[application_token]` in constant time ([`secrets_match`](crate::secrets_match)) against the token
/// `tokens` gives for `auth[member_id]`, and only then decodes the typed [`Event`] with
/// [`Event::from_value`], so an unauthenticated POST costs no decoding.
///
/// # Errors
/// [`Rejection`], which says the status to answer.
pub async fn verify_event<T: ApplicationTokens>(
    tokens: &T,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Event, Rejection> {
    let value = verified_value(tokens, content_type, body).await?;
    decode(value)
}

fn decode(value: serde_json::Value) -> Result<Event, Rejection> {
    Event::from_value(value).map_err(|error| match error {
        EventDecodeError::MissingApplicationToken => {
            Rejection::Unauthorized("no auth[application_token]")
        }
        other => Rejection::Malformed(other.to_string()),
    })
}

/// The parsed body, once its application token checked out.
async fn verified_value<T: ApplicationTokens>(
    tokens: &T,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<serde_json::Value, Rejection> {
    let value = Event::body_value(content_type, body)
        .map_err(|error| Rejection::Malformed(error.to_string()))?;
    let (member_id, token) = claimed_auth(&value)?;
    let expected = tokens
        .application_token(&imconnector_transport::MemberId::from(member_id))
        .await
        .ok_or(Rejection::Unauthorized(
            "no application token is known for this member_id",
        ))?;
    // Constant time, so the answer's timing does not reveal how much of a guess was right.
    if !imconnector_transport::secrets_match(token, expected.expose_secret()) {
        return Err(Rejection::Unauthorized("wrong auth[application_token]"));
    }
    Ok(value)
}

/// `auth[member_id]` (empty when missing: the typed decode refuses it later) and the non-empty
/// `auth[application_token]` a parsed body claims.
fn claimed_auth(value: &serde_json::Value) -> Result<(&str, &str), Rejection> {
    let auth = value.get("auth");
    let token = auth
        .and_then(|auth| auth.get("application_token"))
        .and_then(serde_json::Value::as_str)
        .filter(|token| !token.is_empty())
        .ok_or(Rejection::Unauthorized("no auth[application_token]"))?;
    let member_id = auth
        .and_then(|auth| auth.get("member_id"))
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default();
    Ok((member_id, token))
}
