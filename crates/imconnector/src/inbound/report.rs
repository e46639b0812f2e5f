//! What the pipeline tells its sources and the handler: each event's [`Outcome`], the
//! [`FailureReport`] of an event that failed, and what a [drain](super::Inbound::shutdown) left.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use imconnector_api::ids::MemberId;
use tokio::sync::oneshot;

use super::DedupKey;

/// What became of one submitted event.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The handler ran and returned; the messages it reported sent were confirmed (or their
    /// confirmation failed for good and was reported to
    /// [`delivery_confirmed`](super::EventHandler::delivery_confirmed)). A durable source
    /// acknowledges the entry.
    Handled,
    /// An event with the same key was handled within the deduplication time to live: the
    /// handler did not run again. A durable source acknowledges the entry.
    Duplicate,
    /// An event with the same key is still queued, running or waiting for its confirmation in
    /// this pipeline: that one reports. A durable source leaves the entry to it (the offline
    /// poller leaves the row reserved for its next batch).
    AlreadyQueued,
    /// The handler failed on every attempt (reported to
    /// [`handler_failed`](super::EventHandler::handler_failed)).
    Failed(Failure),
    /// The pipeline stopped before the event was done (its runtime shut down): the event is
    /// not handled. A durable source leaves the entry for a replica to take.
    Abandoned,
}

/// Why a handler attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// The handler returned an error (its text).
    Error(String),
    /// The handler panicked (the panic's message, when it was text).
    Panicked(String),
    /// The handler did not return within the timeout; it was cancelled.
    TimedOut(Duration),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Error(error) => write!(formatter, "the handler failed: {error}"),
            Failure::Panicked(message) => write!(formatter, "the handler panicked: {message}"),
            Failure::TimedOut(after) => {
                write!(formatter, "the handler did not return within {after:?}")
            }
        }
    }
}

/// An event whose handler failed on every attempt, given to
/// [`EventHandler::handler_failed`](super::EventHandler::handler_failed) (and logged).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FailureReport {
    /// The event's key.
    pub key: DedupKey,
    /// The portal it came from.
    pub member_id: MemberId,
    /// The event's name as sent.
    pub event: String,
    /// How many times the handler was run.
    pub attempts: u32,
    /// Why the last attempt failed.
    pub failure: Failure,
}

/// The [`Outcome`] of a submitted event, once it is known.
#[derive(Debug)]
#[must_use = "a ticket says when the event is done"]
pub struct Ticket(pub(crate) TicketState);

#[derive(Debug)]
pub(crate) enum TicketState {
    Ready(Option<Outcome>),
    Waiting(oneshot::Receiver<Outcome>),
}

impl Ticket {
    pub(crate) fn ready(outcome: Outcome) -> Self {
        Self(TicketState::Ready(Some(outcome)))
    }
}

impl Future for Ticket {
    type Output = Outcome;

    fn poll(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Outcome> {
        match &mut self.0 {
            TicketState::Ready(outcome) => {
                Poll::Ready(outcome.take().unwrap_or(Outcome::Abandoned))
            }
            TicketState::Waiting(receiver) => Pin::new(receiver)
                .poll(context)
                .map(|outcome| outcome.unwrap_or(Outcome::Abandoned)),
        }
    }
}

/// The pipeline refuses new events: it was [shut down](super::Inbound::shutdown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the inbound pipeline is shut down")]
pub struct Closed;

/// What a [drain](super::Inbound::shutdown) left undone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Drained {
    /// Events still queued, running or waiting for their confirmation when the deadline
    /// passed: lost with an in-memory inbox, left in the durable inbox for the next start.
    pub unfinished: usize,
}

impl Drained {
    /// Whether everything finished.
    pub fn is_complete(&self) -> bool {
        self.unfinished == 0
    }
}
