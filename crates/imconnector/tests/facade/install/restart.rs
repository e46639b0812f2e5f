//! State that survives a restart (issue 22): the connector app keeps its portals in a
//! `FilePortalStore`, and a process stopped dead (its server task aborted, nothing flushed) and
//! started again on the same address with a new store over the same directory serves the
//! portals installed before, with the token pair the portal last issued, and finishes a
//! provisioning the dead process left half done.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use imconnector::emulator::{AppCredentials, AppSetup, DeliveryOutcome, Emulator};
use imconnector::inbound::ConsumerOptions;
use imconnector::install::{AppUrls, Installer};
use imconnector::portals::{FilePortalStore, PortalRegistry, PortalStore};
use imconnector::prelude::*;
use imconnector::transport::authorization::OAuthServer;
use imconnector::transport::inbox::{Appended, InboxStore, MemoryInbox};
use imconnector::ExposeSecret;
use tokio::sync::mpsc;

use super::support::customer_writes;
use crate::support::{recorder, setup, Seen, PATIENCE};

/// One run of the connector app: its registry over the file store, serving at `address`.
struct Process {
    registry: Arc<PortalRegistry<FilePortalStore>>,
    seen: mpsc::UnboundedReceiver<Seen>,
    server: tokio::task::JoinHandle<()>,
}

impl Process {
    /// Starts the app as its `main` would: the store, the registry, the installer, the
    /// start-up reconciliation, then serving.
    async fn start(
        portal: &Emulator,
        app: &AppCredentials,
        address: SocketAddr,
        directory: &Path,
    ) -> Self {
        Self::start_with(portal, app, address, directory, None).await
    }

    /// [`start`](Self::start), keeping events in `inbox` before each 200 when given.
    async fn start_with(
        portal: &Emulator,
        app: &AppCredentials,
        address: SocketAddr,
        directory: &Path,
        inbox: Option<Arc<MemoryInbox>>,
    ) -> Self {
        let urls = urls(address);
        let credentials = OAuthApp::new(&app.client_id, app.client_secret.expose_secret());
        let registry = Arc::new(
            PortalRegistry::new(credentials.clone(), FilePortalStore::new(directory))
                .client_template(Client::builder().rate_limit(RateLimit::Off)),
        );
        let oauth = OAuthServer::new(credentials)
            .expect("http client")
            .token_url(&portal.oauth_url())
            .expect("valid URL");
        let connector = setup(urls.events().as_str())
            .with_events(["OnImConnectorMessageAdd", "OnImConnectorDialogStart"]);
        let installer = Arc::new(
            Installer::new(Arc::clone(&registry), oauth, connector, &urls).expect("installer"),
        );
        let reconciled = installer
            .reconcile()
            .await
            .expect("the store lists its portals");
        assert!(reconciled.failed.is_empty(), "{:?}", reconciled.failed);
        let (handler, seen) = recorder();
        let mut events = installer.event_receiver(handler);
        if let Some(inbox) = inbox {
            let consumer = ConsumerOptions::new("replica-1").expect("valid name");
            events = events.durable_inbox(inbox, consumer);
        }
        let (events, _pipeline) = events.build();
        let router = axum::Router::new().nest("/bitrix", installer.router_with_events(events));
        // Bound before returning, so the portal's next POST finds the process.
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .expect("the same address again");
        let server = tokio::spawn(async move {
            axum::serve(listener, router).await.expect("serve");
        });
        Self {
            registry,
            seen,
            server,
        }
    }

    /// Dies on the spot: the server and every connection go, nothing is flushed.
    async fn kill(self) {
        self.server.abort();
        let _ = self.server.await;
    }

    /// The next confirmed delivery (skipping the events before it).
    async fn confirmed(&mut self) -> i64 {
        loop {
            let seen = tokio::time::timeout(PATIENCE, self.seen.recv())
                .await
                .expect("in time")
                .expect("open");
            if let Seen::Confirmed(report) = seen {
                assert!(report.result.is_ok(), "{:?}", report.result);
                return report.messages[0].message_id.get();
            }
        }
    }
}

fn urls(address: SocketAddr) -> AppUrls {
    AppUrls::new(&format!("http://{address}/bitrix/")).expect("valid base")
}

/// A portal with the app added (not installed), and the address the app will serve at.
async fn portal_and_app() -> (Emulator, AppCredentials, SocketAddr) {
    let portal = Emulator::builder()
        .lines(1)
        .start()
        .await
        .expect("emulator starts");
    // A free port, released at once: each process binds it in turn.
    let address = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port");
    let urls = urls(address);
    let form =
        AppSetup::api_only(urls.app(), urls.install()).with_redirect_url(urls.oauth_callback());
    let app = portal.add_app(form).expect("app added");
    (portal, app, address)
}

async fn settle(portal: &Emulator) {
    let queued = portal.event_deliveries().len() as u64;
    portal
        .wait_for_event_deliveries(queued, PATIENCE)
        .await
        .expect("event POSTs answered");
}

