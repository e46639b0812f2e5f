//! The control API over HTTP under `/_emulator/`, for tests written in other languages. Same
//! operations as [`EmulatorHandle`](super::EmulatorHandle), JSON in and out. Secrets are
//! returned in clear here on purpose: this is how a foreign test obtains its credentials.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{json, Value};

use super::respond::{app_json, failure, reply, tokens_json};
use super::{ControlError, EmulatorHandle};
use crate::config::{
    Faults, OAuthFaults, OperatingLimit, RateLimit, SettingsPostShape, SoftErrorShape,
};
use crate::state::Shared;

type SharedState = State<Arc<Shared>>;

fn handle(shared: Arc<Shared>) -> EmulatorHandle {
    EmulatorHandle { shared }
}

/// The routes, to be nested under `/_emulator`; with a control token, each requires it.
pub(crate) fn router(shared: Arc<Shared>) -> Router<Arc<Shared>> {
    routes().route_layer(axum::middleware::from_fn_with_state(
        shared,
        super::access::require_token,
    ))
}

fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/", get(index))
        .route("/app", get(app))
        .route("/apps", get(apps).post(install_app))
        .route("/users", get(users))
        .route("/webhook", get(webhook))
        .route("/tokens", post(tokens))
        .route("/tokens/expire", post(expire_tokens))
        .route("/tokens/revoke", post(revoke_access_tokens))
        .route("/authorization-code", post(authorization_code))
        .route("/clock/advance", post(advance_clock))
        .route("/lines", get(lines).post(add_line))
        .route("/lines/{id}", delete(delete_line))
        .route("/operator/reply", post(operator_reply))
        .route("/operator/edit", post(operator_edit))
        .route("/operator/delete", post(operator_delete))
        .route("/sessions/close", post(close_session))
        .route("/settings", get(settings))
        .route("/settings/rate-limit", put(set_rate_limit))
        .route("/settings/faults", put(set_faults))
        .route("/settings/oauth-faults", put(set_oauth_faults))
        .route("/settings/soft-error-shape", put(set_soft_error_shape))
        .route(
            "/settings/settings-post-shape",
            put(set_settings_post_shape),
        )
        .route("/settings/operating-limit", put(set_operating_limit))
        .route("/connectors", get(connectors))
        .route("/statuses", get(statuses))
        .route("/chats", get(chats))
        .route("/messages", get(messages))
        .route("/deliveries", get(deliveries))
        .route("/events", get(events))
        .route("/events/wait", post(wait_events))
        .route("/offline-events", get(offline_events))
        .route("/counters", get(counters))
        .merge(super::install::router())
}

async fn index(State(shared): SharedState) -> Response {
    let handle = handle(shared);
    Json(json!({
        "rest_url": handle.rest_url(),
        "oauth_url": handle.oauth_url(),
        "control_url": handle.control_url(),
    }))
    .into_response()
}

async fn app(State(shared): SharedState) -> Response {
    Json(app_json(&handle(shared).app())).into_response()
}

async fn apps(State(shared): SharedState) -> Response {
    let apps: Vec<Value> = handle(shared).apps().iter().map(app_json).collect();
    Json(apps).into_response()
}

async fn install_app(State(shared): SharedState) -> Response {
    Json(app_json(&handle(shared).install_app())).into_response()
}

async fn users(State(shared): SharedState) -> Response {
    Json(handle(shared).users()).into_response()
}

