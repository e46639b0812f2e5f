//! The consumer of a durable inbox ([`InboxStore`]): reads its entries into the pipeline and
//! acknowledges each once its [`Ticket`](super::Ticket) says it is done.
//!
//! At start it reads the entries it had read before a restart (its own pending ones, under the
//! same consumer name), then new ones; the entries this process's receiver appended come
//! already pending for it and decoded (see [`super::local`]), and when one of those did not
//! reach it that way it scans its pending entries again. Every quarter of
//! [`min_idle`](ConsumerOptions::min_idle) it takes the entries of replicas that stopped
//! touching theirs for that long, and touches the ones it still works on.
//! [`Outcome::Handled`] and [`Outcome::Duplicate`] acknowledge an entry,
//! [`Outcome::Failed`] moves it to the store's failed list; an entry abandoned (the process
//! stopping) stays pending for the next start or another replica. One task acknowledges: the
//! entries that finished while its previous call was out go in one
//! [`ack_all`](InboxStore::ack_all), so a busy inbox costs far fewer calls than entries.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use futures::stream::{FuturesUnordered, StreamExt};
use futures::FutureExt;
use imconnector_api::events::Event;
use imconnector_api::ids::MemberId;
use imconnector_transport::inbox::{AppendedAndRead, InboxEntry, InboxError, InboxStore};
use imconnector_transport::InvalidRequest;
use tokio::sync::{mpsc, watch};

use super::local::{feed, Finished, LocalIntake, SharedIntake, Working};
use super::{DedupKey, EventHandler, Inbound, Outcome, PortalClients, Ticket};
use crate::log_text::untrusted;

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// [`InboxStore`] behind a pointer, so the receiver and the consumer need no type parameter
/// for it.
pub(crate) trait ErasedInbox: Send + Sync + 'static {
    #[cfg_attr(not(feature = "server"), allow(dead_code))] // used by the receiver (`server`)
    fn append_and_read<'a>(
        &'a self,
        key: &'a str,
        member_id: &'a MemberId,
        payload: &'a str,
        consumer: &'a str,
    ) -> BoxFuture<'a, Result<AppendedAndRead, InboxError>>;
    fn read<'a>(
        &'a self,
        consumer: &'a str,
        max: usize,
        wait: Duration,
    ) -> BoxFuture<'a, Result<Vec<InboxEntry>, InboxError>>;
    fn pending<'a>(
        &'a self,
        consumer: &'a str,
        after: Option<&'a str>,
        max: usize,
    ) -> BoxFuture<'a, Result<Vec<InboxEntry>, InboxError>>;
    fn claim<'a>(
        &'a self,
        consumer: &'a str,
        min_idle: Duration,
        max: usize,
    ) -> BoxFuture<'a, Result<Vec<InboxEntry>, InboxError>>;
    fn touch<'a>(
        &'a self,
        consumer: &'a str,
        ids: &'a [String],
    ) -> BoxFuture<'a, Result<(), InboxError>>;
    fn ack_all<'a>(&'a self, ids: &'a [String]) -> BoxFuture<'a, Result<(), InboxError>>;
    fn fail<'a>(&'a self, id: &'a str, reason: &'a str) -> BoxFuture<'a, Result<(), InboxError>>;
}

impl<S: InboxStore> ErasedInbox for S {
    fn append_and_read<'a>(
        &'a self,
        key: &'a str,
        member_id: &'a MemberId,
        payload: &'a str,
        consumer: &'a str,
    ) -> BoxFuture<'a, Result<AppendedAndRead, InboxError>> {
        Box::pin(InboxStore::append_and_read(
            self, key, member_id, payload, consumer,
        ))
    }
    fn read<'a>(
        &'a self,
        consumer: &'a str,
        max: usize,
        wait: Duration,
    ) -> BoxFuture<'a, Result<Vec<InboxEntry>, InboxError>> {
        Box::pin(InboxStore::read(self, consumer, max, wait))
    }
    fn pending<'a>(
        &'a self,
        consumer: &'a str,
        after: Option<&'a str>,
        max: usize,
    ) -> BoxFuture<'a, Result<Vec<InboxEntry>, InboxError>> {
        Box::pin(InboxStore::pending(self, consumer, after, max))
    }
    fn claim<'a>(
        &'a self,
        consumer: &'a str,
        min_idle: Duration,
        max: usize,
    ) -> BoxFuture<'a, Result<Vec<InboxEntry>, InboxError>> {
        Box::pin(InboxStore::claim(self, consumer, min_idle, max))
    }
    fn touch<'a>(
        &'a self,
        consumer: &'a str,
        ids: &'a [String],
    ) -> BoxFuture<'a, Result<(), InboxError>> {
        Box::pin(InboxStore::touch(self, consumer, ids))
    }
    fn ack_all<'a>(&'a self, ids: &'a [String]) -> BoxFuture<'a, Result<(), InboxError>> {
        Box::pin(InboxStore::ack_all(self, ids))
    }
    fn fail<'a>(&'a self, id: &'a str, reason: &'a str) -> BoxFuture<'a, Result<(), InboxError>> {
        Box::pin(InboxStore::fail(self, id, reason))
    }
}

