//! [`FilePortalStore`]: portal records in files, so a single-process connector keeps its
//! installed portals (and each portal's refreshed token pair) across a restart.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::authorization::AuthorizationState;
use crate::store::{write_atomically, TokenStore, TokenStoreError};
use crate::tokens::TokenRecord;
use crate::{ClientBuilder, MemberId, OAuthApp, Tokens};

use super::authorizations::{MemoryAuthorizations, StateSaved};
use super::{PortalRecord, PortalStore, PortalStoreError, DEFAULT_MAX_AUTHORIZATIONS};

/// The longest `member_id` the store names a file after.
const MAX_MEMBER_ID_LEN: usize = 128;

/// Keeps each portal's record in a JSON file of its own, `<directory>/<member_id>.json`: for a
/// connector that runs as one process and must remember its portals across restarts (the
/// portal never resends `ONAPPINSTALL`). Several replicas share `imconnector_redis::RedisPortals`
/// instead.
///
/// Every write goes to a temporary file in the directory, is flushed to disk (`fsync`) and
/// renamed over the record, so a crash leaves the old record or the new one, never half of
/// one; files are readable by their owner only (on Unix). Each portal's client keeps its
/// refreshed token pair in the portal's file ([`configure`](PortalStore::configure)), so after
/// a restart the client starts from the pair the portal last issued, not from the rotated one.
///
/// Started code-flow authorizations live in memory only (they last minutes): a restart
/// between an administrator's authorization and its redirect asks for the authorization again.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use imconnector_transport::portals::{FilePortalStore, PortalRegistry};
/// use imconnector_transport::OAuthApp;
///
/// let app = OAuthApp::new("app.0123456789abcd.12345678", "client secret");
/// let portals = PortalRegistry::new(app, FilePortalStore::new("portals"));
/// // After a restart: every portal installed before it, with its latest token pair.
/// for member_id in portals.portals().await? {
///     let _client = portals.client_for(&member_id).await?;
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct FilePortalStore {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    directory: PathBuf,
    /// One read-modify-write at a time (a refreshed pair and `set_provisioned` touch the same
    /// file).
    writes: tokio::sync::Mutex<()>,
    authorizations: MemoryAuthorizations,
}

impl FilePortalStore {
    /// A store in `directory`, created (with its parents) on the first write.
    pub fn new(directory: impl Into<PathBuf>) -> Self {
        Self {
            shared: Arc::new(Shared {
                directory: directory.into(),
                writes: tokio::sync::Mutex::new(()),
                authorizations: MemoryAuthorizations::new(DEFAULT_MAX_AUTHORIZATIONS),
            }),
        }
    }

    /// The directory of the records.
    pub fn directory(&self) -> &Path {
        &self.shared.directory
    }
}

impl Shared {
    fn path(&self, member_id: &str) -> Result<PathBuf, PortalStoreError> {
        let valid = !member_id.is_empty()
            && member_id.len() <= MAX_MEMBER_ID_LEN
            && !member_id.starts_with('.')
            && member_id.chars().all(|character| {
                character.is_ascii_alphanumeric() || matches!(character, '.' | '_' | '-')
            });
        if !valid {
            let shown: String = member_id.chars().take(40).collect();
            return Err(PortalStoreError::new(
                format!(
                    "member_id {shown:?} cannot name a file: 1 to {MAX_MEMBER_ID_LEN} ASCII \
                     letters, digits, `.`, `_` or `-`, not starting with `.`"
                ),
                None,
            ));
        }
        Ok(self.directory.join(format!("{member_id}.json")))
    }

    async fn load(&self, member_id: &str) -> Result<Option<PortalRecord>, PortalStoreError> {
        let path = self.path(member_id)?;
        let bytes = match tokio::fs::read(&path).await {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => {
                return Err(PortalStoreError::new(
                    format!("cannot read {}", path.display()),
                    Some(Box::new(error)),
                ))
            }
        };
        // The serde error is not attached: its message may quote a token.
        let stored: StoredPortal = serde_json::from_slice(&bytes).map_err(|error| {
            PortalStoreError::new(
                format!(
                    "{} is not a portal record (line {}, column {})",
                    path.display(),
                    error.line(),
                    error.column()
                ),
                None,
            )
        })?;
        Ok(Some(stored.into()))
    }

