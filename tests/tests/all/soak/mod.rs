//! Soak with faults: many customer messages through the SDK (a `Sender` over a `Client`) while
//! the emulated portal answers 5% of requests with an HTML 500, resets 2% of connections (half
//! before processing, half after), holds 1% past the client's timeout, every access token
//! expires or is revoked (`invalid_token`) every few (emulated) seconds, and the emulator's OAuth
//! server (spared the faults above) resets every third refresh request before rotating and
//! delays every other one (0.2–1.2 s real time). With `IMCONNECTOR_REDIS_URL` set, the client keeps
//! its tokens, refresh lock and bucket in a redis-server of the test's own, which is stopped and
//! restarted mid-run.
//!
//! Afterwards every message must be in the portal exactly once when it was reported delivered,
//! never when reported failed or rejected, at most once when its outcome is unknown; nothing
//! may be stored that was not sent, and each expiry or revocation must cost exactly one
//! successful refresh.
//!
//! `IMCONNECTOR_SOAK_MESSAGES` sets the size (default 1,000 for CI; the full size is
//! `IMCONNECTOR_SOAK_MESSAGES=10000 cargo test -p imconnector-tests --test all soak -- --nocapture`).

#![allow(clippy::unwrap_used)]

mod redis;
mod tally;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use imconnector::emulator::{Emulator, EmulatorHandle, Faults, OAuthFaults};
use imconnector::ids::{ConnectorId, LineId, SettingsUrl};
use imconnector::methods::{ActivateConnector, GetConnectorStatus, RegisterConnector};
use imconnector::sender::Sender;
use imconnector::types::{Icon, MessageBody, MessageChat, MessageIn, MessageUser};
use imconnector::ExposeSecret;
use imconnector::{Client, OAuthApp, RetryPolicy, Tokens};

use tally::Tally;

const LINES: i64 = 3;
/// Emulated seconds per real second: tokens expire every 3 emulated seconds (300 ms), latency
/// spikes last 30 emulated seconds (3 s, past the client's 2 s timeout).
const TIME_SCALE: f64 = 10.0;
const EXPIRY_EVERY: Duration = Duration::from_millis(300);
/// Every second loss of the access token is a revocation (`invalid_token`), the others expiries.
const REVOKE_EVERY: u64 = 2;

fn size() -> u64 {
    std::env::var("IMCONNECTOR_SOAK_MESSAGES")
        .ok()
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(1_000)
}

fn connector() -> ConnectorId {
    ConnectorId::new("soak_connector").unwrap()
}

fn line(id: i64) -> LineId {
    LineId::new(id).unwrap()
}

fn message(index: u64) -> (LineId, MessageIn) {
    let chat = index % 200;
    let line_id = i64::try_from(chat).unwrap() % LINES + 1;
    let message = MessageIn::new(
        MessageUser::new(format!("soak-user-{chat}")),
        MessageBody::new()
            .with_id(format!("soak-{index}"))
            .with_text(format!("soak message {index}")),
        MessageChat::new(format!("soak-chat-{chat}")),
    );
    (line(line_id), message)
}

/// Takes the access token away now and then (an expiry, or every [`REVOKE_EVERY`]th time a
/// revocation), once the client got a new pair for the last time.
struct TokenLoss {
    expiries: AtomicU64,
    revocations: AtomicU64,
}

impl TokenLoss {
    fn total(&self) -> u64 {
        self.expiries.load(Ordering::SeqCst) + self.revocations.load(Ordering::SeqCst)
    }

