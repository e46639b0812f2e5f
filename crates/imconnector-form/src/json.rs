//! A JSON body read into a `serde_json::Value` within the parse's memory budget: the same
//! value `serde_json::from_slice` builds, with each string, list slot and map node charged
//! before it is allocated (`[0,0,...]` would otherwise take 24 times its size, nested
//! one-key objects 90 times).

use std::fmt;
use std::mem::size_of;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::limits::{printable, Budget, Limits};
use crate::tree::map_bytes;
use crate::FormError;

/// Parses `body` as JSON within `limits`' memory budget.
pub(crate) fn parse(body: &[u8], limits: Limits) -> Result<Value, FormError> {
    let mut budget = Budget::for_body(limits, body.len());
    // serde_json's scratch buffer for strings with escapes: at most twice the longest.
    let mut refused = budget.charge(2 * body.len()).err();
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let parsed = if refused.is_none() {
        Bounded {
            budget: &mut budget,
            refused: &mut refused,
        }
        .deserialize(&mut deserializer)
        .and_then(|value| deserializer.end().map(|()| value))
    } else {
        Err(de::Error::custom("over budget"))
    };
    match (parsed, refused) {
        (Ok(value), None) => Ok(value),
        (_, Some(error)) => Err(error),
        (Err(error), None) => Err(FormError::NotJson(printable(&error.to_string(), 200))),
    }
}

/// Builds one value, charging `budget` first; the first refusal is kept in `refused` (serde
/// only carries its own error type through the parser).
struct Bounded<'b> {
    budget: &'b mut Budget,
    refused: &'b mut Option<FormError>,
}

impl Bounded<'_> {
    fn charge<E: de::Error>(&mut self, bytes: usize) -> Result<(), E> {
        self.budget.charge(bytes).map_err(|error| {
            *self.refused = Some(error);
            E::custom("over the memory budget")
        })
    }

    fn child(&mut self) -> Bounded<'_> {
        Bounded {
            budget: self.budget,
            refused: self.refused,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Bounded<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Bounded<'_> {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        Ok(Number::from_f64(value).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(mut self, value: &str) -> Result<Value, E> {
        self.charge(value.len())?;
        Ok(Value::String(value.to_owned()))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<Value, A::Error> {
        let mut items: Vec<Value> = Vec::new();
        loop {
            if items.len() == items.capacity() {
                // Grown by hand so the budget sees each allocation first.
                // While the vector moves, the old buffer and the new one are both live.
                let (old, more) = (items.len(), items.len().max(4));
                self.charge((old + more) * size_of::<Value>())?;
                items.reserve_exact(more);
                self.budget.refund(old * size_of::<Value>());
            }
            match seq.next_element_seed(self.child())? {
                Some(item) => items.push(item),
                None => return Ok(Value::Array(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        // The key is charged by `visit_str` (serde_json reads keys as strings).
        while let Some(key) = access.next_key_seed(self.child())? {
            let key = match key {
                Value::String(key) => key,
                other => other.to_string(),
            };
            self.charge(map_bytes(map.len() + 1) - map_bytes(map.len()))?;
            let value = access.next_value_seed(self.child())?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}
