//! The doctor: checks a connector on a portal, prints each problem with its fix, repairs what
//! it can and checks again.
//!
//! ```text
//! cargo run -p imconnector --example doctor
//! ```
//!
//! runs against an emulated portal started in-process on 127.0.0.1, with faults seeded so the
//! printout shows findings: an event unbound, the connector deactivated on line 2, another app
//! binding an event, an old connector active on line 1; then, for a second app, an installation
//! not finished and a missing scope, which only a person can fix. To check a real portal instead, set
//! `IMCONNECTOR_PORTAL_URL`, `IMCONNECTOR_CLIENT_ID`, `IMCONNECTOR_CLIENT_SECRET`,
//! `IMCONNECTOR_ACCESS_TOKEN`, `IMCONNECTOR_REFRESH_TOKEN`, `IMCONNECTOR_HANDLER_URL`,
//! `IMCONNECTOR_SETTINGS_URL`, `IMCONNECTOR_CONNECTOR` and `IMCONNECTOR_LINE`; it only examines
//! unless `IMCONNECTOR_DOCTOR_FIX=1`. Refreshed token pairs are kept in `tokens.json` in
//! `IMCONNECTOR_STATE_DIR` (default `imconnector-state`; a temporary directory against the
//! emulator), and a later run starts from the stored pair.

use std::error::Error;
use std::path::Path;
use std::sync::Arc;

use imconnector::doctor::Doctor;
use imconnector::emulator::{client_builder, AppCredentials, AppSetup, Emulator};
use imconnector::prelude::*;

type BoxError = Box<dyn Error + Send + Sync>;

const ICON: &str =
    "data:image/svg+xml,%3Csvg%20xmlns%3D%22http%3A%2F%2Fwww.w3.org%2F2000%2Fsvg%22%2F%3E";

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    if std::env::var_os("IMCONNECTOR_PORTAL_URL").is_some() {
        return real_portal().await;
    }
    let emulator = Emulator::builder().lines(2).start().await?;
    println!(
        "imconnector doctor against the embedded emulator at {}\n",
        emulator.rest_url()
    );
    // Refreshed pairs go to files (temporary ones: the emulated portal is new at every run).
    let state = tempfile::tempdir()?;
    let client = client_builder(&emulator)
        .token_store(file_store(state.path(), "tokens.json"))
        .build()?;
    // Events of the emulated portal go nowhere here: the doctor does not need them delivered.
    let setup = connector_setup(
        "doctor_demo",
        "http://127.0.0.1:9/events",
        "http://127.0.0.1:9/settings",
    )?;
    let (line_1, line_2) = (LineId::new(1)?, LineId::new(2)?);
    provision(&client, &setup, line_1).await?;
    provision(&client, &setup, line_2).await?;

    // The faults: what makes a connector stop in the wild.
    client
        .call(&UnbindEvent::new(
            "OnImConnectorMessageAdd",
            setup.event_handler().clone(),
        ))
        .await?;
    client
        .call(&ActivateConnector::new(setup.id().clone(), line_2, false))
        .await?;
    let helper = emulator.install_app();
    let helper_client = client_of(&emulator, &helper, state.path())?;
    helper_client
        .call(&BindEvent::new(
            "OnImConnectorMessageAdd",
            setup.event_handler().clone(),
        ))
        .await?;
    let old = connector_setup(
        "doctor_demo_old",
        "http://127.0.0.1:9/old-events",
        "http://127.0.0.1:9/settings",
    )?;
    provision(&client, &old, line_1).await?;

    let doctor = Doctor::new(client, setup, line_1)
        .line(line_2)
        .other_app("helper app", helper_client)
        .deactivate_other_connectors(true);
    let report = doctor.examine().await?;
    println!("examine:\n{report}");
    let fixed = doctor.fix(&report).await?;
    println!("fix:");
    for repair in &fixed.applied {
        println!("- {repair}");
    }
    for left in &fixed.left {
        println!("- left for a person: {}", left.kind);
    }
    println!("\nexamine again:\n{}", doctor.examine().await?);

    // What the doctor cannot repair: an app whose installation was never finished and which
    // lacks the `imconnector` scope. The report says what a person has to do.
    let unfinished = emulator.add_app(AppSetup::ui(
        "http://127.0.0.1:9/",
        "http://127.0.0.1:9/install",
    ))?;
    emulator.install(&unfinished.client_id).await?;
    emulator.set_app_scope(&unfinished.client_id, &["imopenlines"])?;
    let unfinished_client = client_of(&emulator, &unfinished, state.path())?;
    let setup = connector_setup(
        "doctor_demo",
        "http://127.0.0.1:9/events",
        "http://127.0.0.1:9/settings",
    )?;
    let doctor = Doctor::new(unfinished_client, setup, line_1);
    let report = doctor.examine().await?;
    println!("\nanother app, installation not finished, a scope missing:\n{report}");
    let fixed = doctor.fix(&report).await?;
    println!(
        "fix: {} repair(s), {} finding(s) left for a person",
        fixed.applied.len(),
        fixed.left.len()
    );
    emulator.shutdown().await;
    Ok(())
}

