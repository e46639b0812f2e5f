//! Identifiers: connector ids and line ids you build, ids the server sends, icon data URIs.

use std::fmt;

use serde::{de::Error as _, Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::decode::{describe, lenient_i64, wire_decode_via_serde, WireDecode};
use super::Validate;
use crate::transport::InvalidRequest;

/// The longest connector id the portal stores (its database column).
const CONNECTOR_ID_MAX_LEN: usize = 255;

/// A connector id, as given to `imconnector.register` and every other connector method.
///
/// Built with [`ConnectorId::new`], which lowercases it (the portal stores it lowercased) and
/// refuses what the portal would mangle or reject: an empty id, a `.` (the portal cuts the id
/// at the first dot, or refuses registration), and anything outside `[a-z0-9_]`.
///
/// Values decoded from the server are taken as sent (lowercased), since the server's own id is
/// by definition the right one to send back; requests check them again before sending.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ConnectorId(String);

impl ConnectorId {
    /// Lowercases and checks a connector id.
    ///
    /// # Errors
    /// [`InvalidRequest`] for the parameter `CONNECTOR` (`imconnector.register` and
    /// `.unregister` call it `ID`; their validation names it so) when the id is empty, longer
    /// than 255 characters, or contains a dot or a character outside `[a-z0-9_]`.
    ///
    /// ```
    /// # use imconnector_api::ids::ConnectorId;
    /// assert_eq!(ConnectorId::new("Acme_Chat").unwrap().as_str(), "acme_chat");
    /// assert!(ConnectorId::new("acme.chat").is_err());
    /// ```
    pub fn new(id: impl Into<String>) -> Result<Self, InvalidRequest> {
        let id = id.into().to_ascii_lowercase();
        match problem(&id) {
            Some(reason) => Err(InvalidRequest::new("CONNECTOR", reason)),
            None => Ok(Self(id)),
        }
    }

    /// The id, lowercased.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why `id` (already lowercased) is not a valid connector id, if it is not.
fn problem(id: &str) -> Option<String> {
    if id.is_empty() {
        return Some("the connector id is empty".to_owned());
    }
    if id.contains('.') {
        return Some(format!(
            "the connector id `{id}` contains a dot; the portal cuts ids at the first dot"
        ));
    }
    if let Some(bad) = id
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
    {
        return Some(format!(
            "the connector id `{id}` contains {bad:?}; use only a-z, 0-9 and _"
        ));
    }
    if id.len() > CONNECTOR_ID_MAX_LEN {
        return Some(format!(
            "the connector id is {} characters long; the portal stores at most {CONNECTOR_ID_MAX_LEN}",
            id.len()
        ));
    }
    None
}

impl fmt::Display for ConnectorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ConnectorId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for ConnectorId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for ConnectorId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl<'de> Deserialize<'de> for ConnectorId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text: String = super::decode(deserializer)?;
        Ok(Self(text.to_ascii_lowercase()))
    }
}

impl Validate for ConnectorId {
    fn validate_at(&self, path: &str) -> Result<(), InvalidRequest> {
        match problem(&self.0) {
            Some(reason) => Err(InvalidRequest::new(path.to_owned(), reason)),
            None => Ok(()),
        }
    }
}

/// An open-line id: positive, sent as a JSON number.
///
/// Decodes from a number or a numeric string (the portal sends both); decoded values are not
/// checked (`imconnector.status` answers `0` for a missing line), requests check them again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct LineId(i64);

impl LineId {
    /// Checks a line id.
    ///
    /// # Errors
    /// [`InvalidRequest`] for `LINE` when `id` is zero or negative (the portal reads a missing
    /// or zero line as "no line").
    ///
    /// ```
    /// # use imconnector_api::ids::LineId;
    /// assert_eq!(LineId::new(107).unwrap().get(), 107);
    /// assert!(LineId::new(0).is_err());
    /// ```
    pub fn new(id: i64) -> Result<Self, InvalidRequest> {
        if id > 0 {
            Ok(Self(id))
        } else {
            Err(InvalidRequest::new("LINE", non_positive(id)))
        }
    }

    /// The id.
    pub fn get(self) -> i64 {
        self.0
    }
}

fn non_positive(id: i64) -> String {
    format!("the line id must be positive, got {id}")
}

impl fmt::Display for LineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl PartialEq<i64> for LineId {
    fn eq(&self, other: &i64) -> bool {
        self.0 == *other
    }
}

impl<'de> Deserialize<'de> for LineId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        lenient_i64(&value).map(Self).map_err(D::Error::custom)
    }
}

impl Validate for LineId {
    fn validate_at(&self, path: &str) -> Result<(), InvalidRequest> {
        if self.0 > 0 {
            Ok(())
        } else {
            Err(InvalidRequest::new(path.to_owned(), non_positive(self.0)))
        }
    }
}

/// An id the server sends as a string or a number (`"585"` or `585`), kept as text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Id(String);

