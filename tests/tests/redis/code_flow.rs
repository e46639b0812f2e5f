//! The code flow's states live in the portal store (issue 20 item 4): started on one installer,
//! finished on another sharing the Redis; used once; expired ones refused; `/authorize`
//! requests for other portals do not evict a portal's pending state.

use imconnector_transport::MemberId;
use std::sync::Arc;
use std::time::Duration;

use imconnector::emulator::{AppCredentials, AppSetup, Emulator};
use imconnector::install::{AppUrls, Installer};
use imconnector::portals::{PortalRecord, PortalRegistry, PortalStore, StateSaved};
use imconnector::prelude::*;
use imconnector::transport::authorization::{AuthorizationState, OAuthServer};
use imconnector::ExposeSecret;
use imconnector_redis::RedisPortals;

use crate::support::{backend, clean, redis_url, unique_prefix, PATIENCE};

struct Quiet;
impl EventHandler for Quiet {}

/// One replica: its own Redis connection, registry and installer, served on its own port.
struct Replica {
    urls: AppUrls,
    registry: Arc<PortalRegistry<RedisPortals>>,
}

async fn listener() -> (tokio::net::TcpListener, AppUrls) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let urls = AppUrls::new(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    (listener, urls)
}

async fn replica(
    url: &str,
    prefix: &str,
    portal: &Emulator,
    app: &OAuthApp,
    (listener, urls): (tokio::net::TcpListener, AppUrls),
    lifetime: Option<Duration>,
) -> Replica {
    let store = backend(url, prefix, Duration::from_secs(5))
        .await
        .portals(RateLimit::Off);
    let registry = Arc::new(
        PortalRegistry::new(app.clone(), store)
            .client_template(Client::builder().rate_limit(RateLimit::Off)),
    );
    let oauth = OAuthServer::new(app.clone())
        .unwrap()
        .token_url(&portal.oauth_url())
        .unwrap();
    let setup = ConnectorSetup::new(
        ConnectorId::new("redis_code_flow").unwrap(),
        "Redis code flow",
        Icon::new("data:image/svg+xml,%3Csvg%2F%3E"),
        urls.settings(),
        urls.events(),
    );
    let mut installer = Installer::new(Arc::clone(&registry), oauth, setup, &urls).unwrap();
    if let Some(lifetime) = lifetime {
        installer = installer.authorization_lifetime(lifetime).unwrap();
    }
    let router = installer.router(Quiet);
    tokio::spawn(async move { axum::serve(listener, router).await });
    Replica { urls, registry }
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn location(response: &reqwest::Response) -> String {
    assert_eq!(response.status(), 302, "{}", response.url());
    response
        .headers()
        .get("location")
        .expect("a redirect")
        .to_str()
        .unwrap()
        .to_owned()
}

/// `GET /authorize?member_id=…` on `replica`: the portal's authorize URL.
async fn start(replica: &Replica, member_id: &str) -> String {
    let url = format!("{}?member_id={member_id}", replica.urls.authorize());
    location(&browser().get(url).send().await.unwrap())
}

/// The portal's authorize page: the query of its redirect back (`code`, `state`, …).
async fn portal_redirect(authorize: &str) -> String {
    let back = location(&browser().get(authorize).send().await.unwrap());
    reqwest::Url::parse(&back)
        .unwrap()
        .query()
        .expect("redirect parameters")
        .to_owned()
}

/// The redirect back, delivered to `replica`'s `/oauth`.
async fn finish(replica: &Replica, query: &str) -> u16 {
    let url = format!("{}?{query}", replica.urls.oauth_callback());
    browser().get(url).send().await.unwrap().status().as_u16()
}

/// An emulated portal with the app installed through replica A's install URL.
async fn installed_portal(
    url: &str,
    prefix: &str,
    lifetime: Option<Duration>,
) -> (Emulator, AppCredentials, OAuthApp, Replica) {
    let portal = Emulator::builder().lines(1).start().await.unwrap();
    let (listener, urls) = listener().await;
    let creds = portal
        .add_app(AppSetup::api_only(urls.app(), urls.install()))
        .unwrap();
    let app = OAuthApp::new(&creds.client_id, creds.client_secret.expose_secret());
    let a = replica(url, prefix, &portal, &app, (listener, urls), lifetime).await;
    portal.install(&creds.client_id).await.unwrap();
    let queued = portal.event_deliveries().len() as u64;
    portal
        .wait_for_event_deliveries(queued, PATIENCE)
        .await
        .unwrap();
    assert!(
        a.registry
            .store()
            .load(&MemberId::from(&creds.member_id))
            .await
            .unwrap()
            .is_some(),
        "installed"
    );
    (portal, creds, app, a)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_code_flow_started_on_one_installer_finishes_on_another() {
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix("code-flow");
    let (portal, creds, app, a) = installed_portal(&url, &prefix, None).await;
    let b = replica(&url, &prefix, &portal, &app, listener().await, None).await;
    let before = b
        .registry
        .store()
        .load(&MemberId::from(&creds.member_id))
        .await
        .unwrap()
        .unwrap();

    let redirect = portal_redirect(&start(&a, &creds.member_id).await).await;
    // Before the fix B did not know A's state: 401 "unknown, used or expired state".
    assert_eq!(finish(&b, &redirect).await, 200);
    let after = a
        .registry
        .store()
        .load(&MemberId::from(&creds.member_id))
        .await
        .unwrap()
        .unwrap();
    assert_ne!(
        after.tokens.refresh_token.expose_secret(),
        before.tokens.refresh_token.expose_secret(),
        "the portal's tokens were replaced"
    );
    // Single use, on every replica.
    assert_eq!(finish(&a, &redirect).await, 401);
    assert_eq!(finish(&b, &redirect).await, 401);
    portal.shutdown().await;
    clean(
        &backend(&url, &prefix, Duration::from_secs(5)).await,
        &prefix,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorize_requests_for_other_portals_do_not_evict_a_pending_admin_state() {
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix("code-flow-evict");
    let (portal, creds, _app, a) = installed_portal(&url, &prefix, None).await;
    // Another installed portal anyone may start authorizations for.
    let other = PortalRecord::new(
        "other-portal",
        "other-application-token",
        Tokens::new("access", "refresh").with_client_endpoint("https://other.example/rest/"),
    );
    a.registry.install(other).await.unwrap();

    let admin = start(&a, &creds.member_id).await;
    let requests: Vec<_> = (0..4)
        .map(|_| {
            let urls = a.urls.clone();
            tokio::spawn(async move {
                let client = browser();
                for _ in 0..300 {
                    let url = format!("{}?member_id=other-portal", urls.authorize());
                    assert_eq!(client.get(url).send().await.unwrap().status(), 302);
                }
            })
        })
        .collect();
    for request in requests {
        request.await.unwrap();
    }
    // 1,200 authorizations for another portal later (before the fix the 1,024th evicted it):
    assert_eq!(finish(&a, &portal_redirect(&admin).await).await, 200);
    portal.shutdown().await;
    clean(
        &backend(&url, &prefix, Duration::from_secs(5)).await,
        &prefix,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_state_is_refused() {
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix("code-flow-expiry");
    let lifetime = Duration::from_millis(300);
    let (portal, creds, _app, a) = installed_portal(&url, &prefix, Some(lifetime)).await;
    let redirect = portal_redirect(&start(&a, &creds.member_id).await).await;
    tokio::time::sleep(lifetime * 4).await;
    assert_eq!(finish(&a, &redirect).await, 401);
    // The portal's set went with its last state.
    let mut connection = backend(&url, &prefix, Duration::from_secs(5))
        .await
        .connection();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*:authorizations"))
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!(keys.is_empty(), "{keys:?}");
    portal.shutdown().await;
    clean(
        &backend(&url, &prefix, Duration::from_secs(5)).await,
        &prefix,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_concurrent_takes_of_one_state_exactly_one_succeeds() {
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix("code-flow-take");
    let redis = backend(&url, &prefix, Duration::from_secs(5)).await;
    let store = Arc::new(redis.portals(RateLimit::Off));
    let state = AuthorizationState::random();
    assert_eq!(
        store
            .save_authorization_state(&MemberId::from("portal"), &state, Duration::from_secs(60))
            .await
            .unwrap(),
        StateSaved::Kept
    );
    assert!(!store
        .take_authorization_state(&MemberId::from("another-portal"), state.expose())
        .await
        .unwrap());
    let takes: Vec<_> = (0..16)
        .map(|_| {
            let (store, state) = (Arc::clone(&store), state.expose().to_owned());
            tokio::spawn(async move {
                store
                    .take_authorization_state(&MemberId::from("portal"), &state)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut won = 0;
    for take in takes {
        won += usize::from(take.await.unwrap());
    }
    assert_eq!(won, 1);
    // The per-portal bound: the oldest of 17 goes, the newest 16 stay.
    let states: Vec<_> = (0..=imconnector::portals::MAX_AUTHORIZATIONS_PER_PORTAL)
        .map(|_| AuthorizationState::random())
        .collect();
    for state in &states {
        assert_eq!(
            store
                .save_authorization_state(&MemberId::from("portal"), state, Duration::from_secs(60))
                .await
                .unwrap(),
            StateSaved::Kept
        );
    }
    assert!(!store
        .take_authorization_state(&MemberId::from("portal"), states[0].expose())
        .await
        .unwrap());
    for state in &states[1..] {
        assert!(store
            .take_authorization_state(&MemberId::from("portal"), state.expose())
            .await
            .unwrap());
    }
    // Uninstalling a portal drops its started authorizations.
    let state = AuthorizationState::random();
    assert_eq!(
        store
            .save_authorization_state(&MemberId::from("portal"), &state, Duration::from_secs(60))
            .await
            .unwrap(),
        StateSaved::Kept
    );
    store.remove(&MemberId::from("portal")).await.unwrap();
    assert!(!store
        .take_authorization_state(&MemberId::from("portal"), state.expose())
        .await
        .unwrap());
    // A member_id that cannot name a key is refused before Redis is asked.
    assert!(store
        .save_authorization_state(&MemberId::from("a}b"), &state, Duration::from_secs(60))
        .await
        .is_err());
    clean(&redis, &prefix).await;
}