pub(crate) type SharedInbox = Arc<dyn ErasedInbox>;

/// Who a consumer is and how it reads; from [`ConsumerOptions::new`].
#[derive(Debug, Clone)]
pub struct ConsumerOptions {
    name: String,
    batch: usize,
    min_idle: Duration,
    read_wait: Duration,
}

impl ConsumerOptions {
    /// A consumer named `name`: give each replica its own name, the same one across its
    /// restarts (e.g. the host name), so a restarted replica finds the entries it had read. It
    /// reads 64 entries at a time, waits up to 1 s for new ones, and takes another replica's
    /// entries after 60 s without a touch.
    ///
    /// # Errors
    /// [`InvalidRequest`] naming `name` when it is empty, over 200 characters or not printable
    /// ASCII.
    pub fn new(name: impl Into<String>) -> Result<Self, InvalidRequest> {
        let name = name.into();
        if name.is_empty() || name.len() > 200 || !name.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(InvalidRequest::new(
                "name",
                "must be 1 to 200 printable ASCII characters without spaces",
            ));
        }
        Ok(Self {
            name,
            batch: 64,
            min_idle: Duration::from_secs(60),
            read_wait: Duration::from_secs(1),
        })
    }

    /// The consumer's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Reads at most `count` entries at a time (default 64).
    ///
    /// # Errors
    /// [`InvalidRequest`] naming `batch` when it is 0.
    pub fn batch(mut self, count: usize) -> Result<Self, InvalidRequest> {
        if count == 0 {
            return Err(InvalidRequest::new("batch", "must be at least 1"));
        }
        self.batch = count;
        Ok(self)
    }

    /// Takes another replica's entries once nobody touched them for `idle` (default 60 s);
    /// looks for such entries, and touches its own, every quarter of it. A live replica
    /// touches what it works on, so only a dead one's entries go idle.
    ///
    /// # Errors
    /// [`InvalidRequest`] naming `min_idle` below 100 ms.
    pub fn min_idle(mut self, idle: Duration) -> Result<Self, InvalidRequest> {
        if idle < Duration::from_millis(100) {
            return Err(InvalidRequest::new("min_idle", "must be at least 100 ms"));
        }
        self.min_idle = idle;
        Ok(self)
    }

    /// How long one read waits for new entries before the consumer looks around again
    /// (default 1 s).
    pub fn read_wait(mut self, wait: Duration) -> Self {
        self.read_wait = wait;
        self
    }
}

/// At most this many finished entries are settled in one round of the acknowledging task.
const SETTLED_PER_ROUND: usize = 1_000;

impl<H: EventHandler, C: PortalClients> Inbound<H, C> {
    /// Starts a consumer of `store` feeding this pipeline, on a task of its own; it stops at
    /// [`shutdown`](Self::shutdown), which waits for it. See [`ConsumerOptions`] for what it
    /// reads and when it acknowledges.
    ///
    /// Call it inside a Tokio runtime.
    pub fn consume<S: InboxStore>(&self, store: S, options: ConsumerOptions) {
        self.consume_shared(Arc::new(store), options);
    }

