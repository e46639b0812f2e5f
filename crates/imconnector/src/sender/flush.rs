//! One request: a single call, or a `batch` of calls, and every message's outcome read from
//! its answer. The messages are marked in flight in the outbox before the request leaves and
//! removed from it after the answer, before their outcomes are reported.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use imconnector_api::ids::ConnectorId;
use imconnector_api::soft_errors::SUCCESS_FALSE;
use imconnector_api::types::MessagesResult;
use imconnector_transport::outbox::{EntryId, Finished};
use imconnector_transport::{ApiError, Batch, BatchKey, Client, Error, ErrorCode};
use tokio::sync::oneshot;

use super::durable::{persist, Shared};
use super::operation::{DeleteKind, Kind, Operation, OperationCall, SendKind, UpdateKind};
use super::pending::Call;
use super::stats::Counters;
use super::{SendId, SendOutcome, SendReport};

/// Where one message's outcome goes, once its message has moved into a request.
pub(crate) struct Reply {
    pub(crate) id: SendId,
    pub(crate) line: imconnector_api::ids::LineId,
    pub(crate) entry: EntryId,
    pub(crate) key: Option<String>,
    pub(crate) to: Option<oneshot::Sender<SendReport>>,
}

impl Reply {
    pub(crate) fn report(self, stats: &Counters, outcome: SendOutcome) {
        stats.outcome(&outcome);
        match self.to {
            // The caller may have dropped its `Submitted`; the message was sent regardless.
            Some(to) => {
                let _ = to.send(SendReport {
                    id: self.id,
                    line: self.line,
                    outcome,
                });
            }
            // Recovered from the outbox: its submitter is gone, the log is all that is left.
            None => tracing::info!(
                entry = %self.entry,
                outcome = ?outcome,
                "a message recovered from the outbox has an outcome"
            ),
        }
    }
}

/// A call's messages and their replies, in the same order.
struct Prepared {
    call: Call,
    replies: Vec<Reply>,
}

/// The request of one call, of its operation's method.
fn request<K: Kind>(connector: &ConnectorId, call: &mut Call) -> OperationCall<K> {
    let messages = std::mem::take(&mut call.messages)
        .into_iter()
        .map(|queued| queued.payload)
        .collect();
    OperationCall::new(connector.clone(), call.line, messages)
}

fn prepare(mut call: Call) -> Prepared {
    let mut replies = Vec::with_capacity(call.messages.len());
    for queued in &mut call.messages {
        replies.push(Reply {
            id: queued.id,
            line: queued.line,
            entry: queued.entry.clone(),
            key: queued.key.take(),
            to: queued.reply.take(),
        });
    }
    Prepared { call, replies }
}

/// Sends `calls` as one request and reports every message's outcome.
pub(crate) async fn send(shared: Arc<Shared>, calls: Vec<Call>) {
    let stats = &*shared.stats;
    // Marked in flight first: a crash after the request left must find them in doubt, not
    // queued (which would send them twice). Until the outbox answers, nothing leaves.
    let ids: Vec<EntryId> = calls
        .iter()
        .flat_map(|call| call.messages.iter().map(|queued| queued.entry.clone()))
        .collect();
    let lost = match persist("mark messages in flight", None, || {
        shared.outbox.mark_in_flight(&shared.consumer, &ids)
    })
    .await
    {
        Ok(lost) => lost,
        Err(_) => return,
    };
    let mut prepared = Vec::with_capacity(calls.len());
    for mut call in calls {
        call.messages.retain_mut(|queued| {
            if lost.contains(&queued.entry) {
                // Another sender adopted it (this one's lease ran out): it sends it.
                tracing::warn!(entry = %queued.entry, "another sender took the message over");
                let reply = Reply {
                    id: queued.id,
                    line: queued.line,
                    entry: queued.entry.clone(),
                    key: None,
                    to: queued.reply.take(),
                };
                reply.report(stats, SendOutcome::NotSent { kept: true });
                false
            } else {
                queued.left.store(true, Ordering::Release);
                true
            }
        });
        if !call.messages.is_empty() {
            prepared.push(prepare(call));
        }
    }
    let outcomes = exchange(&shared.client, &shared.connector, stats, prepared).await;
    let finished: Vec<Finished> = outcomes
        .iter()
        .map(|(reply, outcome)| Finished {
            id: reply.entry.clone(),
            key: reply.key.clone(),
            forget_key: matches!(outcome, SendOutcome::Failed(_) | SendOutcome::Rejected(_)),
        })
        .collect();
    // If this fails the entries stay in flight: the next start reports them in doubt, which
    // is the truth for a message whose fate this process could not record.
    if let Err(error) = persist("remove answered messages", Some(3), || {
        shared.outbox.finish(&shared.consumer, &finished)
    })
    .await
    {
        tracing::error!(%error, entries = finished.len(), "answered messages stay in the outbox, in flight");
    }
    for (reply, outcome) in outcomes {
        reply.report(stats, outcome);
    }
}

