//! `batch`: many commands in one HTTP call (50 at most; longer batches are chunked).

use serde_json::{Map, Value};

use crate::{
    call::{raw_auth_kind, to_params},
    error::Error,
    method::{AuthKind, InvalidRequest, Method},
};

pub(crate) mod response;
mod send;

pub use response::{BatchEntry, BatchKey, BatchOutcome, BatchResponse};

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
        Ok(BatchKey::new(key))
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
        check_vanishing(&method, &params)?;
        self.check_references(&params)?;
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

impl Batch {
    /// Refuses a `$result[key]` reference the portal could not resolve: to a key not added
    /// before, or to a command in another chunk of [`MAX_BATCH_COMMANDS`] (each chunk is its own
    /// `batch` call, and results do not cross calls).
    fn check_references(&self, params: &Map<String, Value>) -> Result<(), Error> {
        let position = self.commands.len();
        let mut references = Vec::new();
        for value in params.values() {
            collect_references(value, &mut references);
        }
        for key in references {
            let Some(target) = self.commands.iter().position(|command| command.key == key) else {
                return Err(InvalidRequest::new(
                    "cmd",
                    format!("`$result[{key}]` refers to no command added before this one"),
                )
                .into());
            };
            if target / MAX_BATCH_COMMANDS != position / MAX_BATCH_COMMANDS {
                return Err(InvalidRequest::new(
                    "cmd",
                    format!(
                        "`$result[{key}]` refers to command {} of the batch from command {}: they \
                         fall in different chunks of {MAX_BATCH_COMMANDS}, and results do not cross \
                         `batch` calls",
                        target + 1,
                        position + 1
                    ),
                )
                .into());
            }
        }
        Ok(())
    }
}

/// The keys named by `$result[key]` references in the strings of `value`.
fn collect_references(value: &Value, keys: &mut Vec<String>) {
    match value {
        Value::String(text) => {
            let mut rest = text.as_str();
            while let Some(start) = rest.find("$result[") {
                rest = &rest[start + "$result[".len()..];
                if let Some(end) = rest.find(']') {
                    keys.push(rest[..end].to_owned());
                    rest = &rest[end..];
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_references(item, keys)),
        Value::Object(map) => map.values().for_each(|item| collect_references(item, keys)),
        _ => {}
    }
}

/// Refuses a top-level parameter whose value is an empty object or array: the form encoding of
/// a batch command drops it, so the portal would not see the parameter at all (e.g.
/// `imconnector.connector.data.set` with an empty `DATA` answers `ERROR_ARGUMENT`). The
/// transport does not know which parameters a method requires, so it refuses every such one;
/// leave an optional parameter out instead of sending it empty.
fn check_vanishing(method: &str, params: &Map<String, Value>) -> Result<(), Error> {
    for (name, value) in params {
        let empty = match value {
            Value::Object(map) => map.is_empty(),
            Value::Array(items) => items.is_empty(),
            _ => false,
        };
        if empty {
            return Err(InvalidRequest::new(
                name.clone(),
                format!(
                    "an empty {} would vanish in the form encoding of batch command `{method}`; \
                     leave the parameter out or call the method on its own",
                    if value.is_object() { "object" } else { "array" }
                ),
            )
            .into());
        }
    }
    Ok(())
}
