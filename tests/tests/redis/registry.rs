//! Two portals in one registry kept in Redis: an event from portal A is verified with A's
//! application token and answered with A's client; a forged `member_id` is refused.

use imconnector_transport::MemberId;
use std::sync::Arc;
use std::time::Duration;

use imconnector::emulator::Emulator;
use imconnector::portals::{PortalRecord, PortalRegistry, PortalStore, RegistryError};
use imconnector::prelude::*;
use imconnector::receiver::DeliveryReport;
use imconnector::ExposeSecret;
use imconnector_redis::RedisPortals;
use tokio::sync::mpsc;

use crate::support::{
    backend, clean, fast_retries, portal_tokens, redis_url, unique_prefix, PATIENCE,
};

type Registry = Arc<PortalRegistry<RedisPortals>>;

/// Delivers every operator message (as `out-<id>`) and reports what it handled.
struct Bridge {
    seen: mpsc::UnboundedSender<(String, i64)>,
    confirmed: mpsc::UnboundedSender<DeliveryReport>,
}

impl EventHandler for Bridge {
    async fn message_add(&self, event: MessageAddEvent) -> Result<SentMessages, HandlerError> {
        let mut sent = SentMessages::new();
        for item in &event.data.messages {
            let _ = self.seen.send((
                event.auth.member_id.clone().into_string(),
                item.im.message_id.get(),
            ));
            sent.push(item, [format!("out-{}", item.im.message_id)]);
        }
        Ok(sent)
    }

    async fn delivery_confirmed(&self, report: DeliveryReport) {
        let _ = self.confirmed.send(report);
    }
}

fn registry(store: RedisPortals) -> Registry {
    // The registry's own credentials are not used: each emulated portal is an on-premise
    // portal with a local application of its own, carried in its record.
    let template = Client::builder()
        .rate_limit(RateLimit::Off)
        .retry_policy(fast_retries());
    Arc::new(
        PortalRegistry::new(OAuthApp::new("app.unused", "unused"), store).client_template(template),
    )
}

/// The `OnAppInstall` form a portal would POST for `portal`'s application.
fn install_form(portal: &Emulator) -> String {
    let app = portal.app();
    let tokens = portal.tokens();
    form_urlencoded::Serializer::new(String::new())
        .append_pair("event", "ONAPPINSTALL")
        .append_pair("auth[access_token]", tokens.access_token.expose_secret())
        .append_pair("auth[refresh_token]", tokens.refresh_token.expose_secret())
        .append_pair("auth[expires]", &tokens.expires.to_string())
        .append_pair("auth[client_endpoint]", &portal.rest_url())
        .append_pair("auth[member_id]", &app.member_id)
        .append_pair("auth[domain]", &app.domain)
        .append_pair(
            "auth[application_token]",
            app.application_token.expose_secret(),
        )
        .finish()
}

async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{address}/")
}

async fn post_form(url: &str, body: String) -> u16 {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("the receiver answers")
        .status()
        .as_u16()
}

fn setup(handler: &str) -> ConnectorSetup {
    ConnectorSetup::new(
        ConnectorId::new("acme_chat").expect("valid id"),
        "Acme Chat",
        Icon::new("data:image/svg+xml,%3Csvg%20xmlns%3D%22http://www.w3.org/2000/svg%22/%3E"),
        SettingsUrl::parse("https://connector.example.com/settings").expect("valid URL"),
        EventsUrl::parse(handler).expect("valid URL"),
    )
    .with_events(["OnImConnectorMessageAdd"])
}

/// A customer writes on `portal`, the operator answers: returns the operator message's id.
async fn operator_answers(portal: &Emulator, client: &Client, chat: &str) -> u64 {
    let line = LineId::new(1).expect("positive");
    let customer = MessageIn::new(
        MessageUser::new(format!("{chat}-customer")).with_name("Ivan"),
        MessageBody::new()
            .with_id(format!("{chat}-1"))
            .with_text("Hello"),
        MessageChat::new(chat),
    );
    client
        .call(&SendMessages::new(
            ConnectorId::new("acme_chat").expect("valid"),
            line,
            [customer],
        ))
        .await
        .expect("send.messages");
    portal
        .operator_reply(1, chat, "Hi, how can I help?")
        .expect("operator replies")
        .message_id
}

