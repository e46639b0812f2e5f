//! The REST endpoint: `/rest/{method}[.json]` (OAuth) and `/rest/{user}/{code}/{method}`
//! (webhook). Order per request: faults, rate limit, parameters, auth, method lookup,
//! operating-time budget, the method itself.

pub(crate) mod auth;
mod basic;
pub(crate) use basic::ALL_SCOPES;
mod batch;
mod connectors;
mod event_api;
mod messages;
mod offline;
mod openlines;
mod outgoing;
mod status;

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use axum::Extension;
use serde_json::{json, Value};

use crate::config::SoftErrorShape;
use crate::envelope::{error_response, html_500, json_response, ApiError, Outcome, Timing};
use crate::faults::{apply_faults, reset_connection};
use crate::limits::OperatingReport;
use crate::php::Params;
use crate::server::{ConnectionKill, Secure};
use crate::state::fault_engine::{Endpoint, FaultAction};
use crate::state::{Portal, Shared};
use auth::Caller;

/// A method implementation.
type MethodFn = fn(&mut Portal, Caller, Params) -> Outcome;

/// Every method the emulator knows, by lowercase wire name, with the scope that grants it
/// (`None`: `basic`, which every app has).
const METHODS: [(&str, Option<&str>, MethodFn); 28] = [
    (
        "imconnector.register",
        Some("imconnector"),
        connectors::register,
    ),
    (
        "imconnector.unregister",
        Some("imconnector"),
        connectors::unregister,
    ),
    ("imconnector.list", Some("imconnector"), connectors::list),
    (
        "imconnector.activate",
        Some("imconnector"),
        status::activate,
    ),
    ("imconnector.status", Some("imconnector"), status::status),
    (
        "imconnector.connector.data.set",
        Some("imconnector"),
        status::data_set,
    ),
    (
        "imconnector.set.error",
        Some("imconnector"),
        status::set_error,
    ),
    (
        "imconnector.send.messages",
        Some("imconnector"),
        messages::send,
    ),
    (
        "imconnector.update.messages",
        Some("imconnector"),
        messages::update,
    ),
    (
        "imconnector.delete.messages",
        Some("imconnector"),
        messages::delete,
    ),
    (
        "imconnector.send.status.delivery",
        Some("imconnector"),
        outgoing::delivery,
    ),
    (
        "imconnector.send.status.reading",
        Some("imconnector"),
        outgoing::reading,
    ),
    (
        "imconnector.chat.name.set",
        Some("imconnector"),
        outgoing::chat_name_set,
    ),
    (
        "imopenlines.config.list.get",
        Some("imopenlines"),
        openlines::list_get,
    ),
    (
        "imopenlines.config.get",
        Some("imopenlines"),
        openlines::get,
    ),
    ("event.bind", None, event_api::bind),
    ("event.unbind", None, event_api::unbind),
    ("event.get", None, event_api::get),
    ("event.offline.get", None, offline::get),
    ("event.offline.list", None, offline::list),
    ("event.offline.clear", None, offline::clear),
    ("event.offline.error", None, offline::error),
    ("batch", None, batch::batch),
    ("user.admin", None, basic::user_admin),
    ("profile", None, basic::profile),
    ("app.info", None, basic::app_info),
    ("scope", None, basic::scope),
    ("methods", None, basic::methods),
];

/// The implementation of `name` (lowercase).
fn method_fn(name: &str) -> Option<MethodFn> {
    METHODS
        .iter()
        .find(|(known, _, _)| *known == name)
        .map(|(_, _, run)| *run)
}

/// The scope that grants `name` (lowercase); `None` for `basic` methods and unknown names.
pub(crate) fn scope_of(name: &str) -> Option<&'static str> {
    METHODS
        .iter()
        .find(|(known, _, _)| *known == name)
        .and_then(|(_, scope, _)| *scope)
}

/// The names of the methods `granted` allows (every `basic` one included).
pub(crate) fn methods_granted(granted: &dyn Fn(&str) -> bool) -> Vec<&'static str> {
    METHODS
        .iter()
        .filter(|(_, scope, _)| scope.is_none_or(granted))
        .map(|(name, _, _)| *name)
        .collect()
}

