//! The sender against the emulated portal: packing, per-message outcomes, order, back-pressure,
//! and never a second copy of a message whose answer was lost.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use imconnector_api::ids::{ConnectorId, LineId, SettingsUrl};
use imconnector_api::methods::{ActivateConnector, RegisterConnector};
use imconnector_api::types::{Icon, MessageBody, MessageChat, MessageIn, MessageUser};
use imconnector_emulator::{Direction, Emulator, ExposeSecret, Faults};
use imconnector_transport::{ApiError, Client, Error, ErrorCode, OAuthApp, RateLimit, Tokens};

use super::flush::may_have_been_applied;
use super::{SendError, SendOutcome, Sender, Submitted, TrySendError};

const CONNECTOR: &str = "sender_test";

pub(super) async fn portal(lines: usize) -> Emulator {
    Emulator::builder()
        .lines(lines)
        .start()
        .await
        .expect("emulator")
}

pub(super) fn client(portal: &Emulator) -> Client {
    let app = portal.app();
    let tokens = portal.tokens();
    Client::builder()
        .oauth(
            OAuthApp::new(app.client_id, app.client_secret.expose_secret()),
            Tokens::new(
                tokens.access_token.expose_secret(),
                tokens.refresh_token.expose_secret(),
            )
            .with_client_endpoint(portal.rest_url()),
        )
        .oauth_server(portal.oauth_url())
        .rate_limit(RateLimit::Off)
        .build()
        .expect("client")
}

pub(super) fn connector() -> ConnectorId {
    ConnectorId::new(CONNECTOR).unwrap()
}

pub(super) fn line(id: i64) -> LineId {
    LineId::new(id).unwrap()
}

/// Registers the connector and activates it on `lines`.
pub(super) async fn connect(client: &Client, lines: &[i64]) {
    let register = RegisterConnector::new(
        connector(),
        "Sender test",
        Icon::new("data:image/svg+xml,%3Csvg%2F%3E"),
        SettingsUrl::parse("https://connector.example/settings").unwrap(),
    );
    client.call(&register).await.expect("register");
    for &id in lines {
        client
            .call(&ActivateConnector::new(connector(), line(id), true))
            .await
            .expect("activate");
    }
}

/// A portal with `lines` lines and a client of it, the connector registered and active on
/// `active` of them.
pub(super) async fn connected(lines: usize, active: &[i64]) -> (Emulator, Client) {
    let portal = portal(lines).await;
    let client = client(&portal);
    connect(&client, active).await;
    (portal, client)
}

/// Every answer of `portal` takes `latency` from now on.
pub(super) fn answer_slowly(portal: &Emulator, latency: Duration) {
    portal
        .set_faults(Some(Faults::new(0).latency(latency, 1.0)))
        .unwrap();
}

/// Queues `m0`, `m1`, ... (`count` messages) of one chat on line 1, in that order.
pub(super) async fn send_numbered(sender: &Sender, count: usize) -> Vec<Submitted> {
    let mut submitted = Vec::new();
    for index in 0..count {
        submitted.push(
            sender
                .send(line(1), message("chat", &format!("m{index}")))
                .await
                .unwrap(),
        );
    }
    submitted
}

pub(super) fn message(chat: &str, external_id: &str) -> MessageIn {
    MessageIn::new(
        MessageUser::new(format!("user-{chat}")),
        MessageBody::new()
            .with_id(external_id)
            .with_text(format!("text of {external_id}")),
        MessageChat::new(chat),
    )
}

/// External ids of the customer messages the portal stored, in the order it stored them.
pub(super) fn stored(portal: &Emulator) -> Vec<String> {
    portal
        .all_messages()
        .into_iter()
        .filter(|message| message.direction == Direction::Incoming)
        .flat_map(|message| message.external_ids)
        .collect()
}

pub(super) fn requests(portal: &Emulator, method: &str) -> u64 {
    portal
        .counters()
        .requests
        .get(method)
        .copied()
        .unwrap_or_default()
}

#[tokio::test]
async fn packs_a_lines_messages_into_calls_and_calls_into_one_batch() {
    let (portal, client) = connected(2, &[1, 2]).await;
    let sender = Sender::builder(client, connector())
        .messages_per_call(3)
        .calls_per_request(4)
        .requests_in_flight(1)
        .start();
    // With the in-memory outbox `try_send` never yields once the sender is ready, so the
    // background task finds all ten waiting at once.
    let _ = sender.in_doubt().await;
    let mut submitted: Vec<Submitted> = Vec::new();
    for index in 0..10 {
        let line_id = if index % 5 < 3 { 1 } else { 2 };
        let sent = sender
            .try_send(
                line(line_id),
                message(&format!("chat-{line_id}"), &format!("m{index}")),
            )
            .await;
        submitted.push(sent.expect("room"));
    }
    for (index, submitted) in submitted.into_iter().enumerate() {
        let report = submitted.await;
        assert_eq!(report.id.get(), index as u64);
        let SendOutcome::Stored(result) = &report.outcome else {
            panic!("m{index}: {:?}", report.outcome)
        };
        let echoed = result.message.as_ref().and_then(|body| body.id.as_ref());
        assert_eq!(
            echoed.map(|id| id.as_str().to_owned()),
            Some(format!("m{index}"))
        );
    }
    // Line 1 has six messages (two calls of three), line 2 four (three and one): four calls,
    // one batch request.
    assert_eq!(requests(&portal, "batch"), 1);
    assert_eq!(requests(&portal, "imconnector.send.messages"), 4);
    let mut stored = stored(&portal);
    stored.sort();
    let mut expected: Vec<String> = (0..10).map(|index| format!("m{index}")).collect();
    expected.sort();
    assert_eq!(stored, expected);
}

