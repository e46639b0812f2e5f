//! Hand-written helpers for the shapes the real server produces, private to the crate: the
//! public types say what a value means, these absorb how the portal spells it.
//!
//! The spec (`spec/README.md`, "Wire helpers") names these types; the generated requests,
//! responses and events use them, and the generator never invents a special case of its own.
//!
//! - Identifiers (public in [`crate::ids`]): `ConnectorId`, `LineId` (checked when built),
//!   `Id`, `DataImageUri`, `SettingsUrl`, `EventsUrl`.
//! - Flags as PHP reads them: [`ActiveFlag`] (`1`/`0`), [`YesNo`] (`Y`/`N`).
//! - [`WireDecode`]: the one decoder of every response and event type, lenient as the server
//!   is loose ("Y", "1", numbers in strings, `false` for none, `[]` for `{}`).
//!   Generated structs implement [`FromFields`], which gives them theirs: fields taken from a
//!   `Value`, or straight from JSON text (no object `Value` built for a typed call's `result`).
//! - [`responses`]: the readers of a method's `result` (soft errors, `result.result`).
//! - [`checks`]: the named request checks the spec's `validate` lists refer to.
//! - Tokens are `secrecy::SecretString`, compared with [`secrets_equal`].

pub(crate) mod checks;
mod decode;
mod fields;
mod flags;
mod ids;
pub(crate) mod responses;
mod secret;
mod typed_ids;
mod urls;
mod validate;

pub use crate::transport::MemberId;
pub(crate) use decode::{decode, WireDecode};
pub(crate) use fields::{Fields, FromFields};
pub(crate) use flags::{ActiveFlag, YesNo};
pub use ids::{ConnectorId, DataImageUri, Id, LineId};
pub(crate) use secrecy::SecretString;
pub(crate) use secret::{optional_secrets_equal, secrets_equal};
pub use typed_ids::{
    BitrixChatId, BitrixFileId, BitrixMessageId, BitrixUserId, ExternalChatId, ExternalMessageId,
    ExternalUserId, SessionId, SourceKey,
};
pub use urls::{EventsUrl, SettingsUrl};
pub(crate) use validate::{join_path, Validate};
