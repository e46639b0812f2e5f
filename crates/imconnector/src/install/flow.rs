//! What the installer does with a parsed request: prove, store, provision, forget.

use imconnector_api::ids::LineId;
use imconnector_api::methods::{BindEvent, ListEventBindings};
use imconnector_transport::portals::{PortalRecord, PortalStore, RegistryError};
use imconnector_transport::{Client, MemberId, Tokens};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use tracing::Instrument;

use super::request::{FrameInstall, Uninstall};
use super::{InstallError, InstallOutcome, Installer};
use crate::error::{Step, WorkflowError};
use crate::log_text::untrusted;
use crate::provision::{is_bound, is_duplicate_binding, provision, Provisioned};

/// Logs a portal stored and provisioned, at info (the default level) and with its `member_id`
/// as a field of the line itself, so it shows whatever the subscriber does with spans. Escaped:
/// the id is proven only in so far as the OAuth server named the same portal.
fn log_installed(member_id: &MemberId, line: LineId) {
    tracing::info!(
        member_id = %untrusted(member_id),
        line = line.get(),
        "portal installed: stored and connector provisioned"
    );
}

/// The lifecycle events the installer itself receives at the install URL.
const LIFECYCLE_EVENTS: [&str; 3] = ["ONAPPINSTALL", "ONAPPUPDATE", "ONAPPUNINSTALL"];

impl<S: PortalStore> Installer<S> {
    /// Refreshes `refresh_token` at the configured OAuth server: it works only for tokens
    /// issued to this app, and the answer names their portal, which must be the one claimed.
    pub(crate) async fn prove(
        &self,
        member_id: &MemberId,
        domain: &str,
        refresh_token: &SecretString,
    ) -> Result<Tokens, InstallError> {
        let fresh = self
            .oauth
            .refresh(refresh_token)
            .await
            .map_err(InstallError::from_authorization)?;
        check_portal(&fresh, member_id, domain)?;
        Ok(fresh)
    }

    pub(crate) async fn frame_install(
        &self,
        frame: FrameInstall,
    ) -> Result<InstallOutcome, InstallError> {
        let span = tracing::info_span!("install_post", member_id = %untrusted(&frame.member_id));
        async move {
            let fresh = self
                .prove(&frame.member_id, &frame.domain, &frame.refresh_token)
                .await?;
            let (_, fresh) = self.require_administrator(fresh).await?;
            tracing::info!("install POST proven: an administrator's tokens");
            let installed = self.registry.application_token(&frame.member_id).await?;
            let client = match (installed, &frame.application_token) {
                // An installed portal keeps its application token whatever a POST says: only
                // ONAPPINSTALL (of a reinstall) replaces it. The administrator's pair is taken.
                (Some(stored), claimed) => {
                    if claimed
                        .as_ref()
                        .is_some_and(|claimed| !secrets_equal(&stored, claimed))
                    {
                        tracing::warn!(
                            "the install POST's APPLICATION_TOKEN differs from the stored one; \
                             the stored one is kept until ONAPPINSTALL"
                        );
                    }
                    self.replace_tokens(&frame.member_id, fresh).await?
                }
                // The newer POST carries the application token: the portal is complete now.
                (None, Some(token)) => {
                    let record = self.record(&frame.member_id, &frame.domain, token, fresh);
                    self.registry.install(record).await?
                }
                // The older one does not. The proven pair is kept all the same, so the portal
                // is served (calls, keep-alive, reconcile) even if ONAPPINSTALL never comes
                // (the portal does not resend it); no event matches its empty application
                // token until ONAPPINSTALL (or ONAPPUPDATE) brings the real one.
                (None, None) => {
                    let unknown = SecretString::from(String::new());
                    let record = self.record(&frame.member_id, &frame.domain, &unknown, fresh);
                    tracing::info!("install POST without APPLICATION_TOKEN: the proven pair is stored; events wait for ONAPPINSTALL");
                    self.registry.install(record).await?
                }
            };
            let provisioned = self.provision_portal(&client).await?;
            self.mark_provisioned(&frame.member_id).await;
            log_installed(&frame.member_id, provisioned.line);
            tracing::info!("connector provisioned; waiting for installFinish");
            Ok(InstallOutcome::AwaitingFinish {
                member_id: frame.member_id,
                stored: true,
                provisioned,
            })
        }
        .instrument(span)
        .await
    }

