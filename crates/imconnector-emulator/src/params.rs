//! Builds the parameter map the way the portal does (`CRestUtil::getRequestData`, reference §1.2).

use axum::http::{header, HeaderMap, Method};
use serde_json::{Map, Value};

use crate::php::Params;

/// Query string and body merged: the query (PHP-style nesting) first, then the body's keys
/// replace it at the top level. A POST body is read as JSON only when the content type is
/// exactly `application/json`; a JSON body that does not parse counts as empty, silently, like
/// the portal. Any other content type is parsed as a form (`parse_str`).
pub(crate) fn collect(
    method: &Method,
    headers: &HeaderMap,
    query: Option<&str>,
    body: &[u8],
) -> Params {
    let mut params = query.map(parse_form).unwrap_or_default();
    if method == Method::POST && !body.is_empty() {
        let body_params = if content_type(headers).as_deref() == Some("application/json") {
            parse_json(body)
        } else {
            parse_form_bytes(body)
        };
        // array_replace: body keys win at the top level, nested arrays are not merged.
        params.extend(body_params);
    }
    params
}

fn content_type(headers: &HeaderMap) -> Option<String> {
    let raw = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let main = raw.split(';').next().unwrap_or_default();
    Some(main.trim().to_ascii_lowercase())
}

fn parse_form(query: &str) -> Params {
    parse_form_bytes(query.as_bytes())
}

fn parse_form_bytes(bytes: &[u8]) -> Params {
    // A key nesting deeper than PHP allows makes PHP drop it; dropping the whole body is close
    // enough for a test portal and never panics.
    match imconnector_form::parse(bytes) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

fn parse_json(bytes: &[u8]) -> Params {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => map,
        // json_decode of a list gives a PHP array with keys 0..n.
        Ok(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(index, item)| (index.to_string(), item))
            .collect(),
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use serde_json::json;

    fn headers(content_type: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(content_type).expect("valid"),
        );
        headers
    }

    #[test]
    fn json_body_replaces_query_keys_at_the_top_level() {
        let params = collect(
            &Method::POST,
            &headers("application/json; charset=utf-8"),
            Some("LINE=1&auth=q&DATA[ID]=x"),
            br#"{"LINE": 7, "DATA": {"NAME": "n"}}"#,
        );
        assert_eq!(
            Value::Object(params),
            json!({"LINE": 7, "auth": "q", "DATA": {"NAME": "n"}})
        );
    }

    #[test]
    fn broken_json_is_silently_empty() {
        let params = collect(
            &Method::POST,
            &headers("application/json"),
            Some("a=1"),
            b"{oops",
        );
        assert_eq!(Value::Object(params), json!({"a": "1"}));
    }

    #[test]
    fn other_content_types_parse_as_form() {
        let params = collect(
            &Method::POST,
            &headers("text/plain"),
            None,
            b"MESSAGES[0][user][id]=u1",
        );
        assert_eq!(
            Value::Object(params),
            json!({"MESSAGES": [{"user": {"id": "u1"}}]})
        );
        let params = collect(&Method::POST, &HeaderMap::new(), None, b"a%5Bb%5D=1");
        assert_eq!(Value::Object(params), json!({"a": {"b": "1"}}));
    }

    #[test]
    fn get_ignores_the_body() {
        let params = collect(&Method::GET, &HeaderMap::new(), Some("x=1"), b"y=2");
        assert_eq!(Value::Object(params), json!({"x": "1"}));
    }
}
