//! The named checks a method's `validate` list in the spec refers to.
//!
//! Each takes the request and looks at its wire form (what the portal will receive), so the
//! checks read like the portal's own rules. "Empty" is PHP's `empty()`, which the portal uses:
//! `""`, `"0"`, `0`, `false`, `null`, `[]` and `{}` are all empty.

use serde::Serialize;
use serde_json::Value;

use crate::transport::InvalidRequest;

fn wire_form<T: Serialize>(request: &T) -> Result<Value, InvalidRequest> {
    serde_json::to_value(request)
        .map_err(|error| InvalidRequest::new("MESSAGES", format!("cannot be encoded: {error}")))
}

/// PHP's `empty()`.
fn php_empty(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => true,
        Some(Value::Bool(flag)) => !flag,
        Some(Value::Number(number)) => number.as_f64() == Some(0.0),
        Some(Value::String(text)) => text.is_empty() || text == "0",
        Some(Value::Array(items)) => items.is_empty(),
        Some(Value::Object(map)) => map.is_empty(),
    }
}

fn messages(request: &Value) -> &[Value] {
    request
        .get("MESSAGES")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// Requires `item[pointer]` (a `/`-separated path) to be non-empty.
fn require(item: &Value, index: usize, pointer: &str, what: &str) -> Result<(), InvalidRequest> {
    if php_empty(item.pointer(pointer)) {
        let path = format!("MESSAGES[{index}]{}", pointer.replace('/', "."));
        return Err(InvalidRequest::new(
            path,
            format!("{what} is missing or empty"),
        ));
    }
    Ok(())
}

/// `MESSAGES` holds at least one message (the portal answers `ERROR_ARGUMENT` otherwise).
///
/// # Errors
/// [`InvalidRequest`] for `MESSAGES`.
pub fn messages_not_empty<T: Serialize>(request: &T) -> Result<(), InvalidRequest> {
    if messages(&wire_form(request)?).is_empty() {
        return Err(InvalidRequest::new(
            "MESSAGES",
            "at least one message is required",
        ));
    }
    Ok(())
}

/// Every message to send or edit names its customer (`user.id`) and chat (`chat.id`) and has
/// `message.text` or `message.files` (the portal fails the item with "Incomplete data"
/// otherwise); every file has a `url`.
///
/// # Errors
/// [`InvalidRequest`] naming the first offending field, e.g. `MESSAGES[1].chat.id`.
pub fn messages_complete<T: Serialize>(request: &T) -> Result<(), InvalidRequest> {
    let request = wire_form(request)?;
    for (index, item) in messages(&request).iter().enumerate() {
        require(item, index, "/user/id", "the customer's id")?;
        require(item, index, "/chat/id", "the chat id")?;
        let files = item.pointer("/message/files");
        if php_empty(item.pointer("/message/text")) && php_empty(files) {
            return Err(InvalidRequest::new(
                format!("MESSAGES[{index}].message.text"),
                "a message needs text or files",
            ));
        }
        let files = files
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        for (file_index, file) in files.iter().enumerate() {
            if php_empty(file.get("url")) {
                return Err(InvalidRequest::new(
                    format!("MESSAGES[{index}].message.files[{file_index}].url"),
                    "every file needs a url the portal can download",
                ));
            }
        }
    }
    Ok(())
}

/// Every message to delete names its customer, its external id and its chat, as when it was
/// sent.
///
/// # Errors
/// [`InvalidRequest`] naming the first missing field, e.g. `MESSAGES[0].message.id`.
pub fn messages_identified<T: Serialize>(request: &T) -> Result<(), InvalidRequest> {
    let request = wire_form(request)?;
    for (index, item) in messages(&request).iter().enumerate() {
        require(item, index, "/user/id", "the customer's id")?;
        require(item, index, "/message/id", "the message's external id")?;
        require(item, index, "/chat/id", "the chat id")?;
    }
    Ok(())
}

/// Every delivery or read confirmation carries the Bitrix24 ids from the event
/// (`im.chat_id`, `im.message_id`), at least one non-empty external id (`message.id`), and
/// the chat id.
///
/// # Errors
/// [`InvalidRequest`] naming the first offending field, e.g. `MESSAGES[0].im.message_id`.
pub fn delivery_items_complete<T: Serialize>(request: &T) -> Result<(), InvalidRequest> {
    let request = wire_form(request)?;
    for (index, item) in messages(&request).iter().enumerate() {
        require(
            item,
            index,
            "/im/chat_id",
            "the Bitrix24 chat id from the event",
        )?;
        require(
            item,
            index,
            "/im/message_id",
            "the Bitrix24 message id from the event",
        )?;
        require(
            item,
            index,
            "/message/id",
            "the list of external message ids",
        )?;
        let ids = item.pointer("/message/id").and_then(Value::as_array);
        if let Some(position) = ids.and_then(|ids| ids.iter().position(|id| php_empty(Some(id)))) {
            return Err(InvalidRequest::new(
                format!("MESSAGES[{index}].message.id[{position}]"),
                "external message ids must not be empty",
            ));
        }
        require(item, index, "/chat/id", "the chat id")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parameter(result: Result<(), InvalidRequest>) -> String {
        result.unwrap_err().parameter.into_owned()
    }

    #[test]
    fn empty_message_lists_are_refused() {
        assert_eq!(
            parameter(messages_not_empty(&json!({"MESSAGES": []}))),
            "MESSAGES"
        );
        assert_eq!(parameter(messages_not_empty(&json!({}))), "MESSAGES");
        assert!(messages_not_empty(&json!({"MESSAGES": [{}]})).is_ok());
    }

    #[test]
    fn messages_to_send_need_user_chat_and_content() {
        let good = json!({"user": {"id": "u1"}, "chat": {"id": "c1"}, "message": {"text": "hi"}});
        assert!(messages_complete(&json!({"MESSAGES": [good.clone()]})).is_ok());
        let with_file = json!({"user": {"id": "u1"}, "chat": {"id": "c1"}, "message": {"files": [{"url": "https://x/a.pdf"}]}});
        assert!(messages_complete(&json!({"MESSAGES": [with_file]})).is_ok());
        let no_user = json!({"user": {"id": ""}, "chat": {"id": "c1"}, "message": {"text": "hi"}});
        assert_eq!(
            parameter(messages_complete(
                &json!({"MESSAGES": [good.clone(), no_user]})
            )),
            "MESSAGES[1].user.id"
        );
        let php_zero =
            json!({"user": {"id": "0"}, "chat": {"id": "c1"}, "message": {"text": "hi"}});
        assert_eq!(
            parameter(messages_complete(&json!({"MESSAGES": [php_zero]}))),
            "MESSAGES[0].user.id"
        );
        let no_chat = json!({"user": {"id": "u1"}, "chat": {}, "message": {"text": "hi"}});
        assert_eq!(
            parameter(messages_complete(&json!({"MESSAGES": [no_chat]}))),
            "MESSAGES[0].chat.id"
        );
        let no_content =
            json!({"user": {"id": "u1"}, "chat": {"id": "c1"}, "message": {"id": "m1"}});
        assert_eq!(
            parameter(messages_complete(&json!({"MESSAGES": [no_content]}))),
            "MESSAGES[0].message.text"
        );
        let bad_file = json!({"user": {"id": "u1"}, "chat": {"id": "c1"}, "message": {"files": [{"url": ""}]}});
        assert_eq!(
            parameter(messages_complete(&json!({"MESSAGES": [bad_file]}))),
            "MESSAGES[0].message.files[0].url"
        );
    }

    #[test]
    fn messages_to_delete_need_their_external_id() {
        let good = json!({"user": {"id": "u1"}, "chat": {"id": "c1"}, "message": {"id": "m1"}});
        assert!(messages_identified(&json!({"MESSAGES": [good]})).is_ok());
        let no_id = json!({"user": {"id": "u1"}, "chat": {"id": "c1"}, "message": {"text": "hi"}});
        assert_eq!(
            parameter(messages_identified(&json!({"MESSAGES": [no_id]}))),
            "MESSAGES[0].message.id"
        );
    }

    #[test]
    fn delivery_confirmations_need_event_ids_and_external_ids() {
        let good = json!({"im": {"chat_id": 1807, "message_id": 86497}, "message": {"id": ["e1"]}, "chat": {"id": "c1"}});
        assert!(delivery_items_complete(&json!({"MESSAGES": [good]})).is_ok());
        let zero = json!({"im": {"chat_id": 1807, "message_id": 0}, "message": {"id": ["e1"]}, "chat": {"id": "c1"}});
        assert_eq!(
            parameter(delivery_items_complete(&json!({"MESSAGES": [zero]}))),
            "MESSAGES[0].im.message_id"
        );
        let no_ids = json!({"im": {"chat_id": 1, "message_id": 2}, "message": {"id": []}, "chat": {"id": "c1"}});
        assert_eq!(
            parameter(delivery_items_complete(&json!({"MESSAGES": [no_ids]}))),
            "MESSAGES[0].message.id"
        );
        let blank = json!({"im": {"chat_id": 1, "message_id": 2}, "message": {"id": ["e1", ""]}, "chat": {"id": "c1"}});
        assert_eq!(
            parameter(delivery_items_complete(&json!({"MESSAGES": [blank]}))),
            "MESSAGES[0].message.id[1]"
        );
    }
}
