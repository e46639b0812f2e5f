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
async fn activate_checks_connector_line_active_in_that_order() {
    let portal = Portal::start().await;
    for (params, missing) in [
        (json!({"LINE": 1, "ACTIVE": 1}), "CONNECTOR"),
        (json!({"ACTIVE": 1}), "CONNECTOR"),
        (json!({"CONNECTOR": "c", "ACTIVE": 1}), "LINE"),
        (json!({"CONNECTOR": "c", "LINE": 1}), "ACTIVE"),
        (
            json!({"CONNECTOR": "c", "LINE": 1, "ACTIVE": null}),
            "ACTIVE",
        ),
    ] {
        let body = portal
            .err("imconnector.activate", params, 400, "ERROR_ARGUMENT")
            .await;
        assert_eq!(body["argument"], json!(missing));
        assert_eq!(
            body["error_description"],
            json!(format!("Argument '{missing}' is null or empty"))
        );
    }
    // isset, not empty: an empty string passes and deactivates.
    assert_eq!(
        portal
            .ok(
                "imconnector.activate",
                json!({"CONNECTOR": "c", "LINE": 1, "ACTIVE": ""})
            )
            .await,
        json!(true)
    );
    assert_eq!(
        portal
            .ok(
                "imconnector.activate",
                json!({"CONNECTOR": "c", "LINE": 1, "ACTIVE": 1})
            )
            .await,
        json!(true)
    );
    let status = portal.emulator.line_status("c", 1);
    assert!(
        status.active && status.connection && status.register && !status.error && status.status()
    );
}

#[tokio::test]
async fn status_reports_the_derived_flags() {
    let portal = Portal::start().await;
    let result = portal
        .ok(
            "imconnector.status",
            json!({"CONNECTOR": "acme", "LINE": "12"}),
        )
        .await;
    assert_eq!(
        result,
        json!({"LINE": 12, "CONNECTOR": "acme", "ERROR": false, "CONFIGURED": false, "STATUS": false})
    );
    portal.activate("acme", 12).await;
    let result = portal
        .ok(
            "imconnector.status",
            json!({"CONNECTOR": "acme", "LINE": 12}),
        )
        .await;
    assert_eq!(
        result,
        json!({"LINE": 12, "CONNECTOR": "acme", "ERROR": false, "CONFIGURED": true, "STATUS": true})
    );
    // LINE is optional: (int)null is 0.
    let result = portal
        .ok("imconnector.status", json!({"CONNECTOR": "acme"}))
        .await;
    assert_eq!(result["LINE"], json!(0));
    let body = portal
        .err(
            "imconnector.status",
            json!({"LINE": 12}),
            400,
            "ERROR_ARGUMENT",
        )
        .await;
    assert_eq!(body["argument"], json!("CONNECTOR"));
}

#[tokio::test]
async fn data_set_checks_connector_line_data_and_crashes_on_scalar_data() {
    let portal = Portal::start().await;
    for (params, missing) in [
        (json!({"LINE": 1, "DATA": {}}), "CONNECTOR"),
        (json!({"CONNECTOR": "c", "DATA": {}}), "LINE"),
        (json!({"CONNECTOR": "c", "LINE": 1}), "DATA"),
    ] {
        let body = portal
            .err(
                "imconnector.connector.data.set",
                params,
                400,
                "ERROR_ARGUMENT",
            )
            .await;
        assert_eq!(body["argument"], json!(missing));
    }
    let (status, body) = portal
        .call(
            "imconnector.connector.data.set",
            json!({"CONNECTOR": "c", "LINE": 1, "DATA": "text"}),
        )
        .await;
    assert_eq!(status, 500);
    assert!(
        body.as_str().is_some_and(|html| html.contains("<html")),
        "a PHP error page, not JSON: {body}"
    );
    let result = portal
        .ok(
            "imconnector.connector.data.set",
            json!({"CONNECTOR": "c", "LINE": 1, "DATA": {"ID": "chan", "url": "https://x"}}),
        )
        .await;
    assert_eq!(result, json!(true));
    let data = portal
        .emulator
        .line_status("c", 1)
        .data
        .expect("row created");
    assert_eq!(
        Value::Object(data),
        json!({"connector_id": "c", "id": "chan", "url": "https://x"})
    );
    assert!(
        !portal.emulator.line_status("c", 1).active,
        "data.set does not raise the flags"
    );
}

