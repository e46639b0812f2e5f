#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod answer;
mod api_error;
mod attempt;
pub mod authorization;
mod batch;
mod body;
mod bounded_json;
mod call;
mod client;
mod code;
mod config;
mod coordination;
mod dispatch;
mod envelope;
mod envelope_text;
mod error;
mod grant;
mod hook_error;
pub mod inbox;
mod leaky_bucket;
mod member_id;
mod method;
mod method_urls;
mod oauth;
mod oauth_server;
mod offline_cursor;
pub mod outbox;
mod pacing;
mod plan;
mod policy;
pub mod portals;
mod redirect;
mod result_reader;
mod shared;
mod store;
mod tokens;

pub use api_error::ApiError;
pub use authorization::{Grant, OAuthServer, TokenEndpointError};
pub use batch::{Batch, BatchEntry, BatchKey, BatchOutcome, BatchResponse, MAX_BATCH_COMMANDS};
pub use body::DEFAULT_MAX_RESPONSE_SIZE;
pub use client::Client;
pub use code::ErrorCode;
pub use config::ClientBuilder;
pub use coordination::{RefreshCoordinator, RequestLimiter, TokenExchange};
pub use envelope::{RawResponse, Response, Time};
pub use error::{BoxError, Error};
pub use member_id::MemberId;
pub use method::{decode_with_serde, AuthKind, InvalidRequest, Method, ResultError, SoftError};
pub use oauth_server::DEFAULT_OAUTH_SERVER;
pub use offline_cursor::{MemoryOfflineCursors, OfflineCursorError, OfflineCursorStore};
pub use policy::{RateLimit, RetryPolicy};
pub use secrecy;
pub use store::{FileTokenStore, MemoryTokenStore, TokenStore, TokenStoreError};
pub use tokens::{secrets_match, OAuthApp, Tokens};
