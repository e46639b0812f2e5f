//! Installing apps from the handle and over HTTP (`/_emulator/local-apps`,
//! `/_emulator/apps/{client_id}/...`).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;

use super::respond::{app_json, failure, install_status_json};
use super::{ControlError, EmulatorHandle};
use crate::delivery::post as post_form;
use crate::install::{AppSetup, InstallPost, InstallStatus};
use crate::snapshot::AppCredentials;
use crate::state::{Portal, Shared};

fn app_index(portal: &Portal, client_id: &str) -> Result<usize, ControlError> {
    portal
        .app_index(client_id)
        .ok_or_else(|| ControlError::UnknownApp(client_id.to_owned()))
}

fn refused(client_id: &str, reason: &str) -> ControlError {
    ControlError::InstallRefused {
        client_id: client_id.to_owned(),
        reason: reason.to_owned(),
    }
}

impl EmulatorHandle {
    /// Adds a local app with the form values of `setup` (new `client_id`, `client_secret`,
    /// `application_token`), not installed yet: see [`EmulatorHandle::install`].
    ///
    /// # Errors
    /// [`ControlError::InvalidSetting`] when a URL is not an absolute http(s) URL.
    pub fn add_app(&self, setup: AppSetup) -> Result<AppCredentials, ControlError> {
        setup.check().map_err(ControlError::InvalidSetting)?;
        Ok(self.shared.run(|portal| {
            let app = portal.add_app(Some(setup));
            Self::credentials(portal, app)
        }))
    }

    /// Installs an app added with [`EmulatorHandle::add_app`], as the admin (user 1).
    ///
    /// - UI app: the admin opens it: the install POST (fresh token pair, new `APP_SID`) goes to
    ///   the install URL and this call returns once the app answered (the outcome is in
    ///   [`InstallStatus::last_install_post`]). The app stays
    ///   [`AwaitingFinish`](crate::InstallState::AwaitingFinish), receiving no events, until
    ///   [`EmulatorHandle::install_finish`]. Calling this again re-opens the wizard.
    /// - API-only app: installed at once; ONAPPINSTALL is queued to the install URL (await it
    ///   with [`EmulatorHandle::wait_for_event_deliveries`]).
    ///
    /// # Errors
    /// [`ControlError::UnknownApp`]; [`ControlError::InstallRefused`] when the app is installed
    /// already or was not added with a setup.
    pub async fn install(&self, client_id: &str) -> Result<InstallStatus, ControlError> {
        let (app, post) = self.shared.run(|portal| {
            let app = app_index(portal, client_id)?;
            let post = portal
                .begin_install(app)
                .map_err(|reason| refused(client_id, reason))?;
            Ok::<_, ControlError>((app, post))
        })?;
        if let Some(post) = post {
            let record = post.record;
            let outcome = post_form(self.shared.http(), &record.url, record.body).await;
            self.shared
                .lock()
                .record_install_post(app, &record.app_sid, outcome);
        }
        self.install_status(client_id)
    }

    /// What the page's `BX24.installFinish()` does: the UI app becomes installed and
    /// ONAPPINSTALL (with a new token pair) is queued to every handler it bound for it.
    ///
    /// # Errors
    /// [`ControlError::UnknownApp`]; [`ControlError::InstallRefused`] when no install POST is
    /// waiting for it (never opened, already finished, or an API-only app).
    pub fn install_finish(&self, client_id: &str) -> Result<InstallStatus, ControlError> {
        self.shared.run(|portal| {
            let app = app_index(portal, client_id)?;
            portal
                .finish_install(app)
                .map_err(|reason| refused(client_id, reason))?;
            Self::status_of(portal, client_id, app)
        })
    }

    /// Uninstalls an app: ONAPPUNINSTALL (`data[CLEAN]` = `clean`) is queued to the handlers it
    /// bound for it, then its tokens are revoked, its event handlers, connectors and their
    /// placements and line statuses removed, and it gets a new application token for the next
    /// installation. The `client_id` and `client_secret` stay.
    ///
    /// # Errors
    /// [`ControlError::UnknownApp`]; [`ControlError::InstallRefused`] when it is not installed
    /// or was not added with a setup.
    pub fn uninstall(&self, client_id: &str, clean: bool) -> Result<InstallStatus, ControlError> {
        self.shared.run(|portal| {
            let app = app_index(portal, client_id)?;
            portal
                .uninstall(app, clean)
                .map_err(|reason| refused(client_id, reason))?;
            Self::status_of(portal, client_id, app)
        })
    }

