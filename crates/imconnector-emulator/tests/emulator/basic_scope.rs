//! The `basic` scope methods an app asks who opened it and whether it is installed:
//! `user.admin`, `profile`, `app.info` (b24restdocs common/users/user-admin.md,
//! common/system/app-info.md). User 1 is an administrator, user 2 is not.

use imconnector_emulator::{AppSetup, ExposeSecret, InstallState, RateLimit};
use serde_json::{json, Value};

use crate::common::{Portal, Sink};

#[tokio::test]
async fn user_admin_is_true_for_the_administrator_only() {
    let portal = Portal::start().await;
    let client_id = portal.emulator.apps()[0].client_id.clone();
    assert_eq!(portal.ok("user.admin", json!({})).await, json!(true));
    let employee = portal
        .emulator
        .tokens_for(&client_id, 2)
        .expect("tokens of user 2");
    let (status, body) = portal
        .call_as(
            employee.access_token.expose_secret(),
            "USER.ADMIN.json",
            json!({}),
        )
        .await;
    assert_eq!((status, &body["result"]), (200, &json!(false)), "{body}");
    // The incoming webhook acts for user 1, an administrator.
    let (status, body) = portal.call_webhook("user.admin", json!({})).await;
    assert_eq!((status, &body["result"]), (200, &json!(true)), "{body}");
    // No token, no answer.
    let (status, body) = portal
        .post_json(&portal.url("user.admin"), &json!({}))
        .await;
    assert_eq!((status, &body["error"]), (401, &json!("NO_AUTH_FOUND")));
}

