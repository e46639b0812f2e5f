//! Safe to expose: the control token, the public URL, handlers that may not reach the control
//! API; wire fidelity: `operating` in every `time` block, JSON for oversized bodies; fixed
//! credentials.

use std::net::{IpAddr, Ipv4Addr};

use imconnector_emulator::{Emulator, ExposeSecret, StartError};
use serde_json::{json, Value};

use crate::common::{http, Portal};

#[tokio::test]
async fn binding_beyond_loopback_requires_a_control_token() {
    let everywhere = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    let refused = Emulator::builder().host(everywhere).start().await;
    assert!(
        matches!(refused, Err(StartError::InvalidSetting(ref why)) if why.contains("control token")),
        "{refused:?}"
    );
    let emulator = Emulator::builder()
        .host(everywhere)
        .control_token("s3cret-control")
        .start()
        .await
        .expect("starts with a token");
    // 0.0.0.0 is reached through loopback, and advertised as 127.0.0.1.
    assert!(emulator.control_url().starts_with("http://127.0.0.1:"));
    let url = format!("{}app", emulator.control_url());

    let refused = http().get(&url).send().await.expect("answer");
    assert_eq!(refused.status(), 401);
    let body: Value = refused.json().await.expect("JSON");
    assert_eq!(body["error"], "UNAUTHORIZED");
    assert!(!body.to_string().contains("client_secret"));

    let wrong = http()
        .get(&url)
        .bearer_auth("guess")
        .send()
        .await
        .expect("answer");
    assert_eq!(wrong.status(), 401);

    let allowed = http()
        .get(&url)
        .bearer_auth("s3cret-control")
        .send()
        .await
        .expect("answer");
    assert_eq!(allowed.status(), 200);
    let app: Value = allowed.json().await.expect("JSON");
    assert_eq!(app["client_id"], emulator.app().client_id.as_str());
}

#[tokio::test]
async fn event_handlers_may_not_point_at_the_control_api() {
    let portal = Portal::start().await;
    let control = portal.emulator.control_url();
    for handler in [
        format!("{control}apps"),
        format!("{control}tokens/expire"),
        format!("{}/%5Femulator/apps", portal.emulator.base_url()),
        "http://elsewhere.test/_EMULATOR/apps".to_owned(),
    ] {
        let body = portal
            .err(
                "event.bind",
                json!({"event": "OnImConnectorMessageAdd", "handler": handler}),
                400,
                "ERROR_ARGUMENT",
            )
            .await;
        assert_eq!(body["argument"], "handler", "{handler}");
    }
    portal
        .ok(
            "event.bind",
            json!({"event": "OnImConnectorMessageAdd", "handler": "http://127.0.0.1:9/events"}),
        )
        .await;
}

#[tokio::test]
async fn every_time_block_carries_operating() {
    let portal = Portal::start().await;
    let (status, body) = portal
        .call("imconnector.status", json!({"CONNECTOR": "x", "LINE": 1}))
        .await;
    assert_eq!(status, 200);
    let time = &body["time"];
    assert!(
        time["operating"].as_f64().is_some_and(|spent| spent >= 0.0),
        "{time}"
    );
    let reset_at = time["operating_reset_at"].as_i64().expect("an integer");
    let start = time["start"].as_f64().expect("start");
    #[allow(clippy::cast_possible_truncation)]
    let start = start as i64;
    assert!((start..=start + 600).contains(&reset_at), "{time}");
    for date in ["date_start", "date_finish"] {
        assert_eq!(time[date].as_str().map(str::len), Some(25), "{time}");
    }
    let (_, batch) = portal
        .call(
            "batch",
            json!({"cmd": {"a": "imconnector.status?CONNECTOR=x"}}),
        )
        .await;
    assert!(batch["time"]["operating"].is_number(), "{batch}");
    assert!(batch["result"]["result_time"]["a"]["operating"].is_number());
}

#[tokio::test]
async fn oversized_bodies_get_json_answers() {
    let portal = Portal::start().await;
    let huge = "x".repeat(9 * 1024 * 1024);
    // REST: the body is dropped like PHP drops a POST over post_max_size, so the token in it
    // is not seen either.
    let response = http()
        .post(portal.url("imconnector.status"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("auth={}&CONNECTOR=x&pad={huge}", portal.token))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.expect("JSON, not text");
    assert_eq!(body["error"], "NO_AUTH_FOUND");
    // Control API: a JSON 413.
    let response = http()
        .post(format!("{}operator/reply", portal.emulator.control_url()))
        .header("content-type", "application/json")
        .body(json!({"line": 1, "chat_id": "c", "text": huge}).to_string())
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), 413);
    assert!(response
        .headers()
        .get("content-type")
        .is_some_and(|value| value.as_bytes().starts_with(b"application/json")));
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["error"], "REQUEST_TOO_LARGE");
}

#[tokio::test]
async fn the_public_url_is_what_the_portal_advertises() {
    let emulator = Emulator::builder()
        .public_url("https://emulator.test:8443")
        .start()
        .await
        .expect("starts");
    assert_eq!(emulator.rest_url(), "https://emulator.test:8443/rest/");
    assert_eq!(emulator.app().domain, "emulator.test:8443");
    assert!(emulator
        .webhook_url()
        .expose_secret()
        .starts_with("https://emulator.test:8443/rest/1/"));
    // The OAuth server, reached at the bound address, hands out the public endpoints.
    let code = emulator
        .authorization_code(&emulator.app().client_id, 1)
        .expect("code");
    let app = emulator.app();
    let url = format!("http://{}/oauth/token/", emulator.address());
    let answer: Value = http()
        .get(url)
        .query(&[
            ("grant_type", "authorization_code"),
            ("client_id", app.client_id.as_str()),
            ("client_secret", app.client_secret.expose_secret()),
            ("code", code.expose_secret()),
        ])
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        answer["client_endpoint"],
        "https://emulator.test:8443/rest/"
    );
    assert_eq!(
        answer["server_endpoint"],
        "https://emulator.test:8443/rest/"
    );
    let refused = Emulator::builder()
        .public_url("emulator.test")
        .start()
        .await;
    assert!(refused.is_err());
}

#[tokio::test]
async fn fixed_credentials_and_a_seed_repeat_a_run() {
    let start = || {
        Emulator::builder()
            .seed(7)
            .client_id("local.fixed")
            .client_secret("fixed-secret")
            .webhook_code("fixedcode")
            .start()
    };
    let (first, second) = (
        start().await.expect("starts"),
        start().await.expect("starts"),
    );
    for emulator in [&first, &second] {
        let app = emulator.app();
        assert_eq!(app.client_id, "local.fixed");
        assert_eq!(app.client_secret.expose_secret(), "fixed-secret");
        assert!(emulator
            .webhook_url()
            .expose_secret()
            .ends_with("/rest/1/fixedcode/"));
    }
    let (a, b) = (first.app(), second.app());
    assert_eq!(a.member_id, b.member_id);
    assert_eq!(
        a.application_token.expose_secret(),
        b.application_token.expose_secret()
    );
    assert_eq!(
        first.tokens().access_token.expose_secret(),
        second.tokens().access_token.expose_secret()
    );
}