/// Sends the prepared calls as one request; every message's outcome.
async fn exchange(
    client: &Client,
    connector: &ConnectorId,
    stats: &Counters,
    mut prepared: Vec<Prepared>,
) -> Vec<(Reply, SendOutcome)> {
    let mut outcomes = Vec::new();
    let messages: usize = prepared.iter().map(|call| call.replies.len()).sum();
    tracing::debug!(connector = %connector, calls = prepared.len(), messages, "sending messages");
    if prepared.len() == 1 {
        if let Some(mut only) = prepared.pop() {
            stats.request(1);
            let answer = match only.call.op {
                Operation::Send => call_one::<SendKind>(client, connector, &mut only.call).await,
                Operation::Update => {
                    call_one::<UpdateKind>(client, connector, &mut only.call).await
                }
                Operation::Delete => {
                    call_one::<DeleteKind>(client, connector, &mut only.call).await
                }
            };
            read_call(&mut outcomes, only.replies, answer);
        }
        return outcomes;
    }
    let mut batch = Batch::new();
    let mut keyed: Vec<(Added, Vec<Reply>)> = Vec::with_capacity(prepared.len());
    for (index, mut call) in prepared.into_iter().enumerate() {
        let name = format!("m{index}");
        let added = match call.call.op {
            Operation::Send => add::<SendKind>(&mut batch, name, connector, &mut call.call),
            Operation::Update => add::<UpdateKind>(&mut batch, name, connector, &mut call.call),
            Operation::Delete => add::<DeleteKind>(&mut batch, name, connector, &mut call.call),
        };
        match added {
            Ok(added) => keyed.push((added, call.replies)),
            // Messages are checked when queued, so this is not expected; nothing was sent.
            Err(error) => fail_all(&mut outcomes, call.replies, &Arc::new(error)),
        }
    }
    if keyed.is_empty() {
        return outcomes;
    }
    stats.request(keyed.len());
    match client.batch(&batch).await {
        Ok(answers) => {
            for (added, replies) in keyed {
                read_call(&mut outcomes, replies, added.get(&answers));
            }
        }
        Err(Error::BatchIncomplete { partial, source }) => {
            // Only batches over 50 commands are chunked, and ours never are; read what came.
            let source = Arc::new(*source);
            for (added, replies) in keyed {
                if partial.entry(added.name()).is_some() {
                    read_call(&mut outcomes, replies, added.get(&partial));
                } else {
                    fail_all(&mut outcomes, replies, &source);
                }
            }
        }
        Err(error) => {
            let error = Arc::new(error);
            for (_, replies) in keyed {
                fail_all(&mut outcomes, replies, &error);
            }
        }
    }
    outcomes
}

async fn call_one<K: Kind>(
    client: &Client,
    connector: &ConnectorId,
    call: &mut Call,
) -> Result<MessagesResult, Error> {
    client.call(&request::<K>(connector, call)).await
}

/// A call added to a batch, under its operation's key type.
enum Added {
    Send(BatchKey<OperationCall<SendKind>>),
    Update(BatchKey<OperationCall<UpdateKind>>),
    Delete(BatchKey<OperationCall<DeleteKind>>),
}

impl Added {
    fn name(&self) -> &str {
        match self {
            Added::Send(key) => key.key(),
            Added::Update(key) => key.key(),
            Added::Delete(key) => key.key(),
        }
    }

    fn get(&self, answers: &imconnector_transport::BatchResponse) -> Result<MessagesResult, Error> {
        match self {
            Added::Send(key) => answers.get(key),
            Added::Update(key) => answers.get(key),
            Added::Delete(key) => answers.get(key),
        }
    }
}

