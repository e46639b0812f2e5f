//! Handling one decoded offline event: the handler method for its kind, then the delivery
//! confirmation of the operator messages it sent (as the online receiver does).

use imconnector_api::events::Event;
use imconnector_api::methods::SendStatusDelivery;
use imconnector_api::types::{DeliveryChat, DeliveryIm, DeliveryItem, DeliveryMessage};
use imconnector_transport::Client;

use crate::log_text::untrusted;
use crate::receiver::{DeliveryReport, EventHandler, HandlerError, SentMessages};

/// Runs the handler method of `event`; for `OnImConnectorMessageAdd` with `confirm`, confirms
/// the messages it reports sent with `imconnector.send.status.delivery` on `client` and
/// reports that to [`EventHandler::delivery_confirmed`].
///
/// A failed confirmation is reported and logged, not returned: the handler's effect (the
/// message reached the customer) exists, so handling the row again would send it twice.
pub(crate) async fn handle_event<H: EventHandler>(
    handler: &H,
    client: &Client,
    event: Event,
    confirm: bool,
) -> Result<(), HandlerError> {
    match event {
        Event::MessageAdd(event) => {
            let member_id = event.auth.member_id.clone();
            let connector = event.data.connector.clone();
            let line = event.data.line;
            let sent = handler.message_add(event).await?;
            if confirm && !sent.is_empty() {
                let result = send_confirmation(client, &connector, line, &sent).await;
                if let Err(error) = &result {
                    tracing::warn!(%error, "confirming delivered messages failed");
                }
                let report = DeliveryReport::new(member_id, connector, line, &sent, result);
                handler.delivery_confirmed(report).await;
            }
            Ok(())
        }
        Event::MessageUpdate(event) => handler.message_update(event).await,
        Event::MessageDelete(event) => handler.message_delete(event).await,
        Event::DialogStart(event) => handler.dialog_start(event).await,
        Event::DialogFinish(event) => handler.dialog_finish(event).await,
        Event::StatusDelete(event) => handler.status_delete(event).await,
        Event::LineDelete(event) => handler.line_delete(event).await,
        Event::OfflineQueueChange(event) => handler.offline_queue_change(event).await,
        Event::Unknown(event) => handler.unknown(event).await,
        // A variant added to the api crate after this one was written.
        other => {
            tracing::debug!(event = %untrusted(other.name()), "no handler method for this event");
            Ok(())
        }
    }
}

async fn send_confirmation(
    client: &Client,
    connector: &imconnector_api::ids::ConnectorId,
    line: imconnector_api::ids::LineId,
    sent: &SentMessages,
) -> Result<(), imconnector_transport::Error> {
    let items = sent.messages().iter().map(|message| {
        DeliveryItem::new(
            DeliveryIm::new(message.chat_id, message.message_id),
            DeliveryMessage::new(message.external_ids.iter().cloned()),
            DeliveryChat::new(message.external_chat_id.clone()),
        )
    });
    client
        .call(&SendStatusDelivery::new(connector.clone(), line, items))
        .await?;
    Ok(())
}
