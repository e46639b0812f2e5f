// `imconnector.activate` needs CONNECTOR, LINE and ACTIVE: leaving one out does not compile.
use imconnector_api::methods::ActivateConnector;
use imconnector_api::ids::{ConnectorId, LineId};

fn main() {
    let connector = ConnectorId::new("acme_chat").unwrap();
    let line = LineId::new(107).unwrap();
    let _request = ActivateConnector::new(connector, line);
}
