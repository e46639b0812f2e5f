//! The property-test twins of the fuzz targets added for issue 20: the very check functions of
//! `fuzz/src/` (included by path, so every `cargo test` compiles and runs them on stable) fed
//! by proptest with well-formed, broken, arbitrary and amplifying inputs. Each check also
//! asserts the allocation bound, so this binary's global allocator counts the peak
//! (`fuzz/src/peak.rs`) and every test holds `peak::exclusive()` from start to end.

#![allow(clippy::unwrap_used)]

#[path = "../../fuzz/src/answer_server.rs"]
mod answer_server;
#[path = "../../fuzz/src/batch_answer.rs"]
mod batch_answer;
#[path = "../../fuzz/src/install_event.rs"]
mod install_event;
#[path = "../../fuzz/src/install_request.rs"]
mod install_request;
#[path = "../../fuzz/src/oauth_answer.rs"]
mod oauth_answer;
#[path = "../../fuzz/src/peak.rs"]
mod peak;
#[path = "../../fuzz/src/settings_placement.rs"]
mod settings_placement;

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};

/// Runs `check` on `cases` inputs of `strategy`, holding the allocation counter throughout
/// (generating an input allocates too).
fn run(cases: u32, strategy: impl Strategy<Value = Vec<u8>>, check: impl Fn(&[u8])) {
    let _counter = peak::exclusive();
    let mut runner = TestRunner::new(Config::with_cases(cases));
    let verdict = runner.run(&strategy, |data| {
        check(&data);
        Ok(())
    });
    if let Err(failure) = verdict {
        panic!("{failure}");
    }
}

/// Pieces of form bodies; a unit of them repeated makes the amplifying shapes.
const FORM_TOKENS: [&str; 14] = [
    "a",
    "auth",
    "[]",
    "[x]",
    "[0]",
    "[member_id]",
    "%5B",
    "%5D",
    "=",
    "=v",
    "&",
    "+",
    "%FF",
    "[",
];

/// Pieces of JSON; repeated they make the amplifying shapes of JSON.
const JSON_TOKENS: [&str; 10] = [
    "[",
    "]",
    "{",
    "}",
    "0",
    ",",
    "\"a\":",
    "\"k\"",
    "[0,",
    "{\"a\":{}},",
];

/// A unit of `tokens` repeated up to 256 KiB (the shape every amplification needs).
fn amplifying(tokens: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
    (
        vec(proptest::sample::select(tokens), 1..24),
        1..256 * 1024usize,
    )
        .prop_map(|(unit, len)| {
            let unit = unit.concat();
            unit.repeat(len / unit.len()).into_bytes()
        })
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9]{0,24}",
        ".{0,12}",
        Just(String::new()),
        Just("a\nb".to_owned())
    ]
}

/// ONAPPINSTALL-like objects: every field present or not, any text.
fn install_event_value() -> impl Strategy<Value = Value> {
    let field = proptest::option::of(text());
    (vec(field, 9), text()).prop_map(|(fields, event)| {
        let names = [
            "member_id",
            "application_token",
            "access_token",
            "refresh_token",
            "client_endpoint",
            "server_endpoint",
            "domain",
            "expires_in",
            "scope",
        ];
        let auth: serde_json::Map<String, Value> = names
            .iter()
            .zip(fields)
            .filter_map(|(name, value)| Some(((*name).to_owned(), Value::String(value?))))
            .collect();
        json!({"event": event, "data": {"VERSION": "1"}, "auth": auth})
    })
}

/// A value as the portal sends it: the first byte says form (even) or JSON (odd).
fn as_form_or_json(value: Value, json: bool) -> Vec<u8> {
    if json {
        [&[1u8][..], value.to_string().as_bytes()].concat()
    } else {
        [&[0u8][..], imconnector_form::encode(&value).as_bytes()].concat()
    }
}

fn install_inputs() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (install_event_value(), any::<bool>())
            .prop_map(|(value, json)| as_form_or_json(value, json)),
        vec(any::<u8>(), 0..512),
        amplifying(&FORM_TOKENS).prop_map(|body| [&[0u8][..], &body].concat()),
        amplifying(&JSON_TOKENS).prop_map(|body| [&[1u8][..], &body].concat()),
    ]
}

