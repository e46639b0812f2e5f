//! The public API as a connector author uses it: building requests, local validation before
//! anything is sent, the wire form, and decoding events. (The documented examples are checked
//! by the generated unit tests; this file covers behaviour the examples do not show.)
#![allow(clippy::unwrap_used)]

use imconnector_api::events::{Event, EventDecodeError};
use imconnector_api::ids::{ConnectorId, LineId, SettingsUrl};
use imconnector_api::methods::{
    ActivateConnector, DeleteMessages, GetConnectorStatus, GetLineConfig, ListConnectors,
    RegisterConnector, SendMessages, SendStatusDelivery,
};
use imconnector_api::transport::ResultError;
use imconnector_api::transport::{InvalidRequest, Method};
use imconnector_api::types::{
    DeliveryChat, DeliveryIm, DeliveryItem, DeliveryMessage, DisabledIcon, Icon, MessageBody,
    MessageChat, MessageFile, MessageIn, MessageUser,
};
use secrecy::ExposeSecret as _;
use serde_json::json;

fn connector() -> ConnectorId {
    ConnectorId::new("acme_chat").unwrap()
}

fn line() -> LineId {
    LineId::new(107).unwrap()
}

fn invalid<M: Method>(request: &M) -> InvalidRequest {
    request
        .validate()
        .expect_err("the request should be refused locally")
}

fn message(text: &str) -> MessageIn {
    MessageIn::new(
        MessageUser::new("ext-user-42"),
        MessageBody::new().with_id("ext-msg-1").with_text(text),
        MessageChat::new("channel-123"),
    )
}

#[test]
fn connector_ids_are_lowercased_and_bad_ones_never_reach_a_request() {
    assert_eq!(ConnectorId::new("Acme_Chat").unwrap().as_str(), "acme_chat");
    let error = ConnectorId::new("acme.chat").unwrap_err();
    assert_eq!(error.parameter, "CONNECTOR");
    assert!(
        error
            .to_string()
            .starts_with("invalid parameter `CONNECTOR`: "),
        "{error}"
    );
    assert!(ConnectorId::new("acme chat").is_err());
    assert!(ConnectorId::new("").is_err());
}

#[test]
fn activate_sends_active_as_one_or_zero_and_line_as_a_number() {
    let on = serde_json::to_value(ActivateConnector::new(connector(), line(), true)).unwrap();
    assert_eq!(
        on,
        json!({"CONNECTOR": "acme_chat", "LINE": 107, "ACTIVE": "1"})
    );
    let off = serde_json::to_value(ActivateConnector::new(connector(), line(), false)).unwrap();
    assert_eq!(off["ACTIVE"], json!("0"));
    assert_eq!(ActivateConnector::NAME, "imconnector.activate");
    const { assert!(ActivateConnector::IDEMPOTENT) };
    assert!(ActivateConnector::new(connector(), line(), false)
        .validate()
        .is_ok());
}

#[test]
fn line_ids_must_be_positive() {
    assert_eq!(LineId::new(0).unwrap_err().parameter, "LINE");
    assert_eq!(LineId::new(-3).unwrap_err().parameter, "LINE");
    // A line id decoded from the server (where 0 means "no line") is checked again when sent.
    let zero: LineId = serde_json::from_value(json!("0")).unwrap();
    assert_eq!(
        invalid(&GetConnectorStatus::new(connector(), zero)).parameter,
        "LINE"
    );
}

#[test]
fn register_checks_both_icons_and_names_the_nested_parameter() {
    let register = |icon: &str, disabled: &str| {
        RegisterConnector::new(
            connector(),
            "Acme Chat",
            Icon::new(icon).with_color("#69acc0"),
            SettingsUrl::parse("https://app.example/settings").unwrap(),
        )
        .with_icon_disabled(DisabledIcon::new().with_data_image(disabled))
    };
    let good = "data:image/svg+xml,%3Csvg%2F%3E";
    assert!(register(good, good).validate().is_ok());
    let error = invalid(&register("https://cdn.example/icon.svg", good));
    assert_eq!(error.parameter, "ICON.DATA_IMAGE");
    assert!(error.reason.contains("data:image/"), "{error}");
    assert_eq!(
        invalid(&register(good, "icon.png")).parameter,
        "ICON_DISABLED.DATA_IMAGE"
    );
    // The connector id is named as register calls it.
    let dotted: ConnectorId = serde_json::from_value(json!("acme.chat")).unwrap();
    let error = invalid(&RegisterConnector::new(
        dotted,
        "Acme",
        Icon::new(good),
        SettingsUrl::parse("https://app.example/settings").unwrap(),
    ));
    assert_eq!(error.parameter, "ID");
}

