//! The durable inbox (issue 21): the time from an event POST to its 200 with the Redis inbox
//! (the event is appended to a Redis Stream before the answer), and how many events a second
//! go through the whole durable pipeline (POST, append, read, handler, acknowledge) against the
//! in-memory one (POST, handler).
//!
//! The receiver is served on 127.0.0.1 by `imconnector::serve`; a client POSTs the spec's
//! `OnImConnectorMessageAdd` form body, each with its own message id (the same event twice
//! would be handled once).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use imconnector::events::Event;
use imconnector::inbound::{ConsumerOptions, DedupKey, SentMessages};
use imconnector::receiver::{EventHandler, EventReceiver, HandlerError, SingleToken};
use imconnector_redis::RedisBackend;

use crate::intake::{numbered, sample};
use crate::measure::process_cpu;
use crate::portal::SetupError;

/// Where the Redis URL comes from.
pub const URL_VAR: &str = "IMCONNECTOR_REDIS_URL";

/// POSTs in flight at once in the throughput runs.
const IN_FLIGHT: usize = 32;

/// Whether the Redis URL is set.
pub fn wanted() -> bool {
    std::env::var(URL_VAR).is_ok_and(|url| !url.trim().is_empty())
}

/// The figures of [`run`].
#[derive(Debug, Clone)]
pub struct Figures {
    /// POSTs timed one at a time.
    pub latency_posts: usize,
    /// Median time from POST to 200 with the Redis inbox.
    pub p50: Duration,
    /// 99th percentile of it.
    pub p99: Duration,
    /// The slowest.
    pub max: Duration,
    /// Events per throughput run.
    pub events: u64,
    /// Events a second through the in-memory pipeline (POST to handler).
    pub memory_rate: f64,
    /// Events a second through the durable pipeline (POST to acknowledged).
    pub durable_rate: f64,
    /// CPU of this process (the receiver, the pipeline and the POSTing client) per event,
    /// in memory.
    pub memory_cpu: Duration,
    /// The same through the durable pipeline.
    pub durable_cpu: Duration,
    /// redis-server's CPU per event through the durable pipeline.
    pub redis_cpu: Duration,
}

/// redis-server's user plus system CPU time so far (`INFO cpu`).
async fn redis_cpu(backend: &RedisBackend) -> Result<Duration, SetupError> {
    let info: String = imconnector_redis::redis::cmd("INFO")
        .arg("cpu")
        .query_async(&mut backend.connection())
        .await?;
    let seconds: f64 = info
        .lines()
        .filter_map(|line| {
            let (name, value) = line.split_once(':')?;
            matches!(name, "used_cpu_sys" | "used_cpu_user")
                .then(|| value.trim().parse::<f64>().ok())?
        })
        .sum();
    Ok(Duration::from_secs_f64(seconds))
}

fn per_event(spent: Duration, events: u64) -> Duration {
    spent / u32::try_from(events.max(1)).unwrap_or(u32::MAX)
}

#[derive(Clone, Default)]
struct Counting(Arc<AtomicU64>);

impl EventHandler for Counting {
    async fn event(&self, key: &DedupKey, event: Event) -> Result<SentMessages, HandlerError> {
        std::hint::black_box((key, event));
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(SentMessages::new())
    }
}

async fn serve(router: axum::Router) -> Result<String, SetupError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = imconnector::serve(listener, router).await;
    });
    Ok(format!("http://{address}/"))
}

async fn post(http: &reqwest::Client, url: &str, body: String) -> Result<(), SetupError> {
    let status = http
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await?
        .status();
    if !status.is_success() {
        return Err(format!("the receiver answered {status}").into());
    }
    Ok(())
}

