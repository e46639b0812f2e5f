//! Property tests of the envelope decoder, through the public `Client::call_raw` against a
//! local server answering arbitrary statuses and bodies: arbitrary bytes never panic and give a
//! decode error (outcome-unknown after a 5xx), or an HTML-page error for a body starting with `<`;
//! `result` envelopes give their result; `error`
//! envelopes give their code; truncated envelopes are errors.
//!
//! The check is the body of the cargo-fuzz target `fuzz/fuzz_targets/envelope.rs`, included
//! here so it runs on stable in every `cargo test`.

#![allow(clippy::unwrap_used)]

#[path = "../../../fuzz/src/answer_server.rs"]
#[allow(dead_code)] // `status_and_body` serves the other answer targets
mod answer_server;
#[path = "../../../fuzz/src/envelope.rs"]
mod envelope_target;

use std::sync::OnceLock;

use envelope_target::{check, Harness};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use serde_json::{json, Value};

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| Harness::start().unwrap())
}

/// Any JSON value, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |number| number.is_finite())
            .prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..5).prop_map(Value::Array),
            btree_map("[a-zA-Z_]{0,8}", inner, 0..5)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// A `time` block as the portal sends it, or with odd types (every field is optional).
fn time_block() -> impl Strategy<Value = Option<Value>> {
    proptest::option::of(prop_oneof![
        Just(
            json!({"start": 1738065600.11, "finish": 1738065600.18, "duration": 0.07,
                    "processing": 0.03, "date_start": "2025-01-28T12:00:00+00:00",
                    "date_finish": "2025-01-28T12:00:00+00:00",
                    "operating": 0.5, "operating_reset_at": 1738066200})
        ),
        json_value(),
    ])
}

fn with_status(status: u8, body: &Value) -> Vec<u8> {
    let mut data = vec![status];
    data.extend_from_slice(&serde_json::to_vec(body).unwrap());
    data
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_answers_never_panic(data in vec(any::<u8>(), 0..1024)) {
        check(harness(), &data);
    }

    #[test]
    fn html_pages_give_an_html_page_error(
        status in any::<u8>(),
        lead in "[ \t\r\n]{0,3}",
        text in ".{0,300}",
    ) {
        let mut data = vec![status];
        data.extend_from_slice(format!("{lead}<html><body><h1>{text}</h1></body></html>").as_bytes());
        check(harness(), &data);
    }

    #[test]
    fn result_envelopes_give_their_result(
        status in any::<u8>(),
        result in json_value(),
        time in time_block(),
        total in proptest::option::of(0..10_000u64),
    ) {
        let mut body = json!({"result": result});
        if let Some(time) = time {
            body["time"] = time;
        }
        if let Some(total) = total {
            body["total"] = json!(total);
            body["next"] = json!(total / 2);
        }
        check(harness(), &with_status(status, &body));
    }

    #[test]
    fn error_envelopes_give_their_code(
        status in any::<u8>(),
        code in prop_oneof![
            "[A-Z_]{1,24}",
            "[a-z_]{1,16}",
            Just("QUERY_LIMIT_EXCEEDED".to_owned()),
            Just("OPERATION_TIME_LIMIT".to_owned()),
            Just("expired_token".to_owned()),
        ],
        description in ".{0,40}",
        argument in proptest::option::of("[A-Z]{1,8}"),
        result in proptest::option::of(json_value()),
    ) {
        let mut body = json!({"error": code, "error_description": description});
        if let Some(argument) = argument {
            body["argument"] = json!(argument);
        }
        if let Some(result) = result {
            // Newer servers send soft errors beside a `result`: the code must win.
            body["result"] = result;
        }
        check(harness(), &with_status(status, &body));
    }

    #[test]
    fn truncated_envelopes_are_errors(
        status in any::<u8>(),
        result in json_value(),
        cut in any::<prop::sample::Index>(),
    ) {
        let whole = serde_json::to_vec(&json!({"result": result})).unwrap();
        // Any proper prefix of a JSON object is not a JSON document.
        let prefix = &whole[..cut.index(whole.len())];
        let mut data = vec![status];
        data.extend_from_slice(prefix);
        check(harness(), &data);
    }
}
