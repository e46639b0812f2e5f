//! The background task: takes messages off the queue, starts requests while there is room, and
//! frees each request's lines when it finishes.

use std::collections::HashMap;
use std::future::poll_fn;
use std::task::Poll;

use imconnector_api::ids::ConnectorId;
use imconnector_transport::Client;
use tokio::sync::mpsc;
use tokio::task::{Id, JoinError, JoinSet};

use std::sync::Arc;

use super::pending::{ChatKey, Pending, Queued};
use super::stats::Counters;
use super::{flush, Limits};

/// What woke the task up.
enum Wake {
    /// A message was taken off the queue (and is pending).
    Queued,
    QueueClosed,
    Finished(Result<(Id, ()), JoinError>),
}

/// What the background task works with.
pub(crate) struct Setup {
    pub(crate) client: Client,
    pub(crate) connector: ConnectorId,
    pub(crate) limits: Limits,
    pub(crate) stats: Arc<Counters>,
}

pub(crate) async fn run(setup: Setup, mut queue: mpsc::Receiver<Queued>) {
    let Setup {
        client,
        connector,
        limits,
        stats,
    } = setup;
    let mut pending = Pending::default();
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
    let room = |pending: &Pending| pending.sendable() < holding_limit && pending.len() < hard_limit;
    let mut queue_open = true;
    loop {
        while queue_open && room(&pending) {
            match queue.try_recv() {
                Ok(queued) => pending.push(queued),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => queue_open = false,
            }
        }
        while in_flight.len() < limits.requests_in_flight {
            let Some(request) = pending.next_request(&limits) else {
                break;
            };
            let sending = flush::send(
                client.clone(),
                connector.clone(),
                Arc::clone(&stats),
                request.calls,
            );
            let handle = in_flight.spawn(sending);
            chats_of.insert(handle.id(), request.chats);
        }
        if !queue_open && pending.is_empty() && in_flight.is_empty() {
            return;
        }
        let wake = poll_fn(|context| {
            if !in_flight.is_empty() {
                if let Poll::Ready(Some(finished)) = in_flight.poll_join_next_with_id(context) {
                    return Poll::Ready(Wake::Finished(finished));
                }
            }
            if queue_open && room(&pending) {
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
        }
    }
}
