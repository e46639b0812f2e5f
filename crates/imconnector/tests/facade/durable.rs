//! The receiver with a durable inbox (here the in-process `MemoryInbox`, the model of the Redis
//! one): an event is stored before the portal gets 200 and removed only once handled; a
//! replica that stops with events in work finds them again when it starts under the same name;
//! the entries that finish while an acknowledgement is out are acknowledged in one call.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use imconnector::events::Event;
use imconnector::inbound::{ConsumerOptions, DedupKey, SentMessages};
use imconnector::prelude::*;
use imconnector::receiver::SingleToken;
use imconnector::transport::inbox::{
    Appended, AppendedAndRead, InboxEntry, InboxError, InboxStore, MemoryInbox,
};
use imconnector::transport::MemberId;
use serde_json::json;
use tokio::sync::{mpsc, Semaphore};

use crate::support::{http, serve, PATIENCE};

const APP_TOKEN: &str = "831c76b092f9f135d9b6b36c3a720757";
const MEMBER: &str = "bac1c1a0b1d2e3f4";

fn reply_body(message_id: u64) -> String {
    imconnector_form::encode(&json!({
        "event": "ONIMCONNECTORMESSAGEADD",
        "data": {
            "CONNECTOR": "acme_chat",
            "LINE": "1",
            "MESSAGES": [{
                "im": {"chat_id": "7", "message_id": message_id.to_string()},
                "message": {"text": "hello"},
                "chat": {"id": "chat-1"},
            }],
        },
        "auth": {"domain": "d.bitrix24.com", "member_id": MEMBER, "application_token": APP_TOKEN},
    }))
}

async fn post(url: &str, body: String) -> u16 {
    http()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("the receiver answers")
        .status()
        .as_u16()
}

/// Handles an event only when a permit is given; reports each handled key.
struct Gated {
    gate: Arc<Semaphore>,
    handled: mpsc::UnboundedSender<String>,
}

impl EventHandler for Gated {
    async fn event(&self, key: &DedupKey, _event: Event) -> Result<SentMessages, HandlerError> {
        self.gate.acquire().await?.forget();
        self.handled.send(key.to_string())?;
        Ok(SentMessages::new())
    }
}

fn gated() -> (Gated, Arc<Semaphore>, mpsc::UnboundedReceiver<String>) {
    let gate = Arc::new(Semaphore::new(0));
    let (handled, seen) = mpsc::unbounded_channel();
    let handler = Gated {
        gate: Arc::clone(&gate),
        handled,
    };
    (handler, gate, seen)
}

fn consumer(name: &str) -> ConsumerOptions {
    ConsumerOptions::new(name)
        .expect("valid")
        .read_wait(Duration::from_millis(50))
}