#[tokio::test]
async fn set_error_breaks_the_status_until_reactivated() {
    let portal = Portal::start().await;
    let body = portal
        .err(
            "imconnector.set.error",
            json!({"CONNECTOR": "acme", "LINE": 1}),
            400,
            "IMCONNECTOR_NO_CORRECT_PROVIDER",
        )
        .await;
    assert_eq!(
        body["error_description"],
        json!("Cannot find a matching connector provider")
    );
    portal.ready("acme", 1).await;
    portal
        .err(
            "imconnector.set.error",
            json!({"CONNECTOR": "acme"}),
            400,
            "ERROR_ARGUMENT",
        )
        .await;
    let result = portal
        .ok(
            "imconnector.set.error",
            json!({"CONNECTOR": "acme", "LINE": 1}),
        )
        .await;
    assert_eq!(result, json!({"SUCCESS": true, "DATA": []}));
    let status = portal
        .ok(
            "imconnector.status",
            json!({"CONNECTOR": "acme", "LINE": 1}),
        )
        .await;
    assert_eq!(
        (
            status["ERROR"].clone(),
            status["CONFIGURED"].clone(),
            status["STATUS"].clone()
        ),
        (json!(true), json!(true), json!(false))
    );
    portal.activate("acme", 1).await;
    assert!(portal.emulator.line_status("acme", 1).status());
}

#[tokio::test]
async fn chat_name_set_checks_with_empty_and_renames_the_chat() {
    let portal = Portal::start().await;
    portal.ready("acme", 1).await;
    portal
        .customer_says("acme", 1, "chan-1", "u1", "m1", "hi")
        .await;
    let full = json!({"CONNECTOR": "acme", "LINE": 1, "CHAT_ID": "chan-1", "NAME": "Order 5", "USER_ID": "u1"});
    for missing in ["CONNECTOR", "LINE", "CHAT_ID", "NAME", "USER_ID"] {
        let body = portal
            .err(
                "imconnector.chat.name.set",
                without(full.clone(), &[missing]),
                400,
                "ERROR_ARGUMENT",
            )
            .await;
        assert_eq!(body["argument"], json!(missing));
    }
    let mut other_line = full.clone();
    other_line["LINE"] = json!(2);
    portal
        .err(
            "imconnector.chat.name.set",
            other_line,
            400,
            "NOT_ACTIVE_LINE",
        )
        .await;
    let mut unknown_chat = full.clone();
    unknown_chat["CHAT_ID"] = json!("nope");
    portal
        .err(
            "imconnector.chat.name.set",
            unknown_chat,
            400,
            "CHAT_RENAMING_FAILED",
        )
        .await;
    let mut unregistered = full.clone();
    unregistered["CONNECTOR"] = json!("other");
    portal
        .err(
            "imconnector.chat.name.set",
            unregistered,
            400,
            "IMCONNECTOR_NO_CORRECT_PROVIDER",
        )
        .await;
    let result = portal.ok("imconnector.chat.name.set", full).await;
    assert_eq!(result, json!({"SUCCESS": true, "DATA": {"RESULT": {}}}));
    assert_eq!(portal.emulator.chats()[0].name.as_deref(), Some("Order 5"));
}

#[tokio::test]
async fn chat_name_set_needs_no_user_for_group_connectors() {
    let portal = Portal::start().await;
    portal
        .register_with("group", json!({"CHAT_GROUP": "Y"}))
        .await;
    portal.activate("group", 1).await;
    portal
        .customer_says("group", 1, "room", "u1", "m1", "hi")
        .await;
    portal
        .customer_says("group", 1, "room", "u2", "m2", "hello")
        .await;
    assert_eq!(
        portal.emulator.chats().len(),
        1,
        "group chats are keyed by chat.id only"
    );
    let result = portal
        .ok(
            "imconnector.chat.name.set",
            json!({"CONNECTOR": "group", "LINE": 1, "CHAT_ID": "room", "NAME": "Room"}),
        )
        .await;
    assert_eq!(result["SUCCESS"], json!(true));
}

