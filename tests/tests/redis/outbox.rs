//! Issue 22: the sender's Redis outbox. A message is accepted once it is in Redis; a sender
//! that died mid-request leaves its entries to the next one, which sends what was queued and
//! reports what was in flight, never resending it on its own; the same message submitted
//! twice (even by two processes) is sent once; shutdown leaves what it could not send durable.

use std::time::Duration;

use imconnector::api::ids::{ConnectorId, LineId, SettingsUrl};
use imconnector::api::methods::{ActivateConnector, RegisterConnector};
use imconnector::api::types::{Icon, MessageBody, MessageChat, MessageIn, MessageUser};
use imconnector::emulator::client_builder;
use imconnector::sender::{InDoubtPolicy, Resolution, Resolved, SendOutcome, Sender, Submitted};
use imconnector_emulator::{Direction, Emulator, Faults};
use imconnector_redis::{RedisBackend, RedisOutbox};
use imconnector_transport::{Client, RateLimit};

use crate::support::{backend, clean, redis_url, unique_prefix};

const CONNECTOR: &str = "outbox_test";
/// Short, so a dead sender's entries are adopted quickly.
const LEASE: Duration = Duration::from_millis(600);

async fn portal() -> (Emulator, Client) {
    let portal = Emulator::builder()
        .lines(1)
        .start()
        .await
        .expect("emulator");
    let client = client_of(&portal);
    client
        .call(&RegisterConnector::new(
            connector(),
            "Outbox test",
            Icon::new("data:image/svg+xml,%3Csvg%2F%3E"),
            SettingsUrl::parse("https://connector.example/settings").unwrap(),
        ))
        .await
        .expect("register");
    client
        .call(&ActivateConnector::new(connector(), line(), true))
        .await
        .expect("activate");
    (portal, client)
}

/// A client of `portal`, of the admin who installed the app, without pacing.
fn client_of(portal: &Emulator) -> Client {
    client_builder(portal)
        .rate_limit(RateLimit::Off)
        .build()
        .expect("client")
}

/// Every answer of `portal` takes `latency` from now on.
fn answer_slowly(portal: &Emulator, latency: Duration) {
    portal
        .set_faults(Some(Faults::new(0).latency(latency, 1.0)))
        .unwrap();
}

/// Queues `m0`, `m1`, ... (`count` messages) of one chat, in that order.
async fn send_numbered(sender: &Sender, count: usize) -> Vec<Submitted> {
    let mut submitted = Vec::new();
    for index in 0..count {
        submitted.push(
            sender
                .send(line(), message("chat", &format!("m{index}")))
                .await
                .unwrap(),
        );
    }
    submitted
}

fn connector() -> ConnectorId {
    ConnectorId::new(CONNECTOR).unwrap()
}

fn line() -> LineId {
    LineId::new(1).unwrap()
}

fn message(chat: &str, external_id: &str) -> MessageIn {
    MessageIn::new(
        MessageUser::new(format!("user-{chat}")),
        MessageBody::new()
            .with_id(external_id)
            .with_text(format!("text of {external_id}")),
        MessageChat::new(chat),
    )
}

/// External ids of the customer messages the portal stored, in the order it stored them.
fn stored(portal: &Emulator) -> Vec<String> {
    portal
        .all_messages()
        .into_iter()
        .filter(|message| message.direction == Direction::Incoming)
        .flat_map(|message| message.external_ids)
        .collect()
}

fn outbox(backend: &RedisBackend, portal: &Emulator) -> RedisOutbox {
    backend
        .outbox(&portal.app().member_id, CONNECTOR)
        .expect("valid outbox names")
}

async fn stream_length(backend: &RedisBackend, outbox: &RedisOutbox) -> usize {
    redis::cmd("XLEN")
        .arg(outbox.stream_key())
        .query_async(&mut backend.connection())
        .await
        .expect("XLEN")
}

