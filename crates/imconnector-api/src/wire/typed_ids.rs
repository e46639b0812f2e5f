//! One type per kind of id, so one cannot be passed where another is meant: the ids you choose
//! for your messenger's chats, users and messages (text), Bitrix24's own chat, message, user,
//! session and file ids (integers), and the portal's member id (defined in the transport). Each decodes from a JSON string
//! or number, as the server sends both.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::decode::{lenient_i64, WireDecode};

/// An id chosen outside Bitrix24, kept as text.
macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps an id.
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The id, owned.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self(id.to_owned())
            }
        }

        impl From<&String> for $name {
            fn from(id: &String) -> Self {
                Self(id.clone())
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                self.0 == *other
            }
        }

        impl WireDecode for $name {
            fn from_wire(value: Value) -> Result<Self, String> {
                String::from_wire(value).map(Self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                super::decode(deserializer)
            }
        }
    };
}

/// An id Bitrix24 gives, an integer (sent as a number, read from a number or a numeric string).
macro_rules! integer_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(i64);

        impl $name {
            /// Wraps an id.
            pub fn new(id: i64) -> Self {
                Self(id)
            }

            /// The id.
            pub fn get(self) -> i64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }

        impl From<i64> for $name {
            fn from(id: i64) -> Self {
                Self(id)
            }
        }

        impl From<$name> for i64 {
            fn from(id: $name) -> i64 {
                id.0
            }
        }

        impl PartialEq<i64> for $name {
            fn eq(&self, other: &i64) -> bool {
                self.0 == *other
            }
        }

        impl WireDecode for $name {
            fn from_wire(value: Value) -> Result<Self, String> {
                lenient_i64(&value).map(Self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                super::decode(deserializer)
            }
        }
    };
}

text_id! {
    /// Your messenger's chat id: `chat.id` of `imconnector.send.messages`, `CHAT_ID` of
    /// `imconnector.chat.name.set`, `chat.id` of the operator events. Not Bitrix24's chat
    /// ([`BitrixChatId`]).
    ExternalChatId
}

text_id! {
    /// Your messenger's user id: `user.id` of `imconnector.send.messages`, `USER_ID` of
    /// `imconnector.chat.name.set`. Not Bitrix24's user ([`BitrixUserId`]).
    ExternalUserId
}

text_id! {
    /// Your messenger's message id: `message.id` of `imconnector.send.messages`, the ids you
    /// confirm with `imconnector.send.status.delivery`. Not Bitrix24's message
    /// ([`BitrixMessageId`]).
    ExternalMessageId
}

text_id! {
    /// An offline events' source key: `auth_connector` of `event.bind`, `connector_id` of an
    /// `event.get` binding. Changes your app makes while naming this key are not queued back to
    /// it as offline events. Not a connector id ([`ConnectorId`](crate::ids::ConnectorId)):
    /// any text, kept as sent (the portal answers `""` for a binding without one).
    SourceKey
}

// The portal's member id lives in the transport (the portal registry keys by it).
impl WireDecode for crate::transport::MemberId {
    fn from_wire(value: Value) -> Result<Self, String> {
        String::from_wire(value).map(Self::from)
    }
}

integer_id! {
    /// A Bitrix24 chat id: `im.chat_id` of the operator events, `CHAT_ID` of a session. Not your
    /// messenger's chat ([`ExternalChatId`]).
    BitrixChatId
}

integer_id! {
    /// A Bitrix24 message id: `im.message_id` of the operator events, confirmed with
    /// `imconnector.send.status.delivery`. Not your messenger's message ([`ExternalMessageId`]).
    BitrixMessageId
}

integer_id! {
    /// A Bitrix24 user id: an operator, the customer's Bitrix24 user, the user tokens belong to.
    /// Not your messenger's user ([`ExternalUserId`]).
    BitrixUserId
}

integer_id! {
    /// An open-line session (dialog) id.
    SessionId
}

integer_id! {
    /// A file stored on the portal (the attachments of a customer message).
    BitrixFileId
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_read_strings_and_numbers_and_keep_their_kind() {
        assert_eq!(ExternalChatId::from_wire(json!(123)).unwrap(), "123");
        assert_eq!(ExternalChatId::from_wire(json!("c-1")).unwrap(), "c-1");
        assert_eq!(BitrixChatId::from_wire(json!("1807")).unwrap(), 1807);
        assert_eq!(BitrixChatId::from_wire(json!(1807)).unwrap(), 1807);
        assert!(BitrixChatId::from_wire(json!("chat")).is_err());
        assert_eq!(
            serde_json::to_value(BitrixMessageId::new(5)).unwrap(),
            json!(5)
        );
        assert_eq!(
            serde_json::to_value(ExternalMessageId::from("m1")).unwrap(),
            json!("m1")
        );
        let member: crate::transport::MemberId = serde_json::from_value(json!("bac1")).unwrap();
        assert_eq!(member.as_str(), "bac1");
    }

    #[test]
    fn an_event_binding_names_its_source_key_as_sent_and_bind_event_takes_one() {
        let binding: crate::types::EventBinding = serde_json::from_value(json!({
            "event": "ONCRMDEALUPDATE", "handler": "", "auth_type": "0",
            "offline": 1, "connector_id": "My_Connector"
        }))
        .unwrap();
        // Kept as sent: a source key is not a connector id (which would be lower-cased).
        let key: Option<&SourceKey> = binding.connector_id.as_ref();
        assert_eq!(key.map(SourceKey::as_str), Some("My_Connector"));
        let bind = crate::methods::BindEvent::new(
            "ONCRMDEALUPDATE",
            crate::ids::EventsUrl::parse("https://example.com/events").unwrap(),
        )
        .with_auth_connector("My_Connector");
        assert_eq!(bind.auth_connector(), key);
    }
}
