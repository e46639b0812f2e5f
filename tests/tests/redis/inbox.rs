//! The durable inbox on Redis Streams: the same event appended twice is stored once; two
//! replicas on one Redis handle each event once; a replica stopped mid-batch (its entries read,
//! not acknowledged) loses nothing: the other takes its entries with `XAUTOCLAIM`. Handled
//! entries are acknowledged together (`ack_all`, in one script call per thousand), and one
//! handled but not acknowledged (a crash in between) is handed again at the next start.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use imconnector::events::Event;
use imconnector::inbound::{ConsumerOptions, DedupKey, Inbound, SentMessages};
use imconnector::prelude::{EventHandler, HandlerError};
use imconnector_redis::RedisInbox;
use imconnector_transport::inbox::{Appended, AppendedAndRead, InboxEntry, InboxError, InboxStore};
use imconnector_transport::MemberId;
use serde_json::json;

use crate::support::{backend, clean, redis_url, unique_prefix, PATIENCE};

const MEMBER: &str = "bac1c1a0b1d2e3f4";

/// An operator reply as the receiver stores it (the verified body, as JSON).
fn reply(chat: usize, message_id: usize) -> (DedupKey, String) {
    let value = json!({
        "event": "ONIMCONNECTORMESSAGEADD",
        "data": {
            "CONNECTOR": "acme_chat",
            "LINE": "1",
            "MESSAGES": [{
                "im": {"chat_id": "7", "message_id": message_id.to_string()},
                "message": {"text": format!("reply {message_id}")},
                "chat": {"id": format!("chat-{chat}")},
            }],
        },
        "auth": {"domain": "d.bitrix24.com", "member_id": MEMBER, "application_token": "verified"},
    });
    let event = Event::from_value(value.clone()).expect("a valid event");
    (DedupKey::of(&event), value.to_string())
}

