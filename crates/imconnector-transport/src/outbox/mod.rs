//! [`Outbox`]: where a sender keeps the operations it accepted until the portal answered them;
//! [`MemoryOutbox`] for one process (a crash loses what it holds).
//!
//! An outbox holds opaque entries (the facade's `Sender` writes its serialized messages) of one
//! portal and connector, in the order they were accepted, each either *queued* (not sent yet)
//! or *in flight* (its request may have reached the portal). A sender joins the outbox as a
//! *consumer* with a name and a lease it keeps renewing; the entries it appends are its own.
//! When a consumer's lease runs out (its process died), another consumer adopts its entries:
//! queued ones it sends, in-flight ones are *in doubt* (maybe in the portal, maybe not), and the
//! sender reports them to the application instead of sending them again.
//!
//! An entry may carry an idempotency key (the facade uses the line and the external message
//! id): while an entry with that key is held, or for a while after it was sent, appending
//! another with the same key stores nothing and answers [`Appended::Duplicate`].
//!
//! `imconnector_redis::RedisOutbox` keeps the entries in a Redis stream, so they survive the
//! process.

mod memory;

use std::fmt;
use std::future::Future;
use std::time::Duration;

use crate::hook_error::storage_hook_error;

pub use memory::MemoryOutbox;

/// How long an idempotency key outlives its entry by default: a resubmission within a day of
/// the first is recognised.
pub const DEFAULT_KEY_RETENTION: Duration = Duration::from_secs(24 * 60 * 60);

storage_hook_error!(
    /// Why an [`Outbox`] failed.
    OutboxError,
    "outbox"
);

/// An entry's id, given by the outbox when the entry is appended. Ids of one outbox sort in
/// the order the entries were accepted only through [`Outbox::recover`]'s answer, not as text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntryId(String);

impl EntryId {
    /// Wraps an id an outbox made.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EntryId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// An entry to append.
#[derive(Debug, Clone)]
pub struct NewEntry {
    /// What keeps the order (the facade: the line and the external chat id).
    pub chat: String,
    /// The idempotency key, if any.
    pub key: Option<String>,
    /// The serialized operation; the outbox does not read it.
    pub payload: Vec<u8>,
}

/// What became of an append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Appended {
    /// Stored: the entry is held under this id and belongs to the appending consumer.
    Accepted(EntryId),
    /// Not stored: an entry with the same key is held, or was sent lately (its id).
    Duplicate(EntryId),
}

/// Where an entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryState {
    /// Not sent yet: sending it is safe.
    Queued,
    /// Marked before its request left: it may be in the portal.
    InFlight,
}

/// An entry held by the outbox.
#[derive(Debug, Clone)]
pub struct StoredEntry {
    /// Its id.
    pub id: EntryId,
    /// What keeps its order.
    pub chat: String,
    /// Its idempotency key, if any.
    pub key: Option<String>,
    /// The serialized operation.
    pub payload: Vec<u8>,
    /// Queued or in flight.
    pub state: EntryState,
}

/// An entry whose fate is settled, to remove from the outbox.
#[derive(Debug, Clone)]
pub struct Finished {
    /// The entry.
    pub id: EntryId,
    /// Its idempotency key, if any.
    pub key: Option<String>,
    /// `true` when the entry is certainly not in the portal (refused before any work, or
    /// dropped by the application): its key is forgotten, so the same message may be
    /// submitted again. `false` keeps the key for the retention time, so a resubmission is
    /// recognised as a duplicate.
    pub forget_key: bool,
}

