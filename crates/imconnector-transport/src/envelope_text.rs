//! The common success envelope read straight from the body's text: `result` kept as text for
//! the caller's type, `time` read leniently into [`Time`], and no `serde_json::Value` tree
//! built on the way. Whatever this fast path does not accept (an `error` member, a duplicate
//! member, a body or `time` that is not an object, bad JSON) goes to the general path in
//! [`answer`](crate::answer), so both agree on every answer they both read.

use std::fmt;

use serde::{
    de::{IgnoredAny, MapAccess, SeqAccess, Visitor},
    Deserialize, Deserializer,
};
use serde_json::{value::RawValue, Value};

use crate::envelope::{lenient_u64, Response, TextResponse, Time};

/// The members of an envelope that matter, as text borrowed from the body. Each is `Some` when
/// present, even as `null` (`"result": null` is a result).
#[derive(Deserialize)]
struct Members<'a> {
    #[serde(borrow, default, deserialize_with = "present")]
    result: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    error: Option<&'a RawValue>,
    /// Read in the same pass (see [`TimeObject`]).
    #[serde(default)]
    time: Option<TimeObject>,
    #[serde(borrow, default, deserialize_with = "present")]
    total: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    next: Option<&'a RawValue>,
}

fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(deserializer).map(Some)
}

/// A success envelope (`result` and no `error`), or `None` for the general path.
pub(crate) fn read_success(body: &[u8]) -> Option<TextResponse> {
    // serde reads a struct from a JSON array too: only an object is an envelope.
    if body.trim_ascii_start().first() != Some(&b'{') {
        return None;
    }
    let Members {
        result: Some(result),
        error: None,
        time,
        total,
        next,
    } = serde_json::from_slice::<Members<'_>>(body).ok()?
    else {
        return None;
    };
    let number = |raw: Option<&RawValue>| -> Option<u64> {
        lenient_u64(&serde_json::from_str::<Value>(raw?.get()).ok()?)
    };
    Some(Response {
        result: result.to_owned(),
        time: time
            .and_then(|TimeObject(time)| time)
            .map(WireTime::into_time),
        total: number(total),
        next: number(next),
    })
}

/// The envelope's `time` member, read in the envelope's pass exactly as [`Time::from_value`]
/// reads it: an object gives a [`Time`] (a member given twice: the last one, as a parsed map
/// keeps it), anything else none.
struct TimeObject(Option<WireTime>);

impl<'de> Deserialize<'de> for TimeObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TimeObjectVisitor)
    }
}

struct TimeObjectVisitor;

impl<'de> Visitor<'de> for TimeObjectVisitor {
    type Value = TimeObject;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> Result<Self::Value, A::Error> {
        let mut time = WireTime::default();
        while let Some(member) = entries.next_key::<TimeMember>()? {
            match member {
                TimeMember::Start => time.start = entries.next_value()?,
                TimeMember::Finish => time.finish = entries.next_value()?,
                TimeMember::Duration => time.duration = entries.next_value()?,
                TimeMember::Processing => time.processing = entries.next_value()?,
                TimeMember::DateStart => time.date_start = entries.next_value()?,
                TimeMember::DateFinish => time.date_finish = entries.next_value()?,
                TimeMember::OperatingResetAt => time.operating_reset_at = entries.next_value()?,
                TimeMember::Operating => time.operating = entries.next_value()?,
                TimeMember::Other => {
                    entries.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(TimeObject(Some(time)))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(TimeObject(None))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(TimeObject(None))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(TimeObject(None))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(TimeObject(None))
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(TimeObject(None))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(TimeObject(None))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Self::Value, A::Error> {
        while items.next_element::<IgnoredAny>()?.is_some() {}
        Ok(TimeObject(None))
    }
}

/// A member name of the `time` block, read without allocating.
enum TimeMember {
    Start,
    Finish,
    Duration,
    Processing,
    DateStart,
    DateFinish,
    OperatingResetAt,
    Operating,
    Other,
}

impl<'de> Deserialize<'de> for TimeMember {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_identifier(TimeMemberVisitor)
    }
}

struct TimeMemberVisitor;

impl Visitor<'_> for TimeMemberVisitor {
    type Value = TimeMember;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a member name")
    }
    fn visit_str<E>(self, name: &str) -> Result<Self::Value, E> {
        Ok(match name {
            "start" => TimeMember::Start,
            "finish" => TimeMember::Finish,
            "duration" => TimeMember::Duration,
            "processing" => TimeMember::Processing,
            "date_start" => TimeMember::DateStart,
            "date_finish" => TimeMember::DateFinish,
            "operating_reset_at" => TimeMember::OperatingResetAt,
            "operating" => TimeMember::Operating,
            _ => TimeMember::Other,
        })
    }
}

/// The `time` block's members, each read as leniently as [`Time::from_value`] reads it.
#[derive(Default)]
struct WireTime {
    start: Lenient<f64>,
    finish: Lenient<f64>,
    duration: Lenient<f64>,
    processing: Lenient<f64>,
    date_start: Lenient<String>,
    date_finish: Lenient<String>,
    operating_reset_at: Lenient<f64>,
    operating: Lenient<f64>,
}

impl WireTime {
    fn into_time(self) -> Time {
        Time {
            start: self.start.0,
            finish: self.finish.0,
            duration: self.duration.0,
            processing: self.processing.0,
            date_start: self.date_start.0,
            date_finish: self.date_finish.0,
            // Truncation is intended, as in `Time::from_value`.
            #[allow(clippy::cast_possible_truncation)]
            operating_reset_at: self.operating_reset_at.0.map(|seconds| seconds as i64),
            operating: self.operating.0,
        }
    }
}

/// A member that reads as `None` when it has another type: a number or a numeric string for
/// `f64` (as `lenient_f64`), a string for `String` (as `Value::as_str`).
struct Lenient<T>(Option<T>);

impl<T> Default for Lenient<T> {
    fn default() -> Self {
        Self(None)
    }
}

/// How a [`Lenient`] member takes each JSON type.
trait LenientKind: Sized {
    fn from_number(number: f64) -> Option<Self>;
    fn from_text(text: &str) -> Option<Self>;
}

impl LenientKind for f64 {
    fn from_number(number: f64) -> Option<Self> {
        Some(number)
    }
    fn from_text(text: &str) -> Option<Self> {
        text.trim().parse().ok()
    }
}

impl LenientKind for String {
    fn from_number(_: f64) -> Option<Self> {
        None
    }
    fn from_text(text: &str) -> Option<Self> {
        Some(text.to_owned())
    }
}

impl<'de, T: LenientKind> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LenientVisitor(std::marker::PhantomData))
    }
}

