//! The engine: lanes (one handler at a time per chat), the bound on handlers in flight, and
//! each attempt of a handler (its own task, with a timeout, a panic caught).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use imconnector_api::events::Event;
use imconnector_api::ids::MemberId;
use tokio::sync::{oneshot, watch, Semaphore};
use tracing::Instrument as _;

use super::completion::Completion;
use super::confirm::{Confirmer, Waiting};
use super::dedup::{Dedup, Seen};
use super::handler::{EventHandler, SentMessages};
use super::key::lane_of;
use super::report::TicketState;
use super::{
    Closed, DedupKey, Failure, FailureReport, InboundOptions, Outcome, PortalClients, Ticket,
};
use crate::log_text::untrusted;

/// One event on its way through the pipeline.
struct Job {
    key: DedupKey,
    member_id: MemberId,
    event: Event,
    completion: Completion,
}

pub(crate) struct Inner<H, C> {
    pub(crate) handler: Arc<H>,
    confirmer: Option<Arc<Confirmer<H, C>>>,
    pub(crate) options: InboundOptions,
    /// Per lane, the events waiting behind the one running. A lane is present while its
    /// task runs.
    lanes: Mutex<HashMap<String, VecDeque<Job>>>,
    in_flight: Arc<Semaphore>,
    /// One permit per event held (queued, running or confirming).
    room: Arc<Semaphore>,
    dedup: Arc<Mutex<Dedup>>,
    unfinished: watch::Sender<usize>,
    closed: AtomicBool,
    /// Tells the durable inbox's consumers to stop reading.
    stopping: watch::Sender<bool>,
    consumers: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl<H: EventHandler, C: PortalClients> Inner<H, C> {
    pub(crate) fn new(handler: Arc<H>, confirm_with: Option<C>, options: InboundOptions) -> Self {
        Self {
            confirmer: confirm_with.map(|clients| {
                Arc::new(Confirmer::new(
                    Arc::clone(&handler),
                    clients,
                    options.confirm_linger,
                ))
            }),
            handler,
            lanes: Mutex::new(HashMap::new()),
            in_flight: Arc::new(Semaphore::new(options.max_in_flight)),
            room: Arc::new(Semaphore::new(options.max_held)),
            dedup: Arc::new(Mutex::new(Dedup::new(
                options.dedup_ttl,
                options.dedup_capacity,
            ))),
            unfinished: watch::Sender::new(0),
            closed: AtomicBool::new(false),
            stopping: watch::Sender::new(false),
            consumers: Mutex::new(Vec::new()),
            options,
        }
    }

    pub(crate) async fn submit(
        self: &Arc<Self>,
        key: DedupKey,
        member_id: MemberId,
        event: Event,
    ) -> Result<Ticket, Closed> {
        if self.is_closed() {
            return Err(Closed);
        }
        let room = Arc::clone(&self.room)
            .acquire_owned()
            .await
            .map_err(|_| Closed)?;
        match self.dedup().admit(&key) {
            Some(Seen::Handled) => return Ok(Ticket::ready(Outcome::Duplicate)),
            Some(Seen::Pending) => return Ok(Ticket::ready(Outcome::AlreadyQueued)),
            None => {}
        }
        let (done, waiting) = oneshot::channel();
        let lane = lane_of(&member_id, &event);
        let completion = Completion::new(
            done,
            self.unfinished.clone(),
            room,
            (Arc::clone(&self.dedup), key.clone()),
        );
        let job = Job {
            key,
            member_id,
            event,
            completion,
        };
        let first = {
            let mut lanes = self.lanes.lock().unwrap_or_else(PoisonError::into_inner);
            match lanes.get_mut(&lane) {
                Some(queue) => {
                    queue.push_back(job);
                    None
                }
                None => {
                    lanes.insert(lane.clone(), VecDeque::new());
                    Some(job)
                }
            }
        };
        if let Some(job) = first {
            tokio::spawn(Arc::clone(self).run_lane(lane, job));
        }
        Ok(Ticket(TicketState::Waiting(waiting)))
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Stops the consumers reading, refuses new events and waits until the held ones finish
    /// (and the consumers acknowledged them) or `deadline` passes.
    pub(crate) async fn drain(&self, deadline: tokio::time::Instant) -> usize {
        self.stopping.send_replace(true);
        self.closed.store(true, Ordering::Release);
        // Submissions waiting for room get `Closed`.
        self.room.close();
        let mut unfinished = self.unfinished.subscribe();
        let _ = tokio::time::timeout_at(deadline, unfinished.wait_for(|count| *count == 0)).await;
        let left = *unfinished.borrow();
        let consumers = std::mem::take(
            &mut *self
                .consumers
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for consumer in consumers {
            if tokio::time::timeout_at(deadline, consumer).await.is_err() {
                break;
            }
        }
        left
    }

    pub(crate) fn stopping(&self) -> watch::Receiver<bool> {
        self.stopping.subscribe()
    }

    pub(crate) fn add_consumer(&self, consumer: tokio::task::JoinHandle<()>) {
        self.consumers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(consumer);
    }

    /// How many events the pipeline may still take before a submission waits.
    pub(crate) fn room(&self) -> usize {
        self.room.available_permits()
    }

    fn dedup(&self) -> std::sync::MutexGuard<'_, Dedup> {
        self.dedup.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn run_lane(self: Arc<Self>, lane: String, mut job: Job) {
        loop {
            self.run(job).await;
            let next = {
                let mut lanes = self.lanes.lock().unwrap_or_else(PoisonError::into_inner);
                let next = lanes.get_mut(&lane).and_then(VecDeque::pop_front);
                if next.is_none() {
                    lanes.remove(&lane);
                }
                next
            };
            match next {
                Some(next) => job = next,
                None => return,
            }
        }
    }

    /// Runs the handler until it succeeds or the attempts run out, then hands the sent
    /// messages to the confirmer.
    async fn run(&self, job: Job) {
        let Job {
            key,
            member_id,
            event,
            completion,
        } = job;
        let origin = match &event {
            Event::MessageAdd(event) => Some((event.data.connector.clone(), event.data.line)),
            _ => None,
        };
        let name = event.name().to_owned();
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.attempt(&key, &member_id, event.clone()).await {
                Ok(sent) => {
                    // The key counts as handled once the completion says so: after the
                    // confirmation, so a source never settles a duplicate whose confirmation
                    // is still waiting (it is `AlreadyQueued` until then).
                    match (&self.confirmer, origin) {
                        (Some(confirmer), Some((connector, line))) if !sent.is_empty() => {
                            let waiting = Waiting {
                                connector,
                                line,
                                sent,
                                completion,
                            };
                            confirmer.enqueue(member_id, waiting);
                        }
                        _ => completion.finish(Outcome::Handled),
                    }
                    return;
                }
                Err(failure) if attempt < self.options.attempts => {
                    let delay = self.options.retry_delay * 2u32.saturating_pow(attempt - 1);
                    tracing::warn!(
                        event = %untrusted(&name),
                        member_id = %untrusted(&member_id),
                        key = %untrusted(&key),
                        attempt,
                        failure = %untrusted(&failure),
                        "the event handler failed; running it again in {delay:?}"
                    );
                    tokio::time::sleep(delay).await;
                }
                Err(failure) => {
                    tracing::error!(
                        event = %untrusted(&name),
                        member_id = %untrusted(&member_id),
                        key = %untrusted(&key),
                        attempts = attempt,
                        failure = %untrusted(&failure),
                        "the event handler failed on every attempt"
                    );
                    let report = FailureReport {
                        key,
                        member_id,
                        event: name,
                        attempts: attempt,
                        failure: failure.clone(),
                    };
                    let handler = Arc::clone(&self.handler);
                    tokio::spawn(async move { handler.handler_failed(report).await });
                    completion.finish(Outcome::Failed(failure));
                    return;
                }
            }
        }
    }

    /// One run of the handler, on a task of its own: a panic ends that task, not the lane.
    async fn attempt(
        &self,
        key: &DedupKey,
        member_id: &MemberId,
        event: Event,
    ) -> Result<SentMessages, Failure> {
        // Never closed, so the permit always comes.
        let _permit = Arc::clone(&self.in_flight).acquire_owned().await;
        let span = tracing::info_span!(
            "imconnector_event",
            event = %untrusted(event.name()),
            member_id = %untrusted(member_id),
        );
        let handler = Arc::clone(&self.handler);
        let key = key.clone();
        let mut task =
            tokio::spawn(async move { handler.event(&key, event).await }.instrument(span));
        let timeout = self.options.handler_timeout;
        match tokio::time::timeout(timeout, &mut task).await {
            Ok(Ok(Ok(sent))) => Ok(sent),
            Ok(Ok(Err(error))) => Err(Failure::Error(error.to_string())),
            Ok(Err(error)) if error.is_panic() => {
                Err(Failure::Panicked(panic_message(error.into_panic())))
            }
            Ok(Err(_)) => Err(Failure::Panicked("the handler's task was cancelled".into())),
            Err(_) => {
                task.abort();
                Err(Failure::TimedOut(timeout))
            }
        }
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_owned()
    }
}
