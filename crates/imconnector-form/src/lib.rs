#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod decode;
mod json;
mod limits;
mod tree;

use serde_json::Value;

use limits::{printable, Budget};
pub use limits::{Limits, MAX_DEPTH, MAX_VARS};
use tree::{split_key, Node, Root};

/// Why a form body could not be parsed. Its messages quote at most a few dozen characters of
/// the body, with control characters escaped, so they can be logged as they are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormError {
    /// A key nests deeper than [`Limits::max_depth`].
    #[error("form key `{key}` nests deeper than {limit} levels")]
    TooDeep {
        /// The first 64 characters of the offending key, control characters escaped.
        key: String,
        /// The limit it passed.
        limit: usize,
    },
    /// The body holds more pairs than [`Limits::max_vars`].
    #[error("the form holds more than {limit} variables")]
    TooManyVars {
        /// The limit it passed.
        limit: usize,
    },
    /// Parsing the body would take more memory than [`Limits`] allow for its size (a body of
    /// many tiny nested keys).
    #[error("the form would take more than {budget} bytes of memory to parse")]
    TooLarge {
        /// The bytes the body was allowed.
        budget: usize,
    },
    /// A body declared as `application/json` is not JSON.
    #[error("the body is not JSON: {0}")]
    NotJson(String),
}

/// Parses `application/x-www-form-urlencoded` bytes with PHP's nesting rules into a JSON object,
/// within the default [`Limits`].
///
/// Every value is a string; maps whose keys are exactly `0..n` in order become arrays; a later
/// key replaces an earlier one. Percent-encoded and raw brackets both work.
///
/// # Errors
/// [`FormError::TooDeep`], [`FormError::TooManyVars`] or [`FormError::TooLarge`] when the body
/// passes a limit.
pub fn parse(body: &[u8]) -> Result<Value, FormError> {
    parse_with(body, Limits::default())
}

/// [`parse`] within `limits`.
///
/// # Errors
/// As [`parse`].
pub fn parse_with(body: &[u8], limits: Limits) -> Result<Value, FormError> {
    let mut budget = Budget::for_body(limits, body.len());
    // The key buffer and a value's decoding buffer: together at most the body.
    budget.charge(body.len())?;
    let mut root = Root::default();
    // Keys are decoded into one reused buffer: only the tree's new keys are allocated.
    let mut key = Vec::new();
    let mut vars = 0_usize;
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
        vars += 1;
        if vars > limits.max_vars {
            return Err(FormError::TooManyVars {
                limit: limits.max_vars,
            });
        }
        let (raw_key, raw_value) = match memchr::memchr(b'=', pair) {
            Some(equals) => (&pair[..equals], &pair[equals + 1..]),
            None => (pair, &[][..]),
        };
        decode::percent_decode(raw_key, &mut key);
        let key = decode::text(&key, &mut budget)?;
        let value = decode::decode_text_within(raw_value, &mut budget)?;
        insert(&mut root, &key, value, &mut budget)?;
    }
    root.into_object(&mut budget)
}

/// Parses a POST body the way Bitrix24 sends it, within the default [`Limits`]: JSON when
/// `content_type` is `application/json` (parameters allowed), the PHP form encoding otherwise
/// (the portal's default for events and install POSTs).
///
/// # Errors
/// [`FormError::NotJson`] for a JSON body that does not parse, [`FormError::TooLarge`] for a
/// JSON body whose value would pass the memory budget, the errors of [`parse`] for a form.
pub fn parse_body(content_type: Option<&str>, body: &[u8]) -> Result<Value, FormError> {
    parse_body_with(content_type, body, Limits::default())
}

