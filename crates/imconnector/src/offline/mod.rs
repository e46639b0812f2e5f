//! The offline event poller (feature `server`): reads each portal's offline event queue
//! (`event.offline.*`, events bound with [`EventDelivery::Offline`](crate::EventDelivery)) and
//! feeds every row, as the same typed [`Event`](crate::events::Event) the online receiver
//! decodes, into the [inbound pipeline](crate::inbound) that runs your [`EventHandler`].
//!
//! Bitrix24 never resends an online event, so a handler that is down loses it. An offline
//! event waits on the portal until the app clears it. For each batch the poller
//! 1. loads the portal's `process_id` from the [`OfflineCursorStore`] (a new one is stored
//!    *before* the portal reserves anything under it);
//! 2. calls `event.offline.get` with `clear=0` and that `process_id`: the portal hides the
//!    rows it returns from other readers, and returns them again to this `process_id`, so a
//!    restarted poller resumes the rows it had not settled;
//! 3. submits the rows in queue order to its [`Inbound`] pipeline, each under
//!    [`DedupKey::offline`](crate::inbound::DedupKey::offline) (portal + event + `MESSAGE_ID`): the pipeline runs the handler one
//!    row at a time per chat (chats in parallel), bounded, with a timeout and retries, a panic
//!    caught, a row it handled lately not run again; it confirms the operator messages the
//!    handler reports sent, packed per portal into `batch` calls (not one call per reply) and
//!    sent again until they succeed;
//! 4. waits for each row's outcome, then `event.offline.clear`s by `MESSAGE_ID` the rows whose
//!    handler succeeded and whose confirmation was sent (or was a duplicate of one that was),
//!    and marks those whose handler failed on every attempt with `event.offline.error`: they stay
//!    in the queue, set aside (see [`OfflinePoller::retry_failed`]). A row whose outcome is not
//!    known (the pipeline shut down) stays reserved under the `process_id` for the next batch.
//!
//! # What a crash loses or runs again
//!
//! Nothing is lost: a row leaves the portal's queue only once it was handled and confirmed.
//! Delivery to the handler is *at least once*: a crash (or a kill, or a deploy) after the
//! handler's effect and before the `clear` hands the row over again after the restart, and
//! the pipeline's deduplication lives in memory, so the new process runs the handler again for
//! it, with the same [`DedupKey`](crate::inbound::DedupKey) (see [`EventHandler::event`]):
//! key the effect by it (e.g. `SET key NX` in Redis with the effect, or a unique index) to make
//! it happen once. Within one process a row seen again (a `clear` call that failed, a portal
//! re-added mid-batch) is a [duplicate](crate::inbound::Outcome::Duplicate): cleared without
//! running the handler again. Keep the cursor store durable (imconnector-redis:
//! `RedisOfflineCursors`): a lost `process_id` leaves its rows hidden until the portal purges
//! them.
//!
//! Many portals: each has a task; at most [`max_concurrent_portals`](OfflinePoller::max_concurrent_portals)
//! batches run at once, and a portal with more rows queues again behind the others after each
//! batch (a fair semaphore: round robin). One pipeline serves every portal. Each portal's calls
//! (polling, clearing, and its confirmations, through [`OfflineClients`]) go through the
//! portal's [`Client`], so they share the portal's bucket with each other and with the sender. A
//! portal is read when [`OfflinePoller::wake`] is called (from
//! [`EventHandler::offline_queue_change`], when `OnOfflineEvent` is bound to your handler URL)
//! and otherwise every [`interval`](OfflinePoller::interval).
//!
//! ```no_run
//! use std::time::Duration;
//! use imconnector::inbound::InboundOptions;
//! use imconnector::offline::OfflinePoller;
//! use imconnector::receiver::EventHandler;
//! use imconnector::transport::{Client, MemberId, MemoryOfflineCursors};
//!
//! struct Connector;
//! impl EventHandler for Connector {}
//!
//! # async fn run(client: Client) -> Result<(), Box<dyn std::error::Error>> {
//! // Use a durable cursor store in production (imconnector-redis: `RedisOfflineCursors`).
//! let poller = OfflinePoller::new(Connector, MemoryOfflineCursors::new())
//!     .options(InboundOptions::new().handler_timeout(Duration::from_secs(30))?);
//! poller.add_portal(MemberId::from("bac1cd5c"), "some.bitrix24.com", client);
//! // ... on shutdown: finish the batches in flight, up to a deadline.
//! let drained = poller.shutdown(Duration::from_secs(10)).await;
//! # let _ = drained;
//! # Ok(())
//! # }
//! ```

mod batch;
mod portals;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use imconnector_transport::{Client, MemberId, OfflineCursorError, OfflineCursorStore};
use tokio::sync::{watch, Notify, Semaphore};
use tokio::task::JoinHandle;

