//! Error classification: every documented code, bad bodies, soft errors, local refusals.

use std::{collections::HashSet, str::FromStr};

use imconnector_transport::{Client, Error, ErrorCode, RateLimit, RetryPolicy};
use serde_json::{json, Value};

use crate::{
    fast_retries, oauth_builder,
    support::{serve, BadName, OAuthPortal, Profile, Register, Reply, SendMessages, Status},
};

/// Every code of `spec/errors.json` (the list `ErrorCode` is generated from, sections 1.8, 1.9,
/// 4.7, 4.14, 5.3, 6.2 and 7 of the reference) with its HTTP status.
fn reference_codes() -> Vec<(String, u16)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../spec/errors.json");
    let file: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    file["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|group| group["codes"].as_array().unwrap())
        .map(|code| {
            let status = u16::try_from(code["http_status"].as_u64().unwrap()).unwrap();
            (code["code"].as_str().unwrap().to_owned(), status)
        })
        .collect()
}

#[tokio::test]
async fn every_error_code_in_the_reference_maps_to_its_error_code() {
    let server = serve(|incoming| {
        let body = incoming.json();
        let code = body["CODE"].as_str().unwrap().to_owned();
        let status = u16::try_from(body["STATUS"].as_u64().unwrap()).unwrap();
        let mut answer =
            json!({"error": code, "error_description": format!("description of {code}")});
        if code == "ERROR_ARGUMENT" {
            answer["argument"] = json!("LINE");
        }
        if status == 200 {
            // The newer servers' soft-error shape: error keys at the top level, `result: false`.
            answer["result"] = json!(false);
        }
        Reply::json(status, answer)
    })
    .await;
    // A webhook client: `expired_token` must reach the caller instead of triggering a refresh.
    let client = Client::builder()
        .webhook(server.url("/rest/1/webhook-code/"))
        .rate_limit(RateLimit::Off)
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();

    let reference = reference_codes();
    for (wire, status) in &reference {
        let (wire, status) = (wire.as_str(), *status);
        let error = client
            .call_raw("test.fail", json!({"CODE": wire, "STATUS": status}))
            .await
            .unwrap_err();
        let api = error
            .as_api()
            .unwrap_or_else(|| panic!("{wire}: expected an API error, got {error:?}"));
        assert!(
            !matches!(api.code, ErrorCode::Other(_)),
            "{wire} is not a known ErrorCode"
        );
        assert_eq!(api.code.as_str(), wire);
        assert_eq!(ErrorCode::from_str(wire).unwrap(), api.code);
        assert_eq!(api.http_status, Some(status), "{wire}");
        assert_eq!(api.description, format!("description of {wire}"));
        assert_eq!(api.method, "test.fail");
        assert_eq!(
            api.argument.as_deref(),
            (wire == "ERROR_ARGUMENT").then_some("LINE")
        );
    }
    let documented: HashSet<&str> = reference.iter().map(|(wire, _)| wire.as_str()).collect();
    assert_eq!(documented.len(), ErrorCode::KNOWN.len());
    for known in ErrorCode::KNOWN {
        assert!(
            documented.contains(known.as_str()),
            "{known} is not in spec/errors.json"
        );
    }
    assert_eq!(
        ErrorCode::from("BRAND_NEW_CODE"),
        ErrorCode::Other("BRAND_NEW_CODE".into())
    );
}

const PHP_FATAL: &str = "<html><body><b>Fatal error</b>: Uncaught TypeError: array_merge(): Argument #2 must be of type array</body></html>";

#[tokio::test]
async fn a_php_error_page_500_is_an_html_page_error_with_its_text_after_safe_retries() {
    let portal = OAuthPortal::start(|_, _| Reply::raw(500, PHP_FATAL)).await;
    let client = oauth_builder(&portal).build().unwrap();

    let error = client.call(&Status::new("acme_chat", 1)).await.unwrap_err();

    let Error::HtmlPage {
        method,
        http_status,
        snippet,
    } = &error
    else {
        panic!("expected an HTML page error, got {error:?}");
    };
    assert_eq!(method, "imconnector.status");
    assert_eq!(*http_status, 500);
    assert!(snippet.contains("Fatal error"), "{snippet}");
    assert_eq!(
        portal.server.count("imconnector.status"),
        1 + fast_retries().max_attempts as usize
    );
}

#[tokio::test]
async fn a_php_error_page_500_on_send_messages_is_outcome_unknown_with_its_text() {
    let portal = OAuthPortal::start(|_, _| Reply::raw(500, PHP_FATAL)).await;
    let client = oauth_builder(&portal).build().unwrap();

    let error = client.call(&SendMessages::one("hi")).await.unwrap_err();

    let Error::OutcomeUnknown { source, .. } = &error else {
        panic!("expected OutcomeUnknown, got {error:?}");
    };
    assert!(
        matches!(&**source, Error::HtmlPage { snippet, .. } if snippet.contains("Uncaught TypeError")),
        "{source:?}"
    );
    assert!(error.to_string().contains("Fatal error"));
    // One rejected try with the expired token, one after the refresh: the 500 is not replayed.
    assert_eq!(portal.server.count("imconnector.send.messages"), 2);
}