/// Runs a sender named `name` in a runtime of its own, submits `count` messages of one chat
/// (one a request, to a portal that answers slowly) and drops the runtime once the first
/// request is under way: a crash, as far as Redis can tell.
fn crash_mid_request(outbox: RedisOutbox, portal: &Emulator, name: &str, count: usize) {
    // A client of its own, as a crashed process has: a pooled connection opened on the runtime
    // that dies would fail a later request of a shared client with an unknown outcome.
    let client = client_of(portal);
    let name = name.to_owned();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let sender = Sender::builder(client, connector())
                .outbox(outbox)
                .consumer_name(name)
                .lease(LEASE)
                .messages_per_call(1)
                .calls_per_request(1)
                .requests_in_flight(1)
                .start();
            drop(send_numbered(&sender, count).await);
            while sender.stats().requests == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        runtime.shutdown_background();
    })
    .join()
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accepted_message_is_in_redis_before_it_is_sent() {
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix("outbox-accept");
    let backend = backend(&url, &prefix, LEASE).await;
    let (portal, client) = portal().await;
    answer_slowly(&portal, Duration::from_millis(300));
    let outbox = outbox(&backend, &portal);
    let sender = Sender::builder(client, connector())
        .outbox(outbox.clone())
        .requests_in_flight(1)
        .messages_per_call(1)
        .calls_per_request(1)
        .start();
    let submitted = send_numbered(&sender, 5).await;
    // Accepted, not yet answered: every one is in the stream.
    assert_eq!(stream_length(&backend, &outbox).await, 5);
    for queued in submitted {
        assert!(queued.await.outcome.is_stored());
    }
    // Answered: acknowledged and deleted.
    assert_eq!(stream_length(&backend, &outbox).await, 0);
    assert_eq!(stored(&portal), ["m0", "m1", "m2", "m3", "m4"]);
    clean(&backend, &prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_sender_reports_a_dead_ones_request_in_doubt_and_sends_the_rest() {
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix("outbox-doubt");
    let backend = backend(&url, &prefix, LEASE).await;
    let (portal, client) = portal().await;
    answer_slowly(&portal, Duration::from_millis(400));
    crash_mid_request(outbox(&backend, &portal), &portal, "dead", 4);
    portal.set_faults(None).unwrap();
    // Another name: it adopts the dead sender's entries once the lease ran out.
    tokio::time::sleep(LEASE * 2).await;
    let sender = Sender::builder(client, connector())
        .outbox(outbox(&backend, &portal))
        .lease(LEASE)
        .start();
    let in_doubt = sender.in_doubt().await;
    assert_eq!(in_doubt.len(), 1, "{in_doubt:?}");
    assert_eq!(in_doubt[0].external_id.as_deref(), Some("m0"));
    let report = sender.shutdown(Duration::from_secs(60)).await;
    assert!(report.drained, "{report:?}");
    assert_eq!(report.in_doubt, 1);
    let seen = stored(&portal);
    assert!(
        seen.iter().filter(|id| *id == "m0").count() <= 1,
        "{seen:?}"
    );
    let rest: Vec<&String> = seen.iter().filter(|id| *id != "m0").collect();
    assert_eq!(rest, ["m1", "m2", "m3"]);

    // The entry in doubt stays in Redis until resolved; the next sender sees it again.
    let next = Sender::builder(client_of(&portal), connector())
        .outbox(outbox(&backend, &portal))
        .lease(LEASE)
        .start();
    let again = next.in_doubt().await;
    assert_eq!(again.len(), 1);
    assert!(matches!(
        next.resolve(&again[0].entry, Resolution::Delivered).await,
        Ok(Resolved::Settled)
    ));
    assert!(next.in_doubt().await.is_empty());
    let _ = next.shutdown(Duration::from_secs(10)).await;
    assert_eq!(stream_length(&backend, &outbox(&backend, &portal)).await, 0);
    clean(&backend, &prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_sender_adopts_a_dead_ones_queue_and_at_least_once_resends_its_doubt() {
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix("outbox-adopt");
    let backend = backend(&url, &prefix, LEASE).await;
    let (portal, client) = portal().await;
    // Started first: it finds nothing, and adopts by its keep-alive once the lease ran out.
    let survivor = Sender::builder(client.clone(), connector())
        .outbox(outbox(&backend, &portal))
        .lease(LEASE)
        .in_doubt_policy(InDoubtPolicy::Resend)
        .start();
    assert!(survivor.in_doubt().await.is_empty());
    answer_slowly(&portal, Duration::from_millis(400));
    crash_mid_request(outbox(&backend, &portal), &portal, "dead", 3);
    portal.set_faults(None).unwrap();
    let started = std::time::Instant::now();
    while stored(&portal).iter().filter(|id| *id == "m2").count() == 0 {
        assert!(started.elapsed() < Duration::from_secs(60), "never adopted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seen = stored(&portal);
    let m0 = seen.iter().filter(|id| *id == "m0").count();
    assert!((1..=2).contains(&m0), "{seen:?}");
    assert_eq!(seen.last().map(String::as_str), Some("m2"));
    assert_eq!(survivor.stats().in_doubt, 1);
    let _ = survivor.shutdown(Duration::from_secs(10)).await;
    clean(&backend, &prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_message_from_two_senders_is_sent_once() {
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix("outbox-dedup");
    let backend = backend(&url, &prefix, LEASE).await;
    let (portal, client) = portal().await;
    let first = Sender::builder(client.clone(), connector())
        .outbox(outbox(&backend, &portal))
        .start();
    let second = Sender::builder(client, connector())
        .outbox(outbox(&backend, &portal))
        .start();
    let mut duplicates = 0;
    let mut stored_count = 0;
    for index in 0..20 {
        let id = format!("m{index}");
        let a = first.send(line(), message("chat", &id)).await.unwrap();
        let b = second.send(line(), message("chat", &id)).await.unwrap();
        for report in [a.await, b.await] {
            match report.outcome {
                SendOutcome::Stored(_) => stored_count += 1,
                SendOutcome::Duplicate(_) => duplicates += 1,
                other => panic!("{other:?}"),
            }
        }
    }
    assert_eq!((stored_count, duplicates), (20, 20));
    assert_eq!(stored(&portal).len(), 20);
    clean(&backend, &prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_with_500_queued_sends_or_keeps_every_one() {
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix("outbox-shutdown");
    let backend = backend(&url, &prefix, LEASE).await;
    let (portal, client) = portal().await;
    // Slow answers: not all 500 go out before the deadline.
    answer_slowly(&portal, Duration::from_millis(200));
    let sender = Sender::builder(client.clone(), connector())
        .outbox(outbox(&backend, &portal))
        .lease(LEASE)
        .capacity(500)
        .messages_per_call(5)
        .calls_per_request(1)
        .requests_in_flight(2)
        .start();
    let mut submitted = Vec::new();
    for index in 0..500 {
        let chat = format!("chat-{}", index % 50);
        submitted.push(
            sender
                .send(line(), message(&chat, &format!("m{index:03}")))
                .await
                .unwrap(),
        );
    }
    let report = sender.shutdown(Duration::from_secs(2)).await;
    assert!(report.kept);
    let (mut not_sent, mut cut) = (0, 0);
    for queued in submitted {
        match queued.await.outcome {
            SendOutcome::Stored(_) => {}
            SendOutcome::NotSent { kept: true } => not_sent += 1,
            // Its request was under way at the deadline.
            SendOutcome::Unknown(None) => cut += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(not_sent, report.not_sent);
    assert!(not_sent > 0, "the deadline left nothing: {report:?}");
    assert!(cut <= report.interrupted * 5);
    // Everything not stored is still in Redis: not sent (queued) or cut (in flight).
    let held = stream_length(&backend, &outbox(&backend, &portal)).await;
    assert_eq!(held, not_sent + cut);
    assert!(stored(&portal).len() + held >= 500);
    portal.set_faults(None).unwrap();
    // The next sender (the lease was given up: at once) sends the rest.
    let next = Sender::builder(client, connector())
        .outbox(outbox(&backend, &portal))
        .lease(LEASE)
        .start();
    let in_doubt = next.in_doubt().await;
    assert_eq!(in_doubt.len(), cut);
    let done = next.shutdown(Duration::from_secs(60)).await;
    assert!(done.drained, "{done:?}");
    let mut seen = stored(&portal);
    let total = seen.len();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), total, "a message was sent twice");
    // Every message is in the portal once, or reported in doubt.
    for index in 0..500 {
        let id = format!("m{index:03}");
        let doubtful = in_doubt
            .iter()
            .any(|doubt| doubt.external_id.as_deref() == Some(id.as_str()));
        assert!(seen.binary_search(&id).is_ok() || doubtful, "{id} lost");
    }
    clean(&backend, &prefix).await;
}
