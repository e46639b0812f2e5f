//! Drives the emulator from the spec's own examples (spec/methods/*.json): every request
//! example with a documented response is sent after the setup it needs, and the emulator's
//! `result` must have the documented shape (same keys and JSON types, modulo ids and values).

use std::path::{Path, PathBuf};

use imconnector_emulator::Emulator;
use serde_json::{json, Value};

use crate::common::Portal;

/// Events the emulator does not know are replaced by one it does (it serves only the
/// imconnector events and the app lifecycle ones).
const KNOWN_EVENTS: [&str; 9] = [
    "ONIMCONNECTORMESSAGEADD",
    "ONIMCONNECTORMESSAGEUPDATE",
    "ONIMCONNECTORMESSAGEDELETE",
    "ONIMCONNECTORDIALOGSTART",
    "ONIMCONNECTORDIALOGFINISH",
    "ONIMCONNECTORSTATUSDELETE",
    "ONIMCONNECTORLINEDELETE",
    "ONAPPUNINSTALL",
    "ONAPPUPDATE",
];

/// Keys the server sends "when available": the emulator always has them, an example may not.
const OPTIONAL_KEYS: [&str; 1] = ["session"];

fn spec_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spec/methods")
}

fn is_numeric(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit())
}

/// `None` when `ours` has the shape of `documented`, else where it differs.
///
/// Rules: `null` on either side matches anything (values); numbers and numeric strings match
/// each other (ids come as string or int); objects keyed by ids compare their values against
/// the first documented value; a documented sparse PHP list (object with numeric keys) also
/// accepts a list; lists compare element-wise when the lengths agree, else every element against
/// the first documented one; an empty documented list accepts any list but not an object;
/// [`OPTIONAL_KEYS`] may be answered where an example leaves them out.
fn shape_mismatch(documented: &Value, ours: &Value, path: &str) -> Option<String> {
    let numeric_keys = |map: &serde_json::Map<String, Value>| {
        !map.is_empty() && map.keys().all(|key| is_numeric(key))
    };
    match (documented, ours) {
        (Value::Null, _) | (_, Value::Null) => None,
        (Value::Bool(_), Value::Bool(_))
        | (Value::Number(_), Value::Number(_))
        | (Value::String(_), Value::String(_)) => None,
        (Value::Number(_), Value::String(text)) | (Value::String(text), Value::Number(_))
            if is_numeric(text) =>
        {
            None
        }
        (Value::Array(doc), Value::Array(got)) => match doc.first() {
            None => None,
            Some(_) if doc.len() == got.len() => {
                doc.iter()
                    .zip(got)
                    .enumerate()
                    .find_map(|(index, (doc, got))| {
                        shape_mismatch(doc, got, &format!("{path}[{index}]"))
                    })
            }
            Some(first) => got
                .iter()
                .enumerate()
                .find_map(|(index, got)| shape_mismatch(first, got, &format!("{path}[{index}]"))),
        },
        (Value::Object(doc), Value::Object(got)) if numeric_keys(doc) && numeric_keys(got) => {
            let first = doc.values().next()?;
            got.iter()
                .find_map(|(key, got)| shape_mismatch(first, got, &format!("{path}.{key}")))
        }
        (Value::Object(doc), Value::Array(got)) if numeric_keys(doc) => {
            let first = doc.values().next()?;
            got.iter()
                .enumerate()
                .find_map(|(index, got)| shape_mismatch(first, got, &format!("{path}[{index}]")))
        }
        (Value::Object(doc), Value::Object(got)) => {
            let mut doc_keys: Vec<&String> = doc.keys().collect();
            let mut got_keys: Vec<&String> = got
                .keys()
                .filter(|key| doc.contains_key(*key) || !OPTIONAL_KEYS.contains(&key.as_str()))
                .collect();
            doc_keys.sort();
            got_keys.sort();
            if doc_keys != got_keys {
                return Some(format!(
                    "{path}: keys {doc_keys:?} documented, {got_keys:?} answered"
                ));
            }
            doc.iter()
                .find_map(|(key, doc)| shape_mismatch(doc, &got[key], &format!("{path}.{key}")))
        }
        _ => Some(format!("{path}: documented {documented}, answered {ours}")),
    }
}

fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        _ => String::new(),
    }
}

fn line_of(request: &Value) -> i64 {
    text(&request["LINE"]).parse().unwrap_or(1)
}

