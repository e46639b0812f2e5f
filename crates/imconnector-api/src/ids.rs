//! Identifiers and URLs you build or read: checked when built, so a request never carries one
//! the portal would refuse or mangle.
//!
//! - [`ConnectorId`], [`LineId`]: the connector and the open line every connector method names.
//! - [`SettingsUrl`], [`EventsUrl`]: the settings page (`PLACEMENT_HANDLER`) and the event
//!   handler (`handler` of `event.bind`), distinct so they cannot be swapped.
//! - Your messenger's ids, text: [`ExternalChatId`], [`ExternalUserId`], [`ExternalMessageId`].
//! - Bitrix24's ids, integers: [`BitrixChatId`], [`BitrixMessageId`], [`BitrixUserId`],
//!   [`SessionId`], [`BitrixFileId`]; the portal's [`MemberId`]. One type per kind, so one
//!   cannot be passed where another is meant; each reads a JSON string or number.
//! - [`SourceKey`]: the source key of offline events (`auth_connector`).
//! - [`Id`]: another id the server sends as a string or a number (an event handler's), kept
//!   as text.
//! - [`DataImageUri`]: a connector icon (`data:image/...`).

pub use crate::wire::{
    BitrixChatId, BitrixFileId, BitrixMessageId, BitrixUserId, ConnectorId, DataImageUri,
    EventsUrl, ExternalChatId, ExternalMessageId, ExternalUserId, Id, LineId, MemberId, SessionId,
    SettingsUrl, SourceKey,
};
