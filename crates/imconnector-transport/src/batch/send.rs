//! Sending a [`Batch`]: chunks of [`MAX_BATCH_COMMANDS`], each one `batch` call, and the
//! per-command outcomes read back from PHP-shaped maps.

use serde::{ser::SerializeMap, Serialize};
use serde_json::Value;

use super::{Batch, BatchEntry, BatchOutcome, BatchResponse, Command, MAX_BATCH_COMMANDS};
use crate::{
    api_error::ApiError,
    call::Call,
    client::Client,
    envelope::{error_from_object, lenient_u64, RawResponse, Response, Time},
    error::Error,
    method::{AuthKind, InvalidRequest},
    shared::Auth,
};

impl Client {
    /// Sends a batch: one `batch` call per 50 commands, in order.
    ///
    /// A chunk is retried as a whole only when every command in it is idempotent.
    ///
    /// # Errors
    /// [`Error::WrongAuthKind`] before any I/O when a command needs OAuth and the client uses a
    /// webhook; the first chunk's error when it fails; [`Error::BatchIncomplete`] (with the
    /// answers so far) when a later chunk fails.
    pub async fn batch(&self, batch: &Batch) -> Result<BatchResponse, Error> {
        if matches!(self.inner.auth, Auth::Webhook { .. }) {
            if let Some(command) = batch
                .commands
                .iter()
                .find(|command| command.auth == AuthKind::OAuthOnly)
            {
                return Err(Error::WrongAuthKind {
                    method: command.method.clone(),
                });
            }
        }
        let mut response = BatchResponse::default();
        let mut halted = false;
        for chunk in batch.commands.chunks(MAX_BATCH_COMMANDS) {
            if halted {
                for command in chunk {
                    response.push(entry(command, BatchOutcome::NotExecuted));
                }
                continue;
            }
            let params = serde_json::to_string(&ChunkParams {
                halt: u8::from(batch.halt),
                cmd: OrderedCommands(chunk),
            })
            .map_err(|error| {
                InvalidRequest::new("cmd", format!("cannot encode the batch: {error}"))
            })?;
            let call = Call {
                method: "batch",
                auth: AuthKind::OAuthOrWebhook,
                idempotent: chunk.iter().all(|command| command.idempotent),
                params,
            };
            let answered = self
                .inner
                .execute(call, None)
                .await
                .and_then(|(answer, status)| {
                    let answer: RawResponse =
                        self.inner.decode_value_result("batch", status, answer)?;
                    self.read_chunk(chunk, &answer.result, status)
                });
            match answered {
                Ok(outcomes) => {
                    response.calls += 1;
                    for (command, outcome) in chunk.iter().zip(outcomes) {
                        if let BatchOutcome::Success(success) = &outcome {
                            self.inner
                                .pacer
                                .observe(&command.method, success.time.as_ref());
                        }
                        halted |= batch.halt && !matches!(outcome, BatchOutcome::Success(_));
                        response.push(entry(command, outcome));
                    }
                }
                Err(error) if response.entries.is_empty() => return Err(error),
                Err(error) => {
                    // What became of the unanswered commands: this chunk's may have run when
                    // its answer was lost; later chunks were never sent.
                    let lost = match &error {
                        Error::OutcomeUnknown { request_id, .. } => Some(request_id.clone()),
                        _ => None,
                    };
                    let (answered, sent) = (response.entries.len(), chunk.len());
                    for (position, command) in batch.commands.iter().skip(answered).enumerate() {
                        let outcome = match &lost {
                            Some(request_id) if position < sent => BatchOutcome::Unknown {
                                request_id: request_id.clone(),
                            },
                            _ => BatchOutcome::NotExecuted,
                        };
                        response.push(entry(command, outcome));
                    }
                    return Err(Error::BatchIncomplete {
                        partial: Box::new(response),
                        source: Box::new(error),
                    });
                }
            }
        }
        Ok(response)
    }

    /// Splits one chunk's `result` into per-command outcomes (maps may arrive as `[]` or as
    /// lists when the keys were `0..n`).
    fn read_chunk(
        &self,
        chunk: &[Command],
        result: &Value,
        status: u16,
    ) -> Result<Vec<BatchOutcome>, Error> {
        let Some(parts) = result.as_object() else {
            return Err(Error::Decode {
                method: "batch".to_owned(),
                http_status: status,
                reason: "the batch `result` is not an object".to_owned(),
                snippet: self
                    .inner
                    .snippet(&serde_json::to_vec(result).unwrap_or_default()),
            });
        };
        let part = |name: &str, key: &str| member(parts.get(name), key);
        Ok(chunk
            .iter()
            .map(|command| {
                let key = command.key.as_str();
                if let Some(failure) = part("result_error", key) {
                    let error = failure
                        .as_object()
                        .and_then(|object| error_from_object(&command.method, object, None))
                        .unwrap_or_else(|| {
                            ApiError::new(
                                &command.method,
                                "ERROR_UNEXPECTED_ANSWER",
                                failure.to_string(),
                            )
                        });
                    return BatchOutcome::Failed(error);
                }
                match part("result", key) {
                    Some(payload) => {
                        let mut success = Response::new(payload.clone());
                        success.time = part("result_time", key).and_then(Time::from_value);
                        success.total = part("result_total", key).and_then(lenient_u64);
                        success.next = part("result_next", key).and_then(lenient_u64);
                        BatchOutcome::Success(success)
                    }
                    None => BatchOutcome::NotExecuted,
                }
            })
            .collect())
    }
}

/// The parameters of one `batch` call.
#[derive(Serialize)]
struct ChunkParams<'a> {
    halt: u8,
    cmd: OrderedCommands<'a>,
}

/// `cmd` as a JSON object whose keys keep the order the commands were added in: the portal runs
/// them in that order, which `halt` and `$result[key]` references depend on.
struct OrderedCommands<'a>(&'a [Command]);

impl Serialize for OrderedCommands<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for command in self.0 {
            map.serialize_entry(&command.key, &command.encoded)?;
        }
        map.end()
    }
}

fn entry(command: &Command, outcome: BatchOutcome) -> BatchEntry {
    BatchEntry {
        key: command.key.clone(),
        method: command.method.clone(),
        outcome,
    }
}

/// `container[key]` for a PHP array serialised either as an object or, with keys `0..n`, a list.
fn member<'a>(container: Option<&'a Value>, key: &str) -> Option<&'a Value> {
    match container? {
        Value::Object(map) => map.get(key),
        Value::Array(items) => items.get(key.parse::<usize>().ok()?),
        _ => None,
    }
}
