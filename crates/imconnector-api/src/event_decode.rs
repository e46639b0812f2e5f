//! Decoding the POST body of an event into [`Event`](crate::events::Event).

use serde_json::Value;

use crate::events::Event;

/// Why an event body could not be decoded. Never contains a token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EventDecodeError {
    /// The form body could not be parsed.
    #[error("the event body is not a valid form: {0}")]
    Form(#[from] imconnector_form::FormError),
    /// The JSON body could not be parsed.
    #[error("the event body is not JSON: {0}")]
    Json(#[source] serde_json::Error),
    /// The body is not an object.
    #[error("the event body is not an object")]
    NotAnObject,
    /// The body has no string `event` field.
    #[error("the event body has no `event` field")]
    MissingEventName,
    /// The body has no non-empty `auth[application_token]`, so its sender cannot be verified.
    #[error("the event body has no `auth[application_token]`")]
    MissingApplicationToken,
    /// The event is known but its fields do not have the documented shape.
    #[error("event `{event}` does not have the expected shape: {reason}")]
    Shape {
        /// The `event` field as sent.
        event: String,
        /// What did not fit.
        reason: String,
    },
}

/// Whether a `Content-Type` header value names JSON (`application/json`, any parameters).
impl Event {
    /// Decodes an event POST body as its `Content-Type` says: JSON for `application/json`
    /// (with any parameters, e.g. `; charset=utf-8`), the portal's form encoding otherwise
    /// (what Bitrix24 sends). This is the one way the receiver, the portal registry and the
    /// tests read an event body.
    ///
    /// # Errors
    /// [`EventDecodeError`] for a malformed body, a body without an application token, or an
    /// event that does not fit its type.
    ///
    /// ```
    /// # use imconnector_api::events::Event;
    /// let body = br#"{"event": "ONIMCONNECTORLINEDELETE", "data": 107,
    ///     "auth": {"domain": "some.bitrix24.com", "member_id": "bac1", "application_token": "831c"}}"#;
    /// let event = Event::from_body(Some("application/json; charset=utf-8"), body)?;
    /// assert!(matches!(event, Event::LineDelete(ref deleted) if deleted.data == 107));
    /// # Ok::<(), imconnector_api::events::EventDecodeError>(())
    /// ```
    pub fn from_body(content_type: Option<&str>, body: &[u8]) -> Result<Self, EventDecodeError> {
        Self::from_value(Self::body_value(content_type, body)?)
    }

    /// Parses an event POST body into a JSON value as [`from_body`](Self::from_body) does,
    /// without decoding the event: for events this SDK does not describe whose fields you read
    /// yourself (e.g. `OnAppInstall`).
    ///
    /// # Errors
    /// [`EventDecodeError::Json`] or [`EventDecodeError::Form`].
    pub fn body_value(content_type: Option<&str>, body: &[u8]) -> Result<Value, EventDecodeError> {
        // The same reader as the portal registry and the installer, so all agree on a body.
        Ok(imconnector_form::parse_body(content_type, body)?)
    }

    /// [`EventDecodeError::Form`] (a JSON body that does not parse is `FormError::NotJson`).
    /// handler (`event=...&data[...]=...&auth[...]=...`; every value a string).
    ///
    /// # Errors
    /// [`EventDecodeError`] for a malformed body or an event that does not fit its type.
    ///
    /// ```
    /// # use imconnector_api::events::Event;
    /// let body = b"event=ONIMCONNECTORLINEDELETE&event_handler_id=563&data=107&ts=1773761165\
    ///     &auth%5Bdomain%5D=some.bitrix24.com&auth%5Bmember_id%5D=bac1\
    ///     &auth%5Bapplication_token%5D=831c76b0";
    /// let event = Event::from_form(body)?;
    /// assert!(matches!(event, Event::LineDelete(_)));
    /// assert!(event.has_application_token("831c76b0"));
    /// # Ok::<(), imconnector_api::events::EventDecodeError>(())
    /// ```
    pub fn from_form(body: &[u8]) -> Result<Self, EventDecodeError> {
        Self::from_value(imconnector_form::parse(body)?)
    }

    /// Decodes an event given as JSON (as the documentation prints them).
    ///
    /// # Errors
    /// [`EventDecodeError`] for malformed JSON or an event that does not fit its type.
    pub fn from_json(body: &[u8]) -> Result<Self, EventDecodeError> {
        Self::from_value(serde_json::from_slice(body).map_err(EventDecodeError::Json)?)
    }

    /// Decodes an event already parsed into a JSON value (from a form or JSON).
    ///
    /// The `event` field picks the variant, case-insensitively; an event this SDK does not
    /// describe becomes [`Event::Unknown`].
    ///
    /// # Errors
    /// [`EventDecodeError`] when `value` is not an object, has no `event`, or does not fit.
    pub fn from_value(value: Value) -> Result<Self, EventDecodeError> {
        let Value::Object(object) = &value else {
            return Err(EventDecodeError::NotAnObject);
        };
        let name = object
            .get("event")
            .and_then(Value::as_str)
            .ok_or(EventDecodeError::MissingEventName)?
            .to_owned();
        // A malformed `auth` would otherwise be echoed by the decoder's error, and it may be
        // a bare token.
        let Some(Value::Object(auth)) = object.get("auth") else {
            return Err(EventDecodeError::MissingApplicationToken);
        };
        if auth
            .get("application_token")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(EventDecodeError::MissingApplicationToken);
        }
        Self::decode_named(&name, value).map_err(|reason| EventDecodeError::Shape {
            event: name,
            reason,
        })
    }

    /// Whether the event carries the application token saved at install (the one
    /// `OnAppInstall` and the placements deliver), compared in constant time.
    pub fn has_application_token(&self, expected: &str) -> bool {
        use secrecy::ExposeSecret as _;
        imconnector_transport::secrets_match(
            self.auth().application_token.expose_secret(),
            expected,
        )
    }
}
