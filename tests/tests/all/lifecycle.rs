//! The whole connector lifecycle over real HTTP: the SDK's typed requests against the emulator,
//! and the portal's form-encoded event POSTs decoded with the SDK's event types.
//!
//! Each step is a plain typed call (no workflow helper), so a failure names the method at fault.

use std::time::Duration;

use axum::{body::Bytes, extract::State, routing::post, Router};
use imconnector::emulator::{client_builder, Emulator};
use imconnector::events::Event;
use imconnector::ids::{ConnectorId, EventsUrl, LineId, SettingsUrl};
use imconnector::methods::{
    ActivateConnector, BindEvent, GetConnectorStatus, RegisterConnector, SendMessages,
    SendStatusDelivery, SetChatName, SetConnectorData,
};
use imconnector::types::{
    ConnectorData, DeliveryChat, DeliveryIm, DeliveryItem, DeliveryMessage, Icon, MessageBody,
    MessageChat, MessageIn, MessageUser,
};
use imconnector::ExposeSecret;
use imconnector::RateLimit;
use tokio::sync::mpsc;

/// Only reached when something is broken; generous for a loaded 2-core machine.
const PATIENCE: Duration = Duration::from_secs(60);

/// A loopback event handler that hands every raw POST body to the test.
async fn event_sink() -> (String, mpsc::UnboundedReceiver<Bytes>) {
    let (sender, receiver) = mpsc::unbounded_channel::<Bytes>();
    let router = Router::new()
        .route(
            "/events",
            post(
                |State(sender): State<mpsc::UnboundedSender<Bytes>>, body: Bytes| async move {
                    let _ = sender.send(body);
                    "OK"
                },
            ),
        )
        .with_state(sender);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the handler");
    let address = listener.local_addr().expect("handler address");
    tokio::spawn(async move {
        axum::serve(listener, router).await.expect("serve events");
    });
    (format!("http://{address}/events"), receiver)
}