    /// Writes `record` (the caller holds `writes`).
    async fn write(&self, record: &PortalRecord) -> Result<(), PortalStoreError> {
        let path = self.path(record.member_id.as_str())?;
        let bytes = serde_json::to_vec_pretty(&StoredPortal::from(record)).map_err(|error| {
            PortalStoreError::new("cannot encode a portal record", Some(Box::new(error)))
        })?;
        let directory = self.directory.clone();
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&directory).map_err(|error| {
                PortalStoreError::new(
                    format!("cannot create {}", directory.display()),
                    Some(Box::new(error)),
                )
            })?;
            write_atomically(&path, &bytes)
                .map_err(|error| PortalStoreError::new(error.to_string(), Some(Box::new(error))))
        })
        .await
        .map_err(|error| {
            PortalStoreError::new("the portal file writer panicked", Some(Box::new(error)))
        })?
    }

    /// Loads portal `member_id`'s record, changes it with `change` and writes it back; nothing
    /// happens for a portal that is not stored.
    async fn update(
        &self,
        member_id: &str,
        change: impl FnOnce(&mut PortalRecord),
    ) -> Result<bool, PortalStoreError> {
        let _writing = self.writes.lock().await;
        let Some(mut record) = self.load(member_id).await? else {
            return Ok(false);
        };
        change(&mut record);
        self.write(&record).await?;
        Ok(true)
    }
}

impl PortalStore for FilePortalStore {
    fn load(
        &self,
        member_id: &MemberId,
    ) -> impl Future<Output = Result<Option<PortalRecord>, PortalStoreError>> + Send {
        self.shared.load(member_id.as_str())
    }

    async fn save(&self, record: &PortalRecord) -> Result<(), PortalStoreError> {
        let _writing = self.shared.writes.lock().await;
        self.shared.write(record).await
    }

    async fn remove(&self, member_id: &MemberId) -> Result<(), PortalStoreError> {
        let path = self.shared.path(member_id.as_str())?;
        let _writing = self.shared.writes.lock().await;
        self.shared.authorizations.forget(member_id.as_str());
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(PortalStoreError::new(
                format!("cannot remove {}", path.display()),
                Some(Box::new(error)),
            )),
        }
    }

    async fn list(&self) -> Result<Vec<MemberId>, PortalStoreError> {
        let directory = &self.shared.directory;
        let mut entries = match tokio::fs::read_dir(directory).await {
            Ok(entries) => entries,
            // Nothing was ever stored.
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => {
                return Err(PortalStoreError::new(
                    format!("cannot list {}", directory.display()),
                    Some(Box::new(error)),
                ))
            }
        };
        let mut members = Vec::new();
        loop {
            let entry = entries.next_entry().await.map_err(|error| {
                PortalStoreError::new(
                    format!("cannot list {}", directory.display()),
                    Some(Box::new(error)),
                )
            })?;
            let Some(entry) = entry else { break };
            let name = entry.file_name();
            // Temporary files of an interrupted write, and anything else, are not records.
            let member = name
                .to_str()
                .and_then(|name| name.strip_suffix(".json"))
                .filter(|member| self.shared.path(member).is_ok());
            if let Some(member) = member {
                members.push(MemberId::from(member));
            }
        }
        Ok(members)
    }

    async fn set_provisioned(
        &self,
        member_id: &MemberId,
        provisioned: bool,
    ) -> Result<(), PortalStoreError> {
        self.shared
            .update(member_id.as_str(), |record| {
                record.provisioned = provisioned
            })
            .await
            .map(drop)
    }

    async fn fill_application_token(
        &self,
        member_id: &MemberId,
        token: &SecretString,
    ) -> Result<bool, PortalStoreError> {
        let mut filled = false;
        self.shared
            .update(member_id.as_str(), |record| {
                filled = record.fill_application_token(token);
            })
            .await?;
        Ok(filled)
    }

    fn save_authorization_state(
        &self,
        member_id: &MemberId,
        state: &AuthorizationState,
        lifetime: Duration,
    ) -> impl Future<Output = Result<StateSaved, PortalStoreError>> + Send {
        let saved = self
            .shared
            .authorizations
            .save(member_id.as_str(), state, lifetime);
        async move { Ok(saved) }
    }

    fn take_authorization_state(
        &self,
        member_id: &MemberId,
        returned: &str,
    ) -> impl Future<Output = Result<bool, PortalStoreError>> + Send {
        let taken = self
            .shared
            .authorizations
            .take(member_id.as_str(), returned);
        async move { Ok(taken) }
    }

    /// Keeps the portal's refreshed pairs in its file.
    fn configure(
        &self,
        record: &PortalRecord,
        builder: ClientBuilder,
    ) -> Result<ClientBuilder, PortalStoreError> {
        self.shared.path(record.member_id.as_str())?;
        Ok(builder.token_store(Arc::new(PortalTokens {
            shared: Arc::clone(&self.shared),
            member_id: record.member_id.as_str().to_owned(),
        })))
    }
}

