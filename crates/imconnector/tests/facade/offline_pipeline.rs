//! The offline poller feeds the inbound pipeline: a backlog of 1,000 replies in 50 chats is
//! handled in chat order, confirmed in a handful of `batch` calls and cleared; a connector down
//! for a minute handles every reply once it returns; a poller restarted mid-batch does not run
//! again what its predecessor handled, and never clears a row before its confirmation is sent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use imconnector::inbound::{DedupKey, InboundOptions};
use imconnector::offline::OfflinePoller;
use imconnector::prelude::*;
use imconnector::receiver::HandlerError;
use imconnector::transport::MemoryOfflineCursors;
use imconnector::EventDelivery;
use tokio::sync::{mpsc, Notify};

use crate::offline::{member, offline_portal, DOWN};
use crate::support::{line, portal, setup, PATIENCE};

/// Records every run of the handler: operator replies per chat (their text, in order), dialog
/// starts, and the keys it was given. Replies whose text ends with `gate` wait for it.
#[derive(Default)]
struct Ledger {
    replies: Mutex<HashMap<String, Vec<String>>>,
    starts: Mutex<Vec<String>>,
    keys: Mutex<Vec<DedupKey>>,
    gate: Option<(String, Arc<Notify>, mpsc::UnboundedSender<()>)>,
}

