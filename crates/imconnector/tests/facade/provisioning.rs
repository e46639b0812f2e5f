//! `provision` is idempotent and `teardown` undoes it, as the emulated portal sees it.

use imconnector::emulator::{ConnectorInfo, LineStatus};
use imconnector::prelude::*;
use imconnector::types::EventBinding;
use imconnector::Error;

use crate::support::{line, portal, setup, sink, Portal};

/// Everything provisioning can touch on the portal.
#[derive(Debug, PartialEq)]
struct Snapshot {
    connectors: Vec<ConnectorInfo>,
    statuses: Vec<LineStatus>,
    bindings: Vec<EventBinding>,
    events_fired: usize,
}

async fn snapshot(portal: &Portal) -> Snapshot {
    Snapshot {
        connectors: portal.emulator.connectors(),
        statuses: portal.emulator.line_statuses(),
        bindings: portal
            .client
            .call(&methods::ListEventBindings::new())
            .await
            .expect("event.get"),
        events_fired: portal.emulator.event_deliveries().len(),
    }
}

fn bind_calls(portal: &Portal) -> u64 {
    portal
        .emulator
        .counters()
        .requests
        .get("event.bind")
        .copied()
        .unwrap_or(0)
}

#[tokio::test]
async fn provisioning_twice_changes_nothing_the_second_time() {
    let portal = portal().await;
    let handler = sink().await;
    let setup = setup(&handler).with_data(
        ConnectorData::new()
            .with_id("acme-channel")
            .with_name("Acme support"),
    );

    let first = provision(&portal.client, &setup, line(1))
        .await
        .expect("first run");
    assert!(first.status.status);
    assert_eq!(first.newly_bound.len(), setup.events().len());
    assert!(first.already_bound.is_empty());
    let after_first = snapshot(&portal).await;
    assert_eq!(after_first.connectors.len(), 1);
    assert_eq!(after_first.connectors[0].id, "acme_chat");
    assert_eq!(
        after_first.connectors[0].placement_handler,
        "https://connector.example.com/settings"
    );
    let status = portal.emulator.line_status("acme_chat", 1);
    assert!(status.status(), "{status:?}");
    let data = status.data.expect("channel data stored");
    assert_eq!(data["name"], "Acme support");
    assert_eq!(data["id"], "acme-channel");
    assert_eq!(after_first.bindings.len(), setup.events().len());
    assert!(after_first
        .bindings
        .iter()
        .all(|binding| binding.handler.as_deref() == Some(handler.as_str())));
    let binds_after_first = bind_calls(&portal);

    let second = provision(&portal.client, &setup, line(1))
        .await
        .expect("second run");
    assert!(second.status.status);
    assert!(second.newly_bound.is_empty(), "{:?}", second.newly_bound);
    assert_eq!(second.already_bound.len(), setup.events().len());
    assert_eq!(snapshot(&portal).await, after_first);
    assert_eq!(
        bind_calls(&portal),
        binds_after_first,
        "no event.bind on the second run"
    );
}

#[tokio::test]
async fn provisioning_binds_only_the_missing_events() {
    let portal = portal().await;
    let handler = sink().await;
    let setup = setup(&handler);
    portal
        .client
        .call(&methods::BindEvent::new(
            "OnImConnectorMessageAdd",
            EventsUrl::parse(&handler).expect("the sink's URL"),
        ))
        .await
        .expect("bind one by hand");

    let provisioned = provision(&portal.client, &setup, line(2))
        .await
        .expect("provision");
    assert_eq!(provisioned.already_bound, ["OnImConnectorMessageAdd"]);
    assert_eq!(provisioned.newly_bound.len(), setup.events().len() - 1);
    assert_eq!(snapshot(&portal).await.bindings.len(), setup.events().len());
    // The default channel data: the connector's name and the id the docs suggest.
    let data = portal
        .emulator
        .line_status("acme_chat", 2)
        .data
        .expect("data");
    assert_eq!(data["id"], "acme_chat_line2");
    assert_eq!(data["name"], "Acme Chat");
}

#[tokio::test]
async fn teardown_undoes_provisioning_and_can_run_again() {
    let portal = portal().await;
    let handler = sink().await;
    let setup = setup(&handler);
    provision(&portal.client, &setup, line(1))
        .await
        .expect("provision");

    let torn_down = teardown(&portal.client, &setup, line(1))
        .await
        .expect("teardown");
    assert_eq!(
        torn_down.unbound,
        i64::try_from(setup.events().len()).expect("a few events")
    );
    let after = snapshot(&portal).await;
    assert!(after.connectors.is_empty(), "{:?}", after.connectors);
    assert!(after.statuses.is_empty(), "{:?}", after.statuses);
    assert!(after.bindings.is_empty(), "{:?}", after.bindings);

    let again = teardown(&portal.client, &setup, line(1))
        .await
        .expect("teardown again");
    assert_eq!(again.unbound, 0);
}

