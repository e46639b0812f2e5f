//! The message methods: validation order, per-item results, stored state.

use imconnector_emulator::{DeliveryKind, Direction};
use serde_json::{json, Value};

use crate::common::Portal;

fn message(user: &str, id: &str, text: &str, chat: &str) -> Value {
    json!({ "user": {"id": user}, "message": {"id": id, "text": text}, "chat": {"id": chat} })
}

#[tokio::test]
async fn send_messages_validates_in_the_servers_order() {
    let portal = Portal::start().await;
    let ok = json!([message("u", "m", "t", "c")]);
    let cases = [
        (
            json!({"LINE": 1, "MESSAGES": ok}),
            "ERROR_ARGUMENT",
            "Argument 'CONNECTOR' is null or empty",
        ),
        (
            json!({"CONNECTOR": "x", "MESSAGES": ok}),
            "ERROR_ARGUMENT",
            "Argument 'LINE' is null or empty",
        ),
        (
            json!({"CONNECTOR": "x", "LINE": 1}),
            "ERROR_ARGUMENT",
            "Argument 'MESSAGES' is null or empty",
        ),
        // Structure checks come before the provider lookup.
        (
            json!({"CONNECTOR": "x", "LINE": 1, "MESSAGES": "text"}),
            "ERROR_ARGUMENT",
            "The value of an argument 'MESSAGES' must be of type array",
        ),
        (
            json!({"CONNECTOR": "x", "LINE": 1, "MESSAGES": [1]}),
            "ERROR_ARGUMENT",
            "The MESSAGES parameter must be an array of messages (arrays)",
        ),
        (
            json!({"CONNECTOR": "x", "LINE": 1, "MESSAGES": [{"user": {}, "message": {}}]}),
            "ERROR_ARGUMENT",
            "The incorrect structure of a message inside MESSAGES parameter.",
        ),
        (
            json!({"CONNECTOR": "x", "LINE": 1, "MESSAGES": ok}),
            "IMCONNECTOR_NO_CORRECT_PROVIDER",
            "Cannot find a matching connector provider",
        ),
    ];
    for (params, code, description) in cases {
        let body = portal
            .err("imconnector.send.messages", params.clone(), 400, code)
            .await;
        assert_eq!(body["error_description"], json!(description), "{params}");
    }
    portal.register("acme").await;
    let body = portal
        .err(
            "imconnector.send.messages",
            json!({"CONNECTOR": "acme", "LINE": 1, "MESSAGES": ok}),
            400,
            "NOT_ACTIVE_LINE",
        )
        .await;
    assert_eq!(
        body["error_description"],
        json!("Open Channel with this ID is inactive or does not exist.")
    );
    assert!(portal.emulator.all_messages().is_empty());
}

