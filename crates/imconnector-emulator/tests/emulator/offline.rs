//! The offline event queue (b24restdocs events/offline-events.md, event-offline-*.md,
//! on-offline-event.md): events bound with `event_type=offline` are queued, not POSTed, and
//! read with `event.offline.get/list`, confirmed with `clear`, marked with `error`.

use imconnector_emulator::ExposeSecret;
use serde_json::{json, Value};

use crate::common::{Portal, Sink};

/// Binds `event` offline (optionally under an `auth_connector` source).
async fn bind_offline(portal: &Portal, event: &str, source: Option<&str>) {
    let mut params = json!({"event": event, "event_type": "offline"});
    if let Some(source) = source {
        params["auth_connector"] = json!(source);
    }
    assert_eq!(portal.ok("event.bind", params).await, json!(true));
}

/// A ready connector with a customer chat and `replies` operator replies in it.
async fn replies(portal: &Portal, replies: usize) {
    portal.ready("acme", 1).await;
    portal
        .customer_says("acme", 1, "chat-1", "u1", "m1", "Hi")
        .await;
    for index in 0..replies {
        portal
            .emulator
            .operator_reply(1, "chat-1", &format!("reply {index}"))
            .expect("reply");
    }
}

fn event_names(events: &Value) -> Vec<String> {
    events
        .as_array()
        .expect("events")
        .iter()
        .map(|row| row["EVENT_NAME"].as_str().expect("name").to_owned())
        .collect()
}

#[tokio::test]
async fn an_offline_binding_queues_the_event_with_the_data_an_online_post_carries() {
    let portal = Portal::start().await;
    let sink = Sink::start().await;
    portal.bind(&sink.url, &["OnImConnectorMessageAdd"]).await;
    bind_offline(&portal, "OnImConnectorMessageAdd", None).await;
    replies(&portal, 1).await;

    let online = sink.forms(1).await;
    let result = portal.ok("event.offline.get", json!({})).await;
    assert_eq!(result["process_id"], Value::Null, "clear=1 is the default");
    let events = result["events"].as_array().expect("events");
    assert_eq!(events.len(), 1, "{result}");
    let row = &events[0];
    assert_eq!(row["EVENT_NAME"], json!("ONIMCONNECTORMESSAGEADD"));
    assert!(
        row["ID"].is_string() && row["MESSAGE_ID"].is_string(),
        "{row}"
    );
    assert!(row["TIMESTAMP_X"]
        .as_str()
        .is_some_and(|time| time.contains('T')));
    // The queued data is the online POST's `data` (the POST has every scalar as a string).
    let data = &row["EVENT_DATA"];
    assert_eq!(data["CONNECTOR"], online[0]["data"]["CONNECTOR"]);
    assert_eq!(
        data["MESSAGES"][0]["message"]["text"],
        online[0]["data"]["MESSAGES"][0]["message"]["text"]
    );
    // Cleared: the queue is empty now.
    let again = portal.ok("event.offline.get", json!({})).await;
    assert_eq!(again["events"], json!([]), "{again}");
    assert!(portal.emulator.offline_events().is_empty());
}

#[tokio::test]
async fn get_without_clear_reserves_rows_under_a_process_until_cleared() {
    let portal = Portal::start().await;
    bind_offline(&portal, "OnImConnectorMessageAdd", None).await;
    replies(&portal, 3).await;

    let first = portal
        .ok("event.offline.get", json!({"clear": 0, "limit": 2}))
        .await;
    let process = first["process_id"].as_str().expect("process_id").to_owned();
    assert_eq!(first["events"].as_array().map(Vec::len), Some(2));
    // A parallel reader gets the rows nobody reserved.
    let second = portal.ok("event.offline.get", json!({"clear": 0})).await;
    assert_eq!(second["events"].as_array().map(Vec::len), Some(1));
    assert_ne!(second["process_id"], json!(process));
    // The first process re-reads its own rows after a restart.
    let resumed = portal
        .ok(
            "event.offline.get",
            json!({"clear": 0, "process_id": process}),
        )
        .await;
    assert_eq!(resumed["events"], first["events"], "{resumed}");
    assert_eq!(resumed["process_id"], json!(process));
    // Clearing one message id leaves the other reserved; clearing the process takes the rest.
    let message_id = first["events"][0]["MESSAGE_ID"].clone();
    let cleared = portal
        .ok(
            "event.offline.clear",
            json!({"process_id": process, "message_id": [message_id]}),
        )
        .await;
    assert_eq!(cleared, json!(true));
    let queue = portal.emulator.offline_events();
    assert_eq!(queue.len(), 2);
    assert_eq!(
        queue
            .iter()
            .filter(|row| row.process_id.as_deref() == Some(process.as_str()))
            .count(),
        1
    );
    portal
        .ok("event.offline.clear", json!({"process_id": process}))
        .await;
    assert_eq!(portal.emulator.offline_events().len(), 1);
}

