//! Customers, chats, sessions and messages: what `send.messages` creates and operators act on.

use serde_json::{json, Value};

use crate::snapshot::Direction;
use crate::state::events::Audience;
use crate::state::records::{Chat, Message, Session};
use crate::state::{next_id, Portal};

/// `close_term` reported in dialog events: the line's full-close time in minutes.
const CLOSE_TERM_MINUTES: u64 = 10;

/// A customer message to store.
pub(crate) struct IncomingMessage {
    pub(crate) chat_id: u64,
    pub(crate) author_id: u64,
    pub(crate) external_user_id: String,
    pub(crate) text: String,
    pub(crate) files: Vec<Value>,
    pub(crate) external_id: Option<String>,
}

impl Portal {
    /// The Bitrix user mapped to an external user of `connector` (XML_ID `connector|id`), and
    /// whether it was created now.
    pub(crate) fn customer(&mut self, connector: &str, external_user: &str) -> (u64, bool) {
        let key = (connector.to_owned(), external_user.to_owned());
        if let Some(id) = self.customers.get(&key) {
            return (*id, false);
        }
        let id = next_id(&mut self.ids.user);
        self.customers.insert(key, id);
        (id, true)
    }

    /// The Bitrix user of an external user, without creating it.
    pub(crate) fn existing_customer(&self, connector: &str, external_user: &str) -> Option<u64> {
        self.customers
            .get(&(connector.to_owned(), external_user.to_owned()))
            .copied()
    }

    /// The chat of USER_CODE `connector|line|chat|user` (`user` is `None` for group chats).
    pub(crate) fn find_chat(
        &self,
        connector: &str,
        line: i64,
        external_chat: &str,
        customer: Option<u64>,
    ) -> Option<u64> {
        let key = (connector.to_owned(), line, external_chat.to_owned());
        self.chat_index
            .get(&key)?
            .iter()
            .filter_map(|id| self.chats.get(id))
            .find(|chat| customer.is_none_or(|customer| chat.customer_user_id == customer))
            .map(|chat| chat.id)
    }

    /// Finds or creates the chat for a customer message.
    pub(crate) fn chat_for_incoming(
        &mut self,
        connector: &str,
        line: i64,
        external_chat: &str,
        external_user: &str,
        customer: u64,
        chat_group: bool,
    ) -> u64 {
        let key_user = (!chat_group).then_some(customer);
        if let Some(id) = self.find_chat(connector, line, external_chat, key_user) {
            return id;
        }
        let id = next_id(&mut self.ids.chat);
        self.chat_index
            .entry((connector.to_owned(), line, external_chat.to_owned()))
            .or_default()
            .push(id);
        self.chats.insert(
            id,
            Chat {
                id,
                connector: connector.to_owned(),
                line,
                external_chat_id: external_chat.to_owned(),
                external_user_id: external_user.to_owned(),
                customer_user_id: customer,
                name: None,
                sessions: Vec::new(),
            },
        );
        id
    }

    /// The chat an operator works in: the most recent chat of `line` with that external id.
    pub(crate) fn chat_by_external(&self, line: i64, external_chat: &str) -> Option<u64> {
        self.chats
            .values()
            .rev()
            .find(|chat| chat.line == line && chat.external_chat_id == external_chat)
            .map(|chat| chat.id)
    }

    /// The open session of a chat, starting one (and firing DialogStart) if there is none.
    pub(crate) fn ensure_session(&mut self, chat_id: u64, acting_user: u64) -> u64 {
        let Some(chat) = self.chats.get(&chat_id) else {
            return 0;
        };
        if let Some(open) = chat.open_session() {
            return open.id;
        }
        let parent_id = chat.sessions.last().map_or(0, |session| session.id);
        let id = next_id(&mut self.ids.session);
        let session = Session {
            id,
            closed: false,
            parent_id,
        };
        if let Some(chat) = self.chats.get_mut(&chat_id) {
            chat.sessions.push(session);
        }
        self.emit_dialog("OnImConnectorDialogStart", chat_id, &session, acting_user);
        id
    }

    /// Closes the open session of a chat (firing DialogFinish); `None` if none is open.
    pub(crate) fn close_session(&mut self, chat_id: u64, acting_user: u64) -> Option<u64> {
        let chat = self.chats.get_mut(&chat_id)?;
        let session = chat.sessions.iter_mut().find(|session| !session.closed)?;
        session.closed = true;
        let session = *session;
        self.emit_dialog("OnImConnectorDialogFinish", chat_id, &session, acting_user);
        Some(session.id)
    }

    fn emit_dialog(&mut self, event: &str, chat_id: u64, session: &Session, acting_user: u64) {
        let Some(chat) = self.chats.get(&chat_id) else {
            return;
        };
        let data = json!({
            "CONNECTOR": chat.connector,
            "LINE": chat.line,
            "DATA": [{
                "connector": {
                    "connector_id": chat.connector,
                    "line_id": chat.line,
                    "chat_id": chat.external_chat_id,
                    "user_id": chat.customer_user_id,
                },
                "session": {
                    "id": session.id,
                    "closed": if session.closed { "Y" } else { "N" },
                    "parent_id": session.parent_id,
                    "close_term": CLOSE_TERM_MINUTES,
                },
                "chat": { "id": chat.external_chat_id },
                "user": { "id": chat.customer_user_id },
            }],
        });
        let connector = chat.connector.clone();
        self.emit(event, &data, Audience::OwnerOf(&connector), acting_user);
    }

    /// Stores a customer message and returns its id.
    pub(crate) fn store_incoming(&mut self, message: IncomingMessage) -> u64 {
        let id = next_id(&mut self.ids.message);
        self.messages.insert(
            id,
            Message {
                external_user_id: Some(message.external_user_id),
                text: message.text,
                files: message.files,
                external_ids: message.external_id.into_iter().collect(),
                ..Message::new(id, message.chat_id, Direction::Incoming, message.author_id)
            },
        );
        id
    }

    /// Names a chat (`chat.name`, `imconnector.chat.name.set`).
    pub(crate) fn rename_chat(&mut self, chat_id: u64, name: String) {
        if let Some(chat) = self.chats.get_mut(&chat_id) {
            chat.name = Some(name);
        }
    }

    /// The id of a file saved with a customer message.
    pub(crate) fn new_file_id(&mut self) -> u64 {
        next_id(&mut self.ids.file)
    }

    /// Replaces the text of the customer messages of a chat with `external_id` (none matching
    /// edits nothing).
    pub(crate) fn edit_incoming(&mut self, chat_id: u64, external_id: &str, text: &str) {
        for id in self.incoming_by_external_id(chat_id, external_id) {
            if let Some(message) = self.messages.get_mut(&id) {
                text.clone_into(&mut message.text);
                message.edited = true;
            }
        }
    }

    /// Marks the customer messages of a chat with `external_id` deleted.
    pub(crate) fn delete_incoming(&mut self, chat_id: u64, external_id: &str) {
        for id in self.incoming_by_external_id(chat_id, external_id) {
            if let Some(message) = self.messages.get_mut(&id) {
                message.deleted = true;
            }
        }
    }

    /// Customer messages of a chat with a given external id (what update/delete address).
    fn incoming_by_external_id(&self, chat_id: u64, external_id: &str) -> Vec<u64> {
        self.messages
            .values()
            .filter(|message| {
                message.chat_id == chat_id
                    && message.direction == Direction::Incoming
                    && !message.deleted
                    && message.external_ids.iter().any(|id| id == external_id)
            })
            .map(|message| message.id)
            .collect()
    }
}
