//! What tests read back from the emulated portal. Every type is a plain copy taken at the time
//! of the call; the same shapes are served as JSON by the HTTP control API. Users, lines,
//! connectors, chats and messages are built from the state's own rows (`state/records.rs`) on
//! inspection; the logs (event POSTs, delivery reports) and the counters are kept as they are
//! read, since they are records of what happened rather than state that changes shape.

use std::collections::BTreeMap;
use std::fmt;

use secrecy::SecretString;
use serde::Serialize;
use serde_json::{Map, Value};

/// An installed OAuth application. Secrets are [`SecretString`]s (redacted in `Debug`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AppCredentials {
    /// `client_id` (also the app's identity in the registry).
    pub client_id: String,
    /// `client_secret`, needed by `/oauth/token/`.
    pub client_secret: SecretString,
    /// `application_token`, sent in every event's `auth[application_token]`.
    pub application_token: SecretString,
    /// The portal's `member_id`.
    pub member_id: String,
    /// The portal's domain (`127.0.0.1:PORT`).
    pub domain: String,
}

/// A fresh OAuth token pair, as `/oauth/token/` would return it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Tokens {
    /// The access token (`auth=` of REST calls).
    pub access_token: SecretString,
    /// The refresh token (single use: refreshing rotates it).
    pub refresh_token: SecretString,
    /// Lifetime of the access token in emulated seconds.
    pub expires_in: u64,
    /// Unix time (emulated clock) when the access token expires.
    pub expires: i64,
    /// The portal user the tokens act as.
    pub user_id: u64,
    /// The app's `client_id`.
    pub client_id: String,
}

/// A portal employee (the admin who installed the app is user 1).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct PortalUser {
    /// Bitrix user id.
    pub id: u64,
    /// Display name (used in the operator signature).
    pub name: String,
    /// Whether the user is a portal administrator (may list connectors, bind for others).
    pub admin: bool,
}

/// An open line.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct LineInfo {
    /// Line id (`LINE` in imconnector methods, `ID`/`CONFIG_ID` in imopenlines methods).
    pub id: i64,
    /// `LINE_NAME`.
    pub name: String,
    /// `ACTIVE` = `Y`.
    pub active: bool,
}

/// The seven behaviour flags given to `imconnector.register`.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectorFlags {
    /// `DEL_EXTERNAL_MESSAGES`: operators may delete customer messages.
    pub del_external_messages: bool,
    /// `EDIT_INTERNAL_MESSAGES`: operators may edit their replies (fires MessageUpdate).
    pub edit_internal_messages: bool,
    /// `DEL_INTERNAL_MESSAGES`: operators may delete their replies (fires MessageDelete).
    pub del_internal_messages: bool,
    /// `NEWSLETTER`.
    pub newsletter: bool,
    /// `NEED_SYSTEM_MESSAGES`.
    pub need_system_messages: bool,
    /// `NEED_SIGNATURE`: replies are prefixed with the operator's name.
    pub need_signature: bool,
    /// `CHAT_GROUP`: dialogs are keyed by `chat.id` only.
    pub chat_group: bool,
}

impl Default for ConnectorFlags {
    fn default() -> Self {
        Self {
            del_external_messages: true,
            edit_internal_messages: true,
            del_internal_messages: true,
            newsletter: true,
            need_system_messages: true,
            need_signature: true,
            chat_group: false,
        }
    }
}

/// A row of the connector registry.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[non_exhaustive]
pub struct ConnectorInfo {
    /// Normalised connector id.
    pub id: String,
    /// `NAME`.
    pub name: String,
    /// `client_id` of the app that registered it last.
    pub owner_client_id: String,
    /// `PLACEMENT_HANDLER`.
    pub placement_handler: String,
    /// `ICON` as sent (keys uppercased).
    pub icon: Value,
    /// `ICON_DISABLED` as sent, if any.
    pub icon_disabled: Option<Value>,
    /// `COMMENT`, if any.
    pub comment: Option<String>,
    /// The behaviour flags.
    pub flags: ConnectorFlags,
}

/// The status of a connector on a line (reference §3).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[non_exhaustive]
pub struct LineStatus {
    /// Normalised connector id.
    pub connector: String,
    /// Line id.
    pub line: i64,
    /// `ACTIVE`.
    pub active: bool,
    /// `CONNECTION`.
    pub connection: bool,
    /// `REGISTER`.
    pub register: bool,
    /// `ERROR`.
    pub error: bool,
    /// `DATA` stored by `connector.data.set` (`None` when the row does not exist).
    pub data: Option<Map<String, Value>>,
}

