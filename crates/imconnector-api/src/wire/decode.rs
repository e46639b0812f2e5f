//! Lenient decoding: what a response field of a given type accepts.
//!
//! The portal renders PHP values: ids arrive as numbers or strings, booleans as `true`, `1`,
//! `"1"` or `"Y"`, and every value of a form-encoded event is a string. Generated response
//! fields decode through [`decode`], which dispatches on [`WireDecode`].

use std::collections::BTreeMap;

use serde::{de::Error as _, Deserialize, Deserializer};
use serde_json::Value;

/// A type decoded from whatever JSON shape the portal uses for it.
///
/// Implemented for the primitives of spec type expressions (`String`, `bool`, `i64`, `u64`,
/// `f64`, `serde_json::Value`), for `Option`, `Vec` and `BTreeMap` of such types, for the wire
/// helpers, and for every generated response type.
pub trait WireDecode: Sized {
    /// Decodes a value; the error says what was expected.
    ///
    /// # Errors
    /// A message naming the expected shape and what arrived.
    fn from_wire(value: Value) -> Result<Self, String>;

    /// Decodes the JSON value `json` reads, as [`from_wire`](Self::from_wire) decodes it:
    /// through a [`Value`] unless the type reads the JSON itself (a generated struct takes its
    /// fields straight from the text, with `Fields::from_json`).
    /// The outer error is the JSON's, the inner one the decoding's.
    ///
    /// # Errors
    /// The deserializer's error when the text is no JSON value.
    fn from_json<'de, D: Deserializer<'de>>(json: D) -> Result<Result<Self, String>, D::Error> {
        Value::deserialize(json).map(Self::from_wire)
    }
}

/// `deserialize_with` target of generated fields: decodes `T` through [`WireDecode`].
///
/// # Errors
/// The deserializer's error, carrying [`WireDecode::from_wire`]'s message.
pub fn decode<'de, D: Deserializer<'de>, T: WireDecode>(deserializer: D) -> Result<T, D::Error> {
    T::from_json(deserializer)?.map_err(D::Error::custom)
}

/// A short description of a value for error messages (never the whole of a large value).
pub(crate) fn describe(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(40) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
}

impl WireDecode for String {
    fn from_wire(value: Value) -> Result<Self, String> {
        match value {
            Value::String(text) => Ok(text),
            Value::Number(number) => Ok(number.to_string()),
            other => Err(format!("expected a string, got {}", describe(&other))),
        }
    }
}

/// PHP truthiness of the spellings the portal uses for booleans.
pub(crate) fn lenient_bool(value: &Value) -> Result<bool, String> {
    match value {
        Value::Bool(flag) => Ok(*flag),
        Value::Number(number) if number.as_f64() == Some(0.0) => Ok(false),
        Value::Number(number) if number.as_f64() == Some(1.0) => Ok(true),
        Value::String(text) => match text.trim().to_ascii_lowercase().as_str() {
            "1" | "y" | "true" => Ok(true),
            "0" | "n" | "false" | "" => Ok(false),
            _ => Err(format!("expected a boolean, got {}", describe(value))),
        },
        other => Err(format!("expected a boolean, got {}", describe(other))),
    }
}

impl WireDecode for bool {
    fn from_wire(value: Value) -> Result<Self, String> {
        lenient_bool(&value)
    }
}

/// An integer given as a JSON number (integral) or a numeric string.
pub(crate) fn lenient_i64(value: &Value) -> Result<i64, String> {
    let parsed = match value {
        Value::Number(number) => number.as_i64().or_else(|| {
            number
                .as_f64()
                .filter(|float| float.fract() == 0.0 && float.abs() < 9.0e15)
                // Checked just above: integral and well inside i64.
                .map(|float| float as i64)
        }),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    };
    parsed.ok_or_else(|| format!("expected an integer, got {}", describe(value)))
}

impl WireDecode for i64 {
    fn from_wire(value: Value) -> Result<Self, String> {
        lenient_i64(&value)
    }
}

