//! `event.bind`, `event.unbind`, `event.get` (reference §5.3): per-app handler bindings.

use serde_json::{json, Value};

use super::auth::{Caller, WRONG_AUTH_TYPE_CORE};
use crate::envelope::{ApiError, Outcome};
use crate::php::{self, Params};
use crate::state::events::{BASIC_EVENTS, KNOWN_EVENTS};
use crate::state::offline::DEFAULT_MIN_TIMEOUT;
use crate::state::{Duplicate, NewBinding, Portal};

pub(crate) fn app_only(caller: Caller) -> Result<usize, ApiError> {
    caller
        .app()
        .ok_or_else(|| ApiError::new(403, "WRONG_AUTH_TYPE", WRONG_AUTH_TYPE_CORE))
}

/// `event_type`: online (default) or offline.
fn offline(params: &Params) -> Result<bool, ApiError> {
    match php::to_text(params.get("EVENT_TYPE"))
        .map(|text| text.to_lowercase())
        .as_deref()
    {
        None | Some("" | "online") => Ok(false),
        Some("offline") => Ok(true),
        Some(_) => Err(ApiError::argument(
            "event_type",
            "Value must be one of {online|offline}",
        )),
    }
}

fn required_text(params: &Params, wire: &str) -> Result<String, ApiError> {
    let value = params.get(&wire.to_uppercase());
    if php::is_empty(value) {
        return Err(ApiError::missing(wire));
    }
    Ok(php::to_text(value).unwrap_or_default())
}

/// The uppercase name of a bindable event.
fn event_name(raw: &str) -> Result<String, ApiError> {
    let upper = raw.to_uppercase();
    KNOWN_EVENTS
        .iter()
        .chain(BASIC_EVENTS.iter())
        .any(|known| known.to_uppercase() == upper)
        .then_some(upper)
        .ok_or_else(|| ApiError::new(400, "ERROR_EVENT_NOT_FOUND", "Event not found"))
}

pub(crate) fn bind(portal: &mut Portal, caller: Caller, params: Params) -> Outcome {
    match bind_checked(portal, caller, &php::upper_keys(&params)) {
        Ok(()) => Outcome::Ok(Value::Bool(true)),
        Err(error) => error.into(),
    }
}

fn bind_checked(portal: &mut Portal, caller: Caller, params: &Params) -> Result<(), ApiError> {
    let app = app_only(caller)?;
    let event = event_name(&required_text(params, "event")?)?;
    let offline = offline(params)?;
    let admin = portal.user(caller.user()).is_some_and(|user| user.admin);
    let auth_type = u64::try_from(php::to_int(params.get("AUTH_TYPE"))).unwrap_or(0);
    if auth_type != 0 && auth_type != caller.user() && !admin {
        return Err(ApiError::new(
            403,
            "ACCESS_DENIED",
            "Access denied! Event binding with AUTH_TYPE requires administrator access rights",
        ));
    }
    if offline && !admin {
        return Err(ApiError::new(
            403,
            "ACCESS_DENIED",
            "Access denied! Offline events binding requires administrator access rights",
        ));
    }
    let handler = if offline {
        String::new()
    } else {
        let handler = required_text(params, "handler")?;
        let valid = url::Url::parse(&handler)
            .is_ok_and(|url| matches!(url.scheme(), "http" | "https") && !names_control_api(&url));
        if !valid {
            return Err(ApiError::argument("handler", "Wrong handler URL"));
        }
        handler
    };
    let source = php::to_text(params.get("AUTH_CONNECTOR")).unwrap_or_default();
    let min_timeout = params
        .get("OPTIONS")
        .and_then(|options| php::get(options, "minTimeout"))
        .and_then(|value| php::to_text(Some(value)))
        .and_then(|text| text.trim().parse::<f64>().ok())
        .filter(|seconds| seconds.is_finite() && *seconds >= 0.0)
        .unwrap_or(DEFAULT_MIN_TIMEOUT);
    let new = NewBinding {
        event,
        handler,
        auth_type,
        offline,
        source,
        min_timeout,
    };
    portal.bind(app, new).map_err(|Duplicate| {
        ApiError::new(
            400,
            "ERROR_CORE",
            "Unable to set event handler: Handler already binded",
        )
    })?;
    Ok(())
}

pub(crate) fn unbind(portal: &mut Portal, caller: Caller, params: Params) -> Outcome {
    let params = php::upper_keys(&params);
    let run = |portal: &mut Portal| -> Result<usize, ApiError> {
        let app = app_only(caller)?;
        let event = required_text(&params, "event")?.to_uppercase();
        let offline = offline(&params)?;
        let handler = if offline {
            None
        } else {
            Some(required_text(&params, "handler")?)
        };
        let auth_type = php::is_set(params.get("AUTH_TYPE"))
            .then(|| u64::try_from(php::to_int(params.get("AUTH_TYPE"))).unwrap_or(0));
        let source = php::to_text(params.get("AUTH_CONNECTOR")).unwrap_or_default();
        Ok(portal.unbind(app, |binding| {
            binding.event == event
                && binding.offline == offline
                && handler
                    .as_ref()
                    .is_none_or(|handler| *handler == binding.handler)
                && auth_type.is_none_or(|auth_type| auth_type == binding.auth_type)
                && (!offline || binding.source == source)
        }))
    };
    match run(portal) {
        Ok(count) => Outcome::Ok(json!({ "count": count })),
        Err(error) => error.into(),
    }
}

pub(crate) fn get(portal: &mut Portal, caller: Caller, _params: Params) -> Outcome {
    let app = match app_only(caller) {
        Ok(app) => app,
        Err(error) => return error.into(),
    };
    let list: Vec<Value> = portal
        .app_bindings(app)
        .map(|binding| {
            if binding.offline {
                json!({ "event": binding.event, "connector_id": binding.source, "offline": 1 })
            } else {
                json!({
                    "event": binding.event,
                    "handler": binding.handler,
                    "auth_type": binding.auth_type.to_string(),
                    "offline": 0,
                })
            }
        })
        .collect();
    Outcome::Ok(Value::Array(list))
}

/// Whether a handler URL reaches into a control API (`/_emulator/`): event POSTs there could
/// install apps or expire tokens, so such handlers are refused whatever their host.
fn names_control_api(url: &url::Url) -> bool {
    let path = percent_encoding::percent_decode_str(url.path()).decode_utf8_lossy();
    path.to_ascii_lowercase().contains("/_emulator")
}