trait IntoAdded: Kind + Sized {
    fn wrap(key: BatchKey<OperationCall<Self>>) -> Added;
}
impl IntoAdded for SendKind {
    fn wrap(key: BatchKey<OperationCall<Self>>) -> Added {
        Added::Send(key)
    }
}
impl IntoAdded for UpdateKind {
    fn wrap(key: BatchKey<OperationCall<Self>>) -> Added {
        Added::Update(key)
    }
}
impl IntoAdded for DeleteKind {
    fn wrap(key: BatchKey<OperationCall<Self>>) -> Added {
        Added::Delete(key)
    }
}

fn add<K: IntoAdded>(
    batch: &mut Batch,
    name: String,
    connector: &ConnectorId,
    call: &mut Call,
) -> Result<Added, Error> {
    batch.add(name, &request::<K>(connector, call)).map(K::wrap)
}

/// Reads the outcome of every message of one call.
fn read_call(
    outcomes: &mut Vec<(Reply, SendOutcome)>,
    replies: Vec<Reply>,
    answer: Result<MessagesResult, Error>,
) {
    let result = match answer {
        Ok(result) => result,
        Err(error) => return fail_all(outcomes, replies, &Arc::new(error)),
    };
    for (index, reply) in replies.into_iter().enumerate() {
        let outcome = match result.get(index) {
            Some(item) if item.success => SendOutcome::Stored(Box::new(item.clone())),
            Some(item) => SendOutcome::Rejected(item.errors.clone().unwrap_or_default()),
            // The call was applied, but says nothing of this message.
            None => SendOutcome::Unknown(Some(Arc::new(Error::Decode {
                method: "imconnector.*.messages".to_owned(),
                http_status: 200,
                reason: format!("no `DATA.RESULT` item {index} in the answer"),
                snippet: String::new(),
            }))),
        };
        outcomes.push((reply, outcome));
    }
}

/// A failed call's outcome for each of its messages, as failed or unknown.
fn fail_all(outcomes: &mut Vec<(Reply, SendOutcome)>, replies: Vec<Reply>, error: &Arc<Error>) {
    let unknown = may_have_been_applied(error);
    if unknown {
        tracing::warn!(%error, messages = replies.len(), "messages may or may not be in the portal");
    } else {
        tracing::warn!(%error, messages = replies.len(), "messages were not sent");
    }
    for reply in replies {
        let error = Arc::clone(error);
        let outcome = if unknown {
            SendOutcome::Unknown(Some(error))
        } else {
            SendOutcome::Failed(error)
        };
        outcomes.push((reply, outcome));
    }
}

/// Whether the messages of a call that ended with `error` may be in the portal. Only errors
/// that prove nothing was applied say no; anything else (including error kinds added later)
/// says yes, because calling a stored message failed invites a duplicate.
pub(crate) fn may_have_been_applied(error: &Error) -> bool {
    match error {
        Error::InvalidRequest(_)
        | Error::WrongAuthKind { .. }
        | Error::Config { .. }
        | Error::TokenStore(_)
        | Error::ReauthorizationNeeded { .. }
        | Error::RefreshFailed { .. }
        // The client reports these bare only when nothing was sent (otherwise, for a method
        // that is not idempotent, they come wrapped in `OutcomeUnknown`).
        | Error::Transport { .. }
        | Error::Timeout { .. } => false,
        Error::Api(api) => api_error_may_have_been_applied(api),
        _ => true,
    }
}

/// An error answer means the portal refused the call, except for the server failures a call
/// can end with half done, and codes this SDK does not know.
fn api_error_may_have_been_applied(api: &ApiError) -> bool {
    // An old server's `{"SUCCESS": false, "DATA": []}`: the call was refused as a whole (an
    // inactive line, an unknown connector) before any message was processed.
    if api.code.is_rejected_before_work() || api.code.as_str() == SUCCESS_FALSE {
        return false;
    }
    match api.code {
        ErrorCode::InternalServerError
        | ErrorCode::ErrorUnexpectedAnswer
        | ErrorCode::ErrorCore
        | ErrorCode::WrongEncoding
        | ErrorCode::Other(_) => true,
        _ => api.http_status.is_some_and(|status| status >= 500),
    }
}
