//! The plan reaching the shared bucket: two replicas whose portal store is
//! `RedisPortals::portals_by_plan` (no rate limit configured anywhere) learn an Enterprise
//! portal's plan from `app.info` and together pace at its bucket (250 + 5/s, margins applied)
//! through Redis: more calls at once than the standard bucket holds, no
//! `QUERY_LIMIT_EXCEEDED`.

use imconnector_transport::MemberId;
use std::sync::Arc;
use std::time::Duration;

use imconnector::emulator::{Emulator, EmulatorRateLimit};
use imconnector::portals::{PortalRecord, PortalRegistry};
use imconnector::prelude::*;
use imconnector::ExposeSecret;
use imconnector_redis::RedisPortals;
use serde_json::json;

use crate::support::{backend, clean, fast_retries, portal_tokens, redis_url, unique_prefix};

/// Calls each replica sends at once: together more than the standard burst (50), within the
/// Enterprise one's share (200), plus a few the bucket must pace.
const CALLS_PER_REPLICA: usize = 110;

fn registry(store: RedisPortals) -> Arc<PortalRegistry<RedisPortals>> {
    // No rate_limit: the portal's plan decides.
    let template = Client::builder().retry_policy(fast_retries());
    Arc::new(
        PortalRegistry::new(OAuthApp::new("app.unused", "unused"), store).client_template(template),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enterprise_portal_is_paced_at_its_bucket_across_replicas_without_configuration() {
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix("plan");
    let portal = Emulator::builder()
        .rate_limit(EmulatorRateLimit::Enterprise)
        .start()
        .await
        .expect("emulator");
    let app = portal.app();
    let lease = Duration::from_secs(5);
    let backend_one = backend(&url, &prefix, lease).await;
    let replicas = [
        registry(backend_one.portals_by_plan()),
        registry(backend(&url, &prefix, lease).await.portals_by_plan()),
    ];
    let record = PortalRecord::new(
        &app.member_id,
        app.application_token.expose_secret(),
        portal_tokens(&portal),
    )
    .with_app(OAuthApp::new(
        app.client_id.clone(),
        app.client_secret.expose_secret(),
    ))
    .with_oauth_server(portal.oauth_url());
    replicas[0].install(record).await.expect("installed");

    // The bucket's highest level while the calls run: the standard bucket never holds more
    // than 50, the Enterprise one up to 250. Sampled rather than read once at the end, since on
    // a loaded machine the bucket drains between the last call and a single read.
    let bucket_key = format!("{prefix}:{{{}}}:bucket", app.member_id);
    let (stop_sampling, mut stopped) = tokio::sync::watch::channel(false);
    let sampler = {
        let mut connection = backend_one.connection();
        let key = bucket_key.clone();
        tokio::spawn(async move {
            let mut highest = 0.0_f64;
            loop {
                let level: Option<f64> = redis::cmd("HGET")
                    .arg(&key)
                    .arg("level")
                    .query_async(&mut connection)
                    .await
                    .unwrap_or(None);
                highest = highest.max(level.unwrap_or(0.0));
                tokio::select! {
                    _ = stopped.changed() => return highest,
                    () = tokio::time::sleep(Duration::from_millis(10)) => {}
                }
            }
        })
    };
    let mut calls = tokio::task::JoinSet::new();
    let mut clients = Vec::new();
    for replica in &replicas {
        let client = replica
            .client_for(&MemberId::from(&app.member_id))
            .await
            .expect("client");
        assert_eq!(
            client.rate_limit(),
            RateLimit::Standard,
            "nothing known yet"
        );
        for _ in 0..CALLS_PER_REPLICA {
            let client = client.clone();
            calls.spawn(async move { client.call_raw("user.admin", json!({})).await });
        }
        clients.push(client);
    }
    while let Some(answer) = calls.join_next().await {
        answer.expect("the task ran").expect("the call succeeded");
    }

    let counters = portal.counters();
    assert_eq!(counters.query_limit_rejections, 0, "{counters:?}");
    assert_eq!(
        counters.requests.get("user.admin").copied(),
        Some((CALLS_PER_REPLICA * replicas.len()) as u64)
    );
    assert_eq!(
        counters.requests.get("app.info").copied(),
        Some(replicas.len() as u64),
        "each replica asks the plan once"
    );
    for client in &clients {
        assert_eq!(client.rate_limit(), RateLimit::Enterprise);
    }
    stop_sampling.send(true).expect("the sampler runs");
    let level = sampler.await.expect("the sampler ran");
    eprintln!(
        "FIGURE plan: {} calls from 2 replicas, QUERY_LIMIT_EXCEEDED {}, shared bucket's highest level {level:.0} (standard holds 50)",
        CALLS_PER_REPLICA * replicas.len(),
        counters.query_limit_rejections
    );
    // More than the standard bucket ever holds: the Enterprise numbers paced.
    assert!(level > 60.0, "highest level {level}");
    clean(&backend_one, &prefix).await;
}
