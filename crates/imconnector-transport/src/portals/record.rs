//! [`PortalRecord`]: what the registry knows about one portal, and reading it from an
//! `OnAppInstall` event.

use std::fmt;
use std::time::{Duration, UNIX_EPOCH};

use crate::{MemberId, OAuthApp, Tokens};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

/// What the registry knows about one portal.
#[derive(Clone)]
#[non_exhaustive]
pub struct PortalRecord {
    /// The portal's id, the registry's key.
    pub member_id: MemberId,
    /// The portal's domain, when known (`example.bitrix24.com`).
    pub domain: Option<String>,
    /// The token every event of this portal must carry (`auth[application_token]`).
    pub application_token: SecretString,
    /// The OAuth pair; its `client_endpoint` is the portal's REST base.
    pub tokens: Tokens,
    /// The application's credentials on this portal, when they differ from the registry's (a
    /// local application of an on-premise portal has its own).
    pub app: Option<OAuthApp>,
    /// The portal's OAuth server, when not the registry template's (a test server; every real
    /// portal, on-premise included, refreshes at `oauth.bitrix.info`).
    pub oauth_server: Option<String>,
    /// Whether the connector was provisioned on this portal since it was last stored by an
    /// installation ([`PortalStore::set_provisioned`](super::PortalStore::set_provisioned)):
    /// `false` for a portal whose provisioning failed or was cut off by a crash, which a
    /// start-up reconciler finishes.
    pub provisioned: bool,
}

/// Why an install event (`ONAPPINSTALL` or the install POST) could not be read as a
/// [`PortalRecord`]. Not the installer's `imconnector::install::InstallError`, which says why an
/// install request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InstallEventError {
    /// The body is not a form or JSON object.
    #[error("malformed installation: {0}")]
    Malformed(String),
    /// A required field is missing or empty.
    #[error("the installation has no `{0}`")]
    Missing(&'static str),
}

impl PortalRecord {
    /// A record for portal `member_id`; `tokens` must carry the portal's `client_endpoint`.
    pub fn new(
        member_id: impl Into<MemberId>,
        application_token: impl Into<String>,
        tokens: Tokens,
    ) -> Self {
        Self {
            member_id: member_id.into(),
            domain: None,
            application_token: SecretString::from(application_token.into()),
            tokens,
            app: None,
            oauth_server: None,
            provisioned: false,
        }
    }

    /// Sets the portal's domain.
    #[must_use]
    pub fn with_domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// Uses these application credentials for this portal instead of the registry's.
    #[must_use]
    pub fn with_app(mut self, app: OAuthApp) -> Self {
        self.app = Some(app);
        self
    }

    /// Uses this OAuth token endpoint for this portal instead of the template's.
    #[must_use]
    pub fn with_oauth_server(mut self, url: impl Into<String>) -> Self {
        self.oauth_server = Some(url.into());
        self
    }

    /// Gives the record `token` if it has no application token yet: `true` when it was filled.
    /// The rule of [`PortalStore::fill_application_token`](super::PortalStore::fill_application_token)
    /// for the stores of this crate: a stored token is never replaced this way.
    pub(crate) fn fill_application_token(&mut self, token: &SecretString) -> bool {
        if !self.application_token.expose_secret().is_empty() {
            return false;
        }
        self.application_token = token.clone();
        true
    }

    /// Reads the `auth[...]` block of an `OnAppInstall` event (parsed with
    /// [`imconnector_form::parse`] or from JSON): `member_id`, `application_token`,
    /// `access_token`, `refresh_token` and `client_endpoint` are required; `expires` (or
    /// `expires_in`), `domain`, `server_endpoint`, `scope`, `status` and `user_id` are kept.
    ///
    /// # Errors
    /// [`InstallEventError::Missing`] naming the first missing field.
    pub fn from_install_event(event: &Value) -> Result<Self, InstallEventError> {
        let auth = event
            .get("auth")
            .and_then(Value::as_object)
            .ok_or(InstallEventError::Missing("auth"))?;
        let text = |key: &str| -> Option<String> {
            match auth.get(key)? {
                Value::String(text) if !text.trim().is_empty() => Some(text.trim().to_owned()),
                Value::Number(number) => Some(number.to_string()),
                _ => None,
            }
        };
        let required = |key: &'static str| text(key).ok_or(InstallEventError::Missing(key));
        let member_id = required("member_id")?;
        let application_token = required("application_token")?;
        let mut tokens = Tokens::new(required("access_token")?, required("refresh_token")?)
            .with_client_endpoint(required("client_endpoint")?)
            .with_member_id(member_id.clone());
        let number = |key: &str| text(key).and_then(|value| value.parse::<u64>().ok());
        if let Some(unix) = number("expires") {
            tokens = tokens.with_expires_at(UNIX_EPOCH + Duration::from_secs(unix));
        } else if let Some(seconds) = number("expires_in") {
            tokens = tokens.with_expires_in(Duration::from_secs(seconds));
        }
        if let Some(scope) = text("scope") {
            tokens = tokens.with_scope(scope);
        }
        if let Some(user_id) = text("user_id") {
            tokens = tokens.with_user_id(user_id);
        }
        tokens.server_endpoint = text("server_endpoint");
        tokens.status = text("status");
        let mut record = Self::new(member_id, application_token, tokens);
        record.domain = text("domain");
        Ok(record)
    }
}

impl fmt::Debug for PortalRecord {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("PortalRecord")
            .field("member_id", &self.member_id)
            .field("domain", &self.domain)
            .field("application_token", &"[redacted]")
            .field("tokens", &self.tokens)
            .field("app", &self.app)
            .field("oauth_server", &self.oauth_server)
            .finish()
    }
}
