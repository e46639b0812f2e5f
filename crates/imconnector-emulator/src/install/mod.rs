//! Installing and uninstalling an app the way a portal does (reference app-install.md §2–§5):
//! the UI install POST to the install URL, `installFinish`, ONAPPINSTALL (to the handlers the
//! app bound, or pushed to the install URL of an API-only app), ONAPPUNINSTALL, and the gate
//! that keeps events from an app whose installation is not finished.

pub(crate) mod authorize;
mod payload;

use std::collections::BTreeMap;
use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::snapshot::DeliveryOutcome;
use crate::state::tokens::{random_token, Grant};
use crate::state::{next_id, Binding, Portal};

pub(crate) use payload::FramePost;

/// The portal user who installs apps and authorises the code flow (the admin).
pub(crate) const INSTALLING_USER: u64 = 1;

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

fn default_lang() -> String {
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

/// The installation record of an app added with a setup.
#[derive(Debug, Clone)]
pub(crate) struct AppInstall {
    setup: AppSetup,
    state: InstallState,
    installs: u32,
    last_post: Option<InstallPost>,
}

/// Installation records by app index. Apps without one (the app present at start and those
/// from `install_app`) count as installed.
#[derive(Debug, Default)]
pub(crate) struct Installs {
    apps: BTreeMap<usize, AppInstall>,
}

/// Why an install action was refused (becomes `ControlError::InstallRefused`).
pub(crate) type Refusal = &'static str;

impl Portal {
    /// Whether events may be delivered to `app` (its installation is finished).
    pub(crate) fn receives_events(&self, app: usize) -> bool {
        self.installs
            .apps
            .get(&app)
            .is_none_or(|install| install.state == InstallState::Installed)
    }

    /// Registers a not yet installed app with `setup`.
    pub(crate) fn add_installable(&mut self, app: usize, setup: AppSetup) {
        self.installs.apps.insert(
            app,
            AppInstall {
                setup,
                state: InstallState::NotInstalled,
                installs: 0,
                last_post: None,
            },
        );
    }

    /// The public view of an app's installation.
    pub(crate) fn install_status(&self, app: usize) -> Option<InstallStatus> {
        let install = self.installs.apps.get(&app)?;
        Some(InstallStatus {
            client_id: self.apps.get(app)?.client_id.clone(),
            state: install.state,
            setup: install.setup.clone(),
            installs: install.installs,
            last_install_post: install.last_post.clone(),
        })
    }

    fn install_mut(&mut self, app: usize) -> Result<&mut AppInstall, Refusal> {
        self.installs
            .apps
            .get_mut(&app)
            .ok_or("the app was not added with an install setup")
    }

    /// Starts installing `app`. A UI app gets a fresh token pair and a new `APP_SID` and waits
    /// for `install_finish` (returns the POST to send); an API-only app is installed at once
    /// and ONAPPINSTALL is queued to its install URL (returns `None`).
    pub(crate) fn begin_install(&mut self, app: usize) -> Result<Option<FramePost>, Refusal> {
        let install = self.install_mut(app)?;
        if install.state == InstallState::Installed {
            return Err("the app is already installed (uninstall it first)");
        }
        if install.setup.only_api {
            let handler = install.setup.install_url.clone();
            let id = self.bind_install_handler(app, &handler);
            self.complete_install(app)?;
            self.queue_install_event(app, id, &handler);
            return Ok(None);
        }
        let setup = install.setup.clone();
        install.state = InstallState::AwaitingFinish;
        let tokens = self.issue_tokens(Grant {
            app,
            user: INSTALLING_USER,
        });
        let post = FramePost::build(self, app, &setup, &tokens);
        if let Some(install) = self.installs.apps.get_mut(&app) {
            install.last_post = Some(post.record.clone());
        }
        Ok(Some(post))
    }

    /// Records what the app answered to the install POST with `app_sid`.
    pub(crate) fn record_install_post(
        &mut self,
        app: usize,
        app_sid: &str,
        outcome: DeliveryOutcome,
    ) {
        let post = self
            .installs
            .apps
            .get_mut(&app)
            .and_then(|install| install.last_post.as_mut())
            .filter(|post| post.app_sid == app_sid);
        if let Some(post) = post {
            post.outcome = outcome;
        }
    }

    /// `BX24.installFinish()`: the app is installed and ONAPPINSTALL goes to every handler it
    /// bound for it.
    pub(crate) fn finish_install(&mut self, app: usize) -> Result<(), Refusal> {
        if self.install_mut(app)?.state != InstallState::AwaitingFinish {
            return Err("no install POST is waiting for installFinish");
        }
        self.complete_install(app)?;
        let handlers: Vec<(u64, String)> = self
            .bindings_of(app, "ONAPPINSTALL")
            .map(|binding| (binding.id, binding.handler.clone()))
            .collect();
        for (id, handler) in handlers {
            self.queue_install_event(app, id, &handler);
        }
        Ok(())
    }

    fn complete_install(&mut self, app: usize) -> Result<(), Refusal> {
        let install = self.install_mut(app)?;
        install.state = InstallState::Installed;
        install.installs += 1;
        Ok(())
    }

    /// Uninstalls `app`: ONAPPUNINSTALL to the handlers it bound, then its tokens revoked, its
    /// handlers, connectors (with their placements and line statuses) removed, and a new
    /// application token for the next installation.
    pub(crate) fn uninstall(&mut self, app: usize, clean: bool) -> Result<(), Refusal> {
        let install = self.install_mut(app)?;
        if install.state == InstallState::NotInstalled {
            return Err("the app is not installed");
        }
        install.state = InstallState::NotInstalled;
        let lang = install.setup.lang.clone();
        let handlers: Vec<(u64, String)> = self
            .bindings_of(app, "ONAPPUNINSTALL")
            .map(|binding| (binding.id, binding.handler.clone()))
            .collect();
        for (id, handler) in handlers {
            let body = payload::uninstall_body(self, app, id, &lang, clean);
            self.queue_event("ONAPPUNINSTALL", &handler, id, app, body);
        }
        self.tokens.revoke_app(app);
        self.bindings.retain(|binding| binding.app != app);
        let client_id = self.apps[app].client_id.clone();
        let removed: Vec<String> = self
            .registry
            .iter()
            .filter(|(_, connector)| connector.owner_client_id == client_id)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &removed {
            self.registry.remove(id);
        }
        self.statuses
            .retain(|(connector, _), _| !removed.contains(connector));
        self.apps[app].application_token = SecretString::from(random_token());
        Ok(())
    }

    fn bindings_of<'a>(&'a self, app: usize, event: &'a str) -> impl Iterator<Item = &'a Binding> {
        self.bindings
            .iter()
            .filter(move |binding| binding.app == app && binding.event == event && !binding.offline)
    }

    /// The ONAPPINSTALL → install URL row the portal adds for an API-only app.
    fn bind_install_handler(&mut self, app: usize, handler: &str) -> u64 {
        if let Some(binding) = self
            .bindings_of(app, "ONAPPINSTALL")
            .find(|binding| binding.handler == handler && binding.auth_type == 0)
        {
            return binding.id;
        }
        let id = next_id(&mut self.ids.binding);
        self.bindings.push(Binding {
            id,
            app,
            event: "ONAPPINSTALL".to_owned(),
            handler: handler.to_owned(),
            auth_type: 0,
            offline: false,
        });
        id
    }

    fn queue_install_event(&mut self, app: usize, handler_id: u64, handler: &str) {
        let user = self
            .bindings
            .iter()
            .find(|binding| binding.id == handler_id)
            .map_or(INSTALLING_USER, |binding| match binding.auth_type {
                0 => INSTALLING_USER,
                user => user,
            });
        let lang = self
            .installs
            .apps
            .get(&app)
            .map_or_else(default_lang, |install| install.setup.lang.clone());
        let body = payload::install_body(self, app, handler_id, user, &lang);
        self.queue_event("ONAPPINSTALL", handler, handler_id, app, body);
    }

    /// The redirect target of `/oauth/authorize/` for `app`, if it is installed and has one.
    pub(crate) fn redirect_target(&self, app: usize) -> Result<Option<String>, Refusal> {
        if !self.receives_events(app) {
            return Err("the application is not installed on this portal");
        }
        Ok(self.installs.apps.get(&app).map(|install| {
            install
                .setup
                .redirect_url
                .clone()
                .unwrap_or_else(|| install.setup.handler_url.clone())
        }))
    }

    /// The application token in clear (for payloads).
    pub(crate) fn application_token(&self, app: usize) -> String {
        self.apps[app].application_token.expose_secret().to_owned()
    }
}

/// The JSON of an install status for the HTTP control API (secrets in clear on purpose).
pub(crate) fn status_json(status: &InstallStatus) -> Value {
    serde_json::to_value(status).unwrap_or(Value::Null)
}
