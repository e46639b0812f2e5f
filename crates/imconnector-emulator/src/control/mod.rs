//! Driving and inspecting the portal from Rust: [`EmulatorHandle`].

mod access;
pub(crate) mod http;
mod inspect;
mod install;
mod respond;
mod settings;

use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::error::{ControlError, OperatorMessage};
use crate::snapshot::{AppCredentials, LineInfo, Tokens};
use crate::state::tokens::Grant;
use crate::state::{Portal, Shared};

/// A cheap, cloneable handle to a running emulator: the operator side, settings and state.
#[derive(Clone)]
pub struct EmulatorHandle {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for EmulatorHandle {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("EmulatorHandle")
            .field("base_url", &self.shared.urls.base)
            .finish_non_exhaustive()
    }
}

impl EmulatorHandle {
    pub(crate) fn read<R>(&self, read: impl FnOnce(&Portal) -> R) -> R {
        read(&self.shared.lock())
    }

    /// `http://127.0.0.1:PORT` (`https://` with TLS; the public URL when one is set).
    pub fn base_url(&self) -> String {
        self.shared.urls.base.clone()
    }

    /// The REST endpoint for OAuth calls: `http://127.0.0.1:PORT/rest/`.
    pub fn rest_url(&self) -> String {
        self.shared.urls.rest.clone()
    }

    /// The OAuth server: `http://127.0.0.1:PORT/oauth/token/`.
    pub fn oauth_url(&self) -> String {
        format!("{}/oauth/token/", self.shared.urls.base)
    }

    /// The HTTP control API: `http://127.0.0.1:PORT/_emulator/`.
    pub fn control_url(&self) -> String {
        format!("{}/_emulator/", self.shared.urls.base)
    }

    /// The incoming webhook of user 1: `http://127.0.0.1:PORT/rest/1/<code>/` (the code is a
    /// secret, hence the wrapper).
    pub fn webhook_url(&self) -> SecretString {
        self.read(|portal| {
            SecretString::from(format!(
                "{}{}/{}/",
                portal.urls().rest,
                portal.webhook().user_id,
                portal.webhook().code.expose_secret()
            ))
        })
    }

    fn credentials(portal: &Portal, app: usize) -> AppCredentials {
        let record = portal.app(app);
        AppCredentials {
            client_id: record.client_id.clone(),
            client_secret: record.client_secret.clone(),
            application_token: record.application_token.clone(),
            member_id: portal.member_id().to_owned(),
            domain: portal.urls().domain.clone(),
        }
    }

    /// The app installed at start.
    pub fn app(&self) -> AppCredentials {
        self.read(|portal| Self::credentials(portal, 0))
    }

    /// Every installed app, the first one first.
    pub fn apps(&self) -> Vec<AppCredentials> {
        self.read(|portal| {
            (0..portal.app_count())
                .map(|app| Self::credentials(portal, app))
                .collect()
        })
    }

    /// Installs another app (to test ownership: events go only to the app that registered
    /// the connector).
    pub fn install_app(&self) -> AppCredentials {
        self.shared.run(|portal| {
            let app = portal.add_app(None);
            Self::credentials(portal, app)
        })
    }

    /// A fresh token pair of the first app for the admin (user 1).
    pub fn tokens(&self) -> Tokens {
        self.shared
            .run(|portal| portal.issue_tokens(Grant { app: 0, user: 1 }))
    }

    fn grant(portal: &Portal, client_id: &str, user_id: u64) -> Result<Grant, ControlError> {
        let app = portal
            .app_index(client_id)
            .ok_or_else(|| ControlError::UnknownApp(client_id.to_owned()))?;
        if portal.user(user_id).is_none() {
            return Err(ControlError::UnknownUser(user_id));
        }
        Ok(Grant { app, user: user_id })
    }

    /// A fresh token pair of app `client_id` for portal user `user_id` (1 is the admin, 2 an
    /// employee without the right to list connectors).
    ///
    /// # Errors
    /// [`ControlError::UnknownApp`], [`ControlError::UnknownUser`].
    pub fn tokens_for(&self, client_id: &str, user_id: u64) -> Result<Tokens, ControlError> {
        self.shared.run(|portal| {
            let grant = Self::grant(portal, client_id, user_id)?;
            Ok(portal.issue_tokens(grant))
        })
    }

