//! The portal's history stays bounded under a flood of junk: 100,000 requests in process
//! (straight into the router, no sockets, no sleeps) with small caps.

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use secrecy::ExposeSecret;
use serde_json::json;
use tower::Service;

use crate::state::{Caps, OTHER_METHODS};
use crate::Emulator;

const REQUESTS: u32 = 100_000;

#[tokio::test]
async fn bounded_structures_stay_bounded_after_100_000_junk_requests() {
    let emulator = Emulator::builder().start().await.expect("starts");
    let shared = Arc::clone(&emulator.handle().shared);
    let caps = Caps {
        event_log: 64,
        deliveries: 64,
        method_names: 32,
    };
    shared.lock().settings.caps = caps;
    let token = emulator.tokens().access_token.expose_secret().to_owned();
    let mut router = crate::startup::router(Arc::clone(&shared));
    let mut call = |method: String, body: serde_json::Value| {
        let request = Request::post(format!("/rest/{method}"))
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .expect("request");
        router.call(request)
    };
    let setup = [
        (
            "imconnector.register",
            json!({"ID": "junk", "NAME": "Junk",
            "ICON": {"DATA_IMAGE": "data:image/svg+xml;charset=US-ASCII,x"},
            "PLACEMENT_HANDLER": "https://junk.test/"}),
        ),
        // Nobody listens on port 9: every event POST fails fast, and each is logged.
        (
            "event.bind",
            json!({"event": "OnImConnectorStatusDelete",
            "handler": "http://127.0.0.1:9/events"}),
        ),
    ];
    for (method, mut body) in setup {
        body["auth"] = json!(token);
        let response = call(method.to_owned(), body).await.expect("infallible");
        assert_eq!(response.status(), 200, "{method}");
    }
    for n in 0..REQUESTS {
        let (method, body) = match n % 3 {
            0 => (format!("junk.method.{n}"), json!({})),
            1 => (
                "imconnector.send.status.delivery".to_owned(),
                json!({"CONNECTOR": "junk", "LINE": 1,
                    "MESSAGES": [{"im": {"chat_id": n, "message_id": n}, "message": {"id": [n]}}]}),
            ),
            // Deactivation fires OnImConnectorStatusDelete every time.
            _ => (
                "imconnector.activate".to_owned(),
                json!({"CONNECTOR": "junk", "LINE": 1, "ACTIVE": 0}),
            ),
        };
        let mut body = body;
        body["auth"] = json!(token);
        let _ = call(method, body).await;
    }
    let portal = shared.lock();
    assert!(portal.counters.requests.len() <= caps.method_names + 1);
    let others = portal.counters.requests.get(OTHER_METHODS).copied();
    assert!(others.is_some_and(|count| count > 30_000), "{others:?}");
    assert_eq!(portal.event_log.len(), caps.event_log);
    assert!(portal.events_emitted >= u64::from(REQUESTS / 3));
    assert_eq!(portal.deliveries.len(), caps.deliveries);
    let last_seq = portal.event_log.back().map(|entry| entry.seq);
    assert_eq!(last_seq, Some(portal.events_emitted - 1));
}
