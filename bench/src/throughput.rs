//! Customer messages delivered under the portal's standard bucket (burst 50, 2 requests a
//! second, sped up by the emulator's time scale): one `send.messages` per message (what a
//! connector does without the SDK's help) next to the facade's [`Sender`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use imconnector_api::ids::LineId;
use imconnector_api::methods::SendMessages;
use imconnector_api::types::{MessageBody, MessageChat, MessageIn, MessageUser};
use imconnector_emulator::{Emulator, RateLimit as PortalLimit};
use imconnector_transport::{Client, Error, ErrorCode, RateLimit};

use crate::measure::per_second;
use crate::portal::{connector, Portal, SetupError};
use crate::sender::{SendOutcome, Sender};

/// The portal's standard bucket, in emulated time.
pub const BURST: f64 = 50.0;
/// Requests the standard bucket drains per emulated second.
pub const DRAIN_PER_SECOND: f64 = 2.0;

/// One delivery run.
#[derive(Debug, Clone, Copy)]
pub struct Workload {
    /// Messages to deliver.
    pub messages: u64,
    /// Distinct chats they are spread over.
    pub chats: u64,
    /// Open lines the chats are spread over.
    pub lines: i64,
    /// Emulated seconds per real second.
    pub time_scale: f64,
}

impl Workload {
    /// Requests the bucket drains per real second.
    pub fn drain_per_real_second(&self) -> f64 {
        DRAIN_PER_SECOND * self.time_scale
    }

    /// The chat and line of message `index`.
    fn place(&self, index: u64) -> (u64, i64) {
        let chat = index % self.chats.max(1);
        let lines = u64::try_from(self.lines.max(1)).unwrap_or(1);
        let line = i64::try_from(chat % lines).unwrap_or(0) + 1;
        (chat, line)
    }

    /// Message `index` of the workload and its line.
    ///
    /// # Errors
    /// Never for the workloads of this crate (their lines are positive).
    pub fn message(&self, index: u64) -> Result<(LineId, MessageIn), SetupError> {
        let (chat, line) = self.place(index);
        let message = MessageIn::new(
            MessageUser::new(format!("customer-{chat}")),
            MessageBody::new()
                .with_id(format!("bench-{index}"))
                .with_text(format!(
                    "Customer message {index} in chat {chat}: where is my order?"
                )),
            MessageChat::new(format!("chat-{chat}")),
        );
        Ok((LineId::new(line)?, message))
    }
}

/// How messages are sent.
#[derive(Debug, Clone, Copy)]
pub enum Strategy {
    /// `client.call(SendMessages)` with one message, `concurrency` calls at once.
    OnePerCall {
        /// Calls under way at once.
        concurrency: usize,
    },
    /// The SDK's sender with these packing limits.
    Sender {
        /// Messages per `send.messages` call.
        messages_per_call: usize,
        /// Calls per request.
        calls_per_request: usize,
    },
}

impl Strategy {
    /// The most messages one HTTP request carries.
    pub fn messages_per_request(&self) -> u64 {
        match *self {
            Strategy::OnePerCall { .. } => 1,
            Strategy::Sender {
                messages_per_call,
                calls_per_request,
            } => u64::try_from(messages_per_call * calls_per_request).unwrap_or(u64::MAX),
        }
    }
}

/// What one run measured.
#[derive(Debug, Clone)]
pub struct Figures {
    /// The workload.
    pub workload: Workload,
    /// The strategy.
    pub strategy: Strategy,
    /// From the first message queued to the last outcome.
    pub elapsed: Duration,
    /// Messages the portal stored (counted by the emulator).
    pub stored: u64,
    /// Messages reported delivered to the caller.
    pub delivered: u64,
    /// Messages reported failed, rejected or unknown.
    pub not_delivered: u64,
    /// HTTP requests made (sender: its own count; one per call otherwise).
    pub requests: u64,
    /// `QUERY_LIMIT_EXCEEDED` answers the emulator sent.
    pub limit_refusals_sent: u64,
    /// Outcomes that carried `QUERY_LIMIT_EXCEEDED` to the caller.
    pub limit_refusals_seen: u64,
}

impl Figures {
    /// Delivered messages per real second.
    pub fn rate(&self) -> f64 {
        per_second(self.delivered, self.elapsed)
    }

    /// Messages per second the bucket allows at most over this run's duration: messages per
    /// request times the requests the bucket admits (`burst + drain x time`), per second.
    pub fn theoretical_rate(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds <= 0.0 {
            return 0.0;
        }
        let allowed_requests = BURST + self.workload.drain_per_real_second() * seconds;
        self.strategy.messages_per_request() as f64 * allowed_requests / seconds
    }

