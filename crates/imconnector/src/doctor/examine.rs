//! [`Doctor::examine`]: the checks, each a read-only call.

use imconnector_api::ids::{ConnectorId, LineId};
use imconnector_api::methods::{
    ActivateConnector, BindEvent, DeleteMessages, GetConnectorStatus, ListConnectors,
    ListEventBindings, ListLineConfigs, RegisterConnector, SendMessages, SendStatusDelivery,
    SendStatusReading, SetChatName, SetConnectorData, UnbindEvent, UnregisterConnector,
    UpdateMessages,
};
use imconnector_api::types::EventBinding;
use imconnector_transport::{Error, Method};

use super::basic::{self, BasicError};
use super::report::{DoctorReport, Finding, FindingKind};
use super::Doctor;
use crate::provision::is_bound;

/// The methods the SDK's workflows call.
const NEEDED_METHODS: [&str; 16] = [
    RegisterConnector::NAME,
    UnregisterConnector::NAME,
    ListConnectors::NAME,
    ActivateConnector::NAME,
    GetConnectorStatus::NAME,
    SetConnectorData::NAME,
    SendMessages::NAME,
    UpdateMessages::NAME,
    DeleteMessages::NAME,
    SendStatusDelivery::NAME,
    SendStatusReading::NAME,
    SetChatName::NAME,
    ListLineConfigs::NAME,
    BindEvent::NAME,
    UnbindEvent::NAME,
    ListEventBindings::NAME,
];

/// Delivered to every app that bound it, not only to the connector's owner.
const LINE_DELETE: &str = "OnImConnectorLineDelete";

/// Findings as they are collected; knows which kinds the doctor can fix.
struct Findings {
    list: Vec<Finding>,
    deactivate_other_connectors: bool,
}

impl Findings {
    fn push(&mut self, kind: FindingKind, seen: String, fix: String) {
        let fixable = kind.is_fixable(self.deactivate_other_connectors);
        self.list.push(Finding {
            kind,
            seen,
            fix,
            fixable,
        });
    }

    /// Keeps a refused call as a finding; any other error (network, tokens) ends the run.
    fn refused<T>(&mut self, method: &str, result: Result<T, Error>) -> Result<Option<T>, Error> {
        match result {
            Ok(value) => Ok(Some(value)),
            Err(Error::Api(api)) => {
                self.push(
                    FindingKind::CheckFailed {
                        method: method.to_owned(),
                    },
                    format!("the portal answered {}: {}", api.code, api.description),
                    "see the other findings (a missing scope explains most refusals); the \
                     checks that depend on this call were skipped"
                        .to_owned(),
                );
                Ok(None)
            }
            Err(other) => Err(other),
        }
    }

    fn basic<T>(
        &mut self,
        method: &str,
        result: Result<T, BasicError>,
    ) -> Result<Option<T>, Error> {
        match result {
            Ok(value) => Ok(Some(value)),
            Err(BasicError::Call(error)) => self.refused(method, Err(error)),
            Err(BasicError::Malformed(malformed)) => {
                self.push(
                    FindingKind::CheckFailed {
                        method: method.to_owned(),
                    },
                    malformed.to_string(),
                    "report the answer to the SDK's maintainers; the check was skipped".to_owned(),
                );
                Ok(None)
            }
        }
    }
}

impl Doctor {
    /// Runs every check with the app's tokens (read-only calls) and reports what is wrong.
    ///
    /// A call the portal refuses (an `ApiError`, e.g. `insufficient_scope`) becomes a
    /// [`FindingKind::CheckFailed`] finding and the checks depending on it are skipped.
    ///
    /// # Errors
    /// Any other transport error (the portal unreachable, the tokens refused for good): the
    /// run stops there.
    pub async fn examine(&self) -> Result<DoctorReport, Error> {
        let mut findings = Findings {
            list: Vec::new(),
            deactivate_other_connectors: self.deactivate_other_connectors,
        };
        let app = findings.basic("app.info", basic::app_info(&self.client).await)?;
        if let Some(app) = &app {
            check_app(app, &mut findings);
        }
        let scopes = findings.basic("scope", basic::scopes(&self.client).await)?;
        let scope_missing = match &scopes {
            Some(scopes) => self.check_scopes(scopes, &mut findings),
            None => false,
        };
        self.check_methods(scope_missing, &mut findings).await?;
        self.check_bindings(&mut findings).await?;
        self.check_other_apps(&mut findings).await?;
        self.check_lines(&mut findings).await?;
        Ok(DoctorReport {
            app,
            scopes,
            findings: findings.list,
        })
    }

