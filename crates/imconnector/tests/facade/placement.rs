//! The `SETTING_CONNECTOR` placement POST, parsed from a body of the documented shape, and the
//! tutorial's handler logic against the emulated portal.

use imconnector::placement::{apply_settings, AppliedSettings, PlacementError, SettingsPlacement};
use imconnector::prelude::*;
use serde_json::json;

use crate::support::{line, portal, setup, sink};

const QUERY: &str = "DOMAIN=example.bitrix24.com&PROTOCOL=1&LANG=en&APP_SID=1a2b3c";

/// The body Bitrix24 POSTs to the settings page (reference §6.1), `PLACEMENT_OPTIONS` being a
/// JSON string inside the form.
fn body(options: serde_json::Value) -> String {
    imconnector_form::encode(&json!({
        "AUTH_ID": "9f2e0a6500705a0f00598e9e00000001000007a1b2c3d4e5f6",
        "AUTH_EXPIRES": "3600",
        "REFRESH_ID": "8fa1886600705a0f00598e9e00000001000007ffeeddccbbaa",
        "SERVER_ENDPOINT": "https://oauth.bitrix.info/rest/",
        "APPLICATION_TOKEN": "831c76b092f9f135d9b6b36c3a720757",
        "APPLICATION_SCOPE": "imopenlines,imconnector,placement",
        "member_id": "bac1c1a0b1d2e3f4a5b6c7d8e9f0a1b2",
        "status": "L",
        "PLACEMENT": "SETTING_CONNECTOR",
        "PLACEMENT_OPTIONS": options.to_string(),
    }))
}

fn documented_options() -> serde_json::Value {
    json!({
        "CONNECTOR": "acme_chat", "LINE": "3",
        "ACTIVE_STATUS": true, "CONNECTION_STATUS": false, "REGISTER_STATUS": false,
        "ERROR_STATUS": false, "STATUS": false,
        "URI": "/contact_center/connector/?ID=acme_chat&LINE=3",
    })
}

#[test]
fn a_documented_settings_post_parses_into_typed_fields() {
    let page = SettingsPlacement::parse(Some(QUERY), body(documented_options()).as_bytes())
        .expect("parses");
    let options = &page.options;
    assert_eq!(options.connector.as_str(), "acme_chat");
    assert_eq!(options.line.get(), 3);
    assert!(options.active_status);
    assert!(!options.connection_status && !options.register_status);
    assert!(!options.error_status && !options.status);
    assert_eq!(
        options.uri.as_deref(),
        Some("/contact_center/connector/?ID=acme_chat&LINE=3")
    );
    assert_eq!(page.member_id, "bac1c1a0b1d2e3f4a5b6c7d8e9f0a1b2");
    assert_eq!(page.expires_in, Some(3600));
    assert_eq!(
        page.scope.as_deref(),
        Some("imopenlines,imconnector,placement")
    );
    assert_eq!(
        (page.lang.as_deref(), page.app_sid.as_deref()),
        (Some("en"), Some("1a2b3c"))
    );
    assert!(page.has_application_token("831c76b092f9f135d9b6b36c3a720757"));
    assert!(!page.has_application_token("831c76b092f9f135d9b6b36c3a720758"));
    assert_eq!(
        page.portal_rest_url().as_deref(),
        Some("https://example.bitrix24.com/rest/")
    );
    let tokens = page.tokens().expect("a refresh token was sent");
    assert_eq!(
        tokens.client_endpoint.as_deref(),
        Some("https://example.bitrix24.com/rest/")
    );
    assert_eq!(
        tokens.member_id.as_ref().map(|id| id.as_str()),
        Some("bac1c1a0b1d2e3f4a5b6c7d8e9f0a1b2")
    );

    let shown = format!("{page:?} {tokens:?}");
    for secret in ["9f2e0a65", "8fa18866", "831c76b0"] {
        assert!(
            !shown.contains(secret),
            "a token leaked into Debug: {shown}"
        );
    }
}

#[test]
fn flags_sent_as_strings_are_read_like_booleans() {
    let options =
        json!({ "CONNECTOR": "Acme_Chat", "LINE": 7, "ACTIVE_STATUS": "Y", "STATUS": "0" });
    let page = SettingsPlacement::from_form(body(options).as_bytes()).expect("parses");
    assert_eq!(page.options.connector.as_str(), "acme_chat");
    assert_eq!(page.options.line.get(), 7);
    assert!(page.options.active_status);
    assert!(!page.options.status);
    assert_eq!(
        page.portal_rest_url(),
        None,
        "no DOMAIN without the query string"
    );
}

#[test]
fn malformed_settings_posts_name_the_field() {
    let missing_line =
        SettingsPlacement::from_form(body(json!({ "CONNECTOR": "acme_chat" })).as_bytes());
    assert!(
        matches!(
            missing_line,
            Err(PlacementError::Missing("PLACEMENT_OPTIONS.LINE"))
        ),
        "{missing_line:?}"
    );

    let not_json = body(json!(null)).replace("PLACEMENT_OPTIONS=null", "PLACEMENT_OPTIONS=%7Bnope");
    let error = SettingsPlacement::from_form(not_json.as_bytes()).expect_err("not JSON");
    assert!(
        matches!(
            error,
            PlacementError::Invalid {
                field: "PLACEMENT_OPTIONS",
                ..
            }
        ),
        "{error}"
    );

    let no_auth = body(documented_options()).replace("AUTH_ID=", "OTHER=");
    let error = SettingsPlacement::from_form(no_auth.as_bytes()).expect_err("no AUTH_ID");
    assert!(matches!(error, PlacementError::Missing("AUTH_ID")));
    assert!(!error.to_string().contains("9f2e0a65"), "{error}");

    let other = body(documented_options()).replace("SETTING_CONNECTOR", "CONTACT_CENTER");
    let error = SettingsPlacement::from_form(other.as_bytes()).expect_err("another placement");
    assert!(matches!(error, PlacementError::OtherPlacement(ref name) if name == "CONTACT_CENTER"));
}

#[tokio::test]
async fn applying_the_settings_page_activates_then_sets_data_or_deactivates() {
    let portal = portal().await;
    provision(&portal.client, &setup(&sink().await), line(2))
        .await
        .expect("registered and bound");
    let options = json!({ "CONNECTOR": "acme_chat", "LINE": "1", "ACTIVE_STATUS": true });
    let page = SettingsPlacement::from_form(body(options).as_bytes()).expect("parses");

    let applied = apply_settings(
        &portal.client,
        &page,
        ConnectorData::new().with_name("Acme on line 1"),
    )
    .await
    .expect("applied");
    match applied {
        AppliedSettings::Activated(status) => assert!(status.status),
        other => panic!("unexpected: {other:?}"),
    }
    let status = portal.emulator.line_status("acme_chat", 1);
    assert!(status.status());
    assert_eq!(status.data.expect("data")["name"], "Acme on line 1");

    let options = json!({ "CONNECTOR": "acme_chat", "LINE": "1", "ACTIVE_STATUS": false });
    let page = SettingsPlacement::from_form(body(options).as_bytes()).expect("parses");
    let applied = apply_settings(&portal.client, &page, ConnectorData::new())
        .await
        .expect("applied");
    assert!(matches!(applied, AppliedSettings::Deactivated));
    let status = portal.emulator.line_status("acme_chat", 1);
    assert!(!status.active && status.data.is_none(), "{status:?}");
    assert!(
        portal.emulator.line_status("acme_chat", 2).status(),
        "other lines are untouched"
    );
}
