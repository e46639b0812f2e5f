//! A complete connector app, served by one router: installation (the portal's install POST,
//! ONAPPINSTALL proven with the OAuth server, ONAPPUNINSTALL), the settings page and events.
//!
//! ```text
//! cargo run -p imconnector --example installable
//! ```
//!
//! Without configuration it runs against an emulated portal started in-process: it adds the app
//! to the portal, lets the portal install it (install POST, installFinish, ONAPPINSTALL), then a
//! customer writes, an operator answers, the answer arrives as an event and is confirmed; it
//! prints a transcript and exits. No token is typed anywhere.
//!
//! With `IMCONNECTOR_CLIENT_ID` set it serves a real portal until Ctrl-C (see the crate README,
//! "Run it on your portal"):
//!
//! | variable | value |
//! |---|---|
//! | `IMCONNECTOR_CLIENT_ID`, `IMCONNECTOR_CLIENT_SECRET` | the local app's keys |
//! | `IMCONNECTOR_PUBLIC_URL` | the public HTTPS base that reaches `IMCONNECTOR_LISTEN`, e.g. `https://abc.tunnel.example/bitrix/` |
//! | `IMCONNECTOR_LISTEN` | where to listen (default `127.0.0.1:8080`) |
//! | `IMCONNECTOR_OAUTH_SERVER` | the token endpoint (default `https://oauth.bitrix.info/oauth/token/`) |
//! | `IMCONNECTOR_LINE` | the open line to connect (default: the first one) |
//! | `IMCONNECTOR_STATE_DIR` | where installed portals are kept (default `imconnector-state`) |
//! | `IMCONNECTOR_REDIS_URL` | optional: keep received events in a durable inbox in this Redis (`redis://…`) |
//! | `IMCONNECTOR_REPLICA` | this replica's name in the inbox's consumer group (default `replica-1`; keep it across restarts) |
//!
//! Without `IMCONNECTOR_REDIS_URL` the events' pipeline holds them in memory: a crash or a kill
//! loses the replies it held (answered 200, not yet handled or confirmed). With it, each event
//! is in Redis before the portal gets its 200, and a restarted app (same replica name) handles
//! and confirms what it left. Replies sent while the app is down are refused by nobody and
//! never resent: only offline events keep those (see the crate README).
//!
//! Installed portals, each with the token pair the portal last issued, are kept in files
//! (a `FilePortalStore`), so a restart serves every portal installed before it (the portal
//! never resends ONAPPINSTALL). Replicas share them in Redis (`imconnector_redis::RedisPortals`).
//! Against the emulator, whose portal is new at every run, the files go to a temporary directory.

use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use imconnector::emulator::{AppSetup, DeliveryOutcome, Emulator};
use imconnector::inbound::ConsumerOptions;
use imconnector::install::{AppUrls, Installer};
use imconnector::portals::{FilePortalStore, KeepAlive, PortalRegistry, PortalStore};
use imconnector::prelude::*;
use imconnector::receiver::{DeliveryReport, HandlerError};
use imconnector::transport::authorization::OAuthServer;
use imconnector::transport::DEFAULT_OAUTH_SERVER;
use imconnector::ExposeSecret;
use imconnector_redis::RedisBackend;
use tokio::sync::mpsc;

type BoxError = Box<dyn Error + Send + Sync>;

/// How long the emulated run waits for anything (only reached when something is broken).
const PATIENCE: Duration = Duration::from_secs(60);
const ICON: &str = "data:image/svg+xml,%3Csvg%20xmlns%3D%22http://www.w3.org/2000/svg%22%20viewBox%3D%220%200%2070%2071%22%3E%3Ccircle%20cx%3D%2235%22%20cy%3D%2235%22%20r%3D%2230%22%2F%3E%3C%2Fsvg%3E";

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    match std::env::var("IMCONNECTOR_CLIENT_ID") {
        Ok(client_id) => real_portal(client_id).await,
        Err(_) => emulated().await,
    }
}

/// The connector: its id, name, icon and where the portal reaches it.
fn connector(urls: &AppUrls) -> Result<ConnectorSetup, BoxError> {
    Ok(ConnectorSetup::new(
        ConnectorId::new("installable_connector")?,
        "Installable connector",
        Icon::new(ICON).with_color("#2fc6f6"),
        urls.settings(),
        urls.events(),
    )
    .with_data(ConnectorData::new().with_name("Installable channel")))
}

