//! Publishing a new version of an installed app (b24restdocs common/events/on-app-update.md,
//! events/event-bind.md "when an application is deleted or updated, its actions will be
//! removed"): ONAPPUPDATE with a new application token, then the app's bindings are gone.

use imconnector_emulator::{AppSetup, ControlError, ExposeSecret};
use serde_json::json;

use crate::common::Portal;
use crate::install::support::{object_keys, Receiver};

#[tokio::test]
async fn an_update_sends_onappupdate_with_a_new_application_token_and_removes_the_bindings() {
    let portal = Portal::start().await;
    let receiver = Receiver::start().await;
    let setup = AppSetup::api_only(receiver.url("/app"), receiver.url("/callback"));
    let app = portal.emulator.add_app(setup).expect("add");
    portal
        .emulator
        .install(&app.client_id)
        .await
        .expect("install");
    let installed = receiver.wait_for("/callback", 1).await.remove(0).nested();
    let token = installed["auth"]["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let old_application_token = installed["auth"]["application_token"].clone();
    for event in ["ONAPPUPDATE", "OnImConnectorMessageAdd"] {
        let (status, body) = portal
            .call_as(
                &token,
                "event.bind",
                json!({"event": event, "handler": receiver.url("/update")}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }

    let version = portal.emulator.update_app(&app.client_id).expect("update");
    assert_eq!(version, 2);
    let update = receiver.wait_for("/update", 1).await.remove(0).nested();
    assert_eq!(update["event"], json!("ONAPPUPDATE"));
    assert_eq!(
        update["data"],
        json!({"VERSION": "2", "PREVIOUS_VERSION": "1", "LANGUAGE_ID": "en"})
    );
    let new_application_token = update["auth"]["application_token"].clone();
    assert!(new_application_token.is_string());
    assert_ne!(new_application_token, old_application_token);
    assert!(object_keys(&update["auth"]).contains("refresh_token"));
    let credentials = portal
        .emulator
        .apps()
        .into_iter()
        .find(|credentials| credentials.client_id == app.client_id)
        .expect("the app");
    assert_eq!(
        json!(credentials.application_token.expose_secret()),
        new_application_token,
        "later events are signed with the new token"
    );
    // The update's tokens work; every binding is gone until the app binds again.
    let fresh = update["auth"]["access_token"].as_str().expect("token");
    let (status, bindings) = portal.call_as(fresh, "event.get", json!({})).await;
    assert_eq!(
        (status, &bindings["result"]),
        (200, &json!([])),
        "{bindings}"
    );
    let (_, info) = portal.call_as(fresh, "app.info", json!({})).await;
    assert_eq!(info["result"]["VERSION"], json!(2));
}

#[tokio::test]
async fn only_an_installed_app_can_be_updated() {
    let portal = Portal::start().await;
    let receiver = Receiver::start().await;
    let setup = AppSetup::ui(receiver.url("/app"), receiver.url("/install"));
    let app = portal.emulator.add_app(setup).expect("add");
    let refused = portal.emulator.update_app(&app.client_id);
    assert!(
        matches!(refused, Err(ControlError::InstallRefused { .. })),
        "{refused:?}"
    );
    // The emulator's own first app is installed from the start; the control API updates too.
    let first = portal.emulator.app();
    assert_eq!(portal.emulator.update_app(&first.client_id).ok(), Some(2));
    let control = portal.emulator.control_url();
    let url = format!("{control}apps/{}/update", first.client_id);
    let (status, body) = portal.post_json(&url, &json!({})).await;
    assert_eq!((status, body), (200, json!({"version": 3})));
    let url = format!("{control}apps/{}/update", app.client_id);
    let (status, body) = portal.post_json(&url, &json!({})).await;
    assert_eq!(status, 409, "{body}");
}
