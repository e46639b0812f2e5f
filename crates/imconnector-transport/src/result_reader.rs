//! A typed call's `result` read in the pass that reads the envelope: the body is read once,
//! with no copy of the `result`'s text and no second parser over it. The dispatch stays one
//! non-generic body: it holds the reader as a trait object.

use std::marker::PhantomData;

use serde::de::{DeserializeSeed, Deserializer, Error as _};

use crate::{
    envelope::{Response, TextResponse},
    envelope_text::read_success_with,
    method::Method,
};

/// Reads the `result` of a plain success envelope as its caller wants it.
pub(crate) trait ResultReader: Send {
    /// Reads `body` when it is a plain success envelope whose `result` this reader accepts,
    /// keeping the `result`; returns the envelope's metadata, or `None` to leave the body to
    /// the general path (which also says why a `result` was refused).
    fn read_success(&mut self, body: &[u8]) -> Option<Response<()>>;
}

/// A success as the dispatch hands it on.
pub(crate) enum Success {
    /// The call's [`ResultReader`] read the `result`, and holds it; the metadata around it.
    Read(Response<()>),
    /// The `result` as text: read by the general path, or for a call with no reader.
    Text(TextResponse),
}

/// The reader of a typed call: `M`'s one decoder, run on the `result` where it stands in the
/// body.
pub(crate) struct MethodResult<M: Method> {
    pub(crate) result: Option<M::Response>,
    method: PhantomData<fn() -> M>,
}

impl<M: Method> MethodResult<M> {
    pub(crate) fn new() -> Self {
        Self {
            result: None,
            method: PhantomData,
        }
    }
}

impl<M: Method> ResultReader for MethodResult<M> {
    fn read_success(&mut self, body: &[u8]) -> Option<Response<()>> {
        let response = read_success_with(body, MethodSeed::<M>(PhantomData))?;
        self.result = Some(response.result);
        Some(Response {
            result: (),
            time: response.time,
            total: response.total,
            next: response.next,
        })
    }
}

/// `M`'s decoder as a seed of the envelope's `result` member.
struct MethodSeed<M>(PhantomData<fn() -> M>);

impl<'de, M: Method> DeserializeSeed<'de> for MethodSeed<M> {
    type Value = M::Response;

    fn deserialize<D: Deserializer<'de>>(self, result: D) -> Result<Self::Value, D::Error> {
        // A soft error or an odd `result` stops the pass; the general path reads the body again
        // and turns it into the precise error, with a snippet.
        M::decode_response(result).map_err(|_| D::Error::custom("left to the general path"))
    }
}

impl Success {
    /// The envelope's `time` block.
    pub(crate) fn time(&self) -> Option<&crate::envelope::Time> {
        match self {
            Success::Read(response) => response.time.as_ref(),
            Success::Text(response) => response.time.as_ref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserializer, Serialize};

    use super::*;
    use crate::{
        envelope_text::read_success,
        method::{decode_with_serde, AuthKind, ResultError},
    };

    /// A method whose `result` is a whole number.
    #[derive(Serialize)]
    struct Count;

    impl Method for Count {
        const NAME: &'static str = "test.count";
        const AUTH: AuthKind = AuthKind::OAuthOnly;
        const IDEMPOTENT: bool = true;
        type Response = u64;

        fn decode_response<'de, D: Deserializer<'de>>(result: D) -> Result<u64, ResultError> {
            decode_with_serde(result)
        }
    }

    fn read(body: &str) -> Option<Response<u64>> {
        let mut reader = MethodResult::<Count>::new();
        let meta = reader.read_success(body.as_bytes())?;
        Some(meta.map(|()| reader.result.expect("a read result is kept")))
    }

    /// What the two-pass reading gives: the envelope with the `result` as text, then the text
    /// decoded.
    fn read_in_two_passes(body: &str) -> Option<Response<u64>> {
        let text = read_success(body.as_bytes())?;
        let result = serde_json::from_str(text.result.get()).ok()?;
        Some(text.map(|_| result))
    }

    #[test]
    fn the_result_is_read_in_the_envelopes_pass_as_two_passes_read_it() {
        let bodies = [
            r#"{"result": 7}"#,
            r#"{"time": {"start": 1738065600.5, "date_start": "2025-01-28T12:00:00+00:00",
                "operating": "0.5"}, "result": 7, "total": "12", "next": 50}"#,
            r#" {"result": 7, "time": [1], "total": null, "other": {"x": [1, 2]}}"#,
        ];
        for body in bodies {
            let read = read(body);
            assert!(read.is_some(), "{body}");
            assert_eq!(read, read_in_two_passes(body), "{body}");
        }
        let meta = read(bodies[1]).expect("a success");
        assert_eq!(
            (meta.result, meta.total, meta.next),
            (7, Some(12), Some(50))
        );
        assert_eq!(meta.time.and_then(|time| time.operating), Some(0.5));
    }

    /// What this pass does not take is left to the general path, which says what it is: an
    /// error after a `result` that decodes, a `result` given twice, one the decoder refuses.
    #[test]
    fn anything_but_a_plain_success_is_left_to_the_general_path() {
        for body in [
            r#"{"result": 7, "error": "QUERY_LIMIT_EXCEEDED"}"#,
            r#"{"error": "", "result": 7}"#,
            r#"{"result": 7, "result": 8}"#,
            r#"{"result": 7, "time": {}, "time": {}}"#,
            r#"{"result": "seven"}"#,
            r#"{"time": {"start": 1}}"#,
            r#"{"result": 7} {"#,
            r#"[7]"#,
        ] {
            assert_eq!(read(body), None, "{body}");
        }
    }
}