    /// [`consume`](Self::consume), also taking the entries this process's receiver appends
    /// through the returned intake (see [`super::local`]).
    pub(crate) fn consume_shared(
        &self,
        store: SharedInbox,
        options: ConsumerOptions,
    ) -> SharedIntake {
        let stopping = self.inner.stopping();
        let (intake, queued) = LocalIntake::new(options.name.clone());
        let intake = Arc::new(intake);
        let (finished, to_settle) = mpsc::unbounded_channel();
        let settler = tokio::spawn(settle(
            Arc::clone(&store),
            Arc::clone(intake.working()),
            to_settle,
        ));
        let feeder = tokio::spawn(feed(
            self.clone(),
            queued,
            finished.clone(),
            stopping.clone(),
        ));
        let source = Source {
            store,
            intake: Arc::clone(&intake),
        };
        let tasks = Tasks {
            finished,
            settler,
            feeder,
        };
        let task = tokio::spawn(consume(self.clone(), source, options, tasks, stopping));
        self.inner.add_consumer(task);
        intake
    }
}

/// Where a consumer's entries come from: the inbox, and the events this process appended to it.
struct Source {
    store: SharedInbox,
    intake: SharedIntake,
}

/// The consumer's helper tasks, and its sender of finished entries to the acknowledging one.
struct Tasks {
    finished: Finished,
    settler: tokio::task::JoinHandle<()>,
    feeder: tokio::task::JoinHandle<()>,
}

async fn consume<H: EventHandler, C: PortalClients>(
    pipeline: Inbound<H, C>,
    source: Source,
    options: ConsumerOptions,
    tasks: Tasks,
    mut stopping: watch::Receiver<bool>,
) {
    let store = &source.store;
    let working = source.intake.working();
    let finished = &tasks.finished;
    let name = options.name.as_str();
    // First what this consumer had read before it stopped.
    submit_pending(&pipeline, &source, &options, finished, &mut stopping).await;
    let claim_every = options.min_idle / 4;
    let mut last_claim: Option<tokio::time::Instant> = None;
    while !*stopping.borrow() {
        if last_claim.is_none_or(|at| at.elapsed() >= claim_every) {
            last_claim = Some(tokio::time::Instant::now());
            let ids: Vec<String> = working
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .iter()
                .cloned()
                .collect();
            if let Err(error) = store.touch(name, &ids).await {
                tracing::warn!(error = %untrusted(&error), "cannot touch the inbox entries in work");
            }
            match store.claim(name, options.min_idle, options.batch).await {
                Ok(entries) => {
                    if !entries.is_empty() {
                        tracing::info!(
                            count = entries.len(),
                            "took idle inbox entries of another replica"
                        );
                    }
                    submit_all(&pipeline, &source, entries, finished).await;
                }
                Err(error) => pause_after(&error, &mut stopping).await,
            }
        }
        let wait = options.read_wait.min(claim_every);
        let read = tokio::select! {
            read = store.read(name, options.batch.min(pipeline.room().max(1)), wait) => read,
            _ = stopping.changed() => break,
        };
        match read {
            Ok(entries) => submit_all(&pipeline, &source, entries, finished).await,
            Err(error) => pause_after(&error, &mut stopping).await,
        }
        if source.intake.take_missed() {
            submit_pending(&pipeline, &source, &options, finished, &mut stopping).await;
        }
    }
    // Stopping: the pipeline drains; acknowledge what finishes (the settler ends once the
    // senders are gone and every ticket it was given resolved).
    let Tasks {
        finished,
        settler,
        feeder,
    } = tasks;
    drop(finished);
    if feeder.await.is_err() {
        tracing::error!("the inbox's feeding task panicked");
    }
    if settler.await.is_err() {
        tracing::error!("the inbox's acknowledging task panicked");
    }
}

/// Submits the entries pending for this consumer that it is not working on: after a restart,
/// what it had read before; later, entries that became pending for it without reaching it
/// (see [`super::local`]).
async fn submit_pending<H: EventHandler, C: PortalClients>(
    pipeline: &Inbound<H, C>,
    source: &Source,
    options: &ConsumerOptions,
    finished: &Finished,
    stopping: &mut watch::Receiver<bool>,
) {
    let mut after: Option<String> = None;
    loop {
        if *stopping.borrow() {
            break;
        }
        match source
            .store
            .pending(&options.name, after.as_deref(), options.batch)
            .await
        {
            Ok(entries) if entries.is_empty() => break,
            Ok(mut entries) => {
                after = entries.last().map(|entry| entry.id.clone());
                {
                    let working = source.intake.working();
                    let working = working.lock().unwrap_or_else(PoisonError::into_inner);
                    entries.retain(|entry| !working.contains(&entry.id));
                }
                submit_all(pipeline, source, entries, finished).await;
            }
            Err(error) => pause_after(&error, stopping).await,
        }
    }
}

