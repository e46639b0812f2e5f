//! The code flow's states live in the portal store (issue 20 item 4): started on one installer,
//! finished on another sharing the store; used once; expired ones refused; `/authorize`
//! requests for other portals never evict a portal's pending state.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use imconnector::install::{AppUrls, Installer};
use imconnector::portals::{MemoryPortalStore, PortalRecord};
use imconnector::prelude::*;
use imconnector::transport::authorization::OAuthServer;
use imconnector::ExposeSecret;

use super::support::{installed_with, App};
use crate::support::{recorder, setup};

type Shared = Arc<MemoryPortalStore>;

/// Another replica of `app`: its own registry and installer on its own port, sharing the
/// store; `lifetime` of its authorizations if given.
async fn replica(app: &App<Shared>, lifetime: Option<Duration>) -> AppUrls {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let urls = AppUrls::new(&format!("http://{address}/bitrix/")).expect("valid base");
    let mut installer = app.installer_sharing_the_store(&urls);
    if let Some(lifetime) = lifetime {
        installer = installer
            .authorization_lifetime(lifetime)
            .expect("a valid lifetime");
    }
    let (handler, _seen) = recorder();
    let router = axum::Router::new().nest("/bitrix", installer.router(handler));
    tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });
    urls
}

/// A browser that does not follow redirects, shared by every request of these tests: building
/// a client (its TLS roots) for each of the 1,200 requests below took most of a minute. It keeps
/// no idle connection, so no connection outlives the test runtime that opened it.
fn browser() -> &'static reqwest::Client {
    static BROWSER: LazyLock<reqwest::Client> = LazyLock::new(|| {
        reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(0)
            .build()
            .expect("browser")
    });
    &BROWSER
}

/// `GET /authorize?member_id=…` on the replica at `urls`: its status, and where it redirects.
async fn start(urls: &AppUrls, member_id: &str) -> (u16, Option<String>) {
    let url = format!("{}?member_id={member_id}", urls.authorize());
    let response = browser().get(url).send().await.expect("authorize");
    let location = response
        .headers()
        .get("location")
        .map(|location| location.to_str().expect("ascii").to_owned());
    (response.status().as_u16(), location)
}

/// Starts the flow on `urls` and follows the portal's authorize page: the query of the
/// portal's redirect back (`code`, `state`, `domain`, `member_id`).
async fn portal_redirect(urls: &AppUrls, member_id: &str) -> String {
    let (status, authorize) = start(urls, member_id).await;
    assert_eq!(status, 302);
    authorize_page(&authorize.expect("the portal's authorize page")).await
}

/// The portal's authorize page at `authorize` (it issues a code that lives 30 s): the query of
/// its redirect back.
async fn authorize_page(authorize: &str) -> String {
    let response = browser()
        .get(authorize)
        .send()
        .await
        .expect("the portal's authorize page");
    assert_eq!(response.status(), 302);
    let back = response.headers()["location"].to_str().expect("ascii");
    url::Url::parse(back)
        .expect("url")
        .query()
        .expect("redirect parameters")
        .to_owned()
}

/// The portal's redirect back delivered to the replica at `urls`: its status.
async fn finish(urls: &AppUrls, query: &str) -> u16 {
    let url = format!("{}?{query}", urls.oauth_callback());
    browser()
        .get(url)
        .send()
        .await
        .expect("oauth")
        .status()
        .as_u16()
}

#[tokio::test]
async fn the_code_flow_started_on_one_installer_finishes_on_another_sharing_the_store() {
    let app = installed_with(Shared::default()).await;
    let other = replica(&app, None).await;
    let before = app.record().await.expect("installed");

    let redirect = portal_redirect(&app.urls, &app.creds.member_id).await;
    // Before the fix the other installer did not know the state: 401.
    assert_eq!(finish(&other, &redirect).await, 200);
    let after = app.record().await.expect("still installed");
    assert_ne!(
        after.tokens.refresh_token.expose_secret(),
        before.tokens.refresh_token.expose_secret(),
        "the portal's tokens were replaced"
    );
    // Used once, on every installer.
    assert_eq!(finish(&app.urls, &redirect).await, 401);
    assert_eq!(finish(&other, &redirect).await, 401);
}

