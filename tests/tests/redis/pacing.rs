//! Four replica processes send 2,000 messages together through one shared bucket: the portal
//! never answers `QUERY_LIMIT_EXCEEDED`, and together they use at least 95% of its allowance.
//! And a `QUERY_LIMIT_EXCEEDED` one replica meets holds back every replica.
//!
//! The portal is the emulator with the standard bucket (2 requests a second, burst 50) on a
//! clock running `IMCONNECTOR_PACING_TIME_SCALE` times faster than real time (default 25), so the
//! test takes seconds instead of 16 minutes; the replicas' bucket is the same one, sped up alike.

use std::time::Duration;

use futures::StreamExt;
use imconnector::prelude::{
    provision, ConnectorId, ConnectorSetup, EventsUrl, Icon, LineId, MessageBody, MessageChat,
    MessageIn, MessageUser, SendMessages, SettingsUrl,
};
use imconnector_emulator::{Direction, Emulator};
use imconnector_redis::RedisBackend;
use imconnector_transport::{RateLimit, RequestLimiter};
use serde::{Deserialize, Serialize};

use crate::support::{
    backend, barrier, clean, portal_tokens, redis_url, release_barrier, replica_plan,
    replica_report, report, spawn_replica, unique_prefix, unix_now, PortalAccess, PATIENCE,
};

const TEST: &str = "pacing::four_replicas_share_the_portal_bucket_without_query_limit_exceeded";
const REPLICAS: usize = 4;
const MESSAGES_PER_REPLICA: usize = 500;
/// Requests one replica keeps in flight.
const CONCURRENCY: usize = 25;
/// The standard bucket (reference §1.7).
const PORTAL_RATE: f64 = 2.0;
const PORTAL_BURST: f64 = 50.0;

fn time_scale() -> u32 {
    std::env::var("IMCONNECTOR_PACING_TIME_SCALE")
        .ok()
        .and_then(|scale| scale.parse().ok())
        .filter(|scale| *scale > 0)
        .unwrap_or(25)
}

/// The standard bucket on the sped-up clock, as the replicas' limiter sees it.
fn scaled_standard(scale: u32) -> RateLimit {
    RateLimit::Custom {
        per_second: 2 * scale,
        burst: 50,
    }
}

fn connector() -> ConnectorId {
    ConnectorId::new("acme_chat").expect("valid id")
}

fn line() -> LineId {
    LineId::new(1).expect("positive")
}

#[derive(Serialize, Deserialize)]
struct Plan {
    access: PortalAccess,
    replica: usize,
    scale: u32,
}

#[derive(Debug, Serialize, Deserialize)]
struct Report {
    succeeded: usize,
    errors: Vec<String>,
    first_sent_at: f64,
    last_answered_at: f64,
}

