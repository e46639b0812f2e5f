//! The whole life of a connector, through the public API, printed as a transcript:
//! provision it on an open line, send customer messages, receive an operator's reply through
//! the event receiver, confirm its delivery, rename the chat, tear it all down.
//!
//! ```text
//! cargo run -p imconnector --example quickstart
//! ```
//!
//! runs against an emulated portal started in-process on 127.0.0.1. To run it against a real
//! Bitrix24 portal instead, set the variables listed in `RealPortal::from_env` (see the crate
//! README).
//!
//! The client keeps every refreshed token pair in `tokens.json` (a [`FileTokenStore`]): the
//! portal rotates the refresh token at each refresh, so a restart starts from the stored pair.
//! Against a real portal the file is in `IMCONNECTOR_STATE_DIR` (default `imconnector-state`);
//! against the embedded emulator, whose portal is new at every run, in a temporary directory.

use std::error::Error;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use imconnector::emulator::{client_builder, Emulator};
use imconnector::prelude::*;
use imconnector::receiver::{DeliveryReport, HandlerError};
use imconnector::ExposeSecret;
use tokio::sync::mpsc;

type BoxError = Box<dyn Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();

    // 1. A portal: the embedded emulator, or a real one from the environment.
    let emulated_state = tempfile::tempdir()?;
    let (portal, emulator) = match RealPortal::from_env()? {
        Some(real) => (real.connect().await?, None),
        None => {
            let emulator = Emulator::builder().start().await?;
            let connection = Connection::emulated(&emulator, emulated_state.path())?;
            (connection, Some(emulator))
        }
    };
    println!("imconnector quickstart against {}", portal.describe);

    // 2. The event receiver, an axum router, served on its own port.
    let (handler, mut notes) = Transcript::new();
    let receiver = EventReceiver::new(SingleToken::new(portal.application_token.clone()), handler)
        .confirm_deliveries(portal.client.clone());
    let listener = tokio::net::TcpListener::bind(&portal.listen).await?;
    let local = listener.local_addr()?;
    tokio::spawn(async move { imconnector::serve(listener, receiver.router()).await });
    let handler_url = portal
        .handler_url
        .clone()
        .unwrap_or_else(|| format!("http://{local}/"));
    println!("  event receiver on http://{local}/ (bound as {handler_url})\n");

    // 3. Provision: register, activate, channel data, event bindings, status.
    let connector = ConnectorId::new("quickstart_connector")?;
    let line = portal.line;
    let setup = ConnectorSetup::new(
        connector.clone(),
        "Quickstart connector",
        Icon::new(ICON).with_color("#2fc6f6"),
        SettingsUrl::parse(&format!("{handler_url}settings"))?,
        EventsUrl::parse(&handler_url)?,
    )
    .with_data(
        ConnectorData::new()
            .with_name("Quickstart channel")
            .with_url("https://messenger.example/quickstart"),
    );
    let provisioned = provision(&portal.client, &setup, line).await?;
    step(
        "provision",
        format!(
            "`{connector}` on line {line}: STATUS={} ({} events bound, {} already bound)",
            provisioned.status.status,
            provisioned.newly_bound.len(),
            provisioned.already_bound.len()
        ),
    );

    // 4. Customer messages from the outside messenger into the open line.
    let chat = format!("quickstart-chat-{}", std::process::id());
    let customer = || {
        MessageUser::new("customer-42")
            .with_name("Ivan")
            .with_last_name("Petrov")
    };
    let texts = ["Hello! Where is my order #5512?", "It was due yesterday."];
    let messages = texts.iter().enumerate().map(|(index, text)| {
        MessageIn::new(
            customer(),
            MessageBody::new()
                .with_id(format!("{chat}-in-{index}"))
                .with_text(*text),
            MessageChat::new(&chat).with_name("Ivan Petrov"),
        )
    });
    let sent = portal
        .client
        .call(&SendMessages::new(connector.clone(), line, messages))
        .await?;
    for (text, result) in texts.iter().zip(sent.items()) {
        let session = result
            .session
            .as_ref()
            .map_or("-".to_owned(), |session| session.id.to_string());
        step(
            "customer",
            format!("Ivan Petrov: {text:?} (session {session})"),
        );
    }

    // 5. An operator answers in Bitrix24; the portal POSTs OnImConnectorMessageAdd to the receiver.
    let patience = match &emulator {
        Some(emulator) => {
            let reply =
                emulator.operator_reply(line.get(), &chat, "Good afternoon! It ships today.")?;
            step(
                "operator",
                format!(
                    "replies in the line chat (Bitrix24 message {})",
                    reply.message_id
                ),
            );
            Duration::from_secs(30)
        }
        None => {
            step(
                "operator",
                format!("waiting for an operator to answer chat `{chat}` on line {line}..."),
            );
            Duration::from_secs(600)
        }
    };
    loop {
        match tokio::time::timeout(patience, notes.recv()).await {
            Ok(Some(Note::Received(text))) => {
                step("event", format!("OnImConnectorMessageAdd: {text:?}"))
            }
            Ok(Some(Note::Confirmed(report))) => {
                let ids: Vec<_> = report
                    .messages
                    .iter()
                    .flat_map(|message| message.external_ids.clone())
                    .collect();
                match report.result {
                    Ok(()) => step(
                        "delivered",
                        format!("to the customer as {ids:?}; confirmed with send.status.delivery"),
                    ),
                    Err(error) => {
                        step("delivered", format!("but the confirmation failed: {error}"))
                    }
                }
                break;
            }
            Ok(None) => return Err("the receiver stopped".into()),
            Err(_) => {
                step("timeout", "no operator reply arrived".to_owned());
                break;
            }
        }
    }

    // 6. Rename the chat in Bitrix24.
    let rename =
        SetChatName::new(connector.clone(), line, &chat, "Order #5512").with_user_id("customer-42");
    match portal.client.call(&rename).await {
        Ok(_) => step("rename", format!("chat `{chat}` is now \"Order #5512\"")),
        Err(error) => step("rename", format!("failed: {error}")),
    }

    // 7. Teardown: deactivate, unbind, unregister.
    let torn_down = teardown(&portal.client, &setup, line).await?;
    step(
        "teardown",
        format!(
            "deactivated, {} event bindings removed, unregistered",
            torn_down.unbound
        ),
    );

    if let Some(emulator) = emulator {
        let stored = emulator.messages(line.get(), &chat);
        let delivered = stored.iter().filter(|message| message.delivered).count();
        let name = emulator
            .chats()
            .into_iter()
            .find(|found| found.external_chat_id == chat)
            .and_then(|found| found.name)
            .unwrap_or_default();
        println!(
            "\nThe emulated portal stored {} messages in chat {name:?} ({delivered} confirmed as delivered).",
            stored.len()
        );
        emulator.shutdown().await;
    }
    Ok(())
}

