//! The HTML pages the router answers with (they are shown in the portal's iframe).

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// The BX24 JS library, which talks to the portal around the iframe.
const BX24_SCRIPT: &str = "https://api.bitrix24.com/api/v1/";

/// The answer to a UI install POST: the portal counts the app as installed (and sends
/// ONAPPINSTALL) only once the page calls `BX24.installFinish()` (reference app-install.md §2).
pub(crate) fn install_finish(connector: &str) -> Response {
    let body = format!(
        "<p>{} is set up. Finishing the installation…</p>\
         <script src=\"{BX24_SCRIPT}\"></script>\
         <script>BX24.init(function () {{ BX24.installFinish(); }});</script>",
        escape(connector)
    );
    html(StatusCode::OK, "Installing", &body)
}

/// A page with one paragraph.
pub(crate) fn message(status: StatusCode, title: &str, text: &str) -> Response {
    html(status, title, &format!("<p>{}</p>", escape(text)))
}

fn html(status: StatusCode, title: &str, body: &str) -> Response {
    let page = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{}</title></head>\
         <body>{body}</body></html>",
        escape(title)
    );
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page,
    )
        .into_response()
}

/// Escapes text for HTML element content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    #[test]
    fn text_is_escaped() {
        assert_eq!(
            super::escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
