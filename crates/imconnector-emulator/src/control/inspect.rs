//! Reading the portal's state: copies, never live references.

use std::time::Duration;

use super::{ControlError, EmulatorHandle};
use crate::snapshot::{
    ChatInfo, ConnectorInfo, Counters, DeliveryRecord, EventDelivery, LineInfo, LineStatus,
    MessageInfo, OfflineEventInfo, PortalUser,
};
use crate::state::records::{Chat, Connector, Line, Message, User};
use crate::state::Portal;

impl EmulatorHandle {
    /// Portal employees.
    pub fn users(&self) -> Vec<PortalUser> {
        self.read(|portal| portal.users().iter().map(User::snapshot).collect())
    }

    /// Open lines.
    pub fn lines(&self) -> Vec<LineInfo> {
        self.read(|portal| portal.lines().map(Line::snapshot).collect())
    }

    /// The connector registry.
    pub fn connectors(&self) -> Vec<ConnectorInfo> {
        self.read(|portal| portal.connectors().map(Connector::snapshot).collect())
    }

    /// The status of a connector on a line (connector id normalised like the portal does).
    pub fn line_status(&self, connector: &str, line: i64) -> LineStatus {
        let connector = crate::php::connector_real_id(connector);
        self.read(|portal| portal.status_of(&connector, line))
    }

    /// Every existing status row.
    pub fn line_statuses(&self) -> Vec<LineStatus> {
        self.read(Portal::line_statuses)
    }

    /// Every chat.
    pub fn chats(&self) -> Vec<ChatInfo> {
        self.read(|portal| portal.chats().map(Chat::snapshot).collect())
    }

    /// The messages of the chats of `line` with this external chat id, oldest first
    /// (customer messages and operator replies, deleted ones included and marked).
    pub fn messages(&self, line: i64, external_chat_id: &str) -> Vec<MessageInfo> {
        self.read(|portal| {
            portal
                .messages()
                .filter(|message| {
                    portal.chat(message.chat_id).is_some_and(|chat| {
                        chat.line == line && chat.external_chat_id == external_chat_id
                    })
                })
                .map(Message::snapshot)
                .collect()
        })
    }

    /// Every message.
    pub fn all_messages(&self) -> Vec<MessageInfo> {
        self.read(|portal| portal.messages().map(Message::snapshot).collect())
    }

    /// The items received by `send.status.delivery`/`send.status.reading`, the latest 10,000
    /// (older ones leave the ring).
    pub fn delivery_statuses(&self) -> Vec<DeliveryRecord> {
        self.read(|portal| portal.delivery_statuses().cloned().collect())
    }

    /// The event POSTs so far, pending ones included: the latest 10,000 (older ones leave the
    /// ring; `seq` keeps counting).
    pub fn event_deliveries(&self) -> Vec<EventDelivery> {
        self.read(|portal| portal.event_log().cloned().collect())
    }

    /// The offline event queue of every app, oldest row first (rows `event.offline.get` has
    /// cleared are gone; reserved ones carry their `process_id`).
    pub fn offline_events(&self) -> Vec<OfflineEventInfo> {
        self.read(|portal| {
            portal
                .all_offline_rows()
                .map(|row| row.snapshot(&portal.app(row.app).client_id))
                .collect()
        })
    }

    /// The counters.
    pub fn counters(&self) -> Counters {
        self.read(|portal| portal.counters().clone())
    }

    /// Waits until at least `count` event POSTs have finished (delivered or failed) and
    /// returns the log.
    ///
    /// # Errors
    /// [`ControlError::Timeout`] when `timeout` (real time) passes first.
    pub async fn wait_for_event_deliveries(
        &self,
        count: u64,
        timeout: Duration,
    ) -> Result<Vec<EventDelivery>, ControlError> {
        let mut finished = self.shared.finished_deliveries.subscribe();
        let reached =
            tokio::time::timeout(timeout, finished.wait_for(|finished| *finished >= count)).await;
        match reached {
            Ok(Ok(_)) => Ok(self.event_deliveries()),
            _ => Err(ControlError::Timeout {
                expected: count,
                finished: *self.shared.finished_deliveries.borrow(),
            }),
        }
    }
}