/// The one router of the app, `router` nested under the public URL's path.
fn mount(urls: &AppUrls, router: axum::Router) -> Result<axum::Router, BoxError> {
    let path = url::Url::parse(&urls.app())?
        .path()
        .trim_end_matches('/')
        .to_owned();
    Ok(if path.is_empty() {
        router
    } else {
        axum::Router::new().nest(&path, router)
    })
}

async fn real_portal(client_id: String) -> Result<(), BoxError> {
    let env = |name: &str| std::env::var(name).map_err(|_| format!("{name} is not set"));
    let app = OAuthApp::new(client_id.clone(), env("IMCONNECTOR_CLIENT_SECRET")?);
    let urls = AppUrls::new(&env("IMCONNECTOR_PUBLIC_URL")?)?;
    let listen = env("IMCONNECTOR_LISTEN").unwrap_or_else(|_| "127.0.0.1:8080".to_owned());
    let oauth_server =
        env("IMCONNECTOR_OAUTH_SERVER").unwrap_or_else(|_| DEFAULT_OAUTH_SERVER.to_owned());
    // Portals in files: a restart serves every portal installed before it. Replicas share
    // imconnector_redis::RedisPortals instead.
    let state = env("IMCONNECTOR_STATE_DIR").unwrap_or_else(|_| "imconnector-state".to_owned());
    let store = FilePortalStore::new(std::path::Path::new(&state).join("portals"));
    let registry = Arc::new(PortalRegistry::new(app.clone(), store));
    let oauth = OAuthServer::new(app)?.token_url(&oauth_server)?;
    let mut installer = Installer::new(Arc::clone(&registry), oauth, connector(&urls)?, &urls)?;
    // Refreshes every portal's pair before it has been idle for 30 days: a refresh token left
    // unused for 180 days dies, and the portal with it.
    tokio::spawn(async move { registry.keep_alive(KeepAlive::default()).await });
    if let Ok(line) = env("IMCONNECTOR_LINE") {
        installer = installer.line(LineId::new(line.parse()?)?);
    }
    // At every start: finish provisioning that an earlier run left half done (the portal
    // never resends ONAPPINSTALL). With a lasting store this is what makes a crash harmless.
    let reconciled = installer.reconcile().await?;
    for (member_id, error) in &reconciled.failed {
        println!("  provisioning of {member_id} still fails: {error}");
    }
    let (handler, mut notes) = Transcript::new();
    let installer = Arc::new(installer);
    let mut events = installer.event_receiver(handler);
    if let Ok(redis_url) = env("IMCONNECTOR_REDIS_URL") {
        let replica = env("IMCONNECTOR_REPLICA").unwrap_or_else(|_| "replica-1".to_owned());
        let backend = RedisBackend::builder(&client_id)
            .connect(&redis_url)
            .await?;
        events = events.durable_inbox(backend.inbox().await?, ConsumerOptions::new(replica)?);
        println!("Events are kept in the Redis inbox before each 200.");
    }
    let (events, pipeline) = events.build();
    let router = mount(&urls, installer.router_with_events(events))?;
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("Serving the connector app on {listen}. In the local app's form:");
    println!("  Handler path:               {}", urls.app());
    println!("  Initial installation path:  {}", urls.install());
    println!("  Scopes:                     imopenlines, imconnector, im");
    println!("Then open the app in Bitrix24 (or save it, for an API-only app). Ctrl-C stops.\n");
    tokio::spawn(async move {
        while let Some(note) = notes.recv().await {
            println!("  {note}");
        }
    });
    // Timeouts and limits for an endpoint facing the internet; Ctrl-C lets requests finish.
    imconnector::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    // Handles and confirms what was received; with the Redis inbox, what is left stays there
    // for the next start.
    let drained = pipeline.shutdown(Duration::from_secs(10)).await;
    if !drained.is_complete() {
        println!("{} event(s) not finished at shutdown", drained.unfinished);
    }
    Ok(())
}

