//! Reading an object field by field: what the generated [`WireDecode`] impls of structs and
//! events do.
//!
//! They used to go through the serde derive (`serde_json::from_value`), which, for a struct
//! that keeps unknown keys (`#[serde(flatten)]`), buffers every field once more and rebuilds
//! each nested value at each level. Taking the fields out of the map moves them instead.
//!
//! The fields are a list, read straight from the JSON text where a struct is read from it
//! ([`Fields::from_json`]): an object of a few members is searched as fast in a list, and
//! the object's B-tree, built only to be taken apart, is not built (what a typed call runs
//! shrinks by the B-tree's insert and remove code).

use std::fmt;

use serde::{
    de::{IgnoredAny, MapAccess, SeqAccess, Visitor},
    Deserializer,
};
use serde_json::{Map, Value};

use super::decode::WireDecode;

/// The fields of an object being decoded; each one taken is removed, the rest are unknown.
#[derive(Debug)]
pub struct Fields {
    /// Each name once (a name given twice keeps its last value, as an object's map does).
    entries: Vec<(String, Value)>,
}

impl Fields {
    /// The fields of `value`: an object, or PHP's empty array (`[]`) for an empty one.
    ///
    /// # Errors
    /// When `value` is anything else. The message names its kind only: the value may hold a
    /// token.
    pub fn of(value: Value) -> Result<Self, String> {
        match value {
            Value::Object(map) => Ok(Self {
                entries: map.into_iter().collect(),
            }),
            Value::Array(items) if items.is_empty() => Ok(Self {
                entries: Vec::new(),
            }),
            other => Err(not_an_object(kind(&other))),
        }
    }

    /// An event's `data`, decoded; a missing one reads as PHP's empty array (`[]`): a form
    /// drops an empty array entirely, so `data: []` (e.g. `ONOFFLINEEVENT`) arrives as no
    /// `data` at all. A type that needs fields still fails, naming them.
    ///
    /// # Errors
    /// The decoding error prefixed with `data`.
    pub fn event_data<T: WireDecode>(&mut self) -> Result<T, String> {
        let value = self.remove("data").unwrap_or(Value::Array(Vec::new()));
        T::from_wire(value).map_err(|error| at("data", &error))
    }

    /// The field `key`, which must be there, decoded.
    ///
    /// # Errors
    /// `missing field`, or the decoding error prefixed with the key.
    pub fn required<T: WireDecode>(&mut self, key: &str) -> Result<T, String> {
        let value = self
            .remove(key)
            .ok_or_else(|| format!("missing field `{key}`"))?;
        T::from_wire(value).map_err(|error| at(key, &error))
    }

    /// The field `key` decoded, `None` when it is missing (or as [`Option`]'s
    /// [`WireDecode`] reads it: `null`, or an empty string `T` cannot read).
    ///
    /// # Errors
    /// The decoding error prefixed with the key.
    pub fn optional<T: WireDecode>(&mut self, key: &str) -> Result<Option<T>, String> {
        match self.remove(key) {
            None => Ok(None),
            Some(value) => Option::<T>::from_wire(value).map_err(|error| at(key, &error)),
        }
    }

    /// Like [`optional`](Self::optional), for a field that also goes by `alias`.
    ///
    /// # Errors
    /// When both names are there (`duplicate field`), or as [`optional`](Self::optional).
    pub fn optional_aliased<T: WireDecode>(
        &mut self,
        key: &str,
        alias: &str,
    ) -> Result<Option<T>, String> {
        if self.contains(key) && self.contains(alias) {
            return Err(format!("duplicate field `{key}`"));
        }
        if self.contains(key) {
            self.optional(key)
        } else {
            self.optional(alias)
        }
    }

    /// The field `key` as sent, if it is there.
    pub fn take(&mut self, key: &str) -> Option<Value> {
        let at = self.entries.iter().position(|(name, _)| name == key)?;
        Some(self.entries.swap_remove(at).1)
    }

    fn contains(&self, key: &str) -> bool {
        self.entries.iter().any(|(name, _)| name == key)
    }

    /// Adds a member read from JSON text; a name given again replaces its value.
    fn put(&mut self, key: String, value: Value) {
        match self.entries.iter_mut().find(|(name, _)| *name == key) {
            Some((_, slot)) => *slot = value,
            None => self.entries.push((key, value)),
        }
    }

    /// The field `key`, or for `PARENT.CHILD` the field `CHILD` of the object `PARENT` (the
    /// answer nests what the type reads flat, e.g. `DATA.RESULT`); whatever else `PARENT`
    /// holds stays, so a type keeping unknown keys keeps it. A `PARENT` that is PHP's empty
    /// array holds nothing.
    fn remove(&mut self, key: &str) -> Option<Value> {
        let Some((parent, child)) = key.split_once('.') else {
            return self.take(key);
        };
        match self.take(parent)? {
            Value::Object(mut inner) => {
                let value = inner.remove(child);
                if !inner.is_empty() {
                    self.entries.push((parent.to_owned(), Value::Object(inner)));
                }
                value
            }
            Value::Array(items) if items.is_empty() => None,
            other => {
                self.entries.push((parent.to_owned(), other));
                None
            }
        }
    }

    /// The fields not taken: the keys the type does not model.
    pub fn into_rest(self) -> Map<String, Value> {
        self.entries.into_iter().collect()
    }

    /// The fields of the JSON value `json` reads, as [`of`](Self::of) takes them from a
    /// [`Value`], without building the object's `Value`. The outer error is the JSON's (bad
    /// text), the inner one [`of`](Self::of)'s (not an object).
    ///
    /// # Errors
    /// The deserializer's error when the text is no JSON value.
    pub fn from_json<'de, D: Deserializer<'de>>(json: D) -> Result<Result<Self, String>, D::Error> {
        json.deserialize_any(FieldsVisitor)
    }
}

