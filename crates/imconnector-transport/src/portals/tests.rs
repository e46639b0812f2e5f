//! The registry with the in-memory store: installation records, one client per portal, and
//! (feature `server`) event verification by the token of the portal an event claims.
#![allow(clippy::unwrap_used)]

use secrecy::ExposeSecret;
use serde_json::{json, Value};

use super::*;

fn install_event(member_id: &str, token: &str) -> Value {
    json!({
        "event": "ONAPPINSTALL",
        "auth": {
            "access_token": format!("access-{member_id}"),
            "refresh_token": format!("refresh-{member_id}"),
            "expires": "1900000000",
            "client_endpoint": format!("https://{member_id}.example/rest/"),
            "server_endpoint": "https://oauth.bitrix.info/rest/",
            "domain": format!("{member_id}.example"),
            "member_id": member_id,
            "application_token": token,
            "scope": "imconnector,imopenlines",
            "status": "L",
            "user_id": "1",
        }
    })
}

fn registry() -> PortalRegistry<MemoryPortalStore> {
    PortalRegistry::new(OAuthApp::new("app.id", "secret"), MemoryPortalStore::new())
}

#[test]
fn an_install_event_becomes_a_record_and_a_missing_field_is_named() {
    let record = PortalRecord::from_install_event(&install_event("portal-a", "token-a")).unwrap();
    assert_eq!(record.member_id, "portal-a");
    assert_eq!(record.domain.as_deref(), Some("portal-a.example"));
    assert_eq!(record.application_token.expose_secret(), "token-a");
    assert_eq!(
        record.tokens.refresh_token.expose_secret(),
        "refresh-portal-a"
    );
    assert_eq!(
        record.tokens.client_endpoint.as_deref(),
        Some("https://portal-a.example/rest/")
    );
    assert_eq!(
        record.tokens.member_id.as_ref().map(|id| id.as_str()),
        Some("portal-a")
    );
    assert_eq!(record.tokens.status.as_deref(), Some("L"));
    let debug = format!("{record:?}");
    assert!(
        !debug.contains("token-a") && !debug.contains("access-portal-a"),
        "{debug}"
    );

    for field in [
        "application_token",
        "refresh_token",
        "client_endpoint",
        "member_id",
    ] {
        let mut event = install_event("portal-a", "token-a");
        event["auth"][field] = json!("");
        assert_eq!(
            PortalRecord::from_install_event(&event).unwrap_err(),
            InstallEventError::Missing(field)
        );
    }
    assert_eq!(
        PortalRecord::from_install_event(&json!({"event": "ONAPPINSTALL"})).unwrap_err(),
        InstallEventError::Missing("auth")
    );
}

#[tokio::test]
async fn each_portal_gets_its_own_client_and_unknown_portals_none() {
    let registry = registry();
    let body = imconnector_form::encode(&install_event("portal-a", "token-a"));
    registry.install_event(None, body.as_bytes()).await.unwrap();
    registry
        .install(PortalRecord::from_install_event(&install_event("portal-b", "token-b")).unwrap())
        .await
        .unwrap();

    let client_a = registry
        .client_for(&MemberId::from("portal-a"))
        .await
        .unwrap();
    let client_b = registry
        .client_for(&MemberId::from("portal-b"))
        .await
        .unwrap();
    assert_eq!(
        client_a.tokens().unwrap().access_token.expose_secret(),
        "access-portal-a"
    );
    assert_eq!(
        client_b.tokens().unwrap().access_token.expose_secret(),
        "access-portal-b"
    );
    let token = registry
        .application_token(&MemberId::from("portal-b"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(token.expose_secret(), "token-b");
    assert!(matches!(
        registry.client_for(&MemberId::from("portal-c")).await,
        Err(RegistryError::NotInstalled(member)) if member == "portal-c"
    ));

    registry
        .uninstall(&MemberId::from("portal-a"))
        .await
        .unwrap();
    assert!(registry
        .application_token(&MemberId::from("portal-a"))
        .await
        .unwrap()
        .is_none());
    assert!(registry
        .client_for(&MemberId::from("portal-a"))
        .await
        .is_err());
    assert!(registry
        .client_for(&MemberId::from("portal-b"))
        .await
        .is_ok());
}

#[tokio::test]
async fn a_record_whose_client_cannot_be_built_is_not_stored() {
    let registry = registry();
    let mut event = install_event("portal-a", "token-a");
    event["auth"]["client_endpoint"] = json!("not a url");
    let error = registry
        .install(PortalRecord::from_install_event(&event).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(error, RegistryError::Client { .. }), "{error}");
    assert!(registry
        .application_token(&MemberId::from("portal-a"))
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn the_registry_fills_a_missing_application_token_once() {
    let registry = registry();
    let member = MemberId::from("portal-a");
    let mut legacy = PortalRecord::from_install_event(&install_event("portal-a", "x")).unwrap();
    legacy.application_token = SecretString::from(String::new());
    registry.install(legacy).await.unwrap();
    let token = SecretString::from("proven-token".to_owned());
    assert!(registry
        .fill_application_token(&member, &token)
        .await
        .unwrap());
    let other = SecretString::from("another-token".to_owned());
    assert!(!registry
        .fill_application_token(&member, &other)
        .await
        .unwrap());
    let stored = registry.application_token(&member).await.unwrap().unwrap();
    assert_eq!(stored.expose_secret(), "proven-token");
    assert_eq!(
        registry
            .last_known_application_token(&member)
            .map(|token| token.expose_secret().to_owned())
            .as_deref(),
        Some("proven-token")
    );
    let unknown = MemberId::from("never-installed");
    assert!(!registry
        .fill_application_token(&unknown, &token)
        .await
        .unwrap());
}
