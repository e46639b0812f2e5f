//! Offline events: provisioning binds the connector's events offline, and the poller reads the
//! portal's queue, hands each row to the handler as a typed event, confirms and clears it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use imconnector::events::OfflineQueueChangeEvent;
use imconnector::inbound::InboundOptions;
use imconnector::methods::GetOfflineEvents;
use imconnector::offline::{OfflinePoller, OfflineWaker};
use imconnector::prelude::*;
use imconnector::receiver::{HandlerError, SingleToken};
use imconnector::transport::{MemberId, MemoryOfflineCursors, OfflineCursorStore};
use imconnector::types::OfflineEventRow;
use imconnector::EventDelivery;
use imconnector::ExposeSecret;

use crate::support::{line, next, portal, recorder, serve, setup, Portal, Seen, PATIENCE};

/// A handler URL nobody listens on: the connector is down.
pub const DOWN: &str = "http://127.0.0.1:9/events";

pub fn member(portal: &Portal) -> MemberId {
    MemberId::from(portal.app.member_id.as_str())
}

/// Provisions the connector with offline delivery (no wake-up) and has `chats` customers
/// write, then the operator answer each `replies` times.
pub async fn offline_portal(chats: usize, replies: usize) -> Portal {
    let portal = portal().await;
    let setup = setup(DOWN)
        .with_delivery(EventDelivery::Offline)
        .with_offline_wakeup(false);
    let provisioned = provision(&portal.client, &setup, line(1))
        .await
        .expect("provision");
    assert!(provisioned.newly_bound.is_empty(), "{provisioned:?}");
    assert_eq!(provisioned.newly_bound_offline.len(), setup.events().len());
    for chat in 0..chats {
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
    for reply in 0..replies {
        for chat in 0..chats {
            portal
                .emulator
                .operator_reply(1, &format!("chat-{chat}"), &format!("reply {reply}"))
                .expect("operator replies");
        }
    }
    portal
}

fn poller<H: EventHandler>(
    portal: &Portal,
    handler: H,
    cursors: Arc<MemoryOfflineCursors>,
) -> OfflinePoller<H, Arc<MemoryOfflineCursors>> {
    let poller = OfflinePoller::new(handler, cursors).interval(Duration::from_secs(3600));
    poller.add_portal(member(portal), &portal.app.domain, portal.client.clone());
    poller
}

#[tokio::test]
async fn offline_rows_decode_into_the_events_the_receiver_produces() {
    let portal = offline_portal(1, 1).await;
    let rows: Vec<OfflineEventRow> = portal
        .client
        .call(&imconnector::methods::ListOfflineEvents::new())
        .await
        .expect("event.offline.list");
    assert_eq!(rows.len(), 2, "{rows:?}");
    let events: Vec<Event> = rows
        .iter()
        .map(|row| row.to_event(&member(&portal), &portal.app.domain))
        .collect::<Result<_, _>>()
        .expect("rows decode");
    assert!(
        matches!(&events[0], Event::DialogStart(start) if start.data.data[0].chat.id.as_str() == "chat-0")
    );
    let Event::MessageAdd(added) = &events[1] else {
        panic!("expected a message, got {:?}", events[1]);
    };
    assert_eq!(added.data.connector, "acme_chat");
    assert_eq!(added.data.messages[0].chat.id.as_str(), "chat-0");
    assert!(added.data.messages[0]
        .message
        .text
        .as_deref()
        .is_some_and(|text| text.ends_with("reply 0")));
    assert_eq!(added.auth.member_id, portal.app.member_id.as_str());
    // The row keeps its own ids; `list` reserved nothing.
    assert!(!rows[1].message_id.is_empty());
    assert_eq!(rows[1].process_id.as_deref(), Some(""));
    assert_eq!(portal.emulator.offline_events().len(), 2);
}

#[tokio::test]
async fn replies_queued_while_the_connector_was_down_are_all_handled_confirmed_and_cleared() {
    // 3 chats x 20 replies + 3 dialog starts: more than one batch.
    let portal = offline_portal(3, 20).await;
    assert_eq!(portal.emulator.offline_events().len(), 63);
    let (handler, mut seen) = recorder();
    let poller = poller(&portal, handler, Arc::new(MemoryOfflineCursors::new()));

    let (mut added, mut confirmed) = (Vec::new(), 0);
    while added.len() < 60 || confirmed < 60 {
        match next(&mut seen).await {
            Seen::MessageAdd(event) => added.push(event),
            Seen::Confirmed(report) => {
                assert!(report.result.is_ok(), "{:?}", report.result);
                confirmed += 1;
            }
            Seen::DialogStart(_) => {}
            other => panic!("unexpected: {other:?}"),
        }
    }
    // Queue order is kept per chat.
    for chat in 0..3 {
        let texts: Vec<String> = added
            .iter()
            .filter(|event| event.data.messages[0].chat.id.as_str() == format!("chat-{chat}"))
            .map(|event| {
                event.data.messages[0]
                    .message
                    .text
                    .clone()
                    .unwrap_or_default()
            })
            .collect();
        assert_eq!(texts.len(), 20);
        for (index, text) in texts.iter().enumerate() {
            assert!(text.ends_with(&format!("reply {index}")), "{texts:?}");
        }
    }
    tokio::time::timeout(PATIENCE, async {
        while !portal.emulator.offline_events().is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("every row is cleared");
    let deliveries = portal.emulator.delivery_statuses();
    assert_eq!(deliveries.len(), 60);
    assert!(deliveries.iter().all(|delivery| delivery.matched));
    assert!(poller.shutdown(PATIENCE).await.is_complete());
}

/// Fails (or panics) on the first `fail` operator messages, then behaves like the recorder.
struct Flaky {
    calls: AtomicUsize,
    fail: usize,
    panic: bool,
}

impl EventHandler for Flaky {
    async fn message_add(&self, event: MessageAddEvent) -> Result<SentMessages, HandlerError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) < self.fail {
            assert!(!self.panic, "the handler panics");
            return Err("the messenger is down".into());
        }
        let mut sent = SentMessages::new();
        for item in &event.data.messages {
            sent.push(item, [format!("out-{}", item.im.message_id)]);
        }
        Ok(sent)
    }
}

async fn a_failed_row_is_kept_and_retried(panic: bool) {
    let portal = offline_portal(1, 1).await;
    let handler = Flaky {
        calls: AtomicUsize::new(0),
        fail: 1,
        panic,
    };
    // One attempt: the pipeline would otherwise run the failed handler again at once.
    let poller = OfflinePoller::new(handler, MemoryOfflineCursors::new())
        .interval(Duration::from_secs(3600))
        .options(
            InboundOptions::new()
                .attempts(1, Duration::ZERO)
                .expect("valid"),
        );
    // Without a task: driven batch by batch here.
    let member = member(&portal);
    poller.add_portal_without_task(member.clone(), &portal.app.domain, portal.client.clone());

    let report = poller.poll_now(&member).await.expect("a batch");
    assert_eq!(
        (report.rows, report.handled.len(), report.failed.len()),
        (2, 1, 1),
        "{report:?}"
    );
    // Marked failed, not lost: still queued, with its error mark and no process.
    let rows = portal.emulator.offline_events();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0].error && rows[0].process_id.is_none(), "{rows:?}");
    assert_eq!(rows[0].message_id, report.failed[0]);
    assert!(portal.emulator.delivery_statuses().is_empty());
    // An ordinary batch does not return it again; a retry does, and this time it is handled.
    assert_eq!(poller.poll_now(&member).await.expect("a batch").rows, 0);
    let retried = poller.retry_failed(&member).await.expect("a retry");
    assert_eq!(retried.handled, report.failed);
    assert!(portal.emulator.offline_events().is_empty());
    assert_eq!(portal.emulator.delivery_statuses().len(), 1);
}

