//! Small HTTP servers on 127.0.0.1:0 standing in for a portal and its OAuth server, and
//! test-only typed methods.

mod methods;
mod raw;

pub use methods::*;
pub use raw::*;

use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, HeaderName, HeaderValue, Method as HttpMethod, StatusCode, Uri},
    response::{IntoResponse, Response},
    Router,
};
use serde_json::{json, Value};

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub http_method: String,
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: SystemTime,
}

impl Incoming {
    /// The REST method: the last path segment without `.json`.
    pub fn rest_method(&self) -> String {
        let last = self
            .path
            .rsplit('/')
            .find(|segment| !segment.is_empty())
            .unwrap_or_default();
        last.trim_end_matches(".json").to_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn form(&self) -> Value {
        imconnector_form::parse(&self.body).expect("a form body")
    }

    pub fn unix(&self) -> f64 {
        self.at
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_secs_f64()
    }
}

/// What the server answers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub headers: Vec<(&'static str, String)>,
    pub delay: Duration,
}

impl Reply {
    pub fn raw(status: u16, body: impl Into<String>) -> Self {
        Self {
            status,
            body: body.into(),
            headers: Vec::new(),
            delay: Duration::ZERO,
        }
    }

    pub fn json(status: u16, body: Value) -> Self {
        Self::raw(status, body.to_string())
    }

    /// A success envelope with a plausible `time` block.
    pub fn ok(result: Value) -> Self {
        Self::json(
            200,
            json!({ "result": result, "time": { "start": 1738065600.11, "finish": 1738065600.19,
            "duration": 0.08, "processing": 0.03, "date_start": "2025-01-28T12:00:00+00:00",
            "date_finish": "2025-01-28T12:00:00+00:00" } }),
        )
    }

    pub fn error(status: u16, code: &str, description: &str) -> Self {
        Self::json(
            status,
            json!({ "error": code, "error_description": description }),
        )
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

type Handler = Arc<dyn Fn(Incoming) -> Reply + Send + Sync>;

/// A running server and everything it received.
#[derive(Clone)]
pub struct Server {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Incoming>>>,
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn rest_base(&self) -> String {
        self.url("/rest/")
    }

    pub fn oauth_url(&self) -> String {
        self.url("/oauth/token/")
    }

    /// How many requests reached `rest_method` (or the OAuth endpoint for `"token"`).
    pub fn count(&self, rest_method: &str) -> usize {
        self.seen
            .lock()
            .expect("lock")
            .iter()
            .filter(|seen| seen.rest_method() == rest_method)
            .count()
    }

    pub fn requests(&self, rest_method: &str) -> Vec<Incoming> {
        self.seen
            .lock()
            .expect("lock")
            .iter()
            .filter(|seen| seen.rest_method() == rest_method)
            .cloned()
            .collect()
    }
}

/// Starts an axum server answering every request with `handler`.
pub async fn serve(handler: impl Fn(Incoming) -> Reply + Send + Sync + 'static) -> Server {
    let seen: Arc<Mutex<Vec<Incoming>>> = Arc::default();
    let recorded = seen.clone();
    let handler: Handler = Arc::new(move |incoming: Incoming| {
        recorded.lock().expect("lock").push(incoming.clone());
        handler(incoming)
    });
    let app = Router::new().fallback(handle).with_state(handler);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    Server { addr, seen }
}

async fn handle(
    State(handler): State<Handler>,
    method: HttpMethod,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let incoming = Incoming {
        http_method: method.to_string(),
        path: uri.path().to_owned(),
        query: uri.query().unwrap_or_default().to_owned(),
        headers,
        body,
        at: SystemTime::now(),
    };
    let reply = handler(incoming);
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut response = (
        StatusCode::from_u16(reply.status).expect("status"),
        reply.body,
    )
        .into_response();
    let response_headers = response.headers_mut();
    response_headers.insert(
        "content-type",
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    for (name, value) in reply.headers {
        response_headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_str(&value).expect("header"),
        );
    }
    response
}

/// A portal with a working OAuth server: access tokens `access-N`, refresh tokens `refresh-N`.
/// Initially only `refresh-0` is valid and no access token is (so the client's first token is
/// "expired"). `methods` answers authorised REST calls.
pub struct OAuthPortal {
    pub server: Server,
    pub tokens: Arc<TokenState>,
}

#[derive(Default)]
pub struct TokenState {
    pub valid_access: Mutex<Option<String>>,
    pub valid_refresh: Mutex<String>,
    pub issued: AtomicUsize,
    /// Answer of the OAuth endpoint instead of issuing tokens, when set.
    pub oauth_override: Mutex<Option<Reply>>,
    pub oauth_delay: Mutex<Duration>,
}

impl OAuthPortal {
    pub async fn start(methods: impl Fn(&str, &Value) -> Reply + Send + Sync + 'static) -> Self {
        Self::start_raw(move |incoming, body| methods(&incoming.rest_method(), body)).await
    }

    /// Like [`OAuthPortal::start`], with the whole request at hand.
    pub async fn start_raw(
        methods: impl Fn(&Incoming, &Value) -> Reply + Send + Sync + 'static,
    ) -> Self {
        let tokens = Arc::new(TokenState {
            valid_refresh: Mutex::new("refresh-0".into()),
            ..TokenState::default()
        });
        let state = tokens.clone();
        let server = serve(move |incoming| {
            if incoming.path == "/oauth/token/" {
                return state.answer_refresh(&incoming);
            }
            let body = incoming.json();
            let token = body
                .get("auth")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            if state.valid_access.lock().expect("lock").as_deref() != Some(token.as_str()) {
                return Reply::error(
                    401,
                    "expired_token",
                    "The access token provided has expired.",
                );
            }
            methods(&incoming, &body)
        })
        .await;
        Self { server, tokens }
    }

    /// Refreshes issued so far.
    pub fn refreshes(&self) -> usize {
        self.tokens.issued.load(Ordering::SeqCst)
    }
}

impl TokenState {
    fn answer_refresh(&self, incoming: &Incoming) -> Reply {
        let delay = *self.oauth_delay.lock().expect("lock");
        if let Some(reply) = self.oauth_override.lock().expect("lock").clone() {
            return reply.delayed(delay);
        }
        let form = incoming.form();
        let mut valid_refresh = self.valid_refresh.lock().expect("lock");
        if form["grant_type"] != "refresh_token" || form["refresh_token"] != valid_refresh.as_str()
        {
            return Reply::error(400, "invalid_grant", "Invalid refresh token");
        }
        let n = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
        let access = format!("access-{n}");
        *self.valid_access.lock().expect("lock") = Some(access.clone());
        *valid_refresh = format!("refresh-{n}");
        Reply::json(200, json!({
            "access_token": access, "refresh_token": *valid_refresh, "expires_in": 3600,
            "scope": "imopenlines,imconnector", "domain": "oauth.bitrix.info", "member_id": "member-1",
            "status": "L", "user_id": 1, "server_endpoint": "https://oauth.bitrix.info/rest/"
        }))
        .delayed(delay)
    }
}

pub fn unix_now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_secs(),
    )
    .expect("fits")
}

/// Retries with short waits, so the tests spend their time on behaviour, not sleeping.
pub fn fast_retries() -> imconnector_transport::RetryPolicy {
    imconnector_transport::RetryPolicy::default()
        .with_max_attempts(5)
        .with_initial_backoff(std::time::Duration::from_millis(10))
        .with_max_backoff(std::time::Duration::from_millis(50))
        .with_max_elapsed(std::time::Duration::from_secs(20))
}