impl WireDecode for u64 {
    fn from_wire(value: Value) -> Result<Self, String> {
        let parsed = match &value {
            Value::Number(number) => number.as_u64(),
            Value::String(text) => text.trim().parse().ok(),
            _ => None,
        };
        parsed.ok_or_else(|| format!("expected a non-negative integer, got {}", describe(&value)))
    }
}

impl WireDecode for f64 {
    fn from_wire(value: Value) -> Result<Self, String> {
        let parsed = match &value {
            Value::Number(number) => number.as_f64(),
            Value::String(text) => text.trim().parse().ok(),
            _ => None,
        };
        parsed.ok_or_else(|| format!("expected a number, got {}", describe(&value)))
    }
}

impl WireDecode for Value {
    fn from_wire(value: Value) -> Result<Self, String> {
        Ok(value)
    }
}

impl<T: WireDecode> WireDecode for Option<T> {
    /// `null` is `None`; so is an empty string that `T` cannot read (forms send `key=` for
    /// nothing) and a `false` that `T` cannot read (PHP's "nothing", e.g.
    /// `imopenlines.config.get` for an unknown line); an `Option<bool>` keeps `false`.
    fn from_wire(value: Value) -> Result<Self, String> {
        match value {
            Value::Null => Ok(None),
            Value::String(text) if text.is_empty() => Ok(T::from_wire(Value::String(text)).ok()),
            Value::Bool(false) => Ok(T::from_wire(Value::Bool(false)).ok()),
            other => T::from_wire(other).map(Some),
        }
    }
}

/// The items of a PHP list: a JSON array, or an object when the keys are not `0..n`
/// (ordered by numeric key, then by key).
pub(crate) fn list_items(value: Value) -> Result<Vec<Value>, String> {
    match value {
        Value::Array(items) => Ok(items),
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|(left, _), (right, _)| {
                match (left.parse::<u64>(), right.parse::<u64>()) {
                    (Ok(left), Ok(right)) => left.cmp(&right),
                    _ => left.cmp(right),
                }
            });
            Ok(entries.into_iter().map(|(_, value)| value).collect())
        }
        other => Err(format!("expected a list, got {}", describe(&other))),
    }
}

impl<T: WireDecode> WireDecode for Vec<T> {
    fn from_wire(value: Value) -> Result<Self, String> {
        list_items(value)?
            .into_iter()
            .enumerate()
            .map(|(index, item)| T::from_wire(item).map_err(|error| format!("[{index}]: {error}")))
            .collect()
    }
}

/// The entries of a PHP map: a JSON object, or an array (empty when PHP had nothing, indexed
/// when the keys happened to be `0..n`).
pub(crate) fn map_entries(value: Value) -> Result<Vec<(String, Value)>, String> {
    match value {
        Value::Object(map) => Ok(map.into_iter().collect()),
        Value::Array(items) => Ok(items
            .into_iter()
            .enumerate()
            .map(|(index, item)| (index.to_string(), item))
            .collect()),
        Value::Null => Ok(Vec::new()),
        other => Err(format!("expected an object, got {}", describe(&other))),
    }
}

impl<T: WireDecode> WireDecode for BTreeMap<String, T> {
    fn from_wire(value: Value) -> Result<Self, String> {
        map_entries(value)?
            .into_iter()
            .map(|(key, item)| {
                T::from_wire(item)
                    .map(|item| (key.clone(), item))
                    .map_err(|error| format!("[{key:?}]: {error}"))
            })
            .collect()
    }
}

impl<T: WireDecode> WireDecode for BTreeMap<usize, T> {
    /// Items keyed by their position: a JSON list (keys `0..n`), or an object keyed by
    /// position when PHP dropped some (`{"1": ...}`); `[]` or `null` for none.
    fn from_wire(value: Value) -> Result<Self, String> {
        map_entries(value)?
            .into_iter()
            .map(|(key, item)| {
                let index = key
                    .parse::<usize>()
                    .map_err(|_| format!("expected a position as key, got {key:?}"))?;
                T::from_wire(item)
                    .map(|item| (index, item))
                    .map_err(|error| format!("[{index}]: {error}"))
            })
            .collect()
    }
}