    /// ONAPPUPDATE (a new version of the app): proven and stored exactly like ONAPPINSTALL,
    /// since it brings a new application token (`common/events/on-app-update.md`) and the
    /// portal removed the app's event bindings (`event-bind.md`): provisioning binds them again.
    pub(crate) async fn app_update(
        &self,
        event: PortalRecord,
    ) -> Result<InstallOutcome, InstallError> {
        let span = tracing::info_span!("onappupdate", member_id = %untrusted(&event.member_id));
        async move {
            let (member_id, provisioned) = self.store_proven_event("ONAPPUPDATE", event).await?;
            tracing::info!(member_id = %untrusted(&member_id), "app updated: new application token stored, events bound again");
            Ok(InstallOutcome::Updated {
                member_id,
                provisioned,
            })
        }
        .instrument(span)
        .await
    }

    pub(crate) async fn app_install(
        &self,
        event: PortalRecord,
    ) -> Result<InstallOutcome, InstallError> {
        let span = tracing::info_span!("onappinstall", member_id = %untrusted(&event.member_id));
        async move {
            let (member_id, provisioned) = self.store_proven_event("ONAPPINSTALL", event).await?;
            log_installed(&member_id, provisioned.line);
            Ok(InstallOutcome::Installed {
                member_id,
                provisioned,
            })
        }
        .instrument(span)
        .await
    }

    /// Proves an app lifecycle event carrying a pair (its refresh token at the configured OAuth
    /// server, an administrator's), stores its application token and the rotated pair, and
    /// provisions the connector.
    async fn store_proven_event(
        &self,
        name: &str,
        event: PortalRecord,
    ) -> Result<(MemberId, Provisioned), InstallError> {
        let domain = event
            .domain
            .clone()
            .ok_or_else(|| InstallError::Malformed(format!("{name} has no auth[domain]")))?;
        let fresh = self
            .prove(&event.member_id, &domain, &event.tokens.refresh_token)
            .await
            .inspect_err(|error| {
                tracing::warn!(event = name, error = %untrusted(error), "not proven; ignored");
            })?;
        // Only an administrator installs or updates: anyone else's event would choose the
        // application token every later event is checked against.
        let (_, fresh) = self.require_administrator(fresh).await?;
        let record = self.record(&event.member_id, &domain, &event.application_token, fresh);
        let client = self.registry.install(record).await?;
        tracing::info!(event = name, "proven: an administrator's; portal stored");
        let provisioned = self.provision_portal(&client).await?;
        self.mark_provisioned(&event.member_id).await;
        Ok((event.member_id, provisioned))
    }

    pub(crate) async fn app_uninstall(
        &self,
        event: Uninstall,
    ) -> Result<InstallOutcome, InstallError> {
        let span = tracing::info_span!("onappuninstall", member_id = %untrusted(&event.member_id));
        async move {
            let stored = self
                .registry
                .application_token(&event.member_id)
                .await?
                .ok_or_else(|| InstallError::NotInstalled(event.member_id.clone()))?;
            if !secrets_equal(&stored, &event.application_token) {
                tracing::warn!("ONAPPUNINSTALL with a wrong application token; ignored");
                return Err(InstallError::Unproven(
                    "wrong auth[application_token]".to_owned(),
                ));
            }
            self.registry.uninstall(&event.member_id).await?;
            tracing::info!("portal uninstalled; its record and tokens are removed");
            Ok(InstallOutcome::Uninstalled {
                member_id: event.member_id,
            })
        }
        .instrument(span)
        .await
    }

    /// The record to store: the proven pair, the OAuth server that proved it.
    pub(crate) fn record(
        &self,
        member_id: &MemberId,
        domain: &str,
        application_token: &SecretString,
        tokens: Tokens,
    ) -> PortalRecord {
        PortalRecord::new(member_id.clone(), application_token.expose_secret(), tokens)
            .with_domain(domain)
            .with_oauth_server(self.oauth.token_endpoint().as_str())
    }

