//! Event intake: `OnImConnectorMessageAdd` POST bodies (the form the portal sends, taken from
//! the spec's server example) read four ways, one thread, no sockets:
//!
//! 1. the raw PHP-style form parse alone (`imconnector_form::parse`);
//! 2. the typed decode (`Event::from_form`);
//! 3. the receiver's check and decode (`receiver::verify_event`: parse, constant-time
//!    application-token check, typed decode);
//! 4. the receiver's axum `Router` driven with `tower::ServiceExt::oneshot`, including the
//!    inbound pipeline and an `EventHandler` that counts the events (the loop yields after
//!    each POST, as a server's connection task does; each POST carries its own message id,
//!    since the pipeline handles the same event once).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use imconnector::events::{Event, MessageAddEvent};
use imconnector::receiver::{
    verify_event, EventHandler, EventReceiver, HandlerError, SentMessages, SingleToken,
};
use serde_json::Value;
use tower::ServiceExt;

use crate::measure::{micros_each, per_second, Spent, Stopwatch};
use crate::portal::SetupError;

const SPEC_EVENT: &str = include_str!("../../spec/events/OnImConnectorMessageAdd.json");
const FORM: &str = "application/x-www-form-urlencoded";

/// One way of reading events, measured.
#[derive(Debug, Clone)]
pub struct Row {
    /// What was measured.
    pub label: &'static str,
    /// Events read.
    pub events: u64,
    /// Time spent.
    pub spent: Spent,
}

impl Row {
    /// Events per second.
    pub fn rate(&self) -> f64 {
        per_second(self.events, self.spent.wall)
    }

    /// CPU microseconds per event.
    pub fn cpu_micros(&self) -> f64 {
        micros_each(self.spent.cpu, self.events)
    }
}

/// The server-shaped form body of the spec's example, and its application token.
///
/// # Errors
/// When the spec file no longer has the example.
pub fn sample() -> Result<(Vec<u8>, String), SetupError> {
    let spec: Value = serde_json::from_str(SPEC_EVENT)?;
    let examples = spec["examples"]
        .as_array()
        .ok_or("no examples in the spec")?;
    let form = examples
        .iter()
        .find_map(|example| example["form"].as_str())
        .ok_or("no form example in the spec")?;
    let parsed = imconnector_form::parse(form.as_bytes())?;
    let token = parsed["auth"]["application_token"]
        .as_str()
        .ok_or("the example has no application token")?
        .to_owned();
    Ok((form.as_bytes().to_vec(), token))
}

/// The marker of the message id in [`sample`]'s body.
const MESSAGE_ID: &[u8] = b"%5Bmessage_id%5D=";

/// `body` (from [`sample`]) with its message id replaced by `id`: another event, since the
/// receiver handles the same event once.
///
/// # Panics
/// Never for [`sample`]'s body: it has a message id.
pub fn numbered(body: &[u8], id: u64) -> String {
    let text = String::from_utf8_lossy(body);
    let marker = std::str::from_utf8(MESSAGE_ID).unwrap_or_default();
    let Some(start) = text.find(marker).map(|at| at + marker.len()) else {
        return text.into_owned();
    };
    let end = text[start..]
        .find('&')
        .map_or(text.len(), |length| start + length);
    format!("{}{id}{}", &text[..start], &text[end..])
}

/// Counts the MessageAdd events dispatched to it.
#[derive(Clone, Default)]
struct Counting(Arc<AtomicU64>);

impl EventHandler for Counting {
    async fn message_add(&self, event: MessageAddEvent) -> Result<SentMessages, HandlerError> {
        std::hint::black_box(&event);
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(SentMessages::new())
    }
}

fn measure(
    label: &'static str,
    events: u64,
    work: impl FnOnce() -> Result<(), SetupError>,
) -> Result<Row, SetupError> {
    let watch = Stopwatch::start()?;
    work()?;
    Ok(Row {
        label,
        events,
        spent: watch.stop()?,
    })
}

/// One of the ways of reading events that [`run`] measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// The raw PHP-style form parse alone.
    Parse,
    /// The typed decode.
    Decode,
    /// The receiver's token check and decode.
    Verify,
    /// The receiver's axum `Router`, dispatched to a handler.
    Router,
}

impl Path {
    /// Every path, in the order of the table.
    pub const ALL: [Path; 4] = [Path::Parse, Path::Decode, Path::Verify, Path::Router];