#[test]
fn a_malformed_handler_url_is_refused_before_a_setup_exists() {
    let invalid = EventsUrl::parse("connector.example.com/events").expect_err("refused");
    assert_eq!(invalid.parameter, "handler");
    let invalid = SettingsUrl::parse("settings").expect_err("refused");
    assert_eq!(invalid.parameter, "PLACEMENT_HANDLER");
}

#[tokio::test]
async fn a_failed_step_is_named_in_the_error() {
    let portal = portal().await;
    let handler = sink().await;
    let setup = setup(&handler).with_events(["OnSomethingThatDoesNotExist"]);
    let error = provision(&portal.client, &setup, line(1))
        .await
        .expect_err("refused");
    assert_eq!(error.step(), Some(imconnector::Step::Bind), "{error}");
    assert_eq!(
        error.transport_error().and_then(Error::code),
        Some(&ErrorCode::ErrorEventNotFound)
    );
    assert!(
        error.to_string().starts_with("event.bind failed"),
        "{error}"
    );
}

/// A portal where every call works but the connector reports an error on the line, as after
/// `imconnector.set.error` by another process (the emulator cannot race like that).
async fn portal_with_a_broken_line() -> Client {
    use axum::extract::Path;
    use serde_json::{json, Value};

    async fn answer(Path(method): Path<String>) -> axum::Json<Value> {
        let result = match method.as_str() {
            "imconnector.register" => json!({ "result": true }),
            "event.get" => json!([]),
            "imconnector.status" => {
                json!({ "LINE": 1, "CONNECTOR": "acme_chat", "ERROR": true, "CONFIGURED": true, "STATUS": false })
            }
            _ => json!(true),
        };
        axum::Json(json!({ "result": result }))
    }
    let url = crate::support::serve(
        axum::Router::new().route("/rest/{method}", axum::routing::post(answer)),
    )
    .await;
    Client::builder()
        .oauth(
            OAuthApp::new("local.app", "secret"),
            Tokens::new("access", "refresh"),
        )
        .portal(format!("{url}rest/"))
        .rate_limit(RateLimit::Off)
        .build()
        .expect("client builds")
}

#[tokio::test]
async fn a_connector_that_does_not_come_up_is_a_clear_error() {
    let client = portal_with_a_broken_line().await;
    let error = provision(&client, &setup("http://127.0.0.1:9/events"), line(1))
        .await
        .expect_err("STATUS is false");
    match &error {
        WorkflowError::NotReady {
            connector,
            line,
            configured,
            error,
        } => {
            assert_eq!(
                (connector.as_str(), line.get(), *configured, *error),
                ("acme_chat", 1, true, true)
            );
        }
        other => panic!("unexpected error: {other}"),
    }
    assert_eq!(
        error.to_string(),
        "connector `acme_chat` is not working on line 1 after provisioning: STATUS=false (CONFIGURED=true, ERROR=true)"
    );
}

#[tokio::test]
async fn online_and_offline_delivery_binds_both_and_teardown_removes_both() {
    let portal = portal().await;
    let handler = sink().await;
    let setup = setup(&handler).with_delivery(imconnector::EventDelivery::OnlineAndOffline);
    let events = setup.events().len();

    let first = provision(&portal.client, &setup, line(1))
        .await
        .expect("provision");
    // Online: every event and the offline wake-up; offline: every event.
    assert_eq!(first.newly_bound.len(), events + 1);
    assert!(first
        .newly_bound
        .iter()
        .any(|event| event == imconnector::OFFLINE_WAKEUP_EVENT));
    assert_eq!(first.newly_bound_offline.len(), events);
    let bindings = snapshot(&portal).await.bindings;
    assert_eq!(bindings.len(), 2 * events + 1);
    assert_eq!(
        bindings
            .iter()
            .filter(|binding| binding.offline == Some(true))
            .count(),
        events
    );

    let second = provision(&portal.client, &setup, line(1))
        .await
        .expect("provision again");
    assert!(second.newly_bound.is_empty() && second.newly_bound_offline.is_empty());
    assert_eq!(second.already_bound_offline.len(), events);

    let torn_down = teardown(&portal.client, &setup, line(1))
        .await
        .expect("teardown");
    assert_eq!(
        torn_down.unbound,
        i64::try_from(2 * events + 1).expect("a few")
    );
    assert!(snapshot(&portal).await.bindings.is_empty());
}
