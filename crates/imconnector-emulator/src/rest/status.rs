//! `imconnector.activate`, `.status`, `.connector.data.set`, `.set.error` (reference §3, §4.4-4.6,
//! §4.13). None of them checks ownership or that the line exists.

use serde_json::{json, Map, Value};

use super::auth::Caller;
use super::{require_provider, required_connector, success_empty_data};
use crate::envelope::{ApiError, Outcome};
use crate::php::{self, Params};
use crate::state::Portal;

/// The `LINE` parameter, checked with `isset` and cast with `(int)`.
fn required_line(params: &Params) -> Result<i64, ApiError> {
    let value = params.get("LINE");
    if !php::is_set(value) {
        return Err(ApiError::missing("LINE"));
    }
    Ok(php::to_int(value))
}

fn gate(caller: Caller, params: Params) -> Result<Params, ApiError> {
    caller.require_app()?;
    Ok(php::upper_keys(&params))
}

pub(crate) fn activate(portal: &mut Portal, caller: Caller, params: Params) -> Outcome {
    into_outcome(activate_checked(portal, caller, params))
}

fn activate_checked(
    portal: &mut Portal,
    caller: Caller,
    params: Params,
) -> Result<Value, ApiError> {
    let params = gate(caller, params)?;
    let connector = required_connector(&params)?;
    let line = required_line(&params)?;
    let active = params.get("ACTIVE");
    if !php::is_set(active) {
        return Err(ApiError::missing("ACTIVE"));
    }
    if php::truthy(active) {
        portal.activate_status(&connector, line);
    } else {
        portal.drop_status(&connector, line, caller.user());
    }
    Ok(Value::Bool(true))
}

pub(crate) fn status(portal: &mut Portal, caller: Caller, params: Params) -> Outcome {
    into_outcome(status_checked(portal, caller, params))
}

fn status_checked(portal: &mut Portal, caller: Caller, params: Params) -> Result<Value, ApiError> {
    let params = gate(caller, params)?;
    let connector = required_connector(&params)?;
    let line = php::to_int(params.get("LINE"));
    let row = portal.status_of(&connector, line);
    Ok(json!({
        "LINE": line,
        "CONNECTOR": connector,
        "ERROR": row.error,
        "CONFIGURED": row.configured(),
        "STATUS": row.status(),
    }))
}

pub(crate) fn data_set(portal: &mut Portal, caller: Caller, params: Params) -> Outcome {
    let params = match gate(caller, params) {
        Ok(params) => params,
        Err(error) => return error.into(),
    };
    let connector = match required_connector(&params) {
        Ok(connector) => connector,
        Err(error) => return error.into(),
    };
    let line = match required_line(&params) {
        Ok(line) => line,
        Err(error) => return error.into(),
    };
    let data = params.get("DATA");
    if !php::is_set(data) {
        return ApiError::missing("DATA").into();
    }
    let Some(data) = data.filter(|data| php::is_array(Some(data))) else {
        // A scalar DATA hits a PHP type error: a 500 page, not JSON (reference §4.6).
        return Outcome::Fatal;
    };
    let data = php::upper_keys_deep(data);
    let mut stored = Map::new();
    stored.insert("connector_id".to_owned(), Value::String(connector.clone()));
    for (wire, key) in [
        ("ID", "id"),
        ("URL", "url"),
        ("URL_IM", "url_im"),
        ("NAME", "name"),
    ] {
        let value = php::get(&data, wire);
        if !php::is_empty(value) {
            if let Some(value) = value {
                stored.insert(key.to_owned(), value.clone());
            }
        }
    }
    portal.merge_status_data(&connector, line, stored);
    Outcome::Ok(Value::Bool(true))
}

pub(crate) fn set_error(portal: &mut Portal, caller: Caller, params: Params) -> Outcome {
    into_outcome(set_error_checked(portal, caller, params))
}

fn set_error_checked(
    portal: &mut Portal,
    caller: Caller,
    params: Params,
) -> Result<Value, ApiError> {
    let params = gate(caller, params)?;
    let connector = required_connector(&params)?;
    let line = required_line(&params)?;
    require_provider(portal, &connector)?;
    portal.mark_status_error(&connector, line);
    Ok(success_empty_data())
}

fn into_outcome(result: Result<Value, ApiError>) -> Outcome {
    match result {
        Ok(value) => Outcome::Ok(value),
        Err(error) => Outcome::Err(error),
    }
}
