//! The offline event queue: what `event.bind` with `event_type=offline` queues instead of
//! POSTing, read and confirmed with `event.offline.get/list/clear/error`
//! (`events/offline-events.md`; production-facts "Offline events").
//!
//! Modelled on the server: a row's `MESSAGE_ID` is a hash of the event name and its data, so an
//! identical payload merges into the waiting row (its time is refreshed) [S]; `get` with
//! `clear=0` hides the rows it returns under a `process_id` until they are cleared or marked
//! failed [D]. Assumptions where neither the docs nor the server notes say (marked so in the
//! tests): a row already reserved or failed is never merged into (a new row is queued), and
//! `error` releases the rows from their process so that `get` with `error=1` returns them.

use std::collections::{BTreeMap, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};

use serde_json::{json, Value};

use crate::snapshot::OfflineEventInfo;
use crate::state::Portal;

/// An `ONOFFLINEEVENT` notification is sent at most once per this many emulated seconds per
/// binding unless `options[minTimeout]` says otherwise (`on-offline-event.md`: default 1).
pub(crate) const DEFAULT_MIN_TIMEOUT: f64 = 1.0;

/// One queued event.
#[derive(Debug, Clone)]
pub(crate) struct OfflineRow {
    pub(crate) id: u64,
    pub(crate) app: usize,
    /// `auth_connector` of the binding (the queue is split by source).
    pub(crate) source: String,
    /// Emulated unix time of the last merge.
    pub(crate) timestamp: f64,
    /// Uppercase event name.
    pub(crate) event: String,
    pub(crate) data: Value,
    pub(crate) additional: Value,
    pub(crate) message_id: String,
    /// Empty until `get` with `clear=0` reserves the row.
    pub(crate) process_id: String,
    pub(crate) error: bool,
}

impl OfflineRow {
    /// What tests read of it.
    pub(crate) fn snapshot(&self, client_id: &str) -> OfflineEventInfo {
        OfflineEventInfo {
            id: self.id,
            client_id: client_id.to_owned(),
            source: self.source.clone(),
            event: self.event.clone(),
            data: self.data.clone(),
            message_id: self.message_id.clone(),
            process_id: (!self.process_id.is_empty()).then(|| self.process_id.clone()),
            error: self.error,
        }
    }

    /// The row as `event.offline.get` returns it.
    pub(crate) fn to_get_json(&self) -> Value {
        json!({
            "ID": self.id.to_string(),
            "TIMESTAMP_X": crate::envelope::iso_date(self.timestamp),
            "EVENT_NAME": self.event,
            "EVENT_DATA": self.data,
            "EVENT_ADDITIONAL": self.additional,
            "MESSAGE_ID": self.message_id,
        })
    }

    /// The row as `event.offline.list` returns it (with its process and error mark).
    pub(crate) fn to_list_json(&self) -> Value {
        let mut row = self.to_get_json();
        if let Value::Object(map) = &mut row {
            map.insert("PROCESS_ID".to_owned(), json!(self.process_id));
            map.insert(
                "ERROR".to_owned(),
                json!(if self.error { "1" } else { "0" }),
            );
        }
        row
    }
}

/// Every app's queued rows, by id.
#[derive(Debug, Default)]
pub(crate) struct OfflineQueue {
    rows: BTreeMap<u64, OfflineRow>,
    last_id: u64,
    /// `ONOFFLINEEVENT` binding id -> emulated time of its last notification.
    last_wakeup: HashMap<u64, f64>,
}

/// `MESSAGE_ID`: the same event with the same data always hashes alike.
fn message_id(event: &str, data: &Value) -> String {
    let mut first = DefaultHasher::new();
    (event, data.to_string()).hash(&mut first);
    let mut second = DefaultHasher::new();
    (data.to_string(), event, 1u8).hash(&mut second);
    format!("{:016x}{:016x}", first.finish(), second.finish())
}

