//! The generator's golden output (`xtask/tests/golden/expected/`, rendered from the golden spec
//! by `xtask/tests/codegen.rs`) compiled, and its generated example tests run, so a generator
//! change that renders code which does not compile fails a test, not only a text comparison.
//!
//! The generated code names the API crate's hand-written support by absolute paths
//! (`crate::wire::…`, `crate::transport`, `crate::event_decode`, `crate::test_support`), so this
//! crate stands where the API crate's root stands: it includes those files of
//! `crates/imconnector-api/src/` by path and the golden files in place of the real ones.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub use imconnector_transport as transport;

#[path = "../../../crates/imconnector-api/src/event_decode.rs"]
mod event_decode;
#[path = "../../../crates/imconnector-api/src/soft_errors.rs"]
pub mod soft_errors;
// The golden method reads its answer with a soft-error reader, so no golden test asks for the
// round trip of a response that keeps the wire's layout.
#[cfg(test)]
#[allow(dead_code)]
#[path = "../../../crates/imconnector-api/src/test_support.rs"]
mod test_support;

/// The API crate's wire helpers (`crates/imconnector-api/src/wire.rs`, which this module
/// repeats), except its named checks: those read the real requests' types.
// Public here (private in the API crate) so what the golden output leaves unused is not dead.
#[path = "../../../crates/imconnector-api/src/wire"]
pub mod wire {
    mod decode;
    mod fields;
    mod flags;
    mod ids;
    // The golden method uses one of the readers.
    #[allow(dead_code)]
    pub(crate) mod responses;
    mod secret;
    mod urls;
    mod validate;

    pub use decode::{decode, WireDecode};
    pub(crate) use fields::{Fields, FromFields};
    pub use flags::{ActiveFlag, YesNo};
    pub use ids::{ConnectorId, DataImageUri, Id, LineId};
    pub(crate) use secrecy::SecretString;
    pub use secret::{optional_secrets_equal, secrets_equal};
    pub use urls::{EventsUrl, SettingsUrl};
    pub use validate::{join_path, Validate};

    /// The named check the golden spec's `validate` lists, for the golden request.
    pub mod checks {
        use crate::{methods::WidgetSet, transport::InvalidRequest};

        /// `MESSAGES` holds at least one widget (as the API crate's check of the same name).
        ///
        /// # Errors
        /// [`InvalidRequest`] for `MESSAGES`.
        pub fn messages_not_empty(request: &WidgetSet) -> Result<(), InvalidRequest> {
            if request.messages().is_empty() {
                return Err(InvalidRequest::new("MESSAGES", "no message to send"));
            }
            Ok(())
        }
    }
}

// Formatted by prettyplease, as the generator wrote it.
#[rustfmt::skip]
#[path = "../../tests/golden/expected/mod.rs"]
mod generated;

pub use generated::{events, methods, types};
