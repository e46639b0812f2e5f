//! Installing an app like a portal: the UI install POST, installFinish, ONAPPINSTALL,
//! API-only installs, the authorization-code flow, uninstall and reinstall
//! (shared/reference/app-install.md).

pub(crate) mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use imconnector_emulator::{AppSetup, ControlError, DeliveryOutcome, ExposeSecret, InstallState};
use serde_json::json;

use crate::common::{read, Portal};
use support::{
    authorize, customer_writes, exchange, keys, object_keys, open_ui_app, refresh, rest_status,
    set, wizard, Receiver, INSTALL_AUTH_KEYS,
};

#[tokio::test]
async fn the_ui_install_post_carries_exactly_the_frame_fields() {
    let portal = Portal::start().await;
    let receiver = Receiver::start().await;
    let (app, post) = open_ui_app(&portal, &receiver).await;

    assert_eq!(post.content_type, "application/x-www-form-urlencoded");
    assert_eq!(
        keys(&post.query),
        set(&["DOMAIN", "PROTOCOL", "LANG", "APP_SID"])
    );
    assert_eq!(post.query["DOMAIN"], app.domain);
    assert_eq!(post.query["PROTOCOL"], "0");
    assert_eq!(post.query["LANG"], "en");
    let sid = &post.query["APP_SID"];
    assert!(sid.len() == 32 && sid.chars().all(|c| c.is_ascii_hexdigit()));

    let form = post.flat();
    assert_eq!(
        keys(&form),
        set(&[
            "AUTH_ID",
            "AUTH_EXPIRES",
            "REFRESH_ID",
            "member_id",
            "status",
            "PLACEMENT",
            "SERVER_ENDPOINT",
            "APPLICATION_TOKEN",
            "APPLICATION_SCOPE",
        ])
    );
    assert_eq!(form["AUTH_EXPIRES"], "3600");
    assert_eq!(form["member_id"], app.member_id);
    assert_eq!(form["status"], "L");
    assert_eq!(form["PLACEMENT"], "DEFAULT");
    assert_eq!(form["SERVER_ENDPOINT"], portal.emulator.rest_url());
    assert_eq!(
        form["APPLICATION_TOKEN"],
        app.application_token.expose_secret()
    );
    assert_eq!(rest_status(&portal, &form["AUTH_ID"]).await.0, 200);

    let status = portal
        .emulator
        .install_status(&app.client_id)
        .expect("status");
    let last = status.last_install_post.expect("recorded");
    assert_eq!(last.outcome, DeliveryOutcome::Delivered { status: 200 });
    assert_eq!(&last.app_sid, sid);
    assert_eq!(last.form(), form);
    assert!(!format!("{last:?}").contains(&form["AUTH_ID"]), "redacted");

    // The older shape: no SERVER_ENDPOINT/APPLICATION_TOKEN/APPLICATION_SCOPE; options sent
    // only when set.
    let setup = AppSetup::ui(receiver.url("/app"), receiver.url("/legacy"))
        .with_legacy_install_post()
        .with_placement_options(r#"{"any":"1"}"#)
        .with_lang("de");
    let legacy = portal.emulator.add_app(setup).expect("add");
    portal
        .emulator
        .install(&legacy.client_id)
        .await
        .expect("install");
    let post = receiver.wait_for("/legacy", 1).await.remove(0);
    let form = post.flat();
    assert_eq!(
        keys(&form),
        set(&[
            "AUTH_ID",
            "AUTH_EXPIRES",
            "REFRESH_ID",
            "member_id",
            "status",
            "PLACEMENT",
            "PLACEMENT_OPTIONS",
        ])
    );
    assert_eq!(form["PLACEMENT_OPTIONS"], r#"{"any":"1"}"#);
    assert_eq!(post.query["LANG"], "de");
}

#[tokio::test]
async fn no_events_before_install_finish_then_onappinstall_brings_working_tokens() {
    let portal = Portal::start().await;
    let receiver = Receiver::start().await;
    let (app, post) = open_ui_app(&portal, &receiver).await;
    let token = post.flat()["AUTH_ID"].clone();
    wizard(&portal, &receiver, &token, "instconn").await;
    customer_writes(&portal, &token, "instconn", "m1").await;
    portal
        .emulator
        .operator_reply(1, "c1", "before finish")
        .expect("reply");
    let queued = portal.emulator.event_deliveries();
    assert!(
        queued.iter().all(|event| event.client_id != app.client_id),
        "no event may be queued before installFinish: {queued:?}"
    );

    let status = portal
        .emulator
        .install_finish(&app.client_id)
        .expect("finish");
    assert_eq!(
        (status.state, status.installs),
        (InstallState::Installed, 1)
    );
    let event = receiver.wait_for("/onappinstall", 1).await.remove(0);
    assert_eq!(event.content_type, "application/x-www-form-urlencoded");
    let form = event.nested();
    assert_eq!(form["event"], "ONAPPINSTALL");
    assert!(form["event_handler_id"]
        .as_str()
        .expect("id")
        .parse::<u64>()
        .is_ok());
    assert_eq!(
        form["data"],
        json!({"VERSION": "1", "ACTIVE": "Y", "INSTALLED": "Y", "LANGUAGE_ID": "en"})
    );
    let ts: i64 = form["ts"].as_str().expect("ts").parse().expect("number");
    let auth = &form["auth"];
    let expected: BTreeSet<String> = INSTALL_AUTH_KEYS
        .iter()
        .map(|&key| key.to_owned())
        .collect();
    assert_eq!(object_keys(auth), expected);
    let expires: i64 = auth["expires"]
        .as_str()
        .expect("expires")
        .parse()
        .expect("n");
    assert!(expires >= ts + 3599, "{expires} vs {ts}");
    assert_eq!(auth["expires_in"], "3600");
    assert_eq!(auth["scope"], "imopenlines,imconnector");
    assert_eq!(auth["domain"], app.domain.as_str());
    assert_eq!(auth["server_endpoint"], portal.emulator.rest_url().as_str());
    assert_eq!(auth["client_endpoint"], portal.emulator.rest_url().as_str());
    assert_eq!(auth["status"], "L");
    assert_eq!(auth["member_id"], app.member_id.as_str());
    assert_eq!(auth["user_id"], "1");
    assert_eq!(
        auth["application_token"],
        app.application_token.expose_secret()
    );

    let access = auth["access_token"].as_str().expect("access");
    let (status, body) = rest_status(&portal, access).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = refresh(&portal, &app, auth["refresh_token"].as_str().expect("rt")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["member_id"], app.member_id.as_str());
    let renewed = body["access_token"].as_str().expect("renewed");
    assert_eq!(rest_status(&portal, renewed).await.0, 200);

    // Installed: the next operator reply reaches the app.
    portal
        .emulator
        .operator_reply(1, "c1", "after finish")
        .expect("reply");
    let events = receiver.wait_for("/events", 1).await;
    assert_eq!(events[0].nested()["event"], "ONIMCONNECTORMESSAGEADD");
    assert_eq!(
        events.len(),
        1,
        "the reply before installFinish was never sent"
    );
}

#[tokio::test]
async fn an_api_only_install_pushes_onappinstall_to_the_install_url() {
    let portal = Portal::start().await;
    let receiver = Receiver::start().await;
    let setup = AppSetup::api_only(receiver.url("/app"), receiver.url("/callback"));
    let app = portal.emulator.add_app(setup).expect("add");
    let status = portal
        .emulator
        .install(&app.client_id)
        .await
        .expect("install");
    assert_eq!(status.state, InstallState::Installed);
    assert!(status.last_install_post.is_none());
    let event = receiver.wait_for("/callback", 1).await.remove(0);
    let form = event.nested();
    assert_eq!(form["event"], "ONAPPINSTALL");
    assert_eq!(object_keys(&form["auth"]).len(), INSTALL_AUTH_KEYS.len());
    let access = form["auth"]["access_token"].as_str().expect("token");
    let (status, body) = rest_status(&portal, access).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["result"],
        json!([{"event": "ONAPPINSTALL", "handler": receiver.url("/callback"), "auth_type": "0", "offline": 0}])
    );
    assert!(receiver.at("/app").is_empty());
    let refused = portal.emulator.install_finish(&app.client_id);
    assert!(matches!(refused, Err(ControlError::InstallRefused { .. })));
}

#[tokio::test]
async fn authorize_redirects_with_a_single_use_code_valid_30_seconds() {
    let portal = Portal::start().await;
    let receiver = Receiver::start().await;
    let (app, _) = open_ui_app(&portal, &receiver).await;
    let url = portal.emulator.authorize_url(&app.client_id, "st4te");
    assert_eq!(authorize(&url).await.status(), 400, "not installed yet");
    portal
        .emulator
        .install_finish(&app.client_id)
        .expect("finish");

    let response = authorize(&url).await;
    assert_eq!(response.status(), 302);
    let location = response.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let target = url::Url::parse(&location).expect("url");
    assert_eq!(
        target[..url::Position::AfterPath],
        receiver.url("/oauth-return")
    );
    let params: BTreeMap<String, String> = target.query_pairs().into_owned().collect();
    assert_eq!(
        keys(&params),
        set(&[
            "code",
            "state",
            "domain",
            "member_id",
            "scope",
            "server_domain"
        ])
    );
    assert_eq!(params["state"], "st4te");
    assert_eq!(params["domain"], app.domain);
    assert_eq!(params["member_id"], app.member_id);
    assert_eq!(params["scope"], "imopenlines,imconnector");
    assert_eq!(params["server_domain"], "oauth.bitrix.info");

    let (status, body) = exchange(&portal, &app, &params["code"]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["user_id"].clone(), body["expires_in"].clone()),
        (json!(1), json!(3600))
    );
    assert_eq!(body["member_id"], app.member_id.as_str());
    let access = body["access_token"].as_str().expect("token");
    assert_eq!(rest_status(&portal, access).await.0, 200);
    let (status, body) = exchange(&portal, &app, &params["code"]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    let code_of = |response: reqwest::Response| {
        let location = response.headers()["location"]
            .to_str()
            .expect("ascii")
            .to_owned();
        url::Url::parse(&location)
            .expect("url")
            .query_pairs()
            .find(|(key, _)| key == "code")
            .map(|(_, code)| code.into_owned())
            .expect("code")
    };
    let fresh = code_of(authorize(&url).await);
    portal.emulator.advance_clock(Duration::from_secs(20));
    assert_eq!(
        exchange(&portal, &app, &fresh).await.0,
        200,
        "20 s is in time"
    );
    let late = code_of(authorize(&url).await);
    portal.emulator.advance_clock(Duration::from_secs(31));
    let (status, body) = exchange(&portal, &app, &late).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    let unknown = portal.emulator.authorize_url("local.nope.1", "s");
    assert_eq!(authorize(&unknown).await.status(), 400);
}

#[tokio::test]
async fn uninstall_sends_onappuninstall_then_revokes_tokens_and_removes_connectors() {
    let portal = Portal::start().await;
    let receiver = Receiver::start().await;
    let (app, post) = open_ui_app(&portal, &receiver).await;
    let form = post.flat();
    let (token, refresh_token) = (form["AUTH_ID"].clone(), form["REFRESH_ID"].clone());
    wizard(&portal, &receiver, &token, "instconn").await;
    portal
        .emulator
        .install_finish(&app.client_id)
        .expect("finish");
    receiver.wait_for("/onappinstall", 1).await;
    assert!(portal
        .emulator
        .connectors()
        .iter()
        .any(|c| c.id == "instconn"));

    let status = portal
        .emulator
        .uninstall(&app.client_id, true)
        .expect("uninstall");
    assert_eq!(status.state, InstallState::NotInstalled);
    let event = receiver.wait_for("/onappuninstall", 1).await.remove(0);
    let form = event.nested();
    assert_eq!(form["event"], "ONAPPUNINSTALL");
    assert_eq!(form["data"], json!({"LANGUAGE_ID": "en", "CLEAN": "1"}));
    assert!(form["ts"].is_string() && form["event_handler_id"].is_string());
    assert_eq!(
        form["auth"],
        json!({
            "domain": app.domain,
            "client_endpoint": portal.emulator.rest_url(),
            "server_endpoint": portal.emulator.rest_url(),
            "member_id": app.member_id,
            "application_token": app.application_token.expose_secret(),
        })
    );

    let (status, body) = rest_status(&portal, &token).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_token"))
    );
    let (status, body) = refresh(&portal, &app, &refresh_token).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert!(portal
        .emulator
        .connectors()
        .iter()
        .all(|c| c.id != "instconn"));
    assert!(portal
        .emulator
        .line_statuses()
        .iter()
        .all(|s| s.connector != "instconn"));
    let url = portal.emulator.authorize_url(&app.client_id, "s");
    assert_eq!(authorize(&url).await.status(), 400);
    let again = portal.emulator.uninstall(&app.client_id, false);
    assert!(matches!(again, Err(ControlError::InstallRefused { .. })));
}

