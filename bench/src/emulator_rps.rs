//! How many requests a second the emulator serves (`imconnector.status`, limits off), so we
//! know it is never what limits the other figures.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use imconnector_emulator::Emulator;
use imconnector_transport::RateLimit;
use serde_json::{json, Value};

use crate::measure::per_second;
use crate::portal::{Portal, SetupError, CONNECTOR};

/// How much to run.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Requests in total.
    pub requests: u64,
    /// Connections hammering at once.
    pub concurrency: usize,
    /// Worker threads of the emulator's runtime.
    pub emulator_threads: usize,
}

/// What was measured.
#[derive(Debug, Clone, Copy)]
pub struct Figures {
    /// The plan.
    pub plan: Plan,
    /// Requests answered.
    pub answered: u64,
    /// Time taken.
    pub elapsed: Duration,
}

impl Figures {
    /// Requests served per second.
    pub fn rate(&self) -> f64 {
        per_second(self.answered, self.elapsed)
    }
}

/// Hammers a fresh emulator with raw HTTP calls from a one-thread load generator.
///
/// # Errors
/// When setup or a request fails.
pub fn run(plan: Plan) -> Result<Figures, SetupError> {
    let portal = Portal::start(Emulator::builder().lines(1), plan.emulator_threads)?;
    let access = portal.access();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let figures = runtime.block_on(async {
        Portal::connect(&access.client(RateLimit::Off)?, 1).await?;
        let http = reqwest::Client::builder().no_proxy().build()?;
        let url = format!("{}imconnector.status", access.rest_url);
        let body = serde_json::to_vec(
            &json!({"CONNECTOR": CONNECTOR, "LINE": 1, "auth": access.access_token}),
        )?;
        let next = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..plan.concurrency.max(1) {
            let (http, url, body, next) =
                (http.clone(), url.clone(), body.clone(), Arc::clone(&next));
            tasks.spawn(async move {
                let mut answered = 0u64;
                while next.fetch_add(1, Ordering::Relaxed) < plan.requests {
                    let response = http
                        .post(&url)
                        .header(reqwest::header::CONTENT_TYPE, "application/json")
                        .body(body.clone())
                        .send()
                        .await?;
                    let answer: Value = serde_json::from_slice(&response.bytes().await?)?;
                    if answer["result"]["STATUS"] != Value::Bool(true) {
                        return Err::<u64, SetupError>(
                            format!("unexpected answer {answer}").into(),
                        );
                    }
                    answered += 1;
                }
                Ok(answered)
            });
        }
        let mut answered = 0;
        while let Some(joined) = tasks.join_next().await {
            answered += joined??;
        }
        Ok::<_, SetupError>(Figures {
            plan,
            answered,
            elapsed: started.elapsed(),
        })
    })?;
    drop(runtime);
    drop(portal);
    Ok(figures)
}
