//! `use imconnector::prelude::*;`: the client, every request, the types they take, the events,
//! the errors and the workflows.
//!
//! Left out because their names are too general to glob-import: the shared types of
//! [`types`](crate::types) other than the ones requests are built from (use them by path), and
//! `types::EventHandler` (an `event.get` row), which the receiver's
//! `receiver::EventHandler` trait would shadow.

pub use crate::events::{
    DialogFinishEvent, DialogStartEvent, Event, LineDeleteEvent, MessageAddEvent,
    MessageDeleteEvent, MessageUpdateEvent, StatusDeleteEvent, UnknownEvent,
};
pub use crate::methods::*;
pub use crate::placement::{apply_settings, AppliedSettings, PlacementOptions, SettingsPlacement};
pub use crate::portals::{PortalRecord, PortalRegistry};
pub use crate::sender::{Delivery, Outcome, Sender};
pub use crate::types::{
    ConnectorData, DeliveryChat, DeliveryIm, DeliveryItem, DeliveryMessage, DisabledIcon, Icon,
    LineListOptions, LineListParams, MessageBody, MessageChat, MessageFile, MessageIn,
    MessagePicture, MessageUser,
};
pub use crate::wire::{ConnectorId, LineId, Secret};
pub use crate::{
    provision, teardown, ApiError, Client, ConnectorSetup, Error, ErrorCode, OAuthApp, Provisioned,
    RateLimit, RetryPolicy, Tokens, WorkflowError,
};

#[cfg(feature = "server")]
pub use crate::receiver::{
    ApplicationTokens, DeliveryReport, EventHandler, EventReceiver, HandlerError, PortalClients,
    SentMessages, SingleToken, TokenMap,
};
