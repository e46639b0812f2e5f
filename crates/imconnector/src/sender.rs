//! [`Sender`]: customer messages sent in packs, with a bounded queue and one outcome per message.
//!
//! Under the portal's rate limit (2 requests a second after a burst of 50 on most plans) one
//! `imconnector.send.messages` per message is the bottleneck. A [`Sender`] queues messages and a
//! background task sends them in packs:
//!
//! - messages of the same open line go into one `imconnector.send.messages` call (up to
//!   [`SenderBuilder::messages_per_call`]), and several calls, of one line or of several, into
//!   one `batch` request (up to [`SenderBuilder::calls_per_request`]);
//! - packs grow by themselves under load: a request starts as soon as a slot is free
//!   ([`SenderBuilder::requests_in_flight`]), with whatever is queued by then, so a lone message
//!   goes out at once and a flood goes out in full packs;
//! - messages of one chat (`chat.id` on a line) reach the portal in the order they were queued:
//!   a chat has at most one request in flight, while other chats' messages go out beside it;
//! - the queue is bounded ([`SenderBuilder::capacity`]): [`Sender::send`] waits for room,
//!   [`Sender::try_send`] gives the message back when it is full.
//!
//! Every message gets its own [`SendOutcome`], under the [`SendId`] it was given when queued:
//! stored (with the portal's result item), rejected by the portal, failed (certainly not in
//! the portal), unknown (it may be in the portal), not sent (the sender stopped first), or a
//! duplicate. The sender never sends a message twice on its own: it does not retry at all,
//! and the client retries only what cannot have been applied (see
//! [`Error::OutcomeUnknown`](imconnector_transport::Error::OutcomeUnknown)).
//!
//! [`Sender::update`] and [`Sender::delete`] queue `imconnector.update.messages` and
//! `imconnector.delete.messages` the same way, in their chat's order with its sends.
//!
//! # The outbox: what survives a crash
//!
//! A message is *accepted* (`send` returns) once it is in the sender's [`outbox`]. The default,
//! [`MemoryOutbox`], lives in the process: **a crash or a deploy loses every message it
//! holds**. With `imconnector_redis::RedisOutbox` ([`SenderBuilder::outbox`]) it is in a Redis
//! stream, and:
//!
//! - each message is marked in flight just before its request leaves and removed after the
//!   portal's answer;
//! - a sender started after a crash (or a live sender of the same outbox, once the dead one's
//!   [lease](SenderBuilder::lease) ran out) sends what was queued, and reports what was in
//!   flight through [`Sender::in_doubt`]: those may or may not be in the portal, which does
//!   not deduplicate, so they are never resent silently; the application
//!   [resolves](Sender::resolve) each (delivered, resend, drop), or opts into at-least-once
//!   with [`InDoubtPolicy::Resend`];
//! - the external message id (`message.id`) is the idempotency key: the same message (line and
//!   external id) submitted again while held, or within a day after it was sent, is stored
//!   and sent once ([`SendOutcome::Duplicate`]);
//! - [`Sender::shutdown`] stops intake, sends what it can within a deadline and leaves the rest
//!   in Redis for the next sender ([`SendOutcome::NotSent`] with `kept: true`).
//!
//! ```no_run
//! use std::time::Duration;
//! use imconnector::prelude::*;
//! use imconnector::sender::{Resolution, Sender};
//! use imconnector_redis::RedisBackend;
//!
//! # async fn run(client: Client, redis: RedisBackend) -> Result<(), Box<dyn std::error::Error>> {
//! let outbox = redis.outbox("bac1cd5c8940947a75e0d71b1a84e348", "acme_chat")?;
//! let sender = Sender::builder(client, ConnectorId::new("acme_chat")?)
//!     .outbox(outbox)
//!     .start();
//! for doubt in sender.in_doubt().await {
//!     // Look for `doubt.external_id` in the chat, then settle it.
//!     sender.resolve(&doubt.entry, Resolution::Delivered).await?;
//! }
//! // ... send ...
//! let report = sender.shutdown(Duration::from_secs(10)).await;
//! println!("{} messages left for the next start", report.not_sent);
//! # Ok(()) }
//! ```
//!
//! ```no_run
//! use imconnector::prelude::*;
//! use imconnector::sender::{SendOutcome, Sender};
//!
//! # async fn run(client: Client) -> Result<(), Box<dyn std::error::Error>> {
//! let sender = Sender::builder(client, ConnectorId::new("acme_chat")?).start();
//! let line = LineId::new(1)?;
//! let message = MessageIn::new(
//!     MessageUser::new("customer-42"),
//!     MessageBody::new().with_id("ext-1001").with_text("Hello"),
//!     MessageChat::new("chat-42"),
//! );
//! let submitted = sender.send(line, message).await?;
//! let report = submitted.await;
//! match report.outcome {
//!     SendOutcome::Stored(result) => println!("{} stored, session {:?}", report.id, result.session),
//!     SendOutcome::Unknown(_) => println!("{} may be in the portal: check before sending again", report.id),
//!     other => println!("{} not stored: {other:?}", report.id),
//! }
//! # Ok(()) }
//! ```

