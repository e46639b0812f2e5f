//! The inbound pipeline: per-chat order, the bound on handlers, failures reported and not lost,
//! deduplication, the drain, and a burst of replies confirmed in a handful of calls.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use imconnector::events::Event;
use imconnector::inbound::{
    DedupKey, Failure, FailureReport, Inbound, InboundOptions, Outcome, SentMessages,
};
use imconnector::prelude::*;
use serde_json::json;
use tokio::sync::mpsc;

use crate::support::PATIENCE;

const MEMBER: &str = "bac1c1a0b1d2e3f4";

/// An operator reply `message_id` in external chat `chat`, as the portal POSTs it.
fn reply(chat: &str, message_id: i64) -> Event {
    Event::from_value(json!({
        "event": "ONIMCONNECTORMESSAGEADD",
        "ts": "1773761165",
        "data": {
            "CONNECTOR": "acme_chat",
            "LINE": "1",
            "MESSAGES": [{
                "im": {"chat_id": "7", "message_id": message_id.to_string()},
                "message": {"text": format!("reply {message_id}")},
                "chat": {"id": chat},
            }],
        },
        "auth": {"domain": "d.bitrix24.com", "member_id": MEMBER, "application_token": "t"},
    }))
    .expect("a valid event")
}

fn member() -> imconnector::ids::MemberId {
    imconnector::ids::MemberId::from(MEMBER)
}

/// What the probe does for a message id.
#[derive(Clone, Copy)]
enum Act {
    Work(Duration),
    Panic,
    Hang,
}

/// Records every run per chat, how many run at once, and the failure reports.
struct Probe {
    act: fn(i64) -> Act,
    runs: Mutex<Vec<(String, i64)>>,
    keys: Mutex<Vec<DedupKey>>,
    running: AtomicUsize,
    peak: AtomicUsize,
    failed: mpsc::UnboundedSender<FailureReport>,
}

impl Probe {
    fn new(act: fn(i64) -> Act) -> (Self, mpsc::UnboundedReceiver<FailureReport>) {
        let (failed, reports) = mpsc::unbounded_channel();
        let probe = Self {
            act,
            runs: Mutex::default(),
            keys: Mutex::default(),
            running: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            failed,
        };
        (probe, reports)
    }
}

impl EventHandler for Probe {
    async fn event(&self, key: &DedupKey, event: Event) -> Result<SentMessages, HandlerError> {
        let Event::MessageAdd(event) = event else {
            return Ok(SentMessages::new());
        };
        let item = &event.data.messages[0];
        let id = item.im.message_id.get();
        self.keys.lock().expect("not poisoned").push(key.clone());
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        let act = (self.act)(id);
        match act {
            Act::Work(pause) => tokio::time::sleep(pause).await,
            Act::Panic => {
                self.running.fetch_sub(1, Ordering::SeqCst);
                panic!("the probe panics on message {id}");
            }
            Act::Hang => {
                // Cancelled by the timeout: the guard below is never reached, so count down
                // first.
                self.running.fetch_sub(1, Ordering::SeqCst);
                std::future::pending::<()>().await;
            }
        }
        self.running.fetch_sub(1, Ordering::SeqCst);
        self.runs
            .lock()
            .expect("not poisoned")
            .push((item.chat.id.as_str().to_owned(), id));
        Ok(SentMessages::new())
    }

    async fn handler_failed(&self, report: FailureReport) {
        let _ = self.failed.send(report);
    }
}

/// A pause of 0-19 ms that differs from message to message, so later messages often finish
/// first when nothing orders them.
fn jitter(id: i64) -> Act {
    Act::Work(Duration::from_millis(((id * 7919) % 20) as u64))
}

async fn wait_all(tickets: Vec<imconnector::inbound::Ticket>) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    for ticket in tickets {
        outcomes.push(
            tokio::time::timeout(PATIENCE, ticket)
                .await
                .expect("the event finishes"),
        );
    }
    outcomes
}

#[tokio::test(start_paused = true)]
async fn a_chats_events_run_one_at_a_time_in_order_and_chats_run_in_parallel() {
    let (probe, _reports) = Probe::new(jitter);
    let inbound = Inbound::builder(probe).build();
    let mut tickets = Vec::new();
    for id in 1..=100 {
        let chat = format!("chat-{}", id % 5);
        let event = reply(&chat, id);
        tickets.push(
            inbound
                .submit(DedupKey::of(&event), member(), event)
                .await
                .expect("open"),
        );
    }
    assert!(wait_all(tickets)
        .await
        .iter()
        .all(|outcome| *outcome == Outcome::Handled));

    let runs = inbound.handler().runs.lock().expect("not poisoned").clone();
    assert_eq!(runs.len(), 100);
    let mut per_chat: HashMap<String, Vec<i64>> = HashMap::new();
    for (chat, id) in runs {
        per_chat.entry(chat).or_default().push(id);
    }
    for (chat, ids) in &per_chat {
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        assert_eq!(ids, &sorted, "chat {chat} ran out of order");
    }
    assert_eq!(
        inbound.handler().peak.load(Ordering::SeqCst),
        5,
        "one per chat, all chats at once"
    );
}

