//! A redis-server of a test's own, so the test can stop it and start it again (without
//! persistence: it comes back empty, as after a crash of a cache-only Redis).

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

/// How long a starting redis-server may take on a loaded machine.
const START_PATIENCE: Duration = Duration::from_secs(30);

/// A redis-server on a free loopback port, killed when dropped.
pub struct RedisProcess {
    port: u16,
    settings: Vec<String>,
    child: Option<Child>,
}

impl RedisProcess {
    /// Starts redis-server (Debian's package; `.ci/redis.sh` installs it) on a free port and
    /// waits until it answers.
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// As [`start`](Self::start), with more command-line settings (e.g.
    /// `["--maxmemory-policy", "allkeys-lru"]`).
    pub async fn start_with(settings: &[&str]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free loopback port")
            .port();
        let mut redis = Self {
            port,
            settings: settings.iter().map(|&setting| setting.to_owned()).collect(),
            child: None,
        };
        redis.restart().await;
        redis
    }

    /// `redis://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Kills the server (as a crash would) and waits until it is gone.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.expect("redis-server stops");
        }
    }

    /// Starts the server again on the same port (empty) and waits until it answers.
    pub async fn restart(&mut self) {
        self.stop().await;
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args(&self.settings)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server starts (install it with `bash .ci/redis.sh start`)");
        self.child = Some(child);
        let started = std::time::Instant::now();
        while !self.answers().await {
            assert!(
                started.elapsed() < START_PATIENCE,
                "redis-server did not answer on port {}",
                self.port
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Whether the server answers `PING`.
    async fn answers(&self) -> bool {
        let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await else {
            return false;
        };
        if stream.write_all(b"PING\r\n").await.is_err() {
            return false;
        }
        let mut answer = [0_u8; 7];
        stream.read_exact(&mut answer).await.is_ok() && &answer == b"+PONG\r\n"
    }
}
