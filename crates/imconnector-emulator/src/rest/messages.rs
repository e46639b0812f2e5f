//! `imconnector.send.messages`, `.update.messages`, `.delete.messages` (reference §4.7-4.9).
//! Each message is processed on its own: a bad one fails in its `RESULT` item, the call is 200.

use serde_json::{json, Map, Value};

use super::auth::Caller;
use super::{require_provider, required_connector};
use crate::envelope::{ApiError, Outcome};
use crate::php::{self, Params};
use crate::state::chats::IncomingMessage;
use crate::state::Portal;

const INCOMPLETE: &str = "Incomplete data";
const USER_FAILED: &str = "Cannot create or get user mapped to external messenger user.";

/// What the three methods share after their checks.
struct Batch {
    connector: String,
    line: i64,
    messages: Value,
    chat_group: bool,
}

fn gate(
    portal: &Portal,
    caller: Caller,
    params: Params,
    structural: bool,
) -> Result<Batch, ApiError> {
    caller.require_app()?;
    let params = php::upper_keys(&params);
    let connector = required_connector(&params)?;
    let line_value = params.get("LINE");
    if !php::is_set(line_value) {
        return Err(ApiError::missing("LINE"));
    }
    let line = php::to_int(line_value);
    let Some(messages) = params
        .get("MESSAGES")
        .filter(|value| php::is_set(Some(value)))
    else {
        return Err(ApiError::missing("MESSAGES"));
    };
    // MESSAGES keys are case-insensitive at every level (lowercased).
    let messages = php::lower_keys_deep(messages);
    if structural {
        check_structure(&messages)?;
    }
    require_provider(portal, &connector)?;
    if !portal.status_of(&connector, line).status() {
        return Err(ApiError::new(
            400,
            "NOT_ACTIVE_LINE",
            "Open Channel with this ID is inactive or does not exist.",
        ));
    }
    let chat_group = portal
        .connector(&connector)
        .is_some_and(|connector| connector.flags.chat_group);
    Ok(Batch {
        connector,
        line,
        messages,
        chat_group,
    })
}

/// The structural checks only `send.messages` makes.
fn check_structure(messages: &Value) -> Result<(), ApiError> {
    if !php::is_array(Some(messages)) {
        return Err(ApiError::argument(
            "MESSAGES",
            "The value of an argument 'MESSAGES' must be of type array",
        ));
    }
    let items = php::entries(messages);
    if items.iter().any(|(_, item)| !php::is_array(Some(item))) {
        return Err(ApiError::argument(
            "MESSAGES",
            "The MESSAGES parameter must be an array of messages (arrays)",
        ));
    }
    let complete = |item: &Value| {
        ["user", "message", "chat"]
            .iter()
            .all(|key| php::is_set(php::get(item, key)))
    };
    if items.iter().any(|(_, item)| !complete(item)) {
        return Err(ApiError::argument(
            "MESSAGES",
            "The incorrect structure of a message inside MESSAGES parameter.",
        ));
    }
    Ok(())
}

fn failed(error: &str) -> Value {
    json!({ "SUCCESS": false, "ERRORS": [error] })
}

fn text_of(item: &Value, block: &str, field: &str) -> String {
    php::get(item, block)
        .and_then(|block| php::to_text(php::get(block, field)))
        .unwrap_or_default()
}

fn respond(batch: &Batch, mut process: impl FnMut(&Value) -> Value) -> Outcome {
    let results = php::entries(&batch.messages)
        .into_iter()
        .map(|(key, item)| (key, process(item)))
        .collect();
    Outcome::Ok(json!({ "SUCCESS": true, "DATA": { "RESULT": php::php_array(results) } }))
}

/// `user` of a result item: a string when the user existed, an int when just created.
fn user_value(id: u64, created: bool) -> Value {
    if created {
        json!(id)
    } else {
        json!(id.to_string())
    }
}

/// The input chat with `url` turned into the localised description.
fn echo_chat(item: &Value) -> Value {
    let mut chat = php::get(item, "chat").cloned().unwrap_or_else(|| json!({}));
    if let Value::Object(map) = &mut chat {
        if let Some(url) = map.remove("url") {
            let url = php::to_text(Some(&url)).unwrap_or_default();
            map.insert(
                "description".to_owned(),
                Value::String(format!("Link to original post: {url}")),
            );
        }
    }
    chat
}

pub(crate) fn send(portal: &mut Portal, caller: Caller, params: Params) -> Outcome {
    let batch = match gate(portal, caller, params, true) {
        Ok(batch) => batch,
        Err(error) => return error.into(),
    };
    respond(&batch, |item| send_one(portal, &batch, caller.user(), item))
}

