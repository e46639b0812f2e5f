//! The common success envelope read straight from the body's text, in one pass: `result`
//! through the caller's reader (a typed call's decoder, or kept as text), `time` read leniently
//! into [`Time`], and no `serde_json::Value` tree built for the envelope. Whatever this fast
//! path does not accept (an `error` member, a member given twice, a body or `time` that is not
//! an object, bad JSON, a `result` its reader refuses) goes to the general path in
//! [`answer`](crate::answer), so both agree on every answer they both read.

use std::{borrow::Cow, fmt, marker::PhantomData};

use serde::{
    de::{DeserializeSeed, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor},
    Deserialize, Deserializer,
};
use serde_json::{value::RawValue, Value};

use crate::envelope::{lenient_u64, Response, TextResponse, Time};

/// A success envelope (`result` and no `error`) with its `result` kept as text, or `None` for
/// the general path.
pub(crate) fn read_success(body: &[u8]) -> Option<TextResponse> {
    read_success_with(body, PhantomData::<&RawValue>)
        .map(|response| response.map(|result| result.to_owned()))
}

/// A success envelope (`result` and no `error`) with its `result` read by `result`, or `None`
/// for the general path (also when `result` fails: the general path says why).
pub(crate) fn read_success_with<'de, S: DeserializeSeed<'de>>(
    body: &'de [u8],
    result: S,
) -> Option<Response<S::Value>> {
    // serde reads a map from nothing but an object, but a failure costs more than this look.
    if body.trim_ascii_start().first() != Some(&b'{') {
        return None;
    }
    let mut reader = serde_json::Deserializer::from_slice(body);
    let response = reader.deserialize_map(EnvelopeVisitor(result)).ok()?;
    reader.end().ok()?;
    Some(response)
}

/// Reads the members of an envelope, failing (to leave it to the general path) on an `error`
/// member, a member that matters given twice, or no `result`.
struct EnvelopeVisitor<S>(S);

impl<'de, S: DeserializeSeed<'de>> Visitor<'de> for EnvelopeVisitor<S> {
    type Value = Response<S::Value>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a success envelope")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<Self::Value, A::Error> {
        let mut seed = Some(self.0);
        let mut result = None;
        let mut time: Option<TimeObject> = None;
        let mut total: Option<Value> = None;
        let mut next: Option<Value> = None;
        let twice = || A::Error::custom("a member given twice");
        while let Some(member) = members.next_key::<EnvelopeMember>()? {
            match member {
                EnvelopeMember::Result => {
                    let seed = seed.take().ok_or_else(twice)?;
                    result = Some(members.next_value_seed(seed)?);
                }
                EnvelopeMember::Error => return Err(A::Error::custom("an error envelope")),
                EnvelopeMember::Time if time.is_none() => time = Some(members.next_value()?),
                EnvelopeMember::Total if total.is_none() => total = Some(members.next_value()?),
                EnvelopeMember::Next if next.is_none() => next = Some(members.next_value()?),
                EnvelopeMember::Time | EnvelopeMember::Total | EnvelopeMember::Next => {
                    return Err(twice())
                }
                EnvelopeMember::Other => {
                    members.next_value::<IgnoredAny>()?;
                }
            }
        }
        let result = result.ok_or_else(|| A::Error::missing_field("result"))?;
        Ok(Response {
            result,
            time: time.and_then(|TimeObject(time)| time),
            total: total.as_ref().and_then(lenient_u64),
            next: next.as_ref().and_then(lenient_u64),
        })
    }
}

/// A member name of the envelope, read without allocating.
enum EnvelopeMember {
    Result,
    Error,
    Time,
    Total,
    Next,
    Other,
}

impl<'de> Deserialize<'de> for EnvelopeMember {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_identifier(EnvelopeMemberVisitor)
    }
}

struct EnvelopeMemberVisitor;

impl Visitor<'_> for EnvelopeMemberVisitor {
    type Value = EnvelopeMember;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a member name")
    }
    fn visit_str<E>(self, name: &str) -> Result<Self::Value, E> {
        Ok(match name {
            "result" => EnvelopeMember::Result,
            "error" => EnvelopeMember::Error,
            "time" => EnvelopeMember::Time,
            "total" => EnvelopeMember::Total,
            "next" => EnvelopeMember::Next,
            _ => EnvelopeMember::Other,
        })
    }
}

/// The envelope's `time` member, read in the envelope's pass exactly as [`Time::from_value`]
/// reads it: an object gives a [`Time`] (a member given twice: the last one, as a parsed map
/// keeps it), anything else none.
struct TimeObject(Option<Time>);

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
        let mut time = Time::default();
        while let Some(member) = entries.next_key::<TimeMember>()? {
            // Every member's value is read at this one place, as one kind of value: this block
            // comes with every answer, and each further place would add its own copy of the
            // parser's code to what every call runs.
            let value: Scalar<'de> = entries.next_value()?;
            match member {
                TimeMember::Start => time.start = value.number(),
                TimeMember::Finish => time.finish = value.number(),
                TimeMember::Duration => time.duration = value.number(),
                TimeMember::Processing => time.processing = value.number(),
                TimeMember::DateStart => time.date_start = value.text(),
                TimeMember::DateFinish => time.date_finish = value.text(),
                // Truncation is intended, as in `Time::from_value`.
                #[allow(clippy::cast_possible_truncation)]
                TimeMember::OperatingResetAt => {
                    time.operating_reset_at = value.number().map(|seconds| seconds as i64);
                }
                TimeMember::Operating => time.operating = value.number(),
                TimeMember::Other => {}
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

/// A member of the `time` block, read as leniently as [`Time::from_value`] reads it: a number
/// or a numeric string for a number (as `lenient_f64`), a string for a text (as
/// `Value::as_str`), anything else as neither.
enum Scalar<'de> {
    Number(f64),
    Text(Cow<'de, str>),
    Other,
}

impl Scalar<'_> {
    fn number(self) -> Option<f64> {
        match self {
            Scalar::Number(number) => Some(number),
            Scalar::Text(text) => text.trim().parse().ok(),
            Scalar::Other => None,
        }
    }

    fn text(self) -> Option<String> {
        match self {
            Scalar::Text(text) => Some(text.into_owned()),
            Scalar::Number(_) | Scalar::Other => None,
        }
    }
}

impl<'de> Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

// Precision loss matches `serde_json::Number::as_f64`, which the general path uses.
#[allow(clippy::cast_precision_loss)]
impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar<'de>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Scalar::Other)
    }
    fn visit_i64<E>(self, number: i64) -> Result<Self::Value, E> {
        Ok(Scalar::Number(number as f64))
    }
    fn visit_u64<E>(self, number: u64) -> Result<Self::Value, E> {
        Ok(Scalar::Number(number as f64))
    }
    fn visit_f64<E>(self, number: f64) -> Result<Self::Value, E> {
        Ok(Scalar::Number(number))
    }
    fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Self::Value, E> {
        Ok(Scalar::Text(Cow::Borrowed(text)))
    }
    fn visit_str<E>(self, text: &str) -> Result<Self::Value, E> {
        Ok(Scalar::Text(Cow::Owned(text.to_owned())))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Other)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Other)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Self::Value, A::Error> {
        while items.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> Result<Self::Value, A::Error> {
        while entries.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other)
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
            // Escaped texts are read through a copy, plain ones borrowed: both the same.
            json!({"date_start": "2025-01-28T12:00:00\"+00:00", "start": "\t1.5",
                   "date_finish": "plain"}),
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
