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
    let valid = !method.is_empty()
        && !method.starts_with('.')
        && method.chars().all(|character| {
            character.is_ascii_alphanumeric() || matches!(character, '.' | '_' | '-')
        });
    if valid {
        Ok(())
    } else {
        Err(InvalidRequest::new(
            "method",
            format!("`{method}` is not a REST method name (letters, digits, `.`, `_`, `-`)"),
        ))
    }
}
