//! Reading what arrives at the install URL: the UI install POST, ONAPPINSTALL, ONAPPUPDATE,
//! ONAPPUNINSTALL.

use imconnector_transport::portals::PortalRecord;
use imconnector_transport::MemberId;
use secrecy::SecretString;
use serde_json::{Map, Value};

use super::InstallError;

/// One request to the install URL.
pub(crate) enum InstallRequest {
    Frame(FrameInstall),
    AppInstall(Box<PortalRecord>),
    /// ONAPPUPDATE: the same `auth` block as ONAPPINSTALL, with the app's new application token.
    AppUpdate(Box<PortalRecord>),
    AppUninstall(Uninstall),
}

/// The UI install POST (reference app-install.md §2): the admin's tokens and the portal.
pub(crate) struct FrameInstall {
    /// `DOMAIN` of the query (port included when not 80/443).
    pub(crate) domain: String,
    pub(crate) member_id: MemberId,
    pub(crate) refresh_token: SecretString,
    /// `APPLICATION_TOKEN`: only in the newer shape of the POST.
    pub(crate) application_token: Option<SecretString>,
}

/// ONAPPUNINSTALL: the only secret it carries is the application token.
pub(crate) struct Uninstall {
    pub(crate) member_id: MemberId,
    pub(crate) application_token: SecretString,
}

impl InstallRequest {
    pub(crate) fn parse(
        query: Option<&str>,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<Self, InstallError> {
        let malformed = |reason: String| InstallError::Malformed(reason);
        let body = imconnector_form::parse_body(content_type, body)
            .map_err(|error| malformed(format!("the body is not a form: {error}")))?;
        let Value::Object(mut fields) = body else {
            return Err(malformed(
                "the body is not a form or JSON object".to_owned(),
            ));
        };
        if let Some(event) = text(&fields, "event") {
            let auth = fields.get("auth").and_then(Value::as_object);
            return match event.to_ascii_uppercase().as_str() {
                "ONAPPINSTALL" => PortalRecord::from_install_event(&Value::Object(fields))
                    .map(|record| InstallRequest::AppInstall(Box::new(record)))
                    .map_err(|error| malformed(error.to_string())),
                "ONAPPUPDATE" => PortalRecord::from_install_event(&Value::Object(fields))
                    .map(|record| InstallRequest::AppUpdate(Box::new(record)))
                    .map_err(|error| malformed(error.to_string())),
                "ONAPPUNINSTALL" => {
                    let field = |key: &'static str| {
                        auth.and_then(|auth| text(auth, key))
                            .ok_or_else(|| malformed(format!("ONAPPUNINSTALL has no auth[{key}]")))
                    };
                    Ok(InstallRequest::AppUninstall(Uninstall {
                        member_id: MemberId::from(field("member_id")?),
                        application_token: SecretString::from(field("application_token")?),
                    }))
                }
                _ => Err(malformed(format!(
                    "the install URL takes ONAPPINSTALL, ONAPPUPDATE and ONAPPUNINSTALL, not {event}"
                ))),
            };
        }
        // The query's DOMAIN, PROTOCOL, LANG, APP_SID; body fields win, as on the portal.
        if let Some(query) = query {
            if let Ok(Value::Object(query)) = imconnector_form::parse(query.as_bytes()) {
                for (key, value) in query {
                    fields.entry(key).or_insert(value);
                }
            }
        }
        FrameInstall::from_fields(&fields).map(InstallRequest::Frame)
    }
}

