//! Soak with faults: many customer messages through the SDK (a `Sender` over a `Client`) while
//! the emulated portal answers 5% of requests with an HTML 500, resets 2% of connections (half
//! before processing, half after), holds 1% past the client's timeout, and every access token
//! expires every few (emulated) seconds.
//!
//! Afterwards every message must be in the portal exactly once when it was reported delivered,
//! never when reported failed or rejected, at most once when its outcome is unknown; nothing
//! may be stored that was not sent, and each token expiry must cost exactly one refresh.
//!
//! `IMCONNECTOR_SOAK_MESSAGES` sets the size (default 1,000 for CI; the full size is
//! `IMCONNECTOR_SOAK_MESSAGES=10000 cargo test -p imconnector-tests --test soak -- --nocapture`).

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use imconnector::emulator::{Direction, Emulator, EmulatorHandle, ExposeSecret, Faults};
use imconnector::methods::{Activate, Register, Status};
use imconnector::sender::{SendOutcome, Sender};
use imconnector::types::{Icon, MessageBody, MessageChat, MessageIn, MessageUser};
use imconnector::wire::{ConnectorId, LineId};
use imconnector::{Client, OAuthApp, RateLimit, RetryPolicy, Tokens};

const LINES: i64 = 3;
/// Emulated seconds per real second: tokens expire every 3 emulated seconds (300 ms), latency
/// spikes last 30 emulated seconds (3 s, past the client's 2 s timeout).
const TIME_SCALE: f64 = 10.0;
const EXPIRY_EVERY: Duration = Duration::from_millis(300);

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
            .id(format!("soak-{index}"))
            .text(format!("soak message {index}")),
        MessageChat::new(format!("soak-chat-{chat}")),
    );
    (line(line_id), message)
}

/// The OAuth server, on a host of its own as in production (`oauth.bitrix.info` is not the
/// portal): the portal's faults do not reach it. It rotates refresh tokens like the real one and
/// issues access tokens the emulated portal accepts.
#[derive(Clone)]
struct TokenServer {
    portal: EmulatorHandle,
    client_id: String,
    client_secret: String,
    current_refresh: Arc<Mutex<String>>,
    refreshes: Arc<AtomicU64>,
}

async fn grant(
    State(server): State<TokenServer>,
    Form(form): Form<HashMap<String, String>>,
) -> (StatusCode, Json<BTreeMap<&'static str, String>>) {
    let refused = |code: &str| {
        let body = BTreeMap::from([
            ("error", code.to_owned()),
            ("error_description", code.to_owned()),
        ]);
        (StatusCode::BAD_REQUEST, Json(body))
    };
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    if field("grant_type") != "refresh_token" {
        return refused("invalid_request");
    }
    if field("client_id") != server.client_id || field("client_secret") != server.client_secret {
        return refused("invalid_client");
    }
    let mut current = server.current_refresh.lock().unwrap();
    if field("refresh_token") != *current {
        return refused("invalid_grant");
    }
    let fresh = server.portal.tokens();
    *current = fresh.refresh_token.expose_secret().to_owned();
    server.refreshes.fetch_add(1, Ordering::SeqCst);
    let body = BTreeMap::from([
        (
            "access_token",
            fresh.access_token.expose_secret().to_owned(),
        ),
        ("refresh_token", current.clone()),
        ("expires_in", "3600".to_owned()),
        ("client_endpoint", server.portal.rest_url()),
    ]);
    (StatusCode::OK, Json(body))
}

async fn start_token_server(server: TokenServer) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let router = Router::new()
        .route("/oauth/token/", post(grant))
        .with_state(server);
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{address}/oauth/token/")
}

