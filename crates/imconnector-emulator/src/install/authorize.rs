//! The portal's `/oauth/authorize/` (reference app-install.md §5): the logged-in admin
//! authorises `client_id`; the answer is a 302 to the app's redirect URL with `code`, `state`,
//! `domain`, `member_id`, `scope` and `server_domain`. Errors are a page of the portal (HTML 400),
//! never a redirect.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use super::INSTALLING_USER;
use crate::oauth::{OAUTH_DOMAIN, SCOPE};
use crate::state::tokens::Grant;
use crate::state::{Portal, Shared};

/// Why no redirect happened.
struct Refused(&'static str);

impl Portal {
    /// The redirect URL with a fresh single-use code (30 emulated seconds).
    fn authorize(&mut self, client_id: &str, state: Option<&str>) -> Result<String, Refused> {
        let app = self
            .app_index(client_id)
            .ok_or(Refused("Application not found"))?;
        let target = self
            .redirect_target(app)
            .map_err(Refused)?
            .ok_or(Refused("The application has no redirect URL"))?;
        let mut url = url::Url::parse(&target).map_err(|_| Refused("Wrong redirect URL"))?;
        let code = self.tokens.issue_code(
            Grant {
                app,
                user: INSTALLING_USER,
            },
            self.now,
        );
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("code", &code);
            if let Some(state) = state {
                query.append_pair("state", state);
            }
            query
                .append_pair("domain", &self.urls.domain)
                .append_pair("member_id", &self.member_id)
                .append_pair("scope", SCOPE)
                .append_pair("server_domain", OAUTH_DOMAIN);
        }
        Ok(url.to_string())
    }
}

fn error_page(description: &str) -> Response {
    let page = format!(
        "<!DOCTYPE html><html><head><title>Authorization error</title></head>\
         <body><h1>Authorization error</h1><p>{description}</p></body></html>"
    );
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "text/html; charset=UTF-8")],
        page,
    )
        .into_response()
}

/// The axum handler for `GET /oauth/authorize/`.
pub(crate) async fn authorize(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
) -> Response {
    let mut client_id = None;
    let mut state = None;
    for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "client_id" => client_id = Some(value.into_owned()),
            "state" => state = Some(value.into_owned()),
            _ => {}
        }
    }
    let Some(client_id) = client_id.filter(|id| !id.is_empty()) else {
        return error_page("client_id is missing");
    };
    let redirect = shared.run(|portal| portal.authorize(&client_id, state.as_deref()));
    match redirect {
        Ok(location) => (StatusCode::FOUND, [(header::LOCATION, location)]).into_response(),
        Err(Refused(description)) => error_page(description),
    }
}