    /// A single-use authorization code (valid 30 emulated seconds) for the
    /// `authorization_code` grant, as the portal's redirect would deliver it.
    ///
    /// # Errors
    /// [`ControlError::UnknownApp`], [`ControlError::UnknownUser`].
    pub fn authorization_code(
        &self,
        client_id: &str,
        user_id: u64,
    ) -> Result<SecretString, ControlError> {
        self.shared.run(|portal| {
            let grant = Self::grant(portal, client_id, user_id)?;
            Ok(SecretString::from(portal.issue_code(grant)))
        })
    }

    /// The pair the latest successful `/oauth/token/` grant answered (a refresh or an
    /// authorization code), `None` before the first: what a client that refreshed should hold
    /// now.
    pub fn last_granted_tokens(&self) -> Option<Tokens> {
        self.read(|portal| portal.last_grant().cloned())
    }

    /// Makes every access token issued so far expired (the next call answers 401
    /// `expired_token`); refresh tokens stay valid.
    pub fn expire_tokens(&self) {
        self.shared.run(Portal::expire_access_tokens);
    }

    /// Revokes every access token issued so far: the next call with one of them answers 401
    /// `invalid_token` (as the portal does for a token it no longer knows), so a client must
    /// refresh. Refresh tokens stay valid; counted in
    /// [`Counters::invalid_token_rejections`](crate::Counters::invalid_token_rejections).
    pub fn revoke_access_tokens(&self) {
        self.shared.run(Portal::revoke_access_tokens);
    }

    /// Moves the emulated clock forward (tokens expire, the bucket drains, budgets reset).
    pub fn advance_clock(&self, by: Duration) {
        self.shared.clock.advance(by);
    }

    /// A customer wrote in `external_chat_id` on `line`; the operator (user 1) replies. Fires
    /// `OnImConnectorMessageAdd` when the connector's status on the line is OK.
    ///
    /// # Errors
    /// [`ControlError::UnknownLine`], [`ControlError::UnknownChat`] (no customer message yet),
    /// [`ControlError::NoOpenSession`].
    pub fn operator_reply(
        &self,
        line: i64,
        external_chat_id: &str,
        text: &str,
    ) -> Result<OperatorMessage, ControlError> {
        self.shared
            .run(|portal| portal.operator_reply(line, external_chat_id, text))
    }

    /// The operator edits a reply: fires `OnImConnectorMessageUpdate` (if the connector allows
    /// `EDIT_INTERNAL_MESSAGES`) once the reply was confirmed with `send.status.delivery`
    /// (the event names it by the external ids reported there).
    ///
    /// # Errors
    /// [`ControlError::NotAllowed`] when the flag is off, unknown/deleted/customer messages.
    pub fn operator_edit(&self, message_id: u64, text: &str) -> Result<(), ControlError> {
        self.shared
            .run(|portal| portal.operator_edit(message_id, text))
    }

    /// The operator deletes a message: a reply fires `OnImConnectorMessageDelete` (one item per
    /// external id reported by `send.status.delivery`; needs `DEL_INTERNAL_MESSAGES`); a
    /// customer message needs `DEL_EXTERNAL_MESSAGES` and fires nothing.
    ///
    /// # Errors
    /// [`ControlError::NotAllowed`] when the flag is off, unknown/deleted messages.
    pub fn operator_delete(&self, message_id: u64) -> Result<(), ControlError> {
        self.shared.run(|portal| portal.operator_delete(message_id))
    }

    /// The operator closes the session of a chat: fires `OnImConnectorDialogFinish`. The next
    /// customer message starts a new session (DialogStart).
    ///
    /// # Errors
    /// [`ControlError::UnknownChat`], [`ControlError::NoOpenSession`].
    pub fn close_session(&self, line: i64, external_chat_id: &str) -> Result<u64, ControlError> {
        self.shared
            .run(|portal| portal.operator_close_session(line, external_chat_id))
    }

    /// Creates an open line and returns it.
    pub fn add_line(&self, name: &str) -> LineInfo {
        self.shared.run(|portal| portal.add_line(name))
    }

    /// Deletes an open line: `OnImConnectorStatusDelete` for each connector on it (to its
    /// owner), then `OnImConnectorLineDelete` (to every app that bound it).
    ///
    /// # Errors
    /// [`ControlError::UnknownLine`].
    pub fn delete_line(&self, line: i64) -> Result<(), ControlError> {
        self.shared.run(|portal| portal.delete_line(line))
    }
}
