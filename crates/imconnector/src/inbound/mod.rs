//! The inbound pipeline: every event of every source (the online
//! receiver (`imconnector::receiver`, feature `server`), an offline-event poller, a durable inbox's consumers) goes
//! through one [`Inbound`], which
//! - runs your [`EventHandler`] **one event at a time per chat**, chats in parallel (a chat is
//!   one external chat of one line of one portal; events about no chat share their portal's
//!   lane), in the order they were submitted;
//! - keeps at most [`max_in_flight`](InboundOptions::max_in_flight) handlers running and
//!   [`max_held`](InboundOptions::max_held) events held; a submission beyond that waits;
//! - runs each handler on a task of its own with a
//!   [timeout](InboundOptions::handler_timeout): a panic or a hang ends that attempt only. A
//!   failed attempt is run again (up to [`attempts`](InboundOptions::attempts), waiting
//!   the delay given to [`attempts`](InboundOptions::attempts), doubled each time); when all fail, the
//!   event is reported to [`EventHandler::handler_failed`] and logged, and its [`Ticket`] says
//!   [`Outcome::Failed`], so the source keeps it rather than losing it (the durable inbox moves
//!   it to its failed list, the offline poller reports it to the portal with
//!   `event.offline.error`). Later events of the chat then run;
//! - deduplicates by [`DedupKey`] (portal + event + message ids, or an offline row's
//!   `MESSAGE_ID`) for [`dedup`](InboundOptions::dedup): the same event submitted again
//!   is not run again ([`Outcome::Duplicate`]). An event counts as handled only once its
//!   confirmation was sent: until then a second submission is [`Outcome::AlreadyQueued`], so
//!   no source settles (acknowledges, clears) a copy whose confirmation could still be lost;
//! - confirms the messages [`EventHandler::message_add`] reports sent, with
//!   `imconnector.send.status.delivery` (see [`InboundBuilder::confirm_deliveries`]): the
//!   confirmations of a burst are packed, per portal, into one `batch` call of up to 50
//!   commands with many messages each, and sent again until they succeed (the method is
//!   idempotent), never dropped for waiting in the portal's queue;
//! - [drains](Inbound::shutdown) on shutdown: refuses new events and waits, up to a deadline,
//!   for the held ones to be handled and confirmed.
//!
//! # Delivery to the handler is at least once
//!
//! An event's [`Ticket`] resolves once the handler returned and its messages were confirmed;
//! only then does a durable source acknowledge it. A crash between the handler's side effect
//! (the message reached the customer) and that acknowledgement re-runs the handler for the
//! event after the restart, with the same [`DedupKey`]: the handler gets the key
//! ([`EventHandler::event`]) to make its effect happen once (e.g. send to the messenger with
//! the key as its idempotency key, or record it with the effect). The pipeline's own
//! deduplication lives in memory and covers one process.
//!
//! # Where events wait
//!
//! The [`Inbound`] itself holds events in memory: **a crash, a kill or a deploy loses every
//! event it holds**, which the portal will not send again. The receiver's default is exactly
//! that. For online events that must survive, put a durable inbox in front
//! (the receiver's `durable_inbox`, feature `server`): the receiver appends each verified event to
//! it *before* answering 200, and consumers feed this pipeline from it.
//! Offline events need none: the portal's offline queue is their durable inbox, and the
//! offline poller (`offline::OfflinePoller`, feature `server`) feeds this pipeline from it and
//! clears a row only once its [`Ticket`] says it was handled and confirmed.
//!
//! ```no_run
//! use std::time::Duration;
//! use imconnector::inbound::{DedupKey, Inbound, InboundOptions};
//! use imconnector::inbound::EventHandler;
//!
//! struct Connector;
//! impl EventHandler for Connector {}
//!
//! # async fn run(client: imconnector::Client, event: imconnector::events::Event) -> Result<(), Box<dyn std::error::Error>> {
//! let inbound = Inbound::builder(Connector)
//!     .confirm_deliveries(client)
//!     .options(InboundOptions::new().max_in_flight(32)?.handler_timeout(Duration::from_secs(30))?)
//!     .build();
//! // A source (e.g. an offline-event poller) submits, then waits for the outcome.
//! let member_id = event.auth().member_id.clone();
//! let ticket = inbound.submit(DedupKey::of(&event), member_id, event).await?;
//! let outcome = ticket.await;
//! # let _ = outcome;
//! let drained = inbound.shutdown(Duration::from_secs(10)).await;
//! assert!(drained.is_complete());
//! # Ok(())
//! # }
//! ```

mod clients;
mod completion;
mod confirm;
mod dedup;
pub(crate) mod durable;
mod handler;
#[cfg_attr(not(feature = "server"), allow(dead_code))] // filled by the receiver (`server`)
mod handoff;
mod key;
pub(crate) mod local;
mod options;
mod report;
mod run;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use imconnector_api::events::Event;
use imconnector_api::ids::MemberId;
use imconnector_transport::Client;

pub use clients::PortalClients;
pub use durable::ConsumerOptions;
pub use handler::{DeliveryReport, EventHandler, HandlerError, SentMessage, SentMessages};
pub use key::DedupKey;
pub use options::InboundOptions;
pub use report::{Closed, Drained, Failure, FailureReport, Outcome, Ticket};

