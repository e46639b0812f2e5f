#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod authorize;
mod builder;
mod clock;
mod config;
mod control;
mod delivery;
mod envelope;
mod error;
mod faults;
mod install;
mod limits;
mod oauth;
mod params;
mod php;
mod rest;
mod server;
mod snapshot;
mod startup;
mod state;
#[cfg(feature = "tls")]
mod tls;

use std::net::SocketAddr;
use std::ops::Deref;
use std::path::{Path, PathBuf};

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use builder::{EmulatorBuilder, StartError};
pub use config::{
    Faults, OAuthFaults, OperatingLimit, RateLimit, SettingsPostShape, SoftErrorShape,
};
pub use control::EmulatorHandle;
pub use error::{ControlError, OperatorMessage};
pub use install::{AppSetup, InstallPost, InstallState, InstallStatus};
pub use secrecy::{ExposeSecret, SecretString};
pub use snapshot::{
    AppCredentials, ChatInfo, ConnectorFlags, ConnectorInfo, Counters, DeliveryKind,
    DeliveryOutcome, DeliveryRecord, Direction, EventDelivery, FaultCounters, LineInfo, LineStatus,
    MessageInfo, OfflineEventInfo, PortalUser, SessionInfo, Tokens,
};
pub use state::token_hold::TokenRequestHold;

/// A running emulated portal. Dereferences to its [`EmulatorHandle`], which carries every
/// control and inspection method; clone the handle to share it with other tasks.
///
/// Dropping the emulator stops accepting connections; [`Emulator::shutdown`] also waits for
/// in-flight requests.
#[derive(Debug)]
pub struct Emulator {
    handle: EmulatorHandle,
    address: SocketAddr,
    shutdown: watch::Sender<bool>,
    server: Option<JoinHandle<()>>,
    tls_ca: Option<TlsCa>,
}

/// What HTTPS clients should trust, and where it was written.
#[derive(Debug)]
struct TlsCa {
    pem: String,
    path: PathBuf,
    /// The file was made in the temporary directory by the emulator (removed on drop).
    remove_on_drop: bool,
}

impl Emulator {
    /// Starts configuring an emulator.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }

    /// Starts an emulator with the defaults: one open line (id 1), no limits, no faults,
    /// 127.0.0.1 on a free port.
    ///
    /// # Errors
    /// See [`EmulatorBuilder::start`].
    pub async fn start() -> Result<Self, StartError> {
        Self::builder().start().await
    }

    /// A cloneable handle for other tasks.
    pub fn handle(&self) -> EmulatorHandle {
        self.handle.clone()
    }

    /// The bound socket address.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// With HTTPS on: the PEM a client should trust (the generated CA, or the certificate
    /// file given to [`EmulatorBuilder::tls_files`]). `None` over plain HTTP.
    pub fn tls_ca_pem(&self) -> Option<&str> {
        self.tls_ca.as_ref().map(|ca| ca.pem.as_str())
    }

    /// With HTTPS on: the file holding [`tls_ca_pem`](Self::tls_ca_pem), for
    /// `REQUESTS_CA_BUNDLE`, `NODE_EXTRA_CA_CERTS` or `SSL_CERT_FILE`.
    pub fn tls_ca_file(&self) -> Option<&Path> {
        self.tls_ca.as_ref().map(|ca| ca.path.as_path())
    }

    /// Stops accepting connections and waits (up to five seconds) for in-flight requests.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl Deref for Emulator {
    type Target = EmulatorHandle;

    fn deref(&self) -> &EmulatorHandle {
        &self.handle
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(ca) = self.tls_ca.as_ref().filter(|ca| ca.remove_on_drop) {
            let _ = std::fs::remove_file(&ca.path);
        }
    }
}
