//! Issue 21, two replicas on one Redis inbox, as child processes: replica A receives the
//! portal's POSTs (its URL is the binding) and both consume the inbox. A is SIGKILLed while it
//! holds a batch it read and has not acknowledged; B takes those entries after their idle time
//! (`XAUTOCLAIM`) and every reply the portal got a 200 for has its effect exactly once and is
//! confirmed. (`tests/redis/inbox.rs` shows the same in one process, a replica stopped with
//! its handler hanging; this is the real death of a process.)

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use imconnector_redis::RedisInbox;
use imconnector_tests::kill_inbound::{EffectKeys, Effects};
use rand::{rngs::StdRng, Rng, SeedableRng};
use redis::aio::ConnectionManager;
use tokio::sync::watch;

use super::child::{free_port, installed_portal, receiver, ChildConnector};
use super::operators::{Intake, Operators};
use super::seed;
use super::verdict::{wait_until_settled, Verdict};
use crate::support::{clean, redis_url, PATIENCE};

const REPLIES: u64 = 400;
const CHATS: u64 = 40;
const PACE: Duration = Duration::from_millis(5);
const PORTAL_LATENCY: Duration = Duration::from_millis(20);
/// A replica's entries go to the other after this long without a touch.
const MIN_IDLE: Duration = Duration::from_secs(2);
/// The handler "sends" each reply this long before its effect: A dies with handlers in
/// flight, and replies it read and never started.
const HANDLER_DELAY: Duration = Duration::from_millis(200);
/// A is killed once it holds at least this many entries read and not acknowledged.
const MID_BATCH: usize = 20;
const GROUP: &str = "imconnector";

/// The ids of the entries `consumer` has read and not acknowledged.
async fn pending_of(
    redis: &mut ConnectionManager,
    inbox: &RedisInbox,
    consumer: &str,
) -> Vec<String> {
    let pending: Vec<(String, String, u64, u64)> = redis::cmd("XPENDING")
        .arg(inbox.stream_key())
        .arg(GROUP)
        .arg("-")
        .arg("+")
        .arg(10_000)
        .arg(consumer)
        .query_async(redis)
        .await
        .expect("Redis answers");
    pending.into_iter().map(|(id, ..)| id).collect()
}

/// The Bitrix message id of the reply in inbox entry `id`.
async fn message_of(redis: &mut ConnectionManager, inbox: &RedisInbox, id: &str) -> u64 {
    let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg(inbox.stream_key())
        .arg(id)
        .arg(id)
        .query_async(redis)
        .await
        .expect("Redis answers");
    let (_, fields) = entries.first().expect("a pending entry is in the stream");
    let payload = fields
        .iter()
        .find(|(name, _)| name == "payload")
        .map(|(_, value)| value)
        .expect("an entry has its payload");
    let event: serde_json::Value = serde_json::from_str(payload).expect("JSON");
    let id = &event["data"]["MESSAGES"][0]["im"]["message_id"];
    id.as_u64()
        .or_else(|| id.as_str().and_then(|id| id.parse().ok()))
        .expect("a reply's message id")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_mid_batch_leaves_its_entries_to_the_other() {
    let Some(url) = redis_url() else { return };
    let seed = seed();
    println!("kill test seed: {seed} (replay with IMCONNECTOR_KILL_SEED={seed})");
    let mut rng = StdRng::seed_from_u64(seed);
    let (portal, parent, a_plan) = installed_portal(
        &url,
        "kill-replicas",
        seed,
        PORTAL_LATENCY,
        receiver("replica-a", true, MIN_IDLE, HANDLER_DELAY),
    )
    .await;
    let mut b_plan = a_plan.clone();
    if let Some(inbound) = b_plan.inbound.as_mut() {
        inbound.consumer = "replica-b".to_owned();
        inbound.port = free_port();
        inbound.bind_events = false;
    }
    let started = Instant::now();
    let replica_a = ChildConnector::start(&a_plan).await;
    let replica_b = ChildConnector::start(&b_plan).await;
    let operators = Operators::open_chats(&portal, CHATS).await;
    let (progress, mut replied) = watch::channel(0);
    let driver = tokio::spawn(operators.clone().reply(REPLIES, PACE, progress));

    let mut redis = parent.connection();
    let inbox = parent.inbox().await.expect("the inbox");
    let kill_after = rng.random_range(REPLIES / 5..REPLIES / 2);
    replied
        .wait_for(|replied| *replied >= kill_after)
        .await
        .expect("the operators reply");
    let armed = Instant::now();
    while pending_of(&mut redis, &inbox, "replica-a").await.len() < MID_BATCH {
        assert!(armed.elapsed() < PATIENCE, "replica A never held a batch");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    replica_a.kill().await;
    let left_ids = pending_of(&mut redis, &inbox, "replica-a").await;
    let mut left = BTreeSet::new();
    for id in &left_ids {
        left.insert(message_of(&mut redis, &inbox, id).await);
    }

    let sent = driver.await.expect("the operators finish");
    let intake = Intake::of(&portal);
    let keys = EffectKeys::new(&a_plan.redis.key_prefix);
    wait_until_settled(&portal, &mut redis, &keys, &operators, &intake, &left).await;
    replica_b.stop().await;
    let effects = Effects::read(&mut redis, &keys, operators.chats().iter().cloned())
        .await
        .expect("Redis answers");
    let verdict = Verdict::judge(&portal, &sent, &intake, &effects);
    let applied: BTreeSet<u64> = effects.chats.values().flatten().copied().collect();
    let applied_by_b = left
        .iter()
        .filter(|id| effects.applied_by.get(id).map(String::as_str) == Some("replica-b"))
        .count();
    let not_run_by_b: Vec<_> = left
        .iter()
        .filter(|id| effects.last_run_by.get(id).map(String::as_str) != Some("replica-b"))
        .collect();
    let pending_a_after = pending_of(&mut redis, &inbox, "replica-a").await.len();
    let backlog = inbox.backlog().await.expect("Redis answers");
    verdict.print(
        "replicas",
        seed,
        1,
        operators.chats().len(),
        &format!(
            "; A killed after reply {kill_after} holding {} entries read, not acknowledged: B \
             took them, applied {applied_by_b} (A never had) and re-ran the others (A had \
             applied them, not confirmed); {} of A's entries still pending after, backlog \
             {backlog}; {:.1} s",
            left.len(),
            pending_a_after,
            started.elapsed().as_secs_f64()
        ),
    );
    clean(&parent, &a_plan.redis.key_prefix).await;
    portal.shutdown().await;
    verdict.assert_nothing_lost(seed);
    assert!(!left.is_empty(), "A died holding entries");
    let unhandled: Vec<_> = left.difference(&applied).collect();
    assert!(
        unhandled.is_empty(),
        "A's entries never handled: {unhandled:?}"
    );
    assert!(
        not_run_by_b.is_empty(),
        "entries A held that B never ran: {not_run_by_b:?}"
    );
    assert_eq!(pending_a_after, 0, "B took every entry A held");
    assert_eq!(backlog, 0, "every entry acknowledged");
}
