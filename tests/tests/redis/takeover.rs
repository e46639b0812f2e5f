//! A refresh-lock holder that dies mid-refresh, before it saves: another process completes the
//! refresh once the lease lapses, and nobody meets `invalid_grant`.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use imconnector_emulator::Emulator;
use imconnector_redis::RedisBackend;
use imconnector_transport::RateLimit;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::net::TcpListener;

use crate::support::{
    backend, barrier, clean, concurrent_status_calls, portal_tokens, redis_url, release_barrier,
    replica_plan, replica_report, report, spawn_replica, unique_prefix, PortalAccess, PATIENCE,
};

const TEST: &str = "takeover::a_killed_holder_process_is_taken_over_after_its_lease";
const SURVIVORS: usize = 3;
const CALLS_PER_SURVIVOR: usize = 50;
const LEASE: Duration = Duration::from_secs(1);

/// An "OAuth server" that accepts connections and never answers: a refresh sent there stays
/// in flight, and nothing reaches the real OAuth server (so the refresh token is not spent).
struct BlackHole {
    url: String,
    accepted: Arc<AtomicUsize>,
}

async fn black_hole() -> BlackHole {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!(
        "http://{}/oauth/token/",
        listener.local_addr().expect("address")
    );
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            held.push(stream);
        }
    });
    BlackHole { url, accepted }
}

