//! [`InboxStore`]: where verified online events wait durably between the portal's POST and
//! their handler, shared by a connector's replicas; [`MemoryInbox`] for one process and tests.
//!
//! The facade's receiver [`append`](InboxStore::append)s each verified event and only then
//! answers the portal 200; consumers (one per replica, each under its own stable name) read
//! entries, run the handler, and [`ack`](InboxStore::ack) them. An entry read but not
//! acknowledged stays *pending* for its consumer: after a restart the consumer reads its own
//! [`pending`](InboxStore::pending) entries first, and a replica takes over another's that
//! stayed idle too long ([`claim`](InboxStore::claim)), unless their consumer still
//! [`touch`](InboxStore::touch)es them. The store's model is a Redis Stream with a consumer group;
//! `imconnector-redis` has that implementation.

mod memory;

use std::future::Future;
use std::time::Duration;

use crate::hook_error::storage_hook_error;
use crate::MemberId;

pub use memory::MemoryInbox;

/// How long an event's key is remembered by default, so the same event appended again (two
/// bindings, a replay) is not handled twice.
pub const DEFAULT_DEDUP_TTL: Duration = Duration::from_secs(24 * 3600);

/// One stored event.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InboxEntry {
    /// The store's id of the entry (a Redis Stream id): what [`ack`](InboxStore::ack) takes.
    pub id: String,
    /// The event's deduplication key.
    pub key: String,
    /// The portal it came from.
    pub member_id: MemberId,
    /// The verified event as the portal sent it, as JSON text.
    pub payload: String,
}

impl InboxEntry {
    /// An entry (for implementations of [`InboxStore`]).
    pub fn new(id: String, key: String, member_id: MemberId, payload: String) -> Self {
        Self {
            id,
            key,
            member_id,
            payload,
        }
    }
}

/// What [`InboxStore::append`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Appended {
    /// The entry was stored under this id.
    Added(String),
    /// An event with the same key was appended within the deduplication time to live: nothing
    /// was stored.
    Duplicate,
}

/// What [`InboxStore::append_and_read`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AppendedAndRead {
    /// The entry was stored under this id and is already pending for the consumer, as if it
    /// had [`read`](InboxStore::read) it: the consumer handles and acknowledges it.
    Read(String),
    /// The entry was stored under `id` and left for a later [`read`](InboxStore::read). `older`,
    /// when set, is an entry stored earlier and never read, which became pending for the
    /// consumer in its place (the store hands out its oldest unread entry first).
    Stored {
        /// The new entry's id.
        id: String,
        /// An older entry now pending for the consumer.
        older: Option<InboxEntry>,
    },
    /// An event with the same key was appended within the deduplication time to live: nothing
    /// was stored.
    Duplicate,
}

storage_hook_error!(
    /// Why an [`InboxStore`] failed.
    InboxError,
    "inbox store"
);