#[test]
fn register_sends_only_what_was_set() {
    let request = RegisterConnector::new(
        connector(),
        "Acme Chat",
        Icon::new("data:image/svg+xml,x"),
        SettingsUrl::parse("https://app.example/s").unwrap(),
    )
    .with_chat_group(false)
    .with_need_signature(true);
    assert_eq!(
        serde_json::to_value(&request).unwrap(),
        json!({
            "ID": "acme_chat", "NAME": "Acme Chat", "ICON": {"DATA_IMAGE": "data:image/svg+xml,x"},
            "PLACEMENT_HANDLER": "https://app.example/s", "CHAT_GROUP": false, "NEED_SIGNATURE": true
        })
    );
}

#[test]
fn messages_to_send_need_a_user_a_chat_and_text_or_files() {
    let ok = SendMessages::new(connector(), line(), [message("Hello")]);
    assert!(ok.validate().is_ok());
    let with_file = MessageIn::new(
        MessageUser::new("u"),
        MessageBody::new()
            .with_files([MessageFile::new("https://files.example/a.pdf").with_name("a.pdf")]),
        MessageChat::new("c"),
    );
    assert!(SendMessages::new(connector(), line(), [with_file])
        .validate()
        .is_ok());

    assert_eq!(
        invalid(&SendMessages::new(connector(), line(), Vec::new())).parameter,
        "MESSAGES"
    );
    let no_content = MessageIn::new(
        MessageUser::new("u"),
        MessageBody::new().with_id("m"),
        MessageChat::new("c"),
    );
    let error = invalid(&SendMessages::new(
        connector(),
        line(),
        [message("first"), no_content],
    ));
    assert_eq!(error.parameter, "MESSAGES[1].message.text");
    let no_user = MessageIn::new(
        MessageUser::new(""),
        MessageBody::new().with_text("hi"),
        MessageChat::new("c"),
    );
    assert_eq!(
        invalid(&SendMessages::new(connector(), line(), [no_user])).parameter,
        "MESSAGES[0].user.id"
    );
    let no_chat = MessageIn::new(
        MessageUser::new("u"),
        MessageBody::new().with_text("hi"),
        MessageChat::new(""),
    );
    assert_eq!(
        invalid(&SendMessages::new(connector(), line(), [no_chat])).parameter,
        "MESSAGES[0].chat.id"
    );
}

#[test]
fn messages_to_delete_need_their_external_id() {
    let unidentified = MessageIn::new(
        MessageUser::new("u"),
        MessageBody::new(),
        MessageChat::new("c"),
    );
    let error = invalid(&DeleteMessages::new(connector(), line(), [unidentified]));
    assert_eq!(error.parameter, "MESSAGES[0].message.id");
    // Deleting is not replayed after an ambiguous failure.
    const { assert!(!DeleteMessages::IDEMPOTENT) };
}

#[test]
fn delivery_confirmations_need_the_event_ids() {
    let item = |message_id| {
        DeliveryItem::new(
            DeliveryIm::new(1807, message_id),
            DeliveryMessage::new(["ext-out-555"]),
            DeliveryChat::new("channel-123"),
        )
    };
    assert!(SendStatusDelivery::new(connector(), line(), [item(86497)])
        .validate()
        .is_ok());
    let error = invalid(&SendStatusDelivery::new(connector(), line(), [item(0)]));
    assert_eq!(error.parameter, "MESSAGES[0].im.message_id");
    let sent =
        serde_json::to_value(SendStatusDelivery::new(connector(), line(), [item(86497)])).unwrap();
    assert_eq!(
        sent["MESSAGES"][0]["message"]["id"],
        json!(["ext-out-555"]),
        "always a list"
    );
}