#[tokio::test(start_paused = true)]
async fn no_more_handlers_run_at_once_than_the_bound() {
    let (probe, _reports) = Probe::new(|_| Act::Work(Duration::from_millis(100)));
    let options = InboundOptions::new().max_in_flight(3).expect("valid");
    let inbound = Inbound::builder(probe).options(options).build();
    let mut tickets = Vec::new();
    for id in 1..=30 {
        let event = reply(&format!("chat-{id}"), id);
        tickets.push(
            inbound
                .submit(DedupKey::of(&event), member(), event)
                .await
                .expect("open"),
        );
    }
    assert!(wait_all(tickets)
        .await
        .iter()
        .all(|outcome| *outcome == Outcome::Handled));
    assert_eq!(inbound.handler().peak.load(Ordering::SeqCst), 3);
    assert_eq!(
        inbound.handler().runs.lock().expect("not poisoned").len(),
        30
    );
}

#[tokio::test(start_paused = true)]
async fn a_handler_that_panics_or_hangs_is_reported_not_lost_and_later_events_flow() {
    let (probe, mut reports) = Probe::new(|id| match id {
        1 => Act::Panic,
        2 => Act::Hang,
        _ => Act::Work(Duration::from_millis(5)),
    });
    let options = InboundOptions::new()
        .handler_timeout(Duration::from_secs(5))
        .expect("valid")
        .attempts(2, Duration::from_secs(1))
        .expect("valid");
    let inbound = Inbound::builder(probe).options(options).build();
    let mut tickets = Vec::new();
    for id in 1..=4 {
        let event = reply("one-chat", id);
        tickets.push(
            inbound
                .submit(DedupKey::of(&event), member(), event)
                .await
                .expect("open"),
        );
    }
    let outcomes = wait_all(tickets).await;
    assert_eq!(
        outcomes[0],
        Outcome::Failed(Failure::Panicked("the probe panics on message 1".into()))
    );
    assert_eq!(
        outcomes[1],
        Outcome::Failed(Failure::TimedOut(Duration::from_secs(5)))
    );
    assert_eq!(&outcomes[2..], [Outcome::Handled, Outcome::Handled]);

    let mut reported = Vec::new();
    while let Ok(report) = reports.try_recv() {
        reported.push(report);
    }
    assert_eq!(reported.len(), 2, "{reported:?}");
    for report in &reported {
        assert_eq!(
            report.attempts, 2,
            "each was run again before it was reported"
        );
        assert_eq!(report.member_id, MEMBER);
    }
    assert_eq!(
        *inbound.handler().runs.lock().expect("not poisoned"),
        [("one-chat".to_owned(), 3), ("one-chat".to_owned(), 4)]
    );
    // A failed event may be submitted again (its source kept it) and runs again.
    let again = reply("one-chat", 1);
    let ticket = inbound
        .submit(DedupKey::of(&again), member(), again)
        .await
        .expect("open");
    assert!(matches!(ticket.await, Outcome::Failed(_)));
    assert!(inbound.shutdown(PATIENCE).await.is_complete());
}

#[tokio::test(start_paused = true)]
async fn the_same_event_twice_is_handled_once_and_the_handler_gets_its_key() {
    let (probe, _reports) = Probe::new(|_| Act::Work(Duration::from_millis(10)));
    let inbound = Inbound::builder(probe).build();
    let first = reply("chat", 42);
    let key = DedupKey::of(&first);
    assert_eq!(key.as_str(), format!("{MEMBER}:ONIMCONNECTORMESSAGEADD:42"));
    let queued = inbound
        .submit(key.clone(), member(), first.clone())
        .await
        .expect("open");
    let while_queued = inbound
        .submit(key.clone(), member(), first.clone())
        .await
        .expect("open");
    assert_eq!(while_queued.await, Outcome::AlreadyQueued);
    assert_eq!(queued.await, Outcome::Handled);
    let after = inbound
        .submit(key.clone(), member(), first)
        .await
        .expect("open");
    assert_eq!(after.await, Outcome::Duplicate);
    assert_eq!(*inbound.handler().keys.lock().expect("not poisoned"), [key]);
}

#[tokio::test(start_paused = true)]
async fn shutdown_drains_what_is_held_then_refuses() {
    let (probe, _reports) = Probe::new(|_| Act::Work(Duration::from_secs(2)));
    let inbound = Inbound::builder(probe).build();
    for id in 1..=10 {
        let event = reply("chat", id);
        let _ticket = inbound
            .submit(DedupKey::of(&event), member(), event)
            .await
            .expect("open");
    }
    // Ten events of one chat, two seconds each: a one-second deadline leaves some.
    let early = inbound.clone().shutdown(Duration::from_secs(1)).await;
    assert!(early.unfinished > 0, "{early:?}");
    let drained = inbound.shutdown(PATIENCE).await;
    assert!(drained.is_complete(), "{drained:?}");
    assert_eq!(
        inbound.handler().runs.lock().expect("not poisoned").len(),
        10
    );
    let late = reply("chat", 11);
    assert!(inbound
        .submit(DedupKey::of(&late), member(), late)
        .await
        .is_err());
}
