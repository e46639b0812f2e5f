//! The control API over HTTP, as a test in another language would use it.

use serde_json::{json, Value};

use crate::common::{read, Portal, Sink};

async fn control(
    portal: &Portal,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = portal
        .http
        .request(method, format!("{}{path}", portal.emulator.control_url()));
    if let Some(body) = body {
        request = request.json(&body);
    }
    read(request.send().await.expect("request")).await
}

#[tokio::test]
async fn a_foreign_test_can_drive_the_whole_flow_over_http() {
    let portal = Portal::start().await;
    let (status, app) = control(&portal, reqwest::Method::GET, "app", None).await;
    assert_eq!(status, 200);
    assert_eq!(app["client_id"], json!(portal.emulator.app().client_id));
    assert!(app["client_secret"].is_string() && app["application_token"].is_string());
    let (_, tokens) = control(&portal, reqwest::Method::POST, "tokens", Some(json!({}))).await;
    let token = tokens["access_token"].as_str().expect("token").to_owned();
    let sink = Sink::start().await;
    let (status, _) = portal
        .call_as(
            &token,
            "event.bind",
            json!({"event": "OnImConnectorMessageAdd", "handler": sink.url}),
        )
        .await;
    assert_eq!(status, 200);
    portal.ready("acme", 1).await;
    portal.customer_says("acme", 1, "c9", "u", "m", "hi").await;

    let (status, reply) = control(
        &portal,
        reqwest::Method::POST,
        "operator/reply",
        Some(json!({"line": 1, "chat_id": "c9", "text": "hey"})),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    assert!(reply["chat_id"].is_u64() && reply["message_id"].is_u64());
    let (status, log) = control(
        &portal,
        reqwest::Method::POST,
        "events/wait",
        Some(json!({"count": 1})),
    )
    .await;
    assert_eq!(status, 200, "{log}");
    assert_eq!(log[0]["event"], json!("ONIMCONNECTORMESSAGEADD"));
    assert_eq!(
        log[0]["outcome"],
        json!({"state": "delivered", "status": 200})
    );

    let (_, messages) = control(
        &portal,
        reqwest::Method::GET,
        "messages?line=1&chat_id=c9",
        None,
    )
    .await;
    assert_eq!(messages.as_array().map(Vec::len), Some(2));
    assert_eq!(messages[1]["direction"], json!("outgoing"));
    let (_, statuses) = control(&portal, reqwest::Method::GET, "statuses", None).await;
    assert_eq!(statuses[0]["status"], json!(true));
    let (_, counters) = control(&portal, reqwest::Method::GET, "counters", None).await;
    assert_eq!(counters["requests"]["imconnector.send.messages"], json!(1));

    let (status, missing) = control(
        &portal,
        reqwest::Method::POST,
        "operator/reply",
        Some(json!({"line": 1, "chat_id": "nope", "text": "x"})),
    )
    .await;
    assert_eq!(
        (status, missing["error"].as_str()),
        (404, Some("NOT_FOUND"))
    );
}

#[tokio::test]
async fn settings_clock_and_lines_over_http() {
    let portal = Portal::start().await;
    let (status, _) = control(
        &portal,
        reqwest::Method::PUT,
        "settings/rate-limit",
        Some(json!({"kind": "custom", "per_second": 0.001, "burst": 1})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        portal
            .call("imconnector.status", json!({"CONNECTOR": "a"}))
            .await
            .0,
        200
    );
    assert_eq!(
        portal
            .call("imconnector.status", json!({"CONNECTOR": "a"}))
            .await
            .0,
        503
    );
    let (status, _) = control(
        &portal,
        reqwest::Method::POST,
        "clock/advance",
        Some(json!({"seconds": 1000})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        portal
            .call("imconnector.status", json!({"CONNECTOR": "a"}))
            .await
            .0,
        200
    );
    let (status, _) = control(
        &portal,
        reqwest::Method::PUT,
        "settings/soft-error-shape",
        Some(json!("top_level")),
    )
    .await;
    assert_eq!(status, 200);
    control(
        &portal,
        reqwest::Method::PUT,
        "settings/rate-limit",
        Some(json!({"kind": "off"})),
    )
    .await;
    let (_, body) = portal
        .call("imconnector.register", json!({"ID": "x"}))
        .await;
    assert_eq!(body["error"], json!("NAME_REQUIRED"));

    let (_, line) = control(
        &portal,
        reqwest::Method::POST,
        "lines",
        Some(json!({"name": "Extra"})),
    )
    .await;
    assert_eq!(line, json!({"id": 4, "name": "Extra", "active": true}));
    let (status, _) = control(&portal, reqwest::Method::DELETE, "lines/4", None).await;
    assert_eq!(status, 200);
    let (_, lines) = control(&portal, reqwest::Method::GET, "lines", None).await;
    assert_eq!(lines.as_array().map(Vec::len), Some(3));
    let (status, _) = control(&portal, reqwest::Method::POST, "tokens/expire", None).await;
    assert_eq!(status, 200);
    assert_eq!(
        portal
            .call("imconnector.status", json!({"CONNECTOR": "a"}))
            .await
            .0,
        401
    );
    let (status, _) = control(&portal, reqwest::Method::POST, "tokens/revoke", None).await;
    assert_eq!(status, 200);
    let (_, body) = portal
        .call("imconnector.status", json!({"CONNECTOR": "a"}))
        .await;
    assert_eq!(body["error"], json!("invalid_token"));
    let (status, _) = control(
        &portal,
        reqwest::Method::PUT,
        "settings/faults",
        Some(json!({"error_500_share": 2.0})),
    )
    .await;
    assert_eq!(status, 409);
    let faults = json!({"seed": 5, "latency": 0.5, "query_limit_share": 0.2});
    let (status, _) = control(
        &portal,
        reqwest::Method::PUT,
        "settings/faults",
        Some(faults),
    )
    .await;
    assert_eq!(status, 200);
    let (_, settings) = control(&portal, reqwest::Method::GET, "settings", None).await;
    assert_eq!(settings["faults"]["seed"], json!(5));
    assert_eq!(settings["faults"]["latency"], json!(0.5));
    assert_eq!(settings["faults"]["query_limit_share"], json!(0.2));
    assert_eq!(settings["rate_limit"], json!({"kind": "off"}));
    assert_eq!(settings["soft_error_shape"], json!("top_level"));
    assert_eq!(settings["token_ttl"], json!(3600.0));
}
