//! The outbox as the sender holds it: any [`Outbox`] behind one non-generic handle, and the
//! name this sender uses in it.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use imconnector_transport::outbox::{
    Appended, EntryId, Finished, NewEntry, Outbox, OutboxError, StoredEntry,
};

type Boxed<'a, T> = Pin<Box<dyn Future<Output = Result<T, OutboxError>> + Send + 'a>>;

/// [`Outbox`] with boxed futures, so [`Sender`](super::Sender) needs no type parameter.
pub(crate) trait DynOutbox: Send + Sync + 'static {
    fn is_durable(&self) -> bool;
    fn recover<'a>(&'a self, consumer: &'a str, lease: Duration) -> Boxed<'a, Vec<StoredEntry>>;
    fn keep_alive<'a>(&'a self, consumer: &'a str, lease: Duration) -> Boxed<'a, Vec<StoredEntry>>;
    fn append<'a>(&'a self, consumer: &'a str, entry: &'a NewEntry) -> Boxed<'a, Appended>;
    fn mark_in_flight<'a>(
        &'a self,
        consumer: &'a str,
        ids: &'a [EntryId],
    ) -> Boxed<'a, Vec<EntryId>>;
    fn requeue<'a>(&'a self, consumer: &'a str, ids: &'a [EntryId]) -> Boxed<'a, ()>;
    fn finish<'a>(&'a self, consumer: &'a str, finished: &'a [Finished]) -> Boxed<'a, ()>;
    fn leave<'a>(&'a self, consumer: &'a str) -> Boxed<'a, ()>;
}

impl<O: Outbox> DynOutbox for O {
    fn is_durable(&self) -> bool {
        Outbox::is_durable(self)
    }
    fn recover<'a>(&'a self, consumer: &'a str, lease: Duration) -> Boxed<'a, Vec<StoredEntry>> {
        Box::pin(Outbox::recover(self, consumer, lease))
    }
    fn keep_alive<'a>(&'a self, consumer: &'a str, lease: Duration) -> Boxed<'a, Vec<StoredEntry>> {
        Box::pin(Outbox::keep_alive(self, consumer, lease))
    }
    fn append<'a>(&'a self, consumer: &'a str, entry: &'a NewEntry) -> Boxed<'a, Appended> {
        Box::pin(Outbox::append(self, consumer, entry))
    }
    fn mark_in_flight<'a>(
        &'a self,
        consumer: &'a str,
        ids: &'a [EntryId],
    ) -> Boxed<'a, Vec<EntryId>> {
        Box::pin(Outbox::mark_in_flight(self, consumer, ids))
    }
    fn requeue<'a>(&'a self, consumer: &'a str, ids: &'a [EntryId]) -> Boxed<'a, ()> {
        Box::pin(Outbox::requeue(self, consumer, ids))
    }
    fn finish<'a>(&'a self, consumer: &'a str, finished: &'a [Finished]) -> Boxed<'a, ()> {
        Box::pin(Outbox::finish(self, consumer, finished))
    }
    fn leave<'a>(&'a self, consumer: &'a str) -> Boxed<'a, ()> {
        Box::pin(Outbox::leave(self, consumer))
    }
}

/// A consumer name no other sender uses: the process id, the start time and a counter.
pub(crate) fn unique_consumer_name() -> String {
    static STARTED: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos());
    format!(
        "sender-{}-{nanos:x}-{}",
        std::process::id(),
        STARTED.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs `attempt` until it succeeds, waiting longer after each failure (up to 5 s), or gives
/// up after `tries` (`None`: never).
pub(crate) async fn persist<T, F, Fut>(
    what: &'static str,
    tries: Option<u32>,
    mut attempt: F,
) -> Result<T, OutboxError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, OutboxError>>,
{
    let mut pause = Duration::from_millis(50);
    let mut tried = 0;
    loop {
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(error) => {
                tried += 1;
                if tries.is_some_and(|tries| tried >= tries) {
                    return Err(error);
                }
                tracing::warn!(%error, what, "the sender's outbox failed; trying again");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// What the sender's tasks share: the client, the outbox and this sender's name in it.
pub(crate) struct Shared {
    pub(crate) client: imconnector_transport::Client,
    pub(crate) connector: imconnector_api::ids::ConnectorId,
    pub(crate) stats: std::sync::Arc<super::stats::Counters>,
    pub(crate) outbox: std::sync::Arc<dyn DynOutbox>,
    pub(crate) consumer: std::sync::Arc<str>,
}

impl Shared {
    /// Whether what the outbox holds survives the process.
    pub(crate) fn kept(&self) -> bool {
        self.outbox.is_durable()
    }
}