/// Implements [`WireDecode`] through the type's own `Deserialize` (already lenient).
macro_rules! wire_decode_via_serde {
    ($($ty:ty),* $(,)?) => {
        $(impl $crate::wire::WireDecode for $ty {
            fn from_wire(value: serde_json::Value) -> Result<Self, String> {
                serde_json::from_value(value).map_err(|error| error.to_string())
            }
        })*
    };
}
pub(crate) use wire_decode_via_serde;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_accept_numbers_and_booleans_accept_php_spellings() {
        assert_eq!(String::from_wire(json!(585)).unwrap(), "585");
        for (value, expected) in [
            (json!(true), true),
            (json!(1), true),
            (json!("1"), true),
            (json!("Y"), true),
            (json!("true"), true),
            (json!(false), false),
            (json!(0), false),
            (json!("0"), false),
            (json!("N"), false),
            (json!("false"), false),
        ] {
            assert_eq!(bool::from_wire(value.clone()).unwrap(), expected, "{value}");
        }
        assert!(bool::from_wire(json!("maybe")).is_err());
        assert!(bool::from_wire(json!([])).is_err());
    }

    #[test]
    fn integers_accept_numeric_strings_and_reject_the_rest() {
        assert_eq!(i64::from_wire(json!("107")).unwrap(), 107);
        assert_eq!(i64::from_wire(json!(107.0)).unwrap(), 107);
        assert_eq!(u64::from_wire(json!(" 12 ")).unwrap(), 12);
        assert!(i64::from_wire(json!("12abc")).is_err());
        assert!(i64::from_wire(json!(1.5)).is_err());
        assert!(u64::from_wire(json!(-1)).is_err());
        assert_eq!(f64::from_wire(json!("0.25")).unwrap(), 0.25);
    }

    #[test]
    fn options_read_null_and_empty_form_values_as_none() {
        assert_eq!(Option::<i64>::from_wire(Value::Null).unwrap(), None);
        assert_eq!(Option::<i64>::from_wire(json!("")).unwrap(), None);
        assert_eq!(
            Option::<String>::from_wire(json!("")).unwrap(),
            Some(String::new())
        );
        assert!(Option::<i64>::from_wire(json!("x")).is_err());
        assert_eq!(Option::<Vec<i64>>::from_wire(json!(false)).unwrap(), None);
        assert_eq!(
            Option::<bool>::from_wire(json!(false)).unwrap(),
            Some(false)
        );
    }

    #[test]
    fn positional_maps_keep_each_items_position() {
        let dense: BTreeMap<usize, String> = BTreeMap::from_wire(json!(["a", 7])).unwrap();
        assert_eq!(
            dense,
            BTreeMap::from([(0, "a".to_owned()), (1, "7".to_owned())])
        );
        let sparse: BTreeMap<usize, i64> = BTreeMap::from_wire(json!({"10": 3, "1": "2"})).unwrap();
        assert_eq!(sparse, BTreeMap::from([(1, 2), (10, 3)]));
        assert!(BTreeMap::<usize, i64>::from_wire(json!([]))
            .unwrap()
            .is_empty());
        let error = BTreeMap::<usize, i64>::from_wire(json!({"x": 1})).unwrap_err();
        assert!(error.contains("position"), "{error}");
    }

    #[test]
    fn lists_and_maps_accept_the_other_php_array_shape() {
        let sparse = json!({"3": "c", "1": "a", "10": "d"});
        assert_eq!(Vec::<String>::from_wire(sparse).unwrap(), ["a", "c", "d"]);
        let empty: BTreeMap<String, String> = BTreeMap::from_wire(json!([])).unwrap();
        assert!(empty.is_empty());
        let error = Vec::<i64>::from_wire(json!([1, "x"])).unwrap_err();
        assert!(error.starts_with("[1]: expected an integer"), "{error}");
    }
}
