// Requests are built only through `new(..)` and setters, so local validation cannot be skipped
// and new parameters can be added without breaking callers.
use imconnector_api::methods::GetConnectorStatus;
use imconnector_api::ids::{ConnectorId, LineId};

fn main() {
    let _request = GetConnectorStatus {
        connector: ConnectorId::new("acme_chat").unwrap(),
        line: LineId::new(107).unwrap(),
    };
}
