//! The bodies the portal sends while installing: the UI install POST (reference app-install.md
//! §2), ONAPPINSTALL (§3) and ONAPPUNINSTALL (§4), in the portal's field order.

use secrecy::ExposeSecret;

use crate::install::{AppSetup, InstallPost};
use crate::snapshot::{DeliveryOutcome, Tokens};
use crate::state::tokens::Grant;
use crate::state::Portal;

/// `status` of a local app.
const STATUS: &str = "L";

/// A frame POST (an app page opened in the portal) ready to send.
pub(crate) struct FramePost {
    /// What is recorded (outcome `Pending` until the app answers).
    pub(crate) record: InstallPost,
}

/// What a frame POST carries besides the viewing user's tokens.
pub(crate) struct Frame<'a> {
    /// The page's URL (the query string is added).
    pub(crate) url: &'a str,
    pub(crate) lang: &'a str,
    /// `PLACEMENT`: `DEFAULT` for the app page, `SETTING_CONNECTOR` for a connector's settings.
    pub(crate) placement: &'a str,
    /// `PLACEMENT_OPTIONS` (a JSON string), left out when `None`.
    pub(crate) options: Option<&'a str>,
    /// The newer shape: `SERVER_ENDPOINT` and `APPLICATION_SCOPE` (and the token below).
    pub(crate) app_fields: bool,
    /// `APPLICATION_TOKEN` (only in the newer shape).
    pub(crate) application_token: bool,
}

impl FramePost {
    /// The UI install POST of the admin opening a not yet installed app.
    pub(crate) fn install(
        portal: &Portal,
        app: usize,
        setup: &AppSetup,
        tokens: &Tokens,
        app_sid: String,
    ) -> Self {
        let frame = Frame {
            url: &setup.install_url,
            lang: &setup.lang,
            placement: "DEFAULT",
            options: setup.placement_options.as_deref(),
            app_fields: !setup.legacy_install_post,
            application_token: !setup.legacy_install_post,
        };
        Self::build(portal, app, &frame, tokens, app_sid)
    }

    /// A frame POST: query `DOMAIN`, `PROTOCOL`, `LANG`, `APP_SID` on the page's URL; the
    /// viewing user's tokens in the body, in the portal's field order.
    pub(crate) fn build(
        portal: &Portal,
        app: usize,
        frame: &Frame<'_>,
        tokens: &Tokens,
        app_sid: String,
    ) -> Self {
        let protocol = if portal.urls.base.starts_with("https://") {
            "1"
        } else {
            "0"
        };
        let url = match url::Url::parse(frame.url) {
            Ok(mut url) => {
                url.query_pairs_mut()
                    .append_pair("DOMAIN", &portal.urls.domain)
                    .append_pair("PROTOCOL", protocol)
                    .append_pair("LANG", frame.lang)
                    .append_pair("APP_SID", &app_sid);
                url.to_string()
            }
            // Checked when the app was added; kept as is if it somehow is not a URL.
            Err(_) => frame.url.to_owned(),
        };
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("AUTH_ID", tokens.access_token.expose_secret())
            .append_pair("AUTH_EXPIRES", &tokens.expires_in.to_string())
            .append_pair("REFRESH_ID", tokens.refresh_token.expose_secret())
            .append_pair("member_id", &portal.member_id)
            .append_pair("status", STATUS)
            .append_pair("PLACEMENT", frame.placement);
        if let Some(options) = frame.options {
            form.append_pair("PLACEMENT_OPTIONS", options);
        }
        if frame.app_fields {
            form.append_pair("SERVER_ENDPOINT", &portal.urls.rest);
            if frame.application_token {
                form.append_pair("APPLICATION_TOKEN", &portal.application_token(app));
            }
            form.append_pair("APPLICATION_SCOPE", &portal.apps[app].scope_text());
        }
        Self {
            record: InstallPost {
                url,
                app_sid,
                body: form.finish(),
                outcome: DeliveryOutcome::Pending,
            },
        }
    }
}

#[allow(clippy::cast_possible_truncation)] // unix seconds
fn unix(seconds: f64) -> String {
    (seconds.floor() as i64).to_string()
}

/// ONAPPINSTALL with the full `auth[...]` block, refresh token included.
pub(crate) fn install_body(
    portal: &mut Portal,
    app: usize,
    handler_id: u64,
    user: u64,
    lang: &str,
) -> String {
    let version = portal.app(app).version.to_string();
    let data = [
        ("VERSION", version.as_str()),
        ("ACTIVE", "Y"),
        ("INSTALLED", "Y"),
        ("LANGUAGE_ID", lang),
    ];
    lifecycle_body(portal, "ONAPPINSTALL", app, handler_id, user, &data)
}

/// ONAPPUPDATE (`common/events/on-app-update.md`): the versions and, in `auth`, a fresh pair
/// and the app's new application token.
pub(crate) fn update_body(
    portal: &mut Portal,
    app: usize,
    handler_id: u64,
    user: u64,
    lang: &str,
    previous_version: u32,
) -> String {
    let version = portal.app(app).version.to_string();
    let previous = previous_version.to_string();
    let data = [
        ("VERSION", version.as_str()),
        ("PREVIOUS_VERSION", previous.as_str()),
        ("LANGUAGE_ID", lang),
    ];
    lifecycle_body(portal, "ONAPPUPDATE", app, handler_id, user, &data)
}

/// An app lifecycle event with the full `auth[...]` block, refresh token included.
fn lifecycle_body(
    portal: &mut Portal,
    event: &str,
    app: usize,
    handler_id: u64,
    user: u64,
    data: &[(&str, &str)],
) -> String {
    let tokens = portal.issue_tokens(Grant { app, user });
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("event", event)
        .append_pair("event_handler_id", &handler_id.to_string());
    for (key, value) in data {
        form.append_pair(&format!("data[{key}]"), value);
    }
    form.append_pair("ts", &unix(portal.now));
    let auth = [
        (
            "access_token",
            tokens.access_token.expose_secret().to_owned(),
        ),
        ("expires", tokens.expires.to_string()),
        ("expires_in", tokens.expires_in.to_string()),
        ("scope", portal.apps[app].scope_text()),
        ("domain", portal.urls.domain.clone()),
        ("server_endpoint", portal.urls.rest.clone()),
        ("status", STATUS.to_owned()),
        ("client_endpoint", portal.urls.rest.clone()),
        ("member_id", portal.member_id.clone()),
        ("user_id", user.to_string()),
        (
            "refresh_token",
            tokens.refresh_token.expose_secret().to_owned(),
        ),
        ("application_token", portal.application_token(app)),
    ];
    for (key, value) in auth {
        form.append_pair(&format!("auth[{key}]"), &value);
    }
    form.finish()
}

/// ONAPPUNINSTALL: no tokens; `auth` has exactly five keys.
pub(crate) fn uninstall_body(
    portal: &Portal,
    app: usize,
    handler_id: u64,
    lang: &str,
    clean: bool,
) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("event", "ONAPPUNINSTALL")
        .append_pair("event_handler_id", &handler_id.to_string())
        .append_pair("data[LANGUAGE_ID]", lang)
        .append_pair("data[CLEAN]", if clean { "1" } else { "0" })
        .append_pair("ts", &unix(portal.now))
        .append_pair("auth[domain]", &portal.urls.domain)
        .append_pair("auth[client_endpoint]", &portal.urls.rest)
        .append_pair("auth[server_endpoint]", &portal.urls.rest)
        .append_pair("auth[member_id]", &portal.member_id)
        .append_pair("auth[application_token]", &portal.application_token(app));
    form.finish()
}