impl FrameInstall {
    fn from_fields(fields: &Map<String, Value>) -> Result<Self, InstallError> {
        let missing =
            |key: &str| InstallError::Malformed(format!("the install POST has no `{key}`"));
        match text(fields, "PLACEMENT") {
            Some(placement) if placement.eq_ignore_ascii_case("DEFAULT") => {}
            Some(other) => {
                return Err(InstallError::Malformed(format!(
                    "the install URL takes PLACEMENT=DEFAULT, not {other}"
                )))
            }
            None => return Err(missing("PLACEMENT")),
        }
        // Checked though a proven refresh token replaces it: a POST without it is not the
        // portal's.
        text(fields, "AUTH_ID").ok_or_else(|| missing("AUTH_ID"))?;
        let expires = text(fields, "AUTH_EXPIRES").ok_or_else(|| missing("AUTH_EXPIRES"))?;
        // Seconds (3600), not a timestamp: anything else is not the portal's.
        if expires.parse::<u32>().is_err() {
            return Err(InstallError::Malformed(format!(
                "`AUTH_EXPIRES` must be a number of seconds, got {:?}",
                truncate(&expires)
            )));
        }
        Ok(Self {
            domain: text(fields, "DOMAIN").ok_or_else(|| missing("DOMAIN"))?,
            member_id: text(fields, "member_id")
                .map(MemberId::from)
                .ok_or_else(|| missing("member_id"))?,
            refresh_token: SecretString::from(
                text(fields, "REFRESH_ID").ok_or_else(|| missing("REFRESH_ID"))?,
            ),
            application_token: text(fields, "APPLICATION_TOKEN").map(SecretString::from),
        })
    }
}

/// A non-empty string (or number) field, trimmed.
fn text(fields: &Map<String, Value>, key: &str) -> Option<String> {
    match fields.get(key)? {
        Value::String(text) if !text.trim().is_empty() => Some(text.trim().to_owned()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// At most 32 characters of a bad value for an error message (it is not a secret field).
fn truncate(value: &str) -> String {
    value.chars().take(32).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const FRAME: &str =
        "AUTH_ID=a&AUTH_EXPIRES=3600&REFRESH_ID=r&member_id=m&status=L&PLACEMENT=DEFAULT";
    const QUERY: &str = "DOMAIN=p.example&PROTOCOL=1&LANG=en&APP_SID=abc";

    fn parse(query: Option<&str>, body: &str) -> Result<InstallRequest, InstallError> {
        InstallRequest::parse(query, None, body.as_bytes())
    }

    #[test]
    fn a_frame_post_is_read_from_query_and_body() {
        let Ok(InstallRequest::Frame(frame)) = parse(Some(QUERY), FRAME) else {
            panic!("a frame install");
        };
        assert_eq!(
            (frame.domain.as_str(), frame.member_id.as_str()),
            ("p.example", "m")
        );
        assert!(frame.application_token.is_none());
    }

    #[test]
    fn malformed_frames_name_the_fault() {
        for (body, fault) in [
            (FRAME.replace("AUTH_ID=a&", ""), "AUTH_ID"),
            (FRAME.replace("3600", "1773761165x"), "AUTH_EXPIRES"),
            (FRAME.replace("3600", "-1"), "AUTH_EXPIRES"),
            (FRAME.replace("REFRESH_ID=r&", ""), "REFRESH_ID"),
            (FRAME.replace("DEFAULT", "SETTING_CONNECTOR"), "PLACEMENT"),
        ] {
            let error = parse(Some(QUERY), &body).err().unwrap();
            assert!(
                matches!(&error, InstallError::Malformed(text) if text.contains(fault)),
                "{fault}: {error}"
            );
        }
        let error = parse(None, FRAME).err().unwrap();
        assert!(error.to_string().contains("DOMAIN"), "{error}");
        let error = parse(None, "event=ONIMCONNECTORMESSAGEADD").err().unwrap();
        assert!(
            error.to_string().contains("ONIMCONNECTORMESSAGEADD"),
            "{error}"
        );
    }

    #[test]
    fn lifecycle_events_are_recognised() {
        let uninstall = "event=ONAPPUNINSTALL&auth[member_id]=m&auth[application_token]=t";
        assert!(
            matches!(parse(None, uninstall), Ok(InstallRequest::AppUninstall(u)) if u.member_id == "m")
        );
        let error = parse(None, "event=ONAPPUNINSTALL&auth[member_id]=m")
            .err()
            .unwrap();
        assert!(error.to_string().contains("application_token"), "{error}");
        let error = parse(None, "event=ONAPPINSTALL&auth[member_id]=m")
            .err()
            .unwrap();
        assert!(matches!(error, InstallError::Malformed(_)), "{error}");
    }
}
