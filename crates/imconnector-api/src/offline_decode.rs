//! Decoding a row of the offline event queue (`event.offline.get`) into the same
//! [`Event`](crate::events::Event) the receiver decodes from an online POST.

use serde_json::{json, Map, Value};

use crate::events::{Event, EventDecodeError};
use crate::types::OfflineEventRow;
use crate::wire::MemberId;

impl OfflineEventRow {
    /// The typed [`Event`] the portal would have POSTed online for this row: `EVENT_NAME`
    /// picks the variant (case-insensitively, [`Event::Unknown`] for an event this SDK does not
    /// describe) and `EVENT_DATA` is its `data`, decoded by the same decoder as an online POST.
    ///
    /// A row has no `auth` block: the event's `auth` names the portal the row was read from
    /// (`member_id`, `domain`), `user_id` from `EVENT_ADDITIONAL`, and no tokens (its
    /// application token is empty). The row is proven by the authenticated REST call that
    /// fetched it, so do not check its application token. `handler_id` and `ts` are `None`:
    /// the row's own ids stay on the row ([`id`](Self::id), [`message_id`](Self::message_id),
    /// [`timestamp`](Self::timestamp)).
    ///
    /// # Errors
    /// [`EventDecodeError::Shape`] when the row's data does not fit its event (naming the
    /// event, never a token).
    ///
    /// ```
    /// # use imconnector_api::events::Event;
    /// # use imconnector_api::ids::MemberId;
    /// # use imconnector_api::types::OfflineEventRow;
    /// let row: OfflineEventRow = serde_json::from_value(serde_json::json!({
    ///     "ID": "7", "TIMESTAMP_X": "2025-01-28T12:00:00+00:00",
    ///     "EVENT_NAME": "ONIMCONNECTORLINEDELETE", "EVENT_DATA": "107",
    ///     "EVENT_ADDITIONAL": {"user_id": "1"}, "MESSAGE_ID": "0c4b1d9a3f2e8b7c",
    /// }))?;
    /// let event = row.to_event(&MemberId::from("bac1"), "some.bitrix24.com")?;
    /// assert!(matches!(event, Event::LineDelete(ref deleted) if deleted.data == 107));
    /// assert_eq!(event.auth().member_id, "bac1");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_event(&self, member_id: &MemberId, domain: &str) -> Result<Event, EventDecodeError> {
        let mut auth = Map::new();
        auth.insert("application_token".to_owned(), json!(""));
        auth.insert("domain".to_owned(), json!(domain));
        auth.insert("member_id".to_owned(), json!(member_id.as_str()));
        if let Some(user) = self
            .event_additional
            .get("user_id")
            .filter(|user| user.is_string() || user.is_number())
        {
            auth.insert("user_id".to_owned(), user.clone());
        }
        let envelope = json!({
            "event": self.event_name,
            // `false` is how the portal stores "no data"; an event that needs data says so.
            "data": self.event_data,
            "auth": Value::Object(auth),
        });
        Event::decode_named(&self.event_name, envelope).map_err(|reason| EventDecodeError::Shape {
            event: self.event_name.clone(),
            reason,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn row(event: &str, data: Value) -> OfflineEventRow {
        serde_json::from_value(json!({
            "ID": 12, "TIMESTAMP_X": "2025-01-28T12:00:00+00:00", "EVENT_NAME": event,
            "EVENT_DATA": data, "EVENT_ADDITIONAL": {"user_id": "5"}, "MESSAGE_ID": "ab12",
        }))
        .unwrap()
    }

    #[test]
    fn a_message_add_row_decodes_like_the_online_post() {
        let data = json!({"CONNECTOR": "acme", "LINE": "3", "MESSAGES": [{
            "im": {"chat_id": "24", "message_id": "1510"},
            "message": {"id": "", "date": "1738065600", "text": "Hello"},
            "chat": {"id": "chat-1"}, "user": {"id": "1"},
        }]});
        let offline = row("ONIMCONNECTORMESSAGEADD", data.clone())
            .to_event(&MemberId::from("m1"), "d.example")
            .unwrap();
        let online = Event::from_value(json!({
            "event": "ONIMCONNECTORMESSAGEADD", "data": data,
            "auth": {"application_token": "t", "domain": "d.example", "member_id": "m1"},
        }))
        .unwrap();
        let (Event::MessageAdd(offline), Event::MessageAdd(online)) = (offline, online) else {
            panic!("both are message events");
        };
        assert_eq!(offline.data, online.data);
        assert_eq!(offline.auth.member_id, "m1");
        assert_eq!(offline.auth.user_id.map(|user| user.get()), Some(5));
        assert!(offline.handler_id.is_none() && offline.ts.is_none());
    }

    #[test]
    fn an_unknown_event_keeps_its_data_and_a_misshapen_row_is_a_typed_error() {
        let unknown = row("ONCRMLEADADD", json!({"FIELDS": {"ID": "1"}}))
            .to_event(&MemberId::from("m1"), "d")
            .unwrap();
        assert!(matches!(&unknown, Event::Unknown(event) if event.data["FIELDS"]["ID"] == "1"));
        let error = row("ONIMCONNECTORMESSAGEADD", json!({"LINE": "x"}))
            .to_event(&MemberId::from("m1"), "d")
            .unwrap_err();
        assert!(
            matches!(&error, EventDecodeError::Shape { event, .. } if event == "ONIMCONNECTORMESSAGEADD"),
            "{error}"
        );
    }

    #[test]
    fn a_row_without_data_keeps_the_portals_false() {
        let docs: OfflineEventRow = serde_json::from_value(json!({
            "ID": "1", "TIMESTAMP_X": "2024-07-18T12:32:31+02:00", "EVENT_NAME": "ONCRMLEADADD",
            "EVENT_DATA": false, "EVENT_ADDITIONAL": false, "MESSAGE_ID": "1",
        }))
        .unwrap();
        assert_eq!(docs.event_data, json!(false));
        let event = docs.to_event(&MemberId::from("m"), "d").unwrap();
        assert!(matches!(&event, Event::Unknown(event) if event.data == json!(false)));
    }
}
