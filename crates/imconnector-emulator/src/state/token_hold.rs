//! Holding the next request to `/oauth/token/` at the door, so a test chooses the moment a
//! refresh is in flight (to stop a store, or expire tokens again, meanwhile).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

/// The meeting point of a held request and its [`TokenRequestHold`].
#[derive(Debug, Default)]
pub(crate) struct HoldGate {
    arrived: AtomicBool,
    arrival: Notify,
    release: Notify,
}

impl HoldGate {
    /// Run by the held request: says it arrived, then waits for the release.
    pub(crate) async fn hold(&self) {
        self.arrived.store(true, Ordering::SeqCst);
        self.arrival.notify_waiters();
        self.release.notified().await;
    }
}

/// The next request to `/oauth/token/`, held before anything is redeemed until
/// [`release`](Self::release)d (dropping the hold releases it too). From
/// [`EmulatorHandle::hold_next_token_request`](crate::EmulatorHandle::hold_next_token_request).
#[derive(Debug)]
#[must_use = "dropping the hold releases the request at once"]
pub struct TokenRequestHold {
    gate: Arc<HoldGate>,
}

impl TokenRequestHold {
    pub(crate) fn new(gate: Arc<HoldGate>) -> Self {
        Self { gate }
    }

    /// Resolves once the held request has arrived (at once if it already has).
    pub async fn arrived(&self) {
        loop {
            // Made before the flag is read, so a notification in between is not missed.
            let arrival = self.gate.arrival.notified();
            if self.gate.arrived.load(Ordering::SeqCst) {
                return;
            }
            arrival.await;
        }
    }

    /// Whether the held request has arrived.
    pub fn has_arrived(&self) -> bool {
        self.gate.arrived.load(Ordering::SeqCst)
    }

    /// Lets the held request go on.
    pub fn release(self) {}
}

impl Drop for TokenRequestHold {
    fn drop(&mut self) {
        // `notify_one` keeps a permit: a request arriving after the release passes at once.
        self.gate.release.notify_one();
    }
}