/// The connector's tile icon: a speech bubble, as a percent-encoded SVG data URI.
const ICON: &str = "data:image/svg+xml,%3Csvg%20xmlns%3D%22http%3A%2F%2Fwww.w3.org%2F2000%2Fsvg%22%20viewBox%3D%220%200%2024%2024%22%3E%3Cpath%20d%3D%22M4%204h16v12H8l-4%204z%22%20fill%3D%22%23fff%22%2F%3E%3C%2Fsvg%3E";

fn step(label: &str, text: String) {
    println!("  {label:<10} {text}");
}

/// What the handler tells `main`.
enum Note {
    Received(String),
    Confirmed(DeliveryReport),
}

/// The connector's event handler: "sends" each operator message to the customer and reports it.
struct Transcript {
    notes: mpsc::UnboundedSender<Note>,
}

impl Transcript {
    fn new() -> (Self, mpsc::UnboundedReceiver<Note>) {
        let (notes, receiver) = mpsc::unbounded_channel();
        (Self { notes }, receiver)
    }
}

impl EventHandler for Transcript {
    async fn message_add(&self, event: MessageAddEvent) -> Result<SentMessages, HandlerError> {
        let mut sent = SentMessages::new();
        for item in &event.data.messages {
            let text = item.message.text.clone().unwrap_or_default();
            // A real connector calls its messenger's API here and keeps the id it returns.
            sent.push(item, [format!("messenger-msg-{}", item.im.message_id)]);
            self.notes.send(Note::Received(text))?;
        }
        Ok(sent)
    }

