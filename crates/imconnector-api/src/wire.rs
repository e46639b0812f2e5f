//! Hand-written helpers for the shapes the real server produces.
//!
//! The spec (`spec/README.md`, "Wire helpers") names these types; the generated requests,
//! responses and events use them, and the generator never invents a special case of its own.
//!
//! - Identifiers you build: [`ConnectorId`], [`LineId`] (checked when built).
//! - Flags as PHP reads them: [`ActiveFlag`] (`1`/`0`), [`YesNo`] (`Y`/`N`).
//! - Values the server sends loosely: [`Id`], [`SuccessFlag`], [`EmptyObject`], [`ListOrMap`], [`MapOrEmptyList`], [`FalseOr`], [`NestedResult`].
//! - [`DataImageUri`] for connector icons; tokens are `secrecy::SecretString`, compared with
//!   [`secrets_equal`].
//! - [`checks`]: the named request checks the spec's `validate` lists refer to.

pub mod checks;
mod decode;
mod fields;
mod flags;
mod ids;
mod secret;
mod shapes;
mod urls;
mod validate;

pub use decode::{decode, WireDecode};
pub(crate) use fields::Fields;
pub use flags::{ActiveFlag, SuccessFlag, YesNo};
pub use ids::{ConnectorId, DataImageUri, Id, LineId};
pub(crate) use secrecy::SecretString;
pub use secret::{optional_secrets_equal, secrets_equal};
pub use shapes::{EmptyObject, FalseOr, ListOrMap, MapOrEmptyList, NestedResult};
pub use urls::{EventsUrl, SettingsUrl};
pub use validate::{join_path, SoftErrorSource, Validate};