    /// Updates an installed app to its next version, as publishing a new version does:
    /// ONAPPUPDATE (`data[VERSION]`, `data[PREVIOUS_VERSION]`, a fresh token pair and the
    /// app's **new** application token) is queued to the handlers it bound for it, then all
    /// of its event handlers are removed (the portal removes an app's bindings on an update;
    /// its installer must bind them again). Events signed with the old application token are
    /// no longer sent; connectors, statuses and tokens stay. Returns the new `VERSION`
    /// (`app.info` shows it). Await the event with
    /// [`EmulatorHandle::wait_for_event_deliveries`].
    ///
    /// # Errors
    /// [`ControlError::UnknownApp`]; [`ControlError::InstallRefused`] when an app added with a
    /// setup is not installed.
    pub fn update_app(&self, client_id: &str) -> Result<u32, ControlError> {
        self.shared.run(|portal| {
            let app = app_index(portal, client_id)?;
            portal
                .update_app(app)
                .map_err(|reason| refused(client_id, reason))
        })
    }

    /// The administrator clicks *Connect* for `connector` on `line` in the contact center:
    /// the status row's `ACTIVE` is set (only that: the app must call `imconnector.activate`
    /// to reach `STATUS`), then the connector's settings page (its `PLACEMENT_HANDLER`) is
    /// POSTed as the portal opens it in a frame: `PLACEMENT=SETTING_CONNECTOR`,
    /// `PLACEMENT_OPTIONS` (JSON: `CONNECTOR`, `LINE`, `ACTIVE_STATUS`, `CONNECTION_STATUS`,
    /// `REGISTER_STATUS`, `ERROR_STATUS`, `STATUS`), a fresh pair of the administrator's, and
    /// `APPLICATION_TOKEN` unless [`SettingsPostShape::WithoutApplicationToken`] is set
    /// ([`EmulatorHandle::set_settings_post_shape`]). Returns the POST with the app's answer.
    ///
    /// [`SettingsPostShape::WithoutApplicationToken`]: crate::SettingsPostShape
    ///
    /// # Errors
    /// [`ControlError::UnknownConnector`], [`ControlError::UnknownLine`].
    pub async fn connect_connector(
        &self,
        connector: &str,
        line: i64,
    ) -> Result<InstallPost, ControlError> {
        self.settings_page(connector, line, true).await
    }

    /// The administrator clicks *Disconnect*: `ACTIVE` is cleared and the settings page is
    /// POSTed as for [`EmulatorHandle::connect_connector`].
    ///
    /// # Errors
    /// [`ControlError::UnknownConnector`], [`ControlError::UnknownLine`].
    pub async fn disconnect_connector(
        &self,
        connector: &str,
        line: i64,
    ) -> Result<InstallPost, ControlError> {
        self.settings_page(connector, line, false).await
    }

    async fn settings_page(
        &self,
        connector: &str,
        line: i64,
        active: bool,
    ) -> Result<InstallPost, ControlError> {
        let connector = crate::php::connector_real_id(connector);
        let mut post = self
            .shared
            .run(|portal| portal.open_settings_page(&connector, line, active))?;
        post.outcome = post_form(self.shared.http(), &post.url, post.body.clone()).await;
        Ok(post)
    }

    /// Replaces the scopes granted to an app, e.g. `&["imopenlines"]` to take `imconnector`
    /// away: its calls of a method outside them answer 401 `insufficient_scope` (inside a
    /// `batch`, in `result_error`); `scope` and `methods` answer accordingly and tokens carry
    /// the new list. `basic` methods always work.
    ///
    /// # Errors
    /// [`ControlError::UnknownApp`]; [`ControlError::InvalidSetting`] for a scope the emulator
    /// does not know (it knows `imconnector` and `imopenlines`).
    pub fn set_app_scope(&self, client_id: &str, scope: &[&str]) -> Result<(), ControlError> {
        if let Some(unknown) = scope
            .iter()
            .find(|scope| !crate::rest::ALL_SCOPES.contains(scope))
        {
            return Err(ControlError::InvalidSetting(format!(
                "scope: unknown scope {unknown:?}"
            )));
        }
        let scope = scope.iter().map(|scope| (*scope).to_owned()).collect();
        self.shared.run(|portal| {
            let app = app_index(portal, client_id)?;
            portal.set_scope(app, scope);
            Ok(())
        })
    }

    /// The installation state of an app added with [`EmulatorHandle::add_app`].
    ///
    /// # Errors
    /// [`ControlError::UnknownApp`]; [`ControlError::InstallRefused`] for apps without a setup.
    pub fn install_status(&self, client_id: &str) -> Result<InstallStatus, ControlError> {
        self.read(|portal| {
            let app = app_index(portal, client_id)?;
            Self::status_of(portal, client_id, app)
        })
    }

