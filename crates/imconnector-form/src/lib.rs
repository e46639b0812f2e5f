#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod decode;
mod tree;

use serde_json::{Map, Value};

use tree::{split_key, Node};

/// How deep brackets may nest before a key is refused (PHP's default `max_input_nesting_level`).
pub const MAX_DEPTH: usize = 64;

/// Why a form body could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormError {
    /// A key nests deeper than [`MAX_DEPTH`].
    #[error("form key `{key}` nests deeper than {MAX_DEPTH} levels")]
    TooDeep {
        /// The first characters of the offending key.
        key: String,
    },
    /// A body declared as `application/json` is not JSON.
    #[error("the body is not JSON: {0}")]
    NotJson(String),
}

/// Parses `application/x-www-form-urlencoded` bytes with PHP's nesting rules into a JSON object.
///
/// Every value is a string; maps whose keys are exactly `0..n` in order become arrays; a later
/// key replaces an earlier one. Percent-encoded and raw brackets both work.
///
/// # Errors
/// [`FormError::TooDeep`] when a key nests deeper than [`MAX_DEPTH`].
pub fn parse(body: &[u8]) -> Result<Value, FormError> {
    let mut root = Node::root();
    // Keys are decoded into one reused buffer: only the tree's new keys are allocated.
    let mut key = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let (pair, after) = match memchr::memchr(b'&', rest) {
            Some(amp) => (&rest[..amp], &rest[amp + 1..]),
            None => (rest, &[][..]),
        };
        rest = after;
        if pair.is_empty() {
            continue;
        }
        let (raw_key, raw_value) = match memchr::memchr(b'=', pair) {
            Some(equals) => (&pair[..equals], &pair[equals + 1..]),
            None => (pair, &[][..]),
        };
        decode::percent_decode(raw_key, &mut key);
        insert(
            &mut root,
            &decode::text(&key),
            decode::decode_text(raw_value),
        )?;
    }
    Ok(into_object(root))
}

/// Parses a POST body the way Bitrix24 sends it: JSON when `content_type` is
/// `application/json` (parameters allowed), the PHP form encoding otherwise (the portal's
/// default for events and install POSTs).
///
/// # Errors
/// [`FormError::NotJson`] for a JSON body that does not parse, [`FormError::TooDeep`] as
/// [`parse`].
pub fn parse_body(content_type: Option<&str>, body: &[u8]) -> Result<Value, FormError> {
    let json = content_type
        .and_then(|value| value.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"));
    if json {
        serde_json::from_slice(body).map_err(|error| FormError::NotJson(error.to_string()))
    } else {
        parse(body)
    }
}

/// Like [`parse`], from already decoded `(key, value)` pairs (a query string, say).
///
/// # Errors
/// [`FormError::TooDeep`] when a key nests deeper than [`MAX_DEPTH`].
pub fn parse_pairs<K, V>(pairs: impl IntoIterator<Item = (K, V)>) -> Result<Value, FormError>
where
    K: AsRef<str>,
    V: Into<String>,
{
    let mut root = Node::root();
    for (key, value) in pairs {
        insert(&mut root, key.as_ref(), value.into())?;
    }
    Ok(into_object(root))
}

/// Stores `value` under the PHP-style `key` (`a[b][]`).
fn insert(root: &mut Node, key: &str, value: String) -> Result<(), FormError> {
    let (base, segments) = split_key(key);
    if base.is_empty() {
        return Ok(());
    }
    let mut node = root.child_mut(Some(base));
    for (depth, segment) in segments.enumerate() {
        if depth == MAX_DEPTH {
            return Err(FormError::TooDeep {
                key: key.chars().take(64).collect(),
            });
        }
        node = node.child_mut(segment);
    }
    *node = Node::Leaf(value);
    Ok(())
}

/// The parsed tree as the JSON object callers expect.
fn into_object(root: Node) -> Value {
    match root.into_value() {
        Value::Object(map) => Value::Object(map),
        // Top-level keys "0", "1", ... came out as a list; keep the object shape callers expect.
        Value::Array(items) => Value::Object(
            items
                .into_iter()
                .enumerate()
                .map(|(index, value)| (index.to_string(), value))
                .collect(),
        ),
        Value::String(_) | Value::Null | Value::Bool(_) | Value::Number(_) => {
            Value::Object(Map::new())
        }
    }
}

/// Encodes a JSON object as a PHP-style form string (`key[sub][0]=v`), percent-encoded.
///
/// Booleans become `1`/`0` because PHP reads the string `"false"` as true; `null`, empty arrays
/// and empty objects have no form representation and are left out, as PHP's `http_build_query`
/// does. A non-object value encodes to the empty string.
pub fn encode(value: &Value) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    if let Value::Object(map) = value {
        for (key, value) in map {
            append(&mut serializer, key, value);
        }
    }
    serializer.finish()
}

