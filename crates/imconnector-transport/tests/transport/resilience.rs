//! Issue 11: refreshes that outlive their callers, recovery after `invalid_grant`, one deadline
//! per call, `invalid_token`, and the portal's push-back slowing every caller down.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant, SystemTime},
};

use imconnector_transport::{
    Client, Error, ErrorCode, MemoryTokenStore, RateLimit, RetryPolicy, TokenStore, Tokens,
};
use rand::Rng;
use secrecy::ExposeSecret;
use serde_json::{json, Value};

use crate::{
    fast_retries, oauth_builder,
    support::{serve, OAuthPortal, Reply, SendMessages, Status},
};

fn status_ok(_: &str, body: &Value) -> Reply {
    Reply::ok(json!({"LINE": body["LINE"], "CONNECTOR": body["CONNECTOR"], "STATUS": true}))
}

fn expired() -> Tokens {
    Tokens::new("access-0", "refresh-0").with_expires_at(SystemTime::now() - Duration::from_secs(5))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_callers_cancelled_during_the_refresh_lose_no_pair() {
    let portal = OAuthPortal::start(status_ok).await;
    // The OAuth server answers slowly, so every caller is cancelled while the exchange runs.
    *portal.tokens.oauth_delay.lock().unwrap() = Duration::from_millis(300);
    let store = Arc::new(MemoryTokenStore::new());
    let client = oauth_builder(&portal)
        .oauth(crate::app(), expired())
        .token_store(store.clone())
        .build()
        .unwrap();

    let callers: Vec<_> = (0..100)
        .map(|line| {
            let client = client.clone();
            let patience = Duration::from_millis(rand::rng().random_range(0..250));
            tokio::spawn(async move {
                tokio::time::timeout(patience, client.call(&Status::new("acme_chat", line))).await
            })
        })
        .collect();
    for caller in callers {
        assert!(caller.await.unwrap().is_err(), "every caller gave up");
    }

    // The refresh went on without its callers: the next call succeeds with the rotated pair.
    let status = client.call(&Status::new("acme_chat", 7)).await.unwrap();
    assert_eq!(status.line, 7);
    assert_eq!(portal.server.count("token"), 1, "one exchange");
    let stored = store
        .load()
        .await
        .unwrap()
        .expect("the rotated pair is stored");
    assert_eq!(stored.refresh_token.expose_secret(), "refresh-1");
    assert_eq!(
        client.tokens().unwrap().access_token.expose_secret(),
        "access-1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_invalid_grant_a_pair_stored_by_another_replica_is_taken() {
    let portal = OAuthPortal::start(status_ok).await;
    // Replica A's refresh token is dead (the app was reinstalled elsewhere).
    *portal.tokens.valid_refresh.lock().unwrap() = "refresh-of-the-reinstall".into();
    let shared_store = Arc::new(MemoryTokenStore::new());
    let replica_a = oauth_builder(&portal)
        .token_store(shared_store.clone())
        .build()
        .unwrap();

    let refused = replica_a.call(&Status::new("acme_chat", 1)).await;
    assert!(
        matches!(refused, Err(Error::ReauthorizationNeeded { .. })),
        "{refused:?}"
    );
    // Asked again before anything changed: no second request to the OAuth server.
    let refused = replica_a.call(&Status::new("acme_chat", 1)).await;
    assert!(matches!(refused, Err(Error::ReauthorizationNeeded { .. })));
    assert_eq!(portal.server.count("token"), 1);

    // Replica B stores the reinstalled pair.
    *portal.tokens.valid_access.lock().unwrap() = Some("access-reinstalled".into());
    shared_store
        .save(&Tokens::new(
            "access-reinstalled",
            "refresh-of-the-reinstall",
        ))
        .await
        .unwrap();

    let status = replica_a.call(&Status::new("acme_chat", 2)).await.unwrap();
    assert_eq!(status.line, 2);
    assert_eq!(
        portal.server.count("token"),
        1,
        "recovered from the store alone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_call_deadline_covers_the_refresh() {
    let portal = OAuthPortal::start(status_ok).await;
    *portal.tokens.oauth_delay.lock().unwrap() = Duration::from_secs(30);
    let client = oauth_builder(&portal)
        .oauth(crate::app(), expired())
        .retry_policy(fast_retries().with_deadline(Duration::from_millis(300)))
        .build()
        .unwrap();
    let started = Instant::now();
    let result = client.call(&Status::new("acme_chat", 1)).await;
    assert!(matches!(result, Err(Error::Timeout { .. })), "{result:?}");
    // Ended by the 300 ms deadline, not by the 30 s exchange (a wide bound for a loaded machine).
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        portal.server.count("imconnector.status"),
        0,
        "nothing was sent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_cut_by_the_deadline_is_outcome_unknown_and_not_replayed() {
    let portal = OAuthPortal::start(|_, _| {
        Reply::ok(json!({"SUCCESS": true})).delayed(Duration::from_secs(30))
    })
    .await;
    *portal.tokens.valid_access.lock().unwrap() = Some("access-0".into());
    let client = oauth_builder(&portal)
        .retry_policy(fast_retries().with_deadline(Duration::from_millis(300)))
        .build()
        .unwrap();
    let started = Instant::now();
    let result = client
        .call_raw(
            "imconnector.send.messages",
            serde_json::to_value(SendMessages::one("hi")).unwrap(),
        )
        .await;
    assert!(
        matches!(result, Err(Error::OutcomeUnknown { .. })),
        "{result:?}"
    );
    // Cut by the 300 ms deadline, not by the 30 s answer.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(portal.server.count("imconnector.send.messages"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_token_is_refreshed_once_then_fails_clearly() {
    let revoked = Arc::new(AtomicBool::new(false));
    let flag = revoked.clone();
    let portal = OAuthPortal::start(move |_, body| {
        if flag.load(Ordering::SeqCst) {
            return Reply::error(
                401,
                "invalid_token",
                "The access token provided is invalid.",
            );
        }
        status_ok("", body)
    })
    .await;
    *portal.tokens.valid_access.lock().unwrap() = Some("access-0".into());
    let client = oauth_builder(&portal).build().unwrap();
    client.call(&Status::new("acme_chat", 1)).await.unwrap();

    revoked.store(true, Ordering::SeqCst);
    let result = client.call(&Status::new("acme_chat", 2)).await;
    match result {
        Err(Error::Api(api)) => assert_eq!(api.code, ErrorCode::InvalidToken),
        other => panic!("expected invalid_token, got {other:?}"),
    }
    assert_eq!(portal.server.count("token"), 1, "refreshed once");
    assert_eq!(
        portal.server.count("imconnector.status"),
        3,
        "replayed once"
    );
}

/// Requests per second among `at` (arrival times) within `[from, to)`.
fn rate(at: &[Instant], from: Instant, to: Instant) -> f64 {
    let count = at.iter().filter(|at| **at >= from && **at < to).count();
    count as f64 / (to - from).as_secs_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_limit_exceeded_slows_every_caller_then_the_rate_recovers() {
    let refusing = Arc::new(AtomicBool::new(false));
    let arrivals = Arc::new(std::sync::Mutex::new(Vec::<Instant>::new()));
    let seen = Arc::new(AtomicUsize::new(0));
    let (flag, log, counter) = (refusing.clone(), arrivals.clone(), seen.clone());
    let server = serve(move |incoming| {
        log.lock().unwrap().push(Instant::now());
        let n = counter.fetch_add(1, Ordering::SeqCst);
        // One request in five refused while the portal pushes back.
        if flag.load(Ordering::SeqCst) && n % 5 == 0 {
            return Reply::error(503, "QUERY_LIMIT_EXCEEDED", "Too many requests");
        }
        status_ok("", &incoming.json())
    })
    .await;
    let client = Client::builder()
        .webhook(server.url("/rest/1/secret-code/"))
        .rate_limit(RateLimit::Custom {
            per_second: 100,
            burst: 5,
        })
        .retry_policy(
            RetryPolicy::default()
                .with_max_attempts(20)
                .with_initial_backoff(Duration::from_millis(20))
                .with_max_backoff(Duration::from_millis(100))
                .with_max_elapsed(Duration::from_secs(30)),
        )
        .build()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let (client, stop, errors) = (client.clone(), stop.clone(), errors.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    if let Err(error) = client.call_raw("user.current", Value::Null).await {
                        eprintln!("an error reached the caller: {error}");
                        errors.fetch_add(1, Ordering::SeqCst);
                        // An error returned at once must not spin the worker.
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect();
    // Real time, not a paused clock: the pacing and its fading slow-down read the system clock,
    // and the portal is a real socket (a paused clock would jump while a request is in flight).
    let phase = Duration::from_millis(1500);
    let t0 = Instant::now();
    tokio::time::sleep(phase).await;
    refusing.store(true, Ordering::SeqCst);
    let t1 = Instant::now();
    tokio::time::sleep(phase).await;
    refusing.store(false, Ordering::SeqCst);
    let t2 = Instant::now();
    // The slow-down fades with a half-life of 2 s: measure after it has.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let t3 = Instant::now();
    tokio::time::sleep(phase).await;
    let t4 = Instant::now();
    stop.store(true, Ordering::SeqCst);
    for worker in workers {
        worker.await.unwrap();
    }
    let at = arrivals.lock().unwrap().clone();
    let (before, during, after) = (rate(&at, t0, t1), rate(&at, t1, t2), rate(&at, t3, t4));
    println!("FIGURE requests/s before, during and after 20% QUERY_LIMIT_EXCEEDED: {before:.0}, {during:.0}, {after:.0}");
    assert_eq!(
        errors.load(Ordering::SeqCst),
        0,
        "no refusal reached a caller"
    );
    assert!(
        during < after,
        "the rate drops while the portal pushes back and recovers after"
    );
}
