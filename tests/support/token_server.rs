//! An OAuth server on a host of its own, as in production (`oauth.bitrix.info` is not the
//! portal): it rotates refresh tokens like the real one, issues access tokens the emulated
//! portal accepts, counts every exchange, and can fail on purpose.
//!
//! Its faults happen *before* rotating: a reset there loses nothing, while one after rotating
//! would lose the pair on the real server too (no client can survive that, so it is not
//! modelled). A delayed exchange whose client gave up meanwhile is not rotated either.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use imconnector::emulator::EmulatorHandle;
use imconnector::ExposeSecret;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// Faults of the OAuth endpoint, by the number of the `refresh_token` request (from 1), so a
/// short run meets them too.
#[derive(Debug, Clone, Default)]
pub struct OAuthFaults {
    /// Every this many requests, the connection is closed without an answer, before rotating
    /// (0: never).
    pub reset_every: u64,
    /// Every this many requests (unless reset), the answer comes late (0: never).
    pub delay_every: u64,
    /// The shortest and longest delay (drawn uniformly).
    pub delay: (Duration, Duration),
    /// Seed of the delays' draws, for reproducible runs.
    pub seed: u64,
}

/// What the endpoint did so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OAuthCounts {
    /// Successful rotations: one new pair each.
    pub rotations: u64,
    /// Requests refused (`invalid_grant`, `invalid_client`, `invalid_request`).
    pub refused: u64,
    /// Connections closed without an answer (before rotating).
    pub resets: u64,
    /// Requests answered late.
    pub delayed: u64,
    /// Delayed requests whose client hung up before the answer (not rotated).
    pub abandoned: u64,
}

#[derive(Default)]
struct Counters {
    rotations: AtomicU64,
    refused: AtomicU64,
    resets: AtomicU64,
    delayed: AtomicU64,
    abandoned: AtomicU64,
}

/// An exchange held at the door until released: to have a refresh in flight at a chosen moment.
#[derive(Default)]
struct Gate {
    /// Whether an exchange already came through (only the first one is held).
    taken: std::sync::atomic::AtomicBool,
    arrived: Notify,
    release: Notify,
}

struct Inner {
    portal: EmulatorHandle,
    client_id: String,
    client_secret: String,
    /// The live refresh token and the access token issued with it.
    current: Mutex<(String, String)>,
    /// The faults, their draws, and the number of requests so far.
    faults: Mutex<(OAuthFaults, StdRng, u64)>,
    counters: Counters,
    gate: Mutex<Option<Arc<Gate>>>,
}

/// The running endpoint; cheap to clone.
#[derive(Clone)]
pub struct TokenServer {
    url: String,
    inner: Arc<Inner>,
}

/// Locks plain state; a panicking test thread cannot leave it inconsistent.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl TokenServer {
    /// Starts the endpoint on 127.0.0.1 for `portal`'s first app, whose live pair is the one
    /// with `refresh_token` and `access_token`.
    pub async fn start(portal: &EmulatorHandle, access_token: &str, refresh_token: &str) -> Self {
        let app = portal.app();
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let address = listener.local_addr().expect("bound");
        let inner = Arc::new(Inner {
            portal: portal.clone(),
            client_id: app.client_id.clone(),
            client_secret: app.client_secret.expose_secret().to_owned(),
            current: Mutex::new((refresh_token.to_owned(), access_token.to_owned())),
            faults: Mutex::new((OAuthFaults::default(), StdRng::seed_from_u64(0), 0)),
            counters: Counters::default(),
            gate: Mutex::new(None),
        });
        let serving = Arc::clone(&inner);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(Arc::clone(&serving), stream));
            }
        });
        Self {
            url: format!("http://{address}/oauth/token/"),
            inner,
        }
    }

    /// The URL to give `ClientBuilder::oauth_server`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Sets the faults of the following requests.
    pub fn set_faults(&self, faults: OAuthFaults) {
        let rng = StdRng::seed_from_u64(faults.seed);
        *lock(&self.inner.faults) = (faults, rng, 0);
    }

    /// The counts so far.
    pub fn counts(&self) -> OAuthCounts {
        let counters = &self.inner.counters;
        OAuthCounts {
            rotations: counters.rotations.load(Ordering::SeqCst),
            refused: counters.refused.load(Ordering::SeqCst),
            resets: counters.resets.load(Ordering::SeqCst),
            delayed: counters.delayed.load(Ordering::SeqCst),
            abandoned: counters.abandoned.load(Ordering::SeqCst),
        }
    }

    /// The access token of the newest pair issued.
    pub fn newest_access_token(&self) -> String {
        lock(&self.inner.current).1.clone()
    }

    /// Holds the next exchange before it rotates, until [`release`](Self::release).
    pub fn hold_next(&self) {
        *lock(&self.inner.gate) = Some(Arc::default());
    }

    /// Resolves once the held exchange arrived (see [`hold_next`](Self::hold_next)).
    pub async fn held(&self) {
        let gate = lock(&self.inner.gate).clone();
        if let Some(gate) = gate {
            gate.arrived.notified().await;
        }
    }

    /// Lets the held exchange go on.
    pub fn release(&self) {
        if let Some(gate) = lock(&self.inner.gate).as_ref() {
            gate.release.notify_one();
        }
    }
}

