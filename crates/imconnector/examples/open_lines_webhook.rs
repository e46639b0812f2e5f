//! Lists the portal's open lines through an incoming webhook: no OAuth application needed.
//!
//! ```text
//! cargo run -p imconnector --example open_lines_webhook
//! IMCONNECTOR_WEBHOOK_URL=https://example.bitrix24.com/rest/1/abcdef0123456789/ \
//!     cargo run -p imconnector --example open_lines_webhook
//! ```
//!
//! Without `IMCONNECTOR_WEBHOOK_URL` it reads an emulated portal with three lines. The webhook
//! needs the `imopenlines` scope. `imconnector.*` methods refuse webhooks (the portal answers
//! `WRONG_AUTH_TYPE`); the client refuses them before sending, as shown at the end.

use imconnector::emulator::Emulator;
use imconnector::prelude::*;
use imconnector::types::{LineListParams, SortDirection};
use imconnector::Error;
use imconnector::ExposeSecret;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (webhook, emulator) = match std::env::var("IMCONNECTOR_WEBHOOK_URL") {
        Ok(url) => (url, None),
        Err(_) => {
            let emulator = Emulator::builder().lines(3).start().await?;
            (
                emulator.webhook_url().expose_secret().to_owned(),
                Some(emulator),
            )
        }
    };
    let client = Client::builder().webhook(webhook).build()?;
    // `{:?}` of a webhook client hides the secret part of its URL.
    println!("{client:?}\n");

    let request = methods::ListLineConfigs::new().with_params(
        LineListParams::new()
            .with_select(["ID", "LINE_NAME", "ACTIVE"])
            .with_order([("ID".to_owned(), SortDirection::Asc)].into())
            .with_limit(50),
    );
    let lines = client.call(&request).await?;
    println!("{} open line(s):", lines.len());
    for line in &lines {
        let id = line.id.as_ref().map_or("?", |id| id.as_str());
        let name = line.line_name.as_deref().unwrap_or("(no name)");
        let active = if line.active == Some(true) {
            "active"
        } else {
            "inactive"
        };
        println!("  line {id:>3}  {name}  ({active})");
    }

    let connector_call =
        methods::GetConnectorStatus::new(ConnectorId::new("any_connector")?, LineId::new(1)?);
    match client.call(&connector_call).await {
        Err(Error::WrongAuthKind { method }) => {
            println!(
                "\n`{method}` needs an OAuth application: refused before sending, as expected."
            )
        }
        other => println!("\nunexpected answer to imconnector.status: {other:?}"),
    }

    if let Some(emulator) = emulator {
        emulator.shutdown().await;
    }
    Ok(())
}
