//! `batch`: chunking, order, per-command errors, halt, encoding and the PHP shapes.

use std::sync::{Arc, Mutex};

use imconnector_transport::{Batch, BatchOutcome, Client, Error, ErrorCode, MAX_BATCH_COMMANDS};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::{
    oauth_builder,
    support::{serve, OAuthPortal, Reply, Status},
};

/// `cmd` read in the order it was sent (a `serde_json::Map` would sort the keys, hiding the very
/// order the portal runs commands in).
struct OrderedCommands(Vec<(String, String)>);

impl<'de> Deserialize<'de> for OrderedCommands {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = OrderedCommands;
            fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                formatter.write_str("a map of commands")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut commands = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    commands.push(entry);
                }
                Ok(OrderedCommands(commands))
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

#[derive(Deserialize)]
struct BatchBody {
    halt: u8,
    cmd: OrderedCommands,
}

/// Every chunk received: its commands as (key, method, parsed query).
type Chunks = Arc<Mutex<Vec<Vec<(String, String, Value)>>>>;

/// A portal that runs `imconnector.status` commands (failing on line `fail_line`) and records
/// every chunk it received, as parsed commands.
async fn batch_portal(
    fail_line: i64,
) -> (OAuthPortal, Arc<Mutex<Vec<Vec<(String, String, Value)>>>>) {
    let chunks: Chunks = Arc::default();
    let recorded = chunks.clone();
    let portal = OAuthPortal::start_raw(move |incoming, _| {
        assert_eq!(incoming.rest_method(), "batch");
        let BatchBody { halt, cmd } = serde_json::from_slice(&incoming.body).unwrap();
        let halt = halt == 1;
        let (mut results, mut errors, mut times) = (Map::new(), Map::new(), Map::new());
        let mut parsed = Vec::new();
        for (key, command) in cmd.0 {
            let (method, query) = command.split_once('?').unwrap_or((command.as_str(), ""));
            let params = imconnector_form::parse(query.as_bytes()).unwrap();
            parsed.push((key.clone(), method.to_owned(), params.clone()));
            let line: i64 = params["LINE"].as_str().unwrap_or("0").parse().unwrap();
            if line == fail_line {
                errors.insert(key.clone(), json!({"error": "ERROR_ARGUMENT", "error_description": "Argument 'LINE' is null or empty", "argument": "LINE"}));
                if halt {
                    break;
                }
                continue;
            }
            results.insert(key.clone(), json!({"LINE": line, "CONNECTOR": params["CONNECTOR"], "STATUS": true}));
            times.insert(key.clone(), json!({"start": 1.0, "duration": 0.01, "operating": 0.002, "operating_reset_at": 1738066200}));
        }
        recorded.lock().unwrap().push(parsed);
        // PHP writes an empty array as `[]`, even where a map is expected.
        let php = |map: Map<String, Value>| if map.is_empty() { json!([]) } else { Value::Object(map) };
        Reply::ok(json!({"result": php(results), "result_error": php(errors), "result_total": [], "result_next": [], "result_time": php(times)}))
    })
    .await;
    // Accept the client's first token, so every HTTP call here is a batch chunk.
    *portal.tokens.valid_access.lock().unwrap() = Some("access-0".into());
    (portal, chunks)
}

#[tokio::test]
async fn a_batch_of_120_takes_three_calls_keeps_order_and_reports_the_one_failure() {
    let (portal, chunks) = batch_portal(57).await;
    let client = oauth_builder(&portal).build().unwrap();
    let mut batch = Batch::new();
    let keys: Vec<_> = (1..=120)
        .map(|line| {
            batch
                .add(format!("st{line}"), &Status::new("acme_chat", line))
                .unwrap()
        })
        .collect();

    let response = client.batch(&batch).await.unwrap();

    let sizes: Vec<usize> = chunks.lock().unwrap().iter().map(Vec::len).collect();
    println!(
        "FIGURE batch of 120 commands: {} HTTP calls to `batch` (commands per call: {sizes:?}), {} failed command(s) reported",
        portal.server.count("batch"),
        response.failures().count()
    );
    assert_eq!(portal.server.count("batch"), 3);
    assert_eq!(response.calls(), 3);
    assert_eq!(sizes, vec![MAX_BATCH_COMMANDS, MAX_BATCH_COMMANDS, 20]);
    let sent_keys: Vec<String> = chunks
        .lock()
        .unwrap()
        .iter()
        .flatten()
        .map(|(key, _, _)| key.clone())
        .collect();
    assert_eq!(
        sent_keys,
        (1..=120)
            .map(|line| format!("st{line}"))
            .collect::<Vec<_>>(),
        "sent in the order added"
    );
    let entry_keys: Vec<&str> = response
        .entries()
        .iter()
        .map(|entry| entry.key.as_str())
        .collect();
    let expected_keys: Vec<String> = (1..=120).map(|line| format!("st{line}")).collect();
    assert_eq!(entry_keys, expected_keys);
    for (line, key) in (1..=120).zip(&keys) {
        let result = response.get(key);
        if line == 57 {
            let error = result.unwrap_err();
            assert_eq!(error.code(), Some(&ErrorCode::ErrorArgument));
            let api = error.as_api().unwrap();
            assert_eq!(
                (
                    api.method.as_str(),
                    api.argument.as_deref(),
                    api.http_status
                ),
                ("imconnector.status", Some("LINE"), None)
            );
        } else {
            assert_eq!(result.unwrap().line, line);
        }
    }
    assert_eq!(
        response
            .failures()
            .map(|entry| entry.key.as_str())
            .collect::<Vec<_>>(),
        vec!["st57"]
    );
    let BatchOutcome::Success(first) = &response.entry("st1").unwrap().outcome else {
        panic!("st1 failed")
    };
    assert_eq!(first.time.as_ref().unwrap().operating, Some(0.002));
    // Commands travel as `method?query`, parsed by the portal like a form.
    assert_eq!(
        chunks.lock().unwrap()[0][0],
        (
            "st1".into(),
            "imconnector.status".into(),
            json!({"CONNECTOR": "acme_chat", "LINE": "1"})
        )
    );
}