/// Waits for the tickets of the submitted entries and acknowledges (or moves aside) the
/// entries whose tickets resolved: all that finished since the previous round in one
/// [`ack_all`](InboxStore::ack_all). An entry is forgotten from `working` only after that, so it
/// is touched until acknowledged. Ends once the consumer stopped sending and every ticket
/// resolved.
async fn settle(
    store: SharedInbox,
    working: Working,
    mut to_settle: mpsc::UnboundedReceiver<(String, Ticket)>,
) {
    let mut waiting = FuturesUnordered::new();
    let mut incoming = Vec::new();
    let mut round = Vec::new();
    let mut open = true;
    while open || !waiting.is_empty() {
        tokio::select! {
            received = to_settle.recv_many(&mut incoming, SETTLED_PER_ROUND), if open => {
                open = received > 0;
                for (id, ticket) in incoming.drain(..) {
                    waiting.push(async move { (id, ticket.await) });
                }
                continue;
            }
            Some(settled) = waiting.next(), if !waiting.is_empty() => round.push(settled),
        }
        // What else finished meanwhile goes in the same round.
        while round.len() < SETTLED_PER_ROUND {
            match waiting.next().now_or_never() {
                Some(Some(settled)) => round.push(settled),
                _ => break,
            }
        }
        settle_round(&store, &working, &mut round).await;
    }
}

async fn settle_round(store: &SharedInbox, working: &Working, round: &mut Vec<(String, Outcome)>) {
    let mut handled = Vec::new();
    let mut done = Vec::new();
    for (id, outcome) in round.drain(..) {
        match outcome {
            Outcome::Handled | Outcome::Duplicate => handled.push(id),
            Outcome::Failed(failure) => {
                if let Err(error) = store.fail(&id, &failure.to_string()).await {
                    tracing::warn!(error = %untrusted(&error), entry = %untrusted(&id), "cannot move a failed inbox entry aside; it will be handled again");
                }
                done.push(id);
            }
            // Another submission of it reports, and forgets it.
            Outcome::AlreadyQueued => {}
            // The process stops: the entry stays pending for a replica.
            Outcome::Abandoned => done.push(id),
        }
    }
    if let Err(error) = store.ack_all(&handled).await {
        tracing::warn!(error = %untrusted(&error), count = handled.len(), "cannot acknowledge inbox entries; they will be handled again");
    }
    let mut working = working.lock().unwrap_or_else(PoisonError::into_inner);
    for id in handled.iter().chain(&done) {
        working.remove(id);
    }
}

async fn pause_after(error: &InboxError, stopping: &mut watch::Receiver<bool>) {
    tracing::warn!(error = %untrusted(error), "the inbox cannot be read; trying again in 1 s");
    let _ = tokio::time::timeout(Duration::from_secs(1), stopping.changed()).await;
}

async fn submit_all<H: EventHandler, C: PortalClients>(
    pipeline: &Inbound<H, C>,
    source: &Source,
    entries: Vec<InboxEntry>,
    finished: &Finished,
) {
    let store = &source.store;
    let working = source.intake.working();
    for entry in entries {
        let appended_here = source.intake.take_kept(&entry.id);
        let decoded = appended_here.map_or_else(|| decode(&entry.payload), Ok);
        let event = match decoded {
            Ok(event) => event,
            Err(reason) => {
                tracing::error!(entry = %untrusted(&entry.id), reason = %untrusted(&reason), "an inbox entry cannot be decoded; moving it to the failed list");
                if let Err(error) = store.fail(&entry.id, &reason).await {
                    tracing::warn!(error = %untrusted(&error), "cannot move an inbox entry aside");
                }
                continue;
            }
        };
        working
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(entry.id.clone());
        let submitted = pipeline
            .submit(DedupKey::new(entry.key), entry.member_id, event)
            .await;
        let Ok(ticket) = submitted else {
            // Shut down: the entry stays pending for the next start.
            break;
        };
        // The settler runs until this consumer stops sending: this cannot fail.
        let _ = finished.send((entry.id, ticket));
    }
}

fn decode(payload: &str) -> Result<Event, String> {
    let value: serde_json::Value =
        serde_json::from_str(payload).map_err(|error| format!("not JSON: {error}"))?;
    Event::from_value(value).map_err(|error| error.to_string())
}