async fn until(mut done: impl FnMut() -> bool) {
    let started = tokio::time::Instant::now();
    while !done() {
        assert!(started.elapsed() < PATIENCE, "gave up waiting");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn an_event_is_stored_before_the_200_and_removed_once_handled() {
    let inbox = Arc::new(MemoryInbox::new());
    let (handler, gate, mut seen) = gated();
    let tokens = SingleToken::new(APP_TOKEN);
    let (router, pipeline) = EventReceiver::new(tokens, handler)
        .durable_inbox(Arc::clone(&inbox), consumer("replica-1"))
        .build();
    let url = serve(router).await;

    assert_eq!(post(&url, reply_body(1)).await, 200);
    assert_eq!(inbox.len(), 1, "stored when the portal got its answer");
    // Stored as the verified event without its application token (checked, never kept).
    let started = tokio::time::Instant::now();
    let stored = loop {
        let read = InboxStore::pending(&*inbox, "replica-1", None, 10)
            .await
            .expect("readable");
        if !read.is_empty() {
            break read;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "the consumer never read the entry"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(
        !stored[0].payload.contains(APP_TOKEN),
        "{}",
        stored[0].payload
    );
    assert!(stored[0]
        .payload
        .contains(r#""application_token":"verified""#));
    // The same event again is answered 200 and stored once.
    assert_eq!(post(&url, reply_body(1)).await, 200);
    assert_eq!(inbox.len(), 1);
    gate.add_permits(1);
    let key = tokio::time::timeout(PATIENCE, seen.recv())
        .await
        .expect("handled")
        .expect("open");
    assert_eq!(key, format!("{MEMBER}:ONIMCONNECTORMESSAGEADD:1"));
    until(|| inbox.is_empty()).await;
    assert!(pipeline.shutdown(PATIENCE).await.is_complete());
}

#[tokio::test]
async fn a_replica_that_stops_mid_work_finds_its_events_when_it_starts_again() {
    let inbox = Arc::new(MemoryInbox::new());
    let (handler, _closed_gate, _seen) = gated();
    let (router, first) = EventReceiver::new(SingleToken::new(APP_TOKEN), handler)
        .durable_inbox(Arc::clone(&inbox), consumer("replica-1"))
        .build();
    let url = serve(router).await;
    for id in 1..=3 {
        assert_eq!(post(&url, reply_body(id)).await, 200);
    }
    // Stopped with nothing handled (the handler never gets its permit): a crash, as far as the
    // inbox can tell.
    let left = first.shutdown(Duration::from_millis(200)).await;
    assert_eq!(left.unfinished, 3);
    assert_eq!(inbox.len(), 3, "nothing acknowledged, nothing lost");

    let (handler, gate, mut seen) = gated();
    gate.add_permits(3);
    let (_router, second) = EventReceiver::new(SingleToken::new(APP_TOKEN), handler)
        .durable_inbox(Arc::clone(&inbox), consumer("replica-1"))
        .build();
    let mut handled = Vec::new();
    while handled.len() < 3 {
        handled.push(
            tokio::time::timeout(PATIENCE, seen.recv())
                .await
                .expect("handled after the restart")
                .expect("open"),
        );
    }
    assert_eq!(
        handled,
        (1..=3)
            .map(|id| format!("{MEMBER}:ONIMCONNECTORMESSAGEADD:{id}"))
            .collect::<Vec<_>>(),
        "in order"
    );
    until(|| inbox.is_empty()).await;
    assert!(second.shutdown(PATIENCE).await.is_complete());
}

/// An inbox whose storage is down.
struct Unreachable;

fn down() -> InboxError {
    InboxError::new("connection refused", None)
}

impl InboxStore for Unreachable {
    async fn append(&self, _: &str, _: &MemberId, _: &str) -> Result<Appended, InboxError> {
        Err(down())
    }
    async fn read(&self, _: &str, _: usize, wait: Duration) -> Result<Vec<InboxEntry>, InboxError> {
        tokio::time::sleep(wait).await;
        Err(down())
    }
    async fn pending(
        &self,
        _: &str,
        _: Option<&str>,
        _: usize,
    ) -> Result<Vec<InboxEntry>, InboxError> {
        Err(down())
    }
    async fn claim(&self, _: &str, _: Duration, _: usize) -> Result<Vec<InboxEntry>, InboxError> {
        Err(down())
    }
    async fn touch(&self, _: &str, _: &[String]) -> Result<(), InboxError> {
        Err(down())
    }
    async fn ack(&self, _: &str) -> Result<(), InboxError> {
        Err(down())
    }
    async fn fail(&self, _: &str, _: &str) -> Result<(), InboxError> {
        Err(down())
    }
}

#[tokio::test]
async fn an_event_the_inbox_cannot_store_gets_503_not_200() {
    let (handler, _gate, _seen) = gated();
    let (router, pipeline) = EventReceiver::new(SingleToken::new(APP_TOKEN), handler)
        .durable_inbox(Unreachable, consumer("replica-1"))
        .build();
    let url = serve(router).await;
    assert_eq!(post(&url, reply_body(1)).await, 503);
    // A forged event is still refused before the inbox is asked anything.
    let forged = reply_body(2).replace(APP_TOKEN, "831c76b092f9f135d9b6b36c3a720758");
    assert_eq!(post(&url, forged).await, 401);
    let _ = pipeline.shutdown(Duration::from_secs(1)).await;
}

/// A memory inbox that records how many ids each acknowledging call carries; the first call
/// waits for `release`, as a slow store would.
struct CountedAcks {
    inner: MemoryInbox,
    calls: Mutex<Vec<usize>>,
    release: Semaphore,
}

impl CountedAcks {
    async fn record(&self, count: usize) {
        let first = {
            let mut calls = self.calls.lock().expect("not poisoned");
            calls.push(count);
            calls.len() == 1
        };
        if first {
            self.release.acquire().await.expect("open").forget();
        }
    }
}

impl InboxStore for CountedAcks {
    async fn append(
        &self,
        key: &str,
        member: &MemberId,
        payload: &str,
    ) -> Result<Appended, InboxError> {
        self.inner.append(key, member, payload).await
    }
    async fn read(
        &self,
        name: &str,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<InboxEntry>, InboxError> {
        self.inner.read(name, max, wait).await
    }
    async fn pending(
        &self,
        name: &str,
        after: Option<&str>,
        max: usize,
    ) -> Result<Vec<InboxEntry>, InboxError> {
        self.inner.pending(name, after, max).await
    }
    async fn claim(
        &self,
        name: &str,
        idle: Duration,
        max: usize,
    ) -> Result<Vec<InboxEntry>, InboxError> {
        self.inner.claim(name, idle, max).await
    }
    async fn touch(&self, name: &str, ids: &[String]) -> Result<(), InboxError> {
        self.inner.touch(name, ids).await
    }
    async fn ack(&self, id: &str) -> Result<(), InboxError> {
        self.record(1).await;
        self.inner.ack(id).await
    }
    async fn ack_all(&self, ids: &[String]) -> Result<(), InboxError> {
        self.record(ids.len()).await;
        self.inner.ack_all(ids).await
    }
    async fn fail(&self, id: &str, reason: &str) -> Result<(), InboxError> {
        self.inner.fail(id, reason).await
    }
}

#[tokio::test]
async fn events_that_finish_while_an_acknowledgement_is_out_are_acknowledged_together() {
    let inbox = Arc::new(CountedAcks {
        inner: MemoryInbox::new(),
        calls: Mutex::new(Vec::new()),
        release: Semaphore::new(0),
    });
    let (handler, gate, mut seen) = gated();
    let (router, pipeline) = EventReceiver::new(SingleToken::new(APP_TOKEN), handler)
        .durable_inbox(Arc::clone(&inbox), consumer("replica-1"))
        .build();
    let url = serve(router).await;
    let mut handled = 0;
    for id in 1..=10 {
        assert_eq!(post(&url, reply_body(id)).await, 200);
        gate.add_permits(1);
        tokio::time::timeout(PATIENCE, seen.recv())
            .await
            .expect("handled")
            .expect("open");
        handled += 1;
        if handled == 1 {
            // The first acknowledgement is out (and held) before the others finish.
            until(|| !inbox.calls.lock().expect("not poisoned").is_empty()).await;
        }
    }
    // Let the last tickets reach the acknowledging task, then let the store answer.
    tokio::time::sleep(Duration::from_millis(200)).await;
    inbox.release.add_permits(1);
    until(|| inbox.inner.is_empty()).await;
    assert!(pipeline.shutdown(PATIENCE).await.is_complete());
    let calls = inbox.calls.lock().expect("not poisoned").clone();
    assert_eq!(
        calls.iter().sum::<usize>(),
        10,
        "each acknowledged once: {calls:?}"
    );
    assert_eq!(calls[0], 1);
    assert!(
        calls.len() <= 3,
        "the other nine in one or two calls, not one each: {calls:?}"
    );
}

/// A memory inbox whose reads find nothing: only what the receiver's appends make pending for
/// the consumer reaches it.
struct NoReads(Arc<MemoryInbox>);

impl InboxStore for NoReads {
    async fn append(
        &self,
        key: &str,
        member: &MemberId,
        payload: &str,
    ) -> Result<Appended, InboxError> {
        self.0.append(key, member, payload).await
    }
    async fn append_and_read(
        &self,
        key: &str,
        member: &MemberId,
        payload: &str,
        consumer: &str,
    ) -> Result<AppendedAndRead, InboxError> {
        self.0.append_and_read(key, member, payload, consumer).await
    }
    async fn read(&self, _: &str, _: usize, wait: Duration) -> Result<Vec<InboxEntry>, InboxError> {
        tokio::time::sleep(wait).await;
        Ok(Vec::new())
    }
    async fn pending(
        &self,
        name: &str,
        after: Option<&str>,
        max: usize,
    ) -> Result<Vec<InboxEntry>, InboxError> {
        self.0.pending(name, after, max).await
    }
    async fn claim(&self, _: &str, _: Duration, _: usize) -> Result<Vec<InboxEntry>, InboxError> {
        Ok(Vec::new())
    }
    async fn touch(&self, name: &str, ids: &[String]) -> Result<(), InboxError> {
        self.0.touch(name, ids).await
    }
    async fn ack(&self, id: &str) -> Result<(), InboxError> {
        self.0.ack(id).await
    }
    async fn fail(&self, id: &str, reason: &str) -> Result<(), InboxError> {
        self.0.fail(id, reason).await
    }
}

#[tokio::test]
async fn an_older_entry_read_in_place_of_the_new_one_is_handled_too() {
    let inbox = Arc::new(MemoryInbox::new());
    // Stored before and never read (another replica appended it and died, say).
    let older = json!({
        "event": "ONIMCONNECTORMESSAGEADD",
        "data": {
            "CONNECTOR": "acme_chat",
            "LINE": "1",
            "MESSAGES": [{
                "im": {"chat_id": "7", "message_id": "100"},
                "message": {"text": "hello"},
                "chat": {"id": "chat-1"},
            }],
        },
        "auth": {"domain": "d.bitrix24.com", "member_id": MEMBER, "application_token": "verified"},
    });
    let older_key = format!("{MEMBER}:ONIMCONNECTORMESSAGEADD:100");
    inbox
        .append(&older_key, &MemberId::from(MEMBER), &older.to_string())
        .await
        .expect("stored");
    let (handler, gate, mut seen) = gated();
    gate.add_permits(10);
    let (router, pipeline) = EventReceiver::new(SingleToken::new(APP_TOKEN), handler)
        .durable_inbox(NoReads(Arc::clone(&inbox)), consumer("replica-1"))
        .build();
    let url = serve(router).await;
    // The append reads the older entry for this consumer, not the new one.
    assert_eq!(post(&url, reply_body(1)).await, 200);
    let handled = tokio::time::timeout(PATIENCE, seen.recv())
        .await
        .expect("the older entry is handled")
        .expect("open");
    assert_eq!(handled, older_key);
    until(|| inbox.len() == 1).await;
    assert!(pipeline.shutdown(PATIENCE).await.is_complete());
}
