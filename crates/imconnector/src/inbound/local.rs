//! The events this process's receiver appended to the durable inbox, on their way to its
//! consumer without being read back from the store.
//!
//! The receiver appends with [`InboxStore::append_and_read`], which makes the new entry pending
//! for this consumer in the same step (Redis: one script, `XADD` then `XREADGROUP`). The
//! receiver then [hands over](LocalIntake::hand_over) the decoded event to a bounded queue that
//! a task of the consumer submits to the pipeline; the consumer acknowledges it like any entry
//! it read. The store stays the truth: an entry pending for this consumer that never reached
//! the queue (the queue was full, the store read an older entry instead of the new one, or the
//! process stopped) is found by the consumer's next scan of its own pending entries, at the
//! latest after a restart, or taken by another replica once idle.
//!
//! [`InboxStore::append_and_read`]: imconnector_transport::inbox::InboxStore::append_and_read

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use imconnector_api::events::Event;
use imconnector_api::ids::MemberId;
use tokio::sync::{mpsc, watch};

use super::handoff::Handoff;
use super::{DedupKey, EventHandler, Inbound, PortalClients, Ticket};

/// How many handed-over events wait for the consumer's task; past that they wait in the store.
pub(crate) const QUEUED: usize = 4_096;

/// The entries this consumer has submitted (or queued) and not yet acknowledged.
pub(crate) type Working = Arc<Mutex<HashSet<String>>>;

/// Submitted entries and their tickets, on their way to the acknowledging task.
pub(crate) type Finished = mpsc::UnboundedSender<(String, Ticket)>;

/// An entry pending for this consumer, with its event decoded by the receiver.
pub(crate) struct Local {
    id: String,
    key: DedupKey,
    member_id: MemberId,
    event: Event,
}

/// What the receiver and the consumer of one process share; see the [module docs](self).
pub(crate) struct LocalIntake {
    consumer: String,
    queue: mpsc::Sender<Local>,
    working: Working,
    /// An entry pending for this consumer is neither queued nor submitted: the consumer scans
    /// its pending entries.
    missed: AtomicBool,
    /// Decoded events appended here but left for a read (see [`Handoff`]).
    handoff: Handoff,
}

impl LocalIntake {
    /// An intake for consumer `consumer`, and the queue's receiving end for [`feed`].
    pub(crate) fn new(consumer: String) -> (Self, mpsc::Receiver<Local>) {
        let (queue, queued) = mpsc::channel(QUEUED);
        let intake = Self {
            consumer,
            queue,
            working: Working::default(),
            missed: AtomicBool::new(false),
            handoff: Handoff::default(),
        };
        (intake, queued)
    }

    /// The consumer's name, which the receiver appends for.
    #[cfg_attr(not(feature = "server"), allow(dead_code))] // used by the receiver (`server`)
    pub(crate) fn consumer(&self) -> &str {
        &self.consumer
    }

    /// The entries in work, shared with the consumer.
    pub(crate) fn working(&self) -> &Working {
        &self.working
    }

    /// Entry `id`, now pending for this consumer, goes to its task with its decoded event.
    #[cfg_attr(not(feature = "server"), allow(dead_code))] // used by the receiver (`server`)
    pub(crate) fn hand_over(&self, id: String, key: DedupKey, member_id: MemberId, event: Event) {
        // In work before it is queued, so the consumer's scan of its pending entries skips it.
        lock(&self.working).insert(id.clone());
        let local = Local {
            id,
            key,
            member_id,
            event,
        };
        if let Err(error) = self.queue.try_send(local) {
            let local = error.into_inner();
            lock(&self.working).remove(&local.id);
            self.missed.store(true, Ordering::Release);
        }
    }

    /// Entry `id` was appended here and left for a read: its event is kept decoded for it.
    #[cfg_attr(not(feature = "server"), allow(dead_code))] // used by the receiver (`server`)
    pub(crate) fn keep(&self, id: String, event: Event) {
        self.handoff.keep(id, event);
    }

    /// An older entry became pending for this consumer in place of the one appended: the
    /// consumer's next scan of its pending entries submits it.
    #[cfg_attr(not(feature = "server"), allow(dead_code))] // used by the receiver (`server`)
    pub(crate) fn missed_one(&self) {
        self.missed.store(true, Ordering::Release);
    }

    /// Whether an entry was missed since the last call (and forgets it).
    pub(crate) fn take_missed(&self) -> bool {
        self.missed.swap(false, Ordering::AcqRel)
    }

    /// The decoded event of entry `id`, if appended here and still kept.
    pub(crate) fn take_kept(&self, id: &str) -> Option<Event> {
        self.handoff.take(id)
    }
}

/// The consumer's task for handed-over entries: submits them to the pipeline in the order
/// queued and passes their tickets on to the acknowledging task. Stops with the pipeline; what
/// is still queued then stays pending in the store for the next start.
pub(crate) async fn feed<H: EventHandler, C: PortalClients>(
    pipeline: Inbound<H, C>,
    mut queued: mpsc::Receiver<Local>,
    finished: Finished,
    mut stopping: watch::Receiver<bool>,
) {
    let mut batch = Vec::new();
    while !*stopping.borrow() {
        let received = tokio::select! {
            received = queued.recv_many(&mut batch, 64) => received,
            _ = stopping.changed() => break,
        };
        if received == 0 {
            break;
        }
        for local in batch.drain(..) {
            let submitted = pipeline
                .submit(local.key, local.member_id, local.event)
                .await;
            let Ok(ticket) = submitted else {
                // Shut down: the entry stays pending for the next start.
                return;
            };
            // The acknowledging task runs until every sender is gone: this cannot fail.
            let _ = finished.send((local.id, ticket));
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Shared ownership, as the receiver and the consumer hold it.
pub(crate) type SharedIntake = Arc<LocalIntake>;

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> Event {
        let body = r#"{"event":"ONIMCONNECTORLINEDELETE","data":1,"ts":1,"auth":{"application_token":"verified","member_id":"m","domain":"x.bitrix24.com"}}"#;
        Event::from_json(body.as_bytes()).expect("a valid event")
    }

    #[test]
    fn an_entry_the_full_queue_cannot_take_is_left_to_the_pending_scan() {
        let (intake, _queued) = LocalIntake::new("replica-1".to_owned());
        let member = MemberId::from("m");
        for index in 0..=QUEUED {
            let key = DedupKey::new(format!("m:ONIMCONNECTORLINEDELETE:{index}"));
            intake.hand_over(format!("{index}-0"), key, member.clone(), event());
        }
        assert!(intake.take_missed(), "the consumer is told to scan");
        assert!(!intake.take_missed(), "once");
        let working = lock(intake.working());
        assert_eq!(working.len(), QUEUED, "the queued ones are in work");
        assert!(
            !working.contains(&format!("{QUEUED}-0")),
            "the one left out is not, so the scan submits it"
        );
    }
}
