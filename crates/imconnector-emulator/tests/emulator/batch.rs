//! `batch`: sub-calls, per-command errors, halt, references, the 50-command limit.

use serde_json::{json, Map, Value};

use crate::common::Portal;

#[tokio::test]
async fn batch_runs_sub_calls_with_the_outer_token_and_collects_errors() {
    let portal = Portal::start().await;
    portal.register("acme").await;
    let result = portal
        .ok(
            "batch",
            json!({"halt": 0, "cmd": {
                "on": "imconnector.activate?CONNECTOR=acme&LINE=2&ACTIVE=1",
                "st": "imconnector.status?CONNECTOR=acme&LINE=2",
                "bad": "imconnector.status?LINE=2",
                "nope": "no.such.method",
                "lines": "imopenlines.config.list.get",
            }}),
        )
        .await;
    assert_eq!(result["result"]["on"], json!(true));
    assert_eq!(result["result"]["st"]["STATUS"], json!(true));
    assert_eq!(result["result"]["lines"].as_array().map(Vec::len), Some(3));
    assert_eq!(
        result["result_error"]["bad"]["error"],
        json!("ERROR_ARGUMENT")
    );
    assert_eq!(
        result["result_error"]["nope"]["error"],
        json!("ERROR_METHOD_NOT_FOUND")
    );
    assert!(result["result_time"]["st"]["start"].is_number());
    assert!(result["result_error"].get("st").is_none() && result["result"].get("bad").is_none());
    let counters = portal.emulator.counters();
    assert_eq!(counters.requests.get("batch"), Some(&1));
    assert_eq!(counters.requests.get("imconnector.status"), Some(&2));
}

#[tokio::test]
async fn empty_maps_are_empty_lists_and_list_commands_give_lists() {
    let portal = Portal::start().await;
    let result = portal
        .ok(
            "batch",
            json!({"cmd": ["imconnector.status?CONNECTOR=a", "imconnector.status?CONNECTOR=b"]}),
        )
        .await;
    assert_eq!(result["result_error"], json!([]));
    assert_eq!(result["result"][1]["CONNECTOR"], json!("b"));
    let result = portal
        .ok("batch", json!({"cmd": {"x": "imconnector.status"}}))
        .await;
    assert_eq!(result["result"], json!([]));
    assert_eq!(
        result["result_error"]["x"]["error"],
        json!("ERROR_ARGUMENT")
    );
}

#[tokio::test]
async fn halt_stops_at_the_first_failure() {
    let portal = Portal::start().await;
    let result = portal
        .ok(
            "batch",
            json!({"halt": 1, "cmd": {
                "a": "imconnector.activate?CONNECTOR=h&LINE=1&ACTIVE=1",
                "b": "imconnector.activate?CONNECTOR=h",
                "c": "imconnector.activate?CONNECTOR=h&LINE=2&ACTIVE=1",
            }}),
        )
        .await;
    assert_eq!(result["result"]["a"], json!(true));
    assert_eq!(
        result["result_error"]["b"]["error"],
        json!("ERROR_ARGUMENT")
    );
    assert!(result["result"].get("c").is_none() && result["result_error"].get("c").is_none());
    assert!(!portal.emulator.line_status("h", 2).active, "c never ran");
}

#[tokio::test]
async fn references_to_earlier_results_are_substituted() {
    let portal = Portal::start().await;
    let result = portal
        .ok(
            "batch",
            json!({"cmd": {
                "lines": "imopenlines.config.list.get",
                "on": "imconnector.activate?CONNECTOR=ref&LINE=$result[lines][1][ID]&ACTIVE=1",
                "st": "imconnector.status?CONNECTOR=%24result%5Bon%5D&LINE=$result[lines][1][ID]",
            }}),
        )
        .await;
    assert_eq!(result["result"]["on"], json!(true));
    assert!(
        portal.emulator.line_status("ref", 2).active,
        "LINE came from the list"
    );
    // `true` renders as "1" in PHP string context.
    assert_eq!(result["result"]["st"]["CONNECTOR"], json!("1"));
    assert_eq!(result["result"]["st"]["LINE"], json!(2));
}

#[tokio::test]
async fn more_than_fifty_commands_each_get_their_own_error_and_nesting_is_refused() {
    let portal = Portal::start().await;
    let mut commands = Map::new();
    for index in 0..53 {
        commands.insert(
            format!("k{index:02}"),
            json!("imconnector.status?CONNECTOR=a"),
        );
    }
    let result = portal.ok("batch", json!({"cmd": commands})).await;
    assert_eq!(result["result"].as_object().map(Map::len), Some(50));
    let errors = result["result_error"].as_object().expect("errors");
    assert_eq!(errors.len(), 3);
    assert_eq!(
        errors["k52"],
        json!({"error": "ERROR_BATCH_LENGTH_EXCEEDED", "error_description": "Max batch length exceeded"})
    );
    let result = portal
        .ok(
            "batch",
            json!({"cmd": {"inner": "batch?cmd[a]=imconnector.status"}}),
        )
        .await;
    assert_eq!(
        result["result_error"]["inner"],
        json!({"error": "ERROR_BATCH_METHOD_NOT_ALLOWED", "error_description": "Method is not allowed for batch usage"})
    );
}

#[tokio::test]
async fn batch_over_a_webhook_applies_each_methods_auth_rule() {
    let portal = Portal::start().await;
    let (status, body) = portal
        .call_webhook("batch", json!({"cmd": {"s": "imconnector.status?CONNECTOR=a", "l": "imopenlines.config.get?CONFIG_ID=1"}}))
        .await;
    assert_eq!(status, 200, "{body}");
    let result: &Value = &body["result"];
    assert_eq!(
        result["result_error"]["s"]["error"],
        json!("WRONG_AUTH_TYPE")
    );
    assert_eq!(result["result"]["l"]["ID"], json!("1"));
}