#[tokio::test]
async fn commands_are_encoded_with_php_style_nested_keys() {
    let (portal, chunks) = batch_portal(-1).await;
    let client = oauth_builder(&portal).build().unwrap();
    let mut batch = Batch::new();
    let params = json!({"CONNECTOR": "acme_chat", "LINE": 107, "ACTIVE": true, "auth": "must-not-travel",
        "MESSAGES": [{"user": {"id": "u 1"}, "message": {"text": "a&b=c [x]"}, "chat": {"id": "c1"}}]});
    batch
        .add_raw("send", "imconnector.send.messages", params)
        .unwrap();

    let (_, encoded) = batch.encoded().next().unwrap();
    assert!(
        encoded.starts_with("imconnector.send.messages?"),
        "{encoded}"
    );
    assert!(
        encoded.contains("MESSAGES%5B0%5D%5Buser%5D%5Bid%5D=u+1"),
        "{encoded}"
    );
    assert!(
        encoded.contains("ACTIVE=1"),
        "booleans travel as 1/0: {encoded}"
    );
    assert!(!encoded.contains("must-not-travel"));

    client.batch(&batch).await.unwrap();
    let (_, method, parsed) = chunks.lock().unwrap()[0][0].clone();
    assert_eq!(method, "imconnector.send.messages");
    assert_eq!(
        parsed,
        json!({"ACTIVE": "1", "CONNECTOR": "acme_chat", "LINE": "107",
               "MESSAGES": [{"chat": {"id": "c1"}, "message": {"text": "a&b=c [x]"}, "user": {"id": "u 1"}}]})
    );
}

#[tokio::test]
async fn halt_stops_at_the_first_failure_and_skips_later_chunks() {
    let (portal, _) = batch_portal(10).await;
    let client = oauth_builder(&portal).build().unwrap();
    let mut batch = Batch::new().halt(true);
    let keys: Vec<_> = (1..=60)
        .map(|line| {
            batch
                .add(format!("st{line}"), &Status::new("acme_chat", line))
                .unwrap()
        })
        .collect();

    let response = client.batch(&batch).await.unwrap();

    assert_eq!(
        portal.server.count("batch"),
        1,
        "the second chunk is not sent"
    );
    assert_eq!(response.entries().len(), 60);
    assert!(response.get(&keys[8]).is_ok());
    assert_eq!(
        response.get(&keys[9]).unwrap_err().code(),
        Some(&ErrorCode::ErrorArgument)
    );
    for key in &keys[10..] {
        assert!(
            matches!(response.get(key), Err(Error::NotExecuted { .. })),
            "{key:?}"
        );
    }
}

#[tokio::test]
async fn maps_serialised_as_php_lists_are_read_by_position() {
    let server = serve(|_| {
        Reply::ok(
            json!({"result": [{"n": 0}, {"n": 1}, {"n": 2}], "result_error": [], "result_total": [],
                         "result_next": [], "result_time": []}),
        )
    })
    .await;
    let client = Client::builder()
        .webhook(server.url("/rest/1/code/"))
        .build()
        .unwrap();
    let mut batch = Batch::new();
    for key in ["0", "1", "2"] {
        batch.add_raw(key, "profile", Value::Null).unwrap();
    }

    let response = client.batch(&batch).await.unwrap();

    for (index, entry) in response.entries().iter().enumerate() {
        let BatchOutcome::Success(success) = &entry.outcome else {
            panic!("{entry:?}")
        };
        assert_eq!(success.result, json!({"n": index}));
        assert_eq!(success.time, None);
    }
    assert_eq!(
        server.requests("batch")[0].json()["cmd"],
        json!({"0": "profile", "1": "profile", "2": "profile"})
    );
}