impl Ledger {
    fn replies(&self) -> HashMap<String, Vec<String>> {
        self.replies
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn reply_runs(&self) -> usize {
        self.replies().values().map(Vec::len).sum()
    }

    fn start_runs(&self) -> usize {
        self.starts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// The handler over a shared [`Ledger`].
struct Recording(Arc<Ledger>);

impl EventHandler for Recording {
    async fn event(&self, key: &DedupKey, event: Event) -> Result<SentMessages, HandlerError> {
        self.0
            .keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(key.clone());
        match event {
            Event::MessageAdd(event) => self.message_add(event).await,
            Event::DialogStart(event) => {
                self.dialog_start(event).await.map(|()| SentMessages::new())
            }
            _ => Ok(SentMessages::new()),
        }
    }

    async fn message_add(&self, event: MessageAddEvent) -> Result<SentMessages, HandlerError> {
        let ledger = &self.0;
        let mut sent = SentMessages::new();
        for item in &event.data.messages {
            let text = item.message.text.clone().unwrap_or_default();
            if let Some((chat, gate, entered)) = &ledger.gate {
                if item.chat.id.as_str() == chat {
                    let _ = entered.send(());
                    gate.notified().await;
                }
            }
            ledger
                .replies
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(item.chat.id.to_string())
                .or_default()
                .push(text);
            sent.push(item, [format!("out-{}", item.im.message_id)]);
        }
        Ok(sent)
    }

    async fn dialog_start(&self, event: DialogStartEvent) -> Result<(), HandlerError> {
        self.0
            .starts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(event.data.data[0].chat.id.to_string());
        Ok(())
    }
}

/// Waits until `done` holds (panics after [`PATIENCE`]).
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    tokio::time::timeout(PATIENCE, async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting until {what}"));
}

/// REST calls per method between two counter snapshots.
fn calls(
    before: &std::collections::BTreeMap<String, u64>,
    after: &std::collections::BTreeMap<String, u64>,
) -> HashMap<String, u64> {
    after
        .iter()
        .map(|(method, count)| {
            let earlier = before.get(method).copied().unwrap_or(0);
            (method.clone(), count - earlier)
        })
        .filter(|(_, count)| *count > 0)
        .collect()
}

const CHATS: usize = 50;
const REPLIES_PER_CHAT: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_replies_in_fifty_chats_are_handled_in_order_confirmed_and_cleared_in_few_calls()
{
    let portal = offline_portal(CHATS, REPLIES_PER_CHAT).await;
    let replies = CHATS * REPLIES_PER_CHAT;
    assert_eq!(portal.emulator.offline_events().len(), replies + CHATS);
    let ledger = Arc::new(Ledger::default());
    let before = portal.emulator.counters().requests;
    let poller = OfflinePoller::new(Recording(Arc::clone(&ledger)), MemoryOfflineCursors::new())
        .interval(Duration::from_secs(3600))
        .options(InboundOptions::new().confirm_linger(Duration::from_millis(200)));
    poller.add_portal(member(&portal), &portal.app.domain, portal.client.clone());

    until("every row is cleared and every reply confirmed", || {
        portal.emulator.offline_events().is_empty()
            && portal
                .emulator
                .delivery_statuses()
                .iter()
                .filter(|delivery| delivery.matched)
                .count()
                >= replies
    })
    .await;
    assert!(poller.shutdown(PATIENCE).await.is_complete());

    // Every reply handled once, in its chat's order.
    let handled = ledger.replies();
    assert_eq!(handled.len(), CHATS);
    for (chat, texts) in &handled {
        assert_eq!(texts.len(), REPLIES_PER_CHAT, "{chat}: {texts:?}");
        for (index, text) in texts.iter().enumerate() {
            assert!(
                text.ends_with(&format!("reply {index}")),
                "{chat}: {texts:?}"
            );
        }
    }
    assert_eq!(ledger.start_runs(), CHATS);
    let deliveries = portal.emulator.delivery_statuses();
    assert_eq!(deliveries.len(), replies, "each reply confirmed once");
    assert!(deliveries.iter().all(|delivery| delivery.matched));

    let used = calls(&before, &portal.emulator.counters().requests);
    let count = |method: &str| used.get(method).copied().unwrap_or(0);
    let batches = count("batch");
    // Inside a `batch` the emulator counts each command under its method too; outside one
    // each `send.status.delivery` is a REST call of its own.
    let confirming = if batches > 0 {
        batches
    } else {
        count("imconnector.send.status.delivery")
    };
    let rest_calls = count("event.offline.get")
        + count("event.offline.clear")
        + count("event.offline.error")
        + confirming;
    println!(
        "FIGURE offline: {replies} replies in {CHATS} chats ({} rows) handled, confirmed and \
         cleared in {rest_calls} REST calls: {} event.offline.get, {} event.offline.clear, \
         {confirming} confirmation calls (`batch`, carrying {} send.status.delivery commands)",
        replies + CHATS,
        count("event.offline.get"),
        count("event.offline.clear"),
        count("imconnector.send.status.delivery"),
    );
    assert!(
        rest_calls <= 120,
        "{rest_calls} REST calls for {replies} replies: {used:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connector_down_for_a_minute_handles_every_reply_once_it_returns() {
    let portal = portal().await;
    let setup = setup(DOWN)
        .with_delivery(EventDelivery::Offline)
        .with_offline_wakeup(false);
    provision(&portal.client, &setup, line(1))
        .await
        .expect("provision");
    for chat in 0..3 {
        let customer = MessageIn::new(
            MessageUser::new(format!("user-{chat}")),
            MessageBody::new()
                .with_id(format!("in-{chat}"))
                .with_text("Hello"),
            MessageChat::new(format!("chat-{chat}")),
        );
        portal
            .client
            .call(&SendMessages::new(setup.id().clone(), line(1), [customer]))
            .await
            .expect("send.messages");
    }
    let cursors = Arc::new(MemoryOfflineCursors::new());
    let options = InboundOptions::new().confirm_linger(Duration::from_millis(50));

    // Up: the first reply of each chat is handled.
    let ledger = Arc::new(Ledger::default());
    let up = OfflinePoller::new(Recording(Arc::clone(&ledger)), Arc::clone(&cursors))
        .interval(Duration::from_millis(100))
        .options(options.clone());
    up.add_portal(member(&portal), &portal.app.domain, portal.client.clone());
    for chat in 0..3 {
        portal
            .emulator
            .operator_reply(1, &format!("chat-{chat}"), "reply 0")
            .expect("operator replies");
    }
    until("the first replies are handled", || {
        ledger.reply_runs() == 3 && portal.emulator.offline_events().is_empty()
    })
    .await;
    // Down for a minute (no process, nobody listens): a reply every second on the portal's
    // clock, which the portal keeps in its offline queue.
    assert!(up.shutdown(PATIENCE).await.is_complete());
    drop(up);
    for second in 1..=60 {
        portal.emulator.advance_clock(Duration::from_secs(1));
        portal
            .emulator
            .operator_reply(
                1,
                &format!("chat-{}", second % 3),
                &format!("reply {second}"),
            )
            .expect("operator replies");
    }
    assert_eq!(portal.emulator.offline_events().len(), 60);
    assert!(
        portal.emulator.event_deliveries().is_empty(),
        "nothing online"
    );

    // Back: every reply of the minute is handled once, in order, confirmed and cleared.
    let back = OfflinePoller::new(Recording(Arc::clone(&ledger)), cursors)
        .interval(Duration::from_millis(100))
        .options(options);
    back.add_portal(member(&portal), &portal.app.domain, portal.client.clone());
    until("every reply of the minute is confirmed", || {
        portal.emulator.offline_events().is_empty()
            && portal.emulator.delivery_statuses().len() >= 63
    })
    .await;
    assert!(back.shutdown(PATIENCE).await.is_complete());
    let handled = ledger.replies();
    for chat in 0..3 {
        let texts = &handled[&format!("chat-{chat}")];
        let numbers: Vec<usize> = texts
            .iter()
            .map(|text| {
                text.rsplit(' ')
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("a number")
            })
            .collect();
        let expected: Vec<usize> = std::iter::once(0)
            .chain((1..=60).filter(|second| second % 3 == chat))
            .collect();
        assert_eq!(numbers, expected, "chat-{chat}: each reply once, in order");
    }
    assert!(portal
        .emulator
        .delivery_statuses()
        .iter()
        .all(|delivery| delivery.matched));
}

/// A portal with 3 chats and one reply each (6 rows: 3 dialog starts, 3 replies), polled only
/// by hand, through a handler whose reply in chat 2 waits at a gate.
async fn gated() -> (
    crate::support::Portal,
    Arc<Ledger>,
    Arc<Notify>,
    mpsc::UnboundedReceiver<()>,
) {
    let portal = offline_portal(3, 1).await;
    let gate = Arc::new(Notify::new());
    let (entered, entering) = mpsc::unbounded_channel();
    let ledger = Arc::new(Ledger {
        gate: Some(("chat-2".to_owned(), Arc::clone(&gate), entered)),
        ..Ledger::default()
    });
    (portal, ledger, gate, entering)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poller_restarted_mid_batch_resumes_its_process_id_without_running_handled_rows_again() {
    let (portal, ledger, gate, mut entering) = gated().await;
    let member = member(&portal);
    let poller = OfflinePoller::new(Recording(Arc::clone(&ledger)), MemoryOfflineCursors::new())
        .options(InboundOptions::new().confirm_linger(Duration::from_millis(50)));
    poller.add_portal_without_task(member.clone(), &portal.app.domain, portal.client.clone());
    let first = tokio::spawn({
        let (poller, member) = (poller.clone(), member.clone());
        async move { poller.poll_now(&member).await }
    });
    tokio::time::timeout(PATIENCE, entering.recv())
        .await
        .expect("chat 2's reply reached the handler");
    // Chats 0 and 1 are handled and confirmed; then the batch dies before its `clear`.
    until("two replies are confirmed", || {
        portal.emulator.delivery_statuses().len() == 2
    })
    .await;
    first.abort();
    assert!(first.await.is_err(), "the batch was killed");
    assert_eq!(portal.emulator.offline_events().len(), 6, "nothing cleared");

    // The restarted batch resumes the process id: the rows handled are cleared without
    // running the handler again; the one still running stays reserved.
    let report = poller.poll_now(&member).await.expect("a batch");
    assert_eq!(report.rows, 6, "{report:?}");
    assert_eq!(report.duplicates.len(), 5, "{report:?}");
    assert_eq!(report.handled, report.duplicates);
    assert_eq!(report.left.len(), 1, "{report:?}");
    assert_eq!(portal.emulator.offline_events().len(), 1);
    assert_eq!((ledger.reply_runs(), ledger.start_runs()), (2, 3));

    gate.notify_one();
    until("chat 2's reply is confirmed", || {
        portal.emulator.delivery_statuses().len() == 3
    })
    .await;
    let report = poller.poll_now(&member).await.expect("a batch");
    assert_eq!((report.rows, report.duplicates.len()), (1, 1), "{report:?}");
    assert!(portal.emulator.offline_events().is_empty());
    assert_eq!(
        (ledger.reply_runs(), ledger.start_runs()),
        (3, 3),
        "each row ran once"
    );
    // The handler saw each row under its offline key (portal + event + MESSAGE_ID).
    let keys = ledger
        .keys
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    assert_eq!(keys.len(), 6);
    assert!(
        keys.iter().all(|key| key.as_str().contains(":offline/")),
        "{keys:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_handled_but_not_yet_confirmed_is_not_cleared() {
    let portal = offline_portal(2, 1).await;
    let ledger = Arc::new(Ledger::default());
    let member = member(&portal);
    // Confirmations gather for an hour: none is sent during the test.
    let poller = OfflinePoller::new(Recording(Arc::clone(&ledger)), MemoryOfflineCursors::new())
        .options(InboundOptions::new().confirm_linger(Duration::from_secs(3600)));
    poller.add_portal_without_task(member.clone(), &portal.app.domain, portal.client.clone());
    let first = tokio::spawn({
        let (poller, member) = (poller.clone(), member.clone());
        async move { poller.poll_now(&member).await }
    });
    until("both replies are handled", || ledger.reply_runs() == 2).await;
    first.abort();
    let _ = first.await;

    let report = poller.poll_now(&member).await.expect("a batch");
    assert_eq!(report.rows, 4, "{report:?}");
    // The dialog starts needed no confirmation: handled, cleared. The replies wait for theirs.
    assert_eq!(report.duplicates.len(), 2, "{report:?}");
    assert_eq!(report.left.len(), 2, "{report:?}");
    let rows = portal.emulator.offline_events();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows
        .iter()
        .all(|row| row.event == "ONIMCONNECTORMESSAGEADD"));
    assert!(portal.emulator.delivery_statuses().is_empty());
    assert_eq!(ledger.reply_runs(), 2, "not run again");
}