mod durable;
mod flush;
mod in_doubt;
mod operation;
#[cfg(test)]
mod outbox_tests;
mod outcome;
mod pending;
mod stats;
#[cfg(test)]
mod tests;
mod worker;

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use imconnector_api::ids::{ConnectorId, LineId};
use imconnector_api::types::MessageIn;
use imconnector_transport::outbox::{Appended, EntryId, Finished, MemoryOutbox, NewEntry, Outbox};
use imconnector_transport::{Client, InvalidRequest, MAX_BATCH_COMMANDS};
use tokio::sync::{mpsc, oneshot, watch};

pub use imconnector_transport::outbox::{self as outbox, OutboxError};
pub use in_doubt::{InDoubt, InDoubtPolicy, Resolution, ResolveError, Resolved};
pub use operation::Operation;
pub use outcome::{SendError, SendId, SendOutcome, SendReport, Submitted, TrySendError};
pub use stats::SenderStats;

use durable::{DynOutbox, Shared};
use in_doubt::InDoubtList;
use operation::{EntryOut, Payload};
use worker::Control;

/// How long a sender's lease in the outbox lasts by default; it is renewed every third of it.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(15);

/// The numbers a [`Sender`] works with; see the [`SenderBuilder`] setters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    pub(crate) capacity: usize,
    pub(crate) messages_per_call: usize,
    pub(crate) calls_per_request: usize,
    pub(crate) requests_in_flight: usize,
}

impl Limits {
    /// The most messages one request carries.
    pub(crate) fn messages_per_request(&self) -> usize {
        self.messages_per_call * self.calls_per_request
    }
}

/// Configures a [`Sender`]; start with [`Sender::builder`].
#[derive(Clone)]
#[must_use]
pub struct SenderBuilder {
    client: Client,
    connector: ConnectorId,
    limits: Limits,
    outbox: Arc<dyn DynOutbox>,
    consumer: Option<String>,
    lease: Duration,
    policy: InDoubtPolicy,
}