#[derive(Debug, Default)]
struct Tally {
    delivered: u64,
    rejected: u64,
    failed: u64,
    unknown: u64,
    unknown_stored: u64,
    lost: u64,
    duplicated: u64,
    stored_unsent: u64,
    wrong: Vec<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_with_faults_loses_and_duplicates_nothing() {
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
    let token_server = TokenServer {
        portal: handle.clone(),
        client_id: app.client_id.clone(),
        client_secret: app.client_secret.expose_secret().to_owned(),
        current_refresh: Arc::new(Mutex::new(first.refresh_token.expose_secret().to_owned())),
        refreshes: Arc::new(AtomicU64::new(0)),
    };
    let refreshes = Arc::clone(&token_server.refreshes);
    let oauth_url = start_token_server(token_server).await;
    let client = Client::builder()
        .oauth(
            OAuthApp::new(app.client_id.clone(), app.client_secret.expose_secret()),
            Tokens::new(
                first.access_token.expose_secret(),
                first.refresh_token.expose_secret(),
            )
            .with_client_endpoint(portal.rest_url()),
        )
        .oauth_server(oauth_url)
        .rate_limit(RateLimit::Off)
        .request_timeout(Duration::from_secs(2))
        .retry_policy(
            RetryPolicy::default()
                .with_max_attempts(8)
                .with_initial_backoff(Duration::from_millis(20))
                .with_max_backoff(Duration::from_millis(500))
                .with_max_elapsed(Duration::from_secs(30)),
        )
        .build()
        .unwrap();

    let register = Register::new(
        connector(),
        "Soak",
        Icon::new("data:image/svg+xml,%3Csvg%2F%3E"),
        "https://soak.example/settings",
    );
    client.call(&register).await.unwrap();
    for id in 1..=LINES {
        client
            .call(&Activate::new(connector(), line(id), true))
            .await
            .unwrap();
    }
    handle
        .set_faults(Some(
            Faults::new(6)
                .error_500_share(0.05)
                .drop_before_share(0.01)
                .drop_after_share(0.01)
                .latency(Duration::from_secs(30), 0.01),
        ))
        .unwrap();

    // Expire every token now and then every few seconds, once the last expiry was noticed.
    let expiries = Arc::new(AtomicU64::new(0));
    let producing = Arc::new(AtomicBool::new(true));
    handle.expire_tokens();
    expiries.fetch_add(1, Ordering::SeqCst);
    let expirer = {
        let (handle, expiries, refreshes, producing) = (
            handle.clone(),
            Arc::clone(&expiries),
            Arc::clone(&refreshes),
            Arc::clone(&producing),
        );
        tokio::spawn(async move {
            while producing.load(Ordering::SeqCst) {
                tokio::time::sleep(EXPIRY_EVERY).await;
                if refreshes.load(Ordering::SeqCst) == expiries.load(Ordering::SeqCst) {
                    handle.expire_tokens();
                    expiries.fetch_add(1, Ordering::SeqCst);
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
    for index in 0..messages {
        let (line, message) = message(index);
        submitted.push(sender.send(line, message).await.unwrap());
    }
    let mut outcomes = Vec::new();
    for queued in submitted {
        outcomes.push(queued.await);
    }
    producing.store(false, Ordering::SeqCst);
    expirer.await.unwrap();
    // The last expiry may have come after the last message: one more call notices it.
    client
        .call(&Status::new(connector(), line(1)))
        .await
        .unwrap();
    let stats = sender.stats();
    drop(sender);
    // Requests the client gave up on may still be running in the portal: let them finish.
    portal.shutdown().await;

    let mut stored: HashMap<String, u64> = HashMap::new();
    for message in handle.all_messages() {
        if message.direction == Direction::Incoming {
            for id in message.external_ids {
                *stored.entry(id).or_default() += 1;
            }
        }
    }
    let mut tally = Tally::default();
    let reported = outcomes.len() as u64;
    tally.lost = messages - reported;
    for (index, delivery) in outcomes.iter().enumerate() {
        assert_eq!(delivery.id.get(), index as u64);
        let copies = stored.remove(&format!("soak-{index}")).unwrap_or_default();
        tally.duplicated += copies.saturating_sub(1);
        let fits = match &delivery.outcome {
            SendOutcome::Stored(_) => {
                tally.delivered += 1;
                copies == 1
            }
            SendOutcome::Rejected(_) => {
                tally.rejected += 1;
                copies == 0
            }
            SendOutcome::Failed(_) => {
                tally.failed += 1;
                copies == 0
            }
            SendOutcome::Unknown(_) => {
                tally.unknown += 1;
                tally.unknown_stored += copies;
                copies <= 1
            }
            other => panic!("an outcome this test does not know: {other:?}"),
        };
        if !fits {
            tally.wrong.push(format!(
                "soak-{index}: {:?} but stored {copies} times",
                delivery.outcome
            ));
        }
    }
    tally.stored_unsent = stored.values().sum();
    let counters = handle.counters();
    let (expiries, refreshes) = (
        expiries.load(Ordering::SeqCst),
        refreshes.load(Ordering::SeqCst),
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
         timeout; {} requests ({} send.messages calls); {} token expiries, {} refreshes, {} \
         expired_token answers",
        counters.faults.error_500,
        counters.faults.dropped_before,
        counters.faults.dropped_after,
        counters.faults.delayed,
        stats.requests,
        stats.calls,
        expiries,
        refreshes,
        counters.expired_token_rejections,
    );
    assert!(tally.wrong.is_empty(), "{:#?}", tally.wrong);
    assert_eq!(tally.lost, 0, "messages without an outcome");
    assert_eq!(tally.duplicated, 0, "messages stored twice");
    assert_eq!(tally.stored_unsent, 0, "stored messages nobody sent");
    assert_eq!(
        tally.delivered + tally.rejected + tally.failed + tally.unknown,
        messages
    );
    assert_eq!(refreshes, expiries, "one refresh per expiry");
    assert!(expiries >= 1);
    // The faults really happened, and most messages still went through.
    let faults = &counters.faults;
    assert!(faults.error_500 + faults.dropped_before + faults.dropped_after > 0);
    assert!(tally.delivered > messages / 2, "{tally:?}");
}
