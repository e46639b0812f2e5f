//! Success shapes and error order of the line, status, chat, open-line and event methods.

use serde_json::{json, Value};

use crate::common::Portal;

fn without(mut params: Value, key: &str) -> Value {
    params.as_object_mut().expect("object").remove(key);
    params
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
                without(full.clone(), missing),
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
