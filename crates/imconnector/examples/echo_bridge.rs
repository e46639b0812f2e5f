//! A minimal bridge connector. Its "outside messenger" is an echo: every operator message is
//! delivered to it (and confirmed), and the echo answers with the same text, which the bridge
//! sends back into the open line as the customer's message. It also serves the connector's
//! settings page, which applies what the user chose in Bitrix24's slider.
//!
//! ```text
//! cargo run -p imconnector --example echo_bridge
//! ```
//!
//! Runs against the embedded emulator: a customer writes, an operator replies twice, and the
//! chat is printed. For a real portal, build the `Client` as the README shows (its tokens in a
//! `FileTokenStore` or Redis) and serve `app` on the address your handler URLs point to.

use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::response::Html;
use axum::routing::post;
use axum::Router;
use imconnector::emulator::{client_builder, Emulator};
use imconnector::placement::{apply_settings, AppliedSettings, SettingsPlacement};
use imconnector::prelude::*;
use imconnector::receiver::{DeliveryReport, HandlerError};
use imconnector::ExposeSecret;
use tokio::sync::mpsc;

/// Operator messages go out to the echo, and its answers come back in as the customer's.
struct EchoBridge {
    client: Client,
    confirmed: mpsc::UnboundedSender<DeliveryReport>,
}

impl EventHandler for EchoBridge {
    async fn message_add(&self, event: MessageAddEvent) -> Result<SentMessages, HandlerError> {
        let connector = ConnectorId::new(event.data.connector.as_str())?;
        let line = LineId::new(event.data.line.get())?;
        let mut sent = SentMessages::new();
        for item in &event.data.messages {
            let text = item.message.text.as_deref().unwrap_or_default();
            // "Deliver" to the echo; it answers at once with the text minus the operator's name.
            let echo_id = format!("echo-{}", item.im.message_id);
            sent.push(item, [echo_id.clone()]);
            let answer = text.rsplit("[br]").next().unwrap_or(text).trim();
            let back = MessageIn::new(
                MessageUser::new("echo").with_name("Echo"),
                MessageBody::new()
                    .with_id(format!("{echo_id}-answer"))
                    .with_text(format!("echo: {answer}")),
                MessageChat::new(item.chat.id.as_str()),
            );
            self.client
                .call(&SendMessages::new(connector.clone(), line, [back]))
                .await?;
        }
        Ok(sent)
    }

    async fn delivery_confirmed(&self, report: DeliveryReport) {
        let _ = self.confirmed.send(report);
    }
}

/// The `SETTING_CONNECTOR` page: check the application token, apply the user's choice.
async fn settings_page(
    State(state): State<(Client, String)>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Html<String> {
    let (client, application_token) = state;
    let page = match SettingsPlacement::parse(query.as_deref(), &body) {
        Ok(page) if page.has_application_token(&application_token) => page,
        Ok(_) => return Html("<p>This page must be opened from Bitrix24.</p>".to_owned()),
        Err(error) => return Html(format!("<p>Unexpected request: {error}</p>")),
    };
    let data = ConnectorData::new()
        .with_name("Echo")
        .with_id(format!("echo_line{}", page.options.line));
    Html(match apply_settings(&client, &page, data).await {
        Ok(AppliedSettings::Activated(_)) => {
            "<p>The echo is connected to this open line.</p>".to_owned()
        }
        Ok(AppliedSettings::Deactivated) => "<p>The echo is disconnected.</p>".to_owned(),
        Ok(_) => "<p>Done.</p>".to_owned(),
        Err(error) => format!("<p>Could not apply the settings: {error}</p>"),
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error + Send + Sync>> {
    let emulator = Emulator::builder().start().await?;
    let app = emulator.app();
    // Refreshed pairs go to a file (a temporary one: the emulated portal is new at every run).
    let state = tempfile::tempdir()?;
    let client = client_builder(&emulator)
        .token_store(Arc::new(FileTokenStore::new(
            state.path().join("tokens.json"),
        )))
        .build()?;
    let application_token = app.application_token.expose_secret().to_owned();

    let (confirmed, mut confirmations) = mpsc::unbounded_channel();
    let bridge = EchoBridge {
        client: client.clone(),
        confirmed,
    };
    let events = EventReceiver::new(SingleToken::new(application_token.clone()), bridge)
        .confirm_deliveries(client.clone());
    let server = Router::new().nest("/events", events.router()).route(
        "/settings",
        post(settings_page).with_state((client.clone(), application_token)),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { imconnector::serve(listener, server).await });

    let line = LineId::new(1)?;
    let setup = ConnectorSetup::new(
        ConnectorId::new("echo_bridge")?,
        "Echo",
        Icon::new(
            "data:image/svg+xml,%3Csvg%20xmlns%3D%22http%3A%2F%2Fwww.w3.org%2F2000%2Fsvg%22%2F%3E",
        ),
        SettingsUrl::parse(&format!("{base}/settings"))?,
        EventsUrl::parse(&format!("{base}/events"))?,
    )
    .with_events(["OnImConnectorMessageAdd"]);
    provision(&client, &setup, line).await?;

    let hello = MessageIn::new(
        MessageUser::new("customer-1").with_name("Anna"),
        MessageBody::new()
            .with_id("hello-1")
            .with_text("Hi, is anyone there?"),
        MessageChat::new("echo-chat"),
    );
    client
        .call(&SendMessages::new(setup.id().clone(), line, [hello]))
        .await?;
    for reply in ["Hello Anna!", "How can we help?"] {
        emulator.operator_reply(line.get(), "echo-chat", reply)?;
        let report = tokio::time::timeout(Duration::from_secs(30), confirmations.recv())
            .await?
            .ok_or("the receiver stopped")?;
        let ids: Vec<_> = report
            .messages
            .iter()
            .flat_map(|sent| sent.external_ids.clone())
            .collect();
        println!(
            "operator: {reply:?} -> echoed as {ids:?}, delivery confirmed: {}",
            report.result.is_ok()
        );
    }

    println!("\nThe open-line chat, as the portal stores it:");
    for message in emulator.messages(line.get(), "echo-chat") {
        let mark = if message.delivered {
            " (delivered)"
        } else {
            ""
        };
        println!("  {:?}: {}{mark}", message.direction, message.text);
    }
    teardown(&client, &setup, line).await?;
    emulator.shutdown().await;
    Ok(())
}
