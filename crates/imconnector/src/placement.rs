//! The connector's settings page: the `SETTING_CONNECTOR` placement POST, typed, and the
//! documentation tutorial's handler logic.
//!
//! `imconnector.register` binds its `PLACEMENT_HANDLER` URL as this placement. Bitrix24 opens it
//! in a slider after the user clicks the connector's tile and picks an open line, with a form
//! POST carrying the user's tokens and `PLACEMENT_OPTIONS`, a JSON string with the connector,
//! the line and its status flags. Answer with an HTML page (it is shown in an iframe).

use imconnector_api::ids::{ConnectorId, LineId};
use imconnector_api::methods::{ActivateConnector, GetConnectorStatus, SetConnectorData};
use imconnector_api::types::{ConnectorData, ConnectorStatus};
use imconnector_transport::secrecy::{ExposeSecret, SecretString};
use imconnector_transport::{Client, MemberId, Tokens};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::{Step, WorkflowError};

/// The placement name this module parses.
pub const SETTING_CONNECTOR: &str = "SETTING_CONNECTOR";

/// Why a placement POST could not be read. Never contains a token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlacementError {
    /// The body is not a form this crate can parse.
    #[error("the placement body is not a valid form: {0}")]
    Form(#[from] imconnector_form::FormError),
    /// A field the portal always sends is missing or empty.
    #[error("the placement POST has no `{0}`")]
    Missing(&'static str),
    /// A field does not have the documented shape.
    #[error("`{field}` of the placement POST is malformed: {reason}")]
    Invalid {
        /// The field (`PLACEMENT_OPTIONS`, `PLACEMENT_OPTIONS.LINE`, ...).
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The POST is for another placement.
    #[error("expected the {SETTING_CONNECTOR} placement, got `{0}`")]
    OtherPlacement(String),
}

/// `PLACEMENT_OPTIONS` of `SETTING_CONNECTOR`: which connector and line the page is for, and the
/// connector's status flags on that line.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct PlacementOptions {
    /// `CONNECTOR`: the connector id (already lowercased by the portal).
    #[serde(rename = "CONNECTOR")]
    pub connector: ConnectorId,
    /// `LINE`: the open line the user picked (sent as a string).
    #[serde(rename = "LINE")]
    pub line: LineId,
    /// `ACTIVE_STATUS`: the user switched the connector on for the line.
    #[serde(
        rename = "ACTIVE_STATUS",
        default,
        deserialize_with = "imconnector_api::php::deserialize_bool"
    )]
    pub active_status: bool,
    /// `CONNECTION_STATUS`.
    #[serde(
        rename = "CONNECTION_STATUS",
        default,
        deserialize_with = "imconnector_api::php::deserialize_bool"
    )]
    pub connection_status: bool,
    /// `REGISTER_STATUS`.
    #[serde(
        rename = "REGISTER_STATUS",
        default,
        deserialize_with = "imconnector_api::php::deserialize_bool"
    )]
    pub register_status: bool,
    /// `ERROR_STATUS`: set by `imconnector.set.error`.
    #[serde(
        rename = "ERROR_STATUS",
        default,
        deserialize_with = "imconnector_api::php::deserialize_bool"
    )]
    pub error_status: bool,
    /// `STATUS`: active, connected, registered and no error; messages flow.
    #[serde(
        rename = "STATUS",
        default,
        deserialize_with = "imconnector_api::php::deserialize_bool"
    )]
    pub status: bool,
    /// `URI`: the page the slider was opened from, when the portal knows it.
    #[serde(rename = "URI", default)]
    pub uri: Option<String>,
    /// Keys this SDK does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A `SETTING_CONNECTOR` placement POST: the viewing user's tokens, the portal, and
