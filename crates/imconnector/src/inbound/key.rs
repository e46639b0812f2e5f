//! What identifies an event (its [`DedupKey`]) and which chat it belongs to (its lane).

use std::fmt;

use imconnector_api::events::Event;
use imconnector_api::ids::MemberId;

/// What identifies one event of one portal, for deduplication: the portal's `member_id`, the
/// event's name and the ids of what it is about.
///
/// - `OnImConnectorMessageAdd`/`Update`/`Delete`: every `im.message_id` of its `MESSAGES`;
/// - `OnImConnectorDialogStart`/`Finish`: every session id and external chat id;
/// - `OnImConnectorStatusDelete`: the connector and line, with the event's `ts`;
/// - `OnImConnectorLineDelete`: the line, with `ts`;
/// - others: the binding id (`event_handler_id`) and `ts`;
/// - an offline-event row: its `MESSAGE_ID` ([`DedupKey::offline`]).
///
/// The same operator reply POSTed twice (two bindings, a replay, an offline row handled again)
/// has the same key, and the pipeline runs the handler for it once. The handler gets the key
/// ([`EventHandler::event`](super::EventHandler::event)): delivery to it is *at least once*
/// (see the [module docs](super)), so an effect keyed by it happens once.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DedupKey(String);

impl DedupKey {
    /// The key of an online event: see the [type docs](Self).
    pub fn of(event: &Event) -> Self {
        let member = &event.auth().member_id;
        let name = event.name().to_ascii_uppercase();
        let ids = match event {
            Event::MessageAdd(event) => joined(event.data.messages.iter().map(|m| m.im.message_id)),
            Event::MessageUpdate(event) => {
                joined(event.data.messages.iter().map(|m| m.im.message_id))
            }
            Event::MessageDelete(event) => {
                joined(event.data.messages.iter().map(|m| m.im.message_id))
            }
            Event::DialogStart(event) => joined(
                event
                    .data
                    .data
                    .iter()
                    .map(|item| format!("{}/{}", item.session.id, item.chat.id)),
            ),
            Event::DialogFinish(event) => joined(
                event
                    .data
                    .data
                    .iter()
                    .map(|item| format!("{}/{}", item.session.id, item.chat.id)),
            ),
            Event::StatusDelete(event) => format!(
                "{}/{}@{}",
                event.data.connector,
                event.data.line,
                event.ts.unwrap_or_default()
            ),
            Event::LineDelete(event) => {
                format!("{}@{}", event.data, event.ts.unwrap_or_default())
            }
            Event::Unknown(event) => format!(
                "{}@{}",
                event
                    .handler_id
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                event.ts.unwrap_or_default()
            ),
            // A variant added to the api crate later: its binding and time.
            _ => String::new(),
        };
        Self(format!("{member}:{name}:{ids}"))
    }

    /// The key of an offline-event row of portal `member_id`: its `MESSAGE_ID`, which the portal
    /// keeps for identical payloads (so a row fetched again has the same key).
    pub fn offline(member_id: &MemberId, event_name: &str, message_id: &str) -> Self {
        Self(format!(
            "{member_id}:{}:offline/{message_id}",
            event_name.to_ascii_uppercase()
        ))
    }

    /// A key made by the caller (e.g. of another source), used as given.
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DedupKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

fn joined<T: fmt::Display>(ids: impl Iterator<Item = T>) -> String {
    ids.map(|id| id.to_string()).collect::<Vec<_>>().join(",")
}

/// The lane an event waits in: events of one lane run one at a time, in the order they were
/// submitted. A chat's events (one external chat of one line of one portal) share a lane;
/// events not about a chat share their portal's lane.
pub(crate) fn lane_of(member_id: &MemberId, event: &Event) -> String {
    let chat = match event {
        Event::MessageAdd(event) => event.data.messages.first().map(|item| {
            format!(
                "{}/{}/{}",
                event.data.connector, event.data.line, item.chat.id
            )
        }),
        Event::MessageUpdate(event) => event.data.messages.first().map(|item| {
            format!(
                "{}/{}/{}",
                event.data.connector, event.data.line, item.chat.id
            )
        }),
        Event::MessageDelete(event) => event.data.messages.first().map(|item| {
            format!(
                "{}/{}/{}",
                event.data.connector, event.data.line, item.chat.id
            )
        }),
        Event::DialogStart(event) => event.data.data.first().map(|item| {
            format!(
                "{}/{}/{}",
                event.data.connector, event.data.line, item.chat.id
            )
        }),
        Event::DialogFinish(event) => event.data.data.first().map(|item| {
            format!(
                "{}/{}/{}",
                event.data.connector, event.data.line, item.chat.id
            )
        }),
        _ => None,
    };
    match chat {
        Some(chat) => format!("{member_id}/{chat}"),
        None => member_id.to_string(),
    }
}
