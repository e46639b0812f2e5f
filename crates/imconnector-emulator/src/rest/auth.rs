//! Who is calling: an OAuth token (`auth=`, `access_token=` or `Authorization: Bearer`) or the
//! portal's incoming webhook in the path.

use axum::http::{header, HeaderMap};
use secrecy::ExposeSecret;
use serde_json::Value;
use subtle::ConstantTimeEq;

use crate::envelope::ApiError;
use crate::php::Params;
use crate::state::tokens::AccessError;
use crate::state::Portal;

/// The text of 403 `WRONG_AUTH_TYPE` from imconnector methods.
pub(crate) const WRONG_AUTH_TYPE_APP: &str =
    "Current authorization type is denied for this method Application context required";
/// The text of 403 `WRONG_AUTH_TYPE` from the REST core (`event.*`).
pub(crate) const WRONG_AUTH_TYPE_CORE: &str =
    "Current authorization type is denied for this method";

/// How the caller authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Caller {
    /// An OAuth access token of app `app` for portal user `user`.
    OAuth { app: usize, user: u64 },
    /// The incoming webhook of portal user `user`.
    Webhook { user: u64 },
}

impl Caller {
    /// The portal user acting.
    pub(crate) fn user(self) -> u64 {
        match self {
            Caller::OAuth { user, .. } | Caller::Webhook { user } => user,
        }
    }

    /// The app, for OAuth callers.
    pub(crate) fn app(self) -> Option<usize> {
        match self {
            Caller::OAuth { app, .. } => Some(app),
            Caller::Webhook { .. } => None,
        }
    }

    /// Key of the operating-time ledger: per app, or per webhook.
    pub(crate) fn ledger_key(self, portal: &Portal) -> String {
        match self {
            Caller::OAuth { app, .. } => portal.app(app).client_id.clone(),
            Caller::Webhook { user } => format!("webhook:{user}"),
        }
    }

    /// The imconnector gate: 403 `WRONG_AUTH_TYPE` unless OAuth (reference §2).
    pub(crate) fn require_app(self) -> Result<usize, ApiError> {
        self.app()
            .ok_or_else(|| ApiError::new(403, "WRONG_AUTH_TYPE", WRONG_AUTH_TYPE_APP))
    }
}

/// Resolves the caller and removes the credential parameters from `params`.
///
/// # Errors
/// 401 `INVALID_CREDENTIALS` (bad webhook), `NO_AUTH_FOUND` (no token), `expired_token`,
/// `invalid_token`.
pub(crate) fn resolve(
    portal: &mut Portal,
    webhook: Option<(&str, &str)>,
    params: &mut Params,
    headers: &HeaderMap,
) -> Result<Caller, ApiError> {
    let auth_param = params.remove("auth");
    let access_token_param = params.remove("access_token");
    if let Some((user, code)) = webhook {
        let expected_code = portal.webhook().code.expose_secret().as_bytes();
        let code_matches: bool = expected_code.ct_eq(code.as_bytes()).into();
        let user_matches = user.parse::<u64>().ok() == Some(portal.webhook().user_id);
        return if code_matches && user_matches {
            Ok(Caller::Webhook {
                user: portal.webhook().user_id,
            })
        } else {
            Err(ApiError::new(
                401,
                "INVALID_CREDENTIALS",
                "Invalid request credentials",
            ))
        };
    }
    let token = [auth_param, access_token_param]
        .into_iter()
        .flatten()
        .find_map(|value| match value {
            Value::String(token) if !token.is_empty() => Some(token),
            _ => None,
        })
        .or_else(|| bearer(headers));
    let Some(token) = token else {
        return Err(ApiError::new(
            401,
            "NO_AUTH_FOUND",
            "Wrong authorization data",
        ));
    };
    match portal.check_access_token(&token) {
        Ok(grant) => Ok(Caller::OAuth {
            app: grant.app,
            user: grant.user,
        }),
        Err(AccessError::Expired) => Err(ApiError::new(
            401,
            "expired_token",
            "The access token provided has expired",
        )),
        Err(AccessError::Invalid) => Err(ApiError::new(
            401,
            "invalid_token",
            "The access token provided is invalid",
        )),
    }
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty())
        .then(|| token.trim().to_owned())
}
