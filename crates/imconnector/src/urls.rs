//! The two URLs of a connector app, as distinct types so they cannot be swapped silently:
//! Bitrix24 opens the [`SettingsUrl`] in an iframe (the settings placement) and POSTs events
//! to the [`EventsUrl`].

use std::fmt;

use imconnector_transport::InvalidRequest;

/// Parses `text` as an absolute http(s) URL with a host; `parameter` names it in the error.
fn parse_http_url(parameter: &'static str, text: &str) -> Result<String, InvalidRequest> {
    // Kept as given (trimmed), not as `Url` normalises it: `provision` compares it with the
    // handler the portal stored from an earlier run.
    let text = text.trim();
    match url::Url::parse(text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => {
            Ok(text.to_owned())
        }
        Ok(_) => Err(InvalidRequest::new(
            parameter,
            format!("`{text}` must be an http(s) URL with a host"),
        )),
        Err(error) => Err(InvalidRequest::new(
            parameter,
            format!("`{text}` is not a URL: {error}"),
        )),
    }
}

/// Where Bitrix24 opens the connector's settings page (`PLACEMENT_HANDLER` of
/// `imconnector.register`): the app's settings placement handler.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SettingsUrl(pub(crate) String);

impl SettingsUrl {
    /// Checks `url` is an absolute http(s) URL with a host.
    ///
    /// # Errors
    /// [`InvalidRequest`] naming `PLACEMENT_HANDLER`.
    pub fn parse(url: &str) -> Result<Self, InvalidRequest> {
        parse_http_url("PLACEMENT_HANDLER", url).map(Self)
    }

    /// The URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where Bitrix24 POSTs the connector's events (`handler` of `event.bind`): where the event
/// receiver is mounted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventsUrl(pub(crate) String);

impl EventsUrl {
    /// Checks `url` is an absolute http(s) URL with a host.
    ///
    /// # Errors
    /// [`InvalidRequest`] naming `handler`.
    pub fn parse(url: &str) -> Result<Self, InvalidRequest> {
        parse_http_url("handler", url).map(Self)
    }

    /// The URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SettingsUrl {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl fmt::Display for EventsUrl {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_absolute_http_urls_pass_and_the_parameter_is_named() {
        let settings = SettingsUrl::parse("https://connector.example.com/settings");
        assert_eq!(
            settings.map(|url| url.to_string()).ok().as_deref(),
            Some("https://connector.example.com/settings")
        );
        for bad in [
            "",
            "connector.example.com/events",
            "ftp://example.com/",
            "mailto:a@b",
        ] {
            let error = EventsUrl::parse(bad).err().map(|error| error.to_string());
            assert!(
                error
                    .as_deref()
                    .is_some_and(|text| text.contains("handler")),
                "{bad:?}: {error:?}"
            );
        }
        let error = SettingsUrl::parse("/settings").err().map(|e| e.to_string());
        assert!(
            error
                .as_deref()
                .is_some_and(|text| text.contains("PLACEMENT_HANDLER")),
            "{error:?}"
        );
    }
}
