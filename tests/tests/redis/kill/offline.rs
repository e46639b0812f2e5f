//! Issue 21, offline: the connector (a child process with no event URL, reading the portal's
//! offline event queue with an `OfflinePoller` whose `process_id` is kept in Redis) is
//! SIGKILLed 5 times at random moments (seeded) and started again while operators send 1,000
//! replies across 50 chats. The portal keeps every reply in its queue until the connector
//! clears it, so every one counts: each reached the handler at least once, its keyed effect
//! exists exactly once, in the portal's order per chat, it is confirmed delivered in the
//! portal, and the queue is empty at the end. The handler's re-runs (rows a killed life had
//! handled but not cleared) are counted and printed.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use imconnector_emulator::Emulator;
use imconnector_tests::kill::{Scenario, LINE};
use imconnector_tests::kill_inbound::{EffectKeys, Effects};
use rand::{rngs::StdRng, Rng, SeedableRng};
use tokio::sync::watch;

use super::child::{installed_portal, kill_points, receiver, ChildConnector};
use super::operators::{
    Intake, Operators, SentReply, CHATS, HANDLER_DELAY, KILLS, MOST_KILL_DELAY_MS, PACE,
    PORTAL_LATENCY, REPLIES,
};
use super::seed;
use super::verdict::{wait_until_settled, Verdict};
use crate::support::{clean, redis_url, PATIENCE};

/// The operators reply `replies` times, the chats taking turns, one reply every `pace`; each
/// reply is a row of the portal's offline queue (no POST: nobody listens), which keeps each
/// chat's order. Publishes how many were sent on `progress`.
async fn reply_offline(
    portal: imconnector_emulator::EmulatorHandle,
    chats: Vec<String>,
    replies: u64,
    pace: Duration,
    progress: watch::Sender<u64>,
) -> Vec<SentReply> {
    let mut sent = Vec::new();
    let mut ticker = tokio::time::interval(pace);
    for index in 0..replies {
        let chat = &chats[(index % chats.len() as u64) as usize];
        ticker.tick().await;
        let reply = portal
            .operator_reply(LINE, chat, &format!("operator reply {index}"))
            .expect("the operator replies");
        sent.push(SentReply {
            chat: chat.clone(),
            message_id: reply.message_id,
        });
        progress.send_replace(index + 1);
    }
    sent
}

/// Waits until the portal's offline queue is empty (every row cleared), up to [`PATIENCE`].
async fn until_queue_empty(portal: &Emulator) -> usize {
    let started = tokio::time::Instant::now();
    while !portal.offline_events().is_empty() && started.elapsed() < PATIENCE {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    portal.offline_events().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_replies_survive_five_kills_of_the_connector_in_offline_mode() {
    let Some(url) = redis_url() else { return };
    let seed = seed();
    println!("kill test seed: {seed} (replay with IMCONNECTOR_KILL_SEED={seed})");
    let mut rng = StdRng::seed_from_u64(seed);
    let inbound = receiver(
        "kill-connector",
        false,
        Duration::from_secs(60),
        HANDLER_DELAY,
    );
    let (portal, parent, mut plan) =
        installed_portal(&url, "kill-offline", seed, PORTAL_LATENCY, inbound).await;
    plan.scenario = Scenario::OfflineRedis;
    let started = Instant::now();
    let mut child = ChildConnector::start(&plan).await;
    let operators = Operators::open_chats(&portal, CHATS).await;
    let kill_at = kill_points(&mut rng, KILLS, REPLIES);
    let (progress, mut replied) = watch::channel(0);
    let driver = tokio::spawn(reply_offline(
        portal.handle(),
        operators.chats().to_vec(),
        REPLIES,
        PACE,
        progress,
    ));
    for &point in &kill_at {
        replied
            .wait_for(|replied| *replied >= point)
            .await
            .expect("the operators reply");
        let delay = rng.random_range(0..=MOST_KILL_DELAY_MS);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        child.kill().await;
        // The next life meets an expired access token: it refreshes through the token store.
        portal.expire_tokens();
        child = ChildConnector::start(&plan).await;
    }
    let sent = driver.await.expect("the operators finish");
    // Nothing is refused in offline mode: the portal queued every reply for the connector.
    let intake = Intake {
        accepted: sent.iter().map(|reply| reply.message_id).collect(),
        refused: BTreeSet::new(),
    };
    let mut redis = parent.connection();
    let keys = EffectKeys::new(&plan.redis.key_prefix);
    wait_until_settled(
        &portal,
        &mut redis,
        &keys,
        &operators,
        &intake,
        &BTreeSet::new(),
    )
    .await;
    let left_in_queue = until_queue_empty(&portal).await;
    child.stop().await;
    let effects = Effects::read(&mut redis, &keys, operators.chats().iter().cloned())
        .await
        .expect("Redis answers");
    let verdict = Verdict::judge(&portal, &sent, &intake, &effects);
    verdict.print(
        "offline",
        seed,
        KILLS,
        operators.chats().len(),
        &format!(
            "; {left_in_queue} rows left in the offline queue; kills after replies {kill_at:?}; \
             {:.1} s",
            started.elapsed().as_secs_f64()
        ),
    );
    println!(
        "  note (offline): \"accepted\" here is every reply the portal queued offline (no POST \
         happens, none is refused); re-runs are rows a killed life had handled, not cleared"
    );
    clean(&parent, &plan.redis.key_prefix).await;
    portal.shutdown().await;
    assert_eq!(verdict.sent as u64, REPLIES);
    assert_eq!(verdict.accepted as u64, REPLIES, "every reply was queued");
    verdict.assert_nothing_lost(seed);
    verdict.assert_in_order(seed);
    assert_eq!(left_in_queue, 0, "every row cleared");
}