#[tokio::test]
async fn authorize_requests_for_other_portals_do_not_evict_a_pending_state() {
    let app = installed_with(Shared::default()).await;
    // Other installed portals anyone may start authorizations for.
    let others = ["other-a", "other-b", "other-c"];
    for member_id in others {
        let tokens = Tokens::new("access", "refresh")
            .with_client_endpoint(format!("https://{member_id}.example/rest/"));
        app.registry
            .install(PortalRecord::new(member_id, "application-token", tokens))
            .await
            .expect("installed");
    }
    let (status, pending) = start(&app.urls, &app.creds.member_id).await;
    assert_eq!(status, 302);
    // 1,200 authorizations of other portals, all for one of them or spread over three (before
    // the fix the 1,024th evicted the pending state).
    let requests: Vec<_> = (0..4)
        .map(|task| {
            let urls = app.urls.clone();
            tokio::spawn(async move {
                for round in 0..300 {
                    let member_id = if task < 2 {
                        others[0]
                    } else {
                        others[round % 3]
                    };
                    assert_eq!(start(&urls, member_id).await.0, 302);
                }
            })
        })
        .collect();
    for request in requests {
        request.await.expect("requests");
    }
    let redirect = authorize_page(&pending.expect("the portal's authorize page")).await;
    assert_eq!(finish(&app.urls, &redirect).await, 200);
}

#[tokio::test]
async fn a_full_store_refuses_new_authorizations_and_drops_no_pending_one() {
    let store = MemoryPortalStore::new()
        .max_authorizations(imconnector::portals::MAX_AUTHORIZATIONS_PER_PORTAL)
        .expect("a valid bound");
    let app = installed_with(Arc::new(store)).await;
    let tokens =
        Tokens::new("access", "refresh").with_client_endpoint("https://other.example/rest/");
    app.registry
        .install(PortalRecord::new("other", "application-token", tokens))
        .await
        .expect("installed");
    let pending = portal_redirect(&app.urls, &app.creds.member_id).await;
    for _ in 1..imconnector::portals::MAX_AUTHORIZATIONS_PER_PORTAL {
        assert_eq!(start(&app.urls, &app.creds.member_id).await.0, 302);
    }
    // The store is full of the portal's live states: another portal's request is refused (503),
    // dropping none of them.
    assert_eq!(start(&app.urls, "other").await.0, 503);
    assert_eq!(finish(&app.urls, &pending).await, 200);
    assert_eq!(start(&app.urls, "other").await.0, 302);
    // Unknown portals are refused before anything is kept.
    assert_eq!(start(&app.urls, "nobody").await.0, 404);
}

#[tokio::test]
async fn an_expired_state_is_refused() {
    let app = installed_with(Shared::default()).await;
    let lifetime = Duration::from_millis(200);
    let short = replica(&app, Some(lifetime)).await;
    let redirect = portal_redirect(&short, &app.creds.member_id).await;
    tokio::time::sleep(lifetime * 3).await;
    assert_eq!(finish(&short, &redirect).await, 401);
    assert_eq!(finish(&app.urls, &redirect).await, 401);
    // Within its lifetime (the default, on the other installer) the same flow succeeds.
    let redirect = portal_redirect(&app.urls, &app.creds.member_id).await;
    assert_eq!(finish(&short, &redirect).await, 200);
}

#[tokio::test]
async fn an_authorization_lifetime_out_of_range_is_refused_by_name() {
    let app = installed_with(Shared::default()).await;
    for lifetime in [Duration::ZERO, Duration::from_secs(3601)] {
        let urls = app.urls.clone();
        let oauth = OAuthServer::new(app.registry.app().clone()).expect("http client");
        let installer = Installer::new(
            Arc::clone(&app.registry),
            oauth,
            setup(urls.events().as_str()),
            &urls,
        )
        .expect("installer");
        let error = installer
            .authorization_lifetime(lifetime)
            .expect_err("out of range");
        assert!(error.to_string().contains("lifetime"), "{error}");
    }
}
