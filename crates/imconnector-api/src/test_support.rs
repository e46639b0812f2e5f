//! What the generated example tests call: building typed values from documented JSON, and the
//! checks that compare them with the documentation under PHP's notion of equality.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::events::Event;
use crate::transport::{Method, ResultError, SoftError};
use crate::wire::{ConnectorId, EventsUrl, LineId, SettingsUrl, WireDecode};

/// Builds a value through its public constructor and setters from a documented example.
pub(crate) trait FromExample {
    fn from_example(example: &Value) -> Self;
}

fn decoded<T: WireDecode>(example: &Value) -> T {
    T::from_wire(example.clone()).unwrap_or_else(|error| panic!("example value {example}: {error}"))
}

macro_rules! from_example_via_wire {
    ($($ty:ty),*) => {
        $(impl FromExample for $ty {
            fn from_example(example: &Value) -> Self {
                decoded(example)
            }
        })*
    };
}
from_example_via_wire!(String, bool, i64, u64, f64, Value);

impl FromExample for ConnectorId {
    fn from_example(example: &Value) -> Self {
        ConnectorId::new(decoded::<String>(example)).expect("documented connector id")
    }
}

impl FromExample for LineId {
    fn from_example(example: &Value) -> Self {
        LineId::new(decoded::<i64>(example)).expect("documented line id")
    }
}

impl FromExample for SettingsUrl {
    fn from_example(example: &Value) -> Self {
        SettingsUrl::parse(&decoded::<String>(example)).expect("documented settings URL")
    }
}

impl FromExample for EventsUrl {
    fn from_example(example: &Value) -> Self {
        EventsUrl::parse(&decoded::<String>(example)).expect("documented handler URL")
    }
}

impl<T: FromExample> FromExample for Vec<T> {
    fn from_example(example: &Value) -> Self {
        example
            .as_array()
            .unwrap_or_else(|| panic!("expected a list in the example, got {example}"))
            .iter()
            .map(T::from_example)
            .collect()
    }
}

impl<T: FromExample> FromExample for BTreeMap<String, T> {
    fn from_example(example: &Value) -> Self {
        example
            .as_object()
            .unwrap_or_else(|| panic!("expected an object in the example, got {example}"))
            .iter()
            .map(|(key, value)| (key.clone(), T::from_example(value)))
            .collect()
    }
}

/// The required key `key` of an example object.
pub(crate) fn required<T: FromExample>(example: &Value, key: &str) -> T {
    match example.get(key) {
        Some(value) => T::from_example(value),
        None => panic!("the example lacks the required `{key}`: {example}"),
    }
}

/// The optional key `key` of an example object.
pub(crate) fn optional<T: FromExample>(example: &Value, key: &str) -> Option<T> {
    example.get(key).map(T::from_example)
}

/// A PHP array's entries: lists are maps keyed by index; `null` entries are as good as absent.
fn php_entries(value: &Value) -> Option<BTreeMap<String, &Value>> {
    let entries: BTreeMap<String, &Value> = match value {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(index, item)| (index.to_string(), item))
            .collect(),
        Value::Object(map) => map.iter().map(|(key, item)| (key.clone(), item)).collect(),
        _ => return None,
    };
    Some(
        entries
            .into_iter()
            .filter(|(_, item)| !item.is_null())
            .collect(),
    )
}