async fn emulated() -> Result<(), BoxError> {
    let portal = Emulator::builder().lines(1).start().await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let urls = AppUrls::new(&format!("http://{}/bitrix/", listener.local_addr()?))?;
    println!(
        "imconnector installable against an emulated portal ({})\n",
        portal.base_url()
    );

    // What an administrator does in the portal's "Local application" form.
    let form = AppSetup::ui(urls.app(), urls.install()).with_redirect_url(urls.oauth_callback());
    let creds = portal.add_app(form)?;
    step(
        "add app",
        format!("{} (handler {})", creds.client_id, urls.app()),
    );

    // The app: the keys it was given, and nothing else.
    let app = OAuthApp::new(&creds.client_id, creds.client_secret.expose_secret());
    // Installed portals in files (a temporary directory: the emulated portal is new each run).
    let state = tempfile::tempdir()?;
    let registry = Arc::new(
        PortalRegistry::new(app.clone(), FilePortalStore::new(state.path()))
            .client_template(Client::builder().rate_limit(RateLimit::Off)),
    );
    let oauth = OAuthServer::new(app)?.token_url(&portal.oauth_url())?;
    let installer = Installer::new(Arc::clone(&registry), oauth, connector(&urls)?, &urls)?;
    let (handler, mut notes) = Transcript::new();
    let router = mount(&urls, installer.router(handler))?;
    tokio::spawn(async move { imconnector::serve(listener, router).await });

    // The administrator opens the app: the portal POSTs the install frame.
    let status = portal.install(&creds.client_id).await?;
    let answered = match status.last_install_post.map(|post| post.outcome) {
        Some(DeliveryOutcome::Delivered { status }) => format!("HTTP {status}"),
        other => return Err(format!("the install POST failed: {other:?}").into()),
    };
    step(
        "install POST",
        format!("answered {answered} (the installFinish page); connector provisioned"),
    );
    portal.install_finish(&creds.client_id)?;
    let queued = portal.event_deliveries().len() as u64;
    portal.wait_for_event_deliveries(queued, PATIENCE).await?;
    let record = registry
        .store()
        .load(&MemberId::from(&creds.member_id))
        .await?
        .ok_or("ONAPPINSTALL did not store the portal")?;
    step(
        "installFinish",
        format!(
            "ONAPPINSTALL proven; portal {} stored with its tokens",
            record.member_id
        ),
    );

    // A customer writes through the connector; an operator answers in Bitrix24.
    let client = registry
        .client_for(&MemberId::from(&creds.member_id))
        .await?;
    let customer = MessageIn::new(
        MessageUser::new("customer-1").with_name("Ivan"),
        MessageBody::new()
            .with_id("m-1")
            .with_text("Hello, is anyone there?"),
        MessageChat::new("chat-1"),
    );
    let connector_id = ConnectorId::new("installable_connector")?;
    client
        .call(&SendMessages::new(
            connector_id,
            LineId::new(1)?,
            [customer],
        ))
        .await?;
    step("customer", "Hello, is anyone there?");
    portal.operator_reply(1, "chat-1", "Yes! How can I help?")?;
    loop {
        let note = tokio::time::timeout(PATIENCE, notes.recv())
            .await?
            .ok_or("the app stopped")?;
        println!("  {note}");
        if note.starts_with("confirmed") {
            break;
        }
    }
    portal.shutdown().await;
    println!("\ndone: installed, provisioned, a message each way, delivery confirmed");
    Ok(())
}

fn step(what: &str, detail: impl std::fmt::Display) {
    println!("  {what:<14} {detail}");
}

/// The event handler: "delivers" each operator message and notes what happened.
struct Transcript {
    notes: mpsc::UnboundedSender<String>,
}

impl Transcript {
    fn new() -> (Self, mpsc::UnboundedReceiver<String>) {
        let (notes, receiver) = mpsc::unbounded_channel();
        (Self { notes }, receiver)
    }
}

impl EventHandler for Transcript {
    async fn message_add(&self, event: MessageAddEvent) -> Result<SentMessages, HandlerError> {
        let mut sent = SentMessages::new();
        for item in &event.data.messages {
            let text = item.message.text.clone().unwrap_or_default();
            self.notes.send(format!("{:<14} {text}", "operator"))?;
            sent.push(item, [format!("out-{}", item.chat.id.as_str())]);
        }
        Ok(sent)
    }

    async fn delivery_confirmed(&self, report: DeliveryReport) {
        let note = match report.result {
            Ok(()) => format!(
                "confirmed      {} message(s) delivered on line {}",
                report.messages.len(),
                report.line
            ),
            Err(error) => format!("confirmed      failed: {error}"),
        };
        let _ = self.notes.send(note);
    }
}
