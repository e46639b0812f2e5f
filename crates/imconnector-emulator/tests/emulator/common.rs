//! A plain HTTP client for the emulator (reqwest + serde_json, not the SDK) and a handler
//! server that records event POSTs.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use imconnector_emulator::{Emulator, EmulatorBuilder, ExposeSecret};
use serde_json::{json, Value};
use tokio::sync::Notify;

/// A generous bound for waiting on asynchronous deliveries (never a timing assertion).
pub const WAIT: Duration = Duration::from_secs(20);

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
}

/// An emulator plus a client holding the first app's admin token.
pub struct Portal {
    pub emulator: Emulator,
    pub http: reqwest::Client,
    pub token: String,
}

impl Portal {
    pub async fn start() -> Self {
        Self::with(Emulator::builder().lines(3)).await
    }

    pub async fn with(builder: EmulatorBuilder) -> Self {
        let emulator = builder.start().await.expect("emulator starts");
        let token = emulator.tokens().access_token.expose_secret().to_owned();
        Self {
            emulator,
            http: http(),
            token,
        }
    }

    pub fn url(&self, method: &str) -> String {
        format!("{}{method}", self.emulator.rest_url())
    }

    /// POSTs a JSON body with `auth` added; returns (HTTP status, body as JSON).
    pub async fn call(&self, method: &str, params: Value) -> (u16, Value) {
        let mut params = params;
        params["auth"] = json!(self.token);
        self.post_json(&self.url(method), &params).await
    }

    /// The same with another token.
    pub async fn call_as(&self, token: &str, method: &str, params: Value) -> (u16, Value) {
        let mut params = params;
        params["auth"] = json!(token);
        self.post_json(&self.url(method), &params).await
    }

    pub async fn post_json(&self, url: &str, body: &Value) -> (u16, Value) {
        let response = self
            .http
            .post(url)
            .json(body)
            .send()
            .await
            .expect("request");
        read(response).await
    }

    /// POSTs a PHP-style form body.
    pub async fn call_form(&self, method: &str, form: &str) -> (u16, Value) {
        let body = format!("{form}&auth={}", self.token);
        let response = self
            .http
            .post(self.url(method))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("request");
        read(response).await
    }

    /// Calls through the portal's incoming webhook.
    pub async fn call_webhook(&self, method: &str, params: Value) -> (u16, Value) {
        let url = format!("{}{method}", self.emulator.webhook_url().expose_secret());
        self.post_json(&url, &params).await
    }

    /// Asserts a 200 success and returns `result`.
    pub async fn ok(&self, method: &str, params: Value) -> Value {
        let (status, body) = self.call(method, params).await;
        assert_eq!(status, 200, "{method}: {body}");
        assert!(
            body.get("time").is_some(),
            "{method}: no time block in {body}"
        );
        body["result"].clone()
    }

    /// Asserts an error envelope with this status and code; returns the body.
    pub async fn err(&self, method: &str, params: Value, status: u16, code: &str) -> Value {
        let (got, body) = self.call(method, params).await;
        assert_eq!(
            (got, body["error"].as_str()),
            (status, Some(code)),
            "{method}: {body}"
        );
        assert!(body["error_description"].is_string(), "{body}");
        body
    }

    pub async fn register(&self, id: &str) {
        self.register_with(id, json!({})).await;
    }

    pub async fn register_with(&self, id: &str, extra: Value) {
        let mut params = json!({
            "ID": id,
            "NAME": format!("Connector {id}"),
            "ICON": { "DATA_IMAGE": "data:image/svg+xml,%3Csvg%2F%3E", "COLOR": "#69acc0" },
            "PLACEMENT_HANDLER": "https://app.example/settings",
        });
        if let (Value::Object(params), Value::Object(extra)) = (&mut params, extra) {
            params.extend(extra);
        }
        let result = self.ok("imconnector.register", params).await;
        assert_eq!(result, json!({"result": true}));
    }

    pub async fn activate(&self, connector: &str, line: i64) {
        let result = self
            .ok(
                "imconnector.activate",
                json!({"CONNECTOR": connector, "LINE": line, "ACTIVE": 1}),
            )
            .await;
        assert_eq!(result, json!(true));
    }

    /// Registers and activates a connector on a line.
    pub async fn ready(&self, connector: &str, line: i64) {
        self.register(connector).await;
        self.activate(connector, line).await;
    }

    /// Sends one customer message; returns the RESULT item.
    pub async fn customer_says(
        &self,
        connector: &str,
        line: i64,
        chat: &str,
        user: &str,
        id: &str,
        text: &str,
    ) -> Value {
        let result = self
            .ok(
                "imconnector.send.messages",
                json!({
                    "CONNECTOR": connector, "LINE": line,
                    "MESSAGES": [{ "user": {"id": user, "name": "Ivan"}, "message": {"id": id, "text": text}, "chat": {"id": chat} }],
                }),
            )
            .await;
        assert_eq!(result["SUCCESS"], json!(true), "{result}");
        result["DATA"]["RESULT"][0].clone()
    }

    /// Binds `events` of the first app to `handler`.
    pub async fn bind(&self, handler: &str, events: &[&str]) {
        for event in events {
            let result = self
                .ok("event.bind", json!({"event": event, "handler": handler}))
                .await;
            assert_eq!(result, json!(true));
        }
    }
}

pub async fn read(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

/// An HTTP server on 127.0.0.1:0 that records every POST body and answers `status`.
#[derive(Clone)]
pub struct Sink {
    pub url: String,
    bodies: Arc<Mutex<Vec<(HeaderMap, String)>>>,
    arrived: Arc<Notify>,
}

impl Sink {
    pub async fn start() -> Self {
        Self::answering(StatusCode::OK).await
    }

    pub async fn answering(status: StatusCode) -> Self {
        let bodies: Arc<Mutex<Vec<(HeaderMap, String)>>> = Arc::default();
        let arrived = Arc::new(Notify::new());
        let (store, notify) = (Arc::clone(&bodies), Arc::clone(&arrived));
        let app = Router::new().route(
            "/hook",
            post(move |headers: HeaderMap, body: Bytes| {
                let (store, notify) = (Arc::clone(&store), Arc::clone(&notify));
                async move {
                    store
                        .lock()
                        .expect("lock")
                        .push((headers, String::from_utf8_lossy(&body).into_owned()));
                    notify.notify_waiters();
                    status
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url,
            bodies,
            arrived,
        }
    }

    /// Waits until at least `count` POSTs arrived; returns them (headers, raw body).
    pub async fn wait_for(&self, count: usize) -> Vec<(HeaderMap, String)> {
        tokio::time::timeout(WAIT, async {
            loop {
                let notified = self.arrived.notified();
                {
                    let bodies = self.bodies.lock().expect("lock");
                    if bodies.len() >= count {
                        return bodies.clone();
                    }
                }
                notified.await;
            }
        })
        .await
        .expect("event POSTs arrive")
    }

    pub fn received(&self) -> Vec<(HeaderMap, String)> {
        self.bodies.lock().expect("lock").clone()
    }

    /// Bodies parsed with PHP nesting rules.
    pub async fn forms(&self, count: usize) -> Vec<Value> {
        self.wait_for(count)
            .await
            .iter()
            .map(|(_, body)| imconnector_form::parse(body.as_bytes()).expect("form"))
            .collect()
    }
}