impl fmt::Debug for SenderBuilder {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("SenderBuilder")
            .field("connector", &self.connector)
            .field("limits", &self.limits)
            .field("durable", &self.outbox.is_durable())
            .field("consumer", &self.consumer)
            .field("lease", &self.lease)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl SenderBuilder {
    /// How many messages may wait in the queue (default 1024); [`Sender::send`] waits when it
    /// is full. At least 1. The background task holds up to one full request per slot on top
    /// (`messages_per_call x calls_per_request x requests_in_flight`).
    pub fn capacity(mut self, messages: usize) -> Self {
        self.limits.capacity = messages.max(1);
        self
    }

    /// The most messages in one `imconnector.send.messages` call (default 10). The portal
    /// documents no limit, but a bigger call takes longer, counts more against the method's
    /// operating-time budget, and more messages share its fate when its answer is lost. At
    /// least 1.
    pub fn messages_per_call(mut self, messages: usize) -> Self {
        self.limits.messages_per_call = messages.max(1);
        self
    }

    /// The most `send.messages` calls in one request (default 10); more than one are sent as
    /// a `batch`. Between 1 and 50 (the portal's batch limit).
    pub fn calls_per_request(mut self, calls: usize) -> Self {
        self.limits.calls_per_request = calls.clamp(1, MAX_BATCH_COMMANDS);
        self
    }

    /// How many requests may be under way at once (default 4); a chat never has two. The
    /// client's pacing still holds them under the portal's rate limit. At least 1.
    pub fn requests_in_flight(mut self, requests: usize) -> Self {
        self.limits.requests_in_flight = requests.max(1);
        self
    }

    /// Where accepted messages are kept until the portal answered (default: a fresh
    /// [`MemoryOutbox`], which a crash loses). With `imconnector_redis::RedisOutbox` a message
    /// is accepted only once it is in Redis, and a sender started after a crash sends what was
    /// queued and reports what was in flight ([`Sender::in_doubt`]).
    pub fn outbox(mut self, outbox: impl Outbox) -> Self {
        self.outbox = Arc::new(outbox);
        self
    }

    /// The name of this sender in the outbox (default: a new unique name per start). With a
    /// stable name (e.g. the replica's name) a restarted process takes back what its earlier
    /// life held at once, instead of after the old lease ran out. Two live senders must never
    /// share a name.
    pub fn consumer_name(mut self, name: impl Into<String>) -> Self {
        self.consumer = Some(name.into());
        self
    }

    /// How long the sender's lease in the outbox lasts (default [`DEFAULT_LEASE`]; at least
    /// 100 ms); it is renewed every third of it. Once a dead sender's lease ran out, a live
    /// sender of the same outbox adopts its entries within a third of its own lease.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease.max(Duration::from_millis(100));
        self
    }

    /// What to do with entries found in flight at start (default [`InDoubtPolicy::Report`]).
    pub fn in_doubt_policy(mut self, policy: InDoubtPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Starts the background task on the current tokio runtime and returns the sender. The
    /// task first recovers the outbox (retrying while it cannot be reached); submissions
    /// wait for that.
    ///
    /// # Panics
    /// When called outside a tokio runtime.
    pub fn start(self) -> Sender {
        let (queue, receiver) = mpsc::channel(self.limits.capacity);
        let (control, control_receiver) = mpsc::unbounded_channel();
        let (ready_sender, ready) = watch::channel(false);
        let stats = Arc::new(stats::Counters::default());
        let next_id = Arc::new(AtomicU64::new(0));
        let in_doubt = InDoubtList::default();
        let shared = Arc::new(Shared {
            client: self.client,
            connector: self.connector.clone(),
            stats: Arc::clone(&stats),
            outbox: self.outbox,
            consumer: Arc::from(self.consumer.unwrap_or_else(durable::unique_consumer_name)),
        });
        tokio::spawn(worker::run(
            worker::Setup {
                shared: Arc::clone(&shared),
                limits: self.limits,
                lease: self.lease,
                policy: self.policy,
                in_doubt: in_doubt.clone(),
                ready: ready_sender,
                next_id: Arc::clone(&next_id),
            },
            receiver,
            control_receiver,
            control.clone(),
        ));
        Sender {
            queue,
            connector: self.connector,
            next_id,
            stats,
            shared,
            ready,
            control,
            in_doubt,
            closed: Arc::new(AtomicBool::new(false)),
        }
    }
}

/// What [`Sender::shutdown`] achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Everything accepted was sent and answered before the deadline.
    pub drained: bool,
    /// Messages never sent (reported [`SendOutcome::NotSent`]); kept by a durable outbox.
    pub not_sent: usize,
    /// Requests cut at the deadline: their messages may be in the portal, and a durable
    /// outbox reports them in doubt to the next sender.
    pub interrupted: usize,
    /// Entries in doubt the application had not resolved; a durable outbox keeps them.
    pub in_doubt: usize,
    /// Whether the outbox is durable (what was not sent is kept), or what was left is lost.
    pub kept: bool,
}

