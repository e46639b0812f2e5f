//! The event receiver: refuses what it must, and turns a real operator reply from the portal
//! into a handler call and a delivery confirmation.

use imconnector::emulator::Direction;
use imconnector::prelude::*;
use imconnector::receiver::{Rejection, SingleToken, TokenMap};
use imconnector::ExposeSecret;
use serde_json::{json, Value};

use crate::support::{http, line, next, portal, recorder, serve, setup, Seen};

const APP_TOKEN: &str = "831c76b092f9f135d9b6b36c3a720757";
const MEMBER: &str = "bac1c1a0b1d2e3f4";

fn line_delete(auth: Value) -> String {
    imconnector_form::encode(&json!({
        "event": "ONIMCONNECTORLINEDELETE",
        "event_handler_id": "563",
        "data": "107",
        "ts": "1773761165",
        "auth": auth,
    }))
}

fn auth(token: &str) -> Value {
    json!({ "domain": "some.bitrix24.com", "member_id": MEMBER, "application_token": token })
}

async fn post(url: &str, content_type: &str, body: impl Into<reqwest::Body>) -> u16 {
    http()
        .post(url)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("the receiver answers")
        .status()
        .as_u16()
}

const FORM: &str = "application/x-www-form-urlencoded";

#[tokio::test]
async fn a_forged_token_gets_401_and_is_never_dispatched() {
    let (handler, mut seen) = recorder();
    let url = serve(EventReceiver::new(SingleToken::new(APP_TOKEN), handler).router()).await;

    let forged = line_delete(auth("831c76b092f9f135d9b6b36c3a720758"));
    assert_eq!(post(&url, FORM, forged).await, 401);
    let prefix = line_delete(auth(&APP_TOKEN[..8]));
    assert_eq!(post(&url, FORM, prefix).await, 401);
    // The token is checked before the payload is decoded: a forger learns nothing of the shape.
    let forged_and_malformed = imconnector_form::encode(&json!({
        "event": "ONIMCONNECTORMESSAGEADD",
        "data": { "CONNECTOR": "acme_chat", "LINE": "abc" },
        "auth": auth("831c76b092f9f135d9b6b36c3a720758"),
    }));
    assert_eq!(post(&url, FORM, forged_and_malformed).await, 401);

    // A genuine event afterwards is the first and only one the handler sees.
    assert_eq!(post(&url, FORM, line_delete(auth(APP_TOKEN))).await, 200);
    match next(&mut seen).await {
        Seen::LineDelete(event) => assert_eq!(event.data.get(), 107),
        other => panic!("unexpected dispatch: {other:?}"),
    }
    assert!(seen.try_recv().is_err(), "nothing else was dispatched");
}

#[tokio::test]
async fn a_missing_token_gets_401() {
    let (handler, mut seen) = recorder();
    let url = serve(EventReceiver::new(SingleToken::new(APP_TOKEN), handler).router()).await;

    let no_token = line_delete(json!({ "domain": "some.bitrix24.com", "member_id": MEMBER }));
    assert_eq!(post(&url, FORM, no_token).await, 401);
    assert_eq!(post(&url, FORM, line_delete(auth(""))).await, 401);
    let no_auth = "event=ONIMCONNECTORLINEDELETE&data=107";
    assert_eq!(post(&url, FORM, no_auth).await, 401);
    assert!(seen.try_recv().is_err());
}

#[tokio::test]
async fn tokens_are_looked_up_per_portal() {
    let tokens = TokenMap::new()
        .with(MEMBER, APP_TOKEN)
        .with("other-portal", "another-token");
    let (handler, mut seen) = recorder();
    let url = serve(EventReceiver::new(tokens, handler).router()).await;

    // The other portal's token is not valid for this portal.
    assert_eq!(
        post(&url, FORM, line_delete(auth("another-token"))).await,
        401
    );
    let unknown_portal = line_delete(
        json!({ "member_id": "stranger", "domain": "x", "application_token": APP_TOKEN }),
    );
    assert_eq!(post(&url, FORM, unknown_portal).await, 401);
    assert_eq!(post(&url, FORM, line_delete(auth(APP_TOKEN))).await, 200);
    assert!(matches!(next(&mut seen).await, Seen::LineDelete(_)));

    let only_one = SingleToken::new(APP_TOKEN).for_member("other-portal");
    let rejection = imconnector::receiver::verify_event(
        &only_one,
        Some(FORM),
        line_delete(auth(APP_TOKEN)).as_bytes(),
    )
    .await
    .expect_err("wrong portal");
    assert!(matches!(rejection, Rejection::Unauthorized(_)));
}