/// The operator answers in `chat`; the process handles the event and confirms the delivery
/// with the portal's client.
async fn operator_reply_is_confirmed(portal: &Emulator, process: &mut Process, chat: &str) {
    let reply = portal
        .operator_reply(1, chat, "How can I help?")
        .expect("operator replies");
    let confirmed = process.confirmed().await;
    assert_eq!(u64::try_from(confirmed).ok(), Some(reply.message_id));
    assert!(portal
        .delivery_statuses()
        .iter()
        .any(|record| record.message_id == Some(confirmed)));
}

#[tokio::test]
async fn portals_installed_before_a_restart_are_served_after_it_with_the_refreshed_pair() {
    let (portal, app, address) = portal_and_app().await;
    let directory = tempfile::tempdir().expect("temporary directory");
    let mut first = Process::start(&portal, &app, address, directory.path()).await;
    portal.install(&app.client_id).await.expect("install");
    settle(&portal).await;
    customer_writes(&first.registry, &app.member_id, "chat-1").await;
    // The access token expires: the confirmation refreshes, and the portal rotates the pair.
    portal.expire_tokens();
    operator_reply_is_confirmed(&portal, &mut first, "chat-1").await;
    let refreshes = portal.counters().refreshes;
    assert!(refreshes >= 1, "the first process refreshed");
    settle(&portal).await;
    let before_restart = portal.event_deliveries().len();
    first.kill().await;

    // ONAPPINSTALL is never resent: only the file knows the portal, and its current pair.
    let mut second = Process::start(&portal, &app, address, directory.path()).await;
    operator_reply_is_confirmed(&portal, &mut second, "chat-1").await;
    customer_writes(&second.registry, &app.member_id, "chat-2").await;
    settle(&portal).await;
    let after_restart = &portal.event_deliveries()[before_restart..];
    assert!(!after_restart.is_empty());
    for delivery in after_restart {
        assert_eq!(
            delivery.outcome,
            DeliveryOutcome::Delivered { status: 200 },
            "{} refused after the restart",
            delivery.event
        );
    }
    let counters = portal.counters();
    assert_eq!(
        counters.refresh_rejections, 0,
        "no refresh with a rotated token"
    );
    assert_eq!(
        counters.refreshes, refreshes,
        "the stored pair was still valid"
    );
    second.kill().await;
    portal.shutdown().await;
}

#[tokio::test]
async fn a_half_provisioned_portal_in_the_file_store_is_finished_by_the_next_start() {
    let (portal, app, address) = portal_and_app().await;
    let directory = tempfile::tempdir().expect("temporary directory");
    // Provisioning fails during ONAPPINSTALL (the app lacks the scope): stored, not provisioned.
    portal
        .set_app_scope(&app.client_id, &["imopenlines"])
        .expect("scope");
    let first = Process::start(&portal, &app, address, directory.path()).await;
    portal.install(&app.client_id).await.expect("install");
    settle(&portal).await;
    let stored = FilePortalStore::new(directory.path())
        .load(&MemberId::from(&app.member_id))
        .await
        .expect("readable")
        .expect("the proven portal is stored");
    assert!(!stored.provisioned);
    assert!(portal.connectors().is_empty());
    first.kill().await;

    portal
        .set_app_scope(&app.client_id, &["imopenlines", "imconnector"])
        .expect("scope");
    let mut second = Process::start(&portal, &app, address, directory.path()).await;
    assert_eq!(portal.connectors().len(), 1, "registered at start");
    assert!(
        portal.line_status("acme_chat", 1).status(),
        "active on the line"
    );
    let stored = FilePortalStore::new(directory.path())
        .load(&MemberId::from(&app.member_id))
        .await
        .expect("readable")
        .expect("stored");
    assert!(stored.provisioned, "marked, so the next start does nothing");
    customer_writes(&second.registry, &app.member_id, "chat-1").await;
    operator_reply_is_confirmed(&portal, &mut second, "chat-1").await;
    second.kill().await;
    portal.shutdown().await;
}

#[tokio::test]
async fn the_installer_mounts_a_receiver_with_a_durable_inbox() {
    let (portal, app, address) = portal_and_app().await;
    let directory = tempfile::tempdir().expect("temporary directory");
    let inbox = Arc::new(MemoryInbox::new());
    let mut process = Process::start_with(
        &portal,
        &app,
        address,
        directory.path(),
        Some(Arc::clone(&inbox)),
    )
    .await;
    portal.install(&app.client_id).await.expect("install");
    settle(&portal).await;
    customer_writes(&process.registry, &app.member_id, "chat-1").await;
    operator_reply_is_confirmed(&portal, &mut process, "chat-1").await;
    let confirmed = portal
        .delivery_statuses()
        .last()
        .and_then(|record| record.message_id)
        .expect("a confirmed message");
    // The reply went through the inbox: its key is remembered there, and its entry is gone
    // once handled and confirmed.
    let key = format!("{}:ONIMCONNECTORMESSAGEADD:{confirmed}", app.member_id);
    let again = inbox
        .append(&key, &MemberId::from(&app.member_id), "{}")
        .await
        .expect("the memory inbox answers");
    assert_eq!(again, Appended::Duplicate, "appended by the receiver");
    let started = tokio::time::Instant::now();
    while !inbox.is_empty() {
        assert!(
            started.elapsed() < PATIENCE,
            "the entry was never acknowledged"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    process.kill().await;
    portal.shutdown().await;
}
