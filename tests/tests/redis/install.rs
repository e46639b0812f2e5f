//! The installer with its portals in Redis: the emulator installs the app, uninstalls it and
//! installs it again; the new tokens and application token replace the old ones in Redis (as a
//! second replica sees them), and events signed with the old token are refused.

use imconnector_transport::MemberId;
use std::sync::Arc;
use std::time::Duration;

use imconnector::emulator::{AppSetup, Emulator};
use imconnector::install::{AppUrls, Installer};
use imconnector::portals::{PortalRecord, PortalRegistry, PortalStore, RegistryError};
use imconnector::prelude::*;
use imconnector::transport::authorization::OAuthServer;
use imconnector::ExposeSecret;
use imconnector_redis::RedisPortals;

use crate::support::{backend, clean, redis_url, unique_prefix, PATIENCE};

struct Quiet;
impl EventHandler for Quiet {}

fn registry(app: &OAuthApp, store: RedisPortals) -> Arc<PortalRegistry<RedisPortals>> {
    Arc::new(
        PortalRegistry::new(app.clone(), store)
            .client_template(Client::builder().rate_limit(RateLimit::Off)),
    )
}

async fn settle(portal: &Emulator) {
    let queued = portal.event_deliveries().len() as u64;
    portal
        .wait_for_event_deliveries(queued, PATIENCE)
        .await
        .expect("event POSTs answered");
}

async fn event_status(urls: &AppUrls, member_id: &str, token: &str) -> u16 {
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("event", "ONIMCONNECTORLINEDELETE")
        .append_pair("event_handler_id", "1")
        .append_pair("data", "2")
        .append_pair("ts", "1773761165")
        .append_pair("auth[domain]", "portal.example")
        .append_pair("auth[member_id]", member_id)
        .append_pair("auth[application_token]", token)
        .finish();
    reqwest::Client::new()
        .post(urls.events().as_str())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("the app answers")
        .status()
        .as_u16()
}

#[tokio::test]
async fn uninstall_then_reinstall_replaces_the_portal_in_redis() {
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix("install");
    let lease = Duration::from_secs(5);
    let backend = backend(&url, &prefix, lease).await;

    let portal = Emulator::builder()
        .lines(1)
        .start()
        .await
        .expect("emulator");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let urls = AppUrls::new(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    let creds = portal
        .add_app(AppSetup::api_only(urls.app(), urls.install()))
        .unwrap();
    let app = OAuthApp::new(&creds.client_id, creds.client_secret.expose_secret());
    let portals = registry(&app, backend.portals(RateLimit::Off));
    let oauth = OAuthServer::new(app.clone())
        .unwrap()
        .token_url(&portal.oauth_url())
        .unwrap();
    let setup = ConnectorSetup::new(
        ConnectorId::new("redis_install").unwrap(),
        "Redis install",
        Icon::new("data:image/svg+xml,%3Csvg%2F%3E"),
        urls.settings(),
        urls.events(),
    );
    let installer = Installer::new(Arc::clone(&portals), oauth, setup, &urls).unwrap();
    let router = installer.router(Quiet);
    tokio::spawn(async move { axum::serve(listener, router).await });

    // Another replica: its own connection, the same keys.
    let replica = registry(
        &app,
        crate::support::backend(&url, &prefix, lease)
            .await
            .portals(RateLimit::Off),
    );
    let stored = |registry: Arc<PortalRegistry<RedisPortals>>| {
        let member_id = creds.member_id.clone();
        async move {
            let record: Option<PortalRecord> = registry
                .store()
                .load(&MemberId::from(&member_id))
                .await
                .expect("Redis");
            record
        }
    };

    portal.install(&creds.client_id).await.unwrap();
    settle(&portal).await;
    let first = stored(Arc::clone(&replica))
        .await
        .expect("installed, in Redis");
    let old_token = first.application_token.expose_secret().to_owned();
    assert_eq!(old_token, creds.application_token.expose_secret());
    assert_eq!(event_status(&urls, &creds.member_id, &old_token).await, 200);

    portal.uninstall(&creds.client_id, true).unwrap();
    settle(&portal).await;
    assert!(
        stored(Arc::clone(&replica)).await.is_none(),
        "removed from Redis"
    );
    assert!(matches!(
        replica.client_for(&MemberId::from(&creds.member_id)).await,
        Err(RegistryError::NotInstalled(_))
    ));
    assert_eq!(event_status(&urls, &creds.member_id, &old_token).await, 401);

    portal.install(&creds.client_id).await.unwrap();
    settle(&portal).await;
    let second = stored(Arc::clone(&replica))
        .await
        .expect("reinstalled, in Redis");
    let new_token = second.application_token.expose_secret().to_owned();
    assert_ne!(new_token, old_token);
    assert_ne!(
        second.tokens.refresh_token.expose_secret(),
        first.tokens.refresh_token.expose_secret()
    );
    assert_ne!(
        second.tokens.access_token.expose_secret(),
        first.tokens.access_token.expose_secret()
    );
    assert_eq!(event_status(&urls, &creds.member_id, &old_token).await, 401);
    assert_eq!(event_status(&urls, &creds.member_id, &new_token).await, 200);
    // The replica works with the new pair from Redis.
    let client = replica
        .client_for(&MemberId::from(&creds.member_id))
        .await
        .expect("client");
    client
        .call_raw("imopenlines.config.list.get", serde_json::json!({}))
        .await
        .expect("the new tokens work");

    portal.shutdown().await;
    clean(&backend, &prefix).await;
}