use crate::inbound::{Drained, Inbound, InboundOptions};
use crate::log_text::untrusted;
use crate::receiver::EventHandler;

pub use portals::OfflineClients;
use portals::{PortalEntry, PortalShared};

/// How often a portal is read without a wake-up, by default.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
/// Rows per `event.offline.get`, by default (the portal's own default and page size).
pub const DEFAULT_BATCH_SIZE: u64 = 50;
/// Batches in flight at once across all portals, by default.
pub const DEFAULT_MAX_CONCURRENT_PORTALS: usize = 4;

/// Why a batch failed. The rows stay reserved under the stored `process_id`: the next batch
/// reads them again (and the pipeline knows the ones it handled: they are not run again).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OfflineError {
    /// The cursor store could not load or save the `process_id`.
    #[error(transparent)]
    Cursor(#[from] OfflineCursorError),
    /// A call to the portal failed.
    #[error("offline event call failed: {0}")]
    Portal(#[source] imconnector_transport::Error),
    /// The portal was not added to this poller.
    #[error("the portal is not polled")]
    UnknownPortal,
}

/// What one batch did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PollReport {
    /// The process the rows were reserved under.
    pub process_id: String,
    /// How many rows the portal returned.
    pub rows: usize,
    /// `MESSAGE_ID`s handled (and their deliveries confirmed) and cleared.
    pub handled: Vec<String>,
    /// The part of `handled` the pipeline had handled already (a row seen again): cleared
    /// without running the handler again.
    pub duplicates: Vec<String>,
    /// `MESSAGE_ID`s whose handling failed on every attempt (error, panic, timeout) or that do
    /// not decode, marked failed.
    pub failed: Vec<String>,
    /// `MESSAGE_ID`s whose outcome is not known (the pipeline shut down, or the same row is
    /// still running from an earlier batch): left reserved for the next batch.
    pub left: Vec<String>,
}

/// Settings shared by every portal's task.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) interval: Duration,
    pub(crate) batch_size: u64,
    pub(crate) confirm_deliveries: bool,
    pub(crate) options: InboundOptions,
}

/// What the poller's tasks share.
pub(crate) struct Inner<H, S> {
    pub(crate) pipeline: Inbound<H, OfflineClients>,
    pub(crate) cursors: S,
    pub(crate) settings: Settings,
    portals: OfflineClients,
    permits: Semaphore,
    stop: watch::Sender<bool>,
    wakers: OfflineWaker,
}

/// Reads the offline event queues of many portals into one inbound pipeline; see the
/// [module docs](self).
///
/// Cheap to clone: clones share the portals, tasks and pipeline.
pub struct OfflinePoller<H, S> {
    inner: Arc<Inner<H, S>>,
}

impl<H, S> Clone for OfflinePoller<H, S> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<H, S> std::fmt::Debug for OfflinePoller<H, S> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("OfflinePoller")
            .field("settings", &self.inner.settings)
            .field("portals", &self.inner.portals)
            .finish_non_exhaustive()
    }
}

impl<H: EventHandler, S: OfflineCursorStore> OfflinePoller<H, S> {
    /// A poller handing rows to `handler` through a pipeline of its own (default
    /// [`InboundOptions`], deliveries confirmed), keeping each portal's `process_id` in
    /// `cursors`, with the default settings (constants of this module). Add portals with
    /// [`add_portal`](Self::add_portal).
    pub fn new(handler: H, cursors: S) -> Self {
        Self::with_settings(
            Arc::new(handler),
            cursors,
            Settings {
                interval: DEFAULT_INTERVAL,
                batch_size: DEFAULT_BATCH_SIZE,
                confirm_deliveries: true,
                options: InboundOptions::default(),
            },
            DEFAULT_MAX_CONCURRENT_PORTALS,
        )
    }

    fn with_settings(handler: Arc<H>, cursors: S, settings: Settings, permits: usize) -> Self {
        let (stop, _) = watch::channel(false);
        let portals = OfflineClients::default();
        let pipeline = Inbound::from_shared(
            handler,
            settings.confirm_deliveries.then(|| portals.clone()),
            settings.options.clone(),
        );
        Self {
            inner: Arc::new(Inner {
                pipeline,
                cursors,
                settings,
                portals,
                permits: Semaphore::new(permits.max(1)),
                stop,
                wakers: OfflineWaker::default(),
            }),
        }
    }

