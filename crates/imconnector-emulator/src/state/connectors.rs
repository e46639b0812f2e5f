//! The connector registry (reference §4.1-4.3): upserts by id (another app's connector is taken
//! over), and removals that take the connector's status rows with them, each with its
//! `OnImConnectorStatusDelete`.

use crate::snapshot::ConnectorFlags;
use crate::state::records::Connector;
use crate::state::Portal;

impl Portal {
    /// The registered connector `id`.
    pub(crate) fn connector(&self, id: &str) -> Option<&Connector> {
        self.registry.get(id)
    }

    /// The flags of `id`, or the table defaults when it is not registered.
    pub(crate) fn flags_of(&self, id: &str) -> ConnectorFlags {
        self.connector(id)
            .map(|connector| connector.flags)
            .unwrap_or_default()
    }

    /// Registers `connector`, replacing any row with its id whoever owned it.
    pub(crate) fn upsert_connector(&mut self, connector: Connector) {
        self.registry.insert(connector.id.clone(), connector);
    }

    /// `imconnector.unregister` by `app`: the status rows of `id` go on every line, whoever
    /// owns it (StatusDelete sent while the registry row, and so its owner, still exists); the
    /// registry row goes only when `app` owns it.
    pub(crate) fn unregister_connector(&mut self, id: &str, app: usize, actor: u64) {
        self.drop_statuses_of_connector(id, actor);
        let owned = self
            .registry
            .get(id)
            .is_some_and(|connector| connector.owner_client_id == self.apps[app].client_id);
        if owned {
            self.registry.remove(id);
        }
    }

    /// Removes every connector `app` owns, status rows first (uninstall).
    pub(crate) fn remove_connectors_of_app(&mut self, app: usize, actor: u64) {
        let client_id = &self.apps[app].client_id;
        let owned: Vec<String> = self
            .registry
            .values()
            .filter(|connector| connector.owner_client_id == *client_id)
            .map(|connector| connector.id.clone())
            .collect();
        for id in owned {
            self.drop_statuses_of_connector(&id, actor);
            self.registry.remove(&id);
        }
    }
}
