//! Methods of the `basic` scope every token has: `user.admin`, `profile` and `app.info`, which
//! an app asks to learn who opened it and whether it is installed (b24restdocs
//! `common/users/user-admin.md`, `common/system/app-info.md`; `profile` as the portal's
//! `CRestProvider::getProfile` answers it).

use serde_json::{json, Map, Value};

use super::auth::Caller;
use crate::envelope::Outcome;
use crate::php::Params;
use crate::state::tokens::SCOPE;
use crate::state::Portal;

/// The plan the emulated portal reports (`LICENSE` is the portal's language, `_`, the plan).
const LICENSE_TYPE: &str = "pro100";
const LICENSE_FAMILY: &str = "pro";
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

/// `app.info`: for an app's token the app's row (`INSTALLED` false until `installFinish`);
/// for the incoming webhook only its scope and the plan, as the portal answers a webhook.
pub(crate) fn app_info(portal: &mut Portal, caller: Caller, _params: Params) -> Outcome {
    let language = caller
        .app()
        .and_then(|app| portal.install_status(app))
        .map_or_else(|| PORTAL_LANGUAGE.to_owned(), |status| status.setup.lang);
    let license = format!("{language}_{LICENSE_TYPE}");
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
    info.insert("LICENSE_TYPE".to_owned(), json!(LICENSE_TYPE));
    info.insert("LICENSE_FAMILY".to_owned(), json!(LICENSE_FAMILY));
    Outcome::Ok(Value::Object(info))
}
