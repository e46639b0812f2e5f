//! [`OfflineCursorStore`]: where an offline-event reader keeps each portal's `process_id`, so a
//! restarted reader resumes the rows it had reserved (`event.offline.get` with `clear=0`).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use crate::hook_error::storage_hook_error;
use crate::MemberId;

storage_hook_error!(
    /// Why an [`OfflineCursorStore`] failed.
    OfflineCursorError,
    "offline cursor store"
);

/// Keeps, per portal, the `process_id` under which the portal reserved the offline-event rows
/// being handled. It is saved *before* the rows are handled: the portal hides reserved rows
/// from every reader but the one that names their `process_id`, so losing it loses them (until
/// the portal purges them, about 30 days later).
///
/// [`MemoryOfflineCursors`] for one process that never restarts (tests); a durable store
/// (`imconnector-redis`' `RedisOfflineCursors`) for anything else.
pub trait OfflineCursorStore: Send + Sync + 'static {
    /// The stored `process_id` of portal `member_id`, `None` if none.
    ///
    /// # Errors
    /// When the store cannot be reached.
    fn load(
        &self,
        member_id: &MemberId,
    ) -> impl Future<Output = Result<Option<String>, OfflineCursorError>> + Send;

    /// Stores `process_id` for portal `member_id`, replacing the one before; durable when it
    /// returns.
    ///
    /// # Errors
    /// When the store cannot be reached.
    fn save(
        &self,
        member_id: &MemberId,
        process_id: &str,
    ) -> impl Future<Output = Result<(), OfflineCursorError>> + Send;

    /// Forgets portal `member_id`'s `process_id` (the app was uninstalled).
    ///
    /// # Errors
    /// When the store cannot be reached.
    fn remove(
        &self,
        member_id: &MemberId,
    ) -> impl Future<Output = Result<(), OfflineCursorError>> + Send;
}

/// Keeps the cursors in this process only.
///
/// **What a crash or restart loses:** every portal's `process_id`, and with it the rows the
/// portal had reserved for this reader when it stopped (they stay hidden until the portal
/// purges them). Use a durable store in production.
#[derive(Debug, Default)]
pub struct MemoryOfflineCursors {
    cursors: Mutex<HashMap<MemberId, String>>,
}

impl MemoryOfflineCursors {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn cursors(&self) -> std::sync::MutexGuard<'_, HashMap<MemberId, String>> {
        // A map of strings cannot be left half-written by a panic elsewhere.
        self.cursors.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl OfflineCursorStore for MemoryOfflineCursors {
    async fn load(&self, member_id: &MemberId) -> Result<Option<String>, OfflineCursorError> {
        Ok(self.cursors().get(member_id).cloned())
    }

    async fn save(&self, member_id: &MemberId, process_id: &str) -> Result<(), OfflineCursorError> {
        self.cursors()
            .insert(member_id.clone(), process_id.to_owned());
        Ok(())
    }

    async fn remove(&self, member_id: &MemberId) -> Result<(), OfflineCursorError> {
        self.cursors().remove(member_id);
        Ok(())
    }
}

impl<S: OfflineCursorStore> OfflineCursorStore for Arc<S> {
    fn load(
        &self,
        member_id: &MemberId,
    ) -> impl Future<Output = Result<Option<String>, OfflineCursorError>> + Send {
        S::load(self, member_id)
    }

    fn save(
        &self,
        member_id: &MemberId,
        process_id: &str,
    ) -> impl Future<Output = Result<(), OfflineCursorError>> + Send {
        S::save(self, member_id, process_id)
    }

    fn remove(
        &self,
        member_id: &MemberId,
    ) -> impl Future<Output = Result<(), OfflineCursorError>> + Send {
        S::remove(self, member_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_saved_cursor_replaces_the_last_and_is_forgotten_on_remove() {
        let store = Arc::new(MemoryOfflineCursors::new());
        let portal = MemberId::from("m1");
        assert_eq!(store.load(&portal).await.ok().flatten(), None);
        store.save(&portal, "p1").await.ok();
        store.save(&portal, "p2").await.ok();
        assert_eq!(
            store.load(&portal).await.ok().flatten().as_deref(),
            Some("p2")
        );
        assert_eq!(store.load(&MemberId::from("m2")).await.ok().flatten(), None);
        store.remove(&portal).await.ok();
        assert_eq!(store.load(&portal).await.ok().flatten(), None);
    }
}