/// Queues customer messages for one connector and sends them in packs; see the
/// [module docs](self).
///
/// Cheap to clone: clones share the queue. When every clone is dropped, the background task
/// sends what is still queued, reports it, and stops; [`shutdown`](Self::shutdown) does the
/// same within a deadline and tells when it is done.
#[derive(Clone)]
pub struct Sender {
    queue: mpsc::Sender<pending::Queued>,
    connector: ConnectorId,
    next_id: Arc<AtomicU64>,
    stats: Arc<stats::Counters>,
    shared: Arc<Shared>,
    ready: watch::Receiver<bool>,
    control: mpsc::UnboundedSender<Control>,
    in_doubt: InDoubtList,
    closed: Arc<AtomicBool>,
}

impl fmt::Debug for Sender {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Sender")
            .field("connector", &self.connector)
            .field("consumer", &self.shared.consumer)
            .field("durable", &self.shared.kept())
            .field("queue_capacity", &self.queue.max_capacity())
            .field("queue_room", &self.queue.capacity())
            .finish_non_exhaustive()
    }
}

/// Why a submission was not queued, before it is told apart for `send` and `try_send`.
enum Refused {
    Invalid(InvalidRequest),
    Full(Box<MessageIn>),
    Closed(Box<MessageIn>),
    Outbox(OutboxError, Box<MessageIn>),
}

impl From<Refused> for SendError {
    fn from(refused: Refused) -> Self {
        match refused {
            Refused::Invalid(error) => SendError::Invalid(error),
            // `send` waits for room, so it never sees a full queue.
            Refused::Full(message) | Refused::Closed(message) => SendError::Closed(message),
            Refused::Outbox(source, message) => SendError::Outbox { source, message },
        }
    }
}

impl From<Refused> for TrySendError {
    fn from(refused: Refused) -> Self {
        match refused {
            Refused::Invalid(error) => TrySendError::Invalid(error),
            Refused::Full(message) => TrySendError::Full(message),
            Refused::Closed(message) => TrySendError::Closed(message),
            Refused::Outbox(source, message) => TrySendError::Outbox { source, message },
        }
    }
}

impl Sender {
    /// Configures a sender of `connector`'s messages through `client`.
    pub fn builder(client: Client, connector: ConnectorId) -> SenderBuilder {
        SenderBuilder {
            client,
            connector,
            limits: Limits {
                capacity: 1024,
                messages_per_call: 10,
                calls_per_request: 10,
                requests_in_flight: 4,
            },
            outbox: Arc::new(MemoryOutbox::new()),
            consumer: None,
            lease: DEFAULT_LEASE,
            policy: InDoubtPolicy::default(),
        }
    }

    /// Checks `message`, waits for room in the queue, and stores it in the outbox for
    /// `line`: once this returns, the message is accepted (as durable as the outbox). A
    /// message with the same line and external id as one the outbox holds or lately sent is
    /// not stored again: its [`Submitted`] reports [`SendOutcome::Duplicate`].
    ///
    /// # Errors
    /// [`SendError::Invalid`] (naming the field) when the portal would refuse the message;
    /// [`SendError::Outbox`] when the outbox could not store it; [`SendError::Closed`] after
    /// [`shutdown`](Self::shutdown) or when the background task has stopped.
    pub async fn send(&self, line: LineId, message: MessageIn) -> Result<Submitted, SendError> {
        Ok(self.submit(Operation::Send, line, message, true).await?)
    }

    /// As [`send`](Self::send), but gives the message back at once when the queue is full.
    ///
    /// # Errors
    /// [`TrySendError::Invalid`] when the portal would refuse the message;
    /// [`TrySendError::Full`], [`TrySendError::Closed`] and [`TrySendError::Outbox`] give the
    /// message back.
    pub async fn try_send(
        &self,
        line: LineId,
        message: MessageIn,
    ) -> Result<Submitted, TrySendError> {
        Ok(self.submit(Operation::Send, line, message, false).await?)
    }

    /// Queues `imconnector.update.messages` for a message sent before (same `user.id`,
    /// `chat.id` and `message.id`, new text or files), in its chat's order with the chat's
    /// other operations, through the outbox like [`send`](Self::send).
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub async fn update(&self, line: LineId, message: MessageIn) -> Result<Submitted, SendError> {
        Ok(self.submit(Operation::Update, line, message, true).await?)
    }

