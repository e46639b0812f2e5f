//! Identifiers and URLs you build or read: checked when built, so a request never carries one
//! the portal would refuse or mangle.
//!
//! - [`ConnectorId`], [`LineId`]: the connector and the open line every connector method names.
//! - [`SettingsUrl`], [`EventsUrl`]: the settings page (`PLACEMENT_HANDLER`) and the event
//!   handler (`handler` of `event.bind`), distinct so they cannot be swapped.
//! - [`Id`]: an id the server sends as a string or a number, kept as text.
//! - [`DataImageUri`]: a connector icon (`data:image/...`).

pub use crate::wire::{ConnectorId, DataImageUri, EventsUrl, Id, LineId, SettingsUrl};