/// A type read field by field from an object (every generated struct): its [`WireDecode`]
/// takes the fields from a [`Value`], or straight from JSON text without building the object's
/// `Value`.
pub trait FromFields: Sized {
    /// Reads the type from the object's fields: its one decoder, whichever way in.
    ///
    /// # Errors
    /// A message naming the field that is missing or does not decode.
    fn from_fields(fields: Fields) -> Result<Self, String>;
}

impl<T: FromFields> WireDecode for T {
    fn from_wire(value: Value) -> Result<Self, String> {
        T::from_fields(Fields::of(value)?)
    }

    fn from_json<'de, D: Deserializer<'de>>(json: D) -> Result<Result<Self, String>, D::Error> {
        Ok(Fields::from_json(json)?.and_then(T::from_fields))
    }
}

/// Reads an object's members into [`Fields`]; any other value is read whole and named.
struct FieldsVisitor;

impl<'de> Visitor<'de> for FieldsVisitor {
    type Value = Result<Fields, String>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<Self::Value, A::Error> {
        let mut fields = Fields {
            entries: Vec::with_capacity(members.size_hint().unwrap_or(0)),
        };
        while let Some((key, value)) = members.next_entry::<String, Value>()? {
            fields.put(key, value);
        }
        Ok(Ok(fields))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Self::Value, A::Error> {
        // PHP's empty array is an empty object; a list with items is no object.
        if items.next_element::<IgnoredAny>()?.is_none() {
            return Ok(Ok(Fields {
                entries: Vec::new(),
            }));
        }
        while items.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Err(not_an_object("a list")))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Err(not_an_object("a boolean")))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Err(not_an_object("a number")))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Err(not_an_object("a number")))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Err(not_an_object("a number")))
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Err(not_an_object("a string")))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Err(not_an_object("null")))
    }
}

fn not_an_object(kind: &str) -> String {
    format!("expected an object, got {kind}")
}

fn at(key: &str, error: &str) -> String {
    format!("`{key}`: {error}")
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_are_taken_once_and_the_rest_is_kept() {
        let mut fields = Fields::of(json!({"a": "7", "b": "", "eventId": 3, "z": 1})).unwrap();
        assert_eq!(fields.required::<i64>("a"), Ok(7));
        assert_eq!(fields.optional::<i64>("b"), Ok(None));
        assert_eq!(fields.optional::<i64>("c"), Ok(None));
        assert_eq!(
            fields.optional_aliased::<i64>("event_handler_id", "eventId"),
            Ok(Some(3))
        );
        assert_eq!(
            fields.required::<i64>("a"),
            Err("missing field `a`".to_owned())
        );
        assert_eq!(fields.into_rest(), *json!({"z": 1}).as_object().unwrap());
    }

    #[test]
    fn a_dotted_key_reads_inside_its_parent_and_keeps_the_rest() {
        let mut fields =
            Fields::of(json!({"DATA": {"RESULT": [1], "MORE": 2}, "EMPTY": [], "N": 1})).unwrap();
        assert_eq!(fields.required::<Vec<i64>>("DATA.RESULT"), Ok(vec![1]));
        assert_eq!(fields.optional::<Vec<i64>>("EMPTY.RESULT"), Ok(None));
        assert_eq!(fields.optional::<i64>("N.X"), Ok(None));
        assert_eq!(
            fields.into_rest(),
            *json!({"DATA": {"MORE": 2}, "N": 1}).as_object().unwrap()
        );
    }

    /// Fields read from the JSON text are the fields taken from its `Value`: a name given twice
    /// keeps its last value, PHP's empty array is an empty object, anything else is named.
    #[test]
    fn fields_read_from_json_text_are_those_of_its_value() {
        let read = |text: &str| {
            let mut reader = serde_json::Deserializer::from_str(text);
            Fields::from_json(&mut reader).unwrap()
        };
        for text in [
            r#"{"a": 1, "b": {"c": [2]}, "a": "3", "z": null}"#,
            "{}",
            "[]",
        ] {
            let value: Value = serde_json::from_str(text).unwrap();
            let from_text = read(text).unwrap();
            let from_value = Fields::of(value).unwrap();
            assert_eq!(from_text.into_rest(), from_value.into_rest(), "{text}");
        }
        let mut fields = read(r#"{"a": 1, "a": "2"}"#).unwrap();
        assert_eq!(fields.required::<i64>("a"), Ok(2));
        for (text, kind) in [
            ("[1, 2]", "a list"),
            (r#""831c-token""#, "a string"),
            ("7", "a number"),
            ("-7", "a number"),
            ("7.5", "a number"),
            ("true", "a boolean"),
            ("null", "null"),
        ] {
            assert_eq!(
                read(text).unwrap_err(),
                format!("expected an object, got {kind}"),
                "{text}"
            );
        }
        let mut broken = serde_json::Deserializer::from_str(r#"{"a": "#);
        assert!(Fields::from_json(&mut broken).is_err());
    }

    #[test]
    fn errors_name_the_key_and_never_echo_a_non_object() {
        let mut fields = Fields::of(json!({"n": "x", "a": 1, "b": 2})).unwrap();
        let error = fields.required::<i64>("n").unwrap_err();
        assert!(error.starts_with("`n`: expected an integer"), "{error}");
        assert_eq!(
            fields.optional_aliased::<i64>("a", "b"),
            Err("duplicate field `a`".to_owned())
        );
        let error = Fields::of(json!("831c-token")).unwrap_err();
        assert_eq!(error, "expected an object, got a string");
        assert!(Fields::of(json!([])).is_ok());
        assert!(Fields::of(json!([1])).is_err());
    }
}
