//! The public types of installation: the app's form values, its install state, the install
//! POST as sent.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::snapshot::DeliveryOutcome;

/// How a local app is set up in the portal's "Local application" form (reference §1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AppSetup {
    /// "Handler path" (`URL`): the app page; also where `/oauth/authorize/` redirects unless
    /// [`AppSetup::redirect_url`] is set.
    pub handler_url: String,
    /// "Initial installation path" (`URL_INSTALL`): the wizard page of a UI app (receives the
    /// install POST) or the install callback of an API-only app (receives ONAPPINSTALL).
    pub install_url: String,
    /// "Uses API only" (`ONLY_API`): installed at once, ONAPPINSTALL pushed to `install_url`.
    #[serde(default)]
    pub only_api: bool,
    /// Where `/oauth/authorize/` redirects (default: `handler_url`).
    #[serde(default)]
    pub redirect_url: Option<String>,
    /// Send the install POST in the older shape, without `SERVER_ENDPOINT`,
    /// `APPLICATION_TOKEN` and `APPLICATION_SCOPE` (reference §2, CONFLICT).
    #[serde(default)]
    pub legacy_install_post: bool,
    /// `PLACEMENT_OPTIONS` of the install POST; the field is left out when `None`, as the
    /// portal's template leaves out an empty value.
    #[serde(default)]
    pub placement_options: Option<String>,
    /// `LANG` of the install POST and `data[LANGUAGE_ID]` of the lifecycle events.
    #[serde(default = "default_lang")]
    pub lang: String,
}

pub(crate) fn default_lang() -> String {
    "en".to_owned()
}

impl AppSetup {
    /// A UI app: the install POST goes to `install_url`, installation ends with
    /// `install_finish`.
    pub fn ui(handler_url: impl Into<String>, install_url: impl Into<String>) -> Self {
        Self {
            handler_url: handler_url.into(),
            install_url: install_url.into(),
            only_api: false,
            redirect_url: None,
            legacy_install_post: false,
            placement_options: None,
            lang: default_lang(),
        }
    }

    /// An API-only app: installing pushes ONAPPINSTALL to `install_url`.
    pub fn api_only(handler_url: impl Into<String>, install_url: impl Into<String>) -> Self {
        Self {
            only_api: true,
            ..Self::ui(handler_url, install_url)
        }
    }

    /// Sets where `/oauth/authorize/` redirects.
    #[must_use]
    pub fn with_redirect_url(mut self, url: impl Into<String>) -> Self {
        self.redirect_url = Some(url.into());
        self
    }

    /// Sends the install POST in the older shape (no `SERVER_ENDPOINT`, `APPLICATION_TOKEN`,
    /// `APPLICATION_SCOPE`).
    #[must_use]
    pub fn with_legacy_install_post(mut self) -> Self {
        self.legacy_install_post = true;
        self
    }

    /// Sets `PLACEMENT_OPTIONS` (a JSON string) of the install POST.
    #[must_use]
    pub fn with_placement_options(mut self, options: impl Into<String>) -> Self {
        self.placement_options = Some(options.into());
        self
    }

    /// Sets `LANG` / `data[LANGUAGE_ID]`.
    #[must_use]
    pub fn with_lang(mut self, lang: impl Into<String>) -> Self {
        self.lang = lang.into();
        self
    }

    /// Checks that every URL is an absolute http(s) URL.
    pub(crate) fn check(&self) -> Result<(), String> {
        let urls = [
            ("handler_url", Some(&self.handler_url)),
            ("install_url", Some(&self.install_url)),
            ("redirect_url", self.redirect_url.as_ref()),
        ];
        for (name, url) in urls {
            let Some(url) = url else { continue };
            let valid =
                url::Url::parse(url).is_ok_and(|url| matches!(url.scheme(), "http" | "https"));
            if !valid {
                return Err(format!("{name} is not an http(s) URL"));
            }
        }
        Ok(())
    }
}

/// Where an app is in its installation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum InstallState {
    /// Added but never installed, or uninstalled.
    NotInstalled,
    /// A UI app whose install POST was sent; `install_finish` has not been called. Its tokens
    /// work, but no event is delivered to it.
    AwaitingFinish,
    /// Installed: events are delivered.
    Installed,
}

/// The UI install POST as sent to the app (the body holds tokens: `Debug` redacts it).
#[derive(Clone, Serialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct InstallPost {
    /// The full URL POSTed to, query string included.
    pub url: String,
    /// `APP_SID` of this render.
    pub app_sid: String,
    /// The form-encoded body exactly as POSTed.
    pub body: String,
    /// What the app answered.
    pub outcome: DeliveryOutcome,
}

impl InstallPost {
    /// The body parsed as a flat form (every value a string).
    pub fn form(&self) -> BTreeMap<String, String> {
        form_urlencoded::parse(self.body.as_bytes())
            .into_owned()
            .collect()
    }

    /// The query string of [`InstallPost::url`] (`DOMAIN`, `PROTOCOL`, `LANG`, `APP_SID`).
    pub fn query(&self) -> BTreeMap<String, String> {
        url::Url::parse(&self.url)
            .map(|url| url.query_pairs().into_owned().collect())
            .unwrap_or_default()
    }
}

impl fmt::Debug for InstallPost {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("InstallPost")
            .field("url", &self.url)
            .field("app_sid", &self.app_sid)
            .field(
                "body",
                &format_args!("<{} bytes, redacted>", self.body.len()),
            )
            .field("outcome", &self.outcome)
            .finish()
    }
}

/// An app's installation as the portal sees it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct InstallStatus {
    /// The app.
    pub client_id: String,
    /// Where it is.
    pub state: InstallState,
    /// The form values it was added with.
    pub setup: AppSetup,
    /// How many times installation was completed (2 after a reinstall).
    pub installs: u32,
    /// The last UI install POST, if one was sent since the app was added.
    pub last_install_post: Option<InstallPost>,
}