/// POSTs `events` numbered events from `first`, `IN_FLIGHT` at a time, and waits until
/// `done()` says all were handled; returns events a second.
async fn throughput(
    http: &reqwest::Client,
    url: &str,
    body: &[u8],
    first: u64,
    events: u64,
    done: impl Fn() -> Result<bool, SetupError>,
) -> Result<f64, SetupError> {
    let started = Instant::now();
    let results: Vec<Result<(), SetupError>> = futures::stream::iter(first..first + events)
        .map(|id| post(http, url, numbered(body, id)))
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    results.into_iter().collect::<Result<Vec<()>, _>>()?;
    let deadline = Instant::now() + Duration::from_secs(120);
    while !done()? {
        if Instant::now() > deadline {
            return Err("the events were not all handled in time".into());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Ok(events as f64 / started.elapsed().as_secs_f64())
}

/// Measures with `latency_posts` timed POSTs and `events` per throughput run.
///
/// # Errors
/// When Redis or the receiver fails.
pub fn run(latency_posts: usize, events: u64) -> Result<Figures, SetupError> {
    let url = std::env::var(URL_VAR).map_err(|_| format!("{URL_VAR} is not set"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let (body, token) = sample()?;
        let http = reqwest::Client::builder().no_proxy().build()?;
        let prefix = format!("imconnector-bench-inbox-{:016x}", rand_suffix());
        let backend = RedisBackend::builder("app.bench")
            .key_prefix(&prefix)
            .connect(&url)
            .await?;
        let store = backend.inbox().await?;

        // The in-memory pipeline.
        let memory = Counting::default();
        let (router, memory_pipeline) =
            EventReceiver::new(SingleToken::new(token.clone()), memory.clone()).build();
        let memory_url = serve(router).await?;
        let cpu_before = process_cpu()?;
        let memory_rate = throughput(&http, &memory_url, &body, 1, events, || {
            Ok(memory.0.load(Ordering::Relaxed) >= events)
        })
        .await?;
        let memory_cpu = per_event(process_cpu()? - cpu_before, events);
        memory_pipeline.shutdown(Duration::from_secs(10)).await;

        // The durable one.
        let durable = Counting::default();
        let consumer = ConsumerOptions::new("bench-1")?.read_wait(Duration::from_millis(100));
        let (router, durable_pipeline) =
            EventReceiver::new(SingleToken::new(token), durable.clone())
                .durable_inbox(store.clone(), consumer)
                .build();
        let durable_url = serve(router).await?;
        // Warm up the connection and the scripts.
        throughput(&http, &durable_url, &body, 1_000_000, 100, || {
            Ok(durable.0.load(Ordering::Relaxed) >= 100)
        })
        .await?;
        let handled_before = durable.0.load(Ordering::Relaxed);
        let backlog = store.clone();
        let (cpu_before, redis_before) = (process_cpu()?, redis_cpu(&backend).await?);
        let durable_rate = {
            let started = Instant::now();
            throughput(&http, &durable_url, &body, 2_000_000, events, || {
                Ok(durable.0.load(Ordering::Relaxed) >= handled_before + events)
            })
            .await?;
            // Acknowledged too: the stream is empty again.
            while backlog.backlog().await? > 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            events as f64 / started.elapsed().as_secs_f64()
        };
        let durable_cpu = per_event(process_cpu()? - cpu_before, events);
        let redis_cpu = per_event(redis_cpu(&backend).await? - redis_before, events);

        // POST to 200, one at a time.
        let mut latencies = Vec::with_capacity(latency_posts);
        for id in 0..latency_posts {
            let body = numbered(&body, 3_000_000 + id as u64);
            let started = Instant::now();
            post(&http, &durable_url, body).await?;
            latencies.push(started.elapsed());
        }
        durable_pipeline.shutdown(Duration::from_secs(30)).await;
        latencies.sort_unstable();
        let at = |share: f64| latencies[((latencies.len() - 1) as f64 * share) as usize];
        let figures = Figures {
            latency_posts,
            p50: at(0.50),
            p99: at(0.99),
            max: at(1.0),
            events,
            memory_rate,
            durable_rate,
            memory_cpu,
            durable_cpu,
            redis_cpu,
        };
        clean(&backend, &prefix).await?;
        Ok(figures)
    })
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos() as u64)
}

async fn clean(backend: &RedisBackend, prefix: &str) -> Result<(), SetupError> {
    let mut connection = backend.connection();
    let keys: Vec<String> = imconnector_redis::redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut connection)
        .await?;
    for chunk in keys.chunks(1000) {
        let _: () = imconnector_redis::redis::cmd("DEL")
            .arg(chunk)
            .query_async(&mut connection)
            .await?;
    }
    Ok(())
}
