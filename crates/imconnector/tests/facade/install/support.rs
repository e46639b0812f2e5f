//! A connector app served by an `Installer` on loopback, and a portal that installs it.

use std::sync::Arc;

use imconnector::emulator::{AppCredentials, AppSetup, Emulator};
use imconnector::install::{AppUrls, Installer};
use imconnector::portals::{MemoryPortalStore, PortalRecord, PortalRegistry, PortalStore};
use imconnector::prelude::*;
use imconnector::transport::authorization::OAuthServer;
use imconnector::ExposeSecret;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::support::{http, recorder, setup, Seen, PATIENCE};

/// How the local app is set up in the portal.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Ui,
    LegacyUi,
    ApiOnly,
}

pub struct App<S = MemoryPortalStore> {
    pub portal: Emulator,
    pub creds: AppCredentials,
    pub urls: AppUrls,
    pub registry: Arc<PortalRegistry<S>>,
    pub installer: Arc<Installer<S>>,
    pub seen: mpsc::UnboundedReceiver<Seen>,
}

pub async fn app(style: Style) -> App {
    app_with(style, MemoryPortalStore::new()).await
}

/// An API-only app installed on the emulated portal (ONAPPINSTALL answered and stored).
pub async fn installed() -> App {
    installed_with(MemoryPortalStore::new()).await
}

/// [`installed`], its portals in `store`.
pub async fn installed_with<S: PortalStore>(store: S) -> App<S> {
    let app = app_with(Style::ApiOnly, store).await;
    app.portal
        .install(&app.creds.client_id)
        .await
        .expect("install");
    app.settle().await;
    assert!(app.record().await.is_some(), "installed");
    app
}

/// The portal with a local app added (not installed), and the app serving its router on
/// 127.0.0.1, storing portals in `store`.
pub async fn app_with<S: PortalStore>(style: Style, store: S) -> App<S> {
    app_tuned(style, store, |installer| installer).await
}

