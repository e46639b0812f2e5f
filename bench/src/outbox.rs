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
    /// The sender's counters, sampled every [`SAMPLE_EVERY`] from the start.
    pub samples: Vec<Sample>,
}

/// How often the sender's counters are sampled.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(250);

/// The sender's counters at one moment of a run.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Since the first submission.
    pub at: Duration,
    /// Messages reported stored so far.
    pub stored: u64,
    /// HTTP requests made so far.
    pub requests: u64,
}

/// The sustained part of a run under the bucket: from when the sender has made twice the
/// bucket's burst in requests (the burst is long spent; what it carried depends on how fast the
/// first messages arrived, not on the sender) to the last sample before 90% of the messages
/// were stored (after that the supply dries up).
#[derive(Debug, Clone, Copy)]
pub struct Sustained {
    /// Messages stored per second in the window.
    pub delivered_rate: f64,
    /// Messages per request in the window.
    pub messages_per_request: f64,
    /// The window's length.
    pub window: Duration,
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

    /// The sustained window (see [`Sustained`]), `None` when the run was too short for one.
    pub fn sustained(&self) -> Option<Sustained> {
        let start = self
            .samples
            .iter()
            .find(|sample| sample.requests as f64 >= 2.0 * BURST)?;
        let end =
            self.samples.iter().rev().find(|sample| {
                (sample.stored as f64) <= 0.9 * self.plan.workload.messages as f64
            })?;
        let window = end.at.checked_sub(start.at)?;
        let requests = end.requests.checked_sub(start.requests)?;
        if window.is_zero() || requests == 0 {
            return None;
        }
        let stored = end.stored.saturating_sub(start.stored);
        Some(Sustained {
            delivered_rate: per_second(stored, window),
            messages_per_request: stored as f64 / requests as f64,
            window,
        })
    }

    /// Messages per second the bucket lets through once its burst is spent (full packs).
    pub fn drain_rate(&self) -> f64 {
        (MESSAGES_PER_CALL * CALLS_PER_REQUEST) as f64 * self.plan.workload.drain_per_real_second()
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
        let (stop_sampling, stopped) = tokio::sync::oneshot::channel::<()>();
        let sampler = {
            let sender = sender.clone();
            tokio::spawn(async move {
                let mut stopped = stopped;
                let mut samples = Vec::new();
                let mut tick = tokio::time::interval(SAMPLE_EVERY);
                loop {
                    tokio::select! {
                        _ = tick.tick() => {}
                        _ = &mut stopped => return samples,
                    }
                    let stats = sender.stats();
                    samples.push(Sample {
                        at: started.elapsed(),
                        stored: stats.stored,
                        requests: stats.requests,
                    });
                }
            })
        };
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
        let _ = stop_sampling.send(());
        let samples = sampler.await.unwrap_or_default();
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
            samples,
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
