//! What a batch answered: one outcome per command, in the order they were added.

use std::{collections::HashMap, fmt, marker::PhantomData};

use crate::{
    api_error::ApiError,
    envelope::{snippet, RawResponse},
    error::Error,
    method::{Method, ResultError},
};

/// The typed handle of a command added with [`Batch::add`](super::Batch::add), to read its result.
pub struct BatchKey<M> {
    key: String,
    method: PhantomData<fn() -> M>,
}

impl<M> BatchKey<M> {
    pub(super) fn new(key: String) -> Self {
        Self {
            key,
            method: PhantomData,
        }
    }

    /// The command's key.
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl<M> Clone for BatchKey<M> {
    fn clone(&self) -> Self {
        Self {
            key: self.key.clone(),
            method: PhantomData,
        }
    }
}

impl<M> fmt::Debug for BatchKey<M> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.debug_tuple("BatchKey").field(&self.key).finish()
    }
}

/// What happened to one command.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum BatchOutcome {
    /// It succeeded; its `result`, `time`, `total` and `next`.
    Success(RawResponse),
    /// The portal reported an error for it (`result_error`).
    Failed(ApiError),
    /// It was not executed (an earlier command failed under `halt`, or its chunk was refused
    /// or never sent).
    NotExecuted,
    /// Its chunk was sent but no answer was read: it may have run. Check the portal's state
    /// before sending it again.
    Unknown {
        /// The id of the `batch` call that carried it (the `X-Request-Id` header).
        request_id: String,
    },
}

/// One command's key, method and outcome.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct BatchEntry {
    /// The command's key.
    pub key: String,
    /// The command's method.
    pub method: String,
    /// What happened.
    pub outcome: BatchOutcome,
}

/// The outcomes of a batch, in the order the commands were added.
#[derive(Debug, Clone, Default)]
pub struct BatchResponse {
    pub(super) entries: Vec<BatchEntry>,
    index: HashMap<String, usize>,
    pub(super) calls: usize,
}

impl BatchResponse {
    /// Every command's outcome, in order.
    pub fn entries(&self) -> &[BatchEntry] {
        &self.entries
    }

    /// The outcome of the command under `key`.
    pub fn entry(&self, key: &str) -> Option<&BatchEntry> {
        self.index.get(key).map(|&position| &self.entries[position])
    }

    /// The commands that failed.
    pub fn failures(&self) -> impl Iterator<Item = &BatchEntry> {
        self.entries
            .iter()
            .filter(|entry| matches!(entry.outcome, BatchOutcome::Failed(_)))
    }

    /// How many `batch` calls were answered (one per chunk of up to 50 commands).
    pub fn calls(&self) -> usize {
        self.calls
    }

    /// Decodes the result of a typed command, or returns its error.
    ///
    /// # Errors
    /// [`Error::Api`] for a failed command (or a soft error in its result),
    /// [`Error::NotExecuted`], or [`Error::Decode`] when the result has an unexpected shape.
    pub fn get<M: Method>(&self, key: &BatchKey<M>) -> Result<M::Response, Error> {
        let not_executed = || Error::NotExecuted {
            method: M::NAME.to_owned(),
            key: key.key.clone(),
        };
        let entry = self.entry(&key.key).ok_or_else(not_executed)?;
        match &entry.outcome {
            BatchOutcome::Success(response) => match M::decode_response(&response.result) {
                Ok(result) => Ok(result),
                Err(ResultError::Soft(soft)) => {
                    Err(ApiError::new(M::NAME, soft.code, soft.description).into())
                }
                Err(ResultError::Malformed(reason)) => Err(Error::Decode {
                    method: M::NAME.to_owned(),
                    http_status: 200,
                    reason: format!(
                        "unexpected `result` of batch command `{}` ({reason})",
                        key.key
                    ),
                    snippet: snippet(
                        &serde_json::to_vec(&response.result).unwrap_or_default(),
                        &[],
                    ),
                }),
            },
            BatchOutcome::Failed(error) => Err(Error::Api(error.clone())),
            BatchOutcome::NotExecuted => Err(not_executed()),
            BatchOutcome::Unknown { request_id } => Err(Error::OutcomeUnknown {
                method: M::NAME.to_owned(),
                request_id: request_id.clone(),
                source: Box::new(Error::Transport {
                    method: "batch".to_owned(),
                    reason: "the answer to the batch call carrying this command was lost"
                        .to_owned(),
                    source: None,
                }),
            }),
        }
    }

    pub(super) fn push(&mut self, entry: BatchEntry) {
        self.index.insert(entry.key.clone(), self.entries.len());
        self.entries.push(entry);
    }
}
