//! A request reduced to what the dispatch needs: the method, its auth kind, whether it may be
//! replayed, and its parameters as JSON text. Typed, raw and batch calls all become a [`Call`].

use serde_json::{Map, Value};

use crate::{
    error::Error,
    method::{AuthKind, InvalidRequest, Method},
};

/// One logical call, as every public entry point reduces it.
pub(crate) struct Call<'a> {
    pub(crate) method: &'a str,
    pub(crate) auth: AuthKind,
    pub(crate) idempotent: bool,
    /// The parameters as the text of a JSON object, without `auth`. Text rather than a
    /// `serde_json::Map` because that map sorts its keys, and the order of batch commands matters.
    pub(crate) params: String,
}

impl Call<'_> {
    /// Serialises untyped parameters, dropping any `auth` key: the credential travels apart.
    pub(crate) fn params_text(mut params: Map<String, Value>) -> String {
        params.remove("auth");
        Value::Object(params).to_string()
    }
}

/// Serialises a typed request into the parameter object.
pub(crate) fn to_params<M: Method>(request: &M) -> Result<Map<String, Value>, Error> {
    match serde_json::to_value(request) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(Value::Null) => Ok(Map::new()),
        Ok(_) => {
            Err(InvalidRequest::new(M::NAME, "the request must serialise to a JSON object").into())
        }
        Err(error) => Err(InvalidRequest::new(
            M::NAME,
            format!("cannot serialise the request: {error}"),
        )
        .into()),
    }
}

/// Serialises a typed request straight to JSON text, keeping its field order.
pub(crate) fn to_params_text<M: Method>(request: &M) -> Result<String, Error> {
    match serde_json::to_string(request) {
        Ok(text) if text == "null" => Ok("{}".to_owned()),
        Ok(text) if text.starts_with('{') => Ok(text),
        Ok(_) => {
            Err(InvalidRequest::new(M::NAME, "the request must serialise to a JSON object").into())
        }
        Err(error) => Err(InvalidRequest::new(
            M::NAME,
            format!("cannot serialise the request: {error}"),
        )
        .into()),
    }
}

/// Methods known to accept only OAuth, for untyped calls (typed ones declare it).
pub(crate) fn raw_auth_kind(method: &str) -> AuthKind {
    let lower = method.to_ascii_lowercase();
    if lower.starts_with("imconnector.") || lower.starts_with("event.") {
        AuthKind::OAuthOnly
    } else {
        AuthKind::OAuthOrWebhook
    }
}

/// Method names are dotted identifiers; anything else could escape the URL path.
pub(crate) fn check_method_name(method: &str) -> Result<(), InvalidRequest> {
    if is_method_name(method) {
        Ok(())
    } else {
        Err(InvalidRequest::new(
            "method",
            format!("`{method}` is not a REST method name (letters, digits, `.`, `_`, `-`)"),
        ))
    }
}

/// Whether `method` is a dotted identifier: letters, digits, `.`, `_`, `-`, not empty and not
/// starting with `.`. A `const fn`, so a typed method's constant name is checked when the
/// call is compiled rather than on every call.
pub(crate) const fn is_method_name(method: &str) -> bool {
    let bytes = method.as_bytes();
    if bytes.is_empty() || bytes[0] == b'.' {
        return false;
    }
    let mut at = 0;
    while at < bytes.len() {
        if !matches!(bytes[at], b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'_' | b'-') {
            return false;
        }
        at += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::is_method_name;

    #[test]
    fn method_names_are_dotted_identifiers() {
        for name in ["imconnector.status", "app.info", "batch", "a-b_c.9"] {
            assert!(is_method_name(name), "{name}");
        }
        for name in [
            "",
            ".status",
            "a/b",
            "a?b",
            "a b",
            "imconnector.status\n",
            "é",
        ] {
            assert!(!is_method_name(name), "{name:?}");
        }
    }
}
