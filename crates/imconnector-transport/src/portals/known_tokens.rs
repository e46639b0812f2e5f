//! The application tokens the store last gave, kept in this process so a short store outage
//! does not refuse every genuine event (the portal never resends one).
//!
//! Only what the store answered or an installation stored enters: an event's own claim never
//! does, so forged POSTs cannot fill it. The number of entries is bounded; beyond it the entry
//! confirmed longest ago goes.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use secrecy::SecretString;

/// How many portals' application tokens a registry keeps by default.
pub const DEFAULT_KNOWN_TOKENS: usize = 10_000;
/// How long after the store last confirmed it a token still stands in for an unreachable store
/// by default.
pub const DEFAULT_KNOWN_TOKEN_AGE: Duration = Duration::from_secs(24 * 3600);

struct Known {
    token: SecretString,
    confirmed: Instant,
}

/// A bounded map `member_id` → the token the store last confirmed, and when.
pub(crate) struct KnownTokens {
    entries: Mutex<HashMap<String, Known>>,
    capacity: usize,
    max_age: Duration,
}

impl KnownTokens {
    pub(crate) fn new(capacity: usize, max_age: Duration) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            capacity,
            max_age,
        }
    }

    /// The store (or an installation) says portal `member_id`'s token is `token`.
    pub(crate) fn confirm(&self, member_id: &str, token: &SecretString) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.lock();
        if !entries.contains_key(member_id) && entries.len() >= self.capacity {
            // A linear scan, only when a portal beyond the bound arrives: cheaper to carry than a
            // dependency for an LRU list.
            let oldest = entries
                .iter()
                .min_by_key(|(_, known)| known.confirmed)
                .map(|(member_id, _)| member_id.clone());
            if let Some(oldest) = oldest {
                entries.remove(&oldest);
            }
        }
        entries.insert(
            member_id.to_owned(),
            Known {
                token: token.clone(),
                confirmed: Instant::now(),
            },
        );
    }

    /// The store says portal `member_id` is not installed.
    pub(crate) fn forget(&self, member_id: &str) {
        self.lock().remove(member_id);
    }

    /// The token last confirmed for `member_id`, if confirmed within the maximum age.
    pub(crate) fn get(&self, member_id: &str) -> Option<SecretString> {
        self.lock()
            .get(member_id)
            .filter(|known| known.confirmed.elapsed() <= self.max_age)
            .map(|known| known.token.clone())
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Known>> {
        // Each operation leaves the map whole; a panic elsewhere cannot corrupt it.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    fn token(text: &str) -> SecretString {
        SecretString::from(text.to_owned())
    }

    #[test]
    fn the_bound_drops_the_portal_confirmed_longest_ago() {
        let known = KnownTokens::new(3, Duration::from_secs(60));
        for member in ["a", "b", "c"] {
            known.confirm(member, &token(member));
        }
        known.confirm("a", &token("a2"));
        known.confirm("d", &token("d"));
        assert_eq!(known.len(), 3);
        assert!(known.get("b").is_none(), "b was confirmed longest ago");
        assert_eq!(known.get("a").unwrap().expose_secret(), "a2");
        assert!(known.get("c").is_some() && known.get("d").is_some());
        known.forget("c");
        assert!(known.get("c").is_none());
    }

    #[test]
    fn a_token_older_than_the_maximum_age_stands_for_nothing() {
        let known = KnownTokens::new(10, Duration::from_millis(1));
        known.confirm("a", &token("a"));
        std::thread::sleep(Duration::from_millis(20));
        assert!(known.get("a").is_none());
        let off = KnownTokens::new(0, Duration::from_secs(60));
        off.confirm("a", &token("a"));
        assert!(off.get("a").is_none());
    }
}
