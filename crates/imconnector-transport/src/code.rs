//! Every error code the Bitrix24 REST API and its OAuth server are known to answer: the
//! generated [`ErrorCode`] and what is written by hand around it.

use std::{convert::Infallible, fmt, str::FromStr};

// The enum, `KNOWN` and the wire mapping are rendered from `spec/errors.json` by
// `cargo xtask codegen` (checked by `--check`), the one list of the codes; rustfmt leaves the
// file as the generator printed it, or `--check` would see it stale.
#[rustfmt::skip]
#[path = "generated/error_code.rs"]
mod generated;

pub use generated::ErrorCode;

impl ErrorCode {
    /// Whether the portal rejected the request before doing any work, so sending it again later
    /// is always safe (rate limit, operating-time limit, manual overload block).
    pub fn is_rejected_before_work(&self) -> bool {
        matches!(
            self,
            ErrorCode::QueryLimitExceeded
                | ErrorCode::OperationTimeLimit
                | ErrorCode::OverloadLimit
        )
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl FromStr for ErrorCode {
    type Err = Infallible;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        Ok(ErrorCode::from_wire(code))
    }
}

impl From<&str> for ErrorCode {
    fn from(code: &str) -> Self {
        ErrorCode::from_wire(code)
    }
}

impl From<String> for ErrorCode {
    fn from(code: String) -> Self {
        ErrorCode::from_wire(&code)
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Ok(ErrorCode::from_wire(&code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::KNOWN {
            assert!(seen.insert(code.as_str()), "duplicate wire code {code}");
            assert_eq!(&ErrorCode::from_wire(code.as_str()), code);
        }
    }

    #[test]
    fn unknown_and_differently_cased_codes_stay_other() {
        assert_eq!(
            ErrorCode::from("SOMETHING_NEW"),
            ErrorCode::Other("SOMETHING_NEW".into())
        );
        assert_eq!(
            ErrorCode::from("invalid_request"),
            ErrorCode::OAuthInvalidRequest
        );
        assert_eq!(
            ErrorCode::from("INVALID_REQUEST"),
            ErrorCode::InvalidRequest
        );
        assert_eq!(ErrorCode::Other("x_y".into()).as_str(), "x_y");
    }
}