#[tokio::test]
async fn one_call_goes_out_without_a_batch() {
    let (portal, client) = connected(1, &[1]).await;
    let sender = Sender::builder(client, connector()).start();
    let report = sender
        .send(line(1), message("chat", "only"))
        .await
        .expect("queued")
        .await;
    assert!(report.outcome.is_stored(), "{:?}", report.outcome);
    assert_eq!(requests(&portal, "batch"), 0);
    assert_eq!(requests(&portal, "imconnector.send.messages"), 1);
}

#[tokio::test]
async fn each_message_gets_its_own_outcome_in_a_mixed_pack() {
    // Line 2 is never activated: the portal refuses its call with NOT_ACTIVE_LINE.
    let (portal, client) = connected(2, &[1]).await;
    let sender = Sender::builder(client, connector())
        .requests_in_flight(1)
        .start();
    let good = sender
        .try_send(line(1), message("a", "good"))
        .await
        .unwrap();
    let bad_email = MessageIn::new(
        MessageUser::new("user-b").with_email("not an address"),
        MessageBody::new().with_id("bad-email").with_text("hi"),
        MessageChat::new("b"),
    );
    let rejected = sender.try_send(line(1), bad_email).await.unwrap();
    let inactive = sender
        .try_send(line(2), message("c", "inactive"))
        .await
        .unwrap();

    assert!(good.await.outcome.is_stored());
    match rejected.await.outcome {
        SendOutcome::Rejected(errors) => {
            assert_eq!(
                errors,
                ["Cannot create or get user mapped to external messenger user."]
            );
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    match inactive.await.outcome {
        SendOutcome::Failed(error) => {
            assert_eq!(error.code(), Some(&ErrorCode::NotActiveLine), "{error}");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    assert_eq!(stored(&portal), ["good"]);
}

#[tokio::test]
async fn a_lost_answer_is_reported_unknown_and_never_sent_again() {
    let (portal, client) = connected(1, &[1]).await;
    // Every connection is reset after the portal processed the request.
    portal
        .set_faults(Some(Faults::default().drop_after_share(1.0)))
        .unwrap();
    let sender = Sender::builder(client, connector()).start();
    let first = sender
        .try_send(line(1), message("chat", "lost-1"))
        .await
        .unwrap();
    let second = sender
        .try_send(line(1), message("chat", "lost-2"))
        .await
        .unwrap();
    for submitted in [first, second] {
        let report = submitted.await;
        match &report.outcome {
            SendOutcome::Unknown(Some(error)) => assert!(error.is_outcome_unknown(), "{error}"),
            other => panic!("{}: expected unknown, got {other:?}", report.id),
        }
        assert!(report.outcome.may_be_in_portal());
    }
    // Applied once each, sent once: no retry of a request that reached the portal.
    assert_eq!(stored(&portal), ["lost-1", "lost-2"]);
    assert_eq!(requests(&portal, "imconnector.send.messages"), 1);
}

#[tokio::test]
async fn an_invalid_message_is_refused_when_queued_naming_its_field() {
    let portal = portal(1).await;
    let client = client(&portal);
    let sender = Sender::builder(client, connector()).start();
    let no_chat = MessageIn::new(
        MessageUser::new("user"),
        MessageBody::new().with_text("hi"),
        MessageChat::new(""),
    );
    match sender.send(line(1), no_chat).await {
        Err(SendError::Invalid(error)) => assert_eq!(error.parameter, "message.chat.id"),
        other => panic!("expected a local refusal, got {other:?}"),
    }
    let empty = MessageIn::new(
        MessageUser::new("user"),
        MessageBody::new(),
        MessageChat::new("c"),
    );
    match sender.try_send(line(1), empty).await {
        Err(TrySendError::Invalid(error)) => assert_eq!(error.parameter, "message.message.text"),
        other => panic!("expected a local refusal, got {other:?}"),
    }
    assert_eq!(portal.counters().requests.values().sum::<u64>(), 0);
}

#[tokio::test]
async fn a_full_queue_gives_the_message_back() {
    let (portal, client) = connected(1, &[1]).await;
    let sender = Sender::builder(client, connector()).capacity(2).start();
    let first = sender
        .try_send(line(1), message("chat", "q1"))
        .await
        .unwrap();
    let second = sender
        .try_send(line(1), message("chat", "q2"))
        .await
        .unwrap();
    assert_eq!(sender.room(), 0);
    let refused = sender.try_send(line(1), message("chat", "q3")).await;
    let Err(TrySendError::Full(back)) = refused else {
        panic!("expected a full queue, got {refused:?}")
    };
    assert!(first.await.outcome.is_stored());
    assert!(second.await.outcome.is_stored());
    // Room again once the background task took them.
    let third = sender.send(line(1), *back).await.unwrap();
    assert!(third.await.outcome.is_stored());
    assert_eq!(stored(&portal), ["q1", "q2", "q3"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chats_messages_arrive_in_the_order_they_were_queued() {
    let (portal, client) = connected(2, &[1, 2]).await;
    // One message per request and four requests at once: only the chat's turn keeps order.
    let sender = Sender::builder(client, connector())
        .messages_per_call(1)
        .calls_per_request(1)
        .requests_in_flight(4)
        .start();
    let mut submitted = Vec::new();
    for index in 0..40 {
        let line_id = 1 + index % 2;
        let queued = sender
            .send(
                line(line_id),
                message(&format!("chat-{line_id}"), &format!("{line_id}-{index:02}")),
            )
            .await
            .unwrap();
        submitted.push(queued);
    }
    for queued in submitted {
        assert!(queued.await.outcome.is_stored());
    }
    let stored = stored(&portal);
    for line_id in [1, 2] {
        let prefix = format!("{line_id}-");
        let of_line: Vec<&String> = stored.iter().filter(|id| id.starts_with(&prefix)).collect();
        let mut sorted = of_line.clone();
        sorted.sort();
        assert_eq!(of_line.len(), 20);
        assert_eq!(of_line, sorted, "chat of line {line_id} out of order");
    }
}

#[tokio::test]
async fn dropping_every_sender_still_reports_what_was_queued() {
    let (portal, client) = connected(1, &[1]).await;
    let sender = Sender::builder(client, connector()).start();
    let queued = sender
        .try_send(line(1), message("chat", "last"))
        .await
        .unwrap();
    drop(sender);
    assert!(queued.await.outcome.is_stored());
    assert_eq!(stored(&portal), ["last"]);
}

#[test]
fn only_errors_that_prove_nothing_was_applied_count_as_failed() {
    let api = |code: &str, status: Option<u16>| {
        let mut error = ApiError::new("imconnector.send.messages", code, "");
        error.http_status = status;
        Error::Api(error)
    };
    assert!(!may_have_been_applied(&api("NOT_ACTIVE_LINE", Some(400))));
    assert!(!may_have_been_applied(&api(
        "QUERY_LIMIT_EXCEEDED",
        Some(503)
    )));
    assert!(!may_have_been_applied(&api("expired_token", Some(401))));
    assert!(!may_have_been_applied(&api("SUCCESS_FALSE", Some(200))));
    assert!(may_have_been_applied(&api("ERROR_CORE", Some(500))));
    assert!(may_have_been_applied(&api("ERROR_CORE", None)));
    assert!(may_have_been_applied(&api("SOMETHING_NEW", Some(400))));
    assert!(may_have_been_applied(&api("ACCESS_DENIED", Some(502))));
    let unknown = Error::OutcomeUnknown {
        method: "imconnector.send.messages".to_owned(),
        request_id: "r-1".to_owned(),
        source: Box::new(Error::Timeout {
            method: "imconnector.send.messages".to_owned(),
        }),
    };
    assert!(may_have_been_applied(&unknown));
    let decode = Error::Decode {
        method: "imconnector.send.messages".to_owned(),
        http_status: 200,
        reason: "truncated".to_owned(),
        snippet: String::new(),
    };
    assert!(may_have_been_applied(&decode));
    let never_sent = Error::Timeout {
        method: "imconnector.send.messages".to_owned(),
    };
    assert!(!may_have_been_applied(&never_sent));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_chat_does_not_keep_other_chats_waiting() {
    let (portal, client) = connected(2, &[1, 2]).await;
    // Every request takes a while, so chat A, one request at a time, stays busy.
    answer_slowly(&portal, Duration::from_millis(20));
    let sender = Sender::builder(client, connector())
        .messages_per_call(1)
        .calls_per_request(1)
        .requests_in_flight(4)
        .capacity(500)
        .start();
    let mut chat_a = Vec::new();
    for index in 0..400 {
        chat_a.push(
            sender
                .send(line(1), message("chat-a", &format!("a-{index:03}")))
                .await
                .unwrap(),
        );
    }
    let chat_b = sender
        .send(line(2), message("chat-b", "b-000"))
        .await
        .unwrap();

    assert!(chat_b.await.outcome.is_stored());
    let before_b = stored(&portal)
        .iter()
        .take_while(|id| id.as_str() != "b-000")
        .count();
    // With the task stuck on chat A's 400 messages, B would go out after almost all of them.
    assert!(
        before_b < 100,
        "chat B waited behind {before_b} messages of chat A"
    );
    drop(chat_a);
}
