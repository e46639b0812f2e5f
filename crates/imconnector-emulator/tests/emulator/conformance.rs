//! Every method's success shape and its documented errors, in the server's validation order.

use imconnector_emulator::SoftErrorShape;
use serde_json::{json, Value};

use crate::common::Portal;

const WRONG_AUTH: &str =
    "Current authorization type is denied for this method Application context required";

fn register_params() -> Value {
    json!({
        "ID": "acme_chat", "NAME": "Acme Chat",
        "ICON": { "DATA_IMAGE": "data:image/svg+xml,%3Csvg%2F%3E", "COLOR": "#69acc0", "SIZE": "90%", "POSITION": "center" },
        "ICON_DISABLED": { "DATA_IMAGE": "data:image/svg+xml,%3Csvg%2F%3E", "COLOR": "#99adb3" },
        "PLACEMENT_HANDLER": "https://app.example.com/b24/settings",
        "CHAT_GROUP": false,
    })
}

fn without(mut params: Value, path: &[&str]) -> Value {
    let (last, parents) = path.split_last().expect("path");
    let mut target = &mut params;
    for key in parents {
        target = &mut target[*key];
    }
    target.as_object_mut().expect("object").remove(*last);
    params
}

async fn soft_error(portal: &Portal, method: &str, params: Value) -> (String, String) {
    let (status, body) = portal.call(method, params).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["result"], json!(false), "{body}");
    assert!(body["time"].is_object());
    (
        body["result"]["error"].as_str().expect("code").to_owned(),
        body["result"]["error_description"]
            .as_str()
            .expect("description")
            .to_owned(),
    )
}

#[tokio::test]
async fn register_succeeds_and_stores_the_connector() {
    let portal = Portal::start().await;
    let result = portal.ok("imconnector.register", register_params()).await;
    assert_eq!(result, json!({"result": true}));
    let connectors = portal.emulator.connectors();
    assert_eq!(connectors.len(), 1);
    assert_eq!(connectors[0].id, "acme_chat");
    assert_eq!(
        connectors[0].owner_client_id,
        portal.emulator.app().client_id
    );
    assert!(!connectors[0].flags.chat_group && connectors[0].flags.need_signature);
}

#[tokio::test]
async fn register_soft_errors_come_in_the_servers_order() {
    let portal = Portal::start().await;
    let cases = [
        // The dot check runs before the emptiness checks.
        (json!({"ID": "a.b"}), "APPLICATION_REGISTRATION_ERROR_POINT"),
        (without(register_params(), &["ID"]), "CONNECTOR_ID_REQUIRED"),
        (json!({"ID": "0", "NAME": "x"}), "CONNECTOR_ID_REQUIRED"),
        (json!({"ID": "x"}), "NAME_REQUIRED"),
        (without(register_params(), &["NAME"]), "NAME_REQUIRED"),
        (
            without(register_params(), &["ICON", "DATA_IMAGE"]),
            "ICON_REQUIRED",
        ),
        (
            without(
                without(register_params(), &["ICON"]),
                &["PLACEMENT_HANDLER"],
            ),
            "ICON_REQUIRED",
        ),
        (
            without(register_params(), &["PLACEMENT_HANDLER"]),
            "NO_PLACEMENT_HANDLER",
        ),
    ];
    for (params, code) in cases {
        let (got, description) = soft_error(&portal, "imconnector.register", params.clone()).await;
        assert_eq!(got, code, "{params}");
        assert!(!description.is_empty());
    }
    assert!(portal.emulator.connectors().is_empty(), "nothing was saved");
}

#[tokio::test]
async fn register_save_failures_are_application_registration_error() {
    let portal = Portal::start().await;
    let mut numeric_id = register_params();
    numeric_id["ID"] = json!(123);
    let mut bad_flag = register_params();
    bad_flag["NEWSLETTER"] = json!("yes");
    let mut too_long = register_params();
    too_long["NAME"] = json!("n".repeat(256));
    for params in [numeric_id, bad_flag, too_long] {
        let (code, description) = soft_error(&portal, "imconnector.register", params).await;
        assert_eq!(
            (code.as_str(), description.as_str()),
            ("APPLICATION_REGISTRATION_ERROR", "Error registering app")
        );
    }
    assert!(portal.emulator.connectors().is_empty());
}

