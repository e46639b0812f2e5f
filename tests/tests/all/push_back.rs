//! Issue 11: the portal pushes back. The emulated portal, with its leaky bucket, refuses 20% of
//! requests with `QUERY_LIMIT_EXCEEDED` for ten seconds while several callers of one client
//! ask `imconnector.status` without pause. No refusal may reach a caller (each is retried
//! within the retry budget), the client's request rate must drop while the portal pushes back,
//! and it must come back afterwards.
//!
//! Rates are counted by the portal (requests it received per second, refused ones included)
//! with generous margins: on a loaded 2-core machine the absolute numbers vary, their order
//! does not. The figure line: `cargo test -p imconnector-tests --test all push_back -- --nocapture`.

#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use imconnector::emulator::{client_builder, Emulator, EmulatorHandle, Faults};
use imconnector::ids::{ConnectorId, LineId};
use imconnector::methods::GetConnectorStatus;
use imconnector::{RateLimit, RetryPolicy};
use imconnector_emulator::RateLimit as PortalRateLimit;

/// The portal's bucket, and the client's pacing at the same numbers.
const PER_SECOND: u32 = 20;
const BURST: u32 = 10;
const CALLERS: usize = 6;
/// The share of requests the portal refuses while it pushes back, and for how long (real time:
/// the client's pacing reads the system clock and the portal is a real socket, so a paused
/// clock would jump while requests are in flight).
const REFUSED_SHARE: f64 = 0.2;
const PUSH_BACK: Duration = Duration::from_secs(10);
/// How long each rate is measured.
const MEASURE: Duration = Duration::from_secs(3);
/// After the push-back ends: the client's slow-down fades before the rate is measured again.
const SETTLE: Duration = Duration::from_secs(5);

/// Requests the portal received so far: those it served or its bucket refused, and those
/// the fault refused.
fn received(portal: &EmulatorHandle) -> u64 {
    let counters = portal.counters();
    counters
        .requests
        .get("imconnector.status")
        .copied()
        .unwrap_or(0)
        + counters.faults.query_limit_exceeded
}

/// Requests per second received between two counts taken `elapsed` apart.
fn rate(from: u64, to: u64, elapsed: Duration) -> f64 {
    // Request counts of a few seconds are far below f64's exact range.
    #[allow(clippy::cast_precision_loss)]
    let count = (to - from) as f64;
    count / elapsed.as_secs_f64()
}

/// Measures the rate over [`MEASURE`].
async fn measure(portal: &EmulatorHandle) -> f64 {
    let (start, at) = (received(portal), Instant::now());
    tokio::time::sleep(MEASURE).await;
    rate(start, received(portal), at.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_limit_exceeded_slows_the_client_no_caller_sees_it_and_the_rate_recovers() {
    let _machine = crate::alone().await;
    let portal = Emulator::builder()
        .rate_limit(PortalRateLimit::custom(f64::from(PER_SECOND), BURST))
        .start()
        .await
        .unwrap();
    let handle = portal.handle();
    let client = client_builder(&handle)
        .rate_limit(RateLimit::Custom {
            per_second: PER_SECOND,
            burst: BURST,
        })
        // Ten attempts: a call refused ten times in a row at a 20% share happens once in ten
        // million calls, so a caller that sees an error means the client gave up too early.
        .retry_policy(RetryPolicy::default().with_max_attempts(10))
        .build()
        .unwrap();
    let connector = ConnectorId::new("push_back").unwrap();
    let line = LineId::new(handle.lines()[0].id).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let callers: Vec<_> = (0..CALLERS)
        .map(|_| {
            let (client, stop, errors) = (client.clone(), stop.clone(), errors.clone());
            let status = GetConnectorStatus::new(connector.clone(), line);
            tokio::spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    if let Err(error) = client.call(&status).await {
                        eprintln!("an error reached a caller: {error}");
                        errors.fetch_add(1, Ordering::SeqCst);
                        // An error returned at once must not spin the caller.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            })
        })
        .collect();

    // The client's initial burst passes first: then the rate is the pacing's.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = measure(&handle).await;

    handle
        .set_faults(Some(Faults::new(11).query_limit_share(REFUSED_SHARE)))
        .unwrap();
    let (start, at) = (received(&handle), Instant::now());
    tokio::time::sleep(PUSH_BACK).await;
    handle.set_faults(None).unwrap();
    let during = rate(start, received(&handle), at.elapsed());
    let refused = handle.counters().faults.query_limit_exceeded;

    tokio::time::sleep(SETTLE).await;
    let after = measure(&handle).await;

    stop.store(true, Ordering::SeqCst);
    for caller in callers {
        caller.await.unwrap();
    }
    println!("FIGURE qle: before {before:.1}/s, during {during:.1}/s, after {after:.1}/s ({refused} refused by the fault)");

    assert_eq!(
        errors.load(Ordering::SeqCst),
        0,
        "no refusal reached a caller"
    );
    assert!(refused > 0, "the portal pushed back");
    assert!(
        during < before * 0.8,
        "the client slows down while the portal pushes back: {before:.1}/s, then {during:.1}/s"
    );
    assert!(
        after > during && after >= before * 0.7,
        "the rate recovers: {before:.1}/s before, {during:.1}/s during, {after:.1}/s after"
    );
    portal.shutdown().await;
}