    /// Returns whether a scope is missing.
    fn check_scopes(&self, scopes: &[String], findings: &mut Findings) -> bool {
        let mut missing = false;
        for scope in &self.required_scopes {
            if scopes.iter().any(|held| held.eq_ignore_ascii_case(scope)) {
                continue;
            }
            missing = true;
            findings.push(
                FindingKind::MissingScope {
                    scope: scope.clone(),
                },
                format!("`scope` lists {scopes:?}, without `{scope}`"),
                format!(
                    "add `{scope}` to the app's scopes (the app's settings in the portal or the \
                     developer's account), then reinstall or update the app so the portal grants it"
                ),
            );
        }
        missing
    }

    async fn check_methods(
        &self,
        scope_missing: bool,
        findings: &mut Findings,
    ) -> Result<(), Error> {
        let Some(known) = findings.basic("methods", basic::methods(&self.client, true).await)?
        else {
            return Ok(());
        };
        let Some(granted) = findings.basic("methods", basic::methods(&self.client, false).await)?
        else {
            return Ok(());
        };
        for method in NEEDED_METHODS {
            if !known.iter().any(|name| name == method) {
                findings.push(
                    FindingKind::MethodNotOnPortal {
                        method: method.to_owned(),
                    },
                    format!("`methods` with full=true does not list `{method}`"),
                    "the portal's modules (imopenlines, imconnector, rest) are older than the \
                     cloud's: update the on-premise portal, or avoid the feature that calls it"
                        .to_owned(),
                );
            } else if !scope_missing && !granted.iter().any(|name| name == method) {
                findings.push(
                    FindingKind::MethodNotGranted {
                        method: method.to_owned(),
                    },
                    format!("the portal knows `{method}` but the app's `methods` does not list it"),
                    "check the app's scopes and the portal's restrictions on it, then reinstall \
                     the app"
                        .to_owned(),
                );
            }
        }
        Ok(())
    }

    async fn check_bindings(&self, findings: &mut Findings) -> Result<(), Error> {
        let listed = self.client.call(&ListEventBindings::new()).await;
        let Some(bindings) = findings.refused(ListEventBindings::NAME, listed)? else {
            return Ok(());
        };
        let handler = self.setup.event_handler().as_str();
        for event in self.setup.events() {
            if is_bound(&bindings, event, handler) || is_bound_offline(&bindings, event) {
                continue;
            }
            let elsewhere: Vec<&str> = bindings
                .iter()
                .filter(|binding| binding.event.eq_ignore_ascii_case(event))
                .filter_map(|binding| binding.handler.as_deref())
                .collect();
            let seen = if elsewhere.is_empty() {
                format!("`event.get` lists no binding of `{event}` for this app")
            } else {
                format!("`event.get` lists `{event}` bound only to {elsewhere:?}, not to {handler}")
            };
            findings.push(
                FindingKind::EventNotBound {
                    event: event.clone(),
                },
                seen,
                format!(
                    "bind it with this app's tokens: `event.bind` event={event} handler={handler} \
                     (the portal removes an app's bindings when the app is updated: bind again \
                     on ONAPPUPDATE)"
                ),
            );
        }
        Ok(())
    }

    async fn check_other_apps(&self, findings: &mut Findings) -> Result<(), Error> {
        let handler = self.setup.event_handler().as_str();
        for other in &self.other_apps {
            let listed = other.client.call(&ListEventBindings::new()).await;
            let Some(bindings) = findings.refused(ListEventBindings::NAME, listed)? else {
                continue;
            };
            for event in self.setup.events() {
                // LineDelete reaches every app that bound it; the others only the owner's.
                if event.eq_ignore_ascii_case(LINE_DELETE) || !is_bound(&bindings, event, handler) {
                    continue;
                }
                findings.push(
                    FindingKind::EventBoundByAnotherApp {
                        event: event.clone(),
                        app: other.label.clone(),
                    },
                    format!(
                        "`event.get` of the app `{}` lists `{event}` bound to {handler}; the \
                         portal delivers connector events only to the app that registered the \
                         connector",
                        other.label
                    ),
                    format!(
                        "unbind it with that app's tokens (`event.unbind` event={event} \
                         handler={handler}) and bind it with the tokens of the app that \
                         registers the connector"
                    ),
                );
            }
        }
        Ok(())
    }

