#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod authorizations;
mod backend;
mod bucket;
mod error;
mod eviction;
mod inbox;
mod keys;
mod lock;
mod offline;
mod outbox;
mod portals;
mod record;
mod scripts;
mod store;
mod tls;

pub use backend::{RedisBackend, RedisBackendBuilder};
pub use bucket::{SharedBucket, DEFAULT_BURST_SHARE, DEFAULT_RATE_SHARE};
pub use error::RedisBackendError;
pub use eviction::EvictingPolicy;
pub use inbox::{RedisInbox, DEFAULT_POLL_INTERVAL};
pub use keys::DEFAULT_PREFIX;
pub use lock::RedisRefreshLock;
pub use offline::RedisOfflineCursors;
pub use outbox::RedisOutbox;
pub use portals::RedisPortals;
pub use redis;
pub use store::{RedisTokenStore, VersionedTokens};