impl LineStatus {
    /// The status of a missing row: everything false.
    pub(crate) fn absent(connector: &str, line: i64) -> Self {
        Self {
            connector: connector.to_owned(),
            line,
            active: false,
            connection: false,
            register: false,
            error: false,
            data: None,
        }
    }

    /// `ACTIVE && CONNECTION && REGISTER`.
    pub fn configured(&self) -> bool {
        self.active && self.connection && self.register
    }

    /// `CONFIGURED && !ERROR`: messages may flow.
    pub fn status(&self) -> bool {
        self.configured() && !self.error
    }
}

/// An open-line session of a chat.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionInfo {
    /// Session id.
    pub id: u64,
    /// Whether it was closed (DialogFinish fired).
    pub closed: bool,
    /// The previous session of the same chat, or 0.
    pub parent_id: u64,
}

/// An open-line chat created by `imconnector.send.messages`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChatInfo {
    /// Bitrix chat id (`im.chat_id` in events).
    pub id: u64,
    /// Normalised connector id.
    pub connector: String,
    /// Line id.
    pub line: i64,
    /// The external `chat.id`.
    pub external_chat_id: String,
    /// The external `user.id` of the customer (for group chats: the first one).
    pub external_user_id: String,
    /// Bitrix id of the customer user.
    pub customer_user_id: u64,
    /// Chat title (`chat.name`, or renamed by `imconnector.chat.name.set`).
    pub name: Option<String>,
    /// Sessions, oldest first.
    pub sessions: Vec<SessionInfo>,
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Direction {
    /// A customer message from the connector (`imconnector.send.messages`).
    Incoming,
    /// An operator reply (sent to the connector by OnImConnectorMessageAdd).
    Outgoing,
}

/// A message in an open-line chat.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[non_exhaustive]
pub struct MessageInfo {
    /// Bitrix message id (`im.message_id` in events).
    pub id: u64,
    /// Bitrix chat id.
    pub chat_id: u64,
    /// Who wrote it.
    pub direction: Direction,
    /// Bitrix id of the author (customer user or operator).
    pub author_id: u64,
    /// The external `user.id` of a customer message (`None` for operator replies).
    pub external_user_id: Option<String>,
    /// Text (BB-code), after edits.
    pub text: String,
    /// Files as sent (`{url, name}` objects) for customer messages.
    pub files: Vec<Value>,
    /// External ids: `message.id` of a customer message, or the ids reported by
    /// `imconnector.send.status.delivery` for an operator reply.
    pub external_ids: Vec<String>,
    /// Whether it was edited after sending.
    pub edited: bool,
    /// Whether it was deleted.
    pub deleted: bool,
    /// Whether delivery was confirmed (`send.status.delivery`).
    pub delivered: bool,
    /// Whether reading was confirmed (`send.status.reading`).
    pub read: bool,
}

/// Which confirmation a [`DeliveryRecord`] is.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DeliveryKind {
    /// `imconnector.send.status.delivery`.
    Delivered,
    /// `imconnector.send.status.reading`.
    Read,
}

/// One item of `send.status.delivery`/`send.status.reading`, as received.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[non_exhaustive]
pub struct DeliveryRecord {
    /// Which confirmation.
    pub kind: DeliveryKind,
    /// Normalised connector id.
    pub connector: String,
    /// Line id.
    pub line: i64,
    /// `im.chat_id` as sent.
    pub chat_id: Option<i64>,
    /// `im.message_id` as sent.
    pub message_id: Option<i64>,
    /// `message.id` (external ids) as sent.
    pub external_ids: Vec<String>,
    /// `chat.id` as sent.
    pub external_chat_id: Option<String>,
    /// Whether `im.*` named an existing operator reply (which is then marked).
    pub matched: bool,
}

/// The fate of one event POST.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case", tag = "state")]
#[non_exhaustive]
pub enum DeliveryOutcome {
    /// Not finished yet.
    Pending,
    /// The handler answered 2xx.
    Delivered {
        /// HTTP status.
        status: u16,
    },
    /// Connection failure, timeout or a non-2xx answer. The portal does not retry.
    Failed {
        /// HTTP status, when there was an answer.
        status: Option<u16>,
        /// What went wrong.
        reason: String,
    },
}