async fn replica(plan: Plan) {
    let backend = plan.access.backend().await;
    let client = plan
        .access
        .client(&backend, scaled_standard(plan.scale))
        .await;
    barrier(&backend, &plan.access.prefix).await;
    let first_sent_at = unix_now();
    let outcomes: Vec<_> = futures::stream::iter(0..MESSAGES_PER_REPLICA)
        .map(|number| {
            let client = client.clone();
            let replica = plan.replica;
            async move {
                let message = MessageIn::new(
                    MessageUser::new(format!("customer-{replica}")).with_name("Ivan"),
                    MessageBody::new()
                        .with_id(format!("msg-{replica}-{number}"))
                        .with_text(format!("message {number} from replica {replica}")),
                    MessageChat::new(format!("chat-{replica}")),
                );
                client
                    .call(&SendMessages::new(connector(), line(), [message]))
                    .await
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let last_answered_at = unix_now();
    let (mut succeeded, mut errors) = (0, Vec::new());
    for outcome in outcomes {
        match outcome {
            Ok(answer) if answer.success => succeeded += 1,
            Ok(_) => errors.push("SUCCESS false".to_owned()),
            Err(error) => errors.push(error.to_string()),
        }
    }
    report(&Report {
        succeeded,
        errors,
        first_sent_at,
        last_answered_at,
    });
}

/// Accepts the events provisioning binds (the portal POSTs a few), on loopback.
async fn event_sink() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let router = axum::Router::new().fallback(|| async { "OK" });
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{address}/events")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_replicas_share_the_portal_bucket_without_query_limit_exceeded() {
    if let Some(plan) = replica_plan::<Plan>() {
        return replica(plan).await;
    }
    let Some(url) = redis_url() else { return };
    let scale = time_scale();
    let portal = Emulator::builder()
        .rate_limit(imconnector_emulator::RateLimit::Standard)
        .time_scale(f64::from(scale))
        .token_ttl(Duration::from_secs(365 * 24 * 3600))
        .start()
        .await
        .expect("emulator starts");
    let prefix = unique_prefix("pacing");
    let lease = Duration::from_secs(5);
    let parent = backend(&url, &prefix, lease).await;
    let access = PortalAccess::of(&portal, &url, &prefix, lease);
    parent
        .token_store(&access.member_id)
        .expect("valid member_id")
        .replace(&portal_tokens(&portal))
        .await
        .expect("stored");
    // Set-up goes through the shared bucket too: its requests count at the portal.
    let setup_client = access.client(&parent, scaled_standard(scale)).await;
    let setup = ConnectorSetup::new(
        connector(),
        "Acme Chat",
        Icon::new("data:image/svg+xml,%3Csvg%20xmlns%3D%22http://www.w3.org/2000/svg%22/%3E"),
        SettingsUrl::parse("https://connector.example.com/settings").expect("valid URL"),
        EventsUrl::parse(&event_sink().await).expect("valid URL"),
    );
    provision(&setup_client, &setup, line())
        .await
        .expect("provisioned");

    let children: Vec<_> = (0..REPLICAS)
        .map(|replica| {
            spawn_replica(
                TEST,
                &Plan {
                    access: access.clone(),
                    replica,
                    scale,
                },
            )
        })
        .collect();
    release_barrier(&parent, &prefix, i64::try_from(REPLICAS).expect("small")).await;
    let mut reports: Vec<Report> = Vec::new();
    for child in children {
        reports.push(replica_report(child).await);
    }

    let counters = portal.counters();
    let sent = REPLICAS * MESSAGES_PER_REPLICA;
    let started = reports
        .iter()
        .map(|report| report.first_sent_at)
        .fold(f64::MAX, f64::min);
    let finished = reports
        .iter()
        .map(|report| report.last_answered_at)
        .fold(0.0, f64::max);
    let emulated_seconds = (finished - started) * f64::from(scale);
    // What an empty bucket lets through in that time: the burst, plus the drain.
    let allowance = PORTAL_BURST + PORTAL_RATE * emulated_seconds;
    #[allow(clippy::cast_precision_loss)]
    let share = sent as f64 / allowance;
    #[allow(clippy::cast_precision_loss)]
    let steady_rate = (sent as f64 - PORTAL_BURST) / emulated_seconds;
    println!(
        "FIGURE {REPLICAS} replicas x {MESSAGES_PER_REPLICA} messages, standard bucket (2/s, burst 50) at time scale {scale}: \
         {} QUERY_LIMIT_EXCEEDED, {:.1} real s = {emulated_seconds:.0} emulated s, {:.1}% of the allowance, \
         {steady_rate:.3} req/s emulated after the burst ({:.1} req/s real)",
        counters.query_limit_rejections,
        finished - started,
        share * 100.0,
        steady_rate * f64::from(scale),
    );
    for report in &reports {
        assert_eq!(report.errors, Vec::<String>::new());
        assert_eq!(report.succeeded, MESSAGES_PER_REPLICA);
    }
    assert_eq!(
        counters.query_limit_rejections, 0,
        "the portal never refused"
    );
    assert_eq!(
        counters.requests.get("imconnector.send.messages").copied(),
        Some(u64::try_from(sent).expect("small")),
        "one request per message, none retried"
    );
    let incoming = portal
        .all_messages()
        .into_iter()
        .filter(|message| message.direction == Direction::Incoming)
        .count();
    assert_eq!(incoming, sent);
    // A leaky bucket lets a replica that stalled catch up within the burst, so load on the test
    // machine does not pull the long-run share down; the upper bound is the portal's own.
    assert!(share <= 1.0, "above the allowance: {share}");
    assert!(share >= 0.95, "under 95% of the allowance: {share}");
    clean(&parent, &prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_back_from_one_replica_holds_back_every_replica() {
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix("push-back");
    // Two replicas, each with its own connection, pacing one portal's bucket.
    let lease = Duration::from_secs(5);
    let (first, second) = (
        backend(&url, &prefix, lease).await,
        backend(&url, &prefix, lease).await,
    );
    let bucket_of = |backend: &RedisBackend| {
        backend
            .shared_bucket("push-back-portal", RateLimit::Standard)
            .expect("valid member_id")
            .expect("the standard bucket paces")
    };
    let (refused, other) = (bucket_of(&first), bucket_of(&second));
    assert_eq!(
        other.try_acquire().await.expect("Redis answers"),
        None,
        "an empty bucket admits"
    );

    // The portal refused one of the first replica's requests; its retry waits 5 s.
    refused.push_back(Duration::from_secs(5));

    // Shared in the background: look until it has landed.
    let wait = tokio::time::timeout(PATIENCE, async {
        loop {
            if let Some(wait) = other.try_acquire().await.expect("Redis answers") {
                return wait;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the push-back reaches the other replica");
    // The whole pause, not only the half second a full standard bucket takes to drain one
    // request (generous, for a loaded machine).
    assert!(
        wait > Duration::from_secs(3),
        "the other replica waits only {wait:?}"
    );
    clean(&first, &prefix).await;
}
