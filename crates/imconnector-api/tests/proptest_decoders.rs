//! Property tests of what comes from outside or from the caller: event POST bodies (arbitrary
//! bytes, arbitrary nested keys, and well-formed events that must decode to their values) and
//! the request validators (connector ids, line ids, icon URIs, message checks).
//!
//! The checks themselves are the bodies of the cargo-fuzz targets in `fuzz/`, included here so
//! they run on stable in every `cargo test`.

#![allow(clippy::unwrap_used)]

#[path = "../../../fuzz/src/event_form.rs"]
mod event_form_target;
#[path = "../../../fuzz/src/validators.rs"]
mod validators_target;

use imconnector_api::events::Event;
use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::json;

/// `application/x-www-form-urlencoded`, every byte but letters and digits escaped.
fn form_escape(text: &str) -> String {
    text.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() {
                char::from(byte).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

/// A key the way PHP reads them: a base and bracketed segments, sometimes empty (`[]`),
/// sometimes odd (unbalanced, nested brackets, any character), often under the names the
/// decoder looks for.
fn nested_key() -> impl Strategy<Value = String> {
    let base = prop_oneof![
        Just("event".to_owned()),
        Just("data".to_owned()),
        Just("auth".to_owned()),
        Just("ts".to_owned()),
        "[a-z_]{1,6}",
        ".{0,4}",
    ];
    let segment = prop_oneof![
        Just(String::new()),
        Just("MESSAGES".to_owned()),
        Just("application_token".to_owned()),
        Just("member_id".to_owned()),
        "[0-9]{1,3}",
        "[a-zA-Z_]{1,8}",
        ".{0,6}",
    ];
    let closing = prop_oneof![4 => Just("]"), 1 => Just(""), 1 => Just("]]")];
    (base, vec((segment, closing), 0..6)).prop_map(|(base, segments)| {
        let mut key = base;
        for (segment, closing) in segments {
            key.push('[');
            key.push_str(&segment);
            key.push_str(closing);
        }
        key
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic_the_event_decoder(data in vec(any::<u8>(), 0..2048)) {
        event_form_target::check(&data);
    }

    #[test]
    fn arbitrary_nested_keys_never_panic_the_event_decoder(
        pairs in vec((nested_key(), ".{0,12}"), 0..40),
        raw in any::<bool>(),
    ) {
        let body = pairs
            .iter()
            .map(|(key, value)| {
                if raw {
                    // Unescaped: brackets, `&`, `=` and `%` as they come.
                    format!("{key}={value}")
                } else {
                    format!("{}={}", form_escape(key), form_escape(value))
                }
            })
            .collect::<Vec<_>>()
            .join("&");
        event_form_target::check(body.as_bytes());
    }

    #[test]
    fn well_formed_message_add_events_decode_to_their_values(
        items in vec((1..i64::MAX, 1..i64::MAX, ".{0,40}", "[a-zA-Z0-9_-]{1,20}"), 1..5),
        line in 1..100_000i64,
        token in "[0-9a-f]{32}",
    ) {
        let messages: Vec<_> = items
            .iter()
            .map(|(chat_id, message_id, text, external_chat)| json!({
                "im": {"chat_id": chat_id.to_string(), "message_id": message_id.to_string()},
                "message": {"user_id": "27", "text": text},
                "chat": {"id": external_chat},
            }))
            .collect();
        let event = json!({
            "event": "ONIMCONNECTORMESSAGEADD",
            "event_handler_id": "555",
            "data": {"CONNECTOR": "acme_chat", "LINE": line.to_string(), "MESSAGES": messages},
            "ts": "1773759161",
            "auth": {
                "access_token": "c978b990071b0008440001b0895f697a",
                "domain": "some-domain.bitrix24.com",
                "member_id": "bac1cd5c8940947a75e0d71b1a84e348",
                "application_token": token,
            },
        });
        let body = imconnector_form::encode(&event);
        event_form_target::check(body.as_bytes());
        let decoded = Event::from_form(body.as_bytes());
        let Ok(Event::MessageAdd(decoded)) = decoded else {
            panic!("not decoded as MessageAdd: {decoded:?}");
        };
        prop_assert!(Event::MessageAdd(decoded.clone()).has_application_token(&token));
        prop_assert_eq!(decoded.data.connector.as_str(), "acme_chat");
        prop_assert_eq!(decoded.data.line.get(), line);
        prop_assert_eq!(decoded.data.messages.len(), items.len());
        for (item, (chat_id, message_id, text, external_chat)) in decoded.data.messages.iter().zip(&items) {
            prop_assert_eq!(item.im.chat_id, *chat_id);
            prop_assert_eq!(item.im.message_id, *message_id);
            prop_assert_eq!(item.message.text.as_deref(), Some(text.as_str()));
            prop_assert_eq!(item.chat.id.as_str(), external_chat.as_str());
        }
    }

    #[test]
    fn validators_never_panic_on_arbitrary_bytes(data in vec(any::<u8>(), 0..300)) {
        validators_target::check(&data);
    }

    #[test]
    fn validators_accept_exactly_what_their_rules_accept(
        first in prop_oneof!["[a-zA-Z0-9_]{1,12}", "[a-zA-Z0-9_.\\- ]{0,12}", Just("0".to_owned()), ".{0,8}"],
        second in prop_oneof![
            "(data:image/|DATA:Image/)[a-z0-9+%,;=]{0,16}",
            "data:image/[a-z']{0,6}",
            "(https://|data:text/)[a-z]{0,8}",
            "[a-z0-9-]{1,10}",
            Just("0".to_owned()),
            ".{0,12}",
        ],
        third in prop_oneof![".{1,20}", Just(String::new()), Just("0".to_owned())],
        fourth in prop_oneof![Just(String::new()), Just("0".to_owned()), "https://[a-z]{1,8}\\.example/[a-z]{1,8}\\.pdf"],
    ) {
        // The fuzz body cuts its input at 0xFF bytes: build exactly those four fields.
        let mut data = Vec::new();
        for (index, field) in [&first, &second, &third, &fourth].into_iter().enumerate() {
            if index > 0 {
                data.push(0xFF);
            }
            data.extend_from_slice(field.as_bytes());
        }
        validators_target::check(&data);
    }
}
