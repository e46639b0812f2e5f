//! [`Sender`]: customer messages sent in packs, with a bounded queue and one outcome per message.
//!
//! Under the portal's rate limit (2 requests a second after a burst of 50 on most plans) one
//! `imconnector.send.messages` per message is the bottleneck. A [`Sender`] queues messages and a
//! background task sends them in packs:
//!
//! - messages of the same open line go into one `imconnector.send.messages` call (up to
//!   [`SenderBuilder::messages_per_call`]), and several calls, of one line or of several, into
//!   one `batch` request (up to [`SenderBuilder::calls_per_request`]);
//! - packs grow by themselves under load: a request starts as soon as a slot is free
//!   ([`SenderBuilder::requests_in_flight`]), with whatever is queued by then, so a lone message
//!   goes out at once and a flood goes out in full packs;
//! - messages of one chat (`chat.id` on a line) reach the portal in the order they were queued:
//!   a chat has at most one request in flight, while other chats' messages go out beside it;
//! - the queue is bounded ([`SenderBuilder::capacity`]): [`Sender::send`] waits for room,
//!   [`Sender::try_send`] gives the message back when it is full.
//!
//! Every message gets its own [`SendOutcome`], under the [`SendId`] it was given when queued:
//! stored (with the portal's result item), rejected by the portal, failed (certainly not in
//! the portal), or unknown (it may be in the portal). The sender never sends a message twice: it
//! does not retry at all, and the client retries only what cannot have been applied (see
//! [`Error::OutcomeUnknown`](imconnector_transport::Error::OutcomeUnknown)).
//!
//! ```no_run
//! use imconnector::prelude::*;
//! use imconnector::sender::{SendOutcome, Sender};
//!
//! # async fn run(client: Client) -> Result<(), Box<dyn std::error::Error>> {
//! let sender = Sender::builder(client, ConnectorId::new("acme_chat")?).start();
//! let line = LineId::new(1)?;
//! let message = MessageIn::new(
//!     MessageUser::new("customer-42"),
//!     MessageBody::new().with_id("ext-1001").with_text("Hello"),
//!     MessageChat::new("chat-42"),
//! );
//! let submitted = sender.send(line, message).await?;
//! let report = submitted.await;
//! match report.outcome {
//!     SendOutcome::Stored(result) => println!("{} stored, session {:?}", report.id, result.session),
//!     SendOutcome::Unknown(_) => println!("{} may be in the portal: check before sending again", report.id),
//!     other => println!("{} not stored: {other:?}", report.id),
//! }
//! # Ok(()) }
//! ```

mod flush;
mod outcome;
mod pending;
mod stats;
#[cfg(test)]
mod tests;
mod worker;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use imconnector_api::ids::{ConnectorId, LineId};
use imconnector_api::methods::SendMessages;
use imconnector_api::types::MessageIn;
use imconnector_transport::{Client, InvalidRequest, Method, MAX_BATCH_COMMANDS};
use tokio::sync::{mpsc, oneshot};

pub use outcome::{SendError, SendId, SendOutcome, SendReport, Submitted, TrySendError};
pub use stats::SenderStats;

/// The numbers a [`Sender`] works with; see the [`SenderBuilder`] setters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    pub(crate) capacity: usize,
    pub(crate) messages_per_call: usize,
    pub(crate) calls_per_request: usize,
    pub(crate) requests_in_flight: usize,
}

impl Limits {
    /// The most messages one request carries.
    pub(crate) fn messages_per_request(&self) -> usize {
        self.messages_per_call * self.calls_per_request
    }
}

/// Configures a [`Sender`]; start with [`Sender::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct SenderBuilder {
    client: Client,
    connector: ConnectorId,
    limits: Limits,
}

impl SenderBuilder {
    /// How many messages may wait in the queue (default 1024); [`Sender::send`] waits when it
    /// is full. At least 1. The background task holds up to one full request per slot on top
    /// (`messages_per_call x calls_per_request x requests_in_flight`).
    pub fn capacity(mut self, messages: usize) -> Self {
        self.limits.capacity = messages.max(1);
        self
    }

    /// The most messages in one `imconnector.send.messages` call (default 10). The portal
    /// documents no limit, but a bigger call takes longer, counts more against the method's
    /// operating-time budget, and more messages share its fate when its answer is lost. At
    /// least 1.
    pub fn messages_per_call(mut self, messages: usize) -> Self {
        self.limits.messages_per_call = messages.max(1);
        self
    }

    /// The most `send.messages` calls in one request (default 10); more than one are sent as
    /// a `batch`. Between 1 and 50 (the portal's batch limit).
    pub fn calls_per_request(mut self, calls: usize) -> Self {
        self.limits.calls_per_request = calls.clamp(1, MAX_BATCH_COMMANDS);
        self
    }

    /// How many requests may be under way at once (default 4); a chat never has two. The
    /// client's pacing still holds them under the portal's rate limit. At least 1.
    pub fn requests_in_flight(mut self, requests: usize) -> Self {
        self.limits.requests_in_flight = requests.max(1);
        self
    }

