//! The settings page: a `SETTING_CONNECTOR` POST of an installed portal, applied with
//! [`apply_settings`](crate::placement::apply_settings).

use imconnector_transport::portals::PortalStore;
use secrecy::ExposeSecret;
use tracing::Instrument;

use super::{InstallError, Installer};
use crate::log_text::untrusted;
use crate::placement::{apply_settings, AppliedSettings, SettingsPlacement};

impl<S: PortalStore> Installer<S> {
    /// Applies the page's choice after checking its `APPLICATION_TOKEN` against the stored
    /// one (constant time): without it anyone could switch the connector on or off.
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
            if !placement.has_application_token(stored.expose_secret()) {
                return Err(InstallError::Unproven(
                    "missing or wrong APPLICATION_TOKEN".to_owned(),
                ));
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
}
