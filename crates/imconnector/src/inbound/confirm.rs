//! Delivery confirmations, packed and retried: per portal one worker sends what is waiting as
//! one `batch` of up to 50 `imconnector.send.status.delivery` commands, each carrying the
//! messages of many events of one connector and line. A burst of replies so needs a handful of
//! REST calls, not one each. `send.status.delivery` is idempotent: what failed for a reason
//! that may pass (the portal's limits, the network, a wait in the bucket's queue that timed
//! out) is sent again until it succeeds; only a refusal the portal will repeat (a wrong
//! connector, say) is final, and reported.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use imconnector_api::ids::{ConnectorId, LineId, MemberId};
use imconnector_api::methods::SendStatusDelivery;
use imconnector_api::types::{DeliveryChat, DeliveryIm, DeliveryItem, DeliveryMessage};
use imconnector_transport::{Batch, BatchOutcome, Error, InvalidRequest, MAX_BATCH_COMMANDS};

use super::completion::Completion;
use super::handler::{DeliveryReport, EventHandler, SentMessages};
use super::{Outcome, PortalClients};
use crate::log_text::untrusted;

/// The most messages one `send.status.delivery` command carries (an event with more gets a
/// command of its own). A command travels as one query string that the portal parses within
/// PHP's input limits (1,000 variables; four or more per message): 20 stay well inside them,
/// and 50 commands still carry 1,000 messages a call.
const MAX_MESSAGES_PER_COMMAND: usize = 20;

/// The first wait before sending again what failed; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The messages one event's handler reported sent, waiting for their confirmation.
pub(crate) struct Waiting {
    pub(crate) connector: ConnectorId,
    pub(crate) line: LineId,
    pub(crate) sent: SentMessages,
    pub(crate) completion: Completion,
}

#[derive(Default)]
struct PortalQueue {
    waiting: Vec<Waiting>,
    /// Whether a worker runs for the portal.
    busy: bool,
}

pub(crate) struct Confirmer<H, C> {
    handler: Arc<H>,
    clients: C,
    linger: Duration,
    portals: Mutex<HashMap<MemberId, PortalQueue>>,
}

impl<H: EventHandler, C: PortalClients> Confirmer<H, C> {
    pub(crate) fn new(handler: Arc<H>, clients: C, linger: Duration) -> Self {
        Self {
            handler,
            clients,
            linger,
            portals: Mutex::new(HashMap::new()),
        }
    }

    /// Queues `waiting` for portal `member_id`; starts the portal's worker if none runs.
    pub(crate) fn enqueue(self: &Arc<Self>, member_id: MemberId, waiting: Waiting) {
        let start = {
            let mut portals = self.portals.lock().unwrap_or_else(PoisonError::into_inner);
            let queue = portals.entry(member_id.clone()).or_default();
            queue.waiting.push(waiting);
            !std::mem::replace(&mut queue.busy, true)
        };
        if start {
            tokio::spawn(Arc::clone(self).work(member_id));
        }
    }

