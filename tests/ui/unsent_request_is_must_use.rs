// A request that is built and dropped was never sent: #[must_use] catches it.
#![deny(unused_must_use)]

use imconnector_api::methods::ActivateConnector;
use imconnector_api::ids::{ConnectorId, LineId};

fn main() {
    ActivateConnector::new(ConnectorId::new("acme_chat").unwrap(), LineId::new(107).unwrap(), true);
}
