//! PHP semantics the portal's checks rely on: `isset`, `empty`, `(int)`, string conversion,
//! case-folding of parameter keys. Hand-written because they are PHP's rules, not a format.

use serde_json::{Map, Value};

/// The request parameters after merging (a PHP array at the top level).
pub(crate) type Params = Map<String, Value>;

/// PHP `isset`: present and not `null`.
pub(crate) fn is_set(value: Option<&Value>) -> bool {
    !matches!(value, None | Some(Value::Null))
}

/// PHP `empty`: absent, `null`, `false`, `0`, `0.0`, `""`, `"0"` or an empty array.
pub(crate) fn is_empty(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => true,
        Some(Value::Bool(flag)) => !flag,
        Some(Value::Number(number)) => number.as_f64() == Some(0.0),
        Some(Value::String(text)) => text.is_empty() || text == "0",
        Some(Value::Array(items)) => items.is_empty(),
        Some(Value::Object(map)) => map.is_empty(),
    }
}

/// PHP truthiness (`if ($value)`).
pub(crate) fn truthy(value: Option<&Value>) -> bool {
    !is_empty(value)
}

/// PHP `(int)$value`: leading integer of a string (`"12abc"` is 12, `"abc"` is 0), floats
/// truncated, `true` is 1, a non-empty array is 1.
pub(crate) fn to_int(value: Option<&Value>) -> i64 {
    match value {
        None | Some(Value::Null) => 0,
        Some(Value::Bool(flag)) => i64::from(*flag),
        Some(Value::Number(number)) => number
            .as_i64()
            .or_else(|| number.as_f64().map(saturating_f64_to_i64))
            .unwrap_or(0),
        Some(Value::String(text)) => leading_int(text),
        Some(Value::Array(items)) => i64::from(!items.is_empty()),
        Some(Value::Object(map)) => i64::from(!map.is_empty()),
    }
}

#[allow(clippy::cast_possible_truncation)] // PHP truncates; `as` saturates, which is what we want
fn saturating_f64_to_i64(value: f64) -> i64 {
    value.trunc() as i64
}

fn leading_int(text: &str) -> i64 {
    let trimmed = text.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (negative, digits) = match trimmed.as_bytes().first() {
        Some(b'-') => (true, &trimmed[1..]),
        Some(b'+') => (false, &trimmed[1..]),
        _ => (false, trimmed),
    };
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    let digits = &digits[..end];
    if digits.is_empty() {
        return 0;
    }
    // A decimal string like "12.9" is also numeric in PHP; (int) still gives 12.
    let magnitude = digits.parse::<i64>().unwrap_or(i64::MAX);
    if negative {
        magnitude.saturating_neg()
    } else {
        magnitude
    }
}

/// PHP string conversion of a scalar (`strval`): `None` for arrays and `null`.
pub(crate) fn to_text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(true) => Some("1".to_owned()),
        Value::Bool(false) => Some(String::new()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// Whether a value is a PHP array (a JSON list or object).
pub(crate) fn is_array(value: Option<&Value>) -> bool {
    matches!(value, Some(Value::Array(_) | Value::Object(_)))
}

/// The entries of a PHP array as `(key, value)`; lists get their indices as keys.
pub(crate) fn entries(value: &Value) -> Vec<(String, &Value)> {
    match value {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(index, item)| (index.to_string(), item))
            .collect(),
        Value::Object(map) => map.iter().map(|(key, item)| (key.clone(), item)).collect(),
        _ => Vec::new(),
    }
}

/// Builds a PHP array back into JSON: a list when the keys are exactly `0..n` in order,
/// otherwise an object (and `[]` when empty, as PHP serialises an empty array).
pub(crate) fn php_array(entries: Vec<(String, Value)>) -> Value {
    let sequential = entries
        .iter()
        .enumerate()
        .all(|(index, (key, _))| key.parse::<usize>().ok() == Some(index));
    if sequential {
        Value::Array(entries.into_iter().map(|(_, value)| value).collect())
    } else {
        Value::Object(entries.into_iter().collect())
    }
}

/// Top-level keys uppercased (`CUtil`-style `array_change_key_case(.., CASE_UPPER)`).
pub(crate) fn upper_keys(params: &Params) -> Params {
    params
        .iter()
        .map(|(key, value)| (key.to_uppercase(), value.clone()))
        .collect()
}

/// Keys uppercased at every level (what `imconnector.register` does).
pub(crate) fn upper_keys_deep(value: &Value) -> Value {
    map_keys_deep(value, &str::to_uppercase)
}

/// Keys lowercased at every level (what the message methods do to `MESSAGES`).
pub(crate) fn lower_keys_deep(value: &Value) -> Value {
    map_keys_deep(value, &str::to_lowercase)
}

fn map_keys_deep(value: &Value, fold: &dyn Fn(&str) -> String) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, item)| (fold(key), map_keys_deep(item, fold)))
                .collect(),
        ),
        Value::Array(items) => {
            Value::Array(items.iter().map(|item| map_keys_deep(item, fold)).collect())
        }
        other => other.clone(),
    }
}

/// The portal's connector id normalisation (`getConnectorRealId`): lowercase, then cut at the
/// first dot unless the dot is the first character.
pub(crate) fn connector_real_id(raw: &str) -> String {
    let lower = raw.to_lowercase();
    match lower.find('.') {
        Some(position) if position > 0 => lower[..position].to_owned(),
        _ => lower,
    }
}

/// Looks a key up in a PHP array value (object key, or list index).
pub(crate) fn get<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    match value {
        Value::Object(map) => map.get(key),
        Value::Array(items) => key.parse::<usize>().ok().and_then(|index| items.get(index)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn empty_and_isset_follow_php() {
        for value in [
            json!(null),
            json!(false),
            json!(0),
            json!(0.0),
            json!(""),
            json!("0"),
            json!([]),
            json!({}),
        ] {
            assert!(is_empty(Some(&value)), "{value} is empty");
        }
        for value in [
            json!("N"),
            json!("false"),
            json!(" "),
            json!(1),
            json!([0]),
            json!("0.0"),
        ] {
            assert!(truthy(Some(&value)), "{value} is truthy");
        }
        assert!(is_set(Some(&json!(""))));
        assert!(!is_set(Some(&json!(null))));
        assert!(!is_set(None));
    }

    #[test]
    fn int_cast_takes_the_leading_number() {
        assert_eq!(to_int(Some(&json!("12"))), 12);
        assert_eq!(to_int(Some(&json!(" 12abc"))), 12);
        assert_eq!(to_int(Some(&json!("abc"))), 0);
        assert_eq!(to_int(Some(&json!("-7"))), -7);
        assert_eq!(to_int(Some(&json!(12.9))), 12);
        assert_eq!(to_int(Some(&json!(true))), 1);
        assert_eq!(to_int(None), 0);
    }

    #[test]
    fn connector_ids_are_lowercased_and_cut_at_the_first_dot() {
        assert_eq!(connector_real_id("MyConn.x"), "myconn");
        assert_eq!(connector_real_id("a.b.c"), "a");
        assert_eq!(connector_real_id(".hidden"), ".hidden");
        assert_eq!(connector_real_id("ACME_chat"), "acme_chat");
    }

    #[test]
    fn php_arrays_become_lists_only_when_sequential() {
        assert_eq!(php_array(vec![]), json!([]));
        assert_eq!(
            php_array(vec![("0".into(), json!(1)), ("1".into(), json!(2))]),
            json!([1, 2])
        );
        assert_eq!(php_array(vec![("1".into(), json!(1))]), json!({"1": 1}));
    }
}
