//! The odd shapes and docs-vs-server differences of reference section 8, one test each.

use imconnector_emulator::{ExposeSecret, SoftErrorShape};
use serde_json::{json, Value};

use crate::common::Portal;

#[tokio::test]
async fn activate_reads_active_by_php_truthiness() {
    let portal = Portal::start().await;
    for (value, expected) in [
        (json!("N"), true),
        (json!("false"), true),
        (json!("Y"), true),
        (json!(true), true),
        (json!("0"), false),
        (json!(0), false),
        (json!(false), false),
        (json!(""), false),
        (json!([]), false),
    ] {
        let result = portal
            .ok(
                "imconnector.activate",
                json!({"CONNECTOR": "q", "LINE": 1, "ACTIVE": value}),
            )
            .await;
        assert_eq!(result, json!(true));
        assert_eq!(
            portal.emulator.line_status("q", 1).active,
            expected,
            "ACTIVE={value}"
        );
    }
}

#[tokio::test]
async fn status_normalises_the_connector_id() {
    let portal = Portal::start().await;
    portal.activate("myconn", 4).await;
    let result = portal
        .ok(
            "imconnector.status",
            json!({"CONNECTOR": "MyConn.x", "LINE": "4abc"}),
        )
        .await;
    assert_eq!(
        result,
        json!({"LINE": 4, "CONNECTOR": "myconn", "ERROR": false, "CONFIGURED": true, "STATUS": true})
    );
}

#[tokio::test]
async fn data_set_merges_over_stored_data_and_deactivation_wipes_it() {
    let portal = Portal::start().await;
    portal.activate("acme", 1).await;
    let set = |data: Value| {
        portal.ok(
            "imconnector.connector.data.set",
            json!({"CONNECTOR": "acme", "LINE": 1, "DATA": data}),
        )
    };
    assert_eq!(
        set(json!({"ID": "chan", "URL": "https://a", "NAME": "Support"})).await,
        json!(true)
    );
    assert_eq!(
        set(json!({"url_im": "https://im", "NAME": "", "URL": "https://b"})).await,
        json!(true)
    );
    let data = portal.emulator.line_status("acme", 1).data.expect("data");
    assert_eq!(
        Value::Object(data),
        json!({"connector_id": "acme", "id": "chan", "url": "https://b", "url_im": "https://im", "name": "Support"})
    );
    portal
        .ok(
            "imconnector.activate",
            json!({"CONNECTOR": "acme", "LINE": 1, "ACTIVE": 0}),
        )
        .await;
    assert!(portal.emulator.line_status("acme", 1).data.is_none());
}

#[tokio::test]
async fn unregister_of_an_unknown_id_succeeds() {
    let portal = Portal::start().await;
    let result = portal
        .ok("imconnector.unregister", json!({"ID": "never_registered"}))
        .await;
    assert_eq!(result, json!({"result": true}));
}