async fn next<T>(channel: &mut mpsc::UnboundedReceiver<T>) -> T {
    tokio::time::timeout(PATIENCE, channel.recv())
        .await
        .expect("in time")
        .expect("open channel")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_portals_in_one_registry_events_are_verified_and_answered_per_portal() {
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix("registry");
    let portal_a = Emulator::builder().start().await.expect("emulator A");
    let portal_b = Emulator::builder().start().await.expect("emulator B");
    let (app_a, app_b) = (portal_a.app(), portal_b.app());
    assert_ne!(app_a.member_id, app_b.member_id);

    // Replica 1 installs both portals: A from its OnAppInstall POST, B from a record.
    let installer = registry(
        backend(&url, &prefix, Duration::from_secs(5))
            .await
            .portals(RateLimit::Off),
    );
    let record_a = PortalRecord::from_install_event(
        &imconnector_form::parse(install_form(&portal_a).as_bytes()).expect("form"),
    )
    .expect("an install event")
    .with_app(OAuthApp::new(
        app_a.client_id.clone(),
        app_a.client_secret.expose_secret(),
    ))
    .with_oauth_server(portal_a.oauth_url());
    let client_a = installer.install(record_a).await.expect("A installed");
    let record_b = PortalRecord::new(
        &app_b.member_id,
        app_b.application_token.expose_secret(),
        portal_tokens(&portal_b),
    )
    .with_app(OAuthApp::new(
        app_b.client_id.clone(),
        app_b.client_secret.expose_secret(),
    ))
    .with_oauth_server(portal_b.oauth_url());
    let client_b = installer.install(record_b).await.expect("B installed");

    // Replica 2 never saw the installations: it finds both portals in Redis.
    let receiver_registry = registry(
        backend(&url, &prefix, Duration::from_secs(5))
            .await
            .portals(RateLimit::Off),
    );
    let (seen_sender, mut seen) = mpsc::unbounded_channel();
    let (confirmed_sender, mut confirmed) = mpsc::unbounded_channel();
    let bridge = Bridge {
        seen: seen_sender,
        confirmed: confirmed_sender,
    };
    let receiver = EventReceiver::new(Arc::clone(&receiver_registry), bridge)
        .confirm_deliveries(Arc::clone(&receiver_registry));
    let handler_url = serve(receiver.router()).await;
    provision(
        &client_a,
        &setup(&handler_url),
        LineId::new(1).expect("positive"),
    )
    .await
    .expect("A provisioned");
    provision(
        &client_b,
        &setup(&handler_url),
        LineId::new(1).expect("positive"),
    )
    .await
    .expect("B provisioned");

    // An operator answers on A: the event is checked against A's token and confirmed by A's client.
    let reply_a = operator_answers(&portal_a, &client_a, "chat-a").await;
    assert_eq!(
        next(&mut seen).await,
        (
            app_a.member_id.clone(),
            i64::try_from(reply_a).expect("small")
        )
    );
    let report = next(&mut confirmed).await;
    assert!(report.result.is_ok(), "{:?}", report.result);
    let deliveries_a = portal_a.delivery_statuses();
    assert_eq!(deliveries_a.len(), 1);
    assert!(deliveries_a[0].matched, "{:?}", deliveries_a[0]);
    assert!(
        portal_b.delivery_statuses().is_empty(),
        "B's portal was not called for A's event"
    );

    // The same on B, with B's token and B's client.
    let reply_b = operator_answers(&portal_b, &client_b, "chat-b").await;
    assert_eq!(
        next(&mut seen).await,
        (
            app_b.member_id.clone(),
            i64::try_from(reply_b).expect("small")
        )
    );
    assert!(next(&mut confirmed).await.result.is_ok());
    assert_eq!(portal_b.delivery_statuses().len(), 1);
    assert_eq!(portal_a.delivery_statuses().len(), 1);

    // A's genuine event claiming to come from B (A's token, B's member_id): refused.
    let genuine = portal_a
        .event_deliveries()
        .into_iter()
        .find(|delivery| delivery.event == "ONIMCONNECTORMESSAGEADD")
        .expect("A's event was delivered")
        .body;
    let forged_member = format!("auth%5Bmember_id%5D={}", app_b.member_id);
    let forged = genuine.replace(
        &format!("auth%5Bmember_id%5D={}", app_a.member_id),
        &forged_member,
    );
    assert_ne!(forged, genuine, "the form carries auth[member_id]");
    assert_eq!(post_form(&handler_url, forged).await, 401);
    // A portal nobody installed: refused too. A's genuine event replayed: accepted, and not
    // handled a second time (the inbound pipeline deduplicates it).
    let unknown = genuine.replace(
        &format!("auth%5Bmember_id%5D={}", app_a.member_id),
        "auth%5Bmember_id%5D=not-installed",
    );
    assert_eq!(post_form(&handler_url, unknown).await, 401);
    assert_eq!(post_form(&handler_url, genuine).await, 200);
    assert!(
        tokio::time::timeout(Duration::from_secs(1), seen.recv())
            .await
            .is_err(),
        "neither a forged event nor the replay was handled"
    );

    // Uninstalling forgets the portal everywhere.
    installer
        .uninstall(&MemberId::from(&app_b.member_id))
        .await
        .expect("uninstalled");
    assert!(receiver_registry
        .store()
        .load(&MemberId::from(&app_b.member_id))
        .await
        .expect("Redis answers")
        .is_none());
    assert!(matches!(
        registry(
            backend(&url, &prefix, Duration::from_secs(5))
                .await
                .portals(RateLimit::Off)
        )
        .client_for(&MemberId::from(&app_b.member_id))
        .await,
        Err(RegistryError::NotInstalled(_))
    ));
    clean(
        &backend(&url, &prefix, Duration::from_secs(5)).await,
        &prefix,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_lists_its_portals_and_keeps_the_provisioning_mark_apart_from_the_pair() {
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix("provisioned");
    let backend = backend(&url, &prefix, Duration::from_secs(5)).await;
    let store = backend.portals(RateLimit::Off);
    let portal = Emulator::builder().start().await.expect("emulator");
    let app = portal.app();
    let record = PortalRecord::new(
        app.member_id.clone(),
        app.application_token.expose_secret(),
        portal_tokens(&portal),
    );
    assert!(store.list().await.expect("listed").is_empty());
    store.save(&record).await.expect("saved");
    assert_eq!(
        store.list().await.expect("listed"),
        std::slice::from_ref(&app.member_id)
    );
    let loaded = store
        .load(&MemberId::from(&app.member_id))
        .await
        .expect("loaded")
        .expect("stored");
    assert!(!loaded.provisioned, "an installation starts unprovisioned");

    store
        .set_provisioned(&MemberId::from(&app.member_id), true)
        .await
        .expect("marked");
    let loaded = store
        .load(&MemberId::from(&app.member_id))
        .await
        .expect("loaded")
        .expect("stored");
    assert!(loaded.provisioned);
    assert!(
        loaded.tokens.same_access_token(&record.tokens),
        "the pair is untouched"
    );
    // A new installation starts over.
    store.save(&record).await.expect("saved again");
    let loaded = store
        .load(&MemberId::from(&app.member_id))
        .await
        .expect("loaded")
        .expect("stored");
    assert!(!loaded.provisioned);

    // Removed: unlisted, and a late mark does not bring anything back.
    store
        .remove(&MemberId::from(&app.member_id))
        .await
        .expect("removed");
    assert!(store.list().await.expect("listed").is_empty());
    store
        .set_provisioned(&MemberId::from(&app.member_id), true)
        .await
        .expect("no-op");
    assert!(store
        .load(&MemberId::from(&app.member_id))
        .await
        .expect("loaded")
        .is_none());
    let mut connection = backend.connection();
    let left: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*provisioned*"))
        .query_async(&mut connection)
        .await
        .expect("Redis answers");
    assert!(left.is_empty(), "{left:?}");
    clean(&backend, &prefix).await;
}
