//! The offline poller's cursor in Redis: a poller that dies mid-batch is replaced by one in
//! another "process" (its own connection) that resumes the stored `process_id`.

use std::time::Duration;

use imconnector::emulator::{client_builder, Emulator};
use imconnector::events::MessageAddEvent;
use imconnector::offline::OfflinePoller;
use imconnector::prelude::*;
use imconnector::receiver::HandlerError;
use imconnector_redis::RedisBackendError;
use imconnector_transport::{MemberId, OfflineCursorStore};

use crate::support::{backend, clean, redis_url, unique_prefix, PATIENCE};

#[tokio::test]
async fn cursors_are_shared_per_portal_and_bad_member_ids_are_refused() {
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix("offline-cursor");
    let first = backend(&url, &prefix, Duration::from_secs(1)).await;
    let second = backend(&url, &prefix, Duration::from_secs(1)).await;
    let (a, b) = (first.offline_cursors(), second.offline_cursors());
    let portal = MemberId::from("member1");
    assert_eq!(a.load(&portal).await.unwrap(), None);
    a.save(&portal, "p1").await.unwrap();
    assert_eq!(b.load(&portal).await.unwrap().as_deref(), Some("p1"));
    assert_eq!(b.load(&MemberId::from("member2")).await.unwrap(), None);
    b.remove(&portal).await.unwrap();
    assert_eq!(a.load(&portal).await.unwrap(), None);
    let refused = a.save(&MemberId::from("bad}{id"), "p").await.unwrap_err();
    let source = std::error::Error::source(&refused).expect("a cause");
    assert!(
        source.downcast_ref::<RedisBackendError>().is_some(),
        "{refused}"
    );
    clean(&first, &prefix).await;
}

/// Signals that it was entered, then never returns: the process dies while handling.
struct Stuck(tokio::sync::mpsc::UnboundedSender<()>);

impl EventHandler for Stuck {
    async fn message_add(&self, _event: MessageAddEvent) -> Result<SentMessages, HandlerError> {
        let _ = self.0.send(());
        std::future::pending().await
    }
}

/// Counts operator messages and delivers each.
struct Delivering(tokio::sync::mpsc::UnboundedSender<String>);

impl EventHandler for Delivering {
    async fn message_add(&self, event: MessageAddEvent) -> Result<SentMessages, HandlerError> {
        let mut sent = SentMessages::new();
        for item in &event.data.messages {
            sent.push(item, [format!("out-{}", item.im.message_id)]);
            let _ = self.0.send(item.message.text.clone().unwrap_or_default());
        }
        Ok(sent)
    }
}

#[tokio::test]
async fn a_poller_restarted_on_another_connection_resumes_the_process_id_kept_in_redis() {
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix("offline-resume");
    let emulator = Emulator::builder()
        .lines(1)
        .start()
        .await
        .expect("emulator");
    let app = emulator.app();
    let client = client_builder(&emulator)
        .rate_limit(RateLimit::Off)
        .build()
        .expect("client");
    let setup = ConnectorSetup::new(
        ConnectorId::new("acme_chat").unwrap(),
        "Acme",
        Icon::new("data:image/svg+xml,x"),
        SettingsUrl::parse("https://connector.example.com/settings").unwrap(),
        EventsUrl::parse("http://127.0.0.1:9/events").unwrap(),
    )
    .with_delivery(EventDelivery::Offline)
    .with_offline_wakeup(false);
    let line = LineId::new(1).unwrap();
    provision(&client, &setup, line).await.expect("provision");
    let customer = MessageIn::new(
        MessageUser::new("user-1"),
        MessageBody::new().with_id("in-1").with_text("Hello"),
        MessageChat::new("chat-1"),
    );
    client
        .call(&SendMessages::new(setup.id().clone(), line, [customer]))
        .await
        .expect("send.messages");
    for reply in 0..3 {
        emulator
            .operator_reply(1, "chat-1", &format!("reply {reply}"))
            .expect("operator replies");
    }
    let member = MemberId::from(app.member_id.as_str());

    let dying = backend(&url, &prefix, Duration::from_secs(1)).await;
    let (entered, mut handling) = tokio::sync::mpsc::unbounded_channel();
    let first = OfflinePoller::new(Stuck(entered), dying.offline_cursors());
    first.add_portal_without_task(member.clone(), &app.domain, client.clone());
    let crashed = tokio::spawn({
        let (first, member) = (first.clone(), member.clone());
        async move { first.poll_now(&member).await }
    });
    tokio::time::timeout(PATIENCE, handling.recv())
        .await
        .expect("the handler was entered");
    crashed.abort();
    drop((first, dying));

    let restarted_backend = backend(&url, &prefix, Duration::from_secs(1)).await;
    let cursors = restarted_backend.offline_cursors();
    let stored = cursors.load(&member).await.unwrap().expect("kept in Redis");
    assert!(emulator
        .offline_events()
        .iter()
        .all(|row| row.process_id.as_deref() == Some(stored.as_str())));
    let (seen, mut texts) = tokio::sync::mpsc::unbounded_channel();
    let restarted = OfflinePoller::new(Delivering(seen), cursors);
    restarted.add_portal_without_task(member.clone(), &app.domain, client.clone());
    let report = restarted.poll_now(&member).await.expect("a batch");
    assert_eq!(report.process_id, stored);
    assert_eq!(report.handled.len(), 4, "{report:?}");
    for reply in 0..3 {
        let text = texts.recv().await.expect("a reply");
        assert!(text.ends_with(&format!("reply {reply}")), "{text}");
    }
    assert!(emulator.offline_events().is_empty());
    assert_eq!(emulator.delivery_statuses().len(), 3);
    clean(&restarted_backend, &prefix).await;
}
