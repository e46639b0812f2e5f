//! HTTP transport for the Bitrix24 REST API, built for `imconnector.*` connectors.
//!
//! The only crate of the SDK that talks HTTP. A [`Client`] authenticates (OAuth application
//! tokens with a single-flight refresh, or an incoming webhook), encodes requests as JSON,
//! decodes the `result`/`error` envelope and its `time` block, maps every documented error code
//! to [`ErrorCode`], paces requests under the portal's leaky bucket and per-method operating-time
//! budget, retries only what is safe, and runs [`Batch`]es.
//!
//! Typed requests implement [`Method`] (generated in `imconnector-api`); [`Client::call_raw`]
//! covers methods the spec does not.
//!
//! # Safety of retries
//! Requests the portal rejected before doing any work (`QUERY_LIMIT_EXCEEDED`,
//! `OPERATION_TIME_LIMIT`) and failures before anything was sent are retried with backoff and
//! jitter. Once a request may have been received, only idempotent methods are replayed; any
//! other gets [`Error::OutcomeUnknown`], never a silent duplicate.
//!
//! # Secrets
//! Tokens, the client secret and the webhook code are kept in [`secrecy::SecretString`]; no
//! `Debug`, `Display`, error or tracing output of this crate contains them.
#![deny(missing_docs)]

mod batch;
mod client;
mod code;
mod config;
mod dispatch;
mod envelope;
mod error;
mod method;
mod oauth;
mod pacing;
mod store;
mod tokens;

pub use batch::{Batch, BatchEntry, BatchKey, BatchOutcome, BatchResponse, MAX_BATCH_COMMANDS};
pub use client::Client;
pub use code::ErrorCode;
pub use config::{ClientBuilder, RateLimit, RetryPolicy, DEFAULT_OAUTH_SERVER};
pub use envelope::{RawResponse, Response, Time};
pub use error::{ApiError, BoxError, Error};
pub use method::{AuthKind, InvalidRequest, Method, SoftError};
pub use secrecy;
pub use store::{FileTokenStore, MemoryTokenStore, TokenStore, TokenStoreError};
pub use tokens::{OAuthApp, Tokens};
