//! PHP array and object shapes: lists that turn into objects, maps that turn into `[]`,
//! objects that serialise as `{}`, `false` for nothing, and the nested `result.result`.

use std::collections::BTreeMap;
use std::ops::Deref;

use serde::{de::Error as _, Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::decode::{describe, lenient_bool, map_entries, WireDecode};
use super::{SoftErrorSource, Validate};
use crate::transport::{InvalidRequest, SoftError};

/// A PHP object without a JSON form (a `DateTime`, a `Result`), which the portal renders as
/// `{}`. It carries nothing; any value is accepted and it is sent back as `{}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct EmptyObject;

impl Serialize for EmptyObject {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serde_json::Map::new().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for EmptyObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(deserializer)?;
        Ok(Self)
    }
}

impl WireDecode for EmptyObject {
    fn from_wire(_value: Value) -> Result<Self, String> {
        Ok(Self)
    }
}

/// A PHP array that is a JSON list, or an object when its keys are sparse (`{"1": ...}`, say
/// after a failed item was dropped). Both shapes are kept as they came.
#[derive(Debug, Clone, PartialEq)]
pub enum ListOrMap<T> {
    /// A JSON array.
    List(Vec<T>),
    /// A JSON object keyed by index (or by name).
    Map(BTreeMap<String, T>),
}

impl<T> Default for ListOrMap<T> {
    fn default() -> Self {
        Self::List(Vec::new())
    }
}

impl<T> ListOrMap<T> {
    /// Number of items.
    pub fn len(&self) -> usize {
        match self {
            Self::List(items) => items.len(),
            Self::Map(items) => items.len(),
        }
    }

    /// No items.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The items: in list order, or by key with integer keys in numeric order (`"2"` before
    /// `"10"`, as PHP kept them) and any other keys after them.
    pub fn values(&self) -> Box<dyn Iterator<Item = &T> + '_> {
        match self {
            Self::List(items) => Box::new(items.iter()),
            Self::Map(items) => {
                let mut entries: Vec<(Option<u64>, &String, &T)> = items
                    .iter()
                    .map(|(key, item)| (key.parse::<u64>().ok(), key, item))
                    .collect();
                entries.sort_by(|(a_index, a_key, _), (b_index, b_key, _)| {
                    match (a_index, b_index) {
                        (Some(a), Some(b)) => a.cmp(b),
                        (Some(_), None) => std::cmp::Ordering::Less,
                        (None, Some(_)) => std::cmp::Ordering::Greater,
                        (None, None) => a_key.cmp(b_key),
                    }
                });
                Box::new(entries.into_iter().map(|(_, _, item)| item))
            }
        }
    }

    /// The item at `index` (a list position, or the key `"index"` of a map).
    pub fn get(&self, index: usize) -> Option<&T> {
        match self {
            Self::List(items) => items.get(index),
            Self::Map(items) => items.get(&index.to_string()),
        }
    }
}

impl<T: Serialize> Serialize for ListOrMap<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::List(items) => items.serialize(serializer),
            Self::Map(items) => items.serialize(serializer),
        }
    }
}

impl<T: WireDecode> WireDecode for ListOrMap<T> {
    fn from_wire(value: Value) -> Result<Self, String> {
        match value {
            Value::Object(_) => BTreeMap::from_wire(value).map(Self::Map),
            other => Vec::from_wire(other).map(Self::List),
        }
    }
}

impl<'de, T: WireDecode> Deserialize<'de> for ListOrMap<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::from_wire(Value::deserialize(deserializer)?).map_err(D::Error::custom)
    }
}

impl<T: Validate> Validate for ListOrMap<T> {
    fn validate_at(&self, path: &str) -> Result<(), InvalidRequest> {
        match self {
            Self::List(items) => items.validate_at(path),
            Self::Map(items) => items.validate_at(path),
        }
    }
}

/// A map that PHP renders as `[]` when it is empty (`DATA` of the status methods,
/// `result_error` of a batch).
#[derive(Debug, Clone, PartialEq)]
pub struct MapOrEmptyList<T>(BTreeMap<String, T>);

impl<T> Default for MapOrEmptyList<T> {
    fn default() -> Self {
        Self(BTreeMap::new())
    }
}

impl<T> MapOrEmptyList<T> {
    /// The map.
    pub fn into_inner(self) -> BTreeMap<String, T> {
        self.0
    }
}

impl<T> Deref for MapOrEmptyList<T> {
    type Target = BTreeMap<String, T>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<T> From<BTreeMap<String, T>> for MapOrEmptyList<T> {
    fn from(map: BTreeMap<String, T>) -> Self {
        Self(map)
    }
}

impl<T: Serialize> Serialize for MapOrEmptyList<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<T: WireDecode> WireDecode for MapOrEmptyList<T> {
    fn from_wire(value: Value) -> Result<Self, String> {
        // An array is accepted whole (indexed) so nothing the server sent is dropped.
        let entries = map_entries(value)?;
        BTreeMap::from_wire(Value::Object(entries.into_iter().collect())).map(Self)
    }
}

impl<'de, T: WireDecode> Deserialize<'de> for MapOrEmptyList<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::from_wire(Value::deserialize(deserializer)?).map_err(D::Error::custom)
    }
}

impl<T: Validate> Validate for MapOrEmptyList<T> {
    fn validate_at(&self, path: &str) -> Result<(), InvalidRequest> {
        self.0.validate_at(path)
    }
}

/// A value PHP sends as `false` when there is nothing (`imopenlines.config.get` for an
/// unknown line).
#[derive(Debug, Clone, PartialEq)]
pub struct FalseOr<T>(Option<T>);

impl<T> Default for FalseOr<T> {
    fn default() -> Self {
        Self(None)
    }
}