use run::Inner;

/// The inbound pipeline; see the [module docs](self). Cheap to clone: clones share one
/// pipeline.
pub struct Inbound<H, C = Client> {
    inner: Arc<Inner<H, C>>,
}

impl<H, C> Clone for Inbound<H, C> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<H, C> fmt::Debug for Inbound<H, C> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Inbound")
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

impl<H: EventHandler> Inbound<H> {
    /// A pipeline calling `handler`, configured by the builder. Nothing runs until the first
    /// event is submitted.
    pub fn builder(handler: H) -> InboundBuilder<H> {
        InboundBuilder {
            handler,
            confirm_with: None,
            options: InboundOptions::default(),
        }
    }
}

impl<H: EventHandler, C: PortalClients> Inbound<H, C> {
    /// Submits event `event` of portal `member_id` under `key` (usually [`DedupKey::of`], or
    /// [`DedupKey::offline`] for an offline row). Waits while the pipeline holds
    /// [`max_held`](InboundOptions::max_held) events; the returned [`Ticket`] resolves to the
    /// event's [`Outcome`].
    ///
    /// Call it inside a Tokio runtime: the event runs on tasks of its own.
    ///
    /// # Errors
    /// [`Closed`] after [`shutdown`](Self::shutdown).
    pub async fn submit(
        &self,
        key: DedupKey,
        member_id: MemberId,
        event: Event,
    ) -> Result<Ticket, Closed> {
        self.inner.submit(key, member_id, event).await
    }

    /// How many more events the pipeline takes before a submission waits.
    pub fn room(&self) -> usize {
        self.inner.room()
    }

    /// Whether [`shutdown`](Self::shutdown) was called.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Drains the pipeline: refuses new events ([`Closed`]) and waits up to `deadline` for the
    /// held ones to be handled and confirmed. What is left is lost with an in-memory inbox;
    /// a durable inbox keeps it (unacknowledged) for the next start.
    pub async fn shutdown(&self, deadline: Duration) -> Drained {
        let unfinished = self
            .inner
            .drain(tokio::time::Instant::now() + deadline)
            .await;
        Drained { unfinished }
    }

    /// The handler.
    pub fn handler(&self) -> &H {
        &self.inner.handler
    }

    /// A pipeline over a handler another part of the crate shares (the offline poller builds
    /// its pipeline again when its settings change, keeping the handler).
    #[cfg_attr(not(feature = "server"), allow(dead_code))] // used by the offline poller (`server`)
    pub(crate) fn from_shared(
        handler: Arc<H>,
        confirm_with: Option<C>,
        options: InboundOptions,
    ) -> Self {
        Self {
            inner: Arc::new(Inner::new(handler, confirm_with, options)),
        }
    }

    /// The handler, shared.
    #[cfg_attr(not(feature = "server"), allow(dead_code))] // used by the offline poller (`server`)
    pub(crate) fn shared_handler(&self) -> Arc<H> {
        Arc::clone(&self.inner.handler)
    }
}

/// Configures an [`Inbound`]; from [`Inbound::builder`].
#[must_use]
pub struct InboundBuilder<H, C = Client> {
    handler: H,
    confirm_with: Option<C>,
    options: InboundOptions,
}

impl<H, C> fmt::Debug for InboundBuilder<H, C> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("InboundBuilder")
            .field("options", &self.options)
            .field("confirms_deliveries", &self.confirm_with.is_some())
            .finish_non_exhaustive()
    }
}

impl<H: EventHandler, C: PortalClients> InboundBuilder<H, C> {
    /// Confirms the messages [`EventHandler::message_add`] reports sent with
    /// `imconnector.send.status.delivery`, then reports each event's outcome to
    /// [`EventHandler::delivery_confirmed`]. Without it, confirm them yourself (or Bitrix24
    /// shows them as undelivered).
    ///
    /// `clients` gives the client of the portal an event came from: a [`Client`] for an
    /// application on one portal, a registry of portals for many.
    pub fn confirm_deliveries<Clients: PortalClients>(
        self,
        clients: Clients,
    ) -> InboundBuilder<H, Clients> {
        InboundBuilder {
            handler: self.handler,
            confirm_with: Some(clients),
            options: self.options,
        }
    }

    /// [`confirm_deliveries`](Self::confirm_deliveries) when `clients` is `Some`.
    #[cfg_attr(not(feature = "server"), allow(dead_code))] // used by the receiver (`server`)
    pub(crate) fn confirm_with<Clients: PortalClients>(
        self,
        clients: Option<Clients>,
    ) -> InboundBuilder<H, Clients> {
        InboundBuilder {
            handler: self.handler,
            confirm_with: clients,
            options: self.options,
        }
    }

    /// Bounds, timeouts and deduplication (default [`InboundOptions::default`]).
    pub fn options(mut self, options: InboundOptions) -> Self {
        self.options = options;
        self
    }

    /// The pipeline.
    pub fn build(self) -> Inbound<H, C> {
        Inbound {
            inner: Arc::new(Inner::new(
                Arc::new(self.handler),
                self.confirm_with,
                self.options,
            )),
        }
    }
}
