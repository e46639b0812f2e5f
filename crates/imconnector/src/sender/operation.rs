//! What the sender sends: a message to send, update or delete, as a request the client takes,
//! and as the opaque entry the outbox keeps.

use std::marker::PhantomData;

use imconnector_api::ids::{ConnectorId, LineId};
use imconnector_api::methods::{DeleteMessages, SendMessages, UpdateMessages};
use imconnector_api::types::{MessageIn, MessagesResult};
use imconnector_transport::{AuthKind, InvalidRequest, Method, ResultError};
use serde::{Deserialize, Serialize, Serializer};

/// What the portal is asked to do with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Operation {
    /// `imconnector.send.messages`: a new customer message.
    Send,
    /// `imconnector.update.messages`: new text or files for a message sent before.
    Update,
    /// `imconnector.delete.messages`: removes a message sent before.
    Delete,
}

impl Operation {
    /// The wire name of the method.
    pub fn method_name(self) -> &'static str {
        match self {
            Operation::Send => SendMessages::NAME,
            Operation::Update => UpdateMessages::NAME,
            Operation::Delete => DeleteMessages::NAME,
        }
    }

    /// The checks the portal's method makes, on this message alone.
    pub(crate) fn validate(
        self,
        connector: &ConnectorId,
        line: LineId,
        message: &MessageIn,
    ) -> Result<(), InvalidRequest> {
        let alone = [message.clone()];
        match self {
            Operation::Send => SendMessages::new(connector.clone(), line, alone).validate(),
            Operation::Update => UpdateMessages::new(connector.clone(), line, alone).validate(),
            Operation::Delete => DeleteMessages::new(connector.clone(), line, alone).validate(),
        }
    }
}

/// A message in a request: the caller's own, or one read back from the outbox (its wire JSON,
/// which serializes to the same form).
// Nearly every message is the caller's own: boxing it would cost an allocation each.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum Payload {
    Typed(MessageIn),
    Stored(serde_json::Value),
}

impl Serialize for Payload {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Payload::Typed(message) => message.serialize(serializer),
            Payload::Stored(value) => value.serialize(serializer),
        }
    }
}

/// The outbox entry's payload, as written.
#[derive(Serialize)]
pub(crate) struct EntryOut<'a> {
    pub(crate) op: Operation,
    pub(crate) line: i64,
    pub(crate) chat: &'a str,
    pub(crate) message: &'a MessageIn,
}

/// The outbox entry's payload, as read back.
#[derive(Debug, Deserialize)]
pub(crate) struct EntryIn {
    pub(crate) op: Operation,
    pub(crate) line: i64,
    pub(crate) chat: String,
    pub(crate) message: serde_json::Value,
}

/// The idempotency key of a message: only a new message with an external id has one (the
/// outbox is of one portal and connector, so the line and the id are enough).
pub(crate) fn idempotency_key(op: Operation, line: LineId, message: &MessageIn) -> Option<String> {
    let id = message.message().id()?;
    (op == Operation::Send).then(|| format!("send:{line}:{}", id.as_str()))
}

/// Names the method a call of [`Operation`] goes to; its answer is read by the generated
/// request's own decoder.
pub(crate) trait Kind: Send + Sync + 'static {
    type Typed: Method<Response = MessagesResult>;
}

pub(crate) struct SendKind;
pub(crate) struct UpdateKind;
pub(crate) struct DeleteKind;

impl Kind for SendKind {
    type Typed = SendMessages;
}
impl Kind for UpdateKind {
    type Typed = UpdateMessages;
}
impl Kind for DeleteKind {
    type Typed = DeleteMessages;
}

/// One call of messages of one line, checked when each was submitted.
#[derive(Serialize)]
pub(crate) struct OperationCall<K> {
    #[serde(rename = "CONNECTOR")]
    connector: ConnectorId,
    #[serde(rename = "LINE")]
    line: LineId,
    #[serde(rename = "MESSAGES")]
    messages: Vec<Payload>,
    #[serde(skip)]
    kind: PhantomData<K>,
}

impl<K> OperationCall<K> {
    pub(crate) fn new(connector: ConnectorId, line: LineId, messages: Vec<Payload>) -> Self {
        Self {
            connector,
            line,
            messages,
            kind: PhantomData,
        }
    }
}

impl<K: Kind> Method for OperationCall<K> {
    const NAME: &'static str = <K::Typed as Method>::NAME;
    const AUTH: AuthKind = <K::Typed as Method>::AUTH;
    const IDEMPOTENT: bool = <K::Typed as Method>::IDEMPOTENT;
    type Response = MessagesResult;

    fn decode_response<'de, D: serde::Deserializer<'de>>(
        result: D,
    ) -> Result<MessagesResult, ResultError> {
        <K::Typed as Method>::decode_response(result)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use imconnector_api::types::{MessageBody, MessageChat, MessageUser};

    use super::*;

    #[test]
    fn a_message_read_back_from_the_outbox_makes_the_same_request() {
        let message = MessageIn::new(
            MessageUser::new("u-1")
                .with_name("Ann")
                .with_email("ann@example.com"),
            MessageBody::new()
                .with_id("m-1")
                .with_text("[b]hi[/b]")
                .with_date(1_700_000_000)
                .with_disable_crm(true),
            MessageChat::new("c-1").with_name("Chat"),
        );
        let connector = ConnectorId::new("acme").unwrap();
        let line = LineId::new(3).unwrap();
        let typed = SendMessages::new(connector.clone(), line, [message.clone()]);
        let written = serde_json::to_vec(&EntryOut {
            op: Operation::Send,
            line: 3,
            chat: "c-1",
            message: &message,
        })
        .unwrap();
        let read: EntryIn = serde_json::from_slice(&written).unwrap();
        assert_eq!(read.op, Operation::Send);
        let stored: OperationCall<SendKind> =
            OperationCall::new(connector, line, vec![Payload::Stored(read.message)]);
        // The same parameters (the order of an object's keys carries nothing).
        assert_eq!(
            serde_json::to_value(&stored).unwrap(),
            serde_json::to_value(&typed).unwrap()
        );
    }
}