fn send_one(portal: &mut Portal, batch: &Batch, acting_user: u64, item: &Value) -> Value {
    let external_user = text_of(item, "user", "id");
    let external_chat = text_of(item, "chat", "id");
    let text = text_of(item, "message", "text");
    let files: Vec<Value> = php::get(item, "message")
        .and_then(|message| php::get(message, "files"))
        .map(|files| {
            php::entries(files)
                .into_iter()
                .filter(|(_, file)| {
                    php::to_text(php::get(file, "url")).is_some_and(|url| !url.is_empty())
                })
                .map(|(_, file)| file.clone())
                .collect()
        })
        .unwrap_or_default();
    if external_user.is_empty() || external_chat.is_empty() || (text.is_empty() && files.is_empty())
    {
        return failed(INCOMPLETE);
    }
    let email = text_of(item, "user", "email");
    if !email.is_empty() && !email.contains('@') {
        return failed(USER_FAILED);
    }
    let (customer, created) = portal.customer(&batch.connector, &external_user);
    let chat_id = portal.chat_for_incoming(
        &batch.connector,
        batch.line,
        &external_chat,
        &external_user,
        customer,
        batch.chat_group,
    );
    let chat_name = text_of(item, "chat", "name");
    if !chat_name.is_empty() {
        portal.rename_chat(chat_id, chat_name);
    }
    let session_id = portal.ensure_session(chat_id, acting_user);
    let external_id = Some(text_of(item, "message", "id")).filter(|id| !id.is_empty());
    let file_ids: Vec<Value> = files.iter().map(|_| json!(portal.new_file_id())).collect();
    portal.store_incoming(IncomingMessage {
        chat_id,
        author_id: customer,
        external_user_id: external_user.clone(),
        text: text.clone(),
        files,
        external_id,
    });

    let mut message = php::get(item, "message")
        .cloned()
        .unwrap_or_else(|| json!({}));
    if let Value::Object(map) = &mut message {
        map.remove("disable_crm");
        // The date becomes a server DateTime object, which serialises as {}.
        map.insert("date".to_owned(), json!({}));
        // `files` becomes the saved file ids, and is only there when files were sent.
        if map.contains_key("files") {
            map.insert("files".to_owned(), Value::Array(file_ids));
        }
    }
    let mut result = Map::new();
    result.insert("user".to_owned(), user_value(customer, created));
    result.insert("message".to_owned(), message);
    result.insert("chat".to_owned(), echo_chat(item));
    let mut extra = Map::new();
    if text_of(item, "user", "skip_phone_validate") == "Y" {
        extra.insert("skip_phone_validate".to_owned(), json!("Y"));
    }
    if text_of(item, "message", "disable_crm") == "Y" {
        extra.insert("disable_tracker".to_owned(), json!("Y"));
    }
    if !extra.is_empty() {
        result.insert("extra".to_owned(), Value::Object(extra));
    }
    result.insert("SUCCESS".to_owned(), json!(true));
    result.insert(
        "session".to_owned(),
        json!({ "ID": session_id.to_string(), "CHAT_ID": chat_id.to_string() }),
    );
    Value::Object(result)
}

pub(crate) fn update(portal: &mut Portal, caller: Caller, params: Params) -> Outcome {
    let batch = match gate(portal, caller, params, false) {
        Ok(batch) => batch,
        Err(error) => return error.into(),
    };
    respond(&batch, |item| update_one(portal, &batch, item))
}

/// Resolves the chat of an update/delete item; the user is created if unknown (like the
/// portal's user lookup), the chat is not.
fn locate(portal: &mut Portal, batch: &Batch, item: &Value) -> Option<(u64, bool, Option<u64>)> {
    let external_user = text_of(item, "user", "id");
    let external_chat = text_of(item, "chat", "id");
    if !php::is_array(Some(item)) || external_user.is_empty() || external_chat.is_empty() {
        return None;
    }
    let (customer, created) = portal.customer(&batch.connector, &external_user);
    let key_user = (!batch.chat_group).then_some(customer);
    let chat = portal.find_chat(&batch.connector, batch.line, &external_chat, key_user);
    Some((customer, created, chat))
}

fn update_one(portal: &mut Portal, batch: &Batch, item: &Value) -> Value {
    let Some((customer, created, chat)) = locate(portal, batch, item) else {
        return failed(INCOMPLETE);
    };
    let text = text_of(item, "message", "text");
    let has_files = php::get(item, "message")
        .and_then(|message| php::get(message, "files"))
        .is_some_and(|files| !php::is_empty(Some(files)));
    if text.is_empty() && !has_files {
        return failed(INCOMPLETE);
    }
    let external_id = text_of(item, "message", "id");
    if let Some(chat) = chat {
        // Nothing matching means nothing is edited, and the item still succeeds.
        portal.edit_incoming(chat, &external_id, &text);
    }
    let mut message = php::get(item, "message")
        .cloned()
        .unwrap_or_else(|| json!({}));
    if let Value::Object(map) = &mut message {
        if map.contains_key("date") {
            map.insert("date".to_owned(), json!({}));
        }
    }
    json!({
        "user": user_value(customer, created),
        "message": message,
        "chat": echo_chat(item),
        "SUCCESS": true,
    })
}

pub(crate) fn delete(portal: &mut Portal, caller: Caller, params: Params) -> Outcome {
    let batch = match gate(portal, caller, params, false) {
        Ok(batch) => batch,
        Err(error) => return error.into(),
    };
    respond(&batch, |item| delete_one(portal, &batch, item))
}

fn delete_one(portal: &mut Portal, batch: &Batch, item: &Value) -> Value {
    let Some((customer, created, chat)) = locate(portal, batch, item) else {
        return failed(INCOMPLETE);
    };
    let external_id = text_of(item, "message", "id");
    if let Some(chat) = chat {
        portal.delete_incoming(chat, &external_id);
    }
    json!({
        "user": user_value(customer, created),
        "message": php::get(item, "message").cloned().unwrap_or_else(|| json!({})),
        "chat": echo_chat(item),
        "SUCCESS": true,
    })
}
