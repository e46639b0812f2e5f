//! [`Doctor::fix`]: repairs what a report found, with the existing provisioning.

use imconnector_api::ids::{ConnectorId, LineId};
use imconnector_api::methods::{ActivateConnector, UnbindEvent};

use super::report::{DoctorReport, Finding, FindingKind};
use super::Doctor;
use crate::error::{Step, WorkflowError};
use crate::provision::provision;

/// What [`Doctor::fix`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct FixReport {
    /// The repairs made, in words, in order.
    pub applied: Vec<String>,
    /// The findings left for a person (not fixable by the doctor).
    pub left: Vec<Finding>,
}

impl Doctor {
    /// Repairs what `report` (from [`examine`](Self::examine)) found and can be repaired:
    /// unbinds connector events other apps bound to the handler URL, provisions the connector
    /// with the app's tokens on each line that needs it (register, activate, channel data,
    /// bind the missing events: see [`provision`](crate::provision)), and, when
    /// [allowed](Self::deactivate_other_connectors), deactivates other connectors active on
    /// the lines. While a scope is missing nothing is provisioned (it would be refused): those
    /// findings are returned in [`FixReport::left`] with the ones only a person can fix. Run
    /// [`examine`](Self::examine) again to see the result.
    ///
    /// # Errors
    /// [`WorkflowError`] naming the failed step; the repairs before it stay made, and running
    /// the doctor again picks up from there.
    pub async fn fix(&self, report: &DoctorReport) -> Result<FixReport, WorkflowError> {
        let mut fixed = FixReport::default();
        // Without its scopes the app cannot register or activate: provisioning would only
        // fail, so what it would repair is left for after the scope is granted.
        let scope_missing = report
            .findings
            .iter()
            .any(|finding| matches!(finding.kind, FindingKind::MissingScope { .. }));
        for finding in &report.findings {
            if !finding.fixable || (scope_missing && needs_provision(&finding.kind)) {
                fixed.left.push(finding.clone());
            }
        }
        self.unbind_from_other_apps(report, &mut fixed).await?;
        let lines = if scope_missing {
            Vec::new()
        } else {
            self.lines_to_provision(report)
        };
        for line in lines {
            let provisioned = provision(&self.client, &self.setup, line).await?;
            fixed.applied.push(format!(
                "provisioned `{}` on line {line} ({} event(s) bound)",
                self.setup.id(),
                provisioned.newly_bound.len()
            ));
        }
        if self.deactivate_other_connectors {
            for finding in &report.findings {
                if let FindingKind::OtherConnectorActive { line, connector } = &finding.kind {
                    self.deactivate(connector, *line).await?;
                    fixed
                        .applied
                        .push(format!("deactivated `{connector}` on line {line}"));
                }
            }
        }
        Ok(fixed)
    }

    async fn unbind_from_other_apps(
        &self,
        report: &DoctorReport,
        fixed: &mut FixReport,
    ) -> Result<(), WorkflowError> {
        for finding in &report.findings {
            let FindingKind::EventBoundByAnotherApp { event, app } = &finding.kind else {
                continue;
            };
            let Some(other) = self.other_apps.iter().find(|other| &other.label == app) else {
                continue;
            };
            let unbound = other
                .client
                .call(&UnbindEvent::new(
                    event.clone(),
                    self.setup.event_handler().clone(),
                ))
                .await
                .map_err(WorkflowError::call(Step::Unbind))?;
            fixed.applied.push(format!(
                "unbound `{event}` from the app `{app}` ({} binding(s))",
                unbound.count
            ));
        }
        Ok(())
    }

    /// The lines `provision` must run on: those with a fixable line finding, or the first
    /// line when only the registration or the bindings (not tied to a line) need it.
    fn lines_to_provision(&self, report: &DoctorReport) -> Vec<LineId> {
        let mut lines = Vec::new();
        let mut unlined = false;
        for finding in &report.findings {
            if !needs_provision(&finding.kind) {
                continue;
            }
            match finding.kind.line() {
                Some(line) if !lines.contains(&line) => lines.push(line),
                Some(_) => {}
                None => unlined = true,
            }
        }
        if unlined && lines.is_empty() {
            lines.extend(self.lines.first().copied());
        }
        lines
    }

    async fn deactivate(&self, connector: &str, line: LineId) -> Result<(), WorkflowError> {
        let id = ConnectorId::new(connector)?;
        self.client
            .call(&ActivateConnector::new(id, line, false))
            .await
            .map_err(WorkflowError::call(Step::Deactivate))?;
        Ok(())
    }
}

/// Whether `provision` repairs this kind (with the app's `imconnector` scope).
fn needs_provision(kind: &FindingKind) -> bool {
    matches!(
        kind,
        FindingKind::ConnectorInactive { .. }
            | FindingKind::ConnectorError { .. }
            | FindingKind::ConnectorNotRegistered
            | FindingKind::EventNotBound { .. }
            | FindingKind::EventBoundByAnotherApp { .. }
    )
}
