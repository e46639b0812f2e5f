//! What a caller gets back: a message's id, its outcome, and why it was not queued.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use imconnector_api::ids::LineId;
use imconnector_api::types::{MessageIn, MessageResult};
use imconnector_transport::outbox::{EntryId, OutboxError};
use imconnector_transport::{Error, InvalidRequest};
use tokio::sync::oneshot;

/// The id a message gets when it is queued; its [`SendReport`] carries the same id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SendId(pub(crate) u64);

impl SendId {
    /// The id as a number (ids count up from 0 per [`Sender`](super::Sender)).
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for SendId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "message #{}", self.0)
    }
}

/// What became of one queued message (or update, or delete: "stored" then means applied).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SendOutcome {
    /// The portal stored the message: its result item (customer user id, session, ...).
    Stored(Box<MessageResult>),
    /// The portal processed the call but refused this message (`SUCCESS: false`), e.g.
    /// "Incomplete data" or an invalid e-mail address. It is not in the portal.
    Rejected(Vec<String>),
    /// The message is certainly not in the portal: refused locally, never sent, or refused by
    /// the portal before any work (an inactive line, the rate limit after every retry, ...).
    /// Sending it again is safe.
    Failed(Arc<Error>),
    /// The message may or may not be in the portal (a connection lost after sending, a 5xx
    /// answer, an unreadable answer). Check the chat before sending it again. `None` when the
    /// sender stopped (its runtime shut down) before it could tell.
    Unknown(Option<Arc<Error>>),
    /// The sender stopped (shut down, or its runtime ended) before the message was sent, or
    /// another process took the message over: it is certainly not in the portal *from this
    /// sender*. `kept` says it is still held by a durable outbox, where the next sender
    /// started on it (or the process that took it over) sends it; otherwise it is gone.
    NotSent {
        /// Whether a durable outbox still holds it.
        kept: bool,
    },
    /// Nothing was stored: the outbox already holds, or lately sent, a message with the same
    /// line and external id (under this entry id). That first one's report tells its fate.
    Duplicate(EntryId),
}

impl SendOutcome {
    /// Whether the portal stored the message.
    pub fn is_stored(&self) -> bool {
        matches!(self, SendOutcome::Stored(_))
    }

    /// Whether the message may be in the portal: stored, or unknown.
    pub fn may_be_in_portal(&self) -> bool {
        matches!(self, SendOutcome::Stored(_) | SendOutcome::Unknown(_))
    }
}

/// A message's outcome, under its id and line.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SendReport {
    /// The id given when the message was queued.
    pub id: SendId,
    /// The open line it was sent to.
    pub line: LineId,
    /// What became of it.
    pub outcome: SendOutcome,
}

/// A queued message; await it for its [`SendReport`].
///
/// Dropping it does not cancel the message: it is sent anyway, and its outcome is dropped.
#[derive(Debug)]
#[must_use = "await it to learn whether the message reached the portal"]
pub struct Submitted {
    pub(crate) id: SendId,
    pub(crate) line: LineId,
    pub(crate) reply: oneshot::Receiver<SendReport>,
    /// Set once the message's request may have left.
    pub(crate) left: Arc<AtomicBool>,
    /// Whether the outbox is durable.
    pub(crate) kept: bool,
}

impl Submitted {
    /// The id of the message.
    pub fn id(&self) -> SendId {
        self.id
    }
}

impl Future for Submitted {
    type Output = SendReport;

    fn poll(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<SendReport> {
        let (id, line, kept) = (self.id, self.line, self.kept);
        let left = Arc::clone(&self.left);
        Pin::new(&mut self.reply).poll(context).map(|answer| {
            // The reply is dropped unsent only when the background task was cancelled: the
            // message may be in the portal only if its request had left by then.
            answer.unwrap_or_else(|_| SendReport {
                id,
                line,
                outcome: if left.load(Ordering::Acquire) {
                    SendOutcome::Unknown(None)
                } else {
                    SendOutcome::NotSent { kept }
                },
            })
        })
    }
}

/// Why [`Sender::send`](super::Sender::send) did not queue a message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The message would be refused by the portal (or by the client); nothing was queued.
    #[error(transparent)]
    Invalid(#[from] InvalidRequest),
    /// The sender was shut down, or its background task stopped (its runtime shut down);
    /// nothing was queued.
    #[error("the sender has stopped")]
    Closed(Box<MessageIn>),
    /// The outbox could not store the message (e.g. Redis is unreachable); nothing was
    /// queued, here is the message back.
    #[error("the outbox could not store the message")]
    Outbox {
        /// Why.
        #[source]
        source: OutboxError,
        /// The message.
        message: Box<MessageIn>,
    },
}

/// Why [`Sender::try_send`](super::Sender::try_send) did not queue a message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrySendError {
    /// The message would be refused by the portal (or by the client); nothing was queued.
    #[error(transparent)]
    Invalid(#[from] InvalidRequest),
    /// The queue is full: here is the message back, try again later.
    #[error("the sender's queue is full")]
    Full(Box<MessageIn>),
    /// The sender was shut down or its background task stopped; here is the message back.
    #[error("the sender has stopped")]
    Closed(Box<MessageIn>),
    /// The outbox could not store the message; here is the message back.
    #[error("the outbox could not store the message")]
    Outbox {
        /// Why.
        #[source]
        source: OutboxError,
        /// The message.
        message: Box<MessageIn>,
    },
}
