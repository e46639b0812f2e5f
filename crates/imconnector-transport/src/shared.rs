//! The state every clone of a client shares: the connection pool, the credentials, the pacer
//! and the retry policy. The lowest layer of the client: dispatch and attempt work on it, the
//! public [`Client`](crate::Client) wraps it in an `Arc`.

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use secrecy::SecretString;
use serde_json::Value;
use url::Url;

use crate::{
    api_error::ApiError,
    bounded_json::{value_within, REST_ANSWER_AMPLIFICATION},
    envelope::{snippet, Response},
    error::Error,
    method::{Method, ResultError},
    method_urls::MethodUrls,
    oauth::OAuthSession,
    pacing::Pacer,
    policy::{RateLimit, RetryPolicy},
    result_reader::{MethodResult, Success},
};

pub(crate) struct Shared {
    pub(crate) http: reqwest::Client,
    /// The timeout of one attempt, answer included; enforced by the call's own timer (not
    /// reqwest's), so that it holds with a client the user built too.
    pub(crate) request_timeout: Duration,
    /// The longest answer body read.
    pub(crate) max_response_size: usize,
    pub(crate) user_agent: reqwest::header::HeaderValue,
    pub(crate) auth: Auth,
    pub(crate) pacer: Pacer,
    pub(crate) retry: RetryPolicy,
    /// The configured profile (the default, [`RateLimit::Standard`], when none was).
    pub(crate) rate_limit: RateLimit,
    /// The portal's plan, learned from `app.info` once, when no profile was configured.
    pub(crate) plan: Option<tokio::sync::OnceCell<RateLimit>>,
    pub(crate) request_prefix: u32,
    pub(crate) request_seq: AtomicU64,
    /// Each method's URL on the OAuth REST base, joined once.
    pub(crate) method_urls: MethodUrls,
}

pub(crate) enum Auth {
    OAuth {
        session: Arc<OAuthSession>,
        /// The REST base given to the builder; otherwise the tokens' `client_endpoint` is used.
        portal: Option<Url>,
    },
    Webhook {
        /// The full base URL; its path holds the secret code.
        base: SecretString,
        /// The code alone, to mask it in error snippets.
        code: SecretString,
        /// `scheme://host/` for `Debug`.
        origin: String,
    },
}

impl Shared {
    pub(crate) fn next_request_id(&self) -> String {
        let seq = self.request_seq.fetch_add(1, Ordering::Relaxed);
        request_id(self.request_prefix, seq)
    }

    /// The response of a call to `M`: the `result` its reader read in the envelope's pass, or
    /// the `result` text decoded through `M`'s one decoder; a soft error inside it is an
    /// [`Error::Api`], a `result` of another shape a decode error with a (masked) snippet of it.
    pub(crate) fn decode_method_result<M: Method>(
        &self,
        http_status: u16,
        success: Success,
        reader: MethodResult<M>,
    ) -> Result<Response<M::Response>, Error> {
        let response = match (success, reader.result) {
            (Success::Read(response), Some(result)) => return Ok(response.map(|()| result)),
            (Success::Text(response), _) => response,
            (Success::Read(_), None) => return Err(unread(M::NAME, http_status)),
        };
        let mut reader = serde_json::Deserializer::from_str(response.result.get());
        match M::decode_response(&mut reader) {
            Ok(result) => Ok(response.map(|_| result)),
            Err(ResultError::Soft(soft)) => {
                let mut error = ApiError::new(M::NAME, soft.code, soft.description);
                error.http_status = Some(http_status);
                Err(Error::Api(error))
            }
            Err(ResultError::Malformed(reason)) => Err(Error::Decode {
                method: M::NAME.to_owned(),
                http_status,
                reason: format!("unexpected `result` ({reason})"),
                snippet: self.snippet(response.result.get().as_bytes()),
            }),
        }
    }

    /// Decodes the `result` text of an answer to `method` into a `Value` within the memory
    /// budget of REST answers (see [`bounded_json`](crate::bounded_json)).
    pub(crate) fn decode_value_result(
        &self,
        method: &str,
        http_status: u16,
        success: Success,
    ) -> Result<Response<Value>, Error> {
        let response = match success {
            Success::Text(response) => response,
            Success::Read(_) => return Err(unread(method, http_status)),
        };
        let text = response.result.get();
        match value_within(text.as_bytes(), REST_ANSWER_AMPLIFICATION) {
            Ok(result) => Ok(response.map(|_| result)),
            Err(refused) => Err(Error::Decode {
                method: method.to_owned(),
                http_status,
                reason: format!("unreadable `result`: {}", refused.reason),
                snippet: self.snippet(text.as_bytes()),
            }),
        }
    }

    /// An error snippet of `body` with every secret this client knows masked.
    pub(crate) fn snippet(&self, body: &[u8]) -> String {
        match &self.auth {
            Auth::OAuth { session, .. } => {
                let tokens = session.snapshot().tokens;
                snippet(
                    body,
                    &[
                        &tokens.access_token,
                        &tokens.refresh_token,
                        &session.app().client_secret,
                    ],
                )
            }
            Auth::Webhook { code, .. } => snippet(body, &[code]),
        }
    }
}

/// The error of a success whose `result` no one kept: a reader said it read the `result` but
/// holds none, or an untyped call (which gives no reader) got one. Neither can happen; an
/// error rather than a panic all the same.
fn unread(method: &str, http_status: u16) -> Error {
    Error::Decode {
        method: method.to_owned(),
        http_status,
        reason: "the `result` was read but not kept (a defect of the SDK)".to_owned(),
        snippet: String::new(),
    }
}

/// `format!("{prefix:08x}-{seq}")`, written digit by digit: one per call, and the formatting
/// machinery costs more than the id itself.
fn request_id(prefix: u32, seq: u64) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut id = String::with_capacity(8 + 1 + 20);
    for shift in (0..8).rev() {
        id.push(char::from(HEX[(prefix >> (shift * 4)) as usize & 0xf]));
    }
    id.push('-');
    let mut digits = [0_u8; 20];
    let mut at = digits.len();
    let mut rest = seq;
    loop {
        at -= 1;
        // `rest % 10` is below 10: the cast cannot truncate.
        #[allow(clippy::cast_possible_truncation)]
        let digit = (rest % 10) as u8;
        digits[at] = b'0' + digit;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    id.extend(digits[at..].iter().map(|&digit| char::from(digit)));
    id
}

#[cfg(test)]
mod request_id_tests {
    use super::request_id;

    #[test]
    fn the_request_id_is_the_prefix_in_hex_and_the_sequence_in_decimal() {
        for prefix in [0, 1, 0xabc, 0x5f2a_9c1e, u32::MAX] {
            for seq in [0, 7, 10, 99, 1_000_000, u64::MAX] {
                assert_eq!(request_id(prefix, seq), format!("{prefix:08x}-{seq}"));
            }
        }
    }
}
