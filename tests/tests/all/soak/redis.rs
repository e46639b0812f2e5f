//! The soak's Redis part (with `IMCONNECTOR_REDIS_URL` set): the client keeps its tokens,
//! refresh lock and bucket in a redis-server of the soak's own, which is stopped mid-run and
//! restarted (empty) a moment later.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use imconnector::emulator::EmulatorHandle;
use imconnector::ExposeSecret;
use imconnector::{ClientBuilder, RateLimit, Tokens};
use imconnector_redis::RedisBackend;
use imconnector_tests::redis_process::RedisProcess;

/// How long Redis stays down.
const OUTAGE: Duration = Duration::from_secs(1);
/// A bucket the soak never fills: the shared bucket is used without slowing the run.
const BUCKET: RateLimit = RateLimit::Custom {
    per_second: 100,
    burst: 50,
};

pub struct SoakRedis {
    process: Arc<tokio::sync::Mutex<RedisProcess>>,
    backend: RedisBackend,
    member_id: String,
    restarts: Arc<AtomicU64>,
}

impl SoakRedis {
    /// Starts redis-server and stores the first pair, or says why not and returns `None`.
    pub async fn start_if_wanted(member_id: &str, first: &Tokens) -> Option<Self> {
        if std::env::var("IMCONNECTOR_REDIS_URL").map_or(true, |url| url.trim().is_empty()) {
            println!(
                "soak: IMCONNECTOR_REDIS_URL is not set, so the Redis restart is skipped (run \
                 `eval \"$(bash .ci/redis.sh start)\"` first to include it)"
            );
            return None;
        }
        let process = RedisProcess::start().await;
        let backend = RedisBackend::builder("app.test")
            .key_prefix(format!("imconnector-soak-{:016x}", rand::random::<u64>()))
            .refresh_lease(Duration::from_secs(1))
            .refresh_poll_interval(Duration::from_millis(20))
            .max_refresh_wait(Duration::from_secs(30))
            // A stopped Redis is noticed quickly.
            .response_timeout(Duration::from_millis(500))
            .connect(&process.url())
            .await
            .expect("Redis answers");
        backend
            .token_store(member_id)
            .unwrap()
            .replace(first)
            .await
            .unwrap();
        Some(Self {
            process: Arc::new(tokio::sync::Mutex::new(process)),
            backend,
            member_id: member_id.to_owned(),
            restarts: Arc::default(),
        })
    }

    /// Adds the Redis token store, refresh lock and shared bucket to `builder`.
    pub fn configure(&self, builder: ClientBuilder) -> ClientBuilder {
        self.backend
            .configure(&self.member_id, BUCKET, builder)
            .unwrap()
    }

    /// Stops redis-server now and starts it again after [`OUTAGE`], in the background.
    pub fn stop_and_restart(&self) -> tokio::task::JoinHandle<()> {
        let (process, restarts) = (Arc::clone(&self.process), Arc::clone(&self.restarts));
        tokio::spawn(async move {
            let mut process = process.lock().await;
            process.stop().await;
            tokio::time::sleep(OUTAGE).await;
            process.restart().await;
            restarts.fetch_add(1, Ordering::SeqCst);
        })
    }

    pub fn restarts(&self) -> u64 {
        self.restarts.load(Ordering::SeqCst)
    }

    /// No pair was lost: what Redis holds is the newest pair the OAuth server issued (it may
    /// hold none when no refresh happened since it came back empty).
    pub async fn check(&self, portal: &EmulatorHandle) {
        assert_eq!(self.restarts(), 1, "Redis was restarted");
        let stored = self
            .backend
            .token_store(&self.member_id)
            .unwrap()
            .load_versioned()
            .await
            .expect("Redis answers");
        if let Some(stored) = stored {
            assert_eq!(
                stored.tokens.access_token.expose_secret(),
                portal
                    .last_granted_tokens()
                    .expect("the client refreshed")
                    .access_token
                    .expose_secret(),
                "Redis holds the newest pair"
            );
        }
    }
}