    /// Queues `imconnector.delete.messages` for a message sent before (named by `user.id`,
    /// `chat.id` and `message.id`), in its chat's order, through the outbox like
    /// [`send`](Self::send).
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub async fn delete(&self, line: LineId, message: MessageIn) -> Result<Submitted, SendError> {
        Ok(self.submit(Operation::Delete, line, message, true).await?)
    }

    /// The entries found in flight when the sender started (or adopted from a dead sender
    /// since), which the application has not resolved: their requests may or may not have
    /// reached the portal. Waits until the outbox is recovered. Always empty with
    /// [`InDoubtPolicy::Resend`].
    pub async fn in_doubt(&self) -> Vec<InDoubt> {
        let mut ready = self.ready.clone();
        let _ = ready.wait_for(|ready| *ready).await;
        self.in_doubt.snapshot()
    }

    /// Settles entry `entry` in doubt: see [`Resolution`].
    ///
    /// # Errors
    /// [`ResolveError::NotInDoubt`] for an entry not (or no longer) in doubt;
    /// [`ResolveError::Outbox`] when the outbox cannot be updated (it stays in doubt);
    /// [`ResolveError::Closed`] after shutdown.
    pub async fn resolve(
        &self,
        entry: &EntryId,
        resolution: Resolution,
    ) -> Result<Resolved, ResolveError> {
        let doubt = self
            .in_doubt
            .find(entry)
            .ok_or_else(|| ResolveError::NotInDoubt(entry.clone()))?;
        let outbox = &self.shared.outbox;
        let consumer = &*self.shared.consumer;
        match resolution {
            Resolution::Delivered | Resolution::Drop => {
                let finished = [Finished {
                    id: doubt.entry.clone(),
                    key: doubt.key.clone(),
                    forget_key: resolution == Resolution::Drop,
                }];
                outbox
                    .finish(consumer, &finished)
                    .await
                    .map_err(ResolveError::Outbox)?;
                self.in_doubt.remove(entry);
                Ok(Resolved::Settled)
            }
            Resolution::Resend => {
                if self.closed.load(Ordering::Acquire) || self.control.is_closed() {
                    return Err(ResolveError::Closed);
                }
                outbox
                    .requeue(consumer, std::slice::from_ref(&doubt.entry))
                    .await
                    .map_err(ResolveError::Outbox)?;
                self.in_doubt.remove(entry);
                let id = self.next_id();
                let (reply, receiver) = oneshot::channel();
                let left = Arc::new(AtomicBool::new(false));
                let queued = pending::Queued {
                    id,
                    line: doubt.line,
                    chat: Arc::from(doubt.chat.as_str()),
                    op: doubt.operation,
                    payload: Payload::Stored(doubt.message),
                    entry: doubt.entry,
                    key: doubt.key,
                    reply: Some(reply),
                    left: Arc::clone(&left),
                };
                // Queued again in the outbox: if the task is gone, the next sender sends it.
                self.control
                    .send(Control::Resend(Box::new(queued)))
                    .map_err(|_| ResolveError::Closed)?;
                Ok(Resolved::Resent(Submitted {
                    id,
                    line: doubt.line,
                    reply: receiver,
                    left,
                    kept: self.shared.kept(),
                }))
            }
        }
    }

    /// Stops intake (every clone's `send` answers [`SendError::Closed`] from now on), sends
    /// what is queued until `deadline` has passed, and stops the background task. Requests
    /// still under way at the deadline are cut (their messages may be in the portal: a
    /// durable outbox reports them in doubt to the next sender); messages not sent by then
    /// are reported [`SendOutcome::NotSent`] and stay in a durable outbox for the next
    /// sender, which adopts them at once.
    pub async fn shutdown(&self, deadline: Duration) -> ShutdownReport {
        self.closed.store(true, Ordering::Release);
        let until = tokio::time::Instant::now() + deadline;
        let (done, report) = oneshot::channel();
        let stopped = ShutdownReport {
            drained: true,
            not_sent: 0,
            interrupted: 0,
            in_doubt: self.in_doubt.len(),
            kept: self.shared.kept(),
        };
        if self
            .control
            .send(Control::Shutdown { until, done })
            .is_err()
        {
            return stopped;
        }
        report.await.unwrap_or(stopped)
    }

