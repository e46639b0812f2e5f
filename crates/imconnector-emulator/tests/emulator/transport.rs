//! URL forms, credentials, body encodings and the envelope (reference §1).

use imconnector_emulator::ExposeSecret;
use serde_json::{json, Value};

use crate::common::{read, Portal};

#[tokio::test]
async fn tokens_are_accepted_in_body_query_access_token_and_bearer() {
    let portal = Portal::start().await;
    let params = json!({"CONNECTOR": "acme", "LINE": 1});
    let via_query = portal
        .http
        .post(format!(
            "{}?auth={}",
            portal.url("imconnector.status"),
            portal.token
        ))
        .json(&params)
        .send()
        .await
        .expect("request");
    let via_access_token = portal
        .http
        .get(format!(
            "{}?CONNECTOR=acme&LINE=1&access_token={}",
            portal.url("imconnector.status"),
            portal.token
        ))
        .send()
        .await
        .expect("request");
    let via_bearer = portal
        .http
        .post(portal.url("imconnector.status"))
        .bearer_auth(&portal.token)
        .json(&params)
        .send()
        .await
        .expect("request");
    for response in [via_query, via_access_token, via_bearer] {
        let (status, body) = read(response).await;
        assert_eq!(
            (status, &body["result"]["CONNECTOR"]),
            (200, &json!("acme")),
            "{body}"
        );
    }
}

#[tokio::test]
async fn missing_wrong_and_expired_tokens_are_401() {
    let portal = Portal::start().await;
    let url = portal.url("imconnector.status");
    let (status, body) = portal.post_json(&url, &json!({"CONNECTOR": "a"})).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("NO_AUTH_FOUND"))
    );
    let (status, body) = portal
        .post_json(
            &url,
            &json!({"CONNECTOR": "a", "auth": "0123456789abcdef0123456789abcdef"}),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_token"))
    );
    portal.emulator.expire_tokens();
    let (status, body) = portal
        .call("imconnector.status", json!({"CONNECTOR": "a"}))
        .await;
    assert_eq!(status, 401);
    assert_eq!(
        body,
        json!({"error": "expired_token", "error_description": "The access token provided has expired"})
    );
    assert_eq!(portal.emulator.counters().expired_token_rejections, 1);
}

#[tokio::test]
async fn revoked_access_tokens_are_invalid_token_and_the_refresh_token_still_works() {
    let portal = Portal::start().await;
    let app = portal.emulator.app();
    let pair = portal.emulator.tokens();
    portal.emulator.revoke_access_tokens();
    let (status, body) = portal
        .call_as(
            pair.access_token.expose_secret(),
            "imconnector.status",
            json!({"CONNECTOR": "a"}),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            401,
            json!({"error": "invalid_token", "error_description": "The access token provided is invalid"})
        )
    );
    // One refresh brings a working token back.
    let refreshed = portal
        .http
        .post(portal.emulator.oauth_url())
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", app.client_id.as_str()),
            ("client_secret", app.client_secret.expose_secret()),
            ("refresh_token", pair.refresh_token.expose_secret()),
        ])
        .send()
        .await
        .expect("request");
    let (status, body) = read(refreshed).await;
    assert_eq!(status, 200, "{body}");
    let access = body["access_token"].as_str().expect("a new access token");
    let (status, _) = portal
        .call_as(access, "imconnector.status", json!({"CONNECTOR": "a"}))
        .await;
    assert_eq!(status, 200);
    let counters = portal.emulator.counters();
    assert_eq!(
        (
            counters.invalid_token_rejections,
            counters.expired_token_rejections
        ),
        (1, 0)
    );
}

#[tokio::test]
async fn bad_webhook_credentials_are_401() {
    let portal = Portal::start().await;
    let url = format!(
        "{}1/wrongcode/imopenlines.config.get",
        portal.emulator.rest_url()
    );
    let (status, body) = portal.post_json(&url, &json!({"CONFIG_ID": 1})).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("INVALID_CREDENTIALS")),
        "{body}"
    );
}

#[tokio::test]
async fn method_names_are_case_insensitive_with_optional_json_suffix() {
    let portal = Portal::start().await;
    for method in [
        "IMCONNECTOR.STATUS",
        "imconnector.status.json",
        "ImConnector.Status.JSON",
    ] {
        let result = portal.ok(method, json!({"CONNECTOR": "acme"})).await;
        assert_eq!(result["CONNECTOR"], json!("acme"), "{method}");
    }
    let counters = portal.emulator.counters();
    assert_eq!(counters.requests.get("imconnector.status"), Some(&3));
}