    /// The settings change before anything runs: the poller (and its pipeline) is built again
    /// around the same handler and cursor store.
    fn rebuilt(self, change: impl FnOnce(&mut Settings), permits: Option<usize>) -> Self {
        let permits = permits.unwrap_or_else(|| self.inner.permits.available_permits());
        let mut settings = self.inner.settings.clone();
        change(&mut settings);
        match Arc::try_unwrap(self.inner) {
            Ok(inner) => Self::with_settings(
                inner.pipeline.shared_handler(),
                inner.cursors,
                settings,
                permits,
            ),
            Err(inner) => {
                tracing::warn!("poller settings changed after the poller was shared; ignored");
                Self { inner }
            }
        }
    }

    /// How often a portal is read when nothing wakes it (default [`DEFAULT_INTERVAL`]). Set it
    /// before adding portals.
    #[must_use]
    pub fn interval(self, interval: Duration) -> Self {
        self.rebuilt(|settings| settings.interval = interval, None)
    }

    /// Rows per batch, 1 to 50 (default [`DEFAULT_BATCH_SIZE`]).
    #[must_use]
    pub fn batch_size(self, rows: u64) -> Self {
        self.rebuilt(|settings| settings.batch_size = rows.clamp(1, 50), None)
    }

    /// Batches in flight at once across all portals, at least 1 (default
    /// [`DEFAULT_MAX_CONCURRENT_PORTALS`]).
    #[must_use]
    pub fn max_concurrent_portals(self, batches: usize) -> Self {
        self.rebuilt(|_| {}, Some(batches.max(1)))
    }

    /// The pipeline's bounds, handler timeout, attempts, deduplication and confirmation
    /// gathering (default [`InboundOptions::default`]). Set it before adding portals.
    #[must_use]
    pub fn options(self, options: InboundOptions) -> Self {
        self.rebuilt(|settings| settings.options = options, None)
    }

    /// Whether the messages [`EventHandler::message_add`] reports sent are confirmed with
    /// `imconnector.send.status.delivery` by the pipeline (default `true`).
    #[must_use]
    pub fn confirm_deliveries(self, confirm: bool) -> Self {
        self.rebuilt(|settings| settings.confirm_deliveries = confirm, None)
    }

    /// The pipeline the rows go through (e.g. for its [`room`](Inbound::room)). Feeding it
    /// events of another source is possible; its confirmations use the polled portals'
    /// clients only.
    pub fn pipeline(&self) -> &Inbound<H, OfflineClients> {
        &self.inner.pipeline
    }

    /// Starts reading portal `member_id` (whose domain is `domain`) through `client`, at once
    /// and then on every wake-up or interval; the portal's delivery confirmations go through
    /// `client` too. Adding a portal again replaces its client (and restarts its task: the new
    /// task resumes the stored `process_id`).
    pub fn add_portal(&self, member_id: MemberId, domain: impl Into<String>, client: Client) {
        self.insert_portal(member_id, domain.into(), client, true);
    }

    /// Adds portal `member_id` without a task of its own: it is read only by
    /// [`poll_now`](Self::poll_now) and [`retry_failed`](Self::retry_failed), e.g. from your own
    /// scheduler.
    pub fn add_portal_without_task(
        &self,
        member_id: MemberId,
        domain: impl Into<String>,
        client: Client,
    ) {
        self.insert_portal(member_id, domain.into(), client, false);
    }

    fn insert_portal(&self, member_id: MemberId, domain: String, client: Client, task: bool) {
        let entry = Arc::new(PortalEntry {
            client,
            domain,
            wake: Arc::new(Notify::new()),
        });
        self.inner
            .wakers
            .insert(member_id.clone(), Arc::clone(&entry.wake));
        let task = task.then(|| {
            tokio::spawn(portal_loop(
                Arc::clone(&self.inner),
                member_id.clone(),
                Arc::clone(&entry),
            ))
        });
        let replaced = self
            .inner
            .portals
            .lock()
            .insert(member_id, PortalShared { entry, task });
        if let Some(task) = replaced.and_then(|old| old.task) {
            task.abort();
        }
    }

    /// Stops reading portal `member_id` (the rows it had reserved stay reserved under its
    /// stored `process_id`). `false` if it was not polled.
    pub fn remove_portal(&self, member_id: &MemberId) -> bool {
        self.inner.wakers.remove(member_id);
        let removed = self.inner.portals.lock().remove(member_id);
        if let Some(task) = removed.as_ref().and_then(|portal| portal.task.as_ref()) {
            task.abort();
        }
        removed.is_some()
    }

    /// Reads portal `member_id` now (e.g. on `OnOfflineEvent`, see
    /// [`EventHandler::offline_queue_change`]); a wake-up during a batch reads again after it.
    /// `false` if the portal is not polled.
    pub fn wake(&self, member_id: &MemberId) -> bool {
        self.inner.wakers.wake(member_id)
    }

    /// A handle that only wakes portals: give it to your [`EventHandler`] for
    /// `OnOfflineEvent` (the handler cannot hold the poller that holds it).
    pub fn waker(&self) -> OfflineWaker {
        self.inner.wakers.clone()
    }