#[test]
fn install_event_twin() {
    run(96, install_inputs(), install_event::check);
}

#[test]
fn install_request_twin() {
    let harness = install_request::Harness::start().unwrap();
    let frame = (vec(proptest::option::of(text()), 6), any::<bool>()).prop_map(|(fields, json)| {
        let names = [
            "AUTH_ID",
            "REFRESH_ID",
            "member_id",
            "APPLICATION_TOKEN",
            "AUTH_EXPIRES",
            "PLACEMENT",
        ];
        let body: serde_json::Map<String, Value> = names
            .iter()
            .zip(fields)
            .filter_map(|(name, value)| Some(((*name).to_owned(), Value::String(value?))))
            .collect();
        as_form_or_json(Value::Object(body), json)
    });
    let inputs = prop_oneof![install_inputs(), frame];
    run(48, inputs, |data| install_request::check(&harness, data));
}

#[test]
fn settings_placement_twin() {
    let options = (text(), 0..1000i64, text()).prop_map(|(connector, line, status)| {
        json!({"CONNECTOR": connector, "LINE": line, "ACTIVE_STATUS": status}).to_string()
    });
    let placement = (vec(proptest::option::of(text()), 4), options, text()).prop_map(
        |(fields, options, query)| {
            let names = ["AUTH_ID", "REFRESH_ID", "member_id", "APPLICATION_TOKEN"];
            let mut body: serde_json::Map<String, Value> = names
                .iter()
                .zip(fields)
                .filter_map(|(name, value)| Some(((*name).to_owned(), Value::String(value?))))
                .collect();
            body.insert("PLACEMENT".into(), "SETTING_CONNECTOR".into());
            body.insert("PLACEMENT_OPTIONS".into(), options.into());
            let query = format!("DOMAIN={query}&PROTOCOL=1");
            [
                query.as_bytes(),
                &[0xFF],
                imconnector_form::encode(&Value::Object(body)).as_bytes(),
            ]
            .concat()
        },
    );
    let inputs = prop_oneof![
        placement,
        vec(any::<u8>(), 0..512),
        amplifying(&FORM_TOKENS)
    ];
    run(96, inputs, settings_placement::check);
}

/// Any JSON value, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..5).prop_map(Value::Array),
            btree_map("[a-z_]{0,8}", inner, 0..5)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// A status byte and a body: token answers of every shape, broken, arbitrary, amplifying.
fn answers(well_formed: impl Strategy<Value = Value>) -> impl Strategy<Value = Vec<u8>> {
    let body = prop_oneof![
        well_formed.prop_map(|value| value.to_string().into_bytes()),
        json_value().prop_map(|value| value.to_string().into_bytes()),
        vec(any::<u8>(), 0..512),
        amplifying(&JSON_TOKENS),
    ];
    (any::<u8>(), body).prop_map(|(status, body)| [&[status][..], &body].concat())
}

#[test]
fn oauth_answer_twin() {
    let harness = oauth_answer::Harness::start().unwrap();
    let token_answer = (text(), text(), proptest::option::of(text()), json_value()).prop_map(
        |(access, refresh, error, extra)| {
            let mut answer = json!({
                "access_token": access, "refresh_token": refresh, "expires_in": 3600,
                "member_id": "m1", "client_endpoint": "https://example.bitrix24.com/rest/",
                "extra": extra,
            });
            if let Some(error) = error {
                answer["error"] = error.into();
            }
            answer
        },
    );
    run(64, answers(token_answer), |data| {
        oauth_answer::check(&harness, data)
    });
}

#[test]
fn batch_answer_twin() {
    let harness = batch_answer::Harness::start().unwrap();
    let batch_answer = (json_value(), json_value(), any::<bool>()).prop_map(|(a, b, failed)| {
        let mut result = json!({
            "result": {"a": a}, "result_error": {}, "result_total": {}, "result_next": {},
            "result_time": {},
        });
        if failed {
            result["result_error"] =
                json!({"b": {"error": "ERROR_CORE", "error_description": "no"}});
        } else {
            result["result"]["b"] = b;
        }
        json!({"result": result, "time": {"start": 1.0, "finish": 1.1, "duration": 0.1}})
    });
    run(64, answers(batch_answer), |data| {
        batch_answer::check(&harness, data)
    });
}

