//! Fuzz body: ONAPPINSTALL, the event that carries a portal's tokens to the install URL, read
//! as the transport reads it (`PortalRecord::from_install_event` on the parsed body).

use imconnector_transport::portals::PortalRecord;
use serde_json::Value;

use crate::peak;

/// Reads the first byte as the content type (even: the portal's form, odd: JSON) and the rest
/// as the body.
pub fn content_type_and_body(data: &[u8]) -> (Option<&'static str>, &[u8]) {
    match data.split_first() {
        Some((first, rest)) if first % 2 == 1 => (Some("application/json"), rest),
        Some((_, rest)) => (Some("application/x-www-form-urlencoded"), rest),
        None => (None, data),
    }
}

/// Every string in `value`, but those under the keys in `secret_keys`.
fn public_texts<'v>(value: &'v Value, secret_keys: &[&str], into: &mut Vec<&'v str>) {
    match value {
        Value::String(text) => into.push(text),
        Value::Array(items) => items
            .iter()
            .for_each(|item| public_texts(item, secret_keys, into)),
        Value::Object(map) => {
            for (key, item) in map {
                into.push(key);
                if !secret_keys.contains(&key.as_str()) {
                    public_texts(item, secret_keys, into);
                }
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Asserts that no secret of `value` (a string under one of `secret_keys`, anywhere) shows in
/// `printed`, unless the same text is also a public field or a word of the printout's own.
///
/// # Panics
/// When one does (that is the finding).
pub fn assert_secrets_hidden(printed: &str, value: &Value, secret_keys: &[&str]) {
    let mut public = Vec::new();
    public_texts(value, secret_keys, &mut public);
    let mut secrets = Vec::new();
    collect_secrets(value, secret_keys, &mut secrets);
    for secret in secrets {
        let secret = secret.trim();
        let shown_anyway = secret.len() < 8
            || public.iter().any(|text| text.contains(secret))
            || secret_keys.iter().any(|key| key.contains(secret))
            || "PortalRecord Tokens SettingsPlacement PlacementOptions Secret [redacted] Some None"
                .contains(secret);
        assert!(
            shown_anyway || !printed.contains(secret),
            "a secret shows: {secret:?} in {printed}"
        );
    }
}

fn collect_secrets<'v>(value: &'v Value, secret_keys: &[&str], into: &mut Vec<&'v str>) {
    match value {
        Value::Array(items) => items
            .iter()
            .for_each(|item| collect_secrets(item, secret_keys, into)),
        Value::Object(map) => {
            for (key, item) in map {
                match item {
                    Value::String(text) if secret_keys.contains(&key.as_str()) => into.push(text),
                    _ => collect_secrets(item, secret_keys, into),
                }
            }
        }
        Value::Null | Value::Bool(_) | Value::String(_) | Value::Number(_) => {}
    }
}

/// Parses `data` (see [`content_type_and_body`]) and reads it as ONAPPINSTALL: within the
/// allocation bound, never a panic, a record only with its required fields, and the record's
/// `Debug` shows none of its tokens.
///
/// # Panics
/// When one of those properties does not hold (that is the finding).
pub fn check(data: &[u8]) {
    let (content_type, body) = content_type_and_body(data);
    let parsed = peak::assert_bounded("ONAPPINSTALL", body.len(), 0, || {
        let value = imconnector_form::parse_body(content_type, body).ok()?;
        let record = PortalRecord::from_install_event(&value);
        Some((value, record))
    });
    let Some((value, Ok(record))) = parsed else {
        return;
    };
    assert!(
        !record.member_id.as_str().trim().is_empty(),
        "a record without member_id"
    );
    let auth = &value["auth"];
    for required in [
        "member_id",
        "application_token",
        "access_token",
        "refresh_token",
        "client_endpoint",
    ] {
        assert!(
            auth.get(required).is_some(),
            "a record without auth[{required}]"
        );
    }
    assert_secrets_hidden(
        &format!("{record:?}"),
        &value,
        &["access_token", "refresh_token", "application_token"],
    );
}
