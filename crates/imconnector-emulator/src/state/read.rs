//! Reading the portal: what `rest/`, `oauth` and `control/` may see of the state. Nothing here
//! changes it.

use crate::snapshot::{Counters, DeliveryRecord, EventDelivery, Tokens};
use crate::state::records::{Chat, Connector, Line, Message, User};
use crate::state::{AppRecord, Portal, Urls, Webhook};

impl Portal {
    /// Emulated unix time of this lock.
    pub(crate) fn now(&self) -> f64 {
        self.now
    }

    /// Emulated seconds per real second.
    pub(crate) fn time_scale(&self) -> f64 {
        self.time_scale
    }

    /// The portal's addresses.
    pub(crate) fn urls(&self) -> &Urls {
        &self.urls
    }

    /// The portal's `member_id`.
    pub(crate) fn member_id(&self) -> &str {
        &self.member_id
    }

    /// The incoming webhook.
    pub(crate) fn webhook(&self) -> &Webhook {
        &self.webhook
    }

    /// App `app` (an index from [`Portal::app_index`] or a token's grant).
    pub(crate) fn app(&self, app: usize) -> &AppRecord {
        &self.apps[app]
    }

    /// How many apps the portal has.
    pub(crate) fn app_count(&self) -> usize {
        self.apps.len()
    }

    /// Portal employees.
    pub(crate) fn users(&self) -> &[User] {
        &self.users
    }

    /// Open lines by id.
    pub(crate) fn lines(&self) -> impl Iterator<Item = &Line> {
        self.lines.values()
    }

    /// Open line `id`.
    pub(crate) fn line(&self, id: i64) -> Option<&Line> {
        self.lines.get(&id)
    }

    /// The connector registry by id.
    pub(crate) fn connectors(&self) -> impl Iterator<Item = &Connector> {
        self.registry.values()
    }

    /// Every chat, oldest first.
    pub(crate) fn chats(&self) -> impl Iterator<Item = &Chat> {
        self.chats.values()
    }

    /// Chat `id`.
    pub(crate) fn chat(&self, id: u64) -> Option<&Chat> {
        self.chats.get(&id)
    }

    /// Every message, oldest first.
    pub(crate) fn messages(&self) -> impl Iterator<Item = &Message> {
        self.messages.values()
    }

    /// The latest items of `send.status.delivery`/`.reading`.
    pub(crate) fn delivery_statuses(&self) -> impl Iterator<Item = &DeliveryRecord> {
        self.deliveries.iter()
    }

    /// The latest event POSTs.
    pub(crate) fn event_log(&self) -> impl Iterator<Item = &EventDelivery> {
        self.event_log.iter()
    }

    /// The counters.
    pub(crate) fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The pair the latest successful grant answered.
    pub(crate) fn last_grant(&self) -> Option<&Tokens> {
        self.last_grant.as_ref()
    }
}
