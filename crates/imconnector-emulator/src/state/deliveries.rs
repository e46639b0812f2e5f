//! What `imconnector.send.status.delivery`/`.reading` record: the operator reply they confirm,
//! and every item, in a capped ring.

use crate::snapshot::{DeliveryKind, DeliveryRecord, Direction};
use crate::state::{push_capped, Portal};

impl Portal {
    /// Marks the operator reply named by `im.*`; returns whether there was one.
    pub(crate) fn confirm_reply(
        &mut self,
        chat_id: Option<i64>,
        message_id: Option<i64>,
        external_ids: &[String],
        kind: DeliveryKind,
    ) -> bool {
        let Some(message) = message_id
            .and_then(|id| u64::try_from(id).ok())
            .and_then(|id| self.messages.get_mut(&id))
        else {
            return false;
        };
        let chat_matches =
            chat_id.is_none_or(|chat| u64::try_from(chat).ok() == Some(message.chat_id));
        if message.direction != Direction::Outgoing || !chat_matches {
            return false;
        }
        match kind {
            DeliveryKind::Delivered => {
                // The ids are stored on the message (CONNECTOR_MID) and come back in
                // MessageUpdate/Delete events. Delivered counts as read in open lines.
                for id in external_ids {
                    if !message.external_ids.contains(id) {
                        message.external_ids.push(id.clone());
                    }
                }
                message.delivered = true;
                message.read = true;
            }
            DeliveryKind::Read => message.read = true,
        }
        true
    }

    /// Keeps one received item (the oldest leave the ring).
    pub(crate) fn log_delivery_status(&mut self, record: DeliveryRecord) {
        let cap = self.settings.caps.deliveries;
        push_capped(&mut self.deliveries, cap, record);
    }
}