struct LenientVisitor<T>(std::marker::PhantomData<T>);

// Precision loss matches `serde_json::Number::as_f64`, which the general path uses.
#[allow(clippy::cast_precision_loss)]
impl<'de, T: LenientKind> Visitor<'de> for LenientVisitor<T> {
    type Value = Lenient<T>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Lenient(None))
    }
    fn visit_i64<E>(self, number: i64) -> Result<Self::Value, E> {
        Ok(Lenient(T::from_number(number as f64)))
    }
    fn visit_u64<E>(self, number: u64) -> Result<Self::Value, E> {
        Ok(Lenient(T::from_number(number as f64)))
    }
    fn visit_f64<E>(self, number: f64) -> Result<Self::Value, E> {
        Ok(Lenient(T::from_number(number)))
    }
    fn visit_str<E>(self, text: &str) -> Result<Self::Value, E> {
        Ok(Lenient(T::from_text(text)))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Lenient(None))
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Lenient(None))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Self::Value, A::Error> {
        while items.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Lenient(None))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> Result<Self::Value, A::Error> {
        while entries.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Lenient(None))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The fast reading of `time` gives what `Time::from_value` gives, odd types included.
    #[test]
    fn time_reads_as_the_general_path_does() {
        let blocks = [
            json!({"start": 1738065600.11, "finish": "1738065600.18 ", "duration": 0.07,
                   "processing": {"x": [1]}, "date_start": "2025-01-28T12:00:00+00:00",
                   "date_finish": 5, "operating": "0.5", "operating_reset_at": 1738066200.9}),
            json!({"start": null, "finish": true, "duration": [], "date_start": null,
                   "operating_reset_at": "1738066200", "other": {"a": 1}}),
            json!({}),
            json!({"start": u64::MAX, "finish": -5, "operating": "nope"}),
        ];
        for block in blocks {
            let body =
                serde_json::to_vec(&json!({"result": 1, "time": block})).expect("serialises");
            let read = read_success(&body).expect("a success envelope");
            assert_eq!(read.time, Time::from_value(&block), "{block}");
        }
    }

    /// Bodies the fast path leaves to the general path.
    #[test]
    fn only_plain_success_envelopes_are_read_here() {
        assert!(read_success(br#" {"result": null, "time": {"start": 1}}"#).is_some());
        assert!(read_success(br#"[{"x": 1}, 2]"#).is_none());
        assert!(read_success(br#"{"result": 1, "error": ""}"#).is_none());
        assert!(read_success(br#"{"result": 1, "result": 2}"#).is_none());
        assert!(read_success(br#"{"total": 1}"#).is_none());
        assert!(read_success(br#"{"result": 1} x"#).is_none());
        // A `time` of any shape is read here, as the general path reads it: not an object, none;
        // a member twice, the last.
        assert!(
            read_success(br#"{"result": 1, "time": [1]}"#).is_some_and(|read| read.time.is_none())
        );
        assert!(read_success(br#"{"result": 1, "time": false}"#)
            .is_some_and(|read| read.time.is_none()));
        assert_eq!(
            read_success(br#"{"result": 1, "time": {"start": 1, "start": 2}}"#)
                .and_then(|read| read.time)
                .and_then(|time| time.start),
            Some(2.0)
        );
        assert!(
            read_success(br#"{"result": 1, "time": null}"#).is_some_and(|read| read.time.is_none())
        );
    }
}
