//! How the HTTP control API answers: JSON bodies, errors with a status and a code, and the
//! credentials with their secrets in clear (how a foreign test obtains them, on purpose).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use secrecy::ExposeSecret;
use serde_json::{json, Value};

use super::ControlError;
use crate::install::InstallStatus;
use crate::snapshot::{AppCredentials, Tokens};

/// A control error as `{"error", "error_description"}` with a status that says its kind.
pub(super) fn failure(error: &ControlError) -> Response {
    let (status, code) = match error {
        ControlError::UnknownLine(_)
        | ControlError::UnknownChat { .. }
        | ControlError::UnknownMessage(_)
        | ControlError::UnknownApp(_)
        | ControlError::UnknownConnector(_)
        | ControlError::UnknownUser(_) => (StatusCode::NOT_FOUND, "NOT_FOUND"),
        ControlError::Timeout { .. } => (StatusCode::REQUEST_TIMEOUT, "TIMEOUT"),
        _ => (StatusCode::CONFLICT, "REFUSED"),
    };
    (
        status,
        Json(json!({ "error": code, "error_description": error.to_string() })),
    )
        .into_response()
}

/// A JSON body, or the error.
pub(super) fn reply<T: serde::Serialize>(result: Result<T, ControlError>) -> Response {
    match result {
        Ok(value) => Json(value).into_response(),
        Err(error) => failure(&error),
    }
}

/// An app's credentials, secrets in clear.
pub(super) fn app_json(app: &AppCredentials) -> Value {
    json!({
        "client_id": app.client_id,
        "client_secret": app.client_secret.expose_secret(),
        "application_token": app.application_token.expose_secret(),
        "member_id": app.member_id,
        "domain": app.domain,
    })
}

/// A token pair, secrets in clear.
pub(super) fn tokens_json(tokens: &Tokens) -> Value {
    json!({
        "access_token": tokens.access_token.expose_secret(),
        "refresh_token": tokens.refresh_token.expose_secret(),
        "expires_in": tokens.expires_in,
        "expires": tokens.expires,
        "user_id": tokens.user_id,
        "client_id": tokens.client_id,
    })
}

/// An install status with the install POST's query and form parsed, secrets in clear.
pub(super) fn install_status_json(status: &InstallStatus) -> Value {
    let mut value = serde_json::to_value(status).unwrap_or(Value::Null);
    if let (Some(post), Some(Value::Object(map))) = (
        &status.last_install_post,
        value.get_mut("last_install_post"),
    ) {
        map.insert("query".to_owned(), json!(post.query()));
        map.insert("form".to_owned(), json!(post.form()));
    }
    value
}
