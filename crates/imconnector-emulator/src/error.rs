//! What the control side answers besides state: why an action was refused, and the ids of an
//! operator reply. Here, below both `state` and `control`, because the state's operator
//! actions return them and the handle hands them out.

use serde::Serialize;

/// Why a control action could not be done.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ControlError {
    /// No open line with this id.
    #[error("no open line {0}")]
    UnknownLine(i64),
    /// No chat with this external id on the line (send a customer message first).
    #[error("no chat with external id `{external_chat_id}` on line {line}")]
    UnknownChat {
        /// The line.
        line: i64,
        /// The external `chat.id`.
        external_chat_id: String,
    },
    /// No message with this id.
    #[error("no message {0}")]
    UnknownMessage(u64),
    /// The message was deleted.
    #[error("message {0} was deleted")]
    MessageDeleted(u64),
    /// Only operator replies can be edited.
    #[error("message {0} is a customer message; operators edit only their own replies")]
    NotAnOperatorMessage(u64),
    /// The chat has no open session (it was closed).
    #[error("chat {0} has no open session")]
    NoOpenSession(u64),
    /// The connector's flags forbid it.
    #[error("connector `{connector}` does not let operators {action}")]
    NotAllowed {
        /// The connector.
        connector: String,
        /// What was refused.
        action: &'static str,
    },
    /// No connector registered with this id.
    #[error("no connector `{0}` is registered")]
    UnknownConnector(String),
    /// No app with this `client_id`.
    #[error("no app with client_id `{0}`")]
    UnknownApp(String),
    /// No portal user with this id.
    #[error("no portal user {0}")]
    UnknownUser(u64),
    /// An install action that does not fit the app's install state.
    #[error("app `{client_id}`: {reason}")]
    InstallRefused {
        /// The app.
        client_id: String,
        /// Why.
        reason: String,
    },
    /// A setting out of range.
    #[error("invalid setting: {0}")]
    InvalidSetting(String),
    /// Not enough event deliveries finished in time.
    #[error("timed out waiting for {expected} event deliveries ({finished} finished)")]
    Timeout {
        /// How many were awaited.
        expected: u64,
        /// How many had finished.
        finished: u64,
    },
}

/// An operator reply as the portal stored it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct OperatorMessage {
    /// Bitrix chat id (`im.chat_id`).
    pub chat_id: u64,
    /// Bitrix message id (`im.message_id`).
    pub message_id: u64,
}
