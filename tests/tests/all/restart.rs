//! A client built as the README shows (its pair in a `FileTokenStore`, loaded at every start),
//! stopped after a refresh and started again, keeps working (issue 22): the portal rotated the
//! refresh token it was first given, so only the stored pair gets it back in.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;

use imconnector::emulator::Emulator;
use imconnector::ids::{ConnectorId, LineId};
use imconnector::methods::GetConnectorStatus;
use imconnector::{Client, ExposeSecret, FileTokenStore, OAuthApp, RateLimit, TokenStore, Tokens};

/// The README's client: the stored pair, or the one the app was given on its first run.
async fn readme_client(portal: &Emulator, state: &Path, given: &Tokens) -> Client {
    let app = portal.app();
    let store = Arc::new(FileTokenStore::new(state.join("tokens.json")));
    let tokens = store.load().await.unwrap().unwrap_or_else(|| given.clone());
    Client::builder()
        .portal(portal.rest_url())
        .oauth(
            OAuthApp::new(&app.client_id, app.client_secret.expose_secret()),
            tokens,
        )
        .token_store(store)
        // The emulator's own OAuth server, and no bucket to learn.
        .oauth_server(portal.oauth_url())
        .rate_limit(RateLimit::Off)
        .build()
        .unwrap()
}

async fn works(client: &Client) {
    let status = GetConnectorStatus::new(
        ConnectorId::new("readme_connector").unwrap(),
        LineId::new(1).unwrap(),
    );
    client.call(&status).await.unwrap();
}

#[tokio::test]
async fn a_readme_client_restarted_after_a_refresh_keeps_working() {
    let _machine = crate::alone().await;
    let portal = Emulator::start().await.unwrap();
    let issued = portal.tokens();
    let given = Tokens::new(
        issued.access_token.expose_secret(),
        issued.refresh_token.expose_secret(),
    );
    let state = tempfile::tempdir().unwrap();

    let mut client = readme_client(&portal, state.path(), &given).await;
    works(&client).await;
    for restart in 1..=3 {
        // The access token expires: the next call refreshes, and the portal rotates the pair.
        portal.expire_tokens();
        works(&client).await;
        assert_eq!(portal.counters().refreshes, restart);
        drop(client);
        // A new process, built by the same code from the same configuration.
        client = readme_client(&portal, state.path(), &given).await;
        works(&client).await;
        let counters = portal.counters();
        assert_eq!(
            counters.refreshes, restart,
            "the stored pair is still valid"
        );
        assert_eq!(
            counters.refresh_rejections, 0,
            "no refresh with a rotated token"
        );
    }
    portal.shutdown().await;
}
