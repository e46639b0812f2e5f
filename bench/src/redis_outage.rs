//! Paced calls per second with the bucket shared through Redis, before, while and after
//! redis-server is stopped, against the same client pacing in-process (local-only). The shared
//! bucket fails over to a local one at once, so the rate while Redis is down should stay near
//! the local-only one. Needs `redis-server` on the `PATH` (`.ci/redis.sh` installs it); runs
//! only when `IMCONNECTOR_REDIS_URL` is set, like the Redis tests.

use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use imconnector_emulator::Emulator;
use imconnector_redis::{RedisBackend, SharedBucket};
use imconnector_transport::{Client, ErrorCode, RateLimit};
use serde_json::Value;

use crate::measure::per_second;
use crate::portal::{Access, Portal, SetupError};

/// The variable whose presence asks for this benchmark (its URL itself is not used: the
/// benchmark stops and restarts a redis-server of its own).
pub const URL_VAR: &str = "IMCONNECTOR_REDIS_URL";

/// The bucket of the emulated portal and of the client: 20 requests a second, burst 50.
pub const PER_SECOND: u32 = 20;
/// The burst of [`PER_SECOND`]'s bucket.
pub const BURST: u32 = 50;

/// How long each phase runs.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Calls made before counting, so the burst is spent and the rate is the paced one.
    pub settle: Duration,
    /// How long calls are counted.
    pub window: Duration,
    /// Callers calling at once (more than the bucket lets through).
    pub callers: usize,
}

/// One measured phase.
#[derive(Debug, Clone)]
pub struct Phase {
    /// What was measured.
    pub label: &'static str,
    /// Calls answered within the window.
    pub calls: u64,
    /// The window.
    pub window: Duration,
    /// Errors that reached callers during the whole phase (settling included).
    pub errors: u64,
    /// `QUERY_LIMIT_EXCEEDED` among them.
    pub limit_errors: u64,
}

impl Phase {
    /// Calls per second within the window.
    pub fn rate(&self) -> f64 {
        per_second(self.calls, self.window)
    }
}

/// Every phase, and what the emulator refused.
#[derive(Debug, Clone)]
pub struct Figures {
    /// Local-only, then Redis up, stopped, restarted.
    pub phases: Vec<Phase>,
    /// `QUERY_LIMIT_EXCEEDED` answers the emulator sent (retried by the client).
    pub limit_refusals_sent: u64,
}

/// Whether the benchmark is wanted (the Redis tests' variable is set).
pub fn wanted() -> bool {
    std::env::var(URL_VAR).is_ok_and(|url| !url.trim().is_empty())
}

/// Callers hammering one client; counts answers and errors.
struct Load {
    stop: Arc<AtomicBool>,
    calls: Arc<AtomicU64>,
    errors: Arc<AtomicU64>,
    limit_errors: Arc<AtomicU64>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(client: &Client, callers: usize) -> Self {
        let load = Self {
            stop: Arc::default(),
            calls: Arc::default(),
            errors: Arc::default(),
            limit_errors: Arc::default(),
            tasks: Vec::new(),
        };
        let tasks = (0..callers.max(1))
            .map(|_| {
                let client = client.clone();
                let (stop, calls, errors, limit_errors) = (
                    Arc::clone(&load.stop),
                    Arc::clone(&load.calls),
                    Arc::clone(&load.errors),
                    Arc::clone(&load.limit_errors),
                );
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        match client.call_raw("imconnector.list", Value::Null).await {
                            Ok(_) => {
                                calls.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(error) => {
                                errors.fetch_add(1, Ordering::Relaxed);
                                if error.code() == Some(&ErrorCode::QueryLimitExceeded) {
                                    limit_errors.fetch_add(1, Ordering::Relaxed);
                                }
                                tokio::time::sleep(Duration::from_millis(10)).await;
                            }
                        }
                    }
                })
            })
            .collect();
        Self { tasks, ..load }
    }

    /// Lets the load settle, then counts one window.
    async fn phase(&self, label: &'static str, plan: Plan) -> Phase {
        let (errors, limit_errors) = (
            self.errors.load(Ordering::Relaxed),
            self.limit_errors.load(Ordering::Relaxed),
        );
        tokio::time::sleep(plan.settle).await;
        let before = self.calls.load(Ordering::Relaxed);
        let started = Instant::now();
        tokio::time::sleep(plan.window).await;
        Phase {
            label,
            calls: self.calls.load(Ordering::Relaxed) - before,
            window: started.elapsed(),
            errors: self.errors.load(Ordering::Relaxed) - errors,
            limit_errors: self.limit_errors.load(Ordering::Relaxed) - limit_errors,
        }
    }

    async fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// A redis-server on a free loopback port, without persistence; killed when dropped.
