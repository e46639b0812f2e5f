//! The trait your connector implements to receive events, and what it reports back.

use std::future::Future;

use imconnector_api::events::{
    DialogFinishEvent, DialogStartEvent, Event, LineDeleteEvent, MessageAddEvent,
    MessageDeleteEvent, MessageUpdateEvent, OfflineQueueChangeEvent, StatusDeleteEvent,
    UnknownEvent,
};
use imconnector_api::ids::{
    BitrixChatId, BitrixMessageId, ConnectorId, ExternalChatId, ExternalMessageId, LineId, MemberId,
};
use imconnector_api::types::MessageAddItem;

use super::{DedupKey, FailureReport};

/// The error a handler method may return: the attempt failed (it is run again, then reported
/// to [`EventHandler::handler_failed`]).
pub type HandlerError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Your connector's reaction to each event Bitrix24 POSTs. Every method has a no-op default:
/// implement the ones you need, with `async fn`.
///
/// The [inbound pipeline](super) calls these one event at a time per chat, each attempt on a
/// task of its own with a timeout; an online event is never dispatched unless its application
/// token checked out. Delivery is *at least once* (see the [module docs](super)):
/// [`event`](Self::event) gets each event's [`DedupKey`] to make effects happen once.
///
/// ```
/// use imconnector::inbound::{EventHandler, HandlerError, SentMessages};
/// use imconnector::events::MessageAddEvent;
///
/// struct Bridge;
///
/// impl EventHandler for Bridge {
///     async fn message_add(&self, event: MessageAddEvent) -> Result<SentMessages, HandlerError> {
///         let mut sent = SentMessages::new();
///         for item in &event.data.messages {
///             // Deliver `item.message.text` to the customer in `item.chat.id` here, then
///             // report the id your messenger gave it.
///             sent.push(item, [format!("out-{}", item.im.message_id)]);
///         }
///         Ok(sent)
///     }
/// }
/// ```
pub trait EventHandler: Send + Sync + 'static {
    /// Every event comes here first, with its deduplication key; the default calls the typed
    /// method for it (the messages sent matter only for `OnImConnectorMessageAdd`). Override
    /// it to see the key, e.g. to record it with the effect in one transaction.
    fn event(
        &self,
        key: &DedupKey,
        event: Event,
    ) -> impl Future<Output = Result<SentMessages, HandlerError>> + Send {
        let _ = key;
        async move {
            let none = |()| SentMessages::new();
            match event {
                Event::MessageAdd(event) => self.message_add(event).await,
                Event::MessageUpdate(event) => self.message_update(event).await.map(none),
                Event::MessageDelete(event) => self.message_delete(event).await.map(none),
                Event::DialogStart(event) => self.dialog_start(event).await.map(none),
                Event::DialogFinish(event) => self.dialog_finish(event).await.map(none),
                Event::StatusDelete(event) => self.status_delete(event).await.map(none),
                Event::LineDelete(event) => self.line_delete(event).await.map(none),
                Event::OfflineQueueChange(event) => {
                    self.offline_queue_change(event).await.map(none)
                }
                Event::Unknown(event) => self.unknown(event).await.map(none),
                // A variant added to the api crate after this one was written.
                _ => Ok(SentMessages::new()),
            }
        }
    }

    /// `OnImConnectorMessageAdd`: operators wrote; send each message to the customer and return
    /// the ones that went out with their external ids. With
    /// [`confirm_deliveries`](super::InboundBuilder::confirm_deliveries) the pipeline then
    /// confirms them with `imconnector.send.status.delivery`.
    fn message_add(
        &self,
        event: MessageAddEvent,
    ) -> impl Future<Output = Result<SentMessages, HandlerError>> + Send {
        let _ = event;
        async { Ok(SentMessages::new()) }
    }

    /// `OnImConnectorMessageUpdate`: an operator edited a delivered message.
    fn message_update(
        &self,
        event: MessageUpdateEvent,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send {
        let _ = event;
        async { Ok(()) }
    }

    /// `OnImConnectorMessageDelete`: an operator deleted a delivered message.
    fn message_delete(
        &self,
        event: MessageDeleteEvent,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send {
        let _ = event;
        async { Ok(()) }
    }

    /// `OnImConnectorDialogStart`: an open-line session started.
    fn dialog_start(
        &self,
        event: DialogStartEvent,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send {
        let _ = event;
        async { Ok(()) }
    }

    /// `OnImConnectorDialogFinish`: an open-line session was closed.
    fn dialog_finish(
        &self,
        event: DialogFinishEvent,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send {
        let _ = event;
        async { Ok(()) }
    }

    /// `OnImConnectorStatusDelete`: the connector was disconnected from a line.
    fn status_delete(
        &self,
        event: StatusDeleteEvent,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send {
        let _ = event;
        async { Ok(()) }
    }

    /// `OnImConnectorLineDelete`: an open line was deleted.
    fn line_delete(
        &self,
        event: LineDeleteEvent,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send {
        let _ = event;
        async { Ok(()) }
    }

    /// `OnOfflineEvent`: rows wait in the portal's offline event queue. With an
    /// `imconnector::offline::OfflinePoller` (feature `server`), call its `wake` with
    /// `event.auth.member_id` so it reads
    /// them now instead of at its next timer tick.
    fn offline_queue_change(
        &self,
        event: OfflineQueueChangeEvent,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send {
        let _ = event;
        async { Ok(()) }
    }

    /// An event this SDK does not describe (bound by you for another purpose).
    fn unknown(
        &self,
        event: UnknownEvent,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send {
        let _ = event;
        async { Ok(()) }
    }

    /// Called after an automatic `imconnector.send.status.delivery` (see
    /// [`confirm_deliveries`](super::InboundBuilder::confirm_deliveries)) with its outcome.
    fn delivery_confirmed(&self, report: DeliveryReport) -> impl Future<Output = ()> + Send {
        let _ = report;
        async {}
    }

    /// Called when an event's handler failed on every attempt (an error, a panic or a
    /// timeout); the event is also logged, and its source keeps it (see the
    /// [module docs](super)).
    fn handler_failed(&self, report: FailureReport) -> impl Future<Output = ()> + Send {
        let _ = report;
        async {}
    }
}

/// One operator message your connector delivered to the customer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SentMessage {
    /// `im.chat_id` of the event: the Bitrix24 chat.
    pub chat_id: BitrixChatId,
    /// `im.message_id` of the event: the Bitrix24 message.
    pub message_id: BitrixMessageId,
    /// `chat.id` of the event: the external chat.
    pub external_chat_id: ExternalChatId,
    /// The id(s) your messenger gave the delivered message; they come back in later
    /// `OnImConnectorMessageUpdate`/`Delete` events.
    pub external_ids: Vec<ExternalMessageId>,
}

/// The messages of an `OnImConnectorMessageAdd` that went out, returned by
/// [`EventHandler::message_add`]. Leave out the ones that failed: they stay undelivered in
/// Bitrix24.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct SentMessages {
    messages: Vec<SentMessage>,
}

impl SentMessages {
    /// None went out (yet).
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `item` was delivered under `external_ids`.
    pub fn push(
        &mut self,
        item: &MessageAddItem,
        external_ids: impl IntoIterator<Item = impl Into<ExternalMessageId>>,
    ) {
        self.messages.push(SentMessage {
            chat_id: item.im.chat_id,
            message_id: item.im.message_id,
            external_chat_id: item.chat.id.clone(),
            external_ids: external_ids.into_iter().map(Into::into).collect(),
        });
    }

    /// [`push`](Self::push) for chaining.
    pub fn sent(
        mut self,
        item: &MessageAddItem,
        external_ids: impl IntoIterator<Item = impl Into<ExternalMessageId>>,
    ) -> Self {
        self.push(item, external_ids);
        self
    }

    /// The delivered messages.
    pub fn messages(&self) -> &[SentMessage] {
        &self.messages
    }

    /// Whether none went out.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// How many went out.
    pub fn len(&self) -> usize {
        self.messages.len()
    }
}

/// The outcome of an automatic delivery confirmation.
#[derive(Debug)]
#[non_exhaustive]
pub struct DeliveryReport {
    /// `auth[member_id]` of the event: the portal.
    pub member_id: MemberId,
    /// `CONNECTOR` of the event.
    pub connector: ConnectorId,
    /// `LINE` of the event.
    pub line: LineId,
    /// The messages confirmed.
    pub messages: Vec<SentMessage>,
    /// What `imconnector.send.status.delivery` answered.
    pub result: Result<(), imconnector_transport::Error>,
}
