//! The readers of a method's `result`: the one decoder of each method's answer
//! (`Method::decode_response`), named by the spec's `response.soft_error` when the portal may
//! report a failure inside an HTTP 200 answer.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::decode::{lenient_bool, WireDecode};
use crate::soft_errors::{RESULT_FALSE, SUCCESS_FALSE};
use crate::transport::{ResultError, SoftError};

/// The value of `result`, before it is read.
fn value<'de, D: Deserializer<'de>>(result: D) -> Result<Value, ResultError> {
    Value::deserialize(result).map_err(ResultError::malformed)
}

/// `T` read from the whole `result`.
pub(crate) fn plain<'de, D: Deserializer<'de>, T: WireDecode>(result: D) -> Result<T, ResultError> {
    T::from_json(result)
        .map_err(ResultError::malformed)?
        .map_err(ResultError::Malformed)
}

/// `imconnector.register` and `.unregister`: `{"result": true}`, or on failure
/// `{"result": false, "error": "NAME_REQUIRED", "error_description": "..."}` inside an HTTP 200
/// answer (an `error` also fails a `true`). `T` is read from the inner `result`.
pub(crate) fn nested_result<'de, D: Deserializer<'de>, T: WireDecode>(
    result: D,
) -> Result<T, ResultError> {
    let Value::Object(mut map) = value(result)? else {
        return Err(ResultError::Malformed(
            "expected an object with `result`".to_owned(),
        ));
    };
    let inner = map
        .remove("result")
        .ok_or_else(|| ResultError::Malformed("expected an object with `result`".to_owned()))?;
    let flag =
        lenient_bool(&inner).map_err(|error| ResultError::Malformed(format!("result: {error}")))?;
    let mut text = |key: &str| {
        map.remove(key)
            .map(Option::<String>::from_wire)
            .transpose()
            .map(Option::flatten)
            .map_err(|error| ResultError::Malformed(format!("{key}: {error}")))
    };
    let code = text("error")?.filter(|code| !code.is_empty());
    let description = text("error_description")?;
    if !flag || code.is_some() {
        return Err(ResultError::Soft(SoftError {
            code: code.unwrap_or_else(|| RESULT_FALSE.to_owned()),
            description: description.unwrap_or_default(),
        }));
    }
    T::from_wire(inner).map_err(ResultError::Malformed)
}

/// The message and status methods: `{"SUCCESS": true, "DATA": ...}`; old servers answer HTTP
/// 200 `{"SUCCESS": false, "DATA": []}` where new ones send an error (an inactive line, a wrong
/// connector), so `false` is a soft error. `T` is read from the whole `result`.
pub(crate) fn success_flag<'de, D: Deserializer<'de>, T: WireDecode>(
    result: D,
) -> Result<T, ResultError> {
    let value = value(result)?;
    if let Some(flag) = value.get("SUCCESS") {
        let success = lenient_bool(flag)
            .map_err(|error| ResultError::Malformed(format!("`SUCCESS`: {error}")))?;
        if !success {
            return Err(ResultError::Soft(SoftError {
                code: SUCCESS_FALSE.to_owned(),
                description: "the portal answered SUCCESS: false (older servers report an inactive line or an unknown connector this way)".to_owned(),
            }));
        }
    }
    T::from_wire(value).map_err(ResultError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn soft_code<T: std::fmt::Debug>(answer: Result<T, ResultError>) -> String {
        match answer {
            Err(ResultError::Soft(soft)) => soft.code,
            other => panic!("expected a soft error, got {other:?}"),
        }
    }

    #[test]
    fn nested_result_reads_the_flag_and_reports_its_soft_error() {
        assert_eq!(nested_result::<_, bool>(&json!({"result": true})), Ok(true));
        let failed = nested_result::<_, bool>(
            &json!({"result": false, "error": "NAME_REQUIRED", "error_description": "Connector name is not specified"}),
        );
        assert_eq!(
            failed,
            Err(ResultError::Soft(SoftError {
                code: "NAME_REQUIRED".into(),
                description: "Connector name is not specified".into()
            }))
        );
        assert_eq!(
            soft_code(nested_result::<_, bool>(&json!({"result": "0"}))),
            RESULT_FALSE
        );
        assert_eq!(
            soft_code(nested_result::<_, bool>(
                &json!({"result": true, "error": "X"})
            )),
            "X"
        );
        assert!(matches!(
            nested_result::<_, bool>(&json!(true)),
            Err(ResultError::Malformed(_))
        ));
    }

    #[test]
    fn success_false_is_a_soft_error_before_the_rest_is_read() {
        assert_eq!(
            soft_code(success_flag::<_, bool>(
                &json!({"SUCCESS": "0", "DATA": []})
            )),
            SUCCESS_FALSE
        );
        assert_eq!(
            success_flag::<_, Value>(&json!({"SUCCESS": true})),
            Ok(json!({"SUCCESS": true}))
        );
        assert!(matches!(
            success_flag::<_, Value>(&json!({"SUCCESS": "maybe"})),
            Err(ResultError::Malformed(_))
        ));
        assert_eq!(plain::<_, Option<i64>>(&json!(false)), Ok(None));
    }
}