#[tokio::test]
async fn truncated_json_is_a_decode_error_not_a_panic() {
    let portal =
        OAuthPortal::start(|_, _| Reply::raw(200, r#"{"result": {"LINE": 107, "CONNECT"#)).await;
    let client = oauth_builder(&portal).build().unwrap();

    let error = client.call(&Status::new("acme_chat", 1)).await.unwrap_err();

    let Error::Decode {
        http_status: 200,
        snippet,
        reason,
        ..
    } = &error
    else {
        panic!("expected a decode error, got {error:?}");
    };
    assert!(
        snippet.starts_with(r#"{"result": {"LINE": 107"#),
        "{snippet}"
    );
    assert!(reason.contains("not JSON"), "{reason}");
}

#[tokio::test]
async fn an_unexpected_result_shape_is_a_decode_error() {
    let portal = OAuthPortal::start(|_, _| Reply::ok(json!(["not", "a", "status"]))).await;
    let client = oauth_builder(&portal).build().unwrap();

    let error = client.call(&Status::new("acme_chat", 1)).await.unwrap_err();

    assert!(
        matches!(&error, Error::Decode { snippet, .. } if snippet.contains("not")),
        "{error:?}"
    );
}

#[tokio::test]
async fn soft_errors_in_both_server_shapes_become_api_errors() {
    let nested = json!({"result": {"result": false, "error": "NAME_REQUIRED", "error_description": "Connector name is not specified"}});
    let top_level = json!({"result": false, "error": "NAME_REQUIRED", "error_description": "Connector name is not specified"});
    for body in [nested, top_level] {
        let portal = OAuthPortal::start(move |_, _| Reply::json(200, body.clone())).await;
        let client = oauth_builder(&portal).build().unwrap();

        let error = client
            .call(&Register {
                id: "acme_chat".into(),
            })
            .await
            .unwrap_err();

        let api = error.as_api().expect("an API error");
        assert_eq!(api.code, ErrorCode::NameRequired);
        assert_eq!(api.description, "Connector name is not specified");
        assert_eq!(api.http_status, Some(200));
    }
}

#[tokio::test]
async fn invalid_requests_and_wrong_auth_kinds_fail_before_any_request() {
    let server = serve(|_| Reply::ok(json!(true))).await;
    let webhook = Client::builder()
        .webhook(server.url("/rest/1/webhook-code"))
        .build()
        .unwrap();

    let error = webhook.call(&Status::new("", 1)).await.unwrap_err();
    assert!(
        matches!(&error, Error::InvalidRequest(invalid) if invalid.parameter == "CONNECTOR"),
        "{error:?}"
    );

    let error = webhook
        .call(&Status::new("acme_chat", 1))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::WrongAuthKind { method } if method == "imconnector.status"),
        "{error:?}"
    );
    let error = webhook
        .call_raw("imconnector.activate", json!({"LINE": 1}))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::WrongAuthKind { .. }), "{error:?}");
    let error = webhook
        .call_raw("profile", json!(["not", "an", "object"]))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::InvalidRequest(invalid) if invalid.parameter == "params"),
        "{error:?}"
    );
    let error = webhook.call_raw("../admin", Value::Null).await.unwrap_err();
    assert!(
        matches!(&error, Error::InvalidRequest(invalid) if invalid.parameter == "method"),
        "{error:?}"
    );
    let error = webhook.call(&BadName).await.unwrap_err();
    assert!(
        matches!(&error, Error::InvalidRequest(invalid) if invalid.parameter == "method"),
        "{error:?}"
    );
    assert!(server.seen.lock().unwrap().is_empty(), "nothing was sent");

    // What a webhook may call goes to `{webhook}{method}` without an `auth` parameter.
    webhook.call(&Profile).await.unwrap();
    let seen = server.requests("profile");
    assert_eq!(seen[0].path, "/rest/1/webhook-code/profile");
    assert_eq!(seen[0].json(), json!({}));
}

#[tokio::test]
async fn the_envelope_metadata_is_decoded() {
    let portal = OAuthPortal::start(|_, _| {
        Reply::json(200, json!({"result": [{"ID": "1"}], "total": "120", "next": 50,
            "time": {"start": 1.5, "operating": 0.25, "operating_reset_at": 1738066200, "date_start": "2025-01-28T12:00:00+00:00"}}))
    })
    .await;
    let client = oauth_builder(&portal).build().unwrap();

    let answer = client
        .call_raw(
            "imopenlines.config.list.get",
            json!({"auth": "caller-supplied"}),
        )
        .await
        .unwrap();

    assert_eq!(answer.result, json!([{"ID": "1"}]));
    assert_eq!((answer.total, answer.next), (Some(120), Some(50)));
    let time = answer.time.unwrap();
    assert_eq!(
        (time.start, time.operating, time.operating_reset_at),
        (Some(1.5), Some(0.25), Some(1_738_066_200))
    );
    assert_eq!(time.finish, None);
    let sent = portal
        .server
        .requests("imopenlines.config.list.get")
        .pop()
        .unwrap();
    assert_eq!(
        sent.json()["auth"],
        "access-1",
        "the client's credential, not the caller's `auth`"
    );
}