/// [`PlacementOptions`].
///
/// ```
/// use imconnector::placement::SettingsPlacement;
///
/// let body = "AUTH_ID=at&AUTH_EXPIRES=3600&REFRESH_ID=rt&member_id=bac1&status=L\
///     &PLACEMENT=SETTING_CONNECTOR&APPLICATION_TOKEN=831c\
///     &PLACEMENT_OPTIONS=%7B%22CONNECTOR%22%3A%22acme_chat%22%2C%22LINE%22%3A%223%22%2C\
///     %22ACTIVE_STATUS%22%3Atrue%2C%22STATUS%22%3Afalse%7D";
/// let page = SettingsPlacement::parse(Some("DOMAIN=example.bitrix24.com&PROTOCOL=1"), body.as_bytes())?;
/// assert_eq!(page.options.connector.as_str(), "acme_chat");
/// assert_eq!(page.options.line.get(), 3);
/// assert!(page.options.active_status);
/// assert!(page.has_application_token("831c"));
/// assert_eq!(page.portal_rest_url().as_deref(), Some("https://example.bitrix24.com/rest/"));
/// # Ok::<(), imconnector::placement::PlacementError>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SettingsPlacement {
    /// `PLACEMENT_OPTIONS`, decoded.
    pub options: PlacementOptions,
    /// `AUTH_ID`: the viewing user's access token.
    pub access_token: SecretString,
    /// `REFRESH_ID`: the viewing user's refresh token.
    pub refresh_token: Option<SecretString>,
    /// `AUTH_EXPIRES`: seconds the access token lives.
    pub expires_in: Option<i64>,
    /// `APPLICATION_TOKEN`: the application token, the same as in every event.
    pub application_token: Option<SecretString>,
    /// `member_id`: the portal's id.
    pub member_id: MemberId,
    /// `APPLICATION_SCOPE`: granted scopes.
    pub scope: Option<String>,
    /// `SERVER_ENDPOINT`: the OAuth server's REST base.
    pub server_endpoint: Option<String>,
    /// `status`: the application's status (`L`, `F`, `D`, `T`, `P`).
    pub status: Option<String>,
    /// `DOMAIN` (query string): the portal's host name.
    pub domain: Option<String>,
    /// `PROTOCOL` (query string): `1` for HTTPS, `0` for HTTP.
    pub protocol: Option<String>,
    /// `LANG` (query string): the user's interface language.
    pub lang: Option<String>,
    /// `APP_SID` (query string).
    pub app_sid: Option<String>,
}

impl SettingsPlacement {
    /// Parses the form body of the POST; the query-string fields (`DOMAIN`, `PROTOCOL`, `LANG`,
    /// `APP_SID`) are taken from the body when present there.
    ///
    /// # Errors
    /// [`PlacementError`] for a malformed form, a missing `AUTH_ID`, `member_id` or
    /// `PLACEMENT_OPTIONS`, options without `CONNECTOR`/`LINE`, or another placement.
    pub fn from_form(body: &[u8]) -> Result<Self, PlacementError> {
        Self::parse(None, body)
    }

    /// Parses the POST: its query string (without `?`, if any) and its form body. Body fields
    /// win over query fields of the same name, as on the portal.
    ///
    /// # Errors
    /// As [`from_form`](Self::from_form).
    pub fn parse(query: Option<&str>, body: &[u8]) -> Result<Self, PlacementError> {
        let mut fields = match query {
            Some(query) => object(imconnector_form::parse(query.as_bytes())?),
            None => Map::new(),
        };
        fields.extend(object(imconnector_form::parse(body)?));
        let text = |key: &str| -> Option<String> {
            match fields.get(key) {
                Some(Value::String(text)) if !text.is_empty() => Some(text.clone()),
                _ => None,
            }
        };
        if let Some(placement) = text("PLACEMENT") {
            if !placement.eq_ignore_ascii_case(SETTING_CONNECTOR) {
                return Err(PlacementError::OtherPlacement(placement));
            }
        }
        let raw_options =
            text("PLACEMENT_OPTIONS").ok_or(PlacementError::Missing("PLACEMENT_OPTIONS"))?;
        let options = parse_options(&raw_options)?;
        let access_token = text("AUTH_ID").ok_or(PlacementError::Missing("AUTH_ID"))?;
        let member_id = text("member_id")
            .map(MemberId::from)
            .ok_or(PlacementError::Missing("member_id"))?;
        let expires_in = match text("AUTH_EXPIRES") {
            None => None,
            Some(seconds) => {
                Some(
                    seconds
                        .trim()
                        .parse::<i64>()
                        .map_err(|_| PlacementError::Invalid {
                            field: "AUTH_EXPIRES",
                            reason: format!("expected a number of seconds, got {seconds:?}"),
                        })?,
                )
            }
        };
        Ok(Self {
            options,
            access_token: SecretString::from(access_token),
            refresh_token: text("REFRESH_ID").map(SecretString::from),
            expires_in,
            application_token: text("APPLICATION_TOKEN").map(SecretString::from),
            member_id,
            scope: text("APPLICATION_SCOPE"),
            server_endpoint: text("SERVER_ENDPOINT"),
            status: text("status"),
            domain: text("DOMAIN"),
            protocol: text("PROTOCOL"),
            lang: text("LANG"),
            app_sid: text("APP_SID"),
        })
    }