#[tokio::test]
async fn a_failing_handler_marks_the_row_failed_and_it_is_not_lost() {
    a_failed_row_is_kept_and_retried(false).await;
}

#[tokio::test]
async fn a_panicking_handler_marks_the_row_failed_and_the_poller_goes_on() {
    a_failed_row_is_kept_and_retried(true).await;
}

/// Signals that it was entered, then never returns: the process dies while handling.
struct Stuck(tokio::sync::mpsc::UnboundedSender<()>);

impl EventHandler for Stuck {
    async fn message_add(&self, _event: MessageAddEvent) -> Result<SentMessages, HandlerError> {
        let _ = self.0.send(());
        std::future::pending().await
    }
}

#[tokio::test]
async fn a_restarted_poller_resumes_the_stored_process_id() {
    let portal = offline_portal(1, 2).await;
    let member = member(&portal);
    let cursors = Arc::new(MemoryOfflineCursors::new());
    let (entered, mut handling) = tokio::sync::mpsc::unbounded_channel();
    let first = OfflinePoller::new(Stuck(entered), Arc::clone(&cursors));
    first.add_portal_without_task(member.clone(), &portal.app.domain, portal.client.clone());
    let crashed = tokio::spawn({
        let first = first.clone();
        let member = member.clone();
        async move { first.poll_now(&member).await }
    });
    tokio::time::timeout(PATIENCE, handling.recv())
        .await
        .expect("the handler was entered");
    // The process dies mid-batch.
    crashed.abort();
    drop(first);

    let stored = cursors
        .load(&member)
        .await
        .expect("store")
        .expect("the process_id was stored before handling");
    let rows = portal.emulator.offline_events();
    assert_eq!(rows.len(), 3);
    assert!(rows
        .iter()
        .all(|row| row.process_id.as_deref() == Some(stored.as_str())));
    // Another reader without the process_id sees none of them.
    let stranger = portal
        .client
        .call(&GetOfflineEvents::new().with_clear(false))
        .await
        .expect("event.offline.get");
    assert!(stranger.events.is_empty(), "{stranger:?}");

    let (handler, mut seen) = recorder();
    let restarted = OfflinePoller::new(handler, Arc::clone(&cursors));
    restarted.add_portal_without_task(member.clone(), &portal.app.domain, portal.client.clone());
    let report = restarted.poll_now(&member).await.expect("a batch");
    assert_eq!(report.process_id, stored);
    assert_eq!((report.rows, report.handled.len()), (3, 3), "{report:?}");
    let mut replies = 0;
    while replies < 2 {
        if let Seen::MessageAdd(_) = next(&mut seen).await {
            replies += 1;
        }
    }
    assert!(portal.emulator.offline_events().is_empty());
}

