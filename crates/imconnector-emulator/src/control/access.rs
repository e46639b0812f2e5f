//! The control API's lock: with a control token set, every `/_emulator/` request must carry
//! `Authorization: Bearer <token>`, compared in constant time.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use secrecy::ExposeSecret;
use serde_json::json;
use subtle::ConstantTimeEq;

use crate::state::Shared;

/// Lets the request through when no token is configured or when it carries the right one.
pub(crate) async fn require_token(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(expected) = &shared.control_token else {
        return next.run(request).await;
    };
    let presented = bearer(request.headers()).unwrap_or_default();
    let matches: bool = expected
        .expose_secret()
        .as_bytes()
        .ct_eq(presented.as_bytes())
        .into();
    if matches {
        return next.run(request).await;
    }
    let mut response = (
        StatusCode::UNAUTHORIZED,
        Json(json!({
            "error": "UNAUTHORIZED",
            "error_description": "The control API requires Authorization: Bearer <control token>",
        })),
    )
        .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer"),
    );
    response
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}