#[tokio::test]
async fn error_marks_rows_failed_and_get_returns_them_only_when_asked() {
    let portal = Portal::start().await;
    bind_offline(&portal, "OnImConnectorMessageAdd", None).await;
    replies(&portal, 2).await;
    let taken = portal.ok("event.offline.get", json!({"clear": 0})).await;
    let process = taken["process_id"].clone();
    let failed = taken["events"][1]["MESSAGE_ID"].clone();
    let marked = portal
        .ok(
            "event.offline.error",
            json!({"process_id": process, "message_id": [failed]}),
        )
        .await;
    assert_eq!(marked, json!(true));
    portal
        .ok("event.offline.clear", json!({"process_id": process}))
        .await;

    let normal = portal.ok("event.offline.get", json!({"clear": 0})).await;
    assert_eq!(
        normal["events"],
        json!([]),
        "failed rows are not handed out"
    );
    let errors = portal
        .ok("event.offline.get", json!({"clear": 0, "error": 1}))
        .await;
    assert_eq!(errors["events"].as_array().map(Vec::len), Some(1));
    assert_eq!(errors["events"][0]["MESSAGE_ID"], failed);
    let listed = portal.ok("event.offline.list", json!({})).await;
    assert_eq!(listed[0]["ERROR"], json!("1"), "{listed}");
}

#[tokio::test]
async fn filter_and_order_pick_rows_like_the_orm() {
    let portal = Portal::start().await;
    bind_offline(&portal, "OnImConnectorMessageAdd", None).await;
    bind_offline(&portal, "OnImConnectorDialogStart", None).await;
    replies(&portal, 2).await;

    let all = portal.ok("event.offline.list", json!({})).await;
    assert_eq!(
        event_names(&all),
        [
            "ONIMCONNECTORDIALOGSTART",
            "ONIMCONNECTORMESSAGEADD",
            "ONIMCONNECTORMESSAGEADD"
        ]
    );
    let adds = portal
        .ok(
            "event.offline.list",
            json!({"filter": {"=EVENT_NAME": "ONIMCONNECTORMESSAGEADD"}, "order": {"ID": "DESC"}}),
        )
        .await;
    assert_eq!(adds.as_array().map(Vec::len), Some(2));
    let ids: Vec<u64> = adds
        .as_array()
        .expect("rows")
        .iter()
        .map(|row| {
            row["ID"]
                .as_str()
                .and_then(|id| id.parse().ok())
                .expect("id")
        })
        .collect();
    assert!(ids[0] > ids[1], "DESC: {ids:?}");
    let after_first = portal
        .ok(
            "event.offline.get",
            json!({"filter": {">ID": ids[1]}, "clear": 0}),
        )
        .await;
    assert_eq!(after_first["events"].as_array().map(Vec::len), Some(1));
    assert_eq!(after_first["events"][0]["ID"], json!(ids[0].to_string()));
    // An unknown field is refused, naming the filter.
    let refused = portal
        .err(
            "event.offline.get",
            json!({"filter": {"NOPE": 1}}),
            400,
            "ERROR_ARGUMENT",
        )
        .await;
    assert_eq!(refused["argument"], json!("filter"));
}