#[tokio::test]
async fn broken_json_is_silently_an_empty_body() {
    let portal = Portal::start().await;
    let response = portal
        .http
        .post(format!(
            "{}?auth={}",
            portal.url("imconnector.status"),
            portal.token
        ))
        .header("content-type", "application/json; charset=utf-8")
        .body("{\"CONNECTOR\": ")
        .send()
        .await
        .expect("request");
    let (status, body) = read(response).await;
    assert_eq!(
        (status, body["error"].as_str(), body["argument"].as_str()),
        (400, Some("ERROR_ARGUMENT"), Some("CONNECTOR"))
    );
}

#[tokio::test]
async fn body_keys_replace_query_keys_at_the_top_level() {
    let portal = Portal::start().await;
    let response = portal
        .http
        .post(format!(
            "{}?CONNECTOR=from_query&LINE=5&auth={}",
            portal.url("imconnector.status"),
            portal.token
        ))
        .json(&json!({"CONNECTOR": "from_body"}))
        .send()
        .await
        .expect("request");
    let (_, body) = read(response).await;
    assert_eq!(
        (&body["result"]["CONNECTOR"], &body["result"]["LINE"]),
        (&json!("from_body"), &json!(5))
    );
    // A non-JSON content type is parsed as a form, whatever it claims to be.
    let response = portal
        .http
        .post(portal.url("imconnector.status"))
        .header("content-type", "text/plain")
        .body(format!("CONNECTOR=plain&auth={}", portal.token))
        .send()
        .await
        .expect("request");
    let (_, body) = read(response).await;
    assert_eq!(body["result"]["CONNECTOR"], json!("plain"));
}

#[tokio::test]
async fn success_envelope_has_the_time_block_and_portal_headers() {
    let portal = Portal::start().await;
    let response = portal
        .http
        .post(portal.url("imconnector.status"))
        .json(&json!({"CONNECTOR": "a", "auth": portal.token}))
        .send()
        .await
        .expect("request");
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "application/json; charset=utf-8");
    assert_eq!(headers["access-control-allow-origin"], "*");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let (_, body) = read(response).await;
    let time = body["time"].as_object().expect("time");
    for key in ["start", "finish", "duration", "processing"] {
        assert!(time[key].is_f64() || time[key].is_u64(), "{key}: {body}");
    }
    for key in ["date_start", "date_finish"] {
        let date = time[key].as_str().expect("date");
        assert!(
            date.len() == 25 && date.ends_with("+00:00") && date.as_bytes()[10] == b'T',
            "{date}"
        );
    }
    // As the cloud does, with or without the operating limiter on.
    assert!(
        time["operating"].is_f64() || time["operating"].is_u64(),
        "{body}"
    );
    assert!(time["operating_reset_at"].is_i64(), "{body}");
    assert!(body.get("total").is_none());
}

#[tokio::test]
async fn unknown_paths_answer_json_404() {
    let portal = Portal::start().await;
    let response = portal
        .http
        .get(format!("{}/nothing/here", portal.emulator.base_url()))
        .send()
        .await
        .expect("request");
    let (status, body) = read(response).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("ERROR_METHOD_NOT_FOUND"))
    );
    let _: Value = body;
}

#[tokio::test]
async fn shutdown_finishes_in_flight_requests_then_refuses_connections() {
    let portal = Portal::start().await;
    portal
        .emulator
        .set_faults(Some(
            imconnector_emulator::Faults::default()
                .latency(std::time::Duration::from_millis(300), 1.0),
        ))
        .expect("valid");
    let url = portal.url("imconnector.status");
    let body = json!({"CONNECTOR": "a", "auth": portal.token});
    let http = portal.http.clone();
    let in_flight = tokio::spawn({
        let (url, body) = (url.clone(), body.clone());
        async move {
            http.post(url)
                .json(&body)
                .send()
                .await
                .map(|response| response.status().as_u16())
        }
    });
    // Wait until the server holds the request (its fault decision is counted on arrival).
    while portal.emulator.counters().faults.delayed == 0 {
        tokio::task::yield_now().await;
    }
    let Portal { emulator, http, .. } = portal;
    emulator.shutdown().await;
    assert_eq!(in_flight.await.expect("task").expect("answered"), 200);
    assert!(
        http.post(url).json(&body).send().await.is_err(),
        "no longer listening"
    );
}