#[test]
fn soft_errors_fail_the_decode_and_successes_read_as_what_they_mean() {
    let soft_code = |answer: Result<_, ResultError>| match answer {
        Err(ResultError::Soft(soft)) => soft.code,
        _ => panic!("expected a soft error"),
    };
    assert_eq!(
        soft_code(SendMessages::decode_response(json!({"SUCCESS": false, "DATA": []})).map(|_| ())),
        imconnector_api::soft_errors::SUCCESS_FALSE
    );
    assert_eq!(
        soft_code(
            RegisterConnector::decode_response(
                json!({"result": false, "error": "ICON_REQUIRED", "error_description": "no icon"})
            )
            .map(|_| ())
        ),
        "ICON_REQUIRED"
    );
    assert_eq!(
        RegisterConnector::decode_response(json!({"result": true})),
        Ok(true)
    );
    let unknown_line: <GetLineConfig as Method>::Response =
        GetLineConfig::decode_response(json!(false)).unwrap();
    assert_eq!(unknown_line, None);
    let none: <ListConnectors as Method>::Response =
        ListConnectors::decode_response(json!([])).unwrap();
    assert!(none.is_empty());
}

const TOKEN: &str = "831c76b092f9f135d9b6b36c3a720757";

fn form_event(event: &str, data: &str) -> String {
    format!(
        "event={event}&event_handler_id=555&{data}&ts=1773759161\
         &auth%5Bdomain%5D=some.bitrix24.com&auth%5Bmember_id%5D=bac1\
         &auth%5Baccess_token%5D=c978b990071b&auth%5Bapplication_token%5D={TOKEN}"
    )
}

#[test]
fn form_events_decode_with_every_value_a_string() {
    let body = form_event(
        "ONIMCONNECTORMESSAGEADD",
        "data%5BCONNECTOR%5D=acme_chat&data%5BLINE%5D=107\
         &data%5BMESSAGES%5D%5B0%5D%5Bim%5D%5Bchat_id%5D=1807\
         &data%5BMESSAGES%5D%5B0%5D%5Bim%5D%5Bmessage_id%5D=86497\
         &data%5BMESSAGES%5D%5B0%5D%5Bmessage%5D%5Buser_id%5D=27\
         &data%5BMESSAGES%5D%5B0%5D%5Bmessage%5D%5Btext%5D=Guten+Tag%21\
         &data%5BMESSAGES%5D%5B0%5D%5Bchat%5D%5Bid%5D=channel-123",
    );
    let Event::MessageAdd(event) = Event::from_form(body.as_bytes()).unwrap() else {
        panic!("expected MessageAdd");
    };
    assert_eq!(event.data.line, 107);
    let item = &event.data.messages[0];
    assert_eq!(
        (item.im.chat_id, item.im.message_id),
        (1807.into(), 86497.into())
    );
    assert_eq!(item.message.text.as_deref(), Some("Guten Tag!"));
    assert_eq!(item.chat.id, "channel-123");
    assert_eq!(event.handler_id.as_ref().map(|id| id.as_str()), Some("555"));
    assert_eq!(event.auth.application_token.expose_secret(), TOKEN);
}

#[test]
fn event_names_match_case_insensitively_and_unknown_events_are_kept() {
    let body = form_event("onImConnectorLineDelete", "data=107");
    let event = Event::from_form(body.as_bytes()).unwrap();
    assert!(matches!(&event, Event::LineDelete(line) if line.data == 107));
    assert_eq!(event.name(), "onImConnectorLineDelete");

    let body = form_event("ONCRMLEADADD", "data%5BFIELDS%5D%5BID%5D=5");
    let Event::Unknown(unknown) = Event::from_form(body.as_bytes()).unwrap() else {
        panic!("expected Unknown");
    };
    assert_eq!(unknown.event, "ONCRMLEADADD");
    assert_eq!(unknown.data, json!({"FIELDS": {"ID": "5"}}));
    assert_eq!(unknown.auth.application_token.expose_secret(), TOKEN);
}

