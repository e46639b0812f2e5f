//! [`PortalStore`]: where the registry keeps its records; [`MemoryPortalStore`] for one process.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Mutex, PoisonError};

use crate::ClientBuilder;

use super::PortalRecord;

/// Why a [`PortalStore`] failed.
#[derive(Debug, thiserror::Error)]
#[error("portal store: {message}")]
pub struct PortalStoreError {
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl PortalStoreError {
    /// An error described by `message` (never put a token in it), caused by `source`, if any.
    pub fn new(
        message: impl Into<String>,
        source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        Self {
            message: message.into(),
            source,
        }
    }
}

/// Where the registry keeps its [`PortalRecord`]s, and what it adds to each portal's client.
pub trait PortalStore: Send + Sync + 'static {
    /// The record of portal `member_id` with its current token pair, `None` if not installed.
    fn load(
        &self,
        member_id: &str,
    ) -> impl Future<Output = Result<Option<PortalRecord>, PortalStoreError>> + Send;

    /// Stores `record`, replacing the portal's record and token pair (an installation wins
    /// over everything stored before).
    fn save(
        &self,
        record: &PortalRecord,
    ) -> impl Future<Output = Result<(), PortalStoreError>> + Send;

    /// Forgets portal `member_id` (the application was uninstalled).
    fn remove(&self, member_id: &str) -> impl Future<Output = Result<(), PortalStoreError>> + Send;

    /// Adds what the store shares between replicas (token store, refresh coordination, a
    /// shared limiter) to a portal's client. The default adds nothing.
    ///
    /// # Errors
    /// When the store cannot serve this portal.
    fn configure(
        &self,
        record: &PortalRecord,
        builder: ClientBuilder,
    ) -> Result<ClientBuilder, PortalStoreError> {
        let _ = record;
        Ok(builder)
    }
}

/// Keeps records in this process only: for one replica, or tests.
#[derive(Debug, Default)]
pub struct MemoryPortalStore {
    records: Mutex<HashMap<String, PortalRecord>>,
}

impl MemoryPortalStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl PortalStore for MemoryPortalStore {
    fn load(
        &self,
        member_id: &str,
    ) -> impl Future<Output = Result<Option<PortalRecord>, PortalStoreError>> + Send {
        let found = self
            .records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(member_id)
            .cloned();
        async move { Ok(found) }
    }

    fn save(
        &self,
        record: &PortalRecord,
    ) -> impl Future<Output = Result<(), PortalStoreError>> + Send {
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(record.member_id.clone(), record.clone());
        async { Ok(()) }
    }

    fn remove(&self, member_id: &str) -> impl Future<Output = Result<(), PortalStoreError>> + Send {
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(member_id);
        async { Ok(()) }
    }
}