/// One portal's token pair, inside its record file.
#[derive(Debug)]
struct PortalTokens {
    shared: Arc<Shared>,
    member_id: String,
}

fn token_error(error: PortalStoreError) -> TokenStoreError {
    TokenStoreError::with_source("the portal's record", error)
}

impl TokenStore for PortalTokens {
    fn load(&self) -> BoxFuture<'_, Result<Option<Tokens>, TokenStoreError>> {
        Box::pin(async move {
            let record = self
                .shared
                .load(&self.member_id)
                .await
                .map_err(token_error)?;
            Ok(record.map(|record| record.tokens))
        })
    }

    fn save<'a>(&'a self, tokens: &'a Tokens) -> BoxFuture<'a, Result<(), TokenStoreError>> {
        Box::pin(async move {
            let stored = self
                .shared
                .update(&self.member_id, |record| record.tokens = tokens.clone())
                .await
                .map_err(token_error)?;
            if stored {
                Ok(())
            } else {
                Err(TokenStoreError::new(
                    "the portal was removed from the store (uninstalled)",
                ))
            }
        })
    }
}

/// The file's JSON. Secrets are exposed only here, on their way to the file.
#[derive(Serialize, Deserialize)]
struct StoredPortal {
    member_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    domain: Option<String>,
    application_token: String,
    tokens: TokenRecord,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    app: Option<StoredApp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    oauth_server: Option<String>,
    #[serde(default)]
    provisioned: bool,
}

#[derive(Serialize, Deserialize)]
struct StoredApp {
    client_id: String,
    client_secret: String,
}

impl From<&PortalRecord> for StoredPortal {
    fn from(record: &PortalRecord) -> Self {
        Self {
            member_id: record.member_id.as_str().to_owned(),
            domain: record.domain.clone(),
            application_token: record.application_token.expose_secret().to_owned(),
            tokens: TokenRecord::from(&record.tokens),
            app: record.app.as_ref().map(|app| StoredApp {
                client_id: app.client_id.clone(),
                client_secret: app.client_secret.expose_secret().to_owned(),
            }),
            oauth_server: record.oauth_server.clone(),
            provisioned: record.provisioned,
        }
    }
}

impl From<StoredPortal> for PortalRecord {
    fn from(stored: StoredPortal) -> Self {
        let mut record = PortalRecord::new(
            stored.member_id,
            stored.application_token,
            Tokens::from(stored.tokens),
        );
        record.domain = stored.domain;
        record.app = stored
            .app
            .map(|app| OAuthApp::new(app.client_id, app.client_secret));
        record.oauth_server = stored.oauth_server;
        record.provisioned = stored.provisioned;
        record
    }
}
