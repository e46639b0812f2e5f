//! Offline event rows read under the portal's standard bucket: operators replied while the
//! connector was down, then the [`OfflinePoller`] reads, handles, confirms and clears every row
//! through a client paced at the bucket.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use imconnector::events::MessageAddEvent;
use imconnector::offline::OfflinePoller;
use imconnector::receiver::{EventHandler, HandlerError, SentMessages};
use imconnector_api::ids::{EventsUrl, LineId};
use imconnector_api::methods::{BindEvent, SendMessages};
use imconnector_api::types::{EventType, MessageBody, MessageChat, MessageIn, MessageUser};
use imconnector_emulator::{Emulator, RateLimit as PortalLimit};
use imconnector_transport::{MemberId, MemoryOfflineCursors, RateLimit};

use crate::portal::{connector, Portal, SetupError};
use crate::throughput::{BURST, DRAIN_PER_SECOND};

/// One run.
#[derive(Debug, Clone, Copy)]
pub struct Workload {
    /// Operator replies queued while the connector was down.
    pub replies: u64,
    /// Chats they are spread over.
    pub chats: u64,
    /// Emulated seconds per real second.
    pub time_scale: f64,
    /// Whether each reply's delivery is confirmed (`imconnector.send.status.delivery`).
    pub confirm: bool,
}

/// What one run measured.
#[derive(Debug, Clone)]
pub struct Figures {
    /// The workload.
    pub workload: Workload,
    /// From the poller's start to the last row cleared.
    pub elapsed: Duration,
    /// Rows the handler saw.
    pub handled: u64,
    /// Rows still queued at the end (0 when every row was cleared).
    pub left: usize,
    /// REST calls of the run, per method.
    pub requests: BTreeMap<String, u64>,
    /// `QUERY_LIMIT_EXCEEDED` answers the emulator sent.
    pub limit_refusals: u64,
}

impl Figures {
    /// Rows per real second.
    pub fn rows_per_second(&self) -> f64 {
        self.handled as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }

    /// Rows per second a real portal's bucket allows at this run's rows per call (2 calls a
    /// second). Not the run's rate divided by the time scale: waits in real time (the
    /// pipeline gathering confirmations) do not scale with the emulator's clock.
    pub fn rows_per_portal_second(&self) -> f64 {
        DRAIN_PER_SECOND * self.handled as f64 / self.total_requests().max(1) as f64
    }

    /// REST calls of the run.
    pub fn total_requests(&self) -> u64 {
        self.requests.values().sum()
    }
}

/// Counts operator messages and "delivers" each.
struct Counting(Arc<AtomicU64>);

impl EventHandler for Counting {
    async fn message_add(&self, event: MessageAddEvent) -> Result<SentMessages, HandlerError> {
        let mut sent = SentMessages::new();
        for item in &event.data.messages {
            sent.push(item, [format!("out-{}", item.im.message_id)]);
        }
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(sent)
    }
}

/// Runs one workload.
///
/// # Errors
/// When setup fails or the rows are not all handled within ten minutes.
pub fn run(workload: Workload) -> Result<Figures, SetupError> {
    let portal = Portal::start(
        Emulator::builder().lines(1).time_scale(workload.time_scale),
        1,
    )?;
    let access = portal.access();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let result = runtime.block_on(async {
        let setup = access.client(RateLimit::Off)?;
        Portal::connect(&setup, 1).await?;
        let line = LineId::new(1)?;
        // Bound offline only: nobody listens at this URL (the portal ignores it anyway).
        setup
            .call(
                &BindEvent::new(
                    "OnImConnectorMessageAdd",
                    EventsUrl::parse("http://127.0.0.1:9/events")?,
                )
                .with_event_type(EventType::Offline),
            )
            .await?;
        let customers = (0..workload.chats).map(|chat| {
            MessageIn::new(
                MessageUser::new(format!("customer-{chat}")),
                MessageBody::new()
                    .with_id(format!("in-{chat}"))
                    .with_text("Hello"),
                MessageChat::new(format!("chat-{chat}")),
            )
        });
        setup
            .call(&SendMessages::new(connector(), line, customers))
            .await?;
        for reply in 0..workload.replies {
            let chat = reply % workload.chats.max(1);
            portal.handle().operator_reply(
                1,
                &format!("chat-{chat}"),
                &format!("Operator reply {reply}: your order ships today"),
            )?;
        }
        let queued = portal.handle().offline_events().len();
        // The limit goes on after setup, so the measured run starts with a full burst.
        portal.handle().set_rate_limit(PortalLimit::Standard)?;
        let before = portal.handle().counters();
        let per_second = (DRAIN_PER_SECOND * workload.time_scale).round() as u32;
        let client = access.client(RateLimit::Custom {
            per_second,
            burst: BURST as u32,
        })?;
        let handled = Arc::new(AtomicU64::new(0));
        let poller =
            OfflinePoller::new(Counting(Arc::clone(&handled)), MemoryOfflineCursors::new())
                .interval(Duration::from_millis(50))
                .confirm_deliveries(workload.confirm);
        let app = portal.handle().app();
        let started = Instant::now();
        poller.add_portal(MemberId::from(app.member_id), app.domain, client);
        let deadline = started + Duration::from_secs(600);
        while !portal.handle().offline_events().is_empty() {
            if Instant::now() > deadline {
                return Err(
                    format!("{queued} rows queued, some still there after 10 minutes").into(),
                );
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let elapsed = started.elapsed();
        // Everything was cleared, so nothing is left to drain.
        poller.shutdown(Duration::from_secs(60)).await;
        let after = portal.handle().counters();
        let requests = after
            .requests
            .iter()
            .map(|(method, count)| {
                let earlier = before.requests.get(method).copied().unwrap_or(0);
                (method.clone(), count - earlier)
            })
            .filter(|(_, count)| *count > 0)
            .collect();
        Ok::<_, SetupError>(Figures {
            workload,
            elapsed,
            handled: handled.load(Ordering::SeqCst),
            left: portal.handle().offline_events().len(),
            requests,
            limit_refusals: after.query_limit_rejections - before.query_limit_rejections,
        })
    });
    drop(runtime);
    result
}