#[test]
fn events_never_show_their_tokens() {
    let body = form_event("ONIMCONNECTORLINEDELETE", "data=107");
    let event = Event::from_form(body.as_bytes()).unwrap();
    let shown = format!("{event:?}");
    assert!(
        !shown.contains(TOKEN) && !shown.contains("c978b990071b"),
        "{shown}"
    );
    assert!(event.has_application_token(TOKEN));
    assert!(!event.has_application_token("forged"));
}

#[test]
fn dialog_events_accept_the_docs_event_id() {
    let json = json!({
        "event": "ONIMCONNECTORDIALOGSTART", "eventId": 1, "ts": "1714649632",
        "data": {"CONNECTOR": "acme_chat", "LINE": "105", "DATA": [{
            "connector": {"connector_id": "acme_chat", "line_id": 105, "chat_id": 8, "user_id": 0},
            "session": {"id": 3282, "closed": "N", "parent_id": 0, "close_term": 10},
            "chat": {"id": 8}, "user": {"id": 0}
        }]},
        "auth": {"domain": "d", "member_id": "m", "application_token": TOKEN}
    });
    let Event::DialogStart(event) = Event::from_value(json).unwrap() else {
        panic!("expected DialogStart");
    };
    assert_eq!(
        event.handler_id.map(|id| id.to_string()).as_deref(),
        Some("1")
    );
    assert_eq!(event.data.data[0].session.id, "3282");
    assert!(!event.data.data[0].session.closed);
}

#[test]
fn malformed_event_bodies_are_typed_errors() {
    assert!(matches!(
        Event::from_json(b"{not json"),
        Err(EventDecodeError::Json(_))
    ));
    assert!(matches!(
        Event::from_value(json!([1, 2])),
        Err(EventDecodeError::NotAnObject)
    ));
    assert!(matches!(
        Event::from_form(b"data=1"),
        Err(EventDecodeError::MissingEventName)
    ));
    // A bare token where `auth` should be an object is refused without echoing it.
    let error =
        Event::from_form(format!("event=ONIMCONNECTORLINEDELETE&data=1&auth={TOKEN}").as_bytes())
            .unwrap_err();
    assert!(!error.to_string().contains(TOKEN), "{error}");
    // A known event whose data has the wrong shape names the event.
    let body = form_event("ONIMCONNECTORLINEDELETE", "data=next-week");
    match Event::from_form(body.as_bytes()) {
        Err(EventDecodeError::Shape { event, reason }) => {
            assert_eq!(event, "ONIMCONNECTORLINEDELETE");
            assert!(reason.contains("integer"), "{reason}");
        }
        other => panic!("expected a shape error, got {other:?}"),
    }
    let deep = format!("event=X&a{}=1", "[a]".repeat(100));
    assert!(matches!(
        Event::from_form(deep.as_bytes()),
        Err(EventDecodeError::Form(_))
    ));
}

#[test]
fn known_events_are_listed_for_binding() {
    for name in [
        "OnImConnectorMessageAdd",
        "OnImConnectorStatusDelete",
        "OnImConnectorLineDelete",
    ] {
        assert!(Event::KNOWN.contains(&name), "{name}");
    }
}

#[test]
fn events_compare_by_value_and_by_token() {
    let body = |token: &str| {
        format!(
            "event=ONIMCONNECTORLINEDELETE&event_handler_id=563&data=107&ts=1773761165\
             &auth%5Bdomain%5D=some.bitrix24.com&auth%5Bmember_id%5D=bac1\
             &auth%5Bapplication_token%5D={token}"
        )
    };
    let first = Event::from_form(body("831c76b0").as_bytes()).unwrap();
    let again = Event::from_form(body("831c76b0").as_bytes()).unwrap();
    let other_token = Event::from_form(body("831c76b1").as_bytes()).unwrap();
    assert_eq!(first, again);
    assert_ne!(first, other_token);
}