    /// Sends what waits for the portal until nothing does.
    async fn work(self: Arc<Self>, member_id: MemberId) {
        let mut backoff = FIRST_BACKOFF;
        loop {
            // A short wait lets the replies of a burst join one call.
            tokio::time::sleep(self.linger).await;
            let Some(round) = self.take(&member_id) else {
                return;
            };
            let again = Box::pin(self.send(&member_id, round)).await;
            if again.is_empty() {
                backoff = FIRST_BACKOFF;
                continue;
            }
            self.give_back(&member_id, again);
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Takes up to one call's worth of what waits; `None` (and the worker stops) when nothing
    /// does.
    fn take(&self, member_id: &MemberId) -> Option<Vec<Waiting>> {
        let mut portals = self.portals.lock().unwrap_or_else(PoisonError::into_inner);
        let queue = portals.get_mut(member_id)?;
        if queue.waiting.is_empty() {
            portals.remove(member_id);
            return None;
        }
        let mut taken = Vec::new();
        let mut commands: Vec<(ConnectorId, LineId, usize)> = Vec::new();
        let mut kept = Vec::new();
        for waiting in std::mem::take(&mut queue.waiting) {
            let size = waiting.sent.len();
            let fits = commands.iter().position(|(connector, line, count)| {
                *connector == waiting.connector
                    && *line == waiting.line
                    && *count + size <= MAX_MESSAGES_PER_COMMAND
            });
            match fits {
                Some(position) => {
                    commands[position].2 += size;
                    taken.push(waiting);
                }
                None if commands.len() < MAX_BATCH_COMMANDS => {
                    commands.push((waiting.connector.clone(), waiting.line, size));
                    taken.push(waiting);
                }
                None => kept.push(waiting),
            }
        }
        queue.waiting = kept;
        Some(taken)
    }

    /// Puts back what must be sent again, before what arrived meanwhile.
    fn give_back(&self, member_id: &MemberId, mut again: Vec<Waiting>) {
        let mut portals = self.portals.lock().unwrap_or_else(PoisonError::into_inner);
        let queue = portals.entry(member_id.clone()).or_default();
        again.append(&mut queue.waiting);
        queue.waiting = again;
        queue.busy = true;
    }

    /// Sends one round as one `batch` call; returns what must be sent again.
    async fn send(&self, member_id: &MemberId, round: Vec<Waiting>) -> Vec<Waiting> {
        let Some(client) = self.clients.client(member_id).await else {
            tracing::warn!(member_id = %untrusted(member_id), "no client for this portal: delivery not confirmed");
            for waiting in round {
                let error = InvalidRequest::new("member_id", "no client is known for this portal");
                self.finish(member_id, waiting, Err(error.into()));
            }
            return Vec::new();
        };
        let commands = pack(round);
        let mut batch = Batch::new();
        for (index, command) in commands.iter().enumerate() {
            if let Err(error) = batch.add(format!("d{index}"), &command.request) {
                // The items come from decoded events: a refusal here is final.
                tracing::error!(%error, "a delivery confirmation cannot be encoded");
            }
        }
        let started = tokio::time::Instant::now();
        let answer = client.batch(&batch).await;
        tracing::debug!(
            member_id = %untrusted(member_id),
            commands = commands.len(),
            elapsed = ?started.elapsed(),
            "confirmed deliveries in one call"
        );
        let response = match answer {
            Ok(response) => response,
            Err(error) if is_final(&error) => {
                // A client that cannot make this call (e.g. a webhook for an OAuth-only
                // method): sending again would fail again.
                tracing::error!(%error, member_id = %untrusted(member_id), "this client cannot confirm deliveries");
                for waiting in commands.into_iter().flat_map(|command| command.events) {
                    let error = InvalidRequest::new("client", error.to_string());
                    self.finish(member_id, waiting, Err(error.into()));
                }
                return Vec::new();
            }
            Err(error) => {
                tracing::warn!(%error, member_id = %untrusted(member_id), "confirming deliveries failed; will send again");
                return commands
                    .into_iter()
                    .flat_map(|command| command.events)
                    .collect();
            }
        };
        let mut again = Vec::new();
        for (index, command) in commands.into_iter().enumerate() {
            let outcome = response
                .entry(&format!("d{index}"))
                .map(|entry| entry.outcome.clone());
            match outcome {
                Some(BatchOutcome::Success(_)) => {
                    for waiting in command.events {
                        self.finish(member_id, waiting, Ok(()));
                    }
                }
                Some(BatchOutcome::Failed(api)) if !Error::Api(api.clone()).is_retryable() => {
                    tracing::warn!(error = %api, member_id = %untrusted(member_id), "the portal refused a delivery confirmation");
                    for waiting in command.events {
                        self.finish(member_id, waiting, Err(Error::Api(api.clone())));
                    }
                }
                None => {
                    // Not encodable (logged above): nothing to send again.
                    for waiting in command.events {
                        let error = InvalidRequest::new("MESSAGES", "cannot be encoded");
                        self.finish(member_id, waiting, Err(error.into()));
                    }
                }
                // Retryable, not executed, or unknown (idempotent: sending again is safe).
                Some(_) => again.extend(command.events),
            }
        }
        again
    }

    fn finish(&self, member_id: &MemberId, waiting: Waiting, result: Result<(), Error>) {
        let report = DeliveryReport {
            member_id: member_id.clone(),
            connector: waiting.connector,
            line: waiting.line,
            messages: waiting.sent.messages().to_vec(),
            result,
        };
        waiting.completion.finish(Outcome::Handled);
        let handler = Arc::clone(&self.handler);
        tokio::spawn(async move { handler.delivery_confirmed(report).await });
    }
}

/// An error of the whole call that sending again cannot mend.
fn is_final(error: &Error) -> bool {
    matches!(
        error,
        Error::InvalidRequest(_) | Error::WrongAuthKind { .. } | Error::Config { .. }
    )
}

struct Command {
    request: SendStatusDelivery,
    events: Vec<Waiting>,
}

/// One command per connector and line, up to [`MAX_MESSAGES_PER_COMMAND`] messages each (an
/// event's messages stay in one command).
fn pack(round: Vec<Waiting>) -> Vec<Command> {
    let mut groups: Vec<(ConnectorId, LineId, usize, Vec<Waiting>)> = Vec::new();
    for waiting in round {
        let size = waiting.sent.len();
        match groups.iter_mut().find(|(connector, line, count, _)| {
            *connector == waiting.connector
                && *line == waiting.line
                && *count + size <= MAX_MESSAGES_PER_COMMAND
        }) {
            Some((_, _, count, events)) => {
                *count += size;
                events.push(waiting);
            }
            None => groups.push((waiting.connector.clone(), waiting.line, size, vec![waiting])),
        }
    }
    groups
        .into_iter()
        .map(|(connector, line, _, events)| {
            let items = events
                .iter()
                .flat_map(|waiting| waiting.sent.messages())
                .map(|message| {
                    DeliveryItem::new(
                        DeliveryIm::new(message.chat_id, message.message_id),
                        DeliveryMessage::new(message.external_ids.iter().cloned()),
                        DeliveryChat::new(message.external_chat_id.clone()),
                    )
                })
                .collect::<Vec<_>>();
            Command {
                request: SendStatusDelivery::new(connector, line, items),
                events,
            }
        })
        .collect()
}
