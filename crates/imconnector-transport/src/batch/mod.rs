//! `batch`: many commands in one HTTP call (50 at most; longer batches are chunked).

use std::{collections::HashMap, fmt, marker::PhantomData};

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::{
    client::{raw_auth_kind, to_params},
    envelope::{snippet, RawResponse},
    error::{ApiError, Error},
    method::{AuthKind, InvalidRequest, Method},
};

mod send;

/// The portal's limit of commands in one `batch` call.
pub const MAX_BATCH_COMMANDS: usize = 50;

/// A list of commands sent with `batch`, in order.
///
/// Commands are encoded as the portal expects, `method?query` with PHP-style nested keys
/// (`MESSAGES[0][user][id]=…`); in that form booleans travel as `1`/`0` and empty arrays or
/// objects vanish. Values may reference earlier results (`$result[key][ID]`).
///
/// ```
/// # use imconnector_transport::Batch;
/// let mut batch = Batch::new().halt(false);
/// batch.add_raw("lines", "imopenlines.config.list.get", serde_json::Value::Null)?;
/// assert_eq!(batch.len(), 1);
/// # Ok::<(), imconnector_transport::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Batch {
    commands: Vec<Command>,
    halt: bool,
}

#[derive(Debug, Clone)]
struct Command {
    key: String,
    method: String,
    encoded: String,
    auth: AuthKind,
    idempotent: bool,
}

/// The typed handle of a command added with [`Batch::add`], to read its result.
pub struct BatchKey<M> {
    key: String,
    method: PhantomData<fn() -> M>,
}

impl<M> BatchKey<M> {
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

impl Batch {
    /// An empty batch that does not halt on errors.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether to stop at the first failing command (`halt`); later commands are reported as
    /// not executed, and later chunks are not sent.
    #[must_use]
    pub fn halt(mut self, halt: bool) -> Self {
        self.halt = halt;
        self
    }

    /// Adds a typed command under `key`, validating it first.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] when the request is invalid or the key is empty or taken.
    pub fn add<M: Method>(
        &mut self,
        key: impl Into<String>,
        request: &M,
    ) -> Result<BatchKey<M>, Error> {
        request.validate()?;
        let key = key.into();
        let params = to_params(request)?;
        self.push(
            key.clone(),
            M::NAME.to_owned(),
            params,
            M::AUTH,
            M::IDEMPOTENT,
        )?;
        Ok(BatchKey {
            key,
            method: PhantomData,
        })
    }

    /// Adds an untyped command (parameters as a JSON object, or `null`); treated as
    /// non-idempotent, and as OAuth-only for `imconnector.*` and `event.*`.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] when `params` is not an object or the key is empty or taken.
    pub fn add_raw(
        &mut self,
        key: impl Into<String>,
        method: impl Into<String>,
        params: Value,
    ) -> Result<(), Error> {
        let params = match params {
            Value::Object(map) => map,
            Value::Null => Map::new(),
            _ => return Err(InvalidRequest::new("params", "must be a JSON object").into()),
        };
        let method = method.into();
        let auth = raw_auth_kind(&method);
        self.push(key.into(), method, params, auth, false)
    }

    fn push(
        &mut self,
        key: String,
        method: String,
        mut params: Map<String, Value>,
        auth: AuthKind,
        idempotent: bool,
    ) -> Result<(), Error> {
        if key.is_empty() {
            return Err(InvalidRequest::new("cmd", "a batch key must not be empty").into());
        }
        if self.commands.iter().any(|command| command.key == key) {
            return Err(InvalidRequest::new("cmd", format!("duplicate batch key `{key}`")).into());
        }
        if method.is_empty() || method.contains(['?', '&', '/']) {
            return Err(
                InvalidRequest::new("cmd", format!("`{method}` is not a method name")).into(),
            );
        }
        // The outer call's auth reaches every command; a command's own would override it.
        params.remove("auth");
        let query = imconnector_form::encode(&Value::Object(params));
        let encoded = if query.is_empty() {
            method.clone()
        } else {
            format!("{method}?{query}")
        };
        self.commands.push(Command {
            key,
            method,
            encoded,
            auth,
            idempotent,
        });
        Ok(())
    }

    /// The number of commands.
    pub fn len(&self) -> usize {
        self.commands.len()
    }

    /// Whether there are no commands.
    pub fn is_empty(&self) -> bool {
        self.commands.is_empty()
    }

    /// The encoded commands, `(key, "method?query")`, in order.
    pub fn encoded(&self) -> impl Iterator<Item = (&str, &str)> {
        self.commands
            .iter()
            .map(|command| (command.key.as_str(), command.encoded.as_str()))
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
    /// It was not executed (an earlier command failed under `halt`).
    NotExecuted,
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
    entries: Vec<BatchEntry>,
    index: HashMap<String, usize>,
    calls: usize,
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
            BatchOutcome::Success(response) => {
                let result =
                    M::Response::deserialize(&response.result).map_err(|error| Error::Decode {
                        method: M::NAME.to_owned(),
                        http_status: 200,
                        reason: format!(
                            "unexpected `result` of batch command `{}` ({error})",
                            key.key
                        ),
                        snippet: snippet(
                            &serde_json::to_vec(&response.result).unwrap_or_default(),
                            &[],
                        ),
                    })?;
                match M::soft_error(&result) {
                    Some(soft) => Err(ApiError::new(M::NAME, soft.code, soft.description).into()),
                    None => Ok(result),
                }
            }
            BatchOutcome::Failed(error) => Err(Error::Api(error.clone())),
            BatchOutcome::NotExecuted => Err(not_executed()),
        }
    }

    fn push(&mut self, entry: BatchEntry) {
        self.index.insert(entry.key.clone(), self.entries.len());
        self.entries.push(entry);
    }
}