struct RedisServer {
    port: u16,
    child: Option<tokio::process::Child>,
}

impl RedisServer {
    async fn start() -> Result<Self, SetupError> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut server = Self { port, child: None };
        server.restart().await?;
        Ok(server)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    async fn stop(&mut self) -> Result<(), SetupError> {
        if let Some(mut child) = self.child.take() {
            child.kill().await?;
        }
        Ok(())
    }

    async fn restart(&mut self) -> Result<(), SetupError> {
        self.stop().await?;
        let child = tokio::process::Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|error| format!("redis-server does not start ({error}); run `bash .ci/redis.sh start` to install it"))?;
        self.child = Some(child);
        for _ in 0..300 {
            if RedisBackend::connect(&self.url(), "app.bench")
                .await
                .is_ok()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err("redis-server did not answer".into())
    }
}

/// Runs the phases against one emulator with the bucket [`PER_SECOND`]/[`BURST`].
///
/// # Errors
/// When setup fails.
pub fn run(plan: Plan) -> Result<Figures, SetupError> {
    let bucket = RateLimit::Custom {
        per_second: PER_SECOND,
        burst: BURST,
    };
    let portal = Portal::start(
        Emulator::builder()
            .lines(1)
            .rate_limit(imconnector_emulator::RateLimit::custom(
                f64::from(PER_SECOND),
                BURST,
            )),
        1,
    )?;
    let access = portal.access();
    let member_id = portal.handle().app().member_id;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let phases = runtime.block_on(async {
        let local = access.client(bucket)?;
        Portal::connect(&local, 1).await?;
        let load = Load::start(&local, plan.callers);
        let local_only = load
            .phase("local-only pacing (in-process bucket)", plan)
            .await;
        load.stop().await;
        // Let the portal's bucket drain, so each client starts from the same state.
        tokio::time::sleep(Duration::from_secs_f64(
            f64::from(BURST) / f64::from(PER_SECOND),
        ))
        .await;
        let mut phases = vec![local_only];
        phases.extend(shared_phases(&access, &member_id, bucket, plan).await?);
        Ok::<_, SetupError>(phases)
    })?;
    drop(runtime);
    let limit_refusals_sent = portal.handle().counters().query_limit_rejections;
    drop(portal);
    Ok(Figures {
        phases,
        limit_refusals_sent,
    })
}

async fn shared_phases(
    access: &Access,
    member_id: &str,
    bucket: RateLimit,
    plan: Plan,
) -> Result<Vec<Phase>, SetupError> {
    let mut redis = RedisServer::start().await?;
    let backend = RedisBackend::builder("app.bench")
        .key_prefix(format!("imconnector-bench-{:016x}", std::process::id()))
        .connect(&redis.url())
        .await?;
    let shared: SharedBucket = backend
        .shared_bucket(member_id, bucket)?
        .ok_or("the bucket is on")?;
    let client = access.client_with(|builder| builder.request_limiter(Arc::new(shared.clone())))?;
    let load = Load::start(&client, plan.callers);
    let mut phases = vec![load.phase("Redis-shared pacing, Redis up", plan).await];
    redis.stop().await?;
    phases.push(
        load.phase("Redis-shared pacing, redis-server stopped", plan)
            .await,
    );
    let degraded = shared.is_degraded();
    redis.restart().await?;
    // The bucket goes back to Redis once its background probe sees it.
    let started = Instant::now();
    while shared.is_degraded() && started.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if !degraded || shared.is_degraded() {
        return Err("the shared bucket did not fail over to a local one and back".into());
    }
    phases.push(
        load.phase("Redis-shared pacing, after redis-server restarted", plan)
            .await,
    );
    load.stop().await;
    Ok(phases)
}