/// What a method needs to exist before its example can succeed; may rewrite the request.
async fn set_up(portal: &Portal, method: &str, request: &Value, documented: &Value) -> Value {
    let mut request = request.clone();
    match method {
        "imconnector.register" => {}
        "imconnector.unregister" => portal.register(&text(&request["ID"])).await,
        "imconnector.list" => {
            for id in documented
                .as_object()
                .into_iter()
                .flat_map(|map| map.keys())
            {
                if !["livechat", "telegrambot", "network"].contains(&id.as_str()) {
                    portal.register(id).await;
                }
            }
        }
        "event.get" => {
            for binding in documented.as_array().into_iter().flatten() {
                portal
                    .bind(&text(&binding["handler"]), &[&text(&binding["event"])])
                    .await;
            }
        }
        "event.unbind" => {
            portal
                .bind(&text(&request["handler"]), &[&text(&request["event"])])
                .await
        }
        "event.bind"
            if !KNOWN_EVENTS.contains(&text(&request["event"]).to_uppercase().as_str()) =>
        {
            eprintln!(
                "spec example event.bind: {} is not served by the emulator; binding OnImConnectorMessageAdd instead",
                request["event"]
            );
            request["event"] = json!("OnImConnectorMessageAdd");
        }
        method if method.starts_with("imconnector.") => {
            let connector = text(&request["CONNECTOR"]);
            let line = line_of(&request);
            let group = method == "imconnector.chat.name.set" && request.get("USER_ID").is_none();
            portal
                .register_with(&connector, json!({"CHAT_GROUP": group}))
                .await;
            portal.activate(&connector, line).await;
            match method {
                "imconnector.update.messages" | "imconnector.delete.messages" => {
                    let mut messages = request["MESSAGES"].clone();
                    for message in messages.as_array_mut().into_iter().flatten() {
                        message["message"]["text"] = json!("original text");
                    }
                    let original =
                        json!({"CONNECTOR": connector, "LINE": line, "MESSAGES": messages});
                    portal.ok("imconnector.send.messages", original).await;
                }
                "imconnector.chat.name.set" => {
                    let user = request
                        .get("USER_ID")
                        .map_or_else(|| "someone".to_owned(), text);
                    let chat = text(&request["CHAT_ID"]);
                    portal
                        .customer_says(&connector, line, &chat, &user, "first", "hello")
                        .await;
                }
                _ => {}
            }
        }
        _ => {}
    }
    request
}

#[tokio::test]
async fn every_documented_success_example_has_the_documented_shape() {
    let dir = spec_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!(
            "skipping the spec-driven conformance test: {} not found",
            dir.display()
        );
        return;
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "json")
        })
        .collect();
    files.sort();
    let mut checked = 0;
    let mut failures = Vec::new();
    for file in files {
        let spec: Value = serde_json::from_str(&std::fs::read_to_string(&file).expect("readable"))
            .expect("valid JSON");
        let method = spec["name"].as_str().expect("name").to_owned();
        for (index, example) in spec["examples"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let (Some(request), Some(documented)) =
                (example.get("request"), example.get("response"))
            else {
                continue;
            };
            let documented = &documented["result"];
            // A fresh portal per example: lines 1..=20, so documented line ids resolve (and 999 does not).
            let portal = Portal::with(Emulator::builder().lines(20)).await;
            let request = set_up(&portal, &method, request, documented).await;
            let (status, body) = portal.call(&method, request).await;
            let label = format!("{} example {index} ({})", method, example["source"]);
            if status != 200 || body.get("error").is_some() {
                failures.push(format!("{label}: HTTP {status} {body}"));
            } else if let Some(mismatch) = shape_mismatch(documented, &body["result"], "result") {
                failures.push(format!("{label}: {mismatch}"));
            }
            checked += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} examples differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        checked > 0,
        "the spec directory holds no request/response examples"
    );
    eprintln!("checked {checked} spec examples");
}

#[test]
fn shape_rules_accept_values_and_ids_but_not_structure() {
    assert!(shape_mismatch(&json!({"user": "585"}), &json!({"user": 586}), "r").is_none());
    assert!(shape_mismatch(&json!({"DATA": []}), &json!({"DATA": []}), "r").is_none());
    assert!(shape_mismatch(&json!({"DATA": []}), &json!({"DATA": {}}), "r").is_some());
    assert!(shape_mismatch(&json!({"date": {}}), &json!({"date": 5}), "r").is_some());
    assert!(shape_mismatch(&json!({"a": 1}), &json!({"a": 1, "b": 2}), "r").is_some());
    assert!(shape_mismatch(&json!({"27": {"N": "x"}}), &json!({"1": {"N": "y"}}), "r").is_none());
    assert!(shape_mismatch(&json!({"1": 12}), &json!([12, 13]), "r").is_none());
    assert!(shape_mismatch(&json!([{"a": 1}, {"b": 1}]), &json!([{"a": 1}]), "r").is_none());
    assert!(shape_mismatch(
        &json!([{"a": 1}, {"b": 1}]),
        &json!([{"a": 1}, {"a": 1}]),
        "r"
    )
    .is_some());
    assert!(shape_mismatch(&json!({"a": 1}), &json!({"a": 1, "session": {}}), "r").is_none());
    assert!(shape_mismatch(&json!({"a": 1, "session": {}}), &json!({"a": 1}), "r").is_some());
}
