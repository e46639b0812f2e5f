//! [`RedisOfflineCursors`]: the offline poller's `process_id`s kept in Redis.

use imconnector_transport::{MemberId, OfflineCursorError, OfflineCursorStore};

use crate::{backend::RedisBackend, error::RedisBackendError, keys::PortalKeys};

/// An [`OfflineCursorStore`] in Redis: each portal's `process_id` is a string key next to the
/// portal's other keys (`…:{member_id}:offline-cursor`), so a restarted poller, on this replica
/// or another, resumes the rows the portal reserved for it. It lasts as long as Redis keeps its
/// data: configure persistence (AOF) when a Redis restart must not lose it.
///
/// Run one poller per portal at a time: two sharing a `process_id` would both be handed its
/// reserved rows.
#[derive(Debug, Clone)]
pub struct RedisOfflineCursors {
    backend: RedisBackend,
}

impl RedisBackend {
    /// The offline poller's cursor store on this backend.
    pub fn offline_cursors(&self) -> RedisOfflineCursors {
        RedisOfflineCursors {
            backend: self.clone(),
        }
    }
}

fn cursor_error(error: RedisBackendError) -> OfflineCursorError {
    OfflineCursorError::new(error.to_string(), Some(Box::new(error)))
}

impl RedisOfflineCursors {
    fn key(&self, member_id: &MemberId) -> Result<String, OfflineCursorError> {
        PortalKeys::new(self.backend.key_prefix(), member_id.as_str())
            .map(|keys| keys.offline_cursor)
            .map_err(cursor_error)
    }
}

impl OfflineCursorStore for RedisOfflineCursors {
    async fn load(&self, member_id: &MemberId) -> Result<Option<String>, OfflineCursorError> {
        let key = self.key(member_id)?;
        redis::cmd("GET")
            .arg(&key)
            .query_async(&mut self.backend.connection())
            .await
            .map_err(RedisBackendError::redis("read an offline cursor"))
            .map_err(cursor_error)
    }

    async fn save(&self, member_id: &MemberId, process_id: &str) -> Result<(), OfflineCursorError> {
        let key = self.key(member_id)?;
        redis::cmd("SET")
            .arg(&key)
            .arg(process_id)
            .query_async::<()>(&mut self.backend.connection())
            .await
            .map_err(RedisBackendError::redis("store an offline cursor"))
            .map_err(cursor_error)
    }

    async fn remove(&self, member_id: &MemberId) -> Result<(), OfflineCursorError> {
        let key = self.key(member_id)?;
        redis::cmd("DEL")
            .arg(&key)
            .query_async::<()>(&mut self.backend.connection())
            .await
            .map_err(RedisBackendError::redis("remove an offline cursor"))
            .map_err(cursor_error)
    }
}
