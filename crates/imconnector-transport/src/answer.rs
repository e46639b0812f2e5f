//! Reading a REST answer: the common success envelope in one pass over the body
//! ([`envelope_text`]), anything else through a `Value`
//! ([`envelope`](crate::envelope) has the shapes both share), so an error or an odd body gets
//! its precise reason.

use serde_json::Value;

use crate::{
    api_error::ApiError,
    bounded_json::{value_within, REST_ANSWER_AMPLIFICATION},
    envelope::{error_from_object, lenient_u64, Response, TextResponse, Time},
    envelope_text,
};

/// What a body says, once it is known to be a JSON object.
pub(crate) enum Answer {
    Success(TextResponse),
    Failure(ApiError),
}

/// Why a body could not be read as an envelope.
pub(crate) struct Undecodable {
    pub(crate) reason: String,
}

/// Reads a REST answer. An `error` code wins over the HTTP status (the portal is classified by
/// code) and over `result` (newer servers send soft errors as `{"result": false, "error": ..}`).
pub(crate) fn decode_answer(
    method: &str,
    http_status: u16,
    body: &[u8],
) -> Result<Answer, Undecodable> {
    // The common answer, `result` without `error`, is read in one pass over the body, with no
    // `Value` tree; anything else takes the general path, which has the precise reasons.
    if let Some(success) = envelope_text::read_success(body) {
        return Ok(Answer::Success(success));
    }
    decode_general(method, http_status, body)
}

/// [`decode_answer`] through a `Value`, with the precise reason when the body is no envelope.
fn decode_general(method: &str, http_status: u16, body: &[u8]) -> Result<Answer, Undecodable> {
    let value: Value =
        value_within(body, REST_ANSWER_AMPLIFICATION).map_err(|refused| Undecodable {
            reason: refused.reason,
        })?;
    let Value::Object(mut object) = value else {
        return Err(Undecodable {
            reason: "expected a JSON object".to_owned(),
        });
    };
    if let Some(api_error) = error_from_object(method, &object, Some(http_status)) {
        return Ok(Answer::Failure(api_error));
    }
    let Some(result) = object.remove("result") else {
        return Err(Undecodable {
            reason: "neither `result` nor `error` in the answer".to_owned(),
        });
    };
    let result = serde_json::value::to_raw_value(&result).map_err(|error| Undecodable {
        reason: format!("unreadable `result` ({error})"),
    })?;
    Ok(Answer::Success(Response {
        result,
        time: object.get("time").and_then(Time::from_value),
        total: object.get("total").and_then(lenient_u64),
        next: object.get("next").and_then(lenient_u64),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::code::ErrorCode;

    #[test]
    fn error_code_wins_over_result() {
        let body =
            br#"{"result": false, "error": "NAME_REQUIRED", "error_description": "No name"}"#;
        let Ok(Answer::Failure(error)) = decode_answer("imconnector.register", 200, body) else {
            panic!("expected an API error");
        };
        assert_eq!(error.code, ErrorCode::NameRequired);
        assert_eq!(error.http_status, Some(200));
    }
}
