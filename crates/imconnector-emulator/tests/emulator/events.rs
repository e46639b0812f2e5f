//! Events POSTed to handlers bound with event.bind, as form bodies like the portal's.

use axum::http::StatusCode;
use imconnector_emulator::{ControlError, DeliveryOutcome, ExposeSecret};
use serde_json::json;

use crate::common::{Portal, Sink, WAIT};

const ALL: [&str; 7] = [
    "OnImConnectorMessageAdd",
    "OnImConnectorMessageUpdate",
    "OnImConnectorMessageDelete",
    "OnImConnectorDialogStart",
    "OnImConnectorDialogFinish",
    "OnImConnectorStatusDelete",
    "OnImConnectorLineDelete",
];

#[tokio::test]
async fn operator_reply_arrives_as_the_portals_form_post() {
    let portal = Portal::start().await;
    let sink = Sink::start().await;
    portal.bind(&sink.url, &["OnImConnectorMessageAdd"]).await;
    portal.ready("acme", 1).await;
    portal
        .customer_says("acme", 1, "channel-123", "u1", "m1", "Guten Tag")
        .await;
    let reply = portal
        .emulator
        .operator_reply(1, "channel-123", "Hello!")
        .expect("reply");

    let received = sink.wait_for(1).await;
    let (headers, body) = &received[0];
    assert_eq!(headers["content-type"], "application/x-www-form-urlencoded");
    assert!(
        body.starts_with("event=ONIMCONNECTORMESSAGEADD&event_handler_id="),
        "{body}"
    );
    assert!(
        body.contains("data%5BMESSAGES%5D%5B0%5D%5Bim%5D%5Bchat_id%5D="),
        "PHP-style nested keys: {body}"
    );
    let form = imconnector_form::parse(body.as_bytes()).expect("form");
    let app = portal.emulator.app();
    assert_eq!(form["data"]["CONNECTOR"], json!("acme"));
    assert_eq!(form["data"]["LINE"], json!("1"));
    let item = &form["data"]["MESSAGES"][0];
    assert_eq!(
        item["im"],
        json!({"chat_id": reply.chat_id.to_string(), "message_id": reply.message_id.to_string()})
    );
    assert_eq!(
        item["message"],
        json!({"user_id": "1", "text": "[b]Emulator Admin:[/b][br] Hello!"})
    );
    assert_eq!(item["chat"], json!({"id": "channel-123"}));
    assert!(form["ts"]
        .as_str()
        .is_some_and(|ts| ts.parse::<i64>().is_ok()));
    let auth = &form["auth"];
    assert_eq!(
        auth["application_token"],
        json!(app.application_token.expose_secret())
    );
    assert_eq!(auth["member_id"], json!(app.member_id));
    assert_eq!(auth["domain"], json!(app.domain));
    assert_eq!(auth["client_endpoint"], json!(portal.emulator.rest_url()));
    assert_eq!(auth["user_id"], json!("1"));
    assert!(auth.get("refresh_token").is_none());
    // The event's access token works against the portal.
    let token = auth["access_token"].as_str().expect("token");
    let (status, _) = portal
        .call_as(
            token,
            "imconnector.status",
            json!({"CONNECTOR": "acme", "LINE": 1}),
        )
        .await;
    assert_eq!(status, 200);

    let log = portal
        .emulator
        .wait_for_event_deliveries(1, WAIT)
        .await
        .expect("delivered");
    assert_eq!(log[0].outcome, DeliveryOutcome::Delivered { status: 200 });
    assert_eq!(log[0].body, *body);
    assert!(
        !format!("{:?}", log[0]).contains(token),
        "Debug never shows tokens"
    );
}

#[tokio::test]
async fn dialog_start_fires_once_per_session_and_finish_on_close() {
    let portal = Portal::start().await;
    let sink = Sink::start().await;
    portal
        .bind(
            &sink.url,
            &["OnImConnectorDialogStart", "OnImConnectorDialogFinish"],
        )
        .await;
    portal.ready("acme", 1).await;
    let first = portal
        .customer_says("acme", 1, "c1", "u1", "m1", "hi")
        .await;
    portal
        .customer_says("acme", 1, "c1", "u1", "m2", "again")
        .await;
    let session = portal.emulator.close_session(1, "c1").expect("closed");
    assert_eq!(first["session"]["ID"], json!(session.to_string()));
    assert_eq!(
        portal.emulator.close_session(1, "c1"),
        Err(ControlError::NoOpenSession(portal.emulator.chats()[0].id))
    );
    assert!(matches!(
        portal.emulator.operator_reply(1, "c1", "late"),
        Err(ControlError::NoOpenSession(_))
    ));
    let next = portal
        .customer_says("acme", 1, "c1", "u1", "m3", "back")
        .await;
    assert_ne!(next["session"]["ID"], first["session"]["ID"]);

    sink.wait_for(3).await;
    // Deliveries run concurrently; the emulator's log keeps the order they were emitted in.
    let forms: Vec<_> = portal
        .emulator
        .event_deliveries()
        .iter()
        .map(|entry| entry.form())
        .collect();
    let events: Vec<&str> = forms
        .iter()
        .map(|form| form["event"].as_str().expect("event"))
        .collect();
    assert_eq!(
        events,
        [
            "ONIMCONNECTORDIALOGSTART",
            "ONIMCONNECTORDIALOGFINISH",
            "ONIMCONNECTORDIALOGSTART"
        ]
    );
    let data = &forms[1]["data"];
    assert_eq!(data["CONNECTOR"], json!("acme"));
    let entry = &data["DATA"][0];
    assert_eq!(entry["session"]["id"], json!(session.to_string()));
    assert_eq!(entry["session"]["closed"], json!("Y"));
    assert_eq!(entry["chat"]["id"], json!("c1"));
    assert_eq!(entry["connector"]["connector_id"], json!("acme"));
    assert_eq!(
        forms[2]["data"]["DATA"][0]["session"]["parent_id"],
        json!(session.to_string())
    );
}