/// One event POST to a bound handler.
#[derive(Clone, Serialize, PartialEq)]
#[non_exhaustive]
pub struct EventDelivery {
    /// Order of emission, from 0.
    pub seq: u64,
    /// Uppercase event name (`ONIMCONNECTORMESSAGEADD`).
    pub event: String,
    /// The handler URL.
    pub handler: String,
    /// `event_handler_id`.
    pub handler_id: u64,
    /// `client_id` of the app the binding belongs to.
    pub client_id: String,
    /// The form-encoded body exactly as POSTed (contains tokens: not shown by `Debug`).
    pub body: String,
    /// What happened.
    pub outcome: DeliveryOutcome,
}

impl EventDelivery {
    /// The body parsed with PHP nesting rules (every value a string), e.g. `form()["data"]`.
    pub fn form(&self) -> Value {
        imconnector_form::parse(self.body.as_bytes()).unwrap_or(Value::Null)
    }
}

impl fmt::Debug for EventDelivery {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("EventDelivery")
            .field("seq", &self.seq)
            .field("event", &self.event)
            .field("handler", &self.handler)
            .field("handler_id", &self.handler_id)
            .field("client_id", &self.client_id)
            .field(
                "body",
                &format_args!("<{} bytes, redacted>", self.body.len()),
            )
            .field("outcome", &self.outcome)
            .finish()
    }
}

/// A row of the offline event queue (`event.bind` with `event_type=offline`).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[non_exhaustive]
pub struct OfflineEventInfo {
    /// `ID`.
    pub id: u64,
    /// `client_id` of the app whose queue holds it.
    pub client_id: String,
    /// `auth_connector` of the binding (empty when none was given).
    pub source: String,
    /// Uppercase event name (`EVENT_NAME`).
    pub event: String,
    /// `EVENT_DATA`: the `data` an online POST would carry.
    pub data: Value,
    /// `MESSAGE_ID`: a hash of the event name and its data.
    pub message_id: String,
    /// The `process_id` that reserved it (`None` while it waits).
    pub process_id: Option<String>,
    /// Whether `event.offline.error` marked it failed.
    pub error: bool,
}

/// Injected faults so far.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct FaultCounters {
    /// Requests answered 500.
    pub error_500: u64,
    /// Requests delayed.
    pub delayed: u64,
    /// Connections reset before processing.
    pub dropped_before: u64,
    /// Connections reset after processing.
    pub dropped_after: u64,
    /// REST requests refused 503 `QUERY_LIMIT_EXCEEDED` by the fault (the bucket's own
    /// refusals are in [`Counters::query_limit_rejections`]).
    pub query_limit_exceeded: u64,
    /// Token requests whose connection was reset before redeeming ([`OAuthFaults`](crate::OAuthFaults)).
    pub token_resets: u64,
    /// Token requests answered late ([`OAuthFaults`](crate::OAuthFaults)).
    pub token_delays: u64,
    /// Delayed token requests whose client hung up before the answer (nothing was redeemed).
    pub token_abandoned: u64,
}

/// Counters of what the portal saw.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counters {
    /// Successful `refresh_token` grants.
    pub refreshes: u64,
    /// Refused `refresh_token` grants (`invalid_grant`, `invalid_client`).
    pub refresh_rejections: u64,
    /// Requests refused 503 `QUERY_LIMIT_EXCEEDED` by the rate limit (injected refusals are in
    /// [`FaultCounters::query_limit_exceeded`]).
    pub query_limit_rejections: u64,
    /// Calls refused 429 `OPERATION_TIME_LIMIT`.
    pub operating_limit_rejections: u64,
    /// Requests refused 401 `expired_token`.
    pub expired_token_rejections: u64,
    /// Requests refused 401 `invalid_token` (unknown or revoked tokens).
    pub invalid_token_rejections: u64,
    /// REST calls per lowercase method name (batch sub-calls included).
    pub requests: BTreeMap<String, u64>,
    /// Injected faults.
    pub faults: FaultCounters,
    /// Event POSTs answered 2xx.
    pub events_delivered: u64,
    /// Event POSTs that failed.
    pub events_failed: u64,
    /// Rows added to the offline event queue (merged duplicates not counted).
    pub offline_events_queued: u64,
}