/// Whether the emulator serves `name` (lowercase).
pub(crate) fn is_known(name: &str) -> bool {
    method_fn(name).is_some()
}

/// The addressed method and, for webhook paths, `(user, code)`.
struct Target {
    method: String,
    webhook: Option<(String, String)>,
}

fn parse_target(path: &str) -> Option<Target> {
    let rest = path.strip_prefix("/rest/")?;
    let segments: Vec<&str> = rest
        .split('/')
        .filter(|segment| !segment.is_empty())
        .collect();
    let (webhook, method) = match segments.as_slice() {
        [method] => (None, *method),
        [user, code, method] => (Some(((*user).to_owned(), (*code).to_owned())), *method),
        _ => return None,
    };
    // Method names are case-insensitive; `.json` selects the (only) format.
    let method = method.to_lowercase();
    let method = method.strip_suffix(".json").unwrap_or(&method).to_owned();
    Some(Target { method, webhook })
}

fn not_found() -> ApiError {
    ApiError::new(404, "ERROR_METHOD_NOT_FOUND", "Method not found!")
}

/// The axum handler for everything under `/rest/`.
pub(crate) async fn handle(
    State(shared): State<Arc<Shared>>,
    kill: Option<Extension<ConnectionKill>>,
    secure: Option<Extension<Secure>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let kill = kill.map(|Extension(kill)| kill);
    let secure = secure.is_some_and(|Extension(Secure(secure))| secure);
    let start = shared.clock.now();
    let action = match apply_faults(&shared, kill.as_ref(), Endpoint::Rest).await {
        Ok(action) => action,
        Err(response) => return response,
    };
    // Over the size limit the body is dropped, as PHP drops a POST over `post_max_size`.
    let body = body.unwrap_or_default();
    let request = Incoming {
        method: &method,
        uri: &uri,
        headers: &headers,
        body: &body,
        secure,
    };
    let response = process(&shared, &request, start);
    if action == FaultAction::DropAfter {
        return reset_connection(kill.as_ref()).await;
    }
    response
}

/// One REST request as it arrived.
struct Incoming<'a> {
    method: &'a Method,
    uri: &'a Uri,
    headers: &'a HeaderMap,
    body: &'a [u8],
    /// Over TLS.
    secure: bool,
}

fn process(shared: &Arc<Shared>, request: &Incoming<'_>, start: f64) -> Response {
    let Some(target) = parse_target(request.uri.path()) else {
        return error_response(&not_found());
    };
    let headers = request.headers;
    let mut params =
        crate::params::collect(request.method, headers, request.uri.query(), request.body);
    let (outcome, report, processing, shape) = shared.run(|portal| {
        portal.count_request(&target.method, is_known(&target.method));
        let shape = portal.settings().soft_error_shape;
        if !portal.admit_request() {
            return (
                Outcome::Err(ApiError::query_limit_exceeded()),
                None,
                0.0,
                shape,
            );
        }
        let webhook = target
            .webhook
            .as_ref()
            .map(|(user, code)| (user.as_str(), code.as_str()));
        let settings = portal.settings();
        if webhook.is_some() && settings.tls && !request.secure && !settings.allow_http_webhooks {
            // The portal's REST_APAUTH check (reference §1.1); OAuthException makes it a 401.
            let error = ApiError::new(401, "INVALID_REQUEST", "Https required.");
            return (Outcome::Err(error), None, 0.0, shape);
        }
        let caller = match auth::resolve(portal, webhook, &mut params, headers) {
            Ok(caller) => caller,
            Err(error) => return (Outcome::Err(error), None, 0.0, shape),
        };
        let (outcome, report, processing) = invoke(portal, caller, &target.method, params);
        (outcome, report, processing, shape)
    });
    let timing = Timing {
        start,
        finish: shared.clock.now(),
        processing,
        operating: report,
    };
    render(outcome, timing, shape)
}

