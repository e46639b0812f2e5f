//! The OAuth server at `/oauth/token/` (reference §1.8): `authorization_code` and
//! `refresh_token` grants over GET or POST, with refresh-token rotation. Order per request: the
//! share faults, the OAuth faults (and a hold), parameters, then the grant.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use axum::Extension;
use secrecy::ExposeSecret;
use serde_json::{json, Value};

use crate::envelope::json_response;
use crate::faults::{apply_faults, apply_token_faults, reset_connection};
use crate::php::{self, Params};
use crate::server::ConnectionKill;
use crate::snapshot::Tokens;
use crate::state::fault_engine::{Endpoint, FaultAction};
use crate::state::grants::{GrantKind, GrantRefusal};
use crate::state::tokens::OAUTH_DOMAIN;
use crate::state::{Portal, Shared, Urls};

fn oauth_error(status: StatusCode, code: &str, description: &str) -> (StatusCode, Value) {
    (
        status,
        json!({ "error": code, "error_description": description }),
    )
}

/// The answer to a granted token request, in the OAuth server's field order.
fn token_body(urls: &Urls, member_id: &str, scope: &str, tokens: &Tokens) -> Value {
    json!({
        "access_token": tokens.access_token.expose_secret(),
        "expires": tokens.expires,
        "expires_in": tokens.expires_in,
        "scope": scope,
        "domain": OAUTH_DOMAIN,
        "server_endpoint": urls.rest,
        "status": "L",
        "client_endpoint": urls.rest,
        "member_id": member_id,
        "user_id": tokens.user_id,
        "refresh_token": tokens.refresh_token.expose_secret(),
    })
}

/// Checks the request in the server's order (grant type, then client, then the grant) and
/// redeems it.
fn grant(portal: &mut Portal, params: &Params) -> (StatusCode, Value) {
    let text = |name: &str| php::to_text(params.get(name)).unwrap_or_default();
    let (kind, secret) = match text("grant_type").as_str() {
        "authorization_code" => (GrantKind::AuthorizationCode, text("code")),
        "refresh_token" => (GrantKind::RefreshToken, text("refresh_token")),
        _ => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Unsupported or missing grant_type",
            )
        }
    };
    match portal.redeem_grant(kind, &text("client_id"), &text("client_secret"), &secret) {
        Ok(tokens) => (
            StatusCode::OK,
            token_body(
                portal.urls(),
                portal.member_id(),
                &portal
                    .app_index(&tokens.client_id)
                    .map(|app| portal.app(app).scope_text())
                    .unwrap_or_default(),
                &tokens,
            ),
        ),
        Err(GrantRefusal::InvalidClient) => oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Invalid client credentials",
        ),
        Err(GrantRefusal::InvalidGrant) => {
            oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Invalid grant")
        }
    }
}

/// The axum handler for `/oauth/token/`.
pub(crate) async fn token(
    State(shared): State<Arc<Shared>>,
    kill: Option<Extension<ConnectionKill>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let kill = kill.map(|Extension(kill)| kill);
    let action = match apply_faults(&shared, kill.as_ref(), Endpoint::OAuth).await {
        Ok(action) => action,
        Err(response) => return response,
    };
    if let Err(response) = apply_token_faults(&shared, kill.as_ref()).await {
        return response;
    }
    // Over the size limit the body is dropped, as PHP drops a POST over `post_max_size`.
    let body = body.unwrap_or_default();
    let params = crate::params::collect(&method, &headers, uri.query(), &body);
    let (status, body) = shared.run(|portal| grant(portal, &params));
    if action == FaultAction::DropAfter {
        return reset_connection(kill.as_ref()).await;
    }
    json_response(status, &body)
}