/// Where a sender keeps the operations it accepted until the portal answered them; see the
/// [module docs](self).
///
/// Every method names the `consumer` (one sender) it acts for. Entries are handed out in the
/// order they were appended.
pub trait Outbox: Send + Sync + 'static {
    /// Whether entries survive the process (a crash loses those of a [`MemoryOutbox`]).
    fn is_durable(&self) -> bool;

    /// Starts (or restarts) `consumer`: takes its lease for `lease`, adopts the entries of
    /// consumers whose lease ran out, and returns every entry `consumer` now holds (also those
    /// it held in an earlier life under the same name), oldest first. Called once, before the
    /// consumer appends anything.
    ///
    /// # Errors
    /// When the store cannot be reached.
    fn recover(
        &self,
        consumer: &str,
        lease: Duration,
    ) -> impl Future<Output = Result<Vec<StoredEntry>, OutboxError>> + Send;

    /// Renews `consumer`'s lease for `lease` and adopts the entries of consumers whose lease
    /// ran out; returns those it adopted, oldest first.
    ///
    /// # Errors
    /// When the store cannot be reached.
    fn keep_alive(
        &self,
        consumer: &str,
        lease: Duration,
    ) -> impl Future<Output = Result<Vec<StoredEntry>, OutboxError>> + Send;

    /// Stores `entry` as queued, held by `consumer`, unless its key is known. Once this
    /// answers, the entry is as durable as the outbox.
    ///
    /// # Errors
    /// When the store cannot be reached (then nothing was stored).
    fn append(
        &self,
        consumer: &str,
        entry: &NewEntry,
    ) -> impl Future<Output = Result<Appended, OutboxError>> + Send;

    /// Marks entries in flight, just before their request leaves. Returns the ids that
    /// `consumer` no longer holds (another consumer adopted them): those must not be sent.
    ///
    /// # Errors
    /// When the store cannot be reached (then send nothing).
    fn mark_in_flight(
        &self,
        consumer: &str,
        ids: &[EntryId],
    ) -> impl Future<Output = Result<Vec<EntryId>, OutboxError>> + Send;

    /// Puts in-flight entries back to queued (the application asked to send them again).
    ///
    /// # Errors
    /// When the store cannot be reached.
    fn requeue(
        &self,
        consumer: &str,
        ids: &[EntryId],
    ) -> impl Future<Output = Result<(), OutboxError>> + Send;

    /// Removes settled entries that `consumer` holds (others are left alone).
    ///
    /// # Errors
    /// When the store cannot be reached.
    fn finish(
        &self,
        consumer: &str,
        finished: &[Finished],
    ) -> impl Future<Output = Result<(), OutboxError>> + Send;

    /// Gives up `consumer`'s lease, so that another consumer adopts what it still holds at
    /// once.
    ///
    /// # Errors
    /// When the store cannot be reached (the lease then runs out by itself).
    fn leave(&self, consumer: &str) -> impl Future<Output = Result<(), OutboxError>> + Send;
}

/// A shared outbox is an outbox: senders in one process (or tests) may share one `Arc`.
impl<O: Outbox> Outbox for std::sync::Arc<O> {
    fn is_durable(&self) -> bool {
        O::is_durable(self)
    }

    fn recover(
        &self,
        consumer: &str,
        lease: Duration,
    ) -> impl Future<Output = Result<Vec<StoredEntry>, OutboxError>> + Send {
        O::recover(self, consumer, lease)
    }

    fn keep_alive(
        &self,
        consumer: &str,
        lease: Duration,
    ) -> impl Future<Output = Result<Vec<StoredEntry>, OutboxError>> + Send {
        O::keep_alive(self, consumer, lease)
    }

    fn append(
        &self,
        consumer: &str,
        entry: &NewEntry,
    ) -> impl Future<Output = Result<Appended, OutboxError>> + Send {
        O::append(self, consumer, entry)
    }

    fn mark_in_flight(
        &self,
        consumer: &str,
        ids: &[EntryId],
    ) -> impl Future<Output = Result<Vec<EntryId>, OutboxError>> + Send {
        O::mark_in_flight(self, consumer, ids)
    }

    fn requeue(
        &self,
        consumer: &str,
        ids: &[EntryId],
    ) -> impl Future<Output = Result<(), OutboxError>> + Send {
        O::requeue(self, consumer, ids)
    }

    fn finish(
        &self,
        consumer: &str,
        finished: &[Finished],
    ) -> impl Future<Output = Result<(), OutboxError>> + Send {
        O::finish(self, consumer, finished)
    }

    fn leave(&self, consumer: &str) -> impl Future<Output = Result<(), OutboxError>> + Send {
        O::leave(self, consumer)
    }
}