    /// The steady-state ceiling once the burst is spent: messages per request times drain.
    pub fn steady_ceiling(&self) -> f64 {
        self.strategy.messages_per_request() as f64 * self.workload.drain_per_real_second()
    }
}

fn is_limit_refusal(error: &Error) -> bool {
    error.code() == Some(&ErrorCode::QueryLimitExceeded)
}

/// Runs one workload with one strategy against a fresh emulator on its own runtime.
///
/// # Errors
/// When setup fails.
pub fn run(workload: Workload, strategy: Strategy) -> Result<Figures, SetupError> {
    let portal = Portal::start(
        Emulator::builder()
            .lines(usize::try_from(workload.lines).unwrap_or(1))
            .time_scale(workload.time_scale),
        1,
    )?;
    let access = portal.access();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let result = runtime.block_on(async {
        let setup = access.client(RateLimit::Off)?;
        Portal::connect(&setup, workload.lines).await?;
        // The limit goes on after setup, so the measured run starts with a full burst.
        portal.handle().set_rate_limit(PortalLimit::Standard)?;
        let per_second = (DRAIN_PER_SECOND * workload.time_scale).round() as u32;
        let client = access.client(RateLimit::Custom {
            per_second,
            burst: BURST as u32,
        })?;
        let started = Instant::now();
        let mut figures = match strategy {
            Strategy::OnePerCall { concurrency } => {
                one_per_call(&client, workload, concurrency).await?
            }
            Strategy::Sender {
                messages_per_call,
                calls_per_request,
            } => {
                let sender = Sender::builder(client, connector())
                    .messages_per_call(messages_per_call)
                    .calls_per_request(calls_per_request)
                    .start();
                with_sender(&sender, workload).await?
            }
        };
        figures.elapsed = started.elapsed();
        figures.strategy = strategy;
        let counters = portal.handle().counters();
        figures.limit_refusals_sent = counters.query_limit_rejections;
        figures.stored = portal
            .handle()
            .all_messages()
            .iter()
            .filter(|message| message.direction == imconnector_emulator::Direction::Incoming)
            .count() as u64;
        Ok::<_, SetupError>(figures)
    });
    drop(runtime);
    drop(portal);
    result
}

fn empty(workload: Workload) -> Figures {
    Figures {
        workload,
        strategy: Strategy::OnePerCall { concurrency: 1 },
        elapsed: Duration::ZERO,
        stored: 0,
        delivered: 0,
        not_delivered: 0,
        requests: 0,
        limit_refusals_sent: 0,
        limit_refusals_seen: 0,
    }
}

async fn one_per_call(
    client: &Client,
    workload: Workload,
    concurrency: usize,
) -> Result<Figures, SetupError> {
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let (client, next) = (client.clone(), Arc::clone(&next));
        tasks.spawn(async move {
            let mut tally = empty(workload);
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= workload.messages {
                    return Ok::<_, SetupError>(tally);
                }
                let (line, message) = workload.message(index)?;
                tally.requests += 1;
                match client
                    .call(&SendMessages::new(connector(), line, [message]))
                    .await
                {
                    Ok(_) => tally.delivered += 1,
                    Err(error) => {
                        tally.not_delivered += 1;
                        tally.limit_refusals_seen += u64::from(is_limit_refusal(&error));
                    }
                }
            }
        });
    }
    let mut total = empty(workload);
    while let Some(joined) = tasks.join_next().await {
        let tally = joined??;
        total.delivered += tally.delivered;
        total.not_delivered += tally.not_delivered;
        total.requests += tally.requests;
        total.limit_refusals_seen += tally.limit_refusals_seen;
    }
    Ok(total)
}

async fn with_sender(sender: &Sender, workload: Workload) -> Result<Figures, SetupError> {
    let mut submitted = Vec::with_capacity(usize::try_from(workload.messages).unwrap_or(0));
    for index in 0..workload.messages {
        let (line, message) = workload.message(index)?;
        submitted.push(sender.send(line, message).await?);
    }
    let mut figures = empty(workload);
    for queued in submitted {
        match queued.await.outcome {
            SendOutcome::Stored(_) => figures.delivered += 1,
            SendOutcome::Failed(error) | SendOutcome::Unknown(Some(error)) => {
                figures.not_delivered += 1;
                figures.limit_refusals_seen += u64::from(is_limit_refusal(&error));
            }
            _ => figures.not_delivered += 1,
        }
    }
    figures.requests = sender.stats().requests;
    Ok(figures)
}
