//! The portal's history stays bounded under a flood of junk: 100,000 requests in process
//! (straight into the REST handler, no sockets, no router, no sleeps) with small caps.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, Uri};
use secrecy::ExposeSecret;
use serde_json::json;

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
    let mut json_headers = HeaderMap::new();
    json_headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let call = |method: String, body: serde_json::Value| {
        let uri: Uri = format!("/rest/{method}").parse().expect("a valid path");
        let body = Ok(Bytes::from(body.to_string()));
        let state = State(Arc::clone(&shared));
        crate::rest::handle(
            state,
            None,
            None,
            Method::POST,
            uri,
            json_headers.clone(),
            body,
        )
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
        let response = call(method.to_owned(), body).await;
        assert_eq!(response.status(), 200, "{method}");
    }
    for n in 0..REQUESTS {
        // Mostly the cheapest junk (a new method name, no token: counted, then refused), with
        // a tenth each of what grows the delivery ring and the event log.
        let (method, mut body) = match n % 10 {
            0..=7 => {
                let _ = call(format!("junk.method.{n}"), json!({})).await;
                continue;
            }
            8 => (
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
        body["auth"] = json!(token);
        let _ = call(method, body).await;
    }
    let portal = shared.lock();
    // The cap, "(other)", and the known methods called here.
    assert!(portal.counters().requests.len() <= caps.method_names + 1 + 4);
    assert_eq!(
        portal.counters().requests.get("imconnector.activate"),
        Some(&10_000)
    );
    let others = portal.counters().requests.get(OTHER_METHODS).copied();
    assert!(others.is_some_and(|count| count > 70_000), "{others:?}");
    assert_eq!(portal.event_log.len(), caps.event_log);
    assert!(portal.events_emitted >= u64::from(REQUESTS / 10));
    assert_eq!(portal.deliveries.len(), caps.deliveries);
    let last_seq = portal.event_log.back().map(|entry| entry.seq);
    assert_eq!(last_seq, Some(portal.events_emitted - 1));
}
