//! The status rows of connectors on lines (reference §3): what `imconnector.activate`,
//! `.connector.data.set` and `.set.error` write, and every way a row goes, each of which
//! tells the connector's owner with `OnImConnectorStatusDelete`. Rows are kept by
//! (connector, line); [`LineStatus`] is built from one on inspection.

use serde_json::{json, Map, Value};

use crate::snapshot::LineStatus;
use crate::state::events::Audience;
use crate::state::Portal;

/// One status row; a missing row reads as all false.
#[derive(Debug, Clone, Default)]
pub(crate) struct StatusRow {
    active: bool,
    connection: bool,
    register: bool,
    error: bool,
    /// `DATA` of `connector.data.set`; `None` until something creates it.
    data: Option<Map<String, Value>>,
}

impl StatusRow {
    fn snapshot(&self, connector: &str, line: i64) -> LineStatus {
        let mut status = LineStatus::absent(connector, line);
        status.active = self.active;
        status.connection = self.connection;
        status.register = self.register;
        status.error = self.error;
        status.data.clone_from(&self.data);
        status
    }
}

impl Portal {
    /// The status of (connector, line): its row, or an all-false one.
    pub(crate) fn status_of(&self, connector: &str, line: i64) -> LineStatus {
        self.statuses
            .get(&(connector.to_owned(), line))
            .map_or_else(
                || LineStatus::absent(connector, line),
                |row| row.snapshot(connector, line),
            )
    }

    /// Every existing row, by connector and line.
    pub(crate) fn line_statuses(&self) -> Vec<LineStatus> {
        self.statuses
            .iter()
            .map(|((connector, line), row)| row.snapshot(connector, *line))
            .collect()
    }

    fn status_row(&mut self, connector: &str, line: i64) -> &mut StatusRow {
        self.statuses
            .entry((connector.to_owned(), line))
            .or_default()
    }

    /// `ACTIVE=Y`: the row becomes active, connected and registered, without error; its DATA
    /// stays.
    pub(crate) fn activate_status(&mut self, connector: &str, line: i64) {
        let row = self.status_row(connector, line);
        row.active = true;
        row.connection = true;
        row.register = true;
        row.error = false;
        if row.data.is_none() {
            row.data = Some(Map::new());
        }
    }

    /// The settings page's *Connect*/*Disconnect*: only `ACTIVE` changes (the row is made if
    /// missing).
    pub(crate) fn set_status_active(&mut self, connector: &str, line: i64, active: bool) {
        self.status_row(connector, line).active = active;
    }

    /// `imconnector.set.error`: the row (made if missing) is marked in error.
    pub(crate) fn mark_status_error(&mut self, connector: &str, line: i64) {
        self.status_row(connector, line).error = true;
    }

    /// `connector.data.set`: `fields` are merged over the stored DATA, so omitted ones keep
    /// their values.
    pub(crate) fn merge_status_data(
        &mut self,
        connector: &str,
        line: i64,
        fields: Map<String, Value>,
    ) {
        self.status_row(connector, line)
            .data
            .get_or_insert_with(Map::new)
            .extend(fields);
    }

    /// Deletes the row of (connector, line), DATA with it, and queues
    /// `OnImConnectorStatusDelete` to the connector's owner for `actor`'s action. The portal
    /// fires the event even when there was no row.
    pub(crate) fn drop_status(&mut self, connector: &str, line: i64, actor: u64) {
        self.statuses.remove(&(connector.to_owned(), line));
        // Lowercase keys, unlike every other imconnector event.
        let data = json!({ "connector": connector, "line": line });
        self.emit(
            "OnImConnectorStatusDelete",
            &data,
            Audience::OwnerOf(connector),
            actor,
        );
    }

    /// Drops every row of `connector`, on every line ([`Portal::drop_status`] each).
    pub(crate) fn drop_statuses_of_connector(&mut self, connector: &str, actor: u64) {
        let lines: Vec<i64> = self
            .statuses
            .keys()
            .filter(|(row_connector, _)| row_connector == connector)
            .map(|(_, line)| *line)
            .collect();
        for line in lines {
            self.drop_status(connector, line, actor);
        }
    }

    /// Drops every row of `line`, for every connector ([`Portal::drop_status`] each).
    pub(crate) fn drop_statuses_of_line(&mut self, line: i64, actor: u64) {
        let connectors: Vec<String> = self
            .statuses
            .keys()
            .filter(|(_, row_line)| *row_line == line)
            .map(|(connector, _)| connector.clone())
            .collect();
        for connector in connectors {
            self.drop_status(&connector, line, actor);
        }
    }
}