    /// The row's label.
    pub fn label(self) -> &'static str {
        match self {
            Path::Parse => "raw form parse (`imconnector_form::parse`)",
            Path::Decode => "typed decode (`Event::from_form`)",
            Path::Verify => "verified + decoded (`receiver::verify_event`)",
            Path::Router => "through the receiver's Router (oneshot, dispatched)",
        }
    }
}

/// Reads `events` events each way; call it outside any runtime.
///
/// # Errors
/// When an event is not read as expected.
pub fn run(events: u64) -> Result<Vec<Row>, SetupError> {
    Path::ALL
        .into_iter()
        .map(|path| run_path(path, events))
        .collect()
}

/// Reads `events` events one way (alone, e.g. to profile it); call it outside any runtime.
///
/// # Errors
/// When an event is not read as expected.
pub fn run_path(path: Path, events: u64) -> Result<Row, SetupError> {
    let (body, token) = sample()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let label = path.label();
    match path {
        Path::Parse => measure(label, events, || {
            for _ in 0..events {
                let parsed = imconnector_form::parse(std::hint::black_box(&body))?;
                std::hint::black_box(parsed);
            }
            Ok(())
        }),
        Path::Decode => measure(label, events, || {
            for _ in 0..events {
                let event = Event::from_form(std::hint::black_box(&body))?;
                if !matches!(event, Event::MessageAdd(_)) {
                    return Err("not decoded as MessageAdd".into());
                }
            }
            Ok(())
        }),
        Path::Verify => {
            let tokens = SingleToken::new(token);
            measure(label, events, || {
                runtime.block_on(async {
                    for _ in 0..events {
                        let event =
                            verify_event(&tokens, Some(FORM), std::hint::black_box(&body)).await;
                        if !matches!(event, Ok(Event::MessageAdd(_))) {
                            return Err::<(), SetupError>(format!("unexpected {event:?}").into());
                        }
                    }
                    Ok(())
                })
            })
        }
        Path::Router => {
            let counted = Counting::default();
            let router = EventReceiver::new(SingleToken::new(token), counted.clone()).router();
            measure(label, events, || {
                runtime.block_on(async {
                    for id in 0..events {
                        let request = Request::post("/")
                            .header(header::CONTENT_TYPE, FORM)
                            .body(Body::from(numbered(&body, id)))?;
                        let response = router.clone().oneshot(request).await?;
                        if response.status() != StatusCode::OK {
                            return Err::<(), SetupError>(
                                format!("answered {}", response.status()).into(),
                            );
                        }
                        // A server's connection task awaits its socket between requests, which
                        // lets the event's task run; without this the loop never yields and
                        // every task waits in the queue to the end (1.5 GB for 200,000).
                        tokio::task::yield_now().await;
                    }
                    // The handler runs on tasks of its own: wait until each one ran.
                    let deadline = Instant::now() + Duration::from_secs(60);
                    while counted.0.load(Ordering::Relaxed) < events {
                        if Instant::now() > deadline {
                            return Err("the handler did not see every event".into());
                        }
                        tokio::task::yield_now().await;
                    }
                    Ok(())
                })
            })
        }
    }
}

/// What one crafted, unauthenticated POST costs the receiver.
#[derive(Debug, Clone)]
pub struct Crafted {
    /// The body's size.
    pub bytes: usize,
    /// `key[]=` pairs in it.
    pub pairs: usize,
    /// What the receiver answered.
    pub status: StatusCode,
    /// Time until it answered (parsing comes before the token check).
    pub spent: Spent,
}

/// POSTs one body of about `bytes` bytes made of `a[]=1&` pairs (each `[]` appends to the
/// same array) without any token, through the receiver's router.
///
/// # Errors
/// When the request cannot be built or answered.
pub fn crafted(bytes: usize) -> Result<Crafted, SetupError> {
    const PAIR: &str = "a[]=1&";
    let pairs = bytes / PAIR.len();
    let body = PAIR.repeat(pairs);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let router = EventReceiver::new(SingleToken::new("expected-token"), Counting::default())
        .body_limit(bytes + 1)
        .router();
    let watch = Stopwatch::start()?;
    let status = runtime.block_on(async {
        let request = Request::post("/")
            .header(header::CONTENT_TYPE, FORM)
            .body(Body::from(body))?;
        Ok::<_, SetupError>(router.oneshot(request).await?.status())
    })?;
    Ok(Crafted {
        bytes: pairs * PAIR.len(),
        pairs,
        status,
        spent: watch.stop()?,
    })
}