impl Id {
    /// Wraps an id.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id as an integer, when it is one.
    pub fn as_i64(&self) -> Option<i64> {
        self.0.trim().parse().ok()
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<String> for Id {
    fn from(id: String) -> Self {
        Self(id)
    }
}

impl From<&str> for Id {
    fn from(id: &str) -> Self {
        Self(id.to_owned())
    }
}

impl From<i64> for Id {
    fn from(id: i64) -> Self {
        Self(id.to_string())
    }
}

impl PartialEq<str> for Id {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Id {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text: String = super::decode(deserializer)?;
        Ok(Self(text))
    }
}

/// A connector icon as a `data:image/...` URI, e.g. `data:image/svg+xml,%3Csvg...`.
///
/// Checked when the request is validated: it must start with `data:image/` and must not
/// contain `'` (the portal inlines it into CSS `url('...')`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct DataImageUri(String);

impl DataImageUri {
    /// Wraps a URI; it is checked when the request holding it is validated.
    pub fn new(uri: impl Into<String>) -> Self {
        Self(uri.into())
    }

    /// The URI.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for DataImageUri {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text: String = super::decode(deserializer)?;
        Ok(Self(text))
    }
}

impl Validate for DataImageUri {
    fn validate_at(&self, path: &str) -> Result<(), InvalidRequest> {
        let prefix = self.0.get(..11).unwrap_or_default();
        if !prefix.eq_ignore_ascii_case("data:image/") {
            return Err(InvalidRequest::new(
                path.to_owned(),
                format!(
                    "the icon must be a data:image/ URI, got {}",
                    describe(&Value::String(self.0.clone()))
                ),
            ));
        }
        if self.0.contains('\'') {
            return Err(InvalidRequest::new(
                path.to_owned(),
                "the icon URI contains `'`, which breaks the CSS url('...') the portal puts it in; percent-encode it as %27",
            ));
        }
        Ok(())
    }
}

// The ids of every event are decoded directly, not through a serde round trip.
impl WireDecode for ConnectorId {
    fn from_wire(value: Value) -> Result<Self, String> {
        let mut text = String::from_wire(value)?;
        text.make_ascii_lowercase();
        Ok(Self(text))
    }
}

impl WireDecode for LineId {
    fn from_wire(value: Value) -> Result<Self, String> {
        lenient_i64(&value).map(Self)
    }
}

impl WireDecode for Id {
    fn from_wire(value: Value) -> Result<Self, String> {
        String::from_wire(value).map(Self)
    }
}

wire_decode_via_serde!(DataImageUri);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn connector_id_is_lowercased_and_refuses_what_the_portal_would_mangle() {
        assert_eq!(ConnectorId::new("ACME_Chat_2").unwrap(), "acme_chat_2");
        for (bad, why) in [
            ("", "empty"),
            ("acme.chat", "dot"),
            ("acme-chat", "'-'"),
            ("acme chat", "' '"),
            ("acmé", "'é'"),
        ] {
            let error = ConnectorId::new(bad).unwrap_err();
            assert_eq!(error.parameter, "CONNECTOR");
            assert!(error.reason.contains(why), "{bad:?}: {}", error.reason);
        }
        assert!(ConnectorId::new("a".repeat(256)).is_err());
        assert!(ConnectorId::new("a".repeat(255)).is_ok());
    }

    #[test]
    fn connector_id_from_the_server_is_checked_again_under_its_own_parameter_name() {
        let decoded: ConnectorId = serde_json::from_value(json!("Acme.Chat")).unwrap();
        assert_eq!(decoded.as_str(), "acme.chat");
        let error = decoded.validate_at("ID").unwrap_err();
        assert_eq!(error.parameter, "ID");
    }

    #[test]
    fn line_id_must_be_positive_and_decodes_from_numbers_or_strings() {
        assert_eq!(LineId::new(1).unwrap().get(), 1);
        let error = LineId::new(0).unwrap_err();
        assert_eq!(
            (error.parameter.as_ref(), error.reason.as_str()),
            ("LINE", "the line id must be positive, got 0")
        );
        assert!(LineId::new(-5).is_err());
        assert_eq!(
            serde_json::to_value(LineId::new(107).unwrap()).unwrap(),
            json!(107)
        );
        let decoded: LineId = serde_json::from_value(json!("105")).unwrap();
        assert_eq!(decoded.get(), 105);
        let zero: LineId = serde_json::from_value(json!(0)).unwrap();
        assert_eq!(zero.validate_at("LINE").unwrap_err().parameter, "LINE");
        assert!(serde_json::from_value::<LineId>(json!("abc")).is_err());
    }

    #[test]
    fn id_keeps_numbers_as_text() {
        let id: Id = serde_json::from_value(json!(585)).unwrap();
        assert_eq!(id, "585");
        assert_eq!(id.as_i64(), Some(585));
        assert_eq!(serde_json::to_value(&id).unwrap(), json!("585"));
    }

    #[test]
    fn icon_must_be_a_data_image_uri_without_quotes() {
        assert!(DataImageUri::new("data:image/svg+xml,%3Csvg%2F%3E")
            .validate_at("ICON.DATA_IMAGE")
            .is_ok());
        assert!(DataImageUri::new("DATA:IMAGE/png;base64,AAAA")
            .validate_at("ICON.DATA_IMAGE")
            .is_ok());
        let error = DataImageUri::new("https://example.com/icon.svg")
            .validate_at("ICON.DATA_IMAGE")
            .unwrap_err();
        assert_eq!(error.parameter, "ICON.DATA_IMAGE");
        assert!(error.reason.contains("data:image/"));
        assert!(DataImageUri::new("data:image/svg+xml,<svg a='b'/>")
            .validate_at("ICON.DATA_IMAGE")
            .is_err());
        assert!(DataImageUri::new("")
            .validate_at("ICON.DATA_IMAGE")
            .is_err());
    }
}
