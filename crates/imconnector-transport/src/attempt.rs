//! One HTTP attempt: the URL and body for the client's credentials, the POST, the 302
//! "portal moved" answer followed by re-posting the same body (within the same host only: the
//! body carries the access token, a webhook URL its code), and the body read within the cap.

use std::time::Duration;

use bytes::Bytes;
use secrecy::ExposeSecret;
use url::Url;

use crate::{
    body::{read_limited, BodyError},
    call::Call,
    error::Error,
    method::InvalidRequest,
    oauth::Snapshot,
    redirect::{foreign_origin, redirect_target, Redirect},
    shared::{Auth, Shared},
};

/// The header carrying the request id (a constant, so it is not parsed per request).
static REQUEST_ID: reqwest::header::HeaderName =
    reqwest::header::HeaderName::from_static("x-request-id");

/// `application/json`, a constant: a header value made from a `&str` is copied and checked
/// on every request.
static APPLICATION_JSON: reqwest::header::HeaderValue =
    reqwest::header::HeaderValue::from_static("application/json");

/// How many "portal moved" hops one attempt follows.
const MAX_REDIRECTS: usize = 3;

/// What one HTTP attempt produced.
pub(crate) enum Attempt {
    Answer {
        status: u16,
        body: Bytes,
        retry_after: Option<Duration>,
        /// The answer's `Content-Type` says `text/html`.
        html: bool,
    },
    /// No answer within the client's request timeout (the request may have been received).
    TimedOut,
    /// An answer longer than the client's cap; reading stopped there.
    TooLarge { status: u16 },
    /// Failed before the request could reach the server (connecting).
    NotSent(reqwest::Error),
    /// Failed after the request may have been received (reset, timeout while waiting).
    MaybeSent(reqwest::Error),
    /// Refused locally (a redirect we will not follow); nothing more was sent.
    Refused(Error),
}

impl Shared {
    /// Sends the call once, following "portal moved" redirects by re-posting the same body.
    pub(crate) async fn attempt(
        &self,
        call: &Call<'_>,
        credentials: Option<&Snapshot>,
        request_id: &str,
    ) -> Attempt {
        let (mut url, body) = match self.prepare(call, credentials) {
            Ok(prepared) => prepared,
            Err(error) => return Attempt::Refused(error),
        };
        for _ in 0..=MAX_REDIRECTS {
            // Matched at once, not bound: a `Result` kept in a local would keep its room in the
            // call's state while the body is read.
            let mut response = match self
                .http
                .post(url.clone())
                .header(reqwest::header::USER_AGENT, self.user_agent.clone())
                .header(reqwest::header::CONTENT_TYPE, APPLICATION_JSON.clone())
                .header(reqwest::header::ACCEPT, APPLICATION_JSON.clone())
                .header(REQUEST_ID.clone(), request_id)
                .body(body.clone())
                .send()
                .await
            {
                Ok(response) => response,
                Err(error) if error.is_connect() => return Attempt::NotSent(error),
                Err(error) => return Attempt::MaybeSent(error),
            };
            let status = response.status().as_u16();
            if response.url() != &url {
                // A client given by the user followed a redirect on its own (its policy is not
                // `none`): refuse the answer where it came from another origin.
                if let Some(location) = foreign_origin(&url, response.url()) {
                    return Attempt::Refused(redirected(call, status, location));
                }
            }
            if response.status().is_redirection() {
                match redirect_target(&url, &response) {
                    Redirect::Follow(target) => {
                        tracing::warn!(
                            status,
                            "the portal moved within its host; re-posting to its new path"
                        );
                        url = target;
                        continue;
                    }
                    Redirect::None => {}
                    Redirect::Foreign(location) => {
                        return Attempt::Refused(redirected(call, status, location));
                    }
                    Redirect::Invalid(reason) => {
                        return Attempt::Refused(Error::Transport {
                            method: call.method.to_owned(),
                            reason,
                            source: None,
                        })
                    }
                }
            }
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let content_type = response
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|value| value.to_str().ok());
            let html = content_type.is_some_and(crate::body::is_html_media_type);
            return match read_limited(&mut response, self.max_response_size).await {
                Ok(body) => Attempt::Answer {
                    status,
                    body,
                    retry_after,
                    html,
                },
                Err(BodyError::TooLarge) => Attempt::TooLarge { status },
                Err(BodyError::Failed(error)) => Attempt::MaybeSent(error),
            };
        }
        Attempt::Refused(Error::Transport {
            method: call.method.to_owned(),
            reason: format!("more than {MAX_REDIRECTS} redirects"),
            source: None,
        })
    }

    /// The URL and JSON body of an attempt.
    fn prepare(
        &self,
        call: &Call<'_>,
        credentials: Option<&Snapshot>,
    ) -> Result<(Url, Bytes), Error> {
        let encode_failed = |error: serde_json::Error| {
            Error::from(InvalidRequest::new(
                call.method.to_owned(),
                format!("cannot encode: {error}"),
            ))
        };
        match (&self.auth, credentials) {
            (Auth::OAuth { portal, .. }, Some(snapshot)) => {
                let base = match (portal, &snapshot.endpoint) {
                    (Some(portal), _) => portal,
                    (None, Ok(endpoint)) => &**endpoint,
                    (None, Err(error)) => {
                        return Err(Error::config(format!(
                            "tokens' client_endpoint is not a URL: {error}"
                        )))
                    }
                };
                let url = self
                    .method_urls
                    .join(base, call.method)
                    .map_err(|error| join_failed(call.method, error))?;
                let body = with_auth(&call.params, snapshot.tokens.access_token.expose_secret())
                    .map_err(encode_failed)?;
                Ok((url, Bytes::from(body)))
            }
            (Auth::Webhook { base, .. }, _) => {
                let base = Url::parse(base.expose_secret())
                    .map_err(|_| Error::config("the webhook URL is not a URL"))?;
                let url = join(&base, call.method)?;
                Ok((url, Bytes::from(call.params.clone())))
            }
            (Auth::OAuth { .. }, None) => Err(Error::config("OAuth call without tokens")),
        }
    }
}