#[tokio::test]
async fn list_pages_by_fifty_with_total_and_next() {
    let portal = Portal::start().await;
    bind_offline(&portal, "OnImConnectorMessageAdd", None).await;
    replies(&portal, 55).await;
    let (status, body) = portal.call("event.offline.list", json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(body["result"].as_array().map(Vec::len), Some(50));
    assert_eq!(
        (body["total"].clone(), body["next"].clone()),
        (json!(55), json!(50))
    );
    let (_, last) = portal
        .call("event.offline.list", json!({"start": 50}))
        .await;
    assert_eq!(last["result"].as_array().map(Vec::len), Some(5));
    assert!(last.get("next").is_none(), "{last}");
    // In a batch, the page's total and next come back beside the result.
    let batch = portal
        .ok(
            "batch",
            json!({"cmd": {"page": "event.offline.list?start=0"}}),
        )
        .await;
    assert_eq!(batch["result_total"]["page"], json!(55), "{batch}");
    assert_eq!(batch["result_next"]["page"], json!(50), "{batch}");
}

#[tokio::test]
async fn the_queue_is_split_by_auth_connector() {
    let portal = Portal::start().await;
    bind_offline(&portal, "OnImConnectorMessageAdd", Some("relay-a")).await;
    replies(&portal, 1).await;
    let untagged = portal.ok("event.offline.get", json!({})).await;
    assert_eq!(untagged["events"], json!([]));
    let tagged = portal
        .ok("event.offline.get", json!({"auth_connector": "relay-a"}))
        .await;
    assert_eq!(tagged["events"].as_array().map(Vec::len), Some(1));
    let bindings = portal.ok("event.get", json!({})).await;
    assert_eq!(
        bindings[0],
        json!({"event": "ONIMCONNECTORMESSAGEADD", "connector_id": "relay-a", "offline": 1})
    );
}

#[tokio::test]
async fn only_an_administrator_reads_or_confirms_the_queue() {
    let portal = Portal::start().await;
    let client_id = portal.emulator.apps()[0].client_id.clone();
    let employee = portal.emulator.tokens_for(&client_id, 2).expect("tokens");
    for method in [
        "event.offline.get",
        "event.offline.list",
        "event.offline.clear",
        "event.offline.error",
    ] {
        let (status, body) = portal
            .call_as(
                employee.access_token.expose_secret(),
                method,
                json!({"process_id": "p"}),
            )
            .await;
        assert_eq!(
            (status, &body["error"]),
            (403, &json!("ACCESS_DENIED")),
            "{method}"
        );
    }
    let (status, body) = portal.call_webhook("event.offline.get", json!({})).await;
    assert_eq!(
        (status, &body["error"]),
        (403, &json!("WRONG_AUTH_TYPE")),
        "{body}"
    );
    portal
        .err("event.offline.clear", json!({}), 400, "ERROR_ARGUMENT")
        .await;
}

#[tokio::test]
async fn identical_payloads_merge_into_the_waiting_row() {
    let portal = Portal::start().await;
    bind_offline(&portal, "OnImConnectorLineDelete", None).await;
    // LineDelete's data is the line id alone: deleting, re-creating and deleting again
    // yields the same payload.
    let line = portal.emulator.add_line("temporary");
    portal.emulator.delete_line(line.id).expect("delete");
    let first = portal.emulator.offline_events();
    assert_eq!(first.len(), 1);
    let again = portal.emulator.add_line("temporary again");
    assert_eq!(again.id, line.id, "the emulator reuses the freed last id");
    portal.emulator.delete_line(again.id).expect("delete");
    let merged = portal.emulator.offline_events();
    assert_eq!(merged.len(), 1, "{merged:?}");
    assert_eq!(merged[0].message_id, first[0].message_id);
    assert_eq!(portal.emulator.counters().offline_events_queued, 1);
}

#[tokio::test]
async fn onofflineevent_wakes_the_app_at_most_once_per_min_timeout() {
    let portal = Portal::start().await;
    let sink = Sink::start().await;
    bind_offline(&portal, "OnImConnectorMessageAdd", None).await;
    let bound = portal
        .ok(
            "event.bind",
            json!({"event": "OnOfflineEvent", "handler": sink.url, "options": {"minTimeout": 3600}}),
        )
        .await;
    assert_eq!(bound, json!(true));
    replies(&portal, 3).await;

    let forms = sink.forms(1).await;
    assert_eq!(forms[0]["event"], json!("ONOFFLINEEVENT"));
    assert!(
        forms[0]["auth"]["refresh_token"].is_string(),
        "the wake-up carries a refresh token: {}",
        forms[0]["auth"]
    );
    assert!(forms[0]
        .get("data")
        .is_none_or(|data| data == &json!([]) || data == &json!("")));
    // Three rows queued within the hour: one wake-up.
    assert_eq!(portal.emulator.offline_events().len(), 3);
    let wakeups = portal
        .emulator
        .event_deliveries()
        .into_iter()
        .filter(|delivery| delivery.event == "ONOFFLINEEVENT")
        .count();
    assert_eq!(wakeups, 1);
}
