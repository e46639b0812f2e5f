//! The portal's `/oauth/authorize/` (reference app-install.md §5): the logged-in admin
//! authorises `client_id`; the answer is a 302 to the app's redirect URL with `code`, `state`,
//! `domain`, `member_id`, `scope` and `server_domain`. Errors are a page of the portal (HTML 400),
//! never a redirect.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::state::installs::Refused;
use crate::state::Shared;

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
