//! `imconnector.send.status.delivery`, `.send.status.reading` and `.chat.name.set`
//! (reference §4.10-4.12).

use serde_json::{json, Value};

use super::auth::Caller;
use super::{require_provider, required_connector, success_empty_data};
use crate::envelope::{ApiError, Outcome};
use crate::php::{self, Params};
use crate::snapshot::{DeliveryKind, DeliveryRecord};
use crate::state::Portal;

pub(crate) fn delivery(portal: &mut Portal, caller: Caller, params: Params) -> Outcome {
    confirm(portal, caller, params, DeliveryKind::Delivered)
}

pub(crate) fn reading(portal: &mut Portal, caller: Caller, params: Params) -> Outcome {
    confirm(portal, caller, params, DeliveryKind::Read)
}

fn confirm(portal: &mut Portal, caller: Caller, params: Params, kind: DeliveryKind) -> Outcome {
    match confirm_checked(portal, caller, params, kind) {
        Ok(()) => Outcome::Ok(success_empty_data()),
        Err(error) => error.into(),
    }
}

fn confirm_checked(
    portal: &mut Portal,
    caller: Caller,
    params: Params,
    kind: DeliveryKind,
) -> Result<(), ApiError> {
    caller.require_app()?;
    let params = php::upper_keys(&params);
    let connector = required_connector(&params)?;
    for name in ["LINE", "MESSAGES"] {
        if !php::is_set(params.get(name)) {
            return Err(ApiError::missing(name));
        }
    }
    let line = php::to_int(params.get("LINE"));
    require_provider(portal, &connector)?;
    // No status check and no structural validation: each item goes to the delivery handler,
    // which ignores what it cannot match.
    let messages = php::lower_keys_deep(params.get("MESSAGES").unwrap_or(&Value::Null));
    for (_, item) in php::entries(&messages) {
        let im = php::get(item, "im");
        let chat_id = im
            .and_then(|im| php::get(im, "chat_id"))
            .map(|id| php::to_int(Some(id)));
        let message_id = im
            .and_then(|im| php::get(im, "message_id"))
            .map(|id| php::to_int(Some(id)));
        let external_ids: Vec<String> = php::get(item, "message")
            .and_then(|message| php::get(message, "id"))
            .map(|ids| match ids {
                Value::Array(_) | Value::Object(_) => php::entries(ids)
                    .into_iter()
                    .filter_map(|(_, id)| php::to_text(Some(id)))
                    .collect(),
                single => php::to_text(Some(single)).into_iter().collect(),
            })
            .unwrap_or_default();
        let external_chat_id =
            php::get(item, "chat").and_then(|chat| php::to_text(php::get(chat, "id")));
        let matched = portal.confirm_reply(chat_id, message_id, &external_ids, kind);
        portal.log_delivery_status(DeliveryRecord {
            kind,
            connector: connector.clone(),
            line,
            chat_id,
            message_id,
            external_ids,
            external_chat_id,
            matched,
        });
    }
    Ok(())
}

pub(crate) fn chat_name_set(portal: &mut Portal, caller: Caller, params: Params) -> Outcome {
    match chat_name_set_checked(portal, caller, params) {
        Ok(()) => Outcome::Ok(json!({ "SUCCESS": true, "DATA": { "RESULT": {} } })),
        Err(error) => error.into(),
    }
}

fn chat_name_set_checked(
    portal: &mut Portal,
    caller: Caller,
    params: Params,
) -> Result<(), ApiError> {
    caller.require_app()?;
    let params = php::upper_keys(&params);
    // This method checks with `empty`, so LINE 0 and "0" are refused too.
    for name in ["CONNECTOR", "LINE", "CHAT_ID", "NAME"] {
        if php::is_empty(params.get(name)) {
            return Err(ApiError::missing(name));
        }
    }
    let connector =
        php::connector_real_id(&php::to_text(params.get("CONNECTOR")).unwrap_or_default());
    let chat_group = portal
        .connector(&connector)
        .is_some_and(|connector| connector.flags.chat_group);
    if !chat_group && php::is_empty(params.get("USER_ID")) {
        return Err(ApiError::missing("USER_ID"));
    }
    let line = php::to_int(params.get("LINE"));
    require_provider(portal, &connector)?;
    if !portal.status_of(&connector, line).status() {
        return Err(ApiError::new(
            400,
            "NOT_ACTIVE_LINE",
            "The line with this ID is inactive or does not exist",
        ));
    }
    let external_chat = php::to_text(params.get("CHAT_ID")).unwrap_or_default();
    let customer = if chat_group {
        None
    } else {
        let external_user = php::to_text(params.get("USER_ID")).unwrap_or_default();
        Some(
            portal
                .existing_customer(&connector, &external_user)
                .ok_or_else(renaming_failed)?,
        )
    };
    let chat = portal
        .find_chat(&connector, line, &external_chat, customer)
        .ok_or_else(renaming_failed)?;
    let name = php::to_text(params.get("NAME")).unwrap_or_default();
    portal.rename_chat(chat, name);
    Ok(())
}

fn renaming_failed() -> ApiError {
    ApiError::new(400, "CHAT_RENAMING_FAILED", "Chat renaming failed")
}
