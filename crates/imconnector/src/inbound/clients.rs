//! Which client confirms the deliveries of which portal.

use imconnector_transport::MemberId;
use std::future::Future;
use std::sync::Arc;

use imconnector_transport::Client;

/// Finds the [`Client`] of portal `member_id`, to confirm the messages its
/// `OnImConnectorMessageAdd` events asked to send (see
/// [`InboundBuilder::confirm_deliveries`](super::InboundBuilder::confirm_deliveries)).
///
/// A [`Client`] is itself the lookup for an application on one portal; a multi-portal
/// registry implements the trait over its own store, next to
/// the receiver's `ApplicationTokens`.
pub trait PortalClients: Send + Sync + 'static {
    /// The client for portal `member_id`; `None` skips the confirmation (and logs it).
    fn client(&self, member_id: &MemberId) -> impl Future<Output = Option<Client>> + Send;
}

/// One portal: the same client for every event.
impl PortalClients for Client {
    fn client(&self, member_id: &MemberId) -> impl Future<Output = Option<Client>> + Send {
        let _ = member_id;
        let client = self.clone();
        async move { Some(client) }
    }
}

impl<C: PortalClients> PortalClients for Arc<C> {
    fn client(&self, member_id: &MemberId) -> impl Future<Output = Option<Client>> + Send {
        C::client(self, member_id)
    }
}