#[tokio::test]
async fn a_batch_is_checked_before_any_request() {
    let server = serve(|_| Reply::ok(json!([]))).await;
    let webhook = Client::builder()
        .webhook(server.url("/rest/1/code/"))
        .build()
        .unwrap();
    let mut batch = Batch::new();
    batch.add("st", &Status::new("acme_chat", 1)).unwrap();
    assert!(matches!(
        webhook.batch(&batch).await,
        Err(Error::WrongAuthKind { .. })
    ));

    assert!(
        matches!(
            batch.add("st", &Status::new("acme_chat", 2)),
            Err(Error::InvalidRequest(_))
        ),
        "duplicate key"
    );
    assert!(
        matches!(
            batch.add("other", &Status::new("", 2)),
            Err(Error::InvalidRequest(_))
        ),
        "invalid command"
    );
    assert!(
        matches!(
            batch.add_raw("", "profile", Value::Null),
            Err(Error::InvalidRequest(_))
        ),
        "empty key"
    );
    assert!(server.seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_later_chunk_whose_answer_was_lost_reports_its_commands_as_unknown() {
    let calls = Arc::new(Mutex::new(0_usize));
    let counter = calls.clone();
    let portal = OAuthPortal::start_raw(move |incoming, _| {
        let mut calls = counter.lock().unwrap();
        *calls += 1;
        if *calls > 1 {
            // The portal (or a proxy) failed after receiving the second chunk.
            return Reply::raw(502, "<html>Bad gateway</html>");
        }
        let BatchBody { cmd, .. } = serde_json::from_slice(&incoming.body).unwrap();
        let results: Map<String, Value> =
            cmd.0.into_iter().map(|(key, _)| (key, json!(true))).collect();
        Reply::ok(json!({"result": results, "result_error": [], "result_total": [], "result_next": [], "result_time": []}))
    })
    .await;
    *portal.tokens.valid_access.lock().unwrap() = Some("access-0".into());
    let client = oauth_builder(&portal).build().unwrap();
    let mut batch = Batch::new();
    for n in 0..120 {
        // Raw commands are not idempotent: a lost answer is not replayed.
        batch
            .add_raw(
                format!("m{n}"),
                "imconnector.send.messages",
                json!({"LINE": n}),
            )
            .unwrap();
    }

    let Err(Error::BatchIncomplete { partial, source }) = client.batch(&batch).await else {
        panic!("expected BatchIncomplete");
    };
    assert!(source.is_outcome_unknown(), "{source:?}");
    assert_eq!(
        portal.server.count("batch"),
        2,
        "the lost chunk is not replayed"
    );
    let outcomes: Vec<_> = partial
        .entries()
        .iter()
        .map(|entry| &entry.outcome)
        .collect();
    assert_eq!(outcomes.len(), 120);
    assert!(outcomes[..50]
        .iter()
        .all(|outcome| matches!(outcome, BatchOutcome::Success(_))));
    assert!(outcomes[50..100]
        .iter()
        .all(|outcome| matches!(outcome, BatchOutcome::Unknown { .. })));
    assert!(outcomes[100..]
        .iter()
        .all(|outcome| matches!(outcome, BatchOutcome::NotExecuted)));
}

#[test]
fn a_result_reference_across_a_chunk_boundary_is_refused_when_added() {
    let mut batch = Batch::new();
    for n in 0..MAX_BATCH_COMMANDS {
        batch
            .add_raw(format!("c{n}"), "imconnector.status", json!({"LINE": n}))
            .unwrap();
    }
    // Command 51 is the first of the second chunk: `c0`'s result is in another `batch` call.
    let error = batch
        .add_raw(
            "late",
            "imconnector.status",
            json!({"LINE": "$result[c0][LINE]"}),
        )
        .unwrap_err();
    assert!(error.to_string().contains("different chunks"), "{error}");
    let error = batch
        .add_raw(
            "ahead",
            "imconnector.status",
            json!({"LINE": "$result[later][LINE]"}),
        )
        .unwrap_err();
    assert!(
        error.to_string().contains("no command added before"),
        "{error}"
    );
    // Within one chunk a reference is fine.
    let mut small = Batch::new();
    small
        .add_raw("first", "imconnector.status", json!({"LINE": 1}))
        .unwrap();
    small
        .add_raw(
            "second",
            "imconnector.status",
            json!({"LINE": "$result[first][LINE]"}),
        )
        .unwrap();
}

#[test]
fn an_empty_object_that_would_vanish_in_the_encoding_is_refused_when_added() {
    let mut batch = Batch::new();
    let error = batch
        .add_raw(
            "data",
            "imconnector.connector.data.set",
            json!({"CONNECTOR": "acme_chat", "LINE": 107, "DATA": {}}),
        )
        .unwrap_err();
    let Error::InvalidRequest(invalid) = error else {
        panic!("expected InvalidRequest");
    };
    assert_eq!(invalid.parameter, "DATA");
    assert!(batch.is_empty());
}
