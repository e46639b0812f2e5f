//! The connector's settings page (placement SETTING_CONNECTOR, reference §6.1): Connect and
//! Disconnect in the contact center set only ACTIVE and POST the page to the connector's
//! PLACEMENT_HANDLER, with or without APPLICATION_TOKEN.

use imconnector_emulator::{ControlError, DeliveryOutcome, ExposeSecret, SettingsPostShape};
use serde_json::{json, Value};

use crate::common::Portal;
use crate::install::support::Receiver;

async fn registered(portal: &Portal, receiver: &Receiver) {
    portal
        .register_with(
            "acme",
            json!({"PLACEMENT_HANDLER": receiver.url("/settings")}),
        )
        .await;
}

#[tokio::test]
async fn connect_sets_only_active_and_posts_the_settings_page() {
    let portal = Portal::start().await;
    let receiver = Receiver::start().await;
    registered(&portal, &receiver).await;

    let post = portal
        .emulator
        .connect_connector("ACME", 1)
        .await
        .expect("connect");
    assert_eq!(post.outcome, DeliveryOutcome::Delivered { status: 200 });
    let status = portal.emulator.line_status("acme", 1);
    assert!(
        status.active && !status.connection && !status.register,
        "{status:?}"
    );

    let received = receiver.wait_for("/settings", 1).await.remove(0);
    assert_eq!(received.query["PROTOCOL"], "0");
    assert!(received.query.contains_key("APP_SID") && received.query.contains_key("DOMAIN"));
    let form = received.flat();
    assert_eq!(form["PLACEMENT"], "SETTING_CONNECTOR");
    let app = portal.emulator.app();
    assert_eq!(
        form["APPLICATION_TOKEN"],
        app.application_token.expose_secret()
    );
    assert_eq!(form["member_id"], app.member_id);
    let options: Value = serde_json::from_str(&form["PLACEMENT_OPTIONS"]).expect("json");
    assert_eq!(
        options,
        json!({"CONNECTOR": "acme", "LINE": "1", "ACTIVE_STATUS": true,
            "CONNECTION_STATUS": false, "REGISTER_STATUS": false, "ERROR_STATUS": false,
            "STATUS": false})
    );
    // The page's tokens are the administrator's and work.
    let (status, body) = portal
        .call_as(&form["AUTH_ID"], "user.admin", json!({}))
        .await;
    assert_eq!((status, &body["result"]), (200, &json!(true)));

    portal
        .emulator
        .disconnect_connector("acme", 1)
        .await
        .expect("disconnect");
    let page = receiver.wait_for("/settings", 2).await.remove(1).flat();
    let options: Value = serde_json::from_str(&page["PLACEMENT_OPTIONS"]).expect("json");
    assert_eq!(options["ACTIVE_STATUS"], json!(false));
    assert!(!portal.emulator.line_status("acme", 1).active);
}

#[tokio::test]
async fn the_settings_post_may_come_without_the_application_token() {
    let portal = Portal::start().await;
    let receiver = Receiver::start().await;
    registered(&portal, &receiver).await;
    portal
        .emulator
        .set_settings_post_shape(SettingsPostShape::WithoutApplicationToken);
    portal
        .emulator
        .connect_connector("acme", 1)
        .await
        .expect("connect");
    let form = receiver.wait_for("/settings", 1).await.remove(0).flat();
    assert!(!form.contains_key("APPLICATION_TOKEN"), "{form:?}");
    assert!(form.contains_key("AUTH_ID") && form.contains_key("APPLICATION_SCOPE"));
}

#[tokio::test]
async fn connect_needs_a_registered_connector_and_a_line() {
    let portal = Portal::start().await;
    let receiver = Receiver::start().await;
    let unknown = portal.emulator.connect_connector("nobody", 1).await;
    assert!(
        matches!(unknown, Err(ControlError::UnknownConnector(_))),
        "{unknown:?}"
    );
    registered(&portal, &receiver).await;
    let no_line = portal.emulator.connect_connector("acme", 999).await;
    assert!(
        matches!(no_line, Err(ControlError::UnknownLine(999))),
        "{no_line:?}"
    );
    // Over HTTP: the POST with its parsed form.
    let control = portal.emulator.control_url();
    let (status, body) = portal
        .post_json(
            &format!("{control}connectors/acme/lines/1/connect"),
            &json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["form"]["PLACEMENT"], json!("SETTING_CONNECTOR"));
    assert_eq!(body["outcome"]["state"], json!("delivered"));
}
