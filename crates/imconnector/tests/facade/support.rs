//! A portal, a client for it, a recording event handler and a loopback server.

use std::time::Duration;

use imconnector::emulator::{client_builder, AppCredentials, Emulator};
use imconnector::prelude::*;
use imconnector::receiver::{DeliveryReport, HandlerError};
use tokio::sync::mpsc;

/// Long enough for a loaded 2-core machine; only reached when something is broken.
pub const PATIENCE: Duration = Duration::from_secs(60);

pub struct Portal {
    pub emulator: Emulator,
    pub client: Client,
    pub app: AppCredentials,
}

pub async fn portal() -> Portal {
    let emulator = Emulator::builder()
        .lines(2)
        .start()
        .await
        .expect("emulator starts");
    let app = emulator.app();
    let client = client_builder(&emulator)
        .rate_limit(RateLimit::Off)
        .build()
        .expect("client builds");
    Portal {
        emulator,
        client,
        app,
    }
}

pub fn line(id: i64) -> LineId {
    LineId::new(id).expect("positive line")
}

pub fn setup(event_handler: &str) -> ConnectorSetup {
    ConnectorSetup::new(
        ConnectorId::new("acme_chat").expect("valid id"),
        "Acme Chat",
        Icon::new("data:image/svg+xml,%3Csvg%20xmlns%3D%22http://www.w3.org/2000/svg%22/%3E")
            .with_color("#69acc0"),
        SettingsUrl::parse("https://connector.example.com/settings").expect("valid URL"),
        EventsUrl::parse(event_handler).expect("valid URL"),
    )
}

/// Serves `router` on 127.0.0.1 (a free port) and returns its base URL, ending with `/`.
pub async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        imconnector::serve(listener, router).await.expect("serve");
    });
    format!("http://{address}/")
}

/// A handler URL on loopback that accepts every POST, for tests that do not look at events
/// (the portal POSTs some, e.g. on deactivation, and tests never reach the internet).
pub async fn sink() -> String {
    let router = axum::Router::new().fallback(|| async { "OK" });
    format!("{}events", serve(router).await)
}

/// What the recording handler saw.
#[derive(Debug)]
pub enum Seen {
    MessageAdd(MessageAddEvent),
    LineDelete(LineDeleteEvent),
    StatusDelete(StatusDeleteEvent),
    DialogStart(DialogStartEvent),
    Confirmed(DeliveryReport),
}

/// Reports every event to a channel; "delivers" each operator message as `out-<message id>`.
pub struct Recorder {
    pub seen: mpsc::UnboundedSender<Seen>,
}

pub fn recorder() -> (Recorder, mpsc::UnboundedReceiver<Seen>) {
    let (seen, receiver) = mpsc::unbounded_channel();
    (Recorder { seen }, receiver)
}

impl EventHandler for Recorder {
    async fn message_add(&self, event: MessageAddEvent) -> Result<SentMessages, HandlerError> {
        let mut sent = SentMessages::new();
        for item in &event.data.messages {
            sent.push(item, [format!("out-{}", item.im.message_id)]);
        }
        self.seen.send(Seen::MessageAdd(event))?;
        Ok(sent)
    }

    async fn line_delete(&self, event: LineDeleteEvent) -> Result<(), HandlerError> {
        self.seen.send(Seen::LineDelete(event))?;
        Ok(())
    }

    async fn status_delete(&self, event: StatusDeleteEvent) -> Result<(), HandlerError> {
        self.seen.send(Seen::StatusDelete(event))?;
        Ok(())
    }

    async fn dialog_start(&self, event: DialogStartEvent) -> Result<(), HandlerError> {
        self.seen.send(Seen::DialogStart(event))?;
        Ok(())
    }

    async fn delivery_confirmed(&self, report: DeliveryReport) {
        let _ = self.seen.send(Seen::Confirmed(report));
    }
}

/// The next thing the handler saw (panics after [`PATIENCE`]).
pub async fn next(seen: &mut mpsc::UnboundedReceiver<Seen>) -> Seen {
    tokio::time::timeout(PATIENCE, seen.recv())
        .await
        .expect("the handler was called in time")
        .expect("the channel is open")
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("http client")
}
