//! The `basic` methods the generated API does not cover (`app.info`, `scope`, `methods`),
//! called through the transport's generic call and decoded here, leniently: the portal's
//! answers vary by build (numbers as strings, `Y`/`N` or booleans).

use serde_json::{json, Value};

use imconnector_transport::{Client, Error};

use super::report::AppInfo;

/// A `basic` answer that does not have the expected shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{method}` answered an unexpected shape: {reason}")]
pub(crate) struct Malformed {
    pub(crate) method: &'static str,
    pub(crate) reason: String,
}

/// Either the call failed or its answer is malformed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BasicError {
    #[error(transparent)]
    Call(#[from] Error),
    #[error(transparent)]
    Malformed(#[from] Malformed),
}

/// `app.info` for the client's app.
pub(crate) async fn app_info(client: &Client) -> Result<AppInfo, BasicError> {
    let answer = client.call_raw("app.info", Value::Null).await?;
    Ok(decode_app_info(&answer.result)?)
}

/// `scope`: the scopes the app holds.
pub(crate) async fn scopes(client: &Client) -> Result<Vec<String>, BasicError> {
    let answer = client.call_raw("scope", Value::Null).await?;
    Ok(decode_names("scope", &answer.result)?)
}

/// `methods`: the methods the app may call, or with `full` every method the portal knows.
pub(crate) async fn methods(client: &Client, full: bool) -> Result<Vec<String>, BasicError> {
    let params = if full {
        json!({ "full": true })
    } else {
        Value::Null
    };
    let answer = client.call_raw("methods", params).await?;
    let mut names = decode_names("methods", &answer.result)?;
    // Method names are case-insensitive on the portal.
    names
        .iter_mut()
        .for_each(|name| name.make_ascii_lowercase());
    Ok(names)
}

pub(crate) fn decode_app_info(value: &Value) -> Result<AppInfo, Malformed> {
    let malformed = |reason: String| Malformed {
        method: "app.info",
        reason,
    };
    let Value::Object(fields) = value else {
        return Err(malformed(format!(
            "expected an object, got {}",
            kind_of(value)
        )));
    };
    let installed = match fields.get("INSTALLED") {
        Some(value) => {
            flag(value).ok_or_else(|| malformed(format!("INSTALLED is {value}, not a flag")))?
        }
        None => return Err(malformed("INSTALLED is missing".to_owned())),
    };
    let payment_expired = match fields.get("PAYMENT_EXPIRED") {
        None | Some(Value::Null) => false,
        Some(value) => flag(value)
            .ok_or_else(|| malformed(format!("PAYMENT_EXPIRED is {value}, not a flag")))?,
    };
    let days = match fields.get("DAYS") {
        None | Some(Value::Null) => None,
        Some(value) => Some(
            integer(value).ok_or_else(|| malformed(format!("DAYS is {value}, not a number")))?,
        ),
    };
    Ok(AppInfo {
        code: fields.get("CODE").and_then(text),
        version: fields.get("VERSION").and_then(text),
        status: fields.get("STATUS").and_then(text),
        installed,
        payment_expired,
        days,
        license: fields.get("LICENSE").and_then(text),
        license_family: fields.get("LICENSE_FAMILY").and_then(text),
    })
}

/// A list of names: a JSON array of strings (some builds answer an object keyed by index).
pub(crate) fn decode_names(method: &'static str, value: &Value) -> Result<Vec<String>, Malformed> {
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        Value::Object(items) => items.values().collect(),
        other => {
            return Err(Malformed {
                method,
                reason: format!("expected a list of names, got {}", kind_of(other)),
            })
        }
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::String(name) => Ok(name.clone()),
            other => Err(Malformed {
                method,
                reason: format!("expected a name, got {}", kind_of(other)),
            }),
        })
        .collect()
}

fn flag(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(flag) => Some(*flag),
        Value::Number(number) => number.as_i64().map(|number| number != 0),
        Value::String(text) => match text.as_str() {
            "Y" | "y" | "1" | "true" => Some(true),
            "N" | "n" | "0" | "false" | "" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn integer(value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_app_info_decodes() {
        let info = decode_app_info(&json!({
            "ID": 5, "CODE": "telefum24.kp10", "VERSION": 4, "STATUS": "F", "INSTALLED": true,
            "PAYMENT_EXPIRED": "N", "DAYS": null, "LANGUAGE_ID": "de", "LICENSE": "de_ent10000",
            "LICENSE_TYPE": "ent10000", "LICENSE_FAMILY": "ent"
        }))
        .expect("decodes");
        assert!(info.installed);
        assert!(!info.payment_expired);
        assert_eq!(info.version.as_deref(), Some("4"));
        assert_eq!(info.license_family.as_deref(), Some("ent"));
        assert_eq!(info.days, None);
    }

    #[test]
    fn malformed_app_info_is_a_typed_error_naming_the_field() {
        let error = decode_app_info(&json!({"INSTALLED": "maybe"})).expect_err("refused");
        assert!(error.reason.contains("INSTALLED"), "{error}");
        let error = decode_app_info(&json!({"CODE": "x"})).expect_err("refused");
        assert!(error.reason.contains("INSTALLED is missing"), "{error}");
        let error = decode_app_info(&json!([])).expect_err("refused");
        assert!(error.reason.contains("an array"), "{error}");
        let error =
            decode_app_info(&json!({"INSTALLED": "Y", "DAYS": "soon"})).expect_err("refused");
        assert!(error.reason.contains("DAYS"), "{error}");
    }

    #[test]
    fn names_decode_from_a_list_or_an_indexed_object() {
        assert_eq!(
            decode_names("scope", &json!(["imopenlines", "imconnector"])).expect("decodes"),
            ["imopenlines", "imconnector"]
        );
        assert_eq!(
            decode_names("scope", &json!({"0": "imopenlines"})).expect("decodes"),
            ["imopenlines"]
        );
        assert!(decode_names("scope", &json!("imopenlines")).is_err());
        assert!(decode_names("scope", &json!([1])).is_err());
    }
}
