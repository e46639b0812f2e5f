//! Where refreshed tokens are kept so they survive a restart.

use std::{
    io::Write,
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicBool, Ordering},
        Mutex,
    },
};

use futures::future::BoxFuture;

use crate::tokens::{TokenRecord, Tokens};

/// Why a [`TokenStore`] could not load or save.
#[derive(Debug, thiserror::Error)]
#[error("token store: {message}")]
pub struct TokenStoreError {
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl TokenStoreError {
    /// An error described by `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            source: None,
        }
    }

    /// An error described by `message`, caused by `source`.
    pub fn with_source(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self {
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }
}

/// Persistence for the token pair of one portal.
///
/// The client saves every pair it obtains by refreshing, because the old refresh token dies at
/// that moment. Before refreshing, it loads the stored pair: when another process already stored
/// a newer pair (a later expiry), the client adopts it instead of refreshing again. Object-safe:
/// use it as `Arc<dyn TokenStore>`.
///
/// Implementations must not log or print the tokens.
pub trait TokenStore: Send + Sync + 'static {
    /// Loads the stored pair, `None` when nothing is stored yet.
    fn load(&self) -> BoxFuture<'_, Result<Option<Tokens>, TokenStoreError>>;

    /// Stores `tokens`, replacing what was stored.
    fn save<'a>(&'a self, tokens: &'a Tokens) -> BoxFuture<'a, Result<(), TokenStoreError>>;
}

/// Keeps the pair in memory only (the default): nothing survives a restart.
///
/// **What a crash or restart loses:** the pair obtained by the last refresh. The portal has
/// already rotated the refresh token the process started with, so after a restart that one is
/// refused (`invalid_grant`) and the portal must be authorized again. The store says so once, in
/// a warning, the first time it keeps a refreshed pair; use [`FileTokenStore`] or a shared store
/// (the `imconnector-redis` crate) for anything that restarts.
#[derive(Debug, Default)]
pub struct MemoryTokenStore {
    tokens: Mutex<Option<Tokens>>,
    warned: AtomicBool,
}

impl MemoryTokenStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl TokenStore for MemoryTokenStore {
    fn load(&self) -> BoxFuture<'_, Result<Option<Tokens>, TokenStoreError>> {
        let tokens = self
            .tokens
            .lock()
            .map_err(|_| TokenStoreError::new("memory store lock poisoned"))
            .map(|guard| guard.clone());
        Box::pin(async move { tokens })
    }

    fn save<'a>(&'a self, tokens: &'a Tokens) -> BoxFuture<'a, Result<(), TokenStoreError>> {
        let result = self
            .tokens
            .lock()
            .map_err(|_| TokenStoreError::new("memory store lock poisoned"))
            .map(|mut guard| *guard = Some(tokens.clone()));
        if result.is_ok() && !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "a refreshed token pair is kept in memory only: after a restart the portal must \
                 be authorized again (its refresh token has been rotated); configure a \
                 FileTokenStore or a Redis store to keep it"
            );
        }
        Box::pin(async move { result })
    }
}

/// Keeps the pair in a JSON file, for a single-process application.
///
/// Saving writes a temporary file in the same directory and renames it over the target, so a
/// crash never leaves a half-written file; the file is created readable by its owner only
/// (on Unix). Not safe for several processes refreshing the same portal at once.
#[derive(Debug, Clone)]
pub struct FileTokenStore {
    path: PathBuf,
}

impl FileTokenStore {
    /// A store at `path` (the file need not exist yet; its directory must).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl TokenStore for FileTokenStore {
    fn load(&self) -> BoxFuture<'_, Result<Option<Tokens>, TokenStoreError>> {
        Box::pin(async move {
            let bytes = match tokio::fs::read(&self.path).await {
                Ok(bytes) => bytes,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(error) => {
                    return Err(TokenStoreError::with_source(
                        format!("cannot read {}", self.path.display()),
                        error,
                    ))
                }
            };
            // The serde error is not attached: its message may quote the file's content.
            let record: TokenRecord = serde_json::from_slice(&bytes).map_err(|error| {
                TokenStoreError::new(format!(
                    "{} is not a token file (line {}, column {})",
                    self.path.display(),
                    error.line(),
                    error.column()
                ))
            })?;
            Ok(Some(Tokens::from(record)))
        })
    }

    fn save<'a>(&'a self, tokens: &'a Tokens) -> BoxFuture<'a, Result<(), TokenStoreError>> {
        let path = self.path.clone();
        let record = TokenRecord::from(tokens);
        Box::pin(async move {
            let bytes = serde_json::to_vec_pretty(&record).map_err(|error| {
                TokenStoreError::with_source(
                    format!("cannot encode tokens for {}", path.display()),
                    error,
                )
            })?;
            tokio::task::spawn_blocking(move || write_atomically(&path, &bytes))
                .await
                .map_err(|error| TokenStoreError::with_source("token file writer panicked", error))?
                .map_err(|error| TokenStoreError::with_source(error.to_string(), error))
        })
    }
}

/// Why [`write_atomically`] failed: what it was doing, for which file.
#[derive(Debug, thiserror::Error)]
#[error("cannot {doing} for {path}")]
pub(crate) struct WriteError {
    doing: &'static str,
    path: String,
    #[source]
    source: std::io::Error,
}

/// Writes `bytes` to `path` so that a crash leaves the old content or the new, never half:
/// a temporary file in the same directory (mode 0600 on Unix), flushed to disk, renamed over
/// `path`, and the directory flushed so the rename itself survives a power loss.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let failed = |doing: &'static str| {
        let path = path.display().to_string();
        move |source: std::io::Error| WriteError {
            doing,
            path,
            source,
        }
    };
    // tempfile creates the file with mode 0600 on Unix and removes it if we fail before persist.
    let mut file =
        tempfile::NamedTempFile::new_in(directory).map_err(failed("create a temporary file"))?;
    file.write_all(bytes)
        .and_then(|()| file.as_file().sync_all())
        .map_err(failed("write a temporary file"))?;
    file.persist(path)
        .map_err(|error| error.error)
        .map_err(failed("rename the temporary file"))?;
    sync_directory(directory).map_err(failed("flush the directory"))
}

#[cfg(unix)]
fn sync_directory(directory: &Path) -> std::io::Result<()> {
    std::fs::File::open(directory)?.sync_all()
}

/// Directories cannot be opened as files elsewhere; the rename is as durable as the OS makes it.
#[cfg(not(unix))]
fn sync_directory(_directory: &Path) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::{MemoryTokenStore, TokenStore};
    use crate::tokens::Tokens;

    /// Log lines written while `run` runs.
    fn logged(run: impl FnOnce()) -> String {
        let lines = Arc::new(Mutex::new(Vec::<u8>::new()));
        let sink = Arc::clone(&lines);
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || Writer(Arc::clone(&sink)))
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, run);
        let bytes = lines.lock().map(|bytes| bytes.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    struct Writer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Writer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            if let Ok(mut lines) = self.0.lock() {
                lines.extend_from_slice(bytes);
            }
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_memory_store_warns_once_that_a_restart_loses_the_refreshed_pair() {
        let store = MemoryTokenStore::new();
        let first = Tokens::new("access-1", "refresh-1");
        let second = Tokens::new("access-2", "refresh-2");
        let output = logged(|| {
            drop(store.save(&first));
            drop(store.save(&second));
        });
        assert_eq!(output.matches("WARN").count(), 1, "{output}");
        assert!(output.contains("kept in memory only"), "{output}");
        assert!(
            !output.contains("refresh-1") && !output.contains("access-2"),
            "{output}"
        );
    }
}
