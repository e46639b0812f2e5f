//! Entries found in flight when a sender started or adopted them: maybe in the portal, maybe
//! not. They are reported to the application, which settles each one.

use std::sync::{Arc, Mutex, PoisonError};

use imconnector_api::ids::LineId;
use imconnector_transport::outbox::{EntryId, OutboxError, StoredEntry};

use super::operation::{EntryIn, Operation};
use super::Submitted;

/// What a sender does with the entries it finds in flight when it starts (their process died
/// after the request may have left).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum InDoubtPolicy {
    /// Report them through [`Sender::in_doubt`](super::Sender::in_doubt) and send nothing
    /// until the application [resolves](super::Sender::resolve) each (the default: the
    /// portal does not deduplicate, so a resend may post a message twice).
    #[default]
    Report,
    /// At least once: send them again, before the messages of their chats queued after them.
    /// A message whose first request did reach the portal then appears twice.
    Resend,
}

/// An entry in doubt: its request may have reached the portal before its sender died.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct InDoubt {
    /// The entry in the outbox: what [`Sender::resolve`](super::Sender::resolve) takes.
    pub entry: EntryId,
    /// Send, update or delete.
    pub operation: Operation,
    /// The open line.
    pub line: LineId,
    /// The external chat id.
    pub chat: String,
    /// The external message id, if the message had one: look for it in the chat.
    pub external_id: Option<String>,
    /// The message as sent (its wire JSON: `user`, `message`, `chat`).
    pub message: serde_json::Value,
    pub(crate) key: Option<String>,
}

/// How the application settles an entry in doubt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Resolution {
    /// It is in the portal: remove it, and keep its external id as sent (a resubmission is a
    /// duplicate).
    Delivered,
    /// It is not in the portal (or a duplicate is acceptable): send it again, after the
    /// messages of its chat queued meanwhile.
    Resend,
    /// Forget it without sending: remove it and its external id (the application takes it
    /// from here, and may submit it again).
    Drop,
}

/// What [`Sender::resolve`](super::Sender::resolve) did.
#[derive(Debug)]
#[non_exhaustive]
pub enum Resolved {
    /// Removed from the outbox.
    Settled,
    /// Queued again: await its report.
    Resent(Submitted),
}

/// Why [`Sender::resolve`](super::Sender::resolve) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// No entry in doubt has this id (settled already, or never in doubt).
    #[error("entry {0} is not in doubt")]
    NotInDoubt(EntryId),
    /// The outbox could not be updated; the entry is still in doubt.
    #[error("the outbox could not settle the entry")]
    Outbox(#[source] OutboxError),
    /// The sender was shut down; the entry stays in the outbox, in doubt or queued again.
    #[error("the sender has stopped")]
    Closed,
}

/// The entries in doubt of one sender.
#[derive(Debug, Default, Clone)]
pub(crate) struct InDoubtList(Arc<Mutex<Vec<InDoubt>>>);

impl InDoubtList {
    pub(crate) fn add(&self, entry: InDoubt) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(entry);
    }

    pub(crate) fn snapshot(&self) -> Vec<InDoubt> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    pub(crate) fn find(&self, entry: &EntryId) -> Option<InDoubt> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|doubt| &doubt.entry == entry)
            .cloned()
    }

    pub(crate) fn remove(&self, entry: &EntryId) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|doubt| &doubt.entry != entry);
    }
}

/// An outbox entry read back: its operation and message, or why it cannot be read.
pub(crate) fn decode(entry: &StoredEntry) -> Result<(EntryIn, LineId), String> {
    let read: EntryIn = serde_json::from_slice(&entry.payload).map_err(|error| {
        format!(
            "not a sender's entry (line {}, column {})",
            error.line(),
            error.column()
        )
    })?;
    let line = LineId::new(read.line).map_err(|error| error.to_string())?;
    Ok((read, line))
}

/// The report of an entry found in flight.
pub(crate) fn in_doubt(entry: &StoredEntry, read: EntryIn, line: LineId) -> InDoubt {
    let external_id = read
        .message
        .get("message")
        .and_then(|body| body.get("id"))
        .and_then(|id| match id {
            serde_json::Value::String(text) => Some(text.clone()),
            serde_json::Value::Number(number) => Some(number.to_string()),
            _ => None,
        });
    InDoubt {
        entry: entry.id.clone(),
        operation: read.op,
        line,
        chat: read.chat,
        external_id,
        message: read.message,
        key: entry.key.clone(),
    }
}
