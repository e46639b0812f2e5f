//! The app side of the install tests: a receiver recording POSTs, the steps of a wizard page,
//! and OAuth calls.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{header, HeaderMap, Uri};
use axum::Router;
use imconnector_emulator::{AppCredentials, AppSetup, ExposeSecret, InstallState};
use serde_json::{json, Value};
use tokio::sync::Notify;

use crate::common::{read, Portal, WAIT};

/// One POST the receiver got.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) path: String,
    pub(crate) query: BTreeMap<String, String>,
    pub(crate) content_type: String,
    pub(crate) body: String,
}

impl Received {
    /// The body as a flat form.
    pub(crate) fn flat(&self) -> BTreeMap<String, String> {
        form_urlencoded::parse(self.body.as_bytes())
            .into_owned()
            .collect()
    }

    /// The body with PHP nesting (`auth[...]` becomes an object).
    pub(crate) fn nested(&self) -> Value {
        imconnector_form::parse(self.body.as_bytes()).expect("form body")
    }
}

/// An app on 127.0.0.1:0 that records every POST, whatever the path, and answers 200.
#[derive(Clone)]
pub(crate) struct Receiver {
    base: String,
    posts: Arc<Mutex<Vec<Received>>>,
    arrived: Arc<Notify>,
}

impl Receiver {
    pub(crate) async fn start() -> Self {
        let posts: Arc<Mutex<Vec<Received>>> = Arc::default();
        let arrived = Arc::new(Notify::new());
        let (store, notify) = (Arc::clone(&posts), Arc::clone(&arrived));
        let app = Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
            let (store, notify) = (Arc::clone(&store), Arc::clone(&notify));
            async move {
                let query = form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
                    .into_owned()
                    .collect();
                let content_type = headers
                    .get(header::CONTENT_TYPE)
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                store.lock().expect("lock").push(Received {
                    path: uri.path().to_owned(),
                    query,
                    content_type,
                    body: String::from_utf8_lossy(&body).into_owned(),
                });
                notify.notify_waiters();
                "ok"
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            base,
            posts,
            arrived,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) fn at(&self, path: &str) -> Vec<Received> {
        let posts = self.posts.lock().expect("lock");
        posts
            .iter()
            .filter(|post| post.path == path)
            .cloned()
            .collect()
    }

    pub(crate) async fn wait_for(&self, path: &str, count: usize) -> Vec<Received> {
        tokio::time::timeout(WAIT, async {
            loop {
                let notified = self.arrived.notified();
                let posts = self.at(path);
                if posts.len() >= count {
                    return posts;
                }
                notified.await;
            }
        })
        .await
        .expect("POSTs arrive")
    }
}

pub(crate) fn keys<V>(map: &BTreeMap<String, V>) -> BTreeSet<&str> {
    map.keys().map(String::as_str).collect()
}

pub(crate) fn set<'a>(items: &[&'a str]) -> BTreeSet<&'a str> {
    items.iter().copied().collect()
}

pub(crate) fn object_keys(value: &Value) -> BTreeSet<String> {
    value.as_object().expect("object").keys().cloned().collect()
}

pub(crate) const INSTALL_AUTH_KEYS: [&str; 12] = [
    "access_token",
    "expires",
    "expires_in",
    "scope",
    "domain",
    "server_endpoint",
    "status",
    "client_endpoint",
    "member_id",
    "user_id",
    "refresh_token",
    "application_token",
];

/// Adds a UI app served by `receiver` and opens it: returns its credentials and the install
/// POST it received.
pub(crate) async fn open_ui_app(
    portal: &Portal,
    receiver: &Receiver,
) -> (AppCredentials, Received) {
    let setup = AppSetup::ui(receiver.url("/app"), receiver.url("/install"))
        .with_redirect_url(receiver.url("/oauth-return"));
    let app = portal.emulator.add_app(setup).expect("add app");
    let before = receiver.at("/install").len();
    let status = portal
        .emulator
        .install(&app.client_id)
        .await
        .expect("install");
    assert_eq!(status.state, InstallState::AwaitingFinish);
    let post = receiver
        .at("/install")
        .get(before)
        .cloned()
        .expect("install POST arrived before install() returned");
    (app, post)
}

/// What a wizard page does: bind ONAPPINSTALL/ONAPPUNINSTALL and the message event, register
/// and activate a connector on line 1.
pub(crate) async fn wizard(portal: &Portal, receiver: &Receiver, token: &str, connector: &str) {
    let binds = [
        ("ONAPPINSTALL", "/onappinstall"),
        ("ONAPPUNINSTALL", "/onappuninstall"),
        ("OnImConnectorMessageAdd", "/events"),
    ];
    for (event, path) in binds {
        let (status, body) = portal
            .call_as(
                token,
                "event.bind",
                json!({"event": event, "handler": receiver.url(path)}),
            )
            .await;
        assert_eq!(status, 200, "bind {event}: {body}");
    }
    let register = json!({
        "ID": connector, "NAME": "Installed connector",
        "ICON": { "DATA_IMAGE": "data:image/svg+xml,%3Csvg%2F%3E" },
        "PLACEMENT_HANDLER": receiver.url("/settings"),
    });
    let (status, body) = portal
        .call_as(token, "imconnector.register", register)
        .await;
    assert_eq!(status, 200, "{body}");
    let activate = json!({"CONNECTOR": connector, "LINE": 1, "ACTIVE": 1});
    let (status, body) = portal
        .call_as(token, "imconnector.activate", activate)
        .await;
    assert_eq!(status, 200, "{body}");
}

/// A customer message on line 1 through the app's own token.
pub(crate) async fn customer_writes(portal: &Portal, token: &str, connector: &str, id: &str) {
    let params = json!({
        "CONNECTOR": connector, "LINE": 1,
        "MESSAGES": [{ "user": {"id": "u1", "name": "Ivan"}, "message": {"id": id, "text": "hello"}, "chat": {"id": "c1"} }],
    });
    let (status, body) = portal
        .call_as(token, "imconnector.send.messages", params)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["SUCCESS"], json!(true), "{body}");
}

async fn oauth(portal: &Portal, query: &[(&str, &str)]) -> (u16, Value) {
    let response = portal
        .http
        .get(portal.emulator.oauth_url())
        .query(query)
        .send()
        .await
        .expect("request");
    read(response).await
}

pub(crate) async fn refresh(
    portal: &Portal,
    app: &AppCredentials,
    refresh_token: &str,
) -> (u16, Value) {
    oauth(
        portal,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &app.client_id),
            ("client_secret", app.client_secret.expose_secret()),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

pub(crate) async fn exchange(portal: &Portal, app: &AppCredentials, code: &str) -> (u16, Value) {
    oauth(
        portal,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &app.client_id),
            ("client_secret", app.client_secret.expose_secret()),
            ("code", code),
        ],
    )
    .await
}

pub(crate) async fn rest_status(portal: &Portal, token: &str) -> (u16, Value) {
    portal.call_as(token, "event.get", json!({})).await
}

pub(crate) async fn authorize(url: &str) -> reqwest::Response {
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    client.get(url).send().await.expect("authorize")
}