/// A token store in `directory`.
fn file_store(directory: &Path, name: &str) -> Arc<FileTokenStore> {
    Arc::new(FileTokenStore::new(directory.join(name)))
}

/// A client of another app of the emulated portal, with its admin's tokens.
fn client_of(emulator: &Emulator, app: &AppCredentials, state: &Path) -> Result<Client, BoxError> {
    let tokens = emulator.tokens_for(&app.client_id, 1)?;
    Ok(Client::builder()
        .oauth(
            OAuthApp::new(&app.client_id, app.client_secret.expose_secret()),
            Tokens::new(
                tokens.access_token.expose_secret(),
                tokens.refresh_token.expose_secret(),
            ),
        )
        .portal(emulator.rest_url())
        .oauth_server(emulator.oauth_url())
        .token_store(file_store(state, &format!("{}.json", app.client_id)))
        .build()?)
}

fn connector_setup(id: &str, events: &str, settings: &str) -> Result<ConnectorSetup, BoxError> {
    Ok(ConnectorSetup::new(
        ConnectorId::new(id)?,
        "Doctor demo",
        Icon::new(ICON),
        SettingsUrl::parse(settings)?,
        EventsUrl::parse(events)?,
    ))
}

async fn real_portal() -> Result<(), BoxError> {
    let var = |name: &str| {
        std::env::var(name)
            .map_err(|_| format!("{name} is not set (needed with IMCONNECTOR_PORTAL_URL)"))
    };
    let mut rest = var("IMCONNECTOR_PORTAL_URL")?
        .trim_end_matches('/')
        .to_owned();
    if !rest.ends_with("/rest") {
        rest.push_str("/rest");
    }
    rest.push('/');
    let state =
        std::env::var("IMCONNECTOR_STATE_DIR").unwrap_or_else(|_| "imconnector-state".to_owned());
    std::fs::create_dir_all(&state)?;
    let store = file_store(Path::new(&state), "tokens.json");
    // The pair the last refresh stored; the one from the environment on the first run.
    let tokens = match store.load().await? {
        Some(stored) => stored,
        None => Tokens::new(
            var("IMCONNECTOR_ACCESS_TOKEN")?,
            var("IMCONNECTOR_REFRESH_TOKEN")?,
        ),
    };
    let client = Client::builder()
        .oauth(
            OAuthApp::new(
                var("IMCONNECTOR_CLIENT_ID")?,
                var("IMCONNECTOR_CLIENT_SECRET")?,
            ),
            tokens,
        )
        .token_store(store)
        .portal(&rest)
        .build()?;
    let setup = connector_setup(
        &var("IMCONNECTOR_CONNECTOR")?,
        &var("IMCONNECTOR_HANDLER_URL")?,
        &var("IMCONNECTOR_SETTINGS_URL")?,
    )?;
    let line = LineId::new(
        var("IMCONNECTOR_LINE")?
            .parse()
            .map_err(|_| "IMCONNECTOR_LINE must be a line id (a number)")?,
    )?;
    let doctor = Doctor::new(client, setup, line);
    let report = doctor.examine().await?;
    println!("imconnector doctor against {rest}\n\n{report}");
    if std::env::var("IMCONNECTOR_DOCTOR_FIX").as_deref() == Ok("1") {
        let fixed = doctor.fix(&report).await?;
        for repair in &fixed.applied {
            println!("- {repair}");
        }
        println!("\nexamine again:\n{}", doctor.examine().await?);
    }
    Ok(())
}