/// What one request gets.
enum Fate {
    Answer,
    Reset,
    Delay(Duration),
}

async fn serve(server: Arc<Inner>, mut stream: TcpStream) {
    let Some(form) = read_form(&mut stream).await else {
        return;
    };
    let fate = {
        let (faults, rng, requests) = &mut *lock(&server.faults);
        *requests += 1;
        let every = |period: u64| period > 0 && requests.is_multiple_of(period);
        if every(faults.reset_every) {
            Fate::Reset
        } else if every(faults.delay_every) {
            let (shortest, longest) = faults.delay;
            Fate::Delay(shortest + (longest.saturating_sub(shortest)).mul_f64(rng.random()))
        } else {
            Fate::Answer
        }
    };
    let gate = lock(&server.gate).clone();
    if let Some(gate) = gate.filter(|gate| !gate.taken.swap(true, Ordering::SeqCst)) {
        // `notify_one` keeps a permit, so neither side may miss the other.
        gate.arrived.notify_one();
        gate.release.notified().await;
    }
    match fate {
        Fate::Reset => {
            server.counters.resets.fetch_add(1, Ordering::SeqCst);
            return;
        }
        Fate::Delay(delay) => {
            server.counters.delayed.fetch_add(1, Ordering::SeqCst);
            let mut probe = [0_u8; 1];
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                // The client sends nothing more: any read result means it hung up.
                _ = stream.read(&mut probe) => {
                    server.counters.abandoned.fetch_add(1, Ordering::SeqCst);
                    return;
                }
            }
        }
        Fate::Answer => {}
    }
    let (status, body) = grant(&server, &form);
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// The `refresh_token` grant, rotating like the real server.
fn grant(server: &Inner, form: &[(String, String)]) -> (&'static str, String) {
    let field = |name: &str| {
        form.iter()
            .find(|(key, _)| key == name)
            .map_or("", |(_, value)| value.as_str())
    };
    let refused = |code: &str| {
        server.counters.refused.fetch_add(1, Ordering::SeqCst);
        let body = serde_json::json!({"error": code, "error_description": code});
        ("400 Bad Request", body.to_string())
    };
    if field("grant_type") != "refresh_token" {
        return refused("invalid_request");
    }
    if field("client_id") != server.client_id || field("client_secret") != server.client_secret {
        return refused("invalid_client");
    }
    let mut current = lock(&server.current);
    if field("refresh_token") != current.0 {
        return refused("invalid_grant");
    }
    let fresh = server.portal.tokens();
    *current = (
        fresh.refresh_token.expose_secret().to_owned(),
        fresh.access_token.expose_secret().to_owned(),
    );
    server.counters.rotations.fetch_add(1, Ordering::SeqCst);
    let body = serde_json::json!({
        "access_token": current.1,
        "refresh_token": current.0,
        "expires_in": 3600,
        "client_endpoint": server.portal.rest_url(),
        "member_id": server.portal.app().member_id,
    });
    ("200 OK", body.to_string())
}

/// Reads one HTTP/1.1 request and returns its form body (`None` when it is not one).
async fn read_form(stream: &mut TcpStream) -> Option<Vec<(String, String)>> {
    let mut buffer = Vec::new();
    let mut chunk = [0_u8; 4096];
    let header_end = loop {
        if let Some(end) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            break end + 4;
        }
        if buffer.len() > 64 * 1024 {
            return None;
        }
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    };
    let head = String::from_utf8_lossy(&buffer[..header_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0);
    while buffer.len() < header_end + length {
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
    let body = &buffer[header_end..header_end + length];
    Some(form_urlencoded::parse(body).into_owned().collect())
}