#[tokio::test]
async fn register_soft_errors_at_the_top_level_when_asked() {
    let portal = Portal::start().await;
    portal
        .emulator
        .set_soft_error_shape(SoftErrorShape::TopLevel);
    let (status, body) = portal
        .call("imconnector.register", json!({"ID": "x"}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"result": false, "error": "NAME_REQUIRED", "error_description": "Connector name is not specified"})
    );
    // Success keeps the usual envelope.
    let result = portal.ok("imconnector.register", register_params()).await;
    assert_eq!(result, json!({"result": true}));
}

#[tokio::test]
async fn register_and_every_imconnector_method_refuse_webhooks_first() {
    let portal = Portal::start().await;
    let methods = [
        "imconnector.register",
        "imconnector.unregister",
        "imconnector.activate",
        "imconnector.status",
        "imconnector.connector.data.set",
        "imconnector.send.messages",
        "imconnector.update.messages",
        "imconnector.delete.messages",
        "imconnector.send.status.delivery",
        "imconnector.send.status.reading",
        "imconnector.chat.name.set",
        "imconnector.set.error",
    ];
    for method in methods {
        // Even with a dotted ID or missing arguments the auth gate answers first.
        let (status, body) = portal.call_webhook(method, json!({"ID": "a.b"})).await;
        assert_eq!(status, 403, "{method}: {body}");
        assert_eq!(
            body,
            json!({"error": "WRONG_AUTH_TYPE", "error_description": WRONG_AUTH}),
            "{method}"
        );
    }
    // imconnector.list loses the code on the way out: 400 ERROR_CORE.
    let (status, body) = portal.call_webhook("imconnector.list", json!({})).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("ERROR_CORE")),
        "{body}"
    );
    for method in ["event.bind", "event.unbind", "event.get"] {
        let (status, body) = portal.call_webhook(method, json!({})).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (403, Some("WRONG_AUTH_TYPE")),
            "{method}: {body}"
        );
    }
    // The imopenlines methods accept webhooks.
    let (status, body) = portal
        .call_webhook("imopenlines.config.list.get", json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn unregister_removes_the_connector_and_its_statuses() {
    let portal = Portal::start().await;
    portal.ready("acme_chat", 1).await;
    portal.activate("acme_chat", 2).await;
    let result = portal
        .ok("imconnector.unregister", json!({"ID": "ACME_CHAT"}))
        .await;
    assert_eq!(result, json!({"result": true}));
    assert!(portal.emulator.connectors().is_empty());
    assert!(portal.emulator.line_statuses().is_empty());
    let (code, description) =
        soft_error(&portal, "imconnector.unregister", json!({"ID": ""})).await;
    assert_eq!(
        (code.as_str(), description.as_str()),
        (
            "APPLICATION_UNREGISTRATION_ERROR",
            "Error unregistering app"
        )
    );
}

#[tokio::test]
async fn list_shows_built_in_and_custom_connectors_to_admins_only() {
    let portal = Portal::start().await;
    portal.register("acme_chat").await;
    let result = portal.ok("imconnector.list", json!({})).await;
    assert_eq!(result["acme_chat"], json!("Connector acme_chat"));
    assert_eq!(result["livechat"], json!("Live Chat"));
    let employee = portal
        .emulator
        .tokens_for(&portal.emulator.app().client_id, 2)
        .expect("tokens");
    let token =
        imconnector_emulator::ExposeSecret::expose_secret(&employee.access_token).to_owned();
    let (status, body) = portal.call_as(&token, "imconnector.list", json!({})).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"error": "ACCESS_DENIED", "error_description": "You dont have access to this action"})
    );
}

#[tokio::test]
async fn unknown_methods_are_404() {
    let portal = Portal::start().await;
    let body = portal
        .err("imconnector.nope", json!({}), 404, "ERROR_METHOD_NOT_FOUND")
        .await;
    assert_eq!(body["error_description"], json!("Method not found!"));
}