/// Waits until a refresh is stuck in the black hole with the lock held.
async fn wait_for_stuck_holder(backend: &RedisBackend, member_id: &str, hole: &BlackHole) {
    let lock = backend.refresh_lock(member_id).expect("valid member_id");
    let started = Instant::now();
    while !(lock.is_held().await.expect("Redis answers")
        && hole.accepted.load(Ordering::SeqCst) > 0)
    {
        assert!(
            started.elapsed() < PATIENCE,
            "the holder never took the lock"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A portal whose only pair is stored in Redis (version 1) and expired at the portal.
async fn expired_portal(url: &str, test: &str) -> (Emulator, RedisBackend, PortalAccess) {
    let portal = Emulator::start().await.expect("emulator starts");
    let prefix = unique_prefix(test);
    let parent = backend(url, &prefix, LEASE).await;
    let access = PortalAccess::of(&portal, url, &prefix, LEASE);
    let stored = parent
        .token_store(&access.member_id)
        .expect("valid member_id")
        .replace(&portal_tokens(&portal))
        .await
        .expect("stored");
    assert_eq!(stored, 1);
    portal.expire_tokens();
    (portal, parent, access)
}

async fn assert_one_refresh_by_the_second_holder(
    portal: &Emulator,
    parent: &RedisBackend,
    member_id: &str,
) {
    let counters = portal.counters();
    assert_eq!(
        counters.refreshes, 1,
        "one refresh reached the OAuth server"
    );
    assert_eq!(counters.refresh_rejections, 0, "no invalid_grant");
    let stored = parent
        .token_store(member_id)
        .expect("valid member_id")
        .load_versioned()
        .await
        .expect("Redis answers")
        .expect("a pair");
    // Version 1 was the installation, fence 2 the dead holder's (it never stored), fence 3 the
    // process that took over after the lease.
    assert_eq!(stored.version, 3);
}

#[derive(Serialize, Deserialize)]
struct Plan {
    access: PortalAccess,
    holder: bool,
}

#[derive(Debug, Serialize, Deserialize)]
struct Report {
    succeeded: usize,
    errors: Vec<String>,
}

async fn replica(plan: Plan) {
    let backend = plan.access.backend().await;
    let client = plan.access.client(&backend, RateLimit::Off).await;
    if plan.holder {
        // Refreshes into the black hole and hangs there until the parent kills the process.
        let outcome = client
            .call_raw(
                "imconnector.status",
                json!({"CONNECTOR": "acme_chat", "LINE": 1}),
            )
            .await;
        panic!("the holder was meant to hang, got {outcome:?}");
    }
    barrier(&backend, &plan.access.prefix).await;
    let (succeeded, errors) = concurrent_status_calls(&client, CALLS_PER_SURVIVOR).await;
    report(&Report { succeeded, errors });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_holder_process_is_taken_over_after_its_lease() {
    if let Some(plan) = replica_plan::<Plan>() {
        return replica(plan).await;
    }
    let Some(url) = redis_url() else { return };
    let (portal, parent, access) = expired_portal(&url, "takeover").await;
    let hole = black_hole().await;
    let mut holder_access = access.clone();
    holder_access.oauth_url = hole.url.clone();
    let mut holder = spawn_replica(
        TEST,
        &Plan {
            access: holder_access,
            holder: true,
        },
    );
    wait_for_stuck_holder(&parent, &access.member_id, &hole).await;

    let survivors: Vec<_> = (0..SURVIVORS)
        .map(|_| {
            spawn_replica(
                TEST,
                &Plan {
                    access: access.clone(),
                    holder: false,
                },
            )
        })
        .collect();
    release_barrier(
        &parent,
        &access.prefix,
        i64::try_from(SURVIVORS).expect("small"),
    )
    .await;
    // SIGKILL: the holder dies before it saves, without releasing the lock.
    holder.start_kill().expect("kill the holder");
    let status = holder.wait().await.expect("the holder exits");
    assert!(!status.success(), "the holder was killed ({status})");

    let mut reports: Vec<Report> = Vec::new();
    for survivor in survivors {
        reports.push(replica_report(survivor).await);
    }
    println!(
        "FIGURE killed lock holder: {} refresh grant(s), {} refused grant(s) (invalid_grant), {} of {} calls succeeded",
        portal.counters().refreshes,
        portal.counters().refresh_rejections,
        reports.iter().map(|report| report.succeeded).sum::<usize>(),
        SURVIVORS * CALLS_PER_SURVIVOR,
    );
    for report in &reports {
        assert_eq!(report.errors, Vec::<String>::new());
        assert_eq!(report.succeeded, CALLS_PER_SURVIVOR);
    }
    assert_eq!(
        hole.accepted.load(Ordering::SeqCst),
        1,
        "the holder really was mid-refresh"
    );
    assert_one_refresh_by_the_second_holder(&portal, &parent, &access.member_id).await;
    clean(&parent, &access.prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_task_dropped_before_it_saves_is_taken_over_after_its_lease() {
    let Some(url) = redis_url() else { return };
    let (portal, parent, access) = expired_portal(&url, "dropped").await;
    let hole = black_hole().await;
    let mut doomed_access = access.clone();
    doomed_access.oauth_url = hole.url.clone();
    // The doomed client lives on a runtime of its own: the refresh outlives the call that
    // started it (a task of its own), so only stopping the runtime drops every task of the
    // holder, its lease renewal included. Aborting the call alone left the refresh renewing
    // the lease until its request to the black hole timed out, about a minute later.
    let doomed_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("the doomed client's runtime");
    // Two fully independent clients, each with its own Redis connection: they share only Redis.
    let task = doomed_runtime.spawn(async move {
        let doomed_backend = doomed_access.backend().await;
        let doomed = doomed_access.client(&doomed_backend, RateLimit::Off).await;
        doomed
            .call_raw(
                "imconnector.status",
                json!({"CONNECTOR": "acme_chat", "LINE": 1}),
            )
            .await
    });
    wait_for_stuck_holder(&parent, &access.member_id, &hole).await;
    doomed_runtime.shutdown_background();
    assert!(task.await.expect_err("dropped").is_cancelled());
    let dropped_at = Instant::now();

    let survivor_backend = access.backend().await;
    let survivor = access.client(&survivor_backend, RateLimit::Off).await;
    let calls: Vec<_> = (0..10)
        .map(|line| {
            let client = survivor.clone();
            tokio::spawn(async move {
                client
                    .call_raw(
                        "imconnector.status",
                        json!({"CONNECTOR": "acme_chat", "LINE": line + 1}),
                    )
                    .await
            })
        })
        .collect();
    for call in calls {
        call.await
            .expect("the call task")
            .expect("the call succeeds after the lease");
    }
    // Far more than the lease on a loaded machine, far less than the dead holder's request
    // timeout (55 s), after which a holder still running would have released the lock itself.
    let taken_over_in = dropped_at.elapsed();
    assert!(
        taken_over_in < Duration::from_secs(30),
        "taken over after the {LEASE:?} lease, not after the holder gave up: {taken_over_in:?}"
    );
    assert_one_refresh_by_the_second_holder(&portal, &parent, &access.member_id).await;
    clean(&parent, &access.prefix).await;
}
