//! The error of the connector workflows (provisioning, teardown, the settings page helper).

use imconnector_api::types::ConnectorStatus;

/// Which step of a workflow failed, named after the REST method it calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Step {
    /// `imconnector.register`.
    Register,
    /// `imconnector.activate` with `ACTIVE=1`.
    Activate,
    /// `imconnector.activate` with `ACTIVE=0`.
    Deactivate,
    /// `imconnector.connector.data.set`.
    SetData,
    /// `event.get`.
    ListBindings,
    /// `event.bind`.
    Bind,
    /// `event.unbind`.
    Unbind,
    /// `imconnector.status`.
    Status,
    /// `imconnector.unregister`.
    Unregister,
}

impl Step {
    /// The REST method the step calls.
    pub fn method(self) -> &'static str {
        match self {
            Step::Register => "imconnector.register",
            Step::Activate | Step::Deactivate => "imconnector.activate",
            Step::SetData => "imconnector.connector.data.set",
            Step::ListBindings => "event.get",
            Step::Bind => "event.bind",
            Step::Unbind => "event.unbind",
            Step::Status => "imconnector.status",
            Step::Unregister => "imconnector.unregister",
        }
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self {
            Step::Deactivate => "imconnector.activate (ACTIVE=0)",
            other => other.method(),
        };
        formatter.write_str(what)
    }
}

/// Why a connector workflow stopped.
///
/// Every workflow of this crate is safe to run again after an error: the steps already done
/// are found done and left alone.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkflowError {
    /// The setup is malformed (a parameter named in the error); nothing was sent.
    #[error(transparent)]
    InvalidSetup(imconnector_transport::InvalidRequest),
    /// A REST call failed (the step names it; the transport error says how).
    #[error("{step} failed: {source}")]
    Call {
        /// The step that failed.
        step: Step,
        /// The transport's error.
        #[source]
        source: imconnector_transport::Error,
    },
    /// Every step succeeded but `imconnector.status` does not report the connector as working
    /// on the line (`STATUS` false).
    #[error(
        "connector `{connector}` is not working on line {line} after provisioning: \
         STATUS=false (CONFIGURED={configured}, ERROR={error})"
    )]
    NotReady {
        /// The connector id as the portal reports it.
        connector: imconnector_api::ids::ConnectorId,
        /// The line.
        line: imconnector_api::ids::LineId,
        /// `CONFIGURED` (active, connected and registered on the line).
        configured: bool,
        /// `ERROR` (set by `imconnector.set.error`; cleared by activating again).
        error: bool,
    },
}

/// A malformed id or URL built inside a workflow (`ConnectorId::new`, `LineId::new`,
/// `SettingsUrl::parse`, ...), so `?` works on them in a function returning `WorkflowError`.
///
/// ```
/// use imconnector::prelude::*;
///
/// fn ids() -> Result<(ConnectorId, LineId, SettingsUrl), WorkflowError> {
///     Ok((ConnectorId::new("acme_chat")?, LineId::new(1)?, "https://a.example/s".parse()?))
/// }
/// assert!(ids().is_ok());
/// fn bad() -> Result<ConnectorId, WorkflowError> {
///     Ok(ConnectorId::new("acme.chat")?)
/// }
/// assert!(matches!(bad(), Err(WorkflowError::InvalidSetup(error)) if error.parameter == "CONNECTOR"));
/// ```
impl From<imconnector_transport::InvalidRequest> for WorkflowError {
    fn from(error: imconnector_transport::InvalidRequest) -> Self {
        WorkflowError::InvalidSetup(error)
    }
}

impl WorkflowError {
    pub(crate) fn call(step: Step) -> impl FnOnce(imconnector_transport::Error) -> WorkflowError {
        move |source| WorkflowError::Call { step, source }
    }

    pub(crate) fn not_ready(
        status: &ConnectorStatus,
        line: imconnector_api::ids::LineId,
    ) -> WorkflowError {
        WorkflowError::NotReady {
            connector: status.connector.clone(),
            line,
            configured: status.configured,
            error: status.error,
        }
    }

    /// The step whose call failed, if a call failed.
    pub fn step(&self) -> Option<Step> {
        match self {
            WorkflowError::Call { step, .. } => Some(*step),
            _ => None,
        }
    }

    /// The transport's error, if a call failed.
    pub fn transport_error(&self) -> Option<&imconnector_transport::Error> {
        match self {
            WorkflowError::Call { source, .. } => Some(source),
            _ => None,
        }
    }
}
