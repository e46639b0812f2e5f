//! `use imconnector::prelude::*;`: what a connector needs, every request included.
//!
//! Requests are named by action and noun (`RegisterConnector`, `GetConnectorStatus`,
//! `ListLineConfigs`, `BindEvent`, ...), so all of them are here without shadowing your own
//! types; each keeps its wire name as [`Method::NAME`](crate::transport::Method::NAME). The
//! client's error is [`imconnector::Error`](crate::Error), by path, since a bare `Error` would
//! clash with yours. Shared types beyond the ones requests are built from are under
//! [`types`](crate::types).

pub use crate::events::{
    DialogFinishEvent, DialogStartEvent, Event, LineDeleteEvent, MessageAddEvent,
    MessageDeleteEvent, MessageUpdateEvent, OfflineQueueChangeEvent, StatusDeleteEvent,
    UnknownEvent,
};
pub use crate::ids::{ConnectorId, EventsUrl, LineId, SettingsUrl};
pub use crate::methods;
pub use crate::methods::{
    ActivateConnector, BindEvent, ClearOfflineEvents, DeleteMessages, GetConnectorStatus,
    GetLineConfig, GetOfflineEvents, ListConnectors, ListEventBindings, ListLineConfigs,
    ListOfflineEvents, MarkOfflineEventsFailed, RegisterConnector, SendMessages,
    SendStatusDelivery, SendStatusReading, SetChatName, SetConnectorData, SetConnectorError,
    UnbindEvent, UnregisterConnector, UpdateMessages,
};
pub use crate::placement::{apply_settings, AppliedSettings, PlacementOptions, SettingsPlacement};
pub use crate::portals::{FilePortalStore, PortalRecord, PortalRegistry};
pub use crate::sender::{SendOutcome, SendReport, Sender};
pub use crate::types::{
    ConnectorData, DeliveryChat, DeliveryIm, DeliveryItem, DeliveryMessage, DisabledIcon, Icon,
    MessageBody, MessageChat, MessageFile, MessageIn, MessagePicture, MessageUser,
};
pub use crate::{
    provision, teardown, ApiError, Client, ConnectorSetup, ErrorCode, EventDelivery, ExposeSecret,
    FileTokenStore, MemberId, OAuthApp, Provisioned, RateLimit, RetryPolicy, SecretString,
    TokenStore, Tokens, WorkflowError,
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