    /// Runs one batch of portal `member_id` now, beside its task (the portal's bucket paces
    /// both).
    ///
    /// # Errors
    /// [`OfflineError`]; the rows stay reserved for the next batch.
    pub async fn poll_now(&self, member_id: &MemberId) -> Result<PollReport, OfflineError> {
        let entry = self
            .inner
            .portals
            .entry(member_id)
            .ok_or(OfflineError::UnknownPortal)?;
        batch::poll_batch(&self.inner, member_id, &entry, false).await
    }

    /// Reads one batch of the rows marked failed (`event.offline.get` with `error=1`) and
    /// hands them to the pipeline again: cleared when handled now, marked failed again
    /// otherwise. Call it when whatever failed is fixed; failed rows are never lost, only set
    /// aside.
    ///
    /// # Errors
    /// [`OfflineError`].
    pub async fn retry_failed(&self, member_id: &MemberId) -> Result<PollReport, OfflineError> {
        let entry = self
            .inner
            .portals
            .entry(member_id)
            .ok_or(OfflineError::UnknownPortal)?;
        batch::poll_batch(&self.inner, member_id, &entry, true).await
    }

    /// Stops reading and drains: every portal's task settles its batch in flight (clears what
    /// was handled and confirmed), the pipeline finishes what it holds, both up to `deadline`;
    /// tasks still running then are stopped. Rows not cleared stay reserved under their
    /// portal's stored `process_id`, for the next start (which runs their handler again: see
    /// the [module docs](self)).
    pub async fn shutdown(&self, deadline: Duration) -> Drained {
        let until = tokio::time::Instant::now() + deadline;
        self.inner.stop.send_replace(true);
        let tasks: Vec<JoinHandle<()>> = self
            .inner
            .portals
            .lock()
            .values_mut()
            .filter_map(|portal| portal.task.take())
            .collect();
        let drained = self.inner.pipeline.shutdown(deadline).await;
        for mut task in tasks {
            match tokio::time::timeout_at(until, &mut task).await {
                Ok(Err(error)) if error.is_panic() => {
                    tracing::error!("an offline poller task panicked");
                }
                Ok(_) => {}
                Err(_) => {
                    tracing::warn!("an offline poller task did not settle its batch in time; its rows stay reserved");
                    task.abort();
                }
            }
        }
        drained
    }
}

/// Wakes the portals of an [`OfflinePoller`] ([`OfflinePoller::waker`]). Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct OfflineWaker {
    portals: Arc<Mutex<HashMap<MemberId, Arc<Notify>>>>,
}

impl OfflineWaker {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<MemberId, Arc<Notify>>> {
        // Only handles: a panic elsewhere cannot leave the map half-written.
        self.portals.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn insert(&self, member_id: MemberId, wake: Arc<Notify>) {
        self.lock().insert(member_id, wake);
    }

    fn remove(&self, member_id: &MemberId) {
        self.lock().remove(member_id);
    }

    /// Reads portal `member_id` now; see [`OfflinePoller::wake`]. `false` if it is not polled.
    pub fn wake(&self, member_id: &MemberId) -> bool {
        match self.lock().get(member_id) {
            Some(wake) => {
                wake.notify_one();
                true
            }
            None => false,
        }
    }
}

/// One portal's task: drain the queue batch by batch (queueing for a permit before each), then
/// sleep until woken or the interval passes.
async fn portal_loop<H: EventHandler, S: OfflineCursorStore>(
    inner: Arc<Inner<H, S>>,
    member_id: MemberId,
    entry: Arc<PortalEntry>,
) {
    let mut stop = inner.stop.subscribe();
    let mut failures: u32 = 0;
    loop {
        if *stop.borrow() {
            return;
        }
        let outcome = {
            let Ok(_permit) = inner.permits.acquire().await else {
                return;
            };
            batch::poll_batch(&inner, &member_id, &entry, false).await
        };
        let wait = match outcome {
            // A full batch: more rows may wait; queue again behind the other portals.
            Ok(report) if report.rows as u64 >= inner.settings.batch_size => {
                failures = 0;
                tokio::task::yield_now().await;
                continue;
            }
            Ok(_) => {
                failures = 0;
                inner.settings.interval
            }
            Err(error) => {
                failures = failures.saturating_add(1);
                tracing::warn!(member_id = %untrusted(&member_id), error = %untrusted(&error), "reading the offline event queue failed; retrying later");
                // Up to the interval, doubling from one second.
                let backoff = Duration::from_secs(1u64 << failures.min(10));
                backoff.min(inner.settings.interval)
            }
        };
        tokio::select! {
            () = entry.wake.notified() => {}
            () = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
    }
}
