//! The rows the portal keeps. They are the state itself, private to the crate; tests and the
//! control API see [`crate::snapshot`] copies built from them on inspection, so the state can
//! change shape (indexes, internal flags) without changing what users read.

use serde_json::Value;

use crate::snapshot::{
    ChatInfo, ConnectorFlags, ConnectorInfo, Direction, LineInfo, MessageInfo, PortalUser,
    SessionInfo,
};

/// A portal employee.
#[derive(Debug, Clone)]
pub(crate) struct User {
    pub(crate) id: u64,
    pub(crate) name: String,
    pub(crate) admin: bool,
}

impl User {
    /// What tests read of it.
    pub(crate) fn snapshot(&self) -> PortalUser {
        PortalUser {
            id: self.id,
            name: self.name.clone(),
            admin: self.admin,
        }
    }
}

/// An open line.
#[derive(Debug, Clone)]
pub(crate) struct Line {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) active: bool,
}

impl Line {
    /// A new active line named like the portal names them.
    pub(crate) fn new(id: i64, name: String) -> Self {
        Self {
            id,
            name,
            active: true,
        }
    }

    /// What tests read of it.
    pub(crate) fn snapshot(&self) -> LineInfo {
        LineInfo {
            id: self.id,
            name: self.name.clone(),
            active: self.active,
        }
    }
}

/// A row of the connector registry (`imconnector.register`).
#[derive(Debug, Clone)]
pub(crate) struct Connector {
    /// Normalised connector id.
    pub(crate) id: String,
    pub(crate) name: String,
    /// The app that registered it last.
    pub(crate) owner_client_id: String,
    pub(crate) placement_handler: String,
    /// `ICON` as sent (keys uppercased).
    pub(crate) icon: Value,
    pub(crate) icon_disabled: Option<Value>,
    pub(crate) comment: Option<String>,
    pub(crate) flags: ConnectorFlags,
}

impl Connector {
    /// What tests read of it.
    pub(crate) fn snapshot(&self) -> ConnectorInfo {
        ConnectorInfo {
            id: self.id.clone(),
            name: self.name.clone(),
            owner_client_id: self.owner_client_id.clone(),
            placement_handler: self.placement_handler.clone(),
            icon: self.icon.clone(),
            icon_disabled: self.icon_disabled.clone(),
            comment: self.comment.clone(),
            flags: self.flags,
        }
    }
}

/// An open-line session of a chat.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Session {
    pub(crate) id: u64,
    /// DialogFinish fired.
    pub(crate) closed: bool,
    /// The previous session of the chat, or 0.
    pub(crate) parent_id: u64,
}

impl Session {
    /// What tests read of it.
    pub(crate) fn snapshot(&self) -> SessionInfo {
        SessionInfo {
            id: self.id,
            closed: self.closed,
            parent_id: self.parent_id,
        }
    }
}

/// An open-line chat created by a customer message.
#[derive(Debug, Clone)]
pub(crate) struct Chat {
    /// Bitrix chat id.
    pub(crate) id: u64,
    pub(crate) connector: String,
    pub(crate) line: i64,
    pub(crate) external_chat_id: String,
    /// The first customer's external user id.
    pub(crate) external_user_id: String,
    pub(crate) customer_user_id: u64,
    pub(crate) name: Option<String>,
    /// Oldest first.
    pub(crate) sessions: Vec<Session>,
}

impl Chat {
    /// What tests read of it.
    pub(crate) fn snapshot(&self) -> ChatInfo {
        ChatInfo {
            id: self.id,
            connector: self.connector.clone(),
            line: self.line,
            external_chat_id: self.external_chat_id.clone(),
            external_user_id: self.external_user_id.clone(),
            customer_user_id: self.customer_user_id,
            name: self.name.clone(),
            sessions: self.sessions.iter().map(Session::snapshot).collect(),
        }
    }

    /// The session not closed yet, if any.
    pub(crate) fn open_session(&self) -> Option<&Session> {
        self.sessions.iter().find(|session| !session.closed)
    }
}

/// A message of an open-line chat.
#[derive(Debug, Clone)]
pub(crate) struct Message {
    /// Bitrix message id.
    pub(crate) id: u64,
    pub(crate) chat_id: u64,
    pub(crate) direction: Direction,
    pub(crate) author_id: u64,
    /// The customer's external user id (`None` for operator replies).
    pub(crate) external_user_id: Option<String>,
    /// After edits.
    pub(crate) text: String,
    pub(crate) files: Vec<Value>,
    /// `message.id` of a customer message, or the ids a delivery report gave an operator reply.
    pub(crate) external_ids: Vec<String>,
    pub(crate) edited: bool,
    pub(crate) deleted: bool,
    pub(crate) delivered: bool,
    pub(crate) read: bool,
}

impl Message {
    /// A message nobody has edited, deleted, delivered or read yet.
    pub(crate) fn new(id: u64, chat_id: u64, direction: Direction, author_id: u64) -> Self {
        Self {
            id,
            chat_id,
            direction,
            author_id,
            external_user_id: None,
            text: String::new(),
            files: Vec::new(),
            external_ids: Vec::new(),
            edited: false,
            deleted: false,
            delivered: false,
            read: false,
        }
    }

    /// What tests read of it.
    pub(crate) fn snapshot(&self) -> MessageInfo {
        MessageInfo {
            id: self.id,
            chat_id: self.chat_id,
            direction: self.direction,
            author_id: self.author_id,
            external_user_id: self.external_user_id.clone(),
            text: self.text.clone(),
            files: self.files.clone(),
            external_ids: self.external_ids.clone(),
            edited: self.edited,
            deleted: self.deleted,
            delivered: self.delivered,
            read: self.read,
        }
    }
}
