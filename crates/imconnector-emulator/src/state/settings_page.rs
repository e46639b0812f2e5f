//! The connector's settings page (placement `SETTING_CONNECTOR`, reference §6.1): what the
//! portal does when an administrator clicks *Connect* or *Disconnect* for a connector on an
//! open line. The UI sets only `ACTIVE` (the app must call `imconnector.activate` to reach
//! `STATUS`), then opens the connector's `PLACEMENT_HANDLER` in a frame with a POST.

use serde_json::json;

use crate::config::SettingsPostShape;
use crate::error::ControlError;
use crate::install::InstallPost;
use crate::state::install_bodies::{Frame, FramePost};
use crate::state::installs::INSTALLING_USER;
use crate::state::tokens::{random_token, Grant};
use crate::state::Portal;

impl Portal {
    /// Clicks *Connect* (`active` true) or *Disconnect* for `connector` on `line` as the
    /// administrator and returns the settings-page POST to send to the connector's handler.
    pub(crate) fn open_settings_page(
        &mut self,
        connector: &str,
        line: i64,
        active: bool,
    ) -> Result<InstallPost, ControlError> {
        let record = self
            .connector(connector)
            .ok_or_else(|| ControlError::UnknownConnector(connector.to_owned()))?;
        let handler = record.placement_handler.clone();
        let owner = self
            .app_index(&record.owner_client_id)
            .ok_or_else(|| ControlError::UnknownApp(record.owner_client_id.clone()))?;
        if !self.lines.contains_key(&line) {
            return Err(ControlError::UnknownLine(line));
        }
        self.set_status_active(connector, line, active);
        let status = self.status_of(connector, line);
        let options = json!({
            "CONNECTOR": connector,
            "LINE": line.to_string(),
            "ACTIVE_STATUS": status.active,
            "CONNECTION_STATUS": status.connection,
            "REGISTER_STATUS": status.register,
            "ERROR_STATUS": status.error,
            "STATUS": status.status(),
        })
        .to_string();
        let tokens = self.issue_tokens(Grant {
            app: owner,
            user: INSTALLING_USER,
        });
        let lang = self
            .install_status(owner)
            .map_or_else(|| "en".to_owned(), |install| install.setup.lang);
        let shape = self.settings.settings_post_shape;
        let frame = Frame {
            url: &handler,
            lang: &lang,
            placement: "SETTING_CONNECTOR",
            options: Some(&options),
            app_fields: true,
            application_token: shape == SettingsPostShape::Full,
        };
        let app_sid = random_token(&mut self.rng);
        Ok(FramePost::build(self, owner, &frame, &tokens, app_sid).record)
    }
}