    async fn delivery_confirmed(&self, report: DeliveryReport) {
        let _ = self.notes.send(Note::Confirmed(report));
    }
}

/// A client, where to listen, and how events are authenticated.
struct Connection {
    client: Client,
    application_token: String,
    line: LineId,
    listen: String,
    handler_url: Option<String>,
    describe: String,
}

impl Connection {
    fn emulated(emulator: &Emulator, state: &Path) -> Result<Self, BoxError> {
        let app = emulator.app();
        let client = client_builder(emulator)
            .token_store(Arc::new(FileTokenStore::new(state.join("tokens.json"))))
            .build()?;
        Ok(Self {
            client,
            application_token: app.application_token.expose_secret().to_owned(),
            line: LineId::new(1)?,
            listen: "127.0.0.1:0".to_owned(),
            handler_url: None,
            describe: format!("the embedded emulator at {}", emulator.rest_url()),
        })
    }
}

/// A real portal, configured through environment variables.
struct RealPortal {
    portal_url: String,
    client_id: String,
    client_secret: String,
    access_token: String,
    refresh_token: String,
    application_token: String,
    handler_url: String,
    listen: String,
    line: i64,
}

impl RealPortal {
    /// `None` unless `IMCONNECTOR_PORTAL_URL` is set; then every other variable is required
    /// except `IMCONNECTOR_LISTEN` (default `127.0.0.1:8080`).
    fn from_env() -> Result<Option<Self>, BoxError> {
        let Ok(portal_url) = std::env::var("IMCONNECTOR_PORTAL_URL") else {
            return Ok(None);
        };
        let var = |name: &str| {
            std::env::var(name)
                .map_err(|_| format!("{name} is not set (needed with IMCONNECTOR_PORTAL_URL)"))
        };
        Ok(Some(Self {
            portal_url,
            client_id: var("IMCONNECTOR_CLIENT_ID")?,
            client_secret: var("IMCONNECTOR_CLIENT_SECRET")?,
            access_token: var("IMCONNECTOR_ACCESS_TOKEN")?,
            refresh_token: var("IMCONNECTOR_REFRESH_TOKEN")?,
            application_token: var("IMCONNECTOR_APPLICATION_TOKEN")?,
            handler_url: var("IMCONNECTOR_HANDLER_URL")?,
            listen: std::env::var("IMCONNECTOR_LISTEN")
                .unwrap_or_else(|_| "127.0.0.1:8080".to_owned()),
            line: var("IMCONNECTOR_LINE")?
                .parse()
                .map_err(|_| "IMCONNECTOR_LINE must be a line id (a number)")?,
        }))
    }

    async fn connect(&self) -> Result<Connection, BoxError> {
        // Accept `https://example.bitrix24.com` as well as its REST base.
        let mut rest = self.portal_url.trim_end_matches('/').to_owned();
        if !rest.ends_with("/rest") {
            rest.push_str("/rest");
        }
        rest.push('/');
        let state = std::env::var("IMCONNECTOR_STATE_DIR")
            .unwrap_or_else(|_| "imconnector-state".to_owned());
        std::fs::create_dir_all(&state)?;
        let store = Arc::new(FileTokenStore::new(Path::new(&state).join("tokens.json")));
        // The pair the last refresh stored; the one from the environment on the first run.
        let tokens = match store.load().await? {
            Some(stored) => stored,
            None => Tokens::new(&self.access_token, &self.refresh_token),
        };
        let client = Client::builder()
            .oauth(OAuthApp::new(&self.client_id, &self.client_secret), tokens)
            .token_store(store)
            .portal(&rest)
            .build()?;
        let mut handler_url = self.handler_url.clone();
        if !handler_url.ends_with('/') {
            handler_url.push('/');
        }
        Ok(Connection {
            client,
            application_token: self.application_token.clone(),
            line: LineId::new(self.line)?,
            listen: self.listen.clone(),
            handler_url: Some(handler_url),
            describe: format!("the portal {rest}"),
        })
    }
}
