//! The background task: recovers the outbox, takes messages off the queue, starts requests
//! while there is room, frees each request's chats when it finishes, and stops on shutdown.

use std::collections::HashMap;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use imconnector_transport::outbox::{EntryState, StoredEntry};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::{Id, JoinError, JoinSet};
use tokio::time::{Instant, Sleep};

use super::durable::{persist, Shared};
use super::in_doubt::{decode, in_doubt, InDoubtList, InDoubtPolicy};
use super::operation::Payload;
use super::pending::{ChatKey, Pending, Queued};
use super::{flush, Limits, SendId, SendOutcome, ShutdownReport};

/// What the sender's handles and the keep-alive tell the background task.
pub(crate) enum Control {
    /// Stop intake, send what is queued until `until`, keep the rest.
    Shutdown {
        until: Instant,
        done: oneshot::Sender<ShutdownReport>,
    },
    /// Entries taken over from senders whose lease ran out.
    Adopted(Vec<StoredEntry>),
    /// An entry in doubt the application asked to send again.
    Resend(Box<Queued>),
}

/// What woke the task up.
enum Wake {
    /// A message was taken off the queue (and is pending).
    Queued,
    QueueClosed,
    Finished(Result<(Id, ()), JoinError>),
    Control(Control),
    Deadline,
}

/// The shutdown deadline, and who waits for the report.
type Stopping = (Pin<Box<Sleep>>, Vec<oneshot::Sender<ShutdownReport>>);

/// What the background task works with.
pub(crate) struct Setup {
    pub(crate) shared: Arc<Shared>,
    pub(crate) limits: Limits,
    pub(crate) lease: Duration,
    pub(crate) policy: InDoubtPolicy,
    pub(crate) in_doubt: InDoubtList,
    pub(crate) ready: watch::Sender<bool>,
    pub(crate) next_id: Arc<AtomicU64>,
}

impl Setup {
    /// Routes entries read from the outbox: queued ones to `pending`, in-flight ones to the
    /// application (or, at least once, to `pending` too).
    fn take_over(&self, pending: &mut Pending, entries: Vec<StoredEntry>) {
        let mut doubtful = 0;
        for entry in entries {
            let (read, line) = match decode(&entry) {
                Ok(read) => read,
                Err(reason) => {
                    // Left in the outbox, held by this sender: nothing is dropped unseen.
                    tracing::error!(entry = %entry.id, %reason, "an outbox entry cannot be read; it stays in the outbox");
                    continue;
                }
            };
            if entry.state == EntryState::InFlight {
                doubtful += 1;
                if self.policy == InDoubtPolicy::Report {
                    tracing::warn!(entry = %entry.id, "a message may or may not be in the portal; reported in doubt");
                    self.in_doubt.add(in_doubt(&entry, read, line));
                    continue;
                }
                tracing::warn!(entry = %entry.id, "a message in doubt is sent again (at least once)");
            }
            pending.push(Queued {
                id: SendId(self.next_id.fetch_add(1, Ordering::Relaxed)),
                line,
                chat: Arc::from(read.chat.as_str()),
                op: read.op,
                payload: Payload::Stored(read.message),
                entry: entry.id,
                key: entry.key,
                reply: None,
                left: Arc::default(),
            });
        }
        self.shared.stats.in_doubt(doubtful);
    }
}

/// Renews the lease and adopts dead senders' entries, a third of a lease apart, until the
/// background task is gone.
async fn keep_alive(shared: Arc<Shared>, lease: Duration, control: mpsc::UnboundedSender<Control>) {
    loop {
        tokio::time::sleep(lease / 3).await;
        if control.is_closed() {
            return;
        }
        match shared.outbox.keep_alive(&shared.consumer, lease).await {
            Ok(adopted) if adopted.is_empty() => {}
            Ok(adopted) => {
                tracing::info!(
                    entries = adopted.len(),
                    "adopted the outbox entries of a sender that died"
                );
                if control.send(Control::Adopted(adopted)).is_err() {
                    return;
                }
            }
            Err(error) => tracing::warn!(%error, "the sender could not renew its outbox lease"),
        }
    }
}