fn redirected(call: &Call<'_>, http_status: u16, location: String) -> Error {
    tracing::warn!(
        method = call.method,
        http_status,
        location = %location.escape_debug(),
        "redirect to another host refused: the request carries credentials"
    );
    Error::Redirected {
        method: call.method.to_owned(),
        http_status,
        location,
    }
}

/// Appends `"auth": token` to the parameters' JSON object text. Last, because PHP keeps the last
/// of duplicate keys, so nothing in the parameters can replace the credential.
fn with_auth(params: &str, token: &str) -> Result<Vec<u8>, serde_json::Error> {
    // JSON's whitespace is ASCII.
    let inner = params
        .trim_ascii()
        .strip_prefix('{')
        .and_then(|rest| rest.strip_suffix('}'))
        .map_or("", str::trim_ascii);
    // One buffer, sized for the usual token (no escapes), written in place.
    let mut body = Vec::with_capacity(inner.len() + token.len() + 12);
    body.push(b'{');
    if !inner.is_empty() {
        body.extend_from_slice(inner.as_bytes());
        body.push(b',');
    }
    body.extend_from_slice(b"\"auth\":");
    if token
        .bytes()
        .all(|byte| byte.is_ascii_graphic() && byte != b'"' && byte != b'\\')
    {
        // A real token (hex, letters, digits, `.`, `-`) needs no escape: written as it is,
        // which spares the JSON writer's escape scan on every call.
        body.push(b'"');
        body.extend_from_slice(token.as_bytes());
        body.push(b'"');
    } else {
        serde_json::to_writer(&mut body, token)?;
    }
    body.push(b'}');
    Ok(body)
}

fn join(base: &Url, method: &str) -> Result<Url, Error> {
    base.join(method)
        .map_err(|error| join_failed(method, error))
}

fn join_failed(method: &str, error: url::ParseError) -> Error {
    Error::config(format!("cannot build the URL of `{method}`: {error}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_auth_token_is_written_as_json_writes_it() {
        let tokens = [
            "5f2a9c1e00000000000000000000000000000000",
            "a.b-c_d~e/f+g=h",
            "with \"quote\"",
            "back\\slash",
            "tab\tand\nnewline\u{1}",
            "unicode é ✓",
            "del\u{7f}",
            "",
        ];
        for params in ["{}", r#"{"CONNECTOR":"c","LINE":1}"#] {
            for token in tokens {
                let body = with_auth(params, token).unwrap();
                let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
                assert_eq!(value["auth"], token, "{token:?}");
                let mut expected = serde_json::from_str::<serde_json::Value>(params).unwrap();
                expected["auth"] = serde_json::Value::from(token);
                assert_eq!(value, expected);
            }
        }
    }
}
