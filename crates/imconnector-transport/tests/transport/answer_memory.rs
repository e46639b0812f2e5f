//! Answers that would amplify in memory: 256 KiB of one-key objects take 96 times their size
//! as a plain `serde_json::Value`. Untyped calls, batches, error bodies and token answers are
//! built within a budget and refused with a typed error instead.

use imconnector_transport::{
    Batch, Client, Error, OAuthServer, RateLimit, RetryPolicy, TokenEndpointError,
};
use serde_json::Value;

use crate::support::{serve, Reply};

/// `[{"a":{"a":1}},…]` of about 256 KiB.
fn amplifying_list() -> String {
    let item = r#"{"a":{"a":1}},"#;
    format!("[{}0]", item.repeat(256 * 1024 / item.len()))
}

fn webhook_client(url: &str) -> Client {
    Client::builder()
        .webhook(url)
        .rate_limit(RateLimit::Off)
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap()
}

fn assert_refused_for_memory(error: &Error) {
    let Error::Decode { reason, .. } = error else {
        panic!("expected a decode error, got {error:?}");
    };
    assert!(reason.contains("bytes of memory"), "{reason}");
}

#[tokio::test]
async fn an_amplifying_rest_answer_is_refused_before_it_is_built() {
    let list = amplifying_list();
    let success = format!(r#"{{"result":{list}}}"#);
    let portal = serve(move |_| Reply::raw(200, success.clone())).await;
    let client = webhook_client(&format!("{}1/code/", portal.rest_base()));
    // Before the fix: Ok, with a 25 MB value.
    let error = client
        .call_raw("profile", Value::Null)
        .await
        .expect_err("refused");
    assert_refused_for_memory(&error);

    let failure = format!(r#"{{"error":"X","error_description":"y","junk":{list}}}"#);
    let portal = serve(move |_| Reply::raw(400, failure.clone())).await;
    let client = webhook_client(&format!("{}1/code/", portal.rest_base()));
    let error = client
        .call_raw("profile", Value::Null)
        .await
        .expect_err("refused");
    assert_refused_for_memory(&error);
}

#[tokio::test]
async fn an_amplifying_batch_answer_is_refused_before_it_is_built() {
    let answer = format!(
        r#"{{"result":{{"result":{{"a":{}}},"result_error":[]}}}}"#,
        amplifying_list()
    );
    let portal = serve(move |_| Reply::raw(200, answer.clone())).await;
    let client = webhook_client(&format!("{}1/code/", portal.rest_base()));
    let mut batch = Batch::new();
    batch.add_raw("a", "profile", Value::Null).unwrap();
    let error = client.batch(&batch).await.expect_err("refused");
    assert_refused_for_memory(&error);
}

#[tokio::test]
async fn an_amplifying_token_answer_is_refused_before_it_is_built() {
    let answer = format!(
        r#"{{"access_token":"a","refresh_token":"r","expires_in":3600,"junk":{}}}"#,
        amplifying_list()
    );
    let oauth = serve(move |_| Reply::raw(200, answer.clone())).await;
    let server = OAuthServer::new(crate::app())
        .unwrap()
        .token_url(&oauth.oauth_url())
        .unwrap();
    // Before the fix: tokens, after building a 25 MB value.
    let error = server.exchange_code("code").await.expect_err("refused");
    let TokenEndpointError::Malformed { reason, .. } = &error else {
        panic!("expected Malformed, got {error:?}");
    };
    assert!(reason.contains("bytes of memory"), "{reason}");
}
