//! The fake Bitrix24 portal (feature `emulator`): test your connector against it.
//!
//! Everything of [`imconnector_emulator`] (its `Tokens` and `RateLimit` as [`EmulatorTokens`]
//! and [`EmulatorRateLimit`], beside the client's own), plus [`client_builder`]: a client of the emulated
//! portal in one line, with its installed application and current tokens.
//!
//! ```
//! use imconnector::emulator::{client_builder, Emulator};
//! use imconnector::prelude::*;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let portal = Emulator::start().await?;
//! let client = client_builder(&portal).build()?;
//! let lines = client.call(&methods::ListLineConfigs::new()).await?;
//! assert_eq!(lines.len(), 1);
//! portal.shutdown().await;
//! # Ok(()) }
//! ```

// Listed rather than glob-imported: the emulator's `Tokens` and `RateLimit` are not the
// transport's (re-exported at the crate root), so they take names of their own here.
/// The emulated portal's request limit (`imconnector_emulator::RateLimit`), not the client's
/// pacing ([`crate::RateLimit`]).
pub use imconnector_emulator::RateLimit as EmulatorRateLimit;
/// The token pair the emulator issued to the installing admin
/// (`imconnector_emulator::Tokens`), not the client's ([`crate::Tokens`]).
pub use imconnector_emulator::Tokens as EmulatorTokens;
pub use imconnector_emulator::{
    AppCredentials, AppSetup, ChatInfo, ConnectorFlags, ConnectorInfo, ControlError, Counters,
    DeliveryKind, DeliveryOutcome, DeliveryRecord, Direction, Emulator, EmulatorBuilder,
    EmulatorHandle, EventDelivery, FaultCounters, Faults, InstallPost, InstallState, InstallStatus,
    LineInfo, LineStatus, MessageInfo, OAuthFaults, OfflineEventInfo, OperatingLimit,
    OperatorMessage, PortalUser, SessionInfo, SettingsPostShape, SoftErrorShape, StartError,
    TokenRequestHold,
};

use imconnector_transport::secrecy::ExposeSecret as _;
use imconnector_transport::{ClientBuilder, OAuthApp, Tokens as TokenPair};

/// A [`ClientBuilder`] for `portal`: its REST and OAuth URLs, its installed application and a
/// fresh token pair of the admin who installed it. Add your own settings (rate limit, retries)
/// before `build()`.
///
/// The pair carries no expiry: the emulator's clock may run faster than yours or be advanced by
/// a test, so the client learns of expiry as from a real portal, by `expired_token`, and
/// refreshes then.
pub fn client_builder(portal: &EmulatorHandle) -> ClientBuilder {
    let app = portal.app();
    let tokens = portal.tokens();
    imconnector_transport::Client::builder()
        .oauth(
            OAuthApp::new(app.client_id, app.client_secret.expose_secret()),
            TokenPair::new(
                tokens.access_token.expose_secret(),
                tokens.refresh_token.expose_secret(),
            ),
        )
        .portal(portal.rest_url())
        .oauth_server(portal.oauth_url())
}