#[tokio::test]
async fn malformed_bodies_get_400() {
    let (handler, mut seen) = recorder();
    let url = serve(EventReceiver::new(SingleToken::new(APP_TOKEN), handler).router()).await;

    // Authenticated, but the payload does not have the event's documented shape.
    let no_messages = imconnector_form::encode(&json!({
        "event": "ONIMCONNECTORMESSAGEADD",
        "data": { "CONNECTOR": "acme_chat", "LINE": "abc" },
        "auth": auth(APP_TOKEN),
    }));
    assert_eq!(post(&url, FORM, no_messages).await, 400);
    let no_event_name =
        imconnector_form::encode(&json!({ "data": "107", "auth": auth(APP_TOKEN) }));
    assert_eq!(post(&url, FORM, no_event_name).await, 400);
    assert_eq!(post(&url, "application/json", "{\"event\": ").await, 400);
    assert!(seen.try_recv().is_err());

    // The same event as JSON (the way the documentation prints events) is accepted.
    let json_event =
        json!({ "event": "ONIMCONNECTORLINEDELETE", "data": 5, "auth": auth(APP_TOKEN) });
    assert_eq!(
        post(
            &url,
            "application/json; charset=utf-8",
            json_event.to_string()
        )
        .await,
        200
    );
    assert!(matches!(next(&mut seen).await, Seen::LineDelete(event) if event.data.get() == 5));
}

#[tokio::test]
async fn an_oversize_body_gets_413() {
    let (handler, mut seen) = recorder();
    let receiver = EventReceiver::new(SingleToken::new(APP_TOKEN), handler).body_limit(1024);
    let url = serve(receiver.router()).await;

    let padded = format!(
        "{}&padding={}",
        line_delete(auth(APP_TOKEN)),
        "x".repeat(2048)
    );
    assert_eq!(post(&url, FORM, padded).await, 413);
    assert!(seen.try_recv().is_err());
    assert_eq!(post(&url, FORM, line_delete(auth(APP_TOKEN))).await, 200);
}

