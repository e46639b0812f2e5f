//! Pacing under the portal's leaky bucket and the operating-time budget.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use imconnector_transport::{Client, ErrorCode, OAuthApp, RateLimit, RetryPolicy, Tokens};
use serde_json::json;

use crate::support::{serve, unix_now, Profile, Reply};

/// The portal's bucket: +1 per accepted request, drains `per_second`, refuses past `burst`.
struct LeakyBucket {
    level: f64,
    last: Instant,
    per_second: f64,
    burst: f64,
}

impl LeakyBucket {
    fn admit(&mut self) -> bool {
        let now = Instant::now();
        self.level =
            (self.level - now.duration_since(self.last).as_secs_f64() * self.per_second).max(0.0);
        self.last = now;
        if self.level + 1.0 > self.burst {
            return false;
        }
        self.level += 1.0;
        true
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_500_calls_never_shows_the_caller_query_limit_exceeded() {
    // The standard 2/s with a burst of 50, time-scaled 100x on the rate.
    let bucket = Arc::new(Mutex::new(LeakyBucket {
        level: 0.0,
        last: Instant::now(),
        per_second: 200.0,
        burst: 50.0,
    }));
    let rejected = Arc::new(AtomicUsize::new(0));
    let server = {
        let rejected = rejected.clone();
        serve(move |_| {
            if bucket.lock().unwrap().admit() {
                Reply::ok(json!({"ID": 1}))
            } else {
                rejected.fetch_add(1, Ordering::SeqCst);
                Reply::error(503, "QUERY_LIMIT_EXCEEDED", "Too many requests")
            }
        })
        .await
    };
    let client = Client::builder()
        .portal(server.rest_base())
        .oauth(
            OAuthApp::new("local.app", "secret"),
            Tokens::new("access", "refresh"),
        )
        .rate_limit(RateLimit::Custom {
            per_second: 200,
            burst: 50,
        })
        .retry_policy(
            RetryPolicy::default()
                .with_max_attempts(10)
                .with_initial_backoff(Duration::from_millis(20))
                .with_max_backoff(Duration::from_millis(200))
                .with_max_elapsed(Duration::from_secs(60)),
        )
        .build()
        .unwrap();

    let calls: Vec<_> = (0..500)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.call(&Profile).await })
        })
        .collect();
    let mut limit_errors_seen_by_caller = 0;
    let mut other_errors = Vec::new();
    for call in calls {
        match call.await.unwrap() {
            Ok(_) => {}
            Err(error) if error.code() == Some(&ErrorCode::QueryLimitExceeded) => {
                limit_errors_seen_by_caller += 1
            }
            Err(error) => other_errors.push(error),
        }
    }

    println!(
        "FIGURE burst of 500 calls against a 50-burst bucket: QUERY_LIMIT_EXCEEDED sent by the server: {}, seen by the caller: {}, requests received: {}",
        rejected.load(Ordering::SeqCst),
        limit_errors_seen_by_caller,
        server.count("profile")
    );
    assert_eq!(limit_errors_seen_by_caller, 0);
    assert!(other_errors.is_empty(), "{other_errors:?}");
    assert_eq!(
        server.count("profile"),
        500 + rejected.load(Ordering::SeqCst)
    );
}

#[tokio::test]
async fn an_almost_spent_operating_budget_waits_for_its_reset() {
    let reset_at = unix_now() + 2;
    let server = serve(move |_| {
        Reply::json(
            200,
            json!({"result": true, "time": {"operating": 475.5, "operating_reset_at": reset_at}}),
        )
    })
    .await;
    let client = Client::builder()
        .portal(server.rest_base())
        .oauth(
            OAuthApp::new("local.app", "secret"),
            Tokens::new("access", "refresh"),
        )
        .rate_limit(RateLimit::Off)
        .operating_time_limit(Some(Duration::from_secs(480)))
        .build()
        .unwrap();

    let first = client.call_with_meta(&Profile).await.unwrap();
    assert_eq!(first.time.unwrap().operating, Some(475.5));
    client.call(&Profile).await.unwrap();

    let seen = server.requests("profile");
    assert_eq!(seen.len(), 2);
    #[allow(clippy::cast_precision_loss)]
    let reset = reset_at as f64;
    assert!(
        seen[1].unix() >= reset - 0.05,
        "the second call was sent before the budget reset"
    );
}
