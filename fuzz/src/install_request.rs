//! Fuzz body: a POST to the install URL (the UI install POST, ONAPPINSTALL, ONAPPUNINSTALL),
//! through the public `Installer::handle`, with an OAuth server that cannot be reached: no
//! request can be proven, so every one must be refused and nothing stored.

use imconnector_transport::MemberId;
use std::sync::Arc;

use imconnector::install::{AppUrls, Installer};
use imconnector::portals::{MemoryPortalStore, PortalRegistry, PortalStore};
use imconnector::prelude::*;
use imconnector::transport::authorization::OAuthServer;
use serde_json::Value;

use crate::install_event::content_type_and_body;
use crate::peak;
use crate::settings_placement::query_and_body;

/// What a refused proof may allocate besides the parse: the attempt to reach the OAuth server
/// (an HTTP client's connection attempt and its error) and the installer's bookkeeping.
pub const PROOF_ALLOWANCE: usize = 512 * 1024;

/// An installer whose OAuth server is a closed port on 127.0.0.1.
pub struct Harness {
    runtime: tokio::runtime::Runtime,
    installer: Installer<MemoryPortalStore>,
    registry: Arc<PortalRegistry<MemoryPortalStore>>,
}

impl Harness {
    /// Builds the installer (nothing is served: `handle` is called directly).
    ///
    /// # Errors
    /// When the runtime or the installer cannot be made.
    pub fn start() -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let urls = AppUrls::new("https://connector.example.com/bitrix/")?;
        let credentials = OAuthApp::new("local.fuzz", "fuzz-client-secret");
        let registry = Arc::new(
            PortalRegistry::new(credentials.clone(), MemoryPortalStore::new())
                .client_template(Client::builder().rate_limit(RateLimit::Off)),
        );
        // Port 1 on loopback: nothing listens, the proof fails at once.
        let oauth = OAuthServer::new(credentials)?.token_url("http://127.0.0.1:1/oauth/token/")?;
        let setup = ConnectorSetup::new(
            ConnectorId::new("fuzz_chat")?,
            "Fuzz Chat",
            Icon::new("data:image/svg+xml,%3Csvg%2F%3E"),
            urls.settings(),
            urls.events(),
        );
        let installer = Installer::new(Arc::clone(&registry), oauth, setup, &urls)?;
        Ok(Self {
            runtime,
            installer,
            registry,
        })
    }
}

/// The `member_id`s a body claims (`member_id`, `auth[member_id]`), to check none was stored.
fn claimed_member_ids(content_type: Option<&str>, body: &[u8]) -> Vec<String> {
    let Ok(value) = imconnector_form::parse_body(content_type, body) else {
        return Vec::new();
    };
    [&value["member_id"], &value["auth"]["member_id"]]
        .into_iter()
        .filter_map(Value::as_str)
        .map(|id| id.trim().to_owned())
        .collect()
}

/// Posts `data` to the installer: the first byte picks the content type, a `0xFF` byte cuts
/// the query string from the body. Within the allocation bound (plus [`PROOF_ALLOWANCE`]),
/// never a panic, always refused, nothing stored.
///
/// # Panics
/// When one of those properties does not hold (that is the finding).
pub fn check(harness: &Harness, data: &[u8]) {
    let (content_type, rest) = content_type_and_body(data);
    let (query, body) = query_and_body(rest);
    let outcome = peak::assert_bounded("install POST", data.len(), PROOF_ALLOWANCE, || {
        harness.runtime.block_on(
            harness
                .installer
                .handle(query.as_deref(), content_type, body),
        )
    });
    assert!(
        outcome.is_err(),
        "an unproven install POST was accepted: {outcome:?}"
    );
    let Err(error) = outcome else { return };
    let shown = format!("{error} {error:?}");
    assert!(
        !shown.contains("fuzz-client-secret"),
        "the client secret leaked: {shown}"
    );
    for member_id in claimed_member_ids(content_type, body) {
        let stored = harness
            .runtime
            .block_on(harness.registry.store().load(&MemberId::from(&member_id)));
        assert!(
            matches!(stored, Ok(None) | Err(_)),
            "an unproven portal was stored: {member_id:?}"
        );
    }
}