#[tokio::test]
async fn an_operator_reply_reaches_the_handler_and_is_confirmed() {
    let portal = portal().await;
    let (handler, mut seen) = recorder();
    let tokens = SingleToken::new(portal.app.application_token.expose_secret())
        .for_member(&portal.app.member_id);
    let receiver = EventReceiver::new(tokens, handler).confirm_deliveries(portal.client.clone());
    let url = serve(receiver.router()).await;
    let setup = setup(&url);
    provision(&portal.client, &setup, line(1))
        .await
        .expect("provision");

    let customer = MessageIn::new(
        MessageUser::new("ext-user-42").with_name("Ivan"),
        MessageBody::new()
            .with_id("ext-msg-1")
            .with_text("Hello, I need help"),
        MessageChat::new("channel-123"),
    );
    let sent = portal
        .client
        .call(&SendMessages::new(setup.id().clone(), line(1), [customer]))
        .await
        .expect("send.messages");
    assert!(sent.success);
    // The customer's first message opened a session: the only event so far.
    match next(&mut seen).await {
        Seen::DialogStart(event) => assert_eq!(event.data.data[0].chat.id.as_str(), "channel-123"),
        other => panic!("expected DialogStart, got {other:?}"),
    }

    let reply = portal
        .emulator
        .operator_reply(1, "channel-123", "Good afternoon, how can I help?")
        .expect("operator replies");

    let (mut added, mut confirmed) = (None, None);
    while added.is_none() || confirmed.is_none() {
        match next(&mut seen).await {
            Seen::MessageAdd(event) => added = Some(event),
            Seen::Confirmed(report) => confirmed = Some(report),
            other => panic!("unexpected dispatch: {other:?}"),
        }
    }
    let added = added.expect("message add");
    assert_eq!(added.data.connector, "acme_chat");
    assert_eq!(added.data.messages.len(), 1);
    let item = &added.data.messages[0];
    assert_eq!(
        item.im.message_id,
        i64::try_from(reply.message_id).expect("small id")
    );
    assert_eq!(item.chat.id.as_str(), "channel-123");
    assert!(item
        .message
        .text
        .as_deref()
        .is_some_and(|text| text.ends_with("Good afternoon, how can I help?")));

    let confirmed = confirmed.expect("confirmation");
    assert!(confirmed.result.is_ok(), "{:?}", confirmed.result);
    let expected_id = format!("out-{}", reply.message_id);
    assert_eq!(confirmed.messages[0].external_ids, [expected_id.as_str()]);

    let deliveries = portal.emulator.delivery_statuses();
    assert_eq!(deliveries.len(), 1);
    assert!(deliveries[0].matched, "{:?}", deliveries[0]);
    assert_eq!(deliveries[0].external_ids, [expected_id]);
    let stored = portal
        .emulator
        .messages(1, "channel-123")
        .into_iter()
        .find(|message| message.direction == Direction::Outgoing)
        .expect("the reply is stored");
    assert!(stored.delivered, "{stored:?}");

    // Disconnecting the line is reported to the handler too.
    teardown(&portal.client, &setup, line(1))
        .await
        .expect("teardown");
    match next(&mut seen).await {
        Seen::StatusDelete(event) => assert_eq!(
            (event.data.connector.as_str(), event.data.line.get()),
            ("acme_chat", 1)
        ),
        other => panic!("expected StatusDelete, got {other:?}"),
    }
}

/// A registry of portals, the way a multi-portal application keeps them.
struct Clients(std::collections::HashMap<String, Client>);

impl imconnector::receiver::PortalClients for Clients {
    async fn client(&self, member_id: &imconnector::transport::MemberId) -> Option<Client> {
        self.0.get(member_id.as_str()).cloned()
    }
}

#[tokio::test]
async fn each_portal_is_verified_and_confirmed_with_its_own_token_and_client() {
    let (first, second) = (portal().await, portal().await);
    assert_ne!(first.app.member_id, second.app.member_id);
    let tokens = [&first, &second]
        .iter()
        .fold(TokenMap::new(), |tokens, portal| {
            tokens.with(
                &portal.app.member_id,
                portal.app.application_token.expose_secret(),
            )
        });
    let clients = Clients(
        [&first, &second]
            .iter()
            .map(|portal| (portal.app.member_id.clone(), portal.client.clone()))
            .collect(),
    );
    let (handler, mut seen) = recorder();
    let url = serve(
        EventReceiver::new(tokens, handler)
            .confirm_deliveries(clients)
            .router(),
    )
    .await;
    let setup = setup(&url).with_events(["OnImConnectorMessageAdd"]);

    for (portal, chat) in [(&first, "chat-a"), (&second, "chat-b")] {
        provision(&portal.client, &setup, line(1))
            .await
            .expect("provision");
        let customer = MessageIn::new(
            MessageUser::new("u"),
            MessageBody::new().with_text("hi"),
            MessageChat::new(chat),
        );
        portal
            .client
            .call(&SendMessages::new(setup.id().clone(), line(1), [customer]))
            .await
            .expect("send.messages");
        portal
            .emulator
            .operator_reply(1, chat, "hello")
            .expect("reply");
    }

    let mut confirmed_for = Vec::new();
    while confirmed_for.len() < 2 {
        if let Seen::Confirmed(report) = next(&mut seen).await {
            assert!(report.result.is_ok(), "{:?}", report.result);
            confirmed_for.push(report.member_id.into_string());
        }
    }
    confirmed_for.sort();
    let mut members = vec![first.app.member_id.clone(), second.app.member_id.clone()];
    members.sort();
    assert_eq!(confirmed_for, members);
    for (portal, chat) in [(&first, "chat-a"), (&second, "chat-b")] {
        let deliveries = portal.emulator.delivery_statuses();
        assert_eq!(deliveries.len(), 1, "each portal got its own confirmation");
        assert!(deliveries[0].matched);
        assert_eq!(deliveries[0].external_chat_id.as_deref(), Some(chat));
    }
}