pub(crate) async fn run(
    setup: Setup,
    mut queue: mpsc::Receiver<Queued>,
    mut control: mpsc::UnboundedReceiver<Control>,
    control_handle: mpsc::UnboundedSender<Control>,
) {
    let shared = Arc::clone(&setup.shared);
    let limits = setup.limits;
    let mut pending = Pending::default();
    // Before any new message: what an earlier life (or a dead sender) left is older.
    let recovered = persist("recover the outbox", None, || {
        shared.outbox.recover(&shared.consumer, setup.lease)
    })
    .await
    .unwrap_or_default();
    setup.take_over(&mut pending, recovered);
    let _ = setup.ready.send(true);
    let keeper = tokio::spawn(keep_alive(Arc::clone(&shared), setup.lease, control_handle));

    let mut in_flight: JoinSet<()> = JoinSet::new();
    let mut chats_of: HashMap<Id, Vec<ChatKey>> = HashMap::new();
    // Enough to fill every request slot; taking more off the queue would only move the wait
    // from the (bounded) queue into this task, and leaving them queued is what makes `send`
    // wait.
    let holding_limit = limits.messages_per_request() * limits.requests_in_flight;
    // Messages of chats with a request in flight cannot go out yet, so they do not count
    // against the holding limit: one busy chat must not stop the task from reading the
    // messages of other chats that could use the idle request slots. They are bounded apart,
    // by the queue's capacity, so the task's memory stays bounded.
    let hard_limit = holding_limit + limits.capacity;
    let mut stopping: Option<Stopping> = None;
    let mut queue_open = true;
    let mut control_open = true;
    let mut deadline_passed = false;
    loop {
        // Stopping, everything queued is read: it is bounded by the queue's capacity.
        let room = |pending: &Pending, stopping: bool| {
            stopping || (pending.sendable() < holding_limit && pending.len() < hard_limit)
        };
        while queue_open && room(&pending, stopping.is_some()) {
            match queue.try_recv() {
                Ok(queued) => pending.push(queued),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => queue_open = false,
            }
        }
        while !deadline_passed && in_flight.len() < limits.requests_in_flight {
            let Some(request) = pending.next_request(&limits) else {
                break;
            };
            let handle = in_flight.spawn(flush::send(Arc::clone(&shared), request.calls));
            chats_of.insert(handle.id(), request.chats);
        }
        let drained = !queue_open && pending.is_empty() && in_flight.is_empty();
        if drained || deadline_passed {
            let mut report = ShutdownReport {
                drained,
                not_sent: 0,
                interrupted: 0,
                in_doubt: setup.in_doubt.len(),
                kept: shared.kept(),
            };
            if deadline_passed {
                report.interrupted = in_flight.len();
                in_flight.abort_all();
                while in_flight.join_next().await.is_some() {}
                queue.close();
                let mut unsent = pending.take_all();
                while let Ok(queued) = queue.try_recv() {
                    unsent.push(queued);
                }
                report.not_sent = unsent.len();
                let kept = shared.kept();
                for queued in unsent {
                    let reply = flush::Reply {
                        id: queued.id,
                        line: queued.line,
                        entry: queued.entry,
                        key: None,
                        to: queued.reply,
                    };
                    reply.report(&shared.stats, SendOutcome::NotSent { kept });
                }
            }
            keeper.abort();
            // What is left (in doubt, interrupted, not sent) goes to the next sender at once.
            if let Err(error) = shared.outbox.leave(&shared.consumer).await {
                tracing::warn!(%error, "the sender could not give up its outbox lease");
            }
            if let Some((_, waiting)) = stopping {
                for done in waiting {
                    let _ = done.send(report.clone());
                }
            }
            return;
        }
        let wake = poll_fn(|context| {
            if !in_flight.is_empty() {
                if let Poll::Ready(Some(finished)) = in_flight.poll_join_next_with_id(context) {
                    return Poll::Ready(Wake::Finished(finished));
                }
            }
            if control_open {
                match control.poll_recv(context) {
                    Poll::Ready(Some(message)) => return Poll::Ready(Wake::Control(message)),
                    Poll::Ready(None) => control_open = false,
                    Poll::Pending => {}
                }
            }
            if let Some((deadline, _)) = stopping.as_mut() {
                if deadline.as_mut().poll(context).is_ready() {
                    return Poll::Ready(Wake::Deadline);
                }
            }
            if queue_open && room(&pending, stopping.is_some()) {
                if let Poll::Ready(received) = queue.poll_recv(context) {
                    return Poll::Ready(match received {
                        Some(queued) => {
                            pending.push(queued);
                            Wake::Queued
                        }
                        None => Wake::QueueClosed,
                    });
                }
            }
            Poll::Pending
        })
        .await;
        match wake {
            Wake::Queued => {}
            Wake::QueueClosed => queue_open = false,
            Wake::Deadline => deadline_passed = true,
            Wake::Finished(finished) => {
                // A request that panicked has dropped its replies, which its messages' callers
                // see as an unknown outcome; its chats are freed all the same.
                let id = match finished {
                    Ok((id, ())) => id,
                    Err(error) => error.id(),
                };
                if let Some(chats) = chats_of.remove(&id) {
                    pending.release(&chats);
                }
            }
            Wake::Control(Control::Adopted(entries)) => setup.take_over(&mut pending, entries),
            Wake::Control(Control::Resend(queued)) => pending.push(*queued),
            Wake::Control(Control::Shutdown { until, done }) => {
                // Intake stops; what is already queued is still read and sent.
                queue.close();
                match stopping.as_mut() {
                    Some((deadline, waiting)) => {
                        if until < deadline.deadline() {
                            deadline.as_mut().reset(until);
                        }
                        waiting.push(done);
                    }
                    None => {
                        stopping = Some((Box::pin(tokio::time::sleep_until(until)), vec![done]))
                    }
                }
            }
        }
    }
}
