//! `imconnector.register`, `imconnector.unregister`, `imconnector.list` (reference §4.1-4.3).

use serde_json::{json, Map, Value};

use super::auth::{Caller, WRONG_AUTH_TYPE_CORE};
use crate::envelope::{ApiError, Outcome};
use crate::php::{self, Params};
use crate::state::records::Connector;
use crate::state::Portal;

/// Longest `ID`/`NAME` the registry table holds.
const MAX_FIELD_CHARS: usize = 255;

/// Connectors built into every portal, listed by `imconnector.list`.
const BUILT_IN: [(&str, &str); 3] = [
    ("livechat", "Live Chat"),
    ("telegrambot", "Telegram"),
    ("network", "Bitrix24.Network"),
];

fn soft(code: &str, description: &str) -> Outcome {
    Outcome::Soft(json!({ "result": false, "error": code, "error_description": description }))
}

pub(crate) fn register(portal: &mut Portal, caller: Caller, params: Params) -> Outcome {
    let app = match caller.require_app() {
        Ok(app) => app,
        Err(error) => return error.into(),
    };
    let params = match php::upper_keys_deep(&Value::Object(params)) {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    let id = params.get("ID");
    if let Some(Value::String(text)) = id {
        if text.contains('.') {
            return soft(
                "APPLICATION_REGISTRATION_ERROR_POINT",
                "Application registration error. Connector ID cannot contain dots (.).",
            );
        }
    }
    let name = params.get("NAME");
    let icon = params.get("ICON");
    let data_image = icon.and_then(|icon| php::get(icon, "DATA_IMAGE"));
    let handler = params.get("PLACEMENT_HANDLER");
    if php::is_empty(id) {
        return soft("CONNECTOR_ID_REQUIRED", "The connector ID is not specified");
    }
    if php::is_empty(name) {
        return soft("NAME_REQUIRED", "Connector name is not specified");
    }
    if php::is_empty(data_image) {
        return soft("ICON_REQUIRED", "Connector icon is not specified");
    }
    if php::is_empty(handler) {
        return soft(
            "NO_PLACEMENT_HANDLER",
            "Cannot get the embedding handler URL",
        );
    }
    match save(portal, app, &params) {
        Ok(()) => Outcome::Ok(json!({ "result": true })),
        Err(()) => soft("APPLICATION_REGISTRATION_ERROR", "Error registering app"),
    }
}

/// The upsert: every failure is the one soft `APPLICATION_REGISTRATION_ERROR`.
fn save(portal: &mut Portal, app: usize, params: &Params) -> Result<(), ()> {
    let text = |key: &str| match params.get(key) {
        Some(Value::String(text)) if text.chars().count() <= MAX_FIELD_CHARS => Ok(text.clone()),
        _ => Err(()),
    };
    let id = text("ID")?.to_lowercase();
    let name = text("NAME")?;
    let handler = match params.get("PLACEMENT_HANDLER") {
        Some(Value::String(handler)) => handler.clone(),
        _ => return Err(()),
    };
    let icon = params.get("ICON").cloned().unwrap_or(Value::Null);
    if !matches!(php::get(&icon, "DATA_IMAGE"), Some(Value::String(_))) {
        return Err(());
    }
    let previous = portal.connector(&id).map(|connector| connector.flags);
    // On insert omitted flags take the table defaults; on update they keep their stored values.
    let mut flags = previous.unwrap_or_default();
    let flag_slots: [(&str, &mut bool); 7] = [
        ("DEL_EXTERNAL_MESSAGES", &mut flags.del_external_messages),
        ("EDIT_INTERNAL_MESSAGES", &mut flags.edit_internal_messages),
        ("DEL_INTERNAL_MESSAGES", &mut flags.del_internal_messages),
        ("NEWSLETTER", &mut flags.newsletter),
        ("NEED_SYSTEM_MESSAGES", &mut flags.need_system_messages),
        ("NEED_SIGNATURE", &mut flags.need_signature),
        ("CHAT_GROUP", &mut flags.chat_group),
    ];
    for (key, slot) in flag_slots {
        if let Some(value) = params.get(key) {
            *slot = boolean_field(value).ok_or(())?;
        }
    }
    let connector = Connector {
        id,
        name,
        owner_client_id: portal.app(app).client_id.clone(),
        placement_handler: handler,
        icon,
        icon_disabled: params
            .get("ICON_DISABLED")
            .filter(|value| php::is_array(Some(value)))
            .cloned(),
        comment: php::to_text(params.get("COMMENT")),
        flags,
    };
    // Upsert by ID only: another app's connector is taken over (reference §4.1).
    portal.upsert_connector(connector);
    Ok(())
}

/// The ORM boolean field's accepted spellings.
fn boolean_field(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(flag) => Some(*flag),
        Value::Number(number) => match number.as_i64() {
            Some(1) => Some(true),
            Some(0) => Some(false),
            _ => None,
        },
        Value::String(text) => match text.as_str() {
            "1" | "true" | "Y" => Some(true),
            "0" | "false" | "N" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

pub(crate) fn unregister(portal: &mut Portal, caller: Caller, params: Params) -> Outcome {
    let app = match caller.require_app() {
        Ok(app) => app,
        Err(error) => return error.into(),
    };
    let params = php::upper_keys(&params);
    let id = params.get("ID");
    if php::is_empty(id) {
        return soft(
            "APPLICATION_UNREGISTRATION_ERROR",
            "Error unregistering app",
        );
    }
    let id = php::to_text(id).unwrap_or_default().to_lowercase();
    portal.unregister_connector(&id, app, caller.user());
    Outcome::Ok(json!({ "result": true }))
}

pub(crate) fn list(portal: &mut Portal, caller: Caller, _params: Params) -> Outcome {
    if caller.app().is_none() {
        // The decorated exception loses its code on the way out (reference §4.3).
        return ApiError::new(400, "ERROR_CORE", WRONG_AUTH_TYPE_CORE).into();
    }
    if !portal.user(caller.user()).is_some_and(|user| user.admin) {
        return ApiError::new(400, "ACCESS_DENIED", "You dont have access to this action").into();
    }
    let mut result = Map::new();
    for (id, name) in BUILT_IN {
        result.insert(id.to_owned(), Value::String(name.to_owned()));
    }
    for connector in portal.connectors() {
        result.insert(connector.id.clone(), Value::String(connector.name.clone()));
    }
    Outcome::Ok(Value::Object(result))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boolean_fields_accept_the_orm_spellings_only() {
        for (value, expected) in [
            (json!(true), Some(true)),
            (json!(0), Some(false)),
            (json!("Y"), Some(true)),
            (json!("false"), Some(false)),
            (json!("yes"), None),
            (json!(2), None),
            (json!([]), None),
        ] {
            assert_eq!(boolean_field(&value), expected, "{value}");
        }
    }
}