    /// `http://127.0.0.1:PORT/oauth/authorize/?client_id=…&state=…`, the page a browser opens
    /// to start the code flow.
    pub fn authorize_url(&self, client_id: &str, state: &str) -> String {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", client_id)
            .append_pair("state", state)
            .finish();
        format!("{}/oauth/authorize/?{query}", self.shared.urls.base)
    }

    fn status_of(
        portal: &Portal,
        client_id: &str,
        app: usize,
    ) -> Result<InstallStatus, ControlError> {
        portal
            .install_status(app)
            .ok_or_else(|| refused(client_id, "the app was not added with an install setup"))
    }
}

type SharedState = State<Arc<Shared>>;

/// The install routes, merged into the control router.
pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/local-apps", post(add_app))
        .route("/apps/{client_id}/install", get(status).post(install))
        .route("/apps/{client_id}/install-finish", post(install_finish))
        .route("/apps/{client_id}/uninstall", post(uninstall))
        .route("/apps/{client_id}/update", post(update))
        .route("/apps/{client_id}/scope", put(set_scope))
        .route(
            "/connectors/{connector}/lines/{line}/connect",
            post(connect),
        )
        .route(
            "/connectors/{connector}/lines/{line}/disconnect",
            post(disconnect),
        )
}

fn handle(shared: Arc<Shared>) -> EmulatorHandle {
    EmulatorHandle { shared }
}

/// The status with the install POST's query and form parsed, secrets in clear.
fn status_reply(result: Result<InstallStatus, ControlError>) -> Response {
    match result {
        Ok(status) => Json(install_status_json(&status)).into_response(),
        Err(error) => failure(&error),
    }
}

async fn add_app(State(shared): SharedState, Json(setup): Json<AppSetup>) -> Response {
    match handle(shared).add_app(setup) {
        Ok(app) => Json(app_json(&app)).into_response(),
        Err(error) => failure(&error),
    }
}

async fn status(State(shared): SharedState, Path(client_id): Path<String>) -> Response {
    status_reply(handle(shared).install_status(&client_id))
}

async fn install(State(shared): SharedState, Path(client_id): Path<String>) -> Response {
    status_reply(handle(shared).install(&client_id).await)
}

async fn install_finish(State(shared): SharedState, Path(client_id): Path<String>) -> Response {
    status_reply(handle(shared).install_finish(&client_id))
}

async fn update(State(shared): SharedState, Path(client_id): Path<String>) -> Response {
    match handle(shared).update_app(&client_id) {
        Ok(version) => Json(serde_json::json!({ "version": version })).into_response(),
        Err(error) => failure(&error),
    }
}

/// The settings-page POST as sent, with its query and form parsed (secrets in clear: tests).
fn frame_post_reply(result: Result<InstallPost, ControlError>) -> Response {
    match result {
        Ok(post) => {
            let mut value = serde_json::to_value(&post).unwrap_or_default();
            if let serde_json::Value::Object(map) = &mut value {
                map.insert("query".to_owned(), serde_json::json!(post.query()));
                map.insert("form".to_owned(), serde_json::json!(post.form()));
            }
            Json(value).into_response()
        }
        Err(error) => failure(&error),
    }
}

async fn connect(
    State(shared): SharedState,
    Path((connector, line)): Path<(String, i64)>,
) -> Response {
    frame_post_reply(handle(shared).connect_connector(&connector, line).await)
}

async fn disconnect(
    State(shared): SharedState,
    Path((connector, line)): Path<(String, i64)>,
) -> Response {
    frame_post_reply(handle(shared).disconnect_connector(&connector, line).await)
}

async fn set_scope(
    State(shared): SharedState,
    Path(client_id): Path<String>,
    Json(scope): Json<Vec<String>>,
) -> Response {
    let scope: Vec<&str> = scope.iter().map(String::as_str).collect();
    match handle(shared).set_app_scope(&client_id, &scope) {
        Ok(()) => Json(serde_json::json!({ "scope": scope })).into_response(),
        Err(error) => failure(&error),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Uninstall {
    clean: bool,
}

async fn uninstall(
    State(shared): SharedState,
    Path(client_id): Path<String>,
    body: Option<Json<Uninstall>>,
) -> Response {
    let clean = body.is_some_and(|Json(body)| body.clean);
    status_reply(handle(shared).uninstall(&client_id, clean))
}
