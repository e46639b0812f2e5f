//! The install state of apps and its transitions, the way a portal installs and uninstalls
//! (reference app-install.md §2–§5): the UI install POST to the install URL, `installFinish`,
//! ONAPPINSTALL (to the handlers the app bound, or pushed to the install URL of an API-only
//! app), ONAPPUNINSTALL, the gate that keeps events from an app whose installation is not
//! finished, and the code of `/oauth/authorize/`.

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};

use crate::install::{default_lang, AppSetup, InstallPost, InstallState, InstallStatus};
use crate::snapshot::DeliveryOutcome;
use crate::state::install_bodies::{self as payload, FramePost};
use crate::state::tokens::{random_token, Grant, OAUTH_DOMAIN};
use crate::state::Portal;

/// The portal user who installs apps and authorises the code flow (the admin).
pub(crate) const INSTALLING_USER: u64 = 1;

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
        let app_sid = random_token(&mut self.rng);
        let post = FramePost::install(self, app, &setup, &tokens, app_sid);
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

    /// Uninstalls `app`: ONAPPUNINSTALL to the handlers it bound, then its connectors removed
    /// with their placements and line statuses (a StatusDelete for each status row, while the
    /// app's handlers still exist), its tokens revoked, its handlers removed, and a new
    /// application token for the next installation.
    pub(crate) fn uninstall(&mut self, app: usize, clean: bool) -> Result<(), Refusal> {
        let install = self.install_mut(app)?;
        if install.state == InstallState::NotInstalled {
            return Err("the app is not installed");
        }
        let lang = install.setup.lang.clone();
        let handlers: Vec<(u64, String)> = self
            .bindings_of(app, "ONAPPUNINSTALL")
            .map(|binding| (binding.id, binding.handler.clone()))
            .collect();
        for (id, handler) in handlers {
            let body = payload::uninstall_body(self, app, id, &lang, clean);
            self.queue_event("ONAPPUNINSTALL", &handler, id, app, body);
        }
        self.remove_connectors_of_app(app, INSTALLING_USER);
        self.install_mut(app)?.state = InstallState::NotInstalled;
        self.tokens.revoke_app(app);
        self.unbind_app(app);
        self.apps[app].application_token = SecretString::from(random_token(&mut self.rng));
        Ok(())
    }

    /// Updates installed `app` to its next version: ONAPPUPDATE (with a new application token
    /// and a fresh pair) to the handlers it bound for it, then every handler of the app
    /// removed, as the portal removes an app's bindings on an update (`event-bind.md`); the
    /// app's installer binds them again. Connectors and tokens stay. Returns the new version.
    pub(crate) fn update_app(&mut self, app: usize) -> Result<u32, Refusal> {
        let lang = match self.installs.apps.get(&app) {
            Some(install) if install.state != InstallState::Installed => {
                return Err("the app is not installed");
            }
            Some(install) => install.setup.lang.clone(),
            None => default_lang(),
        };
        let previous = self.apps[app].version;
        self.apps[app].version = previous + 1;
        self.apps[app].application_token = SecretString::from(random_token(&mut self.rng));
        let handlers: Vec<(u64, String, u64)> = self
            .bindings_of(app, "ONAPPUPDATE")
            .map(|binding| (binding.id, binding.handler.clone(), binding.auth_type))
            .collect();
        for (id, handler, auth_type) in handlers {
            let user = if auth_type == 0 {
                INSTALLING_USER
            } else {
                auth_type
            };
            let body = payload::update_body(self, app, id, user, &lang, previous);
            self.queue_event("ONAPPUPDATE", &handler, id, app, body);
        }
        self.unbind_app(app);
        Ok(previous + 1)
    }

    /// Replaces the scopes granted to `app` (as editing the app's form does); tokens carry
    /// the new list from now on.
    pub(crate) fn set_scope(&mut self, app: usize, scope: Vec<String>) {
        self.apps[app].scope = scope;
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

/// Why `/oauth/authorize/` did not redirect (shown on the error page).
pub(crate) struct Refused(pub(crate) &'static str);

impl Portal {
    /// The redirect URL with a fresh single-use code (30 emulated seconds).
    pub(crate) fn authorize(
        &mut self,
        client_id: &str,
        state: Option<&str>,
    ) -> Result<String, Refused> {
        let app = self
            .app_index(client_id)
            .ok_or(Refused("Application not found"))?;
        let target = self
            .redirect_target(app)
            .map_err(Refused)?
            .ok_or(Refused("The application has no redirect URL"))?;
        let mut url = url::Url::parse(&target).map_err(|_| Refused("Wrong redirect URL"))?;
        let code = self.issue_code(Grant {
            app,
            user: INSTALLING_USER,
        });
        let scope = self.apps[app].scope_text();
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("code", &code);
            if let Some(state) = state {
                query.append_pair("state", state);
            }
            query
                .append_pair("domain", &self.urls.domain)
                .append_pair("member_id", &self.member_id)
                .append_pair("scope", &scope)
                .append_pair("server_domain", OAUTH_DOMAIN);
        }
        Ok(url.to_string())
    }
}