#[tokio::test]
async fn profile_describes_the_calling_user() {
    let portal = Portal::start().await;
    let client_id = portal.emulator.apps()[0].client_id.clone();
    let admin = portal.ok("profile", json!({})).await;
    assert_eq!(admin["ID"], json!("1"), "{admin}");
    assert_eq!(admin["ADMIN"], json!(true));
    assert_eq!(
        (&admin["NAME"], &admin["LAST_NAME"]),
        (&json!("Emulator"), &json!("Admin"))
    );
    for key in ["PERSONAL_GENDER", "TIME_ZONE", "TIME_ZONE_OFFSET"] {
        assert!(admin.get(key).is_some(), "{key}: {admin}");
    }
    let employee = portal.emulator.tokens_for(&client_id, 2).expect("tokens");
    let (status, body) = portal
        .call_as(employee.access_token.expose_secret(), "profile", json!({}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["result"]["ID"], json!("2"), "{body}");
    assert_eq!(body["result"]["ADMIN"], json!(false));
}

#[tokio::test]
async fn app_info_names_the_calling_app_and_whether_it_is_installed() {
    let portal = Portal::start().await;
    let first = portal.emulator.apps()[0].client_id.clone();
    let info = portal.ok("app.info", json!({})).await;
    assert_eq!(info["CODE"], json!(first), "{info}");
    assert_eq!(info["INSTALLED"], json!(true));
    assert_eq!(info["STATUS"], json!("L"));
    assert_eq!(info["PAYMENT_EXPIRED"], json!("N"));
    assert!(info["ID"].is_u64() && info["VERSION"].is_u64(), "{info}");
    assert!(info["DAYS"].is_null());
    assert_eq!(info["LANGUAGE_ID"], json!("en"));
    assert!(
        info["LICENSE"]
            .as_str()
            .is_some_and(|license| license.starts_with("en_")),
        "{info}"
    );

    // A UI app is not installed between its install POST and installFinish.
    let sink = Sink::start().await;
    let setup = AppSetup::ui(format!("{}/app", sink.url), format!("{}/install", sink.url));
    let app = portal.emulator.add_app(setup).expect("add app");
    let status = portal
        .emulator
        .install(&app.client_id)
        .await
        .expect("install");
    assert_eq!(status.state, InstallState::AwaitingFinish);
    let token = portal
        .emulator
        .tokens_for(&app.client_id, 1)
        .expect("tokens");
    let token = token.access_token.expose_secret();
    let (_, body) = portal.call_as(token, "app.info", json!({})).await;
    assert_eq!(body["result"]["CODE"], json!(app.client_id), "{body}");
    assert_eq!(body["result"]["INSTALLED"], json!(false), "{body}");
    assert_ne!(body["result"]["ID"], info["ID"], "another app row");
    portal
        .emulator
        .install_finish(&app.client_id)
        .expect("installFinish");
    let (_, body) = portal.call_as(token, "app.info", json!({})).await;
    assert_eq!(body["result"]["INSTALLED"], json!(true), "{body}");

    // The webhook has no app: its scope and the plan only.
    let (status, body) = portal.call_webhook("app.info", json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["result"]["SCOPE"].is_array(), "{body}");
    assert!(body["result"]["LICENSE"].is_string(), "{body}");
    assert!(body["result"].get("CODE").is_none(), "{body}");
}

#[tokio::test]
async fn app_info_reports_the_enterprise_plan_when_the_portal_runs_its_bucket() {
    let portal = Portal::start().await;
    let info = portal.ok("app.info", json!({})).await;
    assert_eq!(
        (&info["LICENSE"], &info["LICENSE_FAMILY"]),
        (&json!("en_pro100"), &json!("pro"))
    );
    portal
        .emulator
        .set_rate_limit(RateLimit::Enterprise)
        .expect("enterprise");
    let info = portal.ok("app.info", json!({})).await;
    assert_eq!(
        (
            &info["LICENSE"],
            &info["LICENSE_TYPE"],
            &info["LICENSE_FAMILY"]
        ),
        (&json!("en_ent250"), &json!("ent250"), &json!("ent"))
    );
}

#[tokio::test]
async fn scope_and_methods_list_what_the_app_was_granted() {
    let portal = Portal::start().await;
    assert_eq!(
        portal.ok("scope", json!({})).await,
        json!(["imopenlines", "imconnector"])
    );
    let methods = portal.ok("methods", json!({})).await;
    let names: Vec<&str> = methods
        .as_array()
        .expect("list")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for needed in [
        "imconnector.send.messages",
        "imopenlines.config.get",
        "event.bind",
        "app.info",
    ] {
        assert!(names.contains(&needed), "{needed} in {names:?}");
    }
    let of_scope = portal.ok("methods", json!({"scope": "imopenlines"})).await;
    assert_eq!(
        of_scope,
        json!(["imopenlines.config.list.get", "imopenlines.config.get"])
    );
}

#[tokio::test]
async fn a_method_outside_the_apps_scope_is_refused_with_insufficient_scope() {
    let portal = Portal::start().await;
    let client_id = portal.emulator.apps()[0].client_id.clone();
    portal
        .emulator
        .set_app_scope(&client_id, &["imopenlines"])
        .expect("scope");
    let (status, body) = portal
        .call("imconnector.status", json!({"CONNECTOR": "c", "LINE": 1}))
        .await;
    assert_eq!(
        (status, &body["error"]),
        (401, &json!("insufficient_scope")),
        "{body}"
    );
    // Inside a batch the refusal is the sub-call's; basic methods always work.
    let batch = portal
        .ok(
            "batch",
            json!({"cmd": {"s": "imconnector.list", "a": "app.info", "l": "imopenlines.config.list.get"}}),
        )
        .await;
    assert_eq!(
        batch["result_error"]["s"]["error"],
        json!("insufficient_scope")
    );
    assert!(
        batch["result"]["a"].is_object() && batch["result"]["l"].is_array(),
        "{batch}"
    );
    assert_eq!(portal.ok("scope", json!({})).await, json!(["imopenlines"]));
    let methods = portal.ok("methods", json!({})).await;
    assert!(!methods
        .as_array()
        .expect("list")
        .contains(&json!("imconnector.send.messages")));
    // New tokens carry the new scope; an unknown scope is refused.
    let tokens = portal.emulator.tokens_for(&client_id, 1).expect("tokens");
    let refused = portal.emulator.set_app_scope(&client_id, &["crm"]);
    assert!(refused.is_err());
    let (status, _) = portal
        .call_as(
            tokens.access_token.expose_secret(),
            "imopenlines.config.list.get",
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    // Over HTTP too.
    let control = portal.emulator.control_url();
    let response = portal
        .http
        .put(format!("{control}apps/{client_id}/scope"))
        .json(&json!(["imopenlines", "imconnector"]))
        .send()
        .await
        .expect("put");
    assert_eq!(response.status().as_u16(), 200);
    let (status, _) = portal
        .call("imconnector.status", json!({"CONNECTOR": "c", "LINE": 1}))
        .await;
    assert_eq!(status, 200);
}