fn render(outcome: Outcome, timing: Timing, shape: SoftErrorShape) -> Response {
    match outcome {
        Outcome::Ok(result) => json_response(
            StatusCode::OK,
            &json!({ "result": result, "time": timing.to_value() }),
        ),
        Outcome::Soft(payload) => match shape {
            SoftErrorShape::Wrapped => json_response(
                StatusCode::OK,
                &json!({ "result": payload, "time": timing.to_value() }),
            ),
            SoftErrorShape::TopLevel => json_response(StatusCode::OK, &payload),
        },
        Outcome::Err(error) => error_response(&error),
        Outcome::Fatal => html_500(),
        Outcome::Page { items, total, next } => {
            let mut body = json!({ "result": items, "total": total, "time": timing.to_value() });
            if let (Some(next), Value::Object(map)) = (next, &mut body) {
                map.insert("next".to_owned(), json!(next));
            }
            json_response(StatusCode::OK, &body)
        }
    }
}

/// Runs one method (top-level or batch sub-call) with the operating-time budget around it.
/// Returns the outcome, the budget report (when the limiter is on) and the emulated processing
/// time.
pub(crate) fn invoke(
    portal: &mut Portal,
    caller: Caller,
    method: &str,
    params: Params,
) -> (Outcome, Option<OperatingReport>, f64) {
    let Some(run) = method_fn(method) else {
        return (Outcome::Err(not_found()), None, 0.0);
    };
    if let (Some(scope), Some(app)) = (scope_of(method), caller.app()) {
        if !portal.app(app).has_scope(scope) {
            // The portal's 403 becomes 401 on the OAuth path (reference, error table).
            let error = ApiError::new(
                401,
                "insufficient_scope",
                "The request requires higher privileges than provided by the access token",
            );
            return (Outcome::Err(error), None, 0.0);
        }
    }
    // The outer batch is not charged; each sub-call is (reference §1.6). The ledger runs even
    // without a limit, so every `time` block carries `operating` as the cloud's do.
    let charged = method != "batch";
    let limit = portal.settings().operating.filter(|_| charged);
    let ledger_key = caller.ledger_key(portal);
    if let Some(limit) = limit {
        if portal.operating_blocked(&ledger_key, method, limit.budget.as_secs_f64()) {
            let error = ApiError::new(
                429,
                "OPERATION_TIME_LIMIT",
                "Method is blocked due to operation time limit.",
            );
            return (Outcome::Err(error), None, 0.0);
        }
    }
    let started = Instant::now();
    let outcome = run(portal, caller, params);
    let processing = portal.time_scale() * started.elapsed().as_secs_f64();
    let cost = if charged {
        limit
            .and_then(|limit| limit.cost_per_call)
            .map_or(processing, |cost| cost.as_secs_f64())
    } else {
        0.0
    };
    let report = Some(portal.charge_operating(&ledger_key, method, cost));
    (outcome, report, processing)
}

/// Reads a required connector id (`isset`) and normalises it.
pub(crate) fn required_connector(params: &Params) -> Result<String, ApiError> {
    let value = params.get("CONNECTOR");
    if !crate::php::is_set(value) {
        return Err(ApiError::missing("CONNECTOR"));
    }
    Ok(crate::php::connector_real_id(
        &crate::php::to_text(value).unwrap_or_default(),
    ))
}

/// Provider lookup shared by message and status methods: the connector must be a registered
/// custom connector.
pub(crate) fn require_provider(portal: &Portal, connector: &str) -> Result<(), ApiError> {
    if portal.connector(connector).is_some() {
        Ok(())
    } else {
        Err(ApiError::new(
            400,
            "IMCONNECTOR_NO_CORRECT_PROVIDER",
            "Cannot find a matching connector provider",
        ))
    }
}

/// `{"SUCCESS": true, "DATA": []}`, the answer of the status methods.
pub(crate) fn success_empty_data() -> Value {
    json!({ "SUCCESS": true, "DATA": [] })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_case_insensitive_and_strip_json() {
        let target = parse_target("/rest/IMConnector.Status.json").expect("parses");
        assert_eq!(target.method, "imconnector.status");
        assert!(target.webhook.is_none());
        let target = parse_target("/rest/1/abc/imconnector.list").expect("parses");
        assert_eq!(target.webhook, Some(("1".to_owned(), "abc".to_owned())));
        assert!(parse_target("/rest/").is_none());
        assert!(parse_target("/rest/a/b").is_none());
    }
}
