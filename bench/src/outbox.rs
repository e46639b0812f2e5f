//! The sender's outbox: how fast messages are accepted and how long one submission takes,
//! with the in-memory outbox and the Redis outbox (issue 22), under the portal's standard
//! bucket and with limits off.

use std::time::{Duration, Instant};

use imconnector_emulator::{Emulator, RateLimit as PortalLimit};
use imconnector_redis::RedisBackend;
use imconnector_transport::RateLimit;

use crate::measure::per_second;
use crate::portal::{connector, Portal, SetupError};
use crate::sender::{SendOutcome, Sender, Submitted};
use crate::throughput::{Workload, BURST, DRAIN_PER_SECOND};

/// Messages per `imconnector.send.messages` call (the sender's default).
const MESSAGES_PER_CALL: usize = 10;
/// Calls per `batch` request (the sender's default).
const CALLS_PER_REQUEST: usize = 10;

/// Where the sender keeps what it accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// The default `MemoryOutbox`.
    Memory,
    /// `RedisOutbox` on the Redis at `IMCONNECTOR_REDIS_URL`.
    Redis,
}

/// One run.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// The messages, chats, lines and time scale.
    pub workload: Workload,
    /// Under the standard bucket (`true`) or with limits off.
    pub bucket: bool,
    /// Tasks submitting at once (customers writing at the same time).
    pub submitters: usize,
    /// The outbox.
    pub store: Store,
}

/// What one run measured.
#[derive(Debug, Clone)]
pub struct Figures {
    /// The plan.
    pub plan: Plan,
    /// From the first submission to the last one accepted.
    pub accepting: Duration,
    /// From the first submission to the last outcome.
    pub elapsed: Duration,
    /// Messages reported stored.
    pub delivered: u64,
    /// Messages stored by the portal (counted by the emulator).
    pub stored: u64,
    /// HTTP requests the sender made.
    pub requests: u64,
    /// Every submission's time to be accepted (`send().await`), sorted.
    pub latencies: Vec<Duration>,
}

impl Figures {
    /// Accepted messages per second.
    pub fn accepted_rate(&self) -> f64 {
        per_second(self.plan.workload.messages, self.accepting)
    }

    /// Delivered messages per second.
    pub fn delivered_rate(&self) -> f64 {
        per_second(self.delivered, self.elapsed)
    }

    /// Messages per second the bucket allows over this run (full packs of
    /// `MESSAGES_PER_CALL` x `CALLS_PER_REQUEST` messages a request).
    pub fn bucket_rate(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds <= 0.0 {
            return 0.0;
        }
        (MESSAGES_PER_CALL * CALLS_PER_REQUEST) as f64
            * (BURST + self.plan.workload.drain_per_real_second() * seconds)
            / seconds
    }

    /// The submission latency at `quantile` (0.0 to 1.0).
    pub fn latency(&self, quantile: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let last = self.latencies.len() - 1;
        let index = ((last as f64) * quantile).round() as usize;
        self.latencies[index.min(last)]
    }
}

/// Runs one plan against a fresh emulator on its own runtime.
///
/// # Errors
/// When setup fails (Redis unreachable for [`Store::Redis`]).
pub fn run(plan: Plan) -> Result<Figures, SetupError> {
    let workload = plan.workload;
    let portal = Portal::start(
        Emulator::builder()
            .lines(usize::try_from(workload.lines).unwrap_or(1))
            .time_scale(workload.time_scale),
        1,
    )?;
    let access = portal.access();
    let member_id = portal.handle().app().member_id;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let result = runtime.block_on(async {
        let setup = access.client(RateLimit::Off)?;
        Portal::connect(&setup, workload.lines).await?;
        let client = if plan.bucket {
            portal.handle().set_rate_limit(PortalLimit::Standard)?;
            access.client(RateLimit::Custom {
                per_second: (DRAIN_PER_SECOND * workload.time_scale).round() as u32,
                burst: BURST as u32,
            })?
        } else {
            access.client(RateLimit::Off)?
        };
        // Packs of 100 messages, as `Figures::bucket_rate` counts them.
        let builder = Sender::builder(client, connector())
            .messages_per_call(MESSAGES_PER_CALL)
            .calls_per_request(CALLS_PER_REQUEST);
        let (builder, redis) = match plan.store {
            Store::Memory => (builder, None),
            Store::Redis => {
                let url = std::env::var("IMCONNECTOR_REDIS_URL")?;
                let prefix = format!("imconnector-bench-outbox-{}", std::process::id());
                let backend = RedisBackend::builder("app.bench")
                    .key_prefix(prefix.clone())
                    .connect(&url)
                    .await?;
                let outbox = backend
                    .outbox(&member_id, connector().as_str())?
                    .key_retention(Duration::from_secs(60));
                (builder.outbox(outbox), Some((backend, prefix)))
            }
        };
        let sender = builder.start();
        // Recovered before the clock starts.
        let _ = sender.in_doubt().await;
        let started = Instant::now();
        let per_task = workload.messages.div_ceil(plan.submitters.max(1) as u64);
        let mut tasks = tokio::task::JoinSet::new();
        for task in 0..plan.submitters.max(1) as u64 {
            let sender = sender.clone();
            tasks.spawn(async move {
                let mut submitted: Vec<Submitted> = Vec::new();
                let mut latencies = Vec::new();
                let first = task * per_task;
                for index in first..(first + per_task).min(workload.messages) {
                    let (line, message) = workload.message(index)?;
                    let asked = Instant::now();
                    submitted.push(sender.send(line, message).await?);
                    latencies.push(asked.elapsed());
                }
                Ok::<_, SetupError>((submitted, latencies))
            });
        }
        let mut submitted = Vec::new();
        let mut latencies = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            let (mine, waited) = joined??;
            submitted.extend(mine);
            latencies.extend(waited);
        }
        let accepting = started.elapsed();
        let mut delivered = 0;
        for queued in submitted {
            if matches!(queued.await.outcome, SendOutcome::Stored(_)) {
                delivered += 1;
            }
        }
        let elapsed = started.elapsed();
        let requests = sender.stats().requests;
        let _ = sender.shutdown(Duration::from_secs(10)).await;
        if let Some((backend, prefix)) = redis {
            clean(&backend, &prefix).await?;
        }
        latencies.sort_unstable();
        let stored = portal
            .handle()
            .all_messages()
            .iter()
            .filter(|message| message.direction == imconnector_emulator::Direction::Incoming)
            .count() as u64;
        Ok::<_, SetupError>(Figures {
            plan,
            accepting,
            elapsed,
            delivered,
            stored,
            requests,
            latencies,
        })
    });
    drop(runtime);
    drop(portal);
    result
}

/// Removes the run's keys (its idempotency keys would otherwise live a minute).
async fn clean(backend: &RedisBackend, prefix: &str) -> Result<(), SetupError> {
    let mut connection = backend.connection();
    let keys: Vec<String> = imconnector_redis::redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut connection)
        .await?;
    for chunk in keys.chunks(1000) {
        imconnector_redis::redis::cmd("DEL")
            .arg(chunk)
            .query_async::<()>(&mut connection)
            .await?;
    }
    Ok(())
}