#[tokio::test]
async fn uninstall_sends_status_delete_for_each_status_row_of_the_apps_connectors() {
    let portal = Portal::start().await;
    let receiver = Receiver::start().await;
    let (app, post) = open_ui_app(&portal, &receiver).await;
    let token = post.flat()["AUTH_ID"].clone();
    wizard(&portal, &receiver, &token, "instconn").await;
    let (status, body) = portal
        .call_as(
            &token,
            "event.bind",
            json!({"event": "OnImConnectorStatusDelete", "handler": receiver.url("/status-delete")}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    portal
        .emulator
        .install_finish(&app.client_id)
        .expect("finish");
    receiver.wait_for("/onappinstall", 1).await;

    portal
        .emulator
        .uninstall(&app.client_id, false)
        .expect("uninstall");
    let event = receiver.wait_for("/status-delete", 1).await.remove(0);
    let form = event.nested();
    assert_eq!(form["event"], "ONIMCONNECTORSTATUSDELETE");
    assert_eq!(form["data"], json!({"connector": "instconn", "line": "1"}));
    assert!(portal
        .emulator
        .line_statuses()
        .iter()
        .all(|s| s.connector != "instconn"));
}

#[tokio::test]
async fn reinstall_gives_new_tokens_and_a_new_application_token() {
    let portal = Portal::start().await;
    let receiver = Receiver::start().await;
    let (app, first) = open_ui_app(&portal, &receiver).await;
    let first = first.flat();
    wizard(&portal, &receiver, &first["AUTH_ID"], "instconn").await;
    portal
        .emulator
        .install_finish(&app.client_id)
        .expect("finish");
    let refused = portal.emulator.install(&app.client_id).await;
    assert!(matches!(refused, Err(ControlError::InstallRefused { .. })));
    portal
        .emulator
        .uninstall(&app.client_id, false)
        .expect("uninstall");

    portal
        .emulator
        .install(&app.client_id)
        .await
        .expect("reinstall");
    let second = receiver.wait_for("/install", 2).await.remove(1);
    let second_form = second.flat();
    assert_ne!(second_form["AUTH_ID"], first["AUTH_ID"]);
    assert_ne!(second_form["REFRESH_ID"], first["REFRESH_ID"]);
    assert_ne!(second_form["APPLICATION_TOKEN"], first["APPLICATION_TOKEN"]);
    let current = portal
        .emulator
        .apps()
        .into_iter()
        .find(|candidate| candidate.client_id == app.client_id)
        .expect("app");
    assert_eq!(
        second_form["APPLICATION_TOKEN"],
        current.application_token.expose_secret()
    );
    assert_eq!(rest_status(&portal, &first["AUTH_ID"]).await.0, 401);
    let (status, body) = rest_status(&portal, &second_form["AUTH_ID"]).await;
    assert_eq!(
        (status, body["result"].clone()),
        (200, json!([])),
        "handlers were removed"
    );

    wizard(&portal, &receiver, &second_form["AUTH_ID"], "instconn").await;
    let status = portal
        .emulator
        .install_finish(&app.client_id)
        .expect("finish");
    assert_eq!(status.installs, 2);
    let event = receiver
        .wait_for("/onappinstall", 2)
        .await
        .remove(1)
        .nested();
    assert_eq!(
        event["auth"]["application_token"],
        current.application_token.expose_secret()
    );
}

#[tokio::test]
async fn the_control_api_drives_an_install_over_http() {
    let portal = Portal::start().await;
    let receiver = Receiver::start().await;
    let control = portal.emulator.control_url();
    let setup =
        json!({"handler_url": receiver.url("/app"), "install_url": receiver.url("/install")});
    let (status, app) = portal
        .post_json(&format!("{control}local-apps"), &setup)
        .await;
    assert_eq!(status, 200, "{app}");
    let client_id = app["client_id"].as_str().expect("client_id").to_owned();
    assert!(app["client_secret"].is_string() && app["application_token"].is_string());

    let base = format!("{control}apps/{client_id}");
    let (status, body) = portal
        .post_json(&format!("{base}/install"), &json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "awaiting_finish");
    assert_eq!(body["setup"]["only_api"], false);
    let post = &body["last_install_post"];
    assert_eq!(
        post["outcome"],
        json!({"state": "delivered", "status": 200})
    );
    assert_eq!(post["form"]["PLACEMENT"], "DEFAULT");
    assert_eq!(post["query"]["APP_SID"], post["app_sid"]);
    let posted = receiver.wait_for("/install", 1).await.remove(0);
    assert_eq!(post["form"]["AUTH_ID"], posted.flat()["AUTH_ID"].as_str());

    let response = portal
        .http
        .get(format!("{base}/install"))
        .send()
        .await
        .expect("get");
    let (status, body) = read(response).await;
    assert_eq!(
        (status, body["state"].as_str()),
        (200, Some("awaiting_finish"))
    );
    let (status, body) = portal
        .post_json(&format!("{base}/install-finish"), &json!({}))
        .await;
    assert_eq!(
        (status, body["state"].as_str(), body["installs"].as_u64()),
        (200, Some("installed"), Some(1))
    );
    let (status, body) = portal
        .post_json(&format!("{base}/install-finish"), &json!({}))
        .await;
    assert_eq!((status, body["error"].as_str()), (409, Some("REFUSED")));
    let (status, body) = portal
        .post_json(&format!("{base}/uninstall"), &json!({"clean": true}))
        .await;
    assert_eq!(
        (status, body["state"].as_str()),
        (200, Some("not_installed"))
    );

    let (status, _) = portal
        .post_json(&format!("{control}apps/local.nope.1/install"), &json!({}))
        .await;
    assert_eq!(status, 404);
    let bad = json!({"handler_url": "ftp://x", "install_url": receiver.url("/install")});
    let (status, _) = portal
        .post_json(&format!("{control}local-apps"), &bad)
        .await;
    assert_eq!(status, 409);
}

#[tokio::test]
async fn an_unanswered_install_post_is_recorded_as_failed() {
    let portal = Portal::start().await;
    // A port that was free a moment ago: nothing listens there now.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr")
    };
    let setup = AppSetup::ui(
        format!("http://{closed}/app"),
        format!("http://{closed}/install"),
    );
    let app = portal.emulator.add_app(setup).expect("add");
    let status = portal
        .emulator
        .install(&app.client_id)
        .await
        .expect("install");
    assert_eq!(status.state, InstallState::AwaitingFinish);
    let post = status.last_install_post.expect("recorded");
    assert!(
        matches!(post.outcome, DeliveryOutcome::Failed { status: None, .. }),
        "{:?}",
        post.outcome
    );
    assert!(post
        .url
        .starts_with(&format!("http://{closed}/install?DOMAIN=")));
}