#[tokio::test]
async fn deactivation_and_unregister_fire_status_delete_with_lowercase_keys() {
    let portal = Portal::start().await;
    let sink = Sink::start().await;
    portal.bind(&sink.url, &["OnImConnectorStatusDelete"]).await;
    portal.ready("acme", 1).await;
    portal.activate("acme", 2).await;
    portal
        .ok(
            "imconnector.activate",
            json!({"CONNECTOR": "acme", "LINE": 1, "ACTIVE": 0}),
        )
        .await;
    let forms = sink.forms(1).await;
    assert_eq!(forms[0]["data"], json!({"connector": "acme", "line": "1"}));
    portal
        .ok("imconnector.unregister", json!({"ID": "acme"}))
        .await;
    let forms = sink.forms(2).await;
    assert_eq!(forms[1]["data"], json!({"connector": "acme", "line": "2"}));
}

#[tokio::test]
async fn events_go_only_to_the_owning_app_except_line_delete() {
    let portal = Portal::start().await;
    let mine = Sink::start().await;
    let theirs = Sink::start().await;
    portal.bind(&mine.url, &ALL).await;
    let other = portal.emulator.install_app();
    let other_token = portal
        .emulator
        .tokens_for(&other.client_id, 1)
        .expect("tokens");
    for event in ALL {
        let (status, body) = portal
            .call_as(
                other_token.access_token.expose_secret(),
                "event.bind",
                json!({"event": event, "handler": theirs.url}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    portal.ready("acme", 2).await;
    portal.customer_says("acme", 2, "c", "u", "m", "hi").await; // DialogStart
    portal.emulator.operator_reply(2, "c", "yo").expect("reply"); // MessageAdd
    portal.emulator.delete_line(2).expect("deleted"); // StatusDelete + LineDelete
    let mut forms = mine.forms(4).await;
    forms.sort_by_key(|form| form["event"].as_str().map(str::to_owned));
    let events: Vec<&str> = forms
        .iter()
        .map(|form| form["event"].as_str().expect("event"))
        .collect();
    assert_eq!(
        events,
        [
            "ONIMCONNECTORDIALOGSTART",
            "ONIMCONNECTORLINEDELETE",
            "ONIMCONNECTORMESSAGEADD",
            "ONIMCONNECTORSTATUSDELETE"
        ]
    );
    assert_eq!(
        forms[1]["data"],
        json!("2"),
        "LineDelete carries the bare line id"
    );
    assert_eq!(forms[3]["data"], json!({"connector": "acme", "line": "2"}));
    let theirs_forms = theirs.forms(1).await;
    portal
        .emulator
        .wait_for_event_deliveries(5, WAIT)
        .await
        .expect("all delivered");
    assert_eq!(theirs.received().len(), 1);
    assert_eq!(theirs_forms[0]["event"], json!("ONIMCONNECTORLINEDELETE"));
    assert_eq!(
        theirs_forms[0]["auth"]["application_token"],
        json!(other.application_token.expose_secret()),
        "each app gets its own application_token"
    );
    assert_eq!(
        portal.emulator.delete_line(2),
        Err(ControlError::UnknownLine(2))
    );
}

#[tokio::test]
async fn edits_and_deletes_respect_the_connector_flags() {
    let portal = Portal::start().await;
    let sink = Sink::start().await;
    portal
        .bind(
            &sink.url,
            &[
                "OnImConnectorMessageAdd",
                "OnImConnectorMessageUpdate",
                "OnImConnectorMessageDelete",
            ],
        )
        .await;
    portal.register_with("strict", json!({"EDIT_INTERNAL_MESSAGES": "N", "DEL_INTERNAL_MESSAGES": false, "DEL_EXTERNAL_MESSAGES": 0})).await;
    portal.activate("strict", 1).await;
    portal.ready("open", 2).await;
    let customer = portal.customer_says("strict", 1, "c", "u", "m", "hi").await;
    let strict = portal
        .emulator
        .operator_reply(1, "c", "one")
        .expect("reply");
    assert!(matches!(
        portal.emulator.operator_edit(strict.message_id, "two"),
        Err(ControlError::NotAllowed { .. })
    ));
    assert!(matches!(
        portal.emulator.operator_delete(strict.message_id),
        Err(ControlError::NotAllowed { .. })
    ));
    let customer_message = portal.emulator.messages(1, "c")[0].id;
    assert!(matches!(
        portal.emulator.operator_delete(customer_message),
        Err(ControlError::NotAllowed { .. })
    ));
    assert!(customer["SUCCESS"] == json!(true));

    portal.customer_says("open", 2, "d", "u", "m", "hi").await;
    let open = portal
        .emulator
        .operator_reply(2, "d", "first")
        .expect("reply");
    // Not delivered yet: the edit is stored but the connector has no ids to update.
    portal
        .emulator
        .operator_edit(open.message_id, "early")
        .expect("edit");
    portal
        .ok(
            "imconnector.send.status.delivery",
            json!({"CONNECTOR": "open", "LINE": 2, "MESSAGES": [{"im": {"chat_id": open.chat_id, "message_id": open.message_id}, "message": {"id": ["x1", "x2"]}, "chat": {"id": "d"}}]}),
        )
        .await;
    portal
        .emulator
        .operator_edit(open.message_id, "second")
        .expect("edit");
    portal
        .emulator
        .operator_delete(open.message_id)
        .expect("delete");
    assert_eq!(
        portal.emulator.operator_delete(open.message_id),
        Err(ControlError::MessageDeleted(open.message_id))
    );
    let forms = sink.forms(4).await;
    let update = forms
        .iter()
        .find(|form| form["event"] == json!("ONIMCONNECTORMESSAGEUPDATE"))
        .expect("update");
    assert_eq!(
        update["data"]["MESSAGES"][0]["message"],
        json!({"id": ["x1", "x2"], "text": "[b]Emulator Admin:[/b][br] second"})
    );
    let delete = forms
        .iter()
        .find(|form| form["event"] == json!("ONIMCONNECTORMESSAGEDELETE"))
        .expect("delete");
    let items = delete["data"]["MESSAGES"]
        .as_array()
        .expect("one item per external id");
    assert_eq!(items.len(), 2);
    assert_eq!(items[1]["message"], json!({"id": "x2"}));
    portal
        .emulator
        .wait_for_event_deliveries(4, crate::common::WAIT)
        .await
        .expect("delivered");
    let updates = sink
        .received()
        .iter()
        .filter(|(_, body)| body.starts_with("event=ONIMCONNECTORMESSAGEUPDATE"))
        .count();
    assert_eq!(updates, 1, "only the edit after delivery is sent");
    let adds = forms
        .iter()
        .filter(|form| form["event"] == json!("ONIMCONNECTORMESSAGEADD"))
        .count();
    assert_eq!(adds, 2);
}

#[tokio::test]
async fn replies_are_not_routed_while_the_status_is_broken() {
    let portal = Portal::start().await;
    let sink = Sink::start().await;
    portal.bind(&sink.url, &["OnImConnectorMessageAdd"]).await;
    portal.ready("acme", 1).await;
    portal.customer_says("acme", 1, "c", "u", "m", "hi").await;
    portal
        .ok(
            "imconnector.set.error",
            json!({"CONNECTOR": "acme", "LINE": 1}),
        )
        .await;
    portal
        .emulator
        .operator_reply(1, "c", "lost")
        .expect("stored");
    portal.activate("acme", 1).await;
    portal
        .emulator
        .operator_reply(1, "c", "routed")
        .expect("stored");
    let forms = sink.forms(1).await;
    portal
        .emulator
        .wait_for_event_deliveries(1, WAIT)
        .await
        .expect("delivered");
    assert_eq!(sink.received().len(), 1);
    assert!(forms[0]["data"]["MESSAGES"][0]["message"]["text"]
        .as_str()
        .is_some_and(|text| text.ends_with("routed")));
}

#[tokio::test]
async fn failed_deliveries_are_recorded_and_not_retried() {
    let portal = Portal::start().await;
    let refusing = Sink::answering(StatusCode::INTERNAL_SERVER_ERROR).await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        drop(listener); // nothing listens there any more
        url
    };
    portal
        .bind(&refusing.url, &["OnImConnectorDialogStart"])
        .await;
    portal.bind(&closed, &["OnImConnectorDialogStart"]).await;
    portal.ready("acme", 1).await;
    portal.customer_says("acme", 1, "c", "u", "m", "hi").await;
    let log = portal
        .emulator
        .wait_for_event_deliveries(2, WAIT)
        .await
        .expect("finished");
    let by_handler = |url: &str| {
        log.iter()
            .find(|entry| entry.handler == url)
            .expect("entry")
            .outcome
            .clone()
    };
    assert!(matches!(
        by_handler(&refusing.url),
        DeliveryOutcome::Failed {
            status: Some(500),
            ..
        }
    ));
    assert!(matches!(
        by_handler(&closed),
        DeliveryOutcome::Failed { status: None, .. }
    ));
    assert_eq!(refusing.received().len(), 1, "no retry");
    assert_eq!(portal.emulator.counters().events_failed, 2);
}