/// A scalar as the PHP server reads it from a form: `true` is `"1"`, `false` is `"0"`.
fn php_scalar(value: &Value) -> String {
    match value {
        Value::Bool(true) => "1".to_owned(),
        Value::Bool(false) => "0".to_owned(),
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Whether the server would see `actual` and `expected` alike: `"107"` and `107`, `true` and
/// `"1"`, `[]` and `{}`, `1` and `1.0`. Nothing else is ignored. Returns where they differ.
pub(crate) fn php_equivalent(actual: &Value, expected: &Value) -> Result<(), String> {
    compare(actual, expected, "", Booleans::AsPhp)
}

/// How a JSON boolean compares with a string.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Booleans {
    /// As PHP reads a form: `true` is `"1"`, `false` is `"0"`.
    AsPhp,
    /// As the lenient decoder reads them: `true` also equals `"Y"` and `"true"`. Used to check
    /// that decoding kept every value, where a `"Y"` comes back as `true`.
    AsDecoded,
}

fn compare(actual: &Value, expected: &Value, path: &str, booleans: Booleans) -> Result<(), String> {
    // PHP's `false` for "nothing" decodes as `None`, which serialises as `null`.
    if booleans == Booleans::AsDecoded && actual.is_null() && *expected == Value::Bool(false) {
        return Ok(());
    }
    match (php_entries(actual), php_entries(expected)) {
        (Some(actual), Some(expected)) => {
            for key in actual.keys().chain(expected.keys()) {
                let at = format!("{path}/{key}");
                match (actual.get(key), expected.get(key)) {
                    (Some(left), Some(right)) => compare(left, right, &at, booleans)?,
                    (Some(_), None) => return Err(format!("{at}: sent but not documented")),
                    (None, _) => return Err(format!("{at}: documented but not sent")),
                }
            }
            Ok(())
        }
        (None, None) => {
            let (left, right) = (php_scalar(actual), php_scalar(expected));
            let numerically_equal = matches!(
                (left.parse::<f64>(), right.parse::<f64>()),
                (Ok(left), Ok(right)) if left == right
            );
            let same_flag = booleans == Booleans::AsDecoded
                && match (actual, expected) {
                    (Value::Bool(flag), other) | (other, Value::Bool(flag)) => {
                        crate::wire::WireDecode::from_wire(other.clone()) == Ok(*flag)
                    }
                    _ => false,
                };
            if left == right || numerically_equal || same_flag {
                Ok(())
            } else {
                Err(format!("{path}: {actual} vs {expected}"))
            }
        }
        _ => Err(format!("{path}: {actual} vs {expected} (array vs scalar)")),
    }
}

fn parse(json: &str) -> Value {
    serde_json::from_str(json).expect("generated examples are valid JSON")
}

/// The documented request is built with `new(..)` and the setters, serialises to the
/// documented JSON, and passes local validation.
pub(crate) fn check_request<M: Method + FromExample>(json: &str) {
    let documented = parse(json);
    let request = M::from_example(&documented);
    let sent = serde_json::to_value(&request).expect("requests serialise");
    if let Err(difference) = php_equivalent(&sent, &documented) {
        panic!(
            "{}: {difference}\n  sent:       {sent}\n  documented: {documented}",
            M::NAME
        );
    }
    if let Err(error) = request.validate() {
        panic!(
            "{}: the documented request fails validation: {error}",
            M::NAME
        );
    }
}

/// The documented `result` read by the method's one decoder: the response, or the soft error
/// it reports.
fn decode_result<M: Method>(result: &Value) -> Result<M::Response, SoftError> {
    match M::decode_response(result) {
        Ok(response) => Ok(response),
        Err(ResultError::Soft(soft)) => Err(soft),
        Err(other) => panic!(
            "{}: result does not decode: {other:?}\n  result: {result}",
            M::NAME
        ),
    }
}

/// The documented envelope's `result` decodes into the response type, and it reports a soft
/// error exactly when the result names one.
pub(crate) fn check_response<M: Method>(json: &str) {
    let envelope = parse(json);
    let result = envelope
        .get("result")
        .expect("a success envelope has `result`");
    let expected = result.get("error").and_then(Value::as_str);
    let found = decode_result::<M>(result).err().map(|error| error.code);
    assert_eq!(
        found.as_deref(),
        expected,
        "{}: soft error of {result}",
        M::NAME
    );
}

/// Decoding and serialising the documented `result` again loses nothing the server sent (for
/// responses that keep the wire's layout: those without a soft-error reader).
pub(crate) fn check_response_keeps_every_field<M: Method>(json: &str)
where
    M::Response: Serialize,
{
    let envelope = parse(json);
    let result = envelope
        .get("result")
        .expect("a success envelope has `result`");
    let decoded = decode_result::<M>(result)
        .unwrap_or_else(|soft| panic!("{}: unexpected soft error {soft:?}", M::NAME));
    let again = serde_json::to_value(decoded).expect("responses serialise");
    if let Err(difference) = compare(&again, result, "", Booleans::AsDecoded) {
        panic!(
            "{}: decoding lost or changed {difference}\n  decoded: {again}\n  result:  {result}",
            M::NAME
        );
    }
}

/// The error body the portal sends (any HTTP status), as the documentation prints it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ErrorBody {
    error: String,
    error_description: String,
    #[serde(default)]
    argument: Option<String>,
    /// Newer servers' soft errors: `{"result": false, "error": ...}` at the top level.
    #[serde(default)]
    result: Option<bool>,
}

