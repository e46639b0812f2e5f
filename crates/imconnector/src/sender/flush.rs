//! One request: a single `imconnector.send.messages`, or a `batch` of them, and every message's
//! outcome read from its answer.

use std::sync::Arc;

use imconnector_api::ids::{ConnectorId, LineId};
use imconnector_api::methods::SendMessages;
use imconnector_api::soft_errors::SUCCESS_FALSE;
use imconnector_api::types::MessagesResult;
use imconnector_transport::{ApiError, Batch, BatchKey, Client, Error, ErrorCode, Method};
use tokio::sync::oneshot;

use super::pending::Call;
use super::stats::Counters;
use super::{SendId, SendOutcome, SendReport};

/// Where one message's outcome goes, once its message has moved into a request.
struct Reply {
    id: SendId,
    line: LineId,
    to: oneshot::Sender<SendReport>,
}

impl Reply {
    fn report(self, stats: &Counters, outcome: SendOutcome) {
        stats.outcome(&outcome);
        // The caller may have dropped its `Submitted`; the message was sent regardless.
        let _ = self.to.send(SendReport {
            id: self.id,
            line: self.line,
            outcome,
        });
    }
}

/// A call's request and the replies of its messages, in the same order.
struct Prepared {
    request: SendMessages,
    replies: Vec<Reply>,
}

fn prepare(connector: &ConnectorId, call: Call) -> Prepared {
    let mut replies = Vec::with_capacity(call.messages.len());
    let mut messages = Vec::with_capacity(call.messages.len());
    for queued in call.messages {
        replies.push(Reply {
            id: queued.id,
            line: queued.line,
            to: queued.reply,
        });
        messages.push(queued.message);
    }
    Prepared {
        request: SendMessages::new(connector.clone(), call.line, messages),
        replies,
    }
}

/// Sends `calls` as one request and reports every message's outcome.
pub(crate) async fn send(
    client: Client,
    connector: ConnectorId,
    stats: Arc<Counters>,
    calls: Vec<Call>,
) {
    let stats = &*stats;
    let mut prepared: Vec<Prepared> = calls
        .into_iter()
        .map(|call| prepare(&connector, call))
        .collect();
    let messages: usize = prepared.iter().map(|call| call.replies.len()).sum();
    tracing::debug!(connector = %connector, calls = prepared.len(), messages, "sending messages");
    if prepared.len() == 1 {
        if let Some(only) = prepared.pop() {
            stats.request(1);
            let answer = client.call(&only.request).await;
            report_call(stats, only.replies, answer);
        }
        return;
    }
    let mut batch = Batch::new();
    let mut keyed: Vec<(BatchKey<SendMessages>, Vec<Reply>)> = Vec::with_capacity(prepared.len());
    for (index, call) in prepared.into_iter().enumerate() {
        match batch.add(format!("m{index}"), &call.request) {
            Ok(key) => keyed.push((key, call.replies)),
            // Messages are checked when queued, so this is not expected; nothing was sent.
            Err(error) => fail_all(stats, call.replies, &Arc::new(error)),
        }
    }
    if keyed.is_empty() {
        return;
    }
    stats.request(keyed.len());
    match client.batch(&batch).await {
        Ok(answers) => {
            for (key, replies) in keyed {
                report_call(stats, replies, answers.get(&key));
            }
        }
        Err(Error::BatchIncomplete { partial, source }) => {
            // Only batches over 50 commands are chunked, and ours never are; read what came.
            let source = Arc::new(*source);
            for (key, replies) in keyed {
                if partial.entry(key.key()).is_some() {
                    report_call(stats, replies, partial.get(&key));
                } else {
                    fail_all(stats, replies, &source);
                }
            }
        }
        Err(error) => {
            let error = Arc::new(error);
            for (_, replies) in keyed {
                fail_all(stats, replies, &error);
            }
        }
    }
}

/// Reports the outcome of every message of one `send.messages` call.
fn report_call(stats: &Counters, replies: Vec<Reply>, answer: Result<MessagesResult, Error>) {
    let result = match answer {
        Ok(result) => result,
        Err(error) => return fail_all(stats, replies, &Arc::new(error)),
    };
    for (index, reply) in replies.into_iter().enumerate() {
        let outcome = match result.get(index) {
            Some(item) if item.success => SendOutcome::Stored(Box::new(item.clone())),
            Some(item) => SendOutcome::Rejected(item.errors.clone().unwrap_or_default()),
            // The call was applied, but says nothing of this message.
            None => SendOutcome::Unknown(Some(Arc::new(Error::Decode {
                method: SendMessages::NAME.to_owned(),
                http_status: 200,
                reason: format!("no `DATA.RESULT` item {index} in the answer"),
                snippet: String::new(),
            }))),
        };
        reply.report(stats, outcome);
    }
}

/// Reports a failed call to each of its messages, as failed or unknown.
fn fail_all(stats: &Counters, replies: Vec<Reply>, error: &Arc<Error>) {
    let unknown = may_have_been_applied(error);
    if unknown {
        tracing::warn!(%error, messages = replies.len(), "messages may or may not be in the portal");
    } else {
        tracing::warn!(%error, messages = replies.len(), "messages were not sent");
    }
    for reply in replies {
        let error = Arc::clone(error);
        reply.report(
            stats,
            if unknown {
                SendOutcome::Unknown(Some(error))
            } else {
                SendOutcome::Failed(error)
            },
        );
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