/// [`parse_body`] within `limits` (a JSON body is held to the memory budget; its nesting to
/// `serde_json`'s limit of 128).
///
/// # Errors
/// As [`parse_body`].
pub fn parse_body_with(
    content_type: Option<&str>,
    body: &[u8],
    limits: Limits,
) -> Result<Value, FormError> {
    let json = content_type
        .and_then(|value| value.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"));
    if json {
        json::parse(body, limits)
    } else {
        parse_with(body, limits)
    }
}

/// Like [`parse`], from already decoded `(key, value)` pairs (a query string, say), within the
/// default [`Limits`] (the memory budget grows with the pairs' text).
///
/// # Errors
/// As [`parse`].
pub fn parse_pairs<K, V>(pairs: impl IntoIterator<Item = (K, V)>) -> Result<Value, FormError>
where
    K: AsRef<str>,
    V: Into<String>,
{
    let limits = Limits::default();
    let mut budget = Budget::growing(limits);
    let mut root = Root::default();
    for (vars, (key, value)) in pairs.into_iter().enumerate() {
        if vars == limits.max_vars {
            return Err(FormError::TooManyVars {
                limit: limits.max_vars,
            });
        }
        let (key, value) = (key.as_ref(), value.into());
        budget.widen(key.len() + value.len() + 2);
        budget.charge(value.capacity())?;
        insert(&mut root, key, value, &mut budget)?;
    }
    root.into_object(&mut budget)
}

/// Stores `value` under the PHP-style `key` (`a[b][]`).
fn insert(root: &mut Root, key: &str, value: String, budget: &mut Budget) -> Result<(), FormError> {
    let (base, segments) = split_key(key);
    if base.is_empty() {
        return Ok(());
    }
    let max_depth = budget.limits().max_depth;
    let mut node = root.child_mut(base, budget)?;
    for (depth, segment) in segments.enumerate() {
        if depth == max_depth {
            return Err(FormError::TooDeep {
                key: printable(key, 64),
                limit: max_depth,
            });
        }
        node = node.child_mut(segment, budget)?;
    }
    *node = Node::Leaf(value);
    Ok(())
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
        let limits = Limits::default()
            .with_max_vars(20_000)
            .with_max_amplification(100);
        let value = parse_with(body.as_bytes(), limits).expect("parses");
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
    fn the_limits_are_php_s_and_configurable() {
        let vars = "a=1&".repeat(MAX_VARS);
        assert!(parse(vars.as_bytes()).is_ok());
        let over = format!("{vars}b=2");
        assert_eq!(
            parse(over.as_bytes()),
            Err(FormError::TooManyVars { limit: MAX_VARS })
        );
        assert!(parse_with(
            over.as_bytes(),
            Limits::default().with_max_vars(MAX_VARS + 1)
        )
        .is_ok());
        let deep = "a[x][y][z]=1";
        assert!(matches!(
            parse_with(deep.as_bytes(), Limits::default().with_max_depth(2)),
            Err(FormError::TooDeep { limit: 2, .. })
        ));
        let chains = format!("a{}=&", "[]".repeat(60)).repeat(200);
        assert!(matches!(
            parse(chains.as_bytes()),
            Err(FormError::TooLarge { .. })
        ));
        let generous = Limits::default().with_max_amplification(1_000);
        assert!(parse_with(chains.as_bytes(), generous).is_ok());
    }

    #[test]
    fn a_refused_key_is_quoted_escaped_and_short() {
        let key = format!("a\n\u{1b}[31m{}", "[x]".repeat(MAX_DEPTH + 1));
        let error = parse(
            form_urlencoded::byte_serialize(key.as_bytes())
                .collect::<String>()
                .as_bytes(),
        )
        .expect_err("too deep");
        let shown = error.to_string();
        assert!(!shown.chars().any(char::is_control), "{shown:?}");
        assert!(shown.contains("a\\n\\u{1b}[31m"), "{shown}");
        assert!(shown.len() < 200, "{shown}");
    }

    #[test]
    fn a_large_genuine_event_parses_within_the_default_limits() {
        // Sixty messages with every documented field: about 1000 pairs, PHP's limit.
        let messages: Vec<Value> = (0..60)
            .map(|n| {
                json!({
                    "im": {"chat_id": (1800 + n).to_string(), "message_id": (86_000 + n).to_string()},
                    "message": {"id": n.to_string(), "text": format!("message {n}"), "date": "1700000000",
                                "files": [{"name": "a.png", "link": "https://example.com/a.png"}]},
                    "chat": {"id": format!("c{n}"), "url": "https://example.com/chat"},
                    "user": {"id": format!("u{n}"), "name": "Klaus", "last_name": "K", "picture": {"url": "x"}},
                })
            })
            .collect();
        let event = json!({
            "event": "ONIMCONNECTORMESSAGEADD", "event_handler_id": "555",
            "data": {"CONNECTOR": "acme_chat", "LINE": "107", "MESSAGES": messages},
            "ts": "1700000000",
            "auth": {"domain": "example.bitrix24.com", "member_id": "m1", "application_token": "t"},
        });
        let body = encode(&event);
        let parsed = parse(body.as_bytes()).expect("within the limits");
        assert_eq!(parsed["data"]["MESSAGES"][59]["user"]["id"], "u59");
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