/// A durable log of verified events with a consumer group; see the [module docs](self).
///
/// Every method may be called from several replicas at once; an implementation makes
/// `append` (deduplicate, then store) and `ack` atomic.
pub trait InboxStore: Send + Sync + 'static {
    /// Stores an event under `key` unless an event with that key was appended within the
    /// store's deduplication time to live.
    ///
    /// # Errors
    /// When the store cannot be reached: the event is not stored (answer the portal an error).
    fn append(
        &self,
        key: &str,
        member_id: &MemberId,
        payload: &str,
    ) -> impl Future<Output = Result<Appended, InboxError>> + Send;

    /// [`append`](Self::append)s an event and, in the same step, reads the oldest unread entry
    /// for `consumer` (the new one, unless older entries were never read), so the replica whose
    /// receiver stored the event handles it without reading it back. The default appends and
    /// leaves the entry for [`read`](Self::read) ([`AppendedAndRead::Stored`]).
    ///
    /// # Errors
    /// As [`append`](Self::append).
    fn append_and_read(
        &self,
        key: &str,
        member_id: &MemberId,
        payload: &str,
        consumer: &str,
    ) -> impl Future<Output = Result<AppendedAndRead, InboxError>> + Send {
        let _ = consumer;
        let appended = self.append(key, member_id, payload);
        async move {
            Ok(match appended.await? {
                Appended::Added(id) => AppendedAndRead::Stored { id, older: None },
                Appended::Duplicate => AppendedAndRead::Duplicate,
            })
        }
    }

    /// Up to `max` entries never read by any consumer, now pending for `consumer`, oldest
    /// first; waits up to `wait` for one when there is none.
    ///
    /// # Errors
    /// When the store cannot be reached.
    fn read(
        &self,
        consumer: &str,
        max: usize,
        wait: Duration,
    ) -> impl Future<Output = Result<Vec<InboxEntry>, InboxError>> + Send;

    /// Up to `max` entries pending for `consumer` (read before and not acknowledged, e.g.
    /// before a restart) with an id above `after` (from the first when `None`), oldest first.
    ///
    /// # Errors
    /// When the store cannot be reached.
    fn pending(
        &self,
        consumer: &str,
        after: Option<&str>,
        max: usize,
    ) -> impl Future<Output = Result<Vec<InboxEntry>, InboxError>> + Send;

    /// Takes up to `max` entries pending for *other* consumers that none touched for
    /// `min_idle` (their replica died): they become pending for `consumer`.
    ///
    /// # Errors
    /// When the store cannot be reached.
    fn claim(
        &self,
        consumer: &str,
        min_idle: Duration,
        max: usize,
    ) -> impl Future<Output = Result<Vec<InboxEntry>, InboxError>> + Send;

    /// `consumer` is still working on entries `ids`: resets their idle time, so no replica
    /// claims them. Ids no longer pending for `consumer` are left alone.
    ///
    /// # Errors
    /// When the store cannot be reached.
    fn touch(
        &self,
        consumer: &str,
        ids: &[String],
    ) -> impl Future<Output = Result<(), InboxError>> + Send;

    /// The entry was handled: removes it.
    ///
    /// # Errors
    /// When the store cannot be reached (the entry stays pending and is handled again).
    fn ack(&self, id: &str) -> impl Future<Output = Result<(), InboxError>> + Send;

    /// The entries were handled: removes them all, in one call to the store where it can
    /// (the durable consumer acknowledges what finished together this way). The default
    /// [`ack`](Self::ack)s them one by one.
    ///
    /// # Errors
    /// When the store cannot be reached (entries not removed stay pending and are handled
    /// again).
    fn ack_all(&self, ids: &[String]) -> impl Future<Output = Result<(), InboxError>> + Send {
        async move {
            for id in ids {
                self.ack(id).await?;
            }
            Ok(())
        }
    }

    /// The entry failed for good: moves it to the store's list of failed entries with
    /// `reason`, for an operator to look at.
    ///
    /// # Errors
    /// When the store cannot be reached (the entry stays pending and is handled again).
    fn fail(&self, id: &str, reason: &str) -> impl Future<Output = Result<(), InboxError>> + Send;
}

/// A shared store is a store: replicas in one process (or tests) may share one `Arc`.
impl<S: InboxStore> InboxStore for std::sync::Arc<S> {
    fn append(
        &self,
        key: &str,
        member_id: &MemberId,
        payload: &str,
    ) -> impl Future<Output = Result<Appended, InboxError>> + Send {
        S::append(self, key, member_id, payload)
    }

    fn append_and_read(
        &self,
        key: &str,
        member_id: &MemberId,
        payload: &str,
        consumer: &str,
    ) -> impl Future<Output = Result<AppendedAndRead, InboxError>> + Send {
        S::append_and_read(self, key, member_id, payload, consumer)
    }

    fn read(
        &self,
        consumer: &str,
        max: usize,
        wait: Duration,
    ) -> impl Future<Output = Result<Vec<InboxEntry>, InboxError>> + Send {
        S::read(self, consumer, max, wait)
    }

    fn pending(
        &self,
        consumer: &str,
        after: Option<&str>,
        max: usize,
    ) -> impl Future<Output = Result<Vec<InboxEntry>, InboxError>> + Send {
        S::pending(self, consumer, after, max)
    }

    fn claim(
        &self,
        consumer: &str,
        min_idle: Duration,
        max: usize,
    ) -> impl Future<Output = Result<Vec<InboxEntry>, InboxError>> + Send {
        S::claim(self, consumer, min_idle, max)
    }

    fn touch(
        &self,
        consumer: &str,
        ids: &[String],
    ) -> impl Future<Output = Result<(), InboxError>> + Send {
        S::touch(self, consumer, ids)
    }

    fn ack(&self, id: &str) -> impl Future<Output = Result<(), InboxError>> + Send {
        S::ack(self, id)
    }

    fn ack_all(&self, ids: &[String]) -> impl Future<Output = Result<(), InboxError>> + Send {
        S::ack_all(self, ids)
    }

    fn fail(&self, id: &str, reason: &str) -> impl Future<Output = Result<(), InboxError>> + Send {
        S::fail(self, id, reason)
    }
}
