//! The REST response envelope: `result` + `time` + `total`/`next`, or `error` +
//! `error_description` (+ `argument`), and what to do with a body that is neither.

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::{value::RawValue, Map, Value};

use crate::{api_error::ApiError, code::ErrorCode};

/// The `time` block of a response. The portal says its composition "may vary", so every field
/// is optional and a field of an unexpected type is left out rather than failing the call.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Time {
    /// Unix time (seconds, fractional) when the portal started the request.
    pub start: Option<f64>,
    /// Unix time when it finished.
    pub finish: Option<f64>,
    /// Seconds spent, in total.
    pub duration: Option<f64>,
    /// Seconds spent in the method itself.
    pub processing: Option<f64>,
    /// `start` as ISO-8601 with offset.
    pub date_start: Option<String>,
    /// `finish` as ISO-8601 with offset.
    pub date_finish: Option<String>,
    /// Unix time when the oldest bucket of the method's operating-time window expires (cloud).
    pub operating_reset_at: Option<i64>,
    /// Seconds of execution the method accumulated in the current window (cloud).
    pub operating: Option<f64>,
}

impl Time {
    /// Reads a `time` object leniently; `None` if `value` is not an object.
    pub fn from_value(value: &Value) -> Option<Time> {
        let object = value.as_object()?;
        let float = |key: &str| object.get(key).and_then(lenient_f64);
        let text = |key: &str| object.get(key).and_then(Value::as_str).map(str::to_owned);
        Some(Time {
            start: float("start"),
            finish: float("finish"),
            duration: float("duration"),
            processing: float("processing"),
            date_start: text("date_start"),
            date_finish: text("date_finish"),
            // Truncation is intended: the portal sends whole seconds; a fraction means nothing.
            #[allow(clippy::cast_possible_truncation)]
            operating_reset_at: float("operating_reset_at").map(|seconds| seconds as i64),
            operating: float("operating"),
        })
    }
}

/// A decoded success envelope: the method's `result` and the metadata around it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Response<T> {
    /// The method's payload.
    pub result: T,
    /// The `time` block, if the portal sent one.
    pub time: Option<Time>,
    /// The total number of items of a list method.
    pub total: Option<u64>,
    /// The `start` value of the next page of a list method; absent on the last page.
    pub next: Option<u64>,
}

impl<T> Response<T> {
    /// Creates a response (for tests and adapters).
    pub fn new(result: T) -> Self {
        Self {
            result,
            time: None,
            total: None,
            next: None,
        }
    }

    /// Replaces the payload, keeping the metadata.
    pub fn map<U>(self, convert: impl FnOnce(T) -> U) -> Response<U> {
        Response {
            result: convert(self.result),
            time: self.time,
            total: self.total,
            next: self.next,
        }
    }
}

/// The untyped answer of [`Client::call_raw`](crate::Client::call_raw).
pub type RawResponse = Response<Value>;

/// A success envelope whose `result` is still JSON text, as the dispatch hands it on: a typed
/// call decodes its result straight from that text, with no `Value` tree in between.
pub(crate) type TextResponse = Response<Box<RawValue>>;

pub(crate) fn lenient_f64(value: &Value) -> Option<f64> {
    match value {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

pub(crate) fn lenient_u64(value: &Value) -> Option<u64> {
    match value {
        Value::Number(number) => number.as_u64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// An error envelope (`error` non-empty string) from an object, or `None`.
pub(crate) fn error_from_object(
    method: &str,
    object: &Map<String, Value>,
    http_status: Option<u16>,
) -> Option<ApiError> {
    let code = object
        .get("error")
        .and_then(Value::as_str)
        .filter(|code| !code.is_empty())?;
    let text = |key: &str| match object.get(key) {
        Some(Value::String(text)) => Some(text.clone()),
        Some(Value::Number(number)) => Some(number.to_string()),
        _ => None,
    };
    Some(ApiError {
        method: method.to_owned(),
        code: ErrorCode::from_wire(code),
        description: text("error_description").unwrap_or_default(),
        http_status,
        argument: text("argument"),
    })
}

/// How many characters of a bad body an error keeps.
const SNIPPET_CHARS: usize = 200;
/// Runs of this many letters and digits look like tokens and are masked even when unknown.
const OPAQUE_RUN: usize = 32;

/// The start of a body for an error message: lossy UTF-8, whitespace collapsed, every known
/// secret and every long opaque run masked, then cut to [`SNIPPET_CHARS`] characters.
pub(crate) fn snippet(body: &[u8], secrets: &[&SecretString]) -> String {
    // Masking happens before cutting, so a secret straddling the cut cannot leak a prefix.
    let head = &body[..body.len().min(8 * 1024)];
    let mut text = String::from_utf8_lossy(head)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for secret in secrets {
        let secret = secret.expose_secret();
        if !secret.is_empty() {
            text = text.replace(secret, "[redacted]");
        }
    }
    let text = mask_opaque_runs(&text);
    match text.char_indices().nth(SNIPPET_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

fn mask_opaque_runs(text: &str) -> String {
    let mut masked = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, masked: &mut String| {
        if run.len() >= OPAQUE_RUN {
            masked.push_str("[redacted]");
        } else {
            masked.push_str(run);
        }
        run.clear();
    };
    for character in text.chars() {
        if character.is_ascii_alphanumeric() {
            run.push(character);
        } else {
            flush(&mut run, &mut masked);
            masked.push(character);
        }
    }
    flush(&mut run, &mut masked);
    masked
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn time_is_lenient() {
        let time = Time::from_value(&json!({
            "start": "1738065600.5", "finish": 1738065600.75, "operating": 0.03,
            "operating_reset_at": 1738066200, "date_start": "2025-01-28T12:00:00+00:00",
            "duration": {}
        }))
        .expect("an object");
        assert_eq!(time.start, Some(1_738_065_600.5));
        assert_eq!(time.operating_reset_at, Some(1_738_066_200));
        assert_eq!(time.duration, None);
        assert_eq!(time.processing, None);
    }

    #[test]
    fn snippets_mask_secrets_and_opaque_runs() {
        let secret = SecretString::from("s3cr3t".to_owned());
        let body = format!("<html> token s3cr3t and {} </html>", "a1".repeat(40));
        let text = snippet(body.as_bytes(), &[&secret]);
        assert_eq!(text, "<html> token [redacted] and [redacted] </html>");
        let long = "x ".repeat(500);
        assert_eq!(
            snippet(long.as_bytes(), &[]).chars().count(),
            SNIPPET_CHARS + 1
        );
    }
}
