//! [`FilePortalStore`]: records, the provisioning flag and refreshed pairs outlive the store
//! (a restart is a new store over the same directory).
#![allow(clippy::unwrap_used)]

use std::time::{Duration, UNIX_EPOCH};

use secrecy::ExposeSecret;

use super::*;
use crate::{Client, Tokens};

fn record(member_id: &str) -> PortalRecord {
    let tokens = Tokens::new(
        format!("access-{member_id}"),
        format!("refresh-{member_id}"),
    )
    .with_client_endpoint(format!("https://{member_id}.example/rest/"))
    .with_member_id(member_id)
    .with_expires_at(UNIX_EPOCH + Duration::from_secs(1_900_000_000));
    PortalRecord::new(member_id, format!("app-token-{member_id}"), tokens)
        .with_domain(format!("{member_id}.example"))
        .with_app(OAuthApp::new("local.1", "local-secret"))
        .with_oauth_server("http://127.0.0.1:9/oauth/token/")
}

#[tokio::test]
async fn records_and_the_provisioning_flag_survive_a_restart() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("portals");
    let store = FilePortalStore::new(&path);
    assert!(store.list().await.unwrap().is_empty(), "nothing stored yet");
    store.save(&record("portal-a")).await.unwrap();
    store.save(&record("portal-b")).await.unwrap();
    store
        .set_provisioned(&MemberId::from("portal-b"), true)
        .await
        .unwrap();
    store
        .set_provisioned(&MemberId::from("never-installed"), true)
        .await
        .unwrap();
    drop(store);

    let restarted = FilePortalStore::new(&path);
    let mut listed = restarted.list().await.unwrap();
    listed.sort();
    assert_eq!(listed, ["portal-a", "portal-b"]);
    let a = restarted
        .load(&MemberId::from("portal-a"))
        .await
        .unwrap()
        .expect("stored");
    assert!(!a.provisioned);
    assert_eq!(a.application_token.expose_secret(), "app-token-portal-a");
    assert_eq!(a.tokens.refresh_token.expose_secret(), "refresh-portal-a");
    assert_eq!(a.tokens.expires_at, record("portal-a").tokens.expires_at);
    assert_eq!(a.domain.as_deref(), Some("portal-a.example"));
    assert_eq!(
        a.app.as_ref().unwrap().client_secret.expose_secret(),
        "local-secret"
    );
    assert_eq!(
        a.oauth_server.as_deref(),
        Some("http://127.0.0.1:9/oauth/token/")
    );
    assert!(
        restarted
            .load(&MemberId::from("portal-b"))
            .await
            .unwrap()
            .unwrap()
            .provisioned
    );
    assert!(restarted
        .load(&MemberId::from("never-installed"))
        .await
        .unwrap()
        .is_none());

    restarted.remove(&MemberId::from("portal-a")).await.unwrap();
    restarted.remove(&MemberId::from("portal-a")).await.unwrap();
    assert_eq!(restarted.list().await.unwrap(), ["portal-b"]);
}

#[tokio::test]
async fn a_portal_clients_refreshed_pair_is_kept_in_its_record() {
    let directory = tempfile::tempdir().unwrap();
    let store = FilePortalStore::new(directory.path());
    let mut installed = record("portal-a");
    installed.provisioned = true;
    store.save(&installed).await.unwrap();
    let builder = store.configure(&installed, Client::builder()).unwrap();
    let tokens = builder.token_store.expect("the portal's token store");

    let refreshed = Tokens::new("access-2", "refresh-2")
        .with_client_endpoint("https://portal-a.example/rest/")
        .with_expires_in(Duration::from_secs(3600));
    tokens.save(&refreshed).await.unwrap();

    let restarted = FilePortalStore::new(directory.path());
    let stored = restarted
        .load(&MemberId::from("portal-a"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.tokens.refresh_token.expose_secret(), "refresh-2");
    assert!(stored.provisioned, "the rest of the record is kept");
    assert_eq!(
        stored.application_token.expose_secret(),
        "app-token-portal-a"
    );
    let loaded = tokens.load().await.unwrap().unwrap();
    assert_eq!(loaded.access_token.expose_secret(), "access-2");

    // Uninstalled meanwhile: the pair is not written back as a record.
    restarted.remove(&MemberId::from("portal-a")).await.unwrap();
    assert!(tokens.save(&refreshed).await.is_err());
    assert!(restarted.list().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_member_id_that_cannot_name_a_file_is_refused_before_touching_the_disk() {
    let directory = tempfile::tempdir().unwrap();
    let store = FilePortalStore::new(directory.path().join("portals"));
    for member_id in ["../escape", "a/b", "", ".hidden", &"x".repeat(129)] {
        let error = store.load(&MemberId::from(member_id)).await.unwrap_err();
        assert!(error.to_string().contains("cannot name a file"), "{error}");
        assert!(store.save(&record(member_id)).await.is_err());
    }
    assert!(!directory.path().join("portals").exists());
    assert!(!directory.path().join("escape.json").exists());
}

#[tokio::test]
async fn a_damaged_record_is_an_error_that_quotes_nothing_and_strays_are_not_listed() {
    let directory = tempfile::tempdir().unwrap();
    let store = FilePortalStore::new(directory.path());
    std::fs::write(
        directory.path().join("portal-a.json"),
        r#"{"member_id":"portal-a","application_token":"s3cr3t-value","tokens":5}"#,
    )
    .unwrap();
    // A temporary file an interrupted write left behind, and a stray file.
    std::fs::write(directory.path().join(".tmpXYZ"), "{").unwrap();
    std::fs::write(directory.path().join("notes.txt"), "hello").unwrap();

    let error = store.load(&MemberId::from("portal-a")).await.unwrap_err();
    assert!(error.to_string().contains("not a portal record"), "{error}");
    assert!(!format!("{error:?}").contains("s3cr3t"), "{error:?}");
    assert_eq!(store.list().await.unwrap(), ["portal-a"]);
}

#[cfg(unix)]
#[tokio::test]
async fn records_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;

    let directory = tempfile::tempdir().unwrap();
    let store = FilePortalStore::new(directory.path());
    store.save(&record("portal-a")).await.unwrap();
    let mode = std::fs::metadata(directory.path().join("portal-a.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[tokio::test]
async fn a_missing_application_token_is_filled_once_and_survives_a_restart() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("portals");
    let store = FilePortalStore::new(&path);
    let mut legacy = record("portal-a");
    legacy.application_token = SecretString::from(String::new());
    store.save(&legacy).await.unwrap();
    let member = MemberId::from("portal-a");
    let token = SecretString::from("proven-token".to_owned());
    assert!(store.fill_application_token(&member, &token).await.unwrap());
    let other = SecretString::from("another-token".to_owned());
    assert!(
        !store.fill_application_token(&member, &other).await.unwrap(),
        "a stored token is never replaced this way"
    );
    let unknown = MemberId::from("never-installed");
    assert!(!store
        .fill_application_token(&unknown, &token)
        .await
        .unwrap());
    drop(store);

    let restarted = FilePortalStore::new(&path);
    let stored = restarted.load(&member).await.unwrap().expect("stored");
    assert_eq!(stored.application_token.expose_secret(), "proven-token");
    assert_eq!(
        stored.tokens.refresh_token.expose_secret(),
        "refresh-portal-a"
    );
    assert_eq!(stored.domain.as_deref(), Some("portal-a.example"));
    assert!(restarted.load(&unknown).await.unwrap().is_none());
}
