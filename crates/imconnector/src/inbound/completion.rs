//! The end of one submitted event: its ticket is told the outcome, its key is recorded as
//! handled (or forgotten), and the pipeline counts it done (for the drain) and frees its room.

use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{oneshot, watch, OwnedSemaphorePermit};

use super::dedup::Dedup;
use super::{DedupKey, Outcome};

/// Held by whatever part of the pipeline has the event; dropping it unfinished (a runtime
/// shutting down) tells the ticket [`Outcome::Abandoned`].
pub(crate) struct Completion {
    done: Option<oneshot::Sender<Outcome>>,
    unfinished: watch::Sender<usize>,
    _room: OwnedSemaphorePermit,
    /// The pipeline's keys and this event's: handled once the event is (handler and
    /// confirmation), forgotten when it fails or is abandoned, so a later submission runs it.
    dedup: (Arc<Mutex<Dedup>>, DedupKey),
}

impl Completion {
    /// Counts one more unfinished event until this is finished or dropped.
    pub(crate) fn new(
        done: oneshot::Sender<Outcome>,
        unfinished: watch::Sender<usize>,
        room: OwnedSemaphorePermit,
        dedup: (Arc<Mutex<Dedup>>, DedupKey),
    ) -> Self {
        unfinished.send_modify(|count| *count += 1);
        Self {
            done: Some(done),
            unfinished,
            _room: room,
            dedup,
        }
    }

    pub(crate) fn finish(mut self, outcome: Outcome) {
        {
            let (dedup, key) = &self.dedup;
            let mut dedup = dedup.lock().unwrap_or_else(PoisonError::into_inner);
            if outcome == Outcome::Handled {
                dedup.handled(key);
            } else {
                dedup.forget(key);
            }
        }
        if let Some(done) = self.done.take() {
            // The source may have stopped waiting: nothing to tell then.
            let _ = done.send(outcome);
        }
    }
}

impl Drop for Completion {
    fn drop(&mut self) {
        if self.done.is_some() {
            // Abandoned (its runtime shut down): not handled.
            let (dedup, key) = &self.dedup;
            dedup
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .forget(key);
        }
        self.unfinished
            .send_modify(|count| *count = count.saturating_sub(1));
    }
}
