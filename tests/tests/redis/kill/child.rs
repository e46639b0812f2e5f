//! The child connector of the inbound kill scenarios (issue 21): the portal it is installed
//! on, its receiver's plan, and its life ([`ChildConnector`]: started until ready, SIGKILLed,
//! or stopped gracefully).

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::Duration;

use imconnector_emulator::{Emulator, ExposeSecret, Faults};
use imconnector_redis::RedisBackend;
use imconnector_tests::kill::{
    InboundPlan, Plan, PortalAccess, RedisAccess, Report, Scenario, PLAN_VAR,
};
use rand::{rngs::StdRng, Rng};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::support::{backend, portal_tokens, unique_prefix, PATIENCE};

/// A loopback port free now, for a child to listen on across its restarts.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

/// `count` distinct reply indices, in order, between 5 % and 90 % of `replies`: the moments
/// (with a random delay after each) the child dies.
pub fn kill_points(rng: &mut StdRng, count: usize, replies: u64) -> Vec<u64> {
    let mut points = BTreeSet::new();
    while points.len() < count {
        points.insert(rng.random_range(replies / 20..replies * 9 / 10));
    }
    points.into_iter().collect()
}

/// A running `kill-connector` child in an inbound scenario.
pub struct ChildConnector {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    stdin: Option<ChildStdin>,
}

impl ChildConnector {
    /// Starts the child and waits until it listens (it printed `ready`).
    pub async fn start(plan: &Plan) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kill-connector"))
            .env(PLAN_VAR, plan.to_env())
            .env_remove("RUST_LOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("kill-connector starts");
        let stdin = child.stdin.take();
        let lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let mut connector = Self {
            child,
            lines,
            stdin,
        };
        connector.wait_for(&Report::Ready).await;
        connector
    }

    /// Reads the child's reports until `wanted`; panics if it ends first.
    async fn wait_for(&mut self, wanted: &Report) {
        loop {
            let line = tokio::time::timeout(PATIENCE, self.lines.next_line())
                .await
                .expect("the child reports in time")
                .expect("the child's stdout");
            let Some(line) = line else {
                let status = self.child.wait().await.expect("its status");
                panic!("the child ended ({status}) before it reported {wanted}");
            };
            if Report::parse(&line).as_ref() == Some(wanted) {
                return;
            }
        }
    }

    /// SIGKILL: no destructor, no flush, no goodbye.
    pub async fn kill(mut self) {
        self.child.start_kill().expect("SIGKILL");
        let status = tokio::time::timeout(PATIENCE, self.child.wait())
            .await
            .expect("the child ends")
            .expect("its status");
        assert!(!status.success(), "the child was killed ({status})");
    }

    /// Closes the child's stdin, its signal to stop serving and drain; waits for `done` and a
    /// successful exit.
    pub async fn stop(mut self) {
        drop(self.stdin.take());
        self.wait_for(&Report::Done).await;
        let status = tokio::time::timeout(PATIENCE, self.child.wait())
            .await
            .expect("the child ends")
            .expect("its status");
        assert!(status.success(), "the child drained and stopped: {status}");
    }
}

/// A portal (the emulator, one line, every REST call `rest_latency` slow so confirmations
/// are in flight when a kill comes) installed for a child: its first token pair stored in
/// Redis under a fresh prefix, as the installation left it. Returns the portal, the
/// parent's backend, and the plan of a child receiving with `inbound` in the online inbox
/// scenario (another scenario sets its own `scenario` on it).
pub async fn installed_portal(
    redis_url: &str,
    test: &str,
    seed: u64,
    rest_latency: Duration,
    inbound: InboundPlan,
) -> (Emulator, RedisBackend, Plan) {
    let portal = Emulator::builder()
        .lines(1)
        .faults(Faults::new(seed).latency(rest_latency, 1.0).rest_only())
        .start()
        .await
        .expect("emulator starts");
    let app = portal.app();
    let prefix = unique_prefix(test);
    let parent = backend(redis_url, &prefix, Duration::from_secs(5)).await;
    parent
        .token_store(&app.member_id)
        .expect("valid member_id")
        .replace(&portal_tokens(&portal))
        .await
        .expect("stored");
    let plan = Plan {
        scenario: Scenario::InboxRedis,
        portal: PortalAccess {
            rest_url: portal.rest_url(),
            oauth_url: portal.oauth_url(),
            client_id: app.client_id.clone(),
            client_secret: app.client_secret.expose_secret().to_owned(),
            member_id: app.member_id.clone(),
        },
        redis: RedisAccess {
            url: redis_url.to_owned(),
            key_prefix: prefix,
        },
        messages: 0,
        chats: 0,
        burst: 1,
        burst_every_ms: 0,
        first: 0,
        inbound: Some(InboundPlan {
            application_token: app.application_token.expose_secret().to_owned(),
            ..inbound
        }),
    };
    (portal, parent, plan)
}

/// A receiver's part of a plan: listening on a free port as `consumer`, its handler taking
/// `handler_delay` per reply.
pub fn receiver(
    consumer: &str,
    bind_events: bool,
    min_idle: Duration,
    handler_delay: Duration,
) -> InboundPlan {
    InboundPlan {
        port: free_port(),
        // Filled in by `installed_portal`.
        application_token: String::new(),
        consumer: consumer.to_owned(),
        bind_events,
        min_idle_ms: u64::try_from(min_idle.as_millis()).expect("small"),
        handler_delay_ms: u64::try_from(handler_delay.as_millis()).expect("small"),
    }
}
