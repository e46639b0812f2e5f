#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::collections::HashMap;

use serde_json::{Map, Value};

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

/// One node of the tree while parsing: PHP arrays keep insertion order and mix int and string keys.
#[derive(Debug)]
enum Node {
    Leaf(String),
    Array(PhpArray),
}

/// An ordered map with O(1) lookup and PHP's "next integer key", so parsing stays linear in the
/// body size (a crafted body of many `a[]=1` pairs must not cost quadratic time).
#[derive(Debug, Default)]
struct PhpArray {
    entries: Vec<(String, Node)>,
    positions: HashMap<String, usize>,
    next_index: i64,
}

impl PhpArray {
    fn entry(&mut self, key: Option<&str>) -> &mut Node {
        let key = match key {
            Some(key) => key.to_owned(),
            None => self.next_index.to_string(),
        };
        if let Ok(number) = key.parse::<i64>() {
            // PHP's `$a[] = x` takes one more than the largest integer key so far.
            self.next_index = self.next_index.max(number.saturating_add(1));
        }
        let position = match self.positions.get(&key) {
            Some(&position) => position,
            None => {
                self.entries.push((key.clone(), Node::Leaf(String::new())));
                self.positions.insert(key, self.entries.len() - 1);
                self.entries.len() - 1
            }
        };
        &mut self.entries[position].1
    }
}

impl Node {
    fn child_mut(&mut self, key: Option<&str>) -> &mut Node {
        if !matches!(self, Node::Array(_)) {
            // PHP: a scalar that gets indexed is replaced by an array.
            *self = Node::Array(PhpArray::default());
        }
        let Node::Array(array) = self else {
            unreachable!("converted to an array just above")
        };
        array.entry(key)
    }

    fn into_value(self) -> Value {
        match self {
            Node::Leaf(text) => Value::String(text),
            Node::Array(PhpArray { entries, .. }) => {
                let sequential = entries
                    .iter()
                    .enumerate()
                    .all(|(index, (key, _))| key.parse::<usize>().ok() == Some(index));
                if sequential && !entries.is_empty() {
                    Value::Array(
                        entries
                            .into_iter()
                            .map(|(_, node)| node.into_value())
                            .collect(),
                    )
                } else {
                    Value::Object(
                        entries
                            .into_iter()
                            .map(|(key, node)| (key, node.into_value()))
                            .collect(),
                    )
                }
            }
        }
    }
}

/// Splits `a[b][][c]` into `a` and the bracket segments (`Some("b")`, `None` for `[]`, `Some("c")`).
/// A key whose brackets do not close is taken literally, as PHP does with the first segment.
fn split_key(key: &str) -> (&str, Vec<Option<&str>>) {
    let Some(open) = key.find('[') else {
        return (key, Vec::new());
    };
    if open == 0 {
        return (key, Vec::new());
    }
    let (base, mut rest) = key.split_at(open);
    let mut segments = Vec::new();
    while let Some(after_open) = rest.strip_prefix('[') {
        let Some(close) = after_open.find(']') else {
            if segments.is_empty() {
                // PHP keeps a key whose first bracket never closes as a plain name.
                return (key, Vec::new());
            }
            break;
        };
        let segment = &after_open[..close];
        segments.push(if segment.is_empty() {
            None
        } else {
            Some(segment)
        });
        rest = &after_open[close + 1..];
    }
    (base, segments)
}

/// Parses `application/x-www-form-urlencoded` bytes with PHP's nesting rules into a JSON object.
///
/// Every value is a string; maps whose keys are exactly `0..n` in order become arrays; a later
/// key replaces an earlier one. Percent-encoded and raw brackets both work.
///
/// # Errors
/// [`FormError::TooDeep`] when a key nests deeper than [`MAX_DEPTH`].
pub fn parse(body: &[u8]) -> Result<Value, FormError> {
    parse_pairs(form_urlencoded::parse(body))
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
    let mut root = Node::Array(PhpArray::default());
    for (key, value) in pairs {
        let key = key.as_ref();
        let (base, segments) = split_key(key);
        if base.is_empty() {
            continue;
        }
        if segments.len() > MAX_DEPTH {
            return Err(FormError::TooDeep {
                key: key.chars().take(64).collect(),
            });
        }
        let mut node = root.child_mut(Some(base));
        for segment in segments {
            node = node.child_mut(segment);
        }
        *node = Node::Leaf(value.into());
    }
    Ok(match root.into_value() {
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
    })
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
        fn arbitrary_bracket_keys_never_panic(key in "[a-z\\[\\]0-9]{0,40}", value in ".{0,10}") {
            let body = form_urlencoded::Serializer::new(String::new()).append_pair(&key, &value).finish();
            let _ = parse(body.as_bytes());
        }
    }
}
