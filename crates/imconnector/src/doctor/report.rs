//! What the doctor found: typed findings, each with what was seen and the fix in words.

use std::fmt;

use imconnector_api::ids::LineId;

/// What kind of problem a [`Finding`] is, with the data the fix needs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FindingKind {
    /// `app.info` says `INSTALLED: false`: the installation was never finished
    /// (`BX24.installFinish()`), and the portal sends the app no event until it is.
    InstallationNotFinished,
    /// `app.info` says `PAYMENT_EXPIRED: Y`: the paid or trial period is over.
    PaymentExpired,
    /// The app lacks a scope it needs (`scope`); calls of its methods answer
    /// `insufficient_scope`.
    MissingScope {
        /// The scope, e.g. `imconnector`.
        scope: String,
    },
    /// The portal does not know a method the SDK needs (`methods` with `full=true`): an
    /// on-premise portal whose modules lag the cloud.
    MethodNotOnPortal {
        /// The method, e.g. `imconnector.chat.name.set`.
        method: String,
    },
    /// The portal knows a method the SDK needs but the app may not call it (`methods`), though
    /// every needed scope is granted.
    MethodNotGranted {
        /// The method.
        method: String,
    },
    /// A connector event is not bound by this app to the handler URL (nor offline), so the
    /// app never hears of it (never bound, unbound, or removed by an app update).
    EventNotBound {
        /// The event, as `event.bind` takes it (`OnImConnectorMessageAdd`, ...).
        event: String,
    },
    /// Another app bound a connector event to the handler URL: the portal drops connector
    /// events bound by any app other than the one that registered the connector.
    EventBoundByAnotherApp {
        /// The event, as the other app's `event.get` lists it.
        event: String,
        /// The label the other app was given in [`Doctor::other_app`](super::Doctor::other_app).
        app: String,
    },
    /// `imconnector.list` does not list the connector.
    ConnectorNotRegistered,
    /// `imopenlines.config.list.get` does not list the line.
    LineNotFound {
        /// The line.
        line: LineId,
    },
    /// The connector is not working on the line (`imconnector.status` `CONFIGURED: false`:
    /// not activated or not connected).
    ConnectorInactive {
        /// The line.
        line: LineId,
    },
    /// The connector is marked broken on the line (`imconnector.status` `ERROR: true`, set by
    /// `imconnector.set.error`).
    ConnectorError {
        /// The line.
        line: LineId,
    },
    /// Another connector is active on the same line.
    OtherConnectorActive {
        /// The line.
        line: LineId,
        /// The other connector's id, as `imconnector.list` lists it.
        connector: String,
    },
    /// A check could not be made: the portal refused its call (the finding's `seen` says how).
    CheckFailed {
        /// The REST method that failed.
        method: String,
    },
}

impl FindingKind {
    /// Whether [`Doctor::fix`](super::Doctor::fix) repairs this kind of finding.
    /// [`OtherConnectorActive`](Self::OtherConnectorActive) only with
    /// [`Doctor::deactivate_other_connectors`](super::Doctor::deactivate_other_connectors).
    pub fn is_fixable(&self, deactivate_other_connectors: bool) -> bool {
        match self {
            FindingKind::EventNotBound { .. }
            | FindingKind::EventBoundByAnotherApp { .. }
            | FindingKind::ConnectorNotRegistered
            | FindingKind::ConnectorInactive { .. }
            | FindingKind::ConnectorError { .. } => true,
            FindingKind::OtherConnectorActive { .. } => deactivate_other_connectors,
            _ => false,
        }
    }

    /// The line the finding is about, if it is about one.
    pub fn line(&self) -> Option<LineId> {
        match self {
            FindingKind::LineNotFound { line }
            | FindingKind::ConnectorInactive { line }
            | FindingKind::ConnectorError { line }
            | FindingKind::OtherConnectorActive { line, .. } => Some(*line),
            _ => None,
        }
    }
}