/// [`app_with`], the installer changed by `tune` before it serves.
pub async fn app_tuned<S: PortalStore>(
    style: Style,
    store: S,
    tune: impl FnOnce(Installer<S>) -> Installer<S>,
) -> App<S> {
    let portal = Emulator::builder()
        .lines(2)
        .start()
        .await
        .expect("emulator starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let urls = AppUrls::new(&format!("http://{address}/bitrix/")).expect("valid base");
    let form = match style {
        Style::Ui => AppSetup::ui(urls.app(), urls.install()),
        Style::LegacyUi => AppSetup::ui(urls.app(), urls.install()).with_legacy_install_post(),
        Style::ApiOnly => AppSetup::api_only(urls.app(), urls.install()),
    }
    .with_redirect_url(urls.oauth_callback());
    let creds = portal.add_app(form).expect("app added");
    let credentials = OAuthApp::new(&creds.client_id, creds.client_secret.expose_secret());
    let registry = Arc::new(
        PortalRegistry::new(credentials.clone(), store)
            .client_template(Client::builder().rate_limit(RateLimit::Off)),
    );
    let oauth = OAuthServer::new(credentials)
        .expect("http client")
        .token_url(&portal.oauth_url())
        .expect("valid URL");
    // The settings page is the router's own, so the portal's Connect/Disconnect reach it.
    let connector = ConnectorSetup::new(
        ConnectorId::new("acme_chat").expect("valid id"),
        "Acme Chat",
        setup(urls.events().as_str()).registration().icon().clone(),
        urls.settings(),
        urls.events(),
    )
    .with_events(["OnImConnectorMessageAdd", "OnImConnectorDialogStart"]);
    let installer = Arc::new(tune(
        Installer::new(Arc::clone(&registry), oauth, connector, &urls).expect("installer"),
    ));
    let (handler, seen) = recorder();
    let router = axum::Router::new().nest("/bitrix", Arc::clone(&installer).shared_router(handler));
    tokio::spawn(async move {
        axum::serve(listener, router).await.expect("serve");
    });
    App {
        portal,
        creds,
        urls,
        registry,
        installer,
        seen,
    }
}

impl<S: PortalStore> App<Arc<S>> {
    /// Another installer on `app`'s store (serving at `urls`), as another replica or a
    /// restarted process builds it.
    pub fn installer_sharing_the_store(&self, urls: &AppUrls) -> Installer<Arc<S>> {
        let credentials = self.registry.app().clone();
        let registry = Arc::new(
            PortalRegistry::new(credentials.clone(), Arc::clone(self.registry.store()))
                .client_template(Client::builder().rate_limit(RateLimit::Off)),
        );
        let oauth = OAuthServer::new(credentials)
            .expect("http client")
            .token_url(&self.portal.oauth_url())
            .expect("valid URL");
        Installer::new(registry, oauth, setup(urls.events().as_str()), urls).expect("installer")
    }
}

impl<S: PortalStore> App<S> {
    /// Waits until every event POST queued so far has been answered.
    pub async fn settle(&self) {
        let queued = self.portal.event_deliveries().len() as u64;
        self.portal
            .wait_for_event_deliveries(queued, PATIENCE)
            .await
            .expect("event POSTs answered");
    }

    /// The outcome of the last POST of `event` (upper case).
    pub fn last_delivery(&self, event: &str) -> imconnector::emulator::EventDelivery {
        self.portal
            .event_deliveries()
            .into_iter()
            .rev()
            .find(|delivery| delivery.event == event)
            .expect("the event was sent")
    }

    /// The stored record of the portal, if any.
    pub async fn record(&self) -> Option<PortalRecord> {
        self.registry
            .store()
            .load(&MemberId::from(&self.creds.member_id))
            .await
            .expect("store readable")
    }

    pub async fn post(&self, url: &str, body: impl Into<reqwest::Body>) -> (u16, String) {
        let response = http()
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("the app answers");
        let status = response.status().as_u16();
        (status, response.text().await.expect("text"))
    }

    /// An `OnImConnectorLineDelete` as the portal would send it, with `token`.
    pub async fn post_event(&self, token: &str) -> u16 {
        let body = imconnector_form::encode(&json!({
            "event": "ONIMCONNECTORLINEDELETE",
            "event_handler_id": "1",
            "data": "2",
            "ts": "1773761165",
            "auth": {"domain": self.creds.domain, "member_id": self.creds.member_id, "application_token": token},
        }));
        self.post(self.urls.events().as_str(), body).await.0
    }

    /// Nothing stored, no connector on the portal, no event bound by the app.
    pub async fn assert_untouched(&self) {
        assert!(self.record().await.is_none(), "nothing stored");
        assert!(self.portal.connectors().is_empty(), "nothing registered");
        let ours = self
            .portal
            .event_deliveries()
            .into_iter()
            .filter(|delivery| delivery.client_id == self.creds.client_id)
            .count();
        assert_eq!(ours, 0, "no event for the app");
    }
}

/// A customer writes `Hello` in `chat` on line 1 through the client `registry` keeps for portal
/// `member_id`.
pub async fn customer_writes<S: PortalStore>(
    registry: &PortalRegistry<S>,
    member_id: &str,
    chat: &str,
) {
    let client = registry
        .client_for(&MemberId::from(member_id))
        .await
        .expect("the installed portal's client");
    let customer = MessageIn::new(
        MessageUser::new("ext-user-1").with_name("Ivan"),
        MessageBody::new()
            .with_id(format!("{chat}-m1"))
            .with_text("Hello"),
        MessageChat::new(chat),
    );
    client
        .call(&SendMessages::new(
            ConnectorId::new("acme_chat").expect("id"),
            LineId::new(1).expect("line"),
            [customer],
        ))
        .await
        .expect("send.messages");
}

/// A customer writes on line 1 through the stored portal's client; an operator answers; the
/// handler gets the reply and the receiver confirms it. Returns the confirmed message id.
pub async fn customer_and_operator_talk<S: PortalStore>(app: &mut App<S>, chat: &str) -> i64 {
    customer_writes(&app.registry, &app.creds.member_id, chat).await;
    let reply = app
        .portal
        .operator_reply(1, chat, "How can I help?")
        .expect("operator replies");
    loop {
        let seen = tokio::time::timeout(PATIENCE, app.seen.recv())
            .await
            .expect("in time")
            .expect("open");
        if let Seen::Confirmed(report) = seen {
            assert!(report.result.is_ok(), "{:?}", report.result);
            assert_eq!(report.member_id, app.creds.member_id);
            let confirmed = report.messages[0].message_id.get();
            assert_eq!(u64::try_from(confirmed).ok(), Some(reply.message_id));
            let marked = app.portal.delivery_statuses();
            assert!(marked
                .iter()
                .any(|record| record.message_id == Some(confirmed)));
            return confirmed;
        }
    }
}

pub fn form_of(delivery: &imconnector::emulator::EventDelivery) -> Value {
    delivery.form()
}
