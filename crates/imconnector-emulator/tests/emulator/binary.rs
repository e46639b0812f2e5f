//! The `imconnector-emulator` binary (feature `cli`): `--json` prints one object whose URLs
//! and tokens work.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

/// Kills the child when the test ends, passing or not.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(args: &[&str]) -> (Running, Value) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_imconnector-emulator"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary runs");
    let stdout = child.stdout.take().expect("stdout");
    let running = Running(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("one line");
    let summary: Value = serde_json::from_str(&line).expect("stdout is one JSON object");
    (running, summary)
}

#[tokio::test]
async fn json_output_parses_and_its_tokens_work() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ready = dir.path().join("ready.json");
    let ready_arg = ready.to_str().expect("utf-8 path");
    let (_running, cfg) = start(&[
        "--json",
        "--tls",
        "--lines",
        "2",
        "--client-id",
        "local.cli",
        "--ready-file",
        ready_arg,
    ]);
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(&ready).expect("ready file")).expect("JSON");
    assert_eq!(written, cfg, "the ready file holds the same object");
    for key in [
        "portal",
        "oauth",
        "control",
        "webhook",
        "client_id",
        "client_secret",
        "application_token",
        "member_id",
        "domain",
        "access_token",
        "refresh_token",
        "expires",
        "lines",
        "ca_file",
    ] {
        assert!(!cfg[key].is_null(), "{key} in {cfg}");
    }
    assert_eq!(cfg["client_id"], "local.cli");
    assert_eq!(cfg["lines"], json!([1, 2]));
    let portal = cfg["portal"].as_str().expect("portal");
    assert!(portal.starts_with("https://127.0.0.1:"));

    let pem = std::fs::read(cfg["ca_file"].as_str().expect("ca_file")).expect("CA file");
    let http = reqwest::Client::builder()
        .no_proxy()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("PEM"))
        .build()
        .expect("client");
    let status: Value = http
        .post(format!("{portal}imconnector.status"))
        .json(&json!({"CONNECTOR": "cli", "LINE": 2, "auth": cfg["access_token"]}))
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("JSON");
    assert_eq!(status["result"]["LINE"], 2, "{status}");

    let refreshed: Value = http
        .get(cfg["oauth"].as_str().expect("oauth"))
        .query(&[
            ("grant_type", "refresh_token"),
            ("client_id", cfg["client_id"].as_str().expect("id")),
            (
                "client_secret",
                cfg["client_secret"].as_str().expect("secret"),
            ),
            (
                "refresh_token",
                cfg["refresh_token"].as_str().expect("refresh"),
            ),
        ])
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("JSON");
    assert!(refreshed["access_token"].is_string(), "{refreshed}");

    let app: Value = http
        .get(format!("{}app", cfg["control"].as_str().expect("control")))
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("JSON");
    assert_eq!(app["application_token"], cfg["application_token"]);
}

#[test]
fn a_public_host_without_a_control_token_is_refused() {
    let output = Command::new(env!("CARGO_BIN_EXE_imconnector-emulator"))
        .args(["--json", "--host", "0.0.0.0"])
        .env_remove("IMCONNECTOR_EMULATOR_CONTROL_TOKEN")
        .output()
        .expect("the binary runs");
    assert!(!output.status.success());
    assert!(output.stdout.is_empty(), "nothing on stdout");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("control token"), "{stderr}");
}