impl fmt::Display for FindingKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FindingKind::InstallationNotFinished => write!(formatter, "installation not finished"),
            FindingKind::PaymentExpired => write!(formatter, "payment expired"),
            FindingKind::MissingScope { scope } => write!(formatter, "missing scope `{scope}`"),
            FindingKind::MethodNotOnPortal { method } => {
                write!(formatter, "method `{method}` unknown to the portal")
            }
            FindingKind::MethodNotGranted { method } => {
                write!(formatter, "method `{method}` not granted")
            }
            FindingKind::EventNotBound { event } => write!(formatter, "`{event}` not bound"),
            FindingKind::EventBoundByAnotherApp { event, app } => {
                write!(formatter, "`{event}` bound by another app ({app})")
            }
            FindingKind::ConnectorNotRegistered => write!(formatter, "connector not registered"),
            FindingKind::LineNotFound { line } => write!(formatter, "line {line} not found"),
            FindingKind::ConnectorInactive { line } => {
                write!(formatter, "connector inactive on line {line}")
            }
            FindingKind::ConnectorError { line } => {
                write!(formatter, "connector marked broken on line {line}")
            }
            FindingKind::OtherConnectorActive { line, connector } => {
                write!(formatter, "`{connector}` also active on line {line}")
            }
            FindingKind::CheckFailed { method } => write!(formatter, "`{method}` failed"),
        }
    }
}

/// One problem: its kind, what the doctor saw, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Finding {
    /// What kind of problem it is.
    pub kind: FindingKind,
    /// What the doctor saw, in words (method and values).
    pub seen: String,
    /// How to fix it, in words.
    pub fix: String,
    /// Whether [`Doctor::fix`](super::Doctor::fix) repairs it.
    pub fixable: bool,
}

/// The app as `app.info` describes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct AppInfo {
    /// `CODE`: the app's code (its client id for a local app).
    pub code: Option<String>,
    /// `VERSION`: the installed version.
    pub version: Option<String>,
    /// `STATUS`: `F` free, `D` demo, `T` trial, `P` paid, `L` local, `S` subscription.
    pub status: Option<String>,
    /// `INSTALLED`: whether the installation was finished.
    pub installed: bool,
    /// `PAYMENT_EXPIRED`: whether the paid or trial period is over.
    pub payment_expired: bool,
    /// `DAYS`: days left of the paid or trial period, if the portal says.
    pub days: Option<i64>,
    /// `LICENSE`: the portal's plan with its region (`en_ent250`).
    pub license: Option<String>,
    /// `LICENSE_FAMILY`: the plan's family (`ent`, `pro`, ...).
    pub license_family: Option<String>,
}

/// Everything one [`Doctor::examine`](super::Doctor::examine) run found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct DoctorReport {
    /// `app.info`, when it answered.
    pub app: Option<AppInfo>,
    /// The scopes the app holds (`scope`), when it answered.
    pub scopes: Option<Vec<String>>,
    /// The problems, in the order they were checked.
    pub findings: Vec<Finding>,
}

impl DoctorReport {
    /// No problem found.
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }

    /// The kinds of the findings, in order (handy to compare in tests).
    pub fn kinds(&self) -> Vec<FindingKind> {
        self.findings
            .iter()
            .map(|finding| finding.kind.clone())
            .collect()
    }
}

impl fmt::Display for DoctorReport {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(app) = &self.app {
            writeln!(
                formatter,
                "app {} version {} status {} installed {} licence {} payment expired {}",
                app.code.as_deref().unwrap_or("?"),
                app.version.as_deref().unwrap_or("?"),
                app.status.as_deref().unwrap_or("?"),
                app.installed,
                app.license.as_deref().unwrap_or("?"),
                app.payment_expired,
            )?;
        }
        if let Some(scopes) = &self.scopes {
            writeln!(formatter, "scopes: {}", scopes.join(","))?;
        }
        if self.findings.is_empty() {
            return writeln!(formatter, "no problem found");
        }
        writeln!(formatter, "{} problem(s):", self.findings.len())?;
        for finding in &self.findings {
            let how = if finding.fixable {
                "fix (automatic)"
            } else {
                "fix"
            };
            writeln!(formatter, "- {}", finding.kind)?;
            writeln!(formatter, "    seen: {}", finding.seen)?;
            writeln!(formatter, "    {how}: {}", finding.fix)?;
        }
        Ok(())
    }
}
