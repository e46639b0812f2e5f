//! The named checks a method's `validate` list in the spec refers to.
//!
//! Each reads the typed request through its generated getters and applies the portal's own
//! rules. "Empty" is PHP's `empty()`, which the portal uses: `""`, `"0"`, `0`, a missing value
//! and an empty list are all empty.

use crate::methods::{
    ClearOfflineEvents, DeleteMessages, MarkOfflineEventsFailed, SendMessages, SendStatusDelivery,
    SendStatusReading, UpdateMessages,
};
use crate::transport::InvalidRequest;
use crate::types::{DeliveryItem, MessageIn};

/// A request whose `MESSAGES` list the checks read.
pub trait MessageList {
    /// What `MESSAGES` holds.
    type Item;
    /// The `MESSAGES` list, in order.
    fn message_list(&self) -> &[Self::Item];
}

macro_rules! message_list {
    ($($request:ty => $item:ty),* $(,)?) => {
        $(impl MessageList for $request {
            type Item = $item;
            fn message_list(&self) -> &[$item] {
                self.messages()
            }
        })*
    };
}

message_list!(
    SendMessages => MessageIn,
    UpdateMessages => MessageIn,
    DeleteMessages => MessageIn,
    SendStatusDelivery => DeliveryItem,
    SendStatusReading => DeliveryItem,
);

/// A request settling the rows an offline-queue process reserved.
pub trait OfflineProcess {
    /// The `process_id` it names.
    fn offline_process_id(&self) -> &str;
}

macro_rules! offline_process {
    ($($request:ty),* $(,)?) => {
        $(impl OfflineProcess for $request {
            fn offline_process_id(&self) -> &str {
                self.process_id()
            }
        })*
    };
}

offline_process!(ClearOfflineEvents, MarkOfflineEventsFailed);

/// `process_id` is not blank: the portal refuses it with `ERROR_ARGUMENT`, and a blank one
/// could never name the rows a process reserved.
pub(crate) fn process_id_present<R: OfflineProcess>(request: &R) -> Result<(), InvalidRequest> {
    if request.offline_process_id().trim().is_empty() {
        return Err(InvalidRequest::new(
            "process_id",
            "is empty: pass the `process_id` event.offline.get answered",
        ));
    }
    Ok(())
}

/// PHP's `empty()` of a string (or of a text id).
fn empty_text<T: AsRef<str> + ?Sized>(text: Option<&T>) -> bool {
    text.is_none_or(|text| {
        let text = text.as_ref();
        text.is_empty() || text == "0"
    })
}

/// Fails with `MESSAGES[index].<field>` when `missing`.
fn require(missing: bool, index: usize, field: &str, what: &str) -> Result<(), InvalidRequest> {
    if missing {
        return Err(InvalidRequest::new(
            format!("MESSAGES[{index}].{field}"),
            format!("{what} is missing or empty"),
        ));
    }
    Ok(())
}

