//! `batch` (reference §1.6): up to 50 sub-calls `key → "method?query"` with the outer
//! credentials, `halt`, `$result[key][FIELD]` references and per-command errors.

use serde_json::{json, Map, Value};

use super::auth::Caller;
use super::invoke;
use crate::envelope::{ApiError, Outcome, Timing};
use crate::php::{self, Params};
use crate::state::Portal;

/// Sub-calls beyond this many each get `ERROR_BATCH_LENGTH_EXCEEDED`.
const MAX_COMMANDS: usize = 50;

#[derive(Default)]
struct Collected {
    results: Vec<(String, Value)>,
    totals: Vec<(String, Value)>,
    nexts: Vec<(String, Value)>,
    errors: Vec<(String, Value)>,
    times: Vec<(String, Value)>,
}

pub(crate) fn batch(portal: &mut Portal, caller: Caller, params: Params) -> Outcome {
    let param = |name: &str| {
        params
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    };
    let halt = php::truthy(param("halt"));
    let commands = param("cmd").map(php::entries).unwrap_or_default();
    let mut collected = Collected::default();
    for (index, (key, command)) in commands.into_iter().enumerate() {
        let failed = if index >= MAX_COMMANDS {
            let error = ApiError::new(
                400,
                "ERROR_BATCH_LENGTH_EXCEEDED",
                "Max batch length exceeded",
            );
            collected.errors.push((key, error.body()));
            true
        } else {
            let command = php::to_text(Some(command)).unwrap_or_default();
            match run_command(portal, caller, &key, &command, &mut collected) {
                Ok(failed) => failed,
                // A PHP fatal error in a sub-call takes the whole batch down.
                Err(()) => return Outcome::Fatal,
            }
        };
        if failed && halt {
            break;
        }
    }
    Outcome::Ok(json!({
        "result": php::php_array(collected.results),
        "result_error": php::php_array(collected.errors),
        "result_total": php::php_array(collected.totals),
        "result_next": php::php_array(collected.nexts),
        "result_time": php::php_array(collected.times),
    }))
}

/// Runs one sub-call; `Ok(true)` when it failed, `Err` on a fatal error.
fn run_command(
    portal: &mut Portal,
    caller: Caller,
    key: &str,
    command: &str,
    collected: &mut Collected,
) -> Result<bool, ()> {
    let (method, query) = command.split_once('?').unwrap_or((command, ""));
    let method = method.trim_matches('/').to_lowercase();
    let method = method.strip_suffix(".json").unwrap_or(&method).to_owned();
    portal.count_request(&method, super::is_known(&method));
    if method == "batch" {
        let error = ApiError::new(
            405,
            "ERROR_BATCH_METHOD_NOT_ALLOWED",
            "Method is not allowed for batch usage",
        );
        collected.errors.push((key.to_owned(), error.body()));
        return Ok(true);
    }
    let mut params = match imconnector_form::parse(query.as_bytes()) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    // The outer call's credentials are injected into every sub-call.
    params.remove("auth");
    params.remove("access_token");
    let results: Map<String, Value> = collected.results.iter().cloned().collect();
    for value in params.values_mut() {
        substitute(value, &results);
    }
    let start = portal.now();
    let (outcome, report, processing) = invoke(portal, caller, &method, params);
    let timing = Timing {
        start,
        finish: start + processing,
        processing,
        operating: report,
    };
    match outcome {
        Outcome::Ok(result) | Outcome::Soft(result) => {
            collected.results.push((key.to_owned(), result));
            collected.times.push((key.to_owned(), timing.to_value()));
            Ok(false)
        }
        Outcome::Err(error) => {
            collected.errors.push((key.to_owned(), error.body()));
            Ok(true)
        }
        Outcome::Fatal => Err(()),
        Outcome::Page { items, total, next } => {
            collected.results.push((key.to_owned(), items));
            collected.totals.push((key.to_owned(), json!(total)));
            if let Some(next) = next {
                collected.nexts.push((key.to_owned(), json!(next)));
            }
            collected.times.push((key.to_owned(), timing.to_value()));
            Ok(false)
        }
    }
}

/// Replaces `$result[key][FIELD]...` references inside string values with earlier results.
fn substitute(value: &mut Value, results: &Map<String, Value>) {
    match value {
        Value::String(text) => {
            if let Some(replacement) = resolve_text(text, results) {
                *value = replacement;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| substitute(item, results)),
        Value::Object(map) => map.values_mut().for_each(|item| substitute(item, results)),
        _ => {}
    }
}

const MARKER: &str = "$result[";

/// A reference is `$result` followed by one or more `[segment]`. A string that is exactly one
/// reference takes the referenced value whole (arrays included); references inside longer text
/// are replaced by their string form. Unresolvable references stay as written.
fn resolve_text(text: &str, results: &Map<String, Value>) -> Option<Value> {
    if !text.contains(MARKER) {
        return None;
    }
    let mut output = String::new();
    let mut rest = text;
    let mut whole: Option<Value> = None;
    while let Some(position) = rest.find(MARKER) {
        output.push_str(&rest[..position]);
        let after = &rest[position + "$result".len()..];
        let (segments, consumed) = segments(after);
        let reference = &rest[position..position + "$result".len() + consumed];
        let resolved = lookup(results, &segments);
        if position == 0 && consumed + "$result".len() == rest.len() && output.is_empty() {
            whole = resolved.cloned();
        }
        match resolved.and_then(|value| php::to_text(Some(value))) {
            Some(text) => output.push_str(&text),
            None => output.push_str(reference),
        }
        rest = &rest[position + "$result".len() + consumed..];
    }
    output.push_str(rest);
    Some(whole.unwrap_or(Value::String(output)))
}

/// Parses `[a][b]...` at the start of `text`; returns the segments and the bytes consumed.
fn segments(text: &str) -> (Vec<&str>, usize) {
    let mut found = Vec::new();
    let mut consumed = 0;
    while let Some(inner) = text[consumed..].strip_prefix('[') {
        let Some(close) = inner.find(']') else { break };
        found.push(&inner[..close]);
        consumed += close + 2;
    }
    (found, consumed)
}

fn lookup<'a>(results: &'a Map<String, Value>, segments: &[&str]) -> Option<&'a Value> {
    let (first, rest) = segments.split_first()?;
    let mut current = results.get(*first)?;
    for segment in rest {
        current = php::get(current, segment)?;
    }
    Some(current)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_resolve_inside_and_as_whole_values() {
        let results: Map<String, Value> = serde_json::from_value(
            json!({"st": {"LINE": 107, "CONNECTOR": "acme"}, "lines": [{"ID": "5"}]}),
        )
        .expect("map");
        assert_eq!(
            resolve_text("$result[st][LINE]", &results),
            Some(json!(107))
        );
        assert_eq!(
            resolve_text("line $result[lines][0][ID]!", &results),
            Some(json!("line 5!"))
        );
        assert_eq!(
            resolve_text("$result[st]", &results),
            Some(json!({"LINE": 107, "CONNECTOR": "acme"}))
        );
        assert_eq!(
            resolve_text("$result[nope][X]", &results),
            Some(json!("$result[nope][X]"))
        );
        assert_eq!(resolve_text("plain", &results), None);
    }
}