async fn webhook(State(shared): SharedState) -> Response {
    Json(json!({ "url": handle(shared).webhook_url().expose_secret() })).into_response()
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Who {
    client_id: Option<String>,
    user_id: Option<u64>,
}

impl Who {
    fn resolve(self, handle: &EmulatorHandle) -> (String, u64) {
        let client_id = self.client_id.unwrap_or_else(|| handle.app().client_id);
        (client_id, self.user_id.unwrap_or(1))
    }
}

async fn tokens(State(shared): SharedState, body: Option<Json<Who>>) -> Response {
    let handle = handle(shared);
    let (client_id, user) = body
        .map(|Json(who)| who)
        .unwrap_or_default()
        .resolve(&handle);
    reply(
        handle
            .tokens_for(&client_id, user)
            .map(|tokens| tokens_json(&tokens)),
    )
}

async fn expire_tokens(State(shared): SharedState) -> Response {
    handle(shared).expire_tokens();
    Json(json!({ "ok": true })).into_response()
}

async fn revoke_access_tokens(State(shared): SharedState) -> Response {
    handle(shared).revoke_access_tokens();
    Json(json!({ "ok": true })).into_response()
}

async fn authorization_code(State(shared): SharedState, body: Option<Json<Who>>) -> Response {
    let handle = handle(shared);
    let (client_id, user) = body
        .map(|Json(who)| who)
        .unwrap_or_default()
        .resolve(&handle);
    reply(
        handle
            .authorization_code(&client_id, user)
            .map(|code| json!({ "code": code.expose_secret() })),
    )
}

#[derive(Deserialize)]
struct Advance {
    seconds: f64,
}

async fn advance_clock(State(shared): SharedState, Json(body): Json<Advance>) -> Response {
    match Duration::try_from_secs_f64(body.seconds) {
        Ok(by) => {
            handle(shared).advance_clock(by);
            Json(json!({ "ok": true })).into_response()
        }
        Err(error) => failure(&ControlError::InvalidSetting(format!("seconds: {error}"))),
    }
}

async fn lines(State(shared): SharedState) -> Response {
    Json(handle(shared).lines()).into_response()
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct NewLine {
    name: Option<String>,
}

async fn add_line(State(shared): SharedState, body: Option<Json<NewLine>>) -> Response {
    let name = body
        .and_then(|Json(body)| body.name)
        .unwrap_or_else(|| "Open line".to_owned());
    Json(handle(shared).add_line(&name)).into_response()
}

async fn delete_line(State(shared): SharedState, Path(id): Path<i64>) -> Response {
    reply(
        handle(shared)
            .delete_line(id)
            .map(|()| json!({ "ok": true })),
    )
}

#[derive(Deserialize)]
struct Reply {
    line: i64,
    chat_id: String,
    text: String,
}

async fn operator_reply(State(shared): SharedState, Json(body): Json<Reply>) -> Response {
    reply(handle(shared).operator_reply(body.line, &body.chat_id, &body.text))
}

#[derive(Deserialize)]
struct Edit {
    message_id: u64,
    text: String,
}

async fn operator_edit(State(shared): SharedState, Json(body): Json<Edit>) -> Response {
    reply(
        handle(shared)
            .operator_edit(body.message_id, &body.text)
            .map(|()| json!({ "ok": true })),
    )
}

#[derive(Deserialize)]
struct Remove {
    message_id: u64,
}

async fn operator_delete(State(shared): SharedState, Json(body): Json<Remove>) -> Response {
    reply(
        handle(shared)
            .operator_delete(body.message_id)
            .map(|()| json!({ "ok": true })),
    )
}

#[derive(Deserialize)]
struct Close {
    line: i64,
    chat_id: String,
}

async fn close_session(State(shared): SharedState, Json(body): Json<Close>) -> Response {
    reply(
        handle(shared)
            .close_session(body.line, &body.chat_id)
            .map(|session_id| json!({ "session_id": session_id })),
    )
}

async fn settings(State(shared): SharedState) -> Response {
    let handle = handle(shared);
    Json(json!({
        "rate_limit": handle.rate_limit(),
        "faults": handle.faults(),
        "oauth_faults": handle.oauth_faults(),
        "operating_limit": handle.operating_limit(),
        "soft_error_shape": handle.soft_error_shape(),
        "token_ttl": handle.token_ttl().as_secs_f64(),
        "bounds": handle.read(|portal| {
            let caps = portal.settings().caps;
            json!({
                "event_log": caps.event_log,
                "deliveries": caps.deliveries,
                "method_names": caps.method_names,
                "concurrent_event_posts": crate::delivery::MAX_CONCURRENT_POSTS,
                "max_body_bytes": crate::envelope::MAX_BODY_BYTES,
            })
        }),
        "tls": handle.read(|portal| portal.settings().tls),
        "allow_http_webhooks": handle.read(|portal| portal.settings().allow_http_webhooks),
    }))
    .into_response()
}

async fn set_rate_limit(State(shared): SharedState, Json(body): Json<RateLimit>) -> Response {
    reply(
        handle(shared)
            .set_rate_limit(body)
            .map(|()| json!({ "ok": true })),
    )
}

async fn set_faults(State(shared): SharedState, Json(body): Json<Option<Faults>>) -> Response {
    reply(
        handle(shared)
            .set_faults(body)
            .map(|()| json!({ "ok": true })),
    )
}

async fn set_oauth_faults(
    State(shared): SharedState,
    Json(body): Json<Option<OAuthFaults>>,
) -> Response {
    reply(
        handle(shared)
            .set_oauth_faults(body)
            .map(|()| json!({ "ok": true })),
    )
}

async fn set_soft_error_shape(
    State(shared): SharedState,
    Json(body): Json<SoftErrorShape>,
) -> Response {
    handle(shared).set_soft_error_shape(body);
    Json(json!({ "ok": true })).into_response()
}

async fn set_settings_post_shape(
    State(shared): SharedState,
    Json(body): Json<SettingsPostShape>,
) -> Response {
    handle(shared).set_settings_post_shape(body);
    Json(json!({ "ok": true })).into_response()
}

async fn set_operating_limit(
    State(shared): SharedState,
    Json(body): Json<Option<OperatingLimit>>,
) -> Response {
    handle(shared).set_operating_limit(body);
    Json(json!({ "ok": true })).into_response()
}

async fn connectors(State(shared): SharedState) -> Response {
    Json(handle(shared).connectors()).into_response()
}

async fn statuses(State(shared): SharedState) -> Response {
    let statuses: Vec<Value> = handle(shared)
        .line_statuses()
        .into_iter()
        .map(|status| {
            let (configured, ok) = (status.configured(), status.status());
            let mut value = serde_json::to_value(status).unwrap_or(Value::Null);
            if let Value::Object(map) = &mut value {
                map.insert("configured".to_owned(), json!(configured));
                map.insert("status".to_owned(), json!(ok));
            }
            value
        })
        .collect();
    Json(statuses).into_response()
}

async fn chats(State(shared): SharedState) -> Response {
    Json(handle(shared).chats()).into_response()
}

#[derive(Deserialize)]
struct ChatFilter {
    line: Option<i64>,
    chat_id: Option<String>,
}

async fn messages(State(shared): SharedState, Query(filter): Query<ChatFilter>) -> Response {
    let handle = handle(shared);
    match (filter.line, filter.chat_id) {
        (Some(line), Some(chat_id)) => Json(handle.messages(line, &chat_id)).into_response(),
        _ => Json(handle.all_messages()).into_response(),
    }
}

async fn deliveries(State(shared): SharedState) -> Response {
    Json(handle(shared).delivery_statuses()).into_response()
}

async fn offline_events(State(shared): SharedState) -> Response {
    Json(handle(shared).offline_events()).into_response()
}

async fn events(State(shared): SharedState) -> Response {
    Json(handle(shared).event_deliveries()).into_response()
}

#[derive(Deserialize)]
struct Wait {
    count: u64,
    #[serde(default = "default_wait")]
    timeout_seconds: f64,
}

fn default_wait() -> f64 {
    10.0
}

async fn wait_events(State(shared): SharedState, Json(body): Json<Wait>) -> Response {
    let timeout =
        Duration::try_from_secs_f64(body.timeout_seconds).unwrap_or(Duration::from_secs(10));
    reply(
        handle(shared)
            .wait_for_event_deliveries(body.count, timeout)
            .await,
    )
}

async fn counters(State(shared): SharedState) -> Response {
    Json(handle(shared).counters()).into_response()
}
