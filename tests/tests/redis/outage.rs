//! Issue 20: while Redis is stopped, a replica still verifies a portal's events with the
//! application token Redis last gave it, so an operator's reply is handled and confirmed
//! instead of refused (the portal never resends an event); a forged one is still refused.

use std::sync::Arc;
use std::time::Duration;

use imconnector::emulator::Emulator;
use imconnector::portals::{PortalRecord, PortalRegistry};
use imconnector::prelude::*;
use imconnector::receiver::DeliveryReport;
use imconnector::ExposeSecret;
use imconnector_redis::{RedisBackend, RedisPortals};
use imconnector_tests::redis_process::RedisProcess;
use tokio::sync::mpsc;

use crate::support::{fast_retries, portal_tokens, redis_url, PATIENCE};

struct Bridge {
    seen: mpsc::UnboundedSender<i64>,
    confirmed: mpsc::UnboundedSender<DeliveryReport>,
}

impl EventHandler for Bridge {
    async fn message_add(&self, event: MessageAddEvent) -> Result<SentMessages, HandlerError> {
        let mut sent = SentMessages::new();
        for item in &event.data.messages {
            let _ = self.seen.send(item.im.message_id.get());
            sent.push(item, [format!("out-{}", item.im.message_id)]);
        }
        Ok(sent)
    }

    async fn delivery_confirmed(&self, report: DeliveryReport) {
        let _ = self.confirmed.send(report);
    }
}

async fn next<T>(channel: &mut mpsc::UnboundedReceiver<T>) -> T {
    tokio::time::timeout(PATIENCE, channel.recv())
        .await
        .expect("in time")
        .expect("open channel")
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_reply_during_a_redis_outage_is_handled_and_confirmed() {
    if redis_url().is_none() {
        return;
    }
    let mut server = RedisProcess::start().await;
    let portal = Emulator::builder().start().await.expect("emulator");
    let app = portal.app();
    let oauth_app = OAuthApp::new(app.client_id.clone(), app.client_secret.expose_secret());
    let backend = RedisBackend::builder(&app.client_id)
        .response_timeout(Duration::from_millis(300))
        .connect(&server.url())
        .await
        .expect("Redis answers");
    let registry: Arc<PortalRegistry<RedisPortals>> = Arc::new(
        PortalRegistry::new(oauth_app.clone(), backend.portals(RateLimit::Off)).client_template(
            Client::builder()
                .rate_limit(RateLimit::Off)
                .retry_policy(fast_retries()),
        ),
    );
    let record = PortalRecord::new(
        &app.member_id,
        app.application_token.expose_secret(),
        portal_tokens(&portal),
    )
    .with_oauth_server(portal.oauth_url());
    let client = registry.install(record).await.expect("installed");

    let (seen_sender, mut seen) = mpsc::unbounded_channel();
    let (confirmed_sender, mut confirmed) = mpsc::unbounded_channel();
    let receiver = EventReceiver::new(
        Arc::clone(&registry),
        Bridge {
            seen: seen_sender,
            confirmed: confirmed_sender,
        },
    )
    .confirm_deliveries(Arc::clone(&registry));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let handler = format!("http://{}/", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, receiver.router()).await });
    let line = LineId::new(1).expect("positive");
    let connector = ConnectorId::new("acme_chat").expect("valid id");
    let setup = ConnectorSetup::new(
        connector.clone(),
        "Acme Chat",
        Icon::new("data:image/svg+xml,%3Csvg%20xmlns%3D%22http://www.w3.org/2000/svg%22/%3E"),
        SettingsUrl::parse("https://connector.example.com/settings").expect("valid URL"),
        EventsUrl::parse(&handler).expect("valid URL"),
    )
    .with_events(["OnImConnectorMessageAdd"]);
    provision(&client, &setup, line).await.expect("provisioned");
    let customer = MessageIn::new(
        MessageUser::new("customer-1").with_name("Ivan"),
        MessageBody::new().with_id("m-1").with_text("Hello"),
        MessageChat::new("chat-1"),
    );
    client
        .call(&SendMessages::new(connector, line, [customer]))
        .await
        .expect("send.messages");

    // Redis up: the reply is verified against Redis.
    let first = portal
        .operator_reply(1, "chat-1", "Hi")
        .expect("operator replies");
    assert_eq!(
        next(&mut seen).await,
        i64::try_from(first.message_id).expect("small")
    );
    assert!(next(&mut confirmed).await.result.is_ok());

    // Redis stopped: before the fix this reply got 401 and was lost for good.
    server.stop().await;
    let second = portal
        .operator_reply(1, "chat-1", "Are you there?")
        .expect("operator replies");
    assert_eq!(
        next(&mut seen).await,
        i64::try_from(second.message_id).expect("small"),
        "the reply was handled while Redis was down"
    );
    let report = next(&mut confirmed).await;
    assert!(report.result.is_ok(), "{:?}", report.result);
    assert_eq!(portal.delivery_statuses().len(), 2, "both were confirmed");

    // A forged event (wrong token) is still refused while Redis is down.
    let genuine = portal
        .event_deliveries()
        .into_iter()
        .rev()
        .find(|delivery| delivery.event == "ONIMCONNECTORMESSAGEADD")
        .expect("delivered")
        .body;
    let token = app.application_token.expose_secret();
    let forged = genuine.replace(token, "forged-token");
    assert_ne!(forged, genuine);
    assert_eq!(post_form(&handler, forged).await, 401);
    assert!(seen.try_recv().is_err(), "nothing forged was dispatched");

    // Redis back, empty (no persistence): its answer wins, the portal is unknown again.
    server.restart().await;
    assert_eq!(post_form(&handler, genuine).await, 401);
}
