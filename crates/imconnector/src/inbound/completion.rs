//! The end of one submitted event: its ticket is told the outcome, and the pipeline counts it
//! done (for the drain) and frees its room.

use tokio::sync::{oneshot, watch, OwnedSemaphorePermit};

use super::Outcome;

/// Held by whatever part of the pipeline has the event; dropping it unfinished (a runtime
/// shutting down) tells the ticket [`Outcome::Abandoned`].
pub(crate) struct Completion {
    done: Option<oneshot::Sender<Outcome>>,
    unfinished: watch::Sender<usize>,
    _room: OwnedSemaphorePermit,
}

impl Completion {
    /// Counts one more unfinished event until this is finished or dropped.
    pub(crate) fn new(
        done: oneshot::Sender<Outcome>,
        unfinished: watch::Sender<usize>,
        room: OwnedSemaphorePermit,
    ) -> Self {
        unfinished.send_modify(|count| *count += 1);
        Self {
            done: Some(done),
            unfinished,
            _room: room,
        }
    }

    pub(crate) fn finish(mut self, outcome: Outcome) {
        if let Some(done) = self.done.take() {
            // The source may have stopped waiting: nothing to tell then.
            let _ = done.send(outcome);
        }
    }
}

impl Drop for Completion {
    fn drop(&mut self) {
        self.unfinished
            .send_modify(|count| *count = count.saturating_sub(1));
    }
}