/// `MESSAGES` holds at least one message (the portal answers `ERROR_ARGUMENT` otherwise).
///
/// # Errors
/// [`InvalidRequest`] for `MESSAGES`.
pub fn messages_not_empty<T: MessageList>(request: &T) -> Result<(), InvalidRequest> {
    if request.message_list().is_empty() {
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
pub fn messages_complete<T: MessageList<Item = MessageIn>>(
    request: &T,
) -> Result<(), InvalidRequest> {
    for (index, item) in request.message_list().iter().enumerate() {
        require(
            empty_text(Some(item.user().id())),
            index,
            "user.id",
            "the customer's id",
        )?;
        require(
            empty_text(Some(item.chat().id())),
            index,
            "chat.id",
            "the chat id",
        )?;
        let body = item.message();
        let files = body.files().unwrap_or_default();
        if empty_text(body.text()) && files.is_empty() {
            return Err(InvalidRequest::new(
                format!("MESSAGES[{index}].message.text"),
                "a message needs text or files",
            ));
        }
        if let Some(file_index) = files.iter().position(|file| empty_text(Some(file.url()))) {
            return Err(InvalidRequest::new(
                format!("MESSAGES[{index}].message.files[{file_index}].url"),
                "every file needs a url the portal can download",
            ));
        }
    }
    Ok(())
}

/// Every message to delete names its customer, its external id and its chat, as when it was
/// sent.
///
/// # Errors
/// [`InvalidRequest`] naming the first missing field, e.g. `MESSAGES[0].message.id`.
pub fn messages_identified<T: MessageList<Item = MessageIn>>(
    request: &T,
) -> Result<(), InvalidRequest> {
    for (index, item) in request.message_list().iter().enumerate() {
        require(
            empty_text(Some(item.user().id())),
            index,
            "user.id",
            "the customer's id",
        )?;
        require(
            empty_text(item.message().id()),
            index,
            "message.id",
            "the message's external id",
        )?;
        require(
            empty_text(Some(item.chat().id())),
            index,
            "chat.id",
            "the chat id",
        )?;
    }
    Ok(())
}

/// Every delivery or read confirmation carries the Bitrix24 ids from the event
/// (`im.chat_id`, `im.message_id`), at least one non-empty external id (`message.id`), and
/// the chat id.
///
/// # Errors
/// [`InvalidRequest`] naming the first offending field, e.g. `MESSAGES[0].im.message_id`.
pub fn delivery_items_complete<T: MessageList<Item = DeliveryItem>>(
    request: &T,
) -> Result<(), InvalidRequest> {
    for (index, item) in request.message_list().iter().enumerate() {
        require(
            item.im().chat_id().get() == 0,
            index,
            "im.chat_id",
            "the Bitrix24 chat id from the event",
        )?;
        require(
            item.im().message_id().get() == 0,
            index,
            "im.message_id",
            "the Bitrix24 message id from the event",
        )?;
        let ids = item.message().id();
        require(
            ids.is_empty(),
            index,
            "message.id",
            "the list of external message ids",
        )?;
        if let Some(position) = ids.iter().position(|id| empty_text(Some(id))) {
            return Err(InvalidRequest::new(
                format!("MESSAGES[{index}].message.id[{position}]"),
                "external message ids must not be empty",
            ));
        }
        require(
            empty_text(Some(item.chat().id())),
            index,
            "chat.id",
            "the chat id",
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{
        DeliveryChat, DeliveryIm, DeliveryMessage, MessageBody, MessageChat, MessageFile,
        MessageUser,
    };
    use crate::wire::{ConnectorId, LineId};

    fn parameter(result: Result<(), InvalidRequest>) -> String {
        result.unwrap_err().parameter.into_owned()
    }

    fn send(messages: impl IntoIterator<Item = MessageIn>) -> SendMessages {
        SendMessages::new(
            ConnectorId::new("acme").unwrap(),
            LineId::new(1).unwrap(),
            messages,
        )
    }

    fn message(user: &str, body: MessageBody, chat: &str) -> MessageIn {
        MessageIn::new(MessageUser::new(user), body, MessageChat::new(chat))
    }

    fn delivery(chat_id: i64, message_id: i64, ids: &[&str]) -> SendStatusDelivery {
        SendStatusDelivery::new(
            ConnectorId::new("acme").unwrap(),
            LineId::new(1).unwrap(),
            [DeliveryItem::new(
                DeliveryIm::new(chat_id, message_id),
                DeliveryMessage::new(ids.iter().copied()),
                DeliveryChat::new("c1"),
            )],
        )
    }

    #[test]
    fn empty_message_lists_are_refused() {
        assert_eq!(parameter(messages_not_empty(&send([]))), "MESSAGES");
        let one = message("u1", MessageBody::new().with_text("hi"), "c1");
        assert!(messages_not_empty(&send([one])).is_ok());
    }

    #[test]
    fn messages_to_send_need_user_chat_and_content() {
        let good = message("u1", MessageBody::new().with_text("hi"), "c1");
        assert!(messages_complete(&send([good.clone()])).is_ok());
        let with_file = message(
            "u1",
            MessageBody::new().with_files([MessageFile::new("https://x/a.pdf")]),
            "c1",
        );
        assert!(messages_complete(&send([with_file])).is_ok());
        let no_user = message("", MessageBody::new().with_text("hi"), "c1");
        assert_eq!(
            parameter(messages_complete(&send([good, no_user]))),
            "MESSAGES[1].user.id"
        );
        let php_zero = message("0", MessageBody::new().with_text("hi"), "c1");
        assert_eq!(
            parameter(messages_complete(&send([php_zero]))),
            "MESSAGES[0].user.id"
        );
        let no_chat = message("u1", MessageBody::new().with_text("hi"), "");
        assert_eq!(
            parameter(messages_complete(&send([no_chat]))),
            "MESSAGES[0].chat.id"
        );
        let no_content = message("u1", MessageBody::new().with_id("m1"), "c1");
        assert_eq!(
            parameter(messages_complete(&send([no_content]))),
            "MESSAGES[0].message.text"
        );
        let bad_file = message(
            "u1",
            MessageBody::new().with_files([MessageFile::new("")]),
            "c1",
        );
        assert_eq!(
            parameter(messages_complete(&send([bad_file]))),
            "MESSAGES[0].message.files[0].url"
        );
    }

    #[test]
    fn messages_to_delete_need_their_external_id() {
        let delete = |body| {
            DeleteMessages::new(
                ConnectorId::new("acme").unwrap(),
                LineId::new(1).unwrap(),
                [message("u1", body, "c1")],
            )
        };
        assert!(messages_identified(&delete(MessageBody::new().with_id("m1"))).is_ok());
        assert_eq!(
            parameter(messages_identified(&delete(
                MessageBody::new().with_text("hi")
            ))),
            "MESSAGES[0].message.id"
        );
    }

    #[test]
    fn delivery_confirmations_need_event_ids_and_external_ids() {
        assert!(delivery_items_complete(&delivery(1807, 86497, &["e1"])).is_ok());
        assert_eq!(
            parameter(delivery_items_complete(&delivery(1807, 0, &["e1"]))),
            "MESSAGES[0].im.message_id"
        );
        assert_eq!(
            parameter(delivery_items_complete(&delivery(1, 2, &[]))),
            "MESSAGES[0].message.id"
        );
        assert_eq!(
            parameter(delivery_items_complete(&delivery(1, 2, &["e1", ""]))),
            "MESSAGES[0].message.id[1]"
        );
    }

    #[test]
    fn an_offline_settlement_needs_a_process_id() {
        use crate::transport::Method as _;
        let blank = crate::methods::ClearOfflineEvents::new(" ");
        assert_eq!(blank.validate().unwrap_err().parameter, "process_id");
        let failed = crate::methods::MarkOfflineEventsFailed::new("");
        assert_eq!(failed.validate().unwrap_err().parameter, "process_id");
        assert!(crate::methods::ClearOfflineEvents::new("p1")
            .with_message_id(["m"])
            .validate()
            .is_ok());
    }
}