    /// How many more messages the queue takes right now.
    pub fn room(&self) -> usize {
        self.queue.capacity()
    }

    /// What the sender has done so far (requests, calls, messages by outcome).
    pub fn stats(&self) -> SenderStats {
        self.stats.snapshot()
    }

    /// The connector whose messages this sender sends.
    pub fn connector(&self) -> &ConnectorId {
        &self.connector
    }

    /// This sender's name in its outbox.
    pub fn consumer_name(&self) -> &str {
        &self.shared.consumer
    }

    fn next_id(&self) -> SendId {
        SendId(self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    /// The checks the portal's method makes, on this message alone, so one bad message never
    /// fails the pack it would have joined; returns its chat id.
    fn check(
        &self,
        op: Operation,
        line: LineId,
        message: &MessageIn,
    ) -> Result<Arc<str>, InvalidRequest> {
        op.validate(&self.connector, line, message)
            .map_err(|mut error| {
                // The caller knows this message, not its position in a request.
                if let Some(rest) = error.parameter.strip_prefix("MESSAGES[0]") {
                    error.parameter = format!("message{rest}").into();
                }
                error
            })?;
        Ok(Arc::from(message.chat().id().as_str()))
    }

    async fn submit(
        &self,
        op: Operation,
        line: LineId,
        message: MessageIn,
        wait: bool,
    ) -> Result<Submitted, Refused> {
        let chat = self.check(op, line, &message).map_err(Refused::Invalid)?;
        if self.closed.load(Ordering::Acquire) {
            return Err(Refused::Closed(Box::new(message)));
        }
        // The outbox is recovered before anything new joins it: what it held is older.
        if !*self.ready.borrow() {
            let mut ready = self.ready.clone();
            if ready.wait_for(|ready| *ready).await.is_err() {
                return Err(Refused::Closed(Box::new(message)));
            }
        }
        let permit = if wait {
            match self.queue.reserve().await {
                Ok(permit) => permit,
                Err(_) => return Err(Refused::Closed(Box::new(message))),
            }
        } else {
            match self.queue.try_reserve() {
                Ok(permit) => permit,
                Err(mpsc::error::TrySendError::Full(())) => {
                    return Err(Refused::Full(Box::new(message)))
                }
                Err(mpsc::error::TrySendError::Closed(())) => {
                    return Err(Refused::Closed(Box::new(message)))
                }
            }
        };
        let key = operation::idempotency_key(op, line, &message);
        let payload = serde_json::to_vec(&EntryOut {
            op,
            line: line.get(),
            chat: &chat,
            message: &message,
        });
        let entry = NewEntry {
            chat: format!("{line}:{chat}"),
            key: key.clone(),
            // Serialising plain data cannot fail.
            payload: payload.unwrap_or_default(),
        };
        let appended = match self
            .shared
            .outbox
            .append(&self.shared.consumer, &entry)
            .await
        {
            Ok(appended) => appended,
            Err(error) => return Err(Refused::Outbox(error, Box::new(message))),
        };
        let id = self.next_id();
        let (reply, receiver) = oneshot::channel();
        let left = Arc::new(AtomicBool::new(false));
        let submitted = Submitted {
            id,
            line,
            reply: receiver,
            left: Arc::clone(&left),
            kept: self.shared.kept(),
        };
        match appended {
            Appended::Accepted(entry) => permit.send(pending::Queued {
                id,
                line,
                chat,
                op,
                payload: Payload::Typed(message),
                entry,
                key,
                reply: Some(reply),
                left,
            }),
            Appended::Duplicate(first) => {
                let outcome = SendOutcome::Duplicate(first);
                self.stats.outcome(&outcome);
                let _ = reply.send(SendReport { id, line, outcome });
            }
        }
        Ok(submitted)
    }
}
