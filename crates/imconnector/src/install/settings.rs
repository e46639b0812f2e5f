//! The settings page: a `SETTING_CONNECTOR` POST of an installed portal, applied with
//! [`apply_settings`](crate::placement::apply_settings).
//!
//! The POST is trusted only once proven: by its `APPLICATION_TOKEN` (the stored one, compared
//! in constant time) or, when a portal leaves that out, by its `AUTH_ID`, asked back of the
//! stored portal (see [`Installer::prove_page_user`]). A portal installed by the older install
//! POST whose ONAPPINSTALL never came has no token to compare with: its page is proven by the
//! `AUTH_ID`, and the `APPLICATION_TOKEN` it carries is then stored, so events are accepted.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use imconnector_transport::portals::PortalStore;
use imconnector_transport::{
    Client, Error, RateLimit, RefreshCoordinator, RetryPolicy, TokenExchange, Tokens,
};
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use tracing::Instrument;

use super::admin::is_true;
use super::{InstallError, Installer};
use crate::log_text::untrusted;
use crate::placement::{apply_settings, AppliedSettings, SettingsPlacement};

/// The default bound on proving a settings page's `AUTH_ID` with the portal: the page (and the
/// user looking at it) waits for it, and a portal that does not answer must not hold it.
pub const DEFAULT_SETTINGS_PROOF_TIMEOUT: Duration = Duration::from_secs(15);

impl<S: PortalStore> Installer<S> {
    /// Applies the page's choice once the POST is proven (see the module docs): without that
    /// anyone could switch the connector on or off.
    pub(crate) async fn settings_page(
        &self,
        query: Option<&str>,
        body: &[u8],
    ) -> Result<AppliedSettings, InstallError> {
        let placement = SettingsPlacement::parse(query, body)
            .map_err(|error| InstallError::Malformed(error.to_string()))?;
        let member_id = placement.member_id.clone();
        let span = tracing::info_span!("settings_page", member_id = %untrusted(&member_id), line = placement.options.line.get());
        async move {
            let stored = self
                .registry
                .application_token(&member_id)
                .await?
                .ok_or_else(|| InstallError::NotInstalled(member_id.clone()))?;
            match &placement.application_token {
                // Installed by the older install POST and ONAPPINSTALL never came: no token to
                // compare with. The page's AUTH_ID proves the administrator; then the token it
                // carries (the portal's, in a genuine page) is the one events will carry.
                Some(claimed) if stored.expose_secret().is_empty() => {
                    self.prove_page_user(&placement).await?;
                    if self
                        .registry
                        .fill_application_token(&member_id, claimed)
                        .await?
                    {
                        tracing::info!(
                            "the application token ONAPPINSTALL never brought was taken from \
                             the settings page, proven by its AUTH_ID"
                        );
                    }
                }
                Some(_) => {
                    if !placement.has_application_token(stored.expose_secret()) {
                        return Err(InstallError::Unproven("wrong APPLICATION_TOKEN".to_owned()));
                    }
                }
                None => self.prove_page_user(&placement).await?,
            }
            if &placement.options.connector != self.setup.id() {
                return Err(InstallError::Malformed(format!(
                    "the page is for connector {}, this app serves {}",
                    placement.options.connector,
                    self.setup.id()
                )));
            }
            let client = self.registry.client_for(&member_id).await?;
            let data = self.setup.data_for(placement.options.line);
            let applied = apply_settings(&client, &placement, data).await?;
            tracing::info!(
                active = matches!(applied, AppliedSettings::Activated(_)),
                "settings applied"
            );
            Ok(applied)
        }
        .instrument(span)
        .await
    }

