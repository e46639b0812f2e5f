//! `use imconnector::prelude::*;`: what a connector needs, under names that cannot clash with
//! your own.
//!
//! The requests a connector sends itself (relaying messages, confirming deliveries, renaming
//! chats) are here by name; every other request is under [`methods`]
//! (`methods::Status`, `methods::List`, ...), since such short names would shadow yours. The
//! client's error is [`imconnector::Error`](crate::Error), by path for the same reason. Shared
//! types beyond the ones requests are built from are under [`types`](crate::types).

pub use crate::events::{
    DialogFinishEvent, DialogStartEvent, Event, LineDeleteEvent, MessageAddEvent,
    MessageDeleteEvent, MessageUpdateEvent, StatusDeleteEvent, UnknownEvent,
};
pub use crate::methods;
pub use crate::methods::{
    ChatNameSet, DeleteMessages, SendMessages, SendStatusDelivery, SendStatusReading,
    UpdateMessages,
};
pub use crate::placement::{apply_settings, AppliedSettings, PlacementOptions, SettingsPlacement};
pub use crate::portals::{PortalRecord, PortalRegistry};
pub use crate::sender::{SendOutcome, SendReport, Sender};
pub use crate::types::{
    ConnectorData, DeliveryChat, DeliveryIm, DeliveryItem, DeliveryMessage, DisabledIcon, Icon,
    MessageBody, MessageChat, MessageFile, MessageIn, MessagePicture, MessageUser,
};
pub use crate::wire::{ConnectorId, LineId, Secret};
pub use crate::{
    provision, teardown, ApiError, Client, ConnectorSetup, ErrorCode, EventsUrl, OAuthApp,
    Provisioned, RateLimit, RetryPolicy, SettingsUrl, Tokens, WorkflowError,
};

#[cfg(feature = "server")]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub use crate::install::{AppUrls, Installer};
#[cfg(feature = "server")]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub use crate::receiver::{
    ApplicationTokens, DeliveryReport, EventHandler, EventReceiver, HandlerError, PortalClients,
    SentMessages, SingleToken, TokenMap,
};