/// Records who handled which key; hangs on everything while `hang` is set.
struct Recorder {
    replica: &'static str,
    handled: Arc<Mutex<Vec<(&'static str, String)>>>,
    hang: bool,
}

impl EventHandler for Recorder {
    async fn event(&self, key: &DedupKey, _event: Event) -> Result<SentMessages, HandlerError> {
        if self.hang {
            std::future::pending::<()>().await;
        }
        self.handled
            .lock()
            .expect("not poisoned")
            .push((self.replica, key.to_string()));
        Ok(SentMessages::new())
    }
}

async fn inbox(url: &str, prefix: &str) -> RedisInbox {
    backend(url, prefix, Duration::from_secs(5))
        .await
        .inbox()
        .await
        .expect("the group is created")
        .poll_interval(Duration::from_millis(20))
        .expect("valid")
}

fn consumer(name: &str) -> ConsumerOptions {
    ConsumerOptions::new(name)
        .expect("valid")
        .min_idle(Duration::from_millis(500))
        .expect("valid")
        .read_wait(Duration::from_millis(50))
}

async fn wait_until(mut done: impl FnMut() -> bool) {
    let started = tokio::time::Instant::now();
    while !done() {
        assert!(started.elapsed() < PATIENCE, "gave up waiting");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_handle_each_event_once() {
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix("inbox-two");
    let store = inbox(&url, &prefix).await;
    let handled = Arc::new(Mutex::new(Vec::new()));
    let replicas: Vec<_> = ["replica-a", "replica-b"]
        .into_iter()
        .map(|name| {
            let pipeline = Inbound::builder(Recorder {
                replica: name,
                handled: Arc::clone(&handled),
                hang: false,
            })
            .build();
            pipeline.consume(store.clone(), consumer(name));
            pipeline
        })
        .collect();

    let member = MemberId::from(MEMBER);
    for id in 0..400 {
        let (key, payload) = reply(id % 20, id);
        let appended = store
            .append(key.as_str(), &member, &payload)
            .await
            .expect("appended");
        assert!(matches!(appended, Appended::Added(_)));
        // The same event again (a second binding, a replay) is not stored again.
        if id % 10 == 0 {
            assert_eq!(
                store
                    .append(key.as_str(), &member, &payload)
                    .await
                    .expect("answered"),
                Appended::Duplicate
            );
        }
    }
    wait_until(|| handled.lock().expect("not poisoned").len() >= 400).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for replica in &replicas {
        assert!(replica.shutdown(PATIENCE).await.is_complete());
    }

    let handled = handled.lock().expect("not poisoned").clone();
    let mut per_key: HashMap<&str, usize> = HashMap::new();
    let mut per_replica: HashMap<&str, usize> = HashMap::new();
    for (replica, key) in &handled {
        *per_key.entry(key).or_default() += 1;
        *per_replica.entry(replica).or_default() += 1;
    }
    println!("FIGURE inbox two replicas: 400 events, handled per replica {per_replica:?}");
    assert_eq!(per_key.len(), 400);
    assert!(per_key.values().all(|count| *count == 1), "each event once");
    assert_eq!(
        store.backlog().await.expect("answers"),
        0,
        "every entry acknowledged"
    );
    clean(
        &backend(&url, &prefix, Duration::from_secs(5)).await,
        &prefix,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_stopped_mid_batch_loses_nothing_the_other_takes_its_entries() {
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix("inbox-takeover");
    let store = inbox(&url, &prefix).await;
    let handled = Arc::new(Mutex::new(Vec::new()));

    // Replica A reads a batch and never finishes it (its handler hangs), then stops without
    // acknowledging anything, as a killed process would.
    let stuck = Inbound::builder(Recorder {
        replica: "replica-a",
        handled: Arc::clone(&handled),
        hang: true,
    })
    .build();
    stuck.consume(store.clone(), consumer("replica-a"));
    let member = MemberId::from(MEMBER);
    for id in 0..50 {
        let (key, payload) = reply(id % 5, id);
        store
            .append(key.as_str(), &member, &payload)
            .await
            .expect("appended");
    }
    let connection = backend(&url, &prefix, Duration::from_secs(5))
        .await
        .connection();
    let pending_of_a = || {
        let stream = store.stream_key().to_owned();
        let mut connection = connection.clone();
        async move {
            let summary: redis::Value = redis::cmd("XPENDING")
                .arg(&stream)
                .arg("imconnector")
                .query_async(&mut connection)
                .await
                .expect("answers");
            match summary {
                redis::Value::Array(items) => match items.first() {
                    Some(redis::Value::Int(count)) => *count,
                    _ => 0,
                },
                _ => 0,
            }
        }
    };
    let started = tokio::time::Instant::now();
    while pending_of_a().await < 50 {
        assert!(
            started.elapsed() < PATIENCE,
            "replica A never read its batch"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let drained = stuck.shutdown(Duration::ZERO).await;
    assert!(
        !drained.is_complete(),
        "A stopped with its batch unfinished"
    );
    drop(stuck);
    assert!(handled.lock().expect("not poisoned").is_empty());

    // Replica B takes A's entries once they are idle, and handles each once.
    let taker = Inbound::builder(Recorder {
        replica: "replica-b",
        handled: Arc::clone(&handled),
        hang: false,
    })
    .build();
    taker.consume(store.clone(), consumer("replica-b"));
    wait_until(|| handled.lock().expect("not poisoned").len() >= 50).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(taker.shutdown(PATIENCE).await.is_complete());
    let handled = handled.lock().expect("not poisoned").clone();
    assert_eq!(handled.len(), 50, "each once");
    assert!(handled.iter().all(|(replica, _)| *replica == "replica-b"));
    assert_eq!(store.backlog().await.expect("answers"), 0);
    assert_eq!(pending_of_a().await, 0);
    clean(
        &backend(&url, &prefix, Duration::from_secs(5)).await,
        &prefix,
    )
    .await;
}

/// How many entries of the stream's group are pending (read, not acknowledged).
async fn pending_count(url: &str, prefix: &str, stream: &str) -> i64 {
    let mut connection = backend(url, prefix, Duration::from_secs(5))
        .await
        .connection();
    let summary: redis::Value = redis::cmd("XPENDING")
        .arg(stream)
        .arg("imconnector")
        .query_async(&mut connection)
        .await
        .expect("answers");
    match summary {
        redis::Value::Array(items) => match items.first() {
            Some(redis::Value::Int(count)) => *count,
            _ => 0,
        },
        _ => 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ack_all_removes_every_entry_given_and_only_those() {
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix("inbox-ack-all");
    let store = inbox(&url, &prefix).await;
    let member = MemberId::from(MEMBER);
    // More than one script call's worth (1,000 ids).
    for id in 0..1_200 {
        let (key, payload) = reply(id % 20, id);
        store
            .append(key.as_str(), &member, &payload)
            .await
            .expect("appended");
    }
    let mut ids = Vec::new();
    while ids.len() < 1_200 {
        let read = store
            .read("reader", 2_000, Duration::from_secs(1))
            .await
            .expect("read");
        assert!(!read.is_empty(), "the entries are there to read");
        ids.extend(read.into_iter().map(|entry| entry.id));
    }
    assert_eq!(
        pending_count(&url, &prefix, store.stream_key()).await,
        1_200
    );

    store.ack_all(&ids[..1_100]).await.expect("acknowledged");
    assert_eq!(pending_count(&url, &prefix, store.stream_key()).await, 100);
    assert_eq!(store.backlog().await.expect("answers"), 100, "deleted too");
    let left: Vec<String> = store
        .pending("reader", None, 1_000)
        .await
        .expect("read")
        .into_iter()
        .map(|entry| entry.id)
        .collect();
    assert_eq!(left, ids[1_100..], "the ones not given stay pending");

    store.ack_all(&ids[1_100..]).await.expect("acknowledged");
    store.ack_all(&[]).await.expect("nothing to do");
    assert_eq!(pending_count(&url, &prefix, store.stream_key()).await, 0);
    assert_eq!(store.backlog().await.expect("answers"), 0);
    clean(
        &backend(&url, &prefix, Duration::from_secs(5)).await,
        &prefix,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn append_and_read_reads_the_new_entry_unless_an_older_one_was_never_read() {
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix("inbox-append-read");
    let store = inbox(&url, &prefix).await;
    let member = MemberId::from(MEMBER);
    let (first_key, first_payload) = reply(1, 1);
    let appended = store
        .append_and_read(first_key.as_str(), &member, &first_payload, "appender")
        .await
        .expect("appended");
    let AppendedAndRead::Read(first) = appended else {
        panic!("the new entry is read for the appending consumer: {appended:?}");
    };
    let pending = store.pending("appender", None, 10).await.expect("read");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].id, first);
    assert_eq!(pending[0].payload, first_payload);
    assert!(store
        .read("other", 10, Duration::ZERO)
        .await
        .expect("read")
        .is_empty());

    // An entry nobody read yet goes first: it is read in place of the new one.
    let (unread_key, unread_payload) = reply(2, 2);
    let Appended::Added(unread) = store
        .append(unread_key.as_str(), &member, &unread_payload)
        .await
        .expect("appended")
    else {
        panic!("stored");
    };
    let (new_key, new_payload) = reply(3, 3);
    let appended = store
        .append_and_read(new_key.as_str(), &member, &new_payload, "appender")
        .await
        .expect("appended");
    let AppendedAndRead::Stored { id, older } = appended else {
        panic!("the older entry is read instead: {appended:?}");
    };
    let older = older.expect("the older entry");
    assert_eq!(older.id, unread);
    assert_eq!(older.key, unread_key.as_str());
    assert_eq!(older.member_id, member);
    assert_eq!(older.payload, unread_payload);
    let pending: Vec<String> = store
        .pending("appender", None, 10)
        .await
        .expect("read")
        .into_iter()
        .map(|entry| entry.id)
        .collect();
    assert_eq!(pending, [first, unread]);
    let read = store.read("other", 10, Duration::ZERO).await.expect("read");
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].id, id, "the new entry is left for a read");

    assert_eq!(
        store
            .append_and_read(first_key.as_str(), &member, &first_payload, "appender")
            .await
            .expect("answered"),
        AppendedAndRead::Duplicate
    );
    clean(
        &backend(&url, &prefix, Duration::from_secs(5)).await,
        &prefix,
    )
    .await;
}

/// The inbox of a process that dies right after its handlers return: acknowledging never
/// completes.
struct DiesBeforeAcknowledging(RedisInbox);

impl InboxStore for DiesBeforeAcknowledging {
    async fn append(
        &self,
        key: &str,
        member_id: &MemberId,
        payload: &str,
    ) -> Result<Appended, InboxError> {
        self.0.append(key, member_id, payload).await
    }
    async fn read(
        &self,
        consumer: &str,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<InboxEntry>, InboxError> {
        self.0.read(consumer, max, wait).await
    }
    async fn pending(
        &self,
        consumer: &str,
        after: Option<&str>,
        max: usize,
    ) -> Result<Vec<InboxEntry>, InboxError> {
        self.0.pending(consumer, after, max).await
    }
    async fn claim(
        &self,
        consumer: &str,
        min_idle: Duration,
        max: usize,
    ) -> Result<Vec<InboxEntry>, InboxError> {
        self.0.claim(consumer, min_idle, max).await
    }
    async fn touch(&self, consumer: &str, ids: &[String]) -> Result<(), InboxError> {
        self.0.touch(consumer, ids).await
    }
    async fn ack(&self, _id: &str) -> Result<(), InboxError> {
        std::future::pending().await
    }
    async fn ack_all(&self, _ids: &[String]) -> Result<(), InboxError> {
        std::future::pending().await
    }
    async fn fail(&self, id: &str, reason: &str) -> Result<(), InboxError> {
        self.0.fail(id, reason).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_handled_but_not_acknowledged_are_handed_again_at_the_next_start() {
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix("inbox-crash-before-ack");
    let store = inbox(&url, &prefix).await;
    let handled = Arc::new(Mutex::new(Vec::new()));
    let dying = Inbound::builder(Recorder {
        replica: "before-crash",
        handled: Arc::clone(&handled),
        hang: false,
    })
    .build();
    dying.consume(
        DiesBeforeAcknowledging(store.clone()),
        consumer("replica-a"),
    );
    let member = MemberId::from(MEMBER);
    for id in 0..30 {
        let (key, payload) = reply(id % 3, id);
        store
            .append(key.as_str(), &member, &payload)
            .await
            .expect("appended");
    }
    wait_until(|| handled.lock().expect("not poisoned").len() >= 30).await;
    assert_eq!(
        pending_count(&url, &prefix, store.stream_key()).await,
        30,
        "handled, not acknowledged"
    );
    dying.shutdown(Duration::ZERO).await;
    drop(dying);

    // The restarted replica (same consumer name) reads its pending entries first.
    let restarted = Inbound::builder(Recorder {
        replica: "restarted",
        handled: Arc::clone(&handled),
        hang: false,
    })
    .build();
    restarted.consume(store.clone(), consumer("replica-a"));
    wait_until(|| handled.lock().expect("not poisoned").len() >= 60).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(restarted.shutdown(PATIENCE).await.is_complete());
    let handled = handled.lock().expect("not poisoned").clone();
    let mut again: Vec<&str> = handled
        .iter()
        .filter(|(replica, _)| *replica == "restarted")
        .map(|(_, key)| key.as_str())
        .collect();
    let mut before: Vec<&str> = handled
        .iter()
        .filter(|(replica, _)| *replica == "before-crash")
        .map(|(_, key)| key.as_str())
        .collect();
    again.sort_unstable();
    before.sort_unstable();
    assert_eq!(again.len(), 30, "each handed again once");
    assert_eq!(again, before, "the same entries");
    assert_eq!(pending_count(&url, &prefix, store.stream_key()).await, 0);
    assert_eq!(store.backlog().await.expect("answers"), 0);
    clean(
        &backend(&url, &prefix, Duration::from_secs(5)).await,
        &prefix,
    )
    .await;
}