#[tokio::test]
async fn send_messages_answers_per_item_and_creates_users_chats_sessions() {
    let portal = Portal::start().await;
    portal.ready("acme", 1).await;
    let result = portal
        .ok(
            "imconnector.send.messages",
            json!({
                "CONNECTOR": "ACME", "LINE": "1",
                "MESSAGES": [
                    { "user": {"id": "ext-user-42", "name": "Ivan", "skip_phone_validate": "Y"},
                      "message": {"id": "ext-msg-1001", "date": 1773265993, "text": "Good afternoon", "disable_crm": "Y",
                                  "files": [{"url": "https://example.com/a.pdf", "name": "a.pdf"}]},
                      "chat": {"id": "channel-123", "name": "Support", "url": "https://example.com/chats/123"} },
                    { "user": {"id": "ext-user-42"}, "message": {"id": "ext-msg-1002"}, "chat": {"id": "channel-123"} },
                    { "user": {"id": "ext-user-42"}, "message": {"id": "ext-msg-1003", "text": "again"}, "chat": {"id": "channel-123"} },
                    { "user": {"id": "bad", "email": "not-an-email"}, "message": {"text": "x"}, "chat": {"id": "c"} },
                ],
            }),
        )
        .await;
    assert_eq!(result["SUCCESS"], json!(true));
    let items = result["DATA"]["RESULT"].as_array().expect("parallel list");
    assert_eq!(items.len(), 4);
    let first = &items[0];
    assert!(
        first["user"].is_u64(),
        "a just-created user id is an int: {first}"
    );
    assert_eq!(first["message"]["date"], json!({}));
    assert_eq!(first["message"]["text"], json!("Good afternoon"));
    assert!(first["message"].get("disable_crm").is_none());
    assert_eq!(
        first["message"]["files"]
            .as_array()
            .expect("file ids")
            .len(),
        1
    );
    assert_eq!(
        first["chat"],
        json!({"id": "channel-123", "name": "Support", "description": "Link to original post: https://example.com/chats/123"})
    );
    assert_eq!(
        first["extra"],
        json!({"skip_phone_validate": "Y", "disable_tracker": "Y"})
    );
    assert_eq!(first["SUCCESS"], json!(true));
    assert!(first["session"]["ID"].is_string() && first["session"]["CHAT_ID"].is_string());
    assert_eq!(
        items[1],
        json!({"SUCCESS": false, "ERRORS": ["Incomplete data"]})
    );
    assert!(
        items[2]["user"].is_string(),
        "an existing user id is a string: {}",
        items[2]
    );
    assert!(
        items[2]["message"].get("files").is_none(),
        "no files sent, no files key"
    );
    assert_eq!(
        items[2]["session"], first["session"],
        "same chat, same open session"
    );
    assert_eq!(
        items[3],
        json!({"SUCCESS": false, "ERRORS": ["Cannot create or get user mapped to external messenger user."]})
    );
    let stored = portal.emulator.messages(1, "channel-123");
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0].external_ids, ["ext-msg-1001"]);
    assert_eq!(stored[0].external_user_id.as_deref(), Some("ext-user-42"));
    assert_eq!(stored[0].text, "Good afternoon");
    assert_eq!(stored[0].direction, Direction::Incoming);
    let chats = portal.emulator.chats();
    assert_eq!(chats.len(), 1);
    assert_eq!(chats[0].name.as_deref(), Some("Support"));
    assert_eq!(chats[0].sessions.len(), 1);
}

#[tokio::test]
async fn message_keys_are_case_insensitive() {
    let portal = Portal::start().await;
    portal.ready("acme", 1).await;
    let result = portal
        .ok(
            "imconnector.send.messages",
            json!({"connector": "acme", "line": 1, "messages": [{"USER": {"ID": "u"}, "Message": {"Text": "hi"}, "CHAT": {"Id": "c"}}]}),
        )
        .await;
    assert_eq!(
        result["DATA"]["RESULT"][0]["SUCCESS"],
        json!(true),
        "{result}"
    );
}

#[tokio::test]
async fn form_encoded_messages_work_like_json() {
    let portal = Portal::start().await;
    portal.ready("acme", 1).await;
    let (status, body) = portal
        .call_form(
            "imconnector.send.messages",
            "CONNECTOR=acme&LINE=1&MESSAGES%5B0%5D%5Buser%5D%5Bid%5D=u1&MESSAGES[0][message][id]=m1\
             &MESSAGES[0][message][text]=Hello%20there&MESSAGES[0][chat][id]=c1",
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["result"]["DATA"]["RESULT"][0]["message"]["text"],
        json!("Hello there")
    );
    assert_eq!(portal.emulator.messages(1, "c1")[0].text, "Hello there");
}

