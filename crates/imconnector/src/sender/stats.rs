//! Counters of what a sender did, for dashboards and benchmarks.

use std::sync::atomic::{AtomicU64, Ordering};

use super::SendOutcome;

/// What a [`Sender`](super::Sender) has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SenderStats {
    /// HTTP requests made (a `batch` counts once).
    pub requests: u64,
    /// `imconnector.send.messages` calls made (inside batches or not).
    pub calls: u64,
    /// Messages reported stored.
    pub stored: u64,
    /// Messages the portal refused one by one.
    pub rejected: u64,
    /// Messages certainly not in the portal.
    pub failed: u64,
    /// Messages whose outcome is unknown.
    pub unknown: u64,
    /// Messages never sent because the sender stopped first (or another process took them).
    pub not_sent: u64,
    /// Submissions refused as duplicates of a message the outbox holds or lately sent.
    pub duplicates: u64,
    /// Entries found in flight when the sender started or adopted them: maybe in the portal.
    pub in_doubt: u64,
}

impl SenderStats {
    /// Messages with an outcome.
    pub fn reported(&self) -> u64 {
        self.stored + self.rejected + self.failed + self.unknown + self.not_sent + self.duplicates
    }
}

/// The live counters, shared by the sender and its background task.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    requests: AtomicU64,
    calls: AtomicU64,
    stored: AtomicU64,
    rejected: AtomicU64,
    failed: AtomicU64,
    unknown: AtomicU64,
    not_sent: AtomicU64,
    duplicates: AtomicU64,
    in_doubt: AtomicU64,
}

impl Counters {
    pub(crate) fn request(&self, calls: usize) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.calls
            .fetch_add(u64::try_from(calls).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    pub(crate) fn outcome(&self, outcome: &SendOutcome) {
        let counter = match outcome {
            SendOutcome::Stored(_) => &self.stored,
            SendOutcome::Rejected(_) => &self.rejected,
            SendOutcome::Failed(_) => &self.failed,
            SendOutcome::Unknown(_) => &self.unknown,
            SendOutcome::NotSent { .. } => &self.not_sent,
            SendOutcome::Duplicate(_) => &self.duplicates,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn in_doubt(&self, entries: usize) {
        self.in_doubt.fetch_add(
            u64::try_from(entries).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    pub(crate) fn snapshot(&self) -> SenderStats {
        SenderStats {
            requests: self.requests.load(Ordering::Relaxed),
            calls: self.calls.load(Ordering::Relaxed),
            stored: self.stored.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            unknown: self.unknown.load(Ordering::Relaxed),
            not_sent: self.not_sent.load(Ordering::Relaxed),
            duplicates: self.duplicates.load(Ordering::Relaxed),
            in_doubt: self.in_doubt.load(Ordering::Relaxed),
        }
    }
}