    fn next(&self, portal: &EmulatorHandle) {
        if (self.total() + 1).is_multiple_of(REVOKE_EVERY) {
            portal.revoke_access_tokens();
            self.revocations.fetch_add(1, Ordering::SeqCst);
        } else {
            portal.expire_tokens();
            self.expiries.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// Calls until one succeeds: a call may fail while a refresh is reset or Redis is down.
async fn call_until_ok(client: &Client) {
    let mut last = None;
    for _ in 0..50 {
        match client
            .call(&GetConnectorStatus::new(connector(), line(1)))
            .await
        {
            Ok(_) => return,
            Err(error) => last = Some(error),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no call got through: {last:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_with_faults_loses_and_duplicates_nothing() {
    let _machine = crate::alone().await;
    let messages = size();
    let portal = Emulator::builder()
        .lines(usize::try_from(LINES).unwrap())
        .time_scale(TIME_SCALE)
        // Tokens expire when the test says so, not on their own.
        .token_ttl(Duration::from_secs(365 * 24 * 3600))
        .start()
        .await
        .unwrap();
    let handle = portal.handle();
    let app = portal.app();
    let first = portal.tokens();
    let tokens = Tokens::new(
        first.access_token.expose_secret(),
        first.refresh_token.expose_secret(),
    )
    .with_client_endpoint(portal.rest_url())
    .with_member_id(app.member_id.clone());
    let builder = Client::builder()
        .oauth(
            OAuthApp::new(app.client_id.clone(), app.client_secret.expose_secret()),
            tokens.clone(),
        )
        .oauth_server(portal.oauth_url())
        .request_timeout(Duration::from_secs(2))
        .retry_policy(
            RetryPolicy::default()
                .with_max_attempts(8)
                .with_initial_backoff(Duration::from_millis(20))
                .with_max_backoff(Duration::from_millis(500))
                .with_max_elapsed(Duration::from_secs(30)),
        );
    let redis = redis::SoakRedis::start_if_wanted(&app.member_id, &tokens).await;
    let client = match &redis {
        Some(redis) => redis.configure(builder),
        None => builder.rate_limit(imconnector::RateLimit::Off),
    }
    .build()
    .unwrap();

    let register = RegisterConnector::new(
        connector(),
        "Soak",
        Icon::new("data:image/svg+xml,%3Csvg%2F%3E"),
        SettingsUrl::parse("https://soak.example/settings").expect("a URL"),
    );
    client.call(&register).await.unwrap();
    for id in 1..=LINES {
        client
            .call(&ActivateConnector::new(connector(), line(id), true))
            .await
            .unwrap();
    }
    handle
        .set_faults(Some(
            Faults::new(6)
                .error_500_share(0.05)
                .drop_before_share(0.01)
                .drop_after_share(0.01)
                .latency(Duration::from_secs(30), 0.01)
                // A reset after a rotation would lose the pair: no client survives that.
                .rest_only(),
        ))
        .unwrap();
    // Delays (emulated time) stay below the client's 2 s timeout; a client that gives up
    // anyway redeems nothing.
    handle
        .set_oauth_faults(Some(OAuthFaults::new(11).reset_every(3).delay_every(
            2,
            Duration::from_millis(200).mul_f64(TIME_SCALE),
            Duration::from_millis(1200).mul_f64(TIME_SCALE),
        )))
        .unwrap();

    // Take the token away now and then every few seconds, once the last loss was repaired.
    let losses = Arc::new(TokenLoss {
        expiries: AtomicU64::new(0),
        revocations: AtomicU64::new(0),
    });
    let producing = Arc::new(AtomicBool::new(true));
    losses.next(&handle);
    let expirer = {
        let (handle, losses, producing) =
            (handle.clone(), Arc::clone(&losses), Arc::clone(&producing));
        tokio::spawn(async move {
            while producing.load(Ordering::SeqCst) {
                tokio::time::sleep(EXPIRY_EVERY).await;
                if handle.counters().refreshes == losses.total() {
                    losses.next(&handle);
                }
            }
        })
    };

    let sender = Sender::builder(client.clone(), connector())
        .messages_per_call(2)
        .calls_per_request(3)
        .requests_in_flight(4)
        .capacity(256)
        .start();
    let mut submitted = Vec::new();
    let mut outage = None;
    for index in 0..messages {
        if index == messages / 2 {
            outage = redis.as_ref().map(redis::SoakRedis::stop_and_restart);
        }
        let (line, message) = message(index);
        submitted.push(sender.send(line, message).await.unwrap());
    }
    let mut outcomes = Vec::new();
    for queued in submitted {
        outcomes.push(queued.await);
    }
    if let Some(outage) = outage {
        outage.await.unwrap();
    }
    producing.store(false, Ordering::SeqCst);
    expirer.await.unwrap();
    // The last loss may have come after the last message: one more call repairs it.
    call_until_ok(&client).await;
    let stats = sender.stats();
    drop(sender);
    // Requests the client gave up on may still be running in the portal: let them finish.
    portal.shutdown().await;

    let tally = Tally::of(messages, &outcomes, &handle);
    let counters = handle.counters();
    let (expiries, revocations) = (
        losses.expiries.load(Ordering::SeqCst),
        losses.revocations.load(Ordering::SeqCst),
    );
    println!(
        "SOAK {messages} messages: delivered {}, rejected {}, failed {}, unknown {} ({} of them in \
         the portal); silent losses {}, duplicates {}, stored but never sent {}",
        tally.delivered,
        tally.rejected,
        tally.failed,
        tally.unknown,
        tally.unknown_stored,
        tally.lost,
        tally.duplicated,
        tally.stored_unsent,
    );
    println!(
        "SOAK faults: {} HTML 500s, {} resets before and {} after processing, {} delayed past the \
         timeout; {} requests ({} send.messages calls); {} token expiries and {} revocations, {} \
         refreshes; {} expired_token and {} invalid_token answers; OAuth server: {} resets, {} \
         delays ({} given up by the client), {} refused; Redis restarts: {}",
        counters.faults.error_500,
        counters.faults.dropped_before,
        counters.faults.dropped_after,
        counters.faults.delayed,
        stats.requests,
        stats.calls,
        expiries,
        revocations,
        counters.refreshes,
        counters.expired_token_rejections,
        counters.invalid_token_rejections,
        counters.faults.token_resets,
        counters.faults.token_delays,
        counters.faults.token_abandoned,
        counters.refresh_rejections,
        redis.as_ref().map_or_else(
            || "skipped (IMCONNECTOR_REDIS_URL is not set)".to_owned(),
            |redis| redis.restarts().to_string()
        ),
    );
    assert!(tally.wrong.is_empty(), "{:#?}", tally.wrong);
    assert_eq!(tally.lost, 0, "messages without an outcome");
    assert_eq!(tally.duplicated, 0, "messages stored twice");
    assert_eq!(tally.stored_unsent, 0, "stored messages nobody sent");
    assert_eq!(
        tally.delivered + tally.rejected + tally.failed + tally.unknown,
        messages
    );
    assert_eq!(
        counters.refreshes,
        expiries + revocations,
        "one refresh per expiry or revocation"
    );
    assert!(
        expiries >= 1 && revocations >= 1,
        "{expiries} expiries, {revocations} revocations"
    );
    assert_eq!(
        counters.refresh_rejections, 0,
        "no refresh with a dead refresh token"
    );
    // The faults really happened, and most messages still went through.
    let faults = &counters.faults;
    assert!(faults.error_500 + faults.dropped_before + faults.dropped_after > 0);
    assert!(
        faults.token_resets > 0 && faults.token_delays > 0,
        "{faults:?}"
    );
    assert!(tally.delivered > messages / 2, "{tally:?}");
    if let Some(redis) = redis {
        redis.check(&handle).await;
    }
}
