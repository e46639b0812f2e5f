//! Answers read into a `serde_json::Value` within a memory budget: a `Value` built by
//! `serde_json` alone takes up to 96 times its JSON's size (a list of one-key objects: each map
//! allocates a whole B-tree node), so a hostile portal or OAuth server could make an 8 MiB
//! answer hold most of a gigabyte. The form crate's bounded builder charges every string, list
//! slot and map node before allocating it, and nesting stops at `serde_json`'s 128 levels.

use imconnector_form::{FormError, Limits};
use serde_json::Value;

/// Heap bytes per byte of answer a REST answer's `Value` may take (at least 256 KiB in all):
/// real answers (lists of objects of a few keys) stay well within it.
pub(crate) const REST_ANSWER_AMPLIFICATION: usize = 24;

/// Heap bytes per byte of answer a token answer's `Value` may take (at least 256 KiB in all):
/// a token answer is one small object.
pub(crate) const TOKEN_ANSWER_AMPLIFICATION: usize = 10;

/// Why an answer was not made a value.
#[derive(Debug)]
pub(crate) struct Unreadable {
    /// Without the answer's text.
    pub(crate) reason: String,
    /// The answer would have passed the memory budget (it may be valid JSON).
    pub(crate) over_budget: bool,
}

/// `body` as a JSON value built within `amplification` bytes per byte of it.
pub(crate) fn value_within(body: &[u8], amplification: usize) -> Result<Value, Unreadable> {
    let limits = Limits::default().with_max_amplification(amplification);
    imconnector_form::parse_body_with(Some("application/json"), body, limits).map_err(|error| {
        match error {
            FormError::TooLarge { budget } => Unreadable {
                reason: format!(
                    "the answer would take more than {budget} bytes of memory as a JSON value"
                ),
                over_budget: true,
            },
            FormError::NotJson(reason) => Unreadable {
                reason: format!("not JSON ({reason})"),
                over_budget: false,
            },
            other => Unreadable {
                reason: other.to_string(),
                over_budget: false,
            },
        }
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_value_is_what_serde_json_builds_within_the_budget() {
        let body = br#"{"result":{"a":[1,-2,3.5,"x",null,true,{"b":{}}]},"time":{"start":1}}"#;
        let expected: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(
            value_within(body, TOKEN_ANSWER_AMPLIFICATION).unwrap(),
            expected
        );
        let broken = value_within(b"{", REST_ANSWER_AMPLIFICATION).err().unwrap();
        assert!(broken.reason.starts_with("not JSON") && !broken.over_budget);
    }

    #[test]
    fn an_amplifying_answer_is_refused_before_it_is_built() {
        // 256 KiB of one-key objects: 96 times its size as a plain `Value`.
        let item = r#"{"a":{"a":1}},"#;
        let body = format!("[{}0]", item.repeat(256 * 1024 / item.len()));
        let refused = value_within(body.as_bytes(), REST_ANSWER_AMPLIFICATION)
            .err()
            .unwrap();
        assert!(refused.over_budget, "{}", refused.reason);
        assert!(
            refused.reason.contains("bytes of memory"),
            "{}",
            refused.reason
        );
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(value_within(deep.as_bytes(), REST_ANSWER_AMPLIFICATION).is_err());
    }
}
