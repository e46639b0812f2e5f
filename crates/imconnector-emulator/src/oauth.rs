//! The OAuth server at `/oauth/token/` (reference §1.8): `authorization_code` and
//! `refresh_token` grants over GET or POST, with refresh-token rotation.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use axum::Extension;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use subtle::ConstantTimeEq;

use crate::envelope::json_response;
use crate::faults::FaultAction;
use crate::php::{self, Params};
use crate::server::{apply_faults, reset_connection, ConnectionKill, Endpoint};
use crate::snapshot::Tokens;
use crate::state::tokens::Grant;
use crate::state::{Portal, Shared};

/// The `domain` the real OAuth server reports: its own, not the portal's.
pub(crate) const OAUTH_DOMAIN: &str = "oauth.bitrix.info";
/// Scopes granted to emulated apps.
pub(crate) const SCOPE: &str = "imopenlines,imconnector";

fn oauth_error(status: StatusCode, code: &str, description: &str) -> (StatusCode, Value) {
    (
        status,
        json!({ "error": code, "error_description": description }),
    )
}

impl Portal {
    /// Issues a pair for `grant` and returns it in the public form.
    pub(crate) fn issue_tokens(&mut self, grant: Grant) -> Tokens {
        let ttl = self.token_ttl_secs();
        let pair = self.tokens.issue(grant, self.now, ttl);
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Tokens {
            access_token: SecretString::from(pair.access),
            refresh_token: SecretString::from(pair.refresh),
            expires_in: ttl.round() as u64,
            expires: pair.expires_at.floor() as i64,
            user_id: grant.user,
            client_id: self.apps[grant.app].client_id.clone(),
        }
    }

    fn token_body(&self, tokens: &Tokens) -> Value {
        json!({
            "access_token": tokens.access_token.expose_secret(),
            "expires": tokens.expires,
            "expires_in": tokens.expires_in,
            "scope": SCOPE,
            "domain": OAUTH_DOMAIN,
            "server_endpoint": self.urls.rest,
            "status": "L",
            "client_endpoint": self.urls.rest,
            "member_id": self.member_id,
            "user_id": tokens.user_id,
            "refresh_token": tokens.refresh_token.expose_secret(),
        })
    }

    /// The app whose `client_id` and `client_secret` both match.
    fn authenticate_client(&self, params: &Params) -> Option<usize> {
        let client_id = php::to_text(params.get("client_id"))?;
        let secret = php::to_text(params.get("client_secret"))?;
        let app = self.app_index(&client_id)?;
        let expected = self.apps[app].client_secret.expose_secret().as_bytes();
        bool::from(expected.ct_eq(secret.as_bytes())).then_some(app)
    }

    fn grant(&mut self, params: &Params) -> (StatusCode, Value) {
        let grant_type = php::to_text(params.get("grant_type")).unwrap_or_default();
        let refreshing = grant_type == "refresh_token";
        if grant_type != "authorization_code" && !refreshing {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Unsupported or missing grant_type",
            );
        }
        let Some(app) = self.authenticate_client(params) else {
            if refreshing {
                self.counters.refresh_rejections += 1;
            }
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "Invalid client credentials",
            );
        };
        let grant = if refreshing {
            let token = php::to_text(params.get("refresh_token")).unwrap_or_default();
            self.tokens.consume_refresh(&token, app, self.now)
        } else {
            let code = php::to_text(params.get("code")).unwrap_or_default();
            self.tokens.consume_code(&code, app, self.now)
        };
        let Some(grant) = grant else {
            if refreshing {
                self.counters.refresh_rejections += 1;
            }
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Invalid grant");
        };
        if refreshing {
            self.counters.refreshes += 1;
        }
        let tokens = self.issue_tokens(grant);
        (StatusCode::OK, self.token_body(&tokens))
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
    // Over the size limit the body is dropped, as PHP drops a POST over `post_max_size`.
    let body = body.unwrap_or_default();
    let params = crate::params::collect(&method, &headers, uri.query(), &body);
    let (status, body) = shared.run(|portal| portal.grant(&params));
    if action == FaultAction::DropAfter {
        return reset_connection(kill.as_ref()).await;
    }
    json_response(status, &body)
}
