//! Token stores: the file store writes atomically and round-trips every field.

use std::time::{Duration, UNIX_EPOCH};

use imconnector_transport::{FileTokenStore, MemoryTokenStore, TokenStore, Tokens};
use secrecy::ExposeSecret;

fn sample(n: u32) -> Tokens {
    Tokens::new(format!("access-{n}"), format!("refresh-{n}"))
        .with_expires_at(UNIX_EPOCH + Duration::from_secs(1_900_000_000 + u64::from(n)))
        .with_client_endpoint("https://example.bitrix24.com/rest/")
        .with_member_id("member-1")
        .with_scope("imopenlines,imconnector")
        .with_user_id("7")
}

#[tokio::test]
async fn the_file_store_round_trips_and_replaces_atomically() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("tokens.json");
    let store = FileTokenStore::new(&path);
    assert!(
        store.load().await.unwrap().is_none(),
        "no file yet means no tokens"
    );

    store.save(&sample(1)).await.unwrap();
    store.save(&sample(2)).await.unwrap();

    let loaded = store.load().await.unwrap().unwrap();
    assert_eq!(loaded.access_token.expose_secret(), "access-2");
    assert_eq!(loaded.refresh_token.expose_secret(), "refresh-2");
    assert_eq!(
        loaded.expires_at,
        Some(UNIX_EPOCH + Duration::from_secs(1_900_000_002))
    );
    assert_eq!(
        loaded.client_endpoint.as_deref(),
        Some("https://example.bitrix24.com/rest/")
    );
    assert_eq!(
        (
            loaded.member_id.as_ref().map(|id| id.as_str()),
            loaded.scope.as_deref(),
            loaded.user_id.as_deref()
        ),
        (Some("member-1"), Some("imopenlines,imconnector"), Some("7"))
    );
    let files: Vec<_> = std::fs::read_dir(directory.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(
        files,
        vec![std::ffi::OsString::from("tokens.json")],
        "no temporary file is left behind"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "readable by its owner only");
    }
}

#[tokio::test]
async fn a_corrupt_token_file_is_an_error_that_does_not_quote_it() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("tokens.json");
    std::fs::write(
        &path,
        r#"{"access_token": "leaked-s3cr3t", "refresh_token": 5"#,
    )
    .unwrap();

    let error = FileTokenStore::new(&path).load().await.unwrap_err();

    let text = format!("{error} {error:?}");
    assert!(text.contains("tokens.json"), "{text}");
    assert!(!text.contains("leaked-s3cr3t"), "{text}");
}

#[tokio::test]
async fn the_memory_store_keeps_the_last_pair() {
    let store = MemoryTokenStore::new();
    assert!(store.load().await.unwrap().is_none());
    store.save(&sample(3)).await.unwrap();
    let loaded = store.load().await.unwrap().unwrap();
    assert!(loaded.same_access_token(&sample(3)));
    assert!(!loaded.same_access_token(&sample(4)));
    store.save(&sample(4)).await.unwrap();
    assert!(store
        .load()
        .await
        .unwrap()
        .unwrap()
        .same_access_token(&sample(4)));
}
