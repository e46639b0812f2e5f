//! What an operator does in the portal's UI, and lines added and deleted: the triggers of
//! MessageAdd/Update/Delete, DialogFinish, StatusDelete and LineDelete.

use serde_json::{json, Value};

use crate::error::{ControlError, OperatorMessage};
use crate::snapshot::{ConnectorFlags, Direction, LineInfo};
use crate::state::events::Audience;
use crate::state::records::{Line, Message};
use crate::state::{next_id, Portal};

/// The admin (user 1) acts as the operator and as the one who deletes lines.
pub(crate) const OPERATOR_ID: u64 = 1;

impl Portal {
    fn operator_name(&self, user: u64) -> String {
        self.user(user)
            .map_or_else(|| format!("User {user}"), |user| user.name.clone())
    }

    /// The text as the connector receives it: with the operator's name when NEED_SIGNATURE.
    fn signed(&self, flags: ConnectorFlags, author: u64, text: &str) -> String {
        if flags.need_signature {
            format!("[b]{}:[/b][br] {text}", self.operator_name(author))
        } else {
            text.to_owned()
        }
    }

    /// Operator messages reach the connector only while its status on the line is OK and the
    /// line is active.
    fn routable(&self, connector: &str, line: i64) -> bool {
        self.status_of(connector, line).status()
            && self.lines.get(&line).is_some_and(|line| line.active)
    }

    /// The chat, connector, line and external chat id of a message.
    fn context_of(&self, message: &Message) -> Option<(String, i64, String)> {
        let chat = self.chats.get(&message.chat_id)?;
        Some((
            chat.connector.clone(),
            chat.line,
            chat.external_chat_id.clone(),
        ))
    }

    pub(crate) fn operator_reply(
        &mut self,
        line: i64,
        external_chat: &str,
        text: &str,
    ) -> Result<OperatorMessage, ControlError> {
        if !self.lines.contains_key(&line) {
            return Err(ControlError::UnknownLine(line));
        }
        let chat_id = self.chat_by_external(line, external_chat).ok_or_else(|| {
            ControlError::UnknownChat {
                line,
                external_chat_id: external_chat.to_owned(),
            }
        })?;
        let open = self
            .chats
            .get(&chat_id)
            .is_some_and(|chat| chat.open_session().is_some());
        if !open {
            return Err(ControlError::NoOpenSession(chat_id));
        }
        let message_id = next_id(&mut self.ids.message);
        self.messages.insert(
            message_id,
            Message {
                text: text.to_owned(),
                ..Message::new(message_id, chat_id, Direction::Outgoing, OPERATOR_ID)
            },
        );
        let connector = self
            .chats
            .get(&chat_id)
            .map(|chat| chat.connector.clone())
            .unwrap_or_default();
        if self.routable(&connector, line) {
            let signed = self.signed(self.flags_of(&connector), OPERATOR_ID, text);
            let data = json!({
                "CONNECTOR": connector,
                "LINE": line,
                "MESSAGES": [{
                    "im": { "chat_id": chat_id, "message_id": message_id },
                    "message": { "user_id": OPERATOR_ID, "text": signed },
                    "chat": { "id": external_chat },
                }],
            });
            self.emit(
                "OnImConnectorMessageAdd",
                &data,
                Audience::OwnerOf(&connector),
                OPERATOR_ID,
            );
        }
        Ok(OperatorMessage {
            chat_id,
            message_id,
        })
    }

    fn live_message(&self, message_id: u64) -> Result<Message, ControlError> {
        let message = self
            .messages
            .get(&message_id)
            .ok_or(ControlError::UnknownMessage(message_id))?;
        if message.deleted {
            return Err(ControlError::MessageDeleted(message_id));
        }
        Ok(message.clone())
    }

