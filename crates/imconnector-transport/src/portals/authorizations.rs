//! Started code-flow authorizations kept in this process: [`MemoryPortalStore`]'s table, bounded
//! per portal and in total.
//!
//! [`MemoryPortalStore`]: super::MemoryPortalStore

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

// Tokio's clock (the standard one outside a paused test runtime), so tests can pause it.
use tokio::time::Instant;

use crate::authorization::AuthorizationState;

/// How many started authorizations a store keeps per portal; a newer one drops that portal's
/// oldest. Per portal, so `/authorize` requests for other portals never evict a portal's pending
/// state (an administrator's, say).
pub const MAX_AUTHORIZATIONS_PER_PORTAL: usize = 16;

/// How many started authorizations [`MemoryPortalStore`](super::MemoryPortalStore) keeps in all
/// by default (about 10 MB at most): 4,096 portals' worth of [`MAX_AUTHORIZATIONS_PER_PORTAL`].
pub const DEFAULT_MAX_AUTHORIZATIONS: usize = 65_536;

/// What [`PortalStore::save_authorization_state`](super::PortalStore::save_authorization_state)
/// did with a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum StateSaved {
    /// The state is kept until it is taken or expires.
    Kept,
    /// The store holds as many started authorizations of other portals as it may; nothing was
    /// kept and nothing dropped (ask again once some expire).
    StoreFull,
}

struct Pending {
    state: AuthorizationState,
    /// `None`: a lifetime beyond what `Instant` can count, i.e. no expiry.
    expires: Option<Instant>,
}

impl Pending {
    fn alive(&self, now: Instant) -> bool {
        self.expires.is_none_or(|expires| expires > now)
    }
}

#[derive(Default)]
struct Table {
    /// Per portal, its started authorizations, oldest first; no portal maps to an empty queue.
    portals: HashMap<String, VecDeque<Pending>>,
    /// The sum of the queues' lengths.
    total: usize,
}

impl Table {
    /// Drops portal `member_id`'s expired states.
    fn sweep_portal(&mut self, member_id: &str, now: Instant) {
        if let Some(pending) = self.portals.get_mut(member_id) {
            let before = pending.len();
            pending.retain(|entry| entry.alive(now));
            self.total -= before - pending.len();
            if pending.is_empty() {
                self.portals.remove(member_id);
            }
        }
    }

    /// Drops every expired state.
    fn sweep(&mut self, now: Instant) {
        self.portals
            .values_mut()
            .for_each(|pending| pending.retain(|entry| entry.alive(now)));
        self.portals.retain(|_, pending| !pending.is_empty());
        self.total = self.portals.values().map(VecDeque::len).sum();
    }
}

/// Per portal, its started authorizations; at most [`MAX_AUTHORIZATIONS_PER_PORTAL`] each and
/// `max_total` in all.
pub(crate) struct MemoryAuthorizations {
    table: Mutex<Table>,
    max_total: usize,
}

impl std::fmt::Debug for MemoryAuthorizations {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The states themselves are secrets: only how many.
        formatter
            .debug_struct("MemoryAuthorizations")
            .field("pending", &self.lock().total)
            .field("max_total", &self.max_total)
            .finish()
    }
}

impl Default for MemoryAuthorizations {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_AUTHORIZATIONS)
    }
}

impl MemoryAuthorizations {
    /// A table of at most `max_total` states (callers keep it at least
    /// [`MAX_AUTHORIZATIONS_PER_PORTAL`], so one portal cannot fill it).
    pub(crate) fn new(max_total: usize) -> Self {
        Self {
            table: Mutex::default(),
            max_total,
        }
    }

    pub(crate) fn save(
        &self,
        member_id: &str,
        state: &AuthorizationState,
        lifetime: Duration,
    ) -> StateSaved {
        let now = Instant::now();
        let mut table = self.lock();
        table.sweep_portal(member_id, now);
        let held = table.portals.get(member_id).map_or(0, VecDeque::len);
        if held >= MAX_AUTHORIZATIONS_PER_PORTAL {
            // The portal's own oldest makes room: never another portal's.
            if let Some(pending) = table.portals.get_mut(member_id) {
                pending.pop_front();
                table.total -= 1;
            }
        } else if table.total >= self.max_total {
            // Full with other portals' states: the expired ones go, the live ones stay.
            table.sweep(now);
            if table.total >= self.max_total {
                return StateSaved::StoreFull;
            }
        }
        table
            .portals
            .entry(member_id.to_owned())
            .or_default()
            .push_back(Pending {
                state: state.clone(),
                expires: now.checked_add(lifetime),
            });
        table.total += 1;
        StateSaved::Kept
    }