    /// Replaces the stored pair of installed portal `member_id` with a proven administrator's;
    /// its application token and the rest of its record stay.
    pub(crate) async fn replace_tokens(
        &self,
        member_id: &MemberId,
        tokens: Tokens,
    ) -> Result<Client, InstallError> {
        let mut record = self
            .registry
            .store()
            .load(member_id)
            .await
            .map_err(RegistryError::from)?
            .ok_or_else(|| InstallError::NotInstalled(member_id.to_owned()))?;
        record.tokens = tokens;
        Ok(self.registry.install(record).await?)
    }

    pub(crate) fn standalone_client(&self, tokens: Tokens) -> Result<Client, InstallError> {
        let endpoint = tokens.client_endpoint.clone().ok_or_else(|| {
            InstallError::Unproven("the OAuth server's answer has no client_endpoint".to_owned())
        })?;
        Client::builder()
            .oauth(self.oauth.app().clone(), tokens)
            .portal(endpoint)
            .oauth_server(self.oauth.token_endpoint().as_str())
            .build()
            .map_err(InstallError::Portal)
    }

    /// Records that the connector is provisioned on a stored portal. A failure to record it
    /// only means [`Installer::reconcile`] provisions it once more (idempotent): logged, not
    /// returned.
    pub(crate) async fn mark_provisioned(&self, member_id: &MemberId) {
        if let Err(error) = self.registry.mark_provisioned(member_id).await {
            tracing::warn!(error = %untrusted(&error), "could not record the provisioning; reconcile will redo it");
        }
    }

    /// Binds the lifecycle events to the install URL, then [`provision`]s the connector.
    pub(crate) async fn provision_portal(
        &self,
        client: &Client,
    ) -> Result<Provisioned, InstallError> {
        let install_url = self.urls.install_events();
        let bindings = client
            .call(&ListEventBindings::new())
            .await
            .map_err(WorkflowError::call(Step::ListBindings))?;
        for event in LIFECYCLE_EVENTS {
            if is_bound(&bindings, event, install_url.as_str()) {
                continue;
            }
            match client
                .call(&BindEvent::new(event, install_url.clone()))
                .await
            {
                Ok(_) => {}
                Err(error) if is_duplicate_binding(&error) => {}
                Err(source) => {
                    return Err(WorkflowError::Call {
                        step: Step::Bind,
                        source,
                    }
                    .into())
                }
            }
        }
        let line = match self.line {
            Some(line) => line,
            None => first_line(client).await?,
        };
        Ok(provision(client, &self.setup, line).await?)
    }
}

/// The answer's `member_id` must be the claimed one, and its `client_endpoint` on the claimed
/// domain (the answer's own `domain` is the OAuth server's, so it says nothing).
pub(crate) fn check_portal(
    fresh: &Tokens,
    member_id: &MemberId,
    domain: &str,
) -> Result<(), InstallError> {
    if fresh.member_id.as_ref() != Some(member_id) {
        return Err(InstallError::Unproven(
            "the tokens belong to another portal (member_id differs)".to_owned(),
        ));
    }
    let host = fresh
        .client_endpoint
        .as_deref()
        .and_then(|endpoint| url::Url::parse(endpoint).ok())
        .and_then(|url| {
            let host = url.host_str()?.to_ascii_lowercase();
            Some(match url.port() {
                Some(port) => format!("{host}:{port}"),
                None => host,
            })
        });
    if host.as_deref() != Some(domain.trim().to_ascii_lowercase().as_str()) {
        return Err(InstallError::Unproven(
            "the tokens belong to another portal (domain differs)".to_owned(),
        ));
    }
    Ok(())
}

fn secrets_equal(left: &SecretString, right: &SecretString) -> bool {
    imconnector_transport::secrets_match(left.expose_secret(), right.expose_secret())
}

/// The first open line the portal lists (raw, so it reads any shape of `ID`).
async fn first_line(client: &Client) -> Result<LineId, InstallError> {
    let lines = client
        .call_raw("imopenlines.config.list.get", json!({}))
        .await
        .map_err(InstallError::Portal)?;
    let id = lines
        .result
        .as_array()
        .and_then(|lines| lines.first())
        .and_then(|line| line.get("ID"))
        .and_then(|id| match id {
            Value::Number(number) => number.as_i64(),
            Value::String(text) => text.parse().ok(),
            _ => None,
        })
        .and_then(|id| LineId::new(id).ok());
    id.ok_or(InstallError::NoOpenLine)
}
