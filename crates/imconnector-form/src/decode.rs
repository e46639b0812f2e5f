//! Decoding the keys and values of `application/x-www-form-urlencoded` bytes.
//!
//! The rules are `form_urlencoded`'s (`+` is a space, `%XY` is a byte, a `%` not followed by
//! two hex digits stays as it is, invalid UTF-8 becomes U+FFFD) and a test checks that both
//! agree. It is written out here because the crate's decoder collects byte by byte through
//! an iterator and allocates for every key: that was a quarter of the instructions of parsing
//! an event (see BENCHMARKS.md, "Event intake"). This one copies the runs between `%` and `+`
//! whole and decodes keys into a buffer the caller reuses.

/// Decodes `raw` into `out` (cleared first), as bytes.
///
/// A plain byte loop: the keys of an event escape every few bytes (`%5B`, `%5D`), where a
/// `memchr` call per escape cost more than it skipped (BENCHMARKS.md, "Event intake").
pub(crate) fn percent_decode(raw: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.reserve(raw.len());
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
pub(crate) fn text(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// Decodes `raw` into a new string.
pub(crate) fn decode_text(raw: &[u8]) -> String {
    let mut bytes = Vec::new();
    percent_decode(raw, &mut bytes);
    String::from_utf8(bytes)
        .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned())
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