    /// Whether `returned` was kept for `member_id` and alive; it is gone afterwards.
    pub(crate) fn take(&self, member_id: &str, returned: &str) -> bool {
        let now = Instant::now();
        let mut table = self.lock();
        table.sweep_portal(member_id, now);
        let Some(pending) = table.portals.get_mut(member_id) else {
            return false;
        };
        // Every entry is compared (in constant time each), so the answer's timing does not
        // tell where a guess stood.
        let found = pending
            .iter()
            .enumerate()
            .fold(None, |found, (position, entry)| {
                if entry.state.matches(returned) {
                    Some(position)
                } else {
                    found
                }
            });
        if let Some(position) = found {
            pending.remove(position);
            let emptied = pending.is_empty();
            table.total -= 1;
            if emptied {
                table.portals.remove(member_id);
            }
        }
        found.is_some()
    }

    /// Forgets portal `member_id`'s states (it was uninstalled).
    pub(crate) fn forget(&self, member_id: &str) {
        let mut table = self.lock();
        if let Some(pending) = table.portals.remove(member_id) {
            table.total -= pending.len();
        }
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        // Each operation leaves the table whole before it can panic; a panic elsewhere cannot
        // corrupt it.
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: Duration = Duration::from_secs(600);

    fn saved(states: &MemoryAuthorizations, member_id: &str) -> AuthorizationState {
        let state = AuthorizationState::random();
        assert_eq!(states.save(member_id, &state, LONG), StateSaved::Kept);
        state
    }

    #[test]
    fn a_state_is_taken_once_and_only_for_its_portal() {
        let states = MemoryAuthorizations::default();
        let state = saved(&states, "portal-a");
        assert!(!states.take("portal-b", state.expose()));
        assert!(!states.take("portal-a", "guess"));
        assert!(!states.take("portal-a", ""));
        assert!(states.take("portal-a", state.expose()));
        assert!(!states.take("portal-a", state.expose()), "used up");
    }

    #[test]
    fn other_portals_never_evict_a_portals_pending_state() {
        let states = MemoryAuthorizations::default();
        let admin = saved(&states, "admin-portal");
        for round in 0..2_000 {
            saved(&states, &format!("other-{}", round % 3));
        }
        assert!(states.take("admin-portal", admin.expose()));
    }

    #[test]
    fn a_portal_keeps_its_newest_states_within_the_bound() {
        let states = MemoryAuthorizations::default();
        let all: Vec<_> = (0..=MAX_AUTHORIZATIONS_PER_PORTAL)
            .map(|_| saved(&states, "portal"))
            .collect();
        assert!(!states.take("portal", all[0].expose()), "the oldest went");
        assert!(all[1..]
            .iter()
            .all(|state| states.take("portal", state.expose())));
        assert_eq!(states.lock().total, 0);
        assert!(states.lock().portals.is_empty());
    }

    #[test]
    fn one_portal_cannot_fill_the_table_and_a_full_table_drops_no_live_state() {
        let states = MemoryAuthorizations::new(2 * MAX_AUTHORIZATIONS_PER_PORTAL);
        for _ in 0..1_000 {
            saved(&states, "busy");
        }
        assert_eq!(states.lock().total, MAX_AUTHORIZATIONS_PER_PORTAL);
        let admin = saved(&states, "admin-portal");
        for _ in 1..MAX_AUTHORIZATIONS_PER_PORTAL {
            saved(&states, "admin-portal");
        }
        // Full with two portals' live states: a third is refused, nobody's state is dropped.
        let refused = AuthorizationState::random();
        assert_eq!(states.save("third", &refused, LONG), StateSaved::StoreFull);
        assert!(!states.take("third", refused.expose()));
        assert!(states.take("admin-portal", admin.expose()));
        // A taken state frees its place.
        saved(&states, "third");
    }

    #[tokio::test(start_paused = true)]
    async fn an_expired_state_is_refused_and_frees_its_place() {
        let states = MemoryAuthorizations::new(MAX_AUTHORIZATIONS_PER_PORTAL);
        let state = saved(&states, "portal");
        tokio::time::advance(LONG - Duration::from_millis(1)).await;
        let young = saved(&states, "portal");
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(!states.take("portal", state.expose()), "expired");
        assert!(states.take("portal", young.expose()), "still alive");

        let forever = AuthorizationState::random();
        assert_eq!(
            states.save("portal", &forever, Duration::MAX),
            StateSaved::Kept
        );
        assert!(states.take("portal", forever.expose()));

        // A full table of expired states makes room for a new portal.
        for _ in 0..MAX_AUTHORIZATIONS_PER_PORTAL {
            saved(&states, "old");
        }
        tokio::time::advance(LONG).await;
        saved(&states, "new");
        assert_eq!(states.lock().total, 1);
    }

    #[test]
    fn forgetting_a_portal_frees_its_places() {
        let states = MemoryAuthorizations::new(MAX_AUTHORIZATIONS_PER_PORTAL);
        let state = saved(&states, "portal");
        states.forget("portal");
        assert!(!states.take("portal", state.expose()));
        assert_eq!(states.lock().total, 0);
    }
}
