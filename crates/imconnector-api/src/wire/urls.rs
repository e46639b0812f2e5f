//! The two URLs of a connector app, as distinct types so they cannot be swapped silently:
//! Bitrix24 opens the [`SettingsUrl`] in an iframe (the settings placement) and POSTs events
//! to the [`EventsUrl`].

use std::fmt;
use std::str::FromStr;

use serde::{de::Error as _, Deserialize, Deserializer, Serialize, Serializer};

use crate::transport::InvalidRequest;

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

/// The traits both URL types share; `$parameter` is the request parameter named in errors.
macro_rules! url_type {
    ($name:ident, $parameter:literal) => {
        impl $name {
            /// Checks `url` is an absolute http(s) URL with a host.
            ///
            /// # Errors
            #[doc = concat!("[`InvalidRequest`] naming `", $parameter, "`.")]
            pub fn parse(url: &str) -> Result<Self, InvalidRequest> {
                parse_http_url($parameter, url).map(Self)
            }

            /// The URL.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = InvalidRequest;

            fn from_str(url: &str) -> Result<Self, InvalidRequest> {
                Self::parse(url)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = InvalidRequest;

            fn try_from(url: &str) -> Result<Self, InvalidRequest> {
                Self::parse(url)
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidRequest;

            fn try_from(url: String) -> Result<Self, InvalidRequest> {
                Self::parse(&url)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        /// Checked like [`parse`](Self::parse): a stored or configured URL that is not an
        /// absolute http(s) URL fails to deserialize.
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                Self::parse(&text).map_err(D::Error::custom)
            }
        }

        impl crate::wire::WireDecode for $name {
            fn from_wire(value: serde_json::Value) -> Result<Self, String> {
                match value {
                    serde_json::Value::String(text) => {
                        Self::parse(&text).map_err(|error| error.to_string())
                    }
                    other => Err(format!(
                        "expected a URL string, got {}",
                        super::decode::describe(&other)
                    )),
                }
            }
        }
    };
}

/// Where Bitrix24 opens the connector's settings page (`PLACEMENT_HANDLER` of
/// `imconnector.register`): the app's settings placement handler.
///
/// ```
/// # use imconnector_api::ids::SettingsUrl;
/// let url: SettingsUrl = "https://connector.example.com/settings".parse()?;
/// assert_eq!(url.as_ref(), "https://connector.example.com/settings");
/// assert!(SettingsUrl::try_from("/settings").is_err());
/// # Ok::<(), imconnector_api::transport::InvalidRequest>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SettingsUrl(String);

url_type!(SettingsUrl, "PLACEMENT_HANDLER");

/// Where Bitrix24 POSTs the connector's events (`handler` of `event.bind`): where the event
/// receiver is mounted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventsUrl(String);

url_type!(EventsUrl, "handler");

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
        assert!(serde_json::from_str::<EventsUrl>("\"ftp://example.com/\"").is_err());
        let url: EventsUrl = serde_json::from_str("\"https://example.com/events\"").unwrap();
        assert_eq!(
            serde_json::to_string(&url).unwrap(),
            "\"https://example.com/events\""
        );
        assert!(
            error
                .as_deref()
                .is_some_and(|text| text.contains("PLACEMENT_HANDLER")),
            "{error:?}"
        );
    }
}