/// A documented error decodes: an error body with a documented code, or a 200 envelope whose
/// `result` reports a soft error.
pub(crate) fn check_error<M: Method>(json: &str, documented_codes: &[&str]) {
    let body = parse(json);
    if body.get("error").is_some() {
        let error: ErrorBody = serde_json::from_value(body.clone()).unwrap_or_else(|error| {
            panic!(
                "{}: error body does not decode: {error}\n  body: {body}",
                M::NAME
            )
        });
        assert!(
            documented_codes.contains(&error.error.as_str()),
            "{}: `{}` is not documented",
            M::NAME,
            error.error
        );
        assert!(
            !error.error_description.is_empty(),
            "{}: an error without a description",
            M::NAME
        );
        assert!(error.argument.is_none_or(|argument| !argument.is_empty()));
        assert!(
            error.result != Some(true),
            "{}: an error with result: true",
            M::NAME
        );
        return;
    }
    let result = body
        .get("result")
        .expect("an error example is an error body or an envelope");
    let Err(soft) = decode_result::<M>(result) else {
        panic!(
            "{}: the documented failure {result} is not reported as a soft error",
            M::NAME
        )
    };
    if let Some(code) = result.get("error").and_then(Value::as_str) {
        assert_eq!(soft.code, code);
        assert!(
            documented_codes.contains(&code),
            "{}: `{code}` is not documented",
            M::NAME
        );
    }
}

/// The tokens of an event's `auth` block, to check they never show in `Debug`.
fn tokens(value: &Value) -> Vec<String> {
    ["application_token", "access_token", "refresh_token"]
        .iter()
        .filter_map(|key| {
            value
                .pointer(&format!("/auth/{key}"))
                .and_then(Value::as_str)
        })
        .filter(|token| !token.is_empty())
        .map(str::to_owned)
        .collect()
}

fn check_event(event: &Event, source: &Value, is_expected: fn(&Event) -> bool) {
    assert!(
        is_expected(event),
        "decoded into the wrong variant: {event:?}"
    );
    let shown = format!("{event:?}");
    for token in tokens(source) {
        assert!(!shown.contains(&token), "Debug shows a token: {shown}");
    }
    if let Some(token) = source
        .pointer("/auth/application_token")
        .and_then(Value::as_str)
    {
        assert!(event.has_application_token(token));
        assert!(!event.has_application_token(&format!("{token}x")));
    }
}

/// A documented JSON event decodes into the right variant, hides its tokens, and decodes the
/// same when sent as a form (every value a string), as the portal really sends it.
pub(crate) fn check_event_json(json: &str, is_expected: fn(&Event) -> bool) {
    let source = parse(json);
    let event = Event::from_json(json.as_bytes())
        .unwrap_or_else(|error| panic!("{error}\n  event: {json}"));
    check_event(&event, &source, is_expected);
    let form = imconnector_form::encode(&source);
    let from_form =
        Event::from_form(form.as_bytes()).unwrap_or_else(|error| panic!("{error}\n  form: {form}"));
    check_event(&from_form, &source, is_expected);
    assert_eq!(
        format!("{from_form:?}"),
        format!("{event:?}"),
        "form and JSON decode differently"
    );
}

/// A form-encoded event decodes into the right variant and hides its tokens.
pub(crate) fn check_event_form(form: &str, is_expected: fn(&Event) -> bool) {
    let source = imconnector_form::parse(form.as_bytes()).expect("a valid form");
    let event =
        Event::from_form(form.as_bytes()).unwrap_or_else(|error| panic!("{error}\n  form: {form}"));
    check_event(&event, &source, is_expected);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn php_equivalence_ignores_only_representation() {
        assert!(php_equivalent(
            &json!({"LINE": 107, "ACTIVE": "1"}),
            &json!({"LINE": "107", "ACTIVE": true})
        )
        .is_ok());
        assert!(php_equivalent(&json!({"DATA": []}), &json!({"DATA": {}})).is_ok());
        assert!(php_equivalent(&json!({"a": 1.0}), &json!({"a": 1})).is_ok());
        assert!(php_equivalent(&json!({"a": null}), &json!({})).is_ok());
        assert!(php_equivalent(&json!({"LINE": 107}), &json!({"LINE": 108})).is_err());
        assert!(php_equivalent(&json!({"LINE": 107}), &json!({"LINE": 107, "X": 1})).is_err());
        assert!(php_equivalent(&json!({"LINE": 107, "X": 1}), &json!({"LINE": 107})).is_err());
        assert!(php_equivalent(&json!({"A": "N"}), &json!({"A": false})).is_err());
        assert!(php_equivalent(&json!([1, 2]), &json!([2, 1])).is_err());
        assert!(php_equivalent(&json!({"A": true}), &json!({"A": "Y"})).is_err());
        assert!(compare(
            &json!({"A": true}),
            &json!({"A": "Y"}),
            "",
            Booleans::AsDecoded
        )
        .is_ok());
        assert!(compare(
            &json!({"A": false}),
            &json!({"A": "Y"}),
            "",
            Booleans::AsDecoded
        )
        .is_err());
        assert!(php_equivalent(&json!({"a": [1]}), &json!({"a": 1})).is_err());
    }
}