    /// Whether the POST carries `expected` as `APPLICATION_TOKEN` (compared in constant time):
    /// the check that the page was really opened by your application on that portal.
    pub fn has_application_token(&self, expected: &str) -> bool {
        self.application_token.as_ref().is_some_and(|token| {
            imconnector_transport::secrets_match(token.expose_secret(), expected)
        })
    }

    /// The portal's REST base built from `DOMAIN` and `PROTOCOL`
    /// (`https://example.bitrix24.com/rest/`), when the POST names the domain.
    pub fn portal_rest_url(&self) -> Option<String> {
        let domain = self.domain.as_deref()?.trim_end_matches('/');
        let scheme = if self.protocol.as_deref() == Some("0") {
            "http"
        } else {
            "https"
        };
        Some(format!("{scheme}://{domain}/rest/"))
    }

    /// The viewing user's token pair, to build a [`Client`] acting as them; `None` without
    /// `REFRESH_ID`.
    pub fn tokens(&self) -> Option<Tokens> {
        let refresh = self.refresh_token.as_ref()?;
        let mut tokens = Tokens::new(self.access_token.expose_secret(), refresh.expose_secret())
            .with_member_id(self.member_id.clone());
        if let Some(seconds) = self
            .expires_in
            .and_then(|seconds| u64::try_from(seconds).ok())
        {
            tokens = tokens.with_expires_in(std::time::Duration::from_secs(seconds));
        }
        if let Some(endpoint) = self.portal_rest_url() {
            tokens = tokens.with_client_endpoint(endpoint);
        }
        if let Some(scope) = &self.scope {
            tokens = tokens.with_scope(scope);
        }
        Some(tokens)
    }
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn parse_options(raw: &str) -> Result<PlacementOptions, PlacementError> {
    let invalid = |reason: String| PlacementError::Invalid {
        field: "PLACEMENT_OPTIONS",
        reason,
    };
    let value: Value =
        serde_json::from_str(raw).map_err(|error| invalid(format!("not JSON ({error})")))?;
    let Value::Object(map) = &value else {
        return Err(invalid("not a JSON object".to_owned()));
    };
    for (key, field) in [
        ("CONNECTOR", "PLACEMENT_OPTIONS.CONNECTOR"),
        ("LINE", "PLACEMENT_OPTIONS.LINE"),
    ] {
        if map
            .get(key)
            .is_none_or(|value| value.is_null() || value == "")
        {
            return Err(PlacementError::Missing(field));
        }
    }
    serde_json::from_value(value).map_err(|error| invalid(error.to_string()))
}

/// What [`apply_settings`] did.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum AppliedSettings {
    /// The connector was activated on the line and its channel data set.
    Activated(ConnectorStatus),
    /// The user switched the connector off: it was deactivated on the line.
    Deactivated,
}

/// What the documentation's tutorial handler does with the settings page: activate the
/// connector on the chosen line according to `ACTIVE_STATUS` (the portal's *Connect* button
/// only sets ACTIVE; the app must call `imconnector.activate` for messages to flow), then store
/// the channel data and read the status back.
///
/// Deactivation deletes the line's status row with its data, so `data` is only sent when
/// activating.
///
/// # Errors
/// [`WorkflowError::Call`] naming the failed step (a malformed connector id or line in the
/// options is refused locally, as an [`InvalidRequest`](imconnector_transport::Error::InvalidRequest)).
pub async fn apply_settings(
    client: &Client,
    placement: &SettingsPlacement,
    data: ConnectorData,
) -> Result<AppliedSettings, WorkflowError> {
    let PlacementOptions {
        connector,
        line,
        active_status,
        ..
    } = &placement.options;
    let active = *active_status;
    let step = if active {
        Step::Activate
    } else {
        Step::Deactivate
    };
    client
        .call(&ActivateConnector::new(connector.clone(), *line, active))
        .await
        .map_err(WorkflowError::call(step))?;
    if !active {
        return Ok(AppliedSettings::Deactivated);
    }
    client
        .call(&SetConnectorData::new(connector.clone(), *line, data))
        .await
        .map_err(WorkflowError::call(Step::SetData))?;
    let status = client
        .call(&GetConnectorStatus::new(connector.clone(), *line))
        .await
        .map_err(WorkflowError::call(Step::Status))?;
    Ok(AppliedSettings::Activated(status))
}
