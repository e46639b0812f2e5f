//! Decoding the keys and values of `application/x-www-form-urlencoded` bytes.
//!
//! The rules are `form_urlencoded`'s (`+` is a space, `%XY` is a byte, a `%` not followed by
//! two hex digits stays as it is, invalid UTF-8 becomes U+FFFD) and a test checks that both
//! agree. It is written out here because the crate's decoder collects byte by byte through
//! an iterator and allocates for every key: that was a quarter of the instructions of parsing
//! an event (see BENCHMARKS.md, "Event intake"). This one copies the runs between `%` and `+`
//! whole and decodes keys into a buffer the caller reuses.

use crate::limits::Budget;
use crate::FormError;

/// Decodes `raw` into `out` (cleared first), as bytes.
///
/// A plain byte loop: the keys of an event escape every few bytes (`%5B`, `%5D`), where a
/// `memchr` call per escape cost more than it skipped (BENCHMARKS.md, "Event intake").
pub(crate) fn percent_decode(raw: &[u8], out: &mut Vec<u8>) {
    out.clear();
    // Exact: the parse's budget counts this buffer as at most the body's size.
    out.reserve_exact(raw.len());
    let mut at = 0;
    while at < raw.len() {
        let run_start = at;
        while at < raw.len() && raw[at] != b'%' && raw[at] != b'+' {
            at += 1;
        }
        out.extend_from_slice(&raw[run_start..at]);
        let Some(&special) = raw.get(at) else {
            break;
        };
        if special == b'+' {
            out.push(b' ');
            at += 1;
            continue;
        }
        let escaped = match (raw.get(at + 1), raw.get(at + 2)) {
            (Some(&high), Some(&low)) => hex_digit(high).zip(hex_digit(low)),
            _ => None,
        };
        match escaped {
            Some((high, low)) => {
                out.push(high << 4 | low);
                at += 3;
            }
            None => {
                out.push(b'%');
                at += 1;
            }
        }
    }
}

/// `bytes` as text: borrowed when they are UTF-8 (checked first: the lossy conversion is
/// slower even on valid input), with U+FFFD for invalid sequences otherwise.
pub(crate) fn text<'b>(
    bytes: &'b [u8],
    budget: &mut Budget,
) -> Result<std::borrow::Cow<'b, str>, FormError> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(std::borrow::Cow::Borrowed(text)),
        Err(_) => lossy(bytes, budget).map(std::borrow::Cow::Owned),
    }
}

/// Decodes `raw` into a new string, charging its bytes to `budget` before they are allocated.
pub(crate) fn decode_text_within(raw: &[u8], budget: &mut Budget) -> Result<String, FormError> {
    if raw.is_empty() {
        return Ok(String::new());
    }
    // `reserve_exact` on an empty vector: exactly `raw.len()` bytes.
    budget.charge(raw.len())?;
    let mut bytes = Vec::new();
    percent_decode(raw, &mut bytes);
    match String::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(error) => lossy(error.as_bytes(), budget),
    }
}

/// `bytes` with U+FFFD for each invalid sequence, in a string of exactly its size (std's
/// `from_utf8_lossy` grows its buffer by doubling: up to seven times the input at its peak).
pub(crate) fn lossy(bytes: &[u8], budget: &mut Budget) -> Result<String, FormError> {
    let replacement = char::REPLACEMENT_CHARACTER.len_utf8();
    let len: usize = bytes
        .utf8_chunks()
        .map(|chunk| {
            chunk.valid().len()
                + if chunk.invalid().is_empty() {
                    0
                } else {
                    replacement
                }
        })
        .sum();
    budget.charge(len)?;
    let mut text = String::with_capacity(len);
    for chunk in bytes.utf8_chunks() {
        text.push_str(chunk.valid());
        if !chunk.invalid().is_empty() {
            text.push(char::REPLACEMENT_CHARACTER);
        }
    }
    Ok(text)
}

/// Decodes `raw` into a new string.
#[cfg(test)]
pub(crate) fn decode_text(raw: &[u8]) -> String {
    let limits = crate::Limits::default();
    decode_text_within(raw, &mut Budget::for_body(limits, raw.len())).expect("within budget")
}

fn hex_digit(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_plus_escapes_and_leaves_broken_escapes() {
        assert_eq!(decode_text(b"a+b%5Bc%5d%zz%4"), "a b[c]%zz%4");
        assert_eq!(decode_text(b"%D0%BF%D1%80%FF"), "пр\u{fffd}");
        assert_eq!(decode_text(b""), "");
    }

    proptest::proptest! {
        #[test]
        fn agrees_with_form_urlencoded(raw in proptest::collection::vec(
            proptest::sample::select(b"ab%+=&5BfF\xd0\xbf\xff".to_vec()), 0..40)) {
            let theirs: Vec<(String, String)> = form_urlencoded::parse(&raw).into_owned().collect();
            let ours: Vec<(String, String)> = raw
                .split(|&byte| byte == b'&')
                .filter(|pair| !pair.is_empty())
                .map(|pair| match pair.iter().position(|&byte| byte == b'=') {
                    Some(equals) => (decode_text(&pair[..equals]), decode_text(&pair[equals + 1..])),
                    None => (decode_text(pair), String::new()),
                })
                .collect();
            proptest::prop_assert_eq!(ours, theirs);
        }
    }
}
