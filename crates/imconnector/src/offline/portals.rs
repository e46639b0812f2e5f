//! The polled portals: each one's client, domain and wake-up, shared by the poller's tasks and
//! by its pipeline's delivery confirmations ([`OfflineClients`]).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use imconnector_transport::{Client, MemberId};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::inbound::PortalClients;

/// One polled portal.
pub(crate) struct PortalEntry {
    pub(crate) client: Client,
    pub(crate) domain: String,
    pub(crate) wake: Arc<Notify>,
}

/// A portal as its task, [`OfflinePoller::wake`](super::OfflinePoller::wake) and the
/// confirmations see it.
pub(crate) struct PortalShared {
    pub(crate) entry: Arc<PortalEntry>,
    pub(crate) task: Option<JoinHandle<()>>,
}

/// The clients of the portals an [`OfflinePoller`](super::OfflinePoller) reads: its pipeline
/// confirms a portal's deliveries through the very [`Client`] that polls the portal, so polling
/// and confirming share the portal's rate bucket (and its tokens). Cheap to clone.
#[derive(Clone, Default)]
pub struct OfflineClients {
    portals: Arc<Mutex<HashMap<MemberId, PortalShared>>>,
}

impl std::fmt::Debug for OfflineClients {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("OfflineClients")
            .field("portals", &self.lock().len())
            .finish()
    }
}

impl OfflineClients {
    pub(crate) fn lock(&self) -> MutexGuard<'_, HashMap<MemberId, PortalShared>> {
        // The map only holds handles: a panic elsewhere cannot leave it half-written.
        self.portals.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn entry(&self, member_id: &MemberId) -> Option<Arc<PortalEntry>> {
        self.lock()
            .get(member_id)
            .map(|portal| Arc::clone(&portal.entry))
    }
}

impl PortalClients for OfflineClients {
    fn client(&self, member_id: &MemberId) -> impl Future<Output = Option<Client>> + Send {
        let client = self.entry(member_id).map(|entry| entry.client.clone());
        async move { client }
    }
}