/// Valid JSON of about 256 KiB in the shapes that amplify most when parsed into a value.
fn amplifying_json() -> Vec<(&'static str, Vec<u8>)> {
    const BODY: usize = 256 * 1024;
    let list = |item: &str| {
        format!(
            "[{}{item}]",
            format!("{item},").repeat(BODY / (item.len() + 1) - 1)
        )
    };
    vec![
        ("zeros", list("0").into_bytes()),
        ("empty objects", list("{}").into_bytes()),
        ("one-key objects", list("{\"a\":{\"a\":1}}").into_bytes()),
        ("short strings", list("\"a\"").into_bytes()),
        (
            "in a result",
            format!("{{\"result\":{}}}", list("{\"a\":0}")).into_bytes(),
        ),
        (
            "in a batch result",
            format!("{{\"result\":{{\"result\":{{\"a\":{}}}}}}}", list("[0]")).into_bytes(),
        ),
    ]
}

/// Form bodies of about 256 KiB in the shapes that amplify most.
fn amplifying_forms() -> Vec<(&'static str, Vec<u8>)> {
    const BODY: usize = 256 * 1024;
    let repeated = |unit: String| unit.repeat(BODY / unit.len()).into_bytes();
    vec![
        (
            "`a[]..[]=&`, 64 levels",
            repeated(format!("a{}=&", "[]".repeat(63))),
        ),
        (
            "`auth[x]..[x]=&` chains",
            repeated(format!("auth{}=&", "[x]".repeat(63))),
        ),
        ("appends", repeated("auth[]=&".to_owned())),
        (
            "index gaps",
            repeated("auth[999999999]=&auth[]=&".to_owned()),
        ),
    ]
}

fn ratio(peak: usize, body: &[u8]) -> f64 {
    peak as f64 / body.len() as f64
}

#[test]
fn crafted_256_kib_inputs_stay_within_the_allocation_bound() {
    let oauth = oauth_answer::Harness::start().unwrap();
    let batch = batch_answer::Harness::start().unwrap();
    let installer = install_request::Harness::start().unwrap();
    let _counter = peak::exclusive();
    for (shape, body) in amplifying_json() {
        println!("FIGURE twins: JSON {shape}, {} bytes", body.len());
        for status in [0u8, 5] {
            let data = [&[status][..], &body].concat();
            let ((), peak) = peak::peak_during(|| oauth_answer::check(&oauth, &data));
            println!(
                "FIGURE twins: OAuth answer, status byte {status}: {peak} bytes ({:.1}x)",
                ratio(peak, &body)
            );
            let ((), peak) = peak::peak_during(|| batch_answer::check(&batch, &data));
            println!(
                "FIGURE twins: batch answer, status byte {status}: {peak} bytes ({:.1}x)",
                ratio(peak, &body)
            );
            let ((), peak) =
                peak::peak_during(|| install_event::check(&[&[1u8][..], &body].concat()));
            println!(
                "FIGURE twins: ONAPPINSTALL: {peak} bytes ({:.1}x)",
                ratio(peak, &body)
            );
            install_request::check(&installer, &[&[1u8][..], &body].concat());
        }
    }
    for (shape, body) in amplifying_forms() {
        println!("FIGURE twins: form {shape}, {} bytes", body.len());
        let ((), peak) = peak::peak_during(|| install_event::check(&[&[0u8][..], &body].concat()));
        println!(
            "FIGURE twins: ONAPPINSTALL: {peak} bytes ({:.1}x)",
            ratio(peak, &body)
        );
        let ((), peak) = peak::peak_during(|| settings_placement::check(&body));
        println!(
            "FIGURE twins: settings placement: {peak} bytes ({:.1}x)",
            ratio(peak, &body)
        );
        install_request::check(&installer, &[&[0u8][..], &body].concat());
        settings_placement::check(&body);
        settings_placement::check(&[&body[..], &[0xFF], &body[..]].concat());
    }
}