/// Waits for the next POST whose decoded event has the given name, skipping others.
async fn next_event(bodies: &mut mpsc::UnboundedReceiver<Bytes>, name: &str) -> Event {
    tokio::time::timeout(PATIENCE, async {
        loop {
            let body = bodies.recv().await.expect("handler still running");
            let event = Event::from_body(None, &body).expect("the portal's form POST decodes");
            if event.name().eq_ignore_ascii_case(name) {
                return event;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {name} event arrived"))
}

#[tokio::test]
async fn a_connector_lives_its_whole_life_against_the_emulated_portal() {
    let _machine = crate::alone().await;
    let portal = Emulator::builder()
        .lines(1)
        .start()
        .await
        .expect("emulator starts");
    let app = portal.app();
    let client = client_builder(&portal)
        .rate_limit(RateLimit::Off)
        .build()
        .expect("client builds");
    let (handler_url, mut bodies) = event_sink().await;
    let connector = ConnectorId::new("Acme_Chat").expect("valid id");
    let line = LineId::new(portal.lines()[0].id).expect("positive line");

    // Register, activate, describe the channel, subscribe to the operator's side.
    let registered = client
        .call(&RegisterConnector::new(
            connector.clone(),
            "Acme Chat",
            Icon::new("data:image/svg+xml,%3Csvg%2F%3E").with_color("#69acc0"),
            SettingsUrl::parse("https://connector.example.com/settings").expect("a URL"),
        ))
        .await
        .expect("imconnector.register");
    assert!(registered, "register answers result.result = true");
    assert_eq!(portal.connectors()[0].id, "acme_chat", "ids are lowercased");

    assert!(client
        .call(&ActivateConnector::new(connector.clone(), line, true))
        .await
        .expect("imconnector.activate"));
    assert!(client
        .call(&SetConnectorData::new(
            connector.clone(),
            line,
            ConnectorData::new()
                .with_id("acme-line")
                .with_name("Acme support"),
        ))
        .await
        .expect("imconnector.connector.data.set"));
    for event in ["OnImConnectorMessageAdd", "OnImConnectorStatusDelete"] {
        assert!(client
            .call(&BindEvent::new(
                event,
                EventsUrl::parse(&handler_url).expect("the sink's URL")
            ))
            .await
            .expect("event.bind"));
    }

    let status = client
        .call(&GetConnectorStatus::new(connector.clone(), line))
        .await
        .expect("imconnector.status");
    assert!(status.status && status.configured && !status.error);
    assert_eq!(status.connector, "acme_chat");

    // A customer writes twice in one chat.
    let customer = || {
        MessageUser::new("customer-1")
            .with_name("Ivan")
            .with_last_name("Petrov")
    };
    let sent = client
        .call(&SendMessages::new(
            connector.clone(),
            line,
            [
                MessageIn::new(
                    customer(),
                    MessageBody::new().with_id("in-1").with_text("Hello!"),
                    MessageChat::new("chat-1"),
                ),
                MessageIn::new(
                    customer(),
                    MessageBody::new()
                        .with_id("in-2")
                        .with_text("Where is my order?"),
                    MessageChat::new("chat-1"),
                ),
            ],
        ))
        .await
        .expect("imconnector.send.messages");
    assert_eq!(sent.items().count(), 2, "one result per message");
    assert_eq!(sent.failures().count(), 0);
    let stored = portal.messages(line.get(), "chat-1");
    assert_eq!(
        stored.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(),
        ["Hello!", "Where is my order?"],
        "the portal holds each message once, in order"
    );

    // The operator answers; the portal POSTs a form the SDK decodes.
    let reply = portal
        .operator_reply(line.get(), "chat-1", "Good afternoon! It ships today.")
        .expect("operator replies");
    let Event::MessageAdd(added) = next_event(&mut bodies, "ONIMCONNECTORMESSAGEADD").await else {
        unreachable!("next_event filters by name")
    };
    assert!(
        Event::MessageAdd(added.clone())
            .has_application_token(app.application_token.expose_secret()),
        "the event carries the app's application_token"
    );
    let item = &added.data.messages[0];
    assert_eq!(item.chat.id, "chat-1");
    assert_eq!(item.im.chat_id, reply.chat_id as i64);
    assert_eq!(item.im.message_id, reply.message_id as i64);
    assert!(item
        .message
        .text
        .as_deref()
        .is_some_and(|text| text.contains("It ships today.")));

    // The connector delivered it to the customer and says so.
    let delivered = client
        .call(&SendStatusDelivery::new(
            connector.clone(),
            line,
            [DeliveryItem::new(
                DeliveryIm::new(item.im.chat_id, item.im.message_id),
                DeliveryMessage::new(["out-1"]),
                DeliveryChat::new("chat-1"),
            )],
        ))
        .await
        .expect("imconnector.send.status.delivery");
    assert!(delivered.success);
    let deliveries = portal.delivery_statuses();
    assert_eq!(deliveries.len(), 1);
    assert!(
        deliveries[0].matched,
        "the portal matched the confirmation to the reply"
    );
    assert_eq!(deliveries[0].external_ids, ["out-1"]);

    // Rename the chat.
    let renamed = client
        .call(
            &SetChatName::new(connector.clone(), line, "chat-1", "Order #5512")
                .with_user_id("customer-1"),
        )
        .await
        .expect("imconnector.chat.name.set");
    assert!(renamed.success);
    let chat = portal
        .chats()
        .into_iter()
        .find(|chat| chat.external_chat_id == "chat-1")
        .expect("the chat exists");
    assert_eq!(chat.name.as_deref(), Some("Order #5512"));

    // Deactivating fires StatusDelete with its lowercase keys.
    assert!(client
        .call(&ActivateConnector::new(connector.clone(), line, false))
        .await
        .expect("imconnector.activate (off)"));
    let Event::StatusDelete(removed) = next_event(&mut bodies, "ONIMCONNECTORSTATUSDELETE").await
    else {
        unreachable!("next_event filters by name")
    };
    assert_eq!(removed.data.connector, "acme_chat");
    assert_eq!(removed.data.line.get(), line.get());
    let status = client
        .call(&GetConnectorStatus::new(connector, line))
        .await
        .expect("imconnector.status after deactivation");
    assert!(!status.status);
}