impl<T> FalseOr<T> {
    /// The value, `None` when the server sent `false`.
    pub fn into_option(self) -> Option<T> {
        self.0
    }

    /// A reference to the value, if there is one.
    pub fn as_option(&self) -> Option<&T> {
        self.0.as_ref()
    }
}

impl<T> From<Option<T>> for FalseOr<T> {
    fn from(value: Option<T>) -> Self {
        Self(value)
    }
}

impl<T: Serialize> Serialize for FalseOr<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Some(value) => value.serialize(serializer),
            None => serializer.serialize_bool(false),
        }
    }
}

impl<T: WireDecode> WireDecode for FalseOr<T> {
    fn from_wire(value: Value) -> Result<Self, String> {
        match value {
            Value::Bool(false) | Value::Null => Ok(Self(None)),
            other => T::from_wire(other).map(|value| Self(Some(value))),
        }
    }
}

impl<'de, T: WireDecode> Deserialize<'de> for FalseOr<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::from_wire(Value::deserialize(deserializer)?).map_err(D::Error::custom)
    }
}

/// The `result` of `imconnector.register` and `.unregister`: `{"result": true}`, or on
/// failure `{"result": false, "error": "NAME_REQUIRED", "error_description": "..."}` inside an
/// HTTP 200 answer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[non_exhaustive]
pub struct NestedResult {
    /// Whether the call did what it was asked.
    pub result: bool,
    /// The soft error's code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The soft error's (localised) description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

impl NestedResult {
    /// The code used when the portal says `result: false` without naming an error.
    pub const UNNAMED_ERROR_CODE: &'static str = "RESULT_FALSE";
}

impl SoftErrorSource for NestedResult {
    fn soft_error(&self) -> Option<SoftError> {
        let code = self.error.as_deref().filter(|code| !code.is_empty());
        if self.result && code.is_none() {
            return None;
        }
        Some(SoftError {
            code: code.unwrap_or(Self::UNNAMED_ERROR_CODE).to_owned(),
            description: self.error_description.clone().unwrap_or_default(),
        })
    }
}

impl WireDecode for NestedResult {
    fn from_wire(value: Value) -> Result<Self, String> {
        let Value::Object(map) = value else {
            return Err(format!(
                "expected an object with `result`, got {}",
                describe(&value)
            ));
        };
        let result = match map.get("result") {
            Some(flag) => lenient_bool(flag).map_err(|error| format!("result: {error}"))?,
            None => return Err("expected an object with `result`".to_owned()),
        };
        let text = |key: &str| {
            map.get(key)
                .cloned()
                .map(Option::<String>::from_wire)
                .transpose()
                .map(Option::flatten)
                .map_err(|error| format!("{key}: {error}"))
        };
        Ok(Self {
            result,
            error: text("error")?,
            error_description: text("error_description")?,
        })
    }
}

impl<'de> Deserialize<'de> for NestedResult {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::from_wire(Value::deserialize(deserializer)?).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn empty_object_accepts_anything_and_sends_braces() {
        let date: EmptyObject = serde_json::from_value(json!({"date": "2025"})).unwrap();
        assert_eq!(serde_json::to_value(date).unwrap(), json!({}));
    }

    #[test]
    fn list_or_map_keeps_the_shape_it_got() {
        let list: ListOrMap<String> = serde_json::from_value(json!([1, "2"])).unwrap();
        assert_eq!(list, ListOrMap::List(vec!["1".into(), "2".into()]));
        let ordered: ListOrMap<String> =
            serde_json::from_value(json!({"10": "c", "x": "d", "2": "b", "0": "a"})).unwrap();
        assert_eq!(ordered.values().collect::<Vec<_>>(), ["a", "b", "c", "d"]);
        let sparse: ListOrMap<String> = serde_json::from_value(json!({"1": 7})).unwrap();
        assert_eq!(sparse.len(), 1);
        assert_eq!(sparse.get(1).map(String::as_str), Some("7"));
        assert_eq!(serde_json::to_value(&sparse).unwrap(), json!({"1": "7"}));
        assert!(serde_json::from_value::<ListOrMap<String>>(json!("x")).is_err());
    }

    #[test]
    fn map_or_empty_list_reads_php_empty_arrays() {
        let empty: MapOrEmptyList<Value> = serde_json::from_value(json!([])).unwrap();
        assert!(empty.is_empty());
        let full: MapOrEmptyList<String> = serde_json::from_value(json!({"a": "b"})).unwrap();
        assert_eq!(full.get("a").map(String::as_str), Some("b"));
    }

    #[test]
    fn false_or_reads_false_as_nothing() {
        let none: FalseOr<String> = serde_json::from_value(json!(false)).unwrap();
        assert_eq!(none.as_option(), None);
        let some: FalseOr<String> = serde_json::from_value(json!("x")).unwrap();
        assert_eq!(some.into_option().as_deref(), Some("x"));
    }

    #[test]
    fn nested_result_reports_its_soft_error() {
        let ok: NestedResult = serde_json::from_value(json!({"result": true})).unwrap();
        assert_eq!(ok.soft_error(), None);
        let failed: NestedResult = serde_json::from_value(
            json!({"result": false, "error": "NAME_REQUIRED", "error_description": "Connector name is not specified"}),
        )
        .unwrap();
        assert_eq!(
            failed.soft_error(),
            Some(SoftError {
                code: "NAME_REQUIRED".into(),
                description: "Connector name is not specified".into()
            })
        );
        let bare: NestedResult = serde_json::from_value(json!({"result": "0"})).unwrap();
        assert_eq!(
            bare.soft_error().map(|error| error.code),
            Some("RESULT_FALSE".to_owned())
        );
        assert!(serde_json::from_value::<NestedResult>(json!(true)).is_err());
    }
}