    pub(crate) fn operator_edit(
        &mut self,
        message_id: u64,
        text: &str,
    ) -> Result<(), ControlError> {
        let message = self.live_message(message_id)?;
        if message.direction != Direction::Outgoing {
            return Err(ControlError::NotAnOperatorMessage(message_id));
        }
        let (connector, line, external_chat) = self
            .context_of(&message)
            .ok_or(ControlError::UnknownMessage(message_id))?;
        let flags = self.flags_of(&connector);
        if !flags.edit_internal_messages {
            return Err(ControlError::NotAllowed {
                connector,
                action: "edit their messages (EDIT_INTERNAL_MESSAGES is off)",
            });
        }
        if let Some(stored) = self.messages.get_mut(&message_id) {
            stored.text = text.to_owned();
            stored.edited = true;
        }
        // Only a delivered reply (one with external ids) is updated on the connector's side.
        if !message.external_ids.is_empty() && self.routable(&connector, line) {
            let data = json!({
                "CONNECTOR": connector,
                "LINE": line,
                "MESSAGES": [{
                    "im": { "chat_id": message.chat_id, "message_id": message_id },
                    "message": { "id": message.external_ids, "text": self.signed(flags, message.author_id, text) },
                    "chat": { "id": external_chat },
                }],
            });
            self.emit(
                "OnImConnectorMessageUpdate",
                &data,
                Audience::OwnerOf(&connector),
                OPERATOR_ID,
            );
        }
        Ok(())
    }

    pub(crate) fn operator_delete(&mut self, message_id: u64) -> Result<(), ControlError> {
        let message = self.live_message(message_id)?;
        let (connector, line, external_chat) = self
            .context_of(&message)
            .ok_or(ControlError::UnknownMessage(message_id))?;
        let flags = self.flags_of(&connector);
        let (allowed, action) = match message.direction {
            Direction::Outgoing => (
                flags.del_internal_messages,
                "delete their messages (DEL_INTERNAL_MESSAGES is off)",
            ),
            Direction::Incoming => (
                flags.del_external_messages,
                "delete customer messages (DEL_EXTERNAL_MESSAGES is off)",
            ),
        };
        if !allowed {
            return Err(ControlError::NotAllowed { connector, action });
        }
        if let Some(stored) = self.messages.get_mut(&message_id) {
            stored.deleted = true;
        }
        // Only operator replies go back to the connector, one element per stored external id.
        if message.direction == Direction::Outgoing
            && !message.external_ids.is_empty()
            && self.routable(&connector, line)
        {
            let items: Vec<Value> = message
                .external_ids
                .iter()
                .map(|id| {
                    json!({
                        "im": { "chat_id": message.chat_id, "message_id": message_id },
                        "message": { "id": id },
                        "chat": { "id": external_chat },
                    })
                })
                .collect();
            let data = json!({ "CONNECTOR": connector, "LINE": line, "MESSAGES": items });
            self.emit(
                "OnImConnectorMessageDelete",
                &data,
                Audience::OwnerOf(&connector),
                OPERATOR_ID,
            );
        }
        Ok(())
    }

    pub(crate) fn operator_close_session(
        &mut self,
        line: i64,
        external_chat: &str,
    ) -> Result<u64, ControlError> {
        let chat_id = self.chat_by_external(line, external_chat).ok_or_else(|| {
            ControlError::UnknownChat {
                line,
                external_chat_id: external_chat.to_owned(),
            }
        })?;
        self.close_session(chat_id, OPERATOR_ID)
            .ok_or(ControlError::NoOpenSession(chat_id))
    }

    /// Creates an open line with the next id.
    pub(crate) fn add_line(&mut self, name: &str) -> LineInfo {
        let id = self.lines.keys().next_back().map_or(1, |last| last + 1);
        let line = Line::new(id, name.to_owned());
        let snapshot = line.snapshot();
        self.lines.insert(id, line);
        snapshot
    }

    pub(crate) fn delete_line(&mut self, line: i64) -> Result<(), ControlError> {
        if self.lines.remove(&line).is_none() {
            return Err(ControlError::UnknownLine(line));
        }
        self.drop_statuses_of_line(line, OPERATOR_ID);
        self.emit(
            "OnImConnectorLineDelete",
            &json!(line),
            Audience::Everyone,
            OPERATOR_ID,
        );
        Ok(())
    }
}
