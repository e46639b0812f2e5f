//! Response bodies and headers: the success envelope with its `time` block, the error envelope,
//! and the HTML page of a PHP fatal error (reference §1.3, §1.4).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};
use time::macros::format_description;
use time::OffsetDateTime;

use crate::limits::OperatingReport;

/// A REST error: HTTP status, `error`, `error_description` and extra top-level keys.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) code: String,
    pub(crate) description: String,
    pub(crate) extra: Map<String, Value>,
}

impl ApiError {
    pub(crate) fn new(status: u16, code: &str, description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            code: code.to_owned(),
            description: description.into(),
            extra: Map::new(),
        }
    }

    /// 503 `QUERY_LIMIT_EXCEEDED` "Too many requests": the portal's refusal of a request over
    /// its rate limit (reference §1.7), from the leaky bucket or an injected fault alike.
    pub(crate) fn query_limit_exceeded() -> Self {
        Self::new(503, "QUERY_LIMIT_EXCEEDED", "Too many requests")
    }

    /// 400 `ERROR_ARGUMENT` "Argument 'X' is null or empty" with `argument: X`.
    pub(crate) fn missing(argument: &str) -> Self {
        Self::argument(argument, format!("Argument '{argument}' is null or empty"))
    }

    /// 400 `ERROR_ARGUMENT` with a custom text and `argument: X`.
    pub(crate) fn argument(argument: &str, description: impl Into<String>) -> Self {
        let mut error = Self::new(400, "ERROR_ARGUMENT", description);
        error
            .extra
            .insert("argument".to_owned(), Value::String(argument.to_owned()));
        error
    }

    /// The error body.
    pub(crate) fn body(&self) -> Value {
        let mut body = Map::new();
        body.insert("error".to_owned(), Value::String(self.code.clone()));
        body.insert(
            "error_description".to_owned(),
            Value::String(self.description.clone()),
        );
        for (key, value) in &self.extra {
            body.insert(key.clone(), value.clone());
        }
        Value::Object(body)
    }
}

/// What a method produced.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    /// The `result` payload.
    Ok(Value),
    /// A register/unregister soft error: `{result: false, error, error_description}` at HTTP 200.
    Soft(Value),
    /// An error envelope.
    Err(ApiError),
    /// A PHP fatal error: HTTP 500 with an HTML page.
    Fatal,
    /// A page of a list: `result` with `total` (and `next` when more pages follow) beside it.
    Page {
        /// The items of this page.
        items: Value,
        /// How many items the whole list has.
        total: usize,
        /// `start` of the next page.
        next: Option<usize>,
    },
}

impl From<ApiError> for Outcome {
    fn from(error: ApiError) -> Self {
        Outcome::Err(error)
    }
}

/// Timing of one call, in emulated unix seconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    pub(crate) start: f64,
    pub(crate) finish: f64,
    pub(crate) processing: f64,
    pub(crate) operating: Option<OperatingReport>,
}

impl Timing {
    /// The `time` block.
    pub(crate) fn to_value(self) -> Value {
        let mut time = json!({
            "start": self.start,
            "finish": self.finish,
            "duration": (self.finish - self.start).max(0.0),
            "processing": self.processing,
            "date_start": iso_date(self.start),
            "date_finish": iso_date(self.finish),
        });
        if let (Some(report), Value::Object(map)) = (self.operating, &mut time) {
            map.insert("operating_reset_at".to_owned(), json!(report.reset_at));
            map.insert("operating".to_owned(), json!(report.operating));
        }
        time
    }
}

/// The last second of year 9999: dates beyond (after huge clock jumps) are shown as this.
const LAST_ISO_SECOND: i64 = 253_402_300_799;

/// `2025-01-28T12:00:00+00:00`, as the portal writes dates; never empty (times outside years
/// 1970..=9999 are clamped).
pub(crate) fn iso_date(unix: f64) -> String {
    #[allow(clippy::cast_possible_truncation)] // saturating; clamped right after
    let seconds = (unix.floor() as i64).clamp(0, LAST_ISO_SECOND);
    OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|date| {
            date.format(format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second]+00:00"
            ))
            .ok()
        })
        .unwrap_or_else(|| "1970-01-01T00:00:00+00:00".to_owned())
}

/// A JSON response with the portal's headers.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// The error envelope as a response.
pub(crate) fn error_response(error: &ApiError) -> Response {
    json_response(error.status, &error.body())
}

/// Bodies above this are dropped before parsing, as PHP drops a POST over its default
/// `post_max_size` (8 MiB): the method then sees only the query string.
pub(crate) const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// Turns axum's plain-text 413 (a body over the limit, control API) into an error envelope.
pub(crate) async fn json_413(response: Response) -> Response {
    let plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_none_or(|value| value.as_bytes().starts_with(b"text/plain"));
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE && plain {
        return error_response(&ApiError::new(
            413,
            "REQUEST_TOO_LARGE",
            "The request body is too large",
        ));
    }
    response
}

/// What a PHP fatal error (or an injected 500) looks like: not JSON.
pub(crate) fn html_500() -> Response {
    let mut response = (
        StatusCode::INTERNAL_SERVER_ERROR,
        "<!DOCTYPE html>\n<html><head><title>500 Internal Server Error</title></head>\
         <body><h1>Internal Server Error</h1><p>The server encountered an internal error.</p></body></html>\n",
    )
        .into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=UTF-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_iso_with_offset() {
        assert_eq!(iso_date(1_738_065_600.11), "2025-01-28T12:00:00+00:00");
        assert_eq!(iso_date(f64::INFINITY), "9999-12-31T23:59:59+00:00");
        assert_eq!(iso_date(f64::NAN), "1970-01-01T00:00:00+00:00");
        assert_eq!(iso_date(-5.0), "1970-01-01T00:00:00+00:00");
    }

    #[test]
    fn time_block_has_operating_only_when_reported() {
        let timing = Timing {
            start: 10.0,
            finish: 10.5,
            processing: 0.25,
            operating: None,
        };
        let plain = timing.to_value();
        assert!(plain.get("operating").is_none());
        assert_eq!(plain["duration"], json!(0.5));
        let with = Timing {
            operating: Some(OperatingReport {
                operating: 1.5,
                reset_at: 610,
            }),
            ..timing
        }
        .to_value();
        assert_eq!(with["operating"], json!(1.5));
        assert_eq!(with["operating_reset_at"], json!(610));
    }

    #[test]
    fn argument_errors_name_the_argument() {
        let body = ApiError::missing("LINE").body();
        assert_eq!(
            body,
            json!({"error": "ERROR_ARGUMENT", "error_description": "Argument 'LINE' is null or empty", "argument": "LINE"})
        );
    }
}
