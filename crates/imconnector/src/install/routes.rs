//! The axum handlers of [`Installer::router`](super::Installer::router).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use imconnector_transport::portals::PortalStore;
use imconnector_transport::MemberId;

use super::{page, InstallError, InstallOutcome, Installer};
use crate::log_text::{untrusted, REFUSED_REQUESTS};
use crate::placement::AppliedSettings;

type Shared<S> = State<Arc<Installer<S>>>;

/// `POST /install`: the UI install POST, ONAPPINSTALL, ONAPPUNINSTALL.
pub(crate) async fn install<S: PortalStore>(
    State(installer): Shared<S>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok());
    match installer
        .handle(query.as_deref(), content_type, &body)
        .await
    {
        Ok(InstallOutcome::AwaitingFinish { .. }) => {
            page::install_finish(installer.setup.id().as_str())
        }
        Ok(_) => (StatusCode::OK, "OK").into_response(),
        Err(error) => refuse("install", &error),
    }
}

/// `POST /settings`: the connector's `SETTING_CONNECTOR` page.
pub(crate) async fn settings<S: PortalStore>(
    State(installer): Shared<S>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    match installer.settings_page(query.as_deref(), &body).await {
        Ok(AppliedSettings::Activated(_)) => page::message(
            StatusCode::OK,
            "Connector settings",
            "The connector is connected to this open line.",
        ),
        Ok(_) => page::message(
            StatusCode::OK,
            "Connector settings",
            "The connector is disconnected from this open line.",
        ),
        Err(error) => refuse("settings", &error),
    }
}

/// `GET|POST /`: the app page the portal opens after installation; also the code flow's
/// return when the portal redirects to the handler path (a local app's default).
pub(crate) async fn app_page<S: PortalStore>(
    state: Shared<S>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    if params.contains_key("code") && params.contains_key("state") {
        return oauth_callback(state, Query(params)).await;
    }
    page::message(
        StatusCode::OK,
        "Connector",
        "The connector is installed. Connect it to an open line in the Contact Center.",
    )
}

/// `GET /authorize?member_id=…`: starts the code flow for an installed portal.
pub(crate) async fn authorize<S: PortalStore>(
    State(installer): Shared<S>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let Some(member_id) = params.get("member_id").filter(|id| !id.is_empty()) else {
        return refuse(
            "authorize",
            &InstallError::Malformed("`member_id` is missing".to_owned()),
        );
    };
    match installer
        .start_authorization(&MemberId::from(member_id.as_str()))
        .await
    {
        Ok(url) => (StatusCode::FOUND, [(header::LOCATION, url.to_string())]).into_response(),
        Err(error) => refuse("authorize", &error),
    }
}

/// `GET /oauth?code=…`: the portal's redirect back.
pub(crate) async fn oauth_callback<S: PortalStore>(
    State(installer): Shared<S>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    match installer.finish_authorization(&params).await {
        Ok(_) => page::message(
            StatusCode::OK,
            "Authorised",
            "The connector has new tokens for this portal.",
        ),
        Err(error) => refuse("oauth", &error),
    }
}

/// The error's status with its public text; the full error goes to the log.
fn refuse(route: &'static str, error: &InstallError) -> Response {
    let status = error.status();
    // Anyone can send a request that fails: the lines are rate-limited, their text escaped.
    if let Some(suppressed) = REFUSED_REQUESTS.admit() {
        if status.is_server_error() {
            tracing::error!(route, error = %untrusted(error), suppressed, "request failed");
        } else {
            tracing::warn!(route, error = %untrusted(error), suppressed, "request refused");
        }
    }
    (status, error.public_text()).into_response()
}