    /// Proves a settings POST by its `AUTH_ID` (when it came without `APPLICATION_TOKEN`, or the
    /// portal has no token to compare it with): asked of
    /// the portal stored under the POST's `member_id` (its stored REST base, never the POST's
    /// `DOMAIN`, so a token of another portal fails there), `app.info` must answer with this
    /// app's `CODE` (a token of another app on the portal is refused) and `user.admin` must
    /// say yes (every employee who opens the app holds a genuine token of it; the settings page
    /// is an administrator's). All of it within the installer's
    /// [`settings_proof_timeout`](Installer::settings_proof_timeout).
    async fn prove_page_user(&self, placement: &SettingsPlacement) -> Result<(), InstallError> {
        let record = self
            .registry
            .store()
            .load(&placement.member_id)
            .await
            .map_err(|error| InstallError::Registry(error.into()))?
            .ok_or_else(|| InstallError::NotInstalled(placement.member_id.clone()))?;
        let endpoint = record.tokens.client_endpoint.ok_or_else(|| {
            InstallError::Unproven("the stored portal has no REST base to ask".to_owned())
        })?;
        // The user's access token alone: no refresh (a POST's REFRESH_ID is not ours to spend),
        // no retries, no pacing, one bounded attempt per question.
        let client = Client::builder()
            .oauth(
                self.oauth.app().clone(),
                Tokens::new(placement.access_token.expose_secret(), ""),
            )
            .portal(endpoint)
            .oauth_server(self.oauth.token_endpoint().as_str())
            .refresh_coordinator(Arc::new(NeverRefresh))
            .rate_limit(RateLimit::Off)
            .retry_policy(RetryPolicy::none())
            // The proof's own bound below decides; this one only backs it up.
            .request_timeout(self.settings_proof_timeout.saturating_mul(2))
            .build()
            .map_err(InstallError::Portal)?;
        let asked = async {
            let info = client.call_raw("app.info", json!({})).await?;
            let admin = client.call_raw("user.admin", json!({})).await?;
            Ok::<_, Error>((info.result, admin.result))
        };
        let (info, admin) = match tokio::time::timeout(self.settings_proof_timeout, asked).await {
            Err(_) | Ok(Err(Error::Timeout { .. } | Error::OutcomeUnknown { .. })) => {
                return Err(InstallError::PortalTimeout(self.settings_proof_timeout))
            }
            Ok(Err(error)) if refused_token(&error) => {
                tracing::warn!(error = %untrusted(&error), "the settings page's AUTH_ID was refused");
                return Err(InstallError::Unproven(
                    "the portal refused the page's AUTH_ID".to_owned(),
                ));
            }
            Ok(Err(error)) => return Err(InstallError::Portal(error)),
            Ok(Ok(answers)) => answers,
        };
        let code = info.get("CODE").and_then(Value::as_str);
        if code != Some(self.oauth.app().client_id.as_str()) {
            return Err(InstallError::Unproven(
                "the page's AUTH_ID belongs to another application".to_owned(),
            ));
        }
        if !is_true(&admin) {
            return Err(InstallError::NotAdministrator);
        }
        tracing::info!("settings page without APPLICATION_TOKEN proven by its AUTH_ID");
        Ok(())
    }
}

/// Whether the portal refused the token itself (forged, expired, revoked, another portal's),
/// as opposed to failing to answer.
fn refused_token(error: &Error) -> bool {
    matches!(
        error,
        Error::Api(_) | Error::ReauthorizationNeeded { .. } | Error::RefreshFailed { .. }
    )
}

/// Refuses every refresh without asking the OAuth server: a page's `AUTH_ID` that the portal
/// refuses is simply not proven, and a flood of forged POSTs must not turn into token requests.
struct NeverRefresh;

impl RefreshCoordinator for NeverRefresh {
    fn refresh<'a>(
        &'a self,
        _current: &'a Tokens,
        _exchange: &'a dyn TokenExchange,
    ) -> Pin<Box<dyn Future<Output = Result<Tokens, Error>> + Send + 'a>> {
        Box::pin(async {
            Err(Error::RefreshFailed {
                code: None,
                http_status: None,
                reason: "a settings page's token is never refreshed".to_owned(),
                source: None,
            })
        })
    }
}
