//! Methods of the `basic` scope every token has: `user.admin`, `profile` and `app.info`, which
//! an app asks to learn who opened it and whether it is installed (b24restdocs
//! `common/users/user-admin.md`, `common/system/app-info.md`; `profile` as the portal's
//! `CRestProvider::getProfile` answers it).

use serde_json::{json, Map, Value};

use super::auth::Caller;
use crate::config::RateLimit;
use crate::envelope::Outcome;
use crate::php::Params;
use crate::state::tokens::SCOPE;
use crate::state::Portal;

/// The plan the emulated portal reports, `(LICENSE_TYPE, LICENSE_FAMILY)` (`LICENSE` is the
/// portal's language, `_`, the type): Enterprise when the portal runs the Enterprise bucket
/// (`limits.md`: 250 + 5/s), Professional otherwise.
fn plan(portal: &Portal) -> (&'static str, &'static str) {
    match portal.settings().rate_limit {
        RateLimit::Enterprise => ("ent250", "ent"),
        _ => ("pro100", "pro"),
    }
}
/// The portal's language when the app's setup names none.
const PORTAL_LANGUAGE: &str = "en";

/// Whether the caller's user is an administrator of the portal.
fn is_admin(portal: &Portal, caller: Caller) -> bool {
    portal.user(caller.user()).is_some_and(|user| user.admin)
}

/// `user.admin`: `true` when the calling user may manage apps (a portal administrator).
pub(crate) fn user_admin(portal: &mut Portal, caller: Caller, _params: Params) -> Outcome {
    Outcome::Ok(Value::Bool(is_admin(portal, caller)))
}

/// `profile`: the calling user. `ID` is a string as the portal's user row gives it; the
/// portal leaves `PERSONAL_PHOTO` out when the user has none, and answers `[]` for a user it
/// does not know (an inactive one).
pub(crate) fn profile(portal: &mut Portal, caller: Caller, _params: Params) -> Outcome {
    let Some(user) = portal.user(caller.user()) else {
        return Outcome::Ok(json!([]));
    };
    let (name, last_name) = user.name.split_once(' ').unwrap_or((&user.name, ""));
    Outcome::Ok(json!({
        "ID": user.id.to_string(),
        "ADMIN": user.admin,
        "NAME": name,
        "LAST_NAME": last_name,
        "PERSONAL_GENDER": "",
        "TIME_ZONE": "",
        "TIME_ZONE_OFFSET": 0,
    }))
}

/// Every scope the emulated portal knows (`scope` with `full=true`).
pub(crate) const ALL_SCOPES: [&str; 2] = ["imconnector", "imopenlines"];

/// `scope`: the scopes of the calling app (the webhook's for the webhook); every known one with
/// `full=true`.
pub(crate) fn scope(portal: &mut Portal, caller: Caller, params: Params) -> Outcome {
    let params = crate::php::upper_keys(&params);
    if crate::php::truthy(params.get("FULL")) {
        return Outcome::Ok(json!(ALL_SCOPES));
    }
    let granted: Vec<String> = match caller.app() {
        Some(app) => portal.app(app).scope.clone(),
        None => SCOPE.split(',').map(str::to_owned).collect(),
    };
    Outcome::Ok(json!(granted))
}

/// `methods`: the methods the calling app may call (`basic` ones included); with `scope=X`
/// those of scope X (`scope=` empty: the common ones); every method with `full=true`.
pub(crate) fn methods(portal: &mut Portal, caller: Caller, params: Params) -> Outcome {
    let params = crate::php::upper_keys(&params);
    let names = if crate::php::truthy(params.get("FULL")) {
        super::methods_granted(&|_| true)
    } else if let Some(value) = params.get("SCOPE") {
        let wanted = crate::php::to_text(Some(value)).unwrap_or_default();
        super::methods_granted(&|_| false)
            .into_iter()
            .filter(|_| wanted.is_empty())
            .chain(
                super::methods_granted(&|scope| scope == wanted)
                    .into_iter()
                    .filter(|name| super::scope_of(name).is_some()),
            )
            .collect()
    } else {
        match caller.app() {
            Some(app) => super::methods_granted(&|scope| portal.app(app).has_scope(scope)),
            None => super::methods_granted(&|scope| SCOPE.split(',').any(|own| own == scope)),
        }
    };
    Outcome::Ok(json!(names))
}

/// `app.info`: for an app's token the app's row (`INSTALLED` false until `installFinish`);
/// for the incoming webhook only its scope and the plan, as the portal answers a webhook.
pub(crate) fn app_info(portal: &mut Portal, caller: Caller, _params: Params) -> Outcome {
    let language = caller
        .app()
        .and_then(|app| portal.install_status(app))
        .map_or_else(|| PORTAL_LANGUAGE.to_owned(), |status| status.setup.lang);
    let (license_type, license_family) = plan(portal);
    let license = format!("{language}_{license_type}");
    let Some(app) = caller.app() else {
        let scope: Vec<&str> = SCOPE.split(',').collect();
        return Outcome::Ok(json!({ "SCOPE": scope, "LICENSE": license }));
    };
    let mut info = Map::new();
    // The portal's row id of a local app; its code is the client id.
    info.insert("ID".to_owned(), json!(app + 1));
    info.insert("CODE".to_owned(), json!(portal.app(app).client_id));
    info.insert("VERSION".to_owned(), json!(portal.app(app).version));
    info.insert("STATUS".to_owned(), json!("L"));
    info.insert("INSTALLED".to_owned(), json!(portal.receives_events(app)));
    info.insert("PAYMENT_EXPIRED".to_owned(), json!("N"));
    info.insert("DAYS".to_owned(), Value::Null);
    info.insert("LANGUAGE_ID".to_owned(), json!(language));
    info.insert("LICENSE".to_owned(), json!(license));
    info.insert("LICENSE_TYPE".to_owned(), json!(license_type));
    info.insert("LICENSE_FAMILY".to_owned(), json!(license_family));
    Outcome::Ok(Value::Object(info))
}
