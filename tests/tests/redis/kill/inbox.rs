//! Issue 21, online: the connector (a child process receiving through the Redis inbox, as the
//! README configures it) is SIGKILLed 5 times at random moments (seeded) and started again on
//! the same port while operators send 1,000 replies across 50 chats. Every reply the portal
//! got a 200 for reached the handler at least once, its keyed effect exists exactly once, in
//! the portal's order per chat, and its delivery is confirmed in the portal. Replies POSTed
//! while the child was down are refused and lost at the portal (it never resends): they are
//! counted apart, since no online receiver can keep what it never got.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use imconnector_tests::kill::Scenario;
use imconnector_tests::kill_inbound::{EffectKeys, Effects};
use rand::{rngs::StdRng, Rng, SeedableRng};
use tokio::sync::watch;

use super::child::{installed_portal, kill_points, receiver, ChildConnector};
use super::operators::{
    Intake, Operators, CHATS, HANDLER_DELAY, KILLS, MOST_KILL_DELAY_MS, PACE, PORTAL_LATENCY,
    REPLIES,
};
use super::seed;
use super::verdict::{wait_until_settled, Verdict};
use crate::support::{clean, redis_url};

/// `memory` runs the control: the receiver without the Redis inbox (the test then fails,
/// after waiting for what never comes, and prints what was lost).
const INBOX_VAR: &str = "IMCONNECTOR_KILL_INBOX";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_replies_survive_five_kills_of_the_connector_with_the_redis_inbox() {
    let Some(url) = redis_url() else { return };
    let seed = seed();
    println!("kill test seed: {seed} (replay with IMCONNECTOR_KILL_SEED={seed})");
    let mut rng = StdRng::seed_from_u64(seed);
    // One replica: its restarts read the entries it had read (same consumer name).
    let inbound = receiver(
        "kill-connector",
        true,
        Duration::from_secs(60),
        HANDLER_DELAY,
    );
    let (portal, parent, mut plan) =
        installed_portal(&url, "kill-inbox", seed, PORTAL_LATENCY, inbound).await;
    if std::env::var(INBOX_VAR).is_ok_and(|inbox| inbox == "memory") {
        println!("{INBOX_VAR}=memory: the receiver's in-memory default, which a kill empties");
        plan.scenario = Scenario::InboxInMemory;
    }
    let started = Instant::now();
    let mut child = ChildConnector::start(&plan).await;
    let operators = Operators::open_chats(&portal, CHATS).await;
    let kill_at = kill_points(&mut rng, KILLS, REPLIES);
    let (progress, mut replied) = watch::channel(0);
    let driver = tokio::spawn(operators.clone().reply(REPLIES, PACE, progress));
    for &point in &kill_at {
        replied
            .wait_for(|replied| *replied >= point)
            .await
            .expect("the operators reply");
        let delay = rng.random_range(0..=MOST_KILL_DELAY_MS);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        child.kill().await;
        // The next life meets an expired access token: it refreshes through the token
        // store, as every restart of a long-lived connector does.
        portal.expire_tokens();
        child = ChildConnector::start(&plan).await;
    }
    let sent = driver.await.expect("the operators finish");
    let intake = Intake::of(&portal);
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
    child.stop().await;
    let effects = Effects::read(&mut redis, &keys, operators.chats().iter().cloned())
        .await
        .expect("Redis answers");
    let verdict = Verdict::judge(&portal, &sent, &intake, &effects);
    verdict.print(
        if plan.scenario == Scenario::InboxRedis {
            "inbox"
        } else {
            "inbox-in-memory"
        },
        seed,
        KILLS,
        operators.chats().len(),
        &format!(
            "; kills after replies {kill_at:?}; {:.1} s",
            started.elapsed().as_secs_f64()
        ),
    );
    clean(&parent, &plan.redis.key_prefix).await;
    portal.shutdown().await;
    verdict.assert_nothing_lost(seed);
    verdict.assert_in_order(seed);
    assert_eq!(verdict.sent as u64, REPLIES);
}
