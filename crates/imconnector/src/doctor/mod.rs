//! The doctor: why does a connector not work? Checks a portal with the app's own tokens and
//! says what is wrong and how to fix it; [`Doctor::fix`] repairs what it can.
//!
//! What connector authors meet most is a connector that silently stops: events bound by
//! another app than the one that registered the connector (the portal drops them), an
//! installation never finished, the connector inactive on its line or another one active
//! there, bindings removed by an app update, a scope or a method missing on an on-premise
//! portal. [`Doctor::examine`] checks, in order: `app.info` (`INSTALLED`, `STATUS`, licence,
//! `PAYMENT_EXPIRED`), `scope` and `methods` (the scopes and methods the SDK needs), `event.get`
//! (each of the setup's events bound by this app to its handler URL, or offline), the same for
//! each [other app](Doctor::other_app) you hold tokens of, `imconnector.list`,
//! `imopenlines.config.list.get`, and per line `imconnector.status` of the connector and of
//! every other listed connector.
//!
//! Not checked: duplicate settings placements (`SETTING_CONNECTOR`), which no REST method
//! lists for the app.
//!
//! ```no_run
//! use imconnector::doctor::Doctor;
//! use imconnector::prelude::*;
//!
//! # async fn run(client: Client, setup: ConnectorSetup) -> Result<(), Box<dyn std::error::Error>> {
//! let doctor = Doctor::new(client, setup, LineId::new(1)?);
//! let report = doctor.examine().await?;
//! print!("{report}");
//! if !report.is_clean() {
//!     let fixed = doctor.fix(&report).await?;
//!     println!("{} repair(s) made", fixed.applied.len());
//!     assert!(doctor.examine().await?.findings.iter().all(|finding| !finding.fixable));
//! }
//! # Ok(()) }
//! ```

mod basic;
mod examine;
mod fix;
mod report;

use imconnector_api::ids::LineId;
use imconnector_transport::Client;

use crate::ConnectorSetup;

pub use fix::FixReport;
pub use report::{AppInfo, DoctorReport, Finding, FindingKind};

/// The scopes a connector needs unless [`Doctor::required_scopes`] says otherwise.
pub const REQUIRED_SCOPES: [&str; 2] = ["imopenlines", "imconnector"];

/// Checks a connector on a portal and repairs what it can. Built from the app's client, the
/// connector's setup (as given to [`provision`](crate::provision)) and the lines it should
/// work on.
#[derive(Debug, Clone)]
#[must_use]
pub struct Doctor {
    client: Client,
    setup: ConnectorSetup,
    lines: Vec<LineId>,
    other_apps: Vec<OtherApp>,
    required_scopes: Vec<String>,
    deactivate_other_connectors: bool,
}

/// Another app on the same portal whose bindings are checked.
#[derive(Debug, Clone)]
struct OtherApp {
    label: String,
    client: Client,
}

impl Doctor {
    /// A doctor for `setup` on `line`, calling with `client` (the app that registers the
    /// connector and serves its events).
    pub fn new(client: Client, setup: ConnectorSetup, line: LineId) -> Self {
        Self {
            client,
            setup,
            lines: vec![line],
            other_apps: Vec::new(),
            required_scopes: REQUIRED_SCOPES
                .iter()
                .map(|&scope| scope.to_owned())
                .collect(),
            deactivate_other_connectors: false,
        }
    }

    /// One more line the connector should work on.
    pub fn line(mut self, line: LineId) -> Self {
        if !self.lines.contains(&line) {
            self.lines.push(line);
        }
        self
    }

    /// Another app on the portal you hold tokens of (an older version of yours, a helper app):
    /// connector events it bound to the handler URL are reported as
    /// [`FindingKind::EventBoundByAnotherApp`], and [`fix`](Self::fix) unbinds them with its
    /// client. `label` names it in the report.
    pub fn other_app(mut self, label: impl Into<String>, client: Client) -> Self {
        self.other_apps.push(OtherApp {
            label: label.into(),
            client,
        });
        self
    }

    /// Replaces the scopes the app must hold (default [`REQUIRED_SCOPES`]).
    pub fn required_scopes(mut self, scopes: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.required_scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Lets [`fix`](Self::fix) deactivate other connectors active on the connector's lines
    /// (off by default: they may be channels someone still uses).
    pub fn deactivate_other_connectors(mut self, deactivate: bool) -> Self {
        self.deactivate_other_connectors = deactivate;
        self
    }

    /// The lines checked.
    pub fn lines(&self) -> &[LineId] {
        &self.lines
    }
}
