//! Redis discovery, emulator portals, and replicas as OS processes (the test binary re-runs
//! itself with a role and a plan in its environment).

use std::{
    process::Stdio,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use imconnector_emulator::{Emulator, ExposeSecret};
use imconnector_redis::RedisBackend;
use imconnector_transport::{Client, ClientBuilder, OAuthApp, RateLimit, RetryPolicy, Tokens};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

/// Where the tests find Redis.
pub const URL_VAR: &str = "IMCONNECTOR_REDIS_URL";
/// Where the tests find the TLS Redis, and the CA file it trusts.
pub const TLS_URL_VAR: &str = "IMCONNECTOR_REDISS_URL";
pub const TLS_CA_VAR: &str = "IMCONNECTOR_REDIS_TLS_CA";
/// Set in a replica process: the JSON plan it runs.
const PLAN_VAR: &str = "IMCONNECTOR_REDIS_TEST_PLAN";
/// The line a replica prints its report on.
const REPORT_PREFIX: &str = "REPLICA-REPORT ";
/// Long enough for a loaded 2-core machine; reached only when something is broken.
pub const PATIENCE: Duration = Duration::from_secs(120);

/// The Redis URL, or `None` (after saying so) when it is not configured. In CI (`CI` set to
/// anything but `false`/`0`) a missing URL fails the test instead: the Redis tests must run there.
pub fn redis_url() -> Option<String> {
    if let Ok(url) = std::env::var(URL_VAR) {
        if !url.trim().is_empty() {
            return Some(url);
        }
    }
    let in_ci =
        std::env::var("CI").is_ok_and(|value| !matches!(value.as_str(), "" | "0" | "false"));
    assert!(
        !in_ci,
        "{URL_VAR} is not set but CI is: start Redis with `eval \"$(bash .ci/redis.sh start)\"` before the tests"
    );
    eprintln!(
        "skipped: no Redis ({URL_VAR} is not set; run `eval \"$(bash .ci/redis.sh start)\"` first)"
    );
    None
}

/// The TLS Redis `.ci/redis.sh` starts: its `rediss://` URL and the PEM of the CA that signed
/// its certificate; `None` (after saying so) when not configured, a failure in CI.
pub fn rediss_url_and_ca() -> Option<(String, Vec<u8>)> {
    let url = std::env::var(TLS_URL_VAR)
        .ok()
        .filter(|url| !url.trim().is_empty());
    let ca = std::env::var(TLS_CA_VAR)
        .ok()
        .filter(|ca| !ca.trim().is_empty());
    if let (Some(url), Some(ca)) = (url, ca) {
        let pem = std::fs::read(&ca).unwrap_or_else(|error| panic!("{TLS_CA_VAR} {ca}: {error}"));
        return Some((url, pem));
    }
    let in_ci =
        std::env::var("CI").is_ok_and(|value| !matches!(value.as_str(), "" | "0" | "false"));
    assert!(
        !in_ci,
        "{TLS_URL_VAR} or {TLS_CA_VAR} is not set but CI is: start Redis with `eval \"$(bash .ci/redis.sh start)\"` before the tests"
    );
    eprintln!("skipped: no TLS Redis ({TLS_URL_VAR}, {TLS_CA_VAR}; run `eval \"$(bash .ci/redis.sh start)\"` first)");
    None
}

/// A key prefix no other test (or earlier run) uses.
pub fn unique_prefix(test: &str) -> String {
    format!("imconnector-test-{test}-{:016x}", rand::random::<u64>())
}

/// A backend with a unique prefix and short timings.
pub async fn backend(url: &str, prefix: &str, lease: Duration) -> RedisBackend {
    RedisBackend::builder("app.test")
        .key_prefix(prefix)
        .refresh_lease(lease)
        .refresh_poll_interval(Duration::from_millis(20))
        .max_refresh_wait(PATIENCE)
        .connect(url)
        .await
        .expect("Redis answers")
}

/// Retries with short waits, so the tests spend their time on behaviour.
pub fn fast_retries() -> RetryPolicy {
    RetryPolicy::default()
        .with_max_attempts(6)
        .with_initial_backoff(Duration::from_millis(20))
        .with_max_backoff(Duration::from_millis(200))
        .with_max_elapsed(Duration::from_secs(30))
}

/// Everything a replica needs to reach the portal, passed through its environment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PortalAccess {
    pub redis_url: String,
    pub prefix: String,
    pub member_id: String,
    pub rest_url: String,
    pub oauth_url: String,
    pub client_id: String,
    pub client_secret: String,
    pub lease_ms: u64,
}

impl PortalAccess {
    pub fn of(portal: &Emulator, redis_url: &str, prefix: &str, lease: Duration) -> Self {
        let app = portal.app();
        Self {
            redis_url: redis_url.to_owned(),
            prefix: prefix.to_owned(),
            member_id: app.member_id.clone(),
            rest_url: portal.rest_url(),
            oauth_url: portal.oauth_url(),
            client_id: app.client_id.clone(),
            client_secret: app.client_secret.expose_secret().to_owned(),
            lease_ms: u64::try_from(lease.as_millis()).expect("short lease"),
        }
    }

    pub fn app(&self) -> OAuthApp {
        OAuthApp::new(self.client_id.clone(), self.client_secret.clone())
    }

    pub async fn backend(&self) -> RedisBackend {
        backend(
            &self.redis_url,
            &self.prefix,
            Duration::from_millis(self.lease_ms),
        )
        .await
    }