/// The online handler of a connector with offline delivery: wakes the poller.
struct WakeUp(OfflineWaker);

impl EventHandler for WakeUp {
    async fn offline_queue_change(
        &self,
        event: OfflineQueueChangeEvent,
    ) -> Result<(), HandlerError> {
        let woke = self.0.wake(&event.auth.member_id);
        assert!(woke, "the portal is polled");
        Ok(())
    }
}

#[tokio::test]
async fn on_offline_event_wakes_the_poller_instead_of_its_timer() {
    let portal = portal().await;
    let (handler, mut seen) = recorder();
    // An hour between timer reads: only the wake-up can explain a prompt read.
    let poller = OfflinePoller::new(handler, MemoryOfflineCursors::new())
        .interval(Duration::from_secs(3600));
    let tokens = SingleToken::new(portal.app.application_token.expose_secret())
        .for_member(&portal.app.member_id);
    let url = serve(EventReceiver::new(tokens, WakeUp(poller.waker())).router()).await;
    let setup = setup(&url).with_delivery(EventDelivery::Offline);
    let provisioned = provision(&portal.client, &setup, line(1))
        .await
        .expect("provision");
    assert_eq!(provisioned.newly_bound, [imconnector::OFFLINE_WAKEUP_EVENT]);
    poller.add_portal(member(&portal), &portal.app.domain, portal.client.clone());

    let customer = MessageIn::new(
        MessageUser::new("user-1"),
        MessageBody::new().with_id("in-1").with_text("Hello"),
        MessageChat::new("chat-1"),
    );
    portal
        .client
        .call(&SendMessages::new(setup.id().clone(), line(1), [customer]))
        .await
        .expect("send.messages");
    assert!(matches!(next(&mut seen).await, Seen::DialogStart(_)));
    portal.emulator.advance_clock(Duration::from_secs(2));
    portal
        .emulator
        .operator_reply(1, "chat-1", "Hi")
        .expect("operator replies");
    assert!(matches!(next(&mut seen).await, Seen::MessageAdd(_)));
    assert!(poller.shutdown(PATIENCE).await.is_complete());
}