    async fn check_lines(&self, findings: &mut Findings) -> Result<(), Error> {
        let listed = self.client.call(&ListConnectors::new()).await;
        let Some(connectors) = findings.refused(ListConnectors::NAME, listed)? else {
            return Ok(());
        };
        let own = self.setup.id();
        let registered = connectors
            .keys()
            .any(|id| id.eq_ignore_ascii_case(own.as_str()));
        if !registered {
            findings.push(
                FindingKind::ConnectorNotRegistered,
                format!("`imconnector.list` does not list `{own}`"),
                "register it with this app's tokens (`imconnector.register`, done by provision)"
                    .to_owned(),
            );
        }
        let listed = self.client.call(&ListLineConfigs::new()).await;
        let line_ids: Option<Vec<String>> =
            findings
                .refused(ListLineConfigs::NAME, listed)?
                .map(|lines| {
                    lines
                        .iter()
                        .filter_map(|line| line.id.as_ref().map(ToString::to_string))
                        .collect()
                });
        for &line in &self.lines {
            if let Some(ids) = &line_ids {
                if !ids.contains(&line.to_string()) {
                    findings.push(
                        FindingKind::LineNotFound { line },
                        format!("`imopenlines.config.list.get` lists the lines {ids:?}"),
                        "create the open line in the Contact Center, or check the line id"
                            .to_owned(),
                    );
                    continue;
                }
            }
            if registered {
                self.check_own_status(line, findings).await?;
            }
            for other in connectors.keys() {
                if other.eq_ignore_ascii_case(own.as_str()) {
                    continue;
                }
                self.check_other_connector(other, line, findings).await?;
            }
        }
        Ok(())
    }

    async fn check_own_status(&self, line: LineId, findings: &mut Findings) -> Result<(), Error> {
        let own = self.setup.id();
        let asked = self
            .client
            .call(&GetConnectorStatus::new(own.clone(), line))
            .await;
        let Some(status) = findings.refused(GetConnectorStatus::NAME, asked)? else {
            return Ok(());
        };
        if !status.configured {
            findings.push(
                FindingKind::ConnectorInactive { line },
                format!("`imconnector.status` on line {line}: CONFIGURED=false, STATUS=false"),
                format!(
                    "activate it: `imconnector.activate` CONNECTOR={own} LINE={line} ACTIVE=1 \
                     (done by provision); the operator's replies are refused meanwhile"
                ),
            );
        }
        if status.error {
            findings.push(
                FindingKind::ConnectorError { line },
                format!("`imconnector.status` on line {line}: ERROR=true"),
                "fix what made the connector call `imconnector.set.error`, then activate it \
                 again (done by provision), which clears the mark"
                    .to_owned(),
            );
        }
        Ok(())
    }

    async fn check_other_connector(
        &self,
        other: &str,
        line: LineId,
        findings: &mut Findings,
    ) -> Result<(), Error> {
        // Ids the portal lists but the SDK cannot name (a dot, an empty id) cannot be asked
        // about; nothing of ours can be wrong with them.
        let Ok(id) = ConnectorId::new(other) else {
            return Ok(());
        };
        let asked = self.client.call(&GetConnectorStatus::new(id, line)).await;
        let Some(status) = findings.refused(GetConnectorStatus::NAME, asked)? else {
            return Ok(());
        };
        if status.configured {
            findings.push(
                FindingKind::OtherConnectorActive {
                    line,
                    connector: other.to_owned(),
                },
                format!("`imconnector.status` of `{other}` on line {line}: CONFIGURED=true"),
                format!(
                    "if `{other}` is an old version of yours or not meant for this line, \
                     deactivate it: `imconnector.activate` CONNECTOR={other} LINE={line} ACTIVE=0 \
                     (the fix mode does it when allowed to deactivate other connectors)"
                ),
            );
        }
        Ok(())
    }
}

fn check_app(app: &super::AppInfo, findings: &mut Findings) {
    if !app.installed {
        findings.push(
            FindingKind::InstallationNotFinished,
            "`app.info` says INSTALLED=false".to_owned(),
            "open the app in the portal as an administrator and let its install page call \
             `BX24.installFinish()`; until then the portal sends the app no event"
                .to_owned(),
        );
    }
    if app.payment_expired {
        findings.push(
            FindingKind::PaymentExpired,
            format!(
                "`app.info` says PAYMENT_EXPIRED=Y (STATUS={}, DAYS={})",
                app.status.as_deref().unwrap_or("?"),
                app.days.map_or("-".to_owned(), |days| days.to_string())
            ),
            "renew the app's subscription or licence in the portal's Market".to_owned(),
        );
    }
}

/// Whether `event` is bound offline (read with `event.offline.get` instead of POSTed).
fn is_bound_offline(bindings: &[EventBinding], event: &str) -> bool {
    bindings
        .iter()
        .any(|binding| binding.event.eq_ignore_ascii_case(event) && binding.offline == Some(true))
}
