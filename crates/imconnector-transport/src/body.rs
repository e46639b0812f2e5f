//! Reading an answer's body within a size cap, and recognising an HTML page where JSON was
//! expected. Shared by the REST attempt and the OAuth token endpoint: both face servers the
//! app does not control (on-premise portals, proxies in front of them).

use bytes::{Bytes, BytesMut};

/// The default cap on one answer's body: 8 MiB. A batch of 50 commands answers well under a
/// megabyte; an answer that large is a broken or hostile server.
pub const DEFAULT_MAX_RESPONSE_SIZE: usize = 8 * 1024 * 1024;

/// Why a body was not read whole.
pub(crate) enum BodyError {
    /// Longer than the cap (declared by `Content-Length`, or counted while streaming); the rest
    /// was not read and the connection is dropped.
    TooLarge,
    /// The connection failed while reading.
    Failed(reqwest::Error),
}

/// Reads `response`'s body, at most `limit` bytes: an answer declaring more fails before a
/// byte is read, one streaming more fails as soon as it passes the cap, so memory stays
/// bounded by `limit` whatever the server sends.
///
/// By reference: the caller's future keeps the response, which would otherwise be stored again
/// in this one's (an `async fn` keeps its arguments beside its locals).
pub(crate) async fn read_limited(
    response: &mut reqwest::Response,
    limit: usize,
) -> Result<Bytes, BodyError> {
    let declared = response.content_length();
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(BodyError::TooLarge);
    }
    // The usual answer arrives in one chunk, returned as it is, without a copy.
    let mut first: Option<Bytes> = None;
    let mut joined: Option<BytesMut> = None;
    let mut length: usize = 0;
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Failed)? {
        length = length.saturating_add(chunk.len());
        if length > limit {
            return Err(BodyError::TooLarge);
        }
        match (&mut joined, first.take()) {
            (Some(buffer), _) => buffer.extend_from_slice(&chunk),
            (None, None) => first = Some(chunk),
            (None, Some(previous)) => {
                let hint = declared
                    .and_then(|declared| usize::try_from(declared).ok())
                    .unwrap_or(length)
                    .max(length);
                let mut buffer = BytesMut::with_capacity(hint);
                buffer.extend_from_slice(&previous);
                buffer.extend_from_slice(&chunk);
                joined = Some(buffer);
            }
        }
    }
    Ok(match (joined, first) {
        (Some(buffer), _) => buffer.freeze(),
        (None, Some(chunk)) => chunk,
        (None, None) => Bytes::new(),
    })
}

/// Whether an answer that is not JSON is an HTML page (a maintenance page, a proxy's error
/// page, a PHP error): served as `text/html`, or starting with `<`, which no JSON text does.
pub(crate) fn is_html(content_type: Option<&str>, body: &[u8]) -> bool {
    let declared = content_type.is_some_and(is_html_media_type);
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    declared || body.trim_ascii_start().first() == Some(&b'<')
}

/// Whether a `Content-Type` value names `text/html` (parameters and case aside). Every answer's
/// type is looked at, so the usual one, `application/json`, is told apart by its first letter.
pub(crate) fn is_html_media_type(value: &str) -> bool {
    let value = value.trim_ascii_start().as_bytes();
    let Some((media, rest)) = value.split_at_checked(b"text/html".len()) else {
        return false;
    };
    // Only whitespace may stand between the media type and its parameters.
    media.eq_ignore_ascii_case(b"text/html")
        && rest
            .iter()
            .take_while(|&&byte| byte != b';')
            .all(u8::is_ascii_whitespace)
}

/// The readable text of the start of an HTML page: tags, comments and scripts dropped, so an
/// error snippet shows "Portal under maintenance" rather than `<!DOCTYPE html><head><meta`.
pub(crate) fn page_text(body: &[u8]) -> Vec<u8> {
    let head = &body[..body.len().min(16 * 1024)];
    let mut text = Vec::with_capacity(head.len().min(1024));
    let mut rest = head;
    while let Some((&byte, after)) = rest.split_first() {
        if byte != b'<' {
            text.push(byte);
            rest = after;
            continue;
        }
        let skipped_to = [
            ("<script", "</script>"),
            ("<style", "</style>"),
            ("<!--", "-->"),
        ]
        .iter()
        .find(|(open, _)| starts_with_ignore_case(rest, open.as_bytes()))
        .map_or(b">".as_slice(), |(_, close)| close.as_bytes());
        rest = match find_ignore_case(rest, skipped_to) {
            Some(end) => &rest[end + skipped_to.len()..],
            None => &[],
        };
        text.push(b' ');
    }
    text
}

fn starts_with_ignore_case(haystack: &[u8], prefix: &[u8]) -> bool {
    haystack.len() >= prefix.len() && haystack[..prefix.len()].eq_ignore_ascii_case(prefix)
}

fn find_ignore_case(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_told_by_its_content_type_or_its_first_character() {
        assert!(is_html(
            Some("text/html; charset=UTF-8"),
            b"Down for maintenance"
        ));
        assert!(is_html(None, b"\xEF\xBB\xBF  \n<!DOCTYPE html><html>"));
        assert!(is_html(Some("application/json"), b"<html>"));
        assert!(!is_html(Some("application/json"), b"{\"result\": 1"));
        assert!(!is_html(None, b""));
        for html in [
            "text/html",
            "TEXT/HTML",
            " text/html ; charset=x",
            "text/html;q=1",
        ] {
            assert!(is_html_media_type(html), "{html}");
        }
        for other in [
            "text/htmlx",
            "text/html x",
            "text/htm",
            "",
            "application/json",
            "x;text/html",
        ] {
            assert!(!is_html_media_type(other), "{other}");
        }
    }

    #[test]
    fn the_page_text_drops_tags_scripts_styles_and_comments() {
        let page =
            b"<!DOCTYPE html><html><head><title>Maintenance</title><style>p{color:red}</style>\
            <script>var a = '<b>';</script></head><body><!-- <p>hidden</p> --><p>Back at 10:00</p>";
        let text = String::from_utf8(page_text(page)).unwrap_or_default();
        let words: Vec<&str> = text.split_whitespace().collect();
        assert_eq!(words, ["Maintenance", "Back", "at", "10:00"]);
        assert_eq!(page_text(b"<p unterminated"), b" ");
    }
}
