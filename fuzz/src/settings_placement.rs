//! Fuzz body: the settings page's POST (`SETTING_CONNECTOR` placement), with its query
//! string and its form body carrying `PLACEMENT_OPTIONS` as JSON inside the form.

use imconnector::placement::SettingsPlacement;

use crate::install_event::assert_secrets_hidden;
use crate::peak;

/// Cuts `data` at the first `0xFF` byte (never part of UTF-8): the query string before it,
/// when there is one, and the body after it.
pub fn query_and_body(data: &[u8]) -> (Option<String>, &[u8]) {
    match data.iter().position(|&byte| byte == 0xFF) {
        Some(cut) => (
            Some(String::from_utf8_lossy(&data[..cut]).into_owned()),
            &data[cut + 1..],
        ),
        None => (None, data),
    }
}

/// Parses `data` (see [`query_and_body`]) as the settings page's POST: within the allocation
/// bound, never a panic, and a parsed placement's `Debug` shows none of its tokens.
///
/// # Panics
/// When one of those properties does not hold (that is the finding).
pub fn check(data: &[u8]) {
    let (query, body) = query_and_body(data);
    let placement = peak::assert_bounded("settings placement", data.len(), 0, || {
        SettingsPlacement::parse(query.as_deref(), body)
    });
    let Ok(placement) = placement else {
        return;
    };
    assert!(
        !placement.member_id.as_str().is_empty(),
        "a placement without member_id"
    );
    let mut fields = imconnector_form::parse(body).unwrap_or_default();
    if let (Some(query), Some(fields)) = (query.as_deref(), fields.as_object_mut()) {
        if let Ok(serde_json::Value::Object(query)) = imconnector_form::parse(query.as_bytes()) {
            fields.extend(query);
        }
    }
    assert_secrets_hidden(
        &format!("{placement:?}"),
        &fields,
        &["AUTH_ID", "REFRESH_ID", "APPLICATION_TOKEN"],
    );
}
