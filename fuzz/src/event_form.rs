//! Fuzz body: decoding the POST body of an event.

use imconnector_api::events::Event;

/// Decodes `data` as the portal's form body and as JSON. Never panics; the typed decoder
/// agrees with the form parser on what is a form at all; a decoded event answers its
/// accessors and prints (redacted) with `Debug`.
///
/// # Panics
/// When one of those properties does not hold (that is the finding).
pub fn check(data: &[u8]) {
    let parsed = imconnector_form::parse(data);
    let decoded = Event::from_form(data);
    if parsed.is_err() {
        assert!(
            decoded.is_err(),
            "a body the form parser refuses was decoded"
        );
    }
    for event in [decoded.ok(), Event::from_json(data).ok()]
        .into_iter()
        .flatten()
    {
        assert!(
            !event.name().is_empty(),
            "an event without a name was decoded"
        );
        let _ = event.auth();
        let printed = format!("{event:?}");
        assert!(!printed.is_empty());
    }
    if let Ok(value) = parsed {
        // Whatever the form parser made of it, the typed decoder reads it the same way.
        let again = Event::from_value(value).is_ok();
        assert_eq!(again, Event::from_form(data).is_ok());
    }
}
