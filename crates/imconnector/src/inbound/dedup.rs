//! The keys this pipeline holds or handled lately, to run each event's handler once.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use tokio::time::Instant;

use super::DedupKey;

/// Where a key stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Seen {
    /// Queued or running in this pipeline.
    Pending,
    /// Handled; remembered until its time to live passes.
    Handled,
}

/// Keys with their state; handled ones expire after `ttl`, and at most `capacity` handled ones
/// are kept (the oldest go first), so memory stays bounded whatever arrives.
#[derive(Debug)]
pub(crate) struct Dedup {
    ttl: Duration,
    capacity: usize,
    keys: HashMap<DedupKey, Seen>,
    /// Handled keys in the order they were handled, with when they expire.
    expiries: VecDeque<(Instant, DedupKey)>,
}

impl Dedup {
    pub(crate) fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            ttl,
            capacity,
            keys: HashMap::new(),
            expiries: VecDeque::new(),
        }
    }

    /// Marks `key` pending unless it is known; returns what it was.
    pub(crate) fn admit(&mut self, key: &DedupKey) -> Option<Seen> {
        self.expire(Instant::now());
        if let Some(seen) = self.keys.get(key) {
            return Some(*seen);
        }
        self.keys.insert(key.clone(), Seen::Pending);
        None
    }

    /// The handler ran for `key`: remember it until the time to live passes.
    pub(crate) fn handled(&mut self, key: &DedupKey) {
        let now = Instant::now();
        self.expire(now);
        self.keys.insert(key.clone(), Seen::Handled);
        self.expiries.push_back((now + self.ttl, key.clone()));
        while self.expiries.len() > self.capacity {
            if let Some((_, oldest)) = self.expiries.pop_front() {
                self.forget_handled(&oldest);
            }
        }
    }

    /// `key` failed for good (or was given back): a later submission may run it again.
    pub(crate) fn forget(&mut self, key: &DedupKey) {
        if self.keys.get(key) == Some(&Seen::Pending) {
            self.keys.remove(key);
        }
    }

    fn expire(&mut self, now: Instant) {
        while let Some((expiry, _)) = self.expiries.front() {
            if *expiry > now {
                break;
            }
            if let Some((_, key)) = self.expiries.pop_front() {
                self.forget_handled(&key);
            }
        }
    }

    /// Removes `key` if it is still the handled one its expiry entry was made for.
    fn forget_handled(&mut self, key: &DedupKey) {
        if self.keys.get(key) == Some(&Seen::Handled) {
            self.keys.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_handled_key_is_a_duplicate_until_its_time_to_live_passes() {
        let mut dedup = Dedup::new(Duration::from_secs(60), 10);
        let key = DedupKey::new("m:ONIMCONNECTORMESSAGEADD:1");
        assert_eq!(dedup.admit(&key), None);
        assert_eq!(dedup.admit(&key), Some(Seen::Pending));
        dedup.handled(&key);
        assert_eq!(dedup.admit(&key), Some(Seen::Handled));
        tokio::time::advance(Duration::from_secs(61)).await;
        assert_eq!(dedup.admit(&key), None, "expired");
    }

    #[test]
    fn a_failed_key_may_run_again_and_the_oldest_handled_go_first() {
        let mut dedup = Dedup::new(Duration::from_secs(60), 2);
        let failed = DedupKey::new("failed");
        dedup.admit(&failed);
        dedup.forget(&failed);
        assert_eq!(dedup.admit(&failed), None);
        for key in ["a", "b", "c"] {
            let key = DedupKey::new(key);
            dedup.admit(&key);
            dedup.handled(&key);
        }
        assert_eq!(dedup.admit(&DedupKey::new("a")), None, "over capacity");
        assert_eq!(dedup.admit(&DedupKey::new("c")), Some(Seen::Handled));
    }
}
