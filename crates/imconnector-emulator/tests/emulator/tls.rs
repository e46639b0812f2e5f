//! HTTPS on the emulator's port (feature `tls`): the generated CA, plain HTTP beside it, and
//! the portal's "Https required." for webhooks over plain HTTP.

use imconnector_emulator::{Emulator, ExposeSecret};
use serde_json::{json, Value};

fn trusting(pem: &str) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(pem.as_bytes()).expect("the CA parses");
    reqwest::Client::builder()
        .no_proxy()
        .add_root_certificate(ca)
        .build()
        .expect("client")
}

fn untrusting() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
}

#[tokio::test]
async fn an_https_call_succeeds_with_the_printed_ca_and_fails_without_it() {
    let emulator = Emulator::builder().tls().start().await.expect("starts");
    assert!(emulator.rest_url().starts_with("https://127.0.0.1:"));
    let path = emulator.tls_ca_file().expect("a CA file").to_owned();
    let pem = std::fs::read_to_string(&path).expect("the CA file is written");
    assert_eq!(Some(pem.as_str()), emulator.tls_ca_pem());
    let token = emulator.tokens().access_token;
    let body = json!({"CONNECTOR": "tls", "LINE": 1, "auth": token.expose_secret()});
    let url = format!("{}imconnector.status", emulator.rest_url());

    let answer: Value = trusting(&pem)
        .post(&url)
        .json(&body)
        .send()
        .await
        .expect("trusted HTTPS works")
        .json()
        .await
        .expect("JSON");
    assert_eq!(answer["result"]["CONNECTOR"], "tls");

    let error = untrusting()
        .post(&url)
        .json(&body)
        .send()
        .await
        .expect_err("an unknown CA is refused");
    assert!(error.is_connect(), "{error:?}");

    // localhost is in the certificate too.
    let port = emulator.address().port();
    let local = format!("https://localhost:{port}/rest/imconnector.status");
    let status = trusting(&pem)
        .post(local)
        .json(&body)
        .send()
        .await
        .expect("localhost is covered")
        .status();
    assert_eq!(status, 200);

    drop(emulator);
    assert!(
        !path.exists(),
        "the generated CA file is removed with the emulator"
    );
}

#[tokio::test]
async fn plain_http_shares_the_port_but_webhooks_need_https_unless_allowed() {
    let emulator = Emulator::builder().tls().start().await.expect("starts");
    let pem = emulator.tls_ca_pem().expect("CA").to_owned();
    let webhook = emulator.webhook_url().expose_secret().to_owned();
    let plain_webhook = webhook.replacen("https://", "http://", 1);
    let method = "imopenlines.config.list.get";

    let (status, body) = get(&untrusting(), &format!("{plain_webhook}{method}")).await;
    assert_eq!(status, 401);
    assert_eq!(
        body,
        json!({"error": "INVALID_REQUEST", "error_description": "Https required."})
    );
    let (status, body) = get(&trusting(&pem), &format!("{webhook}{method}")).await;
    assert_eq!(status, 200, "{body}");

    // OAuth calls over plain HTTP still work on the same port.
    let token = emulator.tokens().access_token;
    let plain_rest = emulator.rest_url().replacen("https://", "http://", 1);
    let url = format!(
        "{plain_rest}imconnector.status?CONNECTOR=x&auth={}",
        token.expose_secret()
    );
    assert_eq!(get(&untrusting(), &url).await.0, 200);

    let allowing = Emulator::builder()
        .tls()
        .allow_http_webhooks(true)
        .start()
        .await
        .expect("starts");
    let plain = allowing
        .webhook_url()
        .expose_secret()
        .replacen("https://", "http://", 1);
    assert_eq!(get(&untrusting(), &format!("{plain}{method}")).await.0, 200);
}

#[tokio::test]
async fn given_certificate_files_are_served() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).expect("cert");
    std::fs::write(&cert, made.cert.pem()).expect("write");
    std::fs::write(&key, made.signing_key.serialize_pem()).expect("write");
    let emulator = Emulator::builder()
        .tls_files(&cert, &key)
        .start()
        .await
        .expect("starts");
    assert_eq!(emulator.tls_ca_file(), Some(cert.as_path()));
    let token = emulator.tokens().access_token;
    let url = format!(
        "{}imconnector.status?CONNECTOR=x&auth={}",
        emulator.rest_url(),
        token.expose_secret()
    );
    assert_eq!(get(&trusting(&made.cert.pem()), &url).await.0, 200);
    drop(emulator);
    assert!(cert.exists(), "given files are left alone");

    std::fs::write(&key, "not a key").expect("write");
    let refused = Emulator::builder().tls_files(&cert, &key).start().await;
    let error = refused
        .expect_err("a bad key is refused at start")
        .to_string();
    assert!(error.contains("key.pem"), "{error}");
}

async fn get(http: &reqwest::Client, url: &str) -> (u16, Value) {
    let response = http.get(url).send().await.expect("answer");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}