    /// A client like every replica builds: the stored pair, and Redis for the portal's token
    /// store, refresh lock and (unless `Off`) bucket.
    pub async fn client(&self, backend: &RedisBackend, rate_limit: RateLimit) -> Client {
        self.builder(backend, rate_limit)
            .await
            .build()
            .expect("client builds")
    }

    pub async fn builder(&self, backend: &RedisBackend, rate_limit: RateLimit) -> ClientBuilder {
        let stored = backend
            .token_store(&self.member_id)
            .expect("valid member_id")
            .load_versioned()
            .await
            .expect("Redis answers")
            .expect("the parent stored a pair");
        let builder = Client::builder()
            .oauth(self.app(), stored.tokens)
            .oauth_server(self.oauth_url.clone())
            .retry_policy(fast_retries());
        backend
            .configure(&self.member_id, rate_limit, builder)
            .expect("valid member_id")
    }
}

/// The emulator's fresh pair as the transport's `Tokens`.
pub fn portal_tokens(portal: &Emulator) -> Tokens {
    let issued = portal.tokens();
    Tokens::new(
        issued.access_token.expose_secret(),
        issued.refresh_token.expose_secret(),
    )
    .with_client_endpoint(portal.rest_url())
    .with_member_id(portal.app().member_id)
    .with_expires_at(UNIX_EPOCH + Duration::from_secs(u64::try_from(issued.expires).unwrap_or(0)))
}

/// The plan of this process when it runs as a replica.
pub fn replica_plan<T: DeserializeOwned>() -> Option<T> {
    let text = std::env::var(PLAN_VAR).ok()?;
    Some(serde_json::from_str(&text).expect("the parent wrote a valid plan"))
}

/// Prints the replica's report for the parent.
pub fn report<T: Serialize>(report: &T) {
    println!(
        "{REPORT_PREFIX}{}",
        serde_json::to_string(report).expect("serialisable")
    );
}

/// Runs test `test` (its path within this binary) of this same binary as a replica with `plan`.
pub fn spawn_replica<T: Serialize>(test: &str, plan: &T) -> tokio::process::Child {
    let exe = std::env::current_exe().expect("the test binary's path");
    tokio::process::Command::new(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(PLAN_VAR, serde_json::to_string(plan).expect("serialisable"))
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the test binary runs again")
}

/// Waits for a replica and returns its report.
pub async fn replica_report<T: DeserializeOwned>(child: tokio::process::Child) -> T {
    let output = tokio::time::timeout(PATIENCE, child.wait_with_output())
        .await
        .expect("the replica finishes")
        .expect("the replica's output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        // libtest may have printed the test's name on the same line first.
        .find_map(|line| line.split_once(REPORT_PREFIX).map(|(_, report)| report))
        .unwrap_or_else(|| {
            panic!(
                "replica ({}) printed no report.\nstdout:\n{stdout}\nstderr:\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            )
        });
    assert!(output.status.success(), "replica failed: {stdout}");
    serde_json::from_str(line).expect("a report")
}

/// Seconds since 1970, for timestamps replicas report.
pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64()
}

/// Replicas wait here until the parent says go, so they start together.
pub async fn barrier(backend: &RedisBackend, prefix: &str) {
    let mut connection = backend.connection();
    let _: i64 = redis::cmd("INCR")
        .arg(format!("{prefix}:ready"))
        .query_async(&mut connection)
        .await
        .expect("Redis answers");
    let started = std::time::Instant::now();
    loop {
        let go: Option<String> = redis::cmd("GET")
            .arg(format!("{prefix}:go"))
            .query_async(&mut connection)
            .await
            .expect("Redis answers");
        if go.is_some() {
            return;
        }
        assert!(started.elapsed() < PATIENCE, "the parent never said go");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The parent: waits until `count` replicas reached the barrier, then releases them.
pub async fn release_barrier(backend: &RedisBackend, prefix: &str, count: i64) {
    let mut connection = backend.connection();
    let started = std::time::Instant::now();
    loop {
        let ready: Option<i64> = redis::cmd("GET")
            .arg(format!("{prefix}:ready"))
            .query_async(&mut connection)
            .await
            .expect("Redis answers");
        if ready.unwrap_or(0) >= count {
            break;
        }
        assert!(started.elapsed() < PATIENCE, "replicas never got ready");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let _: () = redis::cmd("SET")
        .arg(format!("{prefix}:go"))
        .arg("1")
        .query_async(&mut connection)
        .await
        .expect("Redis answers");
}

/// Deletes every key under `prefix` (tests clean up after themselves).
pub async fn clean(backend: &RedisBackend, prefix: &str) {
    let mut connection = backend.connection();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut connection)
        .await
        .expect("Redis answers");
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL")
            .arg(keys)
            .query_async(&mut connection)
            .await
            .expect("Redis answers");
    }
}

/// Makes `count` concurrent `imconnector.status` calls (lines 1..=count) through `client`:
/// how many succeeded, and the errors of the others.
pub async fn concurrent_status_calls(client: &Client, count: usize) -> (usize, Vec<String>) {
    let calls: Vec<_> = (0..count)
        .map(|line| {
            let client = client.clone();
            tokio::spawn(async move {
                client
                    .call_raw(
                        "imconnector.status",
                        serde_json::json!({"CONNECTOR": "acme_chat", "LINE": line + 1}),
                    )
                    .await
            })
        })
        .collect();
    let (mut succeeded, mut errors) = (0, Vec::new());
    for call in calls {
        match call.await.expect("the call task") {
            Ok(_) => succeeded += 1,
            Err(error) => errors.push(error.to_string()),
        }
    }
    (succeeded, errors)
}