#[tokio::test]
async fn register_and_unregister_soft_errors_in_both_shapes() {
    let portal = Portal::start().await;
    let (status, wrapped) = portal
        .call("imconnector.register", json!({"ID": "a.b"}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(wrapped["result"]["result"], json!(false));
    assert_eq!(
        wrapped["result"]["error"],
        json!("APPLICATION_REGISTRATION_ERROR_POINT")
    );
    assert!(wrapped["time"].is_object());
    portal
        .emulator
        .set_soft_error_shape(SoftErrorShape::TopLevel);
    let (status, top) = portal.call("imconnector.unregister", json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(
        top,
        json!({"result": false, "error": "APPLICATION_UNREGISTRATION_ERROR", "error_description": "Error unregistering app"})
    );
}

#[tokio::test]
async fn register_uppercases_nested_keys_and_another_app_takes_over() {
    let portal = Portal::start().await;
    let result = portal
        .ok(
            "imconnector.register",
            json!({"id": "Acme", "name": "Acme", "icon": {"data_image": "data:image/svg+xml,x"}, "placement_handler": "https://h"}),
        )
        .await;
    assert_eq!(result, json!({"result": true}));
    assert_eq!(portal.emulator.connectors()[0].id, "acme");
    let other = portal.emulator.install_app();
    let token = portal
        .emulator
        .tokens_for(&other.client_id, 1)
        .expect("tokens");
    let (status, body) = portal
        .call_as(
            token.access_token.expose_secret(),
            "imconnector.register",
            json!({"ID": "acme", "NAME": "Taken", "ICON": {"DATA_IMAGE": "data:image/svg+xml,y"}, "PLACEMENT_HANDLER": "https://other"}),
        )
        .await;
    assert_eq!((status, &body["result"]), (200, &json!({"result": true})));
    let connector = &portal.emulator.connectors()[0];
    assert_eq!(
        (connector.owner_client_id.as_str(), connector.name.as_str()),
        (other.client_id.as_str(), "Taken")
    );
}

#[tokio::test]
async fn status_methods_answer_data_as_an_empty_list() {
    let portal = Portal::start().await;
    portal.ready("acme", 1).await;
    for method in [
        "imconnector.send.status.delivery",
        "imconnector.send.status.reading",
        "imconnector.set.error",
    ] {
        let result = portal
            .ok(
                method,
                json!({"CONNECTOR": "acme", "LINE": 1, "MESSAGES": []}),
            )
            .await;
        assert_eq!(result["DATA"], json!([]), "{method}");
    }
}

#[tokio::test]
async fn chat_name_set_rejects_line_zero() {
    let portal = Portal::start().await;
    for line in [json!(0), json!("0")] {
        let body = portal
            .err("imconnector.chat.name.set", json!({"CONNECTOR": "a", "LINE": line, "CHAT_ID": "c", "NAME": "n", "USER_ID": "u"}), 400, "ERROR_ARGUMENT")
            .await;
        assert_eq!(body["argument"], json!("LINE"));
    }
    // activate uses isset: LINE 0 is accepted there.
    assert_eq!(
        portal
            .ok(
                "imconnector.activate",
                json!({"CONNECTOR": "a", "LINE": 0, "ACTIVE": 1})
            )
            .await,
        json!(true)
    );
}

#[tokio::test]
async fn list_access_denied_is_400_not_403() {
    let portal = Portal::start().await;
    let employee = portal
        .emulator
        .tokens_for(&portal.emulator.app().client_id, 2)
        .expect("tokens");
    let (status, body) = portal
        .call_as(
            employee.access_token.expose_secret(),
            "imconnector.list",
            json!({}),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("ACCESS_DENIED"))
    );
}

#[tokio::test]
async fn send_messages_on_an_inactive_line_is_400_not_active_line() {
    let portal = Portal::start().await;
    portal.ready("acme", 1).await;
    portal
        .ok(
            "imconnector.set.error",
            json!({"CONNECTOR": "acme", "LINE": 1}),
        )
        .await;
    let body = portal
        .err(
            "imconnector.send.messages",
            json!({"CONNECTOR": "acme", "LINE": 1, "MESSAGES": [{"user": {"id": "u"}, "message": {"text": "t"}, "chat": {"id": "c"}}]}),
            400,
            "NOT_ACTIVE_LINE",
        )
        .await;
    assert!(body.get("argument").is_none());
}

#[tokio::test]
async fn ownership_is_not_checked_by_activate_status_or_data_set() {
    let portal = Portal::start().await;
    portal.ready("acme", 1).await;
    let other = portal.emulator.install_app();
    let token = portal
        .emulator
        .tokens_for(&other.client_id, 1)
        .expect("tokens");
    let token = token.access_token.expose_secret();
    let (status, _) = portal
        .call_as(
            token,
            "imconnector.activate",
            json!({"CONNECTOR": "acme", "LINE": 1, "ACTIVE": 0}),
        )
        .await;
    assert_eq!(status, 200);
    assert!(!portal.emulator.line_status("acme", 1).active);
}