/// Collects what the `fmt` subscriber writes, to read the spans a handler's logs carry.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct LoggingHandler(tokio::sync::mpsc::UnboundedSender<()>);

impl EventHandler for LoggingHandler {
    async fn line_delete(&self, _event: LineDeleteEvent) -> Result<(), HandlerError> {
        tracing::info!("forgetting the line");
        let _ = self.0.send(());
        Ok(())
    }
}

#[tokio::test]
async fn a_handler_logs_inside_a_span_naming_the_event_and_the_portal() {
    // `#[tokio::test]` runs everything on this thread, so a thread-local subscriber sees the
    // handler's task.
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    // tracing caches whether a callsite is enabled process-wide, decided by the subscriber of
    // the thread that first reaches it; `set_default` is per thread and re-asks nothing. Other
    // tests of this binary reach the receiver's span on threads without a subscriber, which
    // would cache it as disabled (this test failed in CI that way). A global default that keeps
    // every callsite enabled (a bare registry: it records nothing) makes the cache answer
    // "enabled" whoever comes first; the rebuild re-asks callsites cached before it was set.
    let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry());
    let _guard = tracing::subscriber::set_default(subscriber);
    tracing::callsite::rebuild_interest_cache();

    let (handled, mut done) = tokio::sync::mpsc::unbounded_channel();
    let receiver = EventReceiver::new(SingleToken::new(APP_TOKEN), LoggingHandler(handled));
    let url = serve(receiver.router()).await;
    assert_eq!(post(&url, FORM, line_delete(auth(APP_TOKEN))).await, 200);
    tokio::time::timeout(crate::support::PATIENCE, done.recv())
        .await
        .expect("the handler ran");

    let logs = String::from_utf8_lossy(&captured.0.lock().expect("not poisoned")).into_owned();
    let line = logs
        .lines()
        .find(|line| line.contains("forgetting the line"))
        .unwrap_or_else(|| panic!("the handler's log is missing: {logs}"));
    assert!(
        line.contains("imconnector_event{event=ONIMCONNECTORLINEDELETE member_id=")
            && line.contains(MEMBER),
        "{line}"
    );
    assert!(
        !logs.contains(APP_TOKEN),
        "the application token leaked: {logs}"
    );
}

#[tokio::test]
async fn the_same_event_posted_twice_is_handled_once() {
    let (handler, mut seen) = recorder();
    let url = serve(EventReceiver::new(SingleToken::new(APP_TOKEN), handler).router()).await;

    let event = line_delete(auth(APP_TOKEN));
    assert_eq!(post(&url, FORM, event.clone()).await, 200);
    assert_eq!(post(&url, FORM, event).await, 200);
    let later = imconnector_form::encode(&json!({
        "event": "ONIMCONNECTORLINEDELETE",
        "event_handler_id": "563",
        "data": "108",
        "ts": "1773761166",
        "auth": auth(APP_TOKEN),
    }));
    assert_eq!(post(&url, FORM, later).await, 200);
    // Events about no chat share the portal's lane, in order: the duplicate would come second.
    assert!(matches!(next(&mut seen).await, Seen::LineDelete(event) if event.data.get() == 107));
    assert!(matches!(next(&mut seen).await, Seen::LineDelete(event) if event.data.get() == 108));
}

#[tokio::test]
async fn after_the_drain_the_receiver_answers_503() {
    let (handler, mut seen) = recorder();
    let (router, pipeline) = EventReceiver::new(SingleToken::new(APP_TOKEN), handler).build();
    let url = serve(router).await;
    assert_eq!(post(&url, FORM, line_delete(auth(APP_TOKEN))).await, 200);
    assert!(matches!(next(&mut seen).await, Seen::LineDelete(_)));
    assert!(pipeline
        .shutdown(crate::support::PATIENCE)
        .await
        .is_complete());
    let later = line_delete(auth(APP_TOKEN)).replace("107", "109");
    assert_eq!(post(&url, FORM, later).await, 503);
}
