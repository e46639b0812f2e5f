//! Calling the handler for a verified event, and the automatic delivery confirmation.

use std::sync::Arc;

use imconnector_api::events::Event;
use imconnector_api::ids::{ConnectorId, LineId, MemberId};
use imconnector_api::methods::SendStatusDelivery;
use imconnector_api::types::{DeliveryChat, DeliveryIm, DeliveryItem, DeliveryMessage};
use imconnector_transport::Client;

use super::handler::{DeliveryReport, EventHandler, HandlerError, SentMessages};
use super::{ApplicationTokens, PortalClients, Shared};
use crate::log_text::untrusted;

pub(crate) async fn dispatch<H: EventHandler, T: ApplicationTokens, C: PortalClients>(
    shared: Arc<Shared<H, T, C>>,
    event: Event,
) {
    let name = event.name().to_owned();
    let handler = &shared.handler;
    let outcome: Result<(), HandlerError> = match event {
        Event::MessageAdd(event) => {
            let origin = shared.confirm_with.is_some().then(|| Origin {
                member_id: event.auth.member_id.clone(),
                connector: event.data.connector.clone(),
                line: event.data.line,
            });
            match handler.message_add(event).await {
                Ok(sent) => {
                    if let Some(origin) = origin.filter(|_| !sent.is_empty()) {
                        // Boxed: the REST call makes the confirmation a large future, and
                        // inline it would make every event's task that large (several KiB per
                        // queued event), confirming or not.
                        Box::pin(confirm(&shared, origin, sent)).await;
                    }
                    Ok(())
                }
                Err(error) => Err(error),
            }
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
        _ => {
            tracing::debug!(event = %untrusted(&name), "no handler method for this event");
            Ok(())
        }
    };
    if let Err(error) = outcome {
        tracing::warn!(event = %untrusted(&name), error = %untrusted(&error), "the event handler failed");
    }
}

/// Where the messages of an `OnImConnectorMessageAdd` came from.
struct Origin {
    member_id: MemberId,
    connector: ConnectorId,
    line: LineId,
}

async fn confirm<H: EventHandler, T, C: PortalClients>(
    shared: &Shared<H, T, C>,
    origin: Origin,
    sent: SentMessages,
) {
    let Some(clients) = &shared.confirm_with else {
        return;
    };
    if sent.is_empty() {
        return;
    }
    let Some(client) = clients.client(&origin.member_id).await else {
        tracing::warn!(member_id = %untrusted(&origin.member_id), "no client for this portal: delivery not confirmed");
        return;
    };
    let result = send_confirmation(&client, &origin, &sent).await;
    if let Err(error) = &result {
        tracing::warn!(%error, "confirming delivered messages failed");
    }
    let report = DeliveryReport {
        member_id: origin.member_id,
        connector: origin.connector,
        line: origin.line,
        messages: sent.messages().to_vec(),
        result,
    };
    shared.handler.delivery_confirmed(report).await;
}

async fn send_confirmation(
    client: &Client,
    origin: &Origin,
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
        .call(&SendStatusDelivery::new(
            origin.connector.clone(),
            origin.line,
            items,
        ))
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;
    use crate::receiver::SingleToken;

    struct Nothing;
    impl EventHandler for Nothing {}

    /// The receiver spawns one task per event before the portal's next POST; a burst queues
    /// many. The delivery confirmation (a REST call) must not be carried inline by each.
    #[test]
    fn an_event_task_does_not_carry_the_delivery_confirmation_inline() {
        let shared = Arc::new(Shared {
            handler: Nothing,
            tokens: SingleToken::new("token"),
            confirm_with: None::<Client>,
        });
        let event = Event::from_value(json!({
            "event": "ONIMCONNECTORMESSAGEADD",
            "data": {"CONNECTOR": "acme", "LINE": "1", "MESSAGES": []},
            "auth": {"domain": "d", "member_id": "m", "application_token": "token"},
        }))
        .unwrap();
        let task = dispatch(shared, event);
        let size = std::mem::size_of_val(&task);
        assert!(size <= 2048, "an event's task takes {size} bytes");
    }
}