impl Portal {
    /// Queues `event` for `app` (the binding's `source`), merging it into the waiting row with
    /// the same `MESSAGE_ID`.
    pub(crate) fn queue_offline(
        &mut self,
        app: usize,
        source: &str,
        event: &str,
        data: &Value,
        acting_user: u64,
    ) {
        let message_id = message_id(event, data);
        let now = self.now;
        let waiting = self.offline.rows.values_mut().find(|row| {
            row.app == app
                && row.source == source
                && row.message_id == message_id
                && row.process_id.is_empty()
                && !row.error
        });
        if let Some(row) = waiting {
            row.timestamp = now;
            return;
        }
        self.offline.last_id += 1;
        let id = self.offline.last_id;
        self.offline.rows.insert(
            id,
            OfflineRow {
                id,
                app,
                source: source.to_owned(),
                timestamp: now,
                event: event.to_owned(),
                data: data.clone(),
                additional: json!({ "user_id": acting_user.to_string() }),
                message_id,
                process_id: String::new(),
                error: false,
            },
        );
        self.counters.offline_events_queued += 1;
    }

    /// The rows of `app` from `source`, by id.
    pub(crate) fn offline_rows(&self, app: usize, source: &str) -> Vec<&OfflineRow> {
        self.offline
            .rows
            .values()
            .filter(|row| row.app == app && row.source == source)
            .collect()
    }

    /// Every app's rows, by id (inspection).
    pub(crate) fn all_offline_rows(&self) -> impl Iterator<Item = &OfflineRow> {
        self.offline.rows.values()
    }

    /// Reserves the rows `ids` under `process_id`.
    pub(crate) fn reserve_offline(&mut self, ids: &[u64], process_id: &str) {
        for id in ids {
            if let Some(row) = self.offline.rows.get_mut(id) {
                process_id.clone_into(&mut row.process_id);
            }
        }
    }

    /// A new random `process_id`.
    pub(crate) fn new_process_id(&mut self) -> String {
        crate::state::tokens::random_token(&mut self.rng)
    }

    /// Removes the rows `ids`.
    pub(crate) fn remove_offline(&mut self, ids: &[u64]) {
        for id in ids {
            self.offline.rows.remove(id);
        }
    }

    /// Marks the rows `ids` failed and releases them from their process.
    pub(crate) fn fail_offline(&mut self, ids: &[u64]) {
        for id in ids {
            if let Some(row) = self.offline.rows.get_mut(id) {
                row.error = true;
                row.process_id.clear();
            }
        }
    }

    /// Drops every row of `app` (uninstall).
    pub(crate) fn drop_offline_of(&mut self, app: usize) {
        self.offline.rows.retain(|_, row| row.app != app);
        self.offline
            .last_wakeup
            .retain(|binding, _| self.bindings.iter().any(|kept| kept.id == *binding));
    }

    /// Whether an `ONOFFLINEEVENT` binding may notify now (its `minTimeout` has passed; with
    /// 0, once per emulated instant, i.e. once per call); records the notification if so.
    pub(crate) fn take_wakeup_slot(&mut self, binding: u64, min_timeout: f64) -> bool {
        let now = self.now;
        let allowed = self
            .offline
            .last_wakeup
            .get(&binding)
            .is_none_or(|last| now - last >= min_timeout && now > *last);
        if allowed {
            self.offline.last_wakeup.insert(binding, now);
        }
        allowed
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::message_id;
    use crate::Emulator;
    use serde_json::json;

    #[tokio::test]
    async fn removing_an_apps_bindings_drops_its_queue() {
        let emulator = Emulator::builder().start().await.expect("starts");
        let shared = Arc::clone(&emulator.handle().shared);
        shared.run(|portal| {
            portal.queue_offline(0, "", "ONIMCONNECTORLINEDELETE", &json!(1), 1);
            assert_eq!(portal.all_offline_rows().count(), 1);
            // What uninstalling does to the app's bindings.
            portal.unbind_app(0);
            assert_eq!(portal.all_offline_rows().count(), 0);
        });
    }

    #[test]
    fn message_ids_hash_the_event_and_its_data() {
        let data = json!({"CONNECTOR": "c", "MESSAGES": [{"im": {"message_id": 1}}]});
        assert_eq!(message_id("E", &data), message_id("E", &data.clone()));
        assert_ne!(message_id("E", &data), message_id("F", &data));
        assert_ne!(
            message_id("E", &data),
            message_id("E", &json!({"CONNECTOR": "c"}))
        );
        assert_eq!(message_id("E", &data).len(), 32);
    }
}