#[tokio::test]
async fn openlines_config_list_get_selects_filters_orders_and_pages() {
    let portal = Portal::start().await;
    let lines = portal.ok("imopenlines.config.list.get", json!({})).await;
    let ids: Vec<&str> = lines
        .as_array()
        .expect("list")
        .iter()
        .map(|line| line["ID"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, ["1", "2", "3"]);
    assert!(lines[0]["DATE_CREATE"].is_object() && lines[0]["LINE_NAME"].is_string());
    let result = portal
        .ok(
            "imopenlines.config.list.get",
            json!({"PARAMS": {"select": ["ID", "LINE_NAME"], "order": {"ID": "DESC"}, "filter": {"ACTIVE": "Y"}, "limit": 2, "offset": 0},
                   "OPTIONS": {"QUEUE": "Y", "CONFIG_QUEUE": "Y"}}),
        )
        .await;
    assert_eq!(result.as_array().expect("list").len(), 2);
    assert_eq!(result[0]["ID"], json!("3"));
    let keys: Vec<&String> = result[0].as_object().expect("object").keys().collect();
    assert_eq!(
        keys,
        [
            "CONFIG_QUEUE",
            "ID",
            "LINE_NAME",
            "QUEUE",
            "QUEUE_USERS_FIELDS"
        ]
    );
    assert_eq!(result[0]["QUEUE"], json!([1]));
    for params in [
        json!({"PARAMS": {"filter": "ACTIVE"}}),
        json!({"PARAMS": {"select": ["NOPE"]}}),
        json!({"PARAMS": {"order": {"ID": "UP"}}}),
        json!({"PARAMS": {"limit": -1}}),
        json!({"PARAMS": {"bogus": 1}}),
        json!({"OPTIONS": {"QUEUE": "maybe"}}),
    ] {
        portal
            .err("imopenlines.config.list.get", params, 400, "INVALID_FORMAT")
            .await;
    }
}

#[tokio::test]
async fn openlines_config_get_returns_the_line_or_false() {
    let portal = Portal::start().await;
    let line = portal
        .ok(
            "imopenlines.config.get",
            json!({"CONFIG_ID": 2, "WITH_QUEUE": "Y"}),
        )
        .await;
    assert_eq!(line["ID"], json!("2"));
    assert_eq!(line["QUEUE"], json!(["1"]));
    assert!(line["QUEUE_FULL"]["1"].is_object());
    assert_eq!(
        portal
            .ok("imopenlines.config.get", json!({"CONFIG_ID": 99}))
            .await,
        json!(false)
    );
    let body = portal
        .err("imopenlines.config.get", json!({}), 400, "CONFIG_ID_EMPTY")
        .await;
    assert_eq!(body["error_description"], json!("Config ID can't be empty"));
}

#[tokio::test]
async fn event_bind_unbind_get() {
    let portal = Portal::start().await;
    let handler = "https://app.example/events";
    assert_eq!(
        portal
            .ok(
                "event.bind",
                json!({"event": "OnImConnectorMessageAdd", "handler": handler})
            )
            .await,
        json!(true)
    );
    let body = portal
        .err(
            "event.bind",
            json!({"event": "onimconnectormessageadd", "handler": handler}),
            400,
            "ERROR_CORE",
        )
        .await;
    assert_eq!(
        body["error_description"],
        json!("Unable to set event handler: Handler already binded")
    );
    portal
        .err(
            "event.bind",
            json!({"event": "ONCRMLEADADD", "handler": handler}),
            400,
            "ERROR_EVENT_NOT_FOUND",
        )
        .await;
    portal
        .err(
            "event.bind",
            json!({"handler": handler}),
            400,
            "ERROR_ARGUMENT",
        )
        .await;
    portal
        .err(
            "event.bind",
            json!({"event": "OnImConnectorLineDelete"}),
            400,
            "ERROR_ARGUMENT",
        )
        .await;
    portal
        .err("event.bind", json!({"event": "OnImConnectorLineDelete", "handler": handler, "event_type": "sometimes"}), 400, "ERROR_ARGUMENT")
        .await;
    let bound = portal.ok("event.get", json!({})).await;
    assert_eq!(
        bound,
        json!([{"event": "ONIMCONNECTORMESSAGEADD", "handler": handler, "auth_type": "0", "offline": 0}])
    );
    assert_eq!(
        portal
            .ok(
                "event.unbind",
                json!({"event": "OnImConnectorMessageAdd", "handler": handler})
            )
            .await,
        json!({"count": 1})
    );
    assert_eq!(
        portal
            .ok(
                "event.unbind",
                json!({"event": "OnImConnectorMessageAdd", "handler": handler})
            )
            .await,
        json!({"count": 0})
    );
    assert_eq!(portal.ok("event.get", json!({})).await, json!([]));
}

#[tokio::test]
async fn unknown_methods_are_404() {
    let portal = Portal::start().await;
    let body = portal
        .err("imconnector.nope", json!({}), 404, "ERROR_METHOD_NOT_FOUND")
        .await;
    assert_eq!(body["error_description"], json!("Method not found!"));
}