#[tokio::test]
async fn update_and_delete_find_messages_by_external_id() {
    let portal = Portal::start().await;
    portal.ready("acme", 1).await;
    portal
        .customer_says("acme", 1, "c1", "u1", "m1", "first")
        .await;
    // update/delete make no structural checks: a malformed item fails alone.
    let result = portal
        .ok(
            "imconnector.update.messages",
            json!({"CONNECTOR": "acme", "LINE": 1, "MESSAGES": [
                { "user": {"id": "u1"}, "message": {"id": "m1", "text": "edited", "date": 5}, "chat": {"id": "c1"} },
                "garbage",
            ]}),
        )
        .await;
    let items = result["DATA"]["RESULT"].as_array().expect("list");
    assert_eq!(items[0]["SUCCESS"], json!(true));
    assert_eq!(
        items[0]["message"],
        json!({"id": "m1", "text": "edited", "date": {}})
    );
    assert!(items[0].get("session").is_none());
    assert_eq!(items[1]["SUCCESS"], json!(false));
    let stored = &portal.emulator.messages(1, "c1")[0];
    assert_eq!((stored.text.as_str(), stored.edited), ("edited", true));

    let result = portal
        .ok(
            "imconnector.delete.messages",
            json!({"CONNECTOR": "acme", "LINE": 1, "MESSAGES": [message("u1", "m1", "", "c1")]}),
        )
        .await;
    assert_eq!(result["DATA"]["RESULT"][0]["SUCCESS"], json!(true));
    assert_eq!(
        result["DATA"]["RESULT"][0]["user"],
        json!(stored.author_id.to_string())
    );
    assert!(portal.emulator.messages(1, "c1")[0].deleted);

    for method in ["imconnector.update.messages", "imconnector.delete.messages"] {
        portal
            .err(
                method,
                json!({"CONNECTOR": "acme", "LINE": 1}),
                400,
                "ERROR_ARGUMENT",
            )
            .await;
        portal
            .err(method, json!({"CONNECTOR": "acme", "LINE": 2, "MESSAGES": [message("u1", "m1", "x", "c1")]}), 400, "NOT_ACTIVE_LINE")
            .await;
        portal
            .err(
                method,
                json!({"CONNECTOR": "nope", "LINE": 1, "MESSAGES": []}),
                400,
                "IMCONNECTOR_NO_CORRECT_PROVIDER",
            )
            .await;
    }
}

#[tokio::test]
async fn delivery_and_reading_statuses_are_recorded_without_a_status_check() {
    let portal = Portal::start().await;
    portal.ready("acme", 1).await;
    portal
        .customer_says("acme", 1, "c1", "u1", "m1", "hi")
        .await;
    let reply = portal
        .emulator
        .operator_reply(1, "c1", "hello")
        .expect("reply");
    // Deactivated line: the delivery method does not check status.
    assert_eq!(
        portal
            .ok(
                "imconnector.activate",
                json!({"CONNECTOR": "acme", "LINE": 1, "ACTIVE": 0})
            )
            .await,
        json!(true)
    );
    let result = portal
        .ok(
            "imconnector.send.status.delivery",
            json!({"CONNECTOR": "acme", "LINE": 1, "MESSAGES": [
                {"im": {"chat_id": reply.chat_id, "message_id": reply.message_id}, "message": {"id": ["out-1"], "date": 1}, "chat": {"id": "c1"}},
                {"im": {"chat_id": 1, "message_id": 2}, "message": {"id": ["out-x"]}, "chat": {"id": "c1"}},
            ]}),
        )
        .await;
    assert_eq!(result, json!({"SUCCESS": true, "DATA": []}));
    let result = portal
        .ok(
            "imconnector.send.status.reading",
            json!({"CONNECTOR": "acme", "LINE": 1, "MESSAGES": [{"im": {"chat_id": reply.chat_id, "message_id": reply.message_id}, "message": {"id": ["out-1"]}, "chat": {"id": "c1"}}]}),
        )
        .await;
    assert_eq!(result, json!({"SUCCESS": true, "DATA": []}));
    let records = portal.emulator.delivery_statuses();
    assert_eq!(records.len(), 3);
    assert_eq!(
        (records[0].kind, records[0].matched),
        (DeliveryKind::Delivered, true)
    );
    assert_eq!(records[0].external_ids, ["out-1"]);
    assert!(!records[1].matched);
    assert_eq!(records[2].kind, DeliveryKind::Read);
    let stored = portal
        .emulator
        .all_messages()
        .into_iter()
        .find(|message| message.id == reply.message_id)
        .expect("reply");
    assert!(stored.delivered && stored.read);
    assert_eq!(stored.external_ids, ["out-1"]);
    for method in [
        "imconnector.send.status.delivery",
        "imconnector.send.status.reading",
    ] {
        for (params, missing) in [
            (json!({"LINE": 1, "MESSAGES": []}), "CONNECTOR"),
            (json!({"CONNECTOR": "acme", "MESSAGES": []}), "LINE"),
            (json!({"CONNECTOR": "acme", "LINE": 1}), "MESSAGES"),
        ] {
            let body = portal.err(method, params, 400, "ERROR_ARGUMENT").await;
            assert_eq!(body["argument"], json!(missing));
        }
        portal
            .err(
                method,
                json!({"CONNECTOR": "nope", "LINE": 1, "MESSAGES": []}),
                400,
                "IMCONNECTOR_NO_CORRECT_PROVIDER",
            )
            .await;
    }
}