/// Appends `value` under `key` to a form serializer, flattening nested maps and lists.
pub fn append(serializer: &mut form_urlencoded::Serializer<'_, String>, key: &str, value: &Value) {
    match value {
        Value::Null => {}
        Value::Bool(flag) => {
            serializer.append_pair(key, if *flag { "1" } else { "0" });
        }
        Value::Number(number) => {
            serializer.append_pair(key, &number.to_string());
        }
        Value::String(text) => {
            serializer.append_pair(key, text);
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                append(serializer, &format!("{key}[{index}]"), item);
            }
        }
        Value::Object(map) => {
            for (sub_key, item) in map {
                append(serializer, &format!("{key}[{sub_key}]"), item);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_body_is_read_as_json_only_when_declared_so() {
        let json = parse_body(Some("Application/JSON; charset=utf-8"), br#"{"a":{"b":1}}"#);
        assert_eq!(json, Ok(json!({"a": {"b": 1}})));
        let form = parse_body(Some("application/x-www-form-urlencoded"), b"a[b]=1");
        assert_eq!(form, Ok(json!({"a": {"b": "1"}})));
        assert_eq!(parse_body(None, b"a[b]=1"), Ok(json!({"a": {"b": "1"}})));
        let broken = parse_body(Some("application/json"), b"a[b]=1");
        assert!(matches!(broken, Err(FormError::NotJson(_))), "{broken:?}");
    }

    #[test]
    fn parses_the_documented_event_body() {
        let body = "event=ONIMCONNECTORMESSAGEADD&event_handler_id=555\
            &data[CONNECTOR]=acme_chat&data[LINE]=107\
            &data[MESSAGES][0][im][chat_id]=1807&data[MESSAGES][0][im][message_id]=86497\
            &data[MESSAGES][0][message][text]=%5Bb%5DKlaus%3A%5B%2Fb%5D+Hi\
            &auth%5Bapplication_token%5D=831c";
        let value = parse(body.as_bytes()).expect("parses");
        assert_eq!(
            value,
            json!({
                "event": "ONIMCONNECTORMESSAGEADD",
                "event_handler_id": "555",
                "data": {"CONNECTOR": "acme_chat", "LINE": "107", "MESSAGES": [
                    {"im": {"chat_id": "1807", "message_id": "86497"},
                     "message": {"text": "[b]Klaus:[/b] Hi"}}
                ]},
                "auth": {"application_token": "831c"}
            })
        );
    }

    #[test]
    fn empty_brackets_append_and_sparse_keys_stay_objects() {
        let value = parse(b"a[]=x&a[]=y&b[1]=p&b[3]=q&c[0]=k&c[x]=z").expect("parses");
        assert_eq!(
            value,
            json!({"a": ["x", "y"], "b": {"1": "p", "3": "q"}, "c": {"0": "k", "x": "z"}})
        );
    }

    #[test]
    fn later_keys_replace_and_scalars_become_arrays() {
        let value = parse(b"a=1&a=2&b=1&b[c]=2").expect("parses");
        assert_eq!(value, json!({"a": "2", "b": {"c": "2"}}));
    }

    #[test]
    fn unclosed_brackets_and_leading_brackets_are_literal() {
        let value = parse(b"a[b=1&[x]=2&c[d]e=3").expect("parses");
        assert_eq!(value, json!({"a[b": "1", "[x]": "2", "c": {"d": "3"}}));
    }

    #[test]
    fn many_appended_keys_keep_their_order() {
        let body = "a[]=x&".repeat(20_000);
        let value = parse(body.as_bytes()).expect("parses");
        let items = value["a"].as_array().expect("a list");
        assert_eq!(items.len(), 20_000);
        assert!(items.iter().all(|item| item == "x"));
    }

    #[test]
    fn a_level_with_many_keys_still_finds_and_replaces_them() {
        // Past a few keys a level is looked up through an index instead of a scan.
        let mut body: String = (0..40).map(|n| format!("a[k{n}]={n}&")).collect();
        body.push_str("a[k3]=again&a[k39]=last&a[]=appended&a[7]=seven&a[]=after");
        let value = parse(body.as_bytes()).expect("parses");
        let level = value["a"].as_object().expect("an object");
        assert_eq!(level.len(), 43);
        assert_eq!(level["k3"], "again");
        assert_eq!(level["k39"], "last");
        assert_eq!(level["k12"], "12");
        assert_eq!(level["0"], "appended");
        assert_eq!(level["7"], "seven");
        assert_eq!(level["8"], "after");
    }

    #[test]
    fn too_deep_is_an_error_not_a_stack_overflow() {
        let key = format!("a{}", "[x]".repeat(MAX_DEPTH + 1));
        let body = format!("{key}=1");
        assert!(matches!(
            parse(body.as_bytes()),
            Err(FormError::TooDeep { .. })
        ));
    }

    #[test]
    fn encode_round_trips_through_parse() {
        let value = json!({
            "CONNECTOR": "acme", "LINE": 107, "ACTIVE": true, "OFF": false, "NONE": null,
            "MESSAGES": [{"user": {"id": "u 1"}, "message": {"text": "a&b=c[d]"}}],
            "EMPTY": []
        });
        let encoded = encode(&value);
        assert!(encoded.contains("ACTIVE=1") && encoded.contains("OFF=0"));
        assert!(!encoded.contains("NONE") && !encoded.contains("EMPTY"));
        let back = parse(encoded.as_bytes()).expect("parses");
        assert_eq!(
            back,
            json!({
                "CONNECTOR": "acme", "LINE": "107", "ACTIVE": "1", "OFF": "0",
                "MESSAGES": [{"user": {"id": "u 1"}, "message": {"text": "a&b=c[d]"}}]
            })
        );
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn parse_reads_a_body_as_form_urlencoded_splits_and_decodes_it(raw in proptest::collection::vec(
            proptest::sample::select(b"ab0%+=&[]5BDfF\xd0\xbf\xff".to_vec()), 0..60)) {
            proptest::prop_assert_eq!(parse(&raw), parse_pairs(form_urlencoded::parse(&raw)));
        }

        #[test]
        fn arbitrary_bracket_keys_never_panic(key in "[a-z\\[\\]0-9]{0,40}", value in ".{0,10}") {
            let body = form_urlencoded::Serializer::new(String::new()).append_pair(&key, &value).finish();
            let _ = parse(body.as_bytes());
        }
    }
}