    /// Starts the background task on the current tokio runtime and returns the sender.
    ///
    /// # Panics
    /// When called outside a tokio runtime.
    pub fn start(self) -> Sender {
        let (queue, receiver) = mpsc::channel(self.limits.capacity);
        let stats = Arc::new(stats::Counters::default());
        tokio::spawn(worker::run(
            worker::Setup {
                client: self.client,
                connector: self.connector.clone(),
                limits: self.limits,
                stats: Arc::clone(&stats),
            },
            receiver,
        ));
        Sender {
            queue,
            connector: self.connector,
            next_id: Arc::new(AtomicU64::new(0)),
            stats,
        }
    }
}

/// Queues customer messages for one connector and sends them in packs; see the
/// [module docs](self).
///
/// Cheap to clone: clones share the queue. When every clone is dropped, the background task
/// sends what is still queued, reports it, and stops.
#[derive(Clone)]
pub struct Sender {
    queue: mpsc::Sender<pending::Queued>,
    connector: ConnectorId,
    next_id: Arc<AtomicU64>,
    stats: Arc<stats::Counters>,
}

impl fmt::Debug for Sender {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Sender")
            .field("connector", &self.connector)
            .field("queue_capacity", &self.queue.max_capacity())
            .field("queue_room", &self.queue.capacity())
            .finish_non_exhaustive()
    }
}

impl Sender {
    /// Configures a sender of `connector`'s messages through `client`.
    pub fn builder(client: Client, connector: ConnectorId) -> SenderBuilder {
        SenderBuilder {
            client,
            connector,
            limits: Limits {
                capacity: 1024,
                messages_per_call: 10,
                calls_per_request: 10,
                requests_in_flight: 4,
            },
        }
    }

    /// Checks `message` and queues it for `line`, waiting for room in the queue.
    ///
    /// # Errors
    /// [`SendError::Invalid`] (naming the field) when the portal would refuse the message;
    /// [`SendError::Closed`] when the background task has stopped.
    pub async fn send(&self, line: LineId, message: MessageIn) -> Result<Submitted, SendError> {
        let chat = self.check(line, &message)?;
        let permit = match self.queue.reserve().await {
            Ok(permit) => permit,
            Err(_) => return Err(SendError::Closed(Box::new(message))),
        };
        let (queued, submitted) = self.wrap(line, chat, message);
        permit.send(queued);
        Ok(submitted)
    }

    /// Checks `message` and queues it for `line` if the queue has room.
    ///
    /// # Errors
    /// [`TrySendError::Invalid`] when the portal would refuse the message;
    /// [`TrySendError::Full`] and [`TrySendError::Closed`] give the message back.
    pub fn try_send(&self, line: LineId, message: MessageIn) -> Result<Submitted, TrySendError> {
        let chat = self.check(line, &message)?;
        let permit = match self.queue.try_reserve() {
            Ok(permit) => permit,
            Err(mpsc::error::TrySendError::Full(())) => {
                return Err(TrySendError::Full(Box::new(message)))
            }
            Err(mpsc::error::TrySendError::Closed(())) => {
                return Err(TrySendError::Closed(Box::new(message)))
            }
        };
        let (queued, submitted) = self.wrap(line, chat, message);
        permit.send(queued);
        Ok(submitted)
    }

    /// How many more messages the queue takes right now.
    pub fn room(&self) -> usize {
        self.queue.capacity()
    }

    /// What the sender has done so far (requests, calls, messages by outcome).
    pub fn stats(&self) -> SenderStats {
        self.stats.snapshot()
    }

    /// The connector whose messages this sender sends.
    pub fn connector(&self) -> &ConnectorId {
        &self.connector
    }

    /// The checks `imconnector.send.messages` makes, on this message alone, so one bad
    /// message never fails the pack it would have joined; returns its chat id.
    fn check(&self, line: LineId, message: &MessageIn) -> Result<Arc<str>, InvalidRequest> {
        let alone = SendMessages::new(self.connector.clone(), line, [message.clone()]);
        alone.validate().map_err(|mut error| {
            // The caller knows this message, not its position in a request.
            if let Some(rest) = error.parameter.strip_prefix("MESSAGES[0]") {
                error.parameter = format!("message{rest}").into();
            }
            error
        })?;
        Ok(Arc::from(message.chat().id().as_str()))
    }

    fn wrap(
        &self,
        line: LineId,
        chat: Arc<str>,
        message: MessageIn,
    ) -> (pending::Queued, Submitted) {
        let id = SendId(self.next_id.fetch_add(1, Ordering::Relaxed));
        let (reply, receiver) = oneshot::channel();
        let queued = pending::Queued {
            id,
            line,
            chat,
            message,
            reply,
        };
        let submitted = Submitted {
            id,
            line,
            reply: receiver,
        };
        (queued, submitted)
    }
}
